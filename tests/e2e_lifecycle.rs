//! e2e: a container's life after `run`, through berth's CLI and the real docker CLI: logs,
//! stop, restart, wait, rename, pause, top, prune, exec, ps filters and templates, restart
//! policies, capabilities, seccomp, limits and update, --init, attach and detach keys, the
//! device cgroup, stats, and live restore (containers outlive a SIGKILLed daemon, whose
//! successor reattaches and sweeps what a crash left). One daemon per test, as everywhere.

mod common;

use common::{text, wait_until};
use std::time::{Duration, Instant};

#[test]
fn logs_keep_streams_apart_and_honour_tail_and_timestamps() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        "echo one; sleep 0.1; echo err >&2; sleep 0.1; echo two",
    ]);
    assert_eq!(d.ok(&["wait", "talker"]), "0\n");

    let out = d.berth(&["logs", "talker"]);
    let (stdout, stderr, code) = text(&out);
    assert_eq!(
        (stdout.as_str(), stderr.as_str(), code),
        ("one\ntwo\n", "err\n", 0)
    );

    assert_eq!(d.ok(&["logs", "--tail", "1", "talker"]), "two\n");
    let stamped = d.ok(&["logs", "-t", "--tail", "1", "talker"]);
    let (ts, line) = stamped.trim_end().split_once(' ').unwrap();
    assert_eq!(line, "two");
    assert!(
        chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
        "{stamped}"
    );
    assert_eq!(
        d.ok(&["logs", "--since", "1h", "--tail", "all", "talker"]),
        "one\ntwo\n"
    );
    assert_eq!(d.ok(&["logs", "--until", "1h", "talker"]), "");

    // -f follows until the container exits.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "counter",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo $i; sleep 0.2; done",
    ]);
    assert_eq!(d.ok(&["logs", "-f", "counter"]), "1\n2\n3\n");
    d.ok(&["rm", "talker", "counter"]);
}

#[test]
fn stop_restart_wait_rename() {
    let d = daemon_or_skip!();
    d.load_busybox();

    // sleep as PID 1 ignores SIGTERM, so stop falls back to SIGKILL after the timeout.
    d.ok(&["run", "-d", "--name", "sleeper", "busybox", "sleep", "60"]);
    let t0 = Instant::now();
    assert_eq!(d.ok(&["stop", "-t", "1", "sleeper"]), "sleeper\n");
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "stop returned before its timeout"
    );
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["inspect", "sleeper"])).unwrap();
    assert_eq!(v[0]["State"]["ExitCode"], 137);

    // A process that handles SIGTERM exits on it.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "polite",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 143' TERM; while true; do sleep 0.1; done",
    ]);
    let t0 = Instant::now();
    d.ok(&["stop", "polite"]);
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(d.ok(&["wait", "polite"]), "143\n");

    // restart starts it again with a new process.
    let before: serde_json::Value = serde_json::from_str(&d.ok(&["inspect", "sleeper"])).unwrap();
    assert_eq!(d.ok(&["restart", "-t", "0", "sleeper"]), "sleeper\n");
    let after: serde_json::Value = serde_json::from_str(&d.ok(&["inspect", "sleeper"])).unwrap();
    assert_eq!(after[0]["State"]["Running"], true);
    assert_ne!(
        before[0]["State"]["StartedAt"],
        after[0]["State"]["StartedAt"]
    );

    // wait prints the exit code of each container in turn.
    d.ok(&[
        "run", "-d", "--name", "five", "busybox", "sh", "-c", "exit 5",
    ]);
    assert_eq!(d.ok(&["wait", "five"]), "5\n");

    // rename, and the name conflict.
    d.ok(&["rename", "five", "cinq"]);
    assert!(d.ok(&["ps", "-a"]).contains("cinq"));
    let (_, err, c) = text(&d.berth(&["rename", "cinq", "sleeper"]));
    assert_eq!(c, 1);
    assert!(err.contains("is already in use"), "{err}");
    let (_, err, c) = text(&d.berth(&["stop", "nosuch"]));
    assert_eq!(c, 1);
    assert!(err.contains("No such container: nosuch"), "{err}");

    d.ok(&["rm", "-f", "sleeper", "polite", "cinq"]);
    wait_until("all containers gone", || d.ok(&["ps", "-aq"]).is_empty());
}

