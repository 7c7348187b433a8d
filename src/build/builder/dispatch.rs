//! What each instruction does to a stage's state, without touching a file: variables are
//! expanded, the config changes, and the history's `created_by` is written in Docker's words
//! (`/bin/sh -c #(nop)  ENV A=b`), which is also the cache key of a step that only changes
//! the config. The steps that touch files (RUN, COPY, ADD, WORKDIR) take their config part
//! from here and their file part from the backend.

use super::{BuildError, Result};
use crate::build::dockerfile::{
    expand_with_escape, parse_port, ArgDecl, Command, FileCopy, Healthcheck, Instruction, KeyValue,
    ParseError,
};
use crate::image::config::ContainerConfig;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Args every build may pass without declaring them (Docker's proxy variables).
const PREDEFINED_ARGS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
];

pub fn is_predefined_arg(name: &str) -> bool {
    PREDEFINED_ARGS.contains(&name)
}

/// A stage as it is being built: the config the next image gets, the ARGs declared so far
/// (with the value each has in this build), and what the rules below need to remember.
#[derive(Debug, Clone, Default)]
pub struct StageState {
    pub config: ContainerConfig,
    pub args: Vec<(String, Option<String>)>,
    /// A CMD was given in this stage, so a later ENTRYPOINT keeps it.
    pub cmd_set: bool,
    /// MAINTAINER sets the image's author.
    pub author: Option<String>,
}

impl StageState {
    pub fn new(config: ContainerConfig) -> StageState {
        StageState {
            config,
            ..Default::default()
        }
    }

    /// The variables expansion sees: ARG values, overridden by ENV of the same name.
    pub fn vars(&self) -> BTreeMap<String, String> {
        let mut vars: BTreeMap<String, String> = self
            .args
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect();
        for kv in self.config.env.iter().flatten() {
            if let Some((k, v)) = kv.split_once('=') {
                vars.insert(k.to_string(), v.to_string());
            }
        }
        vars
    }

    /// The shell of shell-form commands: SHELL's, else `/bin/sh -c`.
    pub fn shell(&self) -> Vec<String> {
        self.config
            .shell
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
    }

