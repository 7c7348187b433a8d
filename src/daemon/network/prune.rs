//! `network prune`: every user network no running container is on.

use super::super::error::Result;
use super::super::Daemon;

impl Daemon {
    /// `POST /networks/prune`: the names of the networks removed. `label` filters (`k`,
    /// `k=v`, and `label!=`) and `until` (made before) choose among them.
    pub async fn network_prune(
        &self,
        labels: &[String],
        not_labels: &[String],
        until: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for net in self.networks.all() {
            let r = &net.record;
            let has = |l: &String| super::super::filters::label_matches(Some(&r.labels), l);
            let created = chrono::DateTime::parse_from_rfc3339(&r.created).ok();
            let too_new = until.is_some_and(|u| created.is_none_or(|c| c > u));
            if r.builtin
                || too_new
                || !labels.iter().all(has)
                || not_labels.iter().any(has)
                || !self.active_endpoints(&r.id, &r.name).is_empty()
            {
                continue;
            }
            match self.network_remove(&r.id).await {
                Ok(()) => removed.push(r.name.clone()),
                Err(e) => tracing::warn!("prune: network {}: {e}", r.name),
            }
        }
        removed.sort();
        Ok(removed)
    }
}
