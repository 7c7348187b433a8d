//! The build's order: which stages the target needs (BuildKit's rule: a stage nothing needs
//! is not built), then each stage's steps one by one, each first looked up in the cache,
//! and the first miss ends the cache's use for the rest of that stage.

use super::dispatch::{self, StageState};
use super::{short, Backend, BuildError, BuildOptions, Image, Message, Out, Result, RunSpec};
use crate::build::dockerfile::{
    self, expand_with_escape, Dockerfile, Instruction, KeyValue, Stage, Step,
};
use crate::image::config::{History, ImageConfig, RootFs};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The stages to build, in order, and the one whose image is the result.
#[derive(Debug, Clone)]
pub struct Plan {
    pub needed: Vec<usize>,
    pub target: usize,
}

/// Values of the ARGs before the first FROM: the build's, else their defaults.
pub fn global_args(df: &Dockerfile, opts: &BuildOptions) -> Result<BTreeMap<String, String>> {
    let mut vars = BTreeMap::new();
    for step in &df.global_args {
        if let Instruction::Arg(decls) = &step.instruction {
            for d in decls {
                let value = match opts.build_args.get(&d.name) {
                    Some(Some(v)) => Some(v.clone()),
                    _ => d
                        .default
                        .as_deref()
                        .map(|w| expand_with_escape(w, &vars, df.escape))
                        .transpose()
                        .map_err(|e| BuildError::Parse(e.at_line(step.line)))?,
                };
                if let Some(v) = value {
                    vars.insert(d.name.clone(), v);
                }
            }
        }
    }
    Ok(vars)
}

fn stage_base(
    df: &Dockerfile,
    stage: &Stage,
    globals: &BTreeMap<String, String>,
) -> Result<String> {
    expand_with_escape(&stage.from.image, globals, df.escape)
        .map_err(|e| BuildError::Parse(e.at_line(stage.line)))
}

/// Which stage a `FROM` or `--from` names among those before `before`, if it names one.
pub(super) fn stage_named(df: &Dockerfile, name: &str, before: usize) -> Option<usize> {
    df.resolve_stage(name, before)
}

pub fn plan(df: &Dockerfile, opts: &BuildOptions) -> Result<Plan> {
    let target = match opts.target.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => df
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(t.to_ascii_lowercase().as_str()))
            .ok_or_else(|| {
                BuildError::Invalid(format!("failed to reach build target {t} in Dockerfile"))
            })?,
        None => df.stages.len() - 1,
    };
    let globals = global_args(df, opts)?;
    let mut needed = BTreeSet::new();
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if !needed.insert(i) {
            continue;
        }
        let stage = &df.stages[i];
        let base = stage_base(df, stage, &globals)?;
        if let Some(j) = stage_named(df, &base, i) {
            todo.push(j);
        }
        for step in &stage.steps {
            if let Instruction::Copy(c) = &step.instruction {
                if let Some(from) = &c.from {
                    let from = expand_with_escape(from, &globals, df.escape)
                        .unwrap_or_else(|_| from.clone());
                    match stage_named(df, &from, i) {
                        Some(j) => todo.push(j),
                        None if from.parse::<usize>().is_ok() => {
                            return Err(BuildError::Invalid(format!(
                                "invalid from flag value {from}: stage {from} is not defined before this one"
                            )))
                        }
                        None => {}
                    }
                }
            }
        }
    }
    Ok(Plan {
        needed: needed.into_iter().collect(),
        target,
    })
}

pub fn count_steps(df: &Dockerfile, plan: &Plan) -> usize {
    plan.needed
        .iter()
        .map(|i| 1 + df.stages[*i].steps.len())
        .sum()
}

/// `--label`s as a last LABEL step of the target stage.
pub fn append_labels(
    df: &mut Dockerfile,
    target: usize,
    labels: &BTreeMap<String, String>,
) -> Result<()> {
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let kvs: Vec<KeyValue> = labels
        .iter()
        .map(|(k, v)| KeyValue {
            key: quote(k),
            value: quote(v),
        })
        .collect();
    let original = std::iter::once("LABEL".to_string())
        .chain(kvs.iter().map(|kv| format!("{}={}", kv.key, kv.value)))
        .collect::<Vec<_>>()
        .join(" ");
    let stage = &mut df.stages[target];
    stage.steps.push(Step {
        line: 0,
        original,
        instruction: Instruction::Label(kvs),
    });
    Ok(())
}

pub(super) struct Context<'a, B: Backend> {
    pub backend: &'a B,
    pub context: &'a Path,
    pub opts: &'a BuildOptions,
    pub out: &'a Out,
    pub df: &'a Dockerfile,
    pub step: usize,
    pub total: usize,
    pub results: Vec<Option<Image>>,
    pub used_args: BTreeSet<String>,
    /// Roots of other images mounted for `COPY --from`, removed when the build ends.
    pub mounted: BTreeMap<String, super::Scratch>,
    /// The images of `--cache-from`, which steps may be taken from.
    pub cache_from: Vec<Image>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

