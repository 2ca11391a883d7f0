//! The parse of a body down to what normalization and scoping read.
//!
//! A Jira issue body carries hundreds of `customfield_*` and rendered fields that no family
//! reads; building them into a `Value` tree was most of ingest's own CPU. This parse keeps the
//! keys listed in [`BODY`] and skips the rest without allocating. Skipped values still go
//! through serde_json's full value parse (numbers included: `1e400` is out of range), so a body
//! is refused exactly when, and with the same error as, the whole-tree parse refused it.
//!
//! The parse also measures the body's nesting depth as it goes (see [`Depth`]), so a body that
//! parses is not scanned a second time for its depth.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// What is read below one key of an object.
#[derive(Debug, Clone, Copy)]
pub(super) enum Read {
    /// The whole value: small objects whose keys the families read many of, or pass to
    /// `any_text` (which prints objects whole).
    Whole,
    /// Only these keys, when the value is an object; any other value is kept whole.
    Keys(&'static [(&'static str, Read)]),
    /// Each element read through these keys, when the value is an array; any other value is
    /// kept whole. Only for arrays nobody prints whole.
    Each(&'static [(&'static str, Read)]),
}

use Read::{Each, Keys, Whole};

/// Everything `families.rs`, `standalone.rs`, `mod.rs` (site, event time, actor) and
/// `scope.rs` read of a body. A key missing here reads as absent: the differential tests
/// (`normalize/differential/`) compare against normalizing the whole tree.
pub(super) const BODY: &[(&str, Read)] = &[
    ("webhookEvent", Whole),
    ("timestamp", Whole),
    ("issue_event_type_name", Whole),
    ("user", Keys(USER)),
    ("issue", Keys(ISSUE)),
    ("changelog", Keys(CHANGELOG)),
    ("comment", Keys(COMMENT)),
    ("worklog", Keys(WORKLOG)),
    ("attachment", Whole),
    ("issueLink", Whole),
    ("property", Whole),
    ("propertyKey", Whole),
    ("project", Whole),
    ("version", Whole),
    ("mergedTo", Whole),
    ("sprint", Whole),
    ("board", Whole),
    ("filter", Whole),
];

/// A user in any shape `json::user` reads (Jira's carry avatar URLs, time zones, groups), as
/// a `user_*` record (`active`) and as a site's `self` URL.
const USER: &[(&str, Read)] = &[
    ("accountId", Whole),
    ("accoundId", Whole),
    ("key", Whole),
    ("name", Whole),
    ("displayName", Whole),
    ("emailAddress", Whole),
    ("active", Whole),
    ("self", Whole),
];

const ISSUE: &[(&str, Read)] = &[
    ("id", Whole),
    ("key", Whole),
    ("self", Whole),
    ("fields", Keys(ISSUE_FIELDS)),
];

/// The fields a created or deleted issue is described by, and those scope filters on.
const ISSUE_FIELDS: &[(&str, Read)] = &[
    ("project", Keys(FIELD_VALUE)),
    ("issuetype", Keys(FIELD_VALUE)),
    ("summary", Keys(FIELD_VALUE)),
    ("status", Keys(FIELD_VALUE)),
    ("priority", Keys(FIELD_VALUE)),
    ("assignee", Keys(FIELD_VALUE)),
    ("reporter", Keys(FIELD_VALUE)),
];

/// An issue field's value as a change reads it (id and name, or a user) and scope reads the
/// project and issue type (key, id, name).
const FIELD_VALUE: &[(&str, Read)] = &[
    ("id", Whole),
    ("name", Whole),
    ("accountId", Whole),
    ("accoundId", Whole),
    ("key", Whole),
    ("displayName", Whole),
    ("emailAddress", Whole),
];

const CHANGELOG: &[(&str, Read)] = &[("id", Whole), ("items", Each(CHANGELOG_ITEM))];

const CHANGELOG_ITEM: &[(&str, Read)] = &[
    ("field", Whole),
    ("fieldId", Whole),
    ("from", Whole),
    ("fromString", Whole),
    ("to", Whole),
    ("toString", Whole),
];

const COMMENT: &[(&str, Read)] = &[
    ("id", Whole),
    ("self", Whole),
    ("body", Whole),
    ("updated", Whole),
    ("created", Whole),
    ("author", Keys(USER)),
    ("updateAuthor", Keys(USER)),
];

