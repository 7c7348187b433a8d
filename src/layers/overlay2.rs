//! Docker's overlay2 layout, kept so a learner can compare it with a Docker host line by line:
//! `overlay2/<cache id>/{diff,link,lower,work,merged}`, `overlay2/l/<short> -> ../<cache id>/diff`,
//! `image/overlay2/layerdb/sha256/<chain id>/{diff,cache-id,size,parent}` and
//! `image/overlay2/layerdb/mounts/<container id>/{init-id,mount-id,parent}`.

use super::unpack::{chain_id, dir_size, rebuild_layer, rebuilt_size, unpack_layer_split, Segment};
use crate::util::fsutil::write_atomic;
use rand::Rng;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum LayerError {
    #[error("layer {diff_id}: the content's digest is {actual}, not {diff_id}")]
    DigestMismatch { diff_id: String, actual: String },
    #[error("blob {digest} is corrupt: its content's digest is {actual}")]
    BlobDigest { digest: String, actual: String },
    #[error("no such layer: {0}")]
    NoSuchLayer(String),
    #[error("no layers for container {0}")]
    NoSuchMount(String),
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
    #[error("mounting the overlay for {id}: {source}")]
    Mount { id: String, source: nix::Error },
    #[error("container {0} already has layers")]
    MountExists(String),
    #[error("layer {chain} is in use by {user}")]
    InUse { chain: String, user: String },
    #[error("cannot mount the layers of {id}: the mount options take {len} bytes, more than a page even with relative paths")]
    OptionsTooLong { id: String, len: usize },
}

/// The segments as gzip'd JSON lines, written atomically.
fn write_split(path: &Path, segments: &[Segment]) -> io::Result<()> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for s in segments {
        serde_json::to_writer(&mut gz, s)?;
        io::Write::write_all(&mut gz, b"\n")?;
    }
    write_atomic(path, &gz.finish()?)
}

fn io_ctx(context: impl Into<String>) -> impl FnOnce(io::Error) -> LayerError {
    let context = context.into();
    move |source| LayerError::Io { context, source }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LayerInfo {
    pub chain_id: String,
    pub diff_id: String,
    pub cache_id: String,
    pub size: u64,
}

/// A layer unpacked into a dir of its own, not yet placed on a parent nor recorded.
pub struct StagedLayer {
    cache: String,
    pub diff_id: String,
    segments: Vec<Segment>,
}

#[derive(Clone)]
pub struct LayerStore {
    overlay: PathBuf,
    layerdb: PathBuf,
    mounts: PathBuf,
}

fn hex_of(id: &str) -> &str {
    id.strip_prefix("sha256:").unwrap_or(id)
}

/// 26 characters of [A-Z0-9], like Docker's short layer links.
fn short_link() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..26)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

impl LayerStore {
    pub fn open(root: &Path) -> Result<LayerStore, LayerError> {
        let s = LayerStore {
            overlay: root.join("overlay2"),
            layerdb: root.join("image/overlay2/layerdb/sha256"),
            mounts: root.join("image/overlay2/layerdb/mounts"),
        };
        for d in [s.overlay.join("l"), s.layerdb.clone(), s.mounts.clone()] {
            fs::create_dir_all(&d).map_err(io_ctx(format!("creating {}", d.display())))?;
        }
        Ok(s)
    }

    pub fn overlay_dir(&self) -> &Path {
        &self.overlay
    }

