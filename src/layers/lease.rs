//! Layers being read by a push or a save count as in use, like layers that a container or
//! another layer stands on: `release_layer` leaves them, so an `rmi` during a push cannot take
//! the files from under it. When the reading ends, the lease's owner removes what an `rmi` left
//! meanwhile. Docker counts references to its layers for the same reason. Leases live in
//! memory only: they last as long as the reading, which a daemon restart ends anyway.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Every lease of the process, as (layer db dir, chain id) pairs; a layer leased twice is
/// listed twice. One table for every `LayerStore` handle, since push and save open their own.
static LEASED: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());

fn table() -> std::sync::MutexGuard<'static, Vec<(PathBuf, String)>> {
    // The table stays consistent even if a holder panicked: each change is one push or remove.
    LEASED.lock().unwrap_or_else(|p| p.into_inner())
}

/// The layers of one push or save, held until dropped.
#[must_use = "the layers are leased only while this lives"]
pub struct Lease {
    layerdb: PathBuf,
    chains: Vec<String>,
    then: Option<Box<dyn FnOnce() + Send>>,
}

impl Lease {
    pub(super) fn take(layerdb: &Path, chains: &[String]) -> Lease {
        let mut t = table();
        for c in chains {
            t.push((layerdb.to_path_buf(), c.clone()));
        }
        Lease {
            layerdb: layerdb.to_path_buf(),
            chains: chains.to_vec(),
            then: None,
        }
    }

    /// Run `f` once the lease has ended (its layers are free again). It must not need a lock
    /// that the lease's holder keeps while dropping it.
    pub fn then(mut self, f: impl FnOnce() + Send + 'static) -> Lease {
        self.then = Some(Box::new(f));
        self
    }
}

pub(super) fn is_leased(layerdb: &Path, chain: &str) -> bool {
    table().iter().any(|(db, c)| db == layerdb && c == chain)
}

impl Drop for Lease {
    fn drop(&mut self) {
        {
            let mut t = table();
            for c in &self.chains {
                if let Some(i) = t.iter().position(|(db, x)| *db == self.layerdb && x == c) {
                    t.swap_remove(i);
                }
            }
        }
        if let Some(f) = self.then.take() {
            f();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_is_leased_until_its_last_lease_ends() {
        let db = Path::new("/nonexistent/lease-test/layerdb");
        let chains = vec!["sha256:a".to_string(), "sha256:b".to_string()];
        let first = Lease::take(db, &chains);
        let second = Lease::take(db, &chains[..1]);
        assert!(is_leased(db, "sha256:a") && is_leased(db, "sha256:b"));
        assert!(!is_leased(Path::new("/elsewhere"), "sha256:a"));
        drop(first);
        assert!(is_leased(db, "sha256:a") && !is_leased(db, "sha256:b"));
        let (tx, rx) = std::sync::mpsc::channel();
        let second = second.then(move || tx.send(is_leased(db, "sha256:a")).unwrap());
        drop(second);
        assert!(!rx.recv().unwrap(), "then runs after the layers are free");
    }
}