const WORKLOG: &[(&str, Read)] = &[
    ("id", Whole),
    ("issueId", Whole),
    ("self", Whole),
    ("timeSpent", Whole),
    ("timeSpentSeconds", Whole),
    ("comment", Whole),
    ("updated", Whole),
    ("created", Whole),
    ("author", Keys(USER)),
    ("updateAuthor", Keys(USER)),
];

/// What [`parse_read`] read of a body that parses.
pub(super) struct ReadBody {
    /// What [`BODY`] lists, or `None` for valid JSON that is not an object.
    pub body: Option<Value>,
    /// The deepest nesting of objects and arrays in the body, as `depth::nesting_depth`
    /// counts it: the top-level object is 1.
    pub depth: usize,
}

/// Parses `text` keeping what [`BODY`] lists, and measures its depth. The recursion is bounded
/// by serde_json's own limit (128 levels), whatever the body.
pub(super) fn parse_read(text: &str) -> Result<ReadBody, serde_json::Error> {
    let deepest = Cell::new(0);
    let mut de = serde_json::Deserializer::from_str(text);
    let body = de.deserialize_any(Top(Depth::top(&deepest)))?;
    // Trailing characters are an error, as in `serde_json::from_str`.
    de.end()?;
    Ok(ReadBody {
        body,
        depth: deepest.get(),
    })
}

/// Where a value sits: the depth of the container holding it (0 at the top level), and the
/// deepest container the parse has entered so far.
#[derive(Clone, Copy)]
struct Depth<'a> {
    at: usize,
    deepest: &'a Cell<usize>,
}

impl<'a> Depth<'a> {
    fn top(deepest: &'a Cell<usize>) -> Self {
        Depth { at: 0, deepest }
    }

    /// Inside a container that opens here.
    fn enter(self) -> Self {
        let at = self.at + 1;
        self.deepest.set(self.deepest.get().max(at));
        Depth {
            at,
            deepest: self.deepest,
        }
    }
}

/// The top level: an object read through [`BODY`], anything else validated and dropped.
struct Top<'a>(Depth<'a>);

impl<'de> Visitor<'de> for Top<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Skip(self.0).visit_seq(seq).map(|_| None)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Pruned {
            read: Keys(BODY),
            depth: self.0,
        }
        .visit_map(map)
        .map(Some)
    }
}

/// A value read as `read` says: the listed keys of an object (of each object in an array,
/// with [`Each`]), anything else whole. Kept whole, it is the `Value` serde_json's own visitor
/// builds (a later duplicate key replaces an earlier one), built here so that its depth is
/// measured too, duplicates replaced or not.
#[derive(Clone, Copy)]
struct Pruned<'a> {
    read: Read,
    depth: Depth<'a>,
}

impl<'de> DeserializeSeed<'de> for Pruned<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// Non-objects become the `Value` serde_json's own visitor would build, so that reading them
/// (e.g. `issue` given as a string) sees what it saw in the whole tree.
impl<'de> Visitor<'de> for Pruned<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let element = Pruned {
            read: match self.read {
                Each(keys) => Keys(keys),
                Whole | Keys(_) => Whole,
            },
            depth: self.depth.enter(),
        };
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(element)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inside = self.depth.enter();
        let mut kept = Map::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let read = match self.read {
                Whole => Whole,
                Keys(keys) | Each(keys) => match keys.iter().find(|(k, _)| *k == key) {
                    Some(&(_, read)) => read,
                    None => {
                        map.next_value_seed(Skip(inside))?;
                        continue;
                    }
                },
            };
            let value = map.next_value_seed(Pruned {
                read,
                depth: inside,
            })?;
            // A later duplicate replaces an earlier one, as in `Value`'s own map.
            kept.insert(key.into_owned(), value);
        }
        Ok(Value::Object(kept))
    }
}

/// An object key, borrowed from the body unless it contains escapes.
pub(super) struct Key<'de>(pub Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }
}

/// A value nobody reads: parsed as serde_json parses any value (so it is refused when the
/// whole-tree parse refused it), nothing kept but its depth. `IgnoredAny` would be cheaper but
/// skips number range checks, accepting bodies the whole-tree parse refused.
#[derive(Clone, Copy)]
struct Skip<'a>(Depth<'a>);

impl<'de> DeserializeSeed<'de> for Skip<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inside = Skip(self.0.enter());
        while seq.next_element_seed(inside)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inside = Skip(self.0.enter());
        // Keys are strings: they nest nothing.
        while map.next_key_seed(inside)?.is_some() {
            map.next_value_seed(inside)?;
        }
        Ok(())
    }
}