#[test]
fn docker_cli_logs_stop_wait_rename() {
    let d = daemon_or_skip!();
    if !d.docker_or_say() {
        return;
    }
    d.load_busybox();
    let docker = |args: &[&str]| d.docker_text(args);
    let (_, err, c) = docker(&[
        "run",
        "-d",
        "--name",
        "lg",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; sleep 60",
    ]);
    assert_eq!(c, 0, "{err}");
    wait_until("the log lines", || {
        let (out, err, _) = docker(&["logs", "lg"]);
        out == "out\n" && err == "err\n"
    });
    let (out, err, _) = docker(&["logs", "lg"]);
    assert_eq!((out.as_str(), err.as_str()), ("out\n", "err\n"));
    let (out, err, c) = docker(&["stop", "-t", "1", "lg"]);
    assert_eq!((out.as_str(), c), ("lg\n", 0), "{err}");
    let (out, _, _) = docker(&["wait", "lg"]);
    assert_eq!(out, "137\n");
    let (_, err, c) = docker(&["rename", "lg", "lg2"]);
    assert_eq!(c, 0, "{err}");
    let (out, _, _) = docker(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(out, "lg2\n");
    docker(&["rm", "lg2"]);
}

#[test]
fn run_flags_entrypoint_labels_stop_signal_cidfile_read_only() {
    let d = daemon_or_skip!();
    d.load_busybox();

    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--entrypoint",
            "echo",
            "busybox",
            "from",
            "entrypoint"
        ]),
        "from entrypoint\n"
    );
    // An empty entrypoint keeps the image's command (sh), fed from stdin here.
    let out = common::output_with_stdin(
        d.cmd()
            .args(["run", "--rm", "-i", "--entrypoint", "", "busybox"]),
        b"echo via sh\n",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "via sh\n");

    let cid = d.dir.path().join("cid");
    let id = d.ok(&[
        "run",
        "-d",
        "--name",
        "labelled",
        "-l",
        "tier=web",
        "--label",
        "flag",
        "--stop-signal",
        "USR1",
        "--stop-timeout",
        "1",
        "--cidfile",
        cid.to_str().unwrap(),
        "busybox",
        "sh",
        "-c",
        "trap 'exit 42' USR1; while true; do sleep 0.1; done",
    ]);
    assert_eq!(std::fs::read_to_string(&cid).unwrap(), id.trim());
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["inspect", "labelled"])).unwrap();
    assert_eq!(v[0]["Config"]["Labels"]["tier"], "web");
    assert_eq!(v[0]["Config"]["Labels"]["flag"], "");
    assert_eq!(v[0]["Config"]["StopSignal"], "USR1");
    assert_eq!(v[0]["Config"]["StopTimeout"], 1);
    // stop uses the container's stop signal, which the trap turns into exit 42.
    d.ok(&["stop", "labelled"]);
    assert_eq!(d.ok(&["wait", "labelled"]), "42\n");
    // A cidfile that exists is refused before anything is created.
    let (_, err, c) =
        text(&d.berth(&["run", "--cidfile", cid.to_str().unwrap(), "busybox", "true"]));
    assert_eq!(c, 125);
    assert!(err.contains("Container ID file found"), "{err}");
    d.ok(&["rm", "labelled"]);

    // --read-only: the root filesystem refuses writes; /tmp-less images fail, /dev/shm works.
    let (out, _, c) = text(&d.berth(&[
        "run",
        "--rm",
        "--read-only",
        "busybox",
        "sh",
        "-c",
        "touch /x 2>&1; echo ok > /dev/shm/y && cat /dev/shm/y",
    ]));
    assert_eq!(c, 0);
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.ends_with("ok\n"), "{out}");
    assert_eq!(d.ok(&["ps", "-aq"]), "");

    // /dev/shm is 64 MiB unless --shm-size says otherwise; inspect shows the size chosen.
    let df = |args: &[&str]| {
        let mut all = vec!["run", "--rm"];
        all.extend(args);
        all.extend(["busybox", "sh", "-c", "df -k /dev/shm | tail -1"]);
        d.ok(&all)
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(df(&[]), "65536");
    assert_eq!(df(&["--shm-size", "1g"]), "1048576");
    let id = d.ok(&["create", "--shm-size", "8m", "busybox", "true"]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.HostConfig.ShmSize}}", id.trim()]),
        "8388608\n"
    );
    d.ok(&["rm", id.trim()]);
    let (_, err, c) = text(&d.berth(&["run", "--shm-size", "lots", "busybox", "true"]));
    assert_eq!(c, 125);
    assert!(
        err.contains("invalid argument \"lots\" for \"--shm-size\" flag"),
        "{err}"
    );
}

#[test]
fn pause_unpause_top_and_prune() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "while true; do date +%s%N > /tmp/t; sleep 0.05; done",
    ]);

    // top lists the container's processes from the host's ps, the shell first.
    let top = d.ok(&["top", "ticker"]);
    assert!(top.starts_with("UID"), "{top}");
    assert!(top.contains("while true"), "{top}");
    assert!(!top.contains("berth daemon"), "{top}");
    let top = d.ok(&["top", "ticker", "-o", "pid,comm"]);
    assert!(top.starts_with("PID"), "{top}");

    assert_eq!(d.ok(&["pause", "ticker"]), "ticker\n");
    assert!(d.ok(&["ps"]).contains("(Paused)"));
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["inspect", "ticker"])).unwrap();
    assert_eq!(v[0]["State"]["Status"], "paused");
    assert_eq!(v[0]["State"]["Paused"], true);
    let (_, err, c) = text(&d.berth(&["pause", "ticker"]));
    assert_eq!(c, 1);
    assert!(err.contains("is already paused"), "{err}");
    assert_eq!(d.ok(&["unpause", "ticker"]), "ticker\n");
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["inspect", "ticker"])).unwrap();
    assert_eq!(v[0]["State"]["Status"], "running");

    // A paused container can still be killed.
    d.ok(&["pause", "ticker"]);
    d.ok(&["rm", "-f", "ticker"]);

    d.ok(&[
        "run",
        "--name",
        "done1",
        "busybox",
        "sh",
        "-c",
        "head -c 100000 /dev/zero > /big",
    ]);
    d.ok(&["run", "--name", "done2", "busybox", "true"]);
    d.ok(&["run", "-d", "--name", "alive", "busybox", "sleep", "60"]);
    let out = d.ok(&["container", "prune", "-f"]);
    assert!(out.starts_with("Deleted Containers:\n"), "{out}");
    assert_eq!(out.lines().filter(|l| l.len() == 64).count(), 2, "{out}");
    assert!(out.contains("Total reclaimed space: 100kB"), "{out}");
    let left = d.ok(&["ps", "-a", "--no-trunc"]);
    assert!(left.contains("alive") && !left.contains("done1"), "{left}");
    d.ok(&["rm", "-f", "alive"]);
}

