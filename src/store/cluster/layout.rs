//! The folders of one cluster, preparing them, and waiting for the server.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::unistd::{Gid, Uid, User};

use super::binaries::{run, PgBinaries};
use super::error::{io, ClusterError};

/// The superuser `initdb` creates; it owns the databases.
pub const SUPERUSER: &str = "chainbook";
pub(super) const PORT: u16 = 5432;
/// Longest unix socket path the kernel accepts (`sun_path` less its NUL).
const SOCKET_PATH_BYTES_MAX: usize = 107;
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The folders of one cluster.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    pub(super) pgdata: PathBuf,
    pub(super) socket_dir: PathBuf,
    pub(super) log: PathBuf,
}

impl Layout {
    pub(super) fn new(root: &Path) -> Result<Self, ClusterError> {
        let layout = Self {
            pgdata: root.join("pg"),
            socket_dir: root.join("run"),
            log: root.join("pg.log"),
        };
        let socket = layout.socket_dir.join(format!(".s.PGSQL.{PORT}"));
        if socket.as_os_str().len() > SOCKET_PATH_BYTES_MAX {
            return Err(ClusterError::SocketPathTooLong(socket));
        }
        Ok(layout)
    }

    pub(super) fn connection_url(&self, dbname: &str) -> String {
        format!(
            "host={} port={PORT} user={SUPERUSER} dbname={dbname}",
            self.socket_dir.display()
        )
    }

    /// Creates the folders, hands them to `user`, and runs initdb if needed.
    pub(super) fn prepare(
        &self,
        binaries: &PgBinaries,
        user: Option<&User>,
    ) -> Result<(), ClusterError> {
        for dir in [&self.pgdata, &self.socket_dir] {
            std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io("chmod"))?;
        }
        if !self.log.exists() {
            std::fs::write(&self.log, b"").map_err(io("creating the server log"))?;
        }
        if let Some(user) = user {
            check_traversable(self.pgdata.parent().expect("pg has a parent"), user)?;
            for path in [&self.pgdata, &self.socket_dir, &self.log] {
                chown_tree(path, user.uid, user.gid)?;
            }
        }
        if self.pgdata.join("PG_VERSION").exists() {
            return Ok(());
        }
        let mut initdb = binaries.command("initdb", user);
        initdb.arg("-D").arg(&self.pgdata).args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
        ]);
        run(initdb, "initdb")
    }

    /// Server settings: unix socket only, in our private folder.
    pub(super) fn server_settings(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut settings = vec![
            ("listen_addresses".to_owned(), String::new()),
            (
                "unix_socket_directories".to_owned(),
                self.socket_dir.display().to_string(),
            ),
            ("port".to_owned(), PORT.to_string()),
        ];
        settings.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        settings
    }

    pub(super) fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Waits until the server answers `pg_isready` on its socket, giving up early if
    /// `alive` says the server is gone.
    pub(super) fn wait_ready(
        &self,
        binaries: &PgBinaries,
        alive: impl Fn() -> bool,
    ) -> Result<(), ClusterError> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline && alive() {
            let ready = Command::new(binaries.bin_dir.join("pg_isready"))
                .arg("-q")
                .arg("-h")
                .arg(&self.socket_dir)
                .args(["-p", &PORT.to_string(), "-U", SUPERUSER, "-d", "postgres"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(ClusterError::StartTimeout {
            seconds: START_TIMEOUT.as_secs(),
            log: self.log_tail(),
        })
    }
}

fn chown_tree(path: &Path, uid: Uid, gid: Gid) -> Result<(), ClusterError> {
    nix::unistd::chown(path, Some(uid), Some(gid))
        .map_err(|e| io(format!("chown {}", path.display()))(e.into()))?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path).map_err(io("listing the cluster folder"))? {
            let entry = entry.map_err(io("listing the cluster folder"))?;
            if !entry.file_type().map_err(io("stat"))?.is_symlink() {
                chown_tree(&entry.path(), uid, gid)?;
            }
        }
    }
    Ok(())
}

/// Every ancestor must let `user` pass (o+x), or PostgreSQL cannot reach its folder.
fn check_traversable(dir: &Path, user: &User) -> Result<(), ClusterError> {
    for folder in dir.ancestors() {
        let Ok(meta) = std::fs::metadata(folder) else {
            continue;
        };
        let mode = meta.permissions().mode();
        let owned = std::os::unix::fs::MetadataExt::uid(&meta) == user.uid.as_raw();
        if !(owned && mode & 0o100 != 0) && mode & 0o001 == 0 {
            return Err(ClusterError::NotTraversable {
                user: user.name.clone(),
                folder: folder.to_path_buf(),
            });
        }
    }
    Ok(())
}

pub(super) fn absolute(dir: &Path) -> Result<PathBuf, ClusterError> {
    std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    std::fs::canonicalize(dir).map_err(io(format!("resolving {}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_path_past_the_kernel_limit_is_refused() {
        let long = PathBuf::from("/").join("d".repeat(100));
        assert!(matches!(
            Layout::new(&long),
            Err(ClusterError::SocketPathTooLong(_))
        ));
        assert!(Layout::new(Path::new("/tmp/x")).is_ok());
    }
}
