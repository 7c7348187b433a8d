//! e2e: HEALTHCHECK at run time. Probes from `--health-*` flags and from an image's
//! healthcheck move `State.Health` through starting, unhealthy and healthy; `ps` shows it in
//! its STATUS column and filters on it; `health_status` events mark each change; a probe
//! over its timeout is killed; pause, stop and a daemon restart stop and resume the probes.

mod common;

use common::{text, wait_until, TestDaemon};
use serde_json::Value;
use std::io::{Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

fn now() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

fn inspect(d: &TestDaemon, name: &str) -> Value {
    let out = d.ok(&["inspect", name]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v[0].clone()
}

fn health(d: &TestDaemon, name: &str) -> Value {
    inspect(d, name)["State"]["Health"].clone()
}

fn status_of(d: &TestDaemon, name: &str) -> String {
    health(d, name)["Status"].as_str().unwrap_or("").to_string()
}

/// The names `ps` lists for a filter, sorted.
fn ps_names(d: &TestDaemon, filter: &str) -> Vec<String> {
    let out = d.ok(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"]);
    let mut names: Vec<String> = out.lines().map(str::to_string).collect();
    names.sort();
    names
}

fn ps_status(d: &TestDaemon, name: &str) -> String {
    d.ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Status}}",
    ])
    .trim()
    .to_string()
}

fn events(d: &TestDaemon, since: &str, filter: &str) -> Vec<String> {
    let out = d.ok(&[
        "events",
        "--since",
        since,
        "--until",
        &now(),
        "--filter",
        filter,
        "--format",
        "{{.Actor.Attributes.name}} {{.Action}}",
    ]);
    out.lines().map(str::to_string).collect()
}

/// `berth nsexec` processes (probes) of this daemon's containers still alive.
fn probe_processes(d: &TestDaemon) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains("nsexec") && cmd.contains(&d.cgroup_parent) {
                found.push(cmd);
            }
        }
    }
    found
}

