//! Applying a layer tar: one pass that hashes the stream (the diff id) while it unpacks, and
//! turns Docker's whiteout files back into what overlayfs understands: `.wh.name` becomes a
//! 0/0 character device, `.wh..wh..opq` the `trusted.overlay.opaque` attribute on its directory.

use crate::util::hashing::HashingReader;
use sha2::{Digest, Sha256};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// The OCI chain id: the first layer's is its diff id, each next one
/// `sha256(parent chain id + " " + diff id)`.
pub fn chain_id(parent: Option<&str>, diff_id: &str) -> String {
    match parent {
        None => diff_id.to_string(),
        Some(p) => format!(
            "sha256:{}",
            hex::encode(Sha256::digest(format!("{p} {diff_id}")))
        ),
    }
}

/// A path from a tar entry, made relative and checked: no `..`, no root, no prefix.
pub fn clean_entry_path(p: &Path) -> io::Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("layer entry {} leaves the layer", p.display()),
                ))
            }
        }
    }
    Ok(out)
}

pub(crate) fn set_opaque(dir: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())?;
    let name = c"trusted.overlay.opaque";
    // SAFETY: both strings are NUL-terminated and live across the call; the value is 1 byte.
    let rc = unsafe { libc::lsetxattr(path.as_ptr(), name.as_ptr(), b"y".as_ptr().cast(), 1, 0) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `dest/rel` as a real directory, created as needed; refused if any component on the way is
/// a symlink or not a directory, so nothing is created or removed outside the layer.
fn dir_in_layer(dest: &Path, rel: &Path) -> io::Result<PathBuf> {
    let mut cur = dest.to_path_buf();
    for c in rel.components() {
        cur.push(c);
        match std::fs::symlink_metadata(&cur) {
            Ok(md) if md.is_dir() => {}
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "layer whiteout under {}: not a directory (a symlink is not followed)",
                        rel.display()
                    ),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::create_dir(&cur)?,
            Err(e) => return Err(e),
        }
    }
    Ok(cur)
}

/// The size of the writes that put a regular file's content on disk.
const FILE_CHUNK: usize = 1 << 20;

/// Write a regular file's entry into `parent` (a real directory inside the layer, which
/// `make_room` found), as the tar crate would (a new file, never through a link; then mtime,
/// owner, mode and `SCHILY.xattr` attributes) but in 1 MiB writes instead of its 8 KiB ones:
/// the kernel then fills the page cache in large folios, and applying a layer costs far less
/// CPU. Entries whose parent is not a real directory stay the tar crate's, which checks them.
fn write_regular_file<R: Read>(
    entry: &mut tar::Entry<R>,
    parent: &Path,
    rel: &Path,
    buf: &mut [u8],
) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    use xattr::FileExt;
    let target = parent.join(rel.file_name().unwrap_or_default());
    let header = entry.header();
    let (mode, uid, gid) = (header.mode()?, header.uid()?, header.gid()?);
    // The tar crate's rule: an mtime of 0 becomes 1, as some tools mishandle 0.
    let mtime = header.mtime().ok().map(|m| m.max(1) as i64);
    let open = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&target)
    };
    let mut f = match open() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // A new inode, so a hard link to the old file keeps the old content.
            std::fs::remove_file(&target)?;
            open()?
        }
        other => other?,
    };
    let mut left = entry.size();
    // Written back as it goes: the disk works while the rest of the layer streams in, and the
    // sync that makes the layer durable finds little left to do.
    let mut writeback = crate::util::fsutil::Writeback::default();
    while left > 0 {
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        entry
            .read_exact(&mut buf[..n])
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => {
                    io::Error::new(e.kind(), "the layer ends inside this file")
                }
                _ => e,
            })?;
        f.write_all(&buf[..n])?;
        left -= n as u64;
        writeback.wrote(&f, n as u64);
    }
    if let Some(t) = mtime {
        let ts = nix::sys::time::TimeSpec::new(t, 0);
        nix::sys::stat::futimens(f.as_raw_fd(), &ts, &ts)?;
    }
    nix::unistd::fchown(
        f.as_raw_fd(),
        Some(nix::unistd::Uid::from_raw(owner_id(uid)?)),
        Some(nix::unistd::Gid::from_raw(owner_id(gid)?)),
    )?;
    // After the owner: chown clears set-id bits.
    nix::sys::stat::fchmod(
        f.as_raw_fd(),
        nix::sys::stat::Mode::from_bits_truncate(mode & 0o7777),
    )?;
    if let Some(exts) = entry.pax_extensions()? {
        for ext in exts {
            let ext = ext?;
            if let Some(key) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") {
                f.set_xattr(std::ffi::OsStr::from_bytes(key), ext.value_bytes())?;
            }
        }
    }
    Ok(())
}

