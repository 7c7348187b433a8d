//! Entering a running container from outside, for `exec`: both `berth nsexec` (the daemon's
//! exec) and `berth-runc exec` open the container's namespace files, join its cgroup and
//! namespaces, fork (a process enters a pid namespace only through its children), and the
//! child becomes the process a [`ProcessPlan`] describes, with the same steps init takes.

use super::plan::ProcessPlan;
use crate::runtime::init::InitError;
use nix::sched::CloneFlags;
use std::os::fd::OwnedFd;

/// The kinds joined, in order: user first (the others belong to it), mnt last (after it,
/// /proc is the container's).
pub const NAMESPACES: &[(&str, CloneFlags)] = &[
    ("user", CloneFlags::CLONE_NEWUSER),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// The namespaces of `pid` that are not already ours (setns into one's own user namespace
/// is refused), opened before any is entered: after mnt, /proc/<pid> means something else.
pub fn namespaces_of(pid: i32) -> Result<Vec<(OwnedFd, CloneFlags)>, (String, std::io::Error)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    for &(name, flag) in NAMESPACES {
        let theirs = format!("/proc/{pid}/ns/{name}");
        let t = match std::fs::metadata(&theirs) {
            Ok(t) => t,
            // A kernel without that kind of namespace: nothing to join.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && name != "mnt" => continue,
            Err(e) => return Err((format!("the container's {name} namespace"), e)),
        };
        if let Ok(o) = std::fs::metadata(format!("/proc/self/ns/{name}")) {
            if t.ino() == o.ino() && t.dev() == o.dev() {
                continue;
            }
        }
        let f = std::fs::File::open(&theirs)
            .map_err(|e| (format!("the container's {name} namespace"), e))?;
        out.push((f.into(), flag));
    }
    Ok(out)
}

/// In the forked child, inside the container's namespaces: a terminal of the container's
/// own devpts (its master sent over `console`), the rlimits, the working directory, the
/// program, the capabilities, user and seccomp, and execve. Returns only with what went wrong.
pub fn become_process(
    p: &ProcessPlan,
    filter: Option<&[u8]>,
    console: Option<&OwnedFd>,
) -> InitError {
    let k = &crate::runtime::kernel::LinuxKernel;
    let attempt = || -> Result<(), InitError> {
        if let Some(sock) = console {
            crate::runtime::init::setup_console(k, p.console_size, sock, false)
                .map_err(|e| InitError::setup("setting up the terminal", e.message))?;
        }
        super::init::set_rlimits(p)?;
        let cwd = if p.cwd.is_empty() {
            "/"
        } else {
            p.cwd.as_str()
        };
        nix::unistd::chdir(cwd).map_err(|e| InitError::setup(&format!("chdir to {cwd}"), e))?;
        let program = crate::runtime::init::find_program(&p.args, &p.env)?;
        super::init::become_the_process(k, p, filter)?;
        crate::runtime::init::execve(k, &program, &p.args, &p.env)
    };
    match attempt() {
        Ok(()) => InitError::setup("exec", "returned"),
        Err(e) => e,
    }
}
