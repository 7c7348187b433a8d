//! `build`: the daemon's side of the builder (chapter 08). The builder decides what each
//! step is; this file gives it the engine: a RUN is a container made by `create` and
//! `start` like any other, its output streamed back; a COPY writes into a container layer
//! that is mounted and not run; either becomes an image the way `commit` makes one, recorded
//! as the child of its parent for the cache.

use super::container::Output;
use super::Daemon;
use crate::build::builder::{
    self, Backend, BuildError, BuildOptions, Image, Message, Out, RunOptions, RunSpec, Scratch,
};
use crate::image::config::ImageConfig;
use crate::layers::pack;
use std::path::{Path, PathBuf};
use std::sync::Arc;

type BResult<T> = std::result::Result<T, BuildError>;

fn backend_err(context: &str) -> impl Fn(String) -> BuildError + '_ {
    move |e| BuildError::Backend(format!("{context}: {e}"))
}

/// The daemon as the builder's engine, for one build.
pub struct DaemonBackend {
    pub d: Arc<Daemon>,
}

impl DaemonBackend {
    async fn blocking<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&crate::image::ImageStore) -> std::result::Result<T, String> + Send + 'static,
    ) -> BResult<T> {
        let images = self.d.images.clone();
        tokio::task::spawn_blocking(move || f(&images.lock().unwrap()))
            .await
            .map_err(|e| BuildError::Backend(format!("{what}: {e}")))?
            .map_err(backend_err(what))
    }
}

impl Backend for DaemonBackend {
    async fn image(&self, name: &str, pull: bool, out: &Out) -> BResult<Image> {
        let wanted = name.to_string();
        let local = self
            .blocking("looking up the image", move |s| {
                Ok(s.get(&wanted).ok().map(|r| Image {
                    id: r.id,
                    config: r.config,
                }))
            })
            .await?;
        if let (Some(img), false) = (&local, pull) {
            return Ok(img.clone());
        }
        let d = self.d.clone();
        let wanted = name.to_string();
        let out2 = out.clone();
        let pulled = tokio::task::spawn_blocking(move || {
            let mut progress = |v: serde_json::Value| {
                let _ = out2.send(Message::Progress(v));
            };
            d.pull_blocking(&wanted, None, &mut progress)
        })
        .await
        .map_err(|e| BuildError::Backend(e.to_string()))?;
        if let Err(e) = pulled {
            // `--pull` of an image that is here but not in any registry berth reaches: the
            // local one, as Docker falls back when the pull fails only for being offline is
            // not its rule; Docker fails, and so does this.
            return Err(BuildError::Invalid(e.to_string()));
        }
        let wanted = name.to_string();
        self.blocking("looking up the image", move |s| {
            s.get(&wanted)
                .map(|r| Image {
                    id: r.id,
                    config: r.config,
                })
                .map_err(|e| e.to_string())
        })
        .await
    }

    async fn local(&self, name: &str) -> Option<Image> {
        let wanted = name.to_string();
        self.blocking("looking up the image", move |s| {
            Ok(s.get(&wanted).ok().map(|r| Image {
                id: r.id,
                config: r.config,
            }))
        })
        .await
        .ok()
        .flatten()
    }

    async fn cached(&self, parent: Option<&str>, key: &str) -> Option<Image> {
        let (parent, key) = (parent.map(str::to_string), key.to_string());
        self.blocking("reading the build cache", move |s| {
            Ok(s.cached_step(parent.as_deref(), &key)
                .and_then(|id| s.get(&id).ok())
                .map(|r| Image {
                    id: r.id,
                    config: r.config,
                }))
        })
        .await
        .ok()
        .flatten()
    }

