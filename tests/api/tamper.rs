use chainbook::core::hash::Hash;
use chainbook_audit::{FailureKind, VerifyOptions};

use crate::helpers::{funded_ledger, spawn_app, verify_text};

/// The service's own role cannot change the log: the database refuses, not the code.
#[tokio::test]
async fn the_service_role_cannot_update_delete_or_truncate_events() {
    let app = spawn_app().await;
    funded_ledger(&app, "acme", "100.00").await;
    let db = app.db.owner().await;
    db.batch_execute("SET ROLE chainbook_app").await.unwrap();
    for sql in [
        "UPDATE events SET canonical = canonical WHERE seq = 1",
        "DELETE FROM events WHERE seq = 6",
        "TRUNCATE events",
        "UPDATE ledgers SET name = 'x'",
        "DELETE FROM idempotency_keys",
    ] {
        let err = db.batch_execute(sql).await.unwrap_err();
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {err}"
        );
    }
    // Even the owner is stopped by the triggers unless it disables them first.
    db.batch_execute("RESET ROLE").await.unwrap();
    let err = db
        .batch_execute("DELETE FROM events WHERE seq = 6")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("append-only") || format!("{err:?}").contains("append-only"),
        "{err:?}"
    );
    assert_eq!(app.head_seq("acme").await, 6);
}

/// The owner rewrites an amount behind the service's back: the verifier names the seq.
#[tokio::test]
async fn a_changed_amount_is_caught_at_its_seq() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "100.00").await;
    app.transfer(
        &key,
        "acme",
        "assets:cash",
        "expenses:supplies",
        "EUR",
        "10.00",
    )
    .await;
    app.transfer(
        &key,
        "acme",
        "assets:cash",
        "expenses:supplies",
        "EUR",
        "20.00",
    )
    .await;
    assert!(app.verify("acme").await.ok());

    let db = app.db.owner().await;
    db.batch_execute(
        "ALTER TABLE events DISABLE TRIGGER USER;
         UPDATE events SET canonical = replace(canonical, '\"10.00\"', '\"1.00\"') WHERE ledger_id = 'acme' AND seq = 7;",
    )
    .await
    .unwrap();
    let report = app.verify("acme").await;
    let failure = report.failure.expect("tampering is caught");
    assert_eq!(failure.seq, 7);
    assert_eq!(failure.kind, FailureKind::HashMismatch);
}

/// Deleting the last event leaves a valid-looking shorter chain; the head the auditor
/// recorded earlier names the missing seq.
#[tokio::test]
async fn a_deleted_last_event_is_caught_against_a_recorded_head() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "100.00").await;
    app.transfer(
        &key,
        "acme",
        "assets:cash",
        "expenses:supplies",
        "EUR",
        "10.00",
    )
    .await;
    let head = app.get(&key, "/v1/ledgers/acme/chain/head").await;
    let recorded = (
        head.body["seq"].as_u64().unwrap(),
        head.body["hash"].as_str().unwrap().to_owned(),
    );
    assert_eq!(recorded.0, 7);

    let db = app.db.owner().await;
    db.batch_execute("ALTER TABLE events DISABLE TRIGGER USER; DELETE FROM events WHERE ledger_id = 'acme' AND seq = 7;")
        .await
        .unwrap();
    let export = app.export("acme").await;
    let report = verify_text(
        &export,
        VerifyOptions {
            expect_head: Some(recorded),
            ..Default::default()
        },
    );
    let failure = report.failure.expect("the deletion is caught");
    assert_eq!(failure.seq, 7);
    assert_eq!(failure.kind, FailureKind::MissingHead);
}

