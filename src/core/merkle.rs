//! RFC 6962/9162 Merkle trees over a ledger's event hashes: leaf i is the event with
//! seq i + 1, leaf hash = SHA-256(0x00 ‖ event hash), node = SHA-256(0x01 ‖ left ‖
//! right). Everything is computed from the hashes of *perfect* subtrees (2^level leaves
//! starting at a multiple of 2^level), which the store keeps, so a root or a proof for
//! any tree size costs O(log n) subtree reads. `Frontier` is what the writer keeps in
//! memory to add those subtrees as events are appended.

use sha2::{Digest, Sha256};

use super::hash::Hash;

pub fn leaf_hash(event_hash: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(event_hash.as_bytes());
    Hash::from_bytes(h.finalize().into())
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.as_bytes());
    h.update(right.as_bytes());
    Hash::from_bytes(h.finalize().into())
}

/// The hash of a perfect subtree from its leaf hashes (`2^level` of them, in order).
pub fn perfect_hash(leaves: &[Hash]) -> Hash {
    assert!(
        leaves.len().is_power_of_two(),
        "a perfect subtree has 2^level leaves, not {}",
        leaves.len()
    );
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
    }
    level[0]
}

/// A perfect subtree: `2^level` leaves from leaf `index · 2^level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subtree {
    pub level: u32,
    pub index: u64,
}

/// The perfect subtrees whose concatenation is leaves `[start, end)`, left to right,
/// largest first. `start` must be aligned to the largest of them (true for every
/// range RFC 6962's recursion produces).
pub fn decompose(start: u64, end: u64) -> Vec<Subtree> {
    let mut out = Vec::new();
    let mut at = start;
    while at < end {
        let left = end - at;
        // Largest power of two that fits the remaining length and the alignment of `at`.
        let mut level = 63 - left.leading_zeros();
        if at != 0 {
            level = level.min(at.trailing_zeros());
        }
        out.push(Subtree {
            level,
            index: at >> level,
        });
        at += 1 << level;
    }
    out
}

/// Where subtree hashes come from: the store (from its node table and the events'
/// hashes) or, in tests, a list of leaves.
pub trait Subtrees {
    fn hash(&self, subtree: Subtree) -> Hash;
}

/// MTH of leaves `[start, end)`: the fold of its perfect subtrees, right to left.
pub fn range_hash(source: &impl Subtrees, start: u64, end: u64) -> Hash {
    let parts = decompose(start, end);
    let mut iter = parts.iter().rev();
    let mut acc = source.hash(*iter.next().expect("a non-empty range"));
    for part in iter {
        acc = node_hash(&source.hash(*part), &acc);
    }
    acc
}

/// The root of the tree of the first `size` leaves (`size` ≥ 1).
pub fn root(source: &impl Subtrees, size: u64) -> Hash {
    range_hash(source, 0, size)
}

/// Every perfect subtree `range_hash` of `[start, end)` reads, for fetching them in
/// one go.
pub fn needed_for_range(start: u64, end: u64) -> Vec<Subtree> {
    decompose(start, end)
}

fn largest_power_below(n: u64) -> u64 {
    debug_assert!(n > 1);
    1 << (63 - (n - 1).leading_zeros())
}

/// RFC 6962 §2.1.1 PATH(m, D[start:end]) as the ranges whose hashes form it, leaf to
/// root.
fn path_ranges(m: u64, start: u64, end: u64, out: &mut Vec<(u64, u64)>) {
    let n = end - start;
    if n <= 1 {
        return;
    }
    let k = largest_power_below(n);
    if m < k {
        path_ranges(m, start, start + k, out);
        out.push((start + k, end));
    } else {
        path_ranges(m - k, start + k, end, out);
        out.push((start, start + k));
    }
}

/// RFC 6962 §2.1.2 SUBPROOF(m, D[start:end], b) as ranges.
fn subproof_ranges(m: u64, start: u64, end: u64, complete: bool, out: &mut Vec<(u64, u64)>) {
    let n = end - start;
    if m == n {
        if !complete {
            out.push((start, end));
        }
        return;
    }
    let k = largest_power_below(n);
    if m <= k {
        subproof_ranges(m, start, start + k, complete, out);
        out.push((start + k, end));
    } else {
        subproof_ranges(m - k, start + k, end, false, out);
        out.push((start, start + k));
    }
}

