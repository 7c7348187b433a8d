//! Loading `docker save` archives: `manifest.json` names each image's config and layer tars
//! (`<id>/layer.tar`, or `blobs/sha256/<hex>` as Docker 25+ writes them), plain or gzip; an
//! OCI image layout (`index.json` only) is read too. The archive is spooled to a temp dir
//! under the root first, because `manifest.json` may come after the layers in the stream.
//! A failure registers nothing: no tag, no new layer.

use super::config::ImageConfig;
use super::reference::Reference;
use super::store::{io_ctx, ImageError, ImageStore};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ManifestEntry {
    #[serde(rename = "Config")]
    pub config: String,
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    pub layers: Vec<String>,
}

/// An OCI descriptor, as found in `index.json` and in manifests.
#[derive(Debug, Deserialize)]
pub(crate) struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub(crate) media_type: String,
    pub(crate) digest: String,
    #[serde(default)]
    pub(crate) size: u64,
    #[serde(default)]
    pub(crate) platform: Option<Platform>,
    #[serde(default)]
    pub(crate) annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Platform {
    #[serde(default)]
    pub(crate) architecture: String,
    #[serde(default)]
    pub(crate) os: String,
}

/// An OCI index (or Docker manifest list) and an OCI (or Docker v2) image manifest share one
/// shape for what berth reads: `manifests` in the first, `config` and `layers` in the second.
#[derive(Debug, Deserialize)]
pub(crate) struct OciDoc {
    #[serde(rename = "mediaType", default)]
    pub(crate) media_type: String,
    #[serde(default)]
    pub(crate) manifests: Vec<Descriptor>,
    #[serde(default)]
    pub(crate) config: Option<Descriptor>,
    #[serde(default)]
    pub(crate) layers: Vec<Descriptor>,
}

/// The platform berth runs images for, in OCI's words.
pub(crate) fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

fn blob_path(digest: &str) -> Result<String, ImageError> {
    match digest.split_once(':') {
        Some(("sha256", hex)) if hex.len() == 64 && hex.bytes().all(|c| c.is_ascii_hexdigit()) => {
            Ok(format!("blobs/sha256/{hex}"))
        }
        _ => Err(ImageError::Archive(format!(
            "unsupported or invalid digest {digest} in the OCI layout"
        ))),
    }
}

/// Read a blob and check it is what its digest says.
fn read_blob(dir: &Path, digest: &str) -> Result<Vec<u8>, ImageError> {
    use sha2::Digest;
    let rel = blob_path(digest)?;
    let data = fs::read(inside(dir, &rel)?)
        .map_err(|e| ImageError::Archive(format!("the archive lacks the blob {digest}: {e}")))?;
    let actual = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&data)));
    if actual != digest {
        return Err(ImageError::Archive(format!(
            "the blob {digest} is corrupt: its content's digest is {actual}"
        )));
    }
    Ok(data)
}

