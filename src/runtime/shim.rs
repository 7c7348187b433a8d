//! `berth shim <state dir>`: one small process per container, outside it, that outlives the
//! daemon's requests. It clones the container's init into new namespaces (or another
//! container's pid namespace), holds the container's stdio, writes its log (json-file or local,
//! rotated), relays output to the daemon over `shim.sock`, reaps the process and records its
//! exit status in `exit.json`; when the process did not own its pid namespace, it also kills
//! what the process leaves behind in its cgroup.
//! No async runtime and a single thread: a blocking poll(2) loop over a handful of fds.

use super::init::{self, InitError, InitFds};
use super::logging::writer::LogWriter;
use super::protocol::{self, FrameBuffer};
use super::spec::{ExitStatus, Namespace, Network, OwnOrHost, ShimSpec};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

pub fn main(state_dir: &Path) -> ! {
    let code = match run(state_dir) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth shim: {e:#}");
            1
        }
    };
    std::process::exit(code)
}

fn pipe() -> anyhow::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?)
}

/// Tell the daemon (our stdout) how creation went, then let go of that pipe.
fn report_to_daemon(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2(null.as_raw_fd(), 1);
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn run(state_dir: &Path) -> anyhow::Result<()> {
    use anyhow::Context;
    let spec: ShimSpec = serde_json::from_slice(
        &std::fs::read(state_dir.join("spec.json")).context("reading spec.json")?,
    )
    .context("parsing spec.json")?;
    nix::unistd::setsid().context("setsid")?;
    // SAFETY: the shim is single-threaded here; the parent exits at once and the child
    // carries on, reparented away from the daemon.
    match unsafe { nix::unistd::fork() }.context("fork")? {
        nix::unistd::ForkResult::Parent { .. } => std::process::exit(0),
        nix::unistd::ForkResult::Child => {}
    }
    // SAFETY: setting a signal disposition to SIG_IGN has no memory-safety implications.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigIgn,
        );
    }
    crate::util::fsutil::write_replace(
        &state_dir.join("pid"),
        std::process::id().to_string().as_bytes(),
    )?;
    // Bound by a relative name from inside the state dir: the full path can be longer than a
    // unix socket address allows (108 bytes) under a deep --exec-root.
    std::env::set_current_dir(state_dir).context("entering the state dir")?;
    let _ = std::fs::remove_file("shim.sock");
    let listener = UnixListener::bind("shim.sock").context("binding shim.sock")?;

    let (stdin_r, stdin_w) = if spec.open_stdin {
        let (r, w) = pipe()?;
        (r, Some(w))
    } else {
        (std::fs::File::open("/dev/null")?.into(), None)
    };
    let (stdout_r, stdout_w) = pipe()?;
    let (stderr_r, stderr_w) = pipe()?;
    let (report_r, report_w) = pipe()?;
    let (go_r, go_w) = pipe()?;
    let open = |p: &Path| -> anyhow::Result<OwnedFd> {
        Ok(OwnedFd::from(
            std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?,
        ))
    };
    let netns = match &spec.network {
        Network::Join(p) => Some(open(p)?),
        Network::New | Network::Host => None,
    };
    let mut joined = Vec::new();
    if let Namespace::Join(p) = &spec.namespaces.ipc {
        joined.push((open(p)?, CloneFlags::CLONE_NEWIPC));
    }
    let pidns = match &spec.namespaces.pid {
        Namespace::Join(p) => Some(open(p)?),
        Namespace::Private | Namespace::Host => None,
    };
    // With -t, init makes the terminal inside the container and sends us its master end.
    let (console_r, console_w) = if spec.tty {
        let (r, w) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::Stream,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )
        .context("socketpair")?;
        (Some(r), Some(w))
    } else {
        (None, None)
    };

    // The network namespace first, as the daemon's containers always joined it.
    let joined = netns
        .map(|fd| (fd, CloneFlags::CLONE_NEWNET))
        .into_iter()
        .chain(joined)
        .collect();
    let fds = InitFds {
        parent: init::Parent::Shim {
            report: report_w,
            go: go_r,
        },
        joined,
        console: console_w,
        stdio: Some([stdin_r, stdout_w, stderr_w]),
    };
    let flags = clone_flags(&spec);
    let filter = match &spec.seccomp_filter {
        Some(p) => Some(
            std::fs::read(p)
                .with_context(|| format!("reading the seccomp filter {}", p.display()))?,
        ),
        None => None,
    };
    let child = super::oci::init::clone_init(
        flags,
        pidns.as_ref(),
        Box::new(|| init::run(&spec, &fds, filter.as_deref())),
    )?;
    // The child has its own copies; the shim lives on for the whole container, so it keeps
    // nothing it no longer needs.
    drop((pidns, fds, filter));

    let mut report = std::fs::File::from(report_r);
    if let Some(err) = read_report(&mut report) {
        let _ = waitpid(child, None);
        report_to_daemon(&serde_json::to_string(&err)?);
        return Ok(());
    }
    let master = match &console_r {
        Some(sock) => match super::console::recv_fd(sock.as_fd()) {
            Ok(Some(m)) => Some(m),
            other => {
                let why = match other {
                    Err(e) => e.to_string(),
                    _ => "init sent none".into(),
                };
                let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
                let _ = waitpid(child, None);
                report_to_daemon(&serde_json::to_string(&InitError {
                    message: format!("receiving the container's terminal: {why}"),
                    exit_code: 125,
                })?);
                return Ok(());
            }
        },
        None => None,
    };
    drop(console_r);
    report_to_daemon(&format!("{{\"pid\":{}}}", child.as_raw()));

    // The daemon connects and says START; if it never does, the container never runs.
    let mut conn = match accept_within(&listener, 60_000) {
        Some(c) => c,
        None => {
            abandon(child, state_dir, "the daemon never connected");
            return Ok(());
        }
    };
    loop {
        match protocol::read_frame(&mut conn) {
            Ok(Some((protocol::START, _))) => break,
            Ok(Some(_)) => continue,
            _ => {
                abandon(child, state_dir, "the daemon went away before start");
                return Ok(());
            }
        }
    }
    let _ = nix::unistd::write(&go_w, b"x");
    drop(go_w);
    if let Some(err) = read_report(&mut report) {
        let _ = waitpid(child, None);
        let _ = protocol::write_frame(
            &mut conn,
            protocol::START_FAILED,
            &serde_json::to_vec(&err)?,
        );
        write_exit(state_dir, err.exit_code);
        return Ok(());
    }
    let _ = protocol::write_frame(
        &mut conn,
        protocol::STARTED,
        child.as_raw().to_string().as_bytes(),
    );

    let mut log = LogWriter::open(&spec.log_path, &spec.log)?;
    // A terminal has one output, the master, which also takes the input.
    let io = match master {
        Some(m) => {
            drop((stdout_r, stderr_r, stdin_w));
            let input = if spec.open_stdin {
                Some(m.try_clone()?)
            } else {
                None
            };
            Stdio {
                outputs: [Some(m.try_clone()?), None],
                stdin: input,
                console: Some(m),
            }
        }
        None => Stdio {
            outputs: [Some(stdout_r), Some(stderr_r)],
            stdin: stdin_w,
            console: None,
        },
    };
    // Without a pid namespace of its own, the process's end ends nothing else: what it leaves
    // in its cgroup is killed, as runc does.
    let leftovers = (spec.namespaces.pid != Namespace::Private).then_some(&spec.cgroup_paths[..]);
    pump(
        child,
        state_dir,
        &listener,
        Some(conn),
        io,
        &mut log,
        leftovers,
    )
}

