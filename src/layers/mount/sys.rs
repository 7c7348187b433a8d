//! The raw syscalls of mounting an overlay, kept at this one boundary.

use std::path::Path;

/// mount(2) an overlay from a forked child whose cwd is `dir`, so `target` and the relative
/// paths in `data` resolve there. The child only makes raw syscalls (all arguments are built
/// before the fork), which is what is safe after fork in a multi-threaded process.
pub(crate) fn mount_from(dir: &Path, target: &Path, data: &str) -> Result<(), nix::Error> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |b: &[u8]| CString::new(b).map_err(|_| nix::Error::EINVAL);
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