pub(crate) const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// The images of an OCI layout, as `manifest.json` entries: for each manifest (indexes are
/// followed, keeping the host's platform), its config and layer blobs, and the tag from
/// `io.containerd.image.name` or a `org.opencontainers.image.ref.name` that is a whole
/// reference (a bare "latest" names no repository, so that image loads untagged).
pub fn entries_from_oci(dir: &Path) -> Result<Vec<ManifestEntry>, ImageError> {
    let raw = fs::read(dir.join("index.json")).map_err(|_| {
        ImageError::Archive(
            "this is not an image archive: it has neither manifest.json nor index.json".into(),
        )
    })?;
    let index: OciDoc = serde_json::from_slice(&raw)
        .map_err(|e| ImageError::Archive(format!("index.json is not valid: {e}")))?;
    let mut out = Vec::new();
    let mut queue: Vec<(Descriptor, Option<String>)> =
        index.manifests.into_iter().map(|d| (d, None)).collect();
    let mut seen = 0;
    while let Some((desc, inherited)) = queue.pop() {
        seen += 1;
        if seen > 1000 {
            return Err(ImageError::Archive("the OCI index nests too deeply".into()));
        }
        if let Some(p) = &desc.platform {
            if !p.os.is_empty() && (p.os != "linux" || p.architecture != host_arch()) {
                continue;
            }
        }
        let tag = desc
            .annotations
            .get("io.containerd.image.name")
            .or_else(|| {
                desc.annotations
                    .get("org.opencontainers.image.ref.name")
                    .filter(|r| r.contains(':') || r.contains('/'))
            })
            .cloned()
            .or(inherited);
        let doc: OciDoc = serde_json::from_slice(&read_blob(dir, &desc.digest)?).map_err(|e| {
            ImageError::Archive(format!("the manifest {} is not valid: {e}", desc.digest))
        })?;
        if INDEX_TYPES.contains(&desc.media_type.as_str())
            || INDEX_TYPES.contains(&doc.media_type.as_str())
            || (doc.config.is_none() && !doc.manifests.is_empty())
        {
            queue.extend(doc.manifests.into_iter().map(|d| (d, tag.clone())));
            continue;
        }
        let config = doc.config.ok_or_else(|| {
            ImageError::Archive(format!("the manifest {} names no config", desc.digest))
        })?;
        let mut layers = Vec::new();
        for l in &doc.layers {
            layers.push(blob_path(&l.digest)?);
        }
        // Checked here so a bad config blob is reported as such, not as a bad image.
        read_blob(dir, &config.digest)?;
        out.push(ManifestEntry {
            config: blob_path(&config.digest)?,
            repo_tags: tag.map(|t| vec![t]),
            layers,
        });
    }
    if out.is_empty() {
        return Err(ImageError::Archive(format!(
            "the OCI layout has no image for linux/{}",
            host_arch()
        )));
    }
    out.reverse();
    Ok(out)
}

/// The id a layer's progress goes by: 12 hex digits of its path (`blobs/sha256/<hex>`,
/// `<hex>/layer.tar`), as Docker shows them.
fn progress_id(path: &str) -> String {
    path.split('/')
        .find(|p| p.len() >= 12 && p.bytes().all(|c| c.is_ascii_hexdigit()))
        .map(|p| p[..12].to_string())
        .unwrap_or_else(|| path.chars().take(12).collect())
}

/// Counts what is read through it and reports every 4 MiB (the 512 bytes read ahead to
/// recognize a layer are not counted).
struct Counting<'a, R> {
    inner: R,
    read: u64,
    reported: u64,
    report: &'a mut dyn FnMut(u64),
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read - self.reported >= 4 << 20 || (n == 0 && self.read != self.reported) {
            self.reported = self.read;
            (self.report)(self.read + 512);
        }
        Ok(n)
    }
}

/// Layers unpacked while the archive streamed by, by their path in it, and the archive's
/// links between paths.
#[derive(Default)]
struct Staged {
    by_path: BTreeMap<String, crate::layers::StagedLayer>,
    aliases: BTreeMap<String, String>,
}

impl Staged {
    /// The staged layer at `path` (through links), which only its first user gets.
    fn take(&mut self, path: &str) -> Option<crate::layers::StagedLayer> {
        let mut key = path.to_string();
        for _ in 0..8 {
            match self.aliases.get(&key) {
                Some(k) => key = k.clone(),
                None => break,
            }
        }
        self.by_path.remove(&key)
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Write a spooled file: its first bytes (already read) and the rest. Its directories are
/// made without following any link an earlier entry planted, and the file itself is created
/// new, never through a link.
fn spool_file(spool: &Path, rel: &str, head: &[u8], rest: &mut impl Read) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let rel = Path::new(rel);
    let mut at = spool.to_path_buf();
    for part in rel.parent().unwrap_or(Path::new("")).components() {
        at.push(part);
        match fs::symlink_metadata(&at) {
            Ok(md) if md.is_dir() => {}
            Ok(_) => {
                return Err(std::io::Error::other(format!(
                    "{} is not a directory",
                    at.display()
                )))
            }
            Err(_) => fs::create_dir(&at)?,
        }
    }
    let path = spool.join(rel);
    let _ = fs::remove_file(&path);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)?;
    f.write_all(head)?;
    std::io::copy(rest, &mut f)?;
    Ok(())
}

/// Whether an archive entry's first bytes are a layer's: compressed (gzip, zstd), or a tar
/// (`ustar` at offset 257). Configs and manifests are JSON and never match.
fn looks_like_layer(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || head.get(257..262) == Some(b"ustar")
}

