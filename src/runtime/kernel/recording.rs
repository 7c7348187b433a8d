//! A [`Kernel`] that only writes down what it is asked, for the unit tests of init's order.
//! It answers the looking calls from a fixed, typical host (cgroup v2, the /proc and /sys
//! entries a current kernel has), so that a recording is the same on every machine, and
//! every capability is permitted, as for root on the host.

use super::{HostCgroups, Kernel, KernelError, PathKind};
use crate::runtime::security::mask;
use caps::{CapSet, CapsHashSet};
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::stat::{Mode, SFlag};
use nix::unistd::{Gid, Uid};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::fmt;
use std::os::fd::{BorrowedFd, RawFd};
use std::path::{Path, PathBuf};

/// One call, with the arguments a test asserts on.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Setns(CloneFlags),
    Unshare(CloneFlags),
    Mount {
        source: Option<String>,
        target: PathBuf,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    /// A mount onto a descriptor ([`Kernel::mount_at`]); `target` is the path the
    /// descriptor names, as /proc/self/fd shows it.
    MountAt {
        source: Option<String>,
        target: PathBuf,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    Umount(PathBuf, MntFlags),
    Mknod {
        path: PathBuf,
        kind: SFlag,
        mode: u32,
        dev: u64,
    },
    Chdir(PathBuf),
    PivotRoot(PathBuf, PathBuf),
    Sethostname(String),
    JoinCgroup(PathBuf),
    Setdomainname(String),
    Dup2(RawFd),
    /// The capabilities kept in the bounding set, as a mask.
    Bounding(u64),
    /// `CapSet` is neither `PartialEq` nor `Display`: its name, lowercase.
    Capset(String, u64),
    ClearAmbient,
    Setgroups(Vec<u32>),
    Setgid(u32),
    Setuid(u32),
    NoNewPrivileges,
    /// The program's length in BPF instructions.
    Seccomp(usize),
    Execve(String, Vec<String>),
}

impl Call {
    pub fn mount_target(&self) -> Option<&Path> {
        match self {
            Call::Mount { target, .. } | Call::MountAt { target, .. } => Some(target),
            _ => None,
        }
    }
}

fn names<T>(flags: impl Iterator<Item = (&'static str, T)>) -> String {
    let v: Vec<&str> = flags.map(|(n, _)| n).collect();
    if v.is_empty() {
        "0".into()
    } else {
        v.join("|")
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::Setns(t) => write!(f, "setns {}", names(t.iter_names())),
            Call::Unshare(t) => write!(f, "unshare {}", names(t.iter_names())),
            Call::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            } => write_mount(f, source, "", target, fstype, *flags, data),
            Call::MountAt {
                source,
                target,
                fstype,
                flags,
                data,
            } => write_mount(f, source, "fd:", target, fstype, *flags, data),
            Call::Umount(p, flags) => {
                write!(f, "umount {} {}", p.display(), names(flags.iter_names()))
            }
            Call::Mknod {
                path,
                kind,
                mode,
                dev,
            } => {
                let c = if *kind == SFlag::S_IFBLK { 'b' } else { 'c' };
                let (major, minor) = (nix::sys::stat::major(*dev), nix::sys::stat::minor(*dev));
                write!(f, "mknod {} {c} {major}:{minor} {mode:04o}", path.display())
            }
            Call::Chdir(p) => write!(f, "chdir {}", p.display()),
            Call::PivotRoot(new, old) => {
                write!(f, "pivot_root {} {}", new.display(), old.display())
            }
            Call::Sethostname(h) => write!(f, "sethostname {h}"),
            Call::JoinCgroup(p) => write!(f, "join cgroup {}", p.display()),
            Call::Setdomainname(d) => write!(f, "setdomainname {d}"),
            Call::Dup2(to) => write!(f, "dup2 to {to}"),
            Call::Bounding(m) => write!(f, "capabilities: bounding set keeps {m:016x}"),
            Call::Capset(set, m) => write!(f, "capabilities: {set} set to {m:016x}"),
            Call::ClearAmbient => write!(f, "capabilities: ambient set cleared"),
            Call::Setgroups(g) => write!(f, "setgroups {g:?}"),
            Call::Setgid(g) => write!(f, "setgid {g}"),
            Call::Setuid(u) => write!(f, "setuid {u}"),
            Call::NoNewPrivileges => write!(f, "prctl PR_SET_NO_NEW_PRIVS"),
            Call::Seccomp(n) => write!(f, "seccomp: load a filter of {n} instructions"),
            Call::Execve(p, args) => write!(f, "execve {p} {args:?}"),
        }
    }
}