#[test]
fn exec_joins_the_running_container() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "box",
        "-e",
        "FROM_RUN=1",
        "--hostname",
        "boxhost",
        // A cgroup namespace of its own whatever the host's cgroup version (on v1 the default
        // is the host's), so that the exec's cgroup paths below are all `/`.
        "--cgroupns",
        "private",
        "busybox",
        "sleep",
        "60",
    ]);

    // Same hostname, network, pid namespace (sleep is PID 1) and filesystem.
    assert_eq!(d.ok(&["exec", "box", "hostname"]), "boxhost\n");
    let ps = d.ok(&["exec", "box", "ps", "-o", "pid,args"]);
    assert!(ps.lines().any(|l| l.trim() == "1 sleep 60"), "{ps}");
    d.ok(&["exec", "box", "sh", "-c", "echo shared > /tmp/file"]);
    assert_eq!(d.ok(&["exec", "box", "cat", "/tmp/file"]), "shared\n");
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["inspect", "box"])).unwrap();
    let ip = v[0]["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = d.ok(&["exec", "box", "ip", "-4", "-o", "addr", "show", "eth0"]);
    assert!(shown.contains(&ip), "{shown}");

    // Environment, user, workdir; the container's own cgroup.
    let env = d.ok(&["exec", "-e", "EXTRA=2", "box", "env"]);
    assert!(
        env.lines().any(|l| l == "FROM_RUN=1") && env.lines().any(|l| l == "EXTRA=2"),
        "{env}"
    );
    assert_eq!(d.ok(&["exec", "-u", "user", "box", "id", "-u"]), "1000\n");
    assert_eq!(d.ok(&["exec", "-w", "/etc", "box", "pwd"]), "/etc\n");
    let caps = d.ok(&["exec", "box", "grep", "CapEff", "/proc/self/status"]);
    assert!(caps.contains("00000000a80425fb"), "{caps}");
    let caps = d.ok(&[
        "exec",
        "--privileged",
        "box",
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    assert!(!caps.contains("00000000a80425fb"), "{caps}");
    let cg = d.ok(&["exec", "box", "cat", "/proc/self/cgroup"]);
    assert!(
        cg.lines().all(|l| l.ends_with(":/")),
        "the exec is in the container's cgroup namespace: {cg}"
    );

    // Exit codes and stdin.
    let (_, _, c) = text(&d.berth(&["exec", "box", "sh", "-c", "exit 7"]));
    assert_eq!(c, 7);
    // The exec path's code for a program that cannot start is 126 (run's is 127), as in
    // Docker; the Python SDK's test_exec_run_failed reads it.
    let (_, err, c) = text(&d.berth(&["exec", "box", "nosuchcommand"]));
    assert_eq!(c, 126, "{err}");
    assert!(err.contains("executable file not found"), "{err}");
    let mut child = d
        .cmd()
        .args(["exec", "-i", "box", "tr", "a-z", "A-Z"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"loud\n").unwrap();
    assert_eq!(
        String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout),
        "LOUD\n"
    );

    // -d leaves it running in the background.
    assert_eq!(
        d.ok(&[
            "exec",
            "-d",
            "box",
            "sh",
            "-c",
            "sleep 0.2; echo later > /tmp/bg"
        ]),
        ""
    );
    wait_until("the detached exec", || {
        d.berth(&["exec", "box", "cat", "/tmp/bg"]).stdout == b"later\n"
    });

    // Not running: refused.
    d.ok(&["kill", "box"]);
    d.ok(&["wait", "box"]);
    let (_, err, c) = text(&d.berth(&["exec", "box", "true"]));
    assert_eq!(c, 1);
    assert!(err.contains("is not running"), "{err}");
    d.ok(&["rm", "box"]);

    // The docker CLI's exec.
    if let Some(mut docker) = d.docker() {
        d.ok(&["run", "-d", "--name", "box2", "busybox", "sleep", "60"]);
        let out = docker
            .args(["exec", "box2", "echo", "hi"])
            .output()
            .unwrap();
        assert_eq!(text(&out).0, "hi\n", "{}", text(&out).1);
        let out = d
            .docker()
            .unwrap()
            .args(["exec", "box2", "sh", "-c", "exit 3"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        d.ok(&["rm", "-f", "box2"]);
    }
}

#[test]
fn ps_filters_formats_sizes_and_inspect_templates() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-l",
        "tier=front",
        "busybox",
        "sleep",
        "60",
    ]);
    d.ok(&["run", "--name", "ok", "busybox", "true"]);
    let (_, _, c) = text(&d.berth(&[
        "run",
        "--name",
        "bad",
        "busybox",
        "sh",
        "-c",
        "head -c 5000 /dev/zero > /f; exit 2",
    ]));
    assert_eq!(c, 2);

    let names = |args: &[&str]| {
        let mut a = vec!["ps", "--format", "{{.Names}}"];
        a.extend_from_slice(args);
        let mut v: Vec<String> = d.ok(&a).lines().map(String::from).collect();
        v.sort();
        v.join(" ")
    };
    assert_eq!(names(&[]), "web");
    assert_eq!(names(&["-a"]), "bad ok web");
    assert_eq!(names(&["-f", "status=exited"]), "bad ok");
    assert_eq!(names(&["-a", "-f", "exited=2"]), "bad");
    assert_eq!(names(&["-a", "-f", "label=tier=front"]), "web");
    assert_eq!(names(&["-a", "-f", "name=o", "-f", "status=exited"]), "ok");
    assert_eq!(names(&["-a", "-f", "ancestor=busybox"]), "bad ok web");
    assert_eq!(names(&["-n", "2"]), "bad ok");
    assert_eq!(names(&["-l"]), "bad");
    let (_, err, c) = text(&d.berth(&["ps", "-f", "bogus=1"]));
    assert_eq!(c, 1);
    assert!(err.contains("invalid filter 'bogus'"), "{err}");

    let table = d.ok(&["ps", "-a", "--format", "table {{.Names}}\\t{{.Status}}"]);
    assert!(table.starts_with("NAMES     STATUS\n"), "{table}");
    assert!(table.contains("Exited (2)"), "{table}");

    let sized = d.ok(&["ps", "-a", "-s", "-f", "name=bad"]);
    assert!(sized.lines().next().unwrap().ends_with("SIZE"), "{sized}");
    assert!(sized.contains("5kB (virtual"), "{sized}");

    let ip = d.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"]);
    assert!(
        ip.trim().starts_with(d.subnet.trim_end_matches("0/24")),
        "{ip}"
    );
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.State.ExitCode}} {{.Name}}",
            "bad",
            "ok"
        ]),
        "2 /bad\n0 /ok\n"
    );
    assert_eq!(
        d.ok(&["inspect", "--format", "{{json .Config.Labels}}", "web"]),
        "{\"tier\":\"front\"}\n"
    );
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{range .Config.Cmd}}<{{.}}>{{end}}",
            "web"
        ]),
        "<sleep><60>\n"
    );
    d.ok(&["rm", "-f", "web", "ok", "bad"]);
}

