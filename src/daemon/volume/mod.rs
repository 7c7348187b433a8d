//! The daemon's volume operations, one file per verb as the API names them: `create`,
//! `list` (and inspect), `remove` and `prune`. Which containers use a volume is read from
//! the container records each time (`users`), never kept as a count that a crash could
//! leave wrong.

mod create;
mod list;
mod prune;
mod remove;

pub use list::VolumeFilters;

use super::Daemon;

impl Daemon {
    /// The ids of the containers (running or not) whose mounts name the volume.
    pub fn volume_users_of(&self, name: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .all_containers()
            .iter()
            .filter(|c| {
                c.snapshot()
                    .mount_points
                    .iter()
                    .any(|m| m.is_volume() && m.name == name)
            })
            .map(|c| c.id.clone())
            .collect();
        ids.sort();
        ids
    }
}
