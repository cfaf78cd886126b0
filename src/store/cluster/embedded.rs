//! The service's own cluster: kept across restarts, stopped with the service.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use nix::unistd::User;

use super::binaries::{run, unprivileged_user, PgBinaries};
use super::error::{io, ClusterError};
use super::layout::{absolute, Layout};

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

    /// Stops the server at once, as a crash would (`pg_ctl stop -m immediate`: no
    /// shutdown checkpoint, crash recovery on the next start). For fault drills.
    pub fn crash(&mut self) -> Result<(), ClusterError> {
        self.pg_ctl_stop("immediate")
    }

    /// Starts the server again after `crash` and waits until it accepts connections;
    /// this process then owns it (and stops it on drop).
    pub fn restart(&mut self) -> Result<(), ClusterError> {
        self.pg_ctl_start()?;
        self.started = true;
        self.layout.wait_ready(&self.binaries, || true)
    }

    /// Stops the server (fast shutdown) if this process started it.
    pub fn stop(&mut self) -> Result<(), ClusterError> {
        if !std::mem::take(&mut self.started) {
            return Ok(());
        }
        self.pg_ctl_stop("fast")
    }

    fn pg_ctl_stop(&self, mode: &str) -> Result<(), ClusterError> {
        let mut stop = self.binaries.command("pg_ctl", self.user.as_ref());
        stop.arg("stop")
            .arg("-w")
            .args(["-m", mode])
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
