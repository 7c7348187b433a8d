//! CLI tests (assert_cmd, no root, no daemon) of what surrounds the binary: `completion`, the
//! files `berth __install` writes (what `just install` runs) and `__uninstall` removes, the
//! client's config file, and `daemon -H fd://` without systemd.

use assert_cmd::Command;
use predicates::prelude::*;
use std::collections::BTreeSet;
use std::path::Path;

fn berth() -> Command {
    let mut c = Command::cargo_bin("berth").unwrap();
    c.env("BERTH_HOST", "unix:///nonexistent/berth-test.sock");
    c.env_remove("BERTH_CONFIG");
    c
}

fn stdout_of(args: &[&str]) -> String {
    let out = berth().args(args).output().unwrap();
    assert!(out.status.success(), "berth {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The commands `berth --help` (or `berth GROUP --help`) lists, read from its help text.
fn listed_commands(args: &[&str]) -> Vec<String> {
    let help = stdout_of(args);
    let section = help
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands section");
    section
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect()
}

#[test]
fn completion_scripts_know_the_commands_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout_of(&["completion", shell]);
        for cmd in ["run", "images", "network", "completion", "daemon"] {
            assert!(script.contains(cmd), "{shell}: no {cmd}");
        }
        // The flags too, and none of the commands no user types.
        assert!(script.contains("publish"), "{shell}: no --publish");
        assert!(!script.contains("__install"), "{shell} offers __install");
    }
    assert!(stdout_of(&["completion", "bash"]).contains("complete -F _berth"));
    assert!(stdout_of(&["completion", "zsh"]).starts_with("#compdef berth"));
    assert!(stdout_of(&["completion", "fish"]).contains("complete -c berth"));
}

#[test]
fn bash_completes_commands_and_subcommands_with_the_script() {
    let bin = assert_cmd::cargo::cargo_bin("berth");
    // Sourced into bash, the script completes as a person pressing tab would see.
    let script = format!(
        r#"source <("{bin}" completion bash)
        COMP_WORDS=(berth ru); COMP_CWORD=1; _berth berth ru berth; echo "${{COMPREPLY[*]}}"
        COMP_WORDS=(berth network cr); COMP_CWORD=2; _berth berth cr network; echo "${{COMPREPLY[*]}}""#,
        bin = bin.display()
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "run\ncreate\n",
        "{out:?}"
    );
}

#[test]
fn an_unknown_shell_is_refused_by_name() {
    berth()
        .args(["completion", "tcsh"])
        .assert()
        .code(125)
        .stdout("")
        .stderr(predicate::str::contains("'tcsh'").and(predicate::str::contains("bash")));
}

fn files_under(root: &Path) -> BTreeSet<String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = BTreeSet::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out
}

/// The man pages a full install holds: berth.1, one per command, one per command of a group.
fn expected_pages() -> BTreeSet<String> {
    let mut pages = BTreeSet::from(["berth.1".to_string()]);
    for cmd in listed_commands(&["--help"]) {
        pages.insert(format!("berth-{cmd}.1"));
        if ["container", "network", "volume", "system", "image"].contains(&cmd.as_str()) {
            for sub in listed_commands(&[&cmd, "--help"]) {
                pages.insert(format!("berth-{cmd}-{sub}.1"));
            }
        }
    }
    pages
}

