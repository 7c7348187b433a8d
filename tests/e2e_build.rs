//! e2e: the builder (chapter 08) driven by the real docker CLI's classic builder
//! (`DOCKER_BUILDKIT=0`) and by raw `POST /build` requests: every instruction's effect on the
//! image, the cache's hits and misses, multi-stage builds, failing steps and hostile
//! contexts. Skips when not root or when no docker client is installed.

mod common;

use common::{text, TestDaemon};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn docker(d: &TestDaemon) -> Option<Command> {
    let mut c = d.docker()?;
    c.env("DOCKER_BUILDKIT", "0");
    Some(c)
}

macro_rules! docker_or_skip {
    ($d:expr) => {
        match docker(&$d) {
            Some(_) => {}
            None => {
                eprintln!("SKIPPED: no docker client installed");
                return;
            }
        }
    };
}

fn build(d: &TestDaemon, dir: &Path, args: &[&str]) -> (String, String, i32) {
    let mut c = docker(d).unwrap();
    c.arg("build").args(args).arg(dir);
    text(&c.output().unwrap())
}

fn inspect(d: &TestDaemon, name: &str) -> Value {
    let out = docker(d)
        .unwrap()
        .args(["image", "inspect", name])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v[0].clone()
}

fn write(dir: &Path, name: &str, body: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

fn run(d: &TestDaemon, args: &[&str]) -> (String, String, i32) {
    let mut c = docker(d).unwrap();
    c.args(["run", "--rm"]).args(args);
    text(&c.output().unwrap())
}

#[test]
fn every_instruction_reaches_the_image() {
    let d = daemon_or_skip!();
    docker_or_skip!(d);
    d.load_busybox();
    let ctx = d.dir.path().join("ctx");
    write(&ctx, "app/hello.txt", "hello\n");
    write(&ctx, "app/sub/deep.txt", "deep\n");
    write(
        &ctx,
        "Dockerfile",
        r#"# a comment
FROM busybox
LABEL maintainer.team="blue team" version=1
MAINTAINER A Learner
ARG GREETING=hi
ENV APP_HOME=/srv/app \
    MODE=${GREETING}-prod
WORKDIR $APP_HOME
COPY app/ ./
COPY --chown=1:2 --chmod=0640 app/hello.txt /owned/
RUN echo "$GREETING from $MODE" > /greeting && \
    ls /srv/app > /listing
RUN <<EOF
echo heredoc > /heredoc
EOF
EXPOSE 8080 53/udp
VOLUME /data
USER nobody
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --retries=2 CMD true
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["cat"]
CMD ["/greeting"]
ONBUILD RUN echo child
"#,
    );
    let (out, err, c) = build(&d, &ctx, &["-t", "every", "--build-arg", "GREETING=hey"]);
    assert_eq!(c, 0, "{out}\n{err}\n{}", d.log());
    assert!(out.contains("Step 1/19 : FROM busybox"), "{out}");
    assert!(out.contains("Successfully tagged every:latest"), "{out}");
    let img = inspect(&d, "every");
    let cfg = &img["Config"];
    assert_eq!(cfg["Labels"]["maintainer.team"], "blue team");
    assert_eq!(cfg["Labels"]["version"], "1");
    assert_eq!(img["Author"], "A Learner");
    let env: Vec<&str> = cfg["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(env.contains(&"APP_HOME=/srv/app"), "{env:?}");
    assert!(env.contains(&"MODE=hey-prod"), "{env:?}");
    assert!(
        !env.iter().any(|e| e.starts_with("GREETING=")),
        "ARGs stay out of the config"
    );
    assert_eq!(cfg["WorkingDir"], "/srv/app");
    assert_eq!(cfg["User"], "nobody");
    assert_eq!(cfg["StopSignal"], "SIGQUIT");
    assert_eq!(cfg["Entrypoint"], serde_json::json!(["cat"]));
    assert_eq!(cfg["Cmd"], serde_json::json!(["/greeting"]));
    assert_eq!(cfg["Shell"], serde_json::json!(["/bin/sh", "-ec"]));
    assert_eq!(cfg["OnBuild"], serde_json::json!(["RUN echo child"]));
    assert!(cfg["ExposedPorts"]["8080/tcp"].is_object(), "{cfg}");
    assert!(cfg["ExposedPorts"]["53/udp"].is_object(), "{cfg}");
    assert!(cfg["Volumes"]["/data"].is_object(), "{cfg}");
    assert_eq!(
        cfg["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000i64, "Retries": 2})
    );

    // The files: RUN saw the build arg and the COPY; the chown and chmod held.
    let (out, err, c) = run(&d, &["every"]);
    assert_eq!((out.as_str(), c), ("hey from hey-prod\n", 0), "{err}");
    let (out, _, _) = run(&d, &["every", "/listing"]);
    assert_eq!(out, "hello.txt\nsub\n");
    let (out, _, _) = run(&d, &["every", "/heredoc"]);
    assert_eq!(out, "heredoc\n");
    let (out, err, _) = run(
        &d,
        &[
            "--entrypoint",
            "stat",
            "every",
            "-c",
            "%u:%g %a",
            "/owned/hello.txt",
        ],
    );
    assert_eq!(out, "1:2 640\n", "{err}");

    // History reads like Docker's.
    let (out, _, _) = text(
        &docker(&d)
            .unwrap()
            .args([
                "history",
                "--no-trunc",
                "--format",
                "{{.CreatedBy}}",
                "every",
            ])
            .output()
            .unwrap(),
    );
    assert!(
        out.contains("/bin/sh -c #(nop)  ENV APP_HOME=/srv/app MODE=hey-prod"),
        "{out}"
    );
    assert!(
        out.contains("|1 GREETING=hey /bin/sh -c echo \"$GREETING from $MODE\""),
        "{out}"
    );
    assert!(out.contains("/bin/sh -c #(nop) COPY dir:"), "{out}");

    // ONBUILD fires in the child, and is not inherited further.
    let child = d.dir.path().join("child");
    write(&child, "Dockerfile", "FROM every\nRUN true\n");
    let (out, err, c) = build(&d, &child, &["-t", "child"]);
    assert_eq!(c, 0, "{out}\n{err}");
    assert!(out.contains("# Executing 1 build trigger"), "{out}");
    assert!(out.contains("\nchild\n"), "{out}");
    assert!(inspect(&d, "child")["Config"]["OnBuild"].is_null());
}

#[test]
fn the_cache_hits_on_content_and_misses_from_the_first_change() {
    let d = daemon_or_skip!();
    docker_or_skip!(d);
    d.load_busybox();
    let ctx = d.dir.path().join("ctx");
    write(&ctx, "f.txt", "one\n");
    write(
        &ctx,
        "Dockerfile",
        "FROM busybox\nCOPY f.txt /f\nRUN cat /f > /g\nENV X=1\n",
    );
    let (out, err, c) = build(&d, &ctx, &["-t", "cached"]);
    assert_eq!(c, 0, "{out}{err}");
    assert!(!out.contains("Using cache"), "{out}");
    let first = inspect(&d, "cached")["Id"].clone();

    // Touching the file keeps every step cached: mtimes are not part of the key.
    let f = std::fs::File::options()
        .write(true)
        .open(ctx.join("f.txt"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
        .unwrap();
    let (out, _, c) = build(&d, &ctx, &["-t", "cached"]);
    assert_eq!(c, 0);
    assert_eq!(out.matches(" ---> Using cache").count(), 3, "{out}");
    assert_eq!(inspect(&d, "cached")["Id"], first);

    // One byte changed: the COPY misses, and so does everything after it.
    write(&ctx, "f.txt", "two\n");
    let (out, _, c) = build(&d, &ctx, &["-t", "cached"]);
    assert_eq!(c, 0);
    assert_eq!(out.matches(" ---> Using cache").count(), 0, "{out}");
    assert_eq!(run(&d, &["cached", "cat", "/g"]).0, "two\n");

    // --no-cache builds all again; a restarted daemon still has the cache.
    let (out, _, _) = build(&d, &ctx, &["--no-cache", "-t", "cached"]);
    assert!(!out.contains("Using cache"), "{out}");
    let mut d = d;
    d.restart_daemon();
    let (out, _, c) = build(&d, &ctx, &["-t", "cached"]);
    assert_eq!(c, 0);
    assert_eq!(out.matches(" ---> Using cache").count(), 3, "{out}");

    // --cache-from: an image that came from elsewhere (saved and loaded: no parents, no cache
    // entries) stands in for the steps its history shows.
    let archive = d.dir.path().join("cached.tar");
    d.ok(&["save", "-o", archive.to_str().unwrap(), "cached"]);
    d.ok(&["tag", "cached", "cached:keep"]);
    let (_, err, c) = text(
        &docker(&d)
            .unwrap()
            .args(["rmi", "cached", "cached:keep"])
            .output()
            .unwrap(),
    );
    assert_eq!(c, 0, "{err}");
    d.ok(&["load", "-i", archive.to_str().unwrap()]);
    let (out, _, c) = build(&d, &ctx, &["-t", "cached"]);
    assert_eq!(c, 0);
    assert_eq!(
        out.matches(" ---> Using cache").count(),
        0,
        "loaded images are no cache: {out}"
    );
    let (out, _, c) = build(&d, &ctx, &["--cache-from", "cached", "-t", "cached:from"]);
    assert_eq!(c, 0);
    assert_eq!(out.matches(" ---> Using cache").count(), 3, "{out}");
    let (_, err, c) = text(
        &docker(&d)
            .unwrap()
            .args(["rmi", "cached:from"])
            .output()
            .unwrap(),
    );
    assert_eq!(c, 0, "{err}");

    // Intermediate images hide from `images` but not from `images -a`; rmi takes them too.
    let count = |all: bool| {
        let mut c = docker(&d).unwrap();
        c.args(["images", "-q"]);
        if all {
            c.arg("-a");
        }
        text(&c.output().unwrap()).0.lines().count()
    };
    assert!(
        count(true) > count(false),
        "{} vs {}",
        count(true),
        count(false)
    );
    let (_, err, c) = text(
        &docker(&d)
            .unwrap()
            .args(["rmi", "cached"])
            .output()
            .unwrap(),
    );
    assert_eq!(c, 0, "{err}");
    // What the earlier builds left dangling goes with a prune.
    let (_, err, c) = text(
        &docker(&d)
            .unwrap()
            .args(["image", "prune", "-f"])
            .output()
            .unwrap(),
    );
    assert_eq!(c, 0, "{err}");
    assert_eq!(count(true), 1, "only busybox is left");
    let cache = d.root.join("image/overlay2/buildcache");
    let left: Vec<_> = std::fs::read_dir(&cache)
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "cache entries left behind: {left:?}");
}

#[test]
fn multi_stage_targets_and_failures() {
    let d = daemon_or_skip!();
    docker_or_skip!(d);
    d.load_busybox();
    let ctx = d.dir.path().join("ctx");
    write(
        &ctx,
        "Dockerfile",
        "FROM busybox AS build\nRUN echo artifact > /artifact\n\
         FROM busybox AS never\nRUN exit 9\n\
         FROM busybox AS final\nCOPY --from=build /artifact /artifact\nCMD [\"cat\", \"/artifact\"]\n\
         FROM final AS debug\nRUN echo debug > /debug\n",
    );
    let (out, err, c) = build(&d, &ctx, &["-t", "ms", "--target", "final"]);
    assert_eq!(c, 0, "{out}{err}");
    assert!(
        !out.contains("exit 9"),
        "a stage the target does not need is skipped: {out}"
    );
    assert!(!out.contains("echo debug"), "{out}");
    assert_eq!(run(&d, &["ms"]).0, "artifact\n");

    let (_, err, c) = build(&d, &ctx, &["--target", "nope"]);
    assert_ne!(c, 0);
    assert!(
        err.contains("failed to reach build target nope in Dockerfile"),
        "{err}"
    );

    // A failing RUN: Docker's words and its exit code; the step's container stays unless
    // --force-rm, and nothing stays mounted.
    write(&ctx, "Dockerfile", "FROM busybox\nRUN echo bad && exit 7\n");
    let (out, err, c) = build(&d, &ctx, &[]);
    assert_eq!(c, 7, "{out}{err}");
    assert!(out.contains("bad\n"), "{out}");
    assert!(
        err.contains("The command '/bin/sh -c echo bad && exit 7' returned a non-zero code: 7"),
        "{err}"
    );
    let ps = |d: &TestDaemon| text(&docker(d).unwrap().args(["ps", "-aq"]).output().unwrap()).0;
    assert_eq!(ps(&d).lines().count(), 1);
    let (_, _, c) = build(&d, &ctx, &["--force-rm"]);
    assert_eq!(c, 7);
    assert_eq!(
        ps(&d).lines().count(),
        1,
        "--force-rm removed the failed step's container"
    );

    // A parse error names the line before any step runs.
    write(&ctx, "Dockerfile", "FROM busybox\nRUN true\nFORM x\n");
    let (out, err, c) = build(&d, &ctx, &[]);
    assert_ne!(c, 0);
    assert!(
        err.contains("Dockerfile parse error line 3: unknown instruction: FORM"),
        "{err}"
    );
    assert!(!out.contains("Step 1"), "{out}");
}

#[test]
fn dockerfile_from_stdin_elsewhere_and_dockerignore() {
    let d = daemon_or_skip!();
    docker_or_skip!(d);
    d.load_busybox();
    let ctx = d.dir.path().join("ctx");
    write(&ctx, "keep.txt", "keep\n");
    write(&ctx, "secret.key", "nope\n");
    write(&ctx, "logs/a.log", "nope\n");
    write(&ctx, "logs/important.log", "yes\n");
    write(
        &ctx,
        ".dockerignore",
        "# comment\n*.key\nlogs\n!logs/important.log\n",
    );
    write(
        &d.dir.path().join("elsewhere"),
        "build.Dockerfile",
        "FROM busybox\nCOPY . /ctx/\nRUN find /ctx -type f | sort > /files\nCMD [\"cat\", \"/files\"]\n",
    );
    let df = d.dir.path().join("elsewhere/build.Dockerfile");
    let (out, err, c) = build(&d, &ctx, &["-t", "ign", "-f", df.to_str().unwrap()]);
    assert_eq!(c, 0, "{out}{err}");
    let (files, _, _) = run(&d, &["ign"]);
    assert!(files.contains("/ctx/keep.txt\n"), "{files}");
    assert!(files.contains("/ctx/logs/important.log\n"), "{files}");
    assert!(
        !files.contains("secret.key") && !files.contains("a.log"),
        "{files}"
    );

    // `docker build -` with a Dockerfile on stdin and no context.
    let out = common::output_with_stdin(
        docker(&d).unwrap().args(["build", "-t", "stdin", "-"]),
        b"FROM busybox\nRUN echo from-stdin > /s\n",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(run(&d, &["stdin", "cat", "/s"]).0, "from-stdin\n");
}

/// A raw `POST /build` over the daemon's socket; the body as given, the stream's lines back.
fn post_build(d: &TestDaemon, query: &str, body: &[u8]) -> Vec<Value> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    write!(
        s,
        "POST /v1.41/build?{query} HTTP/1.0\r\nHost: x\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    body.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// A header for a regular file of `len` bytes, owned by root, as a client would send it.
fn file_header(len: usize) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(len as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = file_header(data.len());
        // Written raw: the tar crate refuses to *make* a `..` path, and a hostile client would.
        let bytes = name.as_bytes();
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn hostile_contexts_and_archives_stay_inside() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let outside = d.dir.path().join("escaped");
    let name = format!("../../../../../../..{}", outside.display());
    let body = tar_of(&[("Dockerfile", b"FROM busybox\n"), (&name, b"x")]);
    let lines = post_build(&d, "t=hostile", &body);
    assert!(
        !outside.exists(),
        "a context entry wrote outside the context"
    );
    assert!(
        lines.iter().any(|l| l["error"].is_string()),
        "the build must fail: {lines:?}"
    );

    // A link pointing out of the context is copied as a link, never as the file it names.
    let ctx = d.dir.path().join("ctx");
    write(
        &ctx,
        "Dockerfile",
        "FROM busybox\nCOPY link /link\nRUN readlink /link > /target\n",
    );
    std::os::unix::fs::symlink("/etc/shadow", ctx.join("link")).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", &ctx).unwrap();
    let lines = post_build(&d, "t=linked", &b.into_inner().unwrap());
    assert!(
        lines.iter().any(|l| l["aux"]["ID"].is_string()),
        "{lines:?}\n{}",
        d.log()
    );
    let out = d.ok(&["run", "--rm", "linked", "cat", "/target"]);
    assert_eq!(out, "/etc/shadow\n");

    // ADD unpacks a local archive by content and fetches a URL (from 127.0.0.1 only).
    let mut inner = tar::Builder::new(Vec::new());
    let mut h = file_header(3);
    h.set_path("inside/file").unwrap();
    h.set_cksum();
    inner.append(&h, &b"abc"[..]).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &inner.into_inner().unwrap()).unwrap();
    let archive = gz.finish().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Detached: if the build failed before fetching, nobody would ever connect.
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\nserved\n");
    });
    let dockerfile = format!(
        "FROM busybox\nADD a.tar.gz /unpacked/\nADD http://127.0.0.1:{port}/remote.txt /r/\n"
    );
    let body = {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in [
            ("Dockerfile", dockerfile.as_bytes()),
            ("a.tar.gz", &archive[..]),
        ] {
            let mut h = file_header(data.len());
            h.set_path(name).unwrap();
            h.set_cksum();
            b.append(&h, data).unwrap();
        }
        b.into_inner().unwrap()
    };
    let lines = post_build(&d, "t=added", &body);
    assert!(
        lines.iter().any(|l| l["aux"]["ID"].is_string()),
        "{lines:?}"
    );
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "added",
            "cat",
            "/unpacked/inside/file",
            "/r/remote.txt"
        ]),
        "abcserved\n"
    );
    let out = d.ok(&["run", "--rm", "added", "stat", "-c", "%a", "/r/remote.txt"]);
    assert_eq!(out, "600\n");
}