fn write_mount(
    f: &mut fmt::Formatter<'_>,
    source: &Option<String>,
    by: &str,
    target: &Path,
    fstype: &Option<String>,
    flags: MsFlags,
    data: &Option<String>,
) -> fmt::Result {
    let source = source.as_deref().unwrap_or("none");
    write!(f, "mount {source} on {by}{}", target.display())?;
    if let Some(t) = fstype {
        write!(f, " type {t}")?;
    }
    write!(f, " {}", names(flags.iter_names()))?;
    if let Some(d) = data {
        write!(f, " {d:?}")?;
    }
    Ok(())
}

fn cap_mask(caps: &CapsHashSet) -> u64 {
    mask(&caps.iter().copied().collect::<Vec<_>>())
}

pub struct RecordingKernel {
    calls: RefCell<Vec<Call>>,
    pub permitted: CapsHashSet,
    pub cgroups: HostCgroups,
    /// What `own_cgroups` reads: init in the container's cgroup, where the shim put it.
    pub own_cgroups: String,
    /// What `path_kind` finds; anything else is absent.
    pub paths: HashMap<PathBuf, PathKind>,
    /// What `mount_flags_at` reports for every mount, as if each source lay on a mount with
    /// these flags (none: a plain rw, strictatime mount of nothing in particular).
    pub source_mount_flags: MsFlags,
}

impl Default for RecordingKernel {
    fn default() -> Self {
        use PathKind::{Directory, Other};
        // A 6.x kernel: /proc/timer_stats is gone since 4.11, so one mask finds nothing.
        let paths = [
            ("/proc/asound", Directory),
            ("/proc/acpi", Directory),
            ("/proc/kcore", Other),
            ("/proc/keys", Other),
            ("/proc/latency_stats", Other),
            ("/proc/timer_list", Other),
            ("/proc/sched_debug", Other),
            ("/proc/scsi", Directory),
            ("/sys/firmware", Directory),
            ("/sys/devices/virtual/powercap", Directory),
            ("/proc/bus", Directory),
            ("/proc/fs", Directory),
            ("/proc/irq", Directory),
            ("/proc/sys", Directory),
            ("/proc/sysrq-trigger", Other),
        ];
        RecordingKernel {
            calls: RefCell::default(),
            permitted: caps::all(),
            cgroups: HostCgroups::V2,
            own_cgroups: "0::/berth/c0ffee\n".into(),
            paths: paths
                .into_iter()
                .map(|(p, k)| (PathBuf::from(p), k))
                .collect(),
            source_mount_flags: MsFlags::empty(),
        }
    }
}

impl RecordingKernel {
    pub fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }

    /// One line per call, with the test's temporary directory written as `$TMP` (also as
    /// /proc/self/fd shows it, links resolved, for the mounts onto descriptors).
    pub fn transcript(&self, tmp: &Path) -> String {
        let root = tmp.to_string_lossy().into_owned();
        let real = tmp
            .canonicalize()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| root.clone());
        self.calls
            .borrow()
            .iter()
            .map(|c| c.to_string().replace(&real, "$TMP").replace(&root, "$TMP") + "\n")
            .collect()
    }

    fn record(&self, call: Call) -> Result<(), KernelError> {
        self.calls.borrow_mut().push(call);
        Ok(())
    }
}

impl Kernel for RecordingKernel {
    fn setns(&self, _fd: BorrowedFd<'_>, nstype: CloneFlags) -> Result<(), KernelError> {
        self.record(Call::Setns(nstype))
    }

    fn unshare(&self, flags: CloneFlags) -> Result<(), KernelError> {
        self.record(Call::Unshare(flags))
    }

    fn mount(
        &self,
        source: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), KernelError> {
        self.record(Call::Mount {
            source: source.map(String::from),
            target: target.into(),
            fstype: fstype.map(String::from),
            flags,
            data: data.map(String::from),
        })
    }

