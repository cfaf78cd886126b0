use serde_json::{json, Value};

use crate::helpers::{entry, funded_ledger, spawn_app};

#[tokio::test]
async fn a_balanced_entry_is_appended_and_moves_balances() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "200.00").await;
    let r = app
        .transfer(
            &key,
            "acme",
            "assets:cash",
            "expenses:supplies",
            "EUR",
            "12.5",
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["type"], "transaction.posted");
    assert_eq!(r.body["seq"], 7);
    // Amounts are rendered at the currency's scale.
    assert_eq!(
        r.body["postings"][0],
        json!({"account": "expenses:supplies", "currency": "EUR", "debit": "12.50"})
    );
    assert_eq!(
        r.body["postings"][1],
        json!({"account": "assets:cash", "credit": "12.50", "currency": "EUR"})
    );
    assert_eq!(app.balance("acme", "assets:cash", "EUR").await, "187.50");
    assert_eq!(
        app.balance("acme", "expenses:supplies", "EUR").await,
        "12.50"
    );
    assert_eq!(app.balance("acme", "equity:capital", "EUR").await, "200.00");

    let balances = app.get(&key, "/v1/ledgers/acme/balances").await;
    assert_eq!(balances.status, 200);
    assert_eq!(balances.body["seq"], 7);
    assert_eq!(balances.body["hash"], r.body["hash"]);
    assert_eq!(balances.body["balances"].as_array().unwrap().len(), 3);
    assert!(app.verify("acme").await.ok());
}

#[tokio::test]
async fn zero_decimal_and_three_decimal_currencies_keep_their_scale() {
    let app = spawn_app().await;
    let key = app.ledger("acme").await;
    app.open(&key, "acme", "assets:cash", "asset", json!({}))
        .await;
    app.open(&key, "acme", "income:sales", "income", json!({}))
        .await;
    let r = app
        .post(
            &key,
            "/v1/ledgers/acme/transactions",
            &entry(&[
                ("assets:cash", "JPY", "debit", "500"),
                ("income:sales", "JPY", "credit", "500"),
                ("assets:cash", "BHD", "debit", "1.25"),
                ("income:sales", "BHD", "credit", "1.250"),
            ]),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["postings"][0]["debit"], "500");
    assert_eq!(r.body["postings"][2]["debit"], "1.250");
    assert_eq!(app.balance("acme", "income:sales", "BHD").await, "1.250");
}