#[test]
fn containers_outlive_a_daemon_killed_with_sigkill() {
    let mut d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "survivor",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "brief",
        "busybox",
        "sh",
        "-c",
        "sleep 1; exit 7",
    ]);
    let pid = |d: &common::TestDaemon| d.ok(&["inspect", "-f", "{{.State.Pid}}", "survivor"]);
    let before = pid(&d);
    let lines_before = d.ok(&["logs", "survivor"]).lines().count();

    // While no daemon runs, `survivor` keeps running and logging, and `brief` exits.
    d.kill9_and_restart(Duration::from_millis(1500));

    assert_eq!(pid(&d), before, "the container's process is the same one");
    assert!(d.ok(&["ps"]).contains("survivor"));
    assert!(
        d.ok(&["logs", "survivor"]).lines().count() > lines_before + 5,
        "logging went on without the daemon"
    );
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["inspect", "brief"])).unwrap();
    assert_eq!(v[0]["State"]["Status"], "exited");
    assert_eq!(
        v[0]["State"]["ExitCode"], 7,
        "the real exit code, recorded by the shim"
    );
    assert_ne!(v[0]["State"]["FinishedAt"], "0001-01-01T00:00:00Z");

    // Everything works on the reattached container: exec, live output, stop, wait.
    assert_eq!(
        d.ok(&["exec", "survivor", "echo", "still here"]),
        "still here\n"
    );
    let mut follow = d
        .cmd()
        .args(["logs", "-f", "--tail", "0", "survivor"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let followed = common::line_reader(follow.stdout.take().unwrap());
    // attach too: live output from the reattached shim, and the exit code at the end.
    let mut attached = d
        .cmd()
        .args(["attach", "--no-stdin", "survivor"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    // Kept open to the end: a CLI whose stdout is gone stops reading the stream.
    let mut attached_out = std::io::BufReader::new(attached.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut attached_out, &mut line).unwrap();
    assert!(line.starts_with("tick"), "attach after a restart: {line:?}");
    common::next_line(&followed, "a new tick in logs -f", |l| {
        l.starts_with("tick")
    });
    d.ok(&["stop", "-t", "1", "survivor"]);
    assert_eq!(attached.wait().unwrap().code(), Some(137));
    drop(attached_out);
    assert!(
        follow.wait().unwrap().success(),
        "logs -f ends with the container"
    );
    assert_eq!(d.ok(&["wait", "survivor"]), "137\n");
    d.ok(&["rm", "survivor", "brief"]);
}

/// A crash in the middle of a start or a create leaves objects no record accounts for. Made
/// here by killing the daemon, then the container's shim and process, and deleting its
/// record: the restarted daemon must take the mount, netns, veth, address, cgroup and shim
/// directory down, and keep what belongs to a container that still runs.
#[test]
fn a_restarted_daemon_sweeps_what_a_crash_left() {
    let mut d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&["run", "-d", "--name", "keeper", "busybox", "sleep", "300"]);
    let id = d
        .ok(&["run", "-d", "--name", "orphan", "busybox", "sleep", "300"])
        .trim()
        .to_string();
    let ip = d.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "orphan"]);
    let pid: i32 = d
        .ok(&["inspect", "-f", "{{.State.Pid}}", "orphan"])
        .trim()
        .parse()
        .unwrap();
    let shim_dir = d.exec_root.join("shims").join(&id);
    let shim_pid: i32 = std::fs::read_to_string(shim_dir.join("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    d.kill9_and_restart_with(Duration::ZERO, |d| {
        for p in [shim_pid, pid] {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        wait_until("the shim and its process to die", || {
            common::process_gone(shim_pid) && common::process_gone(pid)
        });
        std::fs::remove_dir_all(d.root.join("containers").join(&id)).unwrap();
    });

    let veth = format!("veth{}", &id[..11]);
    let links = std::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&links.stdout).contains(&veth),
        "the orphan's veth was deleted"
    );
    assert!(!d.exec_root.join("netns").join(&id).exists());
    assert!(!shim_dir.exists());
    let layers = d.root.join("image/overlay2/layerdb/mounts").join(&id);
    assert!(!layers.exists(), "the orphan's layers are gone");
    for dir in common::cgroup_parent_dirs(&d.cgroup_parent) {
        assert!(!dir.join(&id).exists(), "cgroup {} swept", dir.display());
    }
    assert!(
        d.log().contains("swept what a crash left behind"),
        "{}",
        d.log()
    );
    // The orphan's address is free again: the next container gets it.
    d.ok(&["run", "-d", "--name", "next", "busybox", "sleep", "300"]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "next"]),
        ip
    );
    // The survivor was left alone.
    assert_eq!(d.ok(&["exec", "keeper", "echo", "fine"]), "fine\n");
    d.ok(&["rm", "-f", "keeper", "next"]);
}

