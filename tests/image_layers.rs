//! The overlay2 layer store against the real kernel (root): layers with whiteouts, a
//! container's init and read-write layers, the merged view, and a clean teardown.

use berth::layers::{chain_id, LayerStore, MountApi};
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

macro_rules! root_or_skip {
    () => {
        if !is_root() {
            eprintln!("SKIPPED: this test mounts overlays and needs root");
            return;
        }
    };
}

/// A layer tar from (path, content) pairs; a content of None makes a directory.
fn layer(entries: &[(&str, Option<&str>)]) -> (Vec<u8>, String) {
    let mut b = tar::Builder::new(Vec::new());
    for (path, content) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        match content {
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, path, &[][..]).unwrap();
            }
            Some(c) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(c.len() as u64);
                b.append_data(&mut h, path, c.as_bytes()).unwrap();
            }
        }
    }
    let data = b.into_inner().unwrap();
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&data)));
    (data, digest)
}

/// A store in a fresh root on a real disk (overlay needs an upper fs with xattrs), with every
/// container it made unmounted and removed on drop, also during a panic.
struct Root {
    dir: tempfile::TempDir,
    store: LayerStore,
    containers: Vec<String>,
}

impl Root {
    fn new(prefix: &str) -> Root {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        let store = LayerStore::open(dir.path()).unwrap();
        Root {
            dir,
            store,
            containers: vec![],
        }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn container(&mut self, top: Option<&str>) -> String {
        let id = berth::util::id::random_id();
        self.store.create_container_layers(&id, top).unwrap();
        self.containers.push(id.clone());
        id
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = self.store.remove_container_layers(c);
        }
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn read(p: impl AsRef<Path>) -> String {
    fs::read_to_string(p).unwrap().trim().to_string()
}

#[test]
fn two_layers_a_whiteout_and_a_container_on_top() {
    root_or_skip!();
    let mut root = Root::new("layers-");
    let (l1, d1) = layer(&[
        ("etc/", None),
        ("etc/a", Some("a")),
        ("etc/b", Some("b")),
        ("dir/", None),
        ("dir/x", Some("x")),
        ("dir/y", Some("y")),
    ]);
    let (l2, d2) = layer(&[
        ("etc/.wh.a", Some("")),
        ("dir/", None),
        ("dir/.wh..wh..opq", Some("")),
        ("dir/z", Some("z")),
        ("new", Some("new")),
    ]);
    let base = root.store.apply_layer(None, &d1, &l1[..]).unwrap();
    assert_eq!(base.chain_id, d1);
    let top = root.store.apply_layer(Some(&d1), &d2, &l2[..]).unwrap();
    assert_eq!(top.chain_id, chain_id(Some(&d1), &d2));
    assert_eq!(top.size, 4, "the diff dir holds 'z' and 'new' (4 bytes)");

    // layerdb and overlay2, laid out as Docker lays them out.
    let db = root.path().join("image/overlay2/layerdb/sha256");
    let top_db = db.join(top.chain_id.trim_start_matches("sha256:"));
    assert_eq!(read(top_db.join("diff")), d2);
    assert_eq!(read(top_db.join("parent")), d1);
    assert_eq!(read(top_db.join("cache-id")), top.cache_id);
    assert_eq!(read(top_db.join("size")), "4");
    assert!(!db
        .join(d1.trim_start_matches("sha256:"))
        .join("parent")
        .exists());
    let ov = root.path().join("overlay2");
    let link1 = read(ov.join(&base.cache_id).join("link"));
    assert_eq!(link1.len(), 26);
    assert_eq!(
        fs::read_link(ov.join("l").join(&link1)).unwrap(),
        PathBuf::from(format!("../{}/diff", base.cache_id))
    );
    assert!(!ov.join(&base.cache_id).join("lower").exists());
    assert_eq!(
        read(ov.join(&top.cache_id).join("lower")),
        format!("l/{link1}")
    );
    let wh = fs::symlink_metadata(ov.join(&top.cache_id).join("diff/etc/a")).unwrap();
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);

    // The same layer again is stored once.
    let again = root.store.apply_layer(None, &d1, &l1[..]).unwrap();
    assert_eq!(again.cache_id, base.cache_id);

    let id = root.container(Some(&top.chain_id));
    let mounts = root.path().join("image/overlay2/layerdb/mounts").join(&id);
    let mount_id = read(mounts.join("mount-id"));
    assert_eq!(read(mounts.join("init-id")), format!("{mount_id}-init"));
    assert_eq!(read(mounts.join("parent")), top.chain_id);
    let link_top = read(ov.join(&top.cache_id).join("link"));
    let link_init = read(ov.join(format!("{mount_id}-init")).join("link"));
    assert_eq!(
        read(ov.join(&mount_id).join("lower")),
        format!("l/{link_init}:l/{link_top}:l/{link1}")
    );

    let merged = root.store.mount(&id).unwrap();
    assert!(root.store.is_mounted(&id));
    assert_eq!(
        root.store.mount(&id).unwrap(),
        merged,
        "mount is idempotent"
    );
    assert_eq!(
        names(&merged.join("etc")),
        ["b", "hostname", "hosts", "mtab", "resolv.conf"]
    );
    assert_eq!(names(&merged.join("dir")), ["z"]);
    assert_eq!(read(merged.join("new")), "new");
    for p in [
        ".dockerenv",
        "dev/console",
        "dev/pts",
        "dev/shm",
        "proc",
        "sys",
    ] {
        assert!(merged.join(p).exists(), "{p} missing from the merged view");
    }
    fs::write(merged.join("written"), "rw").unwrap();
    fs::remove_file(merged.join("etc/b")).unwrap();
    let rw = ov.join(&mount_id).join("diff");
    assert_eq!(read(rw.join("written")), "rw");
    assert!(fs::symlink_metadata(rw.join("etc/b"))
        .unwrap()
        .file_type()
        .is_char_device());

    // A layer under a container cannot go.
    let err = root.store.release_layer(&top.chain_id).unwrap_err();
    assert!(
        err.to_string().contains(&format!("container {id}")),
        "{err}"
    );

    root.store.unmount(&id).unwrap();
    assert!(!root.store.is_mounted(&id));
    root.store.unmount(&id).unwrap();
    root.store.remove_container_layers(&id).unwrap();
    root.store.remove_container_layers(&id).unwrap();
    assert!(!mounts.exists());
    assert_eq!(names(&ov.join("l")).len(), 2);

    let err = root.store.release_layer(&d1).unwrap_err();
    assert!(err.to_string().contains("is in use by layer"), "{err}");
    root.store.release_layer(&top.chain_id).unwrap();
    root.store.release_layer(&d1).unwrap();
    assert_eq!(names(&ov), ["l"]);
    assert!(names(&ov.join("l")).is_empty());
    assert!(names(&db).is_empty());
}

#[test]
fn a_layer_whose_digest_differs_leaves_nothing_behind() {
    root_or_skip!();
    let root = Root::new("layers-bad-");
    let (l1, d1) = layer(&[("f", Some("content"))]);
    let wrong = format!("sha256:{}", "0".repeat(64));
    let err = root.store.apply_layer(None, &wrong, &l1[..]).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&wrong) && msg.contains(&d1), "{msg}");
    assert_eq!(names(&root.path().join("overlay2")), ["l"]);
    assert!(names(&root.path().join("overlay2/l")).is_empty());
    assert!(names(&root.path().join("image/overlay2/layerdb/sha256")).is_empty());
}

