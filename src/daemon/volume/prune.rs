//! `POST /volumes/prune`: the volumes no container uses. Since API 1.42 only anonymous
//! ones unless the filter `all` says otherwise, as Docker's; before that, all of them.

use super::VolumeFilters;
use crate::daemon::error::{DaemonError, Result};
use crate::daemon::Daemon;
use crate::volume::store::ANONYMOUS_LABEL;

impl Daemon {
    pub async fn volume_prune(
        &self,
        filters: &VolumeFilters,
        api_all_by_default: bool,
    ) -> Result<(Vec<String>, u64)> {
        let all = match filters.values("all").first().map(String::as_str) {
            None => api_all_by_default,
            Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(v) => {
                return Err(DaemonError::InvalidParameter(format!(
                    "invalid filter 'all={v}'"
                )))
            }
        };
        let _lock = self.volume_lock.lock().await;
        let users = self.volume_users();
        let mut deleted = Vec::new();
        let mut reclaimed = 0;
        for v in self.volumes.list() {
            if !all && !v.labels.contains_key(ANONYMOUS_LABEL) {
                continue;
            }
            let in_use = users.contains_key(&v.name);
            if in_use || !filters.matches(&v, in_use)? {
                continue;
            }
            let size = self.volumes.size(&v.name);
            if self.remove_unused_volume(&v.name, &users).is_ok() {
                deleted.push(v.name.clone());
                reclaimed += size;
            }
        }
        Ok((deleted, reclaimed))
    }
}
