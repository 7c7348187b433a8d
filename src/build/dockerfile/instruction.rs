//! From one logical line to a typed [`Instruction`]: the instruction word, `--flags`, and the
//! per-instruction argument grammar (Docker's `parseMaybeJSON`, `parseNameVal`, ...).

use std::collections::BTreeMap;
use std::time::Duration;

use super::lexer::{heredoc_marker, split_instruction, LogicalLine};
use super::{
    ArgDecl, Command, FileCopy, From, Healthcheck, Heredoc, Instruction, KeyValue, Onbuild,
    ParseError, Run, Step,
};

/// Messages without a line; [`parse_step`] adds it.
type Res<T> = Result<T, String>;

pub(super) fn parse_step(line: LogicalLine, escape: char) -> Result<Step, ParseError> {
    let LogicalLine {
        line,
        text,
        heredocs,
    } = line;
    let instruction = parse_instruction(&text, escape, heredocs, false)
        .map_err(|message| ParseError::Line { line, message })?;
    Ok(Step {
        line,
        original: text,
        instruction,
    })
}

fn parse_instruction(
    text: &str,
    escape: char,
    heredocs: Vec<Heredoc>,
    in_onbuild: bool,
) -> Res<Instruction> {
    let (word, rest) = split_instruction(text);
    let name = word.to_ascii_lowercase();
    if in_onbuild {
        match name.as_str() {
            "onbuild" => return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()),
            "from" | "maintainer" => {
                return Err(format!(
                    "{} isn't allowed as an ONBUILD trigger",
                    name.to_ascii_uppercase()
                ))
            }
            _ => {}
        }
    }
    let (flag_words, rest) = extract_flags(rest)?;
    let mut flags = Flags::new(flag_words);
    let instruction = match name.as_str() {
        "from" => {
            flags.allow(&["platform"], &[])?;
            let words: Vec<&str> = rest.split_whitespace().collect();
            let alias = match words.as_slice() {
                [_] => None,
                [_, as_, alias] if as_.eq_ignore_ascii_case("as") => Some(alias.to_string()),
                _ => return Err("FROM requires either one or three arguments".into()),
            };
            if let Some(a) = &alias {
                let lower = a.to_ascii_lowercase();
                let mut chars = lower.chars();
                let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
                    && chars.all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                if !ok {
                    return Err(format!(
                        "invalid name for build stage: {a:?}, name can't start with a number or contain symbols"
                    ));
                }
            }
            Instruction::From(From {
                image: words[0].to_string(),
                platform: flags.string("platform"),
                alias,
            })
        }
        "run" => {
            for refused in ["mount", "network", "security"] {
                if flags.has(refused) {
                    return Err(format!("RUN --{refused} is not supported by berth yet"));
                }
            }
            flags.allow(&[], &[])?;
            Instruction::Run(Run {
                command: command(rest, "RUN")?,
                heredocs,
            })
        }
        "cmd" => {
            flags.allow(&[], &[])?;
            Instruction::Cmd(command(rest, "CMD")?)
        }
        "entrypoint" => {
            flags.allow(&[], &[])?;
            Instruction::Entrypoint(command(rest, "ENTRYPOINT")?)
        }
        "shell" => {
            flags.allow(&[], &[])?;
            match maybe_json(rest)? {
                Command::Exec(args) if args.is_empty() => {
                    return Err("SHELL requires at least one argument".into())
                }
                Command::Exec(args) => Instruction::Shell(args),
                Command::Shell(_) => {
                    return Err("SHELL requires the arguments to be in JSON form".into())
                }
            }
        }
        "label" => {
            flags.allow(&[], &[])?;
            Instruction::Label(name_values(rest, "LABEL", escape)?)
        }
        "env" => {
            flags.allow(&[], &[])?;
            Instruction::Env(name_values(rest, "ENV", escape)?)
        }
        "maintainer" => {
            flags.allow(&[], &[])?;
            Instruction::Maintainer(exactly_one(rest, "MAINTAINER")?)
        }
        "user" => {
            flags.allow(&[], &[])?;
            Instruction::User(exactly_one(rest, "USER")?)
        }
        "workdir" => {
            flags.allow(&[], &[])?;
            Instruction::Workdir(exactly_one(rest, "WORKDIR")?)
        }
        "stopsignal" => {
            flags.allow(&[], &[])?;
            Instruction::Stopsignal(exactly_one(rest, "STOPSIGNAL")?)
        }
        "expose" => {
            flags.allow(&[], &[])?;
            let ports: Vec<String> = rest.split_whitespace().map(str::to_string).collect();
            if ports.is_empty() {
                return Err("EXPOSE requires at least one argument".into());
            }
            // Words with a variable can only be checked once the builder has expanded them.
            for p in ports.iter().filter(|p| !p.contains('$')) {
                parse_port(p)?;
            }
            Instruction::Expose(ports)
        }
        "volume" => {
            flags.allow(&[], &[])?;
            let volumes = json_or_words(rest)?;
            if volumes.is_empty() {
                return Err("VOLUME requires at least one argument".into());
            }
            if volumes.iter().any(|v| v.trim().is_empty()) {
                return Err("VOLUME specified can not be an empty string".into());
            }
            Instruction::Volume(volumes)
        }
        "arg" => {
            flags.allow(&[], &[])?;
            let words = split_words(rest, escape);
            if words.is_empty() {
                return Err("ARG requires at least one argument".into());
            }
            let mut args = Vec::new();
            for w in words {
                let (name, default) = match w.split_once('=') {
                    Some((n, v)) => (n.to_string(), Some(v.to_string())),
                    None => (w, None),
                };
                if name.is_empty() {
                    return Err("ARG names can not be blank".into());
                }
                args.push(ArgDecl { name, default });
            }
            Instruction::Arg(args)
        }
        "copy" => {
            flags.allow(&["from", "chown", "chmod"], &["link"])?;
            let mut copy = file_copy(rest, "COPY", heredocs)?;
            copy.from = flags.string("from");
            copy.chown = flags.string("chown");
            copy.chmod = flags.string("chmod");
            copy.link = flags.bool("link");
            Instruction::Copy(copy)
        }
        "add" => {
            flags.allow(&["chown", "chmod", "checksum"], &["link"])?;
            let mut add = file_copy(rest, "ADD", heredocs)?;
            add.chown = flags.string("chown");
            add.chmod = flags.string("chmod");
            add.checksum = flags.string("checksum");
            add.link = flags.bool("link");
            Instruction::Add(add)
        }
        "onbuild" => {
            flags.allow(&[], &[])?;
            if rest.is_empty() {
                return Err("ONBUILD requires at least one argument".into());
            }
            Instruction::Onbuild(Onbuild {
                original: rest.to_string(),
                trigger: Box::new(parse_instruction(rest, escape, heredocs, true)?),
            })
        }
        "healthcheck" => {
            flags.allow(
                &[
                    "interval",
                    "timeout",
                    "start-period",
                    "start-interval",
                    "retries",
                ],
                &[],
            )?;
            Instruction::Healthcheck(healthcheck(rest, &flags)?)
        }
        _ => {
            return Err(format!(
                "unknown instruction: {}",
                word.to_ascii_uppercase()
            ))
        }
    };
    Ok(instruction)
}

