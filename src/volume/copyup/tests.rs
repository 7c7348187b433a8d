//! Copy-up of a tree with every kind of entry (root only: owners, devices and
//! security.capability need it), its refusals, and the content copy on any layout of holes.

use super::*;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};

fn is_root(test: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        eprintln!("skipping {test}: copying owners and device nodes needs root");
    }
    root
}

/// Every entry of the tree gets these times (directories too, set last), far from now, so
/// that a copy which forgot them shows.
const ATIME: (i64, i64) = (1_000_000_000, 111);
const MTIME: (i64, i64) = (1_200_000_000, 222_333_444);

fn set_times(path: &Path) {
    nix::sys::stat::utimensat(
        None,
        path,
        &TimeSpec::new(ATIME.0, ATIME.1),
        &TimeSpec::new(MTIME.0, MTIME.1),
        UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
}

struct Fixture {
    _tmp: tempfile::TempDir,
    src: PathBuf,
    dst: PathBuf,
    /// Beside the source: what the link `sub/outside` names.
    outside: PathBuf,
}

/// An image's directory with one of everything, and an empty volume beside it.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("image/var/lib/app");
    let dst = tmp.path().join("volumes/app/_data");
    let outside = tmp.path().join("image/var/outside");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&dst).unwrap();
    std::fs::write(&outside, b"not to be touched").unwrap();

    std::fs::write(src.join("file.txt"), b"hello").unwrap();
    std::fs::set_permissions(src.join("file.txt"), PermissionsExt::from_mode(0o640)).unwrap();
    std::fs::create_dir(src.join("empty")).unwrap();
    std::fs::set_permissions(src.join("empty"), PermissionsExt::from_mode(0o1770)).unwrap();
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    std::fs::write(src.join("sub/deeper/leaf"), b"leaf").unwrap();
    symlink("/etc/passwd", src.join("passwd")).unwrap();
    symlink("../../outside", src.join("sub/outside")).unwrap();
    std::fs::write(src.join("hard1"), b"one inode").unwrap();
    std::fs::hard_link(src.join("hard1"), src.join("sub/hard2")).unwrap();
    nix::unistd::mkfifo(&src.join("fifo"), Mode::from_bits_truncate(0o620)).unwrap();
    nix::sys::stat::mknod(
        &src.join("null"),
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(src.join("socket")).unwrap();
    std::fs::write(src.join("suid"), b"#!/bin/true\n").unwrap();
    nix::unistd::chown(
        &src.join("suid"),
        Some(Uid::from_raw(1000)),
        Some(Gid::from_raw(1000)),
    )
    .unwrap();
    std::fs::set_permissions(src.join("suid"), PermissionsExt::from_mode(0o4755)).unwrap();
    std::fs::write(src.join("tagged"), b"").unwrap();
    xattr::set(src.join("tagged"), "user.x", b"y").unwrap();
    // What `setcap cap_net_raw+ep` writes: version 2, CAP_NET_RAW (13) permitted, effective.
    let cap: Vec<u8> = [0x0200_0001u32, 1 << 13, 0, 0, 0]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    xattr::set(src.join("suid"), "security.capability", &cap).unwrap();
    let sparse = File::create(src.join("sparse")).unwrap();
    sparse.set_len(64 << 20).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&sparse, b"middle", 32 << 20).unwrap();

    // The directory the volume covers: mysql's, say.
    nix::unistd::chown(&src, Some(Uid::from_raw(999)), Some(Gid::from_raw(998))).unwrap();
    std::fs::set_permissions(&src, PermissionsExt::from_mode(0o750)).unwrap();
    xattr::set(&src, "user.root", b"r").unwrap();

    for p in [
        "file.txt",
        "passwd",
        "sub/outside",
        "hard1",
        "fifo",
        "null",
        "suid",
        "tagged",
        "sparse",
        "sub/deeper/leaf",
    ] {
        set_times(&src.join(p));
    }
    for dir in ["sub/deeper", "sub", "empty", ""] {
        set_times(&src.join(dir));
    }
    Fixture {
        _tmp: tmp,
        src,
        dst,
        outside,
    }
}

