//! Finding mount points inside a rootfs full of hostile links (any user, in a temporary
//! directory), and mounting on them with a real kernel (root only, in a thread that has a
//! mount namespace of its own, so nothing reaches the host's mounts and all of it goes away
//! with the thread).

use super::*;
use crate::runtime::init::InitError;
use crate::runtime::kernel::recording::{Call, RecordingKernel};
use crate::runtime::kernel::LinuxKernel;
use std::collections::BTreeSet;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

/// A container's mounts, in their order, as the daemon's init makes them: each through
/// [`mount_generic`] with its flags and propagation.
fn mount_all(k: &dyn Kernel, root: &Rootfs, mounts: &[Mount]) -> Result<(), InitError> {
    for m in mounts {
        let mut flags = MsFlags::empty();
        for (on, f) in [
            (m.readonly, MsFlags::MS_RDONLY),
            (m.nosuid, MsFlags::MS_NOSUID),
            (m.nodev, MsFlags::MS_NODEV),
            (m.noexec, MsFlags::MS_NOEXEC),
        ] {
            if on {
                flags |= f;
            }
        }
        let (source, bind, recursive, data) = match &m.kind {
            MountKind::Bind { source, recursive } => (
                source.to_string_lossy().into_owned(),
                true,
                *recursive,
                String::new(),
            ),
            MountKind::Tmpfs { data } => ("tmpfs".to_string(), false, false, data.clone()),
        };
        let g = Generic {
            source: &source,
            fstype: if bind { "" } else { "tmpfs" },
            bind,
            recursive,
            flags,
            data: &data,
            propagation: if bind {
                crate::runtime::oci::plan::propagation_flags(m.propagation.as_str())
            } else {
                MsFlags::empty()
            },
        };
        mount_generic(k, root, &m.destination, &g)
            .map_err(|e| InitError::setup(&format!("mounting {}", m.destination), e))?;
    }
    Ok(())
}

/// Enough `..` to climb from any temporary directory to the host's `/`.
const UP: &str = "../../../../../../../../../../../..";

struct Tree {
    _tmp: tempfile::TempDir,
    rootfs: PathBuf,
    /// Where volumes and bound files live, outside the rootfs.
    host: PathBuf,
}

fn tree() -> Tree {
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = tmp.path().join("rootfs");
    let host = tmp.path().join("host");
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(rootfs.join("etc/image-file"), b"from the image").unwrap();
    Tree {
        rootfs: rootfs.canonicalize().unwrap(),
        host,
        _tmp: tmp,
    }
}

/// A directory in the host's /tmp that a link climbing out of the rootfs would reach.
fn host_tmp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("berth-escape-")
        .tempdir_in("/tmp")
        .unwrap()
}

