//! The records of one partition, compactly: a slab of slots, found by key through an index of
//! (hash, slot) words. A record's key (`{jira_site}|{type}|{id}`) is not stored whole: its
//! prefix lives once in the record's interned [`Origin`], shared by every record of the same
//! site, type, integration and workspace, and its id is inline in the slot.

use std::cmp::Ordering;
use std::sync::Arc;

use xxhash_rust::xxh3::xxh3_64;

use super::closed::Closed;
use super::window::SessionWindow;
use super::wire::{as_str, put_len, same_bytes};
use super::Settings;

/// What the records of one site, type, integration and workspace share.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Origin {
    /// `{jira_site}|{type}|`: the record key up to the record's id.
    pub key_prefix: Box<str>,
    pub jira_site: Box<str>,
    pub record_type: Box<str>,
    pub integration_id: Box<str>,
    pub workspace: Box<str>,
}

impl Origin {
    /// Whether this is the origin of these parts (as [`Origins::get`] takes them).
    pub fn is(&self, parts: &[&[u8]; 5]) -> bool {
        same_bytes(self.key_prefix.as_bytes(), parts[0])
            && same_bytes(self.jira_site.as_bytes(), parts[1])
            && same_bytes(self.record_type.as_bytes(), parts[2])
            && same_bytes(self.integration_id.as_bytes(), parts[3])
            && same_bytes(self.workspace.as_bytes(), parts[4])
    }
}

/// The per-partition interner of origins. A partition sees few of them; the last one found
/// answers almost every lookup. Origins no record uses any more are dropped as the set grows.
#[derive(Debug, Default)]
pub(crate) struct Origins {
    all: Vec<Arc<Origin>>,
    last: usize,
    swept_at: usize,
}

impl Origins {
    /// The origin of these parts (key prefix, site, type, integration, workspace): UTF-8, as
    /// a raw record's strings are once read (`raw`).
    pub fn get(&mut self, parts: [&[u8]; 5]) -> Arc<Origin> {
        let matches = |o: &Origin| o.is(&parts);
        if let Some(o) = self.all.get(self.last).filter(|o| matches(o)) {
            return Arc::clone(o);
        }
        if let Some(i) = self.all.iter().position(|o| matches(o)) {
            self.last = i;
            return Arc::clone(&self.all[i]);
        }
        if self.all.len() >= self.swept_at.max(32) * 2 {
            self.all.retain(|o| Arc::strong_count(o) > 1);
            self.swept_at = self.all.len();
        }
        let [key_prefix, jira_site, record_type, integration_id, workspace] =
            parts.map(|p| Box::from(as_str(p)));
        self.all.push(Arc::new(Origin {
            key_prefix,
            jira_site,
            record_type,
            integration_id,
            workspace,
        }));
        self.last = self.all.len() - 1;
        Arc::clone(&self.all[self.last])
    }
}

/// A record id, inline up to 22 bytes (Jira's ids are numbers), else on the heap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecordId {
    Inline(u8, [u8; 22]),
    Heap(Box<str>),
}

impl RecordId {
    /// The id of UTF-8 bytes (a `&str`'s, or a raw record's once read).
    pub fn new(id: &[u8]) -> Self {
        let mut bytes = [0u8; 22];
        match (u8::try_from(id.len()), bytes.get_mut(..id.len())) {
            (Ok(len), Some(b)) => {
                b.copy_from_slice(id);
                RecordId::Inline(len, bytes)
            }
            _ => RecordId::Heap(as_str(id).into()),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            RecordId::Inline(len, b) => &b[..usize::from(*len)],
            RecordId::Heap(s) => s.as_bytes(),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            RecordId::Inline(len, b) => as_str(&b[..usize::from(*len)]),
            RecordId::Heap(s) => s,
        }
    }
}

/// One record: its open window (if any) and what it emitted before (kept for
/// `dedup_retention`). A forgotten record (neither) keeps its slot while a timer or the dirty
/// list still names it, so those keep naming the same key.
#[derive(Debug)]
pub(crate) struct Slot {
    pub origin: Arc<Origin>,
    pub id: RecordId,
    pub open: Option<SessionWindow>,
    pub closed: Option<Box<Closed>>,
    /// Timers scheduled for this record and not yet fired.
    pub timers: u32,
    /// The time of the earliest timer scheduled, while `scheduled_pending` (it has not
    /// fired): scheduling a later or equal time adds nothing, since that look re-examines
    /// the record and schedules it again.
    pub scheduled: i64,
    pub scheduled_pending: bool,
    /// In the dirty list (its `collator-state` changed since the last flush).
    pub dirty: bool,
}

