//! The raw syscalls of mounting an overlay, kept at this one boundary: mount(2) from a child
//! in another directory, and the fd-based mount API (fsopen, fsconfig, fsmount, move_mount),
//! which nix does not wrap.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// mount(2) an overlay from a forked child whose cwd is `dir`, so `target` and the relative
/// paths in `data` resolve there. The child only makes raw syscalls (all arguments are built
/// before the fork), which is what is safe after fork in a multi-threaded process.
pub(crate) fn mount_from(dir: &Path, target: &Path, data: &str) -> Result<(), nix::Error> {
    let c = cstring;
    let dir = c(dir.as_os_str().as_bytes())?;
    let target = c(target.as_os_str().as_bytes())?;
    let data = c(data.as_bytes())?;
    let fstype = c(b"overlay")?;
    // SAFETY: the child calls only chdir, mount and _exit on pointers prepared above, which
    // stay valid in the child's copy of the address space; it never returns into Rust code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(nix::Error::last());
    }
    if pid == 0 {
        // SAFETY: see above; errno is read right after the failing call.
        unsafe {
            if libc::chdir(dir.as_ptr()) != 0 {
                libc::_exit(*libc::__errno_location());
            }
            let rc = libc::mount(
                fstype.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                0,
                data.as_ptr().cast(),
            );
            libc::_exit(if rc == 0 {
                0
            } else {
                *libc::__errno_location()
            });
        }
    }
    let child = nix::unistd::Pid::from_raw(pid);
    loop {
        match nix::sys::wait::waitpid(child, None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => return Ok(()),
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => {
                return Err(nix::Error::from_raw(code))
            }
            Ok(_) => return Err(nix::Error::ECHILD),
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// A filesystem context from fsopen(2), configured one option at a time with fsconfig(2),
/// then attached with fsmount(2) and move_mount(2). Its fd also carries the kernel's own
/// words when an option is refused.
pub(crate) struct FsContext(OwnedFd);

fn cstring(b: &[u8]) -> Result<CString, nix::Error> {
    CString::new(b).map_err(|_| nix::Error::EINVAL)
}

fn owned(fd: libc::c_long) -> Result<OwnedFd, nix::Error> {
    if fd < 0 {
        return Err(nix::Error::last());
    }
    // SAFETY: the syscall just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

impl FsContext {
    pub(crate) fn open(fstype: &str) -> Result<FsContext, nix::Error> {
        let name = cstring(fstype.as_bytes())?;
        // SAFETY: fsopen reads the NUL-terminated name, which outlives the call.
        let fd = unsafe { libc::syscall(libc::SYS_fsopen, name.as_ptr(), libc::FSOPEN_CLOEXEC) };
        owned(fd).map(FsContext)
    }

    pub(crate) fn set_string(&self, key: &str, value: &[u8]) -> Result<(), nix::Error> {
        let key = cstring(key.as_bytes())?;
        let value = cstring(value)?;
        // SAFETY: key and value are NUL-terminated and live across the call; the kernel copies
        // them (a value of at most 256 bytes) before it returns.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.0.as_raw_fd(),
                libc::FSCONFIG_SET_STRING,
                key.as_ptr(),
                value.as_ptr(),
                0,
            )
        };
        if rc < 0 {
            return Err(nix::Error::last());
        }
        Ok(())
    }

    /// Build the superblock from the options given so far.
    pub(crate) fn create(&self) -> Result<(), nix::Error> {
        // SAFETY: FSCONFIG_CMD_CREATE takes no key nor value: both are null.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.0.as_raw_fd(),
                libc::FSCONFIG_CMD_CREATE,
                std::ptr::null::<libc::c_char>(),
                std::ptr::null::<libc::c_void>(),
                0,
            )
        };
        if rc < 0 {
            return Err(nix::Error::last());
        }
        Ok(())
    }

    /// fsmount the created superblock and attach it at `target`, as mount(2) would have.
    pub(crate) fn attach(&self, target: &Path) -> Result<(), nix::Error> {
        let target = cstring(target.as_os_str().as_bytes())?;
        // SAFETY: fsmount takes the context's fd and two flag words; it returns a new fd.
        let mnt = owned(unsafe {
            libc::syscall(
                libc::SYS_fsmount,
                self.0.as_raw_fd(),
                libc::FSMOUNT_CLOEXEC,
                0 as libc::c_uint,
            )
        })?;
        let empty = cstring(b"")?;
        // SAFETY: both paths are NUL-terminated and live across the call; with
        // MOVE_MOUNT_F_EMPTY_PATH the source is the mount fd itself.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                mnt.as_raw_fd(),
                empty.as_ptr(),
                libc::AT_FDCWD,
                target.as_ptr(),
                libc::MOVE_MOUNT_F_EMPTY_PATH,
            )
        };
        if rc < 0 {
            return Err(nix::Error::last());
        }
        Ok(())
    }

    /// The errors the kernel logged on this context ("e overlay: ..."), oldest first.
    pub(crate) fn kernel_errors(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 1024];
        // The log holds at most a few messages; the bound only guards against a surprise.
        for _ in 0..16 {
            // SAFETY: buf is writable for its whole length; read returns one message a call
            // and fails with ENODATA once the log is empty.
            let n = unsafe { libc::read(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            let msg = String::from_utf8_lossy(&buf[..n as usize]);
            if let Some(e) = msg.strip_prefix("e ") {
                out.push(e.trim_end().to_string());
            }
        }
        out
    }
}
