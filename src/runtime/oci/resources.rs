//! `linux.resources` of a bundle's config.json: the limits berth's cgroup code knows
//! ([`crate::cgroups::Resources`]), the two a bundle may set beyond Docker's flags
//! (cpuset.mems, v1's swappiness), and the device rules; what berth cannot enforce is refused
//! by name. `create` applies them, and `update` applies a new set.

use super::plan::{invalid, name_of, PlanError};
use serde::{Deserialize, Serialize};

/// One device cgroup rule, in order; `kind` is `a`, `c` or `b`, None major/minor is `*`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceRule {
    pub allow: bool,
    pub kind: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

/// The limits berth's cgroup code knows (`cgroups::Resources`) and the device rules.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ResourcesPlan {
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub oom_kill_disable: bool,
    pub cpu_shares: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    /// v1's memory.swappiness (v2 has none).
    pub swappiness: Option<u64>,
    pub pids_limit: Option<i64>,
    pub devices: Vec<DeviceRule>,
}

impl ResourcesPlan {
    /// These limits over `older`: each one given here wins, the others stay `older`'s (an
    /// `update` changes only what it names).
    pub fn over(&self, older: &ResourcesPlan) -> ResourcesPlan {
        ResourcesPlan {
            memory: self.memory.or(older.memory),
            memory_swap: self.memory_swap.or(older.memory_swap),
            memory_reservation: self.memory_reservation.or(older.memory_reservation),
            oom_kill_disable: self.oom_kill_disable || older.oom_kill_disable,
            cpu_shares: self.cpu_shares.or(older.cpu_shares),
            cpu_quota: self.cpu_quota.or(older.cpu_quota),
            cpu_period: self.cpu_period.or(older.cpu_period),
            cpuset_cpus: self.cpuset_cpus.clone().or(older.cpuset_cpus.clone()),
            cpuset_mems: self.cpuset_mems.clone().or(older.cpuset_mems.clone()),
            swappiness: self.swappiness.or(older.swappiness),
            pids_limit: self.pids_limit.or(older.pids_limit),
            devices: if self.devices.is_empty() {
                older.devices.clone()
            } else {
                self.devices.clone()
            },
        }
    }

    pub fn limits(&self) -> crate::cgroups::Resources {
        crate::cgroups::Resources {
            memory: self.memory,
            memory_swap: self.memory_swap,
            memory_reservation: self.memory_reservation,
            nano_cpus: None,
            cpu_shares: self.cpu_shares,
            cpu_period: self.cpu_period,
            cpu_quota: self.cpu_quota,
            cpuset_cpus: self.cpuset_cpus.clone(),
            pids_limit: self.pids_limit,
            oom_kill_disable: self.oom_kill_disable,
        }
    }
}

/// `linux.resources`, for create and for `update` (where only what is given changes).
pub fn resources(r: &oci_spec::runtime::LinuxResources) -> Result<ResourcesPlan, PlanError> {
    let mut out = ResourcesPlan::default();
    let unsupported = |what: &str| Err(PlanError::Unsupported(format!("linux.resources.{what}")));
    if let Some(m) = r.memory() {
        out.memory = m.limit().filter(|v| *v != 0);
        out.memory_swap = m.swap().filter(|v| *v != 0);
        out.memory_reservation = m.reservation().filter(|v| *v != 0);
        out.oom_kill_disable = m.disable_oom_killer().unwrap_or(false);
        // Kernel memory limits are deprecated by the runtime-spec and ignored by runc (the
        // kernel itself stopped enforcing them in 5.16): ignored here too.
        out.swappiness = m.swappiness().filter(|v| *v <= 100);
        if m.swappiness().is_some_and(|v| v > 100) {
            return Err(invalid("linux.resources.memory.swappiness above 100"));
        }
    }
    if let Some(c) = r.cpu() {
        out.cpu_shares = c.shares().filter(|v| *v != 0).map(|v| v as i64);
        out.cpu_quota = c.quota().filter(|v| *v != 0);
        out.cpu_period = c.period().filter(|v| *v != 0).map(|v| v as i64);
        out.cpuset_cpus = c.cpus().clone().filter(|s| !s.is_empty());
        out.cpuset_mems = c.mems().clone().filter(|s| !s.is_empty());
        if c.realtime_runtime().is_some_and(|v| v != 0)
            || c.realtime_period().is_some_and(|v| v != 0)
        {
            return unsupported("cpu.realtime");
        }
        if c.idle().is_some_and(|v| v != 0) || c.burst().is_some_and(|v| v != 0) {
            return unsupported("cpu.idle and cpu.burst");
        }
    }
    if let Some(p) = r.pids() {
        out.pids_limit = match p.limit() {
            0 => None,
            n if n < 0 => Some(-1),
            n => Some(n),
        };
    }
    if let Some(b) = r.block_io() {
        let any = |l: &Option<Vec<oci_spec::runtime::LinuxThrottleDevice>>| {
            l.as_ref().is_some_and(|v| !v.is_empty())
        };
        if b.weight().is_some_and(|w| w != 0)
            || b.leaf_weight().is_some_and(|w| w != 0)
            || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
            || any(b.throttle_read_bps_device())
            || any(b.throttle_write_bps_device())
            || any(b.throttle_read_iops_device())
            || any(b.throttle_write_iops_device())
        {
            return unsupported("blockIO");
        }
    }
    if r.hugepage_limits().as_ref().is_some_and(|v| !v.is_empty()) {
        return unsupported("hugepageLimits");
    }
    if r.rdma().as_ref().is_some_and(|v| !v.is_empty()) {
        return unsupported("rdma");
    }
    if r.unified().as_ref().is_some_and(|v| !v.is_empty()) {
        return unsupported("unified");
    }
    if r.network().as_ref().is_some_and(|n| {
        n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty())
    }) {
        return unsupported("network");
    }
    for d in r.devices().iter().flatten() {
        let kind = match d.typ() {
            None => 'a',
            Some(t) => name_of(&t).chars().next().unwrap_or('a'),
        };
        if !matches!(kind, 'a' | 'c' | 'b') {
            return Err(invalid(format!("device rule type {kind}")));
        }
        let access = d.access().clone().unwrap_or_else(|| "rwm".into());
        if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
            return Err(invalid(format!("device rule access {access:?}")));
        }
        out.devices.push(DeviceRule {
            allow: d.allow(),
            kind,
            major: d.major().filter(|v| *v >= 0),
            minor: d.minor().filter(|v| *v >= 0),
            access,
        });
    }
    Ok(out)
}
