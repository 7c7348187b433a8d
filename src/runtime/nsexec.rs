//! `berth nsexec <spec>`: how `exec` enters a running container. Started by the daemon with
//! the exec's stdio as its own, it joins the container's cgroup and namespaces (cgroup, ipc,
//! uts, net, pid, mnt — setns(2) on the files in /proc/<pid>/ns), forks so the child lands in
//! the container's pid namespace, and the child drops to the user's identity and execs.
//! The parent waits and exits with the child's status, so the daemon sees the exec's exit code.

use super::init::{drop_privileges, execve, find_program, InitError};
use nix::sched::CloneFlags;
use serde::{Deserialize, Serialize};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExecSpec {
    /// The container's init, as a host pid: its namespaces are the ones joined.
    pub pid: i32,
    pub cgroup_paths: Vec<PathBuf>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub privileged: bool,
    /// The container's capability set (`CAP_*` names); None means Docker's default.
    #[serde(default)]
    pub capabilities: Option<Vec<String>>,
    /// `-t`: the child makes a terminal in the container and sends its master end over fd 3
    /// (see `CONSOLE_FD`), then uses the slave as stdio and controlling terminal.
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub console_size: Option<(u16, u16)>,
    /// The container's compiled seccomp program and no-new-privileges, which its execs share.
    #[serde(default)]
    pub seccomp_filter: Option<PathBuf>,
    #[serde(default)]
    pub no_new_privileges: bool,
}

/// The socket a `-t` exec's terminal is sent over: the daemon puts it at this fd.
pub const CONSOLE_FD: i32 = 3;

/// The order matters: mnt last, because after it /proc is the container's.
pub const NAMESPACES: &[(&str, CloneFlags)] = &[
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

fn fail(err: InitError) -> ! {
    eprintln!("{}", err.message);
    std::process::exit(err.exit_code)
}

pub fn main(spec: &str) -> ! {
    let spec: ExecSpec = match serde_json::from_str(spec) {
        Ok(s) => s,
        Err(e) => fail(InitError {
            message: format!("berth nsexec: bad spec: {e}"),
            exit_code: 125,
        }),
    };
    let setup = |what: &str, e: &dyn std::fmt::Display| InitError {
        message: format!("{what}: {e}"),
        exit_code: 126,
    };
    // Read on the host's side of the mount namespace; installed just before exec.
    let filter = match &spec.seccomp_filter {
        Some(p) => match std::fs::read(p) {
            Ok(b) => Some(b),
            Err(e) => fail(setup(
                &format!("reading the seccomp filter {}", p.display()),
                &e,
            )),
        },
        None => None,
    };
    // Open every namespace file before entering any: after mnt, /proc/<pid> means something else.
    let mut fds: Vec<(OwnedFd, CloneFlags)> = Vec::new();
    for (name, flag) in NAMESPACES {
        match std::fs::File::open(format!("/proc/{}/ns/{name}", spec.pid)) {
            Ok(f) => fds.push((f.into(), *flag)),
            Err(e) => fail(setup(
                &format!("opening the container's {name} namespace"),
                &e,
            )),
        }
    }
    // One directory after the other on this one thread: setns(CLONE_NEWNS) fails with EINVAL
    // while any other thread of this process still exists, even one finishing.
    for p in &spec.cgroup_paths {
        if let Err(e) = crate::cgroups::join_self(p) {
            fail(setup(
                &format!("joining the container's cgroup {}", p.display()),
                &e,
            ));
        }
    }
    for (fd, flag) in &fds {
        if let Err(e) = nix::sched::setns(fd, *flag) {
            fail(setup("entering the container's namespaces", &e));
        }
    }
    drop(fds);
    // SAFETY: this process is single-threaded (nsexec runs before any runtime starts).
    match unsafe { nix::unistd::fork() } {
        Err(e) => fail(setup("fork", &e)),
        Ok(nix::unistd::ForkResult::Child) => {
            if spec.tty {
                if let Err(e) = take_terminal(&spec) {
                    fail(setup("setting up the terminal", &e));
                }
            }
            let cwd = if spec.cwd.is_empty() {
                "/"
            } else {
                spec.cwd.as_str()
            };
            if let Err(e) = nix::unistd::chdir(cwd) {
                fail(setup(&format!("chdir to {cwd}"), &e));
            }
            // Docker's exec path answers 126 for a program it cannot start, found or not (its
            // run path keeps 127 for one not found).
            let cannot_start = |e: InitError| InitError {
                exit_code: 126,
                ..e
            };
            let program =
                find_program(&spec.args, &spec.env).unwrap_or_else(|e| fail(cannot_start(e)));
            let security = super::init::Confinement {
                seccomp: filter.as_deref(),
                no_new_privileges: spec.no_new_privileges,
            };
            let k = &super::kernel::LinuxKernel;
            if let Err(e) = security.before_dropping_privileges(k) {
                fail(e);
            }
            if let Err(e) = drop_privileges(
                k,
                spec.uid,
                spec.gid,
                &spec.additional_gids,
                spec.privileged,
                spec.capabilities.as_deref(),
            ) {
                fail(e);
            }
            if let Err(e) = security.after_dropping_privileges(k) {
                fail(e);
            }
            match execve(k, &program, &spec.args, &spec.env) {
                Ok(()) => unreachable!("execve returned"),
                Err(e) => fail(cannot_start(e)),
            }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            // Only the child sends the terminal; the daemon learns of a failure from the EOF.
            if spec.tty {
                let _ = nix::unistd::close(CONSOLE_FD);
            }
            let code = loop {
                match nix::sys::wait::waitpid(child, None) {
                    Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => break c,
                    Ok(nix::sys::wait::WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
                    Err(nix::errno::Errno::EINTR) => continue,
                    _ => break 255,
                }
            };
            std::process::exit(code)
        }
    }
}

/// Inside the container's namespaces: a terminal from its devpts, master to the daemon.
fn take_terminal(spec: &ExecSpec) -> std::io::Result<()> {
    use std::os::fd::{AsFd, BorrowedFd};
    let (master, slave, _) = super::console::open_pty()?;
    if let Some((rows, cols)) = spec.console_size {
        super::console::set_size(master.as_fd(), rows, cols)?;
    }
    // SAFETY: the daemon opened CONSOLE_FD for us and it stays open until we close it below.
    let sock = unsafe { BorrowedFd::borrow_raw(CONSOLE_FD) };
    super::console::send_fd(sock, master.as_fd())?;
    drop(master);
    let _ = nix::unistd::close(CONSOLE_FD);
    super::console::become_session_leader_on(&slave)
}
