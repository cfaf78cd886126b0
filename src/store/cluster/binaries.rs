//! Finding the server binaries, and the account they run as.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::unistd::{Uid, User};

use super::error::{io, ClusterError};

/// Where the server binaries are.
#[derive(Debug, Clone)]
pub struct PgBinaries {
    pub bin_dir: PathBuf,
}

impl PgBinaries {
    /// PATH first, then `pg_config --bindir`, then the newest `/usr/lib/postgresql/*/bin`.
    pub fn locate() -> Result<Self, ClusterError> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let from_path = std::env::split_paths(&path)
            .map(|dir| dir.join("initdb"))
            .find(|p| p.is_file());
        let from_path = from_path
            .and_then(|p| std::fs::canonicalize(p).ok())
            .and_then(|p| p.parent().map(Path::to_path_buf));
        let from_pg_config = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
        let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
            .collect();
        versioned.sort();
        let candidates = from_path
            .into_iter()
            .chain(from_pg_config)
            .chain(versioned.into_iter().rev().map(|(_, p)| p));
        Self::first_complete(candidates)
    }

    pub(super) fn first_complete(
        candidates: impl IntoIterator<Item = PathBuf>,
    ) -> Result<Self, ClusterError> {
        candidates
            .into_iter()
            .find(|dir| {
                ["initdb", "pg_ctl", "postgres"]
                    .iter()
                    .all(|b| dir.join(b).is_file())
            })
            .map(|bin_dir| Self { bin_dir })
            .ok_or(ClusterError::BinariesNotFound)
    }

    pub(super) fn command(&self, program: &str, run_as: Option<&User>) -> Command {
        let mut command = Command::new(self.bin_dir.join(program));
        command
            .env("LC_ALL", "C")
            .env_remove("PGDATA")
            .env_remove("PGHOST")
            .env_remove("PGPORT");
        if let Some(user) = run_as {
            command
                .uid(user.uid.as_raw())
                .gid(user.gid.as_raw())
                .env("HOME", &user.dir);
        }
        command
    }
}

/// The account PostgreSQL runs as: none when we are not root.
pub(super) fn unprivileged_user() -> Result<Option<User>, ClusterError> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    let name = std::env::var("CHAINBOOK_PG_USER").unwrap_or_else(|_| "postgres".into());
    match User::from_name(&name) {
        Ok(Some(user)) if !user.uid.is_root() => Ok(Some(user)),
        _ => Err(ClusterError::NoUnprivilegedUser(name)),
    }
}

pub(super) fn run(mut command: Command, program: &str) -> Result<(), ClusterError> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(io(format!("running {program}")))?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Err(ClusterError::Command {
        program: program.into(),
        status: output.status.to_string(),
        output: text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_server_binaries_the_error_says_what_to_install() {
        let empty = tempfile::tempdir().unwrap();
        let err = PgBinaries::first_complete([empty.path().to_path_buf()]).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("apt-get install postgresql"), "{message}");
        assert!(message.contains("DATABASE_URL"), "{message}");
    }
}
