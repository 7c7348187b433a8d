//! e2e: berth and a real Docker engine exchange images. What `berth save` writes, `docker load`
//! reads and runs (a deleted file stays deleted: the whiteout crossed); what `docker save`
//! writes, berth loads and runs; the image keeps its id both ways. Needs Debian's docker.io
//! (`dockerd`, with containerd and runc); without it the test says so and skips. It starts a
//! dockerd of its own (temp data root, exec root and socket, no bridge, no iptables rules, its
//! own cgroup parent, its own network namespace), so a Docker already running on the machine
//! is left alone.

mod common;

use common::text;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

struct PrivateDocker {
    dir: tempfile::TempDir,
    daemon: Child,
    cgroup_parent: String,
}

impl PrivateDocker {
    /// A dockerd of the test's own, answering; None (with the reason said) if there is none.
    fn start(tag: &str) -> Option<PrivateDocker> {
        if !common::installed("dockerd") || !common::installed("docker") {
            eprintln!(
                "SKIPPED: no Docker engine installed (apt-get install docker.io, or provision with \
                 BERTH_WITH_DOCKER=1)"
            );
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("berth-dockerd-")
            .tempdir()
            .unwrap();
        let log = std::fs::File::create(dir.path().join("dockerd.log")).unwrap();
        let cgroup_parent = format!("berth-e2e-docker-{tag}");
        let sock = dir.path().join("d.sock");
        // In a network namespace of its own: a dockerd with `--bridge=none` deletes the host's
        // `docker0` at start, which would break a real Docker running beside the suite.
        let daemon = Command::new("unshare")
            .args(["--net", "--", "dockerd"])
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .arg("--pidfile")
            .arg(dir.path().join("d.pid"))
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            .args(["--bridge=none", "--iptables=false", "--ip-masq=false"])
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

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.env(
            "DOCKER_HOST",
            format!("unix://{}", self.dir.path().join("d.sock").display()),
        );
        c.env("DOCKER_CONFIG", self.dir.path().join("config"));
        c.env_remove("DOCKER_CONTEXT");
        c.args(args);
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let (out, err, code) = text(&self.cmd(args).output().unwrap());
        assert_eq!(
            code,
            0,
            "docker {args:?}: {err}\ndockerd log:\n{}",
            self.log()
        );
        out
    }

    fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for PrivateDocker {
    fn drop(&mut self) {
        // dockerd stops its containerd and containers on SIGTERM; SIGKILL only if it hangs.
        let pid = nix::unistd::Pid::from_raw(self.daemon.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.daemon.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        common::unmount_under(self.dir.path());
        common::remove_cgroup_parent(&self.cgroup_parent);
    }
}

fn loaded(out: &str) -> Vec<&str> {
    out.lines()
        .filter_map(|l| l.strip_prefix("Loaded image: "))
        .collect()
}

#[test]
fn images_cross_between_berth_and_docker() {
    let d = daemon_or_skip!();
    let Some(docker) = PrivateDocker::start(&d.tag) else {
        return;
    };
    d.load_busybox();
    let work = tempfile::tempdir().unwrap();
    let path = |name: &str| -> PathBuf { work.path().join(name) };

    // berth -> Docker: two committed layers, the second deleting a file of the first.
    d.ok(&[
        "run",
        "--name",
        "one",
        "busybox",
        "sh",
        "-c",
        "mkdir /data && echo one > /data/keep && echo bye > /data/gone",
    ]);
    d.ok(&["commit", "one", "berth-made/img:1"]);
    d.ok(&[
        "run",
        "--name",
        "two",
        "berth-made/img:1",
        "sh",
        "-c",
        "rm /data/gone && echo two > /data/keep",
    ]);
    d.ok(&[
        "commit",
        "-c",
        "CMD cat /data/keep",
        "two",
        "berth-made/img:2",
    ]);
    d.ok(&["rm", "one", "two"]);
    let ours = path("from-berth.tar");
    d.ok(&["save", "-o", ours.to_str().unwrap(), "berth-made/img:2"]);
    let out = docker.ok(&["load", "-i", ours.to_str().unwrap()]);
    assert_eq!(loaded(&out), ["berth-made/img:2"], "{out}");
    let out = docker.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "berth-made/img:2",
        "sh",
        "-c",
        "cat /data/keep; ls /data",
    ]);
    assert_eq!(out, "two\nkeep\n");
    let out = docker.ok(&["run", "--rm", "--network", "none", "berth-made/img:2"]);
    assert_eq!(out, "two\n", "the committed CMD crossed too");
    let id = |out: String| out.trim().to_string();
    assert_eq!(
        id(docker.ok(&["image", "inspect", "-f", "{{.Id}}", "berth-made/img:2"])),
        id(d.ok(&["image", "inspect", "-f", "{{.Id}}", "berth-made/img:2"])),
        "content addressing: the same config is the same id"
    );

    // Docker -> berth: Docker's busybox is the same fixture, loaded from the same archive.
    let fixture = common::busybox_archive();
    docker.ok(&["load", "-i", fixture.to_str().unwrap()]);
    docker.ok(&[
        "run",
        "--network",
        "none",
        "--name",
        "dw",
        "busybox",
        "sh",
        "-c",
        "echo from-docker > /greeting && rm /etc/group",
    ]);
    docker.ok(&["commit", "dw", "docker-made/img:1"]);
    docker.ok(&["rm", "dw"]);
    let theirs = path("from-docker.tar");
    docker.ok(&["save", "-o", theirs.to_str().unwrap(), "docker-made/img:1"]);
    let out = d.ok(&["load", "-i", theirs.to_str().unwrap()]);
    assert_eq!(loaded(&out), ["docker-made/img:1"], "{out}");
    let out = d.ok(&[
        "run",
        "--rm",
        "docker-made/img:1",
        "sh",
        "-c",
        "cat /greeting; test -e /etc/group || echo group-gone",
    ]);
    assert_eq!(out, "from-docker\ngroup-gone\n");
    assert_eq!(
        id(d.ok(&["image", "inspect", "-f", "{{.Id}}", "docker-made/img:1"])),
        id(docker.ok(&["image", "inspect", "-f", "{{.Id}}", "docker-made/img:1"])),
    );

    // And back: berth's save of Docker's image loads into Docker again as the same image.
    let again = path("again.tar");
    d.ok(&["save", "-o", again.to_str().unwrap(), "docker-made/img:1"]);
    docker.ok(&["rmi", "docker-made/img:1"]);
    let out = docker.ok(&["load", "-i", again.to_str().unwrap()]);
    assert_eq!(loaded(&out), ["docker-made/img:1"], "{out}");
    let out = docker.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "docker-made/img:1",
        "cat",
        "/greeting",
    ]);
    assert_eq!(out, "from-docker\n");
}
