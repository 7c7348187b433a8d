//! A private containerd for the tests that run berth-runc under it: its own root, state,
//! socket and config (no CRI plugin), and a namespace of the test's own, so that the runc
//! shim's state (`/run/containerd/runc/<namespace>`) and the containers' cgroups
//! (`/<namespace>/<id>`) are the test's alone. Dropping it stops it and removes what it made.

use super::text;
use std::path::PathBuf;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

pub struct PrivateContainerd {
    pub dir: tempfile::TempDir,
    pub namespace: String,
    daemon: Child,
}

impl PrivateContainerd {
    /// A containerd answering, with busybox imported; None (with the reason said) if none.
    pub fn start(tag: &str) -> Option<PrivateContainerd> {
        if !super::installed("containerd") || !super::installed("ctr") {
            eprintln!(
                "SKIPPED: containerd and ctr are not installed (apt-get install containerd, or \
                 provision with BERTH_WITH_DOCKER=1)"
            );
            return None;
        }
        if !super::is_root() {
            eprintln!("SKIPPED: a private containerd needs root");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("berth-containerd-")
            .tempdir()
            .unwrap();
        let p = |s: &str| dir.path().join(s).display().to_string();
        let config = format!(
            "version = 2\nroot = \"{}\"\nstate = \"{}\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{}\"\n[ttrpc]\n  address = \"{}\"\n",
            p("root"),
            p("state"),
            p("c.sock"),
            p("c.sock.ttrpc"),
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(dir.path().join("config.toml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let c = PrivateContainerd {
            dir,
            namespace: format!("berth-e2e-{tag}"),
            daemon,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if c.ctr(&["version"])
                .output()
                .is_ok_and(|o| o.status.success())
            {
                let archive = super::busybox_archive();
                let archive = archive.to_string_lossy();
                let (_, err, code) =
                    text(&c.ctr(&["images", "import", &archive]).output().unwrap());
                assert_eq!(code, 0, "ctr images import: {err}");
                return Some(c);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!(
            "SKIPPED: containerd did not answer within 30 s; its log ends:\n{}",
            c.log()
        );
        None
    }

    /// ctr, pointed at this containerd and namespace.
    pub fn ctr(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(self.dir.path().join("c.sock"))
            .arg("--namespace")
            .arg(&self.namespace)
            .args(args);
        c
    }

    pub fn output(&self, args: &[&str]) -> Output {
        self.ctr(args).output().unwrap()
    }

    /// Where the runc shim keeps the runtime's state for this namespace (its `--root`).
    pub fn runtime_root(&self) -> PathBuf {
        PathBuf::from("/run/containerd/runc").join(&self.namespace)
    }

    pub fn log(&self) -> String {
        let log =
            std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// What the containers of this namespace left on the host: cgroups, runtime state,
    /// processes, mounts.
    pub fn leaks(&self) -> Vec<String> {
        let mut leaks = Vec::new();
        for dir in super::cgroup_parent_dirs(&self.namespace) {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    leaks.push(format!("cgroup: {}", e.path().display()));
                }
            }
        }
        for e in std::fs::read_dir(self.runtime_root())
            .into_iter()
            .flatten()
            .flatten()
        {
            leaks.push(format!("runtime state: {}", e.path().display()));
        }
        for pid in super::processes_mentioning(&self.namespace) {
            leaks.push(format!("process {pid}"));
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let here = self.dir.path().to_string_lossy().into_owned();
        for l in mounts
            .lines()
            .filter(|l| l.contains(&here) && !l.contains("/root/"))
        {
            leaks.push(format!("mount: {l}"));
        }
        leaks
    }
}

impl Drop for PrivateContainerd {
    fn drop(&mut self) {
        for pid in super::processes_mentioning(&self.namespace) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        super::terminate(&mut self.daemon, Duration::from_secs(10));
        super::unmount_under(self.dir.path());
        super::remove_cgroup_parent(&self.namespace);
        let _ = std::fs::remove_dir_all(self.runtime_root());
    }
}
