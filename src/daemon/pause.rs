//! `pause` and `unpause`: the cgroup freezer stops every process of a container where it
//! stands, and lets them go again; the state says "paused" meanwhile.

use super::error::{DaemonError, Result};
use super::Daemon;

impl Daemon {
    /// `POST /containers/{id}/pause` and `unpause`: the cgroup freezer stops every process of
    /// the container where it stands, and lets them go again. The healthcheck's probes stop
    /// before the freeze and start again after the thaw.
    pub async fn set_paused(self: &std::sync::Arc<Self>, input: &str, pause: bool) -> Result<()> {
        let c = self.lookup(input)?;
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        if !rec.state.running {
            return Err(DaemonError::Conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        if rec.state.paused == pause {
            return Err(DaemonError::Conflict(if pause {
                format!("Container {} is already paused", rec.id)
            } else {
                format!("Container {} is not paused", rec.id)
            }));
        }
        if pause {
            // A probe frozen mid-run would count as timed out after the thaw: end it first.
            if let Some(monitor) = self.health_stop(&c) {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(5), monitor).await;
            }
        }
        let cg = self.cgroups.open(&rec.id);
        let frozen = tokio::task::spawn_blocking(move || cg.set_frozen(pause))
            .await
            .map_err(|e| DaemonError::system("freezing", e))
            .and_then(|r| {
                r.map_err(|e| DaemonError::system(if pause { "pausing" } else { "unpausing" }, e))
            });
        if let Err(e) = frozen {
            if pause {
                self.health_resume(&c);
            }
            return Err(e);
        }
        c.update(|r| {
            r.state.paused = pause;
            r.state.status = if pause { "paused" } else { "running" }.into();
        })
        .map_err(|e| DaemonError::system("writing the container record", e))?;
        if !pause {
            self.health_resume(&c);
        }
        self.container_event(&rec, if pause { "pause" } else { "unpause" }, &[]);
        Ok(())
    }
}
