//! What berth-runc keeps of a container between its commands: `<root>/<id>/state.json` (the
//! plan, the init's pid and start time, the cgroup), and `exec.fifo`, the pipe init waits on
//! until `start`. A container's status is never stored; it is read off the kernel each time,
//! as runc does: no init (or another process with its pid) is stopped, a fifo still there is
//! created, a frozen cgroup is paused, anything else is running.

use super::plan::Plan;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StateError {
    #[error("container does not exist")]
    NotExist,
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("invalid container id {0:?}: only letters, digits, '_', '+', '-' and '.'")]
    InvalidId(String),
    #[error("{what}: {err}")]
    Io { what: String, err: std::io::Error },
    #[error("reading {path}: {err}")]
    Corrupt { path: PathBuf, err: String },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StateError {
    let what = what.into();
    move |err| StateError::Io { what, err }
}

/// The default `--root`, as runc's is /run/runc.
pub const DEFAULT_ROOT: &str = "/run/berth-runc";
pub const FIFO: &str = "exec.fifo";
pub const STATE: &str = "state.json";
pub const SECCOMP: &str = "seccomp.bpf";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    pub pid: i32,
    /// Field 22 of /proc/<pid>/stat when init started: a pid reused by another process after
    /// init died has another.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub created: String,
    pub plan: Plan,
}

/// runc's rule for ids: they name a directory and a cgroup.
pub fn check_id(id: &str) -> Result<(), StateError> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidId(id.to_string()))
    }
}

/// Field 22 (starttime) and field 3 (state) of /proc/<pid>/stat.
pub fn proc_stat(pid: i32) -> Option<(u64, char)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: count from the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((start, state))
}

impl Container {
    pub fn dir(root: &Path, id: &str) -> PathBuf {
        root.join(id)
    }

    pub fn load(root: &Path, id: &str) -> Result<Container, StateError> {
        check_id(id)?;
        let path = Self::dir(root, id).join(STATE);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StateError::NotExist),
            Err(e) => return Err(io(format!("reading {}", path.display()))(e)),
        };
        serde_json::from_slice(&text).map_err(|e| StateError::Corrupt {
            path,
            err: e.to_string(),
        })
    }

    /// state.json, written whole or not at all.
    pub fn save(&self, root: &Path) -> Result<(), StateError> {
        let path = Self::dir(root, &self.id).join(STATE);
        let json = serde_json::to_vec(self).map_err(|e| StateError::Corrupt {
            path: path.clone(),
            err: e.to_string(),
        })?;
        crate::util::fsutil::write_atomic(&path, &json)
            .map_err(io(format!("writing {}", path.display())))
    }

    /// Whether init is still the process this container started (a zombie is not).
    pub fn init_alive(&self) -> bool {
        self.pid > 0
            && matches!(proc_stat(self.pid), Some((start, state)) if start == self.start_time && state != 'Z' && state != 'X')
    }

    pub fn cgroup(&self) -> Option<crate::cgroups::Cgroup> {
        crate::cgroups::Cgroup::at_path(&self.plan.cgroups_path).ok()
    }

    pub fn status(&self, root: &Path) -> Status {
        if !self.init_alive() {
            return Status::Stopped;
        }
        if Self::dir(root, &self.id).join(FIFO).exists() {
            return Status::Created;
        }
        if self.cgroup().is_some_and(|c| c.is_frozen()) {
            return Status::Paused;
        }
        Status::Running
    }

    /// The state every OCI runtime prints (`state`) and gives hooks on stdin.
    pub fn oci_state(&self, status: Status) -> serde_json::Value {
        let pid = if status == Status::Stopped {
            0
        } else {
            self.pid
        };
        serde_json::json!({
            "ociVersion": "1.1.0",
            "id": self.id,
            "pid": pid,
            "status": status.as_str(),
            "bundle": self.bundle,
            "rootfs": self.plan.rootfs,
            "created": self.created,
            "owner": "",
            "annotations": self.plan.annotations,
        })
    }
}

/// The ids under `root` that have a state.json, sorted.
pub fn list(root: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join(STATE).exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    ids
}
