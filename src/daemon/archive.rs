//! `HEAD|GET|PUT /containers/{id}/archive?path=`: what `cp` stands on (chapter 04). Paths are
//! resolved inside the container's merged root the way the container itself would see them:
//! symlinks are followed, but an absolute link target or a `..` stops at the container's root,
//! never reaching the host's. A write into the container extracts a tar below one resolved
//! directory, and the tar crate refuses any entry that would leave it.

use super::error::{DaemonError, Result};
use super::Daemon;
use base64::Engine;
use serde_json::json;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub use crate::util::inroot::resolve_in_root;

/// Go's `os.FileMode` bits, which the docker CLI decodes from the stat header.
fn go_mode(md: &std::fs::Metadata) -> u32 {
    let ft = md.file_type();
    let perm = md.permissions().mode();
    let mut m = perm & 0o777;
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        m |= 1 << 31;
    } else if ft.is_symlink() {
        m |= 1 << 27;
    } else if ft.is_fifo() {
        m |= 1 << 25;
    } else if ft.is_socket() {
        m |= 1 << 24;
    } else if ft.is_char_device() {
        m |= (1 << 26) | (1 << 21);
    } else if ft.is_block_device() {
        m |= 1 << 26;
    }
    if perm & 0o4000 != 0 {
        m |= 1 << 23;
    }
    if perm & 0o2000 != 0 {
        m |= 1 << 22;
    }
    if perm & 0o1000 != 0 {
        m |= 1 << 20;
    }
    m
}

/// What `HEAD` answers in `X-Docker-Container-Path-Stat`: base64 of the path's stat JSON.
pub fn stat_header(name: &str, md: &std::fs::Metadata, link_target: &str) -> String {
    let mtime = chrono::DateTime::from_timestamp(md.mtime(), md.mtime_nsec() as u32)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .unwrap_or_default();
    let stat = json!({
        "name": name,
        "size": md.len(),
        "mode": go_mode(md),
        "mtime": mtime,
        "linkTarget": link_target,
    });
    base64::engine::general_purpose::STANDARD.encode(stat.to_string())
}

/// A path's stat, resolved in the container; the link target is the container's path.
fn stat_in(root: &Root, path: &str) -> Result<(PathBuf, String)> {
    let host = root.resolve(path, false)?;
    let md = std::fs::symlink_metadata(&host).map_err(|_| {
        DaemonError::NotFound(format!("Could not find the file {path} in container"))
    })?;
    let name = Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into());
    let link = if md.file_type().is_symlink() {
        let target = root.resolve(path, true)?;
        format!(
            "/{}",
            target
                .strip_prefix(&root.merged)
                .unwrap_or(Path::new(""))
                .display()
        )
    } else {
        String::new()
    };
    Ok((host, stat_header(&name, &md, &link)))
}

/// Extract `tar` below `dest`. With `no_overwrite_dir_non_dir`, an entry may not replace a
/// directory with a non-directory or the reverse (Docker's rule for `cp`). Without
/// `copy_uid_gid`, what is written belongs to the container's root.
pub fn extract_into(
    tar: impl io::Read,
    dest: &Path,
    no_overwrite_dir_non_dir: bool,
    copy_uid_gid: bool,
) -> io::Result<()> {
    let mut archive = tar::Archive::new(tar);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(copy_uid_gid);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    archive.set_unpack_xattrs(false);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let rel = crate::layers::clean_entry_path(&entry.path()?)?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = dest.join(&rel);
        if no_overwrite_dir_non_dir {
            if let Ok(existing) = std::fs::symlink_metadata(&target) {
                let entry_is_dir = entry.header().entry_type().is_dir();
                if existing.is_dir() && !entry_is_dir {
                    return Err(io::Error::other(format!(
                        "cannot overwrite directory \"{}\" with non-directory \"{}\"",
                        target.display(),
                        rel.display()
                    )));
                }
                if !existing.is_dir() && entry_is_dir {
                    return Err(io::Error::other(format!(
                        "cannot overwrite non-directory \"{}\" with directory \"{}\"",
                        target.display(),
                        rel.display()
                    )));
                }
            }
        }
        if !entry.unpack_in(dest)? {
            return Err(io::Error::other(format!(
                "the archive entry {} would leave the destination",
                rel.display()
            )));
        }
    }
    Ok(())
}

/// A container's files as the host reaches them: the merged overlay, its volumes and bind
/// mounts (a path under one is that mount's), and the files berth bind-mounts over it
/// (`/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`) from the container's own dir, which
/// the overlay underneath does not hold.
pub struct Root {
    pub merged: PathBuf,
    dir: PathBuf,
    /// (destination, host source, writable), the deepest destination first.
    mounts: Vec<(String, PathBuf, bool)>,
}

