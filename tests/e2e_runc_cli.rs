//! e2e: berth-runc's own command line on a bundle made from the busybox fixture, as a user of
//! runc drives it: the life of a container (create, state, list, start, exec, ps, pause,
//! resume, update, events, kill, delete), the hooks at each of their points, a user
//! namespace, and the refusals, each leaving nothing behind. Needs root.

mod common;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Bundle {
    dir: tempfile::TempDir,
    /// This test's cgroup parent: every container's cgroupsPath is under it.
    parent: String,
}

impl Bundle {
    /// A bundle with busybox's rootfs and `berth-runc spec`'s config, changed by `edit`.
    fn new(edit: impl FnOnce(&mut Value)) -> Option<Bundle> {
        if !common::is_root() {
            eprintln!("SKIPPED: berth-runc needs root (run `sudo just e2e`, or `just vm-e2e`)");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("berth-runc-")
            .tempdir()
            .unwrap();
        let image = dir.path().join("image");
        std::fs::create_dir_all(&image).unwrap();
        common::run_ok(
            Command::new("tar")
                .arg("-xf")
                .arg(common::busybox_archive())
                .arg("-C")
                .arg(&image),
        );
        let layer = std::fs::read_dir(&image)
            .unwrap()
            .flatten()
            .map(|e| e.path().join("layer.tar"))
            .find(|p| p.exists())
            .unwrap();
        let rootfs = dir.path().join("bundle/rootfs");
        std::fs::create_dir_all(&rootfs).unwrap();
        common::run_ok(
            Command::new("tar")
                .arg("-xf")
                .arg(&layer)
                .arg("-C")
                .arg(&rootfs),
        );
        let b = Bundle {
            dir,
            parent: format!("berth-e2e-runc-{}", common::random_tag()),
        };
        let (_, err, code) = common::text(
            &b.runc(&["spec", "--bundle"])
                .arg(b.path())
                .output()
                .unwrap(),
        );
        assert_eq!(code, 0, "{err}");
        let mut config: Value =
            serde_json::from_slice(&std::fs::read(b.path().join("config.json")).unwrap()).unwrap();
        config["process"]["terminal"] = json!(false);
        config["root"]["readonly"] = json!(false);
        config["process"]["args"] = json!(["sh", "-c", "echo started; exec sleep 1000"]);
        edit(&mut config);
        b.write_config(&config);
        Some(b)
    }

    fn write_config(&self, config: &Value) {
        std::fs::write(
            self.path().join("config.json"),
            serde_json::to_vec_pretty(config).unwrap(),
        )
        .unwrap();
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn cgroups_path(&self, id: &str) -> String {
        format!("{}/{id}", self.parent)
    }

    fn runc(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_berth-runc"));
        c.arg("--root").arg(self.root()).args(args);
        c
    }

    fn run(&self, args: &[&str]) -> (String, String, i32) {
        common::text(&self.runc(args).output().unwrap())
    }

    fn ok(&self, args: &[&str]) -> String {
        let (out, err, code) = self.run(args);
        assert_eq!(code, 0, "berth-runc {args:?}: {err}");
        out
    }

    /// `create`, with the container's stdout and stderr in `<id>.out`.
    fn create(&self, id: &str) -> Output {
        let out = std::fs::File::create(self.dir.path().join(format!("{id}.out"))).unwrap();
        let mut config: Value =
            serde_json::from_slice(&std::fs::read(self.path().join("config.json")).unwrap())
                .unwrap();
        config["linux"]["cgroupsPath"] = json!(self.cgroups_path(id));
        self.write_config(&config);
        self.runc(&["create", "--bundle"])
            .arg(self.path())
            .arg(id)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .output()
            .unwrap()
    }

    fn output_of(&self, id: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{id}.out"))).unwrap_or_default()
    }

    fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }

    fn cgroup_dirs(&self, id: &str) -> Vec<PathBuf> {
        common::cgroup_parent_dirs(&self.cgroups_path(id))
    }

    /// What a deleted container may not leave: its state, its cgroup, its processes.
    fn assert_gone(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut leaks: Vec<String> = self
                .cgroup_dirs(id)
                .iter()
                .map(|d| format!("cgroup {}", d.display()))
                .collect();
            if self.root().join(id).exists() {
                leaks.push(format!("state {}", self.root().join(id).display()));
            }
            for pid in common::processes_mentioning(&self.path().to_string_lossy()) {
                leaks.push(format!("process {pid}"));
            }
            if leaks.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "left behind: {leaks:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for id in std::fs::read_dir(self.root())
            .into_iter()
            .flatten()
            .flatten()
        {
            let id = id.file_name().to_string_lossy().into_owned();
            let _ = self.run(&["delete", "--force", &id]);
        }
        common::remove_cgroup_parent(&self.parent);
        common::unmount_under(self.dir.path());
    }
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_container_lives_and_goes_through_berth_runc() {
    let Some(b) = Bundle::new(|_| {}) else {
        return;
    };
    let out = b.create("life");
    assert!(out.status.success(), "create: {}", b.output_of("life"));
    let st = b.state("life");
    assert_eq!(st["status"], "created");
    assert_eq!(st["bundle"], json!(b.path()));
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 0);
    // Created: the process is there, waiting, and has not run the command.
    assert_eq!(b.output_of("life"), "");
    let list = b.ok(&["list"]);
    assert!(list.starts_with("ID "), "{list}");
    assert!(
        list.lines()
            .any(|l| l.starts_with("life ") && l.contains(" created ")),
        "{list}"
    );

    b.ok(&["start", "life"]);
    wait_until("the command's output", || {
        b.output_of("life") == "started\n"
    });
    assert_eq!(b.state("life")["status"], "running");
    let (_, err, code) = b.run(&["start", "life"]);
    assert_eq!(
        (err.trim(), code),
        ("cannot start an already running container", 1)
    );

    let (out, _, code) = b.run(&["exec", "life", "sh", "-c", "hostname; exit 3"]);
    assert_eq!((out.as_str(), code), ("berth\n", 3));
    let process = b.dir.path().join("process.json");
    std::fs::write(
        &process,
        json!({"args": ["sh", "-c", "id -u; pwd"], "cwd": "/tmp", "user": {"uid": 65534, "gid": 65534},
               "env": ["PATH=/bin"]})
        .to_string(),
    )
    .unwrap();
    let (out, err, code) = b.run(&["exec", "--process", process.to_str().unwrap(), "life"]);
    assert_eq!((out.as_str(), code), ("65534\n/tmp\n", 0), "{err}");

    let pids: Vec<i64> = serde_json::from_str(&b.ok(&["ps", "--format", "json", "life"])).unwrap();
    assert_eq!(pids, vec![pid]);

    b.ok(&["pause", "life"]);
    assert_eq!(b.state("life")["status"], "paused");
    b.ok(&["resume", "life"]);
    assert_eq!(b.state("life")["status"], "running");

    let memory_file = |dirs: &[PathBuf]| {
        dirs.iter().find_map(|d| {
            std::fs::read_to_string(d.join("memory.limit_in_bytes"))
                .or_else(|_| std::fs::read_to_string(d.join("memory.max")))
                .ok()
        })
    };
    b.ok(&["update", "--memory", "64m", "life"]);
    assert_eq!(
        memory_file(&b.cgroup_dirs("life")).unwrap().trim(),
        "67108864"
    );
    let mut update = b
        .runc(&["update", "--resources", "-", "life"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    update
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"memory": {"limit": 33554432}, "pids": {"limit": 50}}"#)
        .unwrap();
    assert!(update.wait().unwrap().success());
    assert_eq!(
        memory_file(&b.cgroup_dirs("life")).unwrap().trim(),
        "33554432"
    );
    let ev: Value = serde_json::from_str(&b.ok(&["events", "--stats", "life"])).unwrap();
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["data"]["memory"]["usage"]["limit"], 33554432);
    assert_eq!(ev["data"]["pids"]["current"], 1);

    let (_, err, code) = b.run(&["delete", "life"]);
    assert_eq!(
        (err.trim(), code),
        (
            "cannot delete container life that is not stopped: running",
            1
        )
    );
    b.ok(&["kill", "life", "KILL"]);
    wait_until("the container to stop", || {
        b.state("life")["status"] == "stopped"
    });
    assert_eq!(b.state("life")["pid"], 0);
    b.ok(&["delete", "life"]);
    b.assert_gone("life");
    let (_, err, code) = b.run(&["state", "life"]);
    assert_eq!((err.trim(), code), ("container life does not exist", 1));
}

#[test]
fn hooks_run_at_their_points_with_the_state_on_stdin() {
    let Some(b) = Bundle::new(|_| {}) else {
        return;
    };
    let log = b.dir.path().join("hooks.log");
    // Each hook writes its name and the pid its stdin's state holds; the two that run in the
    // container's namespaces after pivot_root write inside the rootfs.
    let hook = |name: &str, file: &Path| {
        json!({"path": "/bin/sh", "args": ["sh", "-c",
            format!("read -r s; echo {name} $(echo \"$s\" | grep -o '\"pid\":[0-9]*') >> {}", file.display())]})
    };
    let inside = Path::new("/hooks.log");
    let mut config: Value =
        serde_json::from_slice(&std::fs::read(b.path().join("config.json")).unwrap()).unwrap();
    config["hooks"] = json!({
        "prestart": [hook("prestart", &log)],
        "createRuntime": [hook("createRuntime", &log)],
        "createContainer": [hook("createContainer", &log)],
        "startContainer": [hook("startContainer", inside)],
        "poststart": [hook("poststart", &log)],
        "poststop": [hook("poststop", &log)],
    });
    config["process"]["args"] = json!(["true"]);
    b.write_config(&config);
    assert!(
        b.create("hooked").status.success(),
        "{}",
        b.output_of("hooked")
    );
    let pid = b.state("hooked")["pid"].as_i64().unwrap();
    b.ok(&["start", "hooked"]);
    wait_until("the container to stop", || {
        b.state("hooked")["status"] == "stopped"
    });
    b.ok(&["delete", "hooked"]);
    b.assert_gone("hooked");
    let p = format!("\"pid\":{pid}");
    let outside = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        outside,
        format!("prestart {p}\ncreateRuntime {p}\ncreateContainer {p}\npoststart {p}\npoststop \"pid\":0\n")
    );
    let inside = std::fs::read_to_string(b.path().join("rootfs/hooks.log")).unwrap();
    assert_eq!(inside, format!("startContainer {p}\n"));
}