#[test]
fn a_failing_probe_turns_unhealthy_and_a_passing_one_healthy() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let since = now();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "hc",
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "100ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "300",
    ]);
    // A long interval keeps this one starting for the whole test.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "true",
        "--health-interval",
        "1h",
        "busybox",
        "sleep",
        "300",
    ]);
    d.ok(&["run", "-d", "--name", "plain", "busybox", "sleep", "300"]);

    let slow = health(&d, "slow");
    assert_eq!(slow["Status"], "starting", "{slow}");
    assert_eq!(slow["FailingStreak"], 0);
    assert_eq!(slow["Log"], serde_json::json!([]));
    assert!(ps_status(&d, "slow").ends_with(" (health: starting)"));
    assert_eq!(inspect(&d, "plain")["State"].get("Health"), None);
    assert!(!ps_status(&d, "plain").contains('('));
    let cfg = &inspect(&d, "hc")["Config"]["Healthcheck"];
    assert_eq!(
        *cfg,
        serde_json::json!({"Test": ["CMD-SHELL", "test -f /tmp/ok"], "Interval": 100_000_000, "Retries": 2})
    );

    wait_until("hc to be unhealthy", || status_of(&d, "hc") == "unhealthy");
    let h = health(&d, "hc");
    assert!(h["FailingStreak"].as_i64().unwrap() >= 2, "{h}");
    let last = h["Log"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["ExitCode"], 1, "{h}");
    assert_eq!(last["Output"], "");
    for t in ["Start", "End"] {
        let s = last[t].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(s).is_ok(), "{t}: {s}");
    }
    assert!(ps_status(&d, "hc").ends_with(" (unhealthy)"));
    assert_eq!(ps_names(&d, "health=unhealthy"), ["hc"]);

    d.ok(&["exec", "hc", "touch", "/tmp/ok"]);
    wait_until("hc to be healthy", || status_of(&d, "hc") == "healthy");
    let h = health(&d, "hc");
    assert_eq!(h["FailingStreak"], 0, "{h}");
    assert!(ps_status(&d, "hc").ends_with(" (healthy)"));
    wait_until("the log to fill up", || {
        health(&d, "hc")["Log"].as_array().unwrap().len() == 5
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(health(&d, "hc")["Log"].as_array().unwrap().len(), 5);

    assert_eq!(ps_names(&d, "health=healthy"), ["hc"]);
    assert_eq!(ps_names(&d, "health=starting"), ["slow"]);
    assert_eq!(ps_names(&d, "health=none"), ["plain"]);
    let either = d.ok(&[
        "ps",
        "-q",
        "--filter",
        "health=healthy",
        "--filter",
        "health=starting",
    ]);
    assert_eq!(either.lines().count(), 2, "{either}");
    let (_, err, code) = text(&d.berth(&["ps", "--filter", "health=sick"]));
    assert_ne!(code, 0);
    assert!(
        err.contains("invalid filter 'health=sick': invalid value for health (sick): must be one of none, starting, healthy, unhealthy"),
        "{err}"
    );

    let changes = events(&d, &since, "event=health_status");
    assert_eq!(
        changes,
        ["hc health_status: unhealthy", "hc health_status: healthy"],
        "{changes:?}"
    );
    // Probes are execs, with exec's events, as Docker's are.
    let execs = events(&d, &since, "event=exec_create");
    assert!(
        execs.contains(&"hc exec_create: /bin/sh -c test -f /tmp/ok".to_string()),
        "{execs:?}"
    );
    assert!(!events(&d, &since, "event=exec_die").is_empty());

    // Stopped: no more probes, and Docker's "unhealthy" from then on.
    d.ok(&["stop", "-t", "1", "hc"]);
    assert_eq!(status_of(&d, "hc"), "unhealthy");
    let probes = events(&d, &since, "event=exec_create").len();
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert_eq!(events(&d, &since, "event=exec_create").len(), probes);
    assert_eq!(probe_processes(&d), Vec::<String>::new());

    // Started again: starting over (the streak, not the log), then healthy.
    let restarted = now();
    d.ok(&["start", "hc"]);
    wait_until("hc to be healthy again", || {
        status_of(&d, "hc") == "healthy"
    });
    assert_eq!(
        events(&d, &restarted, "event=health_status"),
        ["hc health_status: healthy"]
    );

    d.ok(&["rm", "-f", "hc", "slow", "plain"]);
}

#[test]
fn a_probe_over_its_timeout_is_killed_and_fails() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "late",
        "--health-cmd",
        "echo started; sleep 7",
        "--health-timeout",
        "200ms",
        "--health-interval",
        "100ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "300",
    ]);
    wait_until("late to be unhealthy", || {
        status_of(&d, "late") == "unhealthy"
    });
    let first = health(&d, "late")["Log"][0].clone();
    assert_eq!(first["ExitCode"], -1, "{first}");
    assert_eq!(
        first["Output"],
        "Health check exceeded timeout (200ms): started\n"
    );
    // Each probe is killed at its timeout: however many have run, at most the current one
    // is still there.
    wait_until("three probes", || {
        health(&d, "late")["Log"].as_array().unwrap().len() >= 3
    });
    let ps = d.ok(&["exec", "late", "ps", "-o", "args"]);
    let sleeping = ps.lines().filter(|l| l.trim() == "sleep 7").count();
    assert!(sleeping <= 1, "{ps}");
    d.ok(&["rm", "-f", "late"]);
    wait_until("no probe left", || probe_processes(&d).is_empty());
}

