//! `POST /images/create?fromImage=` (pull), `POST /images/{name}/push`, `POST /auth` (login)
//! and `GET /images/search`: the daemon's side of chapter 05. Registry traffic and unpacking
//! run on a blocking thread without the image store's lock; only registering the result (the
//! config, the tag, the digest) takes it.
//!
//! Each operation streams progress as JSON objects through a channel. An error before the
//! first object becomes the HTTP status (so `docker pull nothere` says "Error response from
//! daemon"); an error after it becomes an `errorDetail` object in the stream, as in Docker.

use super::error::{DaemonError, Result};
use super::events::Event;
use super::Daemon;
use crate::image::distribution::{self, DistributionMeta};
use crate::image::reference::Reference;
use crate::image::registry::{AuthConfig, Endpoint, Registry, RegistryError};
use crate::image::ImageError;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Progress objects, then at most one error.
pub type ProgressRx = mpsc::Receiver<std::result::Result<Value, DaemonError>>;

/// A registry's refusal is a 500 here, as in Docker: a 401 makes the docker CLI prompt for a
/// login, which only `POST /auth` should do.
fn registry_error(e: RegistryError) -> DaemonError {
    match e {
        RegistryError::Unauthorized(m) => DaemonError::System(m),
        RegistryError::NotFound(m) => DaemonError::NotFound(m),
        other => DaemonError::System(other.to_string()),
    }
}

/// A reference from the request, or a 400 in the parser's words.
fn parse_reference(s: &str) -> Result<Reference> {
    Reference::parse(s).map_err(|e| DaemonError::InvalidParameter(e.to_string()))
}

fn image_error(e: ImageError) -> DaemonError {
    match e {
        ImageError::Registry(r) => registry_error(r),
        ImageError::NotFound(m) => DaemonError::NotFound(format!("No such image: {m}")),
        ImageError::Reference(r) => DaemonError::InvalidParameter(r.to_string()),
        other => DaemonError::System(other.to_string()),
    }
}

impl Daemon {
    pub fn endpoint(&self, domain: &str) -> Endpoint {
        Endpoint::for_domain(
            domain,
            &self.config.insecure_registries,
            self.config.registry_mirror.as_deref(),
        )
    }

