//! Merkle proofs and signed checkpoints over HTTP, checked with the pure verification
//! code against roots recomputed from the export.

use chainbook::core::checkpoint::Checkpoint;
use chainbook::core::hash::Hash;
use chainbook::core::ledger::LedgerId;
use chainbook::core::merkle::{self, Frontier};
use serde_json::{json, Value};

use crate::helpers::{funded_ledger, spawn_app, TestApp};

fn h(v: &Value) -> Hash {
    Hash::from_hex(v.as_str().unwrap()).unwrap()
}

/// A JSON array of hex hashes.
fn hs(v: &Value) -> Vec<Hash> {
    v.as_array().unwrap().iter().map(h).collect()
}

/// The event hashes of the export, and the root of every prefix of them.
async fn roots(app: &TestApp, ledger: &str) -> (Vec<Hash>, Vec<Hash>) {
    let hashes: Vec<Hash> = app
        .export(ledger)
        .await
        .lines()
        .map(|l| h(&serde_json::from_str::<Value>(l).unwrap()["hash"]))
        .collect();
    let mut frontier = Frontier::default();
    let roots = hashes
        .iter()
        .map(|e| {
            frontier.push(e);
            frontier.root().unwrap()
        })
        .collect();
    (hashes, roots)
}

/// Asks for the inclusion proof of `seq` in the tree of `size` events and checks it
/// (and the root it names) against the export's hashes and roots.
async fn check_inclusion(
    app: &TestApp,
    key: &str,
    (hashes, roots): (&[Hash], &[Hash]),
    seq: u64,
    size: u64,
) {
    let r = app
        .get(
            key,
            &format!("/v1/ledgers/acme/proofs/inclusion?seq={seq}&tree_size={size}"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let root = roots[size as usize - 1];
    assert_eq!(h(&r.body["root"]), root, "root of {size}");
    assert_eq!(h(&r.body["leaf_hash"]), hashes[seq as usize - 1]);
    let path = hs(&r.body["audit_path"]);
    let leaf = merkle::leaf_hash(&hashes[seq as usize - 1]);
    assert!(
        merkle::verify_inclusion(&leaf, seq - 1, size, &path, &root),
        "{seq} in {size}"
    );
}

/// Asks for the consistency proof from `from` to `to` events and checks it against the
/// export's roots.
async fn check_consistency(app: &TestApp, key: &str, roots: &[Hash], from: u64, to: u64) {
    let r = app
        .get(
            key,
            &format!("/v1/ledgers/acme/proofs/consistency?from={from}&to={to}"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let proof = hs(&r.body["consistency_path"]);
    assert!(
        merkle::verify_consistency(
            from,
            to,
            &roots[from as usize - 1],
            &roots[to as usize - 1],
            &proof
        ),
        "{from} to {to}"
    );
}

#[tokio::test]
async fn inclusion_and_consistency_proofs_verify_against_the_export() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "500.00").await;
    for _ in 0..30 {
        let r = app
            .transfer(
                &key,
                "acme",
                "assets:cash",
                "expenses:supplies",
                "EUR",
                "1.00",
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let (hashes, roots) = roots(&app, "acme").await;
    let n = hashes.len() as u64;
    let auditor = app.key("acme", "auditor").await;
    for (seq, size) in [(1, 1), (1, n), (5, 13), (13, 13), (n, n), (17, 32.min(n))] {
        check_inclusion(&app, &auditor, (&hashes, &roots), seq, size).await;
    }
    for (from, to) in [(1, n), (7, 20), (16, 32.min(n)), (n, n)] {
        check_consistency(&app, &auditor, &roots, from, to).await;
    }
    for bad in [
        "inclusion?seq=0",
        &format!("inclusion?seq={}", n + 1),
        &format!("inclusion?seq=3&tree_size={}", n + 1),
        "inclusion?seq=5&tree_size=4",
        "consistency?from=0",
        "consistency?from=5&to=4",
        "inclusion",
    ] {
        app.get(&auditor, &format!("/v1/ledgers/acme/proofs/{bad}"))
            .await
            .assert_problem(422, "invalid-request");
    }
    let reader = app.key("acme", "reader").await;
    app.get(&reader, "/v1/ledgers/acme/proofs/inclusion?seq=1")
        .await
        .assert_problem(403, "forbidden");
}

/// Only subtrees of 16 leaves or more are stored; the smaller ones are recomputed from
/// the events. Every tree size from 1 to ~80 gets a root, an inclusion proof and a
/// consistency proof that verify against the export, whatever mix of stored and
/// recomputed subtrees they need.
#[tokio::test]
async fn proofs_of_every_size_mix_stored_and_recomputed_subtrees() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "500.00").await;
    let spend = crate::helpers::entry(&[
        ("expenses:supplies", "EUR", "debit", "1.00"),
        ("assets:cash", "EUR", "credit", "1.00"),
    ]);
    for size in [3, 17, 40] {
        let batch = json!({"entries": vec![spend.clone(); size]});
        let r = app
            .post(&key, "/v1/ledgers/acme/transactions/batch", &batch)
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let (hashes, roots) = roots(&app, "acme").await;
    let n = hashes.len() as u64;
    let stored: i64 = app
        .db
        .owner()
        .await
        .query_one(
            "SELECT count(*) FROM merkle_nodes WHERE ledger_id = 'acme'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    // Perfect subtrees of level ≥ 4 among n leaves: Σ over levels of ⌊n / 2^level⌋.
    let expected: u64 = (4..64).map(|level| n >> level).sum();
    assert_eq!(stored as u64, expected, "{n} events");
    let auditor = app.key("acme", "auditor").await;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut pick = |below: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % below
    };
    for size in 1..=n {
        check_inclusion(&app, &auditor, (&hashes, &roots), 1 + pick(size), size).await;
        check_consistency(&app, &auditor, &roots, 1 + pick(size), size).await;
    }
}

#[tokio::test]
async fn checkpoints_are_signed_and_verify_with_the_published_key() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "100.00").await;
    let auditor = app.key("acme", "auditor").await;
    let published = app.get("", "/v1/keys/checkpoint").await;
    assert_eq!(published.status, 200, "{}", published.text);
    assert_eq!(published.body["algorithm"], "ed25519");
    let public: [u8; 32] = hex::decode(published.body["public_key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let public = ed25519_dalek::VerifyingKey::from_bytes(&public).unwrap();

    let r = app
        .post(&auditor, "/v1/ledgers/acme/checkpoints", &json!({}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let (hashes, roots) = roots(&app, "acme").await;
    let seq = r.body["seq"].as_u64().unwrap();
    assert_eq!(seq, hashes.len() as u64);
    assert_eq!(h(&r.body["hash"]), hashes[seq as usize - 1]);
    assert_eq!(h(&r.body["merkle_root"]), roots[seq as usize - 1]);
    let checkpoint = Checkpoint {
        ledger: LedgerId::parse("acme").unwrap(),
        seq,
        hash: h(&r.body["hash"]),
        merkle_root: h(&r.body["merkle_root"]),
        signed_at: r.body["signed_at"].as_str().unwrap().to_owned(),
    };
    let signature = r.body["signature"].as_str().unwrap();
    assert!(checkpoint.verify(signature, &public));
    let forged = Checkpoint {
        merkle_root: Hash::of(b"rewritten history"),
        ..checkpoint.clone()
    };
    assert!(!forged.verify(signature, &public));

    // Signing the same head again gives the same checkpoint; a new head a new one.
    let again = app
        .post(&auditor, "/v1/ledgers/acme/checkpoints", &json!({}))
        .await;
    assert_eq!(again.body, r.body);
    app.transfer(
        &key,
        "acme",
        "assets:cash",
        "expenses:supplies",
        "EUR",
        "1.00",
    )
    .await;
    let later = app
        .post(&auditor, "/v1/ledgers/acme/checkpoints", &json!({}))
        .await;
    assert_eq!(later.body["seq"], seq + 1);
    let list = app.get(&auditor, "/v1/ledgers/acme/checkpoints").await;
    let seqs: Vec<u64> = list.body["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["seq"].as_u64().unwrap())
        .filter(|s| *s >= seq)
        .collect();
    assert_eq!(seqs, [seq, seq + 1]);
    // The later tree extends the signed one.
    let r = app
        .get(
            &auditor,
            &format!(
                "/v1/ledgers/acme/proofs/consistency?from={seq}&to={}",
                seq + 1
            ),
        )
        .await;
    let proof = hs(&r.body["consistency_path"]);
    assert!(merkle::verify_consistency(
        seq,
        seq + 1,
        &checkpoint.merkle_root,
        &h(&later.body["merkle_root"]),
        &proof
    ));
    // The database refuses to change a checkpoint, even for the service.
    let client = app.db.owner().await;
    client
        .batch_execute("SET ROLE chainbook_app")
        .await
        .unwrap();
    let e = client
        .execute(
            "UPDATE checkpoints SET signature = 'x' WHERE ledger_id = 'acme'",
            &[],
        )
        .await
        .unwrap_err();
    let message = e
        .as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_default();
    assert!(message.contains("permission denied"), "{message}");
}

/// With a schedule, heads are signed without being asked once they move far enough.
#[tokio::test]
async fn heads_are_signed_on_a_schedule() {
    use chainbook::startup::{Application, Signing};
    let db = crate::helpers::TestDatabase::new().await;
    let mut signing = Signing::ephemeral();
    signing.schedule = Some(chainbook::signer::Schedule {
        every_events: 3,
        every_seconds: 3600,
    });
    let app = Application::build_with("127.0.0.1:0".parse().unwrap(), &db.url, 4, signing)
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let admin =
        chainbook::store::keys::create(&db.owner().await, None, chainbook::core::role::Role::Admin)
            .await
            .unwrap();
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    post(
        "/v1/ledgers",
        json!({"id": "acme", "name": "Acme", "base_currency": "EUR"}),
    )
    .await
    .unwrap();
    for i in 0..7 {
        post(
            "/v1/ledgers/acme/accounts",
            json!({"code": format!("assets:a{i}"), "type": "asset"}),
        )
        .await
        .unwrap();
    }
    // Seq 8 now; checkpoints follow within a few seconds, each ≥ 3 events apart.
    let mut seqs = Vec::new();
    for _ in 0..50 {
        let list: Value = http
            .get(format!("{base}/v1/ledgers/acme/checkpoints"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seqs = list["checkpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["seq"].as_u64().unwrap())
            .collect();
        if seqs.last() == Some(&8) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(seqs.last(), Some(&8), "{seqs:?}");
}

/// A log written before the tree existed (its nodes gone) gets its tree built on the
/// next write, and proofs hold across it.
#[tokio::test]
async fn a_log_without_its_tree_gets_one() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "100.00").await;
    for _ in 0..10 {
        app.transfer(
            &key,
            "acme",
            "assets:cash",
            "expenses:supplies",
            "EUR",
            "1.00",
        )
        .await;
    }
    let owner = app.db.owner().await;
    owner
        .batch_execute(
            "ALTER TABLE merkle_nodes DISABLE TRIGGER merkle_nodes_append_only; \
             DELETE FROM merkle_nodes; \
             ALTER TABLE merkle_nodes ENABLE TRIGGER merkle_nodes_append_only",
        )
        .await
        .unwrap();
    // A fresh process has no tree in memory: it rebuilds it from the log.
    let again = crate::helpers::spawn_app_on(crate::helpers::TestDatabase::reuse(&app.db)).await;
    let r = again
        .transfer(
            &key,
            "acme",
            "assets:cash",
            "expenses:supplies",
            "EUR",
            "1.00",
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let (hashes, roots) = roots(&again, "acme").await;
    let n = hashes.len() as u64;
    check_consistency(&again, &again.admin, &roots, 5, n).await;
}