fn lstat(p: &Path) -> std::fs::Metadata {
    std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Type, owner, mode and times of the copy are the source's.
fn assert_same_inode_metadata(src: &Path, dst: &Path) {
    let (s, d) = (lstat(src), lstat(dst));
    let what = dst.display();
    assert_eq!(s.file_type(), d.file_type(), "{what}");
    assert_eq!((s.uid(), s.gid()), (d.uid(), d.gid()), "{what}");
    if !s.file_type().is_symlink() {
        assert_eq!(s.mode(), d.mode(), "{what}: {:o} {:o}", s.mode(), d.mode());
    }
    assert_eq!((d.mtime(), d.mtime_nsec()), MTIME, "{what}");
    assert_eq!((d.atime(), d.atime_nsec()), ATIME, "{what}");
}

#[test]
fn copy_up_copies_every_kind_of_entry_with_its_metadata() {
    if !is_root("copy_up_copies_every_kind_of_entry_with_its_metadata") {
        return;
    }
    let f = fixture();
    let passwd_before = lstat(Path::new("/etc/passwd"));
    copy_up(&f.src, &f.dst).unwrap();

    for p in [
        "file.txt",
        "empty",
        "sub",
        "sub/deeper",
        "sub/deeper/leaf",
        "passwd",
        "sub/outside",
        "hard1",
        "fifo",
        "null",
        "suid",
        "tagged",
        "sparse",
    ] {
        assert_same_inode_metadata(&f.src.join(p), &f.dst.join(p));
    }
    // The directory the volume covers lends it its owner, mode, attributes and times.
    assert_same_inode_metadata(&f.src, &f.dst);
    assert_eq!(xattr::get(&f.dst, "user.root").unwrap().unwrap(), b"r");

    assert_eq!(std::fs::read(f.dst.join("file.txt")).unwrap(), b"hello");
    assert_eq!(
        std::fs::read(f.dst.join("sub/deeper/leaf")).unwrap(),
        b"leaf"
    );
    assert_eq!(std::fs::read_dir(f.dst.join("empty")).unwrap().count(), 0);

    // Links copied as links, their text as it was; what they name untouched.
    assert_eq!(
        std::fs::read_link(f.dst.join("passwd")).unwrap(),
        Path::new("/etc/passwd")
    );
    assert_eq!(
        std::fs::read_link(f.dst.join("sub/outside")).unwrap(),
        Path::new("../../outside")
    );
    assert_eq!(std::fs::read(&f.outside).unwrap(), b"not to be touched");
    let passwd_after = lstat(Path::new("/etc/passwd"));
    assert_eq!(
        (
            passwd_before.ino(),
            passwd_before.mtime(),
            passwd_before.ctime()
        ),
        (
            passwd_after.ino(),
            passwd_after.mtime(),
            passwd_after.ctime()
        )
    );

    let (h1, h2) = (lstat(&f.dst.join("hard1")), lstat(&f.dst.join("sub/hard2")));
    assert_eq!(h1.ino(), h2.ino(), "one inode for the two links");
    assert_eq!(h1.nlink(), 2);

    assert!(lstat(&f.dst.join("fifo")).file_type().is_fifo());
    let null = lstat(&f.dst.join("null"));
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), nix::sys::stat::makedev(1, 3));
    assert!(!f.dst.join("socket").exists(), "a socket is not content");

    let suid = lstat(&f.dst.join("suid"));
    assert_eq!(
        (suid.mode() & 0o7777, suid.uid(), suid.gid()),
        (0o4755, 1000, 1000)
    );
    assert_eq!(
        xattr::get(f.dst.join("suid"), "security.capability").unwrap(),
        xattr::get(f.src.join("suid"), "security.capability").unwrap()
    );
    assert_eq!(
        xattr::get(f.dst.join("tagged"), "user.x").unwrap().unwrap(),
        b"y"
    );

    let sparse = lstat(&f.dst.join("sparse"));
    assert_eq!(sparse.len(), 64 << 20);
    assert!(
        sparse.blocks() * 512 < 1 << 20,
        "holes kept: {} blocks",
        sparse.blocks()
    );
    let mut middle = [0u8; 6];
    std::os::unix::fs::FileExt::read_exact_at(
        &File::open(f.dst.join("sparse")).unwrap(),
        &mut middle,
        32 << 20,
    )
    .unwrap();
    assert_eq!(&middle, b"middle");
}

