//! PostgreSQL clusters the service owns: the embedded one under the data folder (kept
//! across restarts, stopped with the service) and throwaway ones for tests (dying with
//! the test process).
//!
//! PostgreSQL refuses to run as root. Started as root, we run `initdb`, `pg_ctl` and
//! `postgres` as an unprivileged account (`postgres`, or `CHAINBOOK_PG_USER`) and give
//! it the cluster's folders. Clusters listen only on a unix socket in a private folder,
//! never on TCP, so they cannot clash with another server on the machine.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::unistd::{Gid, Uid, User};

/// The superuser `initdb` creates; it owns the databases.
pub const SUPERUSER: &str = "chainbook";
const PORT: u16 = 5432;
/// Longest unix socket path the kernel accepts (`sun_path` less its NUL).
const SOCKET_PATH_BYTES_MAX: usize = 107;
const START_TIMEOUT: Duration = Duration::from_secs(60);

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

fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let action = action.into();
    move |source| ClusterError::Io { action, source }
}

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

    fn first_complete(candidates: impl IntoIterator<Item = PathBuf>) -> Result<Self, ClusterError> {
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

    fn command(&self, program: &str, run_as: Option<&User>) -> Command {
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
fn unprivileged_user() -> Result<Option<User>, ClusterError> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    let name = std::env::var("CHAINBOOK_PG_USER").unwrap_or_else(|_| "postgres".into());
    match User::from_name(&name) {
        Ok(Some(user)) if !user.uid.is_root() => Ok(Some(user)),
        _ => Err(ClusterError::NoUnprivilegedUser(name)),
    }
}

/// The folders of one cluster.
#[derive(Debug, Clone)]
struct Layout {
    pgdata: PathBuf,
    socket_dir: PathBuf,
    log: PathBuf,
}

impl Layout {
    fn new(root: &Path) -> Result<Self, ClusterError> {
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

    fn connection_url(&self, dbname: &str) -> String {
        format!(
            "host={} port={PORT} user={SUPERUSER} dbname={dbname}",
            self.socket_dir.display()
        )
    }

    /// Creates the folders, hands them to `user`, and runs initdb if needed.
    fn prepare(&self, binaries: &PgBinaries, user: Option<&User>) -> Result<(), ClusterError> {
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
    fn server_settings(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
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

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Waits until the server answers `pg_isready` on its socket, giving up early if
    /// `alive` says the server is gone.
    fn wait_ready(
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

fn run(mut command: Command, program: &str) -> Result<(), ClusterError> {
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

fn absolute(dir: &Path) -> Result<PathBuf, ClusterError> {
    std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    std::fs::canonicalize(dir).map_err(io(format!("resolving {}", dir.display())))
}

/// The service's own cluster under `<data_dir>/pg`, socket in `<data_dir>/run`.
pub struct EmbeddedCluster {
    binaries: PgBinaries,
    layout: Layout,
    user: Option<User>,
    /// Whether this process started the server (and so stops it).
    started: bool,
}

impl EmbeddedCluster {
    /// Creates the cluster on first use, starts it unless it already runs, and waits
    /// until it accepts connections.
    pub fn start(data_dir: &Path) -> Result<Self, ClusterError> {
        let binaries = PgBinaries::locate()?;
        let root = absolute(data_dir)?;
        let user = unprivileged_user()?;
        if user.is_some() {
            // The account that runs PostgreSQL must pass through the data folder.
            let mode = std::fs::metadata(&root)
                .map_err(io("stat data dir"))?
                .permissions()
                .mode();
            std::fs::set_permissions(&root, std::fs::Permissions::from_mode(mode | 0o711))
                .map_err(io("chmod data dir"))?;
        }
        let layout = Layout::new(&root)?;
        layout.prepare(&binaries, user.as_ref())?;
        let mut cluster = Self {
            binaries,
            layout,
            user,
            started: false,
        };
        if !cluster.running() {
            cluster.pg_ctl_start()?;
            cluster.started = true;
        }
        cluster.layout.wait_ready(&cluster.binaries, || true)?;
        Ok(cluster)
    }

    fn running(&self) -> bool {
        let mut status = self.binaries.command("pg_ctl", self.user.as_ref());
        status
            .arg("status")
            .arg("-D")
            .arg(&self.layout.pgdata)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        status.status().is_ok_and(|s| s.success())
    }

    fn pg_ctl_start(&self) -> Result<(), ClusterError> {
        let settings = self
            .layout
            .server_settings(&[("max_connections", "200"), ("shared_buffers", "256MB")]);
        // pg_ctl hands -o to a shell: quote each value.
        let options: Vec<String> = settings
            .iter()
            .map(|(k, v)| format!("-c {k}='{v}'"))
            .collect();
        let mut start = self.binaries.command("pg_ctl", self.user.as_ref());
        start
            .arg("start")
            .arg("-w")
            .arg("-t")
            .arg("60")
            .arg("-D")
            .arg(&self.layout.pgdata);
        start
            .arg("-l")
            .arg(&self.layout.log)
            .arg("-o")
            .arg(options.join(" "));
        run(start, "pg_ctl start").map_err(|e| match e {
            ClusterError::Command {
                program,
                status,
                output,
            } => ClusterError::Command {
                program,
                status,
                output: format!("{output}\n{}", self.layout.log_tail()),
            },
            other => other,
        })
    }

    pub fn connection_url(&self, dbname: &str) -> String {
        self.layout.connection_url(dbname)
    }

    pub fn socket_dir(&self) -> &Path {
        &self.layout.socket_dir
    }

    /// Stops the server (fast shutdown) if this process started it.
    pub fn stop(&mut self) -> Result<(), ClusterError> {
        if !std::mem::take(&mut self.started) {
            return Ok(());
        }
        let mut stop = self.binaries.command("pg_ctl", self.user.as_ref());
        stop.arg("stop")
            .arg("-w")
            .args(["-m", "fast"])
            .arg("-D")
            .arg(&self.layout.pgdata);
        run(stop, "pg_ctl stop")
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(error = %e, "stopping the embedded cluster");
        }
    }
}

/// A throwaway cluster for tests, in a temp folder named after our pid. The server is
/// a direct child with PR_SET_PDEATHSIG, so it dies with the test process however
/// that ends; folders of dead earlier runs are removed on the next start.
pub struct EphemeralCluster {
    layout: Layout,
    root: PathBuf,
    pid: u32,
}

impl EphemeralCluster {
    pub fn start() -> Result<Self, ClusterError> {
        remove_stale_runs();
        let binaries = PgBinaries::locate()?;
        let user = unprivileged_user()?;
        let root = std::env::temp_dir().join(format!(
            "chainbook-test-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&root).map_err(io("creating the test cluster folder"))?;
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o711))
            .map_err(io("chmod"))?;
        let layout = Layout::new(&root)?;
        layout.prepare(&binaries, user.as_ref())?;
        let settings = layout.server_settings(&[
            ("max_connections", "300"),
            ("fsync", "off"),
            ("synchronous_commit", "off"),
            ("full_page_writes", "off"),
        ]);
        let mut postgres = binaries.command("postgres", user.as_ref());
        postgres.arg("-D").arg(&layout.pgdata);
        for (k, v) in &settings {
            postgres.arg("-c").arg(format!("{k}={v}"));
        }
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(&layout.log)
            .map_err(io("opening the server log"))?;
        postgres
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io("log"))?)
            .stderr(log);
        let (pid, exited) = spawn_tied_to_process(postgres)?;
        let cluster = Self { layout, root, pid };
        cluster
            .layout
            .wait_ready(&binaries, || !exited.load(Ordering::SeqCst))?;
        Ok(cluster)
    }

    pub fn connection_url(&self, dbname: &str) -> String {
        self.layout.connection_url(dbname)
    }

    pub fn socket_dir(&self) -> &Path {
        &self.layout.socket_dir
    }
}

impl Drop for EphemeralCluster {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.pid as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGQUIT);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Spawns `command` from a thread that lives as long as the server, with the parent
/// death signal set: the kernel sends it when the spawning *thread* ends, so it must not
/// be a test's thread. Returns the server's pid.
fn spawn_tied_to_process(mut command: Command) -> Result<(u32, Arc<AtomicBool>), ClusterError> {
    // SAFETY: prctl is async-signal-safe; the closure allocates nothing.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (sender, receiver) = std::sync::mpsc::channel();
    let exited = Arc::new(AtomicBool::new(false));
    let exited_flag = exited.clone();
    std::thread::Builder::new()
        .name("test-postgres".into())
        .spawn(move || {
            let spawned = command.spawn();
            let mut child = match spawned {
                Ok(child) => {
                    let _ = sender.send(Ok(child.id()));
                    child
                }
                Err(e) => {
                    let _ = sender.send(Err(e));
                    return;
                }
            };
            // Reap the server if it exits; otherwise this thread lives on.
            let _ = child.wait();
            exited_flag.store(true, Ordering::SeqCst);
        })
        .map_err(io("spawning the cluster thread"))?;
    let pid = receiver
        .recv()
        .expect("the spawn thread answers")
        .map_err(io("starting postgres"))?;
    Ok((pid, exited))
}

fn remove_stale_runs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("chainbook-test-"))
            .and_then(|r| r.split('-').next())
        else {
            continue;
        };
        let alive = pid
            .parse::<i32>()
            .is_ok_and(|p| nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_ok());
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
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
