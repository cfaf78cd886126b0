//! The container files, checked as far as this machine can without a container
//! runtime or an image registry: the image is built in two stages and runs as an
//! unprivileged user with a health check; compose runs PostgreSQL on a volume, with a
//! health check that chainbook waits for. The environment names the files use are the
//! service's own (a rename would leave the image configured by nothing).

const DOCKERFILE: &str = include_str!("../../docker/Dockerfile");
const COMPOSE: &str = include_str!("../../docker/compose.yaml");
const CONFIG: &str = include_str!("../../src/config.rs");

#[test]
fn the_image_is_multi_stage_unprivileged_and_health_checked() {
    let stages: Vec<&str> = DOCKERFILE
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert!(stages[0].contains(" AS build"), "{stages:?}");
    assert!(
        stages[1].contains("-slim"),
        "a small runtime base: {stages:?}"
    );
    let runtime = DOCKERFILE.split(stages[1]).nth(1).unwrap();
    assert!(runtime.contains("COPY --from=build"));
    let user = runtime
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the runtime stage names its user");
    assert!(!matches!(user.trim(), "root" | "0"), "{user}");
    assert!(runtime.contains("HEALTHCHECK") && runtime.contains("/readyz"));
    for name in ["CHAINBOOK_LISTEN", "CHAINBOOK_DATA_DIR"] {
        assert!(runtime.contains(name), "{name}");
        assert!(CONFIG.contains(&format!("env = \"{name}\"")), "{name}");
    }
}

#[test]
fn compose_runs_postgres_on_a_volume_and_chainbook_waits_for_its_health() {
    for needle in [
        "image: postgres:",
        "pgdata:/var/lib/postgresql/data",
        "pg_isready",
        "dockerfile: docker/Dockerfile",
        "DATABASE_URL: postgres://",
        "condition: service_healthy",
        "keys:/var/lib/chainbook",
    ] {
        assert!(COMPOSE.contains(needle), "compose.yaml lacks {needle:?}");
    }
    assert!(CONFIG.contains("env = \"DATABASE_URL\""));
}
