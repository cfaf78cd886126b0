//! The Merkle tree's storage: perfect subtrees of 16 leaves or more in `merkle_nodes`,
//! leaves and smaller subtrees from the events' hashes. Roots and proofs fetch the
//! O(log n) subtrees they need in one or two queries, then the pure code in
//! `core::merkle` folds them.

use std::collections::{BTreeSet, HashMap};

use tokio_postgres::GenericClient;

use crate::core::hash::Hash;
use crate::core::ledger::LedgerId;
use crate::core::merkle::{self, Frontier, Subtree, Subtrees};

use super::StoreError;

/// Subtree hashes fetched for one computation.
pub struct Fetched(HashMap<Subtree, Hash>);

impl Subtrees for Fetched {
    fn hash(&self, subtree: Subtree) -> Hash {
        self.0[&subtree]
    }
}

/// Stores the nodes of one batch (`stored_columns`).
pub(crate) const INSERT_NODES: &str = "INSERT INTO merkle_nodes (ledger_id, level, idx, hash) \
     SELECT $1, * FROM unnest($2::int2[], $3::int8[], $4::bytea[])";

/// The lowest level kept in `merkle_nodes`. Smaller subtrees (2 to 8 leaves) are not
/// stored: they are recomputed from at most 8 events' hashes when a root or proof needs
/// them. That keeps one node row per 8 events instead of one per event, at the cost
/// of a few more event hashes read per proof.
pub const STORED_LEVEL_MIN: u32 = 4;

/// Fetches `wanted` subtrees: leaves and subtrees below `STORED_LEVEL_MIN` from the
/// events' hashes, the others from `merkle_nodes`.
pub async fn fetch(
    client: &impl GenericClient,
    ledger: &LedgerId,
    wanted: impl IntoIterator<Item = Subtree>,
) -> Result<Fetched, StoreError> {
    const LEAVES: &str = "SELECT seq, hash FROM events WHERE ledger_id = $1 AND seq = ANY($2)";
    const NODES: &str = "SELECT n.level, n.idx, n.hash FROM merkle_nodes n \
         JOIN unnest($2::int2[], $3::int8[]) AS w(level, idx) ON n.level = w.level AND n.idx = w.idx \
         WHERE n.ledger_id = $1";
    let wanted: BTreeSet<Subtree> = wanted.into_iter().collect();
    let l = ledger.as_str();
    // Every leaf a wanted subtree below the stored levels covers (itself, for a leaf).
    let leaves_of = |s: &Subtree| {
        let width = 1u64 << s.level;
        s.index * width..(s.index + 1) * width
    };
    let seqs: Vec<i64> = wanted
        .iter()
        .filter(|s| s.level < STORED_LEVEL_MIN)
        .flat_map(leaves_of)
        .map(|leaf| leaf as i64 + 1)
        .collect::<BTreeSet<i64>>()
        .into_iter()
        .collect();
    let (levels, idxs): (Vec<i16>, Vec<i64>) = wanted
        .iter()
        .filter(|s| s.level >= STORED_LEVEL_MIN)
        .map(|s| (s.level as i16, s.index as i64))
        .unzip();
    let mut found = HashMap::with_capacity(wanted.len());
    if !seqs.is_empty() {
        let mut leaves = HashMap::with_capacity(seqs.len());
        for r in client.query(LEAVES, &[&l, &seqs]).await? {
            let seq: i64 = r.get(0);
            let hex: &str = r.get(1);
            let hash = Hash::from_hex(hex)
                .ok_or_else(|| StoreError::Corrupt(format!("event hash {hex:?}")))?;
            leaves.insert(seq as u64 - 1, merkle::leaf_hash(&hash));
        }
        for s in wanted.iter().filter(|s| s.level < STORED_LEVEL_MIN) {
            let hashes: Option<Vec<Hash>> = leaves_of(s).map(|i| leaves.get(&i).copied()).collect();
            if let Some(hashes) = hashes {
                found.insert(*s, merkle::perfect_hash(&hashes));
            }
        }
    }
    if !levels.is_empty() {
        for r in client.query(NODES, &[&l, &levels, &idxs]).await? {
            let bytes: &[u8] = r.get(2);
            let bytes: [u8; 32] = bytes
                .try_into()
                .map_err(|_| StoreError::Corrupt("a Merkle node is not 32 bytes".into()))?;
            found.insert(
                Subtree {
                    level: r.get::<_, i16>(0) as u32,
                    index: r.get::<_, i64>(1) as u64,
                },
                Hash::from_bytes(bytes),
            );
        }
    }
    if let Some(missing) = wanted.iter().find(|s| !found.contains_key(s)) {
        return Err(StoreError::Corrupt(format!(
            "ledger {ledger}: Merkle subtree at level {} index {} is missing",
            missing.level, missing.index
        )));
    }
    Ok(Fetched(found))
}