    fn read_meta(dir: &Path, name: &str) -> Option<String> {
        fs::read_to_string(dir.join(name))
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// The diff id of a stored chain.
    pub fn diff_of(&self, chain: &str) -> Option<String> {
        Self::read_meta(&self.layerdb.join(hex_of(chain)), "diff")
    }

    pub fn exists(&self, chain: &str) -> bool {
        self.layerdb.join(hex_of(chain)).join("cache-id").exists()
    }

    /// The cache dir of a layer in the chain.
    fn cache_of(&self, chain: &str) -> Result<String, LayerError> {
        Self::read_meta(&self.layerdb.join(hex_of(chain)), "cache-id")
            .ok_or_else(|| LayerError::NoSuchLayer(chain.to_string()))
    }

    /// `lower` for a layer stacked on `cache`: its link first, then its own lowers.
    fn lower_above(&self, cache: &str) -> String {
        let dir = self.overlay.join(cache);
        let link = Self::read_meta(&dir, "link").unwrap_or_default();
        match Self::read_meta(&dir, "lower") {
            Some(l) if !l.is_empty() => format!("l/{link}:{l}"),
            _ => format!("l/{link}"),
        }
    }

    /// Create an empty layer dir with its link; `lower` names what it sits on.
    fn new_layer_dir(&self, cache: &str, lower: Option<&str>) -> Result<PathBuf, LayerError> {
        let dir = self.bare_layer_dir(cache)?;
        self.link_layer_dir(cache, lower)?;
        Ok(dir)
    }

    /// `diff/` and `work/` of a layer dir, not yet linked into the store.
    fn bare_layer_dir(&self, cache: &str) -> Result<PathBuf, LayerError> {
        let dir = self.overlay.join(cache);
        fs::create_dir_all(dir.join("diff"))
            .map_err(io_ctx(format!("creating {}", dir.display())))?;
        fs::create_dir_all(dir.join("work")).map_err(io_ctx("creating work dir"))?;
        Ok(dir)
    }

    /// The short link in `l/`, the `link` file, and `lower` (what the layer sits on).
    fn link_layer_dir(&self, cache: &str, lower: Option<&str>) -> Result<(), LayerError> {
        let dir = self.overlay.join(cache);
        let link = short_link();
        std::os::unix::fs::symlink(
            format!("../{cache}/diff"),
            self.overlay.join("l").join(&link),
        )
        .map_err(io_ctx("creating the short link"))?;
        fs::write(dir.join("link"), &link).map_err(io_ctx("writing link"))?;
        if let Some(l) = lower {
            fs::write(dir.join("lower"), l).map_err(io_ctx("writing lower"))?;
        }
        Ok(())
    }

    /// The layerdb entry of a chain, written aside and renamed in: from then on the layer is
    /// part of the store.
    fn record_layer(
        &self,
        chain: &str,
        cache: &str,
        diff_id: &str,
        segments: &[Segment],
        parent: Option<&str>,
    ) -> Result<u64, LayerError> {
        let size = dir_size(&self.overlay.join(cache).join("diff"));
        let tmp = self.layerdb.join(format!("{}.tmp", hex_of(chain)));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).map_err(io_ctx("creating layerdb entry"))?;
        write_atomic(&tmp.join("diff"), diff_id.as_bytes()).map_err(io_ctx("writing diff"))?;
        write_atomic(&tmp.join("size"), size.to_string().as_bytes())
            .map_err(io_ctx("writing size"))?;
        write_atomic(&tmp.join("cache-id"), cache.as_bytes())
            .map_err(io_ctx("writing cache-id"))?;
        write_split(&tmp.join("tar-split.json.gz"), segments)
            .map_err(io_ctx("writing tar-split"))?;
        if let Some(p) = parent {
            write_atomic(&tmp.join("parent"), p.as_bytes()).map_err(io_ctx("writing parent"))?;
        }
        fs::rename(&tmp, self.layerdb.join(hex_of(chain)))
            .map_err(io_ctx("registering the layer"))?;
        Ok(size)
    }

    fn existing(&self, chain: &str, diff_id: &str) -> Result<LayerInfo, LayerError> {
        let db = self.layerdb.join(hex_of(chain));
        Ok(LayerInfo {
            cache_id: self.cache_of(chain)?,
            size: Self::read_meta(&db, "size")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            chain_id: chain.to_string(),
            diff_id: diff_id.to_string(),
        })
    }

    /// Unpack a layer before it is known where it goes (`load` streams layers before the
    /// manifest that places them). Its diff id is what the stream hashed to.
    pub fn stage_layer(&self, tar: impl Read) -> Result<StagedLayer, LayerError> {
        let cache = crate::util::id::random_id();
        let result = self.bare_layer_dir(&cache).and_then(|dir| {
            unpack_layer_split(tar, &dir.join("diff"))
                .map_err(io_ctx("unpacking a layer of the archive"))
        });
        match result {
            Ok((diff_id, segments)) => Ok(StagedLayer {
                cache,
                diff_id,
                segments,
            }),
            Err(e) => {
                self.remove_layer_dir(&cache);
                Err(e)
            }
        }
    }

