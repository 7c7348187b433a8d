//! Loading `docker save` archives: `manifest.json` names each image's config and layer tars
//! (`<id>/layer.tar`, or `blobs/sha256/<hex>` as Docker 25+ writes them), plain or gzip. The
//! archive is spooled to a temp dir under the root first, because `manifest.json` may come
//! after the layers in the stream. A failure registers nothing: no tag, no new layer.

use super::config::ImageConfig;
use super::reference::Reference;
use super::store::{io_ctx, ImageError, ImageStore};
use serde::Deserialize;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

#[derive(Debug, Deserialize)]
struct ManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// Wrap `r` in a gzip decoder when its first bytes are gzip's magic.
pub fn maybe_gunzip<'a, R: Read + 'a>(r: R) -> std::io::Result<Box<dyn Read + 'a>> {
    let mut br = BufReader::new(r);
    let head = br.fill_buf()?;
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        Ok(Box::new(flate2::read::GzDecoder::new(br)))
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

impl ImageStore {
    /// Load every image of a `docker save` archive. Returns the lines docker prints.
    pub fn load(
        &self,
        archive: impl Read,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Vec<String>, ImageError> {
        let spool = tempfile::Builder::new()
            .prefix("load-")
            .tempdir_in(self.tmp_dir())
            .map_err(io_ctx("creating a temp dir for the archive"))?;
        let mut outer =
            tar::Archive::new(maybe_gunzip(archive).map_err(io_ctx("reading the archive"))?);
        for entry in outer.entries().map_err(io_ctx("reading the archive"))? {
            let mut entry = entry.map_err(|e| {
                ImageError::Archive(format!("the archive is truncated or corrupt: {e}"))
            })?;
            let ok = entry.unpack_in(spool.path()).map_err(|e| {
                ImageError::Archive(format!("the archive is truncated or corrupt: {e}"))
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
            Err(_) => {
                return Err(ImageError::Archive(
                    "this is not a docker image archive: it has no manifest.json (OCI layouts without one are not supported yet)".into(),
                ))
            }
        };

        let mut created_layers: Vec<String> = Vec::new();
        let mut created_configs: Vec<String> = Vec::new();
        let result = self.load_entries(
            spool.path(),
            &manifest,
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

    fn load_entries(
        &self,
        dir: &Path,
        manifest: &[ManifestEntry],
        progress: &mut dyn FnMut(&str),
        created_layers: &mut Vec<String>,
        created_configs: &mut Vec<String>,
    ) -> Result<Vec<String>, ImageError> {
        let mut tags_to_set: Vec<(String, String)> = Vec::new();
        let mut lines = Vec::new();
        for m in manifest {
            let raw = fs::read(inside(dir, &m.config)?).map_err(|e| {
                ImageError::Archive(format!("the archive lacks the config {}: {e}", m.config))
            })?;
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
                    progress(&format!("{short}: Layer already exists"));
                } else {
                    progress(&format!("{short}: Loading layer"));
                    let file = fs::File::open(inside(dir, layer)?).map_err(|e| {
                        ImageError::Archive(format!("the archive lacks the layer {layer}: {e}"))
                    })?;
                    let reader =
                        maybe_gunzip(file).map_err(io_ctx(format!("reading layer {layer}")))?;
                    self.layers()
                        .apply_layer(parent.as_deref(), diff_id, reader)?;
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
