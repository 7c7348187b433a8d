//! The container's first process, from clone(2) to execve(2). The daemon's container is first
//! described as an OCI bundle would describe it (`as_bundle`: the plan `berth-runc` makes of a
//! config.json), and berth's one init follows that plan (`oci::init`): it joins the network
//! namespace (and another container's IPC namespace, with `--ipc container:`), joins its
//! cgroup, takes a cgroup namespace (unless `--cgroupns host`), builds proc, sys and dev,
//! makes the container's own mounts and the /etc binds (`mounts`), pivots into the rootfs,
//! masks what Docker masks, sets the hostname (unless `--uts host`), drops to Docker's
//! capabilities and the user, and execs on the shim's word. This module keeps the pieces that
//! sequence is made of. Every call that order rests on goes through `kernel::Kernel`, so
//! `order_tests` can check it without root.

pub use super::kernel::Kernel;
use super::kernel::{LinuxKernel, PathKind};
pub use super::oci::init::{InitFds, Options, Parent};
use super::spec::ShimSpec;
use nix::mount::MsFlags;
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// An error before exec, with the exit code docker gives it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InitError {
    pub message: String,
    pub exit_code: i32,
}

impl InitError {
    pub fn setup(what: &str, e: impl std::fmt::Display) -> InitError {
        InitError {
            message: format!("{what}: {e}"),
            exit_code: 125,
        }
    }
}

pub(crate) fn write_all(fd: &OwnedFd, data: &[u8]) {
    let mut off = 0;
    while off < data.len() {
        match nix::unistd::write(fd, &data[off..]) {
            Ok(n) => off += n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return,
        }
    }
}

pub(crate) fn read_byte(fd: &OwnedFd) -> bool {
    let mut b = [0u8; 1];
    loop {
        match nix::unistd::read(fd.as_raw_fd(), &mut b) {
            Ok(1) => return true,
            Err(nix::errno::Errno::EINTR) => continue,
            _ => return false,
        }
    }
}

/// A namespace's name as /proc/<pid>/ns/ spells it.
pub fn ns_name(kind: nix::sched::CloneFlags) -> &'static str {
    use nix::sched::CloneFlags as F;
    match kind {
        F::CLONE_NEWNET => "net",
        F::CLONE_NEWIPC => "ipc",
        F::CLONE_NEWUTS => "uts",
        F::CLONE_NEWPID => "pid",
        F::CLONE_NEWCGROUP => "cgroup",
        F::CLONE_NEWNS => "mnt",
        _ => "unknown",
    }
}

/// The body of the cloned child. Never returns on success (execve replaces it).
pub fn run(spec: &ShimSpec, fds: &InitFds, filter: Option<&[u8]>) -> isize {
    let err = match prepare_and_exec(&LinuxKernel, spec, fds, filter) {
        Ok(()) => return 0,
        Err(e) => e,
    };
    crate::runtime::oci::init::report_error(fds, &err);
    err.exit_code as isize
}

/// The daemon's container, as the plan of a bundle (`as_bundle`), followed by berth's one
/// init (`oci::init`), the one `berth-runc` runs; returns only on failure with a real kernel.
pub fn prepare_and_exec(
    k: &dyn Kernel,
    spec: &ShimSpec,
    fds: &InitFds,
    filter: Option<&[u8]>,
) -> Result<(), InitError> {
    let plan = as_bundle::plan_of(k, spec)?;
    let options = Options {
        plan: &plan,
        seccomp: filter,
        no_pivot: false,
        new_userns: false,
        cgroup_dirs: &spec.cgroup_paths,
        // The daemon mounted the overlay there.
        rootfs_is_mount: true,
        reap_as_pid1: spec.init,
    };
    crate::runtime::oci::init::prepare_and_exec(k, &options, fds)
}

/// Seccomp and no-new-privileges, applied in the order runc applies them. Without
/// no_new_privs the kernel lets only a CAP_SYS_ADMIN holder load a filter, so the filter goes
/// in before the capabilities are dropped; with it, as late as possible, so that fewer of our
/// own calls have to pass it. Docker's profile allows everything init does after either point.
pub struct Confinement<'a> {
    /// The compiled seccomp program (`seccomp::to_bpf`); None runs unconfined.
    pub seccomp: Option<&'a [u8]>,
    pub no_new_privileges: bool,
}

