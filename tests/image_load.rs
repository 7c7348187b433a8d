//! `ImageStore::load` with the busybox fixture (root: layers keep their owners and whiteouts
//! are device nodes): what lands on disk, lookups, re-tagging, OCI layouts, and archives that
//! are corrupt or cut short, which must register nothing.

use berth::image::{ImageError, ImageStore};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

macro_rules! root_or_skip {
    () => {
        if !is_root() {
            eprintln!("SKIPPED: loading layers keeps file owners and needs root");
            return;
        }
    };
}

/// The fixture, built by its script into target/fixtures/busybox.tar (cached by the script).
fn fixture() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let out = dir.join("target/fixtures/busybox.tar");
        let status = std::process::Command::new("bash")
            .arg(dir.join("fixtures/busybox/build.sh"))
            .arg(&out)
            .status()
            .expect("running fixtures/busybox/build.sh");
        assert!(status.success(), "fixtures/busybox/build.sh failed");
        fs::read(out).unwrap()
    })
}

fn untar(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(data);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut v = Vec::new();
            e.read_to_end(&mut v).unwrap();
            (name, v)
        })
        .filter(|(n, _)| !n.ends_with('/'))
        .collect()
}

fn tar_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        // "link -> target" entries are symlinks, as Docker's older archives have them.
        if let Some(target) = std::str::from_utf8(data)
            .ok()
            .and_then(|d| d.strip_prefix("symlink:"))
        {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            h.set_mtime(0);
            b.append_link(&mut h, name, target).unwrap();
            continue;
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

fn file<'a>(files: &'a [(String, Vec<u8>)], suffix: &str) -> &'a Vec<u8> {
    &files.iter().find(|(n, _)| n.ends_with(suffix)).unwrap().1
}

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A fresh root on a real disk; the temp dir goes on drop (nothing here mounts).
struct Root {
    dir: tempfile::TempDir,
    store: ImageStore,
}

