//! Parents and the build cache (chapter 08). An image the builder or `commit` made remembers
//! the image it was made on (`imagedb/metadata/sha256/<id>/parent`, where Docker keeps it);
//! one the builder made also remembers the step that made it: an entry
//! `buildcache/<parent>-<key hash>` names the child, so a later build finds "the child of this
//! parent made by this step" with one file read. Deleting an image removes the entry that
//! names it and the entries of which it is the parent, so the cache never points at something
//! gone.

use super::store::{io_ctx, ImageError, ImageStore};
use crate::util::fsutil::write_atomic;
use sha2::Digest;
use std::fs;
use std::io;
use std::path::PathBuf;

/// The parent of an image built on nothing (`FROM scratch`), in cache entry names.
const SCRATCH: &str = "scratch";

fn hex_of(id: &str) -> &str {
    id.trim_start_matches("sha256:")
}

impl ImageStore {
    fn metadata_dir(&self, id: &str) -> PathBuf {
        self.image_root()
            .join("imagedb/metadata/sha256")
            .join(hex_of(id))
    }

    fn cache_dir(&self) -> PathBuf {
        self.image_root().join("buildcache")
    }

    fn cache_entry(&self, parent: Option<&str>, key: &str) -> PathBuf {
        let key_hash = hex::encode(sha2::Sha256::digest(key.as_bytes()));
        self.cache_dir().join(format!(
            "{}-{key_hash}",
            parent.map(hex_of).unwrap_or(SCRATCH)
        ))
    }

    /// The image `id` was made on, if the builder or `commit` made it.
    pub fn parent_of(&self, id: &str) -> Option<String> {
        fs::read_to_string(self.metadata_dir(id).join("parent"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// Every image whose parent is `id`.
    pub fn children_of(&self, id: &str) -> Vec<String> {
        let mut out = Vec::new();
        if let Ok(entries) = fs::read_dir(self.image_root().join("imagedb/metadata/sha256")) {
            for e in entries.flatten() {
                if fs::read_to_string(e.path().join("parent")).is_ok_and(|p| p.trim() == id) {
                    out.push(format!("sha256:{}", e.file_name().to_string_lossy()));
                }
            }
        }
        out.sort();
        out
    }

    /// Record that `child` was made on `parent` (by `commit`, which leaves no cache entry).
    pub fn set_parent(&self, child: &str, parent: &str) -> Result<(), ImageError> {
        let meta = self.metadata_dir(child);
        fs::create_dir_all(&meta).map_err(io_ctx("creating the image's metadata"))?;
        write_atomic(&meta.join("parent"), parent.as_bytes())
            .map_err(io_ctx("writing the image's parent"))
    }

    /// Record that the step `key` on `parent` made `child`: its parent, and the cache entry.
    pub fn record_build_step(
        &self,
        parent: Option<&str>,
        key: &str,
        child: &str,
    ) -> Result<(), ImageError> {
        let meta = self.metadata_dir(child);
        fs::create_dir_all(&meta).map_err(io_ctx("creating the image's metadata"))?;
        if let Some(p) = parent {
            write_atomic(&meta.join("parent"), p.as_bytes())
                .map_err(io_ctx("writing the image's parent"))?;
        }
        let entry = self.cache_entry(parent, key);
        fs::create_dir_all(self.cache_dir()).map_err(io_ctx("creating the build cache"))?;
        write_atomic(&entry, child.as_bytes()).map_err(io_ctx("writing a build cache entry"))?;
        let name = entry.file_name().unwrap_or_default().to_string_lossy();
        write_atomic(&meta.join("buildcache"), name.as_bytes())
            .map_err(io_ctx("writing the image's cache entry name"))?;
        Ok(())
    }

    /// The image the step `key` made on `parent` before, if it is still there.
    pub fn cached_step(&self, parent: Option<&str>, key: &str) -> Option<String> {
        let child = fs::read_to_string(self.cache_entry(parent, key)).ok()?;
        let child = child.trim();
        self.imagedb_path(child).exists().then(|| child.to_string())
    }

    /// Forget what the cache and the parent links say about `id` (it is being deleted).
    pub(crate) fn forget_lineage(&self, id: &str) -> io::Result<()> {
        let meta = self.metadata_dir(id);
        if let Ok(name) = fs::read_to_string(meta.join("buildcache")) {
            let entry = self.cache_dir().join(name.trim());
            // Only if it still names this image: a rebuild may have pointed it elsewhere.
            if fs::read_to_string(&entry).is_ok_and(|c| c.trim() == id) {
                remove_if_there(&entry)?;
            }
        }
        let prefix = format!("{}-", hex_of(id));
        if let Ok(entries) = fs::read_dir(self.cache_dir()) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    remove_if_there(&e.path())?;
                }
            }
        }
        match fs::remove_dir_all(&meta) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

fn remove_if_there(p: &std::path::Path) -> io::Result<()> {
    match fs::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
