//! `stats`: a container's resource use, as its cgroup reports it ([`crate::cgroups::Stats`]:
//! CPU time, memory, PIDs, block I/O) with the host's CPU time and the network namespace's
//! counters (/proc/<pid>/net/dev), in the JSON shape of Docker's
//! `GET /containers/{id}/stats`. The parsers are pure; sampling reads the files.

use super::error::{DaemonError, Result};
use super::Daemon;
use serde_json::{json, Value};
use std::path::Path;

/// Bytes received/sent per interface, from /proc/<pid>/net/dev.
pub fn parse_net_dev(text: &str) -> Vec<(String, u64, u64, u64, u64)> {
    text.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let f: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (f.len() >= 10).then(|| (name.trim().to_string(), f[0], f[1], f[8], f[9]))
        })
        .filter(|(name, ..)| name != "lo")
        .collect()
}

/// The host's CPU time in nanoseconds, summed over /proc/stat's first line (as Docker's
/// `system_cpu_usage`), and the number of CPUs.
pub fn parse_proc_stat(text: &str) -> (u64, u64) {
    let ticks_per_sec = 100u64; // USER_HZ, fixed at 100 on Linux
    let mut total = 0;
    let mut cpus = 0;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("cpu ") {
            total = rest
                .split_whitespace()
                .take(8)
                .filter_map(|x| x.parse::<u64>().ok())
                .sum::<u64>();
        } else if line.starts_with("cpu") {
            cpus += 1;
        }
    }
    (total * (1_000_000_000 / ticks_per_sec), cpus)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn host_memory() -> u64 {
    read(Path::new("/proc/meminfo"))
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// One sample of a running container.
pub struct Sample {
    pub cpu_total: u64,
    pub system: u64,
    pub cpus: u64,
    pub memory: u64,
    pub memory_limit: u64,
    pub inactive_file: u64,
    pub pids: u64,
    pub pids_limit: u64,
    pub blk_read: u64,
    pub blk_write: u64,
    pub networks: Vec<(String, u64, u64, u64, u64)>,
}

impl Sample {
    pub fn take(cg: &crate::cgroups::Cgroup, pid: i64) -> Sample {
        let st = cg.stats();
        let (system, cpus) = parse_proc_stat(&read(Path::new("/proc/stat")));
        let host_mem = host_memory();
        // Docker shows the host's memory as the limit of a container that has none (v2's
        // "max", v1's huge number).
        let memory_limit = st
            .memory
            .limit
            .filter(|l| *l > 0 && *l < host_mem)
            .unwrap_or(host_mem);
        Sample {
            cpu_total: st.cpu.usage_ns,
            system,
            cpus,
            memory: st.memory.usage,
            memory_limit,
            inactive_file: st.memory.inactive_file,
            pids: st.pids.current,
            pids_limit: st.pids.limit.unwrap_or(0),
            blk_read: st.io.read_bytes,
            blk_write: st.io.write_bytes,
            networks: parse_net_dev(&read(Path::new(&format!("/proc/{pid}/net/dev")))),
        }
    }

    fn cpu_json(&self) -> Value {
        json!({
            "cpu_usage": {"total_usage": self.cpu_total, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "system_cpu_usage": self.system,
            "online_cpus": self.cpus,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        })
    }

    /// Docker's stats JSON, `pre` being the previous sample (for the CPU percentage).
    pub fn to_json(&self, pre: Option<&Sample>, id: &str, name: &str) -> Value {
        let networks: serde_json::Map<String, Value> = self
            .networks
            .iter()
            .map(|(n, rxb, rxp, txb, txp)| {
                (n.clone(), json!({"rx_bytes": rxb, "rx_packets": rxp, "rx_errors": 0, "rx_dropped": 0,
                                   "tx_bytes": txb, "tx_packets": txp, "tx_errors": 0, "tx_dropped": 0}))
            })
            .collect();
        json!({
            "read": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            "preread": "0001-01-01T00:00:00Z",
            "id": id,
            "name": name,
            "pids_stats": {"current": self.pids, "limit": self.pids_limit},
            "blkio_stats": {"io_service_bytes_recursive": [
                {"major": 0, "minor": 0, "op": "read", "value": self.blk_read},
                {"major": 0, "minor": 0, "op": "write", "value": self.blk_write},
            ]},
            "cpu_stats": self.cpu_json(),
            "precpu_stats": pre.map(|p| p.cpu_json()).unwrap_or(json!({"cpu_usage": {"total_usage": 0}, "throttling_data": {}})),
            "memory_stats": {
                "usage": self.memory,
                "limit": self.memory_limit,
                "stats": {"total_inactive_file": self.inactive_file, "inactive_file": self.inactive_file},
            },
            "networks": networks,
        })
    }
}

impl Daemon {
    /// A sample of a running container's use (with the previous one for CPU rates).
    pub fn stats_sample(&self, input: &str) -> Result<(Sample, String, String)> {
        let c = self.lookup(input)?;
        let rec = c.snapshot();
        if !rec.state.running {
            return Err(DaemonError::Conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        let cg = self.cgroups.open(&rec.id);
        Ok((Sample::take(&cg, rec.state.pid), rec.id, rec.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers() {
        let dev = "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n    lo: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n  eth0: 1296 12 0 0 0 0 0 0 586 7 0 0 0 0 0 0\n";
        assert_eq!(
            parse_net_dev(dev),
            vec![("eth0".to_string(), 1296, 12, 586, 7)]
        );
        let stat = "cpu  100 0 50 1000 0 0 0 0 0 0\ncpu0 50 0 25 500 0 0 0 0 0 0\ncpu1 50 0 25 500 0 0 0 0 0 0\nintr 1\n";
        assert_eq!(parse_proc_stat(stat), (1150 * 10_000_000, 2));
    }
}