    pub fn discard_staged(&self, staged: StagedLayer) {
        self.remove_layer_dir(&staged.cache);
    }

    /// Place a staged layer on `parent`, if its content is `diff_id`. A chain already stored
    /// is kept and the staged copy dropped.
    pub fn register_staged(
        &self,
        staged: StagedLayer,
        parent: Option<&str>,
        diff_id: &str,
    ) -> Result<LayerInfo, LayerError> {
        if staged.diff_id != diff_id {
            let actual = staged.diff_id.clone();
            self.discard_staged(staged);
            return Err(LayerError::DigestMismatch {
                diff_id: diff_id.to_string(),
                actual,
            });
        }
        let chain = chain_id(parent, diff_id);
        if self.exists(&chain) {
            self.discard_staged(staged);
            return self.existing(&chain, diff_id);
        }
        let result = (|| {
            let lower = match parent {
                Some(p) => Some(self.lower_above(&self.cache_of(p)?)),
                None => None,
            };
            self.link_layer_dir(&staged.cache, lower.as_deref())?;
            self.record_layer(&chain, &staged.cache, diff_id, &staged.segments, parent)
        })();
        match result {
            Ok(size) => Ok(LayerInfo {
                chain_id: chain,
                diff_id: diff_id.to_string(),
                cache_id: staged.cache,
                size,
            }),
            Err(e) => {
                self.remove_layer_dir(&staged.cache);
                let _ = fs::remove_dir_all(self.layerdb.join(format!("{}.tmp", hex_of(&chain))));
                Err(e)
            }
        }
    }

    fn remove_layer_dir(&self, cache: &str) {
        let dir = self.overlay.join(cache);
        if let Some(link) = Self::read_meta(&dir, "link") {
            if !link.is_empty() {
                let _ = fs::remove_file(self.overlay.join("l").join(link));
            }
        }
        let _ = fs::remove_dir_all(dir);
    }

    /// Unpack one layer on top of `parent`, verifying it against `diff_id` in the same pass.
    /// A layer whose chain id is already stored is reused, not stored twice.
    pub fn apply_layer(
        &self,
        parent: Option<&str>,
        diff_id: &str,
        tar: impl Read,
    ) -> Result<LayerInfo, LayerError> {
        self.apply_layer_verified(parent, diff_id, tar, || Ok(()))
    }

    /// `apply_layer`, with one more check between unpacking and registering: a pull passes
    /// the check of the compressed blob's digest, which is known only once the whole blob
    /// has streamed through. A failed check registers nothing, as a wrong diff id does.
    pub fn apply_layer_verified(
        &self,
        parent: Option<&str>,
        diff_id: &str,
        tar: impl Read,
        verify: impl FnOnce() -> Result<(), LayerError>,
    ) -> Result<LayerInfo, LayerError> {
        let chain = chain_id(parent, diff_id);
        if self.exists(&chain) {
            return self.existing(&chain, diff_id);
        }
        let lower = match parent {
            Some(p) => Some(self.lower_above(&self.cache_of(p)?)),
            None => None,
        };
        let cache = crate::util::id::random_id();
        let result = (|| {
            let dir = self.new_layer_dir(&cache, lower.as_deref())?;
            let (actual, segments) = unpack_layer_split(tar, &dir.join("diff"))
                .map_err(io_ctx(format!("unpacking layer {diff_id}")))?;
            if actual != diff_id {
                return Err(LayerError::DigestMismatch {
                    diff_id: diff_id.to_string(),
                    actual,
                });
            }
            verify()?;
            self.record_layer(&chain, &cache, diff_id, &segments, parent)
        })();
        match result {
            Ok(size) => Ok(LayerInfo {
                chain_id: chain,
                diff_id: diff_id.to_string(),
                cache_id: cache,
                size,
            }),
            Err(e) => {
                self.remove_layer_dir(&cache);
                let _ = fs::remove_dir_all(self.layerdb.join(format!("{}.tmp", hex_of(&chain))));
                Err(e)
            }
        }
    }

