//! cgroups (chapter 03): every container gets a cgroup named after its id under one parent
//! (`berth` by default), on cgroup v1 (a directory in each controller's hierarchy) or v2 (one
//! directory in the unified tree). Which one is decided at runtime by what /sys/fs/cgroup is.

pub mod devices;
pub mod resources;
mod v1;
mod v2;

pub use resources::{parse_size, Resources};

use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;

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
            let name = point.strip_prefix("/sys/fs/cgroup/")?;
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
    version: CgroupVersion,
    mount: PathBuf,
    parent: String,
}

/// One container's cgroup: one directory per hierarchy (v1) or a single one (v2).
#[derive(Debug, Clone)]
pub struct Cgroup {
    version: CgroupVersion,
    paths: Vec<PathBuf>,
}

impl CgroupManager {
    pub fn new(parent: &str) -> Result<CgroupManager, CgroupError> {
        let mount = Path::new("/sys/fs/cgroup");
        let version = detect(mount).map_err(io_ctx("inspecting /sys/fs/cgroup"))?;
        Self::with_mount(mount, version, parent)
    }

    pub fn with_mount(
        mount: &Path,
        version: CgroupVersion,
        parent: &str,
    ) -> Result<CgroupManager, CgroupError> {
        if !valid_name(parent) {
            return Err(CgroupError::InvalidName(parent.to_string()));
        }
        Ok(CgroupManager {
            version,
            mount: mount.to_path_buf(),
            parent: parent.to_string(),
        })
    }

    pub fn version(&self) -> CgroupVersion {
        self.version
    }

    /// The parent directories (one per v1 hierarchy, or one).
    pub fn parent_dirs(&self) -> Vec<PathBuf> {
        match self.version {
            CgroupVersion::V1 => v1::hierarchies(&self.mount)
                .into_iter()
                .map(|h| h.join(&self.parent))
                .collect(),
            CgroupVersion::V2 => vec![self.mount.join(&self.parent)],
        }
    }

    pub fn create(&self, id: &str) -> Result<Cgroup, CgroupError> {
        if !valid_name(id) || id.contains('/') {
            return Err(CgroupError::InvalidName(id.to_string()));
        }
        let cg = self.open(id);
        let made = match self.version {
            CgroupVersion::V1 => v1::create(&self.mount, &self.parent, &cg.paths),
            CgroupVersion::V2 => v2::create(&self.mount, &self.parent, &cg.paths[0]),
        };
        if let Err(e) = made {
            let _ = cg.remove();
            return Err(e);
        }
        Ok(cg)
    }

