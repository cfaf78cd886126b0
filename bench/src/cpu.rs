//! Where the machine's CPU went during a phase: the service, PostgreSQL (the postmaster
//! and its backends) and this load generator, read from /proc. With every part on the
//! same cores, this tells a CPU-bound phase from one that waits.

use std::time::Instant;

/// CPU seconds used so far by each part, at one instant.
#[derive(Clone, Copy)]
pub struct Sample {
    at: Instant,
    service: f64,
    postgres: f64,
    load: f64,
    machine: f64,
    steal: f64,
}

/// Average cores busy in each part between two samples.
#[derive(Clone, Copy, Default)]
pub struct CpuUse {
    pub service: f64,
    pub postgres: f64,
    pub load: f64,
    /// Everything else on the machine: a high figure means the phase was disturbed.
    pub other: f64,
    /// Time the host gave this machine's cores to others (its vCPUs were runnable but
    /// not running): work here paused for that long.
    pub steal: f64,
}

impl CpuUse {
    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "service": self.service,
            "postgres": self.postgres,
            "load_generator": self.load,
            "other": self.other,
            "steal": self.steal,
        })
    }
}

/// Reads the counters now. `postmaster_pid` is the cluster's main process; exited
/// backends are counted through its children's totals once it has reaped them.
pub fn sample(service_pid: Option<u32>, postmaster_pid: Option<u32>) -> Sample {
    let service = service_pid.and_then(|pid| times(pid, false)).unwrap_or(0.0);
    let mut postgres = postmaster_pid
        .and_then(|pid| times(pid, true))
        .unwrap_or(0.0);
    if let Some(postmaster) = postmaster_pid {
        postgres += children_of(postmaster)
            .into_iter()
            .filter_map(|pid| times(pid, true))
            .sum::<f64>();
    }
    let load = times(std::process::id(), false).unwrap_or(0.0);
    let (machine, steal) = machine_busy().unwrap_or((0.0, 0.0));
    Sample {
        at: Instant::now(),
        service,
        postgres,
        load,
        machine,
        steal,
    }
}

/// The cores each part kept busy on average between two samples.
pub fn between(start: Sample, end: Sample) -> CpuUse {
    let seconds = end.at.duration_since(start.at).as_secs_f64().max(1e-9);
    let service = (end.service - start.service) / seconds;
    let postgres = (end.postgres - start.postgres) / seconds;
    let load = (end.load - start.load) / seconds;
    let machine = (end.machine - start.machine) / seconds;
    let steal = (end.steal - start.steal) / seconds;
    let other = (machine - steal - service - postgres - load).max(0.0);
    CpuUse {
        service,
        postgres,
        load,
        other,
        steal,
    }
}

/// User plus system seconds of `pid`, and of its reaped children if asked.
fn times(pid: u32, with_children: bool) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields we need follow its closing paren.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After the paren: state is field 3, so utime (14) .. cstime (17) sit at 11..=14.
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    let mut total = ticks(11)? + ticks(12)?;
    if with_children {
        total += ticks(13)? + ticks(14)?;
    }
    Some(total / clock_ticks_per_second())
}

/// Busy seconds of all cores together, steal included, and the stolen seconds alone,
/// from the first line of /proc/stat.
fn machine_busy() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<f64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map_while(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| fields.get(i))
        .sum::<f64>();
    let steal = fields.get(7).copied().unwrap_or(0.0);
    Some((
        busy / clock_ticks_per_second(),
        steal / clock_ticks_per_second(),
    ))
}

fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| parent_of(pid) == Some(parent))
        .collect()
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}
