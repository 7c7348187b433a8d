//! e2e: the CLI's config file (`config.json` in `--config DIR`, `$BERTH_CONFIG` or ~/.berth):
//! `psFormat` and `imagesFormat` as the default formats of `ps` and `images`, `detachKeys` as
//! the default detach keys, each overridden by its flag, as the docker CLI reads its own.

mod common;

use common::text;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

fn write_config(dir: &Path, json: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("config.json"), json).unwrap();
}

/// The directory `d.cmd()` points BERTH_CONFIG at.
fn config_dir(d: &common::TestDaemon) -> std::path::PathBuf {
    d.dir.path().join("berth-config")
}

#[test]
fn ps_and_images_print_in_the_configured_formats_unless_format_is_given() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let id = d.ok(&["run", "-d", "--name", "cfgps", "busybox", "sleep", "300"]);
    let short = &id.trim()[..12];
    assert!(d.ok(&["ps"]).starts_with("CONTAINER ID"));
    assert!(d.ok(&["images"]).starts_with("REPOSITORY"));

    let cfg = config_dir(&d);
    write_config(
        &cfg,
        r#"{"psFormat": "{{.Names}}|{{.Image}}", "imagesFormat": "{{.Repository}}:{{.Tag}}"}"#,
    );
    assert_eq!(d.ok(&["ps"]), "cfgps|busybox\n");
    assert_eq!(d.ok(&["images"]), "busybox:latest\n");
    assert_eq!(d.ok(&["image", "ls"]), "busybox:latest\n");
    // The flag wins; -q wins over any format.
    assert_eq!(d.ok(&["ps", "--format", "{{.ID}}"]), format!("{short}\n"));
    assert_eq!(d.ok(&["ps", "-q"]), format!("{short}\n"));
    assert_eq!(d.ok(&["images", "--format", "{{.Tag}}"]), "latest\n");
    assert!(d
        .ok(&["images", "--format", "table"])
        .starts_with("REPOSITORY"));

    // A table format in the file, and --config over $BERTH_CONFIG.
    let other = d.dir.path().join("other-config");
    write_config(&other, r#"{"psFormat": "table {{.Names}}\t{{.Status}}"}"#);
    let out = d.ok(&["--config", other.to_str().unwrap(), "ps"]);
    assert!(out.starts_with("NAMES "), "{out}");
    assert!(out.contains("\ncfgps ") && out.contains("Up "), "{out}");

    // The docker CLI reads the same file the same way.
    if d.docker_or_say() {
        let (out, err, code) = text(
            &d.docker()
                .unwrap()
                .env("DOCKER_CONFIG", &cfg)
                .args(["ps"])
                .output()
                .unwrap(),
        );
        assert_eq!((out.as_str(), code), ("cfgps|busybox\n", 0), "{err}");
    }
    d.ok(&["rm", "-f", "cfgps"]);
}

/// `attach` to a running `cat`, piped: what it echoes, line by line.
fn attach(
    d: &common::TestDaemon,
    extra: &[&str],
) -> (
    std::process::Child,
    std::process::ChildStdin,
    std::sync::mpsc::Receiver<String>,
) {
    let mut child = d
        .cmd()
        .arg("attach")
        .args(extra)
        .arg("echoer")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let lines = common::line_reader(child.stdout.take().unwrap());
    (child, stdin, lines)
}

fn running(d: &common::TestDaemon) -> bool {
    d.ok(&["inspect", "-f", "{{.State.Running}}", "echoer"])
        .trim()
        == "true"
}

#[test]
fn detach_keys_come_from_the_config_unless_the_flag_names_others() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&["run", "-d", "-i", "--name", "echoer", "busybox", "cat"]);
    write_config(&config_dir(&d), r#"{"detachKeys": "ctrl-x,x"}"#);

    // ctrl-p ctrl-q are no longer the keys: they reach cat, which echoes them back.
    let (mut child, mut stdin, lines) = attach(&d, &[]);
    stdin.write_all(b"hello\n").unwrap();
    assert_eq!(common::next_line(&lines, "the echo", |_| true), "hello");
    stdin.write_all(b"\x10\x11 passed\n").unwrap();
    assert_eq!(
        common::next_line(&lines, "the old keys echoed", |_| true),
        "\x10\x11 passed"
    );
    // The configured keys detach: status 0, the container runs on.
    stdin.write_all(b"\x18x").unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(running(&d));

    // --detach-keys wins over the file.
    let (mut child, mut stdin, lines) = attach(&d, &["--detach-keys", "ctrl-y,y"]);
    stdin.write_all(b"\x18x again\n").unwrap();
    assert_eq!(
        common::next_line(&lines, "the configured keys echoed", |_| true),
        "\x18x again"
    );
    stdin.write_all(b"\x19y").unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(running(&d));

    // Keys the daemon refuses show that the file's reach it; the flag still overrides them.
    write_config(&config_dir(&d), r#"{"detachKeys": "ctrl-1"}"#);
    let (_, err, code) = text(&d.berth(&["attach", "--no-stdin", "echoer"]));
    assert_ne!(code, 0);
    assert!(
        err.contains("Invalid detach keys (ctrl-1) provided"),
        "{err}"
    );
    let (mut child, mut stdin, lines) = attach(&d, &["--detach-keys", "ctrl-y,y"]);
    stdin.write_all(b"fine\n").unwrap();
    assert_eq!(common::next_line(&lines, "the echo", |_| true), "fine");
    stdin.write_all(b"\x19y").unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    d.ok(&["rm", "-f", "echoer"]);
}
