//! e2e: terminals. Every session here runs on a real pseudo-terminal that the test holds, as a
//! person at a terminal would: `run -it`, `exec -it`, `attach`, `start -ai`, window sizes and
//! resizes, job control, detach keys, and the same through the real docker CLI.

mod common;

use common::{text, wait_until, PtySession};
use std::time::Duration;

fn running(d: &common::TestDaemon, name: &str) -> bool {
    d.ok(&["inspect", "-f", "{{.State.Running}}", name]).trim() == "true"
}

#[test]
fn run_it_gives_a_shell_with_a_terminal_job_control_and_resizes() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let mut cmd = d.cmd();
    cmd.args(["run", "-it", "--rm", "busybox", "sh"]);
    let mut t = PtySession::spawn(cmd, 40, 120);
    t.expect("/ # ");
    t.send(b"tty; stty size; echo T=$TERM\r");
    t.expect("/dev/pts/0");
    t.expect("40 120");
    t.expect("T=xterm");

    // The window changes: berth catches SIGWINCH and resizes the container's terminal.
    t.resize_and_see(50, 132);

    // Job control: the shell owns its terminal, so background jobs and ctrl-c work.
    t.send(b"sleep 100 &\r");
    t.send(b"jobs\r");
    t.expect("Running");
    t.send(b"kill %1; echo sleeping; sleep 30\r");
    t.expect("sleeping\r\n");
    // ctrl-c until the prompt is back: the first may come before sleep is in the foreground.
    for _ in 0..30 {
        t.send(b"\x03");
        if t.expect_within("/ # ", Duration::from_millis(500))
            .is_some()
        {
            break;
        }
    }
    t.send(b"echo after-ctrl-c\r");
    t.expect("after-ctrl-c\r\n");
    t.send(b"exit 3\r");
    assert_eq!(t.wait(), 3);
}

#[test]
fn detach_keys_leave_the_container_running_and_attach_returns_to_it() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let mut cmd = d.cmd();
    cmd.args(["run", "-it", "--name", "shell", "busybox", "sh"]);
    let mut t = PtySession::spawn(cmd, 24, 80);
    t.expect("/ # ");
    t.send(b"echo first\r");
    t.expect("first\r\n");
    t.send(b"\x10\x11");
    assert_eq!(t.wait(), 0, "ctrl-p ctrl-q detaches with status 0");
    assert!(running(&d, "shell"));

    // Re-attach with other detach keys; the shell is the same one.
    let mut cmd = d.cmd();
    cmd.args(["attach", "--detach-keys", "ctrl-x,x", "shell"]);
    let mut t = PtySession::spawn(cmd, 24, 80);
    t.wait_raw();
    t.send(b"echo $$ again\r");
    t.expect("1 again");
    t.send(b"\x18x");
    assert_eq!(t.wait(), 0);
    assert!(running(&d, "shell"));

    // Bad keys are refused by name.
    let out = d.berth(&["attach", "--no-stdin", "--detach-keys", "ctrl-1", "shell"]);
    let (_, err, code) = text(&out);
    assert_ne!(code, 0);
    assert!(
        err.contains("Invalid detach keys (ctrl-1) provided"),
        "{err}"
    );

    let mut cmd = d.cmd();
    cmd.args(["attach", "shell"]);
    let mut t = PtySession::spawn(cmd, 24, 80);
    t.wait_raw();
    t.send(b"exit 7\r");
    assert_eq!(t.wait(), 7);
    wait_until("the shell to exit", || !running(&d, "shell"));
    d.ok(&["rm", "shell"]);
}

