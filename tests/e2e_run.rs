//! e2e: the seeds' first walkthrough and the basic run flags, through berth's own CLI.
//! Needs root; skips with a message otherwise.

mod common;

use common::text;

fn is_hex12(s: &str) -> bool {
    s.len() == 12
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[test]
fn first_walkthrough() {
    let d = daemon_or_skip!();
    d.load_busybox();

    assert_eq!(
        d.ok(&["run", "--rm", "busybox", "echo", "hello world"]),
        "hello world\n"
    );

    // The hostname is the short id, new for every container.
    let h1 = d.ok(&["run", "--rm", "busybox", "hostname"]);
    let h2 = d.ok(&["run", "--rm", "busybox", "hostname"]);
    assert!(is_hex12(h1.trim()), "hostname {h1:?}");
    assert!(is_hex12(h2.trim()), "hostname {h2:?}");
    assert_ne!(h1, h2);

    // The container sees only its own processes, its command as PID 1.
    let ps = d.ok(&["run", "--rm", "busybox", "ps", "-o", "pid,args"]);
    let rows: Vec<&str> = ps.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "ps inside the container: {ps}");
    assert!(rows[0].trim_start().starts_with("1 ps -o pid,args"), "{ps}");

    // eth0 gets an address in the bridge's subnet; two running containers get different ones.
    let a = d.ok(&["run", "-d", "--name", "first", "busybox", "sleep", "60"]);
    let b = d.ok(&["run", "-d", "--name", "second", "busybox", "sleep", "60"]);
    assert_eq!(a.trim().len(), 64);
    assert_ne!(a, b);
    let addr = |name: &str| {
        let out = d.ok(&["inspect", name]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v[0]["NetworkSettings"]["IPAddress"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (ip_a, ip_b) = (addr("first"), addr("second"));
    assert_ne!(ip_a, ip_b);
    let prefix = d.subnet.trim_end_matches("0/24");
    assert!(ip_a.starts_with(prefix), "{ip_a} not in {}", d.subnet);
    let shown = d.ok(&[
        "run", "--rm", "busybox", "ip", "-4", "-o", "addr", "show", "eth0",
    ]);
    assert!(
        shown.contains(&format!("inet {prefix}")),
        "ip addr: {shown}"
    );

    let ps = d.ok(&["ps"]);
    assert!(ps.starts_with("CONTAINER ID   IMAGE     COMMAND"), "{ps}");
    assert!(ps.contains("first") && ps.contains("second"), "{ps}");
    assert!(ps.contains("\"sleep 60\""), "{ps}");
    let quiet = d.ok(&["ps", "-q"]);
    assert_eq!(quiet.lines().count(), 2);
    assert!(quiet.lines().all(is_hex12));

    // The two containers reach each other across the bridge.
    let ping = d.ok(&[
        "run", "--rm", "busybox", "ping", "-c", "1", "-W", "2", &ip_b,
    ]);
    assert!(ping.contains("1 packets received"), "{ping}");

    assert_eq!(d.ok(&["rm", "-f", "first", "second"]), "first\nsecond\n");
    assert_eq!(d.ok(&["ps", "-aq"]), "");
}

#[test]
fn exit_codes_match_docker() {
    let d = daemon_or_skip!();
    d.load_busybox();

    let code = |args: &[&str]| text(&d.berth(args));
    assert_eq!(code(&["run", "--rm", "busybox", "true"]).2, 0);
    assert_eq!(code(&["run", "--rm", "busybox", "sh", "-c", "exit 3"]).2, 3);

    let (_, err, c) = code(&["run", "--rm", "busybox", "nosuchcommand"]);
    assert_eq!(c, 127, "{err}");
    assert!(err.contains("executable file not found in $PATH"), "{err}");

    let (_, err, c) = code(&["run", "--rm", "busybox", "/etc/passwd"]);
    assert_eq!(c, 126, "{err}");
    assert!(err.contains("permission denied"), "{err}");

    let (_, err, c) = code(&["run", "--rm", "busybox:nosuchtag", "true"]);
    assert_eq!(c, 125, "{err}");
    assert!(
        err.contains("Unable to find image 'busybox:nosuchtag' locally"),
        "{err}"
    );

    let (_, err, c) = code(&["run", "--rm", "-u", "nosuchuser", "busybox", "true"]);
    assert_eq!(c, 125, "{err}");
    assert!(err.contains("unable to find user nosuchuser"), "{err}");

    // Killed by a signal: 128 + N. (PID 1 of a pid namespace ignores signals it has no
    // handler for when they come from inside, so the kill comes from the host, as in Docker.)
    let mut attached = d
        .cmd()
        .args(["run", "--rm", "--name", "victim", "busybox", "sleep", "30"])
        .spawn()
        .unwrap();
    common::wait_until("the container to start", || {
        d.ok(&["ps"]).contains("victim")
    });
    d.ok(&["kill", "victim"]);
    assert_eq!(attached.wait().unwrap().code(), Some(137));

    let (_, err, c) = code(&["run", "--bogus-flag", "busybox"]);
    assert_eq!(c, 125, "{err}");

    // --rm leaves nothing behind, even after a failed start.
    assert_eq!(d.ok(&["ps", "-aq"]), "");
}

#[test]
fn user_workdir_env_and_rm() {
    let d = daemon_or_skip!();
    d.load_busybox();

    assert_eq!(
        d.ok(&["run", "--rm", "-u", "user", "busybox", "id"]).trim(),
        "uid=1000(user) gid=1000(user) groups=50(staff)"
    );
    assert_eq!(
        d.ok(&["run", "--rm", "-u", "1000:50", "busybox", "id", "-u"])
            .trim(),
        "1000"
    );
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "-u",
            "user",
            "busybox",
            "sh",
            "-c",
            "echo $HOME"
        ])
        .trim(),
        "/home/user"
    );
    assert_eq!(
        d.ok(&["run", "--rm", "-w", "/tmp/new/dir", "busybox", "pwd"])
            .trim(),
        "/tmp/new/dir"
    );
    let env = d.ok(&[
        "run",
        "--rm",
        "-e",
        "GREETING=hi there",
        "-e",
        "PATH=/bin",
        "busybox",
        "env",
    ]);
    assert!(env.lines().any(|l| l == "GREETING=hi there"), "{env}");
    assert!(env.lines().any(|l| l == "PATH=/bin"), "{env}");
    assert!(env.lines().any(|l| l == "HOME=/root"), "{env}");
    assert!(env.lines().any(|l| l.starts_with("HOSTNAME=")), "{env}");
    assert_eq!(
        d.ok(&["run", "--rm", "--hostname", "web1", "busybox", "hostname"])
            .trim(),
        "web1"
    );

    // stdin with -i.
    let mut child = d
        .cmd()
        .args(["run", "--rm", "-i", "busybox", "tr", "a-z", "A-Z"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"shout\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "SHOUT\n");

    // Without --rm the container stays, exited, with its code; rm removes it.
    let (_, _, c) = text(&d.berth(&[
        "run",
        "--name",
        "kept",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 4",
    ]));
    assert_eq!(c, 4);
    let ps = d.ok(&["ps", "-a"]);
    assert!(ps.contains("Exited (4)") && ps.contains("kept"), "{ps}");
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["inspect", "kept"])).unwrap();
    assert_eq!(v[0]["State"]["ExitCode"], 4);
    assert_eq!(v[0]["State"]["Status"], "exited");
    let log = std::fs::read_to_string(v[0]["LogPath"].as_str().unwrap()).unwrap();
    assert!(log.contains(r#""log":"out\n","stream":"stdout""#), "{log}");
    assert!(log.contains(r#""log":"err\n","stream":"stderr""#), "{log}");

    // Name conflicts and unknown containers answer as Docker does.
    let (_, err, c) = text(&d.berth(&["create", "--name", "kept", "busybox"]));
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("is already in use by container"), "{err}");
    let (_, err, c) = text(&d.berth(&["rm", "nosuch"]));
    assert_eq!(c, 1);
    assert!(err.contains("No such container: nosuch"), "{err}");
    assert_eq!(d.ok(&["rm", "kept"]), "kept\n");

    // create + start + kill.
    let id = d.ok(&["create", "--name", "later", "busybox", "sleep", "60"]);
    assert!(d.ok(&["ps", "-a"]).contains("Created"));
    assert_eq!(d.ok(&["start", "later"]), "later\n");
    let (_, err, c) = text(&d.berth(&["rm", "later"]));
    assert_eq!(c, 1);
    assert!(
        err.contains("You cannot remove a running container"),
        "{err}"
    );
    // kill answers once the container is dead, as Docker's does.
    assert_eq!(d.ok(&["kill", "later"]), "later\n");
    assert!(!d.ok(&["ps", "-q"]).contains(&id[..12]));
    assert!(d.ok(&["ps", "-a"]).contains("Exited (137)"));
    d.ok(&["rm", "later"]);
}

#[test]
fn a_second_daemon_on_the_same_root_is_refused() {
    let d = daemon_or_skip!();
    // Same roots, another socket: refused, and the running daemon is not disturbed.
    let out = d
        .daemon_command()
        .args(["-H", &format!("unix://{}.2", d.socket.display())])
        .output()
        .unwrap();
    let (_, err, c) = text(&out);
    assert_ne!(c, 0);
    assert!(err.contains("another berth daemon"), "{err}");
    d.load_busybox();
    assert_eq!(d.ok(&["run", "--rm", "busybox", "true"]), "");
}

/// A HostConfig value of the wrong type is a 400 naming the field, and one of the right type
/// but out of range is refused in Docker's words; nothing is created either way.
#[test]
fn malformed_and_out_of_range_host_config_is_refused() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let create = |body: &str| {
        let out = common::run_ok(
            std::process::Command::new("curl")
                .args(["-sS", "-w", "\n%{http_code}", "--unix-socket"])
                .arg(&d.socket)
                .args(["-H", "Content-Type: application/json", "-d", body])
                .arg("http://berth/v1.43/containers/create"),
        );
        let (body, status) = out.rsplit_once('\n').unwrap();
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        (
            status.to_string(),
            v["message"].as_str().unwrap_or_default().to_string(),
        )
    };
    for (body, want) in [
        (
            r#"{"Image":"busybox","HostConfig":{"Memory":"lots"}}"#,
            "invalid HostConfig.Memory: invalid type: string \"lots\", expected i64",
        ),
        (
            r#"{"Image":"busybox","HostConfig":{"CapAdd":3}}"#,
            "invalid HostConfig.CapAdd: invalid type: integer `3`, expected a sequence",
        ),
        (
            r#"{"Image":"busybox","HostConfig":{"CpuPeriod":5}}"#,
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ),
        (
            r#"{"Image":"busybox","Env":["A=b\u0000c"]}"#,
            "invalid environment variable \"A=b\\0c\": it contains a NUL byte",
        ),
    ] {
        assert_eq!(
            create(body),
            ("400".to_string(), want.to_string()),
            "{body}"
        );
    }
    let (status, message) = create(r#"{"Image":"busybox","HostConfig":{"NanoCpus":-5}}"#);
    assert_eq!(status, "400");
    assert!(
        message.starts_with("Range of CPUs is from 0.01 to "),
        "{message}"
    );
    // Nulls are zero values, as Go reads them.
    let (status, _) = create(r#"{"Image":"busybox","HostConfig":{"Memory":null,"CapAdd":null}}"#);
    assert_eq!(status, "201");

    // The CLI says the daemon's words, with docker's exit code.
    let out = d.berth(&["run", "--rm", "--cpus", "1000", "busybox", "true"]);
    let (_, err, code) = text(&out);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("Range of CPUs is from 0.01 to"), "{err}");
    let out = d.berth(&["run", "--rm", "--cpuset-cpus", "0-4095", "busybox", "true"]);
    let (_, err, code) = text(&out);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("Requested CPUs are not available - requested 0-4095, available: "),
        "{err}"
    );
    // Only the one created from nulls exists.
    assert_eq!(d.ok(&["ps", "-aq"]).lines().count(), 1);
    let id = d.ok(&["ps", "-aq"]);
    d.ok(&["rm", id.trim()]);
}

/// Docker's defaults read back in inspect (runtime `runc`, log driver `json-file`), and
/// Docker's words, through the docker CLI's flags, for a runtime or a log driver that no one
/// has (clients such as the Python SDK match on them).
#[test]
fn runtime_and_log_driver_read_back_and_unknown_ones_refused() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&["create", "--name", "rt", "busybox", "true"]);
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.Runtime}} {{.HostConfig.LogConfig.Type}}",
            "rt"
        ]),
        "runc json-file\n"
    );
    d.ok(&["rm", "rt"]);
    if !d.docker_or_say() {
        return;
    }
    for (flag, value, want) in [
        ("--runtime", "kata", "Unknown runtime specified kata"),
        (
            "--log-driver",
            "asdf",
            "logger: no log driver named 'asdf' is registered",
        ),
    ] {
        let (_, err, code) = d.docker_text(&["run", "--rm", flag, value, "busybox", "true"]);
        assert_eq!(code, 125, "{err}");
        assert!(err.contains(want), "{err}");
    }
    assert_eq!(d.ok(&["ps", "-aq"]), "");
}

