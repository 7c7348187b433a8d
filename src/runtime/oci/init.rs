//! berth's one init, from clone(2) to execve(2), following a [`Plan`]: a bundle's (for
//! `berth-runc create`) or the one the daemon's container becomes (`runtime::init`, for the
//! shim). Its steps are the daemon's init's pieces (the `Kernel` calls, the mount-point
//! resolution that never leaves the rootfs, /sys/fs/cgroup, masking, the terminal, the program
//! lookup, seccomp and no_new_privs), in the order runc takes them:
//!
//! 1. user namespace maps written by `create` (if new), namespaces joined by path;
//! 2. the cgroup joined, a cgroup namespace taken;
//! 3. `/` made rslave (or what `rootfsPropagation` says), the rootfs bound on itself, and
//!    config.json's mounts made in order, then the device nodes and /dev's links;
//! 4. `create` runs the prestart and createRuntime hooks (message `H`), init runs the
//!    createContainer ones;
//! 5. pivot_root, hostname, sysctls, the read-only root, read-only and masked paths,
//!    oom_score_adj, rlimits, umask, the terminal, the working directory;
//! 6. capabilities, user, seccomp, no_new_privs; `R` to `create`, which exits;
//! 7. opening exec.fifo for writing blocks until `start` opens it for reading; then the
//!    startContainer hooks, and execve. Under the daemon's shim, `R` on the report pipe and
//!    the shim's byte on the go pipe take the place of steps 6 and 7's messages and fifo.

use super::plan::{ms_flags, propagation_flags, Plan, ProcessPlan};
use crate::runtime::init::{mounts, InitError};
use crate::runtime::kernel::{Kernel, LinuxKernel};
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::stat::{makedev, Mode, SFlag};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

/// Messages between `create` (parent) and init (child) on their socket pair, one byte each
/// (an error carries its JSON after the `E`).
pub const MSG_MAPS_WRITTEN: u8 = b'M';
pub const MSG_RUN_HOOKS: u8 = b'H';
pub const MSG_HOOKS_DONE: u8 = b'h';
pub const MSG_READY: u8 = b'R';
pub const MSG_ERROR: u8 = b'E';

/// Who started init, and how init tells it how far it got.
pub enum Parent {
    /// `berth-runc create`: a SOCK_SEQPACKET socket pair for the messages above, and
    /// exec.fifo, opened O_PATH, reopened for writing through /proc/self/fd once pivoted.
    Runc { sync: OwnedFd, fifo: OwnedFd },
    /// The daemon's shim: init writes `R` (or `E` and the error's JSON) on `report`, which is
    /// close-on-exec, so that a successful exec closes it; the shim's byte on `go` says "exec".
    Shim { report: OwnedFd, go: OwnedFd },
}

/// What init is handed, all opened by its parent before the clone.
pub struct InitFds {
    pub parent: Parent,
    /// Namespaces to join, in the order to join them (user first).
    pub joined: Vec<(OwnedFd, CloneFlags)>,
    /// With a terminal: the socket its master end is sent over (`--console-socket`, or the
    /// shim's socket pair).
    pub console: Option<OwnedFd>,
    /// stdin, stdout and stderr to put on 0, 1 and 2 (the shim's pipes); None: the ones init
    /// inherited (`create`'s own, which containerd's shim gave it).
    pub stdio: Option<[OwnedFd; 3]>,
}

pub struct Options<'a> {
    pub plan: &'a Plan,
    pub seccomp: Option<&'a [u8]>,
    /// `create --no-pivot`: move the rootfs onto `/` and chroot, for a rootfs on a ramfs.
    pub no_pivot: bool,
    /// The user namespace is new: wait for `create` to write its maps (it also puts init in
    /// the cgroup: a process inside cannot write the host's cgroup files).
    pub new_userns: bool,
    /// The cgroup directories init joins by itself (none when its parent put it there).
    pub cgroup_dirs: &'a [std::path::PathBuf],
    /// The rootfs is a mount point already (the daemon's overlay); a bundle's directory is
    /// bound on itself first, which pivot_root needs.
    pub rootfs_is_mount: bool,
    /// `--init`: stay PID 1 as a tiny reaper around the command.
    pub reap_as_pid1: bool,
}