    /// How to rebuild the layer's tar, kept when it was applied.
    fn split_of(&self, chain: &str) -> Result<Vec<Segment>, LayerError> {
        let path = self.layerdb.join(hex_of(chain)).join("tar-split.json.gz");
        let f = fs::File::open(&path).map_err(io_ctx(format!(
            "layer {chain} has no tar-split (stored by an older berth: load or pull the image again)"
        )))?;
        let mut out = Vec::new();
        for line in io::BufRead::lines(io::BufReader::new(flate2::read::GzDecoder::new(f))) {
            let line = line.map_err(io_ctx("reading tar-split"))?;
            out.push(serde_json::from_str(&line).map_err(|e| LayerError::Io {
                context: format!("tar-split of {chain}"),
                source: io::Error::new(io::ErrorKind::InvalidData, e),
            })?);
        }
        Ok(out)
    }

    /// The size of the layer's tar, for a header written before its bytes.
    pub fn layer_tar_size(&self, chain: &str) -> Result<u64, LayerError> {
        Ok(rebuilt_size(&self.split_of(chain)?))
    }

    /// Write the layer's tar exactly as it came (its sha256 is its diff id).
    pub fn write_layer_tar(&self, chain: &str, out: &mut impl io::Write) -> Result<(), LayerError> {
        let segments = self.split_of(chain)?;
        let dir = self.overlay.join(self.cache_of(chain)?).join("diff");
        rebuild_layer(&segments, &dir, out).map_err(io_ctx(format!("rebuilding layer {chain}")))
    }

    /// A reader of the layer's tar exactly as it came, for streaming it into an archive.
    pub fn layer_tar_reader(&self, chain: &str) -> Result<LayerTarReader, LayerError> {
        Ok(LayerTarReader {
            segments: self.split_of(chain)?.into_iter(),
            dir: self.overlay.join(self.cache_of(chain)?).join("diff"),
            current: None,
        })
    }

