//! The e2e harness: a private berth daemon per test, with its own root, exec root, socket,
//! bridge, subnet, iptables prefix and cgroup parent, so tests run in parallel and beside a
//! real Docker. Dropping it (also during a panic) stops the daemon, removes what it made, and
//! fails the test if the daemon left anything behind.
#![allow(dead_code)]

pub mod containerd;
pub mod dockerd;
pub mod registry;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// Skip (return None) with a loud message when not root.
#[macro_export]
macro_rules! daemon_or_skip {
    () => {
        match common::TestDaemon::start() {
            Some(d) => d,
            None => {
                eprintln!(
                    "SKIPPED: this e2e test needs root (run `sudo just e2e`, or `just vm-e2e`)"
                );
                return;
            }
        }
    };
}

pub fn berth_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berth"))
}

pub fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The busybox image as a `docker save` archive, built once from Debian's busybox-static.
pub fn busybox_archive() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let out = project_dir().join("target/fixtures/busybox.tar");
        let status = Command::new("bash")
            .arg(project_dir().join("fixtures/busybox/build.sh"))
            .arg(&out)
            .status()
            .expect("running fixtures/busybox/build.sh");
        assert!(status.success(), "building the busybox fixture failed");
        out
    })
    .clone()
}

pub fn random_tag() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let r: u32 = rand::random();
    format!("{:06x}", (r ^ (std::process::id() << 8) ^ n) & 0xffffff)
}

