//! COPY and ADD as steps of a stage: where the sources are read from (the context, an
//! earlier stage, another image), what the step is known by in the cache (the content hash
//! of its sources), and the copy into a mounted layer that is then committed. The file work
//! itself is in [`super::copy`].

use super::copy::{self, CopyPlan, Ownership};
use super::dispatch::{self, StageState};
use super::stages::{stage_named, Context};
use super::{short, Backend, BuildError, Image, Result};
use crate::build::dockerfile::{expand_with_escape, FileCopy};
use std::collections::BTreeMap;
use std::path::Path;

impl<B: Backend> Context<'_, B> {
    /// The root a `COPY --from` reads: an earlier stage's image or another image, mounted
    /// once for the build.
    pub(super) async fn source_root(
        &mut self,
        stage: usize,
        from: &str,
    ) -> Result<std::path::PathBuf> {
        let image = match stage_named(self.df, from, stage) {
            Some(j) => self.results[j].clone().ok_or_else(|| {
                BuildError::Invalid(format!("stage {from} was not built before this one"))
            })?,
            None => self.backend.image(from, false, self.out).await?,
        };
        if let Some(s) = self.mounted.get(&image.id) {
            return Ok(s.root.clone());
        }
        let scratch = self.backend.scratch(Some(&image)).await?;
        let root = scratch.root.clone();
        self.mounted.insert(image.id.clone(), scratch);
        Ok(root)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn copy(
        &mut self,
        stage: usize,
        state: &mut StageState,
        parent: Option<Image>,
        c: &FileCopy,
        add: bool,
        vars: &BTreeMap<String, String>,
        use_cache: &mut bool,
    ) -> Result<Image> {
        let name = if add { "ADD" } else { "COPY" };
        if add && c.from.is_some() {
            return Err(BuildError::Invalid(
                "ADD does not support the --from flag".into(),
            ));
        }
        let workdir = state
            .config
            .working_dir
            .clone()
            .unwrap_or_else(|| "/".into());
        let mut dest = if c.dest.starts_with('/') {
            c.dest.clone()
        } else {
            format!("{}/{}", workdir.trim_end_matches('/'), c.dest)
        };
        if c.dest.ends_with('/') && !dest.ends_with('/') {
            dest.push('/');
        }
        let (src_root, follow) = match &c.from {
            Some(from) => (self.source_root(stage, from).await?, true),
            None => (self.context.to_path_buf(), false),
        };
        let build_dir = self.context.parent().unwrap_or(self.context).to_path_buf();
        let sources = c.sources.clone();
        let heredocs = c.heredocs.clone();
        let vars = vars.clone();
        let escape = self.df.escape;
        let dest2 = dest.clone();
        let step = self.step;
        let chmod = c.chmod.as_deref().map(copy::parse_chmod).transpose()?;
        // Downloads and heredocs become files in the build's own directory, then are copied
        // like any other source.
        let plan = tokio::task::spawn_blocking(move || -> Result<CopyPlan> {
            let extra = build_dir.join(format!("step-{step}"));
            let mut local = Vec::new();
            let mut fetched = Vec::new();
            for s in &sources {
                if add && (s.starts_with("http://") || s.starts_with("https://")) {
                    fetched.push(fetch(s, &extra)?);
                } else {
                    local.push(s.clone());
                }
            }
            for h in &heredocs {
                let body = if h.expand {
                    expand_with_escape(&h.body, &vars, escape).unwrap_or_else(|_| h.body.clone())
                } else {
                    h.body.clone()
                };
                std::fs::create_dir_all(&extra).map_err(|e| BuildError::Backend(e.to_string()))?;
                let path = extra.join(&h.name);
                std::fs::write(&path, body).map_err(|e| BuildError::Backend(e.to_string()))?;
                let mut p = std::fs::metadata(&path)
                    .map_err(|e| BuildError::Backend(e.to_string()))?
                    .permissions();
                std::os::unix::fs::PermissionsExt::set_mode(&mut p, 0o644);
                let _ = std::fs::set_permissions(&path, p);
                fetched.push((path, None));
            }
            let count = local.len() + fetched.len();
            let dest_dir = dest2.ends_with('/') || count > 1;
            if count > 1 && !dest2.ends_with('/') {
                return Err(BuildError::Invalid(format!(
                    "When using {name} with more than one source file, the destination must be a directory and end with a /"
                )));
            }
            let mut plan = if local.is_empty() {
                CopyPlan { items: Vec::new(), kind: "file" }
            } else {
                CopyPlan::new(&src_root, &local, &dest2, dest_dir, follow, name)?
            };
            for (path, mode) in fetched {
                let fname = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
                let clean = dispatch::clean_abs(&dest2);
                let item_dest = if dest_dir { format!("{}/{fname}", clean.trim_end_matches('/')) } else { clean };
                plan.items.push(copy::Item { src: path, dest: item_dest, extract: false, mode });
            }
            if plan.items.len() > 1 {
                plan.kind = "multi";
            }
            if add {
                for item in &mut plan.items {
                    if item.mode.is_none() && copy::is_archive(&item.src) {
                        item.extract = true;
                        item.dest = dispatch::clean_abs(dest2.trim_end_matches('/'));
                    }
                }
            }
            Ok(plan)
        })
        .await
        .map_err(|e| BuildError::Backend(e.to_string()))??;
        let plan2 = plan.clone();
        let hash = tokio::task::spawn_blocking(move || copy::hash_sources(&plan2))
            .await
            .map_err(|e| BuildError::Backend(e.to_string()))?
            .map_err(|e| BuildError::Invalid(format!("{name} failed: {e}")))?;
        let shown_dest = dispatch::clean_abs(&dest);
        let created_by = format!(
            "{} #(nop) {name} {hash} in {} ",
            state.shell().join(" "),
            if dest.ends_with('/') && shown_dest != "/" {
                format!("{shown_dest}/")
            } else {
                shown_dest
            }
        );
        let key = format!(
            "{created_by}|chown={}|chmod={}",
            c.chown.as_deref().unwrap_or(""),
            c.chmod.as_deref().unwrap_or("")
        );
        if let Some(hit) = self
            .try_cache(parent.as_ref(), &key, &created_by, state, use_cache)
            .await?
        {
            return Ok(hit);
        }
        let scratch = self.backend.scratch(parent.as_ref()).await?;
        let root = scratch.root.clone();
        let chown = c.chown.clone();
        let done = tokio::task::spawn_blocking(move || -> Result<()> {
            let (uid, gid) = match &chown {
                Some(spec) => copy::parse_chown(spec, &root)?,
                None => (0, 0),
            };
            copy::apply(&plan, &root, Ownership { uid, gid, chmod })
                .map_err(|e| BuildError::Invalid(format!("{name} failed: {e}")))
        })
        .await
        .map_err(|e| BuildError::Backend(e.to_string()))
        .and_then(|r| r);
        if let Err(e) = done {
            self.backend.remove(&scratch.id).await;
            return Err(e);
        }
        let config = self.next_config(parent.as_ref(), state, &created_by, false);
        let img = self
            .backend
            .commit(parent.as_ref(), Some(&scratch.id), config, &key)
            .await;
        self.backend.remove(&scratch.id).await;
        let img = img?;
        self.say(format!(" ---> {}\n", short(&img.id)));
        Ok(img)
    }
}

/// ADD of a URL: fetched into the build's directory, named after the URL's last segment,
/// mode 0600 as Docker gives it.
fn fetch(url: &str, dir: &Path) -> Result<(std::path::PathBuf, Option<u32>)> {
    let fail = |e: String| BuildError::Invalid(format!("ADD failed: {e}"));
    let resp = ureq::get(url).call().map_err(|e| fail(e.to_string()))?;
    let name = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .rsplit('/')
        .find(|s| !s.is_empty() && !s.contains(':'))
        .unwrap_or("__unnamed__")
        .to_string();
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    let path = dir.join(&name);
    let mut f = std::fs::File::create(&path).map_err(|e| fail(e.to_string()))?;
    std::io::copy(&mut resp.into_reader(), &mut f).map_err(|e| fail(e.to_string()))?;
    Ok((path, Some(0o600)))
}
