//! `pull` and `push` (chapter 05): what moves between the image store and a registry, and
//! the progress messages Docker's clients render (`{"status":"Downloading","id":…,
//! "progressDetail":{"current":…,"total":…}}`).
//!
//! A pulled layer streams from the registry through a sha256 of the compressed blob, a
//! decompressor, a sha256 of the tar (the diff id) and the unpacker, in one pass; it is
//! registered only when both digests match. A pushed layer is rebuilt from its tar-split,
//! gzipped and hashed while it uploads. What pushes and pulls learn (which blob digest holds
//! which diff id, and in which repository) is kept as Docker keeps it, under
//! `image/overlay2/distribution/`, so a later push can skip or mount a blob.

use super::archive::{decompress, host_arch, OciDoc, INDEX_TYPES};
use super::config::ImageConfig;
use super::reference::Reference;
use super::registry::{self, Registry, RegistryError};
use super::store::{io_ctx, ImageError, ImageRecord};
use crate::layers::{chain_id, LayerError, LayerStore};
use crate::util::fsutil::{write_atomic, write_json_atomic};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A sink for progress messages (JSON objects as the Engine API streams them).
pub type Progress<'a> = &'a mut dyn FnMut(Value);

pub fn status(id: Option<&str>, text: &str) -> Value {
    match id {
        Some(id) => json!({"status": text, "id": id, "progressDetail": {}}),
        None => json!({"status": text}),
    }
}

fn bytes_msg(id: &str, text: &str, current: u64, total: Option<u64>) -> Value {
    let mut detail = json!({ "current": current });
    if let Some(t) = total {
        detail["total"] = json!(t);
    }
    json!({"status": text, "id": id, "progressDetail": detail})
}

/// One transfer per layer chain: two pulls of images sharing a layer unpack it once; the
/// second waits, showing the first one's progress, and then finds it stored.
#[derive(Default)]
pub struct LayerLocks {
    locks: Mutex<HashMap<String, Arc<Transfer>>>,
}

/// One layer being fetched: whoever holds `lock` downloads it, and posts its progress here
/// for pulls of the same layer that wait, so they show the same bar (as Docker's do) instead
/// of a bare "Waiting".
#[derive(Default)]
struct Transfer {
    lock: Mutex<()>,
    latest: Mutex<(u64, Option<Value>)>,
}

impl Transfer {
    fn post(&self, message: &Value) {
        let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        latest.0 += 1;
        latest.1 = Some(message.clone());
    }

    /// Hold the layer's lock; while another pull holds it, relay its progress.
    fn acquire(&self, id: &str, progress: Progress) -> std::sync::MutexGuard<'_, ()> {
        let mut seen = 0;
        let mut said_waiting = false;
        loop {
            match self.lock.try_lock() {
                Ok(g) => return g,
                Err(std::sync::TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
            let (n, message) = self
                .latest
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            match message {
                Some(m) if n != seen => {
                    seen = n;
                    progress(m);
                }
                None if !said_waiting => {
                    said_waiting = true;
                    progress(status(Some(id), "Waiting"));
                }
                _ => {}
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl LayerLocks {
    fn get(&self, chain: &str) -> Arc<Transfer> {
        let mut map = self.locks.lock().unwrap();
        map.retain(|_, l| Arc::strong_count(l) > 1);
        map.entry(chain.to_string()).or_default().clone()
    }
}

/// Which blob digest carried which diff id, and where it was seen: Docker's
/// `v2metadata-by-diffid` entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlobSource {
    #[serde(rename = "Digest")]
    pub digest: String,
    #[serde(rename = "SourceRepository")]
    pub source_repository: String,
}

pub struct DistributionMeta {
    by_diffid: PathBuf,
    by_digest: PathBuf,
}

fn hex_of(id: &str) -> &str {
    id.strip_prefix("sha256:").unwrap_or(id)
}

impl DistributionMeta {
    pub fn open(root: &Path) -> Result<DistributionMeta, ImageError> {
        let base = root.join("image/overlay2/distribution");
        let m = DistributionMeta {
            by_diffid: base.join("v2metadata-by-diffid/sha256"),
            by_digest: base.join("diffid-by-digest/sha256"),
        };
        for d in [&m.by_diffid, &m.by_digest] {
            std::fs::create_dir_all(d).map_err(io_ctx(format!("creating {}", d.display())))?;
        }
        Ok(m)
    }

    pub fn sources(&self, diff_id: &str) -> Vec<BlobSource> {
        std::fs::read(self.by_diffid.join(hex_of(diff_id)))
            .ok()
            .and_then(|raw| serde_json::from_slice(&raw).ok())
            .unwrap_or_default()
    }

    /// Remember that `digest` (in `repository`) holds `diff_id`. The newest source goes first.
    pub fn record(&self, diff_id: &str, digest: &str, repository: &str) {
        let mut list = self.sources(diff_id);
        let entry = BlobSource {
            digest: digest.to_string(),
            source_repository: repository.to_string(),
        };
        list.retain(|s| s != &entry);
        list.insert(0, entry);
        list.truncate(50);
        let _ = write_json_atomic(&self.by_diffid.join(hex_of(diff_id)), &list);
        let _ = write_atomic(&self.by_digest.join(hex_of(digest)), diff_id.as_bytes());
    }
}

/// The registry-side name of a reference: `library/busybox` for Docker Hub's short names.
pub fn remote_name(r: &Reference) -> String {
    r.path().to_string()
}

/// The repository as recorded in distribution metadata: `127.0.0.1:5000/busybox`.
fn repository_key(r: &Reference) -> String {
    format!("{}/{}", r.domain(), r.path())
}

/// What a pull brings: the config to store and the manifest digest that names it.
pub struct Pulled {
    pub config: Vec<u8>,
    pub manifest_digest: String,
}

/// A blob body that hashes what is read through it, shared (through a RefCell) between the
/// decompressor that reads it and the check that drains it and compares the digest.
struct BlobReader<'a> {
    body: Box<dyn Read + Send>,
    hasher: sha2::Sha256,
    read: u64,
    total: Option<u64>,
    last_report: u64,
    report: &'a mut dyn FnMut(u64, Option<u64>),
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.body.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        // Docker's clients redraw on each message; a message per 512 KiB is plenty.
        if self.read - self.last_report >= 512 << 10 || (n == 0 && self.read != self.last_report) {
            self.last_report = self.read;
            (self.report)(self.read, self.total);
        }
        Ok(n)
    }
}

struct Shared<'r, 'a>(&'r RefCell<BlobReader<'a>>);

impl Read for Shared<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }
}

