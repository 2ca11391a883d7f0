//! What a record remembers once its window closed: the largest offset the window covered and
//! the dedup keys it emitted, each until its retention passes, so a late redelivery is
//! applied once. A window's close remembers every one of its entries' keys, so the keys are
//! kept in one buffer, not a `String` each: a close allocated as many strings as its window
//! had entries, and forgetting them freed each one. `collator-state` carries them as prost's
//! `ClosedRecord`, written here byte for byte as prost writes it.

use prost::encoding::encoded_len_varint;
use schema::v1::ClosedRecord;

use super::wire::{i64_len, put_i64, put_len, put_varint};
use super::Settings;

/// Bytes before each key in [`Closed::keys`]: its receipt time and its length.
const HEAD: usize = 8 + 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Closed {
    /// The largest raw offset the emitted windows covered: replayed events at or below it
    /// are skipped.
    pub closed_through_offset: i64,
    pub last_audit_id: u64,
    /// Each remembered key, in the order remembered: its receipt time (`i64`, little
    /// endian), its length (`u32`, little endian), its bytes (UTF-8: a raw record's checked
    /// dedup key, or one prost decoded).
    keys: Vec<u8>,
    /// The earliest receipt time among the keys (`i64::MAX` with none): most looks at a
    /// record forget nothing, and this says so without reading its keys.
    earliest: i64,
}

impl Default for Closed {
    fn default() -> Self {
        Closed {
            closed_through_offset: 0,
            last_audit_id: 0,
            keys: Vec::new(),
            earliest: i64::MAX,
        }
    }
}

/// The receipt time and length of the key whose head starts `buf`, if one does.
fn head(buf: &[u8]) -> Option<(i64, usize)> {
    let (at, len) = buf.get(..HEAD)?.split_at(8);
    let at = i64::from_le_bytes(at.try_into().ok()?);
    Some((at, u32::from_le_bytes(len.try_into().ok()?) as usize))
}

impl Closed {
    /// The keys remembered, with their receipt times.
    pub fn keys(&self) -> impl Iterator<Item = (&[u8], i64)> {
        let mut rest = &self.keys[..];
        std::iter::from_fn(move || {
            let (at, len) = head(rest)?;
            let (key, tail) = rest[HEAD..].split_at(len);
            rest = tail;
            Some((key, at))
        })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether `key` is remembered and its retention has not passed at `watermark`.
    pub fn remembers(&self, key: &[u8], watermark: i64, s: &Settings) -> bool {
        self.keys()
            .any(|(k, at)| k == key && forgotten_at(at, s) > watermark)
    }

    /// Remembers `key`, received at `received_at_ms`.
    pub fn remember(&mut self, key: &[u8], received_at_ms: i64) {
        let len = u32::try_from(key.len()).expect("a dedup key shorter than 4 GiB");
        self.keys.reserve(HEAD + key.len());
        self.keys.extend_from_slice(&received_at_ms.to_le_bytes());
        self.keys.extend_from_slice(&len.to_le_bytes());
        self.keys.extend_from_slice(key);
        self.earliest = self.earliest.min(received_at_ms);
    }

    /// Room for `keys` more keys of `bytes` bytes in all.
    pub fn reserve(&mut self, keys: usize, bytes: usize) {
        self.keys.reserve(keys * HEAD + bytes);
    }

    /// Forgets the keys whose retention passed at `watermark`; whether any was. Each run of
    /// kept keys moves down in one copy.
    pub fn forget(&mut self, watermark: i64, s: &Settings) -> bool {
        if self.keys.is_empty() || forgotten_at(self.earliest, s) > watermark {
            return false;
        }
        self.earliest = i64::MAX;
        // Kept bytes end at `write`; the run of kept keys not yet moved starts at `run`.
        let (mut read, mut write, mut run) = (0, 0, 0);
        while let Some((at, len)) = head(&self.keys[read..]) {
            if forgotten_at(at, s) <= watermark {
                self.keys.copy_within(run..read, write);
                write += read - run;
                run = read + HEAD + len;
            } else {
                self.earliest = self.earliest.min(at);
            }
            read += HEAD + len;
        }
        self.keys.copy_within(run..read, write);
        write += read - run;
        self.keys.truncate(write);
        true
    }

    /// When the first remembered key is forgotten.
    pub fn next_forgotten_at(&self, s: &Settings) -> Option<i64> {
        (!self.keys.is_empty()).then(|| forgotten_at(self.earliest, s))
    }

    /// What `collator-state` restored.
    pub fn from_state(state: ClosedRecord) -> Self {
        let mut closed = Closed {
            closed_through_offset: state.closed_through_offset,
            last_audit_id: state.last_audit_id,
            ..Closed::default()
        };
        let bytes = state.emitted.iter().map(|k| k.dedup_key.len()).sum();
        closed.reserve(state.emitted.len(), bytes);
        for k in &state.emitted {
            closed.remember(k.dedup_key.as_bytes(), k.received_at_ms);
        }
        closed
    }

    /// Prost's `ClosedRecord` of it, which [`encode`](Self::encode) writes.
    #[cfg(test)]
    pub fn to_state(&self) -> ClosedRecord {
        ClosedRecord {
            closed_through_offset: self.closed_through_offset,
            emitted: self
                .keys()
                .map(|(k, at)| schema::v1::EmittedKey {
                    dedup_key: String::from_utf8_lossy(k).into_owned(),
                    received_at_ms: at,
                })
                .collect(),
            last_audit_id: self.last_audit_id,
        }
    }

    /// Appends field `tag`: this record's `ClosedRecord`, exactly as prost encodes
    /// [`to_state`](Self::to_state). Each `EmittedKey` is written with its one-byte keys as
    /// the bytes they are, its lengths measured once.
    pub fn encode(&self, tag: u32, buf: &mut Vec<u8>) {
        let keys: usize = self
            .keys()
            .map(|(k, at)| {
                let body = emitted_len(k, at);
                1 + encoded_len_varint(body as u64) + body
            })
            .sum();
        let len = i64_len(1, self.closed_through_offset) + keys + uint64_len(3, self.last_audit_id);
        buf.reserve(len + 6);
        put_len(tag, len, buf);
        put_i64(1, self.closed_through_offset, buf);
        for (k, at) in self.keys() {
            // `emitted` (2), then the key's `dedup_key` (1) and `received_at_ms` (2).
            buf.push(2 << 3 | 2);
            put_varint(emitted_len(k, at) as u64, buf);
            if !k.is_empty() {
                buf.push(1 << 3 | 2);
                put_varint(k.len() as u64, buf);
                buf.extend_from_slice(k);
            }
            if at != 0 {
                buf.push(2 << 3);
                put_varint(at as u64, buf);
            }
        }
        if self.last_audit_id != 0 {
            prost::encoding::uint64::encode(3, &self.last_audit_id, buf);
        }
    }
}

/// Encoded length of the `EmittedKey` of `key` received at `at`.
fn emitted_len(key: &[u8], at: i64) -> usize {
    let key = if key.is_empty() {
        0
    } else {
        1 + encoded_len_varint(key.len() as u64) + key.len()
    };
    let at = if at == 0 {
        0
    } else {
        1 + encoded_len_varint(at as u64)
    };
    key + at
}

fn uint64_len(tag: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        prost::encoding::uint64::encoded_len(tag, &v)
    }
}

