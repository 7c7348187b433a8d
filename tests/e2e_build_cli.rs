//! e2e: `berth build` against the real Docker engine of the machine (`/var/run/docker.sock`):
//! since the client speaks Docker's own `POST /build`, Docker's classic builder is the
//! reference it is checked against. Skips (saying so) when that socket does not answer.
//! Every image is named uniquely and removed at the end: the engine is shared. RUN steps use
//! `--network none`, which needs no bridge on the host.

mod common;

use common::text;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

const SOCK: &str = "/var/run/docker.sock";

fn docker() -> Command {
    let mut c = Command::new("docker");
    c.args(["-H", &format!("unix://{SOCK}")]);
    c
}

/// The engine, with busybox loaded; None (said why) without one.
fn engine_or_skip() -> Option<()> {
    let answers = common::installed("docker")
        && std::os::unix::net::UnixStream::connect(SOCK).is_ok()
        && docker()
            .args(["version", "--format", "{{.Server.Version}}"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !answers {
        eprintln!("SKIPPED: no Docker engine answers on {SOCK} (start one with `dockerd &`)");
        return None;
    }
    let have = docker()
        .args(["image", "inspect", "busybox:latest"])
        .output()
        .unwrap();
    if !have.status.success() {
        let out = docker()
            .arg("load")
            .arg("-i")
            .arg(common::busybox_archive())
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}", text(&out));
    }
    Some(())
}

/// Image names of this test, removed when it ends however it ends.
struct Names(Vec<String>);

impl Names {
    fn new() -> Names {
        Names(Vec::new())
    }
    fn make(&mut self, what: &str) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = format!(
            "berth-e2e-build-{}-{}-{what}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        self.0.push(n.clone());
        n
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = docker().args(["rmi", "-f", n]).output();
        }
    }
}

fn berth_build(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
    c.args([
        "-H",
        &format!("unix://{SOCK}"),
        "build",
        "--network",
        "none",
    ])
    .args(args)
    .stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(data) = stdin {
        let mut w = child.stdin.take().unwrap();
        w.write_all(data).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn run_in(image: &str, script: &str) -> String {
    let out = docker()
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            image,
            "sh",
            "-c",
            script,
        ])
        .output()
        .unwrap();
    let (o, e, c) = text(&out);
    assert_eq!(c, 0, "docker run {image}: {e}");
    o
}