/// Fetch the manifest for `r`, following an index to the host's platform.
fn resolve_manifest(reg: &Registry, r: &Reference) -> Result<(OciDoc, String), ImageError> {
    let name = remote_name(r);
    let wanted = r
        .digest()
        .map(String::from)
        .unwrap_or_else(|| r.tag().unwrap_or("latest").to_string());
    let (raw, media_type, digest) = reg.manifest(&name, &wanted)?;
    let doc: OciDoc = serde_json::from_slice(&raw).map_err(|e| {
        ImageError::Archive(format!(
            "the manifest of {} is not valid: {e}",
            r.familiar()
        ))
    })?;
    let is_index = INDEX_TYPES.contains(&media_type.as_str())
        || INDEX_TYPES.contains(&doc.media_type.as_str())
        || (doc.config.is_none() && !doc.manifests.is_empty());
    if !is_index {
        return Ok((doc, digest));
    }
    let pick = doc
        .manifests
        .iter()
        .find(|d| {
            d.platform
                .as_ref()
                .map(|p| p.os == "linux" && p.architecture == host_arch())
                .unwrap_or(false)
        })
        .ok_or_else(|| {
            ImageError::Archive(format!(
                "no matching manifest for linux/{} in the manifest list entries",
                host_arch()
            ))
        })?;
    let (raw, _, _) = reg.manifest(&name, &pick.digest)?;
    let doc: OciDoc = serde_json::from_slice(&raw).map_err(|e| {
        ImageError::Archive(format!("the manifest {} is not valid: {e}", pick.digest))
    })?;
    // The index's digest names what was pulled, as Docker records it.
    Ok((doc, digest))
}