#[test]
fn restart_policies() {
    let mut d = daemon_or_skip!();
    d.load_busybox();
    let inspect = |d: &common::TestDaemon, name: &str, f: &str| {
        d.ok(&["inspect", "-f", f, name]).trim().to_string()
    };

    // on-failure:2 restarts a failing container twice, then leaves it exited.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    wait_until("two restarts", || {
        inspect(&d, "flaky", "{{.RestartCount}} {{.State.Status}}") == "2 exited"
    });
    assert_eq!(inspect(&d, "flaky", "{{.State.ExitCode}}"), "3");

    // always restarts a container that exits cleanly; stop ends that.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "phoenix",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.2",
    ]);
    wait_until("restarts", || {
        inspect(&d, "phoenix", "{{.RestartCount}}")
            .parse::<i64>()
            .unwrap()
            >= 2
    });
    // From the moment it exits it is restarting: `wait` returns, and `rm` is refused in
    // Docker's words until forced or stopped (as a running one is, should the back-off of
    // 400 ms or more have ended meanwhile on a slow machine).
    d.ok(&["wait", "phoenix"]);
    let (_, err, code) = common::text(&d.berth(&["rm", "phoenix"]));
    assert_ne!(code, 0);
    assert!(
        err.contains("You cannot remove a restarting container")
            || err.contains("You cannot remove a running container"),
        "{err}"
    );
    d.ok(&["stop", "-t", "1", "phoenix"]);
    wait_until("phoenix stopped", || {
        inspect(&d, "phoenix", "{{.State.Status}}") == "exited"
    });
    let count = inspect(&d, "phoenix", "{{.RestartCount}}");
    // Nothing to wait for here but time: the next back-off would have restarted it by now.
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        inspect(&d, "phoenix", "{{.RestartCount}}"),
        count,
        "a stopped container stays stopped"
    );

    // At daemon start: always starts again even after a stop; unless-stopped only if not stopped.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "keeper",
        "--restart",
        "unless-stopped",
        "busybox",
        "sleep",
        "60",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "resting",
        "--restart",
        "unless-stopped",
        "busybox",
        "sleep",
        "60",
    ]);
    d.ok(&["stop", "-t", "0", "resting"]);
    d.restart_daemon();
    wait_until("boot restarts", || {
        inspect(&d, "phoenix", "{{.State.Running}}") == "true"
            && inspect(&d, "keeper", "{{.State.Running}}") == "true"
    });
    assert_eq!(inspect(&d, "resting", "{{.State.Running}}"), "false");

    let (_, err, c) = text(&d.berth(&["run", "--rm", "--restart", "always", "busybox", "true"]));
    assert_eq!(c, 125);
    assert!(
        err.contains("Conflicting options: --restart and --rm"),
        "{err}"
    );
    let (_, err, c) = text(&d.berth(&["run", "--restart", "sometimes", "busybox", "true"]));
    assert_eq!(c, 125);
    assert!(err.contains("invalid restart policy 'sometimes'"), "{err}");
    d.ok(&["rm", "-f", "flaky", "phoenix", "keeper", "resting"]);
}