    /// The build args a RUN sees as environment variables and records in its history (`|2
    /// A=1 B=2 …`): those declared with a value, except the ones an ENV overrides; sorted.
    pub fn run_args(&self) -> Vec<(String, String)> {
        let env_names: Vec<&str> = self
            .config
            .env
            .iter()
            .flatten()
            .filter_map(|kv| kv.split_once('=').map(|(k, _)| k))
            .collect();
        let mut out: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in &self.args {
            if let Some(v) = v {
                if !env_names.contains(&k.as_str()) {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        out.into_iter().collect()
    }

    /// The argv of a CMD, ENTRYPOINT or RUN: the exec form as is, the shell form through the
    /// stage's shell.
    pub fn argv(&self, command: &Command) -> Vec<String> {
        match command {
            Command::Exec(list) => list.clone(),
            Command::Shell(text) => {
                let mut argv = self.shell();
                argv.push(text.clone());
                argv
            }
        }
    }

    /// Declare the ARGs of an `ARG` line: the value is the build's `--build-arg` if given,
    /// else the default (already expanded), else a global ARG of the same name for a bare
    /// redeclaration.
    pub fn declare(
        &mut self,
        decls: &[ArgDecl],
        build_args: &BTreeMap<String, Option<String>>,
        globals: &BTreeMap<String, String>,
    ) {
        for d in decls {
            let value = match build_args.get(&d.name) {
                Some(Some(v)) => Some(v.clone()),
                _ => d.default.clone().or_else(|| globals.get(&d.name).cloned()),
            };
            self.args.retain(|(k, _)| *k != d.name);
            self.args.push((d.name.clone(), value));
        }
    }
}

/// `created_by` of a step that changes only the config: the shell, `#(nop) `, the text.
pub fn created_by_nop(shell: &[String], text: &str) -> String {
    format!("{} #(nop)  {text}", shell.join(" "))
}

fn exp(word: &str, vars: &BTreeMap<String, String>, escape: char, line: usize) -> Result<String> {
    expand_with_escape(word, vars, escape).map_err(|e| BuildError::Parse(e.at_line(line)))
}

/// The instruction with its variables substituted, for the kinds Docker expands. The
/// others come back as they are.
pub fn expand_instruction(
    instruction: &Instruction,
    vars: &BTreeMap<String, String>,
    escape: char,
    line: usize,
) -> Result<Instruction> {
    let e = |w: &str| exp(w, vars, escape, line);
    let kvs = |list: &[KeyValue]| -> Result<Vec<KeyValue>> {
        list.iter()
            .map(|kv| {
                Ok(KeyValue {
                    key: e(&kv.key)?,
                    value: e(&kv.value)?,
                })
            })
            .collect()
    };
    let words = |list: &[String]| -> Result<Vec<String>> { list.iter().map(|w| e(w)).collect() };
    Ok(match instruction {
        Instruction::Env(list) => Instruction::Env(kvs(list)?),
        Instruction::Label(list) => Instruction::Label(kvs(list)?),
        Instruction::Expose(list) => Instruction::Expose(words(list)?),
        Instruction::Volume(list) => Instruction::Volume(words(list)?),
        Instruction::User(u) => Instruction::User(e(u)?),
        Instruction::Workdir(w) => Instruction::Workdir(e(w)?),
        Instruction::Stopsignal(s) => Instruction::Stopsignal(e(s)?),
        Instruction::Arg(decls) => Instruction::Arg(
            decls
                .iter()
                .map(|d| {
                    Ok(ArgDecl {
                        name: d.name.clone(),
                        default: d.default.as_deref().map(e).transpose()?,
                    })
                })
                .collect::<Result<_>>()?,
        ),
        Instruction::Add(c) => Instruction::Add(expand_copy(c, &e)?),
        Instruction::Copy(c) => Instruction::Copy(expand_copy(c, &e)?),
        other => other.clone(),
    })
}

fn expand_copy(c: &FileCopy, e: &dyn Fn(&str) -> Result<String>) -> Result<FileCopy> {
    let opt = |o: &Option<String>| o.as_deref().map(e).transpose();
    Ok(FileCopy {
        from: opt(&c.from)?,
        chown: opt(&c.chown)?,
        chmod: opt(&c.chmod)?,
        sources: c.sources.iter().map(|s| e(s)).collect::<Result<_>>()?,
        dest: e(&c.dest)?,
        ..c.clone()
    })
}

/// Go's `%q` of a string list, as Docker writes CMD and ENTRYPOINT into history.
fn quoted_list(list: &[String]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|s| serde_json::to_string(s).unwrap_or_default())
        .collect();
    format!("[{}]", items.join(" "))
}

/// Go's `%v` of a string list: `[a b]`.
fn plain_list(list: &[String]) -> String {
    format!("[{}]", list.join(" "))
}

/// A duration as Go prints one (`1m30s`, `500ms`, `0s`).
pub fn go_duration(d: Duration) -> String {
    crate::util::goduration::format(d.as_nanos() as i64)
}

/// A signal as STOPSIGNAL takes it: a name with or without `SIG`, or a number.
pub fn valid_signal(sig: &str) -> bool {
    if let Ok(n) = sig.parse::<i32>() {
        return (1..=64).contains(&n);
    }
    let name = sig.to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    if let Some(rt) = name.strip_prefix("RTMIN") {
        return rt.is_empty()
            || rt
                .strip_prefix('+')
                .is_some_and(|n| n.parse::<u8>().is_ok());
    }
    format!("SIG{name}")
        .parse::<nix::sys::signal::Signal>()
        .is_ok()
}

fn nanos(d: Option<Duration>) -> Option<i64> {
    d.filter(|d| !d.is_zero()).map(|d| d.as_nanos() as i64)
}

/// HEALTHCHECK's test as Docker stores it: `CMD` and the argv, or `CMD-SHELL` and the text.
fn health_test(command: &Command) -> Vec<String> {
    match command {
        Command::Exec(list) => std::iter::once("CMD".to_string())
            .chain(list.iter().cloned())
            .collect(),
        Command::Shell(text) => vec!["CMD-SHELL".into(), text.clone()],
    }
}

/// HEALTHCHECK as the image config holds it (Docker's HealthConfig: durations in ns, zero
/// ones left out).
pub fn healthcheck_config(hc: &Healthcheck) -> Value {
    match hc {
        Healthcheck::None => json!({"Test": ["NONE"]}),
        Healthcheck::Check {
            command,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => {
            let test = health_test(command);
            let mut v = json!({ "Test": test });
            let o = v.as_object_mut().expect("an object");
            for (k, d) in [
                ("Interval", interval),
                ("Timeout", timeout),
                ("StartPeriod", start_period),
                ("StartInterval", start_interval),
            ] {
                if let Some(n) = nanos(*d) {
                    o.insert(k.into(), json!(n));
                }
            }
            if let Some(r) = retries.filter(|r| *r > 0) {
                o.insert("Retries".into(), json!(r));
            }
            v
        }
    }
}

/// Docker's `%q` of a HealthConfig in history: `&{["CMD-SHELL" "x"] "30s" "0s" "0s" "0s" '\x03'}`,
/// read from the config [`healthcheck_config`] made, so the two never disagree.
fn healthcheck_text(config: &Value) -> String {
    let test: Vec<String> = config["Test"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let d = |k: &str| {
        let ns = config[k].as_u64().unwrap_or(0);
        format!("{:?}", go_duration(Duration::from_nanos(ns)))
    };
    format!(
        "HEALTHCHECK &{{{} {} {} {} {} '\\x{:02x}'}}",
        quoted_list(&test),
        d("Interval"),
        d("Timeout"),
        d("StartPeriod"),
        d("StartInterval"),
        config["Retries"].as_u64().unwrap_or(0)
    )
}

/// The effect on the config of an instruction that changes only the config (already
/// expanded), and the text its history entry gets after `#(nop) `.
pub fn apply_metadata(
    state: &mut StageState,
    instruction: &Instruction,
    build_args: &BTreeMap<String, Option<String>>,
    globals: &BTreeMap<String, String>,
    line: usize,
) -> Result<String> {
    let bad = |message: String| BuildError::Parse(ParseError::Line { line, message });
    let cfg = &mut state.config;
    Ok(match instruction {
        Instruction::Env(list) => {
            let mut env = cfg.env.take().unwrap_or_default();
            let mut text = "ENV".to_string();
            for kv in list {
                env.retain(|e| e.split_once('=').map(|(k, _)| k) != Some(kv.key.as_str()));
                env.push(format!("{}={}", kv.key, kv.value));
                text.push_str(&format!(" {}={}", kv.key, kv.value));
            }
            cfg.env = Some(env);
            text
        }
        Instruction::Label(list) => {
            let labels = cfg.labels.get_or_insert_with(Default::default);
            let mut text = "LABEL".to_string();
            for kv in list {
                labels.insert(kv.key.clone(), kv.value.clone());
                text.push_str(&format!(" {}={}", kv.key, kv.value));
            }
            text
        }
        Instruction::Maintainer(name) => {
            state.author = Some(name.clone());
            format!("MAINTAINER {name}")
        }
        Instruction::Expose(words) => {
            let ports = cfg.exposed_ports.get_or_insert_with(Default::default);
            let mut shown = Vec::new();
            for w in words {
                for part in w.split_whitespace() {
                    let spec = parse_port(part).map_err(bad)?;
                    for p in spec.start..=spec.end {
                        ports.insert(format!("{p}/{}", spec.proto), json!({}));
                    }
                    shown.push(part.to_string());
                }
            }
            format!("EXPOSE {}", shown.join(" "))
        }
        Instruction::Volume(list) => {
            let vols = cfg.volumes.get_or_insert_with(Default::default);
            for v in list {
                if v.trim().is_empty() {
                    return Err(bad("VOLUME specified can not be an empty string".into()));
                }
                vols.insert(v.clone(), json!({}));
            }
            format!("VOLUME {}", plain_list(list))
        }
        Instruction::User(u) => {
            cfg.user = Some(u.clone());
            format!("USER {u}")
        }
        Instruction::Workdir(w) => {
            let now = join_workdir(cfg.working_dir.as_deref().unwrap_or("/"), w);
            cfg.working_dir = Some(now.clone());
            format!("WORKDIR {now}")
        }
        Instruction::Arg(decls) => {
            state.declare(decls, build_args, globals);
            let shown: Vec<String> = decls
                .iter()
                .map(|d| match &d.default {
                    Some(v) => format!("{}={v}", d.name),
                    None => d.name.clone(),
                })
                .collect();
            format!("ARG {}", shown.join(" "))
        }
        Instruction::Onbuild(ob) => {
            cfg.on_build
                .get_or_insert_with(Default::default)
                .push(ob.original.clone());
            format!("ONBUILD {}", ob.original)
        }
        Instruction::Stopsignal(sig) => {
            if !valid_signal(sig) {
                return Err(bad(format!("Invalid signal: {sig}")));
            }
            cfg.stop_signal = Some(sig.clone());
            format!("STOPSIGNAL {sig}")
        }
        Instruction::Healthcheck(hc) => {
            let config = healthcheck_config(hc);
            let text = healthcheck_text(&config);
            state.config.healthcheck = Some(config);
            text
        }
        Instruction::Shell(list) => {
            cfg.shell = Some(list.clone());
            format!("SHELL {}", plain_list(list))
        }
        Instruction::Cmd(command) => {
            let argv = state.argv(command);
            state.config.cmd = Some(argv.clone());
            state.cmd_set = true;
            format!("CMD {}", quoted_list(&argv))
        }
        Instruction::Entrypoint(command) => {
            let argv = state.argv(command);
            state.config.entrypoint = Some(argv.clone());
            // An ENTRYPOINT clears the CMD it inherited: that CMD was written for the old one.
            if !state.cmd_set {
                state.config.cmd = None;
            }
            format!("ENTRYPOINT {}", quoted_list(&argv))
        }
        other => {
            return Err(BuildError::Invalid(format!(
                "{} does not only change the config",
                other.kind().name()
            )))
        }
    })
}

/// WORKDIR's rule: an absolute path replaces, a relative one joins the current directory.
pub fn join_workdir(current: &str, next: &str) -> String {
    let joined = if next.starts_with('/') {
        next.to_string()
    } else {
        format!("{}/{next}", current.trim_end_matches('/'))
    };
    clean_abs(&joined)
}

pub use crate::util::inroot::clean_abs;

/// The script a RUN with heredocs gives its shell: a RUN that is only `<<EOF` runs the
/// body; otherwise the shell reads the heredocs itself, so they are put back after the line.
pub fn run_script(text: &str, heredocs: &[crate::build::dockerfile::Heredoc]) -> String {
    if heredocs.len() == 1 {
        let h = &heredocs[0];
        let bare = text.trim();
        let alone = ["<<", "<<-"].iter().any(|op| {
            bare.strip_prefix(op)
                .is_some_and(|rest| rest.trim_matches(|c| c == '"' || c == '\'') == h.name)
        });
        if alone {
            return h.body.clone();
        }
    }
    let mut script = text.to_string();
    script.push('\n');
    for h in heredocs {
        script.push_str(&h.body);
        if !h.body.is_empty() && !h.body.ends_with('\n') {
            script.push('\n');
        }
        script.push_str(&h.name);
        script.push('\n');
    }
    script
}
