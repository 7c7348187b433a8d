//! `pause` and `unpause`: the cgroup freezer stops every process of a container where it
//! stands, and lets them go again; the state says "paused" meanwhile. `commit` pauses the same
//! way (its default) while it packs the container's layer, so the layer is a still picture.

use super::container::Container;
use super::error::{DaemonError, Result};
use super::Daemon;
use std::sync::Arc;

impl Daemon {
    /// `POST /containers/{id}/pause` and `unpause`: the cgroup freezer stops every process of
    /// the container where it stands, and lets them go again. The healthcheck's probes stop
    /// before the freeze and start again after the thaw.
    pub async fn set_paused(self: &Arc<Self>, input: &str, pause: bool) -> Result<()> {
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
        self.freeze(&c, pause).await
    }

    /// Pause a running container for a commit, if it runs and is not paused already: the
    /// answer says whether it was, so `commit` knows to unpause it after.
    pub(super) async fn pause_for_commit(self: &Arc<Self>, c: &Arc<Container>) -> Result<bool> {
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        // A process that has just ended leaves the record saying running while its exit is
        // handled (the cgroup is already gone): there is nothing left to hold still.
        let gone = || self.cgroups.open(&rec.id).procs().is_empty();
        if !rec.state.running || rec.state.paused || gone() {
            return Ok(false);
        }
        match self.freeze(c, true).await {
            Ok(()) => Ok(true),
            Err(e) if gone() => {
                tracing::debug!("{} ended while pausing it to commit: {e}", rec.id);
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Undo `pause_for_commit`, unless the container was unpaused (or ended) meanwhile.
    pub(super) async fn unpause_after_commit(self: &Arc<Self>, c: &Arc<Container>) -> Result<()> {
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        if !rec.state.running || !rec.state.paused {
            return Ok(());
        }
        self.freeze(c, false).await
    }

    /// Freeze or thaw the container's cgroup, record it, and say so in an event. The caller
    /// holds the container's `op` lock and has checked the state.
    async fn freeze(self: &Arc<Self>, c: &Arc<Container>, pause: bool) -> Result<()> {
        let rec = c.snapshot();
        if pause {
            // A probe frozen mid-run would count as timed out after the thaw: end it first.
            if let Some(monitor) = self.health_stop(c) {
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
                self.health_resume(c);
            }
            return Err(e);
        }
        let recorded = c.update(|r| {
            r.state.paused = pause;
            r.state.status = if pause { "paused" } else { "running" }.into();
        });
        if let Err(e) = recorded {
            // Not frozen without the record saying so.
            if pause {
                let cg = self.cgroups.open(&rec.id);
                let _ = tokio::task::spawn_blocking(move || cg.set_frozen(false)).await;
                self.health_resume(c);
            }
            return Err(DaemonError::system("writing the container record", e));
        }
        if !pause {
            self.health_resume(c);
        }
        self.container_event(&rec, if pause { "pause" } else { "unpause" }, &[]);
        Ok(())
    }
}
