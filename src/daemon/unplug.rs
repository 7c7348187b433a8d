//! The slow half of a container's network teardown, taken off the exit's path. Deleting a
//! veth waits for the kernel (an RCU barrier: 10-20 ms, the largest step of a `run --rm`
//! after the process exits), and nothing a client waits for needs it gone: the exit code,
//! the `die` event, `--rm`'s removal. The teardown first detaches each endpoint (veth down,
//! addresses back in IPAM: cheap, and what a next container needs); then the veths go and
//! the namespace is unpinned in a task of their own. What needs those gone waits for it: the
//! next start of the same container (same veth name, same netns path), `network rm` and the
//! daemon's shutdown. After a crash meanwhile, the start-up sweep removes what the task did
//! not.

use super::network::connect::Plugged;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// The teardowns under way, by container id; each one's receiver turns true when done.
#[derive(Default)]
pub struct Unplugs {
    pending: Arc<Mutex<HashMap<String, watch::Receiver<bool>>>>,
}

impl Unplugs {
    /// Finish taking container `id` out of its networks in the background: delete each
    /// endpoint's veth (already detached: down, its addresses released), newest first, then
    /// unpin `netns` (its own, if any).
    pub fn start(&self, id: &str, plugged: Vec<Plugged>, netns: Option<PathBuf>) {
        if plugged.is_empty() && netns.is_none() {
            return;
        }
        let (done, rx) = watch::channel(false);
        let earlier = self
            .pending
            .lock()
            .unwrap()
            .insert(id.to_string(), rx.clone());
        let pending = self.pending.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            // A teardown of the same container still under way finishes first.
            if let Some(mut e) = earlier {
                let _ = e.wait_for(|d| *d).await;
            }
            for (name, bridge, ep) in plugged.iter().rev() {
                if let Err(e) = bridge.delete_veth(&id, ep).await {
                    tracing::warn!("container {id}: deleting the veth on {name}: {e}");
                }
            }
            if let Some(ns) = &netns {
                if let Err(e) = crate::network::remove_netns(ns) {
                    tracing::warn!("container {id}: removing netns: {e}");
                }
            }
            let mut map = pending.lock().unwrap();
            if map.get(&id).is_some_and(|r| r.same_channel(&rx)) {
                map.remove(&id);
            }
            drop(map);
            let _ = done.send(true);
        });
    }

    /// Wait until container `id` has no teardown under way.
    pub async fn wait_for(&self, id: &str) {
        let rx = self.pending.lock().unwrap().get(id).cloned();
        if let Some(mut rx) = rx {
            let _ = rx.wait_for(|d| *d).await;
        }
    }

    /// Wait until no teardown is under way.
    pub async fn wait_all(&self) {
        let all: Vec<_> = self.pending.lock().unwrap().values().cloned().collect();
        for mut rx in all {
            let _ = rx.wait_for(|d| *d).await;
        }
    }
}
