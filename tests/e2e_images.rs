//! e2e: image commands — tag, images (filters, formats, digests), history, rmi (untag vs
//! delete, conflicts with containers, shared layers), image prune — through berth's CLI and
//! the real docker CLI.

mod common;

use common::{output_with_stdin, run_ok, text};

#[test]
fn tag_rmi_history_prune_and_filters() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let id = d
        .ok(&["images", "-q", "--no-trunc", "busybox"])
        .trim()
        .to_string();
    assert!(id.starts_with("sha256:"), "{id}");

    d.ok(&["tag", "busybox", "bb:v1"]);
    d.ok(&[
        "image",
        "tag",
        "busybox:latest",
        "localhost:5000/team/bb:v2",
    ]);
    assert_eq!(
        d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "bb:v1\nbusybox:latest\nlocalhost:5000/team/bb:v2\n"
    );
    assert_eq!(
        d.ok(&[
            "images",
            "-f",
            "reference=bb*",
            "--format",
            "{{.Repository}}:{{.Tag}}"
        ]),
        "bb:v1\n"
    );
    assert_eq!(
        d.ok(&["images", "-q"]).lines().count(),
        1,
        "one image, however many tags"
    );
    assert_eq!(d.ok(&["images", "-f", "dangling=true", "-q"]), "");
    let (_, err, code) = text(&d.berth(&["images", "-f", "colour=red"]));
    assert_ne!(code, 0);
    assert!(err.contains("invalid filter 'colour'"), "{err}");

    // History: one entry per step of the image's config, newest first, the id on top.
    let history = d.ok(&["history", "--format", "{{.ID}}|{{.Size}}", "busybox"]);
    let first = history.lines().next().unwrap();
    assert!(first.starts_with(&id[7..19]), "{history}");
    assert!(first.ends_with("MB"), "{history}");
    assert_eq!(
        d.ok(&["history", "-q", "--no-trunc", "busybox"])
            .lines()
            .next(),
        Some(id.as_str())
    );

    // A tag among several is only untagged.
    assert_eq!(d.ok(&["rmi", "bb:v1"]), "Untagged: bb:v1\n");

    // A container holds its image: its last reference cannot go without -f, nor can the id.
    d.ok(&[
        "create",
        "--name",
        "holder",
        "localhost:5000/team/bb:v2",
        "true",
    ]);
    d.ok(&["rmi", "busybox"]);
    let (_, err, code) = text(&d.berth(&["rmi", "localhost:5000/team/bb:v2"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("unable to remove repository reference \"localhost:5000/team/bb:v2\" (must force) - container"),
        "{err}"
    );
    let (_, err, code) = text(&d.berth(&["rmi", &id]));
    assert_eq!(code, 1);
    assert!(
        err.contains("image is being used by stopped container"),
        "{err}"
    );
    // With -f the reference goes; the image stays while the container does (it is dangling).
    assert_eq!(
        d.ok(&["rmi", "-f", "localhost:5000/team/bb:v2"]),
        "Untagged: localhost:5000/team/bb:v2\n"
    );
    assert_eq!(
        d.ok(&["images", "-f", "dangling=true", "-q", "--no-trunc"])
            .trim(),
        id
    );
    d.ok(&["rm", "holder"]);

    // Now nothing uses it: prune deletes it, and its layer with it.
    let pruned = d.ok(&["image", "prune", "-f"]);
    assert!(pruned.contains(&format!("deleted: {id}")), "{pruned}");
    assert_eq!(d.ok(&["images", "-q"]), "");
    let layers = d.root.join("image/overlay2/layerdb/sha256");
    assert_eq!(
        std::fs::read_dir(&layers).unwrap().count(),
        0,
        "the layer went too"
    );
    // `rm` deletes the container's layer dirs on a thread of their own, renamed aside first.
    let dirs = || -> Vec<String> {
        std::fs::read_dir(d.root.join("overlay2"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    common::wait_until("the removed container's layer dirs are deleted", || {
        dirs().iter().all(|n| !n.starts_with(".trash-"))
    });
    assert_eq!(dirs(), ["l"], "only the empty links dir is left");
    let (_, err, code) = text(&d.berth(&["rmi", "busybox"]));
    assert_eq!(code, 1);
    assert!(err.contains("No such image: busybox:latest"), "{err}");

    // The docker CLI drives the same endpoints.
    d.load_busybox();
    if let Some(docker) = d.docker() {
        let run = |args: &[&str]| {
            let mut c = d.docker().unwrap();
            let out = c.args(args).output().unwrap();
            (
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
                out.status.code(),
            )
        };
        drop(docker);
        assert_eq!(run(&["tag", "busybox", "dk:1"]).2, Some(0));
        let (out, _, _) = run(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
        assert!(out.contains("dk:1"), "{out}");
        let (out, _, code) = run(&["history", "-q", "busybox"]);
        assert_eq!(code, Some(0));
        assert!(out.lines().next().is_some_and(|l| id.contains(l)), "{out}");
        let (out, _, _) = run(&["rmi", "dk:1"]);
        assert!(out.contains("Untagged: dk:1"), "{out}");
        let (out, err, code) = run(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(out.trim(), id);
    }
}

#[test]
fn diff_commit_and_export_a_container() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&[
        "run",
        "--name",
        "work",
        "busybox",
        "sh",
        "-c",
        "echo hi > /tmp/new; rm /bin/ls; mkdir -p /srv/app; echo x > /srv/app/f; echo extra >> /etc/passwd",
    ]);
    // Docker's list: sorted, C for what existed below, A for what is new, D for whiteouts.
    assert_eq!(
        d.ok(&["diff", "work"]),
        "C /bin\nD /bin/ls\nC /etc\nC /etc/passwd\nA /srv\nA /srv/app\nA /srv/app/f\nC /tmp\nA /tmp/new\n"
    );
    if let Some(mut docker) = d.docker() {
        let out = docker.args(["diff", "work"]).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            d.ok(&["diff", "work"])
        );
    }

    // commit: a new layer on the image's, the changes applied to the config.
    let id = d
        .ok(&[
            "commit",
            "-m",
            "with a note",
            "-a",
            "someone",
            "-c",
            "CMD [\"cat\", \"/tmp/new\"]",
            "-c",
            "ENV GREETING=hello",
            "-c",
            "LABEL team=blue",
            "work",
            "mine:v1",
        ])
        .trim()
        .to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    assert_eq!(d.ok(&["run", "--rm", "mine:v1"]), "hi\n");
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "mine:v1",
            "sh",
            "-c",
            "test -e /bin/ls || echo no-ls; echo $GREETING; tail -1 /etc/passwd; cat /srv/app/f"
        ]),
        "no-ls\nhello\nextra\nx\n"
    );
    assert_eq!(
        d.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Author}}|{{.Comment}}|{{len .RootFS.Layers}}|{{.Config.Labels.team}}",
            "mine:v1"
        ]),
        "someone|with a note|2|blue\n"
    );
    let history = d.ok(&["history", "--format", "{{.Comment}}", "mine:v1"]);
    assert_eq!(history.lines().next(), Some("with a note"));
    let (_, err, code) = text(&d.berth(&["commit", "-c", "RUN true", "work", "bad:v1"]));
    assert_ne!(code, 0);
    assert!(err.contains("RUN is not a valid change command"), "{err}");

    // export: the whole root filesystem, the container's view of it.
    let out = d.dir.path().join("work.tar");
    d.ok(&["export", "-o", out.to_str().unwrap(), "work"]);
    let names: Vec<String> = tar::Archive::new(std::fs::File::open(&out).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n == "tmp/new"));
    assert!(names.iter().any(|n| n == "bin/busybox"));
    assert!(
        !names.iter().any(|n| n == "bin/ls"),
        "deleted files are not exported"
    );
    assert!(
        !names.iter().any(|n| n.contains(".wh.")),
        "no whiteouts in an export"
    );

    // The docker CLI commits too; an image in use by a container cannot go without -f.
    if let Some(mut docker) = d.docker() {
        let out = docker
            .args(["commit", "work", "bydocker:1"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            d.ok(&["run", "--rm", "bydocker:1", "cat", "/tmp/new"]),
            "hi\n"
        );
        d.ok(&["rmi", "bydocker:1"]);
    }
    d.ok(&["rm", "work"]);
    d.ok(&["rmi", "mine:v1"]);
}

