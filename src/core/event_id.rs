//! Event ids that carry their seq.
//!
//! An event's id is a version-8 uuid (RFC 9562 §5.8) laid out like a version-7 one:
//! the Unix time in milliseconds in the first 48 bits, so ids sort by when they were
//! minted, then 21 random bits and, in the last 53 bits, the event's seq. So an id is
//! unique within its ledger because its seq is, and the log finds the event of an id
//! by its primary key `(ledger_id, seq)`: the database keeps no index of ids, which
//! cost 8–15% of what the log could take (`docs/architecture.md`, "A twelfth pass").
//!
//! Events written before ids carried their seq have version-7 ids; the store finds
//! those through an index of them alone (`sql/V0017`).

use uuid::Uuid;

use super::event::SEQ_LIMIT;

const SEQ_BITS: u32 = 53;
const SEQ_MASK: u128 = (1 << SEQ_BITS) - 1;
const MILLIS_MASK: u128 = (1 << 48) - 1;

/// The id of the event at `seq` (below `SEQ_LIMIT`), minted at `unix_millis`, with 21
/// bits of `random`.
pub fn mint(seq: u64, unix_millis: u64, random: u32) -> Uuid {
    debug_assert!(seq < SEQ_LIMIT);
    let rand_a = u128::from(random >> 9) & 0xfff;
    let rand_b = u128::from(random) & 0x1ff;
    Uuid::from_u128(
        (u128::from(unix_millis) & MILLIS_MASK) << 80
            | 0x8 << 76
            | rand_a << 64
            | 0b10 << 62
            | rand_b << SEQ_BITS
            | u128::from(seq) & SEQ_MASK,
    )
}

/// The seq an id minted by `mint` carries; `None` for an id of any other version (an
/// event written before ids carried their seq).
pub fn seq_of(id: Uuid) -> Option<u64> {
    if id.get_version_num() != 8 || id.get_variant() != uuid::Variant::RFC4122 {
        return None;
    }
    Some((id.as_u128() & SEQ_MASK) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn an_id_gives_back_its_seq(seq in 0..SEQ_LIMIT, millis in 0u64..1 << 48, random: u32) {
            let id = mint(seq, millis, random);
            prop_assert_eq!(seq_of(id), Some(seq));
            prop_assert_eq!(id.get_version_num(), 8);
            prop_assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
            // The time sorts first, as in a version-7 id.
            prop_assert_eq!((id.as_u128() >> 80) as u64, millis);
        }

        #[test]
        fn ids_of_different_seqs_differ(a in 0..SEQ_LIMIT, b in 0..SEQ_LIMIT, millis in 0u64..1 << 48, ra: u32, rb: u32) {
            prop_assume!(a != b);
            prop_assert_ne!(mint(a, millis, ra), mint(b, millis, rb));
        }

        #[test]
        fn ids_sort_by_the_time_they_were_minted(a in 0u64..1 << 47, later in 1u64..1 << 47, sa in 0..SEQ_LIMIT, sb in 0..SEQ_LIMIT, ra: u32, rb: u32) {
            prop_assert!(mint(sa, a, ra) < mint(sb, a + later, rb));
        }
    }

    #[test]
    fn ids_of_other_versions_carry_no_seq() {
        assert_eq!(seq_of(Uuid::now_v7()), None);
        assert_eq!(seq_of(Uuid::new_v4()), None);
        assert_eq!(seq_of(Uuid::nil()), None);
        assert_eq!(seq_of(Uuid::max()), None);
    }

    #[test]
    fn a_known_id() {
        let id = mint(7, 0x0195_e6f2_7b40, 0x1f_ffff);
        assert_eq!(id.to_string(), "0195e6f2-7b40-8fff-bfe0-000000000007");
    }
}
