//! The daemon's volume operations, one file per verb as the API names them: `create`,
//! `list` (and inspect), `remove` and `prune`. Which containers use a volume is read from
//! the container records each time (`volume_users`), never kept as a count that a crash could
//! leave wrong.

mod create;
mod list;
mod prune;
mod remove;

pub use list::VolumeFilters;

use super::Daemon;

/// Each volume a container's mounts name, with the ids of those containers (running or
/// not), sorted.
pub type VolumeUsers = std::collections::BTreeMap<String, Vec<String>>;

impl Daemon {
    /// Who uses which volume, read from the records in one pass.
    pub fn volume_users(&self) -> VolumeUsers {
        let mut users = VolumeUsers::new();
        for c in self.all_containers() {
            let rec = c.snapshot();
            for m in rec.mount_points.iter().filter(|m| m.is_volume()) {
                let ids = users.entry(m.name.clone()).or_default();
                if !ids.contains(&rec.id) {
                    ids.push(rec.id.clone());
                }
            }
        }
        for ids in users.values_mut() {
            ids.sort();
        }
        users
    }
}
