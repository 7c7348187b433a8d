//! e2e: `--pid`, `--ipc`, `--uts` and `--cgroupns`, through berth's CLI and the docker CLI:
//! which namespace a container's processes are in (compared by the inode of
//! `/proc/<pid>/ns/<kind>`), what it sees there, what inspect reads back, Docker's refusals,
//! and that the lifecycle verbs still work when the container's command is not PID 1.

mod common;

use common::text;
use std::time::{Duration, Instant};

/// This process's namespace of `kind`, as `readlink /proc/self/ns/<kind>` prints it.
fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The namespace of `kind` a container runs in, read from inside by `flags`' container.
fn ns_in(d: &common::TestDaemon, flags: &[&str], kind: &str) -> String {
    let path = format!("/proc/self/ns/{kind}");
    let mut args = vec!["run", "--rm"];
    args.extend(flags);
    args.extend(["busybox", "readlink", &path]);
    d.ok(&args).trim().to_string()
}

fn inspect(d: &common::TestDaemon, format: &str, name: &str) -> String {
    d.ok(&["inspect", "-f", format, name]).trim().to_string()
}

fn host_modes(d: &common::TestDaemon, name: &str) -> String {
    inspect(
        d,
        "{{.HostConfig.PidMode}}|{{.HostConfig.IpcMode}}|{{.HostConfig.UTSMode}}|{{.HostConfig.CgroupnsMode}}",
        name,
    )
}

fn cgroup_v2() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// A berth command that must fail: its stderr, after checking the exit code.
fn fails(d: &common::TestDaemon, args: &[&str], code: i32) -> String {
    let (out, err, c) = text(&d.berth(args));
    assert_eq!(c, code, "berth {args:?}: {out}{err}");
    err
}

/// Host pids of processes whose command line is exactly `argv`.
fn processes(argv: &[&str]) -> Vec<i32> {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want))
        .collect()
}

#[test]
fn pid_host_and_another_containers_pid_namespace() {
    let d = daemon_or_skip!();
    d.load_busybox();

    // The host's: the same namespace, and every host process in sight (this test among them).
    assert_eq!(ns_in(&d, &["--pid", "host"], "pid"), host_ns("pid"));
    assert_ne!(ns_in(&d, &[], "pid"), host_ns("pid"));
    let ps = d.ok(&["run", "--rm", "--pid", "host", "busybox", "ps", "-o", "pid"]);
    let me = std::process::id().to_string();
    assert!(ps.lines().any(|l| l.trim() == me), "{ps}");

    // Another container's: its processes, its sleep as PID 1.
    d.ok(&["run", "-d", "--name", "owner", "busybox", "sleep", "300"]);
    let owner = inspect(&d, "{{.Id}}", "owner");
    let ps = d.ok(&[
        "run",
        "--rm",
        "--pid",
        "container:owner",
        "busybox",
        "ps",
        "-o",
        "pid,args",
    ]);
    assert!(
        ps.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "sleep", "300"]),
        "{ps}"
    );
    // Recorded by id, as Docker does: a rename of the owner does not break it.
    d.ok(&[
        "create",
        "--name",
        "joiner",
        "--pid",
        "container:owner",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(
        host_modes(&d, "joiner"),
        format!(
            "container:{owner}|private||{}",
            if cgroup_v2() { "private" } else { "host" }
        )
    );
    d.ok(&["rename", "owner", "owner2"]);
    d.ok(&["start", "joiner"]);
    assert_eq!(
        d.ok(&["exec", "joiner", "readlink", "/proc/self/ns/pid"]),
        d.ok(&["exec", "owner2", "readlink", "/proc/self/ns/pid"])
    );
    // The owner's end is its namespace's end: the kernel kills the joiner too.
    d.ok(&["stop", "-t", "1", "owner2"]);
    assert_eq!(d.ok(&["wait", "joiner"]).trim(), "137");

    // Docker's refusals: a container that is not there at create, not running at start
    // (`create` exits 1 on a daemon's refusal, as docker's does; `run` 125).
    let err = fails(
        &d,
        &["create", "--pid", "container:nosuch", "busybox", "true"],
        1,
    );
    assert!(err.contains("No such container: nosuch"), "{err}");
    let err = fails(&d, &["start", "joiner"], 1);
    assert!(
        err.contains(&format!("container {owner} is not running")),
        "{err}"
    );
    let err = fails(
        &d,
        &["run", "--rm", "--pid", "bogus", "busybox", "true"],
        125,
    );
    assert!(err.contains("--pid: invalid PID mode"), "{err}");
    d.ok(&["rm", "-f", "joiner", "owner2"]);
}

#[test]
fn the_lifecycle_verbs_work_when_the_command_is_not_pid_1() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&[
        "run", "-d", "--name", "ph", "--pid", "host", "busybox", "sleep", "300",
    ]);
    assert_eq!(inspect(&d, "{{.HostConfig.PidMode}}", "ph"), "host");
    let pid = inspect(&d, "{{.State.Pid}}", "ph");
    let top = d.ok(&["top", "ph"]);
    assert!(
        top.lines()
            .any(|l| l.contains(&pid) && l.contains("sleep 300")),
        "{top}"
    );
    // An exec is in the host's pid namespace too, so `$$` is a host pid.
    let exec_pid = d.ok(&["exec", "ph", "sh", "-c", "echo $$"]);
    assert_ne!(exec_pid.trim(), "1");
    assert_eq!(
        d.ok(&["exec", "ph", "readlink", "/proc/self/ns/pid"])
            .trim(),
        host_ns("pid")
    );
    // Not PID 1, sleep dies of the SIGTERM at once: no wait for the SIGKILL.
    let t0 = Instant::now();
    d.ok(&["stop", "-t", "20", "ph"]);
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    assert_eq!(inspect(&d, "{{.State.ExitCode}}", "ph"), "143");
    d.ok(&["start", "ph"]);
    d.ok(&["restart", "-t", "1", "ph"]);
    assert_eq!(inspect(&d, "{{.State.Status}}", "ph"), "running");
    d.ok(&["kill", "ph"]);
    assert_eq!(d.ok(&["wait", "ph"]).trim(), "137");

    // --init is not PID 1 here either, and still passes the signal on.
    d.ok(&[
        "run", "-d", "--name", "pi", "--pid", "host", "--init", "busybox", "sleep", "300",
    ]);
    d.ok(&["stop", "-t", "20", "pi"]);
    assert_eq!(inspect(&d, "{{.State.ExitCode}}", "pi"), "143");
    d.ok(&["rm", "ph", "pi"]);
}