impl Confinement<'_> {
    fn load(&self, k: &dyn Kernel) -> Result<(), InitError> {
        if let Some(bpf) = self.seccomp {
            k.load_seccomp(bpf)
                .map_err(|e| InitError::setup("loading the seccomp profile", e))?;
        }
        Ok(())
    }

    pub fn before_dropping_privileges(&self, k: &dyn Kernel) -> Result<(), InitError> {
        if self.no_new_privileges {
            return Ok(());
        }
        self.load(k)
    }

    pub fn after_dropping_privileges(&self, k: &dyn Kernel) -> Result<(), InitError> {
        if !self.no_new_privileges {
            return Ok(());
        }
        k.set_no_new_privileges()
            .map_err(|e| InitError::setup("setting no_new_privs", e))?;
        self.load(k)
    }
}

/// `-t`: a terminal from the container's own devpts becomes stdio, controlling terminal and
/// /dev/console; its master end goes to the shim.
pub(crate) fn setup_console(
    k: &dyn Kernel,
    console_size: Option<(u16, u16)>,
    sock: &OwnedFd,
    bind_console: bool,
) -> Result<(), InitError> {
    use std::os::fd::AsFd;
    let (master, slave, number) =
        super::console::open_pty().map_err(|e| InitError::setup("creating the terminal", e))?;
    if bind_console {
        let console = Path::new("/dev/console");
        std::fs::write(console, b"").map_err(|e| InitError::setup("creating /dev/console", e))?;
        mnt(
            k,
            Some(&format!("/dev/pts/{number}")),
            console,
            None,
            MsFlags::MS_BIND,
            None,
        )?;
    }
    if let Some((rows, cols)) = console_size {
        super::console::set_size(master.as_fd(), rows, cols)
            .map_err(|e| InitError::setup("sizing the terminal", e))?;
    }
    super::console::send_fd(sock.as_fd(), master.as_fd())
        .map_err(|e| InitError::setup("sending the terminal to the shim", e))?;
    drop(master);
    super::console::become_session_leader_on(&slave)
        .map_err(|e| InitError::setup("taking the terminal", e))
}

/// `--init`: stay PID 1 as a tiny init (what docker-init, tini, does): fork the command, pass
/// it every signal we receive, reap every orphan that the kernel reparents to us, and exit with
/// the command's status. Without it the command is PID 1, which ignores signals it has no
/// handler for, so `docker stop` must wait for its SIGKILL. In a pid namespace that is not the
/// container's own (`--pid host`) it is not PID 1, and asks for the orphans as a subreaper.
pub(crate) fn reap_as_pid1(
    k: &dyn Kernel,
    args: &[String],
    env: &[String],
    program: &Path,
    report: &OwnedFd,
) -> Result<(), InitError> {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal};
    use nix::sys::signalfd::SignalFd;
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| InitError::setup("becoming a subreaper", e))?;
    // Blocked before the fork, so no signal arrives between the fork and the signalfd.
    let all = SigSet::all();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), None)
        .map_err(|e| InitError::setup("blocking signals", e))?;
    match super::kernel::fork_single_threaded().map_err(|e| InitError::setup("fork", e))? {
        nix::unistd::ForkResult::Child => {
            nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
                .map_err(|e| InitError::setup("unblocking signals", e))?;
            execve(k, program, args, env)
        }
        nix::unistd::ForkResult::Parent { child } => {
            // Only the command's exec may close the report pipe (that is how the shim learns
            // it started): let go of this copy.
            let _ = nix::unistd::close(report.as_raw_fd());
            let sfd = SignalFd::new(&all).map_err(|e| InitError::setup("signalfd", e))?;
            loop {
                let Ok(Some(info)) = sfd.read_signal() else {
                    continue;
                };
                let sig = Signal::try_from(info.ssi_signo as i32).ok();
                if sig != Some(Signal::SIGCHLD) {
                    if let Some(sig) = sig {
                        let _ = nix::sys::signal::kill(child, sig);
                    }
                    continue;
                }
                loop {
                    match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                        Ok(WaitStatus::Exited(pid, code)) if pid == child => {
                            std::process::exit(code)
                        }
                        Ok(WaitStatus::Signaled(pid, s, _)) if pid == child => {
                            std::process::exit(128 + s as i32)
                        }
                        Ok(WaitStatus::StillAlive) | Err(_) => break,
                        Ok(_) => continue,
                    }
                }
            }
        }
    }
}

