//! `save`: images into one archive that `docker load` reads and that is an OCI image layout
//! too, as Docker 25+ writes it: every blob (configs, layer tars, manifests) under
//! `blobs/sha256/<hex>`, an OCI `index.json` and `oci-layout`, and Docker's `manifest.json`.
//! Layers are written exactly as they were loaded or committed (rebuilt from their tar-split),
//! so their digests are the diff ids of the configs, and each is checked as it is written.

use super::reference::Reference;
use super::store::{io_ctx, ImageError, ImageRecord, ImageStore};
use crate::layers::{LayerStore, LayerTarReader};
use crate::util::hashing::HashingReader;
use serde_json::json;
use std::io::{Read, Write};

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn hex(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", ::hex::encode(sha2::Sha256::digest(data)))
}

/// The header of every entry a save writes: a plain file, 0644, dated 0.
fn entry_header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h
}

fn append(
    tar: &mut tar::Builder<impl Write>,
    path: &str,
    size: u64,
    data: impl Read,
) -> Result<(), ImageError> {
    let mut h = entry_header(size);
    h.set_cksum();
    tar.append_data(&mut h, path, data)
        .map_err(io_ctx(format!("writing {path}")))
}

/// A layer's tar as save and push send it: rebuilt from its files, hashed on the way out, so
/// that `check_rebuilt` can tell whether it still is the layer the configs name.
pub(crate) fn rebuilt_layer(
    layers: &LayerStore,
    chain: &str,
) -> Result<HashingReader<LayerTarReader>, ImageError> {
    Ok(HashingReader::new(layers.layer_tar_reader(chain)?))
}

/// Whether a layer read through `rebuilt_layer` hashed to `diff_id`: its files may have
/// changed on disk since it was unpacked.
pub(crate) fn check_rebuilt(
    reader: HashingReader<LayerTarReader>,
    diff_id: &str,
) -> Result<(), ImageError> {
    let actual = reader
        .finish()
        .map_err(io_ctx(format!("reading layer {diff_id}")))?;
    if actual != diff_id {
        return Err(ImageError::Archive(format!(
            "layer {diff_id} reads back as {actual}: its files changed on disk"
        )));
    }
    Ok(())
}

/// `append` for big entries: the tar crate copies through an 8 KiB buffer of its own, which
/// for a layer of hundreds of MB is one more pass over every byte. Here the reader's own
/// chunks go straight to the writer; the header and the padding are the same.
fn append_buffered(
    tar: &mut tar::Builder<impl Write>,
    path: &str,
    size: u64,
    data: &mut impl std::io::BufRead,
) -> Result<(), ImageError> {
    let mut h = entry_header(size);
    h.set_path(path).map_err(io_ctx(format!("naming {path}")))?;
    h.set_cksum();
    // The header alone: an empty body adds no padding.
    tar.append(&h, std::io::empty())
        .map_err(io_ctx(format!("writing {path}")))?;
    let out = tar.get_mut();
    let mut written = 0u64;
    loop {
        let chunk = data.fill_buf().map_err(io_ctx(format!("reading {path}")))?;
        if chunk.is_empty() {
            break;
        }
        out.write_all(chunk)
            .map_err(io_ctx(format!("writing {path}")))?;
        let n = chunk.len();
        data.consume(n);
        written += n as u64;
    }
    if written != size {
        return Err(ImageError::Archive(format!(
            "{path} is {written} bytes, not the {size} its records say"
        )));
    }
    let pad = (512 - size % 512) % 512;
    out.write_all(&[0u8; 512][..pad as usize])
        .map_err(io_ctx(format!("writing {path}")))
}

/// What a save writes, resolved while the image store is locked: the images (each once), the
/// names each is saved under, and their configs as stored. Writing then needs only the layer
/// store, so `images` and the like go on while a big archive streams out.
pub struct SavePlan {
    images: Vec<(ImageRecord, Vec<Reference>, Vec<u8>)>,
}

