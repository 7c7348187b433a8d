//! `network rm`: a predefined network never goes, nor one a running container is on; what
//! goes takes its bridge, rules and address state with it.

use super::super::error::{DaemonError, Result};
use super::super::Daemon;
use std::collections::BTreeMap;

impl Daemon {
    /// `DELETE /networks/{id}`.
    pub async fn network_remove(&self, input: &str) -> Result<()> {
        let _guard = self.network_lock.lock().await;
        // Veths still being deleted from this network's bridge go before it does.
        self.unplugs.wait_all().await;
        let net = self.networks.find(input)?;
        let r = &net.record;
        if r.builtin {
            return Err(DaemonError::Forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                r.name
            )));
        }
        let active = self.active_endpoints(&r.id, &r.name);
        if !active.is_empty() {
            return Err(DaemonError::Forbidden(format!(
                "error while removing network: network {} id {} has active endpoints",
                r.name, r.id
            )));
        }
        if let Some(b) = &net.bridge {
            b.remove()
                .await
                .map_err(|e| DaemonError::system("removing the network's bridge", e))?;
        }
        self.networks
            .forget(&r.id)
            .map_err(|e| DaemonError::system("removing the network record", e))?;
        self.network_event(r, "destroy", &BTreeMap::new());
        Ok(())
    }

    /// The running containers with an endpoint on the network.
    pub(crate) fn active_endpoints(&self, id: &str, name: &str) -> Vec<String> {
        self.all_containers()
            .iter()
            .map(|c| c.snapshot())
            .filter(|rec| {
                rec.networks
                    .get(name)
                    .is_some_and(|a| a.network_id == id && a.endpoint.is_some())
            })
            .map(|rec| rec.id)
            .collect()
    }
}