    /// Size of a layer's own files, as recorded when it was applied.
    pub fn layer_size(&self, chain: &str) -> u64 {
        Self::read_meta(&self.layerdb.join(hex_of(chain)), "size")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// Hold `chains` while a push or save reads them (see `Lease`).
    pub fn lease(&self, chains: &[String]) -> super::Lease {
        super::Lease::take(&self.layerdb, chains)
    }

    /// Who stands on `chain`: a child layer, a container, or a push or save reading it.
    fn users_of(&self, chain: &str) -> Option<String> {
        if super::lease::is_leased(&self.layerdb, chain) {
            return Some("a push or save that reads it".to_string());
        }
        let entries = |dir: &Path| -> Vec<PathBuf> {
            fs::read_dir(dir)
                .map(|r| r.flatten().map(|e| e.path()).collect())
                .unwrap_or_default()
        };
        for d in entries(&self.layerdb) {
            if Self::read_meta(&d, "parent").as_deref() == Some(chain) {
                let name = d.file_name().unwrap_or_default().to_string_lossy();
                return Some(format!("layer sha256:{name}"));
            }
        }
        for d in entries(&self.mounts) {
            if Self::read_meta(&d, "parent").as_deref() == Some(chain) {
                let name = d.file_name().unwrap_or_default().to_string_lossy();
                return Some(format!("container {name}"));
            }
        }
        None
    }

    /// Forget a layer (when no image uses it any more). A layer another layer or a container
    /// stands on is refused: the caller removes from the top down, as Docker does.
    pub fn release_layer(&self, chain: &str) -> Result<(), LayerError> {
        if let Some(user) = self.users_of(chain) {
            return Err(LayerError::InUse {
                chain: chain.to_string(),
                user,
            });
        }
        let db = self.layerdb.join(hex_of(chain));
        if !db.exists() {
            return Err(LayerError::NoSuchLayer(chain.to_string()));
        }
        if let Some(cache) = Self::read_meta(&db, "cache-id") {
            self.remove_layer_dir(&cache);
        }
        fs::remove_dir_all(&db).map_err(io_ctx(format!("removing layer {chain}")))
    }

    /// The `-init` layer (the files Docker always puts in a container) and the read-write
    /// layer above it.
    pub fn create_container_layers(
        &self,
        container_id: &str,
        image_top: Option<&str>,
    ) -> Result<(), LayerError> {
        if self.mounts.join(container_id).exists() {
            return Err(LayerError::MountExists(container_id.to_string()));
        }
        let mount_id = crate::util::id::random_id();
        let init_id = format!("{mount_id}-init");
        let lower = match image_top {
            Some(top) => Some(self.lower_above(&self.cache_of(top)?)),
            None => None,
        };
        let result = (|| {
            let init = self.new_layer_dir(&init_id, lower.as_deref())?.join("diff");
            for d in ["dev/pts", "dev/shm", "proc", "sys", "etc"] {
                fs::create_dir_all(init.join(d)).map_err(io_ctx("filling the init layer"))?;
            }
            for f in [
                "etc/hosts",
                "etc/hostname",
                "etc/resolv.conf",
                ".dockerenv",
                "dev/console",
            ] {
                fs::write(init.join(f), b"").map_err(io_ctx("filling the init layer"))?;
            }
            // Docker's init layer also points /etc/mtab at the kernel's table.
            std::os::unix::fs::symlink("/proc/mounts", init.join("etc/mtab"))
                .map_err(io_ctx("filling the init layer"))?;
            self.new_layer_dir(&mount_id, Some(&self.lower_above(&init_id)))?;
            // The record appears whole or not at all: written aside, then renamed in.
            let tmp = self.mounts.join(format!(".{container_id}.tmp"));
            let _ = fs::remove_dir_all(&tmp);
            fs::create_dir_all(&tmp).map_err(io_ctx("recording the container's layers"))?;
            write_atomic(&tmp.join("init-id"), init_id.as_bytes())
                .map_err(io_ctx("writing init-id"))?;
            write_atomic(&tmp.join("mount-id"), mount_id.as_bytes())
                .map_err(io_ctx("writing mount-id"))?;
            if let Some(top) = image_top {
                write_atomic(&tmp.join("parent"), top.as_bytes())
                    .map_err(io_ctx("writing parent"))?;
            }
            fs::rename(&tmp, self.mounts.join(container_id))
                .map_err(io_ctx("recording the container's layers"))?;
            Ok(())
        })();
        if result.is_err() {
            self.remove_layer_dir(&mount_id);
            self.remove_layer_dir(&init_id);
            let _ = fs::remove_dir_all(self.mounts.join(format!(".{container_id}.tmp")));
        }
        result
    }

    fn mount_id(&self, container_id: &str) -> Result<String, LayerError> {
        Self::read_meta(&self.mounts.join(container_id), "mount-id")
            .ok_or_else(|| LayerError::NoSuchMount(container_id.to_string()))
    }

    pub fn merged_dir(&self, container_id: &str) -> Result<PathBuf, LayerError> {
        Ok(self
            .overlay
            .join(self.mount_id(container_id)?)
            .join("merged"))
    }

    pub fn upper_dir(&self, container_id: &str) -> Result<PathBuf, LayerError> {
        Ok(self.overlay.join(self.mount_id(container_id)?).join("diff"))
    }

    /// The container's lower layers, top first: its `-init` layer, then the image's.
    pub fn lower_dirs(&self, container_id: &str) -> Result<Vec<PathBuf>, LayerError> {
        let mount = self.overlay.join(self.mount_id(container_id)?);
        let lower = Self::read_meta(&mount, "lower").unwrap_or_default();
        Ok(lower
            .split(':')
            .filter(|l| !l.is_empty())
            .map(|l| self.overlay.join(l))
            .collect())
    }

    /// The chain id of the image layer a container stands on.
    pub fn container_parent(&self, container_id: &str) -> Option<String> {
        Self::read_meta(&self.mounts.join(container_id), "parent")
    }

    pub fn is_mounted(&self, container_id: &str) -> bool {
        match self.merged_dir(container_id) {
            Ok(m) => is_mountpoint(&m),
            Err(_) => false,
        }
    }

    /// Mount the container's overlay at `overlay2/<mount id>/merged` (idempotent).
    /// As Docker does, the options name the lower dirs by absolute paths through the short
    /// links while they fit in a page; past that, relative paths, with the mount made from a
    /// child process whose working directory is `overlay2/` (the daemon's own cwd must not
    /// change: it has other threads).
    pub fn mount(&self, container_id: &str) -> Result<PathBuf, LayerError> {
        let mount_id = self.mount_id(container_id)?;
        let dir = self.overlay.join(&mount_id);
        let merged = dir.join("merged");
        if is_mountpoint(&merged) {
            return Ok(merged);
        }
        fs::create_dir_all(&merged).map_err(io_ctx("creating merged dir"))?;
        let lower = Self::read_meta(&dir, "lower").unwrap_or_default();
        let plan = plan_mount(&self.overlay, &mount_id, &lower, page_size()).ok_or_else(|| {
            LayerError::OptionsTooLong {
                id: container_id.to_string(),
                len: relative_options(&mount_id, &lower).len(),
            }
        })?;
        let result = if plan.relative {
            mount_from(&self.overlay, &plan.target, &plan.data)
        } else {
            nix::mount::mount(
                Some("overlay"),
                &plan.target,
                Some("overlay"),
                nix::mount::MsFlags::empty(),
                Some(plan.data.as_str()),
            )
        };
        result.map_err(|source| LayerError::Mount {
            id: container_id.to_string(),
            source,
        })?;
        Ok(merged)
    }

    pub fn unmount(&self, container_id: &str) -> Result<(), LayerError> {
        let Ok(merged) = self.merged_dir(container_id) else {
            return Ok(());
        };
        if is_mountpoint(&merged) {
            nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH).map_err(|source| {
                LayerError::Mount {
                    id: container_id.to_string(),
                    source,
                }
            })?;
        }
        let _ = fs::remove_dir(&merged);
        Ok(())
    }

