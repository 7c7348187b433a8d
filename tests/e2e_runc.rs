//! e2e: berth-runc as the OCI runtime of real engines. A private containerd runs busybox with
//! `ctr run --runc-binary berth-runc` (output, exit codes, exec, kill, pause and resume, ps, a
//! memory limit, a terminal), and a private dockerd with `--add-runtime berth=berth-runc`
//! runs `docker run --runtime berth` (plain, -it, -p, --memory, exec, stop). Nothing may be
//! left behind. Each needs root and the engine (Debian's containerd, docker.io); without
//! them it says so and skips.

mod common;

use common::containerd::PrivateContainerd;
use common::dockerd::PrivateDocker;
use common::{text, PtySession};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const IMAGE: &str = "docker.io/library/busybox:latest";

fn runtime() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berth-runc"))
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `ctr run` with berth-runc, then its output and exit code.
fn ctr_run(c: &PrivateContainerd, id: &str, extra: &[&str], cmd: &[&str]) -> (String, String, i32) {
    let rt = runtime();
    let mut args = vec!["run", "--runc-binary", rt.to_str().unwrap()];
    args.extend(extra);
    args.extend([IMAGE, id]);
    args.extend(cmd);
    text(&c.output(&args))
}

fn task_status(c: &PrivateContainerd, id: &str) -> String {
    let (out, _, _) = text(&c.output(&["task", "ls"]));
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(id))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("")
        .to_string()
}

fn assert_no_leaks(c: &PrivateContainerd) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let leaks = c.leaks();
        if leaks.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "left behind:\n{}\ncontainerd log:\n{}",
            leaks.join("\n"),
            c.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn ctr_runs_busybox_with_berth_runc() {
    let Some(c) = PrivateContainerd::start(&common::random_tag()) else {
        return;
    };

    let (out, err, code) = ctr_run(&c, "echo", &["--rm"], &["echo", "hello from ctr"]);
    assert_eq!(
        (out.as_str(), code),
        ("hello from ctr\n", 0),
        "{err}\n{}",
        c.log()
    );
    let (_, _, code) = ctr_run(&c, "exit7", &["--rm"], &["sh", "-c", "exit 7"]);
    assert_eq!(code, 7);
    let (_, err, code) = ctr_run(&c, "nosuch", &["--rm"], &["nosuch"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("executable file not found in $PATH"),
        "ctr said: {err}"
    );

    // A long-running task with a memory limit: exec, ps, pause, resume, the limit, kill.
    let (_, err, code) = ctr_run(
        &c,
        "long",
        &["-d", "--memory-limit", "33554432"],
        &[
            "sh",
            "-c",
            "trap 'exit 0' TERM; while :; do sleep 0.1; done",
        ],
    );
    assert_eq!(code, 0, "{err}\n{}", c.log());
    assert_eq!(task_status(&c, "long"), "RUNNING");
    let (out, err, code) = text(&c.output(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "long",
        "sh",
        "-c",
        "echo in-exec; hostname; exit 3",
    ]));
    assert_eq!(code, 3, "{err}");
    assert!(out.starts_with("in-exec\n"), "{out}");
    let (out, _, code) = text(&c.output(&["task", "ps", "long"]));
    assert_eq!(code, 0);
    assert!(out.lines().count() >= 2, "ctr task ps: {out}");
    let limit = common::cgroup_parent_dirs(&c.namespace)
        .iter()
        .map(|d| d.join("long"))
        .find_map(|d| {
            std::fs::read_to_string(d.join("memory.limit_in_bytes"))
                .or_else(|_| std::fs::read_to_string(d.join("memory.max")))
                .ok()
        })
        .expect("the task's memory cgroup");
    assert_eq!(limit.trim(), "33554432");
    assert_eq!(text(&c.output(&["task", "pause", "long"])).2, 0);
    assert_eq!(task_status(&c, "long"), "PAUSED");
    assert_eq!(text(&c.output(&["task", "resume", "long"])).2, 0);
    assert_eq!(task_status(&c, "long"), "RUNNING");
    // SIGTERM, which the shell traps: it exits 0.
    assert_eq!(text(&c.output(&["task", "kill", "long"])).2, 0);
    wait_for("the task to stop", || task_status(&c, "long") == "STOPPED");
    assert_eq!(text(&c.output(&["task", "rm", "long"])).2, 0);
    assert_eq!(text(&c.output(&["container", "rm", "long"])).2, 0);

    // SIGKILL to a task that ignores SIGTERM.
    let (_, _, code) = ctr_run(
        &c,
        "stubborn",
        &["-d"],
        &["sh", "-c", "trap '' TERM; sleep 1000"],
    );
    assert_eq!(code, 0);
    assert_eq!(
        text(&c.output(&["task", "kill", "-s", "SIGKILL", "stubborn"])).2,
        0
    );
    wait_for("the killed task to stop", || {
        task_status(&c, "stubborn") == "STOPPED"
    });
    assert_eq!(text(&c.output(&["task", "rm", "stubborn"])).2, 0);
    assert_eq!(text(&c.output(&["container", "rm", "stubborn"])).2, 0);

    // A terminal: the container's own pseudo-terminal, its size, its exit code.
    let rt = runtime();
    let mut cmd = c.ctr(&[
        "run",
        "-t",
        "--rm",
        "--runc-binary",
        rt.to_str().unwrap(),
        IMAGE,
        "tty",
        "sh",
    ]);
    cmd.env("TERM", "xterm");
    let mut s = PtySession::spawn(cmd, 30, 100);
    s.send(b"tty; stty size; echo sum=$((6*7))\n");
    s.expect("/dev/pts/0");
    s.expect("sum=42");
    s.send(b"exit 5\n");
    assert_eq!(s.wait(), 5);

    assert_no_leaks(&c);
}