#[test]
fn a_container_without_image_layers_and_a_second_create_is_refused() {
    root_or_skip!();
    let mut root = Root::new("layers-empty-");
    let id = root.container(None);
    let err = root.store.create_container_layers(&id, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("container {id} already has layers")
    );
    let merged = root.store.mount(&id).unwrap();
    assert!(merged.join("etc/hosts").exists());
    root.store.remove_container_layers(&id).unwrap();
    assert_eq!(names(&root.path().join("overlay2")), ["l"]);
}

/// The overlay's own options (after " - " in /proc/self/mountinfo) for the mount at `path`.
fn super_options(path: &Path) -> String {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let want = path.to_string_lossy();
    info.lines()
        .find(|l| l.split_whitespace().nth(4) == Some(&*want))
        .and_then(|l| l.split(" - ").nth(1))
        .unwrap_or_else(|| panic!("{want} is not mounted"))
        .to_string()
}

/// Deep enough that 30 absolute lower dirs exceed a page, and each lower dir's absolute path
/// exceeds the 255 bytes an fsconfig value may take.
fn long_chain_under_a_deep_root(api: MountApi) {
    let mut root = Root::new("layers-deep-");
    let deep = root.path().join("d".repeat(120)).join("e".repeat(120));
    let store = LayerStore::open(&deep).unwrap().with_mount_api(api);
    let mut parent: Option<String> = None;
    for i in 0..30 {
        let name = format!("f{i}");
        let (t, d) = layer(&[(name.as_str(), Some("x"))]);
        let info = store.apply_layer(parent.as_deref(), &d, &t[..]).unwrap();
        parent = Some(info.chain_id);
    }
    let ov = deep.join("overlay2");
    let id = berth::util::id::random_id();
    store
        .create_container_layers(&id, parent.as_deref())
        .unwrap();
    let mount_id = read(
        deep.join("image/overlay2/layerdb/mounts")
            .join(&id)
            .join("mount-id"),
    );
    let lower = read(ov.join(&mount_id).join("lower"));
    let plan = berth::layers::plan_mount(&ov, &mount_id, &lower, 4096).unwrap();
    assert!(plan.relative, "the test chain should need relative paths");
    // Let the guard tear it down even if an assertion fails.
    root.store = store;
    root.containers.push(id.clone());
    let merged = root.store.mount(&id).unwrap();
    assert!(merged.join("f0").exists() && merged.join("f29").exists());
    let opts = super_options(&merged);
    match api {
        MountApi::Legacy => assert!(opts.contains(",lowerdir="), "{opts}"),
        MountApi::LowerdirPlus => assert!(opts.contains(",lowerdir+="), "{opts}"),
    }
    root.store.remove_container_layers(&id).unwrap();
    assert!(!merged.exists());
}

#[test]
fn a_long_chain_under_a_deep_root_mounts_with_relative_paths() {
    root_or_skip!();
    long_chain_under_a_deep_root(MountApi::Legacy);
}

#[test]
fn a_long_chain_under_a_deep_root_mounts_with_lowerdir_plus() {
    root_or_skip!();
    if Root::new("layers-probe-").store.mount_api() != MountApi::LowerdirPlus {
        eprintln!("SKIPPED: this kernel has no overlayfs lowerdir+ (Linux 6.8 and later)");
        return;
    }
    long_chain_under_a_deep_root(MountApi::LowerdirPlus);
}