    /// Run `work` on a blocking thread with a progress sink; its error ends the stream.
    fn progress_task(
        self: &Arc<Self>,
        work: impl FnOnce(&Arc<Daemon>, &mut dyn FnMut(Value)) -> Result<()> + Send + 'static,
    ) -> ProgressRx {
        let (tx, rx) = mpsc::channel(64);
        let d = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut send = |v: Value| {
                let _ = tx.blocking_send(Ok(v));
            };
            if let Err(e) = work(&d, &mut send) {
                let _ = tx.blocking_send(Err(e));
            }
        });
        rx
    }

    /// `POST /images/create?fromImage=&tag=`.
    pub fn image_pull(
        self: &Arc<Self>,
        image: &str,
        tag: &str,
        auth: Option<AuthConfig>,
    ) -> ProgressRx {
        let wanted = match (tag.is_empty(), tag.starts_with("sha256:")) {
            (true, _) => image.to_string(),
            (false, true) => format!("{image}@{tag}"),
            (false, false) => format!("{image}:{tag}"),
        };
        // No tag in the name nor in `tag`: every tag of the repository (`pull --all-tags`).
        let all = tag.is_empty()
            && Reference::parse(image)
                .map(|r| r.tag().is_none() && r.digest().is_none())
                .unwrap_or(false);
        self.progress_task(move |d, progress| {
            if !all {
                return d.pull_blocking(&wanted, auth.as_ref(), progress);
            }
            let r = parse_reference(&wanted)?;
            let name = distribution::remote_name(&r);
            let reg = Registry::connect(d.endpoint(r.domain()), auth.as_ref(), Some(&name), "pull")
                .map_err(registry_error)?;
            let tags = reg.tags(&name).map_err(registry_error)?;
            if tags.is_empty() {
                return Err(DaemonError::NotFound(format!(
                    "repository {} has no tags",
                    r.familiar_name()
                )));
            }
            for t in tags {
                d.pull_blocking(&format!("{wanted}:{t}"), auth.as_ref(), progress)?;
            }
            Ok(())
        })
    }

    pub(crate) fn pull_blocking(
        &self,
        wanted: &str,
        auth: Option<&AuthConfig>,
        progress: &mut dyn FnMut(Value),
    ) -> Result<()> {
        let r = parse_reference(wanted)?;
        let name = distribution::remote_name(&r);
        let reg = Registry::connect(self.endpoint(r.domain()), auth, Some(&name), "pull")
            .map_err(registry_error)?;
        let layers = crate::layers::LayerStore::open(&self.config.root)
            .map_err(|e| DaemonError::system("opening the layer store", e))?;
        let meta = DistributionMeta::open(&self.config.root).map_err(image_error)?;
        let shown = r.familiar();
        let id_of_ref = r
            .digest()
            .unwrap_or(r.tag().unwrap_or("latest"))
            .to_string();
        let mut started = false;
        let mut relay = |v: Value| {
            if !started {
                started = true;
                progress(json!({"status": format!("Pulling from {name}"), "id": id_of_ref}));
            }
            progress(v);
        };
        let pulled = distribution::pull(&reg, &r, &layers, &meta, &self.layer_locks, &mut relay)
            .map_err(|e| match e {
                ImageError::Registry(RegistryError::NotFound(m)) => {
                    DaemonError::NotFound(format!("manifest for {} not found: {m}", r.familiar()))
                }
                other => image_error(other),
            })?;
        if !started {
            progress(json!({"status": format!("Pulling from {name}"), "id": id_of_ref}));
        }
        let images = self.images.clone();
        let store = images.lock().unwrap();
        let existed = store.has_config(&pulled.config);
        let id = store.put_config(&pulled.config).map_err(image_error)?;
        let had_tag = store
            .get(&r.familiar())
            .map(|i| i.id == id)
            .unwrap_or(false);
        if r.digest().is_none() {
            store.tag(&r.familiar(), &id).map_err(image_error)?;
        }
        store
            .add_digest(&r, &pulled.manifest_digest, &id)
            .map_err(image_error)?;
        drop(store);
        progress(json!({"status": format!("Digest: {}", pulled.manifest_digest)}));
        let status = if existed && had_tag {
            format!("Status: Image is up to date for {shown}")
        } else {
            format!("Status: Downloaded newer image for {shown}")
        };
        progress(json!({ "status": status }));
        let attrs = [("name".to_string(), shown.clone())].into();
        self.events.emit(Event::new("image", "pull", &shown, attrs));
        Ok(())
    }

    /// `POST /images/{name}/push?tag=`.
    pub fn image_push(
        self: &Arc<Self>,
        name: &str,
        tag: &str,
        auth: Option<AuthConfig>,
    ) -> ProgressRx {
        let wanted = if tag.is_empty() {
            name.to_string()
        } else {
            format!("{name}:{tag}")
        };
        let all = tag.is_empty()
            && Reference::parse(name)
                .map(|r| r.tag().is_none())
                .unwrap_or(false);
        self.progress_task(move |d, progress| {
            if !all {
                return d.push_blocking(&wanted, auth.as_ref(), progress);
            }
            // No tag: every local tag of the repository (`push --all-tags`).
            let r = parse_reference(&wanted)?;
            let family = r.familiar_name();
            let mut tags: Vec<String> = d
                .images
                .lock()
                .unwrap()
                .list()
                .map_err(image_error)?
                .into_iter()
                .flat_map(|i| i.repo_tags)
                .filter(|t| {
                    Reference::parse(t)
                        .map(|x| x.familiar_name() == family)
                        .unwrap_or(false)
                })
                .collect();
            tags.sort();
            if tags.is_empty() {
                return Err(DaemonError::NotFound(format!(
                    "An image does not exist locally with the tag: {family}"
                )));
            }
            for t in tags {
                d.push_blocking(&t, auth.as_ref(), progress)?;
            }
            Ok(())
        })
    }

    fn push_blocking(
        &self,
        wanted: &str,
        auth: Option<&AuthConfig>,
        progress: &mut dyn FnMut(Value),
    ) -> Result<()> {
        let r = parse_reference(wanted)?;
        // The layers stay leased until the push ends, so an rmi meanwhile cannot remove them.
        let (img, raw_config, _lease) = {
            let store = self.images.lock().unwrap();
            let img = store.get(&r.tagged()).map_err(|_| {
                DaemonError::NotFound(format!(
                    "An image does not exist locally with the tag: {}",
                    r.familiar_name()
                ))
            })?;
            let raw = store.raw_config(&img.id).map_err(image_error)?;
            let lease = super::images::lease_layers(
                &self.images,
                &store,
                vec![crate::image::ImageStore::chains(&img)],
            );
            (img, raw, lease)
        };
        let name = distribution::remote_name(&r);
        let reg = Registry::connect(self.endpoint(r.domain()), auth, Some(&name), "pull,push")
            .map_err(registry_error)?;
        progress(
            json!({"status": format!("The push refers to repository [{}/{}]", r.domain(), r.path())}),
        );
        let layers = crate::layers::LayerStore::open(&self.config.root)
            .map_err(|e| DaemonError::system("opening the layer store", e))?;
        let meta = DistributionMeta::open(&self.config.root).map_err(image_error)?;
        let pushed = distribution::push(&reg, &r, &img, &raw_config, &layers, &meta, progress)
            .map_err(image_error)?;
        let tag = r.tag().unwrap_or("latest").to_string();
        progress(
            json!({"status": format!("{tag}: digest: {} size: {}", pushed.digest, pushed.size)}),
        );
        progress(
            json!({"progressDetail": {}, "aux": {"Tag": tag, "Digest": pushed.digest, "Size": pushed.size}}),
        );
        self.images
            .lock()
            .unwrap()
            .add_digest(&r, &pushed.digest, &img.id)
            .map_err(image_error)?;
        let attrs = [("name".to_string(), r.familiar())].into();
        self.events
            .emit(Event::new("image", "push", &r.familiar(), attrs));
        Ok(())
    }

    /// `POST /auth`: check credentials against the registry (Docker Hub's mirror when the
    /// address names none). The CLI keeps them; the daemon does not.
    pub async fn auth(&self, auth: AuthConfig) -> Result<Value> {
        let server = auth
            .server_address
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .trim_end_matches("/v1")
            .trim_end_matches("/v2")
            .to_string();
        let domain = if server.is_empty() {
            "docker.io".to_string()
        } else {
            server
        };
        let endpoint = self.endpoint(&domain);
        let url = format!("{}/v2/", endpoint.base());
        tokio::task::spawn_blocking(move || Registry::connect(endpoint, Some(&auth), None, ""))
            .await
            .map_err(|e| DaemonError::system("login", e))?
            .map_err(|e| match e {
                RegistryError::Unauthorized(m) => {
                    DaemonError::Unauthorized(format!("login attempt to {url} failed: {m}"))
                }
                other => registry_error(other),
            })?;
        Ok(json!({"Status": "Login Succeeded", "IdentityToken": ""}))
    }

    /// `GET /images/search?term=&limit=`: a registry's catalog, filtered by the term. The term
    /// names the registry as a reference does (`127.0.0.1:5000/busy`); bare terms search the
    /// mirror of Docker Hub.
    pub async fn search(
        &self,
        term: &str,
        limit: usize,
        auth: Option<AuthConfig>,
    ) -> Result<Vec<Value>> {
        let (domain, needle) = match term.split_once('/') {
            Some((host, rest))
                if host.contains('.') || host.contains(':') || host == "localhost" =>
            {
                (host.to_string(), rest.to_string())
            }
            _ => ("docker.io".to_string(), term.to_string()),
        };
        let endpoint = self.endpoint(&domain);
        let repos = tokio::task::spawn_blocking(move || {
            let reg = Registry::connect(endpoint, auth.as_ref(), None, "")?;
            reg.catalog()
        })
        .await
        .map_err(|e| DaemonError::system("search", e))?
        .map_err(registry_error)?;
        let shown_host = if domain == "docker.io" {
            None
        } else {
            Some(domain)
        };
        Ok(repos
            .into_iter()
            .filter(|r| r.contains(&needle))
            .take(if limit == 0 { 25 } else { limit })
            .map(|r| {
                let name = match &shown_host {
                    Some(h) => format!("{h}/{r}"),
                    None => r.strip_prefix("library/").unwrap_or(&r).to_string(),
                };
                json!({"name": name, "description": "", "star_count": 0, "is_official": false, "is_automated": false})
            })
            .collect())
    }
}
