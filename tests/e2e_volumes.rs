//! e2e: volumes, bind mounts and tmpfs mounts (chapter 06) through berth's CLI and the docker
//! CLI: seed 001's backup and restore with `--volumes-from`, copy-up, anonymous volumes and
//! `rm -v`, binds rw and ro, tmpfs sizes, the in-use conflict, prune, a tmpfs-backed local
//! volume, volumes across a daemon SIGKILL, `cp` into a volume, and links that try to point
//! a mount out of the container.

mod common;

use common::text;
use std::path::Path;
use std::time::Duration;

fn is_mounted(path: &Path) -> bool {
    let want = path.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
}

fn assert_no_leaks(d: &common::TestDaemon) {
    let leaks = d.leaks_but_the_daemon();
    assert!(leaks.is_empty(), "leaked: {leaks:#?}");
}

#[test]
fn a_named_volume_is_shared_and_the_seeds_backup_restores() {
    let d = daemon_or_skip!();
    d.load_busybox();
    assert_eq!(d.ok(&["volume", "create", "shared"]).trim(), "shared");
    d.ok(&[
        "run",
        "--rm",
        "-v",
        "shared:/data",
        "busybox",
        "sh",
        "-c",
        "echo one > /data/f",
    ]);
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "-v",
            "shared:/srv",
            "busybox",
            "cat",
            "/srv/f"
        ]),
        "one\n"
    );
    let data = d.root.join("volumes/shared/_data/f");
    assert_eq!(std::fs::read_to_string(&data).unwrap(), "one\n");

    // The seed's recipe: a data-volume container, backed up with tar through --volumes-from
    // and a bind of the current directory, restored into a new one.
    let backup = d.dir.path().join("backup");
    let bind = format!("{}:/backup", backup.display());
    d.ok(&[
        "create", "-v", "/dbdata", "--name", "dbstore", "busybox", "true",
    ]);
    d.ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "dbstore",
        "busybox",
        "sh",
        "-c",
        "echo precious > /dbdata/file",
    ]);
    let listed = d.ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "dbstore",
        "-v",
        &bind,
        "busybox",
        "tar",
        "cvf",
        "/backup/backup.tar",
        "/dbdata",
    ]);
    assert!(listed.contains("dbdata/file"), "{listed}");
    assert!(backup.join("backup.tar").is_file());
    d.ok(&[
        "create", "-v", "/dbdata", "--name", "dbstore2", "busybox", "true",
    ]);
    d.ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "dbstore2",
        "-v",
        &bind,
        "busybox",
        "sh",
        "-c",
        "cd /dbdata && tar xvf /backup/backup.tar -C / >/dev/null",
    ]);
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--volumes-from",
            "dbstore2:ro",
            "busybox",
            "cat",
            "/dbdata/file"
        ]),
        "precious\n"
    );
    // :ro applies to what --volumes-from brings.
    let (_, err, code) = text(&d.berth(&[
        "run",
        "--rm",
        "--volumes-from",
        "dbstore2:ro",
        "busybox",
        "touch",
        "/dbdata/x",
    ]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Read-only file system"), "{err}");

    // In use: refused with Docker's message, and nothing is lost.
    let id = d.ok(&["inspect", "-f", "{{.Id}}", "dbstore"]);
    let vol = d.ok(&[
        "inspect",
        "-f",
        "{{range .Mounts}}{{.Name}}{{end}}",
        "dbstore",
    ]);
    let (_, err, code) = text(&d.berth(&["volume", "rm", vol.trim()]));
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        format!(
            "Error response from daemon: remove {}: volume is in use - [{}]",
            vol.trim(),
            id.trim()
        )
    );
    // rm -v takes the anonymous volumes and leaves named ones.
    d.ok(&[
        "create",
        "--name",
        "both",
        "-v",
        "shared:/a",
        "-v",
        "/b",
        "busybox",
        "true",
    ]);
    let anon = d.ok(&[
        "inspect",
        "-f",
        "{{range .Mounts}}{{if eq .Destination \"/b\"}}{{.Name}}{{end}}{{end}}",
        "both",
    ]);
    assert_eq!(anon.trim().len(), 64, "{anon}");
    d.ok(&["rm", "-v", "both", "dbstore", "dbstore2"]);
    let left = d.ok(&["volume", "ls", "-q"]);
    assert_eq!(left.trim(), "shared", "{left}");
    // --rm removes the anonymous volume of its container too.
    d.ok(&["run", "--rm", "-v", "/scratch", "busybox", "true"]);
    assert_eq!(d.ok(&["volume", "ls", "-q"]).trim(), "shared");
    d.ok(&["volume", "rm", "shared"]);
    assert!(!d.root.join("volumes/shared").exists());
    assert_no_leaks(&d);
}