/// Docker stops near 125 layers ("max depth exceeded"); berth builds a 200-layer image and
/// runs a step, and then a container, on top of it.
#[test]
fn a_build_of_two_hundred_layers() {
    let d = daemon_or_skip!();
    docker_or_skip!(d);
    d.load_busybox();
    let ctx = d.dir.path().join("ctx");
    let mut dockerfile = String::from("FROM busybox\n");
    for i in 0..199 {
        write(&ctx, &format!("f{i}"), &format!("{i}\n"));
        dockerfile.push_str(&format!("COPY f{i} /layers/\n"));
    }
    dockerfile.push_str("RUN ls /layers | wc -l > /count\n");
    write(&ctx, "Dockerfile", &dockerfile);
    let (out, err, c) = build(&d, &ctx, &["-t", "deep"]);
    assert_eq!(
        c,
        0,
        "{}\n{err}\n{}",
        &out[out.len().saturating_sub(2000)..],
        d.log()
    );
    let layers = inspect(&d, "deep")["RootFS"]["Layers"]
        .as_array()
        .map(|l| l.len())
        .unwrap_or(0);
    assert!(layers >= 200, "{layers} layers");
    assert_eq!(
        run(&d, &["deep", "cat", "/count", "/layers/f0", "/layers/f198"]).0,
        "199\n0\n198\n"
    );
}

