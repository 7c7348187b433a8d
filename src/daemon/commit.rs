//! A container's filesystem as data: `diff` (what its read-write layer changed, as Docker's
//! A/C/D list), `export` (its whole root as a tar), `commit` (its read-write layer packed
//! into a new layer on top of its image, with a new config: a new image) and `import` (a
//! filesystem tar as a one-layer image). All four meet at the layer store's pack and unpack,
//! which is why they share a file and the config-building rules (`--change`).

use super::error::{DaemonError, Result};
use super::Daemon;
use crate::image::config::{History, ImageConfig};
use crate::layers::pack::{self, Entry};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

/// Kinds of `GET /containers/{id}/changes`: 0 modified, 1 added, 2 deleted.
pub fn changes_in(
    upper: &std::path::Path,
    lowers: &[PathBuf],
) -> std::io::Result<Vec<(String, u8)>> {
    let mut out = Vec::new();
    for e in pack::walk(upper)? {
        let (rel, kind) = match e {
            Entry::Deleted(p) => (p, 2),
            Entry::Present(p) => {
                let below = lowers
                    .iter()
                    .any(|l| std::fs::symlink_metadata(l.join(&p)).is_ok());
                (p, if below { 0 } else { 1 })
            }
            Entry::Opaque(_) => continue,
        };
        out.push((format!("/{}", rel.display()), kind));
    }
    out.sort();
    Ok(out)
}

/// Every `-c` of `commit` or `import` (each may hold several lines), and a check of the name
/// the new image will get, both before anything is written.
fn apply_changes(
    cfg: &mut crate::image::config::ContainerConfig,
    changes: &[String],
    reference: Option<&str>,
) -> Result<()> {
    for ch in changes {
        for line in ch.lines().filter(|l| !l.trim().is_empty()) {
            apply_change(cfg, line).map_err(DaemonError::InvalidParameter)?;
        }
    }
    if let Some(r) = reference {
        crate::image::reference::Reference::parse(r)
            .map_err(|e| DaemonError::InvalidParameter(e.to_string()))?;
    }
    Ok(())
}

/// One `--change`/`-c` of `commit`: a Dockerfile instruction applied to the new config.
pub fn apply_change(
    cfg: &mut crate::image::config::ContainerConfig,
    change: &str,
) -> std::result::Result<(), String> {
    let change = change.trim();
    let (instr, rest) = change
        .split_once(char::is_whitespace)
        .map(|(a, b)| (a, b.trim()))
        .unwrap_or((change, ""));
    // The exec form (a JSON list) as is; the shell form through /bin/sh -c.
    let command = |rest: &str| -> Vec<String> {
        match serde_json::from_str::<Vec<String>>(rest) {
            Ok(list) => list,
            Err(_) => vec!["/bin/sh".into(), "-c".into(), rest.to_string()],
        }
    };
    let pairs = |rest: &str| -> std::result::Result<Vec<(String, String)>, String> {
        if rest.contains('=') {
            rest.split_whitespace()
                .map(|kv| {
                    let (k, v) = kv
                        .split_once('=')
                        .ok_or_else(|| format!("{instr} {rest}: expected KEY=VALUE"))?;
                    Ok((k.to_string(), v.trim_matches('"').to_string()))
                })
                .collect()
        } else {
            let (k, v) = rest
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("{instr} {rest}: expected KEY VALUE"))?;
            Ok(vec![(k.to_string(), v.trim().to_string())])
        }
    };
    match instr.to_ascii_uppercase().as_str() {
        "CMD" => cfg.cmd = Some(command(rest)),
        "ENTRYPOINT" => cfg.entrypoint = Some(command(rest)),
        "WORKDIR" => cfg.working_dir = Some(rest.to_string()),
        "USER" => cfg.user = Some(rest.to_string()),
        "STOPSIGNAL" => cfg.stop_signal = Some(rest.to_string()),
        "ENV" => {
            let mut env = cfg.env.clone().unwrap_or_default();
            for (k, v) in pairs(rest)? {
                env.retain(|e| e.split('=').next() != Some(k.as_str()));
                env.push(format!("{k}={v}"));
            }
            cfg.env = Some(env);
        }
        "LABEL" => {
            let mut labels = cfg.labels.clone().unwrap_or_default();
            for (k, v) in pairs(rest)? {
                labels.insert(k, v);
            }
            cfg.labels = Some(labels);
        }
        "EXPOSE" => {
            let mut ports = cfg.exposed_ports.clone().unwrap_or_default();
            for p in rest.split_whitespace() {
                let key = if p.contains('/') { p.to_string() } else { format!("{p}/tcp") };
                ports.insert(key, json!({}));
            }
            cfg.exposed_ports = Some(ports);
        }
        "VOLUME" => {
            let mut vols = cfg.volumes.clone().unwrap_or_default();
            let list = serde_json::from_str::<Vec<String>>(rest)
                .unwrap_or_else(|_| rest.split_whitespace().map(String::from).collect());
            for v in list {
                vols.insert(v, json!({}));
            }
            cfg.volumes = Some(vols);
        }
        other => {
            return Err(format!(
                "{other} is not a valid change command (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR)"
            ))
        }
    }
    Ok(())
}