#[test]
fn a_failing_hook_fails_create_and_leaves_nothing() {
    let Some(b) = Bundle::new(|c| {
        c["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo no way >&2; exit 3"]}]});
    }) else {
        return;
    };
    let out = b.create("refused");
    assert!(!out.status.success());
    let said = b.output_of("refused");
    assert!(
        said.contains("running createRuntime hook /bin/sh") && said.contains("no way"),
        "{said}"
    );
    b.assert_gone("refused");
}

#[test]
fn a_user_namespace_maps_root_to_an_unprivileged_user() {
    let Some(b) = Bundle::new(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        c["process"]["args"] = json!([
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map; echo x > /dev/null && echo null-ok"
        ]);
    }) else {
        return;
    };
    common::run_ok(
        Command::new("chown")
            .args(["-R", "200000:200000"])
            .arg(b.path().join("rootfs")),
    );
    assert!(
        b.create("mapped").status.success(),
        "{}",
        b.output_of("mapped")
    );
    let pid = b.state("mapped")["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid_line.contains("200000"),
        "on the host the process is uid 200000: {uid_line}"
    );
    b.ok(&["start", "mapped"]);
    wait_until("the container to stop", || {
        b.state("mapped")["status"] == "stopped"
    });
    let out = b.output_of("mapped");
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words, ["0", "0", "200000", "65536", "null-ok"], "{out}");
    b.ok(&["delete", "mapped"]);
    b.assert_gone("mapped");
}