/// A layer that does not hash to its diff id is a corrupt archive, in the archive's words.
fn layer_error(path: &str, e: crate::layers::LayerError) -> ImageError {
    match e {
        crate::layers::LayerError::DigestMismatch { diff_id, actual } => ImageError::Archive(
            format!("the archive's layer {path} is corrupt: its digest is {actual}, not {diff_id}"),
        ),
        other => other.into(),
    }
}

/// Wrap `r` in a decoder chosen by its first bytes: gzip (`1f 8b`), zstd (`28 b5 2f fd`), or
/// none. Docker detects compression the same way, whatever a media type or file name says.
pub fn decompress<'a, R: Read + 'a>(r: R) -> std::io::Result<Box<dyn Read + 'a>> {
    let mut br = BufReader::new(r);
    let head = br.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::GzDecoder::new(br)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok(Box::new(zstd::stream::read::Decoder::with_buffer(br)?))
    } else {
        Ok(Box::new(br))
    }
}

/// A path inside the archive, refused if it would leave the spool dir.
fn inside(dir: &Path, rel: &str) -> Result<std::path::PathBuf, ImageError> {
    let clean = crate::layers::clean_entry_path(Path::new(rel))
        .map_err(|e| ImageError::Archive(e.to_string()))?;
    Ok(dir.join(clean))
}

/// A config stored under its digest (`<hex>.json`, `blobs/sha256/<hex>`) must have that
/// digest: otherwise the image would load under another id than the archive promised.
fn check_config_name(path: &str, raw: &[u8]) -> Result<(), ImageError> {
    use sha2::Digest;
    let name = Path::new(path)
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    let stem = name.strip_suffix(".json").unwrap_or(&name);
    if stem.len() == 64 && stem.bytes().all(|c| c.is_ascii_hexdigit()) {
        let actual = hex::encode(sha2::Sha256::digest(raw));
        if actual != stem {
            return Err(ImageError::Archive(format!(
                "the config {path} is corrupt: its digest is sha256:{actual}, not sha256:{stem}"
            )));
        }
    }
    Ok(())
}

/// An archive read to its end: its layers unpacked into staged dirs, everything else spooled
/// into a temp dir. Reading needs no lock on the image store, only the layer store, so other
/// image commands go on while a big archive streams in; `ImageStore::load_staged` then places
/// it. Dropped unplaced, it removes its staged layers (the spool dir goes with it).
pub struct StagedArchive {
    spool: tempfile::TempDir,
    staged: Staged,
    manifest: Vec<ManifestEntry>,
    layers: crate::layers::LayerStore,
}

impl Drop for StagedArchive {
    fn drop(&mut self) {
        for (_, s) in std::mem::take(&mut self.staged.by_path) {
            self.layers.discard_staged(s);
        }
    }
}