/// Unix time as the CLI's `--since`/`--until` take it.
fn unix_now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// `commit` of a running container pauses it (the default) and unpauses it after; a paused
/// one stays paused; the new image names the container's image as its parent, which then
/// cannot go while the child is there, though its tag can.
#[test]
fn commit_pauses_a_running_container_and_names_its_parent() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let busybox = d.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "busybox",
        "sh",
        "-c",
        "echo x > /f; sleep 300",
    ]);
    let state = || {
        d.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Paused}}",
            "busy",
        ])
    };
    let actions = |since: &str| {
        d.ok(&[
            "events",
            "--since",
            since,
            "--until",
            &unix_now(),
            "--filter",
            "container=busy",
            "--format",
            "{{.Action}}",
        ])
    };
    let since = unix_now();
    d.ok(&["commit", "busy", "snap:1"]);
    assert_eq!(state(), "running false\n");
    assert_eq!(actions(&since), "pause\nunpause\ncommit\n");
    assert_eq!(d.ok(&["run", "--rm", "snap:1", "cat", "/f"]), "x\n");
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{.Parent}}", "snap:1"]),
        busybox
    );

    // --pause=false leaves it running throughout; a paused container stays paused.
    let since = unix_now();
    d.ok(&["commit", "--pause=false", "busy", "snap:2"]);
    assert_eq!(actions(&since), "commit\n");
    d.ok(&["pause", "busy"]);
    d.ok(&["commit", "busy", "snap:3"]);
    assert_eq!(state(), "paused true\n");
    d.ok(&["rm", "-f", "busy"]);
    d.ok(&["rmi", "snap:2", "snap:3"]);

    // A container whose process has just ended (its exit still being handled) commits too:
    // there is nothing left to pause (docker-py's test_commit hit this every time).
    for i in 0..5 {
        let name = format!("brief{i}");
        d.ok(&["run", "-d", "--name", &name, "busybox", "touch", "/t"]);
        let id = d.ok(&["commit", &name]);
        d.ok(&["rm", "-f", &name]);
        d.ok(&["rmi", id.trim()]);
    }

    // The parent's tag goes, the parent stays for its child; by id it is refused.
    assert_eq!(d.ok(&["rmi", "busybox"]), "Untagged: busybox:latest\n");
    let (_, err, code) = text(&d.berth(&["rmi", busybox.trim()]));
    assert_ne!(code, 0);
    assert!(err.contains("image has dependent child images"), "{err}");
    // The child's removal takes the untagged parent with it, as Docker prunes it.
    let out = d.ok(&["rmi", "snap:1"]);
    assert!(
        out.contains(&format!("Deleted: {}", busybox.trim())),
        "{out}"
    );
    assert_eq!(d.ok(&["images", "-a", "-q"]), "");
}

