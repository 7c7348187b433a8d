//! CLI tests (assert_cmd): flags, usage errors and the daemon-less case, no root needed.

use assert_cmd::Command;
use predicates::prelude::*;

fn berth() -> Command {
    let mut c = Command::cargo_bin("berth").unwrap();
    c.env("BERTH_HOST", "unix:///nonexistent/berth-test.sock");
    c
}

#[test]
fn help_lists_the_commands() {
    berth().arg("--help").assert().success().stdout(
        predicate::str::contains("run")
            .and(predicate::str::contains("daemon"))
            .and(predicate::str::contains("images")),
    );
}

#[test]
fn without_a_daemon_one_line_names_the_socket_and_exits_1() {
    for cmd in [
        &["ps"][..],
        &["images"],
        &["run", "--rm", "busybox", "true"],
        &["version"],
    ] {
        berth().args(cmd).assert().code(1).stderr(
            predicate::str::contains("unix:///nonexistent/berth-test.sock")
                .and(predicate::str::contains("berth daemon")),
        );
    }
}

#[test]
fn unknown_flags_exit_125_like_docker() {
    berth()
        .args(["run", "--no-such-flag", "busybox"])
        .assert()
        .code(125);
    berth().args(["ps", "--no-such-flag"]).assert().code(125);
}

#[test]
fn run_needs_an_image() {
    berth()
        .arg("run")
        .assert()
        .code(125)
        .stderr(predicate::str::contains("<IMAGE>"));
}

#[test]
fn only_unix_sockets_are_accepted() {
    berth()
        .args(["-H", "tcp://127.0.0.1:2375", "ps"])
        .assert()
        .code(125)
        .stderr(predicate::str::contains("unix sockets only"));
}

#[test]
fn load_of_a_missing_file_names_it() {
    berth()
        .args(["load", "-i", "/nonexistent/image.tar"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("/nonexistent/image.tar"));
}

#[test]
fn daemon_rejects_a_bad_subnet_pool() {
    // dockerd's flag, and berth's older name for it.
    for flag in ["--default-address-pool", "--default-subnet-pool"] {
        berth()
            .args(["daemon", flag, "base=notacidr,size=24"])
            .assert()
            .code(125)
            .stderr(predicate::str::contains("notacidr"));
    }
}

#[test]
fn build_flag_errors_need_no_daemon() {
    berth()
        .args(["build", "-t", "Bad:Tag:x", "."])
        .assert()
        .code(125)
        .stderr(predicate::str::contains(
            "invalid argument \"Bad:Tag:x\" for \"-t, --tag\" flag: invalid reference format",
        ));
    berth()
        .args(["build", "--build-arg", "=v", "."])
        .assert()
        .code(125)
        .stderr(predicate::str::contains("invalid environment variable: =v"));
    berth()
        .args(["build", "--no-such-flag", "."])
        .assert()
        .code(125);
    berth().arg("build").assert().code(125);
}

#[test]
fn build_contexts_that_cannot_be_sent_are_refused_before_any_connection() {
    berth()
        .args(["build", "-f", "-", "-"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "invalid argument: can't use stdin for both build context and dockerfile",
        ));
    berth()
        .args(["build", "/nonexistent/ctx"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "unable to prepare context: path \"/nonexistent/ctx\" not found",
        ));
    berth()
        .args(["build", "https://example.com/repo.git"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "berth build: remote contexts are not supported yet: https://example.com/repo.git",
        ));
    let dir = tempfile::tempdir().unwrap();
    berth()
        .args(["build", dir.path().to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "unable to evaluate symlinks in Dockerfile path",
        ));
}

#[test]
fn build_without_a_daemon_names_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM busybox\n").unwrap();
    berth()
        .args(["build", dir.path().to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "unix:///nonexistent/berth-test.sock",
        ));
}

