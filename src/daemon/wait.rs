//! `wait`: the exit code of the next exit, of the current run, or at removal (Docker's
//! `condition=next-exit|not-running|removed`), from the container's lifecycle watch.

use super::container::Lifecycle;
use super::error::{DaemonError, Result};
use super::Daemon;
use crate::wire::types::{WaitError, WaitResponse};
use std::sync::Arc;

impl Daemon {
    /// `POST /containers/{id}/wait`: resolves the body of the response; the server sends the
    /// headers before awaiting it, as the docker CLI requires.
    pub fn wait(
        self: &Arc<Self>,
        input: &str,
        condition: &str,
    ) -> Result<impl std::future::Future<Output = WaitResponse> + Send + 'static> {
        let c = self.lookup(input)?;
        let condition = match condition {
            "" | "not-running" => Condition::NotRunning,
            "next-exit" => Condition::NextExit,
            "removed" => Condition::Removed,
            other => {
                return Err(DaemonError::InvalidParameter(format!(
                    "invalid condition: \"{other}\""
                )))
            }
        };
        let mut rx = c.lifecycle.subscribe();
        let seen = rx.borrow().exits;
        Ok(async move {
            let done = |l: &Lifecycle| match condition {
                Condition::NotRunning => !l.running,
                Condition::NextExit => l.exits > seen,
                Condition::Removed => l.removed,
            };
            let code = match rx.wait_for(done).await {
                Ok(l) => l.exit_code,
                // The container went away with its sender: it was removed.
                Err(_) => c.lifecycle.borrow().exit_code,
            };
            WaitResponse {
                status_code: code,
                error: None::<WaitError>,
            }
        })
    }
}

#[derive(Clone, Copy)]
pub(super) enum Condition {
    NotRunning,
    NextExit,
    Removed,
}