impl StagedArchive {
    /// Read a `docker save` archive (or an OCI layout), plain or compressed, spooling into a
    /// new dir under `tmp`.
    pub fn read(
        layers: &crate::layers::LayerStore,
        tmp: &Path,
        archive: impl Read,
        progress: &mut dyn FnMut(serde_json::Value),
    ) -> Result<StagedArchive, ImageError> {
        let spool = tempfile::Builder::new()
            .prefix("load-")
            .tempdir_in(tmp)
            .map_err(io_ctx("creating a temp dir for the archive"))?;
        let mut archive_read = StagedArchive {
            spool,
            staged: Staged::default(),
            manifest: Vec::new(),
            layers: layers.clone(),
        };
        let spool = &archive_read.spool;
        let staged = &mut archive_read.staged;
        let mut outer =
            tar::Archive::new(decompress(archive).map_err(io_ctx("reading the archive"))?);
        // Layers are unpacked as they stream by, into staged dirs, before the manifest that
        // places them has been read (in Docker's archives it comes last); everything else is
        // small and is spooled. A layer is written once, not spooled and then unpacked. On an
        // error the staged layers go with `archive_read`.
        for entry in outer.entries().map_err(io_ctx("reading the archive"))? {
            let entry = entry.map_err(|e| {
                ImageError::Archive(format!("the archive is truncated or corrupt: {e}"))
            })?;
            let name = entry
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let clean = crate::layers::clean_entry_path(Path::new(&name))
                .map_err(|e| ImageError::Archive(e.to_string()))?
                .display()
                .to_string();
            let mut entry = entry;
            let kind = entry.header().entry_type();
            if kind.is_symlink() {
                // Docker's older archives link a layer used twice to its first copy.
                if let Ok(Some(target)) = entry.link_name() {
                    let joined = Path::new(&clean)
                        .parent()
                        .unwrap_or(Path::new(""))
                        .join(target);
                    if let Ok(t) = crate::layers::clean_entry_path(&joined) {
                        staged
                            .aliases
                            .insert(clean.clone(), t.display().to_string());
                    }
                }
            }
            if kind.is_file() && entry.size() >= 1024 {
                let corrupt = |e: std::io::Error| {
                    ImageError::Archive(format!(
                        "the archive is truncated or corrupt: reading {name}: {e}"
                    ))
                };
                let mut head = vec![0u8; 512];
                let n = read_full(&mut entry, &mut head).map_err(corrupt)?;
                head.truncate(n);
                if looks_like_layer(&head) {
                    let total = entry.size();
                    let id = progress_id(&clean);
                    let mut report = |current: u64| {
                        progress(serde_json::json!({
                            "status": "Loading layer",
                            "id": id,
                            "progressDetail": {"current": current, "total": total},
                        }))
                    };
                    let counted = Counting {
                        inner: &mut entry,
                        read: 0,
                        reported: 0,
                        report: &mut report,
                    };
                    let stream = std::io::Cursor::new(head).chain(counted);
                    let layer =
                        decompress(stream).map_err(io_ctx(format!("reading layer {name}")))?;
                    let s = layers.stage_layer(layer).map_err(|e| {
                        ImageError::Archive(format!(
                            "the archive is truncated or corrupt: layer {name}: {e}"
                        ))
                    })?;
                    // What follows the layer in the entry (a compressed layer's trailer,
                    // padding) is not the layer's; drain it so the next entry starts
                    // where it should.
                    std::io::copy(&mut entry, &mut std::io::sink()).map_err(corrupt)?;
                    if let Some(old) = staged.by_path.insert(clean, s) {
                        layers.discard_staged(old);
                    }
                } else {
                    spool_file(spool.path(), &clean, &head, &mut entry).map_err(corrupt)?;
                }
                continue;
            }
            // The tar crate names the spool path and hides the cause one level down; the
            // learner wants the entry's name and the cause.
            let ok = entry.unpack_in(spool.path()).map_err(|e| {
                let mut cause: &dyn std::error::Error = &e;
                while let Some(inner) = cause.source() {
                    cause = inner;
                }
                ImageError::Archive(format!(
                    "the archive is truncated or corrupt: reading {name}: {cause}"
                ))
            })?;
            if !ok {
                return Err(ImageError::Archive(
                    "the archive holds a path outside itself".into(),
                ));
            }
        }
        let manifest_path = spool.path().join("manifest.json");
        let manifest: Vec<ManifestEntry> = match fs::read(&manifest_path) {
            Ok(data) => serde_json::from_slice(&data)
                .map_err(|e| ImageError::Archive(format!("manifest.json is not valid: {e}")))?,
            Err(_) => entries_from_oci(spool.path())?,
        };
        archive_read.manifest = manifest;
        Ok(archive_read)
    }
}

impl ImageStore {
    /// Load every image of a `docker save` archive. Returns the lines docker prints.
    pub fn load(
        &self,
        archive: impl Read,
        progress: &mut dyn FnMut(serde_json::Value),
    ) -> Result<Vec<String>, ImageError> {
        let staged = StagedArchive::read(self.layers(), &self.tmp_dir(), archive, progress)?;
        self.load_staged(staged, progress)
    }

    /// Place a read archive's images: layers, configs, then tags. On an error nothing of it
    /// stays.
    pub fn load_staged(
        &self,
        mut archive: StagedArchive,
        progress: &mut dyn FnMut(serde_json::Value),
    ) -> Result<Vec<String>, ImageError> {
        let mut created_layers: Vec<String> = Vec::new();
        let mut created_configs: Vec<String> = Vec::new();
        let manifest = std::mem::take(&mut archive.manifest);
        let result = self.load_entries(
            archive.spool.path(),
            &manifest,
            &mut archive.staged,
            progress,
            &mut created_layers,
            &mut created_configs,
        );
        if result.is_err() {
            // Undo this load's new layers, newest first, and its new configs.
            for chain in created_layers.iter().rev() {
                let _ = self.layers().release_layer(chain);
            }
            for id in &created_configs {
                let _ = self.remove_config(id);
            }
        }
        result
    }