/// The namespaces the clone makes: each kind the container owns, except the cgroup one, which
/// init takes once the shim has put it in its cgroup.
pub fn clone_flags(spec: &ShimSpec) -> CloneFlags {
    let mut flags = CloneFlags::CLONE_NEWNS;
    for (own, flag) in [
        (
            spec.namespaces.pid == Namespace::Private,
            CloneFlags::CLONE_NEWPID,
        ),
        (
            spec.namespaces.ipc == Namespace::Private,
            CloneFlags::CLONE_NEWIPC,
        ),
        (
            spec.namespaces.uts == OwnOrHost::Private,
            CloneFlags::CLONE_NEWUTS,
        ),
        (spec.network == Network::New, CloneFlags::CLONE_NEWNET),
    ] {
        if own {
            flags |= flag;
        }
    }
    flags
}

/// The container's side of the relay: its output pipes (or terminal), its stdin, and with a
/// terminal the master end that resizes apply to.
struct Stdio {
    outputs: [Option<OwnedFd>; 2],
    stdin: Option<OwnedFd>,
    console: Option<OwnedFd>,
}

/// Read init's report: `R` means ready (or, after exec, EOF means success); `E` + JSON is an error.
fn read_report(report: &mut std::fs::File) -> Option<InitError> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match report.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if buf.is_empty() && byte[0] == b'R' => return None,
            Ok(_) => buf.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    match buf.split_first() {
        Some((b'E', json)) => Some(serde_json::from_slice(json).unwrap_or(InitError {
            message: "container init failed".into(),
            exit_code: 125,
        })),
        _ => None,
    }
}

