//! `berth nsexec <spec>`: how `exec` enters a running container. Started by the daemon with
//! the exec's stdio as its own, it joins the container's cgroup and namespaces (cgroup, ipc,
//! uts, net, pid, mnt — setns(2) on the files in /proc/<pid>/ns), forks so the child lands in
//! the container's pid namespace, and the child drops to the user's identity and execs: the
//! steps `berth-runc exec` takes too (`oci::enter`), with Docker's capability rules.
//! The parent waits and exits with the child's status, so the daemon sees the exec's exit code.

use super::init::InitError;
use super::oci::plan::ProcessPlan;
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

fn fail(err: InitError) -> ! {
    eprintln!("{}", err.message);
    std::process::exit(err.exit_code)
}

/// The exec as the process of a bundle would describe it, with Docker's capability rules.
fn process(spec: &ExecSpec) -> Result<ProcessPlan, InitError> {
    let k = &super::kernel::LinuxKernel;
    Ok(ProcessPlan {
        terminal: spec.tty,
        console_size: spec.console_size,
        args: spec.args.clone(),
        env: spec.env.clone(),
        cwd: spec.cwd.clone(),
        uid: spec.uid,
        gid: spec.gid,
        additional_gids: spec.additional_gids.clone(),
        umask: None,
        capabilities: super::init::docker_capabilities(
            k,
            spec.uid,
            spec.privileged,
            spec.capabilities.as_deref(),
        )?,
        rlimits: vec![],
        no_new_privileges: spec.no_new_privileges,
        oom_score_adj: None,
    })
}

pub fn main(spec: &str) -> ! {
    let spec: ExecSpec = match serde_json::from_str(spec) {
        Ok(s) => s,
        Err(e) => fail(InitError {
            message: format!("berth nsexec: bad spec: {e}"),
            exit_code: 125,
        }),
    };
    // Docker's exec path answers 126 for a process it cannot start, whatever the reason,
    // found or not (its run path keeps 127 for one not found).
    let cannot_start = |e: InitError| -> ! {
        fail(InitError {
            exit_code: 126,
            ..e
        })
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
    let process = process(&spec).unwrap_or_else(|e| cannot_start(e));
    let joined = super::oci::enter::namespaces_of(spec.pid)
        .unwrap_or_else(|(what, e)| fail(setup(&format!("opening {what}"), &e)));
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
    for (fd, flag) in &joined {
        if let Err(e) = nix::sched::setns(fd, *flag) {
            fail(setup("entering the container's namespaces", &e));
        }
    }
    drop(joined);
    // SAFETY: this process is single-threaded (nsexec runs before any runtime starts).
    match unsafe { nix::unistd::fork() } {
        Err(e) => fail(setup("fork", &e)),
        Ok(nix::unistd::ForkResult::Child) => {
            // SAFETY: the daemon opened CONSOLE_FD for a `-t` exec, and nothing else owns it.
            let console = spec
                .tty
                .then(|| unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(CONSOLE_FD) });
            // The exec'd program must not inherit the socket: closed by the exec.
            if let Some(c) = &console {
                let _ = nix::fcntl::fcntl(
                    std::os::fd::AsRawFd::as_raw_fd(c),
                    nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
                );
            }
            let err =
                super::oci::enter::become_process(&process, filter.as_deref(), console.as_ref());
            cannot_start(err)
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
