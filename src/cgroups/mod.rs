//! cgroups (chapter 03): every container gets a cgroup named after its id under one parent
//! (`berth` by default), on cgroup v1 (a directory in each controller's hierarchy) or v2 (one
//! directory in the unified tree). Which one is decided at runtime by what /sys/fs/cgroup is;
//! the version's `Backend` (backend.rs) does the work, one file per controller under v1/ and v2/.

mod backend;
pub mod devices;
pub mod resources;
pub mod stats;
#[cfg(test)]
mod testfs;
mod v1;
mod v2;

pub use resources::{parse_size, Resources};
pub use stats::Stats;

use backend::Backend;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

/// Where the host mounts its cgroups, and where [`CgroupManager::new`] looks.
pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

/// The host's v1 hierarchies as (directory name under /sys/fs/cgroup, mount options), read
/// from /proc/self/mountinfo: `("memory", "memory")`, `("cpu,cpuacct", "cpu,cpuacct")`,
/// `("systemd", "name=systemd")`.
pub fn v1_hierarchies() -> Vec<(String, String)> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let mut post = post.split_whitespace();
            if post.next()? != "cgroup" {
                return None;
            }
            let point = pre.split_whitespace().nth(4)?;
            let name = point.strip_prefix(DEFAULT_ROOT)?.strip_prefix('/')?;
            let opts: Vec<&str> = post
                .nth(1)?
                .split(',')
                .filter(|o| {
                    !matches!(*o, "rw" | "ro")
                        && !o.starts_with("release_agent")
                        && *o != "clone_children"
                })
                .collect();
            (!name.contains('/')).then(|| (name.to_string(), opts.join(",")))
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    V1,
    V2,
}

#[derive(Debug, Error)]
pub enum CgroupError {
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
    #[error("invalid cgroup name {0:?}")]
    InvalidName(String),
    #[error("cgroup {path} still has processes after they were killed")]
    Busy { path: String },
}

