//! `stop` (the stop signal, then SIGKILL after the timeout, as Docker does) and `kill` (a
//! signal to the container's init; with SIGKILL the answer waits for the container to be
//! dead, so `kill` then `rm` never finds it running).

use super::error::{DaemonError, Result};
use super::Daemon;

impl Daemon {
    /// `POST /containers/{id}/stop`: the stop signal (the container's, else SIGTERM), then
    /// SIGKILL once `timeout` seconds (the container's StopTimeout, else 10) have passed.
    pub async fn stop(
        &self,
        input: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        let c = self.lookup(input)?;
        // Held throughout, so a stop and a policy restart of the same container never interleave.
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        if !rec.state.running {
            if rec.state.restarting {
                // Waiting to be restarted: stopping it cancels the restart.
                let _ = c.update(|r| {
                    r.manually_stopped = true;
                    r.state.restarting = false;
                    r.state.status = "exited".into();
                });
                return Ok(());
            }
            return Err(DaemonError::NotModified("container already stopped".into()));
        }
        let sig = signal
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .or(rec.config.stop_signal.clone())
            .unwrap_or_else(|| "TERM".into());
        let secs = timeout
            .or_else(|| rec.config.extra.get("StopTimeout").and_then(|v| v.as_i64()))
            .unwrap_or(10);
        let mut rx = c.lifecycle.subscribe();
        let _ = c.update(|r| r.manually_stopped = true);
        if let Err(e) = self.kill(&c.id, &sig).await {
            if c.is_running() {
                return Err(e);
            }
        }
        let stopped = || self.container_event(&c.snapshot(), "stop", &[]);
        if secs < 0 {
            // A negative timeout waits as long as it takes, as Docker's does.
            let _ = rx.wait_for(|l| !l.running).await;
            stopped();
            return Ok(());
        }
        let grace = std::time::Duration::from_secs(secs as u64);
        if tokio::time::timeout(grace, rx.wait_for(|l| !l.running))
            .await
            .is_ok()
        {
            stopped();
            return Ok(());
        }
        let _ = self.kill(&c.id, "KILL").await;
        let mut rx = c.lifecycle.subscribe();
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            rx.wait_for(|l| !l.running),
        )
        .await
        .map(|_| stopped())
        .map_err(|_| DaemonError::System(format!("container {} did not stop after SIGKILL", c.id)))
    }

    /// `POST /containers/{id}/kill` from a client: a person's kill, which restart policies
    /// respect (unlike the daemon's own kills, at shutdown or for `rm -f`).
    pub async fn kill_by_user(&self, input: &str, signal: &str) -> Result<()> {
        let c = self.lookup(input)?;
        parse_signal(signal)?;
        if c.is_running() {
            let _ = c.update(|r| r.manually_stopped = true);
        }
        let mut lifecycle = c.lifecycle.subscribe();
        let exits = lifecycle.borrow_and_update().exits;
        self.kill(input, signal).await?;
        if parse_signal(signal)? == nix::sys::signal::Signal::SIGKILL {
            // As Docker's kill: SIGKILL answers once the container is stopped, so `kill` then
            // `rm` (or a look at State.ExitCode) never meets it still running.
            let stopped = lifecycle.wait_for(|l| l.exits > exits || l.removed);
            if tokio::time::timeout(std::time::Duration::from_secs(10), stopped)
                .await
                .is_err()
            {
                return Err(DaemonError::System(format!(
                    "Cannot kill container: {input}: the container did not stop within 10 seconds of SIGKILL"
                )));
            }
        }
        Ok(())
    }

    /// Send a signal to the container's init.
    pub async fn kill(&self, input: &str, signal: &str) -> Result<()> {
        let c = self.lookup(input)?;
        let sig = parse_signal(signal)?;
        let rec = c.snapshot();
        if !rec.state.running || rec.state.pid <= 0 {
            return Err(DaemonError::Conflict(format!(
                "Cannot kill container: {input}: Container {} is not running",
                rec.id
            )));
        }
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(rec.state.pid as i32), sig)
            .map_err(|e| DaemonError::system(&format!("Cannot kill container: {input}"), e))?;
        self.container_event(&rec, "kill", &[("signal", (sig as i32).to_string())]);
        if rec.state.paused {
            // A frozen process only acts on its signal once thawed.
            let cg = self.cgroups.open(&rec.id);
            let _ = tokio::task::spawn_blocking(move || cg.set_frozen(false)).await;
            let _ = c.update(|r| {
                r.state.paused = false;
                r.state.status = "running".into();
            });
        }
        Ok(())
    }
}

/// `KILL`, `SIGKILL`, `9`: the forms `docker kill -s` accepts.
pub fn parse_signal(s: &str) -> Result<nix::sys::signal::Signal> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(nix::sys::signal::Signal::SIGKILL);
    }
    crate::runtime::signal::parse(s)
        .ok_or_else(|| DaemonError::InvalidParameter(format!("Invalid signal: {s}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_in_every_docker_form() {
        use nix::sys::signal::Signal;
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("BOGUS").is_err());
    }
}
