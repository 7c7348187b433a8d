//! Copy-up: the first time an empty volume is mounted over a directory of the image, Docker
//! fills the volume with what the image has there, so that a volume over /var/lib/mysql
//! starts with the image's files and their owners instead of hiding them.
//!
//! The source is an image's directory and the destination a volume; neither is trusted not to
//! hold links, so no path string is ever looked up below the two roots: every entry is opened,
//! created or examined relative to its parent's descriptor, and never through a link
//! (`O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`). A link is copied as a link, its text unchanged.

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, Whence};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use thiserror::Error;
use xattr::FileExt as _;

/// Why a copy-up stopped: the entry of the source tree it was at, and what it was doing.
/// Carried inside the `io::Error` that [`copy_up`] returns, whose kind is the cause's.
#[derive(Debug, Error)]
#[error("copying {path} into the volume: {action}: {source}")]
pub struct CopyUpError {
    pub path: PathBuf,
    pub action: &'static str,
    #[source]
    pub source: io::Error,
}

impl From<CopyUpError> for io::Error {
    fn from(e: CopyUpError) -> io::Error {
        io::Error::new(e.source.kind(), e)
    }
}

/// Copy the tree at `src` (a directory of a mounted rootfs, already resolved inside it) into
/// `dst` (a volume's `_data`): files, directories, links, hard links, fifos and device nodes,
/// with owners, modes, times and extended attributes; sockets are left out. `dst` itself
/// takes `src`'s owner, mode, attributes and times. A `dst` that is not empty is left alone,
/// as Docker does: the volume was filled before.
pub fn copy_up(src: &Path, dst: &Path) -> io::Result<()> {
    let fail = |path: &Path, action| {
        let path = path.to_path_buf();
        move |e: Errno| CopyUpError {
            path,
            action,
            source: e.into(),
        }
    };
    let src_root = open_at(None, src.as_os_str(), DIRECTORY, Mode::empty())
        .map_err(fail(src, "opening the directory"))?;
    let dst_root = open_at(None, dst.as_os_str(), DIRECTORY, Mode::empty())
        .map_err(fail(dst, "opening the volume"))?;
    if !entries(&dst_root)
        .map_err(fail(dst, "listing the volume"))?
        .is_empty()
    {
        return Ok(());
    }
    let st =
        nix::sys::stat::fstat(src_root.as_raw_fd()).map_err(fail(src, "reading its metadata"))?;
    let mut copy = CopyUp {
        src,
        dst_root: &dst_root,
        first_links: HashMap::new(),
    };
    let mut at = Vec::new();
    copy.contents(&src_root, &dst_root, &mut at)?;
    copy.metadata(&src_root, &dst_root, &st, &at)?;
    Ok(())
}

const DIRECTORY: OFlag = OFlag::O_RDONLY.union(OFlag::O_DIRECTORY);

/// openat(2), never through a link in the last component (nor, for a path from the
/// caller, in the last component of `src` or `dst`).
fn open_at(dir: Option<&File>, name: &OsStr, flags: OFlag, mode: Mode) -> Result<File, Errno> {
    let fd = nix::fcntl::openat(
        dir.map(|d| d.as_raw_fd()),
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        mode,
    )?;
    // SAFETY: openat has just returned this descriptor; nothing else holds or closes it.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// The names in a directory, `.` and `..` left out.
fn entries(dir: &File) -> Result<Vec<OsString>, Errno> {
    let dup = dir.try_clone().map_err(errno_of)?;
    let mut listing = nix::dir::Dir::from(dup)?;
    let mut names = Vec::new();
    for entry in listing.iter() {
        let name = entry?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            names.push(OsString::from_vec(name));
        }
    }
    Ok(names)
}

fn errno_of(e: io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// An entry swapped for another kind of file between two looks at it.
fn changed() -> io::Error {
    io::Error::other("it changed while it was being copied")
}

/// What kind of entry `st` describes, of those copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Directory,
    File,
    Symlink,
    /// A fifo or a device: made anew with mknod.
    Node(SFlag),
    /// A socket, or anything stranger: a live endpoint, not content.
    Skipped,
}

fn kind_of(st: &FileStat) -> Kind {
    match SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT {
        SFlag::S_IFDIR => Kind::Directory,
        SFlag::S_IFREG => Kind::File,
        SFlag::S_IFLNK => Kind::Symlink,
        k @ (SFlag::S_IFIFO | SFlag::S_IFCHR | SFlag::S_IFBLK) => Kind::Node(k),
        _ => Kind::Skipped,
    }
}