/// The ranges of an inclusion proof of leaf `index` in a tree of `size` leaves.
pub fn inclusion_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    assert!(index < size, "leaf {index} is not in a tree of {size}");
    let mut out = Vec::new();
    path_ranges(index, 0, size, &mut out);
    out
}

/// The ranges of a consistency proof from size `old` to size `new` (1 ≤ old ≤ new).
pub fn consistency_ranges(old: u64, new: u64) -> Vec<(u64, u64)> {
    assert!(
        old >= 1 && old <= new,
        "no consistency proof from {old} to {new}"
    );
    let mut out = Vec::new();
    if old < new {
        subproof_ranges(old, 0, new, true, &mut out);
    }
    out
}

pub fn inclusion_proof(source: &impl Subtrees, index: u64, size: u64) -> Vec<Hash> {
    inclusion_ranges(index, size)
        .into_iter()
        .map(|(s, e)| range_hash(source, s, e))
        .collect()
}

pub fn consistency_proof(source: &impl Subtrees, old: u64, new: u64) -> Vec<Hash> {
    consistency_ranges(old, new)
        .into_iter()
        .map(|(s, e)| range_hash(source, s, e))
        .collect()
}

/// RFC 9162 §2.1.3.2: whether `path` proves leaf `leaf` at `index` in the tree of
/// `size` leaves with root `root`.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

/// RFC 9162 §2.1.4.2: whether `proof` shows the tree of `new` leaves (root `new_root`)
/// extends the tree of `old` leaves (root `old_root`).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old == 0 || old > new {
        return false;
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if old.is_power_of_two() {
        path.insert(0, *old_root);
    }
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f_n, mut s_n) = (old - 1, new - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    f_r == *old_root && s_r == *new_root && s_n == 0
}

/// The perfect subtrees on the right edge of the tree so far, largest first: enough to
/// add leaves and to know every new perfect subtree they complete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    pub size: u64,
    pub subtrees: Vec<(Subtree, Hash)>,
}

impl Frontier {
    /// Appends the leaf of `event_hash`; returns the perfect subtrees of level ≥ 1 it
    /// completed, to be stored.
    pub fn push(&mut self, event_hash: &Hash) -> Vec<(Subtree, Hash)> {
        let index = self.size;
        self.size += 1;
        let mut completed = Vec::new();
        let mut current = (Subtree { level: 0, index }, leaf_hash(event_hash));
        while let Some((top, top_hash)) = self.subtrees.last().copied() {
            if top.level != current.0.level {
                break;
            }
            self.subtrees.pop();
            current = (
                Subtree {
                    level: top.level + 1,
                    index: top.index >> 1,
                },
                node_hash(&top_hash, &current.1),
            );
            completed.push(current);
        }
        self.subtrees.push(current);
        completed
    }

