//! The container's own mounts (`ShimSpec::mounts`: volumes, binds, tmpfs) and berth's /etc
//! files, each on a mount point found inside the rootfs.
//!
//! The image and the volumes are not ours: either can hold a link (`/data -> /etc`,
//! `-> ../../../../etc`) planted to point a mount at the host, and a volume shared with a
//! running container can have a directory swapped for such a link while this runs
//! (CVE-2021-30465). So a mount point is never named by a path string. It is opened with
//! openat2(RESOLVE_IN_ROOT), which resolves every link and `..` as if the rootfs were `/`;
//! what is missing of it is created one component at a time, relative to a parent opened the
//! same way (`kernel::open_in_root`); and it is mounted on through its descriptor
//! ([`Kernel::mount_at`]). Only a bind's source is a plain host path: the daemon chose it.

use crate::runtime::kernel::{create_new_file_at, open_in_root, Kernel, KernelError};
use crate::runtime::spec::{Mount, MountKind, Propagation};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag};
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// As many links as the kernel follows in one lookup before it gives up with ELOOP.
const MAX_LINKS: usize = 40;

/// The per-mount flags a bind remount must repeat from the mount it copied: those the kernel
/// locks on a mount that came from a more privileged namespace (changing them is EPERM), and
/// that a remount leaving them out would otherwise lift.
const KEPT_ON_REMOUNT: MsFlags = MsFlags::MS_RDONLY
    .union(MsFlags::MS_NOSUID)
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC)
    .union(MsFlags::MS_NOATIME)
    .union(MsFlags::MS_NODIRATIME)
    .union(MsFlags::MS_RELATIME)
    .union(MsFlags::MS_STRICTATIME);

/// Why one mount could not be made; init shows it after the destination.
#[derive(Debug, Error)]
pub enum MountError {
    #[error("opening the rootfs {path}: {errno}")]
    Rootfs { path: PathBuf, errno: Errno },
    #[error("the bind source {path}: {err}")]
    Source { path: PathBuf, err: std::io::Error },
    #[error("looking up {path}: {errno}")]
    Lookup { path: String, errno: Errno },
    #[error("creating {path}: {errno}")]
    Create { path: String, errno: Errno },
    #[error("{path} is not a directory")]
    NotADirectory { path: String },
    #[error("too many levels of symbolic links")]
    TooManyLinks,
    #[error("the mount point is the container's root directory")]
    RootItself,
    #[error("the mount point resolves to {0}, outside the rootfs")]
    Outside(PathBuf),
    #[error("a directory cannot be mounted on a file")]
    DirectoryOnFile,
    #[error("a file cannot be mounted on a directory")]
    FileOnDirectory,
    #[error("the mount point was moved while it was being mounted on")]
    Moved,
    #[error("{step}: {err}")]
    Kernel {
        step: &'static str,
        err: KernelError,
    },
}

fn step(step: &'static str) -> impl FnOnce(KernelError) -> MountError {
    move |err| MountError::Kernel { step, err }
}

fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Where a descriptor is, as /proc/self/fd shows it: a real path, no link left in it.
fn fd_path(fd: &OwnedFd) -> Result<PathBuf, Errno> {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).map_err(|e| errno_of(&e))
}

/// The rootfs, opened once: every mount point is resolved from this descriptor.
pub struct Rootfs {
    fd: OwnedFd,
    /// Its real path, which every mount point's own real path must start with.
    real: PathBuf,
}

impl Rootfs {
    pub fn open(path: &Path) -> Result<Rootfs, MountError> {
        use std::os::unix::fs::OpenOptionsExt;
        let failed = |errno| MountError::Rootfs {
            path: path.to_path_buf(),
            errno,
        };
        let fd: OwnedFd = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(path)
            .map_err(|e| failed(errno_of(&e)))?
            .into();
        let real = fd_path(&fd).map_err(failed)?;
        Ok(Rootfs { fd, real })
    }

