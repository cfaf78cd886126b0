//! RFC 6962/9162 Merkle trees over event hashes, as the auditor computes them: a
//! streaming root (a stack of perfect subtree roots, O(log n) memory) and the
//! verification of inclusion and consistency proofs. Written from the RFC, apart
//! from the service's code.

use sha2::{Digest, Sha256};

pub type Digest32 = [u8; 32];

pub fn leaf(event_hash: &Digest32) -> Digest32 {
    Sha256::new()
        .chain_update([0u8])
        .chain_update(event_hash)
        .finalize()
        .into()
}

pub fn node(left: &Digest32, right: &Digest32) -> Digest32 {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// The root of a growing tree: push each event hash in seq order.
#[derive(Debug, Clone, Default)]
pub struct RootBuilder {
    /// (number of leaves, hash) of the perfect subtrees on the right edge.
    stack: Vec<(u64, Digest32)>,
    size: u64,
}

impl RootBuilder {
    pub fn push(&mut self, event_hash: &Digest32) {
        let mut current = (1u64, leaf(event_hash));
        while let Some(&(len, hash)) = self.stack.last() {
            if len != current.0 {
                break;
            }
            self.stack.pop();
            current = (len * 2, node(&hash, &current.1));
        }
        self.stack.push(current);
        self.size += 1;
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the leaves pushed so far.
    pub fn root(&self) -> Option<Digest32> {
        let mut parts = self.stack.iter().rev();
        let mut acc = parts.next()?.1;
        for (_, hash) in parts {
            acc = node(hash, &acc);
        }
        Some(acc)
    }
}

/// RFC 9162 §2.1.3.2.
pub fn verify_inclusion(
    leaf_hash: &Digest32,
    index: u64,
    size: u64,
    path: &[Digest32],
    root: &Digest32,
) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in path {
        if sn == 0 {
            return false;
        }
        if fn_ % 2 == 1 || fn_ == sn {
            r = node(p, &r);
            while fn_ % 2 == 0 && fn_ != 0 {
                fn_ /= 2;
                sn /= 2;
            }
        } else {
            r = node(&r, p);
        }
        fn_ /= 2;
        sn /= 2;
    }
    sn == 0 && r == *root
}

/// RFC 9162 §2.1.4.2.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Digest32,
    second_root: &Digest32,
    proof: &[Digest32],
) -> bool {
    if first == 0 || first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    let mut path = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((start, rest)) = path.split_first() else {
        return false;
    };
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ % 2 == 1 {
        fn_ /= 2;
        sn /= 2;
    }
    let (mut fr, mut sr) = (*start, *start);
    for c in rest {
        if sn == 0 {
            return false;
        }
        if fn_ % 2 == 1 || fn_ == sn {
            fr = node(c, &fr);
            sr = node(c, &sr);
            while fn_ % 2 == 0 && fn_ != 0 {
                fn_ /= 2;
                sn /= 2;
            }
        } else {
            sr = node(&sr, c);
        }
        fn_ /= 2;
        sn /= 2;
    }
    fr == *first_root && sr == *second_root && sn == 0
}

/// 64 hex digits into 32 bytes.
pub fn from_hex(text: &str) -> Option<Digest32> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn hexes(v: &Value) -> Vec<Digest32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| from_hex(x.as_str().unwrap()).unwrap())
            .collect()
    }

    /// Every root, inclusion and consistency proof of the independent vectors.
    #[test]
    fn the_independent_vectors_verify() {
        let v: Value =
            serde_json::from_str(include_str!("../../tests/vectors/merkle.json")).unwrap();
        let events = hexes(&v["event_hashes"]);
        let leaves = hexes(&v["leaf_hashes"]);
        let mut builder = RootBuilder::default();
        let mut roots = Vec::new();
        for (e, l) in events.iter().zip(&leaves) {
            assert_eq!(leaf(e), *l);
            builder.push(e);
            roots.push(builder.root().unwrap());
        }
        for tree in v["trees"].as_array().unwrap() {
            let size = tree["size"].as_u64().unwrap();
            let root = from_hex(tree["root"].as_str().unwrap()).unwrap();
            assert_eq!(roots[size as usize - 1], root);
            for inc in tree["inclusion"].as_array().unwrap() {
                let i = inc["index"].as_u64().unwrap();
                let path = hexes(&inc["path"]);
                assert!(verify_inclusion(&leaves[i as usize], i, size, &path, &root));
                if let Some(first) = path.first() {
                    let mut bad = path.clone();
                    bad[0] = leaf(first);
                    assert!(!verify_inclusion(&leaves[i as usize], i, size, &bad, &root));
                }
            }
            for con in tree["consistency"].as_array().unwrap() {
                let from = con["from"].as_u64().unwrap();
                let proof = hexes(&con["proof"]);
                assert!(verify_consistency(
                    from,
                    size,
                    &roots[from as usize - 1],
                    &root,
                    &proof
                ));
                assert!(
                    !verify_consistency(from, size, &roots[size as usize - 1], &root, &proof)
                        || from == size
                );
            }
        }
    }
}
