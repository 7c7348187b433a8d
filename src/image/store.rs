//! The image store: configs under `image/overlay2/imagedb/content/sha256/<id>`, tags in
//! `image/overlay2/repositories.json`, layers in the overlay2 layer store. Lookups resolve
//! like Docker's: a reference (tag defaulting to latest), a full id, or a unique id prefix.

use super::config::ImageConfig;
use super::reference::{Reference, ReferenceError};
use crate::layers::{chain_id, LayerError, LayerStore};
use crate::util::fsutil::{write_atomic, write_json_atomic};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ImageError {
    #[error("No such image: {0}")]
    NotFound(String),
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error("{0}")]
    Archive(String),
    #[error(transparent)]
    Registry(#[from] super::registry::RegistryError),
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
}

pub(crate) fn io_ctx(context: impl Into<String>) -> impl FnOnce(io::Error) -> ImageError {
    let context = context.into();
    move |source| ImageError::Io { context, source }
}

#[derive(Debug, Clone)]
pub struct ImageRecord {
    /// "sha256:<hex>"
    pub id: String,
    pub config: ImageConfig,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub size: i64,
    /// Chain id of the topmost layer; None for an image without layers.
    pub top_layer: Option<String>,
    pub created: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Repositories {
    #[serde(rename = "Repositories", default)]
    pub repos: BTreeMap<String, BTreeMap<String, String>>,
}

pub struct ImageStore {
    root: PathBuf,
    imagedb: PathBuf,
    repositories: PathBuf,
    layers: LayerStore,
}

impl ImageStore {
    pub fn open(root: &Path) -> Result<ImageStore, ImageError> {
        let imagedb = root.join("image/overlay2/imagedb/content/sha256");
        fs::create_dir_all(&imagedb).map_err(io_ctx(format!("creating {}", imagedb.display())))?;
        fs::create_dir_all(root.join("tmp")).map_err(io_ctx("creating tmp"))?;
        // Spools of loads a crash interrupted (the daemon owns the root alone).
        if let Ok(entries) = fs::read_dir(root.join("tmp")) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with("load-") {
                    let _ = fs::remove_dir_all(e.path());
                }
            }
        }
        Ok(ImageStore {
            root: root.to_path_buf(),
            repositories: root.join("image/overlay2/repositories.json"),
            imagedb,
            layers: LayerStore::open(root)?,
        })
    }

    pub fn layers(&self) -> &LayerStore {
        &self.layers
    }

    /// `<root>/image/overlay2`: the configs, the tags, and what the builder records.
    pub(crate) fn image_root(&self) -> PathBuf {
        self.root.join("image/overlay2")
    }

    pub(crate) fn imagedb_path(&self, id: &str) -> PathBuf {
        self.imagedb.join(id.trim_start_matches("sha256:"))
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub(crate) fn read_repositories(&self) -> Result<Repositories, ImageError> {
        match fs::read(&self.repositories) {
            Ok(data) => serde_json::from_slice(&data).map_err(|e| {
                ImageError::Archive(format!("{} is corrupt: {e}", self.repositories.display()))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Repositories::default()),
            Err(e) => Err(io_ctx("reading repositories.json")(e)),
        }
    }

    fn write_repositories(&self, r: &Repositories) -> Result<(), ImageError> {
        write_json_atomic(&self.repositories, r).map_err(io_ctx("writing repositories.json"))
    }

    /// Store a config; its sha256 is the image id.
    pub(crate) fn put_config(&self, raw: &[u8]) -> Result<String, ImageError> {
        use sha2::Digest;
        let hex = hex::encode(sha2::Sha256::digest(raw));
        let path = self.imagedb.join(&hex);
        if !path.exists() {
            write_atomic(&path, raw).map_err(io_ctx("writing the image config"))?;
        }
        Ok(format!("sha256:{hex}"))
    }

    /// Point `name:tag` at an image, moving the tag if another image had it.
    pub fn tag(&self, reference: &str, id: &str) -> Result<String, ImageError> {
        let r = Reference::parse(reference)?;
        let mut repos = self.read_repositories()?;
        let tagged = r.tagged();
        repos
            .repos
            .entry(r.familiar_name())
            .or_default()
            .insert(tagged.clone(), id.to_string());
        self.write_repositories(&repos)?;
        Ok(tagged)
    }

    fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = fs::read_dir(&self.imagedb)
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.len() == 64 && n.bytes().all(|c| c.is_ascii_hexdigit()))
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }

    fn record(&self, hex: &str, repos: &Repositories) -> Result<ImageRecord, ImageError> {
        let raw =
            fs::read(self.imagedb.join(hex)).map_err(io_ctx(format!("reading image {hex}")))?;
        let config: ImageConfig = serde_json::from_slice(&raw).map_err(|e| {
            ImageError::Archive(format!("image config {hex} is not valid JSON: {e}"))
        })?;
        let id = format!("sha256:{hex}");
        let mut chain: Option<String> = None;
        let mut size = 0i64;
        for d in &config.rootfs.diff_ids {
            let c = chain_id(chain.as_deref(), d);
            size += self.layers.layer_size(&c) as i64;
            chain = Some(c);
        }
        // Docker keeps digest references (`name@sha256:…`) beside the tags in one map.
        let (mut repo_digests, mut repo_tags): (Vec<String>, Vec<String>) = repos
            .repos
            .values()
            .flat_map(|tags| tags.iter())
            .filter(|(_, v)| **v == id)
            .map(|(k, _)| k.clone())
            .partition(|k| k.contains('@'));
        repo_tags.sort();
        repo_digests.sort();
        Ok(ImageRecord {
            created: config.created.clone().unwrap_or_default(),
            id,
            config,
            repo_tags,
            repo_digests,
            size,
            top_layer: chain,
        })
    }

    pub fn list(&self) -> Result<Vec<ImageRecord>, ImageError> {
        let repos = self.read_repositories()?;
        self.ids()
            .iter()
            .map(|hex| self.record(hex, &repos))
            .collect()
    }

    /// Resolve a reference, a full id (with or without `sha256:`), or a unique id prefix.
    pub fn get(&self, name: &str) -> Result<ImageRecord, ImageError> {
        let repos = self.read_repositories()?;
        if let Ok(r) = Reference::parse(name) {
            if let Some(d) = r.digest() {
                let key = format!("{}@{d}", r.familiar_name());
                if let Some(id) = repos
                    .repos
                    .get(&r.familiar_name())
                    .and_then(|t| t.get(&key))
                {
                    return self.record(id.trim_start_matches("sha256:"), &repos);
                }
            } else {
                let tagged = r.tagged();
                if let Some(id) = repos
                    .repos
                    .get(&r.familiar_name())
                    .and_then(|t| t.get(&tagged))
                {
                    return self.record(id.trim_start_matches("sha256:"), &repos);
                }
            }
        }
        let prefix = name.strip_prefix("sha256:").unwrap_or(name);
        if !prefix.is_empty()
            && prefix
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        {
            let found: Vec<String> = self
                .ids()
                .into_iter()
                .filter(|i| i.starts_with(prefix))
                .collect();
            if found.len() == 1 {
                return self.record(&found[0], &repos);
            }
        }
        let shown = match Reference::parse(name) {
            Ok(r) if !name.contains(':') && !name.contains('@') => r.tagged(),
            _ => name.to_string(),
        };
        Err(ImageError::NotFound(shown))
    }
}

