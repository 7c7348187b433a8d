//! `GET /volumes` with Docker's filters (`dangling`, `name`, `label`, `driver`), and
//! `GET /volumes/{name}`.

use crate::daemon::error::{DaemonError, Result};
use crate::daemon::filters::label_matches;
use crate::daemon::Daemon;
use crate::wire::volume::Volume;
use std::collections::BTreeMap;

/// The `filters` of `GET /volumes` (and of prune: `label`, `all`).
#[derive(Debug, Default)]
pub struct VolumeFilters(pub BTreeMap<String, Vec<String>>);

impl VolumeFilters {
    pub fn parse(json: Option<&str>, allowed: &[&str]) -> Result<VolumeFilters> {
        let Some(json) = json.filter(|j| !j.is_empty()) else {
            return Ok(VolumeFilters::default());
        };
        let map = crate::daemon::filters::parse(json).map_err(DaemonError::InvalidParameter)?;
        for k in map.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(DaemonError::InvalidParameter(format!(
                    "invalid filter '{k}'"
                )));
            }
        }
        Ok(VolumeFilters(map))
    }

    pub fn values(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Each key's values are alternatives; all keys must match.
    pub(super) fn matches(&self, v: &Volume, in_use: bool) -> Result<bool> {
        for want in self.values("dangling") {
            let dangling = match want.as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => {
                    return Err(DaemonError::InvalidParameter(format!(
                        "invalid filter 'dangling={want}'"
                    )))
                }
            };
            if dangling == in_use {
                return Ok(false);
            }
        }
        let names = self.values("name");
        if !names.is_empty() && !names.iter().any(|n| v.name.contains(n.as_str())) {
            return Ok(false);
        }
        let drivers = self.values("driver");
        if !drivers.is_empty() && !drivers.contains(&v.driver) {
            return Ok(false);
        }
        if !self
            .values("label")
            .iter()
            .all(|l| label_matches(Some(&v.labels), l))
        {
            return Ok(false);
        }
        if self
            .values("label!")
            .iter()
            .any(|l| label_matches(Some(&v.labels), l))
        {
            return Ok(false);
        }
        Ok(true)
    }
}

impl Daemon {
    pub fn volume_list(&self, filters: &VolumeFilters) -> Result<Vec<Volume>> {
        let users = self.volume_users();
        let mut out = Vec::new();
        for v in self.volumes.list() {
            let in_use = users.contains_key(&v.name);
            if filters.matches(&v, in_use)? {
                out.push(v);
            }
        }
        Ok(out)
    }

    pub fn volume_inspect(&self, name: &str) -> Result<Volume> {
        Ok(self.volumes.get(name)?)
    }

    /// Every volume with its size and its number of users, for `GET /system/df`.
    pub fn volume_usage(&self) -> Vec<Volume> {
        let users = self.volume_users();
        self.volumes
            .list()
            .into_iter()
            .map(|mut v| {
                v.usage_data = Some(crate::wire::volume::UsageData {
                    size: self.volumes.size(&v.name) as i64,
                    ref_count: users.get(&v.name).map_or(0, Vec::len) as i64,
                });
                v
            })
            .collect()
    }
}