fn accept_within(listener: &UnixListener, ms: u16) -> Option<UnixStream> {
    let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(ms)) {
        Ok(n) if n > 0 => listener.accept().ok().map(|(s, _)| s),
        _ => None,
    }
}

fn abandon(child: Pid, state_dir: &Path, why: &str) {
    eprintln!("berth shim: {why}; killing the container");
    let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
    let _ = waitpid(child, None);
    write_exit(state_dir, 137);
}

fn write_exit(state_dir: &Path, code: i32) -> ExitStatus {
    let st = ExitStatus {
        exit_code: code,
        finished_at: now(),
        oom_killed: false,
    };
    let _ = crate::util::fsutil::write_json_replace(&state_dir.join("exit.json"), &st);
    st
}

fn pidfd_open(pid: Pid) -> anyhow::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn set_cloexec_nonblock(fd: &OwnedFd) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    if let Ok(flags) = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL) {
        let _ = fcntl(
            fd.as_raw_fd(),
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
        );
    }
}

/// Relay output until the process exits, then drain, record the exit and tell the daemon.
fn pump(
    child: Pid,
    state_dir: &Path,
    listener: &UnixListener,
    mut conn: Option<UnixStream>,
    io: Stdio,
    log: &mut LogWriter,
    leftovers: Option<&[std::path::PathBuf]>,
) -> anyhow::Result<()> {
    let pidfd = pidfd_open(child)?;
    let Stdio {
        mut outputs,
        stdin: mut stdin_w,
        console,
    } = io;
    for fd in outputs.iter().chain(std::iter::once(&stdin_w)).flatten() {
        set_cloexec_nonblock(fd);
    }
    // Input the container has not read yet: written as it makes room, never blocking the loop
    // (a blocked write could wait on a container that is itself waiting for us to read).
    let mut pending_in: Vec<u8> = Vec::new();
    let mut close_in_when_written = false;
    let mut incoming = FrameBuffer::default();
    let mut exit: Option<i32> = None;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if exit.is_some() && outputs.iter().all(|o| o.is_none()) {
            break;
        }
        let mut pfds = Vec::new();
        let mut kinds = Vec::new();
        for (i, o) in outputs.iter().enumerate() {
            if let Some(fd) = o {
                pfds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                kinds.push(i as u8);
            }
        }
        if exit.is_none() {
            pfds.push(PollFd::new(pidfd.as_fd(), PollFlags::POLLIN));
            kinds.push(10);
        }
        if let (Some(w), false) = (&stdin_w, pending_in.is_empty()) {
            pfds.push(PollFd::new(w.as_fd(), PollFlags::POLLOUT));
            kinds.push(13);
        }
        pfds.push(PollFd::new(listener.as_fd(), PollFlags::POLLIN));
        kinds.push(11);
        if let Some(c) = &conn {
            pfds.push(PollFd::new(c.as_fd(), PollFlags::POLLIN));
            kinds.push(12);
        }
        // After the exit, leftover writers (there should be none: the pid namespace died with
        // its init, or the cgroup's processes were killed) get a bounded time to let go of the
        // pipes.
        let timeout = if exit.is_some() {
            PollTimeout::from(2000u16)
        } else {
            PollTimeout::NONE
        };
        let n = match poll(&mut pfds, timeout) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        };
        if n == 0 && exit.is_some() {
            break;
        }
        let ready: Vec<(u8, bool)> = pfds
            .iter()
            .zip(&kinds)
            .map(|(p, k)| (*k, p.revents().is_some_and(|r| !r.is_empty())))
            .collect();
        drop(pfds);
        for (kind, is_ready) in ready {
            if !is_ready {
                continue;
            }
            match kind {
                0 | 1 => {
                    let fd = outputs[kind as usize].as_ref().expect("polled fd exists");
                    match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
                        Ok(0) => outputs[kind as usize] = None,
                        Ok(n) => {
                            let stream = if kind == 0 { "stdout" } else { "stderr" };
                            log.write(stream, &buf[..n]);
                            if let Some(c) = conn.as_mut() {
                                let k = if kind == 0 {
                                    protocol::STDOUT
                                } else {
                                    protocol::STDERR
                                };
                                if protocol::write_frame(c, k, &buf[..n]).is_err() {
                                    conn = None;
                                }
                            }
                        }
                        Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => {}
                        Err(_) => outputs[kind as usize] = None,
                    }
                }
                10 => {
                    exit = match waitpid(child, None) {
                        Ok(WaitStatus::Exited(_, code)) => Some(code),
                        Ok(WaitStatus::Signaled(_, sig, _)) => Some(128 + sig as i32),
                        _ => Some(255),
                    };
                    stdin_w = None;
                    if let Some(paths) = leftovers {
                        if let Err(e) = crate::cgroups::kill_all(paths) {
                            eprintln!("berth shim: killing what the process left: {e}");
                        }
                    }
                }
                11 => {
                    // A new daemon connection replaces the old one.
                    if let Ok((s, _)) = listener.accept() {
                        conn = Some(s);
                        incoming = FrameBuffer::default();
                    }
                }
                12 => {
                    let c = conn.as_mut().expect("polled conn exists");
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => conn = None,
                        Ok(n) => {
                            incoming.push(&buf[..n]);
                            while let Ok(Some((k, payload))) = incoming.next_frame() {
                                match k {
                                    protocol::STDIN if stdin_w.is_some() => {
                                        pending_in.extend_from_slice(&payload);
                                    }
                                    protocol::CLOSE_STDIN => close_in_when_written = true,
                                    protocol::RESIZE if payload.len() == 4 => {
                                        if let Some(m) = &console {
                                            let rows = u16::from_be_bytes([payload[0], payload[1]]);
                                            let cols = u16::from_be_bytes([payload[2], payload[3]]);
                                            let _ = super::console::set_size(m.as_fd(), rows, cols);
                                        }
                                    }
                                    _ => {}
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(w) = &stdin_w {
            while !pending_in.is_empty() {
                match nix::unistd::write(w, &pending_in) {
                    Ok(n) => {
                        pending_in.drain(..n);
                    }
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(nix::errno::Errno::EAGAIN) => break,
                    Err(_) => {
                        stdin_w = None;
                        pending_in.clear();
                        break;
                    }
                }
            }
            if close_in_when_written && pending_in.is_empty() {
                stdin_w = None;
            }
        }
    }
    log.flush();
    let code = exit.unwrap_or(255);
    let st = ExitStatus {
        exit_code: code,
        finished_at: now(),
        oom_killed: false,
    };
    let _ = crate::util::fsutil::write_json_replace(&state_dir.join("exit.json"), &st);
    if let Some(c) = conn.as_mut() {
        let _ = protocol::write_frame(c, protocol::EXITED, &serde_json::to_vec(&st)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn spec(pid: Namespace, ipc: Namespace, uts: OwnOrHost, network: Network) -> ShimSpec {
        let mut s: ShimSpec = serde_json::from_value(serde_json::json!({
            "id": "c0ffee", "rootfs": "/r", "args": ["true"], "env": [], "cwd": "/",
            "uid": 0, "gid": 0, "additional_gids": [], "hostname": "h", "tty": false,
            "open_stdin": false, "network": "new", "cgroup_paths": [], "binds": [],
            "log_path": "/dev/null", "state_dir": "/tmp"
        }))
        .unwrap();
        s.namespaces.pid = pid;
        s.namespaces.ipc = ipc;
        s.namespaces.uts = uts;
        s.network = network;
        s
    }

    #[rstest]
    #[case::all_its_own(
        spec(Namespace::Private, Namespace::Private, OwnOrHost::Private, Network::New),
        CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWNET
    )]
    #[case::a_prepared_netns(
        spec(Namespace::Private, Namespace::Private, OwnOrHost::Private, Network::Join("/run/berth/netns/x".into())),
        CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS
    )]
    #[case::the_hosts_pid_uts_and_ipc(
        spec(Namespace::Host, Namespace::Host, OwnOrHost::Host, Network::Host),
        CloneFlags::CLONE_NEWNS
    )]
    #[case::another_containers_pid_and_ipc(
        spec(Namespace::Join("/proc/1/ns/pid".into()), Namespace::Join("/proc/1/ns/ipc".into()), OwnOrHost::Private, Network::Host),
        CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS
    )]
    fn the_clone_makes_only_the_namespaces_the_container_owns(
        #[case] s: ShimSpec,
        #[case] want: CloneFlags,
    ) {
        assert_eq!(clone_flags(&s), want);
        assert!(
            !want.contains(CloneFlags::CLONE_NEWCGROUP),
            "init takes that one"
        );
    }

    #[test]
    fn a_spec_from_before_the_namespace_modes_owns_them_all() {
        let s = spec(
            Namespace::Private,
            Namespace::Private,
            OwnOrHost::Private,
            Network::New,
        );
        assert_eq!(s.namespaces, crate::runtime::spec::Namespaces::default());
        assert_eq!(s.shm, crate::runtime::spec::Shm::Private);
        assert_eq!(s.namespaces.cgroup, OwnOrHost::Private);
    }
}