/// Every refusal is problem+json with its stable type, and appends nothing.
#[tokio::test]
async fn bad_entries_are_refused_and_the_log_is_unchanged() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "100.00").await;
    let closed = app
        .open(&key, "acme", "assets:old", "asset", json!({}))
        .await;
    assert_eq!(closed.status, 201);
    assert_eq!(
        app.post(
            &key,
            "/v1/ledgers/acme/accounts/assets:old/close",
            &json!({})
        )
        .await
        .status,
        201
    );
    let head = app.head_seq("acme").await;

    let e = |a: &str, b: &str, cur: &str, amount: &str| {
        entry(&[(a, cur, "debit", amount), (b, cur, "credit", amount)])
    };
    let huge = "1000000000000000.00";
    let mut too_many: Vec<Value> = Vec::new();
    for _ in 0..51 {
        too_many.push(json!({"account": "assets:cash", "currency": "EUR", "debit": "1.00"}));
        too_many.push(json!({"account": "equity:capital", "currency": "EUR", "credit": "1.00"}));
    }
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            entry(&[
                ("assets:cash", "EUR", "debit", "10.00"),
                ("equity:capital", "EUR", "credit", "9.99"),
            ]),
            422,
            "unbalanced-entry",
        ),
        (
            e("assets:cash", "equity:capital", "USD", "1.00"),
            422,
            "currency-mismatch",
        ),
        (
            e("assets:nope", "equity:capital", "EUR", "1.00"),
            422,
            "account-not-found",
        ),
        (
            e("assets:old", "equity:capital", "EUR", "1.00"),
            422,
            "account-closed",
        ),
        (
            e("assets:cash", "equity:capital", "EUR", "1.001"),
            422,
            "amount-scale",
        ),
        (
            e("assets:cash", "equity:capital", "JPY", "1.5"),
            422,
            "amount-scale",
        ),
        (
            e("assets:cash", "equity:capital", "EUR", "0.00"),
            422,
            "invalid-amount",
        ),
        (
            e("assets:cash", "equity:capital", "EUR", "-5.00"),
            422,
            "invalid-amount",
        ),
        (
            e("assets:cash", "equity:capital", "EUR", huge),
            422,
            "invalid-amount",
        ),
        (
            e("assets:cash", "equity:capital", "EUR", "1e3"),
            422,
            "invalid-amount",
        ),
        (
            e("assets:cash", "equity:capital", "XXQ", "1.00"),
            422,
            "unknown-currency",
        ),
        (
            e("Assets:Cash", "equity:capital", "EUR", "1.00"),
            422,
            "invalid-account-code",
        ),
        (
            entry(&[("assets:cash", "EUR", "debit", "1.00")]),
            422,
            "too-few-postings",
        ),
        (json!({"postings": too_many}), 422, "too-many-postings"),
        (
            json!({"postings": [{"account": "assets:cash", "currency": "EUR", "debit": "1.00", "credit": "1.00"},
                             {"account": "equity:capital", "currency": "EUR", "credit": "1.00"}]}),
            422,
            "posting-side",
        ),
        (
            json!({"postings": [{"account": "assets:cash", "currency": "EUR", "debit": 1.0},
                             {"account": "equity:capital", "currency": "EUR", "credit": "1.00"}]}),
            422,
            "invalid-request",
        ),
        (
            json!({"postings": [], "surprise": true}),
            422,
            "invalid-request",
        ),
        (
            json!({"postings": [{"account": "equity:capital", "currency": "EUR", "debit": "1.00"},
                             {"account": "assets:cash", "currency": "EUR", "credit": "100.01"}, 
                             {"account": "equity:capital", "currency": "EUR", "debit": "99.01"}]}),
            409,
            "overdraft",
        ),
        (
            json!({"postings": [{"account": "assets:cash", "currency": "EUR", "debit": "1.00"},
                             {"account": "equity:capital", "currency": "EUR", "credit": "1.00"}],
                "effective_date": "2026-02-30"}),
            422,
            "invalid-field",
        ),
    ];
    for (body, status, slug) in cases {
        let r = app.post(&key, "/v1/ledgers/acme/transactions", &body).await;
        r.assert_problem(status, slug);
    }
    app.post_raw(&key, "/v1/ledgers/acme/transactions", "{\"postings\": [")
        .await
        .assert_problem(400, "malformed-json");
    app.post_raw(&key, "/v1/ledgers/acme/transactions", "not json")
        .await
        .assert_problem(400, "malformed-json");
    let deep = format!(
        "{{\"postings\": [], \"metadata\": {{\"a\": {}}}}}",
        "[".repeat(10_000)
    );
    app.post_raw(&key, "/v1/ledgers/acme/transactions", deep)
        .await
        .assert_problem(400, "malformed-json");
    let oversized = format!("{{\"description\": \"{}\"}}", "x".repeat(5 * 1024 * 1024));
    app.post_raw(&key, "/v1/ledgers/acme/transactions", oversized)
        .await
        .assert_problem(413, "payload-too-large");
    let long_description = json!({"postings": entry(&[("assets:cash", "EUR", "debit", "1.00"), ("equity:capital", "EUR", "credit", "1.00")])["postings"], "description": "d".repeat(1001)});
    app.post(&key, "/v1/ledgers/acme/transactions", &long_description)
        .await
        .assert_problem(422, "too-long");

    assert_eq!(
        app.head_seq("acme").await,
        head,
        "a refused request appended something"
    );
    assert_eq!(app.balance("acme", "assets:cash", "EUR").await, "100.00");
    // And the service keeps serving.
    assert_eq!(
        app.transfer(
            &key,
            "acme",
            "assets:cash",
            "expenses:supplies",
            "EUR",
            "1.00"
        )
        .await
        .status,
        201
    );
}

