//! e2e: `GET /events` and `berth events` (replay with --since/--until, live with filters and
//! templates), and the real docker CLI reading the same stream.

mod common;

use common::text;
use std::process::Stdio;
use std::time::{SystemTime, UNIX_EPOCH};

fn now() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

#[test]
fn events_replay_a_window_and_follow_live() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let since = now();
    let (_, _, code) = text(&d.berth(&[
        "run",
        "--name",
        "ev1",
        "--label",
        "team=blue",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]));
    assert_eq!(code, 3);
    d.ok(&["rename", "ev1", "ev2"]);
    d.ok(&["rm", "ev2"]);
    let until = now();

    let replay = d.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=container",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.team}}",
    ]);
    let lines: Vec<&str> = replay.lines().map(str::trim_end).collect();
    assert_eq!(
        lines,
        [
            "create ev1 blue",
            "attach ev1 blue",
            "start ev1 blue",
            "die ev1 blue",
            "rename ev2 blue",
            "destroy ev2 blue",
        ],
        "{replay}"
    );
    // Docker's default line: time, type, action, id, sorted attributes.
    let plain = d.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "-f",
        "event=die",
    ]);
    let re = regex::Regex::new(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) container die [0-9a-f]{64} \(exitCode=3, image=busybox, name=ev1, team=blue\)$",
    )
    .unwrap();
    assert!(re.is_match(plain.trim_end()), "{plain}");

    // Live: a follower sees what happens after it started, filtered. A follower subscribes a
    // moment after it starts, so probe containers run until each follower has shown one.
    let mut follower = d
        .cmd()
        .args([
            "events",
            "-f",
            "container=live1",
            "-f",
            "container=probe",
            "--format",
            "{{.Actor.Attributes.name}} {{.Action}}",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut docker_follower = d.docker().map(|mut c| {
        c.args([
            "events",
            "--filter",
            "event=start",
            "--format",
            "{{json .}}",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
    });
    let lines = common::line_reader(follower.stdout.take().unwrap());
    let docker_lines = docker_follower
        .as_mut()
        .map(|f| common::line_reader(f.stdout.take().unwrap()));
    let (mut ours, mut dockers) = (Vec::new(), Vec::new());
    common::wait_until("the followers to show a probe container", || {
        d.ok(&["run", "--rm", "--name", "probe", "busybox", "true"]);
        ours.extend(lines.try_iter());
        dockers.extend(docker_lines.iter().flat_map(|l| l.try_iter()));
        let probed = |seen: &[String]| seen.iter().any(|l| l.contains("probe"));
        probed(&ours) && (docker_lines.is_none() || probed(&dockers))
    });
    d.ok(&["run", "-d", "--name", "live1", "busybox", "sleep", "30"]);
    d.ok(&["pause", "live1"]);
    d.ok(&["unpause", "live1"]);
    d.ok(&["kill", "live1"]);
    d.ok(&["wait", "live1"]);
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("die") {
        let l = common::next_line(&lines, "live1's events", |l| l.starts_with("live1 "));
        seen.push(l["live1 ".len()..].to_string());
    }
    assert_eq!(seen, ["create", "start", "pause", "unpause", "kill", "die"]);
    let _ = follower.kill();
    let _ = follower.wait();
    if let (Some(mut f), Some(rx)) = (docker_follower.take(), docker_lines) {
        let l = common::next_line(&rx, "live1's start", |l| l.contains("live1"));
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["Action"], "start", "{l}");
        assert_eq!(v["Actor"]["Attributes"]["name"], "live1", "{l}");
        let _ = f.kill();
        let _ = f.wait();
    }
    d.ok(&["rm", "live1"]);

    let out = d.berth(&["events", "-f", "colour=red", "--until", &now()]);
    let (_, err, code) = text(&out);
    assert_ne!(code, 0);
    assert!(err.contains("invalid filter 'colour'"), "{err}");
}