impl Slot {
    pub fn present(&self) -> bool {
        self.open.is_some() || self.closed.is_some()
    }

    /// Forgets the emitted keys of a record without an open window whose retention passed at
    /// `watermark`, and the record's memory with the last of them (an open window defers that
    /// to its close); whether anything was forgotten.
    pub fn forget_memory(&mut self, watermark: i64, s: &Settings) -> bool {
        let Some(closed) = self.closed.as_mut().filter(|_| self.open.is_none()) else {
            return false;
        };
        let forgot = closed.forget(watermark, s);
        if closed.is_empty() {
            self.closed = None;
        }
        forgot
    }

    pub fn key_is(&self, key: &[u8]) -> bool {
        let (p, id) = (self.origin.key_prefix.as_bytes(), self.id.as_bytes());
        key.len() == p.len() + id.len()
            && same_bytes(&key[..p.len()], p)
            && same_bytes(&key[p.len()..], id)
    }

    pub fn write_key(&self, buf: &mut String) {
        buf.clear();
        buf.push_str(&self.origin.key_prefix);
        buf.push_str(self.id.as_str());
    }

    /// The `RecordState` of a present record, as prost encodes it. `window` is scratch space.
    pub fn encode_state(&self, key: &str, partition: i32, window: &mut Vec<u8>) -> Vec<u8> {
        let mut buf = Vec::new();
        let closed_before = match (&self.open, &self.closed) {
            (Some(w), c) => {
                window.clear();
                w.encode_state(key, self.id.as_str(), &self.origin, window);
                put_len(1, window.len(), &mut buf);
                buf.extend_from_slice(window);
                c.as_deref()
            }
            (None, Some(c)) => {
                c.encode(2, &mut buf);
                None
            }
            (None, None) => None,
        };
        if partition != 0 {
            prost::encoding::int32::encode(3, &partition, &mut buf);
        }
        if let Some(c) = closed_before {
            c.encode(4, &mut buf);
        }
        buf
    }

    /// The order of the keys as strings (`BTreeSet<String>` order), which for UTF-8 is the
    /// order of their bytes.
    pub fn key_cmp(&self, other: &Slot) -> Ordering {
        let (a, b) = (
            self.origin.key_prefix.as_bytes(),
            other.origin.key_prefix.as_bytes(),
        );
        if Arc::ptr_eq(&self.origin, &other.origin) || a == b {
            return self.id.as_bytes().cmp(other.id.as_bytes());
        }
        a.iter()
            .chain(self.id.as_bytes())
            .cmp(b.iter().chain(other.id.as_bytes()))
    }
}

pub(crate) fn key_hash(key: &[u8]) -> u64 {
    xxh3_64(key)
}

/// Slots per chunk of the slab.
const CHUNK: usize = 1024;

/// The slab and its index. Slots are numbered for life; a freed number is reused. The slab
/// is kept in chunks of [`CHUNK`] slots: a slot holds its open window inline, so a single
/// vector of them, grown by doubling, copied every slot at each growth and briefly held
/// twice the memory (a collator filling to a million windows moved some 200 MB); a new chunk
/// moves nothing.
#[derive(Debug, Default)]
pub(crate) struct Records {
    chunks: Vec<Box<[Option<Slot>; CHUNK]>>,
    /// Slots numbered so far (the slab's length).
    numbered: usize,
    free: Vec<u32>,
    /// Open addressing, linear probing: `(low 32 bits of the key's hash) << 32 | slot + 1`,
    /// 0 when empty. Never more than three quarters full.
    index: Vec<u64>,
    used: usize,
}

impl Records {
    fn entry(&self, slot: u32) -> Option<&Option<Slot>> {
        let n = slot as usize;
        Some(&self.chunks.get(n / CHUNK)?[n % CHUNK])
    }