#[test]
fn dockerd_runs_containers_with_berth_runc() {
    let rt = runtime();
    let add = format!("--add-runtime=berth={}", rt.display());
    let tag = common::random_tag();
    let Some(docker) = PrivateDocker::start(&tag, &[&add]) else {
        return;
    };
    let archive = common::busybox_archive();
    docker.ok(&["load", "-i", archive.to_str().unwrap()]);
    let run = |args: &[&str]| {
        let mut all = vec!["run", "--runtime", "berth"];
        all.extend(args);
        text(&docker.cmd(&all).output().unwrap())
    };

    let (out, err, code) = run(&["--rm", "busybox", "echo", "hi"]);
    assert_eq!((out.as_str(), code), ("hi\n", 0), "{err}\n{}", docker.log());
    assert_eq!(run(&["--rm", "busybox", "sh", "-c", "exit 9"]).2, 9);
    let (_, err, code) = run(&["--rm", "busybox", "nosuch"]);
    assert_eq!(code, 127, "{err}");
    let (out, err, code) = run(&[
        "--rm",
        "--memory",
        "64m",
        "busybox",
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
    ]);
    assert_eq!((out.trim(), code), ("67108864", 0), "{err}");

    // -it: a terminal all the way from this test's pty to the container's.
    let mut cmd = docker.cmd(&["run", "--runtime", "berth", "-it", "--rm", "busybox", "sh"]);
    cmd.env("TERM", "xterm");
    let mut s = PtySession::spawn(cmd, 24, 80);
    s.send(b"echo sum=$((6*7))\n");
    s.expect("sum=42");
    s.send(b"exit 4\n");
    assert_eq!(s.wait(), 4);

    // -p: the network dockerd set up through its prestart hook, reached from its namespace.
    let (_, err, code) = run(&[
        "-d",
        "--name",
        "web",
        "-p",
        "8080:80",
        "busybox",
        "sh",
        "-c",
        "echo hello-web > /tmp/index.html; trap 'exit 0' TERM; httpd -p 80 -h /tmp; while :; do sleep 0.1; done",
    ]);
    assert_eq!(code, 0, "{err}\n{}", docker.log());
    let pid = std::fs::read_to_string(docker.dir.path().join("d.pid")).unwrap();
    let netns = format!("--net=/proc/{}/ns/net", pid.trim());
    // The private dockerd's namespace starts with its loopback down.
    common::run_ok(std::process::Command::new("nsenter").args([
        netns.as_str(),
        "ip",
        "link",
        "set",
        "lo",
        "up",
    ]));
    let mut got = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let out = std::process::Command::new("nsenter")
            .arg(&netns)
            .args([
                "busybox",
                "wget",
                "-qO-",
                "http://127.0.0.1:8080/index.html",
            ])
            .output()
            .unwrap();
        got = String::from_utf8_lossy(&out.stdout).into_owned();
        if got == "hello-web\n" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(got, "hello-web\n");
    let (out, err, code) = text(
        &docker
            .cmd(&["exec", "web", "sh", "-c", "echo exec-ok; exit 3"])
            .output()
            .unwrap(),
    );
    assert_eq!((out.as_str(), code), ("exec-ok\n", 3), "{err}");
    let started = Instant::now();
    docker.ok(&["stop", "web"]);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "docker stop waited for the SIGKILL"
    );
    assert_eq!(
        docker.ok(&[
            "inspect",
            "-f",
            "{{.State.ExitCode}} {{.HostConfig.Runtime}}",
            "web"
        ]),
        "0 berth\n"
    );
    docker.ok(&["rm", "web"]);

    // Nothing of berth-runc's is left: no container cgroup, no state under the runtime root.
    let parent = format!("berth-e2e-docker-{tag}");
    let state_root = docker.dir.path().join("exec/runtime-runc/moby");
    wait_for("the containers' cgroups and state to go", || {
        common::cgroup_parent_dirs(&parent).iter().all(|d| {
            std::fs::read_dir(d)
                .into_iter()
                .flatten()
                .flatten()
                .all(|e| !e.path().is_dir())
        }) && std::fs::read_dir(&state_root)
            .into_iter()
            .flatten()
            .next()
            .is_none()
    });
}