fn name_of(dir: &tempfile::TempDir) -> String {
    dir.path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn point(t: &Tree, destination: &str, kind: Kind) -> Result<MountPoint, MountError> {
    mount_point(&Rootfs::open(&t.rootfs).unwrap(), destination, kind)
}

fn bind_mount(destination: &str, source: &Path) -> Mount {
    Mount {
        destination: destination.into(),
        kind: MountKind::Bind {
            source: source.into(),
            recursive: true,
        },
        readonly: false,
        nosuid: false,
        nodev: false,
        noexec: false,
        propagation: Propagation::Rprivate,
    }
}

fn tmpfs_mount(destination: &str, data: &str) -> Mount {
    Mount {
        kind: MountKind::Tmpfs { data: data.into() },
        ..bind_mount(destination, Path::new("/unused"))
    }
}

#[test]
fn an_absolute_link_is_read_inside_the_rootfs() {
    let t = tree();
    symlink("/etc", t.rootfs.join("data")).unwrap();
    let p = point(&t, "/data", Kind::Directory).unwrap();
    assert_eq!(p.real, t.rootfs.join("etc"));
    assert!(p.existed);
}

#[test]
fn a_link_climbing_out_is_stopped_at_the_root_and_what_it_names_created_inside() {
    let t = tree();
    let outside = host_tmp_dir();
    let x = name_of(&outside);
    symlink(format!("{UP}/tmp/{x}"), t.rootfs.join("escape")).unwrap();
    let p = point(&t, "/escape/y", Kind::Directory).unwrap();
    assert_eq!(p.real, t.rootfs.join("tmp").join(&x).join("y"));
    assert!(!p.existed);
    assert!(t.rootfs.join("tmp").join(&x).join("y").is_dir());
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}

#[test]
fn a_dangling_link_at_a_file_mount_point_gets_its_target_created_inside() {
    // What an image with systemd-resolved's /etc/resolv.conf link looks like.
    let t = tree();
    symlink(
        "/run/systemd/resolve/stub-resolv.conf",
        t.rootfs.join("etc/resolv.conf"),
    )
    .unwrap();
    let p = point(&t, "/etc/resolv.conf", Kind::File).unwrap();
    let inside = t.rootfs.join("run/systemd/resolve/stub-resolv.conf");
    assert_eq!(p.real, inside);
    let md = std::fs::symlink_metadata(&inside).unwrap();
    assert!(md.is_file() && md.len() == 0);
    assert_eq!(md.mode() & 0o777, 0o644 & !umask());
}

fn umask() -> u32 {
    let old = nix::sys::stat::umask(Mode::from_bits_truncate(0o022));
    nix::sys::stat::umask(old);
    old.bits()
}

#[test]
fn a_missing_path_is_created_as_directories_and_the_right_last_component() {
    let t = tree();
    let dir = point(&t, "/a/b/c", Kind::Directory).unwrap();
    assert_eq!(dir.real, t.rootfs.join("a/b/c"));
    assert!(t.rootfs.join("a/b/c").is_dir());
    let file = point(&t, "/a/b/f", Kind::File).unwrap();
    assert!(!file.existed);
    assert!(std::fs::symlink_metadata(t.rootfs.join("a/b/f"))
        .unwrap()
        .is_file());
}

#[test]
fn a_mount_point_of_the_wrong_kind_is_refused() {
    let t = tree();
    std::fs::create_dir(t.rootfs.join("etc/hosts")).unwrap();
    assert!(matches!(
        point(&t, "/etc/hosts", Kind::File),
        Err(MountError::FileOnDirectory)
    ));
    assert!(matches!(
        point(&t, "/etc/image-file", Kind::Directory),
        Err(MountError::DirectoryOnFile)
    ));
    assert!(matches!(
        point(&t, "/etc/image-file/below", Kind::Directory),
        Err(MountError::Lookup {
            errno: Errno::ENOTDIR,
            ..
        })
    ));
}

#[test]
fn the_root_itself_is_never_a_mount_point() {
    let t = tree();
    symlink("..", t.rootfs.join("up")).unwrap();
    symlink("/", t.rootfs.join("slash")).unwrap();
    for destination in ["/", "/up", "/slash", "/etc/.."] {
        assert!(
            matches!(
                point(&t, destination, Kind::Directory),
                Err(MountError::RootItself)
            ),
            "{destination}"
        );
    }
}

#[test]
fn a_link_loop_is_refused() {
    let t = tree();
    symlink("b", t.rootfs.join("a")).unwrap();
    symlink("a", t.rootfs.join("b")).unwrap();
    assert!(point(&t, "/a/x", Kind::Directory).is_err());
    // Dangling links that keep naming further dangling links end too.
    symlink("/c/../d", t.rootfs.join("d")).unwrap();
    assert!(point(&t, "/d", Kind::Directory).is_err());
}

#[test]
fn errors_name_the_destination() {
    let t = tree();
    let file = t.host.join("hosts");
    std::fs::write(&file, b"").unwrap();
    std::fs::create_dir(t.rootfs.join("etc/hosts")).unwrap();
    let root = Rootfs::open(&t.rootfs).unwrap();
    let err = mount_all(
        &RecordingKernel::default(),
        &root,
        &[bind_mount("/etc/hosts", &file)],
    )
    .unwrap_err();
    assert_eq!(
        err.message,
        "mounting /etc/hosts: a file cannot be mounted on a directory"
    );
    let err = mount_all(
        &RecordingKernel::default(),
        &root,
        &[bind_mount("/data", &t.host.join("missing"))],
    )
    .unwrap_err();
    assert!(
        err.message.starts_with(&format!(
            "mounting /data: the bind source {}/missing: ",
            t.host.display()
        )),
        "{}",
        err.message
    );
}

#[test]
fn a_tmpfs_over_a_directory_of_the_image_keeps_its_mode() {
    let t = tree();
    std::fs::create_dir(t.rootfs.join("cache")).unwrap();
    std::fs::set_permissions(t.rootfs.join("cache"), PermissionsExt::from_mode(0o1750)).unwrap();
    let k = RecordingKernel::default();
    let root = Rootfs::open(&t.rootfs).unwrap();
    let mounts = [
        tmpfs_mount("/cache", "size=1m"),
        tmpfs_mount("/fresh", "size=2m"),
        tmpfs_mount("/bare", ""),
    ];
    mount_all(&k, &root, &mounts).unwrap();
    let data: Vec<Option<String>> = k
        .calls()
        .into_iter()
        .map(|c| match c {
            Call::MountAt { data, .. } => data,
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(
        data,
        [
            Some("mode=1750,size=1m".into()),
            Some("size=2m".into()),
            None
        ]
    );
}

// --- With a real kernel -------------------------------------------------------------------

/// Run `f` as root in a thread with a mount namespace of its own, made private first so
/// that not even a mount under a shared one reaches the host. None (and a word on stderr)
/// when that is not possible here.
fn in_own_mount_namespace<T: Send>(test: &str, f: impl FnOnce() -> T + Send) -> Option<T> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping {test}: mounting needs root");
        return None;
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            use nix::sched::CloneFlags;
            // Per thread: a new mount namespace only unshares this thread's filesystem view.
            if let Err(e) = nix::sched::unshare(CloneFlags::CLONE_NEWNS) {
                eprintln!("skipping {test}: unshare(CLONE_NEWNS): {e}");
                return None;
            }
            nix::mount::mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .expect("making / private");
            Some(f())
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The mount points this thread's namespace has (mountinfo's fifth field, `\040` and the
/// like decoded).
fn mount_points() -> BTreeSet<PathBuf> {
    let info = std::fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .collect()
}

fn unescape_mountinfo(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.by_ref().take(3).collect();
            if let Ok(n) = u8::from_str_radix(&code, 8) {
                out.push(n as char);
                continue;
            }
            out.push(c);
            out.push_str(&code);
        } else {
            out.push(c);
        }
    }
    out
}

/// Detaches every mount under a directory when dropped, the deepest first, whether the test
/// got to its end or not (the namespace's end would take them anyway; this says so).
struct DetachUnder(PathBuf);

impl Drop for DetachUnder {
    fn drop(&mut self) {
        let mut under: Vec<PathBuf> = mount_points()
            .into_iter()
            .filter(|p| p.starts_with(&self.0))
            .collect();
        under.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for p in under {
            let _ = nix::mount::umount2(&p, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

#[test]
fn on_a_real_kernel_mounts_land_inside_the_rootfs_whatever_its_links_say() {
    let outside = host_tmp_dir();
    let x = name_of(&outside);
    in_own_mount_namespace("the real-kernel link test", || {
        let t = tree();
        let _detach = DetachUnder(t.rootfs.parent().unwrap().to_path_buf());
        symlink("/etc", t.rootfs.join("data")).unwrap();
        symlink(format!("{UP}/tmp/{x}"), t.rootfs.join("escape")).unwrap();
        let volume = t.host.join("volume");
        std::fs::create_dir(&volume).unwrap();
        std::fs::write(volume.join("in-the-volume"), b"v").unwrap();
        let hosts = t.host.join("hosts");
        std::fs::write(&hosts, b"127.0.0.1 localhost\n").unwrap();
        let host_etc = std::fs::metadata("/etc").unwrap().dev();
        let before = mount_points();

        let mounts = [
            tmpfs_mount("/data", "size=1m"),
            // Below the tmpfs just mounted through the link: its mount point is created in it.
            bind_mount("/data/hosts", &hosts),
            bind_mount("/escape/y", &volume),
        ];
        let root = Rootfs::open(&t.rootfs).unwrap();
        mount_all(&LinuxKernel, &root, &mounts).unwrap();

        let new: Vec<PathBuf> = mount_points().difference(&before).cloned().collect();
        assert_eq!(
            new,
            [
                t.rootfs.join("etc"),
                t.rootfs.join("etc/hosts"),
                t.rootfs.join("tmp").join(&x).join("y"),
            ]
        );
        let etc = nix::sys::statfs::statfs(&t.rootfs.join("etc")).unwrap();
        assert_eq!(etc.filesystem_type(), nix::sys::statfs::TMPFS_MAGIC);
        assert!(!t.rootfs.join("etc/image-file").exists(), "under the tmpfs");
        assert_eq!(
            std::fs::read(t.rootfs.join("etc/hosts")).unwrap(),
            b"127.0.0.1 localhost\n"
        );
        assert!(t
            .rootfs
            .join("tmp")
            .join(&x)
            .join("y/in-the-volume")
            .exists());
        assert_eq!(std::fs::metadata("/etc").unwrap().dev(), host_etc);
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    });
}

#[test]
fn on_a_real_kernel_a_read_only_bind_keeps_the_flags_of_its_source_mount() {
    use nix::sys::statvfs::FsFlags;
    in_own_mount_namespace("the real-kernel remount test", || {
        let t = tree();
        let _detach = DetachUnder(t.rootfs.parent().unwrap().to_path_buf());
        let source = t.host.join("nodev");
        std::fs::create_dir(&source).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            &source,
            Some("tmpfs"),
            MsFlags::MS_NODEV | MsFlags::MS_NOSUID,
            Some("size=1m"),
        )
        .unwrap();
        let m = Mount {
            readonly: true,
            noexec: true,
            ..bind_mount("/vol", &source)
        };
        let root = Rootfs::open(&t.rootfs).unwrap();
        mount_all(&LinuxKernel, &root, &[m]).unwrap();

        let flags = nix::sys::statvfs::statvfs(&t.rootfs.join("vol"))
            .unwrap()
            .flags();
        for f in [
            FsFlags::ST_RDONLY,
            FsFlags::ST_NOEXEC,
            FsFlags::ST_NODEV,
            FsFlags::ST_NOSUID,
        ] {
            assert!(flags.contains(f), "{f:?} missing from {flags:?}");
        }
        let err = std::fs::write(t.rootfs.join("vol/x"), b"").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EROFS));
        // The source itself stays writable: only the container's view is read-only.
        std::fs::write(source.join("x"), b"").unwrap();
    });
}