/// `save` writes what `load` reads back with the same ids: layers rebuilt byte for byte from
/// what was unpacked (loaded or committed), so their digests are still the configs' diff ids.
#[test]
fn save_and_load_round_trip() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&[
        "run",
        "--name",
        "maker",
        "busybox",
        "sh",
        "-c",
        "echo saved > /kept",
    ]);
    let mine = d.ok(&["commit", "maker", "mine:v1"]).trim().to_string();
    d.ok(&["rm", "maker"]);
    let bb = d
        .ok(&["images", "-q", "--no-trunc", "busybox"])
        .trim()
        .to_string();

    let archive = d.dir.path().join("both.tar");
    d.ok(&[
        "save",
        "-o",
        archive.to_str().unwrap(),
        "busybox",
        "mine:v1",
    ]);
    let names: Vec<String> = tar::Archive::new(std::fs::File::open(&archive).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    for f in ["index.json", "manifest.json", "oci-layout"] {
        assert!(names.iter().any(|n| n == f), "{f} in {names:?}");
    }
    assert!(names.contains(&format!("blobs/sha256/{}", &mine[7..])));
    let layers = names.iter().filter(|n| n.starts_with("blobs/")).count();
    assert_eq!(
        layers,
        2 + 2 + 2,
        "two layers, two configs, two manifests: {names:?}"
    );

    d.ok(&["rmi", "mine:v1", "busybox"]);
    assert_eq!(d.ok(&["images", "-q"]), "");
    let loaded = d.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(
        loaded,
        "Loaded image: busybox:latest\nLoaded image: mine:v1\n"
    );
    assert_eq!(
        d.ok(&["images", "-q", "--no-trunc", "mine:v1"]).trim(),
        mine
    );
    assert_eq!(d.ok(&["images", "-q", "--no-trunc", "busybox"]).trim(), bb);
    assert_eq!(d.ok(&["run", "--rm", "mine:v1", "cat", "/kept"]), "saved\n");

    // `berth load < archive.tar` reads its stdin as it reads `-i`.
    d.ok(&["rmi", "mine:v1"]);
    let out = d
        .cmd()
        .arg("load")
        .stdin(std::fs::File::open(&archive).unwrap())
        .output()
        .unwrap();
    let (stdout, stderr, code) = text(&out);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "Loaded image: busybox:latest\nLoaded image: mine:v1\n"
    );
    assert_eq!(
        d.ok(&["images", "-q", "--no-trunc", "mine:v1"]).trim(),
        mine
    );

    // Unknown names fail before a byte is written, and no file is left.
    let bad = d.dir.path().join("bad.tar");
    let (_, err, code) =
        text(&d.berth(&["save", "-o", bad.to_str().unwrap(), "busybox", "nosuch:1"]));
    assert_eq!(code, 1);
    assert!(err.contains("No such image: nosuch:1"), "{err}");
    assert!(!bad.exists());

    // The docker CLI saves through the same endpoint; berth loads what it wrote.
    if let Some(mut docker) = d.docker() {
        let by_docker = d.dir.path().join("docker.tar");
        let out = docker
            .args(["save", "-o", by_docker.to_str().unwrap(), "mine:v1"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        d.ok(&["rmi", "mine:v1"]);
        d.ok(&["load", "-i", by_docker.to_str().unwrap()]);
        assert_eq!(
            d.ok(&["images", "-q", "--no-trunc", "mine:v1"]).trim(),
            mine
        );
    }
}

#[test]
fn import_from_a_file_and_from_stdin_with_changes() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&["create", "--name", "src", "busybox", "true"]);
    let fs_tar = d.dir.path().join("fs.tar");
    d.ok(&["export", "-o", fs_tar.to_str().unwrap(), "src"]);

    let out = d.ok(&[
        "import",
        "-c",
        "CMD [\"/bin/echo\", \"imported\"]",
        "-c",
        "ENV GREETING=hello",
        "-m",
        "from an export",
        fs_tar.to_str().unwrap(),
        "imp:1",
    ]);
    let id = out.trim().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{out}");
    assert_eq!(d.ok(&["run", "--rm", "imp:1"]), "imported\n");
    assert_eq!(
        d.ok(&["run", "--rm", "imp:1", "sh", "-c", "echo $GREETING"]),
        "hello\n"
    );
    assert_eq!(
        d.ok(&["history", "--format", "{{.Comment}}", "imp:1"]),
        "from an export\n"
    );
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{len .RootFS.Layers}}", "imp:1"])
            .trim(),
        "1"
    );

    // From stdin, gzip-compressed, without a name: untagged, and the same layer reused.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &std::fs::read(&fs_tar).unwrap()).unwrap();
    let gz = gz.finish().unwrap();
    let (stdout, stderr, code) = text(&output_with_stdin(d.cmd().args(["import", "-"]), &gz));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("sha256:"), "{stdout}");
    assert_eq!(
        d.ok(&["history", "--format", "{{.Comment}}", stdout.trim()]),
        "Imported from -\n"
    );

    // Bad input: named, non-zero, nothing registered.
    let before = d.ok(&["images", "-q"]);
    let (_, err, code) = text(&d.berth(&["import", "/nonexistent.tar"]));
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent.tar"), "{err}");
    let junk = d.dir.path().join("junk.tar");
    std::fs::write(&junk, vec![7u8; 5000]).unwrap();
    let (_, err, code) = text(&d.berth(&["import", junk.to_str().unwrap(), "junk:1"]));
    assert_eq!(code, 1, "{err}");
    let (_, err, code) = text(&d.berth(&["import", "-c", "BOGUS x", fs_tar.to_str().unwrap()]));
    assert_eq!(code, 1, "{err}");
    assert_eq!(d.ok(&["images", "-q"]), before);
    assert!(d.berth(&["image", "inspect", "junk:1"]).status.code() != Some(0));

    if let Some(mut docker) = d.docker() {
        run_ok(docker.args([
            "import",
            "-c",
            "CMD [\"/bin/echo\", \"via docker\"]",
            fs_tar.to_str().unwrap(),
            "imp:docker",
        ]));
        assert_eq!(d.ok(&["run", "--rm", "imp:docker"]), "via docker\n");
    }
}