impl ImageStore {
    /// Remove one tag (`name:tag`, the tag defaulting to latest); the tag as Docker prints it.
    pub fn untag(&self, reference: &str) -> Result<String, ImageError> {
        let r = Reference::parse(reference)?;
        let mut repos = self.read_repositories()?;
        let tagged = match r.digest() {
            Some(d) => format!("{}@{d}", r.familiar_name()),
            None => r.tagged(),
        };
        let name = r.familiar_name();
        let removed = repos
            .repos
            .get_mut(&name)
            .and_then(|tags| tags.remove(&tagged));
        if removed.is_none() {
            return Err(ImageError::NotFound(tagged));
        }
        if repos.repos.get(&name).is_some_and(|t| t.is_empty()) {
            repos.repos.remove(&name);
        }
        self.write_repositories(&repos)?;
        Ok(match r.digest() {
            Some(_) => tagged,
            None => r.familiar(),
        })
    }

    /// Record that `name@digest` (a manifest digest from a pull or a push) names image `id`.
    pub fn add_digest(&self, name: &Reference, digest: &str, id: &str) -> Result<(), ImageError> {
        let mut repos = self.read_repositories()?;
        let family = name.familiar_name();
        repos
            .repos
            .entry(family.clone())
            .or_default()
            .insert(format!("{family}@{digest}"), id.to_string());
        self.write_repositories(&repos)
    }