    async fn run(
        &self,
        parent: &Image,
        spec: &RunSpec,
        opts: &RunOptions,
        out: &Out,
    ) -> BResult<(String, i64)> {
        let network = match opts.network_mode.as_str() {
            "" | "default" => "default",
            other => other,
        };
        let req = serde_json::json!({
            "Image": parent.id,
            "Cmd": spec.argv,
            // The step's command is the whole command: the image's ENTRYPOINT is not in it.
            "Entrypoint": [""],
            "Env": spec.env,
            "User": spec.user,
            "WorkingDir": spec.workdir,
            "AttachStdout": true,
            "AttachStderr": true,
            "Labels": {},
            "HostConfig": {
                "NetworkMode": network,
                "ExtraHosts": opts.extra_hosts,
                "ShmSize": opts.shm_size,
                "Memory": opts.memory,
                "MemorySwap": opts.memory_swap,
                "CpuShares": opts.cpu_shares,
                "CpuPeriod": opts.cpu_period,
                "CpuQuota": opts.cpu_quota,
                "CpusetCpus": opts.cpuset_cpus,
                "CpusetMems": opts.cpuset_mems,
            },
        });
        let req: crate::wire::types::CreateRequest =
            serde_json::from_value(req).map_err(|e| BuildError::Backend(e.to_string()))?;
        let (id, _) = self
            .d
            .create(None, req)
            .await
            .map_err(|e| BuildError::Invalid(e.to_string()))?;
        self.say_running(out, &id);
        let c = self
            .d
            .lookup(&id)
            .map_err(|e| BuildError::Backend(e.to_string()))?;
        // Subscribed before the start, so nothing the command prints is missed.
        let mut output = c.output.subscribe();
        let out2 = out.clone();
        let forward = tokio::spawn(async move {
            loop {
                match output.recv().await {
                    Ok(Output::Stdout(b)) => {
                        let _ = out2.send(Message::Stream(String::from_utf8_lossy(&b).into()));
                    }
                    // Docker marks a step's standard error in red for the terminal.
                    Ok(Output::Stderr(b)) => {
                        let text = String::from_utf8_lossy(&b);
                        let _ = out2.send(Message::Stream(format!("\x1b[91m{text}\x1b[0m")));
                    }
                    Ok(Output::Closed) | Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        break
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                }
            }
        });
        let exited = self
            .d
            .wait(&id, "next-exit")
            .map_err(|e| BuildError::Backend(e.to_string()))?;
        if let Err(e) = self.d.start(&id).await {
            forward.abort();
            self.remove(&id).await;
            return Err(BuildError::Invalid(e.to_string()));
        }
        let code = exited.await.status_code;
        // The output ends with the process; wait for the last of it, within reason.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), forward).await;
        Ok((id, code))
    }

    async fn scratch(&self, parent: Option<&Image>) -> BResult<Scratch> {
        let id = crate::util::id::random_id();
        let top = parent.and_then(top_chain);
        let id2 = id.clone();
        let root = self
            .blocking("preparing a layer", move |s| {
                let layers = s.layers();
                layers
                    .create_container_layers(&id2, top.as_deref())
                    .map_err(|e| e.to_string())?;
                layers.mount(&id2).map_err(|e| {
                    let _ = layers.remove_container_layers(&id2);
                    e.to_string()
                })
            })
            .await?;
        Ok(Scratch { id, root })
    }

    async fn commit(
        &self,
        parent: Option<&Image>,
        container: Option<&str>,
        mut config: ImageConfig,
        key: &str,
    ) -> BResult<Image> {
        let parent_id = parent.map(|p| p.id.clone());
        let container = container.map(str::to_string);
        let key = key.to_string();
        let image = self
            .blocking("committing the step", move |s| {
                let layers = s.layers();
                if let Some(c) = &container {
                    let upper = layers.upper_dir(c).map_err(|e| e.to_string())?;
                    let mut tmp = tempfile::tempfile_in(s.tmp_dir()).map_err(|e| e.to_string())?;
                    let (diff_id, _) = pack::pack_layer(&upper, &mut tmp)
                        .map_err(|e| format!("packing the layer: {e}"))?;
                    use std::io::Seek;
                    tmp.rewind().map_err(|e| e.to_string())?;
                    let below = layers.container_parent(c);
                    layers
                        .apply_layer(below.as_deref(), &diff_id, &mut tmp)
                        .map_err(|e| e.to_string())?;
                    config.rootfs.kind = "layers".into();
                    config.rootfs.diff_ids.push(diff_id);
                }
                let raw = serde_json::to_vec(&config).map_err(|e| e.to_string())?;
                let id = s.put_config(&raw).map_err(|e| e.to_string())?;
                s.record_build_step(parent_id.as_deref(), &key, &id)
                    .map_err(|e| e.to_string())?;
                Ok(Image { id, config })
            })
            .await?;
        Ok(image)
    }