#[test]
fn copy_up_fills_an_empty_volume_with_the_images_directory() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&["run", "--name", "prep", "busybox", "sh", "-c",
        "mkdir -p /srv/app/sub && echo x > /srv/app/f && ln /srv/app/f /srv/app/hard && ln -s /etc/passwd /srv/app/abs && ln -s ../../../../../etc/shadow /srv/app/up && chown -R 1000:50 /srv/app && chmod 2750 /srv/app"]);
    d.ok(&["commit", "prep", "withdata"]);
    d.ok(&["rm", "prep"]);
    let out = d.ok(&["run", "--rm", "-v", "cu:/srv/app", "withdata", "sh", "-c",
        "stat -c '%u:%g %a' /srv/app; cat /srv/app/f; readlink /srv/app/abs; readlink /srv/app/up; stat -c %h /srv/app/f"]);
    assert_eq!(
        out,
        "1000:50 2750\nx\n/etc/passwd\n../../../../../etc/shadow\n2\n"
    );
    // The links are links in the volume on the host: never followed out of it.
    let data = d.root.join("volumes/cu/_data");
    assert!(std::fs::symlink_metadata(data.join("abs"))
        .unwrap()
        .file_type()
        .is_symlink());
    // A volume that is not empty any more is not copied into again.
    d.ok(&[
        "run",
        "--rm",
        "-v",
        "cu:/srv/app",
        "withdata",
        "rm",
        "/srv/app/f",
    ]);
    let out = d.ok(&[
        "run",
        "--rm",
        "-v",
        "cu:/srv/app",
        "withdata",
        "ls",
        "/srv/app",
    ]);
    assert!(!out.lines().any(|l| l == "f"), "{out}");
    // Creates racing for one new volume: one copy-up fills it, the others find it full.
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let mut cmd = d.cmd();
            cmd.args(["create", "-v", "raced:/srv/app", "withdata", "true"]);
            std::thread::spawn(move || cmd.output().unwrap())
        })
        .collect();
    for r in racers {
        let out = r.join().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = d.ok(&[
        "run",
        "--rm",
        "-v",
        "raced:/srv/app",
        "withdata",
        "cat",
        "/srv/app/f",
    ]);
    assert_eq!(out, "x\n");
    // nocopy: the image's content stays out.
    let out = d.ok(&[
        "run",
        "--rm",
        "-v",
        "nc:/srv/app:nocopy",
        "withdata",
        "ls",
        "-A",
        "/srv/app",
    ]);
    assert_eq!(out, "");
    let out = d.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=nc2,dst=/srv/app,volume-nocopy",
        "withdata",
        "ls",
        "-A",
        "/srv/app",
    ]);
    assert_eq!(out, "");
    // A bind mount is never copied into.
    let host = d.dir.path().join("empty-bind");
    std::fs::create_dir(&host).unwrap();
    d.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/srv/app", host.display()),
        "withdata",
        "true",
    ]);
    assert_eq!(std::fs::read_dir(&host).unwrap().count(), 0);
    assert_no_leaks(&d);
}

