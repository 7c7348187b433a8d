//! The other direction of `unpack`: a directory of a layer (a container's read-write layer, for
//! `commit`) becomes a layer tar, overlay whiteouts becoming Docker's: a 0/0 character device
//! is written as an empty `.wh.<name>` file, and a directory with `trusted.overlay.opaque=y`
//! gets a `.wh..wh..opq` entry. Entries go in sorted order, so the same directory always gives
//! the same bytes; the tar is hashed as it is written (its diff id). `diff` reads the same
//! walk as a list of changes.

use sha2::{Digest, Sha256};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// A writer that hashes everything written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }

    /// "sha256:<hex>" of everything written, and how many bytes.
    pub fn finish(self) -> (String, u64, W) {
        (
            format!("sha256:{}", hex::encode(self.hasher.finalize())),
            self.written,
            self.inner,
        )
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What a layer directory says about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A file, directory, link or device that the layer holds.
    Present(PathBuf),
    /// A whiteout: the path is deleted by this layer.
    Deleted(PathBuf),
    /// An opaque directory: nothing below it in lower layers shows through.
    Opaque(PathBuf),
}

fn is_whiteout(md: &std::fs::Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    let mut buf = [0u8; 4];
    // SAFETY: lgetxattr reads a NUL-terminated path and name and writes at most buf.len()
    // bytes into buf, which lives across the call.
    let n = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    n == 1 && buf[0] == b'y'
}

/// Every path of a layer directory, sorted, relative to it (without a leading slash).
pub fn walk(root: &Path) -> io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let mut names: Vec<_> = std::fs::read_dir(root.join(&rel))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        let mut subdirs = Vec::new();
        for name in names {
            let path = rel.join(&name);
            let md = std::fs::symlink_metadata(root.join(&path))?;
            if is_whiteout(&md) {
                out.push(Entry::Deleted(path));
                continue;
            }
            out.push(Entry::Present(path.clone()));
            if md.is_dir() {
                if is_opaque(&root.join(&path)) {
                    out.push(Entry::Opaque(path.clone()));
                }
                subdirs.push(path);
            }
        }
        // Depth-first, in name order.
        stack.extend(subdirs.into_iter().rev());
    }
    // A stable order that puts each directory before what it holds.
    out.sort_by_key(key);
    Ok(out)
}

fn key(e: &Entry) -> (PathBuf, u8) {
    match e {
        Entry::Present(p) => (p.clone(), 0),
        Entry::Opaque(p) => (p.join(".wh..wh..opq"), 1),
        Entry::Deleted(p) => (p.clone(), 2),
    }
}

fn empty_file_header(name: &Path) -> io::Result<tar::Header> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(0);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_path(name)?;
    h.set_cksum();
    Ok(h)
}

/// Write the layer tar of `root` to `out`; returns the diff id and the tar's size.
pub fn pack_layer<W: Write>(root: &Path, out: W) -> io::Result<(String, u64)> {
    let mut builder = tar::Builder::new(HashingWriter::new(out));
    builder.follow_symlinks(false);
    builder.mode(tar::HeaderMode::Complete);
    let mut linked = Linked::new();
    for entry in walk(root)? {
        match entry {
            Entry::Present(rel) => append_present(&mut builder, root, &rel, &mut linked)?,
            Entry::Deleted(rel) => {
                let name = rel.file_name().unwrap_or_default().to_string_lossy();
                let wh = rel.with_file_name(format!(".wh.{name}"));
                let h = empty_file_header(&wh)?;
                builder.append(&h, io::empty())?;
            }
            Entry::Opaque(rel) => {
                let h = empty_file_header(&rel.join(".wh..wh..opq"))?;
                builder.append(&h, io::empty())?;
            }
        }
    }
    let hashing = builder.into_inner()?;
    let (digest, size, mut inner) = hashing.finish();
    inner.flush()?;
    Ok((digest, size))
}

/// The first name each multiply-linked file was written under, by (device, inode), so
/// later names become hard-link entries, as Docker's tars keep them.
type Linked = std::collections::HashMap<(u64, u64), std::path::PathBuf>;

/// One file, link or directory as it is on disk; a directory's name ends in `/`, as in the
/// tars Docker (Go's archive/tar) writes.
fn append_present<W: Write>(
    builder: &mut tar::Builder<W>,
    root: &Path,
    rel: &Path,
    linked: &mut Linked,
) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let path = root.join(rel);
    let md = std::fs::symlink_metadata(&path)?;
    if md.is_dir() {
        return builder.append_path_with_name(&path, rel.join(""));
    }
    if md.is_file() && md.nlink() > 1 {
        if let Some(first) = linked.get(&(md.dev(), md.ino())) {
            let mut h = tar::Header::new_gnu();
            h.set_metadata_in_mode(&md, tar::HeaderMode::Complete);
            h.set_entry_type(tar::EntryType::Link);
            h.set_size(0);
            return builder.append_link(&mut h, rel, first);
        }
        linked.insert((md.dev(), md.ino()), rel.to_path_buf());
    }
    builder.append_path_with_name(&path, rel)
}