#[test]
fn capabilities_can_be_added_and_dropped() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let capeff = |args: &[&str]| {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["busybox", "grep", "CapEff", "/proc/self/status"]);
        d.ok(&a).split_whitespace().nth(1).unwrap().to_string()
    };
    assert_eq!(capeff(&[]), "00000000a80425fb");
    assert_eq!(capeff(&["--cap-drop", "ALL"]), "0000000000000000");
    assert_eq!(
        capeff(&["--cap-drop", "ALL", "--cap-add", "NET_RAW"]),
        "0000000000002000"
    );
    assert_eq!(capeff(&["--cap-add", "NET_ADMIN"]), "00000000a80435fb");
    // Dropping CHOWN is felt: root can no longer give a file away.
    let (_, _, c) = text(&d.berth(&[
        "run",
        "--rm",
        "--cap-drop",
        "CHOWN",
        "busybox",
        "sh",
        "-c",
        "touch /f && chown 1000 /f",
    ]));
    assert_ne!(c, 0);
    // exec keeps the container's set.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "lean",
        "--cap-drop",
        "ALL",
        "busybox",
        "sleep",
        "60",
    ]);
    let e = d.ok(&["exec", "lean", "grep", "CapEff", "/proc/self/status"]);
    assert!(e.contains("0000000000000000"), "{e}");
    d.ok(&["rm", "-f", "lean"]);
    let (_, err, c) = text(&d.berth(&["run", "--rm", "--cap-add", "FLY", "busybox", "true"]));
    assert_eq!(c, 125);
    assert!(err.contains("unknown capability: \"CAP_FLY\""), "{err}");
}

#[test]
fn seccomp_profiles_and_no_new_privileges() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let status = |args: &[&str]| {
        let mut all = vec!["run", "--rm"];
        all.extend_from_slice(args);
        all.extend_from_slice(&[
            "busybox",
            "grep",
            "-E",
            "^(Seccomp|NoNewPrivs):",
            "/proc/self/status",
        ]);
        d.ok(&all).split_whitespace().collect::<Vec<_>>().join(" ")
    };
    // Docker's default profile is a filter (mode 2); no_new_privs only when asked for.
    assert_eq!(status(&[]), "NoNewPrivs: 0 Seccomp: 2");
    assert_eq!(
        status(&["--security-opt", "no-new-privileges"]),
        "NoNewPrivs: 1 Seccomp: 2"
    );
    assert_eq!(
        status(&["--security-opt", "seccomp=unconfined"]),
        "NoNewPrivs: 0 Seccomp: 0"
    );
    assert_eq!(status(&["--privileged"]), "NoNewPrivs: 0 Seccomp: 0");

    // A profile of one's own, in Docker's format, read from a file by the CLI.
    let profile = d.dir.path().join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let out = d.berth(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "mkdir",
        "/made",
    ]);
    let (_, err, code) = text(&out);
    assert_eq!(code, 1);
    assert!(err.contains("Operation not permitted"), "{err}");
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--security-opt",
            &opt,
            "busybox",
            "echo",
            "other calls work"
        ]),
        "other calls work\n"
    );
    if let Some(mut docker) = d.docker() {
        let out = docker
            .args([
                "run",
                "--rm",
                "--security-opt",
                &opt,
                "busybox",
                "mkdir",
                "/made",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "docker CLI with a profile file");
    }

    // An exec shares the container's confinement.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "confined",
        "--security-opt",
        "no-new-privileges:true",
        "busybox",
        "sleep",
        "60",
    ]);
    let inside = d.ok(&[
        "exec",
        "confined",
        "grep",
        "-E",
        "^(Seccomp|NoNewPrivs):",
        "/proc/self/status",
    ]);
    assert_eq!(
        inside.split_whitespace().collect::<Vec<_>>().join(" "),
        "NoNewPrivs: 1 Seccomp: 2"
    );
    d.ok(&["rm", "-f", "confined"]);

    // Bad options and profiles are refused by name, before anything is made.
    let bad = d.dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"defaultAction":"SCMP_ACT_NOPE"}"#).unwrap();
    let bad_opt = format!("seccomp={}", bad.display());
    for (opt, says) in [
        (bad_opt.as_str(), "unknown action \"SCMP_ACT_NOPE\""),
        ("apparmor=docker-default", "invalid --security-opt"),
        ("no-new-privileges=maybe", "invalid --security-opt"),
    ] {
        let out = d.berth(&["run", "--rm", "--security-opt", opt, "busybox", "true"]);
        let (_, err, code) = text(&out);
        assert_eq!(code, 125, "{opt}: {err}");
        assert!(err.contains(says), "{opt}: {err}");
    }
    let out = d.berth(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=/no/such.json",
        "busybox",
        "true",
    ]);
    let (_, err, code) = text(&out);
    assert_eq!(code, 125);
    assert!(
        err.contains("opening seccomp profile (/no/such.json) failed"),
        "{err}"
    );
}

