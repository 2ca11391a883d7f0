//! Content hashes: SHA-256 of a body's canonical JSON (`json::canonical_json`: keys sorted, no
//! whitespace) without its delivery-specific keys, for events nothing better identifies.
//!
//! The body is parsed into a tree that borrows its strings from the body and keeps objects as
//! entry lists, sorted only when hashed, and the canonical bytes are streamed into the hasher:
//! no `BTreeMap` per object, no owned strings, no canonical `String`. Scalars and keys are
//! printed by serde_json itself, so the bytes are those `canonical_json` prints for the
//! body's `Value`.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;
use sha2::{Digest, Sha256};

use super::read_paths::Key;

/// Hex SHA-256 of the canonical JSON of `body` (a JSON object) without `skipped_keys` at the
/// top level.
pub(super) fn content_hash(
    body: &[u8],
    skipped_keys: &[&str],
) -> Result<String, serde_json::Error> {
    let mut tree: Node<'_> = serde_json::from_slice(body)?;
    if let Node::Object(entries) = &mut tree {
        entries.retain(|(key, _)| !skipped_keys.contains(&key.as_ref()));
    }
    let mut sink = HashSink::default();
    write_canonical(&mut tree, &mut sink)?;
    Ok(hex::encode(sink.finish()))
}

/// A JSON value as parsed, before canonical ordering.
enum Node<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    /// Entries in body order, duplicates included: hashing keeps the last, as `Value` does.
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

fn write_canonical(node: &mut Node<'_>, out: &mut HashSink) -> Result<(), serde_json::Error> {
    match node {
        Node::Object(entries) => {
            // Stable: among equal keys the body's last stays last.
            entries.sort_by(|(a, _), (b, _)| a.cmp(b));
            out.push(b"{");
            let mut first = true;
            for i in 0..entries.len() {
                if entries
                    .get(i + 1)
                    .is_some_and(|(next, _)| *next == entries[i].0)
                {
                    continue;
                }
                if !first {
                    out.push(b",");
                }
                first = false;
                let (key, value) = &mut entries[i];
                serde_json::to_writer(&mut *out, key.as_ref())?;
                out.push(b":");
                write_canonical(value, out)?;
            }
            out.push(b"}");
        }
        Node::Array(items) => {
            out.push(b"[");
            for (i, item) in items.iter_mut().enumerate() {
                if i > 0 {
                    out.push(b",");
                }
                write_canonical(item, out)?;
            }
            out.push(b"]");
        }
        Node::Null => out.push(b"null"),
        Node::Bool(true) => out.push(b"true"),
        Node::Bool(false) => out.push(b"false"),
        Node::Number(n) => serde_json::to_writer(&mut *out, n)?,
        Node::String(s) => serde_json::to_writer(&mut *out, s.as_ref())?,
    }
    Ok(())
}

/// Canonical bytes on their way into SHA-256, gathered in blocks: hashing each token as it is
/// printed would call the hasher once per comma.
struct HashSink {
    hasher: Sha256,
    pending: Vec<u8>,
}

const SINK_BLOCK: usize = 4096;

impl Default for HashSink {
    fn default() -> Self {
        HashSink {
            hasher: Sha256::new(),
            pending: Vec::with_capacity(SINK_BLOCK),
        }
    }
}

impl HashSink {
    fn push(&mut self, bytes: &[u8]) {
        if self.pending.len() + bytes.len() > SINK_BLOCK {
            self.hasher.update(&self.pending);
            self.pending.clear();
        }
        if bytes.len() > SINK_BLOCK {
            self.hasher.update(bytes);
        } else {
            self.pending.extend_from_slice(bytes);
        }
    }

    fn finish(mut self) -> [u8; 32] {
        self.hasher.update(&self.pending);
        self.hasher.finalize().into()
    }
}

impl Write for HashSink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.push(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'de> serde::Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

/// Builds what serde_json's `Value` visitor builds, strings borrowed where the body allows.
impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node<'de>, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node<'de>, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node<'de>, E> {
        Ok(Number::from_f64(v).map_or(Node::Null, Node::Number))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::String(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node<'de>, E> {
        Ok(Node::String(Cow::Owned(v.to_owned())))
    }

    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut entries = Vec::new();
        while let Some(Key(key)) = map.next_key()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Node::Object(entries))
    }
}
