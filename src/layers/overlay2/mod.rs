//! Docker's overlay2 layout, kept so a learner can compare it with a Docker host line by line:
//! `overlay2/<cache id>/{diff,link,lower,work,merged}`, `overlay2/l/<short> -> ../<cache id>/diff`,
//! `image/overlay2/layerdb/sha256/<chain id>/{diff,cache-id,size,parent}` and
//! `image/overlay2/layerdb/mounts/<container id>/{init-id,mount-id,parent}`.

mod container;
mod tar;

pub use tar::LayerTarReader;

use super::mount::{DepthError, MountApi};
use super::unpack::{chain_id, dir_size, unpack_layer_split, Segment};
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
    #[error("mounting the overlay for {id}: {option}: {source}{}", kernel_says(.kernel))]
    MountOption {
        id: String,
        option: String,
        source: nix::Error,
        kernel: Vec<String>,
    },
    /// `layers` counts the image's layers, not the container's `-init` one.
    #[error("{layers} layers: max depth exceeded ({reason})")]
    TooDeep { layers: usize, reason: DepthError },
}

fn kernel_says(kernel: &[String]) -> String {
    if kernel.is_empty() {
        String::new()
    } else {
        format!(" ({})", kernel.join("; "))
    }
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
    /// The mount API forced on this store; None asks the kernel (once per process).
    api: Option<MountApi>,
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
            api: None,
        };
        for d in [s.overlay.join("l"), s.layerdb.clone(), s.mounts.clone()] {
            fs::create_dir_all(&d).map_err(io_ctx(format!("creating {}", d.display())))?;
        }
        // What a removal had set aside when the daemon stopped (remove_dir_later).
        crate::util::fsutil::remove_trash(&s.overlay);
        Ok(s)
    }

    /// The same store, mounting through `api` whatever the kernel offers: how a test runs the
    /// mount(2) path of older kernels on a new one.
    pub fn with_mount_api(mut self, api: MountApi) -> LayerStore {
        self.api = Some(api);
        self
    }

    /// How this store mounts overlays: as forced, else what the kernel supports.
    pub fn mount_api(&self) -> MountApi {
        self.api
            .unwrap_or_else(|| super::mount::mount_api(&self.overlay))
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
        tar::write_split(&tmp.join("tar-split.json.gz"), segments)
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
        self.remove_layer_dir_when(cache, false)
    }

    /// Remove a layer's directory and its short link; `later`: the directory's contents on a
    /// thread of their own (`fsutil::remove_dir_later`).
    fn remove_layer_dir_when(&self, cache: &str, later: bool) {
        let dir = self.overlay.join(cache);
        if let Some(link) = Self::read_meta(&dir, "link") {
            if !link.is_empty() {
                let _ = fs::remove_file(self.overlay.join("l").join(link));
            }
        }
        if later {
            crate::util::fsutil::remove_dir_later(&dir);
        } else {
            let _ = fs::remove_dir_all(dir);
        }
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
}