impl Root {
    fn new() -> Root {
        let dir = tempfile::Builder::new()
            .prefix("image-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        Root { dir, store }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn load(&self, data: &[u8]) -> Result<Vec<String>, ImageError> {
        self.store.load(data, &mut |_| {})
    }
    fn names(&self, rel: &str) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.path().join(rel))
            .map(|r| {
                r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
    /// Nothing registered: no tag, no config, no layer, no spool left.
    fn assert_empty(&self) {
        let repos = fs::read_to_string(self.path().join("image/overlay2/repositories.json"))
            .unwrap_or_default();
        assert!(!repos.contains("busybox"), "a tag was left: {repos}");
        assert!(self
            .names("image/overlay2/imagedb/content/sha256")
            .is_empty());
        assert!(self.names("image/overlay2/layerdb/sha256").is_empty());
        assert_eq!(self.names("overlay2"), ["l"]);
        assert!(self.names("overlay2/l").is_empty());
        assert!(self.names("tmp").is_empty(), "the spool was left behind");
    }
}

#[test]
fn the_fixture_loads_laid_out_as_docker_lays_it_out() {
    root_or_skip!();
    let root = Root::new();
    let files = untar(fixture());
    let config = file(&files, ".json").clone();
    let manifest: serde_json::Value =
        serde_json::from_slice(file(&files, "manifest.json")).unwrap();
    assert_eq!(manifest[0]["RepoTags"][0], "busybox:latest");
    let layer = file(&files, "/layer.tar");
    let id = sha(&config);
    let diff_id = format!("sha256:{}", sha(layer));

    let mut progress = Vec::new();
    let lines = root
        .store
        .load(fixture(), &mut |v| progress.push(v))
        .unwrap();
    assert_eq!(lines, ["Loaded image: busybox:latest"]);
    let last = progress.last().unwrap();
    assert_eq!(last["status"], "Loading layer");
    assert_eq!(last["id"].as_str(), Some(&diff_id[7..19]));
    // Bytes as they streamed, up to the whole layer.
    let bytes: Vec<u64> = progress
        .iter()
        .filter_map(|v| v["progressDetail"]["current"].as_u64())
        .collect();
    assert_eq!(bytes.last().copied(), Some(layer.len() as u64));

    let p = root.path();
    assert_eq!(
        fs::read(p.join("image/overlay2/imagedb/content/sha256").join(&id)).unwrap(),
        config
    );
    let repos: serde_json::Value =
        serde_json::from_slice(&fs::read(p.join("image/overlay2/repositories.json")).unwrap())
            .unwrap();
    assert_eq!(
        repos,
        serde_json::json!({"Repositories": {"busybox": {"busybox:latest": format!("sha256:{id}")}}})
    );
    let db = p.join("image/overlay2/layerdb/sha256").join(&diff_id[7..]);
    assert_eq!(fs::read_to_string(db.join("diff")).unwrap(), diff_id);
    assert!(!db.join("parent").exists());
    let cache = fs::read_to_string(db.join("cache-id")).unwrap();
    let size: u64 = fs::read_to_string(db.join("size"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(size > 1_000_000, "busybox alone is over 1 MB, got {size}");
    let diff = p.join("overlay2").join(&cache).join("diff");
    assert!(diff.join("bin/busybox").is_file());
    assert_eq!(
        fs::read_link(diff.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    let home = fs::metadata(diff.join("home/user")).unwrap();
    assert_eq!((home.uid(), home.gid()), (1000, 1000));
    assert_eq!(
        fs::metadata(diff.join("tmp")).unwrap().permissions().mode() & 0o7777,
        0o1777
    );
    let passwd = fs::read_to_string(diff.join("etc/passwd")).unwrap();
    assert!(passwd.contains("user:x:1000:1000:user:/home/user:/bin/sh"));
    assert!(fs::read_to_string(diff.join("etc/group"))
        .unwrap()
        .contains("staff:x:50:user"));
    assert!(root.names("tmp").is_empty());

    // Lookups as Docker resolves them.
    let full = format!("sha256:{id}");
    for name in [
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox:latest",
        &id,
        &full,
        &id[..12],
        &id[..3],
        &format!("sha256:{}", &id[..12]),
    ] {
        let r = root
            .store
            .get(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.id, full, "{name}");
        assert_eq!(r.repo_tags, ["busybox:latest"]);
        assert_eq!(r.top_layer.as_deref(), Some(diff_id.as_str()));
        assert_eq!(r.size, size as i64);
        assert_eq!(r.created, "2024-01-01T00:00:00Z");
        let cfg = r.config.config.as_ref().unwrap();
        assert_eq!(cfg.cmd.as_deref(), Some(&["sh".to_string()][..]));
    }
    for (name, shown) in [
        ("nope", "nope:latest"),
        ("busybox:1.0", "busybox:1.0"),
        ("0000", "0000:latest"),
    ] {
        let err = root.store.get(name).unwrap_err();
        assert!(matches!(err, ImageError::NotFound(_)));
        assert_eq!(err.to_string(), format!("No such image: {shown}"));
    }
    assert_eq!(root.store.list().unwrap().len(), 1);

    // Loading again stores nothing twice.
    let mut progress = Vec::new();
    root.store
        .load(fixture(), &mut |v| progress.push(v))
        .unwrap();
    let last = progress.last().unwrap();
    assert_eq!(last["status"], "Layer already exists");
    assert_eq!(last["id"].as_str(), Some(&diff_id[7..19]));
    assert_eq!(root.names("overlay2").len(), 2, "one layer dir and l/");
}

#[test]
fn a_flipped_byte_in_a_layer_registers_nothing() {
    root_or_skip!();
    let root = Root::new();
    let mut files = untar(fixture());
    let layer = &mut files
        .iter_mut()
        .find(|(n, _)| n.ends_with("/layer.tar"))
        .unwrap()
        .1;
    let mid = layer.len() / 2;
    layer[mid] ^= 0x40;
    let err = root.load(&tar_of(&files)).unwrap_err().to_string();
    assert!(err.contains("digest"), "{err}");
    root.assert_empty();
}

#[test]
fn a_flipped_byte_in_the_config_registers_nothing() {
    root_or_skip!();
    let root = Root::new();
    let mut files = untar(fixture());
    let config = &mut files
        .iter_mut()
        .find(|(n, _)| n.ends_with(".json") && !n.starts_with("manifest"))
        .unwrap()
        .1;
    let at = config.iter().position(|&c| c == b'2').unwrap();
    config[at] = b'3';
    let err = root.load(&tar_of(&files)).unwrap_err().to_string();
    assert!(err.contains("is corrupt"), "{err}");
    root.assert_empty();
}

#[test]
fn truncated_archives_register_nothing() {
    root_or_skip!();
    let data = fixture();
    // Inside the layer, inside the first header, and inside the last file (`repositories`;
    // what follows it is only tar's zero padding, whose loss would be harmless).
    let last = data.len() - data.iter().rev().position(|&b| b != 0).unwrap();
    for cut in [data.len() / 2, 100, last - 10] {
        let root = Root::new();
        let err = root.load(&data[..cut]).unwrap_err();
        eprintln!("cut at {cut}: {err}");
        root.assert_empty();
        let root = Root::new();
        let gz = gzip(data);
        assert!(root.load(&gz[..gz.len() * 2 / 3]).is_err());
        root.assert_empty();
    }
    let root = Root::new();
    let err = root
        .load(&b"not an archive at all"[..])
        .unwrap_err()
        .to_string();
    assert!(!err.is_empty());
    root.assert_empty();
}

#[test]
fn a_gzipped_archive_loads_and_a_second_image_takes_the_tag() {
    root_or_skip!();
    let root = Root::new();
    assert_eq!(
        root.load(&gzip(fixture())).unwrap(),
        ["Loaded image: busybox:latest"]
    );
    let first = root.store.get("busybox").unwrap().id;

    // Same layer, another config: a new image id under the same tag.
    let files = untar(fixture());
    let config = String::from_utf8(file(&files, ".json").clone()).unwrap();
    let config = config.replace("\"os\":\"linux\"", "\"os\":\"linux\",\"author\":\"me\"");
    let new_id = sha(config.as_bytes());
    let layer_name = files
        .iter()
        .find(|(n, _)| n.ends_with("/layer.tar"))
        .unwrap()
        .0
        .clone();
    let manifest = format!(
        r#"[{{"Config":"{new_id}.json","RepoTags":["busybox:latest","busybox:me"],"Layers":["{layer_name}"]}}]"#
    );
    let archive = tar_of(&[
        ("manifest.json".to_string(), manifest.into_bytes()),
        (format!("{new_id}.json"), config.into_bytes()),
        (layer_name.clone(), file(&files, "/layer.tar").clone()),
    ]);
    assert_eq!(
        root.load(&archive).unwrap(),
        ["Loaded image: busybox:latest", "Loaded image: busybox:me"]
    );
    let now = root.store.get("busybox:latest").unwrap();
    assert_eq!(now.id, format!("sha256:{new_id}"));
    assert_eq!(now.repo_tags, ["busybox:latest", "busybox:me"]);
    assert_eq!(now.config.author.as_deref(), Some("me"));
    let old = root.store.get(&first).unwrap();
    assert!(old.repo_tags.is_empty(), "the old image lost its tag");
    assert_eq!(
        root.names("image/overlay2/layerdb/sha256").len(),
        1,
        "the layer is shared"
    );

    // Untagged images print their id.
    let untagged = tar_of(&[
        (
            "manifest.json".to_string(),
            format!(r#"[{{"Config":"{new_id}.json","RepoTags":null,"Layers":["{layer_name}"]}}]"#)
                .into_bytes(),
        ),
        (
            format!("{new_id}.json"),
            fs::read(
                root.path()
                    .join("image/overlay2/imagedb/content/sha256")
                    .join(&new_id),
            )
            .unwrap(),
        ),
        (layer_name, file(&files, "/layer.tar").clone()),
    ]);
    assert_eq!(
        root.load(&untagged).unwrap(),
        [format!("Loaded image ID: sha256:{new_id}")]
    );
}

#[test]
fn an_oci_layout_with_a_gzipped_layer_loads_under_the_same_id() {
    root_or_skip!();
    let root = Root::new();
    let files = untar(fixture());
    let config = file(&files, ".json").clone();
    let layer = gzip(file(&files, "/layer.tar"));
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:{}","size":{}}}]}}"#,
        sha(&config),
        config.len(),
        sha(&layer),
        layer.len()
    );
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{}","size":{},"annotations":{{"io.containerd.image.name":"docker.io/library/busybox:oci","org.opencontainers.image.ref.name":"oci"}},"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
        sha(manifest.as_bytes()),
        manifest.len()
    );
    let blob = |d: &[u8]| (format!("blobs/sha256/{}", sha(d)), d.to_vec());
    let archive = tar_of(&[
        (
            "oci-layout".to_string(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        ("index.json".to_string(), index.into_bytes()),
        blob(manifest.as_bytes()),
        blob(&config),
        blob(&layer),
    ]);
    assert_eq!(root.load(&archive).unwrap(), ["Loaded image: busybox:oci"]);
    assert_eq!(
        root.store.get("busybox:oci").unwrap().id,
        format!("sha256:{}", sha(&config))
    );
    assert!(root.names("tmp").is_empty());
}

/// One layer file of an archive used by two images on different parents: it streams by once,
/// is placed for the first image and rebuilt for the second.
#[test]
fn one_layer_under_two_parents_in_one_archive() {
    root_or_skip!();
    let root = Root::new();
    let files = untar(fixture());
    let layer_name = files
        .iter()
        .find(|(n, _)| n.ends_with("/layer.tar"))
        .unwrap()
        .0
        .clone();
    let layer = file(&files, "/layer.tar").clone();
    let diff = format!("sha256:{}", sha(&layer));
    // A second layer of its own, to sit under the shared one in image B.
    let base = tar_of(&[("base.txt".to_string(), b"base\n".to_vec())]);
    let base_diff = format!("sha256:{}", sha(&base));
    // Configs over 1 KiB: big enough to be looked at as a possible layer, and spooled.
    let config = |diffs: &[&str], tag: &str| {
        let tag = format!("{tag}{}", "-".repeat(1200));
        format!(
            r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["sh"],"Labels":{{"t":"{tag}"}}}},"rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
            diffs
                .iter()
                .map(|d| format!("\"{d}\""))
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let a = config(&[&diff], "a");
    let b = config(&[&base_diff, &diff], "b");
    let (a_id, b_id) = (sha(a.as_bytes()), sha(b.as_bytes()));
    let manifest = format!(
        r#"[{{"Config":"{a_id}.json","RepoTags":["a:1"],"Layers":["{layer_name}"]}},{{"Config":"{b_id}.json","RepoTags":["b:1"],"Layers":["base/layer.tar","alias/layer.tar"]}}]"#
    );
    let archive = tar_of(&[
        (layer_name.clone(), layer),
        (
            "alias/layer.tar".to_string(),
            format!("symlink:../{layer_name}").into_bytes(),
        ),
        ("base/layer.tar".to_string(), base),
        (format!("{a_id}.json"), a.into_bytes()),
        (format!("{b_id}.json"), b.into_bytes()),
        ("manifest.json".to_string(), manifest.into_bytes()),
    ]);
    assert_eq!(
        root.load(&archive).unwrap(),
        ["Loaded image: a:1", "Loaded image: b:1"]
    );
    // Three chains: the shared layer alone, the base, and the shared layer on the base.
    assert_eq!(root.names("image/overlay2/layerdb/sha256").len(), 3);
    assert_eq!(root.names("overlay2").len(), 4, "three layer dirs and l/");
    let b = root.store.get("b:1").unwrap();
    let top = b.top_layer.unwrap();
    let mut rebuilt = Vec::new();
    root.store
        .layers()
        .write_layer_tar(&top, &mut rebuilt)
        .unwrap();
    assert_eq!(format!("sha256:{}", sha(&rebuilt)), diff);
}

/// A link in the archive, then a big file through it: the spool never follows the link.
#[test]
fn a_file_through_a_planted_link_is_refused() {
    root_or_skip!();
    let root = Root::new();
    let outside = tempfile::tempdir().unwrap();
    let archive = tar_of(&[
        (
            "x".to_string(),
            format!("symlink:{}", outside.path().display()).into_bytes(),
        ),
        ("x/evil".to_string(), vec![b'{'; 2000]),
    ]);
    assert!(root.load(&archive).is_err());
    assert!(!outside.path().join("evil").exists());
}
