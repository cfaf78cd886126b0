//! SHA-256 event hashes and the chain link between events.

use std::fmt;

use sha2::{Digest, Sha256};

/// A SHA-256 digest, shown as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hash([u8; 32]);

impl Hash {
    /// The `prev_hash` of every ledger's first event.
    pub const GENESIS: Hash = Hash([0; 32]);

    /// The hash of an event is the SHA-256 of its canonical bytes (without `hash`).
    pub fn of(canonical: &[u8]) -> Self {
        Self(Sha256::digest(canonical).into())
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Self(out))
    }

    /// Lowercase hex. Written by hand from a table: it runs several times per event
    /// (the canonical bytes, the stored columns, the answer), and `hex::encode` builds
    /// the string a `char` at a time.
    pub fn to_hex(&self) -> String {
        String::from_utf8(self.hex_digits().to_vec()).expect("hex digits are ASCII")
    }

    /// [`Hash::to_hex`], appended to `out`.
    pub fn write_hex(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.hex_digits());
    }

    /// The 64 lowercase hex digits, without allocating.
    pub fn hex_digits(&self) -> [u8; 64] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (pair, byte) in out.chunks_exact_mut(2).zip(self.0) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0x0f)];
        }
        out
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_genesis_is_zeros() {
        assert_eq!(Hash::GENESIS.to_hex(), "0".repeat(64));
        let h = Hash::of(b"abc");
        assert_eq!(
            h.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Hash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(Hash::from_hex(&h.to_hex().to_uppercase()), None);
        assert_eq!(Hash::from_hex("abc"), None);
    }

    proptest::proptest! {
        #[test]
        fn to_hex_is_lowercase_hex_of_the_bytes(bytes in proptest::array::uniform32(0u8..)) {
            let h = Hash::from_bytes(bytes);
            proptest::prop_assert_eq!(h.to_hex(), hex::encode(bytes));
            proptest::prop_assert_eq!(Hash::from_hex(&h.to_hex()), Some(h));
        }
    }
}