/// A uid or gid from a header, which the kernel takes as 32 bits.
fn owner_id(id: u64) -> io::Result<u32> {
    u32::try_from(id).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("owner id {id} is too large"),
        )
    })
}

/// A later entry replaces an earlier one of another kind, as in Docker: a file where a
/// directory was removes the directory (and what it held), a directory where a file was
/// removes the file. Only when every parent is a real directory: a path through a symlink is
/// left to the tar crate, which refuses it if it leads out. Returns that parent, if it is one.
fn make_room(dest: &Path, rel: &Path, entry_is_dir: bool) -> io::Result<Option<PathBuf>> {
    let mut cur = dest.to_path_buf();
    for c in rel.parent().unwrap_or(Path::new("")).components() {
        cur.push(c);
        match std::fs::symlink_metadata(&cur) {
            Ok(md) if md.is_dir() => {}
            _ => return Ok(None),
        }
    }
    let target = dest.join(rel);
    match std::fs::symlink_metadata(&target) {
        Ok(md) if md.is_dir() && !entry_is_dir => std::fs::remove_dir_all(&target)?,
        Ok(md) if !md.is_dir() && entry_is_dir => std::fs::remove_file(&target)?,
        _ => {}
    }
    Ok(Some(cur))
}

/// How to rebuild a layer's tar byte for byte from its unpacked files (Docker keeps the same,
/// as "tar-split"): the tar's own bytes (headers, padding, the end) kept as they came, and
/// for each file's content a reference to the unpacked file. `save` and `push` need the
/// exact bytes, because the layer's digest (its diff id) is the digest of those bytes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Segment {
    #[serde(rename = "raw")]
    Raw(#[serde(with = "hex_bytes")] Vec<u8>),
    #[serde(rename = "file")]
    File { path: String, size: u64 },
}

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text: String = serde::Deserialize::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

#[derive(Default)]
struct SplitState {
    pos: u64,
    skip: Option<(u64, u64)>,
    raw: Vec<u8>,
    segments: Vec<Segment>,
}

impl SplitState {
    fn flush_raw(&mut self) {
        if !self.raw.is_empty() {
            self.segments
                .push(Segment::Raw(std::mem::take(&mut self.raw)));
        }
    }
}

/// A reader that keeps every byte it passes on except file contents (see [`Segment`]).
struct Recorder<R> {
    inner: R,
    state: std::rc::Rc<std::cell::RefCell<SplitState>>,
}

impl<R: Read> Read for Recorder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut st = self.state.borrow_mut();
        let (start, end) = (st.pos, st.pos + n as u64);
        // Keep what lies outside the skipped window [from, to), in two slices at most.
        let (from, to) = st.skip.unwrap_or((end, end));
        let cut = |at: u64| (at.clamp(start, end) - start) as usize;
        let (a, b) = (cut(from), cut(to));
        st.raw.extend_from_slice(&buf[..a]);
        st.raw.extend_from_slice(&buf[b.max(a)..n]);
        st.pos = end;
        Ok(n)
    }
}

/// Unpack `tar` into `dest` (a fresh layer's `diff/`), returning the stream's diff id.
#[cfg(test)]
pub fn unpack_layer<R: Read>(tar: R, dest: &Path) -> io::Result<String> {
    unpack_layer_split(tar, dest).map(|(d, _)| d)
}

