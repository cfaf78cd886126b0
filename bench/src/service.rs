//! Runs the chainbook release binary under test: a fresh data folder (so its own
//! embedded PostgreSQL cluster), a port picked by the kernel, and a clean stop.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// How long a SIGTERM may take before the service is killed outright.
const STOP_WAIT_SECONDS: u64 = 60;
/// How often `/readyz` is polled while the service starts.
const READY_POLL_MS: u64 = 100;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A running service. Dropping it does not stop it: call `stop`, which also removes
/// the folder, so that the embedded cluster is shut down before its files go.
pub struct Service {
    child: Child,
    root: PathBuf,
    pub base_url: String,
    pub admin_key: String,
}

impl Service {
    /// The folder handed to `--data-dir`; the cluster lives below it.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Where the service's stderr goes; printed in part when something fails.
    pub fn log_path(&self) -> PathBuf {
        self.root.join("service.log")
    }

    /// The service's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The embedded cluster's postmaster, found through its `postmaster.pid`.
    pub fn postmaster_pid(&self) -> Option<u32> {
        find_pid_files(&self.data_dir(), 3)
            .iter()
            .find_map(|file| read_postmaster_pid(file))
            .map(|pid| pid as u32)
    }

    /// libpq settings for the embedded cluster's socket, as the database owner.
    pub fn pg_config(&self) -> String {
        format!(
            "host={}/run port=5432 user=chainbook dbname=chainbook",
            self.data_dir().display()
        )
    }

    /// Starts the binary and waits until it says where it listens and `/readyz` is 200.
    pub async fn start(
        bin: &Path,
        pool_size: Option<usize>,
        timeout: Duration,
    ) -> Result<Self, BoxError> {
        let root = make_root()?;
        let started = spawn(bin, &root, pool_size);
        let mut child = match started {
            Ok(child) => child,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&root);
                return Err(format!("cannot run {}: {e}", bin.display()).into());
            }
        };
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut service = Self {
            child,
            root,
            base_url: String::new(),
            admin_key: String::new(),
        };
        let deadline = Instant::now() + timeout;
        match service
            .wait_until_ready(BufReader::new(stdout).lines(), deadline)
            .await
        {
            Ok(()) => Ok(service),
            Err(e) => {
                let log = service.log_tail();
                service.stop().await;
                Err(
                    format!("the service did not start: {e}\n--- service log (tail) ---\n{log}")
                        .into(),
                )
            }
        }
    }

    async fn wait_until_ready(
        &mut self,
        mut lines: Lines<BufReader<ChildStdout>>,
        deadline: Instant,
    ) -> Result<(), BoxError> {
        let mut key_path = None;
        while self.base_url.is_empty() || key_path.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = tokio::time::timeout(left, lines.next_line())
                .await
                .map_err(|_| "timed out reading its stdout")??;
            let line =
                line.ok_or("it closed stdout (exited?) before announcing its address and key")?;
            if let Some(url) = line.strip_prefix("chainbook listening on ") {
                self.base_url = url.trim().to_owned();
            } else if let Some(path) = line.strip_prefix("bootstrap admin key written to ") {
                key_path = Some(PathBuf::from(path.trim()));
            }
        }
        // Keep reading so a later print can never block the service on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let key_path = key_path.expect("loop ends only with a key path");
        self.admin_key = std::fs::read_to_string(&key_path)?.trim().to_owned();
        self.poll_ready(deadline).await
    }

    async fn poll_ready(&self, deadline: Instant) -> Result<(), BoxError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        let url = format!("{}/readyz", self.base_url);
        while Instant::now() < deadline {
            if let Ok(response) = client.get(&url).send().await {
                if response.status() == reqwest::StatusCode::OK {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(READY_POLL_MS)).await;
        }
        Err("/readyz never answered 200".into())
    }

    /// The last lines the service wrote to stderr.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// `stop`, first copying the service's log to `keep` when given; returns the
    /// log's tail, to print if the run failed.
    pub async fn stop_keeping_log(self, keep: Option<&Path>) -> String {
        let tail = self.log_tail();
        if let Some(path) = keep {
            if let Err(e) = std::fs::copy(self.log_path(), path) {
                eprintln!("could not copy the service log to {}: {e}", path.display());
            }
        }
        eprintln!("stopping the service");
        self.stop().await;
        tail
    }

    /// SIGTERM, wait (then SIGKILL if it hangs), make sure no postmaster outlives it,
    /// and remove the folder.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) on our own child's pid; no memory is involved.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
        let waited =
            tokio::time::timeout(Duration::from_secs(STOP_WAIT_SECONDS), self.child.wait()).await;
        if waited.is_err() {
            eprintln!("the service ignored SIGTERM for {STOP_WAIT_SECONDS} s; killing it");
            let _ = self.child.kill().await;
        }
        stop_stray_postmasters(&self.root).await;
        if let Err(e) = std::fs::remove_dir_all(&self.root) {
            eprintln!("could not remove {}: {e}", self.root.display());
        }
    }
}

/// A new folder under the system temp dir. 0755 all the way down to `data`, because
/// the embedded cluster runs as the `postgres` user when we are root.
fn make_root() -> Result<PathBuf, BoxError> {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let root = std::env::temp_dir().join(format!("chainbook-bench-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&root)?;
    std::fs::create_dir(root.join("data"))?;
    for dir in [&root, &root.join("data")] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(root)
}

fn spawn(bin: &Path, root: &Path, pool_size: Option<usize>) -> std::io::Result<Child> {
    let log = std::fs::File::create(root.join("service.log"))?;
    let mut command = Command::new(bin);
    command
        .arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(root.join("data"));
    if let Some(size) = pool_size {
        command.arg("--pool-size").arg(size.to_string());
    }
    // The embedded cluster is what we measure; an inherited DATABASE_URL would bypass it.
    command
        .env_remove("DATABASE_URL")
        .env_remove("CHAINBOOK_DATA_DIR")
        .env_remove("CHAINBOOK_LISTEN");
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
}

/// If the service died without stopping its cluster, a `postmaster.pid` remains under
/// the folder; stop that postmaster so removing the folder leaves nothing running.
async fn stop_stray_postmasters(root: &Path) {
    for pid_file in find_pid_files(&root.join("data"), 3) {
        let Some(pid) = read_postmaster_pid(&pid_file) else {
            continue;
        };
        eprintln!("a postmaster (pid {pid}) outlived the service; stopping it");
        // SAFETY: kill(2) on a pid we checked is a postgres process.
        unsafe { libc::kill(pid, libc::SIGINT) };
        for _ in 0..100 {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn find_pid_files(dir: &Path, depth: u32) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == "postmaster.pid") {
            found.push(path);
        } else if depth > 0 && path.is_dir() && !path.is_symlink() {
            found.extend(find_pid_files(&path, depth - 1));
        }
    }
    found
}

/// The pid on the first line of `postmaster.pid`, if that process is a live postgres.
fn read_postmaster_pid(pid_file: &Path) -> Option<libc::pid_t> {
    let text = std::fs::read_to_string(pid_file).ok()?;
    let pid: libc::pid_t = text.lines().next()?.trim().parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    String::from_utf8_lossy(&cmdline)
        .contains("postgres")
        .then_some(pid)
}
