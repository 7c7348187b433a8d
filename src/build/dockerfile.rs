//! The Dockerfile parser: text in, [`Dockerfile`] out, no I/O. It follows Docker's (BuildKit's)
//! rules and error words so that a Dockerfile that builds with Docker parses here, and one
//! that fails fails with the same sentence. Variables are not substituted here: their values
//! depend on the build (ARGs, ENVs of earlier steps), so the builder calls [`expand`] per step
//! for the kinds where [`Kind::expands_variables`] says Docker does.

mod expand;
mod instruction;
mod lexer;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use expand::{expand, expand_with_escape, Vars};
pub use instruction::{parse_port, PortSpec};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("Dockerfile parse error line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("file with no instructions")]
    NoInstructions,
    #[error("dockerfile contains no stages to build")]
    NoStages,
    /// From [`expand`], which does not know the line; see [`ParseError::at_line`].
    #[error("{message}")]
    Expansion { message: String },
}

impl ParseError {
    pub fn line(&self) -> Option<usize> {
        match self {
            ParseError::Line { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// Gives an expansion error the line of the step it came from.
    pub fn at_line(self, line: usize) -> ParseError {
        match self {
            ParseError::Expansion { message } => ParseError::Line { line, message },
            other => other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// `\` or `` ` ``, from `# escape=`; expansion needs it too.
    pub escape: char,
    /// `# syntax=`, recorded and otherwise ignored: berth has no frontend images.
    pub syntax: Option<String>,
    /// ARGs before the first FROM: visible to FROM lines only.
    pub global_args: Vec<Step>,
    pub stages: Vec<Stage>,
}

impl Dockerfile {
    /// The stage a `--from=` or `FROM` names, by name (case-insensitively) or by index,
    /// among the stages before `before`: a stage cannot use itself or a later one.
    pub fn resolve_stage(&self, name: &str, before: usize) -> Option<usize> {
        resolve(&self.stages[..before.min(self.stages.len())], name)
    }
}

fn resolve(stages: &[Stage], name: &str) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    stages
        .iter()
        .position(|s| s.name.as_deref() == Some(lower.as_str()))
        .or_else(|| name.parse::<usize>().ok().filter(|i| *i < stages.len()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub index: usize,
    /// The `AS` name, lowercased, since Docker compares stage names case-insensitively.
    pub name: Option<String>,
    pub line: usize,
    pub original: String,
    pub from: From,
    /// The earlier stage `FROM` names, when that is knowable without expansion; a `$` in the
    /// image leaves it to the builder, which resolves again after expanding.
    pub base_stage: Option<usize>,
    pub steps: Vec<Step>,
}

/// One instruction with where it came from: `original` feeds history's `created_by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub line: usize,
    pub original: String,
    pub instruction: Instruction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    From(From),
    Run(Run),
    Cmd(Command),
    Label(Vec<KeyValue>),
    Maintainer(String),
    /// Raw words: EXPOSE is expanded, so ports are checked with [`parse_port`] afterwards.
    Expose(Vec<String>),
    Env(Vec<KeyValue>),
    Add(FileCopy),
    Copy(FileCopy),
    Entrypoint(Command),
    Volume(Vec<String>),
    User(String),
    Workdir(String),
    Arg(Vec<ArgDecl>),
    Onbuild(Onbuild),
    Stopsignal(String),
    Healthcheck(Healthcheck),
    Shell(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    From,
    Run,
    Cmd,
    Label,
    Maintainer,
    Expose,
    Env,
    Add,
    Copy,
    Entrypoint,
    Volume,
    User,
    Workdir,
    Arg,
    Onbuild,
    Stopsignal,
    Healthcheck,
    Shell,
}

impl Kind {
    /// Whether the builder substitutes variables in this instruction's words. RUN, CMD and
    /// ENTRYPOINT are left to the shell; ONBUILD triggers are expanded when they fire, in the
    /// image built from this one. ARG is not in Docker's documented list, but BuildKit
    /// expands ARG defaults (`ARG b=${a}/x`), so it is here.
    pub fn expands_variables(self) -> bool {
        matches!(
            self,
            Kind::Add
                | Kind::Copy
                | Kind::Env
                | Kind::Expose
                | Kind::From
                | Kind::Label
                | Kind::Stopsignal
                | Kind::User
                | Kind::Volume
                | Kind::Workdir
                | Kind::Arg
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::From => "FROM",
            Kind::Run => "RUN",
            Kind::Cmd => "CMD",
            Kind::Label => "LABEL",
            Kind::Maintainer => "MAINTAINER",
            Kind::Expose => "EXPOSE",
            Kind::Env => "ENV",
            Kind::Add => "ADD",
            Kind::Copy => "COPY",
            Kind::Entrypoint => "ENTRYPOINT",
            Kind::Volume => "VOLUME",
            Kind::User => "USER",
            Kind::Workdir => "WORKDIR",
            Kind::Arg => "ARG",
            Kind::Onbuild => "ONBUILD",
            Kind::Stopsignal => "STOPSIGNAL",
            Kind::Healthcheck => "HEALTHCHECK",
            Kind::Shell => "SHELL",
        }
    }
}

impl Instruction {
    pub fn kind(&self) -> Kind {
        match self {
            Instruction::From(_) => Kind::From,
            Instruction::Run(_) => Kind::Run,
            Instruction::Cmd(_) => Kind::Cmd,
            Instruction::Label(_) => Kind::Label,
            Instruction::Maintainer(_) => Kind::Maintainer,
            Instruction::Expose(_) => Kind::Expose,
            Instruction::Env(_) => Kind::Env,
            Instruction::Add(_) => Kind::Add,
            Instruction::Copy(_) => Kind::Copy,
            Instruction::Entrypoint(_) => Kind::Entrypoint,
            Instruction::Volume(_) => Kind::Volume,
            Instruction::User(_) => Kind::User,
            Instruction::Workdir(_) => Kind::Workdir,
            Instruction::Arg(_) => Kind::Arg,
            Instruction::Onbuild(_) => Kind::Onbuild,
            Instruction::Stopsignal(_) => Kind::Stopsignal,
            Instruction::Healthcheck(_) => Kind::Healthcheck,
            Instruction::Shell(_) => Kind::Shell,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    pub image: String,
    pub platform: Option<String>,
    /// As written; [`Stage::name`] holds the lowercased form.
    pub alias: Option<String>,
}

impl From {
    pub fn is_scratch(&self) -> bool {
        self.image.eq_ignore_ascii_case("scratch")
    }
}

/// Shell form keeps the text for `/bin/sh -c`; exec form is the JSON array as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Shell(String),
    Exec(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub command: Command,
    pub heredocs: Vec<Heredoc>,
}

/// A heredoc kept whole, as BuildKit does (the classic builder drops them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    pub body: String,
    /// False when the name was quoted (`<<"EOF"`): the body is then taken literally.
    pub expand: bool,
    /// `<<-`: leading tabs were stripped from the body and the terminator.
    pub chomp: bool,
    /// The `3` of `3<<EOF`.
    pub fd: Option<u32>,
}

/// Keys and values as written, quotes included: Docker removes quotes while expanding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
}

/// COPY and ADD share their shape; `from` is COPY's, `checksum` is ADD's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileCopy {
    pub from: Option<String>,
    /// The earlier stage `from` names when it names one literally (else an image, or later).
    pub from_stage: Option<usize>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub checksum: Option<String>,
    pub sources: Vec<String>,
    /// Inline sources (`COPY <<EOF /dst`), in the order they appear.
    pub heredocs: Vec<Heredoc>,
    pub dest: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Onbuild {
    /// The trigger's own text, which Docker stores in the image config's `OnBuild`.
    pub original: String,
    pub trigger: Box<Instruction>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    None,
    Check {
        command: Command,
        interval: Option<Duration>,
        timeout: Option<Duration>,
        start_period: Option<Duration>,
        start_interval: Option<Duration>,
        retries: Option<u32>,
    },
}

pub fn parse(src: &str) -> Result<Dockerfile, ParseError> {
    let (directives, lines) = lexer::lex(src)?;
    if lines.is_empty() {
        return Err(ParseError::NoInstructions);
    }
    let mut dockerfile = Dockerfile {
        escape: directives.escape,
        syntax: directives.syntax,
        global_args: Vec::new(),
        stages: Vec::new(),
    };
    for line in lines {
        let mut step = instruction::parse_step(line, directives.escape)?;
        let stages = &mut dockerfile.stages;
        match step.instruction {
            Instruction::From(from) => {
                let name = from.alias.as_ref().map(|a| a.to_ascii_lowercase());
                if let Some(n) = &name {
                    if stages.iter().any(|s| s.name.as_ref() == Some(n)) {
                        return Err(ParseError::Line {
                            line: step.line,
                            message: format!("duplicate stage name {n:?}"),
                        });
                    }
                }
                let base_stage = if from.image.contains('$') {
                    None
                } else {
                    let lower = from.image.to_ascii_lowercase();
                    stages
                        .iter()
                        .position(|s| s.name.as_deref() == Some(lower.as_str()))
                };
                stages.push(Stage {
                    index: stages.len(),
                    name,
                    line: step.line,
                    original: step.original,
                    from,
                    base_stage,
                    steps: Vec::new(),
                });
            }
            Instruction::Arg(_) if stages.is_empty() => dockerfile.global_args.push(step),
            _ => {
                let Some((current, earlier)) = stages.split_last_mut() else {
                    return Err(ParseError::Line {
                        line: step.line,
                        message: "no build stage in current context".into(),
                    });
                };
                if let Instruction::Copy(copy) = &mut step.instruction {
                    copy.from_stage = copy
                        .from
                        .as_deref()
                        .filter(|f| !f.contains('$'))
                        .and_then(|f| resolve(earlier, f));
                }
                current.steps.push(step);
            }
        }
    }
    if dockerfile.stages.is_empty() {
        return Err(ParseError::NoStages);
    }
    Ok(dockerfile)
}