fn permissions(st: &FileStat) -> Mode {
    Mode::from_bits_truncate(st.st_mode & 0o7777)
}

fn owner(st: &FileStat) -> (Option<Uid>, Option<Gid>) {
    (
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )
}

fn times(st: &FileStat) -> (TimeSpec, TimeSpec) {
    (
        TimeSpec::new(st.st_atime, st.st_atime_nsec),
        TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
    )
}

/// Extended attributes that belong to the filesystem the source sits on, not to the file:
/// overlayfs's own (opaque directories, redirects, origins), under trusted. or, for an
/// unprivileged overlay, user.
pub fn is_copied_xattr(name: &OsStr) -> bool {
    let name = name.as_bytes();
    !(name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay."))
}

/// A descriptor's path through /proc/self/fd, to reach `name` in that directory with the
/// path-based l*xattr calls: the magic link leads to the very directory held, and the last
/// component, not followed, is the entry itself (a link or a node cannot be opened for
/// f*xattr).
fn in_dir(dir: &File, name: &OsStr) -> PathBuf {
    Path::new(&format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name)
}

/// Copy the attributes `list` and `get` read to `set`. A filesystem without extended
/// attributes on either side is not an error (Docker ignores ENOTSUP too); anything else is.
fn copy_xattrs(
    list: impl FnOnce() -> io::Result<Vec<OsString>>,
    get: impl Fn(&OsStr) -> io::Result<Option<Vec<u8>>>,
    set: impl Fn(&OsStr, &[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let unsupported = |e: &io::Error| e.raw_os_error() == Some(libc::ENOTSUP);
    let names = match list() {
        Ok(names) => names,
        Err(e) if unsupported(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    for name in names.iter().filter(|n| is_copied_xattr(n)) {
        let Some(value) = get(name)? else { continue };
        match set(name, &value) {
            Err(e) if !unsupported(&e) => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

struct CopyUp<'a> {
    src: &'a Path,
    dst_root: &'a File,
    /// Files of the source with more than one link, by (device, inode): where their first
    /// copy is, relative to `dst`, for the other links to be made to it.
    first_links: HashMap<(u64, u64), Vec<OsString>>,
}

impl CopyUp<'_> {
    /// What to put in an error about the entry at `at` (relative to `src`).
    fn fail<E: Into<io::Error>>(
        &self,
        at: &[OsString],
        action: &'static str,
    ) -> impl FnOnce(E) -> CopyUpError {
        let path = at.iter().fold(self.src.to_path_buf(), |p, c| p.join(c));
        move |e| CopyUpError {
            path,
            action,
            source: e.into(),
        }
    }

    fn contents(
        &mut self,
        src_dir: &File,
        dst_dir: &File,
        at: &mut Vec<OsString>,
    ) -> Result<(), CopyUpError> {
        let names = entries(src_dir).map_err(self.fail(at, "listing the directory"))?;
        for name in names {
            at.push(name);
            let copied = self.entry(src_dir, dst_dir, at);
            at.pop();
            copied?;
        }
        Ok(())
    }

    /// The entry `at` (its last component a name in `src_dir`), copied into `dst_dir`.
    fn entry(
        &mut self,
        src_dir: &File,
        dst_dir: &File,
        at: &[OsString],
    ) -> Result<(), CopyUpError> {
        let name = at.last().expect("an entry has a name").as_os_str();
        let st = nix::sys::stat::fstatat(
            Some(src_dir.as_raw_fd()),
            name,
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(self.fail(at, "reading its metadata"))?;
        match kind_of(&st) {
            Kind::Directory => self.directory(src_dir, dst_dir, at),
            Kind::File => self.file(src_dir, dst_dir, at),
            Kind::Symlink => self.symlink(src_dir, dst_dir, at, &st),
            Kind::Node(kind) => self.node(src_dir, dst_dir, at, &st, kind),
            Kind::Skipped => Ok(()),
        }
    }

    fn directory(
        &mut self,
        src_dir: &File,
        dst_dir: &File,
        at: &[OsString],
    ) -> Result<(), CopyUpError> {
        let name = at.last().expect("an entry has a name").clone();
        let src = open_at(Some(src_dir), &name, DIRECTORY, Mode::empty())
            .map_err(self.fail(at, "opening the directory"))?;
        // Private until its content and its own mode are in.
        nix::sys::stat::mkdirat(
            Some(dst_dir.as_raw_fd()),
            name.as_os_str(),
            Mode::from_bits_truncate(0o700),
        )
        .map_err(self.fail(at, "creating the directory"))?;
        let dst = open_at(Some(dst_dir), &name, DIRECTORY, Mode::empty())
            .map_err(self.fail(at, "opening the new directory"))?;
        let st = nix::sys::stat::fstat(src.as_raw_fd())
            .map_err(self.fail(at, "reading its metadata"))?;
        let mut below = at.to_vec();
        self.contents(&src, &dst, &mut below)?;
        // After the content: creating entries would change the directory's times.
        self.metadata(&src, &dst, &st, at)
    }

    fn file(&mut self, src_dir: &File, dst_dir: &File, at: &[OsString]) -> Result<(), CopyUpError> {
        let name = at.last().expect("an entry has a name").as_os_str();
        // O_NONBLOCK: should a fifo have been put there meanwhile, opening it must not hang.
        let src = open_at(
            Some(src_dir),
            name,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY,
            Mode::empty(),
        )
        .map_err(self.fail(at, "opening the file"))?;
        let st = nix::sys::stat::fstat(src.as_raw_fd())
            .map_err(self.fail(at, "reading its metadata"))?;
        if kind_of(&st) != Kind::File {
            return Err(self.fail(at, "opening the file")(changed()));
        }
        let key = (st.st_dev, st.st_ino);
        if st.st_nlink > 1 {
            if let Some(first) = self.first_links.get(&key) {
                return self
                    .hard_link(first, dst_dir, name)
                    .map_err(self.fail(at, "linking it to its first copy"));
            }
        }
        let dst = open_at(
            Some(dst_dir),
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(self.fail(at, "creating the copy"))?;
        copy_contents(&src, &dst, st.st_size as u64)
            .map_err(self.fail(at, "copying its content"))?;
        self.metadata(&src, &dst, &st, at)?;
        if st.st_nlink > 1 {
            self.first_links.insert(key, at.to_vec());
        }
        Ok(())
    }

    /// A hard link in `dst_dir` to the copy at `first`, found from `dst` one directory at a
    /// time, none of them through a link.
    fn hard_link(&self, first: &[OsString], dst_dir: &File, name: &OsStr) -> Result<(), Errno> {
        let (first_name, parents) = first.split_last().expect("a copy has a name");
        let mut parent = self.dst_root.try_clone().map_err(errno_of)?;
        for dir in parents {
            parent = open_at(Some(&parent), dir, DIRECTORY, Mode::empty())?;
        }
        nix::unistd::linkat(
            Some(parent.as_raw_fd()),
            first_name.as_os_str(),
            Some(dst_dir.as_raw_fd()),
            name,
            AtFlags::empty(),
        )
    }

    fn symlink(
        &mut self,
        src_dir: &File,
        dst_dir: &File,
        at: &[OsString],
        st: &FileStat,
    ) -> Result<(), CopyUpError> {
        let name = at.last().expect("an entry has a name").as_os_str();
        let target = nix::fcntl::readlinkat(Some(src_dir.as_raw_fd()), name)
            .map_err(self.fail(at, "reading the link"))?;
        nix::unistd::symlinkat(target.as_os_str(), Some(dst_dir.as_raw_fd()), name)
            .map_err(self.fail(at, "creating the link"))?;
        self.named_metadata(src_dir, dst_dir, at, st)
    }

    fn node(
        &mut self,
        src_dir: &File,
        dst_dir: &File,
        at: &[OsString],
        st: &FileStat,
        kind: SFlag,
    ) -> Result<(), CopyUpError> {
        let name = at.last().expect("an entry has a name").as_os_str();
        nix::sys::stat::mknodat(
            Some(dst_dir.as_raw_fd()),
            name,
            kind,
            Mode::from_bits_truncate(0o600),
            st.st_rdev,
        )
        .map_err(self.fail(at, "creating the node"))?;
        self.set_node_mode(dst_dir, name, kind, permissions(st))
            .map_err(self.fail(at, "setting its mode"))?;
        self.named_metadata(src_dir, dst_dir, at, st)
    }

    /// chmod of a node just made, through an `O_PATH` descriptor of it (fchmodat cannot be
    /// told not to follow a link, and a node must not be opened for real: a tape rewinds).
    fn set_node_mode(
        &self,
        dst_dir: &File,
        name: &OsStr,
        kind: SFlag,
        mode: Mode,
    ) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let node = open_at(Some(dst_dir), name, OFlag::O_PATH, Mode::empty())?;
        let st = nix::sys::stat::fstat(node.as_raw_fd())?;
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != kind {
            return Err(changed());
        }
        let through_fd = format!("/proc/self/fd/{}", node.as_raw_fd());
        std::fs::set_permissions(through_fd, std::fs::Permissions::from_mode(mode.bits()))
    }

    /// Owner, mode, attributes and times onto an open file or directory, in that order: a
    /// chown clears the setuid and setgid bits and security.capability, so those follow it.
    fn metadata(
        &self,
        src: &File,
        dst: &File,
        st: &FileStat,
        at: &[OsString],
    ) -> Result<(), CopyUpError> {
        let (uid, gid) = owner(st);
        nix::unistd::fchown(dst.as_raw_fd(), uid, gid)
            .map_err(self.fail(at, "setting its owner"))?;
        nix::sys::stat::fchmod(dst.as_raw_fd(), permissions(st))
            .map_err(self.fail(at, "setting its mode"))?;
        copy_xattrs(
            || src.list_xattr().map(|names| names.collect()),
            |name| src.get_xattr(name),
            |name, value| dst.set_xattr(name, value),
        )
        .map_err(self.fail(at, "copying its extended attributes"))?;
        let (atime, mtime) = times(st);
        nix::sys::stat::futimens(dst.as_raw_fd(), &atime, &mtime)
            .map_err(self.fail(at, "setting its times"))
    }

    /// Owner, attributes and times of a link or a node, by its name in `dst_dir`, never
    /// following it.
    fn named_metadata(
        &self,
        src_dir: &File,
        dst_dir: &File,
        at: &[OsString],
        st: &FileStat,
    ) -> Result<(), CopyUpError> {
        let name = at.last().expect("an entry has a name").as_os_str();
        let (uid, gid) = owner(st);
        nix::unistd::fchownat(
            Some(dst_dir.as_raw_fd()),
            name,
            uid,
            gid,
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(self.fail(at, "setting its owner"))?;
        let (src, dst) = (in_dir(src_dir, name), in_dir(dst_dir, name));
        copy_xattrs(
            || xattr::list(&src).map(|names| names.collect()),
            |attr| xattr::get(&src, attr),
            |attr, value| xattr::set(&dst, attr, value),
        )
        .map_err(self.fail(at, "copying its extended attributes"))?;
        let (atime, mtime) = times(st);
        nix::sys::stat::utimensat(
            Some(dst_dir.as_raw_fd()),
            name,
            &atime,
            &mtime,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(self.fail(at, "setting its times"))
    }
}

/// A file's bytes, its holes kept as holes: a sparse file (a /var/log/lastlog of a few KiB
/// on disk and gigabytes long) must not fill the volume. Only the data ranges are copied.
fn copy_contents(src: &File, dst: &File, size: u64) -> io::Result<()> {
    dst.set_len(size)?;
    let size = size as i64;
    let mut offset = 0;
    while offset < size {
        let start = match nix::unistd::lseek(src.as_raw_fd(), offset, Whence::SeekData) {
            Ok(start) => start,
            // Only a hole is left.
            Err(Errno::ENXIO) => break,
            // A filesystem that cannot tell: all of the rest is data.
            Err(_) => return copy_range(src, dst, offset, (size - offset) as u64),
        };
        let end = nix::unistd::lseek(src.as_raw_fd(), start, Whence::SeekHole)
            .unwrap_or(size)
            .min(size);
        copy_range(src, dst, start, (end - start) as u64)?;
        offset = end;
    }
    Ok(())
}

/// `len` bytes from `start` in both files. std's io::copy between two files is
/// copy_file_range (falling back to sendfile or read and write where that cannot go).
fn copy_range(mut src: &File, mut dst: &File, start: i64, len: u64) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    src.seek(SeekFrom::Start(start as u64))?;
    dst.seek(SeekFrom::Start(start as u64))?;
    // A file that got shorter since it was measured just gives less.
    io::copy(&mut src.take(len), &mut dst)?;
    Ok(())
}

#[cfg(test)]
mod tests;