/// Pull `r`'s layers into `layers` and return its config. Layers already stored are skipped;
/// each new one is verified against its blob digest and its diff id before it is registered.
pub fn pull(
    reg: &Registry,
    r: &Reference,
    layers: &LayerStore,
    meta: &DistributionMeta,
    locks: &LayerLocks,
    progress: Progress,
) -> Result<Pulled, ImageError> {
    let name = remote_name(r);
    let (manifest, manifest_digest) = resolve_manifest(reg, r)?;
    let config_desc = manifest.config.as_ref().ok_or_else(|| {
        ImageError::Archive(format!("the manifest of {} names no config", r.familiar()))
    })?;
    let raw_config = reg.blob_bytes(&name, &config_desc.digest)?;
    let config: ImageConfig = serde_json::from_slice(&raw_config).map_err(|e| {
        ImageError::Archive(format!(
            "the config {} is not valid: {e}",
            config_desc.digest
        ))
    })?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(ImageError::Archive(format!(
            "the manifest lists {} layers but the config has {} diff ids",
            manifest.layers.len(),
            config.rootfs.diff_ids.len()
        )));
    }
    let mut parent: Option<String> = None;
    let mut plan = Vec::new();
    for (desc, diff_id) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
        let chain = chain_id(parent.as_deref(), diff_id);
        let short = crate::util::id::short(&desc.digest).to_string();
        if layers.exists(&chain) {
            progress(status(Some(&short), "Already exists"));
        } else {
            progress(status(Some(&short), "Pulling fs layer"));
        }
        plan.push((desc, diff_id, chain.clone(), parent.clone(), short));
        parent = Some(chain);
    }
    for (desc, diff_id, chain, parent, short) in plan {
        if layers.exists(&chain) {
            meta.record(diff_id, &desc.digest, &repository_key(r));
            continue;
        }
        let transfer = locks.get(&chain);
        let _held = transfer.acquire(&short, progress);
        if layers.exists(&chain) {
            // Another pull placed it while this one waited.
            progress(status(Some(&short), "Pull complete"));
            continue;
        }
        let (body, len) = reg.blob(&name, &desc.digest)?;
        let total = len.or((desc.size > 0).then_some(desc.size));
        let mut report = |cur: u64, total: Option<u64>| {
            let m = bytes_msg(&short, "Downloading", cur, total);
            transfer.post(&m);
            progress(m);
        };
        let blob = RefCell::new(BlobReader {
            body,
            hasher: <sha2::Sha256 as sha2::Digest>::new(),
            read: 0,
            total,
            last_report: 0,
            report: &mut report,
        });
        let verify = || -> Result<(), LayerError> {
            use sha2::Digest;
            let mut b = blob.borrow_mut();
            std::io::copy(&mut *b, &mut std::io::sink()).map_err(|e| LayerError::Io {
                context: format!("reading blob {}", desc.digest),
                source: e,
            })?;
            let actual = format!("sha256:{}", hex::encode(b.hasher.clone().finalize()));
            if actual != desc.digest {
                return Err(LayerError::BlobDigest {
                    digest: desc.digest.clone(),
                    actual,
                });
            }
            Ok(())
        };
        let reader = decompress(Shared(&blob))
            .map_err(|e| ImageError::Archive(format!("reading blob {}: {e}", desc.digest)))?;
        let result = layers.apply_layer_verified(parent.as_deref(), diff_id, reader, verify);
        if let Err(e) = result {
            // A corrupt blob mostly shows first as a broken gzip or tar stream; the digest of
            // the bytes as sent is the cause worth naming.
            let mut b = blob.borrow_mut();
            let _ = std::io::copy(&mut *b, &mut std::io::sink());
            let actual = format!(
                "sha256:{}",
                hex::encode(sha2::Digest::finalize(b.hasher.clone()))
            );
            if actual != desc.digest && !matches!(e, LayerError::BlobDigest { .. }) {
                return Err(LayerError::BlobDigest {
                    digest: desc.digest.clone(),
                    actual,
                }
                .into());
            }
            return Err(e.into());
        }
        drop(blob);
        meta.record(diff_id, &desc.digest, &repository_key(r));
        progress(status(Some(&short), "Pull complete"));
    }
    Ok(Pulled {
        config: raw_config,
        manifest_digest,
    })
}

/// A descriptor as manifests write it, fields in Docker's order.
#[derive(Debug, Clone, Serialize)]
pub struct LayerDescriptor {
    #[serde(rename = "mediaType")]
    pub media_type: &'static str,
    pub size: u64,
    pub digest: String,
}

#[derive(Serialize)]
struct Schema2<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    config: LayerDescriptor,
    layers: &'a [LayerDescriptor],
}

/// A Docker schema 2 manifest of a config and gzip'd layers.
pub fn schema2_manifest(
    config_size: usize,
    config_digest: &str,
    layers: &[LayerDescriptor],
) -> Vec<u8> {
    let manifest = Schema2 {
        schema_version: 2,
        media_type: registry::DOCKER_MANIFEST,
        config: LayerDescriptor {
            media_type: registry::DOCKER_CONFIG,
            size: config_size as u64,
            digest: config_digest.to_string(),
        },
        layers,
    };
    serde_json::to_vec_pretty(&manifest).expect("a manifest serializes")
}

/// What a push reports at its end: Docker's `<tag>: digest: <d> size: <n>`.
pub struct Pushed {
    pub digest: String,
    pub size: usize,
}

