//! While a container runs: its output relayed to attached clients, its exit taken from the
//! shim (or from `exit.json` when the shim went meanwhile), and the teardown that follows.
//! `reattach` is live restore: a restarted daemon reconnects to the shims it finds.

use super::container::{Container, Output};
use super::restart::*;
use super::start::*;
use super::{now_rfc3339, Daemon};
use crate::runtime::client::{self as shim, ShimEvent};
use crate::runtime::spec::ExitStatus;
use std::sync::Arc;

impl Daemon {
    /// Relay a running container's output to attached clients until its shim reports the
    /// exit (or goes away, when `exit.json` tells), then finish it.
    pub(super) fn monitor(self: &Arc<Self>, c: &Arc<Container>, mut events: shim::ShimEvents) {
        let daemon = self.clone();
        let container = c.clone();
        tokio::spawn(async move {
            let mut exit = None;
            while let Some(ev) = events.next().await {
                match ev {
                    ShimEvent::Stdout(b) => {
                        container.output.send(Output::Stdout(b));
                    }
                    ShimEvent::Stderr(b) => {
                        container.output.send(Output::Stderr(b));
                    }
                    ShimEvent::Exited(st) => {
                        exit = Some(st);
                        break;
                    }
                }
            }
            let status = exit
                .or_else(|| shim::read_exit(&daemon.shim_dir(&container.id)))
                .unwrap_or(ExitStatus {
                    exit_code: 255,
                    finished_at: now_rfc3339(),
                    oom_killed: false,
                });
            daemon.finish(&container, status).await;
        });
    }

    /// The process is gone: tear down, record the exit, wake waiters, and honour `--rm`.
    pub(super) async fn finish(self: &Arc<Self>, c: &Arc<Container>, status: ExitStatus) {
        let t0 = std::time::Instant::now();
        // Probes end with the process; they start again with the next start.
        self.health_stop(c);
        let rec = c.snapshot();
        let acquired = Acquired {
            rootfs: true,
            cgroup: true,
            // Only its own pinned namespace: a `container:<x>` one is x's to remove.
            netns: rec
                .netns
                .clone()
                .filter(|p| *p == self.network.netns_path(&c.id)),
            plugged: self.plugged_of(&rec),
            primary: rec.primary_network(),
            dns: true,
            volumes: true,
            ports: rec.ports.clone(),
            shim_dir: Some(self.shim_dir(&c.id)),
            shm: super::namespaces::own_shm(&rec, &c.dir),
        };
        *c.stdin.lock().await = None;
        // Read before the cgroup goes: the kernel counts OOM kills there.
        let oom_killed = status.oom_killed || self.cgroups.open(&c.id).oom_killed();
        self.release(&c.id, &acquired).await;
        tracing::debug!("exit {}: released in {:?}", &c.id[..12], t0.elapsed());
        let code = status.exit_code as i64;
        let policy = RestartPolicy::of(&rec.host_config).unwrap_or(RestartPolicy::No);
        let shutting_down = self.shutting_down.load(std::sync::atomic::Ordering::SeqCst);
        let restart = !rec.host_config.auto_remove
            && !shutting_down
            && policy.should_restart(code, rec.restart_count, rec.manually_stopped);
        // Restarting from the moment the exit is recorded, as Docker's state is: a client
        // woken by this exit (`wait`) then sees a restarting container, which `rm` refuses.
        let _ = c.update(|r| {
            r.state.status = if restart { "restarting" } else { "exited" }.into();
            r.state.restarting = restart;
            r.state.running = false;
            r.state.paused = false;
            r.state.pid = 0;
            r.state.exit_code = code;
            r.state.oom_killed = oom_killed;
            r.state.finished_at = status.finished_at.clone();
            for a in r.networks.values_mut() {
                a.endpoint = None;
            }
            r.netns = None;
            r.rootfs = None;
            r.ports.clear();
        });
        let after = c.snapshot();
        if oom_killed {
            self.container_event(&after, "oom", &[]);
        }
        self.container_event(&after, "die", &[("exitCode", code.to_string())]);
        c.output.send(Output::Closed);
        c.lifecycle.send_modify(|l| {
            l.running = false;
            l.exits += 1;
            l.exit_code = code;
        });
        if rec.host_config.auto_remove {
            if let Err(e) = self.remove(&c.id, true, true).await {
                tracing::warn!("auto-removing {}: {e}", c.id);
            }
            return;
        }
        if restart {
            self.schedule_restart(c, rec.restart_count);
        }
    }

    /// A record says running, and this daemon just started: the previous one died (or was
    /// killed) while the container ran. If its shim is still there, reconnect to it and carry
    /// on as if nothing happened; if the container exited meanwhile, record the real exit code
    /// and time from `exit.json` and take everything down.
    pub(super) async fn reattach(self: &Arc<Self>, c: &Arc<Container>) {
        let dir = self.shim_dir(&c.id);
        if shim::read_exit(&dir).is_none() && shim::shim_alive(&dir) {
            match shim::reconnect(&dir).await {
                Ok((events, stdin)) => {
                    *c.stdin.lock().await = Some(stdin);
                    tracing::info!("container {}: reattached to its shim", &c.id[..12]);
                    self.monitor(c, events);
                    // Its names and its resolver lived in the old daemon: make them again.
                    self.names_changed(c).await;
                    // As Docker's restore: the health state starts over, unless paused.
                    if !c.snapshot().state.paused {
                        self.health_start(c);
                    }
                    return;
                }
                Err(e) => {
                    tracing::warn!("container {}: reconnecting to the shim: {e}", &c.id[..12])
                }
            }
        }
        let rec = c.snapshot();
        let status = match shim::read_exit(&dir) {
            Some(st) => st,
            None => {
                // No shim and no exit record: nothing can report this container's end, so
                // make sure it has one.
                if rec.state.pid > 0 {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(rec.state.pid as i32),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                ExitStatus {
                    exit_code: 137,
                    finished_at: now_rfc3339(),
                    oom_killed: false,
                }
            }
        };
        self.finish(c, status).await;
    }
}
