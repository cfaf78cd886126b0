//! PostgreSQL clusters the service owns: the embedded one under the data folder (kept
//! across restarts, stopped with the service) and throwaway ones for tests (dying with
//! the test process).
//!
//! PostgreSQL refuses to run as root. Started as root, we run `initdb`, `pg_ctl` and
//! `postgres` as an unprivileged account (`postgres`, or `CHAINBOOK_PG_USER`) and give
//! it the cluster's folders. Clusters listen only on a unix socket in a private folder,
//! never on TCP, so they cannot clash with another server on the machine.
mod binaries;
mod embedded;
mod ephemeral;
mod error;
mod layout;

pub use binaries::PgBinaries;
pub use embedded::EmbeddedCluster;
pub use ephemeral::EphemeralCluster;
pub use error::ClusterError;
pub use layout::SUPERUSER;
