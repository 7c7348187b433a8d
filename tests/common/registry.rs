//! A real registry for e2e tests: Debian's `docker-registry` (the distribution registry),
//! on 127.0.0.1 at a free port, storing into a temp dir, optionally behind HTTP Basic auth
//! (an htpasswd file made with `htpasswd -B`). Dropping it stops it and removes its storage.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TestRegistry {
    pub host: String,
    pub dir: tempfile::TempDir,
    child: Child,
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

impl TestRegistry {
    /// None (with a message) when `docker-registry` (or, for auth, `htpasswd`) is missing.
    pub fn start(auth: Option<(&str, &str)>) -> Option<TestRegistry> {
        if !have("docker-registry") {
            eprintln!(
                "SKIPPED: needs Debian's docker-registry package (apt install docker-registry)"
            );
            return None;
        }
        if auth.is_some() && !have("htpasswd") {
            eprintln!("SKIPPED: needs htpasswd (apt install apache2-utils)");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("berth-registry-")
            .tempdir()
            .unwrap();
        // A port the kernel just handed out and took back: free unless raced, which the
        // readiness check below would show.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n",
            dir.path().join("data").display()
        );
        if let Some((user, pass)) = auth {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, pass])
                .output()
                .unwrap();
            assert!(out.status.success());
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                file.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        let reg = TestRegistry { host, dir, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(&reg.host).is_err() {
            assert!(
                Instant::now() < deadline,
                "the registry did not listen on {}: {}",
                reg.host,
                reg.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(reg)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Where the registry keeps a blob's bytes.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