/// What `POST /commit` asks for.
#[derive(Debug, Default, Clone)]
pub struct CommitRequest {
    pub container: String,
    pub reference: Option<String>,
    pub comment: String,
    pub author: String,
    pub pause: bool,
    pub changes: Vec<String>,
}

impl Daemon {
    /// `GET /containers/{id}/changes`.
    pub async fn container_changes(&self, input: &str) -> Result<Vec<Value>> {
        let c = self.lookup(input)?;
        let id = c.id.clone();
        let images = self.images.clone();
        let list = tokio::task::spawn_blocking(move || {
            let store = images.lock().unwrap();
            let upper = store.layers().upper_dir(&id)?;
            let lowers = store.layers().lower_dirs(&id)?;
            changes_in(&upper, &lowers).map_err(|e| crate::layers::LayerError::Io {
                context: "reading the container's changes".into(),
                source: e,
            })
        })
        .await
        .map_err(|e| DaemonError::system("diff", e))?
        .map_err(|e| DaemonError::system("diff", e))?;
        Ok(list
            .into_iter()
            .map(|(path, kind)| json!({ "Path": path, "Kind": kind }))
            .collect())
    }

    /// `GET /containers/{id}/export`: the container's root filesystem as a tar, written to
    /// `out` (the response body) as it is read. A stopped container is mounted for the time.
    pub async fn container_export(
        &self,
        input: &str,
        out: tokio::sync::mpsc::Sender<bytes::Bytes>,
    ) -> Result<()> {
        let mounted = self.mount_root(input)?;
        tokio::task::spawn_blocking(move || {
            let writer = ChannelWriter::new(out);
            if let Err(e) = pack::pack_tree(&mounted.root.merged, writer) {
                tracing::warn!("export of {}: {e}", mounted.container_id());
            }
        });
        Ok(())
    }

    /// `POST /commit`: the container's read-write layer becomes a new layer on its image's,
    /// with the container's config (and the changes) as the new image's config. With `pause`
    /// (Docker's default) a running container is paused meanwhile, and unpaused after, failed
    /// or not; the work runs in a task of its own so a client that hangs up cannot leave the
    /// container paused.
    pub async fn commit(self: &Arc<Self>, req: CommitRequest) -> Result<String> {
        let d = self.clone();
        tokio::spawn(async move { d.commit_now(req).await })
            .await
            .map_err(|e| DaemonError::system("commit", e))?
    }

