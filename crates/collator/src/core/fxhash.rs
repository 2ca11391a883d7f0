//! A small multiplicative hasher for the record map, looked up once per applied event. The
//! keys come from our own normalized log, so SipHash's flooding resistance buys nothing here,
//! and its cost per lookup is most of the lookup.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// `HashMap` with [`FxHasher`].
pub(crate) type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// The Fx hash (as in rustc): rotate, xor a word, multiply.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // The table indexes buckets by the low bits, and a multiply leaves those depending on
        // the low bits of the input only; record keys share long prefixes and end in digits,
        // so without this final avalanche (murmur3's fmix64) they would pile into few buckets.
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, BuildHasherDefault};

    #[test]
    fn equal_keys_hash_equal_and_neighbours_differ() {
        let b = BuildHasherDefault::<FxHasher>::default();
        assert_eq!(b.hash_one("site|issue|1"), b.hash_one("site|issue|1"));
        assert_ne!(b.hash_one("site|issue|1"), b.hash_one("site|issue|2"));
        assert_ne!(
            b.hash_one("site|issue|12345678"),
            b.hash_one("site|issue|12345679")
        );
    }

    #[test]
    fn keys_with_a_common_prefix_spread_over_the_low_bits() {
        let b = BuildHasherDefault::<FxHasher>::default();
        let buckets: std::collections::HashSet<u64> = (0..4096)
            .map(|i| b.hash_one(format!("https://bench.atlassian.net|issue|{}", 10_000 + i)) & 4095)
            .collect();
        // 4096 keys into 4096 buckets: a uniform hash fills about 63 % of them.
        assert!(buckets.len() > 2048, "{} buckets used", buckets.len());
    }
}