/// Push `img` as `r` (its tag): each layer is skipped when the registry has it, mounted from
/// another repository of the same registry when one is known to hold it, uploaded otherwise;
/// then the config and a Docker schema 2 manifest.
pub fn push(
    reg: &Registry,
    r: &Reference,
    img: &ImageRecord,
    raw_config: &[u8],
    layers: &LayerStore,
    meta: &DistributionMeta,
    progress: Progress,
) -> Result<Pushed, ImageError> {
    let name = remote_name(r);
    let key = repository_key(r);
    let mut chains = Vec::new();
    let mut parent: Option<String> = None;
    for d in &img.config.rootfs.diff_ids {
        let c = chain_id(parent.as_deref(), d);
        chains.push((d.clone(), c.clone()));
        parent = Some(c);
    }
    for (d, _) in chains.iter().rev() {
        progress(status(Some(crate::util::id::short(d)), "Preparing"));
    }
    let mut descriptors = Vec::new();
    for (diff_id, chain) in &chains {
        let id = crate::util::id::short(diff_id).to_string();
        let known = meta.sources(diff_id);
        let same_registry = |s: &BlobSource| {
            s.source_repository
                .split_once('/')
                .map(|(h, _)| h == r.domain())
                .unwrap_or(false)
        };
        let mut done: Option<(String, u64)> = None;
        for s in known.iter().filter(|s| same_registry(s)) {
            if reg.blob_exists(&name, &s.digest)? {
                progress(status(Some(&id), "Layer already exists"));
                done = Some((s.digest.clone(), 0));
                break;
            }
            let from = s
                .source_repository
                .split_once('/')
                .map(|(_, p)| p)
                .unwrap_or("");
            if from != name && reg.mount(&name, &s.digest, from)? {
                progress(status(Some(&id), &format!("Mounted from {from}")));
                done = Some((s.digest.clone(), 0));
                break;
            }
        }
        let (digest, mut size) = match done {
            Some(d) => d,
            None => {
                // Checked as it goes, so a layer whose files changed on disk never reaches
                // the registry under a manifest.
                let tar = super::save::rebuilt_layer(layers, chain)?;
                let mut gz = flate2::read::GzEncoder::new(tar, flate2::Compression::default());
                let total = layers.layer_tar_size(chain).ok();
                let mut report = |sent: u64| progress(bytes_msg(&id, "Pushing", sent, total));
                let (digest, size) = reg.upload(&name, &mut gz, &mut report)?;
                super::save::check_rebuilt(gz.into_inner(), diff_id)?;
                progress(status(Some(&id), "Pushed"));
                (digest, size)
            }
        };
        if size == 0 {
            size = reg.blob_size(&name, &digest)?.ok_or_else(|| {
                RegistryError::Protocol(format!("the registry lost the blob {digest}"))
            })?;
        }
        meta.record(diff_id, &digest, &key);
        descriptors.push(LayerDescriptor {
            media_type: registry::DOCKER_LAYER_GZIP,
            size,
            digest,
        });
    }
    let config_digest = reg.upload_bytes(&name, raw_config)?;
    let raw = schema2_manifest(raw_config.len(), &config_digest, &descriptors);
    let tag = r.tag().unwrap_or("latest");
    reg.put_manifest(&name, tag, registry::DOCKER_MANIFEST, &raw)?;
    Ok(Pushed {
        digest: registry::sha256_digest(&raw),
        size: raw.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_pull_shows_the_progress_of_the_one_fetching() {
        let t = Arc::new(Transfer::default());
        let held = t.lock.lock().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<Value>();
        let waiter = {
            let t = t.clone();
            std::thread::spawn(move || {
                let _g = t.acquire("abc", &mut |v| tx.send(v).unwrap());
            })
        };
        let first = rx.recv().unwrap();
        assert_eq!(first["status"], "Waiting");
        t.post(&bytes_msg("abc", "Downloading", 5, Some(10)));
        let relayed = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(relayed["status"], "Downloading");
        assert_eq!(relayed["progressDetail"]["current"], 5);
        drop(held);
        waiter.join().unwrap();
        assert!(rx.try_recv().is_err(), "nothing is relayed twice");
    }

    #[test]
    fn pushed_manifest_snapshot() {
        let layer = LayerDescriptor {
            media_type: registry::DOCKER_LAYER_GZIP,
            size: 1036521,
            digest: "sha256:5108c1713a08c9e646deb7784f4015c9c5bffe14dbcf458b8aa168906ead9481"
                .into(),
        };
        let raw = schema2_manifest(
            413,
            "sha256:a2f2f1840415d9dfd03fb189e6219a4340399354ce205492da0151e0ebf5fa6b",
            &[layer],
        );
        insta::assert_snapshot!(String::from_utf8(raw).unwrap());
    }

    #[test]
    fn progress_messages_have_dockers_shape() {
        assert_eq!(
            status(Some("5108c1713a08"), "Pull complete").to_string(),
            r#"{"id":"5108c1713a08","progressDetail":{},"status":"Pull complete"}"#
        );
        assert_eq!(
            bytes_msg("5108c1713a08", "Downloading", 512, Some(1024)).to_string(),
            r#"{"id":"5108c1713a08","progressDetail":{"current":512,"total":1024},"status":"Downloading"}"#
        );
    }
}