    async fn commit_now(self: &Arc<Self>, req: CommitRequest) -> Result<String> {
        let c = self.lookup(&req.container)?;
        let rec = c.snapshot();
        let mut cfg: crate::image::config::ContainerConfig =
            serde_json::from_value(serde_json::to_value(&rec.config).unwrap_or(Value::Null))
                .unwrap_or_default();
        // What only a running container has is not part of an image.
        for k in [
            "AttachStdin",
            "AttachStdout",
            "AttachStderr",
            "Tty",
            "OpenStdin",
            "StdinOnce",
            "Image",
            "Hostname",
        ] {
            cfg.extra.remove(k);
        }
        cfg.hostname = None;
        apply_changes(&mut cfg, &req.changes, req.reference.as_deref())?;
        let paused = req.pause && self.pause_for_commit(&c).await?;
        let images = self.images.clone();
        let id = rec.id.clone();
        let now = super::now_rfc3339();
        let created_by = std::iter::once(rec.path.clone())
            .chain(rec.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        let image_id = rec.image.clone();
        let (comment, author, reference) = (
            req.comment.clone(),
            req.author.clone(),
            req.reference.clone(),
        );
        let made = tokio::task::spawn_blocking(move || -> std::result::Result<String, String> {
            let store = images.lock().unwrap();
            let base = store.get(&image_id).map_err(|e| e.to_string())?;
            let layers = store.layers();
            let upper = layers.upper_dir(&id).map_err(|e| e.to_string())?;
            let mut tmp = tempfile::tempfile_in(store.tmp_dir()).map_err(|e| e.to_string())?;
            let (diff_id, _) = pack::pack_layer(&upper, &mut tmp)
                .map_err(|e| format!("packing the layer: {e}"))?;
            use std::io::Seek;
            tmp.rewind().map_err(|e| e.to_string())?;
            let parent = layers.container_parent(&id);
            layers
                .apply_layer(parent.as_deref(), &diff_id, &mut tmp)
                .map_err(|e| e.to_string())?;
            let config = committed_config(
                &base.config,
                cfg,
                &CommitStep {
                    now: &now,
                    author: &author,
                    comment: &comment,
                    created_by: &created_by,
                    container: &id,
                    diff_id: &diff_id,
                },
            );
            let raw = serde_json::to_vec(&config).map_err(|e| e.to_string())?;
            let new_id = store.put_config(&raw).map_err(|e| e.to_string())?;
            // Docker's commit names the container's image as the new image's parent.
            store
                .set_parent(&new_id, &image_id)
                .map_err(|e| e.to_string())?;
            if let Some(r) = &reference {
                store.tag(r, &new_id).map_err(|e| e.to_string())?;
            }
            Ok(new_id)
        })
        .await
        .map_err(|e| DaemonError::system("commit", e));
        if paused {
            if let Err(e) = self.unpause_after_commit(&c).await {
                tracing::warn!("unpausing {} after its commit: {e}", rec.id);
            }
        }
        let new_id =
            made?.map_err(|e| DaemonError::System(format!("committing {}: {e}", rec.id)))?;
        self.container_event(&rec, "commit", &[("comment", req.comment.clone())]);
        Ok(new_id)
    }
}

/// What one `commit` adds to its image's config.
pub struct CommitStep<'a> {
    pub now: &'a str,
    pub author: &'a str,
    pub comment: &'a str,
    pub created_by: &'a str,
    pub container: &'a str,
    pub diff_id: &'a str,
}

/// The new image's config: the base's, with the container's config, one more diff id and one
/// more history entry, as Docker writes them.
pub fn committed_config(
    base: &ImageConfig,
    cfg: crate::image::config::ContainerConfig,
    step: &CommitStep,
) -> ImageConfig {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let mut config = base.clone();
    config.created = Some(step.now.to_string());
    config.author = some(step.author);
    config.comment = some(step.comment);
    config.config = Some(cfg);
    config
        .extra
        .insert("container".into(), json!(step.container));
    config.rootfs.kind = "layers".into();
    config.rootfs.diff_ids.push(step.diff_id.to_string());
    let mut history = config.history.clone().unwrap_or_default();
    history.push(History {
        created: Some(step.now.to_string()),
        created_by: Some(step.created_by.to_string()),
        author: some(step.author),
        comment: some(step.comment),
        empty_layer: None,
        extra: Default::default(),
    });
    config.history = Some(history);
    config
}

pub(crate) use crate::util::chanio::ChannelWriter;

/// What `POST /images/create?fromSrc=-` asks for, besides the tar in the body.
pub struct ImportRequest {
    pub reference: Option<String>,
    pub message: String,
    pub changes: Vec<String>,
    pub platform_os: String,
}