pub fn send(fd: &OwnedFd, msg: &[u8]) {
    let _ = nix::sys::socket::send(fd.as_raw_fd(), msg, nix::sys::socket::MsgFlags::empty());
}

/// One message, or None when the other end is gone.
pub fn recv(fd: &OwnedFd) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match nix::sys::socket::recv(
            fd.as_raw_fd(),
            &mut buf,
            nix::sys::socket::MsgFlags::empty(),
        ) {
            Ok(0) => return None,
            Ok(n) => {
                buf.truncate(n);
                return Some(buf);
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

/// Clone init with `flags` (the namespaces it is born in), running `body` in the child. With
/// `pidns`, init is born in that pid namespace: one is entered only by being born in it, so the
/// caller sets it for its children around the clone and takes its own back at once.
pub fn clone_init(
    flags: CloneFlags,
    pidns: Option<&OwnedFd>,
    body: Box<dyn FnMut() -> isize + '_>,
) -> anyhow::Result<nix::unistd::Pid> {
    use anyhow::Context;
    let ours = match pidns {
        Some(theirs) => {
            let ours =
                std::fs::File::open("/proc/self/ns/pid").context("opening our pid namespace")?;
            nix::sched::setns(theirs, CloneFlags::CLONE_NEWPID)
                .context("entering the other pid namespace")?;
            Some(ours)
        }
        None => None,
    };
    let mut stack = vec![0u8; 1 << 20];
    // SAFETY: no CLONE_VM: the child runs in its own copy of this single-threaded process, as
    // after fork, and touches only what `body` borrows, which outlives this call.
    let cloned = unsafe { nix::sched::clone(body, &mut stack, flags, Some(libc::SIGCHLD)) };
    if let Some(ours) = ours {
        // Always allowed: it is the namespace we live in.
        nix::sched::setns(ours, CloneFlags::CLONE_NEWPID)
            .context("returning to our pid namespace")?;
    }
    cloned.context("clone")
}

/// The body of the cloned child: never returns on success.
pub fn run(o: &Options<'_>, fds: &InitFds) -> isize {
    let err = match prepare_and_exec(&LinuxKernel, o, fds) {
        Ok(()) => return 0,
        Err(e) => e,
    };
    report_error(fds, &err);
    err.exit_code as isize
}

/// `E` and the error's JSON, to whichever parent listens.
pub fn report_error(fds: &InitFds, err: &InitError) {
    let mut msg = vec![MSG_ERROR];
    msg.extend(serde_json::to_vec(err).unwrap_or_default());
    match &fds.parent {
        Parent::Runc { sync, .. } => send(sync, &msg),
        Parent::Shim { report, .. } => crate::runtime::init::write_all(report, &msg),
    }
}

/// `create`'s next message, which must be `want`; what follows its first byte.
fn expect(sync: &OwnedFd, want: u8, what: &str) -> Result<Vec<u8>, InitError> {
    match recv(sync) {
        Some(mut m) if m.first() == Some(&want) => Ok(m.split_off(1)),
        _ => Err(InitError::setup(what, "berth-runc create went away")),
    }
}

/// Init's whole sequence, each step through `k`; returns only on failure with a real kernel.
pub fn prepare_and_exec(k: &dyn Kernel, o: &Options<'_>, fds: &InitFds) -> Result<(), InitError> {
    let plan = o.plan;
    if let (true, Parent::Runc { sync, .. }) = (o.new_userns, &fds.parent) {
        expect(
            sync,
            MSG_MAPS_WRITTEN,
            "waiting for the user namespace's maps",
        )?;
        // Root inside, whatever uid created us outside.
        nix::unistd::setresgid(0.into(), 0.into(), 0.into())
            .map_err(|e| InitError::setup("setresgid", e))?;
        nix::unistd::setresuid(0.into(), 0.into(), 0.into())
            .map_err(|e| InitError::setup("setresuid", e))?;
    }
    for (ns, kind) in &fds.joined {
        k.setns(ns.as_fd(), *kind).map_err(|e| {
            InitError::setup(
                &format!(
                    "joining the {} namespace",
                    crate::runtime::init::ns_name(*kind)
                ),
                e,
            )
        })?;
    }
    // Init moves itself, while it has one thread and still sees the host's /sys/fs/cgroup:
    // the cheapest way in (see cgroups::join_self).
    for dir in o.cgroup_dirs {
        k.join_cgroup(dir)
            .map_err(|e| InitError::setup(&format!("joining the cgroup {}", dir.display()), e))?;
    }
    if plan.owns("cgroup") {
        k.unshare(CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| InitError::setup("creating the cgroup namespace", e))?;
    }

    prepare_rootfs(k, o)?;
    let mut state = serde_json::Value::Null;
    if let Parent::Runc { sync, .. } = &fds.parent {
        send(sync, &[MSG_RUN_HOOKS]);
        // The answer carries the state the hooks get on stdin: our pid is known outside only.
        let answer = expect(sync, MSG_HOOKS_DONE, "waiting for the createRuntime hooks")?;
        state = serde_json::from_slice(&answer).unwrap_or_default();
        super::hooks::run_all("createContainer", &plan.hooks.create_container, &state)
            .map_err(|e| InitError::setup("createContainer hooks", e))?;
    }
    enter_rootfs(k, plan, o.no_pivot)?;

    if plan.owns("uts") {
        if let Some(h) = &plan.hostname {
            k.sethostname(h)
                .map_err(|e| InitError::setup("setting the hostname", e))?;
        }
        if let Some(d) = &plan.domainname {
            k.setdomainname(d)
                .map_err(|e| InitError::setup("setting the domain name", e))?;
        }
    }
    for (key, value) in &plan.sysctl {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        std::fs::write(&path, value)
            .map_err(|e| InitError::setup(&format!("setting the sysctl {key}"), e))?;
    }
    // After the sysctls: /proc/sys is among the read-only paths.
    finish_rootfs(k, plan)?;
    if let Some(adj) = plan.process.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| InitError::setup("setting oom_score_adj", e))?;
    }
    set_rlimits(&plan.process)?;

    let cwd = &plan.process.cwd;
    std::fs::create_dir_all(cwd)
        .map_err(|e| InitError::setup(&format!("creating the working directory {cwd}"), e))?;
    k.chdir(Path::new(cwd))
        .map_err(|e| InitError::setup(&format!("chdir to {cwd}"), e))?;
    let program = crate::runtime::init::find_program(&plan.process.args, &plan.process.env)?;
    match (&fds.console, &fds.stdio) {
        (Some(sock), _) => {
            crate::runtime::init::setup_console(k, plan.process.console_size, sock, true)?
        }
        (None, Some(stdio)) => {
            for (from, to) in stdio.iter().zip(0..) {
                k.dup2(from.as_fd(), to)
                    .map_err(|e| InitError::setup("setting up stdio", e))?;
            }
        }
        (None, None) => {}
    }

    become_the_process(k, &plan.process, o.seccomp)?;

    let args = &plan.process.args;
    let env = &plan.process.env;
    match &fds.parent {
        Parent::Runc { sync, fifo } => {
            send(sync, &[MSG_READY]);
            // Blocks until `start` opens the fifo for reading.
            let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
            let opened = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| InitError::setup("opening exec.fifo", e))?;
            use std::io::Write;
            (&opened)
                .write_all(b"0")
                .map_err(|e| InitError::setup("writing exec.fifo", e))?;
            drop(opened);
            super::hooks::run_all("startContainer", &plan.hooks.start_container, &state)
                .map_err(|e| InitError::setup("startContainer hooks", e))?;
        }
        Parent::Shim { report, go } => {
            crate::runtime::init::write_all(report, &[MSG_READY]);
            if !crate::runtime::init::read_byte(go) {
                return Err(InitError::setup("waiting for start", "the shim went away"));
            }
            if o.reap_as_pid1 {
                return crate::runtime::init::reap_as_pid1(k, args, env, &program, report);
            }
        }
    }
    crate::runtime::init::execve(k, &program, args, env)
}