/// A /24 in 10.213.0.0/16, distinct for every daemon this test process starts.
/// A /24 of 10.213.0.0/16 that no other test daemon on this machine holds (suites of other
/// checkouts may run at the same time) and no host route covers. The claim is an flock on a
/// file named after the subnet, kept for the daemon's life and dropped by the kernel even if
/// the test process dies.
fn next_subnet() -> (String, nix::fcntl::Flock<std::fs::File>) {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = std::path::Path::new("/run/berth-test-subnets");
    std::fs::create_dir_all(dir).expect("creating /run/berth-test-subnets");
    let routes = Command::new("ip")
        .args(["-4", "route", "show", "table", "all"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    for _ in 0..250 {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let third = (std::process::id().wrapping_mul(37).wrapping_add(n * 7)) % 250 + 1;
        let subnet = format!("10.213.{third}.0/24");
        if routes.contains(&format!("10.213.{third}.")) {
            continue;
        }
        let file = std::fs::File::create(dir.join(third.to_string())).expect("a subnet claim");
        if let Ok(claim) =
            nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        {
            return (subnet, claim);
        }
    }
    panic!("no free test subnet in 10.213.0.0/16");
}

pub struct TestDaemon {
    pub tag: String,
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub exec_root: PathBuf,
    pub socket: PathBuf,
    pub bridge: String,
    pub prefix: String,
    pub subnet: String,
    /// Where this daemon's user networks take their /26 subnets from.
    pub user_subnets: String,
    pub cgroup_parent: String,
    pub extra_args: Vec<String>,
    child: Option<Child>,
    /// Held while the daemon lives: the claims on `subnet` and `user_subnets`.
    _subnet_claim: nix::fcntl::Flock<std::fs::File>,
    _user_subnet_claim: nix::fcntl::Flock<std::fs::File>,
}

impl TestDaemon {
    pub fn start() -> Option<TestDaemon> {
        Self::start_with(&[])
    }

    /// A daemon with more flags of its own (`--registry-mirror`, ...).
    pub fn start_with(extra: &[&str]) -> Option<TestDaemon> {
        if !is_root() {
            return None;
        }
        let tag = random_tag();
        let (subnet, subnet_claim) = next_subnet();
        let (user_subnets, user_subnet_claim) = next_subnet();
        let dir = tempfile::Builder::new()
            .prefix("berth-e2e-")
            .tempdir()
            .expect("a temp dir");
        let root = dir.path().join("root");
        let exec_root = dir.path().join("exec");
        let socket = dir.path().join("berth.sock");
        let mut d = TestDaemon {
            bridge: format!("bt{tag}"),
            prefix: format!("BT{}", tag.to_uppercase()),
            subnet,
            _subnet_claim: subnet_claim,
            user_subnets,
            _user_subnet_claim: user_subnet_claim,
            cgroup_parent: format!("berth-test-{tag}"),
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
            tag,
            root,
            exec_root,
            socket,
            dir,
            child: None,
        };
        let log = std::fs::File::create(d.dir.path().join("daemon.log")).unwrap();
        let child = d
            .daemon_command()
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting berth daemon");
        d.child = Some(child);
        d.wait_ready();
        Some(d)
    }

    /// `berth daemon` with every path, name and range of this test's own.
    pub fn daemon_command(&self) -> Command {
        let mut c = Command::new(berth_bin());
        c.arg("daemon")
            .arg("--root")
            .arg(&self.root)
            .arg("--exec-root")
            .arg(&self.exec_root)
            .arg("-H")
            .arg(self.host())
            .arg("--bridge")
            .arg(&self.bridge)
            .arg("--iptables-prefix")
            .arg(&self.prefix)
            .arg("--default-subnet-pool")
            .arg(format!("base={},size=24", self.subnet))
            .arg("--default-subnet-pool")
            .arg(format!("base={},size=26", self.user_subnets))
            .arg("--cgroup-parent")
            .arg(&self.cgroup_parent)
            .arg("--debug")
            .args(&self.extra_args);
        c
    }

    /// Kill the daemon with SIGKILL (no shutdown, no cleanup), wait `pause`, and start a
    /// new one on the same roots: what a crash and a restart look like to the containers.
    pub fn kill9_and_restart(&mut self, pause: Duration) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.start_again(pause);
    }

    /// Like `kill9_and_restart`, doing `meanwhile` while no daemon runs.
    pub fn kill9_and_restart_with(&mut self, pause: Duration, meanwhile: impl FnOnce(&Self)) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        meanwhile(self);
        self.start_again(pause);
    }

    /// Stop the daemon the polite way (SIGTERM: it stops its containers) and start it again.
    pub fn restart_daemon(&mut self) {
        self.stop();
        self.start_again(Duration::ZERO);
    }

    /// Start the daemon (stopped first if it runs) as `via` makes of its usual command (every
    /// path and name of this test's): under another program, with more flags, fds or
    /// variables (socket activation). The process `via` starts must become the daemon (exec).
    pub fn start_via(&mut self, via: impl FnOnce(Command) -> Command) {
        self.stop();
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("daemon.log"))
            .unwrap();
        let child = via(self.daemon_command())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting berth daemon");
        self.child = Some(child);
        self.wait_ready();
    }

    fn start_again(&mut self, pause: Duration) {
        std::thread::sleep(pause);
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("daemon.log"))
            .unwrap();
        let child = self
            .daemon_command()
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("restarting berth daemon");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("berth daemon exited early ({status}):\n{}", self.log());
            }
            if self.socket.exists() && self.berth(&["version"]).status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("berth daemon did not answer in 20s:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// A `berth` CLI command aimed at this daemon.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(berth_bin());
        c.env("BERTH_HOST", self.host());
        // Registry credentials (`login`) stay in the test's dir, never in ~/.berth.
        c.env("BERTH_CONFIG", self.dir.path().join("berth-config"));
        c
    }

    pub fn berth(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("running berth")
    }

    /// Run berth and return stdout, asserting success.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.berth(args);
        assert!(
            out.status.success(),
            "berth {args:?} failed ({}):\nstdout: {}\nstderr: {}\ndaemon log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn load_busybox(&self) {
        let archive = busybox_archive();
        let out = self.ok(&["load", "-i", archive.to_str().unwrap()]);
        assert!(
            out.contains("Loaded image: busybox:latest"),
            "load said: {out}"
        );
    }

    /// The real docker CLI aimed at this daemon, when one is installed.
    pub fn docker(&self) -> Option<Command> {
        if !installed("docker") {
            return None;
        }
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", self.host());
        c.env("DOCKER_CONFIG", self.dir.path().join("docker-config"));
        c.env_remove("DOCKER_CONTEXT");
        Some(c)
    }

    /// Whether the docker CLI is installed; when it is not, says that the test skips.
    pub fn docker_or_say(&self) -> bool {
        let have = self.docker().is_some();
        if !have {
            eprintln!("SKIPPED: no docker client installed");
        }
        have
    }

    /// `docker <args>` against this daemon, as `text` gives its output.
    pub fn docker_text(&self, args: &[&str]) -> (String, String, i32) {
        text(
            &self
                .docker()
                .expect("the docker CLI")
                .args(args)
                .output()
                .unwrap(),
        )
    }

    /// Everything the daemon made for containers that is still there.
    pub fn leaks(&self) -> Vec<String> {
        let mut leaks = Vec::new();
        let here = self.dir.path().to_string_lossy().into_owned();
        if let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") {
            for line in mounts.lines().filter(|l| l.contains(&here)) {
                leaks.push(format!("mount: {line}"));
            }
        }
        if let Ok(out) = Command::new("ip")
            .args(["-o", "link", "show", "master", &self.bridge])
            .output()
        {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                leaks.push(format!("link on the bridge: {line}"));
            }
        }
        if let Ok(entries) = std::fs::read_dir(self.exec_root.join("netns")) {
            for e in entries.flatten() {
                leaks.push(format!("netns file: {}", e.path().display()));
            }
        }
        for dir in cgroup_parent_dirs(&self.cgroup_parent) {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for e in entries.flatten().filter(|e| e.path().is_dir()) {
                    leaks.push(format!("cgroup: {}", e.path().display()));
                }
            }
        }
        for bridge in self.user_bridges() {
            if std::path::Path::new("/sys/class/net")
                .join(&bridge)
                .exists()
            {
                leaks.push(format!("bridge of a user network: {bridge}"));
            }
        }
        for pid in processes_mentioning(&here) {
            leaks.push(format!(
                "process {pid} still runs with {here} in its command line"
            ));
        }
        for (table, chain) in [
            ("nat", format!("{}-DNAT", self.prefix)),
            ("nat", format!("{}-POSTROUTING", self.prefix)),
            ("filter", format!("{}-FORWARD", self.prefix)),
        ] {
            if let Ok(out) = Command::new("iptables")
                .args(["-w", "-t", table, "-S", &chain])
                .output()
            {
                for line in String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter(|l| l.contains("--dport"))
                {
                    leaks.push(format!("published-port rule: {line}"));
                }
            }
        }
        leaks
    }

    /// What the daemon made for containers and left, while it still runs (the drop checks
    /// again once it has stopped): every leak but the daemon's own process. A removed
    /// container's veths and netns pin go in the background, some milliseconds after the
    /// answer (`src/daemon/unplug.rs`): a leak is what is still there after two seconds.
    pub fn leaks_but_the_daemon(&self) -> Vec<String> {
        let is_daemon = |leak: &str| {
            let pid = leak
                .strip_prefix("process ")
                .and_then(|r| r.split(' ').next());
            pid.and_then(|p| std::fs::read(format!("/proc/{p}/cmdline")).ok())
                .is_some_and(|cmd| cmd.split(|b| *b == 0).nth(1) == Some(b"daemon"))
        };
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let leaks: Vec<String> = self.leaks().into_iter().filter(|l| !is_daemon(l)).collect();
            if leaks.is_empty() || Instant::now() > deadline {
                return leaks;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The bridges of the user networks this daemon has records of.
    pub fn user_bridges(&self) -> Vec<String> {
        let dir = self.root.join("network").join("networks");
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read(e.path()).ok())
            .filter_map(|d| serde_json::from_slice::<serde_json::Value>(&d).ok())
            .filter(|r| r["builtin"] != serde_json::Value::Bool(true))
            .filter_map(|r| r["bridge"].as_str().map(str::to_string))
            .filter(|b| !b.is_empty())
            .collect()
    }

    /// Stop the daemon the polite way (SIGTERM), waiting until it has ended.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child, Duration::from_secs(20));
        }
    }
}

