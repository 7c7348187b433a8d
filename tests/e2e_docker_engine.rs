//! e2e: berth and a real Docker engine exchange images. What `berth save` writes, `docker load`
//! reads and runs (a deleted file stays deleted: the whiteout crossed); what `docker save`
//! writes, berth loads and runs; the image keeps its id both ways. Needs Debian's docker.io
//! (`dockerd`, with containerd and runc); without it the test says so and skips. It starts a
//! dockerd of its own (temp data root, exec root and socket, no bridge, no iptables rules, its
//! own cgroup parent, its own network namespace), so a Docker already running on the machine
//! is left alone.

mod common;

use common::dockerd::PrivateDocker;
use std::path::PathBuf;

fn loaded(out: &str) -> Vec<&str> {
    out.lines()
        .filter_map(|l| l.strip_prefix("Loaded image: "))
        .collect()
}

#[test]
fn images_cross_between_berth_and_docker() {
    let d = daemon_or_skip!();
    let Some(docker) = PrivateDocker::start(&d.tag, &["--bridge=none"]) else {
        return;
    };
    d.load_busybox();
    let work = tempfile::tempdir().unwrap();
    let path = |name: &str| -> PathBuf { work.path().join(name) };

    // berth -> Docker: two committed layers, the second deleting a file of the first.
    d.ok(&[
        "run",
        "--name",
        "one",
        "busybox",
        "sh",
        "-c",
        "mkdir /data && echo one > /data/keep && echo bye > /data/gone",
    ]);
    d.ok(&["commit", "one", "berth-made/img:1"]);
    d.ok(&[
        "run",
        "--name",
        "two",
        "berth-made/img:1",
        "sh",
        "-c",
        "rm /data/gone && echo two > /data/keep",
    ]);
    d.ok(&[
        "commit",
        "-c",
        "CMD cat /data/keep",
        "two",
        "berth-made/img:2",
    ]);
    d.ok(&["rm", "one", "two"]);
    let ours = path("from-berth.tar");
    d.ok(&["save", "-o", ours.to_str().unwrap(), "berth-made/img:2"]);
    let out = docker.ok(&["load", "-i", ours.to_str().unwrap()]);
    assert_eq!(loaded(&out), ["berth-made/img:2"], "{out}");
    let out = docker.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "berth-made/img:2",
        "sh",
        "-c",
        "cat /data/keep; ls /data",
    ]);
    assert_eq!(out, "two\nkeep\n");
    let out = docker.ok(&["run", "--rm", "--network", "none", "berth-made/img:2"]);
    assert_eq!(out, "two\n", "the committed CMD crossed too");
    let id = |out: String| out.trim().to_string();
    assert_eq!(
        id(docker.ok(&["image", "inspect", "-f", "{{.Id}}", "berth-made/img:2"])),
        id(d.ok(&["image", "inspect", "-f", "{{.Id}}", "berth-made/img:2"])),
        "content addressing: the same config is the same id"
    );

    // Docker -> berth: Docker's busybox is the same fixture, loaded from the same archive.
    let fixture = common::busybox_archive();
    docker.ok(&["load", "-i", fixture.to_str().unwrap()]);
    docker.ok(&[
        "run",
        "--network",
        "none",
        "--name",
        "dw",
        "busybox",
        "sh",
        "-c",
        "echo from-docker > /greeting && rm /etc/group",
    ]);
    docker.ok(&["commit", "dw", "docker-made/img:1"]);
    docker.ok(&["rm", "dw"]);
    let theirs = path("from-docker.tar");
    docker.ok(&["save", "-o", theirs.to_str().unwrap(), "docker-made/img:1"]);
    let out = d.ok(&["load", "-i", theirs.to_str().unwrap()]);
    assert_eq!(loaded(&out), ["docker-made/img:1"], "{out}");
    let out = d.ok(&[
        "run",
        "--rm",
        "docker-made/img:1",
        "sh",
        "-c",
        "cat /greeting; test -e /etc/group || echo group-gone",
    ]);
    assert_eq!(out, "from-docker\ngroup-gone\n");
    assert_eq!(
        id(d.ok(&["image", "inspect", "-f", "{{.Id}}", "docker-made/img:1"])),
        id(docker.ok(&["image", "inspect", "-f", "{{.Id}}", "docker-made/img:1"])),
    );

    // And back: berth's save of Docker's image loads into Docker again as the same image.
    let again = path("again.tar");
    d.ok(&["save", "-o", again.to_str().unwrap(), "docker-made/img:1"]);
    docker.ok(&["rmi", "docker-made/img:1"]);
    let out = docker.ok(&["load", "-i", again.to_str().unwrap()]);
    assert_eq!(loaded(&out), ["docker-made/img:1"], "{out}");
    let out = docker.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "docker-made/img:1",
        "cat",
        "/greeting",
    ]);
    assert_eq!(out, "from-docker\n");
}