#[test]
fn binds_tmpfs_and_the_errors_docker_gives() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let host = d.dir.path().join("src");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("in"), "from the host\n").unwrap();
    let rw = format!("{}:/work", host.display());
    let ro = format!("{}:/work:ro", host.display());
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "-v",
            &rw,
            "busybox",
            "sh",
            "-c",
            "cat /work/in; echo back > /work/out"
        ]),
        "from the host\n"
    );
    assert_eq!(std::fs::read_to_string(host.join("out")).unwrap(), "back\n");
    let (_, err, code) =
        text(&d.berth(&["run", "--rm", "-v", &ro, "busybox", "touch", "/work/no"]));
    assert_eq!(code, 1);
    assert!(err.contains("Read-only file system"), "{err}");
    // A single file can be bound too.
    let file = format!("{}:/etc/motd:ro", host.join("in").display());
    assert_eq!(
        d.ok(&["run", "--rm", "-v", &file, "busybox", "cat", "/etc/motd"]),
        "from the host\n"
    );

    // -v makes a missing host directory; --mount refuses it.
    let missing = d.dir.path().join("made/by/v");
    d.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/m", missing.display()),
        "busybox",
        "true",
    ]);
    assert!(missing.is_dir());
    let gone = d.dir.path().join("nope");
    let (_, err, code) = text(&d.berth(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=bind,src={},dst=/m", gone.display()),
        "busybox",
        "true",
    ]));
    assert_eq!(code, 125);
    assert!(
        err.contains(&format!(
            "invalid mount config for type \"bind\": bind source path does not exist: {}",
            gone.display()
        )),
        "{err}"
    );
    assert!(!gone.exists());
    let (_, err, code) = text(&d.berth(&[
        "run", "--rm", "-v", "va:/x", "-v", "vb:/x", "busybox", "true",
    ]));
    assert_eq!(code, 125);
    assert!(err.contains("Duplicate mount point: /x"), "{err}");
    let (_, err, code) = text(&d.berth(&["volume", "create", "../etc"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("includes invalid characters for a local volume name"),
        "{err}"
    );
    // Refusals made nothing: no volume va, vb, or ../etc.
    assert_eq!(d.ok(&["volume", "ls", "-q"]), "");

    // tmpfs: Docker's flags first, the size and mode honoured.
    let line = d.ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/run:size=1m",
        "busybox",
        "grep",
        " /run ",
        "/proc/mounts",
    ]);
    assert!(
        line.starts_with("tmpfs /run tmpfs rw,nosuid,nodev,noexec,"),
        "{line}"
    );
    assert!(line.contains("size=1024k"), "{line}");
    let out = d.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,dst=/t,tmpfs-size=2m,tmpfs-mode=1770",
        "busybox",
        "sh",
        "-c",
        "stat -c %a /t; grep ' /t ' /proc/mounts",
    ]);
    assert!(out.starts_with("1770\n"), "{out}");
    assert!(out.contains("size=2048k"), "{out}");
    let (_, err, code) = text(&d.berth(&[
        "run",
        "--rm",
        "--tmpfs",
        "/big:size=1m",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/big/f",
        "bs=1k",
        "count=2048",
    ]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert_no_leaks(&d);
}

#[test]
fn prune_inspect_filters_and_df() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&["volume", "create", "--label", "keep=yes", "named"]);
    d.ok(&["create", "-v", "/anon", "--name", "user", "busybox", "true"]);
    d.ok(&["volume", "create", "loose"]);
    d.ok(&[
        "run",
        "--rm",
        "-v",
        "loose:/l",
        "busybox",
        "sh",
        "-c",
        "head -c 3000 /dev/zero > /l/f",
    ]);
    let anon = d.ok(&["inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "user"]);
    let anon = anon.trim().to_string();
    // Filters.
    assert_eq!(
        d.ok(&["volume", "ls", "-q", "-f", "label=keep=yes"]).trim(),
        "named"
    );
    let dangling = d.ok(&["volume", "ls", "-q", "-f", "dangling=true"]);
    assert_eq!(dangling, "loose\nnamed\n");
    assert_eq!(
        d.ok(&["volume", "ls", "-q", "-f", "name=loo"]).trim(),
        "loose"
    );
    assert_eq!(
        d.ok(&["ps", "-aq", "-f", &format!("volume={anon}")])
            .trim()
            .len(),
        12
    );
    let inspect = d.ok(&[
        "volume",
        "inspect",
        "-f",
        "{{.Driver}} {{.Scope}} {{json .Labels}}",
        "named",
    ]);
    assert_eq!(inspect, "local local {\"keep\":\"yes\"}\n");
    let (_, err, code) = text(&d.berth(&["volume", "inspect", "missing"]));
    assert_eq!(code, 1);
    assert!(err.contains("no such volume"), "{err}");
    let df = d.ok(&["system", "df"]);
    assert!(
        df.lines()
            .any(|l| l.starts_with("Local Volumes") && l.split_whitespace().nth(2) == Some("3")),
        "{df}"
    );
    // Prune: anonymous volumes only (and only unused ones), then all with -a.
    d.ok(&["rm", "user"]);
    let out = d.ok(&["volume", "prune", "-f"]);
    assert!(out.contains(&anon), "{out}");
    assert_eq!(d.ok(&["volume", "ls", "-q"]), "loose\nnamed\n");
    let out = d.ok(&["volume", "prune", "-af", "--filter", "label!=keep"]);
    assert!(
        out.contains("loose") && out.contains("Total reclaimed space: 3kB"),
        "{out}"
    );
    assert_eq!(d.ok(&["volume", "ls", "-q"]), "named\n");
    assert_no_leaks(&d);
}

#[test]
fn a_tmpfs_backed_volume_is_mounted_while_used_and_survives_a_daemon_sigkill() {
    let mut d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=4m",
        "fast",
    ]);
    let data = d.root.join("volumes/fast/_data");
    assert!(!is_mounted(&data));
    d.ok(&[
        "run",
        "-d",
        "--name",
        "holder",
        "-v",
        "fast:/f",
        "busybox",
        "sh",
        "-c",
        "echo kept > /f/x; sleep 300",
    ]);
    common::wait_until("the tmpfs volume is mounted", || is_mounted(&data));
    let line = d.ok(&["exec", "holder", "grep", " /f ", "/proc/mounts"]);
    assert!(line.starts_with("tmpfs /f tmpfs"), "{line}");
    assert!(line.contains("size=4096k"), "{line}");

    // The daemon dies; the container, its volume mount and the data are all still there.
    d.kill9_and_restart(Duration::from_millis(100));
    assert!(is_mounted(&data));
    assert_eq!(d.ok(&["exec", "holder", "cat", "/f/x"]), "kept\n");
    // In use across the restart: still refused.
    assert_eq!(d.berth(&["volume", "rm", "fast"]).status.code(), Some(1));
    d.ok(&["rm", "-f", "holder"]);
    common::wait_until("the tmpfs volume is unmounted", || !is_mounted(&data));

    // Its container dies while the daemon is down: the sweep unmounts the volume.
    d.ok(&[
        "run", "-d", "--name", "orphan", "-v", "fast:/f", "busybox", "sleep", "300",
    ]);
    common::wait_until("mounted again", || is_mounted(&data));
    let pid: i32 = d
        .ok(&["inspect", "-f", "{{.State.Pid}}", "orphan"])
        .trim()
        .parse()
        .unwrap();
    d.kill9_and_restart_with(Duration::from_millis(100), |_| {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        common::wait_until("the orphan is gone", || common::process_gone(pid));
    });
    common::wait_until("the sweep unmounted it", || !is_mounted(&data));
    d.ok(&["rm", "-f", "orphan"]);
    d.ok(&["volume", "rm", "fast"]);
    assert_no_leaks(&d);
}

