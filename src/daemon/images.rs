//! The daemon's side of images: listing, inspecting and loading, as the Engine API shows them.

use super::error::{DaemonError, Result};
use super::Daemon;
use crate::image::{ImageRecord, ImageStore};
use crate::wire::types::ImageSummary;
use serde_json::{json, Value};

/// An image's config as Docker's inspect shows it: the keys clients index (the Python SDK
/// reads `Config["OnBuild"]`) are there, `null` when the image has none.
fn with_docker_keys(mut config: Value) -> Value {
    if let Some(o) = config.as_object_mut() {
        for k in ["Env", "Cmd", "Volumes", "Entrypoint", "OnBuild", "Labels"] {
            o.entry(k).or_insert(Value::Null);
        }
        for k in ["Hostname", "Domainname", "User", "WorkingDir"] {
            o.entry(k).or_insert(Value::String(String::new()));
        }
    }
    config
}

fn created_unix(created: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(created)
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

impl Daemon {
    /// `GET /images/json`. Without `all`, the builder's intermediate images (untagged, with a
    /// child) are left out, as Docker leaves them out.
    pub async fn image_list(&self, all: bool) -> Result<Vec<ImageSummary>> {
        let images = self.images.clone();
        let (list, parents) = tokio::task::spawn_blocking(move || {
            let store = images.lock().unwrap();
            let list = store.list()?;
            let parents: std::collections::HashMap<String, String> = list
                .iter()
                .filter_map(|i| store.parent_of(&i.id).map(|p| (i.id.clone(), p)))
                .collect();
            Ok::<_, crate::image::ImageError>((list, parents))
        })
        .await
        .map_err(|e| DaemonError::system("listing images", e))?
        .map_err(|e| DaemonError::system("listing images", e))?;
        let has_child: std::collections::HashSet<&String> = parents.values().collect();
        let mut rows: Vec<ImageSummary> = list
            .into_iter()
            .filter(|img| {
                all || !img.repo_tags.is_empty()
                    || !img.repo_digests.is_empty()
                    || !has_child.contains(&img.id)
            })
            .map(|img| ImageSummary {
                id: img.id.clone(),
                parent_id: parents.get(&img.id).cloned().unwrap_or_default(),
                repo_tags: img.repo_tags.clone(),
                repo_digests: img.repo_digests.clone(),
                created: created_unix(&img.created),
                size: img.size,
                shared_size: -1,
                virtual_size: img.size,
                labels: img.config.config.as_ref().and_then(|c| c.labels.clone()),
                containers: -1,
            })
            .collect();
        rows.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Ok(rows)
    }

    pub async fn image_get(&self, name: &str) -> Result<ImageRecord> {
        let images = self.images.clone();
        let name = name.to_string();
        tokio::task::spawn_blocking(move || images.lock().unwrap().get(&name))
            .await
            .map_err(|e| DaemonError::system("looking up the image", e))?
            .map_err(|e| DaemonError::NotFound(e.to_string()))
    }

    /// `ps -s`: bytes in the container's read-write layer, and those plus its image's.
    pub async fn container_sizes(&self, id: &str, image_id: &str) -> (i64, i64) {
        let upper = self.images.lock().unwrap().layers().upper_dir(id).ok();
        let rw = match upper {
            Some(dir) => tokio::task::spawn_blocking(move || crate::layers::dir_size(&dir) as i64)
                .await
                .unwrap_or(0),
            None => 0,
        };
        let image = self.image_get(image_id).await.map(|i| i.size).unwrap_or(0);
        (rw, rw + image)
    }

    /// `GET /images/{name}/json`: Docker's image inspect shape.
    pub async fn image_inspect(&self, name: &str) -> Result<Value> {
        let img = self.image_get(name).await?;
        let id = img.id.clone();
        let parent = self
            .with_store("reading the image's parent", move |s| Ok(s.parent_of(&id)))
            .await?
            .unwrap_or_default();
        let cfg = serde_json::to_value(&img.config).unwrap_or(Value::Null);
        Ok(json!({
            "Id": img.id,
            "RepoTags": img.repo_tags,
            "RepoDigests": img.repo_digests,
            "Parent": parent,
            "Comment": cfg.get("comment").cloned().unwrap_or(json!("")),
            "Created": img.created,
            "DockerVersion": cfg.get("docker_version").cloned().unwrap_or(json!("")),
            "Author": cfg.get("author").cloned().unwrap_or(json!("")),
            "Config": with_docker_keys(cfg.get("config").cloned().unwrap_or(Value::Null)),
            "Architecture": cfg.get("architecture").cloned().unwrap_or(json!("amd64")),
            "Os": cfg.get("os").cloned().unwrap_or(json!("linux")),
            "Size": img.size,
            "VirtualSize": img.size,
            "GraphDriver": {"Name": "overlay2", "Data": null},
            "RootFS": {"Type": img.config.rootfs.kind, "Layers": img.config.rootfs.diff_ids},
            "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        }))
    }
}

/// One line of `rmi`'s answer: `{"Untagged": ...}` or `{"Deleted": ...}`.
pub type DeleteItem = Value;

fn short(id: &str) -> &str {
    crate::util::id::short(id)
}

impl Daemon {
    /// Run `f` on the image store off the async threads.
    pub(super) async fn with_store<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&crate::image::ImageStore) -> std::result::Result<T, crate::image::ImageError>
            + Send
            + 'static,
    ) -> Result<T> {
        let images = self.images.clone();
        tokio::task::spawn_blocking(move || f(&images.lock().unwrap()))
            .await
            .map_err(|e| DaemonError::system(what, e))?
            .map_err(|e| match e {
                crate::image::ImageError::NotFound(m) => {
                    DaemonError::NotFound(format!("No such image: {m}"))
                }
                crate::image::ImageError::Reference(r) => {
                    DaemonError::InvalidParameter(r.to_string())
                }
                other => DaemonError::system(what, other),
            })
    }

    /// `POST /images/{name}/tag?repo=&tag=`.
    pub async fn image_tag(&self, name: &str, repo: &str, tag: &str) -> Result<()> {
        let img = self.image_get(name).await?;
        if repo.is_empty() {
            return Err(DaemonError::InvalidParameter(
                "repository name must have at least one component".into(),
            ));
        }
        let reference = if tag.is_empty() {
            repo.to_string()
        } else {
            format!("{repo}:{tag}")
        };
        crate::image::reference::Reference::parse(&reference)
            .map_err(|e| DaemonError::InvalidParameter(e.to_string()))?;
        let id = img.id.clone();
        self.with_store("tagging", move |s| s.tag(&reference, &id).map(|_| ()))
            .await?;
        self.events.emit(super::events::Event::new(
            "image",
            "tag",
            &img.id,
            [(
                "name".to_string(),
                format!(
                    "{repo}{}",
                    if tag.is_empty() {
                        String::new()
                    } else {
                        format!(":{tag}")
                    }
                ),
            )]
            .into(),
        ));
        Ok(())
    }

    /// Tag an image with a whole reference (`name[:tag]`): what `build -t` does. Returns the
    /// tag as Docker prints it.
    pub async fn image_tag_ref(&self, id: &str, reference: &str) -> Result<String> {
        let r = crate::image::reference::Reference::parse(reference)
            .map_err(|e| DaemonError::InvalidParameter(e.to_string()))?;
        let (id2, reference2) = (id.to_string(), reference.to_string());
        let shown = self
            .with_store("tagging", move |s| s.tag(&reference2, &id2))
            .await?;
        self.events.emit(super::events::Event::new(
            "image",
            "tag",
            id,
            [("name".to_string(), r.familiar())].into(),
        ));
        Ok(shown)
    }

    /// Containers created from `image_id`: (short id, running).
    fn containers_using(&self, image_id: &str) -> Vec<(String, bool)> {
        self.all_containers()
            .iter()
            .map(|c| c.snapshot())
            .filter(|r| r.image == image_id)
            .map(|r| (r.id[..12].to_string(), r.state.running))
            .collect()
    }

    /// `DELETE /images/{name}?force=&noprune=`, by Docker's rules: a reference is untagged,
    /// and the image goes when its last reference does; an id deletes the image (with `force`
    /// even when several references name it). An image a container uses stays (with
    /// `force` its references are removed, the image itself is kept while the container is).
    pub async fn image_remove(&self, name: &str, force: bool) -> Result<Vec<DeleteItem>> {
        let img = self.image_get(name).await?;
        let by_id = img
            .id
            .trim_start_matches("sha256:")
            .starts_with(name.trim_start_matches("sha256:"))
            && !img
                .repo_tags
                .iter()
                .any(|t| t == name || t.strip_suffix(":latest") == Some(name));
        let users = self.containers_using(&img.id);
        let id = img.id.clone();
        let has_children = !self
            .with_store("reading the image's children", move |s| {
                Ok(s.children_of(&id))
            })
            .await?
            .is_empty();
        let mut out = Vec::new();
        if !by_id {
            use crate::image::reference::Reference;
            let r =
                Reference::parse(name).map_err(|e| DaemonError::InvalidParameter(e.to_string()))?;
            let repo = r.familiar_name();
            let same_repo = |t: &String| {
                Reference::parse(t)
                    .map(|x| x.familiar_name() == repo)
                    .unwrap_or(false)
            };
            let mut refs = Vec::new();
            if r.digest().is_some() {
                refs.push(r.familiar());
            } else {
                refs.push(r.tagged());
                // The last tag of a repository takes the repository's digest references
                // with it, as in Docker.
                if !img
                    .repo_tags
                    .iter()
                    .any(|t| *t != r.tagged() && same_repo(t))
                {
                    refs.extend(img.repo_digests.iter().filter(|d| same_repo(d)).cloned());
                }
            }
            let last = img.repo_tags.len() + img.repo_digests.len() <= refs.len();
            if last && !force {
                if let Some((c, _)) = users.first() {
                    return Err(DaemonError::Conflict(format!(
                        "conflict: unable to remove repository reference \"{name}\" (must force) - container {c} is using its referenced image {}",
                        short(&img.id)
                    )));
                }
            }
            out.extend(self.untag_all(&img.id, refs).await?);
            // An image with children stays, untagged, as Docker keeps it: the untag was
            // what was asked for.
            if !last || !users.is_empty() || has_children {
                return Ok(out);
            }
        } else {
            if has_children {
                return Err(DaemonError::Conflict(format!(
                    "conflict: unable to delete {} (cannot be forced) - image has dependent child images",
                    short(&img.id)
                )));
            }
            if let Some((c, _)) = users.iter().find(|(_, running)| *running) {
                return Err(DaemonError::Conflict(format!(
                    "conflict: unable to delete {} (cannot be forced) - image is being used by running container {c}",
                    short(&img.id)
                )));
            }
            if !force {
                if let Some((c, _)) = users.first() {
                    return Err(DaemonError::Conflict(format!(
                        "conflict: unable to delete {} (must be forced) - image is being used by stopped container {c}",
                        short(&img.id)
                    )));
                }
                if img.repo_tags.len() > 1 {
                    return Err(DaemonError::Conflict(format!(
                        "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                        short(&img.id)
                    )));
                }
            }
            let all = img
                .repo_tags
                .iter()
                .chain(&img.repo_digests)
                .cloned()
                .collect();
            out.extend(self.untag_all(&img.id, all).await?);
            if !users.is_empty() {
                return Ok(out);
            }
        }
        let mut next = Some(img.id.clone());
        while let Some(id) = next.take() {
            let id2 = id.clone();
            let (released, parent) = self
                .with_store("deleting the image", move |s| {
                    let parent = s.parent_of(&id2);
                    Ok((s.delete(&id2)?, parent))
                })
                .await?;
            out.push(json!({ "Deleted": id }));
            for chain in released {
                out.push(json!({ "Deleted": chain }));
            }
            self.events.emit(super::events::Event::new(
                "image",
                "delete",
                &id,
                [("name".to_string(), id.clone())].into(),
            ));
            // The builder's intermediate images go with the last image made on them, as
            // Docker's do: untagged, no other child, no container.
            if let Some(p) = parent {
                let p2 = p.clone();
                let free = self
                    .with_store("reading the parent image", move |s| {
                        Ok(s.get(&p2).ok().is_some_and(|r| {
                            r.repo_tags.is_empty()
                                && r.repo_digests.is_empty()
                                && s.children_of(&p2).is_empty()
                        }))
                    })
                    .await?;
                if free && self.containers_using(&p).is_empty() {
                    next = Some(p);
                }
            }
        }
        Ok(out)
    }

    async fn untag_all(&self, image_id: &str, tags: Vec<String>) -> Result<Vec<DeleteItem>> {
        let mut items = Vec::new();
        for t in tags {
            let t2 = t.clone();
            let shown = self.with_store("untagging", move |s| s.untag(&t2)).await?;
            items.push(json!({ "Untagged": shown }));
            self.events.emit(super::events::Event::new(
                "image",
                "untag",
                image_id,
                [("name".to_string(), t)].into(),
            ));
        }
        Ok(items)
    }

    /// `POST /images/prune`: untagged images no container uses (with `all`, every image no
    /// container uses).
    pub async fn image_prune(&self, all: bool) -> Result<(Vec<DeleteItem>, i64)> {
        let list = self.with_store("listing images", |s| s.list()).await?;
        let mut deleted = Vec::new();
        let mut reclaimed = 0;
        let ids: Vec<String> = list.iter().map(|i| i.id.clone()).collect();
        let with_children = self
            .with_store("reading the images' children", move |s| {
                Ok(ids
                    .into_iter()
                    .filter(|id| !s.children_of(id).is_empty())
                    .collect::<std::collections::HashSet<String>>())
            })
            .await?;
        for img in list {
            if (!all && !img.repo_tags.is_empty()) || !self.containers_using(&img.id).is_empty() {
                continue;
            }
            // An intermediate image goes with the image on top of it (or stays, if that stays).
            if with_children.contains(&img.id) {
                continue;
            }
            let size = img.size;
            match self.image_remove(&img.id, true).await {
                Ok(items) => {
                    if items.iter().any(|i| i.get("Deleted").is_some()) {
                        reclaimed += size;
                    }
                    deleted.extend(items);
                }
                Err(e) => tracing::warn!("prune: {}: {e}", img.id),
            }
        }
        Ok((deleted, reclaimed))
    }

    /// `GET /images/{name}/history`: newest first; the image's id on the top entry only, the
    /// size of each layer on the entry that made it.
    pub async fn image_history(&self, name: &str) -> Result<Vec<Value>> {
        let img = self.image_get(name).await?;
        let chains = crate::image::ImageStore::chains(&img);
        let sizes: Vec<u64> = {
            let c = chains.clone();
            self.with_store("reading layer sizes", move |s| {
                Ok(c.iter().map(|ch| s.layers().layer_size(ch)).collect())
            })
            .await?
        };
        let mut layer = 0;
        let mut rows = Vec::new();
        let history = img.config.history.clone().unwrap_or_default();
        let entries: Vec<(String, String, String, bool)> = if history.is_empty() {
            sizes
                .iter()
                .map(|_| (img.created.clone(), String::new(), String::new(), false))
                .collect()
        } else {
            history
                .iter()
                .map(|h| {
                    (
                        h.created.clone().unwrap_or_default(),
                        h.created_by.clone().unwrap_or_default(),
                        h.comment.clone().unwrap_or_default(),
                        h.empty_layer.unwrap_or(false),
                    )
                })
                .collect()
        };
        for (created, by, comment, empty) in entries {
            let size = if empty {
                0
            } else {
                let s = sizes.get(layer).copied().unwrap_or(0);
                layer += 1;
                s
            };
            rows.push(json!({
                "Id": "<missing>",
                "Created": created_unix(&created),
                "CreatedBy": by,
                "Tags": Value::Null,
                "Size": size,
                "Comment": comment,
            }));
        }
        rows.reverse();
        if let Some(top) = rows.first_mut() {
            top["Id"] = json!(img.id);
            top["Tags"] = json!(img.repo_tags);
        }
        Ok(rows)
    }
}

impl Daemon {
    /// `GET /images/get?names=...`: the archive of `names`, streamed into `out`. The names are
    /// resolved before the first byte, so an unknown one is a 404, not a broken archive.
    pub async fn image_save(
        &self,
        names: Vec<String>,
        out: tokio::sync::mpsc::Sender<bytes::Bytes>,
    ) -> Result<()> {
        if names.is_empty() {
            return Err(DaemonError::InvalidParameter("no images named".into()));
        }
        for n in &names {
            self.image_get(n).await?;
        }
        let images = self.images.clone();
        tokio::task::spawn_blocking(move || {
            // Resolved and leased under the store's lock, written without it.
            let planned = {
                let store = images.lock().unwrap();
                crate::image::save::SavePlan::resolve(&store, &names).map(|plan| {
                    let lease = lease_layers(&images, &store, plan.chains());
                    (plan, store.layers().clone(), lease)
                })
            };
            let result = planned.and_then(|(plan, layers, _lease)| {
                let writer = super::commit::ChannelWriter::new(out);
                crate::image::save::write(&plan, &layers, writer)
            });
            if let Err(e) = result {
                tracing::warn!("save of {names:?}: {e}");
            }
        });
        Ok(())
    }
}

/// Lease the layers of images (each a chain, bottom first) while a push or save reads them;
/// when the lease ends, the layers an `rmi` left meanwhile are removed. Call it with the
/// store's lock held (`store` is what it guards), and drop the lease without it.
pub(super) fn lease_layers(
    images: &std::sync::Arc<std::sync::Mutex<ImageStore>>,
    store: &ImageStore,
    chains: Vec<Vec<String>>,
) -> crate::layers::Lease {
    let all: Vec<String> = chains.iter().flatten().cloned().collect();
    let images = images.clone();
    store.layers().lease(&all).then(move || {
        let store = images.lock().unwrap_or_else(|p| p.into_inner());
        for image_chains in &chains {
            match store.release_orphans(image_chains) {
                Ok(gone) if !gone.is_empty() => {
                    tracing::info!("removed layers {gone:?}, left by an rmi during a push or save")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("removing layers left by an rmi: {e}"),
            }
        }
    })
}

/// `filters` of `GET /images/json`: `dangling=true|false`, `reference=<glob>`,
/// `label=<key>[=<value>]`; values of one key are alternatives, keys must all match.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImageFilter {
    by_key: std::collections::BTreeMap<String, Vec<String>>,
}

impl ImageFilter {
    pub fn parse(json: &str) -> std::result::Result<ImageFilter, String> {
        if json.trim().is_empty() {
            return Ok(ImageFilter::default());
        }
        let map: std::collections::BTreeMap<String, Value> =
            serde_json::from_str(json).map_err(|e| format!("invalid filter {json:?}: {e}"))?;
        let mut by_key = std::collections::BTreeMap::new();
        for (k, v) in map {
            if !["dangling", "reference", "label"].contains(&k.as_str()) {
                return Err(format!("invalid filter '{k}'"));
            }
            let values: Vec<String> = match v {
                Value::Array(a) => a
                    .into_iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect(),
                Value::Object(o) => o.into_iter().map(|(k, _)| k).collect(),
                _ => return Err(format!("invalid filter {json:?}")),
            };
            if k == "dangling" {
                for v in &values {
                    if v != "true" && v != "false" && v != "1" && v != "0" {
                        return Err(format!("Invalid filter 'dangling={v}'"));
                    }
                }
            }
            by_key.insert(k, values);
        }
        Ok(ImageFilter { by_key })
    }

    /// The image as the filtered list shows it: with a `reference` filter only the matching
    /// tags stay (and an image with none goes), as Docker lists it.
    pub fn apply(&self, mut img: ImageSummary) -> Option<ImageSummary> {
        if !self.matches(&img) {
            return None;
        }
        if let Some(patterns) = self.by_key.get("reference") {
            img.repo_tags.retain(|t| {
                let name = t.rsplit_once(':').map(|(n, _)| n).unwrap_or(t);
                patterns.iter().any(|p| glob(p, t) || glob(p, name))
            });
            // Digest references by their repository, so the rows a client draws from them
            // are the matching ones only.
            img.repo_digests.retain(|d| {
                let name = d.split_once('@').map(|(n, _)| n).unwrap_or(d);
                patterns.iter().any(|p| glob(p, d) || glob(p, name))
            });
        }
        Some(img)
    }

    pub fn matches(&self, img: &ImageSummary) -> bool {
        self.by_key.iter().all(|(k, values)| {
            values.iter().any(|v| match k.as_str() {
                "dangling" => (v == "true" || v == "1") == img.repo_tags.is_empty(),
                "reference" => img.repo_tags.iter().any(|t| {
                    let name = t.rsplit_once(':').map(|(n, _)| n).unwrap_or(t);
                    glob(v, t) || glob(v, name)
                }),
                "label" => super::filters::label_matches(img.labels.as_ref(), v),
                _ => false,
            })
        })
    }
}

/// `*` (any run of characters but `/`) and `?`, as Go's path.Match, which Docker uses.
pub fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((b'*', rest)) => (0..=t.len())
                .take_while(|&i| i == 0 || t[i - 1] != b'/')
                .any(|i| go(rest, &t[i..])),
            Some((b'?', rest)) => !t.is_empty() && t[0] != b'/' && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn img(tags: &[&str]) -> ImageSummary {
        ImageSummary {
            repo_tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_reference_filter_keeps_only_the_matching_tags_and_digests() {
        let f = ImageFilter::parse(r#"{"reference":["r:5000/a/*"]}"#).unwrap();
        let mut i = img(&["busybox:latest", "r:5000/a/x:1"]);
        i.repo_digests = vec!["r:5000/a/x@sha256:aa".into(), "r:5000/b@sha256:bb".into()];
        let kept = f.apply(i).unwrap();
        assert_eq!(kept.repo_tags, ["r:5000/a/x:1"]);
        assert_eq!(kept.repo_digests, ["r:5000/a/x@sha256:aa"]);
    }

    #[test]
    fn image_filters_select_like_dockers() {
        let f = |j: &str, tags: &[&str]| ImageFilter::parse(j).unwrap().matches(&img(tags));
        assert!(f(r#"{"dangling":["true"]}"#, &[]));
        assert!(!f(r#"{"dangling":["true"]}"#, &["busybox:latest"]));
        assert!(f(r#"{"reference":["busy*"]}"#, &["busybox:latest"]));
        assert!(f(r#"{"reference":["busybox:lat*"]}"#, &["busybox:latest"]));
        assert!(!f(r#"{"reference":["busy"]}"#, &["busybox:latest"]));
        assert!(!f(r#"{"reference":["*"]}"#, &["localhost:5000/bb:v1"]));
        assert!(f(
            r#"{"reference":["localhost:5000/*"]}"#,
            &["localhost:5000/bb:v1"]
        ));
        assert!(ImageFilter::parse(r#"{"dangling":["maybe"]}"#).is_err());
        assert!(ImageFilter::parse(r#"{"colour":["x"]}"#).is_err());
    }

    proptest! {
        #[test]
        fn a_pattern_without_wildcards_matches_only_itself(a in "[a-z0-9/:.]{0,12}", b in "[a-z0-9/:.]{0,12}") {
            prop_assert_eq!(glob(&a, &b), a == b);
            prop_assert_eq!(glob("*", &a), !a.contains('/'));
        }
    }
}