/// SIGTERM to a daemon a test started, then its end, waited for up to `limit`; SIGKILL if it
/// hangs.
pub fn terminate(child: &mut Child, limit: Duration) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether `tool` is on PATH and runs (`tool --version` succeeds).
pub fn installed(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Detach every mount at or under `dir`, deepest first.
pub fn unmount_under(dir: &Path) {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let here = dir.to_string_lossy().into_owned();
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|p| p.starts_with(&here))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Remove a cgroup parent (in every hierarchy) and the container cgroups left in it.
pub fn remove_cgroup_parent(parent: &str) {
    for dir in cgroup_parent_dirs(parent) {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten().filter(|e| e.path().is_dir()) {
                let _ = std::fs::remove_dir(e.path());
            }
        }
        let _ = std::fs::remove_dir(&dir);
    }
}

pub fn cgroup_parent_dirs(parent: &str) -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    let mut dirs = vec![base.join(parent)];
    if let Ok(entries) = std::fs::read_dir(base) {
        for e in entries.flatten() {
            dirs.push(e.path().join(parent));
        }
    }
    dirs.into_iter().filter(|d| d.is_dir()).collect()
}

pub fn processes_mentioning(needle: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    let me = std::process::id() as i32;
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if pid == me {
                continue;
            }
            if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
                if String::from_utf8_lossy(&cmd).contains(needle) {
                    pids.push(pid);
                }
            }
        }
    }
    pids
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        self.stop();
        let leaks = self.leaks();
        // Remove whatever is left, leaked or not, so one failure does not poison the machine.
        for pid in processes_mentioning(&self.dir.path().to_string_lossy()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        unmount_under(self.dir.path());
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .output();
        for bridge in self.user_bridges() {
            let _ = Command::new("ip").args(["link", "del", &bridge]).output();
        }
        remove_chains(&self.prefix);
        remove_cgroup_parent(&self.cgroup_parent);
        if !leaks.is_empty() && !std::thread::panicking() {
            panic!(
                "the daemon leaked:\n{}\ndaemon log:\n{}",
                leaks.join("\n"),
                self.log()
            );
        }
    }
}