/// The root of the first `size` events.
pub async fn root(
    client: &impl GenericClient,
    ledger: &LedgerId,
    size: u64,
) -> Result<Hash, StoreError> {
    let source = fetch(client, ledger, merkle::needed_for_range(0, size)).await?;
    Ok(merkle::root(&source, size))
}

/// The audit path of event `seq` in the tree of `size` events.
pub async fn inclusion(
    client: &impl GenericClient,
    ledger: &LedgerId,
    seq: u64,
    size: u64,
) -> Result<Vec<Hash>, StoreError> {
    let ranges = merkle::inclusion_ranges(seq - 1, size);
    let wanted = ranges
        .iter()
        .flat_map(|(s, e)| merkle::needed_for_range(*s, *e));
    let source = fetch(client, ledger, wanted).await?;
    Ok(merkle::inclusion_proof(&source, seq - 1, size))
}

/// The consistency proof from `old` to `new` events.
pub async fn consistency(
    client: &impl GenericClient,
    ledger: &LedgerId,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, StoreError> {
    let ranges = merkle::consistency_ranges(old, new);
    let wanted = ranges
        .iter()
        .flat_map(|(s, e)| merkle::needed_for_range(*s, *e));
    let source = fetch(client, ledger, wanted).await?;
    Ok(merkle::consistency_proof(&source, old, new))
}

/// The writer's frontier at `size` events: the perfect subtrees of its right edge.
pub async fn frontier(
    client: &impl GenericClient,
    ledger: &LedgerId,
    size: u64,
) -> Result<Frontier, StoreError> {
    if size == 0 {
        return Ok(Frontier::default());
    }
    let parts = merkle::decompose(0, size);
    let source = match fetch(client, ledger, parts.iter().copied()).await {
        Ok(source) => source,
        // A log written before the tree was kept: build the tree from it, once.
        Err(StoreError::Corrupt(_)) => return backfill(client, ledger, size).await,
        Err(e) => return Err(e),
    };
    Ok(Frontier {
        size,
        subtrees: parts.into_iter().map(|s| (s, source.hash(s))).collect(),
    })
}

/// Stores the subtrees a batch completed.
/// Appends the nodes a batch completed (the writer's connection, so the statement is
/// prepared once per connection like the rest of the batch, not parsed every time).
pub async fn insert(
    client: &deadpool_postgres::ClientWrapper,
    ledger: &LedgerId,
    nodes: &[(Subtree, Hash)],
) -> Result<(), StoreError> {
    let (levels, idxs, hashes) = stored_columns(nodes);
    if levels.is_empty() {
        return Ok(());
    }
    client
        .execute(
            &client.prepare_cached(INSERT_NODES).await?,
            &[&ledger.as_str(), &levels, &idxs, &hashes],
        )
        .await?;
    Ok(())
}

/// The columns of the nodes that are kept (level ≥ `STORED_LEVEL_MIN`).
pub(crate) fn stored_columns(nodes: &[(Subtree, Hash)]) -> (Vec<i16>, Vec<i64>, Vec<&[u8]>) {
    let kept = nodes.iter().filter(|(s, _)| s.level >= STORED_LEVEL_MIN);
    let mut columns = (Vec::new(), Vec::new(), Vec::new());
    for (s, h) in kept {
        columns.0.push(s.level as i16);
        columns.1.push(s.index as i64);
        columns.2.push(h.as_bytes().as_slice());
    }
    columns
}

/// Builds the stored tree of the first `size` events from their hashes, in pages, for
/// a log that predates it; returns the frontier at `size`.
async fn backfill(
    client: &impl GenericClient,
    ledger: &LedgerId,
    size: u64,
) -> Result<Frontier, StoreError> {
    const PAGE: &str = "SELECT hash FROM events WHERE ledger_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT 10000";
    const INSERT: &str = "INSERT INTO merkle_nodes (ledger_id, level, idx, hash) \
         SELECT $1, * FROM unnest($2::int2[], $3::int8[], $4::bytea[]) ON CONFLICT DO NOTHING";
    tracing::info!(%ledger, events = size, "building the Merkle tree of an existing log");
    let mut frontier = Frontier::default();
    while frontier.size < size {
        let rows = client
            .query(
                PAGE,
                &[&ledger.as_str(), &(frontier.size as i64), &(size as i64)],
            )
            .await?;
        if rows.is_empty() {
            return Err(StoreError::Corrupt(format!(
                "ledger {ledger} has fewer than {size} events"
            )));
        }
        let mut nodes = Vec::new();
        for r in rows {
            let hex: &str = r.get(0);
            let hash = Hash::from_hex(hex)
                .ok_or_else(|| StoreError::Corrupt(format!("event hash {hex:?}")))?;
            nodes.extend(frontier.push(&hash));
        }
        let (levels, idxs, hashes) = stored_columns(&nodes);
        client
            .execute(INSERT, &[&ledger.as_str(), &levels, &idxs, &hashes])
            .await?;
    }
    Ok(frontier)
}
