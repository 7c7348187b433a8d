//! `DELETE /volumes/{name}`, and the anonymous volumes that go with a container (`rm -v`,
//! `--rm`).

use super::VolumeUsers;
use crate::daemon::error::{DaemonError, Result};
use crate::daemon::Daemon;
use crate::volume::store::VolumeError;

impl Daemon {
    /// Remove a volume no container uses. `force` only makes a missing one not an error,
    /// as Docker's does: a volume in use is never removed.
    pub async fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        let _lock = self.volume_lock.lock().await;
        self.remove_unused_volume(name, &self.volume_users())
            .or_else(|e| match e {
                DaemonError::NotFound(_) if force => Ok(()),
                e => Err(e),
            })
    }

    /// Under `volume_lock`, with `users` read under it.
    pub(super) fn remove_unused_volume(&self, name: &str, users: &VolumeUsers) -> Result<()> {
        let v = self.volumes.get(name)?;
        if let Some(ids) = users.get(&v.name) {
            return Err(DaemonError::Conflict(format!(
                "remove {name}: volume is in use - [{}]",
                ids.join(", ")
            )));
        }
        self.volumes.remove(&v.name).map_err(|e| match e {
            VolumeError::NotFound(_) => DaemonError::NotFound(e.to_string()),
            e => DaemonError::from(e),
        })?;
        self.volume_event(&v.name, "destroy", &[]);
        Ok(())
    }

    /// A removed container's anonymous volumes, unless another container still uses them
    /// (through `--volumes-from`). Named volumes are never removed this way.
    pub(crate) async fn remove_anonymous_volumes(
        &self,
        mounts: &[crate::volume::spec::MountPoint],
    ) {
        let _lock = self.volume_lock.lock().await;
        let users = self.volume_users();
        for m in mounts.iter().filter(|m| m.is_volume() && m.anonymous) {
            match self.remove_unused_volume(&m.name, &users) {
                Ok(()) | Err(DaemonError::NotFound(_)) | Err(DaemonError::Conflict(_)) => {}
                Err(e) => tracing::warn!("removing volume {}: {e}", m.name),
            }
        }
    }
}
