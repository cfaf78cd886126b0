//! Hostile input, driven by the service's own OpenAPI document: every operation it
//! publishes gets generated bad inputs (path segments, query values, headers and
//! bodies built from the operation's declared parameters and body properties, filled
//! with wrong types, extreme numbers, long and odd strings, deep nesting and bytes
//! that are not JSON at all). Whatever comes in: no 5xx, no dropped connection (a
//! panic), every refusal is problem+json, and nothing is appended by a refused request.
//!
//! The inputs come from proptest strategies under a fixed seed (reproducible in CI);
//! `HOSTILE_SEED=<n>` tries another corner of the space and `HOSTILE_CASES=<n>` sets
//! the cases per operation.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Map, Value};

use crate::helpers::{spawn_app, TestApp};

/// A ledger that exists, so that operations on `{ledger}` reach their validation.
const PROBE: &str = "probe";

/// Strings that parsers tend to trip on.
const ODD_STRINGS: &[&str] = &[
    "",
    " ",
    "0",
    "-1",
    "1e400",
    "-0.00",
    "0.0000000000001",
    "99999999999999999999.99",
    "1.005",
    "NaN",
    "null",
    "true",
    "../../etc/passwd",
    "a\u{0}b",
    "\u{202e}abc",
    "😀",
    "EUR",
    "XYZ",
    "assets:cash",
    "assets::cash",
    "income:sales",
    "probe",
    "2026-02-30",
    "2026-11-24",
    "2026-11-24T10:00:00Z",
    "0195e6f2-7b40-7a31-9c1e-000000000001",
    "1.00",
    "10",
    "online",
    "berlin",
    "MUG",
];

/// Path segments: the probe ledger most of the time, else trouble.
const ODD_SEGMENTS: &[&str] = &[
    PROBE,
    PROBE,
    PROBE,
    "nope",
    "PROBE",
    "%00",
    "%2e%2e",
    "%F0%9F%98%80",
    "%FF",
    "assets:cash",
    "0195e6f2-7b40-7a31-9c1e-000000000001",
    "-1",
    "99999999999999999999",
    "a%20b",
];

fn odd_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(ODD_STRINGS).prop_map(str::to_owned),
        1 => "\\PC{0,24}",
        1 => (1usize..3).prop_map(|k| "x".repeat(k * 1_000 + 1)),
    ]
}

/// Any JSON value, leaning towards the odd ones.
fn hostile_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        prop::sample::select(vec![0.5, -1.5, 1e300, -0.0, 1e-300]).prop_map(|f| json!(f)),
        odd_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(odd_string(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Bytes that are not a JSON document at all, or one no parser should accept.
fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        Just(b"{\"postings\": [".to_vec()),
        Just(b"\xef\xbb\xbf{}".to_vec()),
        Just(b"{\"a\": 1e400}".to_vec()),
        Just(b"{\"description\": \"\xff\xfe\"}".to_vec()),
        Just(b"{\"a\":1,\"a\":2}".to_vec()),
        (1usize..300).prop_map(|depth| {
            let mut text = "[".repeat(depth).into_bytes();
            text.extend(std::iter::repeat_n(b']', depth));
            text
        }),
        (1usize..300).prop_map(|depth| {
            let mut text = "{\"metadata\":".repeat(depth).into_bytes();
            text.extend(b"1");
            text.extend(std::iter::repeat_n(b'}', depth));
            text
        }),
    ]
}

/// A body built from the operation's declared properties: each one present or not,
/// and filled with a plausible or a hostile value.
fn body_from(properties: Vec<String>) -> impl Strategy<Value = Value> {
    let n = properties.len();
    (
        prop::collection::vec(
            (any::<bool>(), any::<bool>(), hostile_value(), odd_string()),
            n,
        ),
        prop::option::of((odd_string(), hostile_value())),
    )
        .prop_map(move |(choices, extra)| {
            let mut body = Map::new();
            for (name, (present, plain, value, text)) in properties.iter().zip(choices) {
                if present {
                    let value = if plain { Value::String(text) } else { value };
                    body.insert(name.clone(), value);
                }
            }
            if let Some((name, value)) = extra {
                body.insert(name, value);
            }
            Value::Object(body)
        })
}

/// One generated request.
#[derive(Debug, Clone)]
struct Attempt {
    path: String,
    query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    idempotency_key: Option<String>,
    authorised: bool,
}

/// An operation of the OpenAPI document, with what it declares.
#[derive(Debug, Clone)]
struct Operation {
    method: reqwest::Method,
    template: String,
    query: Vec<String>,
    properties: Vec<String>,
    has_body: bool,
}

fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &document["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// Top-level property names of a body schema (through `$ref`, `allOf` and the item
/// schema of an array of objects).
fn properties(document: &Value, schema: &Value) -> Vec<String> {
    let schema = resolve(document, schema);
    let mut names: Vec<String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        names.extend(properties(document, part));
    }
    if schema["type"] == "array" {
        names.extend(properties(document, &schema["items"]));
    }
    names
}

fn operations(document: &Value) -> Vec<Operation> {
    let mut found = Vec::new();
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<reqwest::Method>() else {
                continue;
            };
            let query = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect();
            let body = &operation["requestBody"]["content"]["application/json"]["schema"];
            found.push(Operation {
                method,
                template: template.clone(),
                query,
                properties: properties(document, body),
                has_body: !body.is_null(),
            });
        }
    }
    found
}