#[test]
fn a_zstd_compressed_archive_loads() {
    let d = daemon_or_skip!();
    let raw = std::fs::read(common::busybox_archive()).unwrap();
    let packed = zstd::encode_all(&raw[..], 3).unwrap();
    let path = d.dir.path().join("busybox.tar.zst");
    std::fs::write(&path, packed).unwrap();
    assert_eq!(
        d.ok(&["load", "-i", path.to_str().unwrap()]),
        "Loaded image: busybox:latest\n"
    );
    assert_eq!(d.ok(&["run", "--rm", "busybox", "echo", "zstd"]), "zstd\n");
}

/// `save`'s OCI layout as other tools read it: skopeo (both transports) and umoci, which
/// unpacks the image into a runtime bundle.
#[test]
fn saved_archives_pass_skopeo_and_umoci() {
    let d = daemon_or_skip!();
    if !common::installed("skopeo") || !common::installed("umoci") {
        eprintln!("SKIPPED: needs Debian's skopeo and umoci packages");
        return;
    }
    d.load_busybox();
    let dir = d.dir.path();
    let archive = dir.join("bb.tar");
    d.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
    let diff_id = d
        .ok(&[
            "image",
            "inspect",
            "-f",
            "{{index .RootFS.Layers 0}}",
            "busybox",
        ])
        .trim()
        .to_string();
    for transport in ["oci-archive", "docker-archive"] {
        let stdout = run_ok(
            std::process::Command::new("skopeo")
                .args(["inspect", &format!("{transport}:{}", archive.display())]),
        );
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(v["Os"], "linux");
        assert_eq!(v["Layers"][0].as_str(), Some(diff_id.as_str()), "{stdout}");
    }
    let layout = dir.join("layout");
    std::fs::create_dir(&layout).unwrap();
    run_ok(
        std::process::Command::new("tar")
            .arg("-xf")
            .arg(&archive)
            .arg("-C")
            .arg(&layout),
    );
    assert_eq!(
        run_ok(
            std::process::Command::new("umoci")
                .args(["ls", "--layout"])
                .arg(&layout)
        ),
        "latest\n"
    );
    let bundle = dir.join("bundle");
    run_ok(
        std::process::Command::new("umoci")
            .arg("unpack")
            .arg("--image")
            .arg(format!("{}:latest", layout.display()))
            .arg(&bundle),
    );
    assert!(bundle.join("rootfs/bin/busybox").is_file());
    assert!(bundle.join("config.json").is_file());
}