/// `unpack_layer`, also returning how to rebuild the tar from what was unpacked.
pub fn unpack_layer_split<R: Read>(tar: R, dest: &Path) -> io::Result<(String, Vec<Segment>)> {
    let mut hashing = HashingReader::new(tar);
    let state = std::rc::Rc::new(std::cell::RefCell::new(SplitState::default()));
    {
        let mut recorder = Recorder {
            inner: &mut hashing,
            state: state.clone(),
        };
        let mut archive = tar::Archive::new(&mut recorder);
        archive.set_preserve_permissions(true);
        archive.set_preserve_ownerships(true);
        archive.set_unpack_xattrs(true);
        archive.set_overwrite(true);
        archive.set_preserve_mtime(true);
        let mut file_buf = vec![0u8; FILE_CHUNK];
        for entry in archive.entries()? {
            let mut entry = entry?;
            let raw = entry.path()?.into_owned();
            let rel = clean_entry_path(&raw)?;
            if rel.as_os_str().is_empty() {
                continue;
            }
            let name = rel
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(hidden) = name.strip_prefix(".wh.") {
                // The tar crate guards ordinary entries; whiteouts are ours to guard, so the
                // parent is walked without following any symlink an earlier entry planted.
                let parent = dir_in_layer(dest, rel.parent().unwrap_or(Path::new("")))?;
                if hidden == ".wh..opq" {
                    set_opaque(&parent)?;
                } else {
                    if hidden.is_empty() || hidden == "." || hidden == ".." {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("layer entry {} is not a valid whiteout", raw.display()),
                        ));
                    }
                    let target = parent.join(hidden);
                    match std::fs::symlink_metadata(&target) {
                        Ok(md) if md.is_dir() => std::fs::remove_dir_all(&target)?,
                        Ok(_) => std::fs::remove_file(&target)?,
                        Err(_) => {}
                    }
                    nix::sys::stat::mknod(
                        &target,
                        nix::sys::stat::SFlag::S_IFCHR,
                        nix::sys::stat::Mode::empty(),
                        0,
                    )
                    .map_err(io::Error::from)?;
                }
                continue;
            }
            let size = entry.size();
            if size > 0 && entry.header().entry_type().is_file() {
                let file_pos = entry.raw_file_position();
                let mut st = state.borrow_mut();
                if st.pos != file_pos {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("layer entry {}: unexpected stream position", raw.display()),
                    ));
                }
                st.flush_raw();
                st.segments.push(Segment::File {
                    path: rel.to_string_lossy().into_owned(),
                    size,
                });
                st.skip = Some((file_pos, file_pos + size));
            }
            let parent = make_room(dest, &rel, entry.header().entry_type().is_dir())?;
            if let (Some(parent), true) = (parent, entry.header().entry_type().is_file()) {
                write_regular_file(&mut entry, &parent, &rel, &mut file_buf).map_err(|e| {
                    io::Error::new(e.kind(), format!("layer entry {}: {e}", raw.display()))
                })?;
                continue;
            }
            // unpack_in refuses entries (and hard link targets) that would land outside `dest`,
            // including through symlinks unpacked earlier.
            if !entry.unpack_in(dest)? {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("layer entry {} leaves the layer", raw.display()),
                ));
            }
        }
        // The end of the archive (zero blocks, padding) belongs to the bytes too.
        io::copy(&mut recorder, &mut io::sink())?;
    }
    let digest = hashing.finish()?;
    let mut st = state.borrow_mut();
    st.flush_raw();
    Ok((digest, std::mem::take(&mut st.segments)))
}

