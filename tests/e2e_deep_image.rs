//! e2e: images deeper than Docker runs (it stops near 125 layers, "max depth exceeded"). The
//! images are made here, without the builder: a `docker save`-style archive of the busybox
//! fixture's layer and N more layers on top, each adding one file `/layers/<i>`. An image of 200
//! layers over busybox's runs through berth's CLI and the docker CLI; an image past overlayfs's stack limit
//! (500 lower dirs, one of them the container's `-init` layer) is refused at create, naming
//! the image and its layer count, with nothing left behind.

mod common;

use common::text;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A header with every numeric field set (a fresh one holds zero bytes, not octal digits).
fn header(kind: tar::EntryType, mode: u32, size: usize) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(size as u64);
    h.set_mtime(0);
    h
}

fn append(b: &mut tar::Builder<std::fs::File>, name: &str, data: &[u8]) {
    let mut h = header(tar::EntryType::Regular, 0o644, data.len());
    b.append_data(&mut h, name, data).unwrap();
}

/// One layer: the dir `layers/` and the file `layers/<i>` holding "<i>\n".
fn file_layer(i: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut dir = header(tar::EntryType::Directory, 0o755, 0);
    b.append_data(&mut dir, "layers/", &[][..]).unwrap();
    let body = format!("{i}\n");
    let mut f = header(tar::EntryType::Regular, 0o644, body.len());
    b.append_data(&mut f, format!("layers/{i}"), body.as_bytes())
        .unwrap();
    b.into_inner().unwrap()
}

/// `name:latest` with the busybox layer at the bottom and `extra` file layers above it, as an
/// archive `berth load` (and `docker load`) reads. The same layers every time, so a deeper
/// image shares the chains of a shallower one.
fn deep_archive(dir: &Path, name: &str, extra: usize) -> PathBuf {
    let fixture = std::fs::read(common::busybox_archive()).unwrap();
    let mut busybox_layer = None;
    let mut config = None;
    let mut manifest = None;
    for e in tar::Archive::new(&fixture[..]).entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        if path.ends_with("/layer.tar") {
            busybox_layer = Some(data);
        } else if path == "manifest.json" {
            manifest = Some(data);
        } else if path.ends_with(".json") {
            config = Some(data);
        }
    }
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.unwrap()).unwrap();
    assert_eq!(manifest[0]["Layers"].as_array().unwrap().len(), 1);
    let mut config: serde_json::Value = serde_json::from_slice(&config.unwrap()).unwrap();

    let path = dir.join(format!("{name}.tar"));
    let mut b = tar::Builder::new(std::fs::File::create(&path).unwrap());
    let busybox_layer = busybox_layer.unwrap();
    let mut layers = vec![format!("{}/layer.tar", sha256_hex(&busybox_layer))];
    append(&mut b, &layers[0], &busybox_layer);
    for i in 1..=extra {
        let tar = file_layer(i);
        let hex = sha256_hex(&tar);
        let layer = format!("{hex}/layer.tar");
        append(&mut b, &layer, &tar);
        layers.push(layer);
        config["rootfs"]["diff_ids"]
            .as_array_mut()
            .unwrap()
            .push(format!("sha256:{hex}").into());
        config["history"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "created": "2024-01-01T00:00:00Z",
                "created_by": format!("e2e_deep_image: add /layers/{i}"),
            }));
    }
    let config = serde_json::to_vec(&config).unwrap();
    let config_name = format!("{}.json", sha256_hex(&config));
    append(&mut b, &config_name, &config);
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": [format!("{name}:latest")],
        "Layers": layers,
    }]);
    append(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    b.into_inner().unwrap();
    path
}

fn load(d: &common::TestDaemon, archive: &Path, name: &str) {
    let out = d.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert!(
        out.contains(&format!("Loaded image: {name}:latest")),
        "{out}"
    );
}

#[test]
fn a_200_layer_image_runs_through_berth_and_the_docker_cli() {
    let d = daemon_or_skip!();
    let archive = deep_archive(d.dir.path(), "deep", 200);
    load(&d, &archive, "deep");
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{len .RootFS.Layers}}", "deep"]),
        "201\n"
    );

    // One file from each of the 200 layers above busybox's.
    let out = d.ok(&["run", "--rm", "deep", "sh", "-c", "ls /layers | wc -l"]);
    assert_eq!(out.trim(), "200");
    // The lowest file layer (right above busybox) and the top one, through the same mount.
    let out = d.ok(&["run", "--rm", "deep", "cat", "/layers/1", "/layers/200"]);
    assert_eq!(out, "1\n200\n");
    // A file of the bottom layer, busybox's own.
    let out = d.ok(&[
        "run",
        "--rm",
        "deep",
        "sh",
        "-c",
        "test -x /bin/busybox && echo ok",
    ]);
    assert_eq!(out, "ok\n");

    if let Some(mut docker) = d.docker() {
        let (out, err, code) = text(
            &docker
                .args(["run", "--rm", "deep", "cat", "/layers/1", "/layers/200"])
                .output()
                .unwrap(),
        );
        assert_eq!((out.as_str(), code), ("1\n200\n", 0), "{err}\n{}", d.log());
    } else {
        eprintln!("docker CLI part SKIPPED: no docker client installed");
    }
    assert_eq!(d.ok(&["ps", "-aq"]), "");
    assert_eq!(d.leaks_but_the_daemon(), Vec::<String>::new());
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn overlayfs_stack_limit_is_reached_exactly_and_refused_past_it() {
    let d = daemon_or_skip!();
    // 499 image layers and the -init layer: 500 lower dirs, overlayfs's limit.
    let at_limit = deep_archive(d.dir.path(), "deep499", 498);
    load(&d, &at_limit, "deep499");
    let out = d.ok(&["run", "--rm", "deep499", "cat", "/layers/1", "/layers/498"]);
    assert_eq!(out, "1\n498\n");

    // One more layer (the others are shared with deep499) is one lower dir too many.
    let past = deep_archive(d.dir.path(), "deep500", 499);
    load(&d, &past, "deep500");
    let overlay = d.root.join("overlay2");
    let before = entries(&overlay);
    let (out, err, code) = text(&d.berth(&["run", "--rm", "--name", "toodeep", "deep500", "true"]));
    assert_eq!(code, 125, "stdout: {out}\nstderr: {err}");
    assert!(
        err.contains("image deep500: 500 layers: max depth exceeded")
            && err.contains("overlayfs stacks at most 500 lower directories"),
        "{err}"
    );
    let (out, _, _) = text(&d.berth(&["ps", "-aq"]));
    assert_eq!(out, "", "the refused container must not exist");
    assert_eq!(entries(&overlay), before, "no layer dir may be left");
    assert!(entries(&d.root.join("image/overlay2/layerdb/mounts")).is_empty());
    assert!(entries(&d.root.join("containers")).is_empty());
    assert_eq!(d.leaks_but_the_daemon(), Vec::<String>::new());
    // The name was not kept either.
    let out = d.ok(&[
        "run",
        "--rm",
        "--name",
        "toodeep",
        "deep499",
        "cat",
        "/layers/7",
    ]);
    assert_eq!(out, "7\n");
}
