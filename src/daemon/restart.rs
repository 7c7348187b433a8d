//! Restart policies (`--restart no|always|unless-stopped|on-failure[:N]`) and Docker's
//! back-off between restarts, which containers start again with the daemon, and the
//! `restart` verb itself (a stop, then a start).

use super::container::{Container, Record};
use super::error::{DaemonError, Result};
use super::Daemon;
use crate::wire::types::HostConfig;
use std::sync::Arc;

/// `--restart`: what the daemon does when a container's process ends on its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RestartPolicy {
    No,
    Always,
    UnlessStopped,
    /// Restart after a non-zero exit, at most this many times (0: no limit).
    OnFailure(i64),
}

impl RestartPolicy {
    pub fn of(hc: &HostConfig) -> Result<RestartPolicy> {
        let (name, max) = (
            hc.restart_policy.name.as_str(),
            hc.restart_policy.maximum_retry_count,
        );
        if max < 0 {
            return Err(DaemonError::InvalidParameter(
                "invalid restart policy: maximum retry count cannot be negative".into(),
            ));
        }
        let policy = match name {
            "" | "no" => RestartPolicy::No,
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            "on-failure" => RestartPolicy::OnFailure(max),
            other => {
                return Err(DaemonError::InvalidParameter(format!(
                    "invalid restart policy '{other}'"
                )))
            }
        };
        if max != 0 && !matches!(policy, RestartPolicy::OnFailure(_)) {
            return Err(DaemonError::InvalidParameter(
                "invalid restart policy: maximum retry count can only be used with 'on-failure'"
                    .into(),
            ));
        }
        Ok(policy)
    }

    /// Docker's decision after an exit with `code`, the container having been restarted
    /// `count` times, `stopped` saying whether a person stopped or killed it.
    pub fn should_restart(self, code: i64, count: i64, stopped: bool) -> bool {
        match self {
            _ if stopped => false,
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure(max) => code != 0 && (max == 0 || count < max),
        }
    }
}

impl Daemon {
    /// Start the container again after a back-off that doubles with each restart (100 ms,
    /// 200 ms, … capped at a minute), as Docker's restart manager does.
    pub(super) fn schedule_restart(self: &Arc<Self>, c: &Arc<Container>, count: i64) {
        let delay = std::time::Duration::from_millis((100u64 << count.clamp(0, 10)).min(60_000));
        let _ = c.update(|r| {
            r.state.restarting = true;
            r.state.status = "restarting".into();
        });
        let daemon = self.clone();
        let container = c.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let rec = container.snapshot();
            if container.lifecycle.borrow().removed || rec.manually_stopped || !rec.state.restarting
            {
                return;
            }
            let _ = container.update(|r| r.restart_count += 1);
            if let Err(e) = daemon.start_for(&container.id, true).await {
                tracing::warn!("restarting {}: {e}", &container.id[..12]);
                let _ = container.update(|r| r.state.status = "exited".into());
            }
        });
    }
}

/// On daemon start: `always` containers start whatever their state, `unless-stopped` ones
/// unless a person stopped them, as Docker's daemon does at boot.
pub fn starts_at_boot(rec: &Record) -> bool {
    if rec.state.running {
        return false;
    }
    match RestartPolicy::of(&rec.host_config) {
        Ok(RestartPolicy::Always) => true,
        Ok(RestartPolicy::UnlessStopped) => !rec.manually_stopped,
        _ => false,
    }
}

impl Daemon {
    /// `POST /containers/{id}/restart`: stop if running, then start.
    pub async fn restart(
        self: &Arc<Self>,
        input: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        match self.stop(input, timeout, signal).await {
            Ok(()) | Err(DaemonError::NotModified(_)) => {}
            Err(e) => return Err(e),
        }
        self.start(input).await?;
        if let Ok(c) = self.lookup(input) {
            self.container_event(&c.snapshot(), "restart", &[]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_decide_like_docker() {
        use RestartPolicy::*;
        assert!(!No.should_restart(1, 0, false));
        assert!(Always.should_restart(0, 5, false));
        assert!(!Always.should_restart(0, 5, true));
        assert!(UnlessStopped.should_restart(0, 0, false));
        assert!(OnFailure(0).should_restart(1, 100, false));
        assert!(!OnFailure(0).should_restart(0, 0, false));
        assert!(OnFailure(2).should_restart(3, 1, false));
        assert!(!OnFailure(2).should_restart(3, 2, false));
        let policy = |name: &str, max: i64| HostConfig {
            restart_policy: crate::wire::types::RestartPolicyConfig {
                name: name.into(),
                maximum_retry_count: max,
            },
            ..Default::default()
        };
        assert_eq!(
            RestartPolicy::of(&policy("on-failure", 3)).unwrap(),
            OnFailure(3)
        );
        assert!(RestartPolicy::of(&policy("always", 3)).is_err());
        let hc = policy("sometimes", 0);
        assert_eq!(
            RestartPolicy::of(&hc).unwrap_err().to_string(),
            "invalid restart policy 'sometimes'"
        );
    }
}
