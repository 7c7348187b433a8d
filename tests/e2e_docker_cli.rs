//! e2e: the real docker CLI drives berth's daemon. Skips when not root or when no docker
//! client is installed.

mod common;

use common::{run_ok, text};

#[test]
fn docker_cli_runs_lists_and_inspects() {
    let d = daemon_or_skip!();
    if !d.docker_or_say() {
        return;
    }
    d.load_busybox();
    let docker = |args: &[&str]| d.docker_text(args);

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

/// The docker CLI attaches, sends all of its input and half-closes before it starts the
/// container: that input, and its end, must reach the process that start makes.
#[test]
fn docker_run_i_delivers_input_that_ends_before_the_start() {
    let d = daemon_or_skip!();
    if !d.docker_or_say() {
        return;
    }
    d.load_busybox();
    let out = common::output_with_stdin(
        d.docker()
            .unwrap()
            .args(["run", "--rm", "-i", "busybox", "tr", "a-z", "A-Z"]),
        b"hello\n",
    );
    assert_eq!(text(&out), ("HELLO\n".into(), String::new(), 0));

    // `docker run -i busybox cat < file`: a file ends at once, and a big one is all there.
    let input: Vec<u8> = (0..200_000u32)
        .flat_map(|i| format!("{i}\n").into_bytes())
        .collect();
    let file = d.dir.path().join("input");
    std::fs::write(&file, &input).unwrap();
    let out = d
        .docker()
        .unwrap()
        .args(["run", "-i", "--name", "catter", "busybox", "cat"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stdout == input,
        "cat gave back {} of {} bytes",
        out.stdout.len(),
        input.len()
    );
    // A second start -a of the same container reads its input again.
    let out = common::output_with_stdin(
        d.docker().unwrap().args(["start", "-ai", "catter"]),
        b"again\n",
    );
    assert_eq!(text(&out), ("again\n".into(), String::new(), 0));
    d.ok(&["rm", "catter"]);

    // berth's own CLI, the same way.
    let out = common::output_with_stdin(
        d.cmd()
            .args(["run", "--rm", "-i", "busybox", "tr", "a-z", "A-Z"]),
        b"hello\n",
    );
    assert_eq!(text(&out), ("HELLO\n".into(), String::new(), 0));
}

/// Docker's kill with SIGKILL answers once the container has stopped, so `rm` right after
/// it never finds it running.
#[test]
fn kill_answers_after_the_container_is_dead() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let docker = d.docker();
    for round in 0..5 {
        let name = format!("victim{round}");
        d.ok(&["run", "-d", "--name", &name, "busybox", "sleep", "60"]);
        match &docker {
            // Alternate the two clients: both go through the same endpoint.
            Some(_) if round % 2 == 0 => {
                run_ok(d.docker().unwrap().args(["kill", &name]));
                run_ok(d.docker().unwrap().args(["rm", &name]));
            }
            _ => {
                assert_eq!(d.ok(&["kill", &name]), format!("{name}\n"));
                let v: serde_json::Value =
                    serde_json::from_str(&d.ok(&["inspect", &name])).unwrap();
                assert_eq!(v[0]["State"]["Running"], false);
                assert_eq!(v[0]["State"]["ExitCode"], 137);
                d.ok(&["rm", &name]);
            }
        }
    }
}