#[test]
fn resource_limits_are_set_enforced_and_visible_inside() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();

    // The container's own cgroup is what it sees at /sys/fs/cgroup.
    let (mem_file, pids_file, cpu_file) = if v2 {
        (
            "/sys/fs/cgroup/memory.max",
            "/sys/fs/cgroup/pids.max",
            "/sys/fs/cgroup/cpu.max",
        )
    } else {
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/pids/pids.max",
            "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
        )
    };
    let script = format!("cat {mem_file} {pids_file} {cpu_file}");
    let out = d.ok(&[
        "run",
        "--rm",
        "-m",
        "32m",
        "--pids-limit",
        "20",
        "--cpus",
        "0.5",
        "busybox",
        "sh",
        "-c",
        &script,
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "33554432", "{out}");
    assert_eq!(lines[1], "20", "{out}");
    assert!(lines[2].starts_with("50000"), "{out}");
    let (_, err, c) = text(&d.berth(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo x > /sys/fs/cgroup/x",
    ]));
    assert_ne!(c, 0, "/sys/fs/cgroup is read-only: {err}");

    // The memory limit is enforced: an OOM kill is exit 137 and State.OOMKilled.
    let (_, _, c) = text(&d.berth(&[
        "run",
        "--name",
        "hog",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        "busybox",
        "tail",
        "/dev/zero",
    ]));
    assert_eq!(c, 137);
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.State.OOMKilled}} {{.State.ExitCode}}",
            "hog"
        ]),
        "true 137\n"
    );
    d.ok(&["rm", "hog"]);

    // The pids limit is enforced: forks fail beyond it.
    let (_, err, _) = text(&d.berth(&[
        "run",
        "--rm",
        "--pids-limit",
        "5",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6 7 8; do sleep 2 & done; wait",
    ]));
    assert!(
        err.contains("can't fork") || err.contains("Resource temporarily unavailable"),
        "{err}"
    );

    let (_, err, c) = text(&d.berth(&["run", "--rm", "-m", "1m", "busybox", "true"]));
    assert_eq!(c, 125);
    assert!(err.contains("Minimum memory limit allowed is 6MB"), "{err}");
}

#[test]
fn init_forwards_signals_and_reaps() {
    let d = daemon_or_skip!();
    d.load_busybox();
    // With --init the command is not PID 1: a plain SIGTERM stops it at once, exit 143.
    d.ok(&[
        "run", "-d", "--name", "inited", "--init", "busybox", "sleep", "60",
    ]);
    let ps = d.ok(&["exec", "inited", "ps", "-o", "pid,args"]);
    assert!(
        ps.lines()
            .any(|l| l.trim_start().starts_with("1 ") && !l.contains("sleep")),
        "{ps}"
    );
    assert!(
        ps.lines()
            .any(|l| l.contains("sleep 60") && !l.trim_start().starts_with("1 ")),
        "{ps}"
    );
    let t0 = Instant::now();
    d.ok(&["stop", "inited"]);
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "SIGTERM reached the command"
    );
    assert_eq!(d.ok(&["wait", "inited"]), "143\n");

    // Orphans are reaped: no zombie is left behind by a background child.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "parent",
        "--init",
        "busybox",
        "sh",
        "-c",
        "sh -c 'sleep 0.1 & echo $! > /orphan'; sleep 60",
    ]);
    // A process's /proc entry lasts until it is reaped: its going is the init's reaping.
    wait_until("the orphan to be reaped", || {
        d.berth(&[
            "exec",
            "parent",
            "sh",
            "-c",
            "test -s /orphan && ! test -e /proc/$(cat /orphan)",
        ])
        .status
        .success()
    });
    let ps = d.ok(&["exec", "parent", "ps", "-o", "stat,args"]);
    assert!(
        !ps.lines().any(|l| l.trim_start().starts_with('Z')),
        "a zombie: {ps}"
    );
    // Exit codes and missing commands pass through the init.
    assert_eq!(
        text(&d.berth(&["run", "--rm", "--init", "busybox", "sh", "-c", "exit 5"])).2,
        5
    );
    assert_eq!(
        text(&d.berth(&["run", "--rm", "--init", "busybox", "nosuchcommand"])).2,
        127
    );
    d.ok(&["rm", "-f", "inited", "parent"]);
}

