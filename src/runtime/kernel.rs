//! The seam between the container's init and the kernel: every system call whose order makes
//! a container what it is (mounts, pivot_root, namespaces, capabilities, identity, seccomp,
//! execve) goes through the [`Kernel`] trait. [`LinuxKernel`] makes the calls, and holds all of
//! init's `unsafe`; a recording double (tests only) writes them down instead, so the order
//! can be checked without root.

use caps::{CapSet, CapsHashSet};
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::stat::{Mode, SFlag};
use nix::unistd::{Gid, Uid};
use std::ffi::{CStr, CString};
use std::os::fd::{BorrowedFd, RawFd};
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

/// The calls init's sequence is made of. Two of them only look ([`Kernel::path_kind`],
/// [`Kernel::host_cgroups`]): what init mounts depends on their answers, so a test must be
/// able to give them.
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
    fn umount(&self, target: &Path, flags: MntFlags) -> Result<(), KernelError>;
    fn mknod(&self, path: &Path, kind: SFlag, mode: Mode, dev: u64) -> Result<(), KernelError>;
    /// The working directory is part of the pivot (`pivot_root(".", ".")` acts on it).
    fn chdir(&self, dir: &Path) -> Result<(), KernelError>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), KernelError>;
    fn sethostname(&self, name: &str) -> Result<(), KernelError>;
    /// The NIS domain name of the UTS namespace (`--domainname`).
    fn setdomainname(&self, name: &str) -> Result<(), KernelError>;
    /// None when nothing is there; `follow_symlinks` picks stat(2) over lstat(2).
    fn path_kind(&self, path: &Path, follow_symlinks: bool) -> Option<PathKind>;
    fn host_cgroups(&self) -> Result<HostCgroups, KernelError>;
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

    fn dup2(&self, from: BorrowedFd<'_>, to: RawFd) -> Result<(), KernelError> {
        use std::os::fd::AsRawFd;
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

/// fork(2), for `--init`, which stays behind as PID 1. Outside the trait: the recording
/// double cannot be two processes.
pub fn fork_single_threaded() -> Result<nix::unistd::ForkResult, Errno> {
    // SAFETY: only called from the container's init, a clone of the single-threaded shim, so
    // no other thread can hold a lock the child would inherit.
    unsafe { nix::unistd::fork() }
}
