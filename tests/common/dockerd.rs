//! A private Docker engine for tests that compare berth with Docker: its own data root, exec
//! root, socket, pid file and cgroup parent, inside `unshare --net` so its bridges, addresses
//! and rules live in a network namespace of their own (a dockerd with `--bridge=none` would
//! even delete the host's `docker0`). Dropping it stops it and removes what it made.

use super::text;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub struct PrivateDocker {
    pub dir: tempfile::TempDir,
    daemon: Child,
    cgroup_parent: String,
}

impl PrivateDocker {
    /// A dockerd of the test's own with `extra` flags, answering; None (with the reason
    /// said) if there is none.
    pub fn start(tag: &str, extra: &[&str]) -> Option<PrivateDocker> {
        if !super::installed("dockerd") || !super::installed("docker") {
            eprintln!(
                "SKIPPED: no Docker engine installed (apt-get install docker.io, or provision with \
                 BERTH_WITH_DOCKER=1)"
            );
            return None;
        }
        if !super::is_root() {
            eprintln!("SKIPPED: a private dockerd needs root");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("berth-dockerd-")
            .tempdir()
            .unwrap();
        let log = std::fs::File::create(dir.path().join("dockerd.log")).unwrap();
        let cgroup_parent = format!("berth-e2e-docker-{tag}");
        let daemon = Command::new("unshare")
            .args(["--net", "--", "dockerd"])
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .arg("--pidfile")
            .arg(dir.path().join("d.pid"))
            .arg("-H")
            .arg(format!("unix://{}", dir.path().join("d.sock").display()))
            .args(["--iptables=false", "--ip-masq=false"])
            .args(extra)
            .arg(format!("--cgroup-parent={cgroup_parent}"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let docker = PrivateDocker {
            dir,
            daemon,
            cgroup_parent,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if docker
                .cmd(&["version"])
                .output()
                .is_ok_and(|o| o.status.success())
            {
                return Some(docker);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        // An engine that cannot start here (a sandbox without what it needs) is the machine's
        // limit, not berth's: say so loudly, with the engine's own words.
        eprintln!(
            "SKIPPED: dockerd did not answer within 30 s; its log ends:\n{}",
            docker.log()
        );
        None
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("d.sock").display())
    }

    /// The docker CLI, pointed at this engine only.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", self.host());
        c.env("DOCKER_CONFIG", self.dir.path().join("config"));
        c.env_remove("DOCKER_CONTEXT");
        c.args(args);
        c
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let (out, err, code) = text(&self.cmd(args).output().unwrap());
        assert_eq!(
            code,
            0,
            "docker {args:?}: {err}\ndockerd log:\n{}",
            self.log()
        );
        out
    }

    /// The last 30 lines of its log.
    pub fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for PrivateDocker {
    fn drop(&mut self) {
        // dockerd stops its containerd and containers on SIGTERM; SIGKILL only if it hangs.
        super::terminate(&mut self.daemon, Duration::from_secs(20));
        super::unmount_under(self.dir.path());
        super::remove_cgroup_parent(&self.cgroup_parent);
    }
}