#[test]
fn attach_detach_keys_and_start_attached() {
    let d = daemon_or_skip!();
    d.load_busybox();
    use std::io::Write;

    // attach feeds stdin and shows output; ctrl-p ctrl-q leaves the container running.
    d.ok(&["run", "-d", "-i", "--name", "echoer", "busybox", "cat"]);
    let mut child = d
        .cmd()
        .args(["attach", "echoer"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let shown = common::line_reader(child.stdout.take().unwrap());
    stdin.write_all(b"hello\n").unwrap();
    // The echo first, then the keys: once detached, the attach shows nothing more.
    assert_eq!(common::next_line(&shown, "the echo", |_| true), "hello");
    stdin.write_all(b"\x10\x11").unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert_eq!(shown.iter().collect::<Vec<_>>(), Vec::<String>::new());
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Running}}", "echoer"]),
        "true\n"
    );
    d.ok(&["rm", "-f", "echoer"]);

    // start -a shows the output and ends with the exit code; start -ai feeds stdin too.
    d.ok(&[
        "create",
        "--name",
        "once",
        "busybox",
        "sh",
        "-c",
        "echo out; exit 4",
    ]);
    let (out, _, c) = text(&d.berth(&["start", "-a", "once"]));
    assert_eq!((out.as_str(), c), ("out\n", 4));
    d.ok(&[
        "create", "-i", "--name", "upper", "busybox", "tr", "a-z", "A-Z",
    ]);
    let mut child = d
        .cmd()
        .args(["start", "-ai", "upper"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"abc\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ABC\n");
    let (_, err, c) = text(&d.berth(&["attach", "once"]));
    assert_eq!(c, 1);
    assert!(
        err.contains("You cannot attach to a stopped container"),
        "{err}"
    );
    d.ok(&["rm", "once", "upper"]);
}

#[test]
fn update_changes_limits_of_a_running_container() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let (mem_file, pids_file) = if v2 {
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max")
    } else {
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/pids/pids.max",
        )
    };
    d.ok(&[
        "run",
        "-d",
        "--name",
        "grow",
        "-m",
        "16m",
        "--pids-limit",
        "10",
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(
        d.ok(&[
            "update",
            "-m",
            "64m",
            "--pids-limit",
            "30",
            "--restart",
            "on-failure:3",
            "grow"
        ]),
        "grow\n"
    );
    assert_eq!(
        d.ok(&["exec", "grow", "cat", mem_file, pids_file]),
        "67108864\n30\n"
    );
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}",
            "grow"
        ]),
        "67108864 30 on-failure\n"
    );
    let (_, err, c) = text(&d.berth(&["update", "-m", "1m", "grow"]));
    assert_eq!(c, 1);
    assert!(err.contains("Minimum memory limit allowed is 6MB"), "{err}");
    d.ok(&["rm", "-f", "grow"]);
}

#[test]
fn privileged_and_the_device_cgroup() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let v1 = !std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    // Any node may be created, but only the standard devices opened (v1's devices cgroup).
    if v1 {
        let (_, err, c) = text(&d.berth(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "mknod /tmp/kmsg c 1 11 && dd if=/tmp/kmsg of=/dev/null bs=8192 count=1",
        ]));
        assert_ne!(c, 0);
        assert!(err.contains("Operation not permitted"), "{err}");
    }
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "head -c3 /dev/zero | wc -c"
        ])
        .trim(),
        "3"
    );

    // --privileged: every capability the host gives, host devices, writable /sys, no masks.
    let caps = d.ok(&[
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    let host = std::fs::read_to_string("/proc/self/status").unwrap();
    let host_caps = host
        .lines()
        .find(|l| l.starts_with("CapEff"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    assert_eq!(caps.split_whitespace().nth(1).unwrap(), host_caps);
    let out = d.ok(&["run", "--rm", "--privileged", "busybox", "sh", "-c", "ls /dev/kmsg && dd if=/dev/kmsg of=/dev/null bs=8192 count=1 2>/dev/null && echo readable; grep -c ' /proc/keys ' /proc/mounts; grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1"]);
    assert_eq!(out, "/dev/kmsg\nreadable\n0\nrw\n", "{out}");
    let masked = d.ok(&["run", "--rm", "busybox", "sh", "-c", "grep -c ' /proc/keys ' /proc/mounts; grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1"]);
    assert_eq!(masked, "1\nro\n");
}

#[test]
fn stats_reports_the_containers_use() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "-m",
        "32m",
        "busybox",
        "sh",
        "-c",
        "head -c 2000000 /dev/urandom > /tmp/x; touch /tmp/written; sleep 60",
    ]);
    wait_until("the container's writes", || {
        d.berth(&["exec", "busy", "test", "-e", "/tmp/written"])
            .status
            .success()
    });
    let out = d.ok(&["stats", "--no-stream", "busy"]);
    let mut lines = out.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("CONTAINER ID   NAME      CPU %"),
        "{out}"
    );
    let row = lines.next().unwrap();
    assert!(row.contains("busy") && row.contains("/ 32MiB"), "{out}");
    let pids: u32 = row.split_whitespace().last().unwrap().parse().unwrap();
    assert!(pids >= 1, "{out}");
    // The raw API, and the docker CLI on it.
    let all = d.ok(&["stats", "--no-stream"]);
    assert!(all.contains("busy"), "{all}");
    if let Some(mut docker) = d.docker() {
        let o = docker
            .args(["stats", "--no-stream", "busy"])
            .output()
            .unwrap();
        let (out, err, c) = text(&o);
        assert_eq!(c, 0, "{err}");
        assert!(out.contains("busy") && out.contains("32MiB"), "{out}");
    }
    let (_, err, c) = text(&d.berth(&["stats", "--no-stream", "nosuch"]));
    assert_eq!(c, 1);
    assert!(err.contains("No such container: nosuch"), "{err}");
    d.ok(&["rm", "-f", "busy"]);
}
