//! The container's first process, from clone(2) to execve(2): it joins the network namespace
//! (and another container's IPC namespace, with `--ipc container:`), joins its cgroup,
//! takes a cgroup namespace (unless `--cgroupns host`), builds proc, sys and dev, makes the
//! container's own mounts and the /etc binds (`mounts`), pivots into the rootfs, masks what
//! Docker masks, sets the hostname (unless `--uts host`), drops to Docker's capabilities and
//! the user, and execs on the shim's word. Every call that order rests on goes through `kernel::Kernel`, so
//! `order_tests` can check it without root.

use super::kernel::{Kernel, LinuxKernel, PathKind};
use super::security::{MASKED_PATHS, READONLY_PATHS};
use super::spec::{OwnOrHost, ShimSpec, Shm};
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{makedev, Mode, SFlag};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
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

/// The file descriptors init works with, all opened by the shim before clone.
pub struct InitFds {
    pub netns: Option<OwnedFd>,
    /// Namespaces of another container to join (`--ipc container:<x>`), each with its kind.
    pub joined: Vec<(OwnedFd, nix::sched::CloneFlags)>,
    /// Init writes `R` when ready, or `E` + JSON; CLOEXEC, so a successful exec closes it.
    pub report: OwnedFd,
    /// The shim writes one byte to say "exec now".
    pub go: OwnedFd,
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    /// With `-t`: the socket init sends its terminal's master end over.
    pub console: Option<OwnedFd>,
}

fn write_all(fd: &OwnedFd, data: &[u8]) {
    let mut off = 0;
    while off < data.len() {
        match nix::unistd::write(fd, &data[off..]) {
            Ok(n) => off += n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return,
        }
    }
}

fn read_byte(fd: &OwnedFd) -> bool {
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
    let mut msg = vec![b'E'];
    msg.extend(serde_json::to_vec(&err).unwrap_or_default());
    write_all(&fds.report, &msg);
    err.exit_code as isize
}

