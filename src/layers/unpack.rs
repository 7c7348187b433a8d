//! Applying a layer tar: one pass that hashes the stream (the diff id) while it unpacks, and
//! turns Docker's whiteout files back into what overlayfs understands: `.wh.name` becomes a
//! 0/0 character device, `.wh..wh..opq` the `trusted.overlay.opaque` attribute on its directory.

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

/// A reader that hashes everything read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
        }
    }
    /// Read to the end (tar leaves padding unread) and return "sha256:<hex>".
    pub fn finish(mut self) -> io::Result<String> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(format!("sha256:{}", hex::encode(self.hasher.finalize())))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
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

fn set_opaque(dir: &Path) -> io::Result<()> {
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

/// Unpack `tar` into `dest` (a fresh layer's `diff/`), returning the stream's diff id.
pub fn unpack_layer<R: Read>(tar: R, dest: &Path) -> io::Result<String> {
    let mut hashing = HashingReader::new(tar);
    {
        let mut archive = tar::Archive::new(&mut hashing);
        archive.set_preserve_permissions(true);
        archive.set_preserve_ownerships(true);
        archive.set_unpack_xattrs(true);
        archive.set_overwrite(true);
        archive.set_preserve_mtime(true);
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
                let parent = dest.join(rel.parent().unwrap_or(Path::new("")));
                std::fs::create_dir_all(&parent)?;
                if hidden == ".wh..opq" {
                    set_opaque(&parent)?;
                } else {
                    let target = parent.join(hidden);
                    let _ = std::fs::remove_file(&target);
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
            // unpack_in refuses entries (and hard link targets) that would land outside `dest`,
            // including through symlinks unpacked earlier.
            if !entry.unpack_in(dest)? {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("layer entry {} leaves the layer", raw.display()),
                ));
            }
        }
    }
    hashing.finish()
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