#[test]
fn what_the_command_leaves_behind_dies_with_it_even_with_no_daemon() {
    let mut d = daemon_or_skip!();
    d.load_busybox();
    // A background sleep of its own, found on the host by its exact command line.
    let marker = format!("{}", 3_000_000 + rand::random::<u32>() % 1_000_000);
    let script = format!("sleep {marker} & sleep 2");
    let id = d.ok(&["run", "-d", "--pid", "host", "busybox", "sh", "-c", &script]);
    let id = id.trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    while processes(&["sleep", &marker]).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !processes(&["sleep", &marker]).is_empty(),
        "the background sleep runs"
    );
    // The daemon is gone when the command ends: the shim alone must see to the rest.
    d.kill9_and_restart_with(Duration::ZERO, |d| {
        let exit = d.exec_root.join("shims").join(&id).join("exit.json");
        let deadline = Instant::now() + Duration::from_secs(15);
        while !exit.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(exit.exists(), "the shim recorded the exit");
        let deadline = Instant::now() + Duration::from_secs(3);
        while !processes(&["sleep", &marker]).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(
            processes(&["sleep", &marker]),
            Vec::<i32>::new(),
            "left behind"
        );
    });
    assert_eq!(d.ok(&["wait", &id]).trim(), "0");
    d.ok(&["rm", &id]);
}