/// `run -d` of busybox `cmd` on network `net`, named `name`, with `extra` flags. Its resolver
/// forwards unknown names to 127.0.0.1 only (`--dns`): no query a test makes leaves the
/// machine. Returns the container's id.
pub fn run_on(d: &TestDaemon, net: &str, name: &str, extra: &[&str], cmd: &[&str]) -> String {
    let mut args = vec![
        "run",
        "-d",
        "--name",
        name,
        "--network",
        net,
        "--dns",
        "127.0.0.1",
    ];
    args.extend(extra);
    args.push("busybox");
    args.extend(cmd);
    d.ok(&args).trim().to_string()
}

/// The IPv4 address of container `name` on network `net`.
pub fn ip_on(d: &TestDaemon, name: &str, net: &str) -> String {
    d.ok(&[
        "inspect",
        "-f",
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
        name,
    ])
    .trim()
    .to_string()
}

/// Remove every iptables jump into a chain of `prefix` and every such chain, in each table,
/// whatever rules the daemon made (read back from `iptables-save`, not listed here).
pub fn remove_chains(prefix: &str) {
    let own = format!("{prefix}-");
    for table in ["raw", "nat", "filter"] {
        let Ok(out) = Command::new("iptables-save").args(["-t", table]).output() else {
            continue;
        };
        let save = String::from_utf8_lossy(&out.stdout).into_owned();
        for line in save.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let jumps_in = words
                .windows(2)
                .any(|w| w[0] == "-j" && w[1].starts_with(&own));
            if words.first() == Some(&"-A") && jumps_in && !words[1].starts_with(&own) {
                let mut args = vec!["-w", "-t", table, "-D"];
                args.extend(&words[1..]);
                let _ = Command::new("iptables").args(&args).output();
            }
        }
        let chains: Vec<&str> = save
            .lines()
            .filter_map(|l| l.strip_prefix(':'))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|c| c.starts_with(&own))
            .collect();
        // Flushed first, all of them: one of the chains may jump into another.
        for op in ["-F", "-X"] {
            for chain in &chains {
                let _ = Command::new("iptables")
                    .args(["-w", "-t", table, op, chain])
                    .output();
            }
        }
    }
}

/// A `GET /` over HTTP/1.0 to `addr`, retried for up to 10 s until the answer says 200.
pub fn http_get(addr: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = std::net::TcpStream::connect(addr)?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            std::io::Write::write_all(&mut s, b"GET / HTTP/1.0\r\n\r\n")?;
            let mut out = String::new();
            std::io::Read::read_to_string(&mut s, &mut out)?;
            Ok(out)
        })();
        match attempt {
            Ok(body) if body.contains("200") => return body,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            other => panic!("GET {addr}: {other:?}"),
        }
    }
}

/// Poll `f` until it holds; fails the test, naming `what`, after 15 s. Tests wait for what
/// they expect, never for a fixed time, so a slow machine makes them slower, not flaky.
pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The lines of a child's output as they come, read on a thread of their own, so a test
/// can wait for one with a time limit (`recv_timeout`) instead of blocking forever.
pub fn line_reader(out: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next line from a `line_reader` that `pred` accepts, skipping others; fails the test
/// after 15 s or when the output ends.
pub fn next_line(
    rx: &std::sync::mpsc::Receiver<String>,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if pred(&line) => return line,
            Ok(_) => continue,
            Err(e) => panic!("no line with {what} ({e})"),
        }
    }
}

/// Whether a process has ended (gone, or a zombie that nobody has reaped yet).
pub fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

/// Run `cmd` with `input` on its stdin (closed after it), stdout and stderr captured. A
/// command that has not ended a minute later is killed and the test fails: a lost end of
/// input shows as that failure, not as a suite that hangs.
pub fn output_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    use std::io::{Read, Write};
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the command");
    child
        .stdin
        .take()
        .expect("a piped stdin")
        .write_all(input)
        .expect("writing the command's stdin");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("a piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("a piped stderr")));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the command") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not end within a minute of its input's end");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Run `cmd` (a tool other than berth: docker, curl, umoci), assert that it succeeded,
