//! `exec`: a second process in a running container. The daemon keeps each exec instance
//! (created, then started once), starts `berth nsexec` with the exec's stdio as pipes, and
//! records its exit code for `GET /exec/{id}/json`.

use super::error::{DaemonError, Result};
use super::hostconfig::merge_env;
use super::Daemon;
use crate::runtime::nsexec::ExecSpec;
use crate::wire::types::ExecConfig;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default, Clone)]
pub struct ExecState {
    pub started: bool,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub pid: i64,
}

pub struct Exec {
    pub id: String,
    pub container_id: String,
    pub config: ExecConfig,
    pub state: Mutex<ExecState>,
    /// With `-t`, the terminal's master end, for resizes.
    pub console: Mutex<Option<OwnedFd>>,
}

/// A started exec: `berth nsexec`, and with `-t` the master end of its terminal.
pub struct Spawned {
    pub child: tokio::process::Child,
    pub terminal: Option<OwnedFd>,
}

impl Exec {
    pub fn inspect(&self) -> serde_json::Value {
        let st = self.state.lock().unwrap().clone();
        serde_json::json!({
            "ID": self.id,
            "Running": st.running,
            "ExitCode": st.exit_code,
            "ProcessConfig": {
                "tty": self.config.tty,
                "entrypoint": self.config.cmd.first().cloned().unwrap_or_default(),
                "arguments": self.config.cmd.iter().skip(1).collect::<Vec<_>>(),
                "privileged": self.config.privileged,
                "user": self.config.user,
            },
            "OpenStdin": self.config.attach_stdin,
            "OpenStderr": self.config.attach_stderr,
            "OpenStdout": self.config.attach_stdout,
            "CanRemove": false,
            "ContainerID": self.container_id,
            "DetachKeys": self.config.detach_keys,
            "Pid": st.pid,
        })
    }
}