#[test]
fn uts_host() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let host_name = nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(ns_in(&d, &["--uts", "host"], "uts"), host_ns("uts"));
    let id = d.ok(&[
        "run",
        "-d",
        "--uts",
        "host",
        "busybox",
        "sh",
        "-c",
        "hostname; cat /etc/hostname; sleep 300",
    ]);
    let id = id.trim();
    // The host's name in the kernel; Docker still records and writes the short id.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut logs = String::new();
    while logs.lines().count() < 2 && Instant::now() < deadline {
        logs = d.ok(&["logs", id]);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(logs, format!("{host_name}\n{}\n", &id[..12]));
    assert_eq!(inspect(&d, "{{.Config.Hostname}}", id), &id[..12]);
    assert_eq!(inspect(&d, "{{.HostConfig.UTSMode}}", id), "host");
    d.ok(&["rm", "-f", id]);
    // With the host's network too, Docker records the host's name.
    let id = d.ok(&[
        "create",
        "--uts",
        "host",
        "--network",
        "host",
        "busybox",
        "true",
    ]);
    assert_eq!(inspect(&d, "{{.Config.Hostname}}", id.trim()), host_name);
    d.ok(&["rm", id.trim()]);

    let err = fails(
        &d,
        &[
            "run", "--rm", "--uts", "host", "-h", "web", "busybox", "true",
        ],
        125,
    );
    assert!(
        err.contains("conflicting options: hostname and the UTS mode"),
        "{err}"
    );
    let err = fails(
        &d,
        &[
            "create",
            "--uts",
            "host",
            "--domainname",
            "example.org",
            "busybox",
            "true",
        ],
        1,
    );
    assert!(
        err.contains("conflicting options: domainname and the UTS mode"),
        "{err}"
    );
    let err = fails(
        &d,
        &["create", "--uts", "container:x", "busybox", "true"],
        125,
    );
    assert!(err.contains("--uts: invalid UTS mode"), "{err}");
    // Nothing was renamed on the way.
    assert_eq!(
        nix::unistd::gethostname().unwrap().to_string_lossy(),
        host_name
    );
}

#[test]
fn ipc_private_shareable_container_none_and_host() {
    let d = daemon_or_skip!();
    d.load_busybox();

    // private, Docker 20.10's default: a namespace and a /dev/shm of its own.
    d.ok(&["run", "-d", "--name", "plain", "busybox", "sleep", "300"]);
    assert_eq!(inspect(&d, "{{.HostConfig.IpcMode}}", "plain"), "private");
    assert_ne!(ns_in(&d, &[], "ipc"), host_ns("ipc"));

    // shareable, and a container that joins it: one namespace, one /dev/shm.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "owner",
        "--ipc",
        "shareable",
        "busybox",
        "sleep",
        "300",
    ]);
    let owner = inspect(&d, "{{.Id}}", "owner");
    assert_eq!(inspect(&d, "{{.HostConfig.IpcMode}}", "owner"), "shareable");
    d.ok(&[
        "exec",
        "owner",
        "sh",
        "-c",
        "echo from-owner > /dev/shm/note",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "joiner",
        "--ipc",
        "container:owner",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(
        inspect(&d, "{{.HostConfig.IpcMode}}", "joiner"),
        format!("container:{owner}")
    );
    let ns = |name: &str| d.ok(&["exec", name, "readlink", "/proc/self/ns/ipc"]);
    assert_eq!(ns("joiner"), ns("owner"));
    assert_ne!(ns("owner"), ns("plain"));
    assert_eq!(
        d.ok(&["exec", "joiner", "cat", "/dev/shm/note"]),
        "from-owner\n"
    );
    d.ok(&[
        "exec",
        "joiner",
        "sh",
        "-c",
        "echo from-joiner > /dev/shm/reply",
    ]);
    assert_eq!(
        d.ok(&["exec", "owner", "cat", "/dev/shm/reply"]),
        "from-joiner\n"
    );
    // The shared tmpfs is mounted on the host while its owner runs, and only then.
    let shm_mount = format!("containers/{owner}/mounts/shm");
    let mounted = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(&shm_mount)
    };
    assert!(mounted());
    d.ok(&["rm", "-f", "joiner"]);

    // Docker's refusals.
    let plain = inspect(&d, "{{.Id}}", "plain");
    let err = fails(
        &d,
        &["run", "--rm", "--ipc", "container:plain", "busybox", "true"],
        125,
    );
    assert!(
        err.contains(&format!(
            "can't join IPC of container {plain}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)"
        )),
        "{err}"
    );
    d.ok(&["stop", "-t", "1", "owner"]);
    assert!(
        !mounted(),
        "the owner's /dev/shm was unmounted when it stopped"
    );
    let err = fails(
        &d,
        &["run", "--rm", "--ipc", "container:owner", "busybox", "true"],
        125,
    );
    assert!(
        err.contains(&format!(
            "can't join IPC of container {owner}: container {owner} is not running"
        )),
        "{err}"
    );
    let err = fails(
        &d,
        &["create", "--ipc", "container:nosuch", "busybox", "true"],
        1,
    );
    assert!(err.contains("No such container: nosuch"), "{err}");
    let err = fails(&d, &["create", "--ipc", "bogus", "busybox", "true"], 125);
    assert!(err.contains("--ipc: invalid IPC mode"), "{err}");

    // none: no /dev/shm at all.
    let (out, err, c) = text(&d.berth(&[
        "run",
        "--rm",
        "--ipc",
        "none",
        "busybox",
        "sh",
        "-c",
        "grep -c ' /dev/shm ' /proc/self/mountinfo; test -e /dev/shm",
    ]));
    assert_eq!((out.trim(), c), ("0", 1), "{err}");

    // host: the host's namespace and the host's /dev/shm.
    assert_eq!(ns_in(&d, &["--ipc", "host"], "ipc"), host_ns("ipc"));
    let name = format!("berth-e2e-{}", d.tag);
    let file = std::path::Path::new("/dev/shm").join(&name);
    std::fs::write(&file, "from-host").unwrap();
    let seen = d.berth(&[
        "run",
        "--rm",
        "--ipc",
        "host",
        "busybox",
        "cat",
        &format!("/dev/shm/{name}"),
    ]);
    let _ = std::fs::remove_file(&file);
    assert_eq!(text(&seen).0, "from-host");
    d.ok(&["rm", "-f", "owner", "plain"]);
}