fn attempt(operation: &Operation) -> impl Strategy<Value = Attempt> {
    let segments = operation.template.matches('{').count();
    let template = operation.template.clone();
    let query_names = operation.query.clone();
    let body = if operation.has_body || operation.method == reqwest::Method::POST {
        prop_oneof![
            6 => body_from(operation.properties.clone())
                .prop_map(|v| Some(serde_json::to_vec(&v).unwrap())),
            2 => hostile_value().prop_map(|v| Some(serde_json::to_vec(&v).unwrap())),
            2 => hostile_bytes().prop_map(Some),
            1 => Just(None),
        ]
        .boxed()
    } else {
        Just(None).boxed()
    };
    (
        prop::collection::vec(prop::sample::select(ODD_SEGMENTS), segments),
        prop::collection::vec(prop::option::of(odd_string()), query_names.len()),
        body,
        prop::option::of(prop_oneof![
            Just("k".repeat(201)),
            Just(String::new()),
            "[ -~]{1,20}",
        ]),
        prop::bool::weighted(0.9),
    )
        .prop_map(
            move |(segments, values, body, idempotency_key, authorised)| {
                let mut path = String::new();
                let mut rest = template.as_str();
                for segment in segments {
                    let open = rest.find('{').unwrap();
                    let close = rest.find('}').unwrap();
                    path.push_str(&rest[..open]);
                    path.push_str(segment);
                    rest = &rest[close + 1..];
                }
                path.push_str(rest);
                let query = query_names
                    .iter()
                    .zip(values)
                    .filter_map(|(name, value)| value.map(|v| (name.clone(), v)))
                    .collect();
                Attempt {
                    path,
                    query,
                    body,
                    idempotency_key,
                    authorised,
                }
            },
        )
}

/// The app with the probe ledger, its cash account (EUR) and a sales account.
async fn probe_app() -> TestApp {
    let app = spawn_app().await;
    let key = app.ledger(PROBE).await;
    let cash = json!({"currency": "EUR"});
    app.open(&key, PROBE, "assets:cash", "asset", cash).await;
    app.open(&key, PROBE, "income:sales", "income", json!({}))
        .await;
    app
}

async fn events_in_the_log(app: &TestApp) -> i64 {
    app.db
        .owner()
        .await
        .query_one("SELECT count(*) FROM events", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn the_whole_openapi_surface_survives_generated_bad_input() {
    let app = probe_app().await;
    let document = app.get(&app.admin, "/openapi.json").await.body;
    let operations = operations(&document);
    assert!(operations.len() >= 40, "{} operations", operations.len());

    let seed: u64 = std::env::var("HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261201);
    let cases: usize = std::env::var("HOSTILE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    );

    let (mut sent, mut refused) = (0usize, 0usize);
    for operation in &operations {
        let strategy = attempt(operation);
        for _ in 0..cases {
            let attempt = strategy.new_tree(&mut runner).unwrap().current();
            let before = events_in_the_log(&app).await;
            let mut request = app
                .http
                .request(
                    operation.method.clone(),
                    format!("{}{}", app.address, attempt.path),
                )
                .query(&attempt.query);
            if attempt.authorised {
                request = request.bearer_auth(&app.admin);
            }
            if let Some(key) = &attempt.idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            if let Some(body) = &attempt.body {
                request = request
                    .header("content-type", "application/json")
                    .body(body.clone());
            }
            let context = || {
                format!(
                    "{} {} {:?} body {:?} (seed {seed})",
                    operation.method,
                    attempt.path,
                    attempt.query,
                    attempt
                        .body
                        .as_ref()
                        .map(|b| String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned())
                )
            };
            let response = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("no answer ({e}) to {}", context()));
            let status = response.status();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap_or("").to_owned())
                .unwrap_or_default();
            let text = response
                .text()
                .await
                .unwrap_or_else(|e| panic!("answer cut off ({e}) for {}", context()));
            sent += 1;
            assert!(
                !status.is_server_error(),
                "{status} {text} for {}",
                context()
            );
            if status.is_client_error() {
                refused += 1;
                assert_eq!(
                    content_type,
                    "application/problem+json",
                    "{status} {text} for {}",
                    context()
                );
                let problem: Value = serde_json::from_str(&text).unwrap();
                assert!(
                    problem["type"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("urn:chainbook:problem:")),
                    "{text}"
                );
                assert_eq!(problem["status"], status.as_u16(), "{text}");
                assert_eq!(
                    events_in_the_log(&app).await,
                    before,
                    "a refused request appended to the log: {status} {text} for {}",
                    context()
                );
            }
        }
    }
    eprintln!(
        "{sent} generated requests over {} operations, {refused} refused, seed {seed}",
        operations.len()
    );
    // Most of them are refused, and the service is still there.
    assert!(refused * 10 >= sent * 8, "{refused} of {sent} refused");
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// A NUL character is valid UTF-8 and valid JSON (`\u0000`) but PostgreSQL text cannot
/// hold it: where it would reach the database raw (a path or query value) the answer
/// is a 4xx, never a 500; inside an event it is just an escaped character of the
/// canonical JSON, and the chain still verifies.
#[tokio::test]
async fn a_nul_character_is_the_callers_error_wherever_it_comes_in() {
    let app = probe_app().await;
    app.get(&app.admin, "/v1/ledgers/probe/inventory?sku=a%00b")
        .await
        .assert_problem(422, "invalid-request");
    assert_eq!(
        app.get(&app.admin, "/v1/ledgers/probe/accounts/a%00b")
            .await
            .status,
        404
    );
    let mut body = crate::helpers::entry(&[
        ("assets:cash", "EUR", "debit", "1.00"),
        ("assets:cash", "EUR", "credit", "1.00"),
    ]);
    body["description"] = json!("a\u{0}b");
    let r = app
        .post(&app.admin, "/v1/ledgers/probe/transactions", &body)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["data"]["description"], "a\u{0}b");
    assert!(app.verify(PROBE).await.ok());
}