pub(crate) fn mnt(
    k: &dyn Kernel,
    src: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), InitError> {
    k.mount(src, target, fstype, flags, data)
        .map_err(|e| InitError::setup(&format!("mounting {}", target.display()), e))
}

/// A recursive bind of `source` on `target`, then a remount with `flags` (MS_RDONLY, ...): a
/// bind takes its flags only from a remount.
pub(crate) fn bind_with(
    k: &dyn Kernel,
    source: &Path,
    target: &Path,
    flags: MsFlags,
) -> Result<(), InitError> {
    let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
    mnt(k, Some(&source.to_string_lossy()), target, None, bind, None)?;
    mnt(
        k,
        None,
        target,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags,
        None,
    )
}

/// Hide each path that exists: a directory under an empty read-only tmpfs, anything else
/// under /dev/null.
pub(crate) fn mask_paths<'a>(
    k: &dyn Kernel,
    paths: impl Iterator<Item = &'a str>,
) -> Result<(), InitError> {
    for p in paths {
        let path = Path::new(p);
        match k.path_kind(path, false) {
            Some(PathKind::Directory) => mnt(
                k,
                Some("tmpfs"),
                path,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None,
            )?,
            Some(PathKind::Other) => mnt(k, Some("/dev/null"), path, None, MsFlags::MS_BIND, None)?,
            None => {}
        }
    }
    Ok(())
}

/// Make each path that exists read-only, with what is mounted under it.
pub(crate) fn readonly_paths<'a>(
    k: &dyn Kernel,
    paths: impl Iterator<Item = &'a str>,
) -> Result<(), InitError> {
    for p in paths {
        let path = Path::new(p);
        if k.path_kind(path, true).is_some() {
            bind_with(k, path, path, MsFlags::MS_RDONLY | MsFlags::MS_REC)?;
        }
    }
    Ok(())
}

mod as_bundle;
mod cgroupfs;
pub(crate) mod mounts;
mod program;

pub use as_bundle::{docker_capabilities, plan_of};
pub(crate) use cgroupfs::mount_cgroups;
pub use cgroupfs::own_cgroup_dirs;
pub use program::{execve, find_program};

#[cfg(test)]
mod order_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(args: &[&str], path: &str) -> ShimSpec {
        ShimSpec {
            id: "x".into(),
            rootfs: "/".into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec![format!("PATH={path}")],
            cwd: "/".into(),
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            hostname: "h".into(),
            domainname: String::new(),
            tty: false,
            open_stdin: false,
            network: crate::runtime::spec::Network::New,
            namespaces: Default::default(),
            cgroup_paths: vec![],
            mounts: vec![],
            binds: vec![],
            log_path: "/dev/null".into(),
            log: Default::default(),
            state_dir: "/tmp".into(),
            shm_size: crate::runtime::spec::DEFAULT_SHM_SIZE,
            shm: Default::default(),
            readonly_rootfs: false,
            capabilities: None,
            init: false,
            privileged: false,
            console_size: None,
            seccomp_filter: None,
            no_new_privileges: false,
        }
    }

    #[test]
    fn lookup_errors_use_dockers_words() {
        let find = |args: &[&str], path: &str| {
            let s = spec(args, path);
            find_program(&s.args, &s.env)
        };
        let e = find(&["nosuch"], "/nonexistent").unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.exit_code),
            ("exec: \"nosuch\": executable file not found in $PATH", 127)
        );
        let e = find(&["/nope"], "/bin").unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.exit_code),
            (
                "exec: \"/nope\": stat /nope: no such file or directory",
                127
            )
        );
        let e = find(&["/etc"], "/bin").unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.exit_code),
            ("exec: \"/etc\": is a directory", 126)
        );
        assert!(find(&["sh"], "/nonexistent:/bin").is_ok());
    }
}