#[test]
fn cp_reads_and_writes_through_volumes_and_binds() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let host = d.dir.path().join("cp");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("in.txt"), "copied\n").unwrap();
    let bind = format!("{}:/bound", host.display());
    d.ok(&[
        "create",
        "--name",
        "box",
        "-v",
        "cpvol:/data",
        "-v",
        &bind,
        "busybox",
        "sleep",
        "300",
    ]);
    let src = host.join("in.txt");
    d.ok(&["cp", src.to_str().unwrap(), "box:/data/"]);
    assert_eq!(
        std::fs::read_to_string(d.root.join("volumes/cpvol/_data/in.txt")).unwrap(),
        "copied\n"
    );
    d.ok(&["start", "box"]);
    assert_eq!(d.ok(&["exec", "box", "cat", "/data/in.txt"]), "copied\n");
    d.ok(&["exec", "box", "sh", "-c", "echo out > /bound/out.txt"]);
    let back = d.dir.path().join("back.txt");
    d.ok(&["cp", "box:/bound/out.txt", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "out\n");
    d.ok(&["rm", "-f", "box"]);
    assert_no_leaks(&d);
}

#[test]
fn links_in_the_image_cannot_point_a_mount_out_of_the_container() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let marker = d.dir.path().join("outside");
    std::fs::create_dir(&marker).unwrap();
    let up = format!("../../../../../../../..{}", marker.display());
    d.ok(&[
        "run",
        "--name",
        "trap",
        "busybox",
        "sh",
        "-c",
        &format!("ln -s /etc /data && ln -s {up} /escape"),
    ]);
    d.ok(&["commit", "trap", "trapped"]);
    d.ok(&["rm", "trap"]);
    let host = d.dir.path().join("bindsrc");
    std::fs::create_dir(&host).unwrap();
    // /data -> /etc: the volume lands on the container's /etc, never the host's.
    let out = d.ok(&[
        "run",
        "--rm",
        "-v",
        "trapvol:/data",
        "--tmpfs",
        "/escape/t",
        "-v",
        &format!("{}:/escape/b", host.display()),
        "trapped",
        "sh",
        "-c",
        "touch /data/planted /escape/t/x /escape/b/y; ls /etc/planted",
    ]);
    assert_eq!(out, "/etc/planted\n");
    assert!(!Path::new("/etc/planted").exists());
    // /escape -> ../../..<marker>: resolved inside the rootfs, so nothing lands in the marker.
    assert_eq!(std::fs::read_dir(&marker).unwrap().count(), 0);
    assert!(host.join("y").exists());
    assert_no_leaks(&d);
}

