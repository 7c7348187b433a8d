//! e2e: image commands — tag, images (filters, formats, digests), history, rmi (untag vs
//! delete, conflicts with containers, shared layers), image prune — through berth's CLI and
//! the real docker CLI.

mod common;

use common::text;

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
    let dirs: Vec<_> = std::fs::read_dir(d.root.join("overlay2"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dirs, ["l"], "only the empty links dir is left");
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