impl Root {
    /// The volume or bind mount a path (inside the container, resolved) is on.
    fn mount_of(&self, inside: &str) -> Option<&(String, PathBuf, bool)> {
        self.mounts.iter().find(|(dst, _, _)| {
            inside
                .strip_prefix(dst.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }

    /// Whether what is written at `path` lands on a writable filesystem: its mount's if it
    /// is on one, else the rootfs.
    fn writable(&self, path: &str, rootfs_read_only: bool) -> Result<()> {
        let host = resolve_in_root(&self.merged, path, true)
            .map_err(|e| DaemonError::InvalidParameter(format!("{path}: {e}")))?;
        let inside = format!(
            "/{}",
            host.strip_prefix(&self.merged)
                .unwrap_or(Path::new(""))
                .display()
        );
        match self.mount_of(&inside) {
            Some((_, _, false)) => Err(DaemonError::Conflict(
                "mounted volume is marked read-only".into(),
            )),
            Some(_) => Ok(()),
            None if rootfs_read_only => Err(DaemonError::Conflict(
                "container rootfs is marked read-only".into(),
            )),
            None => Ok(()),
        }
    }

    fn resolve(&self, path: &str, follow_last: bool) -> Result<PathBuf> {
        let bad = |e: io::Error| DaemonError::InvalidParameter(format!("{path}: {e}"));
        let host = resolve_in_root(&self.merged, path, follow_last).map_err(bad)?;
        let inside = format!(
            "/{}",
            host.strip_prefix(&self.merged)
                .unwrap_or(Path::new(""))
                .display()
        );
        if let Some((dst, source, _)) = self.mount_of(&inside) {
            // Within the mount, its own links resolve inside it.
            return resolve_in_root(source, &inside[dst.len()..], follow_last).map_err(bad);
        }
        for f in ["hosts", "hostname", "resolv.conf"] {
            if host == self.merged.join("etc").join(f) {
                return Ok(self.dir.join(f));
            }
        }
        Ok(host)
    }
}

/// A container's root, mounted for as long as this lives: when the container is not running,
/// the mount made for this is undone on drop (unless the container started meanwhile).
pub struct MountedRoot {
    pub root: Root,
    container: std::sync::Arc<super::container::Container>,
    images: std::sync::Arc<std::sync::Mutex<crate::image::ImageStore>>,
    mounted_here: bool,
}

impl MountedRoot {
    pub fn container_id(&self) -> &str {
        &self.container.id
    }
}

impl Drop for MountedRoot {
    fn drop(&mut self) {
        if self.mounted_here && !self.container.is_running() {
            let _ = self
                .images
                .lock()
                .unwrap()
                .layers()
                .unmount(&self.container.id);
        }
    }
}

impl Daemon {
    /// Mount a container's root (if it is not mounted already) for one copy or export.
    pub fn mount_root(&self, input: &str) -> Result<MountedRoot> {
        let c = self.lookup(input)?;
        let mut mounts: Vec<(String, PathBuf, bool)> = c
            .snapshot()
            .mount_points
            .iter()
            .filter(|m| m.kind != "tmpfs")
            .map(|m| {
                let mut source = PathBuf::from(&m.source);
                if let Some(sub) = m.volume_spec.as_ref().filter(|s| !s.subpath.is_empty()) {
                    source = source.join(&sub.subpath);
                }
                (m.destination.clone(), source, m.rw)
            })
            .collect();
        mounts.sort_by_key(|(d, _, _)| std::cmp::Reverse(d.len()));
        let store = self.images.lock().unwrap();
        let was = store.layers().is_mounted(&c.id);
        let merged = store
            .layers()
            .mount(&c.id)
            .map_err(|e| DaemonError::system("mounting the container", e))?;
        drop(store);
        Ok(MountedRoot {
            root: Root {
                merged,
                dir: c.dir.clone(),
                mounts,
            },
            container: c,
            images: self.images.clone(),
            mounted_here: !was,
        })
    }

    /// Run `f` on the container's root, mounted for the time of it, off the async threads.
    async fn with_root<T: Send + 'static>(
        &self,
        input: &str,
        f: impl FnOnce(&Root) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let mounted = self.mount_root(input)?;
        tokio::task::spawn_blocking(move || f(&mounted.root))
            .await
            .map_err(|e| DaemonError::system("archive", e))?
    }

    /// `HEAD /containers/{id}/archive?path=`: the stat header value.
    pub async fn archive_stat(&self, input: &str, path: &str) -> Result<String> {
        let path = path.to_string();
        self.with_root(input, move |root| stat_in(root, &path).map(|(_, s)| s))
            .await
    }

    /// `GET /containers/{id}/archive?path=`: the stat header, and the tar written to `out`
    /// by a task that keeps the root mounted until it is done.
    pub async fn archive_get(
        &self,
        input: &str,
        path: &str,
        out: tokio::sync::mpsc::Sender<bytes::Bytes>,
    ) -> Result<String> {
        let mounted = self.mount_root(input)?;
        let path = path.to_string();
        // Stat first, so a missing path is a 404 rather than a broken stream; the tar is then
        // written by a task that holds the mount until it is done.
        let (stat, host, mounted) = tokio::task::spawn_blocking(move || {
            let (_, stat) = stat_in(&mounted.root, &path)?;
            // A trailing `/` or `/.` asks for what the link points to.
            let follow = path.ends_with('/') || path.ends_with("/.");
            let host = mounted.root.resolve(&path, follow)?;
            Ok::<_, DaemonError>((stat, (host, path), mounted))
        })
        .await
        .map_err(|e| DaemonError::system("archive", e))??;
        let (host, path) = host;
        // `/.` names the contents, which the client unpacks in place (the top entry is ".").
        let name = if path.ends_with("/.") {
            ".".to_string()
        } else {
            Path::new(path.trim_end_matches('/'))
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| ".".into())
        };
        tokio::task::spawn_blocking(move || {
            let writer = super::commit::ChannelWriter::new(out);
            if let Err(e) = crate::util::tarpath::tar_path(&host, &name, writer) {
                tracing::warn!("archive of {path}: {e}");
            }
            drop(mounted);
        });
        Ok(stat)
    }

    /// `PUT /containers/{id}/archive?path=`: extract the body below `path`, a directory.
    pub async fn archive_put(
        &self,
        input: &str,
        path: &str,
        tar: impl io::Read + Send + 'static,
        no_overwrite_dir_non_dir: bool,
        copy_uid_gid: bool,
    ) -> Result<()> {
        let c = self.lookup(input)?;
        let read_only = c.snapshot().host_config.readonly_rootfs;
        let path = path.to_string();
        self.with_root(input, move |root| {
            root.writable(&path, read_only)?;
            let dest = root.resolve(&path, true)?;
            match std::fs::metadata(&dest) {
                Ok(md) if md.is_dir() => {}
                Ok(_) => {
                    return Err(DaemonError::InvalidParameter(format!(
                        "extraction point is not a directory: {path}"
                    )))
                }
                Err(_) => {
                    return Err(DaemonError::NotFound(format!(
                        "Could not find the file {path} in container {}",
                        crate::util::id::short(&c.id)
                    )))
                }
            }
            extract_into(tar, &dest, no_overwrite_dir_non_dir, copy_uid_gid)
                .map_err(|e| DaemonError::InvalidParameter(format!("copying into {path}: {e}")))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_resolve_inside_the_root() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::create_dir_all(r.join("data/deep")).unwrap();
        symlink("/etc", r.join("abs")).unwrap();
        symlink("../../..", r.join("data/deep/up")).unwrap();
        symlink("/../../../../etc/passwd", r.join("escape")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();

        assert_eq!(resolve_in_root(r, "/abs/x", true).unwrap(), r.join("etc/x"));
        assert_eq!(resolve_in_root(r, "/abs", false).unwrap(), r.join("abs"));
        assert_eq!(resolve_in_root(r, "/abs", true).unwrap(), r.join("etc"));
        assert_eq!(
            resolve_in_root(r, "/data/deep/up/etc", true).unwrap(),
            r.join("etc")
        );
        assert_eq!(
            resolve_in_root(r, "/escape", true).unwrap(),
            r.join("etc/passwd")
        );
        assert_eq!(resolve_in_root(r, "../../x", true).unwrap(), r.join("x"));
        assert!(resolve_in_root(r, "/loop1", true).is_err());
    }

    #[test]
    fn extraction_refuses_entries_that_leave_and_dir_swaps() {
        let dest = tempfile::tempdir().unwrap();
        std::fs::create_dir(dest.path().join("d")).unwrap();
        let tar_of = |name: &str, dir: bool| {
            let mut b = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(if dir {
                tar::EntryType::Directory
            } else {
                tar::EntryType::Regular
            });
            h.set_size(0);
            h.set_mode(0o755);
            h.set_cksum();
            b.append_data(&mut h, name, io::empty()).unwrap();
            b.into_inner().unwrap()
        };
        let err = extract_into(&tar_of("d", false)[..], dest.path(), true, false).unwrap_err();
        assert!(
            err.to_string().contains("cannot overwrite directory"),
            "{err}"
        );
        extract_into(&tar_of("f", false)[..], dest.path(), true, false).unwrap();
        let err = extract_into(&tar_of("f", true)[..], dest.path(), true, false).unwrap_err();
        assert!(err.to_string().contains("non-directory"), "{err}");
        // A planted link is not a way out.
        symlink("/", dest.path().join("out")).unwrap();
        assert!(extract_into(&tar_of("out/tmp/x", false)[..], dest.path(), true, false).is_err());
    }
}