    /// The root of the tree so far (`None` while empty).
    pub fn root(&self) -> Option<Hash> {
        let mut iter = self.subtrees.iter().rev();
        let mut acc = iter.next()?.1;
        for (_, h) in iter {
            acc = node_hash(h, &acc);
        }
        Some(acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Leaves in memory, for tests and as a reference.
    struct Leaves(Vec<Hash>);

    impl Subtrees for Leaves {
        fn hash(&self, s: Subtree) -> Hash {
            if s.level == 0 {
                return self.0[s.index as usize];
            }
            let half = Subtree {
                level: s.level - 1,
                index: s.index * 2,
            };
            let right = Subtree {
                index: half.index + 1,
                ..half
            };
            node_hash(&self.hash(half), &self.hash(right))
        }
    }

    fn h(s: &str) -> Hash {
        Hash::from_hex(s).unwrap()
    }

    #[test]
    fn the_independent_vectors_hold() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/vectors/merkle.json")).unwrap();
        let events: Vec<Hash> = v["event_hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| h(x.as_str().unwrap()))
            .collect();
        let leaves: Vec<Hash> = events.iter().map(leaf_hash).collect();
        for (leaf, expected) in leaves.iter().zip(v["leaf_hashes"].as_array().unwrap()) {
            assert_eq!(leaf.to_hex(), expected.as_str().unwrap());
        }
        let source = Leaves(leaves.clone());
        let mut frontier = Frontier::default();
        for tree in v["trees"].as_array().unwrap() {
            let size = tree["size"].as_u64().unwrap();
            while frontier.size < size {
                frontier.push(&events[frontier.size as usize]);
            }
            let root_hex = tree["root"].as_str().unwrap();
            assert_eq!(root(&source, size).to_hex(), root_hex, "size {size}");
            assert_eq!(
                frontier.root().unwrap().to_hex(),
                root_hex,
                "frontier {size}"
            );
            for inc in tree["inclusion"].as_array().unwrap() {
                let index = inc["index"].as_u64().unwrap();
                let path: Vec<Hash> = inc["path"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| h(x.as_str().unwrap()))
                    .collect();
                assert_eq!(
                    inclusion_proof(&source, index, size),
                    path,
                    "size {size} index {index}"
                );
                assert!(verify_inclusion(
                    &leaves[index as usize],
                    index,
                    size,
                    &path,
                    &h(root_hex)
                ));
            }
            for con in tree["consistency"].as_array().unwrap() {
                let from = con["from"].as_u64().unwrap();
                let proof: Vec<Hash> = con["proof"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| h(x.as_str().unwrap()))
                    .collect();
                assert_eq!(
                    consistency_proof(&source, from, size),
                    proof,
                    "{from} → {size}"
                );
                assert!(verify_consistency(
                    from,
                    size,
                    &root(&source, from),
                    &h(root_hex),
                    &proof
                ));
            }
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&Hash::of(format!("event {i}").as_bytes())))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn proofs_verify_and_break_when_anything_changes(n in 1u64..200, a in 0u64..200, b in 0u64..200) {
            let source = Leaves(leaves(n as usize));
            let (i, m) = (a % n, 1 + b % n);
            let root_n = root(&source, n);
            let path = inclusion_proof(&source, i, n);
            prop_assert!(verify_inclusion(&source.0[i as usize], i, n, &path, &root_n));
            prop_assert!(!verify_inclusion(&Hash::of(b"other"), i, n, &path, &root_n));
            if n > 1 {
                prop_assert!(!verify_inclusion(&source.0[i as usize], (i + 1) % n, n, &path, &root_n));
            }
            for k in 0..path.len() {
                let mut bad = path.clone();
                bad[k] = Hash::of(b"tampered");
                prop_assert!(!verify_inclusion(&source.0[i as usize], i, n, &bad, &root_n));
            }
            let root_m = root(&source, m);
            let proof = consistency_proof(&source, m, n);
            prop_assert!(verify_consistency(m, n, &root_m, &root_n, &proof));
            if m < n {
                prop_assert!(!verify_consistency(m, n, &Hash::of(b"other"), &root_n, &proof));
                for k in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[k] = Hash::of(b"tampered");
                    prop_assert!(!verify_consistency(m, n, &root_m, &root_n, &bad));
                }
            }
        }

        #[test]
        fn the_frontier_completes_exactly_the_perfect_subtrees(n in 1usize..300) {
            let events: Vec<Hash> = (0..n).map(|i| Hash::of(format!("e{i}").as_bytes())).collect();
            let source = Leaves(events.iter().map(leaf_hash).collect());
            let mut frontier = Frontier::default();
            let mut stored = 0;
            for (i, e) in events.iter().enumerate() {
                for (subtree, hash) in frontier.push(e) {
                    prop_assert_eq!(source.hash(subtree), hash);
                    stored += 1;
                }
                prop_assert_eq!(frontier.root().unwrap(), root(&source, i as u64 + 1));
            }
            // n leaves complete n − popcount(n) perfect subtrees of level ≥ 1.
            prop_assert_eq!(stored, n - (n as u64).count_ones() as usize);
        }

        #[test]
        fn a_perfect_hash_is_the_subtree_the_frontier_completes(level in 0u32..7, index in 0u64..5) {
            let width = 1u64 << level;
            let events: Vec<Hash> = (0..(index + 1) * width).map(|i| Hash::of(format!("e{i}").as_bytes())).collect();
            let source = Leaves(events.iter().map(leaf_hash).collect());
            let start = (index * width) as usize;
            let hash = perfect_hash(&source.0[start..start + width as usize]);
            prop_assert_eq!(hash, source.hash(Subtree { level, index }));
            let mut frontier = Frontier::default();
            let mut completed = Vec::new();
            for e in &events {
                completed.extend(frontier.push(e));
            }
            if level > 0 {
                let subtree = Subtree { level, index };
                prop_assert!(completed.contains(&(subtree, hash)), "{:?} not completed", subtree);
            }
        }
    }
}