#[test]
fn install_writes_exactly_the_binary_completions_man_pages_and_units() {
    let stage = tempfile::tempdir().unwrap();
    berth()
        .args(["__install", "--prefix", "/opt/berth", "--destdir"])
        .arg(stage.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("installed "));
    let mut want: BTreeSet<String> = [
        "bin/berth",
        // Cargo builds it beside berth for the tests too.
        "bin/berth-runc",
        "share/bash-completion/completions/berth",
        "share/zsh/site-functions/_berth",
        "share/fish/vendor_completions.d/berth.fish",
        "lib/systemd/system/berth.service",
        "lib/systemd/system/berth.socket",
    ]
    .iter()
    .map(|p| format!("opt/berth/{p}"))
    .collect();
    let pages = expected_pages();
    assert!(pages.contains("berth-run.1") && pages.contains("berth-network-create.1"));
    want.extend(
        pages
            .iter()
            .map(|p| format!("opt/berth/share/man/man1/{p}")),
    );
    assert_eq!(files_under(stage.path()), want);

    let prefix = stage.path().join("opt/berth");
    // The installed binary is this one, and runs.
    let bin = prefix.join("bin/berth");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(bin.metadata().unwrap().permissions().mode() & 0o777, 0o755);
    let out = std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("berth "));
    // The unit runs it from the prefix, not from the staging root; the socket is the default.
    let service = std::fs::read_to_string(prefix.join("lib/systemd/system/berth.service")).unwrap();
    assert!(
        service.contains("\nExecStart=/opt/berth/bin/berth daemon -H fd://\n"),
        "{service}"
    );
    let socket = std::fs::read_to_string(prefix.join("lib/systemd/system/berth.socket")).unwrap();
    assert!(
        socket.contains("\nListenStream=/run/berth.sock\n"),
        "{socket}"
    );
    // The completions are the command's own.
    assert_eq!(
        std::fs::read_to_string(prefix.join("share/zsh/site-functions/_berth")).unwrap(),
        stdout_of(&["completion", "zsh"])
    );
    let page = std::fs::read_to_string(prefix.join("share/man/man1/berth-run.1")).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH berth-run 1"),
        "{page}"
    );

    // Installing again over it is fine; uninstall takes every file away.
    berth()
        .args(["__install", "--prefix", "/opt/berth", "--destdir"])
        .arg(stage.path())
        .assert()
        .success();
    berth()
        .args(["__uninstall", "--prefix", "/opt/berth", "--destdir"])
        .arg(stage.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("removed "));
    assert_eq!(files_under(stage.path()), BTreeSet::new());
}

#[test]
fn install_refuses_a_relative_prefix_and_writes_nothing() {
    let stage = tempfile::tempdir().unwrap();
    berth()
        .args(["__install", "--prefix", "usr/local", "--destdir"])
        .arg(stage.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "--prefix usr/local: must be an absolute path",
        ));
    assert_eq!(files_under(stage.path()), BTreeSet::new());
}

#[test]
fn a_broken_config_file_is_named_in_a_warning_and_the_command_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    std::fs::write(&file, "{bad").unwrap();
    let warning = format!("WARNING: Error parsing config file ({})", file.display());
    // Through --config, and through BERTH_CONFIG.
    berth()
        .arg("--config")
        .arg(dir.path())
        .arg("ps")
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains(&warning).and(predicate::str::contains("berth-test.sock")),
        );
    berth()
        .env("BERTH_CONFIG", dir.path())
        .args(["completion", "bash"])
        .assert()
        .success()
        .stderr(predicate::str::contains(&warning));
    // A known key of the wrong type spoils the file, as in docker.
    std::fs::write(&file, r#"{"psFormat": 5}"#).unwrap();
    berth()
        .env("BERTH_CONFIG", dir.path())
        .args(["completion", "bash"])
        .assert()
        .success()
        .stderr(predicate::str::contains(&warning).and(predicate::str::contains("psFormat")));
    // A good file, or none, says nothing.
    std::fs::write(&file, r#"{"psFormat": "{{.ID}}"}"#).unwrap();
    berth()
        .env("BERTH_CONFIG", dir.path())
        .args(["completion", "bash"])
        .assert()
        .success()
        .stderr("");
    berth()
        .env("BERTH_CONFIG", dir.path().join("none"))
        .args(["completion", "bash"])
        .assert()
        .success()
        .stderr("");
}

#[test]
fn daemon_fd_without_systemd_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = || {
        let mut c = berth();
        c.env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .args(["daemon", "-H", "fd://", "--root"])
            .arg(dir.path().join("root"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"));
        c
    };
    daemon()
        .assert()
        .code(1)
        .stderr(predicate::str::contains("none was passed (no LISTEN_FDS)"));
    // Sockets passed to another process (LISTEN_PID) are not taken.
    daemon()
        .env("LISTEN_FDS", "1")
        .env("LISTEN_PID", "1")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "for process 1 (LISTEN_PID), not this one",
        ));
    berth()
        .args(["daemon", "-H", "fd://x"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("invalid host \"fd://x\""));
    // Nothing was created on the way to the error.
    assert_eq!(files_under(dir.path()), BTreeSet::new());
    assert!(!dir.path().join("root").exists());
    // A client does not dial fd://.
    berth()
        .args(["-H", "fd://", "ps"])
        .assert()
        .code(125)
        .stderr(predicate::str::contains("fd:// is for the daemon"));
}