fn failed(what: &str) -> impl FnOnce(mounts::MountError) -> InitError + '_ {
    move |e| InitError::setup(&format!("mounting {what}"), e)
}

fn prepare_rootfs(k: &dyn Kernel, o: &Options<'_>) -> Result<(), InitError> {
    let plan = o.plan;
    let root = &plan.rootfs;
    // Nothing done here may leak back to the host's mount namespace: private, or slave when
    // a bind wants the host's mounts to come in.
    set_root_propagation(k, plan)?;
    // pivot_root refuses a new root whose parent mount is shared, and an unbindable mount
    // cannot be bound: under such a `rootfsPropagation`, the mount the rootfs lies on is made
    // private first, as runc does.
    if !default_propagation(plan) {
        if let Some(parent) = mount_point_of(root.parent().unwrap_or(root)) {
            crate::runtime::init::mnt(k, None, &parent, None, MsFlags::MS_PRIVATE, None)?;
        }
    }
    if !o.rootfs_is_mount {
        // pivot_root wants the new root to be a mount point: a bundle's rootfs is often a
        // plain directory.
        crate::runtime::init::mnt(
            k,
            Some(&root.to_string_lossy()),
            root,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )?;
    }
    let rootfs = mounts::Rootfs::open(root).map_err(failed("the rootfs"))?;
    for m in &plan.mounts {
        let dest = m.destination.as_str();
        if m.fstype == "cgroup" || m.fstype == "cgroup2" {
            mounts::ensure_dir(&rootfs, dest).map_err(failed(dest))?;
            let target = root.join(dest.trim_start_matches('/'));
            crate::runtime::init::mount_cgroups(k, &target, plan.owns("cgroup"))?;
            continue;
        }
        let g = mounts::Generic {
            source: &m.source,
            fstype: &m.fstype,
            bind: m.bind,
            recursive: m.recursive,
            flags: ms_flags(&m.flags),
            data: &m.data,
            propagation: m
                .propagation
                .as_deref()
                .map(propagation_flags)
                .unwrap_or(MsFlags::empty()),
        };
        match mounts::mount_generic(k, &rootfs, dest, &g) {
            Ok(()) => {}
            // A sysfs belongs to a network namespace: in one that is not the container's
            // own, the kernel refuses a new one, and runc binds the host's instead.
            Err(_) if m.fstype == "sysfs" && !plan.owns("net") => {
                let g = mounts::Generic {
                    source: "/sys",
                    fstype: "",
                    bind: true,
                    recursive: true,
                    ..g
                };
                mounts::mount_generic(k, &rootfs, dest, &g).map_err(failed(dest))?;
            }
            Err(e) => return Err(failed(dest)(e)),
        }
    }
    let dev_from_host = plan
        .mounts
        .iter()
        .any(|m| m.destination == "/dev" && m.bind);
    if !dev_from_host {
        make_devices(k, plan, o.new_userns)?;
    }
    Ok(())
}