impl SavePlan {
    /// Resolve `names` (references or ids): one that does not exist fails here, before a
    /// byte is written.
    pub fn resolve(store: &ImageStore, names: &[String]) -> Result<SavePlan, ImageError> {
        let mut images: Vec<(ImageRecord, Vec<Reference>, Vec<u8>)> = Vec::new();
        for name in names {
            let record = store.get(name)?;
            let by_ref = Reference::parse(name)
                .ok()
                .filter(|r| record.repo_tags.contains(&r.tagged()));
            match images.iter_mut().find(|(r, _, _)| r.id == record.id) {
                Some((_, refs, _)) => refs.extend(by_ref),
                None => {
                    let config = store.raw_config(&record.id)?;
                    images.push((record, by_ref.into_iter().collect(), config));
                }
            }
        }
        Ok(SavePlan { images })
    }

    /// Each image's layer chain, bottom first: what the writing reads, to be leased.
    pub fn chains(&self) -> Vec<Vec<String>> {
        self.images
            .iter()
            .map(|(img, _, _)| ImageStore::chains(img))
            .collect()
    }
}

/// Write the archive a plan names to `out`, reading the layers from `layers`.
pub fn write(plan: &SavePlan, layers: &LayerStore, out: impl Write) -> Result<(), ImageError> {
    let mut tar = tar::Builder::new(out);
    let mut written = std::collections::HashSet::new();
    let mut index = Vec::new();
    let mut docker_manifest = Vec::new();
    for (img, refs, config) in &plan.images {
        let chains = ImageStore::chains(img);
        let mut layer_descs = Vec::new();
        for (chain, diff_id) in chains.iter().zip(&img.config.rootfs.diff_ids) {
            let size = layers.layer_tar_size(chain)?;
            if written.insert(diff_id.clone()) {
                let mut reader = rebuilt_layer(layers, chain)?;
                append_buffered(
                    &mut tar,
                    &format!("blobs/sha256/{}", hex(diff_id)),
                    size,
                    &mut reader,
                )?;
                check_rebuilt(reader, diff_id)?;
            }
            layer_descs.push(json!({ "mediaType": LAYER, "digest": diff_id, "size": size }));
        }
        if written.insert(img.id.clone()) {
            append(
                &mut tar,
                &format!("blobs/sha256/{}", hex(&img.id)),
                config.len() as u64,
                &config[..],
            )?;
        }
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": { "mediaType": CONFIG, "digest": img.id, "size": config.len() },
            "layers": layer_descs,
        }))
        .map_err(|e| ImageError::Archive(e.to_string()))?;
        let manifest_digest = sha256(&manifest);
        if written.insert(manifest_digest.clone()) {
            append(
                &mut tar,
                &format!("blobs/sha256/{}", hex(&manifest_digest)),
                manifest.len() as u64,
                &manifest[..],
            )?;
        }
        let descriptor = |annotations: serde_json::Value| {
            let mut d =
                json!({ "mediaType": MANIFEST, "digest": manifest_digest, "size": manifest.len() });
            if !annotations.is_null() {
                d["annotations"] = annotations;
            }
            d
        };
        if refs.is_empty() {
            index.push(descriptor(serde_json::Value::Null));
        }
        for r in refs {
            index.push(descriptor(json!({
                "io.containerd.image.name": format!("{}/{}:{}", r.domain(), r.path(), r.tag().unwrap_or("latest")),
                "org.opencontainers.image.ref.name": r.tag().unwrap_or("latest"),
            })));
        }
        docker_manifest.push(json!({
            "Config": format!("blobs/sha256/{}", hex(&img.id)),
            "RepoTags": if refs.is_empty() { serde_json::Value::Null } else { json!(refs.iter().map(|r| r.tagged()).collect::<Vec<_>>()) },
            "Layers": img.config.rootfs.diff_ids.iter().map(|d| format!("blobs/sha256/{}", hex(d))).collect::<Vec<_>>(),
        }));
    }
    let index =
        serde_json::to_vec(&json!({ "schemaVersion": 2, "mediaType": INDEX, "manifests": index }))
            .map_err(|e| ImageError::Archive(e.to_string()))?;
    append(&mut tar, "index.json", index.len() as u64, &index[..])?;
    let manifest =
        serde_json::to_vec(&docker_manifest).map_err(|e| ImageError::Archive(e.to_string()))?;
    append(
        &mut tar,
        "manifest.json",
        manifest.len() as u64,
        &manifest[..],
    )?;
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    append(&mut tar, "oci-layout", layout.len() as u64, &layout[..])?;
    tar.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(io_ctx("finishing the archive"))
}