    fn entry_mut(&mut self, slot: u32) -> Option<&mut Option<Slot>> {
        let n = slot as usize;
        Some(&mut self.chunks.get_mut(n / CHUNK)?[n % CHUNK])
    }

    pub fn get(&self, slot: u32) -> Option<&Slot> {
        self.entry(slot).and_then(Option::as_ref)
    }

    pub fn get_mut(&mut self, slot: u32) -> Option<&mut Slot> {
        self.entry_mut(slot).and_then(Option::as_mut)
    }

    pub fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.chunks.iter().flat_map(|c| c.iter().flatten())
    }

    pub fn key_cmp(&self, a: u32, b: u32) -> Ordering {
        match (self.get(a), self.get(b)) {
            (Some(a), Some(b)) => a.key_cmp(b),
            _ => a.cmp(&b),
        }
    }

    fn mask(&self) -> usize {
        self.index.len().wrapping_sub(1)
    }

    /// The slot of `key` (whose hash is `hash`), present or forgotten.
    pub fn find(&self, key: &[u8], hash: u64) -> Option<u32> {
        if self.index.is_empty() {
            return None;
        }
        let tag = hash & 0xffff_ffff;
        let mut at = (hash as usize) & self.mask();
        loop {
            let word = self.index[at];
            if word == 0 {
                return None;
            }
            let slot = (word & 0xffff_ffff) as u32 - 1;
            if word >> 32 == tag && self.get(slot).is_some_and(|s| s.key_is(key)) {
                return Some(slot);
            }
            at = (at + 1) & self.mask();
        }
    }

    /// Adds a slot for a key [`find`](Self::find) did not find.
    pub fn insert(&mut self, hash: u64, slot: Slot) -> u32 {
        let n = match self.free.pop() {
            Some(n) => n,
            None => {
                let n = u32::try_from(self.numbered).expect("fewer than 2^32 records");
                if self.numbered.is_multiple_of(CHUNK) {
                    let chunk: Box<[Option<Slot>]> = (0..CHUNK).map(|_| None).collect();
                    self.chunks.push(chunk.try_into().expect("CHUNK slots"));
                }
                self.numbered += 1;
                n
            }
        };
        *self.entry_mut(n).expect("a numbered slot") = Some(slot);
        if (self.used + 1) * 4 > self.index.len() * 3 {
            self.grow();
        }
        self.place(((hash & 0xffff_ffff) << 32) | (u64::from(n) + 1));
        self.used += 1;
        n
    }

    fn place(&mut self, word: u64) {
        let mut at = ((word >> 32) as usize) & self.mask();
        while self.index[at] != 0 {
            at = (at + 1) & self.mask();
        }
        self.index[at] = word;
    }

    fn grow(&mut self) {
        let len = (self.index.len() * 2).max(64);
        let old = std::mem::replace(&mut self.index, vec![0; len]);
        for word in old.into_iter().filter(|w| *w != 0) {
            self.place(word);
        }
    }

    /// Frees a forgotten slot that no timer and no dirty mark names any more.
    pub fn release(&mut self, slot: u32, key_buf: &mut String) {
        let Some(s) = self.get(slot) else { return };
        if s.present() || s.timers > 0 || s.dirty {
            return;
        }
        s.write_key(key_buf);
        let tag = key_hash(key_buf.as_bytes()) & 0xffff_ffff;
        let word = (tag << 32) | (u64::from(slot) + 1);
        let mask = self.mask();
        let Some(mut hole) = (0..self.index.len())
            .map(|i| (((tag as usize) & mask) + i) & mask)
            .find(|&i| self.index[i] == word)
        else {
            return;
        };
        // Backward-shift deletion: move later words of the probe run into the hole when
        // their home is not between the hole and them.
        let mut at = hole;
        loop {
            at = (at + 1) & mask;
            let w = self.index[at];
            if w == 0 {
                break;
            }
            let home = ((w >> 32) as usize) & mask;
            if (at.wrapping_sub(home) & mask) >= (at.wrapping_sub(hole) & mask) {
                self.index[hole] = w;
                hole = at;
            }
        }
        self.index[hole] = 0;
        self.used -= 1;
        if let Some(e) = self.entry_mut(slot) {
            *e = None;
        }
        self.free.push(slot);
    }
}