#[test]
fn cgroup_namespace_host_private_and_the_default() {
    let d = daemon_or_skip!();
    d.load_busybox();
    assert_eq!(
        ns_in(&d, &["--cgroupns", "host"], "cgroup"),
        host_ns("cgroup")
    );
    assert_ne!(
        ns_in(&d, &["--cgroupns", "private"], "cgroup"),
        host_ns("cgroup")
    );
    // Docker's default: private on cgroup v2, the host's on v1.
    let default = ns_in(&d, &[], "cgroup");
    if cgroup_v2() {
        assert_ne!(default, host_ns("cgroup"));
    } else {
        assert_eq!(default, host_ns("cgroup"));
    }
    let id = d.ok(&["create", "busybox", "true"]);
    assert_eq!(
        host_modes(&d, id.trim()),
        format!("|private||{}", if cgroup_v2() { "private" } else { "host" })
    );
    d.ok(&["rm", id.trim()]);

    // Private: every path is `/`. The host's: the paths are the host's, and /sys/fs/cgroup is
    // still the container's own cgroup, read-only.
    let cgroup_paths = |mode: &str| {
        d.ok(&[
            "run",
            "--rm",
            "--cgroupns",
            mode,
            "busybox",
            "cut",
            "-d:",
            "-f3",
            "/proc/self/cgroup",
        ])
    };
    assert!(cgroup_paths("private").lines().all(|l| l == "/"));
    assert!(cgroup_paths("host")
        .lines()
        .any(|l| l.contains(&d.cgroup_parent)));
    let pids_max = if cgroup_v2() {
        "/sys/fs/cgroup/pids.max"
    } else {
        "/sys/fs/cgroup/pids/pids.max"
    };
    for mode in ["host", "private"] {
        let script =
            format!("cat {pids_max}; echo x > /sys/fs/cgroup/x 2>/dev/null || echo read-only");
        assert_eq!(
            d.ok(&[
                "run",
                "--rm",
                "--cgroupns",
                mode,
                "--pids-limit",
                "33",
                "busybox",
                "sh",
                "-c",
                &script
            ]),
            "33\nread-only\n",
            "{mode}"
        );
    }
    let err = fails(
        &d,
        &["run", "--rm", "--cgroupns", "shared", "busybox", "true"],
        125,
    );
    assert!(err.contains("--cgroupns: invalid CGROUP mode"), "{err}");
}

#[test]
fn the_daemons_default_cgroup_namespace_mode() {
    let Some(d) = common::TestDaemon::start_with(&["--default-cgroupns-mode", "private"]) else {
        eprintln!("SKIPPED: this e2e test needs root");
        return;
    };
    d.load_busybox();
    assert_ne!(ns_in(&d, &[], "cgroup"), host_ns("cgroup"));
    assert_eq!(
        ns_in(&d, &["--cgroupns", "host"], "cgroup"),
        host_ns("cgroup")
    );
    let id = d.ok(&["create", "busybox", "true"]);
    assert_eq!(
        inspect(&d, "{{.HostConfig.CgroupnsMode}}", id.trim()),
        "private"
    );
    // Docker keeps a privileged container in the host's cgroup namespace on v1.
    let id = d.ok(&["create", "--privileged", "busybox", "true"]);
    assert_eq!(
        inspect(&d, "{{.HostConfig.CgroupnsMode}}", id.trim()),
        if cgroup_v2() { "private" } else { "host" }
    );
}