fn exactly_one(rest: &str, name: &str) -> Res<String> {
    if rest.is_empty() {
        return Err(format!("{name} requires exactly one argument"));
    }
    Ok(rest.to_string())
}

fn command(rest: &str, name: &str) -> Res<Command> {
    let cmd = maybe_json(rest)?;
    if cmd == Command::Shell(String::new()) {
        return Err(format!("{name} requires at least one argument"));
    }
    Ok(cmd)
}

/// Docker's `parseMaybeJSON`: a JSON array of strings is exec form; anything else that
/// fails to parse as JSON is shell form, but an array holding a non-string is an error.
fn maybe_json(rest: &str) -> Res<Command> {
    if rest.starts_with('[') {
        if let Ok(serde_json::Value::Array(items)) = serde_json::from_str(rest) {
            return items
                .into_iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => Ok(s),
                    _ => Err(
                        "when using JSON array syntax, arrays must be comprised of strings only"
                            .to_string(),
                    ),
                })
                .collect::<Res<Vec<_>>>()
                .map(Command::Exec);
        }
    }
    Ok(Command::Shell(rest.to_string()))
}

fn json_or_words(rest: &str) -> Res<Vec<String>> {
    Ok(match maybe_json(rest)? {
        Command::Exec(items) => items,
        Command::Shell(s) => s.split_whitespace().map(str::to_string).collect(),
    })
}