    /// The containers that have layers here (one mount record each), for a crash sweep.
    pub fn container_ids(&self) -> Vec<String> {
        fs::read_dir(&self.mounts)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect()
    }

    /// Unmount and delete the container's two layers (idempotent).
    pub fn remove_container_layers(&self, container_id: &str) -> Result<(), LayerError> {
        self.unmount(container_id)?;
        let m = self.mounts.join(container_id);
        if let Some(id) = Self::read_meta(&m, "mount-id") {
            self.remove_layer_dir(&id);
        }
        if let Some(id) = Self::read_meta(&m, "init-id") {
            self.remove_layer_dir(&id);
        }
        match fs::remove_dir_all(&m) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(io_ctx("removing the mount record")(e))
            }
            _ => Ok(()),
        }
    }
}

/// Whether `path` is a mount point, from /proc/self/mountinfo (field 5, where the kernel
/// writes space, tab, newline and backslash as octal escapes).
pub fn is_mountpoint(path: &Path) -> bool {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.to_string_lossy();
    info.lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .any(|m| unescape_mountinfo(m) == want)
}

fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How to mount one container's overlay: the option string, the target, and whether the
/// paths in them are relative to `overlay2/`.
#[derive(Debug, Clone, PartialEq)]
pub struct MountPlan {
    pub data: String,
    pub target: PathBuf,
    pub relative: bool,
}

fn relative_options(mount_id: &str, lower: &str) -> String {
    format!("lowerdir={lower},upperdir={mount_id}/diff,workdir={mount_id}/work")
}

/// Docker's rule: absolute paths when the options fit in a page (the kernel copies at most
/// one page of mount data), relative ones otherwise, and None when even those do not fit.
pub fn plan_mount(home: &Path, mount_id: &str, lower: &str, page: usize) -> Option<MountPlan> {
    let lowers: Vec<String> = lower
        .split(':')
        .filter(|l| !l.is_empty())
        .map(|l| home.join(l).to_string_lossy().into_owned())
        .collect();
    let dir = home.join(mount_id);
    let absolute = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        dir.join("diff").display(),
        dir.join("work").display()
    );
    if absolute.len() < page {
        return Some(MountPlan {
            data: absolute,
            target: dir.join("merged"),
            relative: false,
        });
    }
    let relative = relative_options(mount_id, lower);
    (relative.len() < page).then(|| MountPlan {
        data: relative,
        target: Path::new(mount_id).join("merged"),
        relative: true,
    })
}