#[test]
fn a_bad_default_cgroup_namespace_mode_stops_the_daemon_at_once() {
    let out = std::process::Command::new(common::berth_bin())
        .args(["daemon", "--default-cgroupns-mode", "shared"])
        .output()
        .unwrap();
    let (_, err, code) = text(&out);
    assert_ne!(code, 0);
    assert!(
        err.contains(
            r#"default cgroup namespace mode (shared) is invalid; use "host" or "private""#
        ),
        "{err}"
    );
}

#[test]
fn the_docker_cli_shares_namespaces_too() {
    let d = daemon_or_skip!();
    if !d.docker_or_say() {
        return;
    }
    d.load_busybox();
    let docker = |args: &[&str]| {
        let (out, err, c) = d.docker_text(args);
        assert_eq!(c, 0, "docker {args:?}: {out}{err}");
        out.trim().to_string()
    };
    for (flags, kind) in [
        (["--pid", "host"], "pid"),
        (["--uts", "host"], "uts"),
        (["--ipc", "host"], "ipc"),
        (["--cgroupns", "host"], "cgroup"),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(flags);
        let path = format!("/proc/self/ns/{kind}");
        args.extend(["busybox", "readlink", &path]);
        assert_eq!(docker(&args), host_ns(kind), "{flags:?}");
    }
    assert_ne!(
        docker(&[
            "run",
            "--rm",
            "--cgroupns",
            "private",
            "busybox",
            "readlink",
            "/proc/self/ns/cgroup"
        ]),
        host_ns("cgroup")
    );

    docker(&[
        "run",
        "-d",
        "--name",
        "owner",
        "--ipc",
        "shareable",
        "busybox",
        "sleep",
        "300",
    ]);
    docker(&["exec", "owner", "sh", "-c", "echo shared > /dev/shm/note"]);
    assert_eq!(
        docker(&[
            "run",
            "--rm",
            "--ipc",
            "container:owner",
            "--pid",
            "container:owner",
            "busybox",
            "sh",
            "-c",
            "cat /dev/shm/note; ps -o args | grep -c '^sleep 300'"
        ]),
        "shared\n1"
    );
    docker(&[
        "create",
        "--name",
        "modes",
        "--pid",
        "host",
        "--uts",
        "host",
        "--ipc",
        "none",
        "--cgroupns",
        "private",
        "busybox",
        "true",
    ]);
    assert_eq!(
        docker(&["inspect", "-f", "{{.HostConfig.PidMode}}|{{.HostConfig.IpcMode}}|{{.HostConfig.UTSMode}}|{{.HostConfig.CgroupnsMode}}", "modes"]),
        "host|none|host|private"
    );
    docker(&["rm", "-f", "owner", "modes"]);
    docker(&["create", "--name", "stopped", "busybox", "true"]);
    let stopped = inspect(&d, "{{.Id}}", "stopped");
    let (_, err, c) = d.docker_text(&[
        "run",
        "--rm",
        "--pid",
        "container:stopped",
        "busybox",
        "true",
    ]);
    assert_eq!(c, 125, "{err}");
    assert!(
        err.contains(&format!("container {stopped} is not running")),
        "{err}"
    );
    let (_, err, c) = d.docker_text(&[
        "run",
        "--rm",
        "--uts",
        "host",
        "--hostname",
        "web",
        "busybox",
        "true",
    ]);
    assert_eq!(c, 125, "{err}");
    assert!(
        err.contains("conflicting options: hostname and the UTS mode"),
        "{err}"
    );
    // The docker CLI leaves an IPC mode to the daemon, which refuses it in Docker's words
    // (`docker create` exits 1 where `docker run` exits 125).
    let (_, err, c) = d.docker_text(&["create", "--ipc", "bogus", "busybox", "true"]);
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("invalid IPC mode: bogus"), "{err}");
    docker(&["rm", "stopped"]);
}