fn file_copy(rest: &str, name: &str, heredocs: Vec<Heredoc>) -> Res<FileCopy> {
    let json = matches!(maybe_json(rest)?, Command::Exec(_));
    let mut words = json_or_words(rest)?;
    match words.len() {
        0 => return Err(format!("{name} requires at least two arguments")),
        1 if heredocs.is_empty() => {
            return Err(format!(
            "{name} requires at least two arguments, but only one was provided. Destination could not be determined."
        ))
        }
        _ => {}
    }
    let dest = words.pop().unwrap_or_default();
    // The lexer read one body per marker, in order; markers are sources, not paths.
    let mut bodies = heredocs.into_iter();
    let mut copy = FileCopy {
        dest,
        ..FileCopy::default()
    };
    for w in words {
        match (!json).then(|| heredoc_marker(&w)).flatten() {
            Some(_) => copy.heredocs.extend(bodies.next()),
            None => copy.sources.push(w),
        }
    }
    if copy.sources.is_empty() && copy.heredocs.is_empty() {
        return Err(format!(
            "{name} requires at least two arguments, but only one was provided. Destination could not be determined."
        ));
    }
    Ok(copy)
}

/// Docker's `parseNameVal`: `KEY value...` (the old form, one pair) or `k=v k2="v 2"`.
fn name_values(rest: &str, name: &str, escape: char) -> Res<Vec<KeyValue>> {
    let words = split_words(rest, escape);
    let Some(first) = words.first() else {
        return Err(format!("{name} requires at least one argument"));
    };
    let pairs = if !first.contains('=') {
        let (key, value) = split_instruction(rest);
        if value.is_empty() {
            return Err(format!("{name} must have two arguments"));
        }
        vec![KeyValue {
            key: key.to_string(),
            value: value.to_string(),
        }]
    } else {
        let mut pairs = Vec::new();
        for w in &words {
            let Some((k, v)) = w.split_once('=') else {
                return Err(format!(
                    "Syntax error - can't find = in {w:?}. Must be of the form: name=value"
                ));
            };
            pairs.push(KeyValue {
                key: k.to_string(),
                value: v.to_string(),
            });
        }
        pairs
    };
    if pairs.iter().any(|p| p.key.is_empty()) {
        return Err(format!("{name} names can not be blank"));
    }
    Ok(pairs)
}

fn healthcheck(rest: &str, flags: &Flags) -> Res<Healthcheck> {
    let (kind, args) = split_instruction(rest);
    match kind.to_ascii_uppercase().as_str() {
        "" => Err("HEALTHCHECK requires at least one argument".into()),
        "NONE" if args.is_empty() => Ok(Healthcheck::None),
        "NONE" => Err("HEALTHCHECK NONE takes no arguments".into()),
        "CMD" => {
            let command = maybe_json(args)?;
            if command == Command::Shell(String::new()) || command == Command::Exec(Vec::new()) {
                return Err("Missing command after HEALTHCHECK CMD".into());
            }
            let retries = match flags.string("retries") {
                None => None,
                Some(r) => match r.parse::<i64>() {
                    Ok(n) if n < 0 => return Err(format!("--retries cannot be negative ({n})")),
                    Ok(n) => {
                        Some(u32::try_from(n).map_err(|_| format!("--retries too large ({n})"))?)
                    }
                    Err(_) => return Err(format!("invalid value for --retries: {r:?}")),
                },
            };
            Ok(Healthcheck::Check {
                command,
                interval: flags.duration("interval")?,
                timeout: flags.duration("timeout")?,
                start_period: flags.duration("start-period")?,
                start_interval: flags.duration("start-interval")?,
                retries,
            })
        }
        _ => Err(format!("Unknown type {kind:?} in HEALTHCHECK (try CMD)")),
    }
}

/// A port, a range, optionally `/tcp`, `/udp` or `/sctp`, as EXPOSE accepts after expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub start: u16,
    pub end: u16,
    pub proto: String,
}

pub fn parse_port(word: &str) -> Result<PortSpec, String> {
    let (ports, proto) = word.split_once('/').unwrap_or((word, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let bad = || format!("invalid containerPort: {ports}");
    let (start, end) = ports.split_once('-').unwrap_or((ports, ports));
    let start: u16 = start.parse().map_err(|_| bad())?;
    let end: u16 = end.parse().map_err(|_| bad())?;
    if end < start {
        return Err(format!(
            "invalid range specified for containerPort: {ports}"
        ));
    }
    Ok(PortSpec { start, end, proto })
}

/// Docker's `parseWords`: split at unquoted blanks, keeping quotes and escapes in the words
/// because expansion removes them later.
pub(super) fn split_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    // A quoted empty string ("") is a word even though it is empty.
    let mut blank_ok = false;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            None if c.is_whitespace() => {
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                blank_ok = false;
            }
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    blank_ok = true;
                }
                word.push(c);
                if c == escape {
                    match chars.next() {
                        Some(n) => word.push(n),
                        // An escape at the very end has nothing to escape.
                        None => {
                            word.pop();
                        }
                    }
                }
            }
            Some(q) => {
                word.push(c);
                if c == q {
                    quote = None;
                } else if c == escape && q != '\'' {
                    match chars.next() {
                        Some(n) => word.push(n),
                        None => {
                            word.pop();
                        }
                    }
                }
            }
        }
    }
    if blank_ok || !word.is_empty() {
        words.push(word);
    }
    words
}

