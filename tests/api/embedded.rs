//! `chainbook serve` with no DATABASE_URL: its own cluster under the data folder, run
//! as an unprivileged account when started as root, kept across restarts.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

use serde_json::json;

use crate::helpers::reply;
use crate::processes::Service;

fn traversable_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    // PostgreSQL runs as another account when we are root; it must reach the folder.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[tokio::test]
async fn the_embedded_cluster_starts_persists_and_stops_with_the_service() {
    let dir = traversable_tempdir();
    let data = dir.path().join("data");
    let http = reqwest::Client::new();

    let mut service = Service::start(None, &data);
    let key_path = data.join("admin.key");
    let admin = std::fs::read_to_string(&key_path)
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(
        std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    if nix::unistd::geteuid().is_root() {
        let owner = std::fs::metadata(data.join("pg")).unwrap().uid();
        assert_ne!(
            owner, 0,
            "as root, the cluster belongs to an unprivileged account"
        );
    }
    let created = http
        .post(format!("{}/v1/ledgers", service.address))
        .bearer_auth(&admin)
        .json(&json!({"id": "acme", "name": "Acme", "base_currency": "EUR"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    // The CLI creates keys against the running cluster.
    let output = Command::new(env!("CARGO_BIN_EXE_chainbook"))
        .args([
            "keys",
            "create",
            "--ledger",
            "acme",
            "--role",
            "reader",
            "--data-dir",
        ])
        .arg(&data)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reader = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let head = reply(
        http.get(format!("{}/v1/ledgers/acme/chain/head", service.address))
            .bearer_auth(&reader)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(head.status, 200, "{}", head.text);

    // SIGTERM: the service stops and takes its cluster down with it.
    let status = service.stop().expect("the service exits on SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(
        !data.join("pg/postmaster.pid").exists(),
        "the cluster was stopped"
    );

    // A restart reuses the cluster and its data.
    let mut again = Service::start(None, &data);
    let head = reply(
        http.get(format!("{}/v1/ledgers/acme/chain/head", again.address))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(head.body["seq"], 1, "{}", head.text);
    assert!(again.stop().expect("clean exit").success());
    assert!(!data.join("pg/postmaster.pid").exists());
}