/// `--log-driver none`: the output still reaches the attached client, nothing is kept, and
/// `logs` says so in Docker's words; the same through the docker CLI.
#[test]
fn log_driver_none_keeps_no_log() {
    let d = daemon_or_skip!();
    d.load_busybox();
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--log-driver",
            "none",
            "busybox",
            "echo",
            "attached"
        ]),
        "attached\n"
    );
    d.ok(&[
        "run",
        "-d",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        "busybox",
        "echo",
        "lost",
    ]);
    d.ok(&["wait", "quiet"]);
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.LogConfig.Type}} [{{.LogPath}}]",
            "quiet"
        ]),
        "none []\n"
    );
    let (_, err, code) = text(&d.berth(&["logs", "quiet"]));
    assert_ne!(code, 0);
    assert!(
        err.contains("configured logging driver does not support reading"),
        "{err}"
    );
    let id = d.ok(&["inspect", "-f", "{{.Id}}", "quiet"]);
    let kept = d.root.join("containers").join(id.trim());
    assert!(
        !kept.join(format!("{}-json.log", id.trim())).exists(),
        "a log file was written"
    );
    if d.docker_or_say() {
        let (out, err, code) = d.docker_text(&["logs", "quiet"]);
        assert_eq!(code, 1, "{out}{err}");
        assert!(err.contains("does not support reading"), "{err}");
        let (out, _, code) = d.docker_text(&[
            "run",
            "--rm",
            "--log-driver",
            "none",
            "busybox",
            "echo",
            "hi",
        ]);
        assert_eq!((out.as_str(), code), ("hi\n", 0));
    }
    d.ok(&["rm", "quiet"]);
}