/// The mount point `path` lies on: the longest mount point in /proc/self/mountinfo that is a
/// prefix of it.
fn mount_point_of(path: &Path) -> Option<std::path::PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .map(|p| std::path::PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| path.starts_with(p))
        .max_by_key(|p| p.as_os_str().len())
}

fn make_devices(k: &dyn Kernel, plan: &Plan, new_userns: bool) -> Result<(), InitError> {
    let at = |p: &str| plan.rootfs.join(p.trim_start_matches('/'));
    for d in &plan.devices {
        let path = at(&d.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| InitError::setup(&format!("creating {}", parent.display()), e))?;
        }
        let kind = match d.kind {
            'b' => SFlag::S_IFBLK,
            'p' => SFlag::S_IFIFO,
            _ => SFlag::S_IFCHR,
        };
        let _ = std::fs::remove_file(&path);
        match k.mknod(
            &path,
            kind,
            Mode::from_bits_truncate(d.mode),
            makedev(d.major, d.minor),
        ) {
            Ok(()) => {
                // mknod's mode passes through the umask; the device's own is config.json's.
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(d.mode));
                let _ = nix::unistd::chown(&path, Some(d.uid.into()), Some(d.gid.into()));
            }
            // In a user namespace of its own, no process may make a device node: the host's
            // node is bound on an empty file instead, as runc does.
            Err(_) if new_userns => {
                std::fs::write(&path, b"")
                    .map_err(|e| InitError::setup(&format!("creating {}", d.path), e))?;
                crate::runtime::init::mnt(k, Some(&d.path), &path, None, MsFlags::MS_BIND, None)?;
            }
            Err(e) => return Err(InitError::setup(&format!("creating {}", d.path), e)),
        }
    }
    let dev = at("/dev");
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let _ = std::os::unix::fs::symlink(target, dev.join(link));
    }
    // The container's own pseudo-terminals: /dev/ptmx leads to its devpts instance.
    if plan.mounts.iter().any(|m| m.destination == "/dev/pts") {
        let ptmx = dev.join("ptmx");
        let _ = std::fs::remove_file(&ptmx);
        std::os::unix::fs::symlink("pts/ptmx", &ptmx)
            .map_err(|e| InitError::setup("creating /dev/ptmx", e))?;
    }
    Ok(())
}