/// Write a whole filesystem tree (a container's merged root, for `export`) as a tar.
pub fn pack_tree<W: Write>(root: &Path, out: W) -> io::Result<W> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    builder.mode(tar::HeaderMode::Complete);
    let mut linked = Linked::new();
    for entry in walk(root)? {
        if let Entry::Present(rel) = entry {
            append_present(&mut builder, root, &rel, &mut linked)?;
        }
    }
    builder.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteouts_become_dockers_files_and_the_bytes_are_stable() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: mknod of a whiteout needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/motd"), b"hello\n").unwrap();
        std::os::unix::fs::symlink("motd", root.join("etc/motd.link")).unwrap();
        nix::sys::stat::mknod(
            &root.join("etc/gone"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .unwrap();
        let mut a = Vec::new();
        let (digest, size) = pack_layer(root, &mut a).unwrap();
        assert_eq!(size as usize, a.len());
        let mut b = Vec::new();
        assert_eq!(pack_layer(root, &mut b).unwrap().0, digest, "stable bytes");
        assert_eq!(a, b);
        let names: Vec<String> = tar::Archive::new(&a[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["etc/", "etc/.wh.gone", "etc/motd", "etc/motd.link"]);
    }

    #[test]
    fn a_second_name_of_a_file_is_a_hard_link_entry() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("a"), b"shared").unwrap();
        std::fs::hard_link(root.path().join("a"), root.path().join("b")).unwrap();
        let mut tar = Vec::new();
        pack_layer(root.path(), &mut tar).unwrap();
        let entries: Vec<(String, tar::EntryType, Option<String>)> = tar::Archive::new(&tar[..])
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let link = e
                    .link_name()
                    .unwrap()
                    .map(|l| l.to_string_lossy().into_owned());
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    e.header().entry_type(),
                    link,
                )
            })
            .collect();
        assert_eq!(
            entries,
            [
                ("a".to_string(), tar::EntryType::Regular, None),
                ("b".to_string(), tar::EntryType::Link, Some("a".to_string())),
            ]
        );
    }

    use proptest::prelude::*;

    /// What a layer directory holds, compared through `walk` and the files' bytes.
    fn listing(root: &Path) -> Vec<(Entry, Option<Vec<u8>>)> {
        walk(root)
            .unwrap()
            .into_iter()
            .map(|e| {
                let bytes = match &e {
                    Entry::Present(p) if root.join(p).is_file() => {
                        Some(std::fs::read(root.join(p)).unwrap())
                    }
                    _ => None,
                };
                (e, bytes)
            })
            .collect()
    }

    fn whiteout(path: &Path) {
        nix::sys::stat::mknod(
            path,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Overlay whiteouts and opaque dirs become `.wh.` entries in the tar and come back
        /// as the same whiteouts and opaque dirs when the tar is unpacked.
        #[test]
        fn whiteouts_round_trip_through_a_layer_tar(
            top in prop::collection::btree_map("[a-e]{1,3}", 0u8..4, 1..8),
            inner in prop::collection::btree_map("[f-h]{1,2}", 0u8..3, 0..4),
        ) {
            if !nix::unistd::geteuid().is_root() {
                return Ok(());
            }
            let src = tempfile::tempdir().unwrap();
            let (mut whiteouts, mut opaques) = (0, 0);
            for (name, kind) in &top {
                let p = src.path().join(name);
                match kind {
                    0 => std::fs::write(&p, name.as_bytes()).unwrap(),
                    2 => { whiteout(&p); whiteouts += 1; }
                    _ => {
                        std::fs::create_dir(&p).unwrap();
                        if *kind == 3 {
                            super::super::unpack::set_opaque(&p).unwrap();
                            opaques += 1;
                        }
                        for (n, k) in &inner {
                            let q = p.join(n);
                            match k {
                                0 => std::fs::write(&q, n.as_bytes()).unwrap(),
                                1 => { whiteout(&q); whiteouts += 1; }
                                _ => std::fs::create_dir(&q).unwrap(),
                            }
                        }
                    }
                }
            }
            let mut tar = Vec::new();
            let (digest, _) = pack_layer(src.path(), &mut tar).unwrap();
            let names: Vec<String> = tar::Archive::new(&tar[..])
                .entries()
                .unwrap()
                .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
                .collect();
            prop_assert_eq!(names.iter().filter(|n| n.ends_with("/.wh..wh..opq")).count(), opaques);
            prop_assert_eq!(
                names.iter().filter(|n| n.contains(".wh.") && !n.ends_with(".wh..wh..opq")).count(),
                whiteouts
            );
            let dst = tempfile::tempdir().unwrap();
            let unpacked = super::super::unpack::unpack_layer(&tar[..], dst.path()).unwrap();
            prop_assert_eq!(unpacked, digest);
            prop_assert_eq!(listing(dst.path()), listing(src.path()));
        }
    }
}