/// `--group-add` by gid and by name joins those groups, in `run` and in `exec`; a name the
/// image's /etc/group lacks fails the start in Docker's words. Through the docker CLI too.
#[test]
fn group_add_joins_groups_by_number_and_name() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let group = d.ok(&["run", "--rm", "busybox", "cat", "/etc/group"]);
    let (name, gid) = group
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 3 && f[2] != "0").then(|| (f[0].to_string(), f[2].to_string()))
        })
        .next()
        .expect("a group other than root in the fixture's /etc/group");
    let ids = d.ok(&[
        "run",
        "--rm",
        "--group-add",
        "1000",
        "--group-add",
        &name,
        "busybox",
        "id",
        "-G",
    ]);
    let ids: Vec<&str> = ids.split_whitespace().collect();
    assert!(
        ids.contains(&"1000") && ids.contains(&gid.as_str()),
        "{ids:?}"
    );

    d.ok(&[
        "run",
        "-d",
        "--name",
        "grouped",
        "--group-add",
        "1001",
        "busybox",
        "sleep",
        "300",
    ]);
    let ids = d.ok(&["exec", "grouped", "id", "-G"]);
    assert!(ids.split_whitespace().any(|g| g == "1001"), "{ids}");
    d.ok(&["rm", "-f", "grouped"]);

    let (_, err, code) = text(&d.berth(&[
        "run",
        "--rm",
        "--group-add",
        "nosuchgroup",
        "busybox",
        "true",
    ]));
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("unable to find group nosuchgroup: no matching entries in group file"),
        "{err}"
    );
    if d.docker_or_say() {
        let (out, err, code) =
            d.docker_text(&["run", "--rm", "--group-add", "1002", "busybox", "id", "-G"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.split_whitespace().any(|g| g == "1002"), "{out}");
    }
    assert_eq!(d.ok(&["ps", "-aq"]), "");
}

/// The network half of a teardown runs after the answer (src/daemon/unplug.rs): a container
/// started again at once after its exit gets its veth and netns path back, `network rm` right
/// after `rm` takes the network with the addresses back in its IPAM, and the veths do go.
#[test]
fn a_container_started_again_at_once_after_its_exit_gets_its_network_back() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&["run", "--name", "again", "busybox", "true"]);
    for _ in 0..5 {
        let out = d.ok(&["start", "-a", "again"]);
        assert_eq!(out, "");
        let ip = d.ok(&[
            "run", "--rm", "busybox", "ip", "-4", "-o", "addr", "show", "eth0",
        ]);
        assert!(ip.contains("inet "), "{ip}");
    }
    d.ok(&["rm", "again"]);

    d.ok(&["network", "create", "quick"]);
    for _ in 0..3 {
        let ip = d.ok(&[
            "run",
            "--rm",
            "--network",
            "quick",
            "busybox",
            "ip",
            "-4",
            "-o",
            "addr",
            "show",
            "eth0",
        ]);
        assert!(ip.contains("inet "), "{ip}");
    }
    d.ok(&["network", "rm", "quick"]);
    assert_eq!(d.leaks_but_the_daemon(), Vec::<String>::new());
}