fn enter_rootfs(k: &dyn Kernel, plan: &Plan, no_pivot: bool) -> Result<(), InitError> {
    // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only
    // the container's filesystem, and takes every host mount copied into this namespace along.
    let root = &plan.rootfs;
    k.chdir(root)
        .map_err(|e| InitError::setup("entering the rootfs", e))?;
    if no_pivot {
        crate::runtime::init::mnt(k, Some("."), Path::new("/"), None, MsFlags::MS_MOVE, None)?;
        nix::unistd::chroot(".").map_err(|e| InitError::setup("chroot", e))?;
    } else {
        k.pivot_root(Path::new("."), Path::new("."))
            .map_err(|e| InitError::setup("pivot_root", e))?;
        // The old root, stacked under the new one, goes with every host mount in it. Under a
        // shared root its unmounting would reach the host's mounts: made slave first.
        if plan.root_propagation.ends_with("shared") {
            crate::runtime::init::mnt(
                k,
                None,
                Path::new("."),
                None,
                MsFlags::MS_SLAVE | MsFlags::MS_REC,
                None,
            )?;
        }
        k.umount(Path::new("."), MntFlags::MNT_DETACH)
            .map_err(|e| InitError::setup("detaching the old root", e))?;
    }
    k.chdir(Path::new("/"))
        .map_err(|e| InitError::setup("chdir /", e))?;
    // The new root came through a private parent (above): it gets the propagation asked for.
    if !default_propagation(plan) {
        set_root_propagation(k, plan)?;
    }
    Ok(())
}

/// Private or slave: what needs no parent made private first, nor a second pass after the
/// pivot.
fn default_propagation(plan: &Plan) -> bool {
    matches!(
        plan.root_propagation.as_str(),
        "slave" | "rslave" | "private" | "rprivate"
    )
}

/// `/` and every mount under it get the plan's root propagation.
fn set_root_propagation(k: &dyn Kernel, plan: &Plan) -> Result<(), InitError> {
    crate::runtime::init::mnt(
        k,
        None,
        Path::new("/"),
        None,
        propagation_flags(&plan.root_propagation) | MsFlags::MS_REC,
        None,
    )
}

fn finish_rootfs(k: &dyn Kernel, plan: &Plan) -> Result<(), InitError> {
    if plan.readonly_rootfs {
        crate::runtime::init::mnt(
            k,
            None,
            Path::new("/"),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None,
        )?;
    }
    crate::runtime::init::readonly_paths(k, plan.readonly_paths.iter().map(String::as_str))?;
    crate::runtime::init::mask_paths(k, plan.masked_paths.iter().map(String::as_str))
}