/// berth's own CLI against berth's daemon: tags, `-q`, `--iidfile`, build args, labels, a
/// context on stdin, and a failing step's exit code.
#[test]
fn berth_build_against_berth() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let ctx = d.dir.path().join("ctx");
    write(&ctx, "f.txt", "from the context\n");
    write(&ctx, ".dockerignore", "*.secret\n");
    write(&ctx, "x.secret", "no\n");
    write(
        &ctx,
        "Dockerfile",
        "FROM busybox\nARG WHO=nobody\nCOPY . /ctx/\nRUN echo \"built by $WHO\" > /who\n",
    );
    let iid = d.dir.path().join("iid");
    let ctx_s = ctx.to_str().unwrap();
    let out = d.berth(&[
        "build",
        "-q",
        "-t",
        "mine",
        "--build-arg",
        "WHO=berth",
        "--label",
        "made=here",
        "--iidfile",
        iid.to_str().unwrap(),
        ctx_s,
    ]);
    let (stdout, stderr, code) = text(&out);
    assert_eq!(code, 0, "{stdout}{stderr}\n{}", d.log());
    // With -q the docker CLI writes what it printed, the id and its newline.
    let id = std::fs::read_to_string(&iid).unwrap();
    assert!(id.starts_with("sha256:"), "{id:?}");
    assert_eq!(stdout, id, "-q prints the id alone");
    assert_eq!(
        d.ok(&["run", "--rm", "mine", "cat", "/who"]),
        "built by berth\n"
    );
    assert_eq!(
        d.ok(&["run", "--rm", "mine", "ls", "/ctx"]),
        "Dockerfile\nf.txt\n"
    );
    assert_eq!(
        d.ok(&["inspect", "-f", "{{index .Config.Labels \"made\"}}", "mine"]),
        "here\n"
    );

    // The whole output, and the cache on a second build.
    let (stdout, _, code) = text(&d.berth(&["build", "-t", "mine", ctx_s]));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("Sending build context to daemon"),
        "{stdout}"
    );
    assert!(stdout.contains(" ---> Using cache"), "{stdout}");
    assert!(
        stdout.contains("Successfully tagged mine:latest"),
        "{stdout}"
    );

    // What berth cannot honour is refused, not ignored; the refusal reaches the client even
    // when it comes before a large context has been read.
    let big = d.dir.path().join("big");
    write(
        &big,
        "Dockerfile",
        "FROM busybox\nRUN df -k /dev/shm | tail -1 > /shm\n",
    );
    write(&big, "blob", &"0123456789abcdef".repeat(1 << 19));
    let big_s = big.to_str().unwrap();
    let (_, stderr, code) = text(&d.berth(&["build", "--platform", "windows/amd64", big_s]));
    assert_ne!(code, 0);
    assert!(stderr.contains("not windows/amd64"), "{stderr}");
    // --shm-size sizes the RUN steps' /dev/shm.
    d.ok(&["build", "-q", "-t", "shm", "--shm-size", "96m", big_s]);
    let df = d.ok(&["run", "--rm", "shm", "cat", "/shm"]);
    assert_eq!(df.split_whitespace().nth(1), Some("98304"), "{df}");

    // A Dockerfile on stdin, and a step that fails with its code.
    let out = common::output_with_stdin(
        d.cmd().args(["build", "-t", "fails", "-"]),
        b"FROM busybox\nRUN echo failing && exit 4\n",
    );
    let (stdout, stderr, code) = text(&out);
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert!(stdout.contains("failing\n"), "{stdout}");
    assert!(
        stderr.contains(
            "The command '/bin/sh -c echo failing && exit 4' returned a non-zero code: 4"
        ),
        "{stderr}"
    );
}