    /// A chain placed earlier in this load that holds `diff_id`.
    fn source_of(&self, diff_id: &str, created: &[String]) -> Option<String> {
        created
            .iter()
            .find(|c| self.layers().diff_of(c).as_deref() == Some(diff_id))
            .cloned()
    }

    fn load_entries(
        &self,
        dir: &Path,
        manifest: &[ManifestEntry],
        staged: &mut Staged,
        progress: &mut dyn FnMut(serde_json::Value),
        created_layers: &mut Vec<String>,
        created_configs: &mut Vec<String>,
    ) -> Result<Vec<String>, ImageError> {
        let mut tags_to_set: Vec<(String, String)> = Vec::new();
        let mut lines = Vec::new();
        for m in manifest {
            let raw = fs::read(inside(dir, &m.config)?).map_err(|e| {
                ImageError::Archive(format!("the archive lacks the config {}: {e}", m.config))
            })?;
            check_config_name(&m.config, &raw)?;
            let config: ImageConfig = serde_json::from_slice(&raw).map_err(|e| {
                ImageError::Archive(format!("the config {} is not valid: {e}", m.config))
            })?;
            if config.rootfs.diff_ids.len() != m.layers.len() {
                return Err(ImageError::Archive(format!(
                    "the manifest lists {} layers but the config has {} diff ids",
                    m.layers.len(),
                    config.rootfs.diff_ids.len()
                )));
            }
            let mut parent: Option<String> = None;
            for (layer, diff_id) in m.layers.iter().zip(&config.rootfs.diff_ids) {
                let chain = crate::layers::chain_id(parent.as_deref(), diff_id);
                let short = crate::util::id::short(diff_id).to_string();
                if self.layers().exists(&chain) {
                    progress(serde_json::json!({"status": "Layer already exists", "id": short}));
                } else {
                    progress(serde_json::json!({"status": "Loading layer", "id": short}));
                    let key = crate::layers::clean_entry_path(Path::new(layer))
                        .map_err(|e| ImageError::Archive(e.to_string()))?
                        .display()
                        .to_string();
                    if let Some(s) = staged.take(&key) {
                        self.layers()
                            .register_staged(s, parent.as_deref(), diff_id)
                            .map_err(|e| layer_error(layer, e))?;
                    } else if let Some(source) = self.source_of(diff_id, created_layers) {
                        // The same layer under another parent: rebuilt from the copy placed
                        // earlier in this load.
                        let reader = self.layers().layer_tar_reader(&source)?;
                        self.layers()
                            .apply_layer(parent.as_deref(), diff_id, reader)?;
                    } else {
                        let file = fs::File::open(inside(dir, layer)?).map_err(|e| {
                            ImageError::Archive(format!("the archive lacks the layer {layer}: {e}"))
                        })?;
                        let reader =
                            decompress(file).map_err(io_ctx(format!("reading layer {layer}")))?;
                        self.layers()
                            .apply_layer(parent.as_deref(), diff_id, reader)
                            .map_err(|e| layer_error(layer, e))?;
                    }
                    created_layers.push(chain.clone());
                }
                parent = Some(chain);
            }
            let existed = self.has_config(&raw);
            let id = self.put_config(&raw)?;
            if !existed {
                created_configs.push(id.clone());
            }
            let tags = m.repo_tags.clone().unwrap_or_default();
            if tags.is_empty() {
                lines.push(format!("Loaded image ID: {id}"));
            }
            for t in tags {
                let r = Reference::parse(&t)?;
                lines.push(format!("Loaded image: {}", r.familiar()));
                tags_to_set.push((t, id.clone()));
            }
        }
        // Tags last: only once every image of the archive is whole.
        for (t, id) in tags_to_set {
            self.tag(&t, &id)?;
        }
        Ok(lines)
    }
}
