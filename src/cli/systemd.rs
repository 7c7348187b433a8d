//! `berth daemon` under systemd, as dockerd runs under docker.socket and docker.service:
//! socket activation (`-H fd://`: systemd listens on /run/berth.sock and hands the listening
//! socket over as fd 3, naming it in `LISTEN_FDS` for the process `LISTEN_PID`; sd_listen_fds(3)),
//! readiness (`READY=1` on `$NOTIFY_SOCKET` for `Type=notify`; sd_notify(3)), and the unit files
//! that `just install` writes (./systemd/).

use std::ffi::OsString;
use std::os::fd::{BorrowedFd, FromRawFd, RawFd};
use std::path::{Path, PathBuf};

const SERVICE_UNIT: &str = include_str!("systemd/berth.service");
pub const SOCKET_UNIT: &str = include_str!("systemd/berth.socket");

/// berth.service with `bin` (where the binary is installed) in its `ExecStart`.
pub fn service_unit(bindir: &Path) -> String {
    SERVICE_UNIT.replace("@bindir@", &bindir.to_string_lossy())
}

/// The first fd systemd passes (SD_LISTEN_FDS_START).
const FIRST_FD: RawFd = 3;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ActivationError {
    #[error(
        "-H fd:// takes its socket from systemd, and none was passed (no LISTEN_FDS): start \
         berth through berth.socket, or listen with -H unix:///path"
    )]
    NoSockets,
    #[error("-H fd://: the sockets systemd passed are for process {0} (LISTEN_PID), not this one")]
    NotOurs(String),
    #[error("-H fd://: LISTEN_FDS={0:?} is not a number of sockets")]
    BadCount(String),
    #[error("-H fd://{fd}: systemd passed fds {FIRST_FD} to {last}, not {fd}")]
    NoSuchFd { fd: RawFd, last: RawFd },
    #[error(
        "-H fd://: systemd passed {0} sockets and berth serves one; name it (-H fd://3, \
         fd://4, ...)"
    )]
    Several(usize),
    #[error(
        "-H fd://: fd {0} is not a listening unix stream socket (berth serves the API on unix \
         sockets only)"
    )]
    NotUnixListener(RawFd),
}

/// What systemd put in the environment for this process, taken out of it so that the shims
/// and execs the daemon starts inherit none of it.
#[derive(Debug)]
pub struct Environment {
    /// The fds passed (3, 4, ...), when they are this process's; none otherwise.
    pub fds: Result<Vec<RawFd>, ActivationError>,
    pub notify_socket: Option<OsString>,
}

/// The passed fds, from the values of LISTEN_PID and LISTEN_FDS and this process's pid.
fn passed_fds(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    pid: u32,
) -> Result<Vec<RawFd>, ActivationError> {
    let Some(count) = listen_fds else {
        return Err(ActivationError::NoSockets);
    };
    // Inherited from a parent that was activated itself: these fds were never ours.
    match listen_pid {
        Some(p) if p.trim().parse::<u32>() == Ok(pid) => {}
        Some(p) => return Err(ActivationError::NotOurs(p.to_string())),
        None => return Err(ActivationError::NotOurs(String::new())),
    }
    let n: RawFd = count
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=1024).contains(n))
        .ok_or_else(|| ActivationError::BadCount(count.to_string()))?;
    Ok((FIRST_FD..FIRST_FD + n).collect())
}

/// Which of the passed fds `fd://` (the only one) or `fd://N` names.
fn choose(fds: &[RawFd], wanted: Option<RawFd>) -> Result<RawFd, ActivationError> {
    match wanted {
        None if fds.len() == 1 => Ok(fds[0]),
        None => Err(ActivationError::Several(fds.len())),
        Some(fd) if fds.contains(&fd) => Ok(fd),
        Some(fd) => Err(ActivationError::NoSuchFd {
            fd,
            last: fds.last().copied().unwrap_or(FIRST_FD),
        }),
    }
}

/// Read and remove LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES and NOTIFY_SOCKET, and make the
/// passed fds close-on-exec. Call it while the process has one thread: the environment is not
/// safe to change beside other threads.
pub fn take_environment() -> Environment {
    let var = |k: &str| std::env::var(k).ok();
    let fds = passed_fds(
        var("LISTEN_PID").as_deref(),
        var("LISTEN_FDS").as_deref(),
        std::process::id(),
    );
    let notify_socket = std::env::var_os("NOTIFY_SOCKET");
    for k in [
        "LISTEN_PID",
        "LISTEN_FDS",
        "LISTEN_FDNAMES",
        "NOTIFY_SOCKET",
    ] {
        std::env::remove_var(k);
    }
    if let Ok(fds) = &fds {
        for &fd in fds {
            // A passed fd that is not open is systemd's mistake; `listener` reports it.
            let _ = nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            );
        }
    }
    Environment { fds, notify_socket }
}

