//! Throwaway clusters for tests, which die with the test process.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::binaries::{unprivileged_user, PgBinaries};
use super::error::{io, ClusterError};
use super::layout::Layout;

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
