//! `POST /volumes/create`: a named volume, or an anonymous one when no name is given.

use crate::daemon::error::Result;
use crate::daemon::Daemon;
use crate::volume::store::CreateOptions;
use crate::wire::volume::{Volume, VolumeCreateRequest};

impl Daemon {
    pub async fn volume_create(&self, req: VolumeCreateRequest) -> Result<Volume> {
        let _lock = self.volume_lock.lock().await;
        let (v, made) = self.volumes.create(&CreateOptions {
            name: (!req.name.is_empty()).then(|| req.name.clone()),
            driver: req.driver,
            options: req.driver_opts,
            labels: req.labels,
        })?;
        if made {
            self.volume_event(&v.name, "create", &[]);
        }
        Ok(v)
    }
}