#[test]
fn network_flags_are_checked_before_any_daemon_is_asked() {
    // Flag errors exit 125 as docker's do; docker's own client-side checks (IPAM pairing,
    // --ingress) exit 1 with its words; a missing daemon is named.
    for (args, code) in [
        (&["network", "create"][..], 125),
        (&["network", "create", "--label", "=x", "n"], 125),
        (&["network", "ls", "-f", "nofilter"], 125),
        (&["network", "ls", "extra"], 125),
        (&["network", "inspect"], 125),
        (&["network", "connect", "n1"], 125),
        (&["network", "connect", "--link", "a:b:c", "n1", "c1"], 125),
        (&["network", "disconnect", "n1"], 125),
        (&["network", "rm"], 125),
        (&["network", "prune", "--filter", "x"], 125),
        (&["network", "nosuch"], 125),
        (&["run", "--dns", "x", "busybox"], 125),
        (&["run", "--dns-search", "-x-", "busybox"], 125),
        (&["run", "--link", "a:b:c", "busybox"], 125),
        (&["network", "create", "--ingress", "n"], 1),
    ] {
        berth().args(args).assert().code(code);
    }
    berth()
        .args(["network", "create", "--gateway", "10.0.0.1", "n"])
        .assert()
        .code(1)
        .stderr("every ip-range or gateway must have a corresponding subnet\n");
    berth()
        .args([
            "network",
            "create",
            "--subnet",
            "10.1.0.0/16",
            "--ip-range",
            "10.2.0.0/24",
            "n",
        ])
        .assert()
        .code(1)
        .stderr("no matching subnet for range 10.2.0.0/24\n");
    berth()
        .args(["network", "ls"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "unix:///nonexistent/berth-test.sock",
        ));
    berth()
        .args(["network", "ls", "-f", "nofilter"])
        .assert()
        .stderr(predicate::str::contains(
            "bad format of filter (expected name=value)",
        ));
}

#[test]
fn storage_flags_of_run_and_create_are_refused_before_any_daemon_is_asked() {
    // docker exits 125 on a flag it cannot read; the words are its client's.
    for (args, words) in [
        (
            &["run", "--mount", "type=bind,src=/a", "busybox"][..],
            "invalid argument \"type=bind,src=/a\" for \"--mount\" flag: target is required",
        ),
        (
            &["create", "--mount", "type=volume,dst=/x,bogus", "busybox"],
            "invalid field 'bogus' must be a key=value pair",
        ),
        (
            &[
                "run",
                "--mount",
                "type=bind,src=/a,dst=/x,volume-nocopy",
                "busybox",
            ],
            "cannot mix 'volume-*' options with mount type 'bind'",
        ),
        (
            &[
                "run",
                "--mount",
                "type=tmpfs,dst=/x,tmpfs-size=lots",
                "busybox",
            ],
            "invalid value for tmpfs-size: lots",
        ),
        (
            &["run", "-v", "/a::/b", "busybox"],
            "invalid spec: /a::/b: empty section between colons",
        ),
        (
            &["create", "--volume", "/a:/b:ro:x", "busybox"],
            "invalid spec: /a:/b:ro:x: too many colons",
        ),
    ] {
        berth()
            .args(args)
            .assert()
            .code(125)
            .stderr(predicate::str::contains(words));
    }
    // A good mount gets as far as the daemon, which is not there.
    berth()
        .args([
            "run",
            "--rm",
            "--mount",
            "type=tmpfs,dst=/x",
            "-v",
            "/data",
            "busybox",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "unix:///nonexistent/berth-test.sock",
        ));
}

#[test]
fn volume_flags_are_checked_before_any_daemon_is_asked() {
    for args in [
        &["volume", "inspect"][..],
        &["volume", "rm"],
        &["volume", "ls", "-f", "nofilter"],
        &["volume", "ls", "extra"],
        &["volume", "create", "a", "b"],
        &["volume", "create", "--label", "=x", "v"],
        &["volume", "prune", "--filter", "x"],
        &["volume", "nosuch"],
    ] {
        berth().args(args).assert().code(125);
    }
    // docker's own client-side refusals exit 1 with its words.
    berth()
        .args(["volume", "create", "--name", "a", "a"])
        .assert()
        .code(1)
        .stderr("conflicting options: cannot specify a volume-name through both --name and as a positional arg\n");
    berth()
        .args(["volume", "prune", "-a", "-f", "--filter", "all=1"])
        .assert()
        .code(1)
        .stderr("conflicting options: cannot specify both --all and --filter all=1\n");
    for args in [
        &["volume", "ls"][..],
        &["volume", "create", "v"],
        &["volume", "rm", "v"],
        &["volume", "inspect", "v"],
    ] {
        berth()
            .args(args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(
                "unix:///nonexistent/berth-test.sock",
            ));
    }
}

#[test]
fn rm_volumes_is_a_flag_of_rm() {
    berth().args(["rm", "-v"]).assert().code(125);
    berth()
        .args(["rm", "-v", "--force", "c"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "unix:///nonexistent/berth-test.sock",
        ));
}

#[test]
fn system_df_takes_no_arguments() {
    berth().args(["system", "df", "extra"]).assert().code(125);
    berth().args(["system", "df", "--nope"]).assert().code(125);
    berth()
        .args(["system", "df", "-v"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "unix:///nonexistent/berth-test.sock",
        ));
}
