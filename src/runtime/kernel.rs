//! The seam between the container's init and the kernel: every system call whose order makes
//! a container what it is (mounts, pivot_root, namespaces, capabilities, identity, seccomp,
//! execve) goes through the [`Kernel`] trait. [`LinuxKernel`] makes the calls, and this module
//! holds all of init's `unsafe`; a recording double (tests only) writes them down instead, so
//! the order can be checked without root.

use caps::{CapSet, CapsHashSet};
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::stat::{Mode, SFlag};
use nix::unistd::{Gid, Uid};
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use thiserror::Error;

#[cfg(test)]
pub mod recording;

/// A failed call. Transparent, so that init's messages read as they did when it called nix,
/// caps and libc itself.
#[derive(Debug, Error)]
pub enum KernelError {
    #[error(transparent)]
    Errno(#[from] Errno),
    #[error(transparent)]
    Caps(#[from] caps::errors::CapsError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What stat(2) or lstat(2) finds at a path: the masks hide a directory under a tmpfs and
/// anything else under /dev/null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    Directory,
    Other,
}

/// The host's cgroup layout, which decides what init mounts at /sys/fs/cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostCgroups {
    V2,
    /// Each v1 hierarchy: its directory name and its mount options.
    V1(Vec<(String, String)>),
}

/// The calls init's sequence is made of. Four of them only look ([`Kernel::path_kind`],
/// [`Kernel::host_cgroups`], [`Kernel::own_cgroups`], [`Kernel::mount_flags_at`]): what init
/// mounts depends on their answers, so a test must be able to give them. Finding and creating
/// a mount point inside the rootfs (`init::mounts`) is not here: it only opens and creates
/// files, which a test can let happen in a temporary directory.
pub trait Kernel {
    fn setns(&self, fd: BorrowedFd<'_>, nstype: CloneFlags) -> Result<(), KernelError>;
    fn unshare(&self, flags: CloneFlags) -> Result<(), KernelError>;
    fn mount(
        &self,
        source: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), KernelError>;
    /// mount(2) onto what `target` names, an `O_PATH` descriptor of a mount point already
    /// resolved inside the rootfs, so that no path is looked up again between the resolution
    /// and the mount (a link swapped in meanwhile cannot redirect it).
    fn mount_at(
        &self,
        source: Option<&str>,
        target: BorrowedFd<'_>,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), KernelError>;
    /// The flags of the mount `fd` lies on (statvfs(2)) as `MS_*` bits: the ones a bind
    /// remount must repeat so as not to lift what the source's mount imposes.
    fn mount_flags_at(&self, fd: BorrowedFd<'_>) -> Result<MsFlags, KernelError>;
    fn umount(&self, target: &Path, flags: MntFlags) -> Result<(), KernelError>;
    fn mknod(&self, path: &Path, kind: SFlag, mode: Mode, dev: u64) -> Result<(), KernelError>;
    /// The working directory is part of the pivot (`pivot_root(".", ".")` acts on it).
    fn chdir(&self, dir: &Path) -> Result<(), KernelError>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), KernelError>;
    fn sethostname(&self, name: &str) -> Result<(), KernelError>;
    /// Move this single-threaded process into a directory of its cgroup.
    fn join_cgroup(&self, dir: &Path) -> Result<(), KernelError>;
    /// The NIS domain name of the UTS namespace (`--domainname`).
    fn setdomainname(&self, name: &str) -> Result<(), KernelError>;
    /// None when nothing is there; `follow_symlinks` picks stat(2) over lstat(2).
    fn path_kind(&self, path: &Path, follow_symlinks: bool) -> Option<PathKind>;
    fn host_cgroups(&self) -> Result<HostCgroups, KernelError>;
    /// `/proc/self/cgroup`: the cgroup this process is in, in each hierarchy.
    fn own_cgroups(&self) -> Result<String, KernelError>;
    fn dup2(&self, from: BorrowedFd<'_>, to: RawFd) -> Result<(), KernelError>;
    fn permitted_capabilities(&self) -> Result<CapsHashSet, KernelError>;
    /// Drop from the bounding set every capability this kernel knows and `keep` lacks.
    fn restrict_bounding_set(&self, keep: &CapsHashSet) -> Result<(), KernelError>;
    fn set_capabilities(&self, set: CapSet, caps: &CapsHashSet) -> Result<(), KernelError>;
    fn clear_ambient_capabilities(&self) -> Result<(), KernelError>;
    fn setgroups(&self, gids: &[Gid]) -> Result<(), KernelError>;
    fn setgid(&self, gid: Gid) -> Result<(), KernelError>;
    fn setuid(&self, uid: Uid) -> Result<(), KernelError>;
    /// prctl(PR_SET_NO_NEW_PRIVS).
    fn set_no_new_privileges(&self) -> Result<(), KernelError>;
    /// A BPF program made by `seccomp::to_bpf`.
    fn load_seccomp(&self, bpf: &[u8]) -> Result<(), KernelError>;
    /// Replaces the process on success, so only a real kernel never returns `Ok`.
    fn execve(&self, path: &CStr, args: &[CString], env: &[CString]) -> Result<(), Errno>;
}

/// The real thing.
pub struct LinuxKernel;

impl Kernel for LinuxKernel {
    fn setns(&self, fd: BorrowedFd<'_>, nstype: CloneFlags) -> Result<(), KernelError> {
        Ok(nix::sched::setns(fd, nstype)?)
    }

    fn unshare(&self, flags: CloneFlags) -> Result<(), KernelError> {
        Ok(nix::sched::unshare(flags)?)
    }

    fn mount(
        &self,
        source: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), KernelError> {
        Ok(nix::mount::mount(source, target, fstype, flags, data)?)
    }

    fn mount_at(
        &self,
        source: Option<&str>,
        target: BorrowedFd<'_>,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), KernelError> {
        // Init runs this before pivot_root, in its copy of the host's mounts: /proc is still the
        // host's procfs, where this process has a pid (the host's pid namespace is an ancestor
        // of the container's), so /proc/self/fd/N is the magic link to the descriptor's file.
        let target = format!("/proc/self/fd/{}", target.as_raw_fd());
        Ok(nix::mount::mount(
            source,
            target.as_str(),
            fstype,
            flags,
            data,
        )?)
    }

    fn mount_flags_at(&self, fd: BorrowedFd<'_>) -> Result<MsFlags, KernelError> {
        Ok(statvfs_to_mount_flags(
            nix::sys::statvfs::fstatvfs(fd)?.flags(),
        ))
    }

    fn umount(&self, target: &Path, flags: MntFlags) -> Result<(), KernelError> {
        Ok(nix::mount::umount2(target, flags)?)
    }

    fn mknod(&self, path: &Path, kind: SFlag, mode: Mode, dev: u64) -> Result<(), KernelError> {
        Ok(nix::sys::stat::mknod(path, kind, mode, dev)?)
    }

    fn chdir(&self, dir: &Path) -> Result<(), KernelError> {
        Ok(nix::unistd::chdir(dir)?)
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), KernelError> {
        Ok(nix::unistd::pivot_root(new_root, put_old)?)
    }

    fn sethostname(&self, name: &str) -> Result<(), KernelError> {
        Ok(nix::unistd::sethostname(name)?)
    }

    fn join_cgroup(&self, dir: &Path) -> Result<(), KernelError> {
        Ok(crate::cgroups::join_self(dir)?)
    }

    fn setdomainname(&self, name: &str) -> Result<(), KernelError> {
        // SAFETY: the pointer and length describe `name`'s bytes, which outlive the call; the
        // kernel copies them and needs no terminating NUL.
        let rc = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(nix::errno::Errno::last().into())
        }
    }

    fn path_kind(&self, path: &Path, follow_symlinks: bool) -> Option<PathKind> {
        let md = if follow_symlinks {
            path.metadata()
        } else {
            path.symlink_metadata()
        }
        .ok()?;
        Some(if md.is_dir() {
            PathKind::Directory
        } else {
            PathKind::Other
        })
    }

    fn host_cgroups(&self) -> Result<HostCgroups, KernelError> {
        Ok(match crate::cgroups::detect(Path::new("/sys/fs/cgroup"))? {
            crate::cgroups::CgroupVersion::V2 => HostCgroups::V2,
            crate::cgroups::CgroupVersion::V1 => HostCgroups::V1(crate::cgroups::v1_hierarchies()),
        })
    }

    fn own_cgroups(&self) -> Result<String, KernelError> {
        Ok(std::fs::read_to_string("/proc/self/cgroup")?)
    }

    fn dup2(&self, from: BorrowedFd<'_>, to: RawFd) -> Result<(), KernelError> {
        nix::unistd::dup2(from.as_raw_fd(), to)?;
        Ok(())
    }

    fn permitted_capabilities(&self) -> Result<CapsHashSet, KernelError> {
        Ok(caps::read(None, CapSet::Permitted)?)
    }

    fn restrict_bounding_set(&self, keep: &CapsHashSet) -> Result<(), KernelError> {
        for cap in caps::runtime::thread_all_supported() {
            if !keep.contains(&cap) {
                caps::drop(None, CapSet::Bounding, cap)?;
            }
        }
        Ok(())
    }

    fn set_capabilities(&self, set: CapSet, caps: &CapsHashSet) -> Result<(), KernelError> {
        Ok(caps::set(None, set, caps)?)
    }

    fn clear_ambient_capabilities(&self) -> Result<(), KernelError> {
        Ok(caps::clear(None, CapSet::Ambient)?)
    }

    fn setgroups(&self, gids: &[Gid]) -> Result<(), KernelError> {
        Ok(nix::unistd::setgroups(gids)?)
    }

    fn setgid(&self, gid: Gid) -> Result<(), KernelError> {
        Ok(nix::unistd::setgid(gid)?)
    }

    fn setuid(&self, uid: Uid) -> Result<(), KernelError> {
        Ok(nix::unistd::setuid(uid)?)
    }

    fn set_no_new_privileges(&self) -> Result<(), KernelError> {
        // SAFETY: prctl with constant integer arguments; no memory is passed.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(())
    }

    fn load_seccomp(&self, bpf: &[u8]) -> Result<(), KernelError> {
        Ok(super::seccomp::install(bpf)?)
    }

    fn execve(&self, path: &CStr, args: &[CString], env: &[CString]) -> Result<(), Errno> {
        match nix::unistd::execve(path, args, env) {
            Ok(never) => match never {},
            Err(e) => Err(e),
        }
    }
}

/// statvfs's `ST_*` flags as the `MS_*` flags mount(2) takes (the kernel's calculate_f_flags in
/// reverse). A mount showing none of the atime flags is strictatime, which must be asked for
/// by name: a remount without any atime flag would make it relatime.
fn statvfs_to_mount_flags(st: nix::sys::statvfs::FsFlags) -> MsFlags {
    use nix::sys::statvfs::FsFlags;
    let pairs = [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_SYNCHRONOUS, MsFlags::MS_SYNCHRONOUS),
        (FsFlags::ST_MANDLOCK, MsFlags::MS_MANDLOCK),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ];
    let mut flags = MsFlags::empty();
    for (st_flag, ms_flag) in pairs {
        if st.contains(st_flag) {
            flags |= ms_flag;
        }
    }
    if !flags.intersects(MsFlags::MS_NOATIME | MsFlags::MS_RELATIME) {
        flags |= MsFlags::MS_STRICTATIME;
    }
    flags
}

/// openat2(2) relative to `root` with RESOLVE_IN_ROOT (every link and `..` resolved as if
/// `root` were `/`, so the walk cannot leave it) and RESOLVE_NO_MAGICLINKS; always `O_PATH`.
/// Outside the trait, as the other calls that only find or create files for init: a test lets
/// them happen in a temporary directory.
pub fn open_in_root(
    root: BorrowedFd<'_>,
    path: &Path,
    flags: nix::fcntl::OFlag,
) -> Result<OwnedFd, Errno> {
    use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
    let how = OpenHow::new()
        .flags(flags | OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = nix::fcntl::openat2(root.as_raw_fd(), path, how)?;
    // SAFETY: openat2 has just returned this descriptor; nothing else holds it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Create the file `name` in `dir`, empty, failing if anything (a link included) is there.
pub fn create_new_file_at(
    dir: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    mode: Mode,
) -> Result<(), Errno> {
    use nix::fcntl::OFlag;
    let fd = nix::fcntl::openat(
        Some(dir.as_raw_fd()),
        name,
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        mode,
    )?;
    // SAFETY: openat has just returned this descriptor; nothing else holds it, and it is
    // closed right here.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok(())
}

/// fork(2), for `--init`, which stays behind as PID 1. Outside the trait: the recording
/// double cannot be two processes.
pub fn fork_single_threaded() -> Result<nix::unistd::ForkResult, Errno> {
    // SAFETY: only called from the container's init, a clone of the single-threaded shim, so
    // no other thread can hold a lock the child would inherit.
    unsafe { nix::unistd::fork() }
}