fn write(root: &Path, rel: &str, data: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn ok(out: &Output) -> String {
    let (o, e, c) = text(out);
    assert_eq!(c, 0, "berth build failed:\n{o}\n{e}");
    o
}

#[test]
fn a_tagged_build_honours_dockerignore_and_build_args() {
    let Some(()) = engine_or_skip() else { return };
    let mut names = Names::new();
    let name = names.make("ignore");
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(
        r,
        "Dockerfile",
        "FROM busybox\nARG V\nRUN echo \"$V\" > /v\nCOPY . /ctx\n",
    );
    write(
        r,
        ".dockerignore",
        "# secrets stay home\nsecret\n*.log\n!keep.log\nsub/**/*.tmp\n",
    );
    for f in [
        "a.txt",
        "secret",
        "x.log",
        "keep.log",
        "sub/dir/b.txt",
        "sub/dir/c.tmp",
    ] {
        write(r, f, f);
    }
    let out = berth_build(
        &["-t", &name, "--build-arg", "V=hello", r.to_str().unwrap()],
        None,
    );
    let o = ok(&out);
    assert!(o.starts_with("Sending build context to daemon "), "{o}");
    assert!(o.contains("Step 1/4 : FROM busybox"), "{o}");
    assert!(
        o.contains(&format!("Successfully tagged {name}:latest")),
        "{o}"
    );
    let listing = run_in(&name, "cat /v; cd /ctx && find . | sort");
    assert_eq!(
        listing,
        "hello\n.\n./.dockerignore\n./Dockerfile\n./a.txt\n./keep.log\n./sub\n./sub/dir\n./sub/dir/b.txt\n"
    );
}

#[test]
fn a_dockerfile_inside_or_outside_the_context() {
    let Some(()) = engine_or_skip() else { return };
    let mut names = Names::new();
    let (inside, outside) = (names.make("inside"), names.make("outside"));
    let d = tempfile::tempdir().unwrap();
    let ctx = d.path().join("ctx");
    write(&ctx, "f.txt", "f");
    write(
        &ctx,
        "build/Dockerfile.alt",
        "FROM busybox\nCOPY f.txt /inside\n",
    );
    write(
        d.path(),
        "elsewhere/Dockerfile",
        "FROM busybox\nCOPY . /ctx\n",
    );
    let alt = ctx.join("build/Dockerfile.alt");
    ok(&berth_build(
        &[
            "-t",
            &inside,
            "-f",
            alt.to_str().unwrap(),
            ctx.to_str().unwrap(),
        ],
        None,
    ));
    assert_eq!(run_in(&inside, "cat /inside"), "f");
    let df = d.path().join("elsewhere/Dockerfile");
    ok(&berth_build(
        &[
            "-t",
            &outside,
            "-f",
            df.to_str().unwrap(),
            ctx.to_str().unwrap(),
        ],
        None,
    ));
    // The Dockerfile rode along under a random name that the added .dockerignore hides.
    assert_eq!(
        run_in(&outside, "cd /ctx && find . | sort"),
        ".\n./build\n./build/Dockerfile.alt\n./f.txt\n"
    );
}

#[test]
fn stdin_carries_a_dockerfile_or_a_whole_context() {
    let Some(()) = engine_or_skip() else { return };
    let mut names = Names::new();
    let (df, tarred, both) = (
        names.make("stdin-df"),
        names.make("stdin-tar"),
        names.make("df-dash"),
    );
    let o = ok(&berth_build(
        &["-t", &df, "-"],
        Some(b"FROM busybox\nRUN echo from-stdin > /s\n"),
    ));
    assert!(
        o.contains("Sending build context to daemon  2.048kB"),
        "{o}"
    );
    assert_eq!(run_in(&df, "cat /s"), "from-stdin\n");

    let d = tempfile::tempdir().unwrap();
    write(d.path(), "Dockerfile.t", "FROM busybox\nCOPY data /data\n");
    write(d.path(), "data", "in-the-tar");
    let tar = Command::new("tar")
        .args([
            "-C",
            d.path().to_str().unwrap(),
            "-czf",
            "-",
            "Dockerfile.t",
            "data",
        ])
        .output()
        .unwrap();
    assert!(tar.status.success());
    ok(&berth_build(
        &["-t", &tarred, "-f", "Dockerfile.t", "-"],
        Some(&tar.stdout),
    ));
    assert_eq!(run_in(&tarred, "cat /data"), "in-the-tar");

    // `-f -` with a directory: the Dockerfile from stdin, the files from the directory.
    ok(&berth_build(
        &["-t", &both, "-f", "-", d.path().to_str().unwrap()],
        Some(b"FROM busybox\nCOPY data /d2\n"),
    ));
    assert_eq!(run_in(&both, "cat /d2"), "in-the-tar");
}

#[test]
fn quiet_prints_the_id_and_iidfile_keeps_it() {
    let Some(()) = engine_or_skip() else { return };
    let mut names = Names::new();
    let name = names.make("quiet");
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "Dockerfile",
        "FROM busybox\nLABEL who=berth-e2e\nRUN true\n",
    );
    let iid = d.path().join("iid");
    std::fs::write(&iid, "stale").unwrap();
    let out = berth_build(
        &[
            "-q",
            "-t",
            &name,
            "--label",
            "extra=1",
            "--iidfile",
            iid.to_str().unwrap(),
            d.path().to_str().unwrap(),
        ],
        None,
    );
    let o = ok(&out);
    let id = docker()
        .args(["image", "inspect", "-f", "{{.Id}}", &name])
        .output()
        .unwrap();
    let id = String::from_utf8(id.stdout).unwrap();
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(o, id, "-q prints the id alone");
    // With -q, docker writes what the stream said: the id and its newline.
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), id);
    let labels = docker()
        .args(["image", "inspect", "-f", "{{json .Config.Labels}}", &name])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&labels.stdout).trim(),
        r#"{"extra":"1","who":"berth-e2e"}"#
    );

    // Without -q, --iidfile holds the id from `aux`, without a newline.
    let out = berth_build(
        &[
            "--iidfile",
            iid.to_str().unwrap(),
            d.path().to_str().unwrap(),
        ],
        None,
    );
    ok(&out);
    let written = std::fs::read_to_string(&iid).unwrap();
    assert!(
        written.starts_with("sha256:") && !written.ends_with('\n'),
        "{written:?}"
    );
    names.0.push(written);
}

#[test]
fn a_failing_run_exits_with_its_code() {
    let Some(()) = engine_or_skip() else { return };
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "Dockerfile",
        "FROM busybox\nRUN echo bad && exit 3\n",
    );
    // --force-rm: the failed step's container is not left on the shared engine.
    let out = berth_build(&["--force-rm", d.path().to_str().unwrap()], None);
    let (o, e, c) = text(&out);
    assert_eq!(c, 3, "{o}\n{e}");
    assert!(o.contains("bad\n"), "{o}");
    assert_eq!(
        e,
        "The command '/bin/sh -c echo bad && exit 3' returned a non-zero code: 3\n"
    );
    // A daemon that refuses the request: its message, exit 1.
    let out = berth_build(
        &["--target", "nosuchstage", d.path().to_str().unwrap()],
        None,
    );
    let (o, e, c) = text(&out);
    assert_eq!(c, 1, "{o}\n{e}");
    assert!(e.contains("nosuchstage"), "{e}");
}