/// When an emitted change's dedup key is forgotten: `dedup_retention` after its receipt.
pub(crate) fn forgotten_at(received_at_ms: i64, s: &Settings) -> i64 {
    received_at_ms.saturating_add(s.dedup_retention_ms)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use prost::Message as _;

    use super::*;
    use schema::v1::EmittedKey;

    fn state() -> impl Strategy<Value = ClosedRecord> {
        let key = (".{0,20}", any::<i64>()).prop_map(|(dedup_key, received_at_ms)| EmittedKey {
            dedup_key,
            received_at_ms,
        });
        (
            prop_oneof![Just(0), any::<i64>()],
            proptest::collection::vec(key, 0..6),
            prop_oneof![Just(0), any::<u64>()],
        )
            .prop_map(
                |(closed_through_offset, emitted, last_audit_id)| ClosedRecord {
                    closed_through_offset,
                    emitted,
                    last_audit_id,
                },
            )
    }

    proptest! {
        #[test]
        fn encodes_as_prost_and_restores_what_it_encoded(state in state(), tag in 1u32..20) {
            let closed = Closed::from_state(state.clone());
            prop_assert_eq!(closed.to_state(), state.clone());
            let mut ours = Vec::new();
            closed.encode(tag, &mut ours);
            let mut prosts = Vec::new();
            prost::encoding::message::encode(tag, &state, &mut prosts);
            prop_assert_eq!(&ours, &prosts);
            let body = &ours[ours.len() - state.encoded_len()..];
            prop_assert_eq!(ClosedRecord::decode(body).unwrap(), state);
        }

        #[test]
        fn forgets_exactly_the_keys_past_their_retention(
            times in proptest::collection::vec(0i64..100, 0..12),
            watermark in 0i64..200,
        ) {
            let s = Settings { dedup_retention_ms: 50, ..crate::core::tests::settings() };
            let mut closed = Closed::default();
            for (i, at) in times.iter().enumerate() {
                closed.remember(format!("k{i}").as_bytes(), *at);
            }
            let kept: Vec<(String, i64)> = times
                .iter()
                .enumerate()
                .filter(|(_, at)| *at + 50 > watermark)
                .map(|(i, at)| (format!("k{i}"), *at))
                .collect();
            let forgot = closed.forget(watermark, &s);
            prop_assert_eq!(forgot, kept.len() != times.len());
            let left: Vec<(String, i64)> = closed
                .keys()
                .map(|(k, at)| (String::from_utf8(k.to_vec()).unwrap(), at))
                .collect();
            prop_assert_eq!(&left, &kept);
            prop_assert_eq!(closed.is_empty(), kept.is_empty());
            prop_assert_eq!(
                closed.next_forgotten_at(&s),
                kept.iter().map(|(_, at)| at + 50).min()
            );
            for (i, at) in times.iter().enumerate() {
                let key = format!("k{i}");
                prop_assert_eq!(closed.remembers(key.as_bytes(), watermark, &s), at + 50 > watermark);
            }
        }
    }
}