#[test]
fn a_volume_already_filled_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&dst).unwrap();
    std::fs::write(src.join("from-the-image"), b"").unwrap();
    std::fs::write(dst.join("mine"), b"kept").unwrap();
    copy_up(&src, &dst).unwrap();
    let names: Vec<_> = std::fs::read_dir(&dst)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["mine"]);
}

#[test]
fn neither_root_is_reached_through_a_link() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::fs::write(real.join("f"), b"").unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    symlink(&real, tmp.path().join("src-link")).unwrap();
    symlink(&empty, tmp.path().join("dst-link")).unwrap();

    let err = copy_up(&tmp.path().join("src-link"), &empty).unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "copying {} into the volume: opening the directory",
            tmp.path().join("src-link").display()
        )),
        "{err}"
    );
    assert!(copy_up(&real, &tmp.path().join("dst-link")).is_err());
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
}

#[test]
fn an_error_names_the_entry_of_the_image_and_keeps_its_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::create_dir_all(&dst).unwrap();
    let err = with_volume_unwritable(&dst, || copy_up(&src, &dst).unwrap_err());
    let Some(err) = err else { return };
    assert!(
        err.to_string().starts_with(&format!(
            "copying {} into the volume: creating the directory: ",
            src.join("a").display()
        )),
        "{err}"
    );
    let cause = err.get_ref().and_then(|e| e.downcast_ref::<CopyUpError>());
    let errno = cause.and_then(|c| c.source.raw_os_error());
    assert!(matches!(errno, Some(libc::EROFS | libc::EACCES)), "{err:?}");
}

/// Run `f` while nothing can be created in `dir`: a mode of 0500 for anyone but root, a
/// read-only bind of it onto itself for root (in a thread with a mount namespace of its own,
/// gone with the thread). None, with a word on stderr, when neither is possible.
fn with_volume_unwritable<T: Send>(dir: &Path, f: impl FnOnce() -> T + Send) -> Option<T> {
    if !nix::unistd::geteuid().is_root() {
        std::fs::set_permissions(dir, PermissionsExt::from_mode(0o500)).unwrap();
        return Some(f());
    }
    use nix::mount::{mount, MsFlags};
    std::thread::scope(|s| {
        s.spawn(|| {
            if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS) {
                eprintln!("skipping the read-only volume test: unshare: {e}");
                return None;
            }
            let none = None::<&str>;
            mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none).unwrap();
            mount(Some(dir), dir, none, MsFlags::MS_BIND, none).unwrap();
            let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
            mount(none, dir, none, ro, none).unwrap();
            let result = f();
            let _ = nix::mount::umount2(dir, nix::mount::MntFlags::MNT_DETACH);
            Some(result)
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

#[rstest::rstest]
#[case::user("user.x", true)]
#[case::capability("security.capability", true)]
#[case::selinux("security.selinux", true)]
#[case::acl("system.posix_acl_access", true)]
#[case::overlay_opaque("trusted.overlay.opaque", false)]
#[case::overlay_redirect("trusted.overlay.redirect", false)]
#[case::unprivileged_overlay("user.overlay.origin", false)]
#[case::other_trusted("trusted.md5sum", true)]
fn which_extended_attributes_are_the_files(#[case] name: &str, #[case] copied: bool) {
    assert_eq!(is_copied_xattr(OsStr::new(name)), copied);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// Whatever the layout of data and holes, the copy reads back byte for byte.
    #[test]
    fn contents_survive_any_layout_of_holes(
        len in 0u64..(3 << 20),
        writes in proptest::collection::vec((0u64..(3 << 20), 1usize..70_000), 0..6),
    ) {
        use std::os::unix::fs::FileExt;
        let tmp = tempfile::tempdir().unwrap();
        let src = File::options().read(true).write(true).create(true).truncate(true)
            .open(tmp.path().join("src")).unwrap();
        src.set_len(len).unwrap();
        for (i, (at, n)) in writes.iter().enumerate() {
            src.write_all_at(&vec![i as u8 + 1; *n], *at).unwrap();
        }
        let size = src.metadata().unwrap().len();
        let dst = File::options().read(true).write(true).create(true).truncate(true)
            .open(tmp.path().join("dst")).unwrap();
        copy_contents(&src, &dst, size).unwrap();
        proptest::prop_assert_eq!(
            std::fs::read(tmp.path().join("src")).unwrap(),
            std::fs::read(tmp.path().join("dst")).unwrap()
        );
    }
}
