//! HEALTHCHECK, the clock: one task per running container that has a healthcheck, asleep
//! between probes, running each probe as an exec in the container (with exec's events, as
//! Docker's) and killing it at its timeout. Start, a restarted daemon taking a container back,
//! and unpause start the task; exit and pause stop it. The rules it applies are `health`'s.

use super::container::Container;
use super::exec::{Exec, ExecState};
use super::health::{self, Probe, ProbeOutput};
use super::{now_rfc3339, Daemon};
use crate::wire::types::{ExecConfig, HealthcheckResult};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

/// The running monitor of one container: set `stop` and it ends, killing a probe under way.
pub struct HealthTask {
    stop: watch::Sender<bool>,
    done: tokio::task::JoinHandle<()>,
}

/// How one probe ended.
enum Ended {
    Exited(std::process::ExitStatus),
    TimedOut,
    Stopped,
    Failed(String),
}

impl Daemon {
    /// At start (and when a restarted daemon takes a running container back): the health
    /// state starts over and probes begin. Nothing happens for a container without a probe.
    pub(super) fn health_start(self: &Arc<Self>, c: &Arc<Container>) {
        let rec = c.snapshot();
        if probe_of(&rec).is_none() {
            return;
        }
        self.health_stop(c);
        let _ = c.update(|r| r.state.health = Some(health::restarted(r.state.health.take())));
        self.health_resume(c);
    }

    /// Probes (again) for a running, unpaused container, without resetting its state.
    pub(super) fn health_resume(self: &Arc<Self>, c: &Arc<Container>) {
        let rec = c.snapshot();
        let Some(probe) = probe_of(&rec) else {
            return;
        };
        if !rec.state.running || rec.state.paused || rec.state.health.is_none() {
            return;
        }
        let mut slot = c.health.lock().unwrap();
        if slot.is_some() {
            return;
        }
        let (stop, stopped) = watch::channel(false);
        let done = tokio::spawn(monitor(self.clone(), c.clone(), probe, stopped));
        *slot = Some(HealthTask { stop, done });
    }

    /// The container stopped or is being paused: end the probes, and report unhealthy from
    /// now on, as Docker does. The handle lets a caller wait until a probe under way is dead.
    pub(super) fn health_stop(&self, c: &Container) -> Option<tokio::task::JoinHandle<()>> {
        let task = c.health.lock().unwrap().take()?;
        // Set before the record is touched: a result the monitor records after this sees it.
        let _ = task.stop.send(true);
        let _ = c.update(|r| {
            if let Some(h) = r.state.health.as_mut() {
                health::monitor_stopped(h);
            }
        });
        Some(task.done)
    }