pub fn set_rlimits(p: &ProcessPlan) -> Result<(), InitError> {
    use nix::sys::resource::{setrlimit, Resource};
    for r in &p.rlimits {
        let which = match r.kind.as_str() {
            "RLIMIT_CPU" => Resource::RLIMIT_CPU,
            "RLIMIT_FSIZE" => Resource::RLIMIT_FSIZE,
            "RLIMIT_DATA" => Resource::RLIMIT_DATA,
            "RLIMIT_STACK" => Resource::RLIMIT_STACK,
            "RLIMIT_CORE" => Resource::RLIMIT_CORE,
            "RLIMIT_RSS" => Resource::RLIMIT_RSS,
            "RLIMIT_NPROC" => Resource::RLIMIT_NPROC,
            "RLIMIT_NOFILE" => Resource::RLIMIT_NOFILE,
            "RLIMIT_MEMLOCK" => Resource::RLIMIT_MEMLOCK,
            "RLIMIT_AS" => Resource::RLIMIT_AS,
            "RLIMIT_LOCKS" => Resource::RLIMIT_LOCKS,
            "RLIMIT_SIGPENDING" => Resource::RLIMIT_SIGPENDING,
            "RLIMIT_MSGQUEUE" => Resource::RLIMIT_MSGQUEUE,
            "RLIMIT_NICE" => Resource::RLIMIT_NICE,
            "RLIMIT_RTPRIO" => Resource::RLIMIT_RTPRIO,
            "RLIMIT_RTTIME" => Resource::RLIMIT_RTTIME,
            other => {
                return Err(InitError::setup(
                    "setting rlimits",
                    format!("unknown {other}"),
                ))
            }
        };
        setrlimit(which, r.soft, r.hard)
            .map_err(|e| InitError::setup(&format!("setting {}", r.kind), e))?;
    }
    Ok(())
}

/// Capabilities, groups, user, seccomp and no_new_privs, in runc's order: the filter first
/// while CAP_SYS_ADMIN is held (unless no_new_privs lets anyone load one, then last), the
/// bounding set (it needs CAP_SETPCAP), the ids with PR_SET_KEEPCAPS so that a non-root user keeps the sets
/// config.json gives it, then those sets.
pub fn become_the_process(
    k: &dyn Kernel,
    p: &ProcessPlan,
    seccomp: Option<&[u8]>,
) -> Result<(), InitError> {
    use caps::{CapSet, Capability, CapsHashSet};
    use std::str::FromStr;
    let set_of = |names: &[String]| -> CapsHashSet {
        names
            .iter()
            .filter_map(|n| Capability::from_str(n).ok())
            .collect()
    };
    let security = crate::runtime::init::Confinement {
        seccomp,
        no_new_privileges: p.no_new_privileges,
    };
    if let Some(mask) = p.umask {
        nix::sys::stat::umask(Mode::from_bits_truncate(mask));
    }
    security.before_dropping_privileges(k)?;
    k.restrict_bounding_set(&set_of(&p.capabilities.bounding))
        .map_err(|e| InitError::setup("setting the bounding set", e))?;
    nix::sys::prctl::set_keepcaps(true).map_err(|e| InitError::setup("PR_SET_KEEPCAPS", e))?;
    let gids: Vec<nix::unistd::Gid> = p.additional_gids.iter().map(|g| (*g).into()).collect();
    k.setgroups(&gids)
        .map_err(|e| InitError::setup("setgroups", e))?;
    k.setgid(p.gid.into())
        .map_err(|e| InitError::setup("setgid", e))?;
    k.setuid(p.uid.into())
        .map_err(|e| InitError::setup("setuid", e))?;
    nix::sys::prctl::set_keepcaps(false).map_err(|e| InitError::setup("PR_SET_KEEPCAPS", e))?;
    let set = |which, names: &[String]| {
        k.set_capabilities(which, &set_of(names))
            .map_err(|e| InitError::setup("setting capabilities", e))
    };
    // Inheritable first, while CAP_SETPCAP may still be effective; effective is a subset of
    // permitted: widened after it, narrowed before.
    set(CapSet::Inheritable, &p.capabilities.inheritable)?;
    set(CapSet::Effective, &p.capabilities.effective)?;
    set(CapSet::Permitted, &p.capabilities.permitted)?;
    set(CapSet::Effective, &p.capabilities.effective)?;
    let _ = k.clear_ambient_capabilities();
    // The kernel raises an ambient capability only if it is permitted and inheritable; runc
    // skips the others with a warning, and so does this (runc's own `spec` lists ambient
    // capabilities without inheritable ones).
    for c in set_of(&p.capabilities.ambient) {
        let _ = caps::raise(None, CapSet::Ambient, c);
    }
    security.after_dropping_privileges(k)
}