impl Daemon {
    /// `POST /containers/{id}/exec`.
    pub fn exec_create(&self, input: &str, config: ExecConfig) -> Result<String> {
        let c = self.lookup(input)?;
        if !c.is_running() {
            return Err(DaemonError::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        if c.snapshot().state.paused {
            return Err(DaemonError::Conflict(format!(
                "Container {} is paused, unpause the container before exec",
                c.id
            )));
        }
        if config.cmd.is_empty() {
            return Err(DaemonError::InvalidParameter(
                "No exec command specified".into(),
            ));
        }
        if !config.detach_keys.is_empty()
            && crate::wire::detach::parse(&config.detach_keys).is_err()
        {
            // Docker's words on this path (attach says "detach keys").
            return Err(DaemonError::InvalidParameter(format!(
                "Invalid escape keys ({}) provided",
                config.detach_keys
            )));
        }
        let id = crate::util::id::random_id();
        self.container_event(
            &c.snapshot(),
            &format!("exec_create: {}", config.cmd.join(" ")),
            &[("execID", id.clone())],
        );
        let exec = Arc::new(Exec {
            id: id.clone(),
            container_id: c.id.clone(),
            config,
            state: Mutex::new(ExecState::default()),
            console: Mutex::new(None),
        });
        self.execs.lock().unwrap().insert(id.clone(), exec);
        Ok(id)
    }

    pub fn exec_get(&self, id: &str) -> Result<Arc<Exec>> {
        let map = self.execs.lock().unwrap();
        if let Some(e) = map.get(id) {
            return Ok(e.clone());
        }
        let mut found = map
            .values()
            .filter(|e| !id.is_empty() && e.id.starts_with(id));
        match (found.next(), found.next()) {
            (Some(e), None) => Ok(e.clone()),
            _ => Err(DaemonError::NotFound(format!(
                "No such exec instance: {id}"
            ))),
        }
    }

    /// Start the exec's process: `berth nsexec` with piped stdio (stdin only when attached);
    /// with `-t`, its terminal is made in the container and its master end comes back to us.
    pub async fn exec_spawn(
        &self,
        exec: &Arc<Exec>,
        console_size: Option<(u16, u16)>,
    ) -> Result<Spawned> {
        {
            let mut st = exec.state.lock().unwrap();
            if st.started {
                return Err(DaemonError::Conflict(format!(
                    "Error: Exec command {} has already run",
                    exec.id
                )));
            }
            st.started = true;
        }
        let c = self.lookup(&exec.container_id)?;
        let rec = c.snapshot();
        if !rec.state.running {
            return Err(DaemonError::Conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        let rootfs = rec.rootfs.clone().unwrap_or_default();
        let user_spec = if exec.config.user.is_empty() {
            &rec.config.user
        } else {
            &exec.config.user
        };
        let user = super::start::container_user(&rootfs, user_spec, &rec.host_config)?;
        let mut env = vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            format!("HOSTNAME={}", rec.config.hostname),
        ];
        if exec.config.tty {
            env.push("TERM=xterm".into());
        }
        env = merge_env(&env, rec.config.env.as_deref().unwrap_or(&[]));
        env = merge_env(&env, exec.config.env.as_deref().unwrap_or(&[]));
        if !env.iter().any(|e| e.starts_with("HOME=")) {
            env.push(format!("HOME={}", user.home));
        }
        let cwd = [&exec.config.working_dir, &rec.config.working_dir]
            .into_iter()
            .find(|w| !w.is_empty())
            .cloned()
            .unwrap_or_else(|| "/".into());
        let security = super::hostconfig::security_opts(&rec.host_config)?;
        let spec = ExecSpec {
            pid: rec.state.pid as i32,
            cgroup_paths: self.cgroups.open(&rec.id).paths().to_vec(),
            args: exec.config.cmd.clone(),
            env,
            cwd,
            uid: user.uid,
            gid: user.gid,
            additional_gids: user.additional_gids,
            privileged: exec.config.privileged || rec.host_config.privileged,
            capabilities: super::hostconfig::container_caps(&rec.host_config).unwrap_or(None),
            tty: exec.config.tty,
            console_size,
            seccomp_filter: self.seccomp_filter(&security, &rec.host_config)?,
            no_new_privileges: security.no_new_privileges,
        };
        let json = serde_json::to_string(&spec)
            .map_err(|e| DaemonError::system("encoding the exec", e))?;
        let piped = std::process::Stdio::piped;
        let mut cmd = tokio::process::Command::new(&self.exe);
        cmd.arg("nsexec")
            .arg(json)
            .stdin(if exec.config.attach_stdin && !exec.config.tty {
                piped()
            } else {
                std::process::Stdio::null()
            })
            .stdout(piped())
            .stderr(piped());
        let console = if exec.config.tty {
            let (ours, theirs) = std::os::unix::net::UnixStream::pair()
                .map_err(|e| DaemonError::system("creating the console socket", e))?;
            let theirs_fd = std::os::fd::AsRawFd::as_raw_fd(&theirs);
            // SAFETY: between fork and exec only dup2 runs, which is async-signal-safe; it
            // puts the socket at the fd nsexec expects, without CLOEXEC.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::dup2(theirs_fd, crate::runtime::nsexec::CONSOLE_FD) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            Some((ours, theirs))
        } else {
            None
        };
        let child = cmd
            .spawn()
            .map_err(|e| DaemonError::system("starting the exec", e))?;
        let terminal = match console {
            Some((ours, theirs)) => {
                drop(theirs);
                let got = tokio::task::spawn_blocking(move || {
                    crate::runtime::console::recv_fd(ours.as_fd())
                })
                .await
                .map_err(|e| DaemonError::system("receiving the exec's terminal", e))?
                .map_err(|e| DaemonError::system("receiving the exec's terminal", e))?;
                // No terminal means nsexec failed before making one; its stderr says why.
                if let Some(m) = &got {
                    let copy = m
                        .try_clone()
                        .map_err(|e| DaemonError::system("keeping the exec's terminal", e))?;
                    *exec.console.lock().unwrap() = Some(copy);
                }
                got
            }
            None => None,
        };
        {
            let mut st = exec.state.lock().unwrap();
            st.running = true;
            st.pid = child.id().map(|p| p as i64).unwrap_or(0);
        }
        self.container_event(
            &rec,
            &format!("exec_start: {}", exec.config.cmd.join(" ")),
            &[("execID", exec.id.clone())],
        );
        Ok(Spawned { child, terminal })
    }

    /// `POST /exec/{id}/resize`.
    pub fn exec_resize(&self, id: &str, rows: u16, cols: u16) -> Result<()> {
        let exec = self.exec_get(id)?;
        if !exec.state.lock().unwrap().running {
            return Err(DaemonError::Conflict(format!(
                "Exec {} is not running",
                exec.id
            )));
        }
        if let Some(m) = exec.console.lock().unwrap().as_ref() {
            crate::runtime::console::set_size(m.as_fd(), rows, cols)
                .map_err(|e| DaemonError::system("resizing the terminal", e))?;
        }
        Ok(())
    }

    /// Record an exec's end.
    pub fn exec_finished(&self, exec: &Exec, status: std::process::ExitStatus) {
        use std::os::unix::process::ExitStatusExt;
        let code = status
            .code()
            .map(i64::from)
            .or(status.signal().map(|s| 128 + s as i64))
            .unwrap_or(255);
        *exec.console.lock().unwrap() = None;
        {
            let mut st = exec.state.lock().unwrap();
            st.running = false;
            st.exit_code = Some(code);
        }
        if let Ok(c) = self.lookup(&exec.container_id) {
            self.container_event(
                &c.snapshot(),
                "exec_die",
                &[("execID", exec.id.clone()), ("exitCode", code.to_string())],
            );
        }
    }
}