    /// The cgroup of `id`, whether or not it exists (for removal after a restart).
    pub fn open(&self, id: &str) -> Cgroup {
        Cgroup {
            version: self.version,
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
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    pub fn version(&self) -> CgroupVersion {
        self.version
    }

    /// Move `pid` into every directory of this cgroup, in parallel for the same reason as
    /// `remove`: each v1 attach waits for the kernel on its own.
    pub fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        add_to_all(&self.paths, pid)
    }

    /// Freeze or thaw every process in the cgroup (`pause`/`unpause`), and wait until the
    /// kernel says it is done: v1's freezer passes through FREEZING, v2 reports in cgroup.events.
    pub fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        // (knob, value to write, file that reports the state, the line it shows when done)
        let (file, value, status, want) = match (self.version, frozen) {
            (CgroupVersion::V1, true) => ("freezer.state", "FROZEN", "freezer.state", "FROZEN"),
            (CgroupVersion::V1, false) => ("freezer.state", "THAWED", "freezer.state", "THAWED"),
            (CgroupVersion::V2, true) => ("cgroup.freeze", "1", "cgroup.events", "frozen 1"),
            (CgroupVersion::V2, false) => ("cgroup.freeze", "0", "cgroup.events", "frozen 0"),
        };
        let done = |dir: &Path| {
            std::fs::read_to_string(dir.join(status))
                .map(|s| s.lines().any(|l| l.trim() == want))
                .unwrap_or(false)
        };
        let dir = self
            .paths
            .iter()
            .find(|p| p.join(file).exists())
            .ok_or_else(|| CgroupError::Io {
                context: format!("finding {file}"),
                source: io::Error::new(io::ErrorKind::NotFound, "no freezer for this cgroup"),
            })?;
        for _ in 0..500 {
            std::fs::write(dir.join(file), value)
                .map_err(io_ctx(format!("writing {}", dir.join(file).display())))?;
            if done(dir) {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        Err(CgroupError::Busy {
            path: dir.display().to_string(),
        })
    }

    /// The directory that holds `controller`'s files: v1's hierarchy of that name, or v2's
    /// single directory.
    pub fn dir_for(&self, controller: &str) -> Option<&PathBuf> {
        match self.version {
            CgroupVersion::V2 => self.paths.first(),
            CgroupVersion::V1 => self.paths.iter().find(|p| {
                p.ancestors().any(|a| {
                    a.parent().is_some_and(|pp| pp.ends_with("cgroup")) && a.ends_with(controller)
                })
            }),
        }
    }

    /// Write the limits into the cgroup's files. On v1 a memory limit above the current
    /// memory+swap limit is refused until that one is raised, so a refused write is retried
    /// once the others are in.
    pub fn apply(&self, r: &Resources) -> Result<(), CgroupError> {
        let mut retry = Vec::new();
        for k in r.plan(self.version) {
            // Swap accounting can be off in the kernel; Docker then ignores --memory-swap too.
            if k.file == "memory.memsw.limit_in_bytes"
                && self
                    .dir_for("memory")
                    .is_some_and(|d| !d.join(k.file).exists())
            {
                continue;
            }
            let dir = self.dir_for(k.controller).ok_or_else(|| CgroupError::Io {
                context: format!("setting {}", k.file),
                source: io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("the {} controller is not available", k.controller),
                ),
            })?;
            if std::fs::write(dir.join(k.file), &k.value).is_err() {
                retry.push((dir.join(k.file), k.value));
            }
        }
        for (file, value) in retry {
            std::fs::write(&file, &value)
                .map_err(io_ctx(format!("writing {value} to {}", file.display())))?;
        }
        Ok(())
    }

    /// Docker's device rules: a container may create any node (`m`) but read and write only
    /// the standard ones (null, zero, full, random, urandom, tty, console, ptmx, pts). On v1
    /// that is the devices controller; on v2 an eBPF program ([`devices`]).
    pub fn restrict_devices(&self) -> Result<(), CgroupError> {
        if self.version != CgroupVersion::V1 {
            // v2: an eBPF program attached to the container's one directory.
            let Some(dir) = self.paths.first() else {
                return Ok(());
            };
            return devices::attach(dir, &devices::default_rules()).map_err(io_ctx(format!(
                "restricting the devices of {}",
                dir.display()
            )));
        }
        let Some(dir) = self.dir_for("devices") else {
            return Ok(());
        };
        std::fs::write(dir.join("devices.deny"), "a").map_err(io_ctx(format!(
            "writing {}",
            dir.join("devices.deny").display()
        )))?;
        for r in devices::DEFAULT_ALLOW {
            std::fs::write(dir.join("devices.allow"), r)
                .map_err(io_ctx(format!("allowing {r}")))?;
        }
        Ok(())
    }

    /// Whether the kernel's OOM killer killed a process of this cgroup.
    pub fn oom_killed(&self) -> bool {
        let (file, key) = match self.version {
            CgroupVersion::V1 => ("memory.oom_control", "oom_kill "),
            CgroupVersion::V2 => ("memory.events", "oom_kill "),
        };
        self.dir_for("memory")
            .and_then(|d| std::fs::read_to_string(d.join(file)).ok())
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix(key))
                    .and_then(|n| n.trim().parse::<u64>().ok())
            })
            .is_some_and(|n| n > 0)
    }

    pub fn procs(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .paths
            .iter()
            .filter_map(|p| std::fs::read_to_string(p.join("cgroup.procs")).ok())
            .flat_map(|s| {
                s.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect();
        pids.sort();
        pids.dedup();
        pids
    }

    /// Kill what is left inside and remove the directories; idempotent.
    pub fn remove(&self) -> Result<(), CgroupError> {
        for attempt in 0..50 {
            for pid in self.procs() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            // On v1 every rmdir waits for an RCU grace period (milliseconds each); removing
            // the hierarchies' directories in parallel pays that wait once, not eight times.
            let results: Vec<(PathBuf, io::Result<()>)> = std::thread::scope(|s| {
                let handles: Vec<_> = self
                    .paths
                    .iter()
                    .map(|p| s.spawn(move || (p.clone(), std::fs::remove_dir(p))))
                    .collect();
                handles.into_iter().filter_map(|h| h.join().ok()).collect()
            });
            let mut busy = None;
            for (p, r) in results {
                match r {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => busy = Some(p),
                    Err(e) => return Err(io_ctx(format!("removing {}", p.display()))(e)),
                }
            }
            match busy {
                None => return Ok(()),
                Some(p) if attempt == 49 => {
                    return Err(CgroupError::Busy {
                        path: p.display().to_string(),
                    })
                }
                Some(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        }
        Ok(())
    }
}

/// Write `pid` into `cgroup.procs` of each directory, one thread per directory.
pub fn add_to_all(paths: &[PathBuf], pid: i32) -> Result<(), CgroupError> {
    let results: Vec<(PathBuf, io::Result<()>)> = std::thread::scope(|s| {
        let handles: Vec<_> = paths
            .iter()
            .map(|p| {
                s.spawn(move || {
                    (
                        p.clone(),
                        std::fs::write(p.join("cgroup.procs"), pid.to_string()),
                    )
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    for (p, r) in results {
        r.map_err(io_ctx(format!("adding {pid} to {}", p.display())))?;
    }
    Ok(())
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