/// showing its stderr if not, and return its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("running the command");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stdout of a command as a String, with stderr and the status for assertion messages.
pub fn text(out: &Output) -> (String, String, i32) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// A command running on a pseudo-terminal that the test holds the master end of: what a
/// person at a terminal sees and types.
pub struct PtySession {
    master: std::fs::File,
    pub child: std::process::Child,
    seen: Vec<u8>,
}

impl PtySession {
    /// Start `cmd` as a session leader with the terminal (rows x cols) as its controlling
    /// terminal and stdio.
    pub fn spawn(mut cmd: Command, rows: u16, cols: u16) -> PtySession {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let ws = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&ws), None).expect("openpty");
        let slave = std::fs::File::from(pty.slave);
        cmd.stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawning on a pty");
        let master = std::fs::File::from(pty.master);
        let fl = unsafe { libc::fcntl(master.as_raw_fd(), libc::F_GETFL) };
        unsafe { libc::fcntl(master.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK) };
        PtySession {
            master,
            child,
            seen: Vec::new(),
        }
    }

    /// Wait until the command has put the terminal in raw mode (no ICANON), i.e. is ready to
    /// pass keys on as typed. The master end reports the terminal's settings.
    pub fn wait_raw(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let t = nix::sys::termios::tcgetattr(&self.master).expect("tcgetattr");
            if !t
                .local_flags
                .contains(nix::sys::termios::LocalFlags::ICANON)
            {
                return;
            }
            assert!(Instant::now() < deadline, "the terminal never went raw");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn send(&mut self, data: &[u8]) {
        use std::io::Write;
        self.master.write_all(data).unwrap();
    }

    /// Read until `needle` appears in what the terminal showed (since the last expect);
    /// panics with everything seen after 15 s.
    pub fn expect(&mut self, needle: &str) -> String {
        match self.expect_within(needle, Duration::from_secs(15)) {
            Some(shown) => shown,
            None => panic!(
                "timed out waiting for {needle:?} on the terminal; it showed:\n{}",
                String::from_utf8_lossy(&self.seen)
            ),
        }
    }

    /// Resize the terminal, then ask the shell on it for its size until it tells the new one:
    /// the resize reaches the container's terminal a moment after the window changes.
    pub fn resize_and_see(&mut self, rows: u16, cols: u16) {
        self.resize(rows, cols);
        let size = format!("{rows} {cols}\r\n");
        for _ in 0..30 {
            self.send(b"stty size\r");
            if self
                .expect_within(&size, Duration::from_millis(500))
                .is_some()
            {
                return;
            }
        }
        self.expect(&size);
    }

    /// `expect` with a time limit of the caller's; None when the needle did not show.
    pub fn expect_within(&mut self, needle: &str, limit: Duration) -> Option<String> {
        use std::io::Read;
        let deadline = Instant::now() + limit;
        loop {
            let text = String::from_utf8_lossy(&self.seen).into_owned();
            if let Some(at) = text.find(needle) {
                let upto = at + needle.len();
                let shown = text[..upto].to_string();
                self.seen.drain(..upto.min(self.seen.len()));
                return Some(shown);
            }
            if Instant::now() > deadline {
                return None;
            }
            let mut buf = [0u8; 4096];
            match self.master.read(&mut buf) {
                Ok(0) => std::thread::sleep(Duration::from_millis(10)),
                Ok(n) => self.seen.extend_from_slice(&buf[..n]),
                // EIO: the child side closed; nothing more will come.
                Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                    panic!("the terminal closed before {needle:?}; it showed:\n{text}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// Resize the terminal, as a terminal emulator does when its window changes; the
    /// foreground process (berth) gets SIGWINCH.
    pub fn resize(&mut self, rows: u16, cols: u16) {
        use std::os::fd::AsRawFd;
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize that lives across the call.
        assert_eq!(
            unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) },
            0
        );
    }

    /// Wait for the command to end; its exit code.
    pub fn wait(&mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "the command on the terminal did not end; it showed:\n{}",
                String::from_utf8_lossy(&self.seen)
            );
            // Keep draining, so the command never blocks writing to a full terminal.
            let mut buf = [0u8; 4096];
            if let Ok(n) = std::io::Read::read(&mut self.master, &mut buf) {
                self.seen.extend_from_slice(&buf[..n]);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PtySession {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