    fn mount_at(
        &self,
        source: Option<&str>,
        target: BorrowedFd<'_>,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), KernelError> {
        use std::os::fd::AsRawFd;
        let target = std::fs::read_link(format!("/proc/self/fd/{}", target.as_raw_fd()))?;
        self.record(Call::MountAt {
            source: source.map(String::from),
            target,
            fstype: fstype.map(String::from),
            flags,
            data: data.map(String::from),
        })
    }

    fn mount_flags_at(&self, _fd: BorrowedFd<'_>) -> Result<MsFlags, KernelError> {
        Ok(self.source_mount_flags)
    }

    fn umount(&self, target: &Path, flags: MntFlags) -> Result<(), KernelError> {
        self.record(Call::Umount(target.into(), flags))
    }

    fn mknod(&self, path: &Path, kind: SFlag, mode: Mode, dev: u64) -> Result<(), KernelError> {
        self.record(Call::Mknod {
            path: path.into(),
            kind,
            mode: mode.bits(),
            dev,
        })
    }

    fn chdir(&self, dir: &Path) -> Result<(), KernelError> {
        self.record(Call::Chdir(dir.into()))
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), KernelError> {
        self.record(Call::PivotRoot(new_root.into(), put_old.into()))
    }

    fn sethostname(&self, name: &str) -> Result<(), KernelError> {
        self.record(Call::Sethostname(name.into()))
    }

    fn join_cgroup(&self, dir: &Path) -> Result<(), KernelError> {
        self.record(Call::JoinCgroup(dir.into()))
    }

    fn setdomainname(&self, name: &str) -> Result<(), KernelError> {
        self.record(Call::Setdomainname(name.into()))
    }

    fn path_kind(&self, path: &Path, _follow_symlinks: bool) -> Option<PathKind> {
        self.paths.get(path).copied()
    }

    fn host_cgroups(&self) -> Result<HostCgroups, KernelError> {
        Ok(self.cgroups.clone())
    }

    fn own_cgroups(&self) -> Result<String, KernelError> {
        Ok(self.own_cgroups.clone())
    }

    fn dup2(&self, _from: BorrowedFd<'_>, to: RawFd) -> Result<(), KernelError> {
        self.record(Call::Dup2(to))
    }

    fn permitted_capabilities(&self) -> Result<CapsHashSet, KernelError> {
        Ok(self.permitted.clone())
    }

    fn restrict_bounding_set(&self, keep: &CapsHashSet) -> Result<(), KernelError> {
        self.record(Call::Bounding(cap_mask(keep)))
    }

    fn set_capabilities(&self, set: CapSet, caps: &CapsHashSet) -> Result<(), KernelError> {
        let name = format!("{set:?}").to_lowercase();
        self.record(Call::Capset(name, cap_mask(caps)))
    }

    fn clear_ambient_capabilities(&self) -> Result<(), KernelError> {
        self.record(Call::ClearAmbient)
    }

    fn setgroups(&self, gids: &[Gid]) -> Result<(), KernelError> {
        self.record(Call::Setgroups(gids.iter().map(|g| g.as_raw()).collect()))
    }

    fn setgid(&self, gid: Gid) -> Result<(), KernelError> {
        self.record(Call::Setgid(gid.as_raw()))
    }

    fn setuid(&self, uid: Uid) -> Result<(), KernelError> {
        self.record(Call::Setuid(uid.as_raw()))
    }

    fn set_no_new_privileges(&self) -> Result<(), KernelError> {
        self.record(Call::NoNewPrivileges)
    }

    fn load_seccomp(&self, bpf: &[u8]) -> Result<(), KernelError> {
        self.record(Call::Seccomp(
            bpf.len() / std::mem::size_of::<libc::sock_filter>(),
        ))
    }

    fn execve(&self, path: &CStr, args: &[CString], _env: &[CString]) -> Result<(), Errno> {
        let text = |c: &CStr| c.to_string_lossy().into_owned();
        let args = args.iter().map(|a| text(a)).collect();
        self.calls.borrow_mut().push(Call::Execve(text(path), args));
        Ok(())
    }
}
