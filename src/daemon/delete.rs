//! `rm` (a running container only with force, which kills it first) and `container prune`:
//! the record, the layers and the log go together, and `wait condition=removed` returns.

use super::error::{DaemonError, Result};
use super::Daemon;
use std::sync::Arc;

impl Daemon {
    /// `DELETE /containers/{id}`; `volumes` (`rm -v`, and `--rm`) takes its anonymous
    /// volumes too.
    pub async fn remove(self: &Arc<Self>, input: &str, force: bool, volumes: bool) -> Result<()> {
        let c = self.lookup(input)?;
        if c.is_running() {
            if !force {
                return Err(DaemonError::Conflict(format!(
                    "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
                    c.id
                )));
            }
            let _ = self.kill(&c.id, "KILL").await;
            let mut rx = c.lifecycle.subscribe();
            let waited = tokio::time::timeout(
                std::time::Duration::from_secs(30),
                rx.wait_for(|l| !l.running),
            )
            .await;
            if waited.is_err() {
                return Err(DaemonError::System(format!(
                    "could not kill running container {}, cannot remove",
                    c.id
                )));
            }
        }
        if !force && c.snapshot().state.restarting {
            return Err(DaemonError::Conflict(format!(
                "You cannot remove a restarting container {}. Stop the container before attempting removal or force remove",
                c.id
            )));
        }
        let _op = c.op.lock().await;
        if c.lifecycle.borrow().removed {
            return Ok(());
        }
        let t0 = std::time::Instant::now();
        self.images
            .lock()
            .unwrap()
            .layers()
            .remove_container_layers_later(&c.id)
            .map_err(|e| DaemonError::system("removing the container's layers", e))?;
        let _ = std::fs::remove_dir_all(&c.dir);
        let _ = std::fs::remove_dir_all(self.shim_dir(&c.id));
        self.containers.lock().unwrap().remove(&c.id);
        self.execs
            .lock()
            .unwrap()
            .retain(|_, e| e.container_id != c.id);
        if volumes {
            self.remove_anonymous_volumes(&c.snapshot().mount_points)
                .await;
        }
        c.lifecycle.send_modify(|l| l.removed = true);
        self.container_event(&c.snapshot(), "destroy", &[]);
        tracing::debug!("remove {}: removed in {:?}", &c.id[..12], t0.elapsed());
        Ok(())
    }

    /// `POST /containers/prune`: remove every container that is not running; returns their ids
    /// and the bytes their read-write layers held.
    pub async fn prune(self: &Arc<Self>) -> Result<(Vec<String>, u64)> {
        let mut deleted = Vec::new();
        let mut reclaimed = 0;
        for c in self.all_containers() {
            if c.is_running() {
                continue;
            }
            let size = self
                .images
                .lock()
                .unwrap()
                .layers()
                .upper_dir(&c.id)
                .map(|d| crate::layers::dir_size(&d))
                .unwrap_or(0);
            if self.remove(&c.id, false, false).await.is_ok() {
                deleted.push(c.id.clone());
                reclaimed += size;
            }
        }
        deleted.sort();
        Ok((deleted, reclaimed))
    }
}
