//! e2e: `cp` both ways through the `/containers/{id}/archive` endpoints, with Docker's rules
//! for existing and new destinations, `/.`, links (kept, or followed with -L, and never out
//! of the container's root), stdin/stdout tars, and the docker CLI.

mod common;

use common::{output_with_stdin, run_ok, text};
use std::path::Path;

fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let rel = e.path().strip_prefix(base).unwrap().display().to_string();
            let ft = e.file_type().unwrap();
            out.push(rel);
            if ft.is_dir() {
                walk(base, &e.path(), out);
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn cp_in_and_out_by_dockers_rules() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&[
        "run", "-d", "--name", "box", "busybox", "sh", "-c",
        "mkdir -p /data/sub && echo one > /data/a && echo two > /data/sub/b && ln -s /etc /data/etclink && ln -s / /escape; sleep 300",
    ]);
    common::wait_until("the container's files", || {
        d.berth(&["exec", "box", "test", "-L", "/escape"])
            .status
            .success()
    });
    let host = d.dir.path().join("host");
    std::fs::create_dir(&host).unwrap();
    let h = |p: &str| host.join(p).display().to_string();

    // Out of the container.
    let (_, stderr, code) = text(&d.berth(&["cp", "box:/data", &h("")]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.starts_with("Successfully copied "), "{stderr}");
    assert_eq!(files(&host.join("data")), ["a", "etclink", "sub", "sub/b"]);
    assert_eq!(
        std::fs::read_link(host.join("data/etclink")).unwrap(),
        Path::new("/etc")
    );
    d.ok(&["cp", "box:/data/.", &h("contents")]);
    assert_eq!(
        files(&host.join("contents")),
        ["a", "etclink", "sub", "sub/b"]
    );
    d.ok(&["cp", "box:/data", &h("renamed")]);
    assert_eq!(
        files(&host.join("renamed")),
        ["a", "etclink", "sub", "sub/b"]
    );
    d.ok(&["cp", "box:/data/a", &h("file.txt")]);
    assert_eq!(
        std::fs::read_to_string(host.join("file.txt")).unwrap(),
        "one\n"
    );
    d.ok(&["cp", "box:/data/sub/b", &h("file.txt")]);
    assert_eq!(
        std::fs::read_to_string(host.join("file.txt")).unwrap(),
        "two\n"
    );
    d.ok(&["cp", "-L", "box:/data/etclink", &h("etc-copy")]);
    assert!(host.join("etc-copy/passwd").is_file());
    // The files berth bind-mounts come from where the container reads them.
    d.ok(&["cp", "box:/etc/hostname", &h("hostname")]);
    let id = d.ok(&["inspect", "-f", "{{.Id}}", "box"]);
    assert_eq!(
        std::fs::read_to_string(host.join("hostname"))
            .unwrap()
            .trim(),
        &id.trim()[..12]
    );
    let out = d.berth(&["cp", "box:/data/a", "-"]);
    assert!(out.status.success());
    let mut ar = tar::Archive::new(&out.stdout[..]);
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["a"]);

    // Refusals: named, non-zero, nothing written.
    let (_, err, code) = text(&d.berth(&["cp", "box:/nothere", &h("x")]));
    assert_eq!(code, 1);
    assert!(
        err.contains("Could not find the file /nothere in container box"),
        "{err}"
    );
    let (_, err, code) = text(&d.berth(&["cp", "box:/data", &h("file.txt")]));
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot copy directory to an existing file"),
        "{err}"
    );
    let (_, err, code) = text(&d.berth(&["cp", "box:/data/a", &h("no/such/dir/")]));
    assert_eq!(code, 1, "{err}");
    let (_, err, code) = text(&d.berth(&["cp", &h("file.txt"), &h("other")]));
    assert_eq!(code, 1);
    assert!(
        err.contains("must specify at least one container source"),
        "{err}"
    );

    // Into the container.
    std::fs::write(host.join("up.txt"), "up\n").unwrap();
    d.ok(&["cp", &h("up.txt"), "box:/data/"]);
    d.ok(&["cp", &h("up.txt"), "box:/data/new-name"]);
    d.ok(&["cp", &h("data"), "box:/copied"]);
    d.ok(&["cp", &h("contents/."), "box:/data/sub"]);
    assert_eq!(
        d.ok(&[
            "exec",
            "box",
            "sh",
            "-c",
            "cat /data/up.txt /data/new-name; ls /copied; ls /data/sub"
        ]),
        "up\nup\na\netclink\nsub\na\nb\netclink\nsub\n"
    );
    // Owned by the container's root unless -a.
    assert_eq!(
        d.ok(&["exec", "box", "stat", "-c", "%u", "/data/up.txt"]),
        "0\n"
    );
    let (_, err, code) = text(&d.berth(&["cp", &h("up.txt"), "box:/nonexist/"]));
    assert_eq!(code, 1);
    assert!(err.contains("no such directory"), "{err}");
    let (_, err, code) = text(&d.berth(&["cp", &h("data"), "box:/data/a"]));
    assert_eq!(code, 1);
    assert!(err.contains("cannot copy a directory to the file"), "{err}");
    let (_, err, code) = text(&d.berth(&["cp", &h("up.txt"), "box:/data/a/x"]));
    assert_ne!(code, 0, "{err}");

    // Links in the container resolve inside it: /escape -> / is the container's root.
    let marker = format!("berth-cp-{}", d.tag);
    std::fs::write(host.join(&marker), "inside\n").unwrap();
    d.ok(&["cp", &h(&marker), "box:/escape/tmp/"]);
    assert_eq!(
        d.ok(&["exec", "box", "cat", &format!("/tmp/{marker}")]),
        "inside\n"
    );
    assert!(
        !Path::new("/tmp").join(&marker).exists(),
        "cp wrote to the host's /tmp"
    );
    d.ok(&["cp", &h("up.txt"), "box:/data/etclink/"]);
    assert_eq!(d.ok(&["exec", "box", "cat", "/etc/up.txt"]), "up\n");

    // A tar on stdin.
    let mut b = tar::Builder::new(Vec::new());
    let mut hdr = tar::Header::new_gnu();
    hdr.set_size(6);
    hdr.set_mode(0o644);
    hdr.set_cksum();
    b.append_data(&mut hdr, "piped.txt", &b"piped\n"[..])
        .unwrap();
    let tarball = b.into_inner().unwrap();
    assert!(
        output_with_stdin(d.cmd().args(["cp", "-", "box:/data"]), &tarball)
            .status
            .success()
    );
    assert_eq!(d.ok(&["exec", "box", "cat", "/data/piped.txt"]), "piped\n");

    // A stopped container too (its root is mounted for the copy, then not).
    d.ok(&["stop", "-t", "0", "box"]);
    d.ok(&["cp", "box:/data/a", &h("after-stop")]);
    assert_eq!(
        std::fs::read_to_string(host.join("after-stop")).unwrap(),
        "one\n"
    );
    d.ok(&["cp", &h("up.txt"), "box:/stopped.txt"]);
    d.ok(&["start", "box"]);
    assert_eq!(d.ok(&["exec", "box", "cat", "/stopped.txt"]), "up\n");

    if let Some(mut docker) = d.docker() {
        run_ok(docker.args(["cp", "box:/data", &h("by-docker")]));
        assert!(host.join("by-docker/sub/b").is_file());
        run_ok(
            d.docker()
                .unwrap()
                .args(["cp", &h("up.txt"), "box:/from-docker.txt"]),
        );
        assert_eq!(d.ok(&["exec", "box", "cat", "/from-docker.txt"]), "up\n");
    }
    d.ok(&["rm", "-f", "box"]);
}
