//! e2e: `berth daemon -H fd://` under socket activation, with the test in systemd's place: it
//! binds and listens on the socket, passes it as fd 3 with LISTEN_FDS=1 and LISTEN_PID set to
//! the daemon's pid, and listens on NOTIFY_SOCKET for READY=1 (berth.socket, berth.service).

mod common;

use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::process::Command;
use std::time::Duration;

/// `daemon` (its usual command) as systemd starts it for berth.socket: `-H fd://` (the last
/// -H wins), `listener` as fd 3, LISTEN_FDS=1, and LISTEN_PID the daemon's own pid, which a
/// shell knows as `$$` before it execs the daemon in its place.
fn activated(daemon: Command, listener: RawFd, notify: &std::path::Path) -> Command {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(r#"export LISTEN_PID=$$; exec "$0" "$@""#)
        .arg(daemon.get_program())
        .args(daemon.get_args())
        .args(["-H", "fd://"])
        .env("LISTEN_FDS", "1")
        .env("NOTIFY_SOCKET", notify);
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only dup2 and fcntl, both async-signal-safe, on an fd
    // the test owns.
    unsafe {
        sh.pre_exec(move || {
            if listener == 3 {
                // dup2 onto itself keeps close-on-exec; clear it instead.
                if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(listener, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    sh
}

fn daemon_pid(d: &common::TestDaemon) -> i32 {
    let pid = std::fs::read_to_string(d.exec_root.join("berth.pid")).unwrap();
    pid.trim().parse().unwrap()
}

/// The inode of a socket, as /proc/PID/fd shows it (`socket:[N]`).
fn socket_inode(fd: RawFd) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn the_daemon_serves_on_the_socket_systemd_passes_and_leaves_it_listening() {
    let mut d = daemon_or_skip!();
    d.load_busybox();
    let sock = d.socket.clone();
    let notify_path = d.dir.path().join("notify");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();

    // systemd's part: the socket, bound and listening before any daemon runs.
    d.stop();
    let _ = std::fs::remove_file(&sock);
    let listener = UnixListener::bind(&sock).unwrap();
    let fd = listener.as_raw_fd();
    d.start_via(|c| activated(c, fd, &notify_path));
    let log = d.log();
    assert!(
        log.contains("fd:// from systemd"),
        "the daemon did not say it serves systemd's socket:\n{log}"
    );
    let mut buf = [0u8; 64];
    let n = notify.recv(&mut buf).expect("READY=1 on NOTIFY_SOCKET");
    assert_eq!(&buf[..n], b"READY=1");

    // Served through it: the API and a container.
    assert!(d.ok(&["version"]).contains("Server"));
    assert_eq!(d.ok(&["run", "--rm", "busybox", "echo", "hi"]), "hi\n");

    // The container's shim inherits neither the socket nor systemd's variables.
    d.ok(&["run", "-d", "--name", "long", "busybox", "sleep", "300"]);
    let pid = d.ok(&["inspect", "-f", "{{.State.Pid}}", "long"]);
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap();
    let shim = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    let environ = std::fs::read(format!("/proc/{shim}/environ")).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    for var in ["LISTEN_FDS", "LISTEN_PID", "NOTIFY_SOCKET"] {
        assert!(
            !environ.contains(var),
            "the shim {shim} has {var}: {environ}"
        );
    }
    let ours = socket_inode(fd);
    for e in std::fs::read_dir(format!("/proc/{shim}/fd"))
        .unwrap()
        .flatten()
    {
        let target = std::fs::read_link(e.path()).unwrap_or_default();
        assert_ne!(
            target.to_string_lossy(),
            ours,
            "the shim holds the API socket"
        );
    }
    d.ok(&["rm", "-f", "long"]);

    // Stopped, the daemon leaves systemd's socket in place; a client that connects meanwhile
    // waits in the backlog and is answered by the next daemon on the same socket.
    let first = daemon_pid(&d);
    d.stop();
    assert!(sock.exists(), "the daemon removed the socket systemd owns");
    let client = std::thread::spawn({
        let mut c = d.cmd();
        c.arg("version");
        move || c.output().unwrap()
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !client.is_finished(),
        "the client did not wait for a daemon"
    );
    d.start_via(|c| activated(c, fd, &notify_path));
    let out = client.join().unwrap();
    assert!(
        out.status.success(),
        "the waiting client: {out:?}\n{}",
        d.log()
    );
    assert_ne!(daemon_pid(&d), first);
    drop(listener);
}