#[test]
fn the_flags_are_checked_as_dockers_are() {
    let d = daemon_or_skip!();
    d.load_busybox();
    // The CLI's own refusals exit 125; the daemon's exit 1, as docker create's do.
    let cases: &[(&[&str], &str, i32)] = &[
        (
            &["--no-healthcheck", "--health-retries", "2"],
            "--no-healthcheck conflicts with --health-* options",
            125,
        ),
        (
            &["--health-interval", "-1s"],
            "--health-interval cannot be negative",
            125,
        ),
        (
            &["--health-timeout", "5"],
            "invalid argument \"5\" for \"--health-timeout\" flag: time: missing unit in duration \"5\"",
            125,
        ),
        // Accepted by the CLI, refused by the daemon.
        (
            &["--health-interval", "500us"],
            "Interval in Healthcheck cannot be less than 1ms",
            1,
        ),
        (
            &["--health-start-interval", "10ns"],
            "StartInterval in Healthcheck cannot be less than 1ms",
            1,
        ),
    ];
    for (flags, want, status) in cases {
        let mut args = vec!["create"];
        args.extend_from_slice(flags);
        args.extend(["busybox", "true"]);
        let (_, err, code) = text(&d.berth(&args));
        assert_eq!(code, *status, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    assert_eq!(d.ok(&["ps", "-aq"]), "");
}

/// The busybox archive again, as `tag`, with `healthcheck` in its image config: what a
/// Dockerfile's HEALTHCHECK leaves in an image, for the daemon to run.
fn image_with_healthcheck(d: &TestDaemon, tag: &str, healthcheck: Value) -> std::path::PathBuf {
    use sha2::Digest;
    let mut entries: Vec<(tar::Header, Vec<u8>)> = Vec::new();
    let mut archive = tar::Archive::new(std::fs::File::open(common::busybox_archive()).unwrap());
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        entries.push((e.header().clone(), data));
    }
    let path_of = |h: &tar::Header| h.path().unwrap().to_string_lossy().into_owned();
    let manifest_at = entries
        .iter()
        .position(|(h, _)| path_of(h) == "manifest.json")
        .unwrap();
    let mut manifest: Value = serde_json::from_slice(&entries[manifest_at].1).unwrap();
    let config_name = manifest[0]["Config"].as_str().unwrap().to_string();
    let config_at = entries
        .iter()
        .position(|(h, _)| path_of(h) == config_name)
        .unwrap();
    let mut config: Value = serde_json::from_slice(&entries[config_at].1).unwrap();
    config["config"]["Healthcheck"] = healthcheck;
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let id = hex::encode(sha2::Sha256::digest(&config_bytes));
    let new_name = if config_name.starts_with("blobs/") {
        format!("blobs/sha256/{id}")
    } else {
        format!("{id}.json")
    };
    manifest[0]["Config"] = new_name.clone().into();
    manifest[0]["RepoTags"] = serde_json::json!([tag]);
    entries[config_at].1 = config_bytes;
    entries[config_at].0.set_path(&new_name).unwrap();
    entries[manifest_at].1 = serde_json::to_vec(&manifest).unwrap();
    // Only what `load` reads: the layers, the config and the manifest.
    let out = d.dir.path().join(format!("{}.tar", tag.replace(':', "-")));
    let mut b = tar::Builder::new(std::fs::File::create(&out).unwrap());
    for (mut h, data) in entries {
        let p = path_of(&h);
        if p == "index.json" || p == "repositories" || p == "oci-layout" {
            continue;
        }
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap().flush().unwrap();
    out
}

#[test]
fn an_images_healthcheck_runs_and_the_flags_override_it() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let tar = image_with_healthcheck(
        &d,
        "checked:latest",
        serde_json::json!({"Test": ["CMD", "test", "-e", "/bin/sh"], "Interval": 100_000_000, "Retries": 5}),
    );
    let loaded = d.ok(&["load", "-i", tar.to_str().unwrap()]);
    assert!(loaded.contains("checked:latest"), "{loaded}");

    d.ok(&["run", "-d", "--name", "img", "checked", "sleep", "300"]);
    wait_until("img to be healthy", || status_of(&d, "img") == "healthy");
    assert_eq!(
        inspect(&d, "img")["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD", "test", "-e", "/bin/sh"], "Interval": 100_000_000, "Retries": 5})
    );

    // Flags override field by field: the image's test, with the run's timings.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "over",
        "--health-retries",
        "1",
        "--health-interval",
        "1h",
        "checked",
        "sleep",
        "300",
    ]);
    assert_eq!(
        inspect(&d, "over")["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD", "test", "-e", "/bin/sh"], "Interval": 3_600_000_000_000i64, "Retries": 1})
    );
    assert_eq!(status_of(&d, "over"), "starting");

    d.ok(&[
        "run",
        "-d",
        "--name",
        "off",
        "--no-healthcheck",
        "checked",
        "sleep",
        "300",
    ]);
    let off = inspect(&d, "off");
    // Docker's merge: NONE is the test, the image's timings stay.
    assert_eq!(
        off["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["NONE"], "Interval": 100_000_000, "Retries": 5})
    );
    assert_eq!(off["State"].get("Health"), None);
    assert_eq!(ps_names(&d, "health=none"), ["off"]);
    assert!(!ps_status(&d, "off").contains('('));

    d.ok(&["rm", "-f", "img", "over", "off"]);
}