pub(crate) fn io_ctx(context: impl Into<String>) -> impl FnOnce(io::Error) -> CgroupError {
    let context = context.into();
    move |source| CgroupError::Io { context, source }
}

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// v2 when the mount point is a cgroup2 filesystem; otherwise (tmpfs with v1 hierarchies) v1.
pub fn detect(mount: &Path) -> io::Result<CgroupVersion> {
    let st = nix::sys::statfs::statfs(mount).map_err(io::Error::from)?;
    if st.filesystem_type().0 as i64 == CGROUP2_SUPER_MAGIC {
        Ok(CgroupVersion::V2)
    } else {
        Ok(CgroupVersion::V1)
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains("..")
        && name.split('/').all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
}

pub struct CgroupManager {
    backend: Arc<dyn Backend>,
    parent: String,
}

/// One container's cgroup: one directory per hierarchy (v1) or a single one (v2).
#[derive(Debug, Clone)]
pub struct Cgroup {
    backend: Arc<dyn Backend>,
    paths: Vec<PathBuf>,
}

impl CgroupManager {
    /// The manager for the host's cgroups, at [`DEFAULT_ROOT`], of the version mounted there.
    pub fn new(parent: &str) -> Result<CgroupManager, CgroupError> {
        let mount = Path::new(DEFAULT_ROOT);
        let version = detect(mount).map_err(io_ctx(format!("inspecting {DEFAULT_ROOT}")))?;
        Self::with_mount(mount, version, parent)
    }

    /// The manager for cgroups of `version` mounted at `mount` (the unified tree of a hybrid
    /// host, or a directory that plays cgroupfs in tests).
    pub fn with_mount(
        mount: &Path,
        version: CgroupVersion,
        parent: &str,
    ) -> Result<CgroupManager, CgroupError> {
        if !valid_name(parent) {
            return Err(CgroupError::InvalidName(parent.to_string()));
        }
        let backend: Arc<dyn Backend> = match version {
            CgroupVersion::V1 => Arc::new(v1::V1::new(mount)),
            CgroupVersion::V2 => Arc::new(v2::V2::new(mount)),
        };
        Ok(CgroupManager {
            backend,
            parent: parent.to_string(),
        })
    }

    pub fn version(&self) -> CgroupVersion {
        self.backend.version()
    }

    /// The parent directories (one per v1 hierarchy, or one).
    pub fn parent_dirs(&self) -> Vec<PathBuf> {
        self.backend.dirs(Path::new(&self.parent))
    }

    pub fn create(&self, id: &str) -> Result<Cgroup, CgroupError> {
        if !valid_name(id) || id.contains('/') {
            return Err(CgroupError::InvalidName(id.to_string()));
        }
        let cg = self.open(id);
        if let Err(e) = self.backend.create(&cg.paths) {
            let _ = cg.remove();
            return Err(e);
        }
        Ok(cg)
    }

    /// The cgroup of `id`, whether or not it exists (for removal after a restart).
    pub fn open(&self, id: &str) -> Cgroup {
        Cgroup {
            backend: self.backend.clone(),
            paths: self.parent_dirs().into_iter().map(|p| p.join(id)).collect(),
        }
    }

    /// Ids of the cgroups under the parent, for a sweep after a crash.
    pub fn list(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .parent_dirs()
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .flat_map(|r| r.flatten())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Remove the parent directories if they are empty (tests and uninstall).
    pub fn remove_parent(&self) {
        for d in self.parent_dirs() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

impl Cgroup {
    /// The host's cgroup at `rel` under the cgroup root (`default/<id>`: an OCI bundle's
    /// `cgroupsPath`), whether or not it exists; `create` makes its directories.
    pub fn at_path(rel: &str) -> Result<Cgroup, CgroupError> {
        if !valid_name(rel) {
            return Err(CgroupError::InvalidName(rel.to_string()));
        }
        let mount = Path::new(DEFAULT_ROOT);
        let version = detect(mount).map_err(io_ctx(format!("inspecting {DEFAULT_ROOT}")))?;
        let backend: Arc<dyn Backend> = match version {
            CgroupVersion::V1 => Arc::new(v1::V1::new(mount)),
            CgroupVersion::V2 => Arc::new(v2::V2::new(mount)),
        };
        let paths = backend.dirs(Path::new(rel));
        Ok(Cgroup { backend, paths })
    }

    /// Make the directories (and their parents) of a cgroup from [`Cgroup::at_path`].
    pub fn create(&self) -> Result<(), CgroupError> {
        self.backend.create(&self.paths)
    }

    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    pub fn version(&self) -> CgroupVersion {
        self.backend.version()
    }

    /// Move `pid` into every directory of this cgroup. (A container's init joins by itself,
    /// `join_self`; this is for a process already running.)
    pub fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        for p in &self.paths {
            std::fs::write(p.join("cgroup.procs"), pid.to_string())
                .map_err(io_ctx(format!("adding {pid} to {}", p.display())))?;
        }
        Ok(())
    }

    /// Freeze or thaw every process in the cgroup (`pause`/`unpause`), and wait until the
    /// kernel says it is done: v1's freezer passes through FREEZING, v2 reports in cgroup.events.
    pub fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        self.backend.freeze(&self.paths, frozen)
    }

    /// The directory that holds `controller`'s files: v1's hierarchy of that name, or v2's
    /// single directory.
    pub fn dir_for(&self, controller: &str) -> Option<&PathBuf> {
        self.backend.dir_for(&self.paths, controller)
    }

    /// Write the limits into the cgroup's files (at creation, and again on `update`).
    pub fn apply(&self, r: &Resources) -> Result<(), CgroupError> {
        self.backend.apply(&self.paths, r)
    }

    /// Docker's device rules: a container may create any node (`m`) but read and write only
    /// the standard ones (null, zero, full, random, urandom, tty, console, ptmx, pts). On v1
    /// that is the devices controller; on v2 an eBPF program ([`devices`]).
    pub fn restrict_devices(&self) -> Result<(), CgroupError> {
        self.backend.restrict_devices(&self.paths)
    }

    /// An OCI bundle's device rules, (allow, rule) in order (berth-runc).
    pub fn set_device_rules(&self, rules: &[(bool, devices::Rule)]) -> Result<(), CgroupError> {
        self.backend.set_device_rules(&self.paths, rules)
    }

    /// Whether the freezer holds the cgroup frozen (`pause`), read from its files.
    pub fn is_frozen(&self) -> bool {
        self.paths.iter().any(|p| {
            std::fs::read_to_string(p.join("freezer.state")).is_ok_and(|s| s.trim() == "FROZEN")
                || std::fs::read_to_string(p.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1")
        })
    }

    /// What the cgroup's files say about its use, for `docker stats`.
    pub fn stats(&self) -> Stats {
        self.backend.stats(&self.paths)
    }

    /// Whether the kernel's OOM killer killed a process of this cgroup.
    pub fn oom_killed(&self) -> bool {
        self.backend.oom_killed(&self.paths)
    }

    pub fn procs(&self) -> Vec<i32> {
        backend::procs(&self.paths)
    }

    /// Kill what is left inside and remove the directories; idempotent.
    pub fn remove(&self) -> Result<(), CgroupError> {
        self.backend.remove(&self.paths)
    }
}

/// SIGKILL every process in the cgroup's directories, round after round (a child forked
/// meanwhile falls in the next one), until none is left; Busy if some outlive two seconds.
pub fn kill_all(paths: &[PathBuf]) -> Result<(), CgroupError> {
    for _ in 0..200 {
        if !backend::kill_procs(paths) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(CgroupError::Busy {
        path: paths
            .first()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    })
}

/// Move the calling process, which must have a single thread, into the cgroup directory
/// `dir`. On v1 it writes 0 to `tasks`: moving only the calling thread skips the kernel's
/// global threadgroup lock, whose writer waits for an RCU grace period (10-15 ms on an idle
/// host, the largest step of a start before this) each time it is taken after a pause.
/// With one thread, the thread is the process. v2 has no `tasks` file: `cgroup.procs`.
pub fn join_self(dir: &Path) -> io::Result<()> {
    let tasks = dir.join("tasks");
    match std::fs::OpenOptions::new().write(true).open(&tasks) {
        Ok(mut f) => std::io::Write::write_all(&mut f, b"0"),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::write(dir.join("cgroup.procs"), b"0")
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape_the_parent() {
        assert!(valid_name("berth"));
        assert!(valid_name("berth-test-abc123"));
        assert!(!valid_name("../etc"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
    }

    fn root() -> bool {
        nix::unistd::Uid::effective().is_root()
    }

    fn exercise(m: &CgroupManager) {
        let id = format!("t{:08x}", rand::random::<u32>());
        let cg = m.create(&id).unwrap();
        assert!(cg.paths().iter().all(|p| p.is_dir()));
        assert_eq!(m.list(), vec![id.clone()]);
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        cg.add_process(child.id() as i32).unwrap();
        assert_eq!(cg.procs(), vec![child.id() as i32]);
        cg.remove().unwrap();
        let _ = child.wait();
        assert!(cg.paths().iter().all(|p| !p.exists()));
        cg.remove().unwrap();
        m.remove_parent();
        assert!(m.parent_dirs().iter().all(|p| !p.exists()));
    }

    #[test]
    fn v1_on_this_host_when_it_has_v1() {
        if !root() || detect(Path::new("/sys/fs/cgroup")).ok() != Some(CgroupVersion::V1) {
            eprintln!("SKIPPED: needs root on a cgroup v1 host");
            return;
        }
        let parent = format!("berth-unit-{:06x}", rand::random::<u32>() & 0xffffff);
        exercise(&CgroupManager::new(&parent).unwrap());
    }

    #[test]
    fn v2_on_a_unified_mount() {
        let mount = if detect(Path::new("/sys/fs/cgroup")).ok() == Some(CgroupVersion::V2) {
            PathBuf::from("/sys/fs/cgroup")
        } else {
            PathBuf::from("/sys/fs/cgroup/unified")
        };
        if !root() || detect(&mount).ok() != Some(CgroupVersion::V2) {
            eprintln!("SKIPPED: needs root and a cgroup2 mount");
            return;
        }
        let parent = format!("berth-unit-{:06x}", rand::random::<u32>() & 0xffffff);
        exercise(&CgroupManager::with_mount(&mount, CgroupVersion::V2, &parent).unwrap());
    }
}