    async fn remove(&self, container: &str) {
        if self.d.lookup(container).is_ok() {
            if let Err(e) = self.d.remove(container, true, true).await {
                tracing::warn!("build: removing container {container}: {e}");
            }
            return;
        }
        let id = container.to_string();
        let _ = self
            .blocking("removing a layer", move |s| {
                s.layers()
                    .remove_container_layers(&id)
                    .map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| tracing::warn!("build: {e}"));
    }

    async fn tag(&self, id: &str, reference: &str) -> BResult<String> {
        self.d
            .image_tag_ref(id, reference)
            .await
            .map_err(|e| BuildError::Invalid(e.to_string()))
    }
}

impl DaemonBackend {
    fn say_running(&self, out: &Out, id: &str) {
        let _ = out.send(Message::Stream(format!(
            " ---> Running in {}\n",
            builder::short(id)
        )));
    }
}

/// The chain id of an image's top layer.
fn top_chain(img: &Image) -> Option<String> {
    let mut chain: Option<String> = None;
    for d in &img.config.rootfs.diff_ids {
        chain = Some(crate::layers::chain_id(chain.as_deref(), d));
    }
    chain
}

/// A build's own directory under the daemon's tmp: the context, and what steps download.
/// Removed, whatever happens, when the build ends.
pub struct BuildDir {
    pub path: PathBuf,
}

impl BuildDir {
    pub fn new(tmp: &Path) -> std::io::Result<BuildDir> {
        let path = tmp.join(format!("build-{}", &crate::util::id::random_id()[..16]));
        std::fs::create_dir_all(path.join("context"))?;
        Ok(BuildDir { path })
    }

    pub fn context(&self) -> PathBuf {
        self.path.join("context")
    }
}

impl Drop for BuildDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Unpack a build context (a tar, plain or compressed) into `dest`. Entries that would leave
/// it (`../`, absolute paths, through a link) are refused by the tar crate; links are
/// written as links and followed by nothing here.
pub fn unpack_context(body: impl std::io::Read, dest: &Path) -> std::io::Result<()> {
    let reader = builder::decompressed(body)?;
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    let mut unpacked_any = false;
    for entry in archive.entries()? {
        let mut entry = match entry {
            Ok(e) => e,
            // The docker CLI, when it adds a Dockerfile from outside the context (`-f`),
            // ends the tar right after that file's bytes: no padding, no end blocks. The last
            // entry was whole (it unpacked), so this is the end, as Docker's reader takes it.
            Err(e)
                if unpacked_any
                    && (e.kind() == std::io::ErrorKind::UnexpectedEof
                        || e.to_string().contains("unexpected EOF")) =>
            {
                break
            }
            Err(e) => return Err(e),
        };
        let rel = crate::layers::clean_entry_path(&entry.path()?)?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        // The tar crate's error names the path; the cause is in its source.
        let unpacked = entry.unpack_in(dest).map_err(|e| {
            let cause = std::error::Error::source(&e)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            std::io::Error::new(e.kind(), format!("{e}{cause}"))
        })?;
        if !unpacked {
            return Err(std::io::Error::other(format!(
                "the context entry {} would leave the context",
                rel.display()
            )));
        }
        unpacked_any = true;
    }
    Ok(())
}

/// A `.dockerignore` that names itself or the Dockerfile: both came in the context anyway
/// (the client must send them), and are taken out of it once the Dockerfile is read, so a
/// `COPY .` does not see them, as in Docker.
fn forget_ignored_build_files(context: &Path, dockerfile: &str) {
    let Ok(text) = std::fs::read(context.join(".dockerignore")) else {
        return;
    };
    let lines = crate::build::context::ignore::read_dockerignore(&text);
    let Ok(matcher) = crate::build::context::ignore::Matcher::new(&lines) else {
        return;
    };
    for f in [".dockerignore", dockerfile.trim_start_matches("./")] {
        if matcher.matches_or_parent_matches(f) {
            if let Ok(p) = crate::util::inroot::resolve_in_root(context, f, false) {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

impl Daemon {
    /// `POST /build`: the context is already unpacked in `dir`; build the Dockerfile found at
    /// `dockerfile` in it, streaming to `out`.
    pub async fn build(
        self: &Arc<Self>,
        dir: &BuildDir,
        dockerfile: &str,
        opts: &BuildOptions,
        out: &Out,
    ) -> BResult<String> {
        let context = dir.context();
        let name = if dockerfile.is_empty() {
            "Dockerfile"
        } else {
            dockerfile
        };
        let path = crate::util::inroot::resolve_in_root(&context, name, true).map_err(|e| {
            BuildError::Invalid(format!("Cannot locate specified Dockerfile: {name}: {e}"))
        })?;
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            // Docker also takes `dockerfile` in any case when the default is missing.
            Err(_) if dockerfile.is_empty() => std::fs::read_to_string(context.join("dockerfile"))
                .map_err(|_| {
                    BuildError::Invalid("Cannot locate specified Dockerfile: Dockerfile".into())
                })?,
            Err(_) => {
                return Err(BuildError::Invalid(format!(
                    "Cannot locate specified Dockerfile: {name}"
                )))
            }
        };
        forget_ignored_build_files(&context, name);
        let backend = DaemonBackend { d: self.clone() };
        let id = builder::build(&backend, &context, &text, opts, out).await?;
        Ok(id)
    }
}