fn page_size() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map(|p| p as usize)
        .unwrap_or(4096)
}

/// mount(2) an overlay from a forked child whose cwd is `dir`, so `target` and the relative
/// paths in `data` resolve there. The child only makes raw syscalls (all arguments are built
/// before the fork), which is what is safe after fork in a multi-threaded process.
fn mount_from(dir: &Path, target: &Path, data: &str) -> Result<(), nix::Error> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |b: &[u8]| CString::new(b).map_err(|_| nix::Error::EINVAL);
    let dir = c(dir.as_os_str().as_bytes())?;
    let target = c(target.as_os_str().as_bytes())?;
    let data = c(data.as_bytes())?;
    let fstype = c(b"overlay")?;
    // SAFETY: the child calls only chdir, mount and _exit on pointers prepared above, which
    // stay valid in the child's copy of the address space; it never returns into Rust code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(nix::Error::last());
    }
    if pid == 0 {
        // SAFETY: see above; errno is read right after the failing call.
        unsafe {
            if libc::chdir(dir.as_ptr()) != 0 {
                libc::_exit(*libc::__errno_location());
            }
            let rc = libc::mount(
                fstype.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                0,
                data.as_ptr().cast(),
            );
            libc::_exit(if rc == 0 {
                0
            } else {
                *libc::__errno_location()
            });
        }
    }
    let child = nix::unistd::Pid::from_raw(pid);
    loop {
        match nix::sys::wait::waitpid(child, None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => return Ok(()),
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => {
                return Err(nix::Error::from_raw(code))
            }
            Ok(_) => return Err(nix::Error::ECHILD),
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Reads a layer's tar from its segments, opening each file as its turn comes.
pub struct LayerTarReader {
    segments: std::vec::IntoIter<Segment>,
    dir: PathBuf,
    current: Option<Box<dyn Read + Send>>,
}

impl Read for LayerTarReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(cur) = self.current.as_mut() {
                let n = cur.read(buf)?;
                if n > 0 {
                    return Ok(n);
                }
                self.current = None;
            }
            match self.segments.next() {
                None => return Ok(0),
                Some(Segment::Raw(bytes)) => self.current = Some(Box::new(io::Cursor::new(bytes))),
                Some(Segment::File { path, size }) => {
                    let rel = super::clean_entry_path(Path::new(&path))?;
                    let f = fs::File::open(self.dir.join(rel))?;
                    let f = crate::util::fsutil::PrefetchedFile::new(f, size);
                    self.current = Some(Box::new(f.take(size)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_chains_mount_with_absolute_paths() {
        let p = plan_mount(
            Path::new("/var/lib/berth/overlay2"),
            "m1",
            "l/AAA:l/BBB",
            4096,
        )
        .unwrap();
        assert!(!p.relative);
        assert_eq!(
            p.data,
            "lowerdir=/var/lib/berth/overlay2/l/AAA:/var/lib/berth/overlay2/l/BBB,\
             upperdir=/var/lib/berth/overlay2/m1/diff,workdir=/var/lib/berth/overlay2/m1/work"
        );
        assert_eq!(p.target, Path::new("/var/lib/berth/overlay2/m1/merged"));
    }

    #[test]
    fn long_chains_fall_back_to_relative_paths_then_give_up() {
        let lower: Vec<String> = (0..100).map(|i| format!("l/{:026}", i)).collect();
        let lower = lower.join(":");
        let p = plan_mount(Path::new("/var/lib/berth/overlay2"), "m1", &lower, 4096).unwrap();
        assert!(p.relative);
        assert_eq!(
            p.data,
            format!("lowerdir={lower},upperdir=m1/diff,workdir=m1/work")
        );
        assert_eq!(p.target, Path::new("m1/merged"));
        let lower: Vec<String> = (0..200).map(|i| format!("l/{:026}", i)).collect();
        assert_eq!(
            plan_mount(Path::new("/x"), "m1", &lower.join(":"), 4096),
            None
        );
    }

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo("/a\\040b\\011c"), "/a b\tc");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert_eq!(unescape_mountinfo("/end\\04"), "/end\\04");
    }
}