    /// Run one probe as an exec in the container; None when stopped meanwhile.
    async fn probe_once(
        &self,
        c: &Container,
        probe: &Probe,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<HealthcheckResult> {
        let start = now_rfc3339();
        let failed = |output: String| HealthcheckResult {
            start: start.clone(),
            end: now_rfc3339(),
            exit_code: -1,
            output,
        };
        let rec = c.snapshot();
        let exec = Arc::new(Exec {
            id: crate::util::id::random_id(),
            container_id: c.id.clone(),
            config: ExecConfig {
                attach_stdout: true,
                attach_stderr: true,
                cmd: probe.args.clone(),
                user: rec.config.user.clone(),
                working_dir: rec.config.working_dir.clone(),
                ..Default::default()
            },
            state: Mutex::new(ExecState::default()),
            console: Mutex::new(None),
        });
        self.execs
            .lock()
            .unwrap()
            .insert(exec.id.clone(), exec.clone());
        self.container_event(
            &rec,
            &format!("exec_create: {}", probe.args.join(" ")),
            &[("execID", exec.id.clone())],
        );
        let result = match self.exec_spawn(&exec, None).await {
            Ok(spawned) => {
                let mut child = spawned.child;
                let output = Mutex::new(ProbeOutput::default());
                let stdout = child.stdout.take();
                let stderr = child.stderr.take();
                let ended = {
                    let work = async {
                        let (st, _, _) = tokio::join!(
                            child.wait(),
                            drain(stdout, &output),
                            drain(stderr, &output)
                        );
                        st
                    };
                    tokio::select! {
                        st = work => match st {
                            Ok(st) => Ended::Exited(st),
                            Err(e) => Ended::Failed(format!("waiting for the health check: {e}")),
                        },
                        _ = tokio::time::sleep(probe.timeout) => Ended::TimedOut,
                        _ = stop.wait_for(|s| *s) => Ended::Stopped,
                    }
                };
                let status = match ended {
                    Ended::Exited(st) => Some(st),
                    _ => kill_probe(&mut child).await,
                };
                if let Some(st) = status {
                    self.exec_finished(&exec, st);
                }
                let text = output.lock().unwrap().text();
                match ended {
                    Ended::Stopped => None,
                    Ended::Failed(e) => Some(failed(e)),
                    Ended::TimedOut => Some(failed(health::timeout_output(probe.timeout, &text))),
                    Ended::Exited(_) => Some(HealthcheckResult {
                        start: start.clone(),
                        end: now_rfc3339(),
                        exit_code: exec.state.lock().unwrap().exit_code.unwrap_or(-1),
                        output: text,
                    }),
                }
            }
            Err(e) => Some(failed(e.to_string())),
        };
        self.execs.lock().unwrap().remove(&exec.id);
        result
    }
}

/// The container's probe, from its merged healthcheck and its `Config.Shell`.
fn probe_of(rec: &super::container::Record) -> Option<Probe> {
    let shell: Option<Vec<String>> = rec
        .config
        .extra
        .get("Shell")
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    health::probe(rec.config.healthcheck.as_ref(), shell.as_deref())
}

/// Since the container's start, as Docker measures the start period.
fn since_started(started_at: &str) -> Duration {
    chrono::DateTime::parse_from_rfc3339(started_at)
        .ok()
        .and_then(|t| {
            (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                .to_std()
                .ok()
        })
        .unwrap_or_default()
}

/// The monitor's life: wait, probe, record, until stopped.
async fn monitor(
    daemon: Arc<Daemon>,
    c: Arc<Container>,
    probe: Probe,
    mut stop: watch::Receiver<bool>,
) {
    let started_at = c.snapshot().state.started_at;
    loop {
        let wait = {
            let rec = c.record.lock().unwrap();
            let h = rec.state.health.clone().unwrap_or_default();
            health::next_wait(&probe, since_started(&started_at), &h)
        };
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let since = since_started(&started_at);
        let Some(result) = daemon.probe_once(&c, &probe, &mut stop).await else {
            return;
        };
        let mut changed = None;
        let _ = c.update(|r| {
            // Stopped while the result was on its way: it belongs to a monitor that is over.
            if *stop.borrow() {
                return;
            }
            if let Some(h) = r.state.health.as_mut() {
                changed = health::record(h, &probe, result, since);
            }
        });
        if let Some(status) = changed {
            daemon.container_event(&c.snapshot(), &format!("health_status: {status}"), &[]);
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// Read a probe's output stream to its end into the shared, capped buffer.
async fn drain<R: tokio::io::AsyncRead + Unpin>(stream: Option<R>, out: &Mutex<ProbeOutput>) {
    let Some(mut s) = stream else {
        return;
    };
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 {
            break;
        }
        out.lock().unwrap().push(&buf[..n]);
    }
}

/// Kill a probe that ran too long, and wait for it. The exec is `berth nsexec`, which forks
/// the probe into the container and waits for it: the probe and everything it started get
/// SIGKILL (Docker kills only the probe, and a shell's children live on in the container);
/// nsexec itself then exits, or gets SIGKILL too when it does not within a second.
async fn kill_probe(child: &mut tokio::process::Child) -> Option<std::process::ExitStatus> {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    if let Ok(Some(st)) = child.try_wait() {
        return Some(st);
    }
    let pid = child.id()? as i32;
    let tree = descendants(pid);
    for p in &tree {
        let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
    }
    if tree.is_empty() {
        // Not forked yet: nsexec is all there is.
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    match tokio::time::timeout(Duration::from_secs(1), child.wait()).await {
        Ok(st) => st.ok(),
        Err(_) => {
            let _ = child.start_kill();
            child.wait().await.ok()
        }
    }
}

/// Every process below `pid`, from the kernel's `children` lists.
fn descendants(pid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for c in list
                .split_whitespace()
                .filter_map(|c| c.parse::<i32>().ok())
            {
                if !found.contains(&c) {
                    found.push(c);
                    queue.push(c);
                }
            }
        }
    }
    found
}
