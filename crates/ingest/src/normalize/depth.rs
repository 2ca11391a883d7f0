//! The nesting depth of a body the parse refused: whether it is refused as too deep or as
//! invalid JSON. A body that parses has its depth measured by the parse itself
//! (`read_paths::Depth`); this scan ran before every parse until then, a fifth of ingest's own
//! instructions per webhook.

/// Deepest nesting of objects and arrays, strings skipped. Malformed input gets a number too;
/// the parser rejects it afterwards. A Jira body is mostly string content, so strings are
/// skipped with `memchr` (to the next quote or backslash) rather than byte by byte: the byte
/// loop was a twelfth of ingest's CPU under load.
pub(super) fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut at) = (0usize, 0usize, 0usize);
    while let Some(&b) = bytes.get(at) {
        match b {
            b'"' => match string_end(bytes, at + 1) {
                Some(end) => at = end,
                // Unterminated: nothing after it can nest.
                None => return max,
            },
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            // Pretty-printed bodies indent with runs of spaces: past them eight at a time, as
            // the byte loop over indentation was most of this scan on such bodies.
            b' ' => {
                while bytes.get(at + 1..at + 9) == Some(b"        ") {
                    at += 8;
                }
            }
            _ => {}
        }
        at += 1;
    }
    max
}

/// The index of the quote closing a string whose content starts at `from`.
fn string_end(bytes: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let i = from + memchr::memchr2(b'"', b'\\', bytes.get(from..)?)?;
        if bytes[i] == b'"' {
            return Some(i);
        }
        // A backslash escapes the byte after it, whatever it is.
        from = i + 2;
    }
}

/// Bodies for property tests: `pieces` of a byte and a count, where only `run` repeats its
/// count, so long runs of one filler byte stand among structure.
#[cfg(test)]
pub(super) fn with_runs(pieces: &[(u8, usize)], run: u8) -> Vec<u8> {
    pieces
        .iter()
        .flat_map(|&(b, n)| std::iter::repeat_n(b, if b == run { n } else { 1 }))
        .collect()
}

/// Up to `count` pieces over `alphabet`, runs up to `longest` long (see [`with_runs`]).
#[cfg(test)]
pub(super) fn pieces(
    alphabet: &[u8],
    longest: usize,
    count: usize,
) -> impl proptest::strategy::Strategy<Value = Vec<(u8, usize)>> {
    proptest::collection::vec(
        (proptest::sample::select(alphabet.to_vec()), 1..longest),
        0..count,
    )
}

#[cfg(test)]
mod tests {
    use super::{nesting_depth, pieces, with_runs};

    proptest::proptest! {
        /// Runs of spaces, skipped eight at a time, count as any other byte that cannot nest.
        #[test]
        fn space_runs_nest_like_any_other_filler(pieces in pieces(b"{}[]\"\\ax:, ", 20, 60)) {
            let body = with_runs(&pieces, b' ');
            let filled: Vec<u8> = body.iter().map(|&b| if b == b' ' { b'a' } else { b }).collect();
            proptest::prop_assert_eq!(nesting_depth(&body), nesting_depth(&filled));
        }
    }
}