/// An image removed while a save reads it: the rmi goes through, the save still writes the
/// whole archive (its layers are leased), and the layers go once the save ends. The store is
/// not locked while the archive streams, so `images` answers meanwhile.
#[test]
fn rmi_during_a_save_waits_for_the_layers_not_for_the_rmi() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&[
        "run",
        "--name",
        "big",
        "busybox",
        "sh",
        "-c",
        "head -c 24000000 /dev/urandom > /big",
    ]);
    d.ok(&["commit", "big", "leased:v1"]);
    d.ok(&["rm", "big"]);
    let layerdb = d.root.join("image/overlay2/layerdb/sha256");
    let layers = || std::fs::read_dir(&layerdb).unwrap().count();
    assert_eq!(layers(), 2, "busybox's layer and the committed one");

    // A reader that stops after the first 64 KiB: the save stays in its layers, since the
    // image (26 MB) is larger than all the buffers between (a few MiB). HTTP/1.0, so the body
    // comes as it is, ended by the close.
    use std::io::{Read, Write};
    let mut conn = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    conn.write_all(b"GET /images/get?names=leased:v1 HTTP/1.0\r\nHost: berth\r\n\r\n")
        .unwrap();
    let mut response = vec![0u8; 64 << 10];
    conn.read_exact(&mut response).unwrap();
    let out = d.ok(&["rmi", "leased:v1"]);
    assert!(out.contains("Untagged: leased:v1"), "{out}");
    assert_eq!(
        d.ok(&["images", "--format", "{{.Repository}}"]),
        "busybox\n",
        "the store is not locked by the save"
    );
    assert_eq!(layers(), 2, "a leased layer stays while the save reads it");
    conn.read_to_end(&mut response).unwrap();
    let head_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    assert!(
        response.starts_with(b"HTTP/1.0 200"),
        "{:?}",
        &response[..head_end]
    );
    let archive = d.dir.path().join("leased.tar");
    std::fs::write(&archive, &response[head_end + 4..]).unwrap();
    common::wait_until("the save's end to remove the layer the rmi left", || {
        layers() == 1
    });

    // The archive is whole: it loads and runs. A slow load does not lock the store either.
    let mut curl = std::process::Command::new("curl")
        .args(["-sS", "--fail", "--limit-rate", "6M", "--unix-socket"])
        .arg(&d.socket)
        .args(["-H", "Content-Type: application/x-tar", "--data-binary"])
        .arg(format!("@{}", archive.display()))
        .arg("http://berth/images/load")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("curl");
    // The load is under way once its spool dir exists (it goes when the load ends).
    common::wait_until("the load to begin", || {
        std::fs::read_dir(d.root.join("tmp"))
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("load-"))
    });
    assert_eq!(
        d.ok(&["images", "--format", "{{.Repository}}"]),
        "busybox\n"
    );
    assert!(
        curl.try_wait().unwrap().is_none(),
        "images answered while the load was still streaming"
    );
    let out = curl.wait_with_output().unwrap();
    assert!(out.status.success());
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("Loaded image: leased:v1"), "{out}");
    let out = d.ok(&["run", "--rm", "leased:v1", "sh", "-c", "wc -c < /big"]);
    assert_eq!(out.trim(), "24000000");
    d.ok(&["rmi", "leased:v1"]);
}