#[test]
fn bad_input_is_refused_by_name_and_leaves_nothing() {
    let Some(b) = Bundle::new(|c| {
        c["linux"]["resources"]["blockIO"] = json!({"weight": 300});
    }) else {
        return;
    };
    let log = b.dir.path().join("log.json");
    let out = b
        .runc(&[
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "create",
            "--bundle",
        ])
        .arg(b.path())
        .arg("blkio")
        .output()
        .unwrap();
    let (_, err, code) = common::text(&out);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "config.json: linux.resources.blockIO is not supported by berth-runc"
    );
    let line: Value = serde_json::from_str(
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(line["level"], "error");
    assert_eq!(line["msg"], json!(err.trim()));
    b.assert_gone("blkio");

    let (_, err, code) = b.run(&["--systemd-cgroup", "state", "x"]);
    assert_eq!(code, 1);
    assert!(err.contains("--systemd-cgroup is not supported"), "{err}");
    let (_, err, code) = b.run(&["kill", "nosuch", "KILL"]);
    assert_eq!((err.trim(), code), ("container nosuch does not exist", 1));
    let (_, err, code) = b.run(&["create", "--bundle", "/nonexistent", "../x"]);
    assert_eq!(code, 1);
    assert!(err.contains("invalid container id \"../x\""), "{err}");
    let (_, err, code) = b.run(&["spec", "--bundle", b.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("config.json exists"), "{err}");

    // A program that is not there: create fails, naming it, and nothing stays.
    let mut config: Value =
        serde_json::from_slice(&std::fs::read(b.path().join("config.json")).unwrap()).unwrap();
    config["linux"]["resources"] = json!({});
    config["process"]["args"] = json!(["nosuch"]);
    b.write_config(&config);
    let out = b.create("missing");
    assert!(!out.status.success());
    assert!(
        b.output_of("missing")
            .contains("exec: \"nosuch\": executable file not found in $PATH"),
        "{}",
        b.output_of("missing")
    );
    b.assert_gone("missing");
    // The same id twice.
    config["process"]["args"] = json!(["sleep", "100"]);
    b.write_config(&config);
    assert!(b.create("twice").status.success());
    assert!(!b.create("twice").status.success());
    assert!(b
        .output_of("twice")
        .contains("container with id exists: twice"));
    b.ok(&["delete", "--force", "twice"]);
    b.assert_gone("twice");
}
