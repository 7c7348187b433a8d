//! `berth-runc events`: the container's resource usage as runc's event JSON, once
//! (`--stats`) or every `--interval` until it stops, with an `oom` event when the kernel's
//! OOM killer strikes in its cgroup.

use super::Globals;
use crate::runtime::oci::state::Status;
use anyhow::{bail, Context};
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the usage once and exit.
    #[arg(long)]
    pub stats: bool,
    /// Between two stats events: 5s, 500ms.
    #[arg(long, default_value = "5s")]
    pub interval: String,
    pub id: String,
}

fn interval(s: &str) -> anyhow::Result<Duration> {
    let bad = || anyhow::anyhow!("invalid --interval {s:?}: a duration such as 5s or 500ms");
    let (n, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| s.split_at(i))
        .ok_or_else(bad)?;
    let n: f64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(bad()),
    };
    if secs <= 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

fn stats_event(id: &str, cg: &crate::cgroups::Cgroup) -> serde_json::Value {
    let s = cg.stats();
    serde_json::json!({
        "type": "stats",
        "id": id,
        "data": {
            "cpu": {"usage": {"total": s.cpu.usage_ns, "percpu": [], "kernel": 0, "user": 0}, "throttling": {}},
            "memory": {
                "usage": {"limit": s.memory.limit.unwrap_or(u64::MAX), "usage": s.memory.usage, "max": 0, "failcnt": 0},
                "raw": {"inactive_file": s.memory.inactive_file},
            },
            "pids": {"current": s.pids.current, "limit": s.pids.limit.unwrap_or(0)},
            "blkio": {
                "ioServiceBytesRecursive": [
                    {"op": "Read", "value": s.io.read_bytes},
                    {"op": "Write", "value": s.io.write_bytes},
                ],
            },
        },
    })
}

pub fn run(g: &Globals, a: &Args) -> anyhow::Result<i32> {
    let c = super::load(g, &a.id)?;
    let every = interval(&a.interval)?;
    if c.status(&g.root) == Status::Stopped {
        bail!("container with id {} is not running", a.id);
    }
    let cg = c.cgroup().context("the container's cgroup")?;
    if a.stats {
        println!("{}", stats_event(&a.id, &cg));
        return Ok(0);
    }
    let mut oom_seen = cg.oom_killed();
    while c.status(&g.root) != Status::Stopped {
        println!("{}", stats_event(&a.id, &cg));
        if !oom_seen && cg.oom_killed() {
            oom_seen = true;
            println!("{}", serde_json::json!({"type": "oom", "id": a.id}));
        }
        std::thread::sleep(every);
    }
    Ok(0)
}