#[test]
fn exec_it_start_ai_and_logs_of_a_terminal() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&["run", "-d", "--name", "host", "busybox", "sleep", "300"]);
    let mut cmd = d.cmd();
    cmd.args(["exec", "-it", "host", "sh"]);
    let mut t = PtySession::spawn(cmd, 33, 99);
    t.expect("/ # ");
    t.send(b"tty; stty size; echo T=$TERM\r");
    t.expect("/dev/pts/");
    t.expect("33 99");
    t.expect("T=xterm");
    t.resize_and_see(20, 70);
    t.send(b"exit 4\r");
    assert_eq!(t.wait(), 4);

    // -t without a terminal on our side is refused, as docker refuses it.
    let out = d.berth(&["exec", "-it", "host", "true"]);
    let (_, err, code) = text(&out);
    assert_eq!(code, 1);
    assert!(err.contains("the input device is not a TTY"), "{err}");
    let out = d.berth(&["run", "-it", "busybox", "true"]);
    let (_, err, code) = text(&out);
    assert_eq!(code, 1);
    assert!(err.contains("the input device is not a TTY"), "{err}");
    d.ok(&["rm", "-f", "host"]);

    // A terminal's output is one stream, with the terminal's line endings, in the log too.
    d.ok(&[
        "create",
        "-t",
        "-i",
        "--name",
        "later",
        "busybox",
        "sh",
        "-c",
        "read x; echo got-$x; echo to-stderr >&2",
    ]);
    let mut cmd = d.cmd();
    cmd.args(["start", "-ai", "later"]);
    let mut t = PtySession::spawn(cmd, 24, 80);
    t.wait_raw();
    t.send(b"hello\r");
    t.expect("got-hello\r\n");
    assert_eq!(t.wait(), 0);
    let out = d.berth(&["logs", "later"]);
    let (stdout, stderr, _) = text(&out);
    assert_eq!(stderr, "");
    assert!(stdout.contains("got-hello\r\nto-stderr\r\n"), "{stdout:?}");
    d.ok(&["rm", "later"]);
}

#[test]
fn the_docker_cli_gets_a_terminal_too() {
    let d = daemon_or_skip!();
    let Some(mut docker) = d.docker() else {
        eprintln!("skipped: no docker CLI installed");
        return;
    };
    d.load_busybox();
    docker.args(["run", "-it", "--rm", "--name", "dk", "busybox", "sh"]);
    let mut t = PtySession::spawn(docker, 41, 121);
    t.expect("/ # ");
    t.send(b"tty; stty size\r");
    t.expect("/dev/pts/0");
    t.expect("41 121");
    t.resize_and_see(45, 100);

    let mut exec = d.docker().unwrap();
    exec.args(["exec", "-it", "dk", "sh", "-c", "stty size; tty; exit 5"]);
    let mut e = PtySession::spawn(exec, 22, 77);
    e.expect("22 77");
    e.expect("/dev/pts/");
    assert_eq!(e.wait(), 5);

    t.send(b"exit 2\r");
    assert_eq!(t.wait(), 2);
}

/// `--detach-keys` reaches the daemon from every command that attaches: run, start -ai and
/// exec of berth's CLI, and the docker CLI's exec. What it was attached to runs on; run and
/// start end with status 0, exec as the docker CLI's does, 1 and "read escape sequence".
#[test]
fn detach_keys_of_run_start_and_exec() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let detach_with_ctrl_x = |what: &str, cmd: std::process::Command, status: i32| {
        let mut t = PtySession::spawn(cmd, 24, 80);
        t.expect("/ # ");
        t.send(b"echo here\r");
        t.expect("here\r\n");
        // ctrl-p ctrl-q are plain keys now: the shell gets them, nothing detaches.
        t.send(b"\x10\x11");
        t.send(b"\x18");
        if status != 0 {
            t.expect("read escape sequence");
        }
        assert_eq!(t.wait(), status, "{what}: ctrl-x detaches");
    };
    let mut cmd = d.cmd();
    cmd.args([
        "run",
        "-it",
        "--detach-keys",
        "ctrl-x",
        "--name",
        "shell",
        "busybox",
        "sh",
    ]);
    detach_with_ctrl_x("run", cmd, 0);
    assert!(running(&d, "shell"));

    d.ok(&["create", "-it", "--name", "later", "busybox", "sh"]);
    let mut cmd = d.cmd();
    cmd.args(["start", "-ai", "--detach-keys", "ctrl-x", "later"]);
    detach_with_ctrl_x("start", cmd, 0);
    assert!(running(&d, "later"));

    // pidof exec'd alone: through `sh -c '… | wc -w'` the pipeline's own forks are shells too
    // until they exec, and were counted now and then.
    let shells = || {
        d.ok(&["exec", "shell", "pidof", "sh"])
            .split_whitespace()
            .count()
    };
    let before = shells();
    let mut cmd = d.cmd();
    cmd.args(["exec", "-it", "--detach-keys", "ctrl-x", "shell", "sh"]);
    detach_with_ctrl_x("exec", cmd, 1);
    assert_eq!(shells(), before + 1, "the exec's shell runs on");
    if let Some(mut docker) = d.docker() {
        docker.args(["exec", "-it", "--detach-keys", "ctrl-x", "shell", "sh"]);
        detach_with_ctrl_x("docker exec", docker, 1);
        assert_eq!(shells(), before + 2);
    }
    d.ok(&["rm", "-f", "shell", "later"]);
}
