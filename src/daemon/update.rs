//! `update`: new resource limits (and restart policy) for a container, checked as at create
//! and written into a running container's cgroup at once.

use super::error::{DaemonError, Result};
use super::hostconfig::*;
use super::restart::*;
use super::Daemon;

impl Daemon {
    /// `POST /containers/{id}/update`: change resource limits, and the restart policy, of a
    /// container; a running one gets them in its cgroup at once.
    pub async fn update(
        &self,
        input: &str,
        changes: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Vec<String>> {
        const FIELDS: &[&str] = &[
            "Memory",
            "MemorySwap",
            "MemoryReservation",
            "NanoCpus",
            "CpuShares",
            "CpuPeriod",
            "CpuQuota",
            "CpusetCpus",
            "PidsLimit",
            "OomKillDisable",
            "RestartPolicy",
        ];
        let c = self.lookup(input)?;
        let _op = c.op.lock().await;
        let mut wanted = serde_json::Map::new();
        for (k, v) in changes {
            if !FIELDS.contains(&k.as_str()) {
                if is_unset(&v) {
                    continue;
                }
                return Err(DaemonError::InvalidParameter(format!(
                    "updating {k} is not supported by berth yet"
                )));
            }
            // Zero means "leave as it is" in an update, as in Docker's.
            if k != "RestartPolicy" && is_unset(&v) {
                continue;
            }
            wanted.insert(k, v);
        }
        let hc = c
            .snapshot()
            .host_config
            .with_fields(wanted)
            .map_err(DaemonError::InvalidParameter)?;
        let limits = resources(&hc);
        limits
            .validate(&crate::cgroups::resources::HostCpus::read())
            .map_err(DaemonError::InvalidParameter)?;
        let policy = RestartPolicy::of(&hc)?;
        if policy != RestartPolicy::No && hc.auto_remove {
            return Err(DaemonError::InvalidParameter(
                "Conflicting options: --restart and --rm".into(),
            ));
        }
        if c.is_running() {
            self.cgroups
                .open(&c.id)
                .apply(&limits)
                .map_err(|e| DaemonError::system("updating the cgroup", e))?;
        }
        c.update(|r| r.host_config = hc)
            .map_err(|e| DaemonError::system("writing the container record", e))?;
        self.container_event(&c.snapshot(), "update", &[]);
        Ok(vec![])
    }
}
