//! The builder (chapter 08): a parsed Dockerfile and a context directory in, an image out,
//! one step at a time, as Docker's classic builder does it. Every step starts from an image
//! and makes a new one: a RUN is a container of that image whose changes are committed, a
//! COPY or ADD writes into a mounted layer that is committed the same way, every other
//! instruction changes only the config. Before a step is done, the cache is asked for the
//! image this same step made on this same parent before.
//!
//! The builder knows nothing of the daemon: it asks a [`Backend`] to find, run, mount and
//! commit, which the daemon implements with the same code that serves `run` and `commit`.

mod copy;
mod copy_step;
mod dispatch;
mod stages;
#[cfg(test)]
mod tests;

use crate::build::dockerfile;
use crate::image::config::ImageConfig;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};

pub use copy::{decompressed, hash_sources, CopyPlan};
pub use dispatch::{created_by_nop, StageState};

/// An image as the builder sees it: its id and its config.
#[derive(Debug, Clone)]
pub struct Image {
    pub id: String,
    pub config: ImageConfig,
}

/// What the build streams back, in the order it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Text for the user (Docker's `{"stream": …}`).
    Stream(String),
    /// The built image's id (Docker's `{"aux": {"ID": …}}`).
    Aux(String),
    /// A pull's progress, passed on as the registry code wrote it.
    Progress(serde_json::Value),
}

pub type Out = tokio::sync::mpsc::UnboundedSender<Message>;

/// How one build was asked for (`POST /build`'s query).
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub tags: Vec<String>,
    /// `--build-arg K=V`; `None` when the client sent a name without a value.
    pub build_args: BTreeMap<String, Option<String>>,
    pub labels: BTreeMap<String, String>,
    pub no_cache: bool,
    /// Remove each step's container once the step succeeded (Docker's default).
    pub rm: bool,
    /// Remove the container of a failing step too.
    pub force_rm: bool,
    pub pull: bool,
    pub target: Option<String>,
    pub cache_from: Vec<String>,
    /// What every RUN container gets: network mode, extra hosts, resources.
    pub run: RunOptions,
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub network_mode: String,
    pub extra_hosts: Vec<String>,
    pub shm_size: i64,
    pub memory: i64,
    pub memory_swap: i64,
    pub cpu_shares: i64,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
}

/// One RUN as a container: the command and what the config gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    pub argv: Vec<String>,
    /// The config's environment, then the build args the step sees.
    pub env: Vec<String>,
    pub user: String,
    pub workdir: String,
}

/// A container the builder made, for as long as the step needs it.
#[derive(Debug, Clone)]
pub struct Scratch {
    pub id: String,
    /// The container's root as the host reaches it (a merged overlay, or a plain directory
    /// for a first layer on `scratch`).
    pub root: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Parse(#[from] dockerfile::ParseError),
    /// A step's command failed; `code` is its exit code.
    #[error("The command '{command}' returned a non-zero code: {code}")]
    Run { command: String, code: i64 },
    /// Bad input: a missing file, a bad flag, an unknown stage.
    #[error("{0}")]
    Invalid(String),
    /// Something the daemon could not do.
    #[error("{0}")]
    Backend(String),
}

impl BuildError {
    /// The code the docker CLI exits with: the failed command's, else 1.
    pub fn code(&self) -> i64 {
        match self {
            BuildError::Run { code, .. } => *code,
            _ => 1,
        }
    }
}

pub type Result<T> = std::result::Result<T, BuildError>;

/// What the builder needs from the engine. Every method may block on the disk, so the
/// daemon runs them off its async threads.
pub trait Backend: Send + Sync {
    /// `FROM name`: a local image, pulled first with `pull` (or when it is not there).
    fn image(
        &self,
        name: &str,
        pull: bool,
        out: &Out,
    ) -> impl Future<Output = Result<Image>> + Send;
    /// A local image, never pulled (for `--cache-from`).
    fn local(&self, name: &str) -> impl Future<Output = Option<Image>> + Send;
    /// The image the step `key` made on `parent` before, if the cache still has it.
    fn cached(&self, parent: Option<&str>, key: &str)
        -> impl Future<Output = Option<Image>> + Send;
    /// Run a RUN step's container of `parent`, its output streamed to `out`; the container
    /// is left for [`Backend::commit`] (or removal) and its id returned with the exit code.
    fn run(
        &self,
        parent: &Image,
        spec: &RunSpec,
        opts: &RunOptions,
        out: &Out,
    ) -> impl Future<Output = Result<(String, i64)>> + Send;
    /// A container of `parent` (None: `scratch`) that is not started, its root mounted, for
    /// the builder to write into.
    fn scratch(&self, parent: Option<&Image>) -> impl Future<Output = Result<Scratch>> + Send;
    /// A new image: `config`, with the changes of `container` as a new layer when it is
    /// given, recorded as the child of `parent` made by the step `key`.
    fn commit(
        &self,
        parent: Option<&Image>,
        container: Option<&str>,
        config: ImageConfig,
        key: &str,
    ) -> impl Future<Output = Result<Image>> + Send;
    /// Remove a container the builder made (a RUN's or a scratch one), with its mounts.
    fn remove(&self, container: &str) -> impl Future<Output = ()> + Send;
    fn tag(&self, id: &str, reference: &str) -> impl Future<Output = Result<String>> + Send;
}

/// Build the Dockerfile at `dockerfile` (a path in `context`) and tag the result. Returns the
/// image id; every step's text went to `out`.
pub async fn build<B: Backend>(
    backend: &B,
    context: &Path,
    dockerfile_text: &str,
    opts: &BuildOptions,
    out: &Out,
) -> Result<String> {
    let mut df = dockerfile::parse(dockerfile_text)?;
    // `--label`s become a last LABEL step of the target stage, as the classic builder adds
    // them (so they count in "Step N/M" and show in history).
    let plan = stages::plan(&df, opts)?;
    if !opts.labels.is_empty() {
        stages::append_labels(&mut df, plan.target, &opts.labels)?;
    }
    let total = stages::count_steps(&df, &plan);
    let mut ctx = stages::Context {
        backend,
        context,
        opts,
        out,
        df: &df,
        step: 0,
        total,
        results: vec![None; df.stages.len()],
        used_args: Default::default(),
        mounted: Default::default(),
        cache_from: Vec::new(),
    };
    let outcome = ctx.run_stages(&plan).await;
    ctx.release_mounts().await;
    let image = outcome?;
    let unused: Vec<&String> = opts
        .build_args
        .keys()
        .filter(|k| !ctx.used_args.contains(*k) && !dispatch::is_predefined_arg(k))
        .collect();
    if !unused.is_empty() {
        let names: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
        let _ = out.send(Message::Stream(format!(
            "[Warning] One or more build-args [{}] were not consumed\n",
            names.join(" ")
        )));
    }
    let _ = out.send(Message::Aux(image.id.clone()));
    let _ = out.send(Message::Stream(format!(
        "Successfully built {}\n",
        short(&image.id)
    )));
    for t in &opts.tags {
        let shown = backend.tag(&image.id, t).await?;
        let _ = out.send(Message::Stream(format!("Successfully tagged {shown}\n")));
    }
    Ok(image.id)
}

/// The 12 hex digits Docker shows of an id.
pub fn short(id: &str) -> &str {
    let hex = id.trim_start_matches("sha256:");
    &hex[..hex.len().min(12)]
}