/// Write a layer's tar again from its segments and its unpacked `diff/` dir.
pub fn rebuild_layer<W: io::Write>(
    segments: &[Segment],
    dir: &Path,
    out: &mut W,
) -> io::Result<()> {
    for s in segments {
        match s {
            Segment::Raw(b) => out.write_all(b)?,
            Segment::File { path, size } => {
                let rel = clean_entry_path(Path::new(path))?;
                let f = std::fs::File::open(dir.join(rel))?;
                let copied = io::copy(&mut f.take(*size), out)?;
                if copied != *size {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{path} is shorter than the layer says ({copied} of {size} bytes)"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The length of the tar `rebuild_layer` writes.
pub fn rebuilt_size(segments: &[Segment]) -> u64 {
    segments
        .iter()
        .map(|s| match s {
            Segment::Raw(b) => b.len() as u64,
            Segment::File { size, .. } => *size,
        })
        .sum()
}

/// Bytes used by a layer's files (what Docker reports as a layer's size).
pub fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(md) = e.path().symlink_metadata() else {
                continue;
            };
            if md.is_dir() {
                stack.push(e.path());
            } else if md.is_file() || md.file_type().is_symlink() {
                total += md.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_oci_rule() {
        let a = "sha256:aaaa";
        assert_eq!(chain_id(None, a), a);
        let want = format!(
            "sha256:{}",
            hex::encode(Sha256::digest("sha256:aaaa sha256:bbbb"))
        );
        assert_eq!(chain_id(Some(a), "sha256:bbbb"), want);
    }

    /// A regular file with everything a layer may say of it: a size over several write
    /// chunks, set-id bits, an owner, an mtime and an extended attribute.
    fn rich_file_tar(owner: u64) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut dir = tar::Header::new_ustar();
        dir.set_entry_type(tar::EntryType::Directory);
        dir.set_mode(0o755);
        dir.set_size(0);
        dir.set_uid(0);
        dir.set_gid(0);
        dir.set_mtime(1);
        dir.set_cksum();
        b.append_data(&mut dir, "bin/", &[][..]).unwrap();
        // Past a writeback step, so that path is taken too.
        let data: Vec<u8> =
            (0..(crate::util::fsutil::Writeback::STEP as usize + 3 * FILE_CHUNK + 5))
                .map(|i| (i % 251) as u8)
                .collect();
        b.append_pax_extensions([("SCHILY.xattr.user.berth", &b"yes"[..])])
            .unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o4755);
        h.set_uid(owner);
        h.set_gid(if owner == 1234 {
            owner
        } else {
            u64::from(nix::unistd::getegid().as_raw())
        });
        h.set_mtime(1_600_000_000);
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append_data(&mut h, "bin/tool", &data[..]).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn regular_files_come_out_as_the_tar_crate_writes_them() {
        use std::os::unix::fs::MetadataExt;
        let owner = if nix::unistd::geteuid().is_root() {
            1234
        } else {
            u64::from(nix::unistd::geteuid().as_raw())
        };
        let data = rich_file_tar(owner);
        let t = tempfile::tempdir().unwrap();
        let (ours, theirs) = (t.path().join("ours"), t.path().join("theirs"));
        std::fs::create_dir_all(&ours).unwrap();
        unpack_layer(&data[..], &ours).unwrap();
        let mut a = tar::Archive::new(&data[..]);
        a.set_preserve_permissions(true);
        a.set_preserve_ownerships(true);
        a.set_preserve_mtime(true);
        a.set_unpack_xattrs(true);
        a.unpack(&theirs).unwrap();
        let (m1, m2) = (
            std::fs::metadata(ours.join("bin/tool")).unwrap(),
            std::fs::metadata(theirs.join("bin/tool")).unwrap(),
        );
        assert_eq!(m1.mode(), m2.mode());
        assert_eq!(m1.mode() & 0o7777, 0o4755);
        assert_eq!((m1.uid(), m1.gid()), (m2.uid(), m2.gid()));
        assert_eq!(u64::from(m1.uid()), owner);
        assert_eq!((m1.mtime(), m1.atime()), (m2.mtime(), m2.atime()));
        assert_eq!(m1.mtime(), 1_600_000_000);
        assert_eq!(
            m1.len(),
            crate::util::fsutil::Writeback::STEP + (3 * FILE_CHUNK + 5) as u64
        );
        assert_eq!(
            std::fs::read(ours.join("bin/tool")).unwrap(),
            std::fs::read(theirs.join("bin/tool")).unwrap()
        );
        // user.* attributes need a file system that keeps them; where it does, both agree.
        if let Ok(Some(v)) = xattr::get(theirs.join("bin/tool"), "user.berth") {
            assert_eq!(v, b"yes");
            assert_eq!(
                xattr::get(ours.join("bin/tool"), "user.berth").unwrap(),
                Some(v)
            );
        }
    }

    #[test]
    fn a_file_written_again_leaves_its_hard_link_alone() {
        let mut b = tar::Builder::new(Vec::new());
        let mut put = |name: &str, kind: tar::EntryType, link: Option<&str>, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            h.set_uid(u64::from(nix::unistd::geteuid().as_raw()));
            h.set_gid(u64::from(nix::unistd::getegid().as_raw()));
            h.set_mtime(1);
            if let Some(l) = link {
                h.set_link_name(l).unwrap();
            }
            h.set_cksum();
            b.append_data(&mut h, name, data).unwrap();
        };
        put("a", tar::EntryType::Regular, None, b"one");
        put("b", tar::EntryType::Link, Some("a"), b"");
        put("a", tar::EntryType::Regular, None, b"two");
        let data = b.into_inner().unwrap();
        let t = tempfile::tempdir().unwrap();
        unpack_layer(&data[..], t.path()).unwrap();
        assert_eq!(std::fs::read(t.path().join("a")).unwrap(), b"two");
        assert_eq!(std::fs::read(t.path().join("b")).unwrap(), b"one");
    }

    #[test]
    fn a_file_cut_short_is_an_error_that_names_it() {
        let data = rich_file_tar(u64::from(nix::unistd::geteuid().as_raw()));
        let t = tempfile::tempdir().unwrap();
        let err = unpack_layer(&data[..2 * FILE_CHUNK], t.path()).unwrap_err();
        assert!(err.to_string().contains("bin/tool"), "{err}");
    }

    #[test]
    fn escaping_paths_are_refused() {
        assert!(clean_entry_path(Path::new("../etc/passwd")).is_err());
        assert!(clean_entry_path(Path::new("a/../../b")).is_err());
        assert_eq!(
            clean_entry_path(Path::new("/etc/passwd")).unwrap(),
            PathBuf::from("etc/passwd")
        );
        assert_eq!(
            clean_entry_path(Path::new("./bin/sh")).unwrap(),
            PathBuf::from("bin/sh")
        );
    }
}

#[cfg(test)]
mod hostile_layer_tests {
    //! Layers are untrusted input: each case builds a tar that tries to reach outside the
    //! layer and checks that nothing outside changed.
    use super::*;
    use std::fs;

    struct Tar(tar::Builder<Vec<u8>>);

    impl Tar {
        fn new() -> Self {
            Tar(tar::Builder::new(Vec::new()))
        }
        fn header(kind: tar::EntryType, size: u64) -> tar::Header {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_size(size);
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_uid(0);
            h.set_gid(0);
            h
        }
        /// Raw names, so `..` can be written (the builder refuses it).
        fn raw(
            mut self,
            name: &str,
            kind: tar::EntryType,
            link: Option<&str>,
            data: &[u8],
        ) -> Self {
            let mut h = Self::header(kind, data.len() as u64);
            let n = &mut h.as_old_mut().name;
            n[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(l) = link {
                h.set_link_name(l).unwrap();
            }
            h.set_cksum();
            self.0.append(&h, data).unwrap();
            self
        }
        fn file(self, name: &str, data: &[u8]) -> Self {
            self.raw(name, tar::EntryType::Regular, None, data)
        }
        fn symlink(self, name: &str, target: &str) -> Self {
            self.raw(name, tar::EntryType::Symlink, Some(target), b"")
        }
        fn hardlink(self, name: &str, target: &str) -> Self {
            self.raw(name, tar::EntryType::Link, Some(target), b"")
        }
        fn bytes(self) -> Vec<u8> {
            self.0.into_inner().unwrap()
        }
    }

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let dest = t.path().join("diff");
        let outside = t.path().join("outside");
        fs::create_dir_all(&dest).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("victim"), b"keep").unwrap();
        (t, dest, outside)
    }

    #[test]
    fn the_diff_id_is_the_sha256_of_the_tar_stream() {
        let (_t, dest, _) = setup();
        let data = Tar::new().file("a/b", b"hello").bytes();
        let want = format!("sha256:{}", hex::encode(Sha256::digest(&data)));
        assert_eq!(unpack_layer(&data[..], &dest).unwrap(), want);
        assert_eq!(fs::read(dest.join("a/b")).unwrap(), b"hello");
    }

    #[test]
    fn dot_dot_entries_are_refused() {
        let (_t, dest, _) = setup();
        let data = Tar::new().file("../outside/victim", b"pwned").bytes();
        let err = unpack_layer(&data[..], &dest).unwrap_err();
        assert!(err.to_string().contains("leaves the layer"), "{err}");
        let data = Tar::new().file("../outside/.wh.victim", b"").bytes();
        assert!(unpack_layer(&data[..], &dest).is_err());
    }

    #[test]
    fn writes_through_a_planted_symlink_are_refused() {
        let (t, dest, outside) = setup();
        let data = Tar::new()
            .symlink("evil", outside.to_str().unwrap())
            .file("evil/victim", b"pwned")
            .bytes();
        assert!(unpack_layer(&data[..], &dest).is_err());
        assert_eq!(fs::read(outside.join("victim")).unwrap(), b"keep");
        drop(t);
    }

    #[test]
    fn whiteouts_through_a_planted_symlink_are_refused() {
        let (_t, dest, outside) = setup();
        for name in ["evil/.wh.victim", "evil/.wh..wh..opq"] {
            let _ = fs::remove_file(dest.join("evil"));
            let data = Tar::new()
                .symlink("evil", outside.to_str().unwrap())
                .file(name, b"")
                .bytes();
            let err = unpack_layer(&data[..], &dest).unwrap_err();
            assert!(err.to_string().contains("not followed"), "{err}");
            assert_eq!(fs::read(outside.join("victim")).unwrap(), b"keep");
        }
    }

    #[test]
    fn a_file_replaces_a_symlink_instead_of_writing_through_it() {
        let (_t, dest, outside) = setup();
        let target = outside.join("victim");
        let data = Tar::new()
            .symlink("f", target.to_str().unwrap())
            .file("f", b"new")
            .bytes();
        unpack_layer(&data[..], &dest).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"keep");
        assert_eq!(fs::read(dest.join("f")).unwrap(), b"new");
        assert!(!fs::symlink_metadata(dest.join("f"))
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn a_file_replaces_a_directory_and_a_directory_a_file() {
        let (_t, dest, outside) = setup();
        let data = Tar::new()
            .raw("d/", tar::EntryType::Directory, None, b"")
            .file("d/x", b"inner")
            .file("d", b"now a file")
            .file("e", b"a file first")
            .raw("e/", tar::EntryType::Directory, None, b"")
            .file("e/y", b"then a dir")
            .bytes();
        unpack_layer(&data[..], &dest).unwrap();
        assert_eq!(fs::read(dest.join("d")).unwrap(), b"now a file");
        assert_eq!(fs::read(dest.join("e/y")).unwrap(), b"then a dir");
        assert_eq!(fs::read(outside.join("victim")).unwrap(), b"keep");
    }

    #[test]
    fn hard_links_must_stay_inside_the_layer() {
        let (_t, dest, outside) = setup();
        let target = outside.join("victim");
        let data = Tar::new().hardlink("h", target.to_str().unwrap()).bytes();
        assert!(unpack_layer(&data[..], &dest).is_err());
        let data = Tar::new().hardlink("h", "../outside/victim").bytes();
        assert!(unpack_layer(&data[..], &dest).is_err());
        // Through a symlink inside the layer that points out.
        let data = Tar::new()
            .symlink("s", target.to_str().unwrap())
            .hardlink("h2", "s/../victim")
            .bytes();
        assert!(unpack_layer(&data[..], &dest).is_err());
        let data = Tar::new().file("in", b"x").hardlink("h3", "in").bytes();
        unpack_layer(&data[..], &dest).unwrap();
        assert_eq!(fs::read(dest.join("h3")).unwrap(), b"x");
    }

    #[test]
    fn a_truncated_layer_is_an_error() {
        let (_t, dest, _) = setup();
        let data = Tar::new().file("big", &[7u8; 4096]).bytes();
        assert!(unpack_layer(&data[..1024], &dest).is_err());
    }
}

#[cfg(test)]
mod split_tests {
    use super::*;

    /// Any tar unpacked and rebuilt from its split is the same bytes, so the same digest.
    #[test]
    fn a_layer_rebuilds_byte_for_byte() {
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |name: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o640);
            h.set_mtime(1_700_000_000);
            h.set_uid(0);
            h.set_gid(0);
            h.set_cksum();
            b.append_data(&mut h, name, data).unwrap();
        };
        add("a.txt", b"hello\n");
        add(
            &format!("deep/{}/long-name.bin", "x".repeat(120)),
            &vec![7u8; 3000],
        );
        add("empty", b"");
        let original = b.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (digest, segments) = unpack_layer_split(&original[..], dir.path()).unwrap();
        assert_eq!(rebuilt_size(&segments), original.len() as u64);
        let mut again = Vec::new();
        rebuild_layer(&segments, dir.path(), &mut again).unwrap();
        assert_eq!(again, original);
        assert_eq!(
            digest,
            format!("sha256:{}", hex::encode(Sha256::digest(&again)))
        );
    }
}