    fn open_inside(&self, path: &Path, flags: OFlag) -> Result<OwnedFd, Errno> {
        // EAGAIN: a rename or a mount raced the walk, and the kernel could not vouch that its
        // `..` steps stayed inside; it asks for the walk again.
        let mut retries = 0;
        loop {
            match open_in_root(self.fd.as_fd(), path, flags) {
                Err(Errno::EAGAIN) if retries < 16 => retries += 1,
                done => return done,
            }
        }
    }
}

/// What a mount point has to be, decided by what is mounted on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Directory,
    File,
}

/// A bind takes the kind of its source (a file is bound on a file); anything else needs a
/// directory. mount(2) follows a link in the source, so this does too.
fn source_kind(source: &Path) -> Result<Kind, MountError> {
    let md = std::fs::metadata(source).map_err(|err| MountError::Source {
        path: source.to_path_buf(),
        err,
    })?;
    Ok(if md.is_dir() {
        Kind::Directory
    } else {
        Kind::File
    })
}

/// A mount point inside the rootfs, opened (`O_PATH`).
struct MountPoint {
    fd: OwnedFd,
    /// Its real path on the host, to find it again once something is mounted on it.
    real: PathBuf,
    /// The image or a volume had it; this module did not create it.
    existed: bool,
}

/// A path inside the container as the components openat2 is given, `..` kept (the kernel
/// resolves it, inside the root) and empty or `.` ones dropped.
/// Bytes, not text: a link's target need not be UTF-8.
fn components(path: &OsStr) -> Vec<OsString> {
    path.as_bytes()
        .split(|b| *b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(|c| OsStr::from_bytes(c).to_os_string())
        .collect()
}

fn relative(components: &[OsString]) -> PathBuf {
    if components.is_empty() {
        PathBuf::from(".")
    } else {
        components.iter().collect()
    }
}

fn shown(components: &[OsString]) -> String {
    format!("/{}", relative(components).display())
}

/// Open the mount point `destination` inside the rootfs, creating what is missing of it.
fn mount_point(root: &Rootfs, destination: &str, kind: Kind) -> Result<MountPoint, MountError> {
    let mut path = components(OsStr::new(destination));
    let mut links = 0;
    let mut existed = true;
    let fd = loop {
        if path.is_empty() {
            return Err(MountError::RootItself);
        }
        match root.open_inside(&relative(&path), OFlag::empty()) {
            Ok(fd) => break fd,
            Err(Errno::ENOENT) => {}
            Err(errno) => {
                return Err(MountError::Lookup {
                    path: shown(&path),
                    errno,
                })
            }
        }
        existed = false;
        match create_missing(root, &path, kind)? {
            Walk::Reached(fd) => break fd,
            Walk::ThroughLink(rewritten) => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(MountError::TooManyLinks);
                }
                path = rewritten;
            }
        }
    };
    let real = fd_path(&fd).map_err(|errno| MountError::Lookup {
        path: destination.to_string(),
        errno,
    })?;
    // openat2 already keeps the walk inside; these catch a link to `/` itself (runc refuses
    // a mount over the root too), and would catch a kernel that ignored RESOLVE_IN_ROOT.
    if real == root.real {
        return Err(MountError::RootItself);
    }
    if !real.starts_with(&root.real) {
        return Err(MountError::Outside(real));
    }
    check_kind(&fd, kind)?;
    Ok(MountPoint { fd, real, existed })
}

fn check_kind(fd: &OwnedFd, kind: Kind) -> Result<(), MountError> {
    let st = nix::sys::stat::fstat(fd.as_raw_fd()).map_err(|errno| MountError::Lookup {
        path: "the mount point".into(),
        errno,
    })?;
    let is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
    match (kind, is_dir) {
        (Kind::Directory, false) => Err(MountError::DirectoryOnFile),
        (Kind::File, true) => Err(MountError::FileOnDirectory),
        _ => Ok(()),
    }
}

/// Where walking a missing path ended.
enum Walk {
    Reached(OwnedFd),
    /// A component was a link whose target is missing: the path to walk instead.
    ThroughLink(Vec<OsString>),
}