#[tokio::test]
async fn postings_per_entry_are_bounded_at_one_hundred() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "100.00").await;
    let mut postings = Vec::new();
    for _ in 0..50 {
        postings.push(json!({"account": "expenses:supplies", "currency": "EUR", "debit": "0.01"}));
        postings.push(json!({"account": "assets:cash", "currency": "EUR", "credit": "0.01"}));
    }
    let r = app
        .post(
            &key,
            "/v1/ledgers/acme/transactions",
            &json!({"postings": postings}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(app.balance("acme", "assets:cash", "EUR").await, "99.50");
}

#[tokio::test]
async fn a_reversal_mirrors_the_original_once() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "100.00").await;
    let original = app
        .transfer(
            &key,
            "acme",
            "assets:cash",
            "expenses:supplies",
            "EUR",
            "30.00",
        )
        .await;
    let id = original.body["id"].as_str().unwrap();
    let path = format!("/v1/ledgers/acme/transactions/{id}/reverse");
    let r = app
        .post(&key, &path, &json!({"description": "wrong supplier"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["type"], "transaction.reversed");
    assert_eq!(r.body["data"]["reverses"], id);
    assert_eq!(
        r.body["postings"][0],
        json!({"account": "expenses:supplies", "credit": "30.00", "currency": "EUR"})
    );
    assert_eq!(app.balance("acme", "assets:cash", "EUR").await, "100.00");
    app.post(&key, &path, &json!({}))
        .await
        .assert_problem(409, "already-reversed");
    let reversal_id = r.body["id"].as_str().unwrap();
    app.post(
        &key,
        &format!("/v1/ledgers/acme/transactions/{reversal_id}/reverse"),
        &json!({}),
    )
    .await
    .assert_problem(422, "not-reversible");
    let unknown = uuid::Uuid::new_v4();
    app.post(
        &key,
        &format!("/v1/ledgers/acme/transactions/{unknown}/reverse"),
        &json!({}),
    )
    .await
    .assert_problem(404, "transaction-not-found");
    assert!(app.verify("acme").await.ok());
}

/// An event's id carries its seq, and the event of an id is found by it; an id whose
/// seq names another event finds nothing. An event written before ids carried their
/// seq (a version-7 id, made here by the owner behind the service's back) is still
/// found, through the index of such ids.
#[tokio::test]
async fn the_event_of_an_id_is_found_whether_or_not_the_id_carries_its_seq() {
    let app = spawn_app().await;
    let key = funded_ledger(&app, "acme", "100.00").await;
    let mut posted = Vec::new();
    for amount in ["10.00", "20.00", "30.00"] {
        let r = app.pay_supplies(&key, "acme", amount).await;
        let id: uuid::Uuid = r.body["id"].as_str().unwrap().parse().unwrap();
        let seq = r.body["seq"].as_u64().unwrap();
        assert_eq!(chainbook::core::event_id::seq_of(id), Some(seq));
        posted.push((id, seq));
    }
    let reverse = |id: uuid::Uuid| format!("/v1/ledgers/acme/transactions/{id}/reverse");

    // The first by its own id.
    let (first, _) = posted[0];
    let r = app.post(&key, &reverse(first), &json!({})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["data"]["reverses"], first.to_string());

    // The second's id with the third's seq in it names no event.
    let (second, second_seq) = posted[1];
    let (_, third_seq) = posted[2];
    let forged =
        uuid::Uuid::from_u128(second.as_u128() - u128::from(second_seq) + u128::from(third_seq));
    assert_eq!(chainbook::core::event_id::seq_of(forged), Some(third_seq));
    app.post(&key, &reverse(forged), &json!({}))
        .await
        .assert_problem(404, "transaction-not-found");

    // The third, given a version-7 id as if written before ids carried their seq.
    let legacy = uuid::Uuid::now_v7();
    let db = app.db.owner().await;
    db.execute("ALTER TABLE events DISABLE TRIGGER events_append_only", &[])
        .await
        .unwrap();
    db.execute(
        "UPDATE events SET id = $1 WHERE ledger_id = 'acme' AND seq = $2",
        &[&legacy, &(third_seq as i64)],
    )
    .await
    .unwrap();
    db.execute("ALTER TABLE events ENABLE TRIGGER events_append_only", &[])
        .await
        .unwrap();
    let r = app.post(&key, &reverse(legacy), &json!({})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["data"]["reverses"], legacy.to_string());
    assert_eq!(app.balance("acme", "assets:cash", "EUR").await, "80.00");
    // Legacy ids stay unique in their ledger.
    db.execute("ALTER TABLE events DISABLE TRIGGER events_append_only", &[])
        .await
        .unwrap();
    let duplicate = db
        .execute(
            "UPDATE events SET id = $1 WHERE ledger_id = 'acme' AND seq = $2",
            &[&legacy, &(second_seq as i64)],
        )
        .await
        .unwrap_err();
    assert!(
        format!("{duplicate:?}").contains("events_by_legacy_id"),
        "{duplicate:?}"
    );
}