#[test]
fn the_docker_cli_drives_volumes() {
    let d = daemon_or_skip!();
    if !d.docker_or_say() {
        return;
    }
    d.load_busybox();
    let (out, err, code) = d.docker_text(&["volume", "create", "--label", "a=b", "dv"]);
    assert_eq!((out.trim(), code), ("dv", 0), "{err}");
    let (out, _, _) = d.docker_text(&["volume", "ls"]);
    assert_eq!(out, "DRIVER    VOLUME NAME\nlocal     dv\n");
    let (out, err, code) = d.docker_text(&[
        "run",
        "--rm",
        "-v",
        "dv:/d",
        "--mount",
        "type=tmpfs,dst=/t,tmpfs-size=1m",
        "busybox",
        "sh",
        "-c",
        "echo hi > /d/f; cat /d/f; grep -c ' /t ' /proc/mounts",
    ]);
    assert_eq!((out.as_str(), code), ("hi\n1\n", 0), "{err}");
    let (out, _, _) = d.docker_text(&["volume", "inspect", "-f", "{{.Mountpoint}}", "dv"]);
    assert_eq!(
        out.trim(),
        d.root.join("volumes/dv/_data").to_string_lossy()
    );
    let (out, err, code) = d.docker_text(&["create", "--name", "dc", "-v", "dv:/d:ro", "busybox"]);
    assert_eq!(code, 0, "{out}{err}");
    let (out, _, _) = d.docker_text(&["inspect", "-f", "{{json .Mounts}}", "dc"]);
    let mounts: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        mounts,
        serde_json::json!([{"Type": "volume", "Name": "dv", "Source": d.root.join("volumes/dv/_data"), "Destination": "/d", "Driver": "local", "Mode": "ro", "RW": false, "Propagation": ""}])
    );
    let (_, err, code) = d.docker_text(&["volume", "rm", "dv"]);
    assert_eq!(code, 1);
    assert!(err.contains("volume is in use"), "{err}");
    let (out, _, _) = d.docker_text(&["system", "df"]);
    assert!(out.contains("Local Volumes   1         1"), "{out}");
    // busybox, in use by dc and sharing no layer: nothing of it is reclaimable (the client
    // counts an image whose SharedSize is unknown as all reclaimable).
    let in_use = |df: &str| {
        df.lines()
            .any(|l| l.starts_with("Images ") && l.ends_with(" 0B (0%)"))
    };
    assert!(in_use(&out), "{out}");
    let out = d.ok(&["system", "df"]);
    assert!(in_use(&out), "{out}");
    d.docker_text(&["rm", "dc"]);
    let (out, _, code) = d.docker_text(&["volume", "prune", "-af"]);
    assert_eq!(code, 0);
    assert!(out.contains("dv"), "{out}");
    assert_no_leaks(&d);
}