/// Create what is missing of `path`, one component at a time, each with a name relative to
/// its parent's descriptor (mkdirat and openat do not follow a link in the last component,
/// so nothing is created through one behind our back). A component that turns out to be a
/// link (one that leads nowhere, or the lookup would have found it) is not created over: the
/// path is rewritten through the link's text and walked again, which creates what the link
/// names, inside the root. That is what runc did up to 1.1; runc 1.2 refuses such a mount
/// point instead (opencontainers/runc#5090), which fails images with a dangling
/// /etc/resolv.conf link.
fn create_missing(root: &Rootfs, path: &[OsString], kind: Kind) -> Result<Walk, MountError> {
    let mut parent = root
        .open_inside(Path::new("."), OFlag::O_DIRECTORY)
        .map_err(|errno| MountError::Lookup {
            path: "/".into(),
            errno,
        })?;
    for (i, name) in path.iter().enumerate() {
        let here = &path[..=i];
        let wants_directory = i + 1 < path.len() || kind == Kind::Directory;
        let flags = if wants_directory {
            OFlag::O_DIRECTORY
        } else {
            OFlag::empty()
        };
        match root.open_inside(&relative(here), flags) {
            Ok(fd) => {
                parent = fd;
                continue;
            }
            Err(Errno::ENOENT) => {}
            Err(Errno::ENOTDIR) => {
                return Err(MountError::NotADirectory { path: shown(here) });
            }
            Err(errno) => {
                return Err(MountError::Lookup {
                    path: shown(here),
                    errno,
                })
            }
        }
        let made = if wants_directory {
            nix::sys::stat::mkdirat(
                Some(parent.as_raw_fd()),
                name.as_os_str(),
                Mode::from_bits_truncate(0o755),
            )
        } else {
            create_new_file_at(parent.as_fd(), name, Mode::from_bits_truncate(0o644))
        };
        match made {
            Ok(()) => {}
            Err(Errno::EEXIST) => {
                if let Ok(target) =
                    nix::fcntl::readlinkat(Some(parent.as_raw_fd()), name.as_os_str())
                {
                    return Ok(Walk::ThroughLink(through_link(path, i, &target)));
                }
                // Made by someone else meanwhile: as good as made here.
            }
            Err(errno) => {
                return Err(MountError::Create {
                    path: shown(here),
                    errno,
                })
            }
        }
        parent = root
            .open_inside(&relative(here), flags)
            .map_err(|errno| MountError::Lookup {
                path: shown(here),
                errno,
            })?;
    }
    Ok(Walk::Reached(parent))
}

/// `path` with its component `i`, a link, replaced by the link's text: relative to the
/// link's directory, or to the root for an absolute one (RESOLVE_IN_ROOT reads `/` as the
/// rootfs, so the rewritten path is resolved exactly as the link would have been).
fn through_link(path: &[OsString], i: usize, target: &OsStr) -> Vec<OsString> {
    let mut rewritten = if target.as_bytes().starts_with(b"/") {
        Vec::new()
    } else {
        path[..i].to_vec()
    };
    rewritten.extend(components(target));
    rewritten.extend_from_slice(&path[i + 1..]);
    rewritten
}

/// The mount just made on `point`, opened. The descriptor taken before the mount names the
/// directory underneath it, and a remount or a propagation change must reach the new mount.
/// Found again by the real path (no link in it), and refused if that now leads elsewhere: a
/// rename could still swap the last component between the two lookups, which only the new
/// mount API (move_mount) would rule out; runc accepts the same window.
fn reopen_mounted(root: &Rootfs, point: &MountPoint) -> Result<OwnedFd, MountError> {
    let inside = point
        .real
        .strip_prefix(&root.real)
        .map_err(|_| MountError::Outside(point.real.clone()))?;
    let fd = root
        .open_inside(inside, OFlag::empty())
        .map_err(|errno| MountError::Lookup {
            path: format!("/{}", inside.display()),
            errno,
        })?;
    match fd_path(&fd) {
        Ok(real) if real == point.real => Ok(fd),
        _ => Err(MountError::Moved),
    }
}

