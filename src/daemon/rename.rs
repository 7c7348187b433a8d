//! `rename`: a new name for a container, checked against the names in use, as Docker
//! reserves them.

use super::error::{DaemonError, Result};
use super::{names, Daemon};

impl Daemon {
    /// `POST /containers/{id}/rename`.
    pub fn rename(&self, input: &str, new_name: &str) -> Result<()> {
        let c = self.lookup(input)?;
        let map = self.containers.lock().unwrap();
        let name = names::validate(new_name).map_err(DaemonError::InvalidParameter)?;
        if c.name() == name {
            return Err(DaemonError::InvalidParameter(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        if let Some(other) = map.values().find(|o| o.name() == name) {
            return Err(DaemonError::Conflict(format!(
                "Conflict. The container name \"{name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                other.id
            )));
        }
        let old_name = c.name();
        c.update(|r| r.name = name.clone())
            .map_err(|e| DaemonError::system("writing the container record", e))?;
        self.container_event(&c.snapshot(), "rename", &[("oldName", old_name)]);
        Ok(())
    }
}
