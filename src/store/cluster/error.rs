//! What can go wrong starting a cluster, worded so a person can act on it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres; version 15 or later) were not found \
         on PATH, in `pg_config --bindir`, or under /usr/lib/postgresql/*/bin. Install them \
         (Debian/Ubuntu: `apt-get install postgresql`; Fedora: `dnf install postgresql-server`; \
         macOS: `brew install postgresql@16`), or set DATABASE_URL to use an existing server"
    )]
    BinariesNotFound,
    #[error("running as root, PostgreSQL needs an unprivileged account to run as; `{0}` does not exist (set CHAINBOOK_PG_USER)")]
    NoUnprivilegedUser(String),
    #[error("the account `{user}` that runs PostgreSQL cannot enter {folder}; allow it (chmod o+x) or choose another --data-dir")]
    NotTraversable { user: String, folder: PathBuf },
    #[error("the socket path {0} is longer than 107 bytes; choose a shorter --data-dir")]
    SocketPathTooLong(PathBuf),
    #[error("{action}: {source}")]
    Io {
        action: String,
        source: std::io::Error,
    },
    #[error("{program} failed ({status}): {output}")]
    Command {
        program: String,
        status: String,
        output: String,
    },
    #[error("PostgreSQL did not accept connections within {seconds} s; its log ends with:\n{log}")]
    StartTimeout { seconds: u64, log: String },
}

pub(super) fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let action = action.into();
    move |source| ClusterError::Io { action, source }
}