impl<B: Backend> Context<'_, B> {
    pub(super) fn say(&self, text: impl Into<String>) {
        let _ = self.out.send(Message::Stream(text.into()));
    }

    fn header(&mut self, original: &str) {
        self.step += 1;
        self.say(format!("Step {}/{} : {original}", self.step, self.total));
        self.say("\n");
    }

    pub async fn release_mounts(&mut self) {
        for (_, s) in std::mem::take(&mut self.mounted) {
            self.backend.remove(&s.id).await;
        }
    }

    pub async fn run_stages(&mut self, plan: &Plan) -> Result<Image> {
        let globals = global_args(self.df, self.opts)?;
        for name in &self.opts.cache_from {
            // One that is not here is no cache, as with Docker (which only warns).
            match self.backend.local(name).await {
                Some(img) => self.cache_from.push(img),
                None => self.say(format!("[Warning] --cache-from image {name} not found\n")),
            }
        }
        for name in self
            .df
            .global_args
            .iter()
            .flat_map(|s| match &s.instruction {
                Instruction::Arg(d) => d.iter().map(|d| d.name.clone()).collect::<Vec<_>>(),
                _ => Vec::new(),
            })
        {
            self.used_args.insert(name);
        }
        for &i in &plan.needed {
            let image = self.run_stage(i, &globals).await?;
            self.results[i] = Some(image);
        }
        self.results[plan.target]
            .clone()
            .ok_or_else(|| BuildError::Backend("the target stage was not built".into()))
    }

    async fn run_stage(
        &mut self,
        index: usize,
        globals: &BTreeMap<String, String>,
    ) -> Result<Image> {
        let df = self.df;
        let stage = &df.stages[index];
        self.header(&stage.original);
        let base_name = stage_base(df, stage, globals)?;
        let base: Option<Image> = if let Some(j) = stage_named(df, &base_name, index) {
            self.results[j].clone()
        } else if base_name.eq_ignore_ascii_case("scratch") {
            None
        } else {
            Some(
                self.backend
                    .image(&base_name, self.opts.pull, self.out)
                    .await?,
            )
        };
        self.say(format!(
            " ---> {}\n",
            base.as_ref().map(|b| short(&b.id)).unwrap_or("")
        ));
        let mut state = StageState::new(
            base.as_ref()
                .and_then(|b| b.config.config.clone())
                .unwrap_or_default(),
        );
        let mut current = base;
        let mut use_cache = !self.opts.no_cache;
        // ONBUILD triggers of the base run first, and are not inherited further.
        let triggers = state.config.on_build.take().unwrap_or_default();
        if !triggers.is_empty() {
            self.say(format!(
                "# Executing {} build trigger{}\n",
                triggers.len(),
                if triggers.len() == 1 { "" } else { "s" }
            ));
            let text = format!("FROM scratch\n{}\n", triggers.join("\n"));
            let parsed = dockerfile::parse(&text).map_err(|e| {
                BuildError::Invalid(format!(
                    "failed to parse the base image's ONBUILD triggers: {e}"
                ))
            })?;
            for step in &parsed.stages[0].steps {
                if matches!(
                    step.instruction,
                    Instruction::Onbuild(_) | Instruction::From(_)
                ) {
                    return Err(BuildError::Invalid(
                        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into(),
                    ));
                }
                current = self
                    .run_step(index, step, &mut state, current, &mut use_cache, globals)
                    .await?;
            }
        }
        for step in &stage.steps {
            self.header(&step.original);
            current = self
                .run_step(index, step, &mut state, current, &mut use_cache, globals)
                .await?;
        }
        match current {
            Some(img) => Ok(img),
            // `FROM scratch` and nothing else: an image with no layers and an empty config.
            None => {
                let config = self.next_config(None, &state, "", true);
                self.backend
                    .commit(None, None, config, "FROM scratch")
                    .await
            }
        }
    }

    /// The config of the image a step makes: the parent's, with the stage's container config
    /// and one more history entry.
    pub(super) fn next_config(
        &self,
        parent: Option<&Image>,
        state: &StageState,
        created_by: &str,
        empty_layer: bool,
    ) -> ImageConfig {
        let mut config = parent
            .map(|p| p.config.clone())
            .unwrap_or_else(|| ImageConfig {
                architecture: Some(crate::image::archive::host_arch().to_string()),
                os: Some("linux".into()),
                rootfs: RootFs {
                    kind: "layers".into(),
                    diff_ids: Vec::new(),
                },
                ..Default::default()
            });
        let t = now();
        config.created = Some(t.clone());
        if let Some(a) = &state.author {
            config.author = Some(a.clone());
        }
        config.config = Some(state.config.clone());
        if !created_by.is_empty() {
            let mut history = config.history.take().unwrap_or_default();
            history.push(History {
                created: Some(t),
                created_by: Some(created_by.to_string()),
                author: state.author.clone(),
                comment: None,
                empty_layer: empty_layer.then_some(true),
                extra: Default::default(),
            });
            config.history = Some(history);
        }
        config
    }

    /// Looks the step up in the cache; on a hit the stage goes on from the cached image.
    /// `key` is what the step is known by in berth's cache; `created_by`, its history line,
    /// is how an image of `--cache-from` is matched.
    pub(super) async fn try_cache(
        &self,
        parent: Option<&Image>,
        key: &str,
        created_by: &str,
        state: &StageState,
        use_cache: &mut bool,
    ) -> Result<Option<Image>> {
        if !*use_cache {
            return Ok(None);
        }
        // With `--cache-from`, only those images are the cache (the classic builder's rule).
        let mut hit = if self.opts.cache_from.is_empty() {
            self.backend
                .cached(parent.map(|p| p.id.as_str()), key)
                .await
        } else {
            None
        };
        if hit.is_none() {
            if let Some(config) = self.restore_from_cache_images(parent, created_by, state) {
                hit = Some(self.backend.commit(parent, None, config, key).await?);
            }
        }
        match &hit {
            Some(img) => {
                self.say(" ---> Using cache\n");
                self.say(format!(" ---> {}\n", short(&img.id)));
            }
            None => *use_cache = false,
        }
        Ok(hit)
    }

    /// `--cache-from`: an image whose history begins with the parent's and goes on with this
    /// step stands for the step's result. Its layer is already in the store (the image has
    /// it), so the step's image is only a config: the parent's, one history entry, and that
    /// layer when the entry made one (Docker's classic builder restores it the same way).
    fn restore_from_cache_images(
        &self,
        parent: Option<&Image>,
        created_by: &str,
        state: &StageState,
    ) -> Option<ImageConfig> {
        let empty = Vec::new();
        let (p_hist, p_layers) = match parent {
            Some(p) => (
                p.config.history.as_ref().unwrap_or(&empty),
                &p.config.rootfs.diff_ids,
            ),
            None => (&empty, &Vec::new()),
        };
        for src in &self.cache_from {
            let hist = src.config.history.as_ref()?;
            let same = |a: &History, b: &History| {
                a.created_by == b.created_by
                    && a.empty_layer.unwrap_or(false) == b.empty_layer.unwrap_or(false)
            };
            if hist.len() <= p_hist.len()
                || !p_hist.iter().zip(hist).all(|(a, b)| same(a, b))
                || !src.config.rootfs.diff_ids.starts_with(p_layers)
            {
                continue;
            }
            let entry = &hist[p_hist.len()];
            if entry.created_by.as_deref() != Some(created_by) {
                continue;
            }
            let empty_layer = entry.empty_layer.unwrap_or(false);
            let mut config = self.next_config(parent, state, created_by, empty_layer);
            if !empty_layer {
                let layer = src.config.rootfs.diff_ids.get(p_layers.len())?;
                config.rootfs.diff_ids.push(layer.clone());
            }
            return Some(config);
        }
        None
    }

    async fn run_step(
        &mut self,
        stage: usize,
        step: &Step,
        state: &mut StageState,
        parent: Option<Image>,
        use_cache: &mut bool,
        globals: &BTreeMap<String, String>,
    ) -> Result<Option<Image>> {
        let vars = state.vars();
        let instruction = if step.instruction.kind().expands_variables() {
            dispatch::expand_instruction(&step.instruction, &vars, self.df.escape, step.line)?
        } else {
            step.instruction.clone()
        };
        if let Instruction::Arg(decls) = &instruction {
            for d in decls {
                self.used_args.insert(d.name.clone());
            }
        }
        match &instruction {
            Instruction::Run(run) => self.run(state, parent, run, use_cache).await.map(Some),
            Instruction::Copy(c) | Instruction::Add(c) => {
                let add = matches!(instruction, Instruction::Add(_));
                self.copy(stage, state, parent, c, add, &vars, use_cache)
                    .await
                    .map(Some)
            }
            Instruction::From(_) => Err(BuildError::Invalid("FROM inside a stage".into())),
            // WORKDIR changes the config like the others, and also makes its directory.
            _ => {
                let text = dispatch::apply_metadata(
                    state,
                    &instruction,
                    &self.opts.build_args,
                    globals,
                    step.line,
                )?;
                let created_by = dispatch::created_by_nop(&state.shell(), &text);
                if let Some(hit) = self
                    .try_cache(parent.as_ref(), &created_by, &created_by, state, use_cache)
                    .await?
                {
                    *state = restore(state, &hit);
                    return Ok(Some(hit));
                }
                if let Instruction::Workdir(_) = instruction {
                    let workdir = state.config.working_dir.clone().unwrap_or_default();
                    return self
                        .workdir(state, parent, &workdir, &created_by)
                        .await
                        .map(Some);
                }
                let config = self.next_config(parent.as_ref(), state, &created_by, true);
                let img = self
                    .backend
                    .commit(parent.as_ref(), None, config, &created_by)
                    .await?;
                self.say(format!(" ---> {}\n", short(&img.id)));
                Ok(Some(img))
            }
        }
    }

    async fn run(
        &mut self,
        state: &mut StageState,
        parent: Option<Image>,
        run: &dockerfile::Run,
        use_cache: &mut bool,
    ) -> Result<Image> {
        let Some(parent) = parent else {
            return Err(BuildError::Invalid(
                "failed to run a command: the image has no filesystem (FROM scratch); a RUN needs one"
                    .into(),
            ));
        };
        let argv = match &run.command {
            dockerfile::Command::Shell(text) if !run.heredocs.is_empty() => {
                let mut argv = state.shell();
                argv.push(dispatch::run_script(text, &run.heredocs));
                argv
            }
            command => state.argv(command),
        };
        let args = state.run_args();
        let mut created_by = argv.join(" ");
        if !args.is_empty() {
            let shown: Vec<String> = args.iter().map(|(k, v)| format!("{k}={v}")).collect();
            created_by = format!("|{} {} {created_by}", args.len(), shown.join(" "));
        }
        if let Some(hit) = self
            .try_cache(Some(&parent), &created_by, &created_by, state, use_cache)
            .await?
        {
            return Ok(hit);
        }
        let mut env = state.config.env.clone().unwrap_or_default();
        env.extend(args.iter().map(|(k, v)| format!("{k}={v}")));
        let spec = RunSpec {
            argv: argv.clone(),
            env,
            user: state.config.user.clone().unwrap_or_default(),
            workdir: state.config.working_dir.clone().unwrap_or_default(),
        };
        let (container, code) = self
            .backend
            .run(&parent, &spec, &self.opts.run, self.out)
            .await?;
        if code != 0 {
            if self.opts.force_rm {
                self.backend.remove(&container).await;
            }
            return Err(BuildError::Run {
                command: argv.join(" "),
                code,
            });
        }
        let config = self.next_config(Some(&parent), state, &created_by, false);
        let committed = self
            .backend
            .commit(Some(&parent), Some(&container), config, &created_by)
            .await;
        if self.opts.rm || self.opts.force_rm || committed.is_err() {
            self.backend.remove(&container).await;
            if committed.is_ok() {
                self.say(format!(
                    " ---> Removed intermediate container {}\n",
                    short(&container)
                ));
            }
        }
        let img = committed?;
        self.say(format!(" ---> {}\n", short(&img.id)));
        Ok(img)
    }

    /// WORKDIR makes its directory: a layer holding it when the parent lacks it.
    async fn workdir(
        &mut self,
        state: &mut StageState,
        parent: Option<Image>,
        dir: &str,
        created_by: &str,
    ) -> Result<Image> {
        let scratch = self.backend.scratch(parent.as_ref()).await?;
        let root = scratch.root.clone();
        let dir2 = dir.to_string();
        let made = tokio::task::spawn_blocking(move || -> std::io::Result<bool> {
            let host = crate::util::inroot::resolve_in_root(&root, &dir2, true)?;
            if host.is_dir() {
                return Ok(false);
            }
            std::fs::create_dir_all(&host)?;
            Ok(true)
        })
        .await
        .map_err(|e| BuildError::Backend(e.to_string()))
        .and_then(|r| r.map_err(|e| BuildError::Invalid(format!("WORKDIR {dir}: {e}"))));
        let made = match made {
            Ok(m) => m,
            Err(e) => {
                self.backend.remove(&scratch.id).await;
                return Err(e);
            }
        };
        let config = self.next_config(parent.as_ref(), state, created_by, !made);
        let layer = made.then_some(scratch.id.as_str());
        let img = self
            .backend
            .commit(parent.as_ref(), layer, config, created_by)
            .await;
        self.backend.remove(&scratch.id).await;
        let img = img?;
        self.say(format!(" ---> {}\n", short(&img.id)));
        Ok(img)
    }
}

/// After a cache hit the stage's config is the cached image's (the same, by the key), but
/// what only the stage remembers (declared args, whether CMD was set) stays.
fn restore(state: &StageState, hit: &Image) -> StageState {
    let mut s = state.clone();
    if let Some(cfg) = hit.config.config.clone() {
        s.config = cfg;
    }
    s
}
