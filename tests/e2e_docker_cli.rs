//! e2e: the real docker CLI drives berth's daemon. Skips when not root or when no docker
//! client is installed.

mod common;

use common::text;

#[test]
fn docker_cli_runs_lists_and_inspects() {
    let d = daemon_or_skip!();
    let Some(_) = d.docker() else {
        eprintln!("SKIPPED: no docker client installed");
        return;
    };
    d.load_busybox();
    let docker = |args: &[&str]| text(&d.docker().unwrap().args(args).output().unwrap());

    let (out, err, c) = docker(&["run", "--rm", "busybox", "echo", "hi"]);
    assert_eq!((out.as_str(), c), ("hi\n", 0), "{err}\n{}", d.log());

    let (_, _, c) = docker(&["run", "--rm", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(c, 3);
    let (_, err, c) = docker(&["run", "--rm", "busybox", "nosuchcommand"]);
    assert_eq!(c, 127, "{err}");

    let (out, err, c) = docker(&["run", "-d", "--name", "web", "busybox", "sleep", "60"]);
    assert_eq!(c, 0, "{err}");
    assert_eq!(out.trim().len(), 64);

    let (out, err, c) = docker(&["ps", "-a"]);
    assert_eq!(c, 0, "{err}");
    assert!(out.starts_with("CONTAINER ID"), "{out}");
    assert!(out.contains("web") && out.contains("\"sleep 60\""), "{out}");

    let (out, err, c) = docker(&["images"]);
    assert_eq!(c, 0, "{err}");
    assert!(out.contains("busybox") && out.contains("latest"), "{out}");

    let (out, err, c) = docker(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.Name}} {{.NetworkSettings.IPAddress}}",
        "web",
    ]);
    assert_eq!(c, 0, "{err}");
    let prefix = d.subnet.trim_end_matches("0/24");
    assert!(out.starts_with(&format!("running /web {prefix}")), "{out}");

    let (_, err, c) = docker(&["rm", "-f", "web"]);
    assert_eq!(c, 0, "{err}");
    let (out, _, _) = docker(&["ps", "-aq"]);
    assert_eq!(out, "");
}
