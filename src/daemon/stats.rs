//! `stats`: a container's resource use, read from its cgroup (CPU time, memory, PIDs, block
//! I/O) and from its network namespace (/proc/<pid>/net/dev), in the JSON shape of Docker's
//! `GET /containers/{id}/stats`. The parsers are pure; sampling reads the files.

use super::error::{DaemonError, Result};
use super::Daemon;
use crate::cgroups::CgroupVersion;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

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

/// Read and write bytes from v1's blkio.throttle.io_service_bytes_recursive or v2's io.stat.
pub fn parse_block_io(version: CgroupVersion, text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0, 0);
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match version {
            CgroupVersion::V1 if f.len() == 3 => match f[1] {
                "Read" => read += f[2].parse::<u64>().unwrap_or(0),
                "Write" => write += f[2].parse::<u64>().unwrap_or(0),
                _ => {}
            },
            CgroupVersion::V2 => {
                for kv in f.iter().skip(1) {
                    if let Some(v) = kv.strip_prefix("rbytes=") {
                        read += v.parse::<u64>().unwrap_or(0);
                    } else if let Some(v) = kv.strip_prefix("wbytes=") {
                        write += v.parse::<u64>().unwrap_or(0);
                    }
                }
            }
            _ => {}
        }
    }
    (read, write)
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

fn read_u64(p: &Path) -> Option<u64> {
    read(p).trim().parse().ok()
}

fn key_value(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.trim().parse().ok()))
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
        let version = cg.version();
        let dir = |c: &str| -> PathBuf { cg.dir_for(c).cloned().unwrap_or_default() };
        let (system, cpus) = parse_proc_stat(&read(Path::new("/proc/stat")));
        let host_mem = host_memory();
        let limit_or_host =
            |v: Option<u64>| v.filter(|l| *l > 0 && *l < host_mem).unwrap_or(host_mem);
        let (cpu_total, memory, memory_limit, inactive_file, pids, pids_limit, blk) = match version
        {
            CgroupVersion::V1 => {
                let mem = dir("memory");
                let stat = read(&mem.join("memory.stat"));
                (
                    read_u64(&dir("cpuacct").join("cpuacct.usage")).unwrap_or(0),
                    read_u64(&mem.join("memory.usage_in_bytes")).unwrap_or(0),
                    limit_or_host(read_u64(&mem.join("memory.limit_in_bytes"))),
                    key_value(&stat, "total_inactive_file ").unwrap_or(0),
                    read_u64(&dir("pids").join("pids.current")).unwrap_or(0),
                    read_u64(&dir("pids").join("pids.max")).unwrap_or(0),
                    parse_block_io(
                        version,
                        &read(&dir("blkio").join("blkio.throttle.io_service_bytes_recursive")),
                    ),
                )
            }
            CgroupVersion::V2 => {
                let d = dir("");
                let stat = read(&d.join("memory.stat"));
                (
                    key_value(&read(&d.join("cpu.stat")), "usage_usec ").unwrap_or(0) * 1000,
                    read_u64(&d.join("memory.current")).unwrap_or(0),
                    limit_or_host(read_u64(&d.join("memory.max"))),
                    key_value(&stat, "inactive_file ").unwrap_or(0),
                    read_u64(&d.join("pids.current")).unwrap_or(0),
                    read_u64(&d.join("pids.max")).unwrap_or(0),
                    parse_block_io(version, &read(&d.join("io.stat"))),
                )
            }
        };
        Sample {
            cpu_total,
            system,
            cpus,
            memory,
            memory_limit,
            inactive_file,
            pids,
            pids_limit,
            blk_read: blk.0,
            blk_write: blk.1,
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
        let v1 = "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\nTotal 12288\n";
        assert_eq!(parse_block_io(CgroupVersion::V1, v1), (4096, 8192));
        let v2 = "8:0 rbytes=100 wbytes=200 rios=1 wios=2\n";
        assert_eq!(parse_block_io(CgroupVersion::V2, v2), (100, 200));
        let stat = "cpu  100 0 50 1000 0 0 0 0 0 0\ncpu0 50 0 25 500 0 0 0 0 0 0\ncpu1 50 0 25 500 0 0 0 0 0 0\nintr 1\n";
        assert_eq!(parse_proc_stat(stat), (1150 * 10_000_000, 2));
    }
}