/// Docker's `extractBuilderFlags`: leading `--name[=value]` words (quotes removed), up to
/// the first word that is not a flag or a lone `--`; returns them and the rest.
pub(super) fn extract_flags(line: &str) -> Res<(Vec<String>, &str)> {
    let mut flags = Vec::new();
    let mut rest = line.trim_start();
    while rest.starts_with("--") {
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let mut end = rest.len();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match quote {
                None if c.is_whitespace() => {
                    end = i;
                    break;
                }
                None if c == '\'' || c == '"' => quote = Some(c),
                Some(q) if c == q => quote = None,
                _ if c == '\\' => {
                    if let Some((_, n)) = chars.next() {
                        word.push(n);
                    }
                }
                _ => word.push(c),
            }
        }
        rest = rest[end..].trim_start();
        if word == "--" {
            break;
        }
        flags.push(word);
    }
    Ok((flags, rest))
}

/// The flags one instruction was given, checked against the ones it takes.
struct Flags {
    given: Vec<String>,
    values: BTreeMap<String, Option<String>>,
}

impl Flags {
    fn new(given: Vec<String>) -> Flags {
        Flags {
            given,
            values: BTreeMap::new(),
        }
    }

    fn has(&self, name: &str) -> bool {
        self.given
            .iter()
            .any(|f| f[2..].split('=').next() == Some(name))
    }

    fn allow(&mut self, strings: &[&str], bools: &[&str]) -> Res<()> {
        for f in &self.given {
            let (name, value) = match f[2..].split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (&f[2..], None),
            };
            if self.values.contains_key(name) {
                return Err(format!("Duplicate flag specified: {name}"));
            }
            if strings.contains(&name) {
                if value.is_none() {
                    return Err(format!("Missing a value on flag: {name}"));
                }
            } else if bools.contains(&name) {
                if let Some(v) = &value {
                    if !matches!(v.to_ascii_lowercase().as_str(), "true" | "false") {
                        return Err(format!("expecting boolean value for flag {name}, not: {v}"));
                    }
                }
            } else {
                return Err(format!("Unknown flag: {name}"));
            }
            self.values.insert(name.to_string(), value);
        }
        Ok(())
    }

    fn string(&self, name: &str) -> Option<String> {
        self.values.get(name).cloned().flatten()
    }

    fn bool(&self, name: &str) -> bool {
        match self.values.get(name) {
            Some(None) => true,
            Some(Some(v)) => v.eq_ignore_ascii_case("true"),
            None => false,
        }
    }

    /// Docker's `parseOptInterval`: 0 means "the default", below 1ms is refused.
    fn duration(&self, name: &str) -> Res<Option<Duration>> {
        let Some(v) = self.string(name) else {
            return Ok(None);
        };
        let (negative, d) = go_duration(&v)?;
        if negative && !d.is_zero() {
            return Err(format!("Interval {name:?} cannot be negative"));
        }
        if !d.is_zero() && d < Duration::from_millis(1) {
            return Err(format!("Interval {name:?} cannot be less than 1ms"));
        }
        Ok(Some(d))
    }
}

/// Go's `time.ParseDuration` (`1h30m`, `1.5s`, `300ms`), which is what Docker's flags take.
fn go_duration(s: &str) -> Res<(bool, Duration)> {
    let invalid = || format!("time: invalid duration {s:?}");
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok((negative, Duration::ZERO));
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        let value: f64 = num.parse().map_err(|_| invalid())?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            u => return Err(format!("time: unknown unit {u:?} in duration {s:?}")),
        };
        nanos += value * scale;
        rest = tail;
    }
    if !nanos.is_finite() || nanos > u64::MAX as f64 {
        return Err(invalid());
    }
    Ok((negative, Duration::from_nanos(nanos.round() as u64)))
}