    /// The chain ids of an image's layers, bottom first.
    pub fn chains(record: &ImageRecord) -> Vec<String> {
        let mut chain: Option<String> = None;
        record
            .config
            .rootfs
            .diff_ids
            .iter()
            .map(|d| {
                let c = chain_id(chain.as_deref(), d);
                chain = Some(c.clone());
                c
            })
            .collect()
    }

    /// Delete an untagged image: its config, then its layers from the top down for as long as
    /// no other image and no container stands on them. Returns the layers removed.
    pub fn delete(&self, id: &str) -> Result<Vec<String>, ImageError> {
        let record = self.get(id)?;
        if !record.repo_tags.is_empty() {
            return Err(ImageError::Archive(format!(
                "image {} is still tagged as {}",
                record.id,
                record.repo_tags.join(", ")
            )));
        }
        let others: Vec<String> = self
            .list()?
            .iter()
            .filter(|r| r.id != record.id)
            .flat_map(Self::chains)
            .collect();
        let mut repos = self.read_repositories()?;
        let before = repos.repos.len();
        for refs in repos.repos.values_mut() {
            refs.retain(|_, v| *v != record.id);
        }
        repos.repos.retain(|_, refs| !refs.is_empty());
        if !record.repo_digests.is_empty() || repos.repos.len() != before {
            self.write_repositories(&repos)?;
        }
        self.remove_config(&record.id)?;
        self.forget_lineage(&record.id)
            .map_err(io_ctx("removing the image's build cache entries"))?;
        let mut released = Vec::new();
        for chain in Self::chains(&record).iter().rev() {
            if others.contains(chain) {
                break;
            }
            match self.layers.release_layer(chain) {
                Ok(()) => released.push(chain.clone()),
                // A layer something still stands on stays, and so does everything below it.
                Err(LayerError::InUse { .. }) => break,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(released)
    }

    /// Remove those of `chains` (an image's, bottom first) that no image uses any more, from
    /// the top down while nothing stands on them: the layers an `rmi` had to leave because a
    /// push or save was reading them. Returns the layers removed.
    pub fn release_orphans(&self, chains: &[String]) -> Result<Vec<String>, ImageError> {
        let used: std::collections::HashSet<String> =
            self.list()?.iter().flat_map(Self::chains).collect();
        let mut released = Vec::new();
        for chain in chains.iter().rev() {
            if used.contains(chain) {
                break;
            }
            match self.layers.release_layer(chain) {
                Ok(()) => released.push(chain.clone()),
                // Gone already (another lease's end took it): look at the next one down.
                Err(LayerError::NoSuchLayer(_)) => {}
                Err(LayerError::InUse { .. }) => break,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(released)
    }

    /// The config's bytes as stored (their sha256 is the image id).
    pub fn raw_config(&self, id: &str) -> Result<Vec<u8>, ImageError> {
        fs::read(self.imagedb.join(id.trim_start_matches("sha256:")))
            .map_err(io_ctx(format!("reading image {id}")))
    }

    pub(crate) fn has_config(&self, raw: &[u8]) -> bool {
        use sha2::Digest;
        self.imagedb
            .join(hex::encode(sha2::Sha256::digest(raw)))
            .exists()
    }

    pub(crate) fn remove_config(&self, id: &str) -> Result<(), ImageError> {
        fs::remove_file(self.imagedb.join(id.trim_start_matches("sha256:")))
            .map_err(io_ctx("removing the image config"))
    }
}