/// The listening socket `-H fd://[N]` names, and the path it is bound to (none for an abstract
/// or unnamed one).
pub fn listener(
    env: &Environment,
    wanted: Option<RawFd>,
) -> Result<(std::os::unix::net::UnixListener, Option<PathBuf>), ActivationError> {
    let fds = env.fds.as_ref().map_err(Clone::clone)?;
    let fd = choose(fds, wanted)?;
    let path = unix_listener_path(fd).ok_or(ActivationError::NotUnixListener(fd))?;
    // SAFETY: `fd` is one systemd passed to this process, checked above to be an open,
    // listening unix stream socket; nothing else in the process owns or closes it.
    let listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) };
    Ok((listener, path))
}

/// `Some(path)` (path `None` when abstract or unnamed) when `fd` is a listening unix stream
/// socket; `None` when it is anything else or not open.
fn unix_listener_path(fd: RawFd) -> Option<Option<PathBuf>> {
    use nix::sys::socket::{getsockname, getsockopt, sockopt, SockType, UnixAddr};
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).ok()?;
    // SAFETY: the fd is open (F_GETFD above) and only borrowed for the calls below.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    if getsockopt(&borrowed, sockopt::SockType).ok()? != SockType::Stream
        || !getsockopt(&borrowed, sockopt::AcceptConn).ok()?
    {
        return None;
    }
    let addr: UnixAddr = getsockname(fd).ok()?;
    Some(addr.path().map(Path::to_path_buf))
}

/// Tell systemd the daemon is ready (`Type=notify`), when it asked to be told.
pub fn notify_ready(env: &Environment) {
    let Some(target) = &env.notify_socket else {
        return;
    };
    if let Err(e) = notify(target, "READY=1") {
        tracing::warn!("telling systemd the daemon is ready ({target:?}): {e}");
    }
}

fn notify(target: &OsString, state: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let bytes = target.as_bytes();
    // A leading '@' names an abstract socket.
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(Path::new(target))?,
    };
    UnixDatagram::unbound()?.send_to_addr(state.as_bytes(), &addr)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fds_are_ours_only_when_listen_pid_names_us() {
        assert_eq!(passed_fds(Some("42"), Some("2"), 42), Ok(vec![3, 4]));
        assert_eq!(
            passed_fds(Some("41"), Some("1"), 42),
            Err(ActivationError::NotOurs("41".into()))
        );
        assert_eq!(
            passed_fds(None, Some("1"), 42),
            Err(ActivationError::NotOurs(String::new()))
        );
        assert_eq!(passed_fds(None, None, 42), Err(ActivationError::NoSockets));
        for bad in ["0", "-1", "x", ""] {
            assert_eq!(
                passed_fds(Some("42"), Some(bad), 42),
                Err(ActivationError::BadCount(bad.into()))
            );
        }
    }

    #[test]
    fn fd_url_picks_the_only_socket_or_the_named_one() {
        assert_eq!(choose(&[3], None), Ok(3));
        assert_eq!(choose(&[3, 4], None), Err(ActivationError::Several(2)));
        assert_eq!(choose(&[3, 4], Some(4)), Ok(4));
        assert_eq!(
            choose(&[3, 4], Some(7)),
            Err(ActivationError::NoSuchFd { fd: 7, last: 4 })
        );
    }

    #[test]
    fn the_service_unit_runs_the_installed_binary_on_the_socket() {
        let unit = service_unit(Path::new("/opt/b/bin"));
        assert!(unit.contains("\nExecStart=/opt/b/bin/berth daemon -H fd://\n"));
        assert!(!unit.contains('@'), "a placeholder is left: {unit}");
        assert!(SOCKET_UNIT.contains("\nListenStream=/run/berth.sock\n"));
    }

    #[test]
    fn a_listening_unix_socket_is_recognised_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        use std::os::fd::AsRawFd;
        assert_eq!(unix_listener_path(l.as_raw_fd()), Some(Some(path.clone())));
        let client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        assert_eq!(unix_listener_path(client.as_raw_fd()), None);
        let file = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(unix_listener_path(file.as_raw_fd()), None);
    }

    #[test]
    fn ready_reaches_the_notify_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let rx = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let env = Environment {
            fds: Err(ActivationError::NoSockets),
            notify_socket: Some(path.into_os_string()),
        };
        notify_ready(&env);
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }
}
