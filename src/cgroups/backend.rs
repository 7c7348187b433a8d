//! The one interface both cgroup versions implement (create, apply, freeze, stats, oom_killed,
//! remove), and what they share: writing a plan of knobs, toggling a file until the kernel
//! reports the new state, and the kill-then-rmdir removal Docker does when a container goes.
//! Which implementation a daemon gets is decided once, by what its cgroup root is.

use super::resources::{Knob, Resources};
use super::stats::Stats;
use super::{io_ctx, CgroupError, CgroupVersion};
use std::io;
use std::path::{Path, PathBuf};

/// A cgroup version's manager, rooted at a cgroupfs mount (/sys/fs/cgroup, or a test's
/// temporary directory). `paths` is always what [`Backend::dirs`] gave for one cgroup.
pub(crate) trait Backend: Send + Sync + std::fmt::Debug {
    fn version(&self) -> CgroupVersion;

    /// The directories of the cgroup `name` (relative to the root): one per v1 hierarchy, or
    /// the one v2 directory.
    fn dirs(&self, name: &Path) -> Vec<PathBuf>;

    /// The directory among `paths` that holds `controller`'s files.
    fn dir_for<'a>(&self, paths: &'a [PathBuf], controller: &str) -> Option<&'a PathBuf>;

    fn create(&self, paths: &[PathBuf]) -> Result<(), CgroupError>;

    /// Write `r`'s plan for this version into the cgroup's files.
    fn apply(&self, paths: &[PathBuf], r: &Resources) -> Result<(), CgroupError>;

    /// Docker's default device rules ([`super::devices`]).
    fn restrict_devices(&self, paths: &[PathBuf]) -> Result<(), CgroupError>;

    /// An OCI bundle's device rules, in order: (allow, rule); berth-runc's containers.
    fn set_device_rules(
        &self,
        paths: &[PathBuf],
        rules: &[(bool, super::devices::Rule)],
    ) -> Result<(), CgroupError>;

    /// Freeze or thaw, returning once the kernel reports the new state.
    fn freeze(&self, paths: &[PathBuf], frozen: bool) -> Result<(), CgroupError>;

    fn stats(&self, paths: &[PathBuf]) -> Stats;

    fn oom_killed(&self, paths: &[PathBuf]) -> bool;

    /// Kill what is left inside and remove the directories; idempotent.
    fn remove(&self, paths: &[PathBuf]) -> Result<(), CgroupError> {
        remove_all(paths)
    }
}

/// Write each knob into its controller's directory. On v1 a memory limit above the current
/// memory+swap limit is refused until that one is raised, so a refused write is retried once
/// the others are in.
pub(crate) fn write_plan<'a>(
    plan: impl IntoIterator<Item = Knob>,
    dir_for: impl Fn(&str) -> Option<&'a PathBuf>,
) -> Result<(), CgroupError> {
    let mut retry = Vec::new();
    for k in plan {
        let dir = dir_for(k.controller).ok_or_else(|| CgroupError::Io {
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

/// Write `value` into `file` of the first directory that has it, until `status` shows the
/// line `want`: state changes such as freezing are asynchronous in the kernel (v1's freezer
/// passes through FREEZING, v2 reports in cgroup.events).
pub(crate) fn write_until(
    paths: &[PathBuf],
    file: &str,
    value: &str,
    status: &str,
    want: &str,
) -> Result<(), CgroupError> {
    let done = |dir: &Path| {
        std::fs::read_to_string(dir.join(status))
            .map(|s| s.lines().any(|l| l.trim() == want))
            .unwrap_or(false)
    };
    let dir = paths
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

/// The pids in any of the directories' `cgroup.procs`, sorted, once each.
pub(crate) fn procs(paths: &[PathBuf]) -> Vec<i32> {
    let mut pids: Vec<i32> = paths
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

/// SIGKILL each process in the directories now; false when there was none.
pub(crate) fn kill_procs(paths: &[PathBuf]) -> bool {
    let pids = procs(paths);
    for &pid in &pids {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    !pids.is_empty()
}

/// SIGKILL what is inside, then rmdir every directory, retrying while the kernel still counts
/// the dying processes (EBUSY).
pub(crate) fn remove_all(paths: &[PathBuf]) -> Result<(), CgroupError> {
    for attempt in 0..50 {
        kill_procs(paths);
        // On v1 every rmdir waits for an RCU grace period (milliseconds each); removing the
        // hierarchies' directories in parallel pays that wait once, not eight times.
        let results: Vec<(PathBuf, io::Result<()>)> = std::thread::scope(|s| {
            let handles: Vec<_> = paths
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
            // The last process of the cgroup is usually a millisecond from gone: look again
            // soon, then less often (1, 2, 4, 8, then 10 ms).
            Some(_) => std::thread::sleep(std::time::Duration::from_millis(
                (1u64 << attempt.min(4)).min(10),
            )),
        }
    }
    Ok(())
}