/// The propagation init gives `/` first. Private, so that nothing done here reaches the host;
/// but a bind that asks to receive the host's mounts (shared or slave) would receive nothing
/// through a private copy of them, so then slave: events still come in, none go out. Docker
/// makes `/` shared for a shared bind, which lets the container's mounts reach the host too;
/// berth mounts /proc, /sys and /dev straight on the rootfs, and those must not.
pub fn root_propagation(mounts: &[Mount]) -> MsFlags {
    let wants_host_events = mounts.iter().any(|m| {
        matches!(m.kind, MountKind::Bind { .. })
            && !matches!(m.propagation, Propagation::Private | Propagation::Rprivate)
    });
    MsFlags::MS_REC
        | if wants_host_events {
            MsFlags::MS_SLAVE
        } else {
            MsFlags::MS_PRIVATE
        }
}

/// runc, and so Docker, gives a tmpfs over a directory the image has that directory's mode
/// (a `--tmpfs /tmp` stays 1777, one over a 0755 directory stays 0755, where a bare tmpfs
/// would be 1777); put first, a `mode=` among the options asked for still wins.
fn tmpfs_options(point: &MountPoint, data: &str) -> Result<Option<String>, MountError> {
    let mut options = Vec::new();
    if point.existed {
        let st =
            nix::sys::stat::fstat(point.fd.as_raw_fd()).map_err(|errno| MountError::Lookup {
                path: "the mount point".into(),
                errno,
            })?;
        options.push(format!("mode={:04o}", st.st_mode & 0o7777));
    }
    if !data.is_empty() {
        options.push(data.to_string());
    }
    Ok((!options.is_empty()).then(|| options.join(",")))
}

/// One mount of an OCI bundle's list (berth-runc): a bind, or a filesystem of `fstype`, with
/// its flags, data and propagation; the mount point found and made inside the rootfs as for
/// any other mount.
pub struct Generic<'a> {
    pub source: &'a str,
    pub fstype: &'a str,
    pub bind: bool,
    pub recursive: bool,
    pub flags: MsFlags,
    pub data: &'a str,
    pub propagation: MsFlags,
}

pub fn mount_generic(
    k: &dyn Kernel,
    root: &Rootfs,
    destination: &str,
    g: &Generic<'_>,
) -> Result<(), MountError> {
    let point = if g.bind {
        let point = mount_point(root, destination, source_kind(Path::new(g.source))?)?;
        let bind = if g.recursive {
            MsFlags::MS_BIND | MsFlags::MS_REC
        } else {
            MsFlags::MS_BIND
        };
        k.mount_at(Some(g.source), point.fd.as_fd(), None, bind, None)
            .map_err(step("binding"))?;
        let restrict = g.flags - MsFlags::MS_REMOUNT;
        if !restrict.is_empty() {
            let mounted = reopen_mounted(root, &point)?;
            let kept = k
                .mount_flags_at(mounted.as_fd())
                .map_err(step("reading the flags of the bound mount"))?
                & KEPT_ON_REMOUNT;
            k.mount_at(
                None,
                mounted.as_fd(),
                None,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | restrict | kept,
                None,
            )
            .map_err(step("remounting with its flags"))?;
        }
        point
    } else {
        let point = mount_point(root, destination, Kind::Directory)?;
        let data = if g.fstype == "tmpfs" {
            tmpfs_options(&point, g.data)?
        } else {
            (!g.data.is_empty()).then(|| g.data.to_string())
        };
        k.mount_at(
            Some(g.source),
            point.fd.as_fd(),
            Some(g.fstype),
            g.flags,
            data.as_deref(),
        )
        .map_err(step("mounting"))?;
        point
    };
    if !g.propagation.is_empty() {
        let mounted = reopen_mounted(root, &point)?;
        k.mount_at(None, mounted.as_fd(), None, g.propagation, None)
            .map_err(step("setting its propagation"))?;
    }
    Ok(())
}

/// Make the directory `destination` inside the rootfs (for a mount made by path afterwards).
pub fn ensure_dir(root: &Rootfs, destination: &str) -> Result<(), MountError> {
    mount_point(root, destination, Kind::Directory).map(|_| ())
}

#[cfg(test)]
mod tests;