/// Init's whole sequence, each step through `k`; returns only on failure with a real kernel.
pub fn prepare_and_exec(
    k: &dyn Kernel,
    spec: &ShimSpec,
    fds: &InitFds,
    filter: Option<&[u8]>,
) -> Result<(), InitError> {
    if let Some(ns) = &fds.netns {
        use std::os::fd::AsFd;
        k.setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| InitError::setup("joining the network namespace", e))?;
    }
    for (ns, kind) in &fds.joined {
        use std::os::fd::AsFd;
        k.setns(ns.as_fd(), *kind).map_err(|e| {
            InitError::setup(&format!("joining the {} namespace", ns_name(*kind)), e)
        })?;
    }
    // Init moves itself, while it has one thread and still sees the host's /sys/fs/cgroup:
    // the cheapest way in (see cgroups::join_self). The shim, outside, stays out.
    for dir in &spec.cgroup_paths {
        k.join_cgroup(dir)
            .map_err(|e| InitError::setup(&format!("joining the cgroup {}", dir.display()), e))?;
    }
    // Taken only now, so that the cgroup just joined is the namespace's root.
    if spec.namespaces.cgroup == OwnOrHost::Private {
        k.unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| InitError::setup("creating the cgroup namespace", e))?;
    }

    setup_rootfs(k, spec)?;
    // In a UTS namespace that is not its own, the names are somebody else's to set.
    if spec.namespaces.uts == OwnOrHost::Private {
        k.sethostname(&spec.hostname)
            .map_err(|e| InitError::setup("setting the hostname", e))?;
        if !spec.domainname.is_empty() {
            k.setdomainname(&spec.domainname)
                .map_err(|e| InitError::setup("setting the domain name", e))?;
        }
    }

    let cwd = if spec.cwd.is_empty() {
        "/"
    } else {
        spec.cwd.as_str()
    };
    std::fs::create_dir_all(cwd)
        .map_err(|e| InitError::setup(&format!("creating the working directory {cwd}"), e))?;
    k.chdir(Path::new(cwd))
        .map_err(|e| InitError::setup(&format!("chdir to {cwd}"), e))?;

    let program = find_program(&spec.args, &spec.env)?;

    match &fds.console {
        Some(sock) => setup_console(k, spec.console_size, sock, true)?,
        None => {
            use std::os::fd::AsFd;
            for (from, to) in [(&fds.stdin, 0), (&fds.stdout, 1), (&fds.stderr, 2)] {
                k.dup2(from.as_fd(), to)
                    .map_err(|e| InitError::setup("setting up stdio", e))?;
            }
        }
    }
    let security = Confinement {
        seccomp: filter,
        no_new_privileges: spec.no_new_privileges,
    };
    security.before_dropping_privileges(k)?;
    drop_privileges(
        k,
        spec.uid,
        spec.gid,
        &spec.additional_gids,
        spec.privileged,
        spec.capabilities.as_deref(),
    )?;
    security.after_dropping_privileges(k)?;

    write_all(&fds.report, b"R");
    if !read_byte(&fds.go) {
        return Err(InitError::setup("waiting for start", "the shim went away"));
    }
    if spec.init {
        return reap_as_pid1(k, spec, &program, &fds.report);
    }
    exec(k, spec, &program)
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
fn reap_as_pid1(
    k: &dyn Kernel,
    spec: &ShimSpec,
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
            exec(k, spec, program)
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

fn setup_rootfs(k: &dyn Kernel, spec: &ShimSpec) -> Result<(), InitError> {
    let root = &spec.rootfs;
    // Nothing done here may leak back to the host's mount namespace (private, or slave when a
    // bind wants the host's mounts to come in: see `mounts::root_propagation`).
    mnt(
        k,
        None,
        Path::new("/"),
        None,
        mounts::root_propagation(&spec.mounts),
        None,
    )?;
    let at = |p: &str| root.join(p.trim_start_matches('/'));
    let ensure_dir = |p: &Path| {
        std::fs::create_dir_all(p)
            .map_err(|e| InitError::setup(&format!("creating {}", p.display()), e))
    };
    let base = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;

    ensure_dir(&at("/proc"))?;
    mnt(k, Some("proc"), &at("/proc"), Some("proc"), base, None)?;
    ensure_dir(&at("/sys"))?;
    // --privileged gets a writable /sys, all host devices and no masked paths, as in Docker.
    let sys_flags = if spec.privileged {
        base
    } else {
        base | MsFlags::MS_RDONLY
    };
    mnt(
        k,
        Some("sysfs"),
        &at("/sys"),
        Some("sysfs"),
        sys_flags,
        None,
    )?;
    mount_cgroups(
        k,
        &at("/sys/fs/cgroup"),
        spec.namespaces.cgroup == OwnOrHost::Private,
    )?;
    ensure_dir(&at("/dev"))?;
    mnt(
        k,
        Some("tmpfs"),
        &at("/dev"),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )?;
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let p = at(&format!("/dev/{name}"));
        k.mknod(
            &p,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(major, minor),
        )
        .map_err(|e| InitError::setup(&format!("creating /dev/{name}"), e))?;
        let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666));
    }
    if spec.privileged {
        copy_host_devices(k, Path::new("/dev"), &at("/dev"))?;
    }
    ensure_dir(&at("/dev/pts"))?;
    mnt(
        k,
        Some("devpts"),
        &at("/dev/pts"),
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
    )?;
    match &spec.shm {
        Shm::Private => {
            ensure_dir(&at("/dev/shm"))?;
            mnt(
                k,
                Some("shm"),
                &at("/dev/shm"),
                Some("tmpfs"),
                base,
                Some(&format!("mode=1777,size={}", spec.shm_size)),
            )?;
        }
        // The host's, or a shareable container's: the same tmpfs, with its own flags.
        Shm::Bind(source) => {
            ensure_dir(&at("/dev/shm"))?;
            mnt(
                k,
                Some(&source.to_string_lossy()),
                &at("/dev/shm"),
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )?;
        }
        // `--ipc none`: not even the directory, as in Docker.
        Shm::None => {}
    }
    ensure_dir(&at("/dev/mqueue"))?;
    mnt(
        k,
        Some("mqueue"),
        &at("/dev/mqueue"),
        Some("mqueue"),
        base,
        None,
    )?;
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(target, at(&format!("/dev/{link}")))
            .map_err(|e| InitError::setup(&format!("creating /dev/{link}"), e))?;
    }
    // Volumes, binds and tmpfs after /dev (a volume at /dev/shm covers berth's), and before
    // the /etc files, which a user's mount at that path replaces.
    let rootfs = mounts::Rootfs::open(root).map_err(|e| InitError::setup("mounting", e))?;
    mounts::mount_all(k, &rootfs, &spec.mounts)?;
    mounts::bind_etc_files(k, &rootfs, &spec.binds, &spec.mounts)?;
    drop(rootfs);

    // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only
    // the container's filesystem, and takes every host mount copied into this namespace along.
    k.chdir(root)
        .map_err(|e| InitError::setup("entering the rootfs", e))?;
    k.pivot_root(Path::new("."), Path::new("."))
        .map_err(|e| InitError::setup("pivot_root", e))?;
    k.umount(Path::new("."), MntFlags::MNT_DETACH)
        .map_err(|e| InitError::setup("detaching the old root", e))?;
    k.chdir(Path::new("/"))
        .map_err(|e| InitError::setup("chdir /", e))?;
    if spec.readonly_rootfs {
        // A bind remount changes only this namespace's view; the overlay stays writable on the
        // host, and /proc, /dev and the /etc files mounted above keep their own flags.
        mnt(
            k,
            None,
            Path::new("/"),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None,
        )?;
    }

    if spec.privileged {
        return Ok(());
    }
    mask_paths(k, MASKED_PATHS.iter().copied())?;
    readonly_paths(k, READONLY_PATHS.iter().copied())
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

/// Recreate every device node of the host's /dev (and its subdirectories, but not the
/// filesystems mounted there, pts, shm and mqueue, nor ptmx, which points into pts) in the container's /dev, for --privileged.
fn copy_host_devices(k: &dyn Kernel, from: &Path, to: &Path) -> Result<(), InitError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let name = e.file_name();
        if ["pts", "shm", "mqueue", "ptmx"].iter().any(|n| name == *n) {
            continue;
        }
        let Ok(md) = e.path().symlink_metadata() else {
            continue;
        };
        let ft = md.file_type();
        let target = to.join(&name);
        if ft.is_dir() {
            let _ = std::fs::create_dir_all(&target);
            copy_host_devices(k, &e.path(), &target)?;
        } else if (ft.is_char_device() || ft.is_block_device()) && !target.exists() {
            let kind = if ft.is_char_device() {
                SFlag::S_IFCHR
            } else {
                SFlag::S_IFBLK
            };
            k.mknod(
                &target,
                kind,
                Mode::from_bits_truncate(md.mode()),
                md.rdev(),
            )
            .map_err(|err| InitError::setup(&format!("creating {}", target.display()), err))?;
            let _ = nix::unistd::chown(
                &target,
                Some(nix::unistd::Uid::from_raw(md.uid())),
                Some(nix::unistd::Gid::from_raw(md.gid())),
            );
        }
    }
    Ok(())
}

mod cgroupfs;
pub(crate) mod mounts;
mod program;

pub(crate) use cgroupfs::mount_cgroups;
pub use cgroupfs::own_cgroup_dirs;
use program::exec;
pub use program::{drop_privileges, execve, find_program};

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