/// The database refuses an event that does not link to its predecessor, whoever
/// inserts it.
#[tokio::test]
async fn the_database_refuses_a_broken_link_or_a_wrong_hash() {
    let app = spawn_app().await;
    funded_ledger(&app, "acme", "100.00").await;
    let db = app.db.owner().await;
    let insert = "INSERT INTO events (ledger_id, seq, id, type, recorded_at, prev_hash, hash, canonical) \
                  VALUES ('acme', $1, gen_random_uuid(), 'x', now(), $2, encode(sha256('{}'::bytea), 'hex'), '{}')";
    let gap = db
        .execute(insert, &[&8i64, &"0".repeat(64)])
        .await
        .unwrap_err();
    assert!(format!("{gap:?}").contains("does not link"), "{gap:?}");
    let bad_link = db
        .execute(insert, &[&7i64, &"0".repeat(64)])
        .await
        .unwrap_err();
    assert!(
        format!("{bad_link:?}").contains("does not link"),
        "{bad_link:?}"
    );
    let head: String = db
        .query_one(
            "SELECT hash FROM events WHERE ledger_id = 'acme' AND seq = 6",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    // An event that links but whose hash is not the SHA-256 of its canonical text: the
    // first of a statement's events (of each run of linked ones) is checked.
    let wrong_hash = db
        .execute(
            "INSERT INTO events (ledger_id, seq, id, type, recorded_at, prev_hash, hash, canonical) \
             VALUES ('acme', 7, gen_random_uuid(), 'x', now(), $1, $2, '{}')",
            &[&head, &"0".repeat(64)],
        )
        .await
        .unwrap_err();
    assert!(
        format!("{wrong_hash:?}").contains("is not the SHA-256 of its canonical text"),
        "{wrong_hash:?}"
    );
    // A prev_hash that is not the head's hash exactly (here not even 64 lowercase hex
    // digits) does not link.
    for bad in [
        "0".repeat(63),
        "0".repeat(65),
        "A".repeat(64),
        head.to_uppercase(),
        format!("{head}\n"),
        format!("{}g", "0".repeat(63)),
    ] {
        let refused = db.execute(insert, &[&7i64, &bad]).await.unwrap_err();
        assert!(
            format!("{refused:?}").contains("does not link"),
            "{bad:?}: {refused:?}"
        );
    }
    // Several events in one statement: each must follow the one before it, and the
    // first must follow the stored head.
    let two = "INSERT INTO events (ledger_id, seq, id, type, recorded_at, prev_hash, hash, canonical) \
               SELECT 'acme', s, gen_random_uuid(), 'x', now(), p, encode(sha256(convert_to(c, 'UTF8')), 'hex'), c \
               FROM (VALUES (7::int8, $1::text, '{\"a\":1}'), ($2::int8, $3::text, '{\"a\":2}')) AS v(s, p, c)";
    let first = Hash::of(br#"{"a":1}"#).to_hex();
    let zeros = "0".repeat(64);
    for (second_seq, second_prev, why) in [
        (9i64, first.as_str(), "a gap inside the statement"),
        (8, zeros.as_str(), "a broken link inside the statement"),
    ] {
        let refused = db
            .execute(two, &[&head, &second_seq, &second_prev])
            .await
            .unwrap_err();
        assert!(
            format!("{refused:?}").contains("does not link"),
            "{why}: {refused:?}"
        );
    }
    let refused = db.execute(two, &[&zeros, &8i64, &first]).await.unwrap_err();
    assert!(
        format!("{refused:?}").contains("does not link"),
        "{refused:?}"
    );
    // And two events that do link are taken.
    assert_eq!(db.execute(two, &[&head, &8i64, &first]).await.unwrap(), 2);
    // In either order: a statement's rows are checked in the order they come, and a
    // row that does not follow the one before it is looked up among the stored ones,
    // this statement's included.
    let reversed = "INSERT INTO events (ledger_id, seq, id, type, recorded_at, prev_hash, hash, canonical) \
                    SELECT 'acme', s, gen_random_uuid(), 'x', now(), p, encode(sha256(convert_to(c, 'UTF8')), 'hex'), c \
                    FROM (VALUES (10::int8, $1::text, '{\"a\":4}'), (9::int8, $2::text, '{\"a\":3}')) AS v(s, p, c)";
    let eighth = Hash::of(br#"{"a":2}"#).to_hex();
    let ninth = Hash::of(br#"{"a":3}"#).to_hex();
    let refused = db.execute(reversed, &[&ninth, &zeros]).await.unwrap_err();
    assert!(
        format!("{refused:?}").contains("does not link"),
        "a broken link out of order: {refused:?}"
    );
    assert_eq!(db.execute(reversed, &[&ninth, &eighth]).await.unwrap(), 2);
}