impl Daemon {
    /// `import`: a root filesystem tar (plain, gzip or zstd) becomes a one-layer image whose
    /// config holds only the changes (`-c`) and whose history says where it came from.
    pub(crate) fn import_blocking(
        &self,
        tar: impl std::io::Read,
        req: ImportRequest,
    ) -> Result<String> {
        let mut cfg = crate::image::config::ContainerConfig::default();
        apply_changes(&mut cfg, &req.changes, req.reference.as_deref())?;
        let tmp_dir = self.config.root.join("tmp");
        // The diff id is the digest of the decompressed tar, known only at its end: spool it
        // (hashing as it is written), then unpack it as any layer, checked against that digest.
        let mut tmp = tempfile::tempfile_in(&tmp_dir)
            .map_err(|e| DaemonError::system("creating a spool file", e))?;
        let mut input = crate::image::archive::decompress(tar)
            .map_err(|e| DaemonError::InvalidParameter(format!("reading the archive: {e}")))?;
        let mut hashing = pack::HashingWriter::new(&mut tmp);
        std::io::copy(&mut input, &mut hashing)
            .map_err(|e| DaemonError::InvalidParameter(format!("reading the archive: {e}")))?;
        let (diff_id, size, _) = hashing.finish();
        if size == 0 {
            return Err(DaemonError::InvalidParameter(
                "the archive is empty: import needs a tar of a root filesystem".into(),
            ));
        }
        use std::io::Seek;
        tmp.rewind()
            .map_err(|e| DaemonError::system("rewinding the spool file", e))?;
        let now = super::now_rfc3339();
        let comment = if req.message.is_empty() {
            "Imported from -".to_string()
        } else {
            req.message.clone()
        };
        let store = self.images.lock().unwrap();
        let existed = store
            .layers()
            .exists(&crate::layers::chain_id(None, &diff_id));
        store
            .layers()
            .apply_layer(None, &diff_id, &mut tmp)
            .map_err(|e| {
                DaemonError::InvalidParameter(format!("the archive is not a valid tar: {e}"))
            })?;
        let config = json!({
            "architecture": crate::image::archive::host_arch(),
            "os": req.platform_os,
            "created": now,
            "config": cfg,
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": now, "comment": comment}],
        });
        let raw = serde_json::to_vec(&config).expect("a config serializes");
        let undo = |store: &crate::image::ImageStore| {
            if !existed {
                let _ = store
                    .layers()
                    .release_layer(&crate::layers::chain_id(None, &diff_id));
            }
        };
        let id = match store.put_config(&raw) {
            Ok(id) => id,
            Err(e) => {
                undo(&store);
                return Err(DaemonError::system("storing the config", e));
            }
        };
        if let Some(r) = &req.reference {
            store
                .tag(r, &id)
                .map_err(|e| DaemonError::system("tagging", e))?;
        }
        drop(store);
        let attrs = [("name".to_string(), id.clone())].into();
        self.events
            .emit(super::events::Event::new("image", "import", &id, attrs));
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(
        "CMD [\"sh\", \"-c\", \"echo hi\"]",
        r#"{"Cmd":["sh","-c","echo hi"]}"#
    )]
    #[case("CMD echo hi", r#"{"Cmd":["/bin/sh","-c","echo hi"]}"#)]
    #[case("ENV A=1 B=2", r#"{"Env":["A=1","B=2"]}"#)]
    #[case("ENV A one", r#"{"Env":["A=one"]}"#)]
    #[case("EXPOSE 80 53/udp", r#"{"ExposedPorts":{"53/udp":{},"80/tcp":{}}}"#)]
    #[case("WORKDIR /srv", r#"{"WorkingDir":"/srv"}"#)]
    #[case("USER nobody", r#"{"User":"nobody"}"#)]
    #[case("LABEL team=blue", r#"{"Labels":{"team":"blue"}}"#)]
    #[case("ENTRYPOINT [\"/bin/true\"]", r#"{"Entrypoint":["/bin/true"]}"#)]
    fn changes_apply_like_dockerfile_instructions(#[case] change: &str, #[case] want: &str) {
        let mut cfg = crate::image::config::ContainerConfig::default();
        apply_change(&mut cfg, change).unwrap();
        assert_eq!(
            serde_json::to_value(&cfg).unwrap(),
            serde_json::from_str::<Value>(want).unwrap()
        );
    }

    #[test]
    fn unknown_changes_are_refused_by_name() {
        let mut cfg = crate::image::config::ContainerConfig::default();
        let err = apply_change(&mut cfg, "RUN rm -rf /").unwrap_err();
        assert!(
            err.starts_with("RUN is not a valid change command"),
            "{err}"
        );
    }

    #[test]
    fn committed_config_snapshot() {
        let base: ImageConfig = serde_json::from_str(
            r#"{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z",
                "config":{"Cmd":["sh"],"Env":["PATH=/bin"]},
                "rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111"]},
                "history":[{"created":"2024-01-01T00:00:00Z","created_by":"busybox-static"}]}"#,
        )
        .unwrap();
        let mut cfg: crate::image::config::ContainerConfig =
            serde_json::from_str(r#"{"Cmd":["sleep","300"],"Env":["PATH=/bin"]}"#).unwrap();
        apply_change(&mut cfg, r#"CMD ["cat", "/data/f"]"#).unwrap();
        apply_change(&mut cfg, "ENV GREETING=hello").unwrap();
        apply_change(&mut cfg, "EXPOSE 8080/tcp").unwrap();
        apply_change(&mut cfg, "LABEL course=berth").unwrap();
        apply_change(&mut cfg, "WORKDIR /data").unwrap();
        apply_change(&mut cfg, "USER nobody").unwrap();
        let config = committed_config(
            &base,
            cfg,
            &CommitStep {
                now: "2026-11-24T12:00:00Z",
                author: "A Learner",
                comment: "add data",
                created_by: "sleep 300",
                container: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                diff_id: "sha256:2222222222222222222222222222222222222222222222222222222222222222",
            },
        );
        insta::assert_snapshot!(serde_json::to_string_pretty(&config).unwrap());
    }
}
