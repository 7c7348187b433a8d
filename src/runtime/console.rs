//! Terminals (`-t`). A container's terminal is a pseudo-terminal pair created *inside* the
//! container, from its own devpts instance, so that `tty` in the container names
//! `/dev/pts/0` and not a device of the host. The process that creates it (init, or the
//! `nsexec` child of an exec) keeps the slave end as its stdio and controlling terminal and
//! hands the master end out over a unix socket (SCM_RIGHTS), the way runc's console socket
//! works: the shim (or the daemon, for an exec) then relays the master.

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

nix::ioctl_read!(get_pty_number, b'T', 0x30, libc::c_uint);
nix::ioctl_write_ptr!(set_pty_lock, b'T', 0x31, libc::c_int);

/// A new pseudo-terminal from `/dev/ptmx` of the current mount namespace: (master, slave,
/// slave's number in that devpts).
pub fn open_pty() -> io::Result<(OwnedFd, OwnedFd, u32)> {
    let master: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
        .open("/dev/ptmx")?
        .into();
    let unlock: libc::c_int = 0;
    let mut number: libc::c_uint = 0;
    // SAFETY: both ioctls take a pointer to an int that lives across the call.
    unsafe {
        set_pty_lock(master.as_raw_fd(), &unlock).map_err(io::Error::from)?;
        get_pty_number(master.as_raw_fd(), &mut number).map_err(io::Error::from)?;
    }
    // TIOCGPTPEER opens the slave through the master, never through a path that a process in
    // the container could have replaced.
    // SAFETY: TIOCGPTPEER takes open(2) flags by value and returns a new fd or -1.
    let fd = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd; nothing else owns it.
    let slave = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok((master, slave, number))
}

/// Make `slave` this process's controlling terminal and its stdin, stdout and stderr, in a new
/// session (a shell needs that for job control).
pub fn become_session_leader_on(slave: &OwnedFd) -> io::Result<()> {
    nix::unistd::setsid().map_err(io::Error::from)?;
    // SAFETY: TIOCSCTTY takes an int argument by value (0: do not steal a terminal).
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    for to in 0..3 {
        nix::unistd::dup2(slave.as_raw_fd(), to).map_err(io::Error::from)?;
    }
    Ok(())
}

/// Set a terminal's window size (rows, columns); the foreground process gets SIGWINCH.
pub fn set_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct that lives across the call.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A terminal's window size (rows, columns), or None when `fd` is not a terminal.
pub fn get_size(fd: RawFd) -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize struct that lives across the call.
    if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } < 0 {
        return None;
    }
    Some((ws.ws_row, ws.ws_col))
}

/// Send one file descriptor over a unix socket.
pub fn send_fd(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> io::Result<()> {
    let fds = [fd.as_raw_fd()];
    let iov = [IoSlice::new(b"m")];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(io::Error::from)?;
    Ok(())
}

/// Receive one file descriptor sent by `send_fd`; None when the peer closed without sending.
pub fn recv_fd(sock: BorrowedFd<'_>) -> io::Result<Option<OwnedFd>> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = loop {
        match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => break other.map_err(io::Error::from)?,
        }
    };
    for cmsg in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            let mut owned = fds
                .into_iter()
                // SAFETY: SCM_RIGHTS installed these fds in this process; we are their owner.
                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
            return Ok(owned.next());
        }
    }
    Ok(None)
}

/// A terminal's master end for the daemon's async relays (an exec's terminal).
/// A read after every slave end has closed fails with EIO; that is the end of the output.
pub struct AsyncPty {
    fd: tokio::io::unix::AsyncFd<OwnedFd>,
}

impl AsyncPty {
    pub fn new(fd: OwnedFd) -> io::Result<AsyncPty> {
        use nix::fcntl::{fcntl, FcntlArg, OFlag};
        let flags = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL).map_err(io::Error::from)?;
        fcntl(
            fd.as_raw_fd(),
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
        )
        .map_err(io::Error::from)?;
        // SAFETY: the AsyncFd owns `fd` (an OwnedFd), which stays open and the same
        // description until the AsyncFd drops it.
        let fd = unsafe { tokio::io::unix::AsyncFd::register(fd) }.map_err(io::Error::from)?;
        Ok(AsyncPty { fd })
    }
}

impl tokio::io::AsyncRead for AsyncPty {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        loop {
            let mut guard = std::task::ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|fd| {
                nix::unistd::read(fd.get_ref().as_raw_fd(), unfilled).map_err(io::Error::from)
            }) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return std::task::Poll::Ready(Ok(()));
                }
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => {
                    return std::task::Poll::Ready(Ok(()))
                }
                Ok(Err(e)) => return std::task::Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl tokio::io::AsyncWrite for AsyncPty {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        loop {
            let mut guard = std::task::ready!(self.fd.poll_write_ready(cx))?;
            match guard.try_io(|fd| nix::unistd::write(fd.get_ref(), data).map_err(io::Error::from))
            {
                Ok(result) => return std::task::Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    #[test]
    fn a_pty_carries_bytes_and_its_size_travels_over_a_socket() {
        let (master, slave, _) = open_pty().unwrap();
        set_size(master.as_fd(), 33, 101).unwrap();
        assert_eq!(get_size(slave.as_raw_fd()), Some((33, 101)));

        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        send_fd(a.as_fd(), master.as_fd()).unwrap();
        drop(master);
        let master = recv_fd(b.as_fd()).unwrap().expect("an fd arrives");
        let mut s = std::fs::File::from(slave);
        s.write_all(b"hi\n").unwrap();
        let mut m = std::fs::File::from(master);
        let mut buf = [0u8; 16];
        let n = m.read(&mut buf).unwrap();
        // The line discipline turns \n into \r\n on the way out (ONLCR), as docker shows.
        assert_eq!(&buf[..n], b"hi\r\n");
        drop(a);
        assert!(recv_fd(b.as_fd()).unwrap().is_none());
    }
}