#[test]
fn probes_stop_while_paused_and_resume_after_a_daemon_restart() {
    let Some(mut d) = TestDaemon::start() else {
        eprintln!("SKIPPED: this e2e test needs root");
        return;
    };
    d.load_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "lasting",
        "--health-cmd",
        "true",
        "--health-interval",
        "100ms",
        "busybox",
        "sleep",
        "300",
    ]);
    wait_until("lasting to be healthy", || {
        status_of(&d, "lasting") == "healthy"
    });

    let paused = now();
    d.ok(&["pause", "lasting"]);
    assert_eq!(status_of(&d, "lasting"), "unhealthy");
    assert!(ps_status(&d, "lasting").ends_with(" (Paused)"));
    std::thread::sleep(std::time::Duration::from_millis(400));
    let during = events(&d, &paused, "event=exec_create");
    assert!(during.is_empty(), "probes while paused: {during:?}");
    d.ok(&["unpause", "lasting"]);
    wait_until("lasting to be healthy after unpause", || {
        status_of(&d, "lasting") == "healthy"
    });

    // The daemon dies; the container runs on; the next daemon takes it back and probes it.
    let ends: Vec<String> = health(&d, "lasting")["Log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["End"].as_str().unwrap().to_string())
        .collect();
    d.kill9_and_restart(std::time::Duration::from_millis(200));
    wait_until("new probes after the restart", || {
        let h = health(&d, "lasting");
        h["Status"] == "healthy"
            && h["Log"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| !ends.contains(&r["End"].as_str().unwrap().to_string()))
    });
    d.ok(&["rm", "-f", "lasting"]);
}

#[test]
fn the_docker_cli_sees_health() {
    let d = daemon_or_skip!();
    if !d.docker_or_say() {
        return;
    }
    d.load_busybox();
    let docker = |args: &[&str]| d.docker_text(args);
    let (_, err, code) = docker(&[
        "run",
        "-d",
        "--name",
        "dk",
        "--health-cmd",
        "exit 0",
        "--health-interval",
        "100ms",
        "--health-timeout",
        "2s",
        "--health-start-period",
        "1s",
        "--health-start-interval",
        "50ms",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        inspect(&d, "dk")["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "exit 0"], "Interval": 100_000_000, "Timeout": 2_000_000_000i64, "StartPeriod": 1_000_000_000, "StartInterval": 50_000_000})
    );
    wait_until("dk to be healthy", || {
        docker(&["inspect", "--format", "{{.State.Health.Status}}", "dk"]).0 == "healthy\n"
    });
    let (out, err, _) = docker(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(
        out.starts_with("dk Up ") && out.trim_end().ends_with("(healthy)"),
        "{out}{err}"
    );
    let (out, _, _) = docker(&["ps", "--filter", "health=healthy", "--format", "{{.Names}}"]);
    assert_eq!(out, "dk\n");
    let (_, err, code) = docker(&["ps", "--filter", "health=bogus"]);
    assert_ne!(code, 0);
    assert!(err.contains("invalid value for health (bogus)"), "{err}");
    let (_, err, code) = docker(&["run", "--health-interval", "10us", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("Interval in Healthcheck cannot be less than 1ms"),
        "{err}"
    );
    let (_, err, code) = docker(&["rm", "-f", "dk"]);
    assert_eq!(code, 0, "{err}");
}
