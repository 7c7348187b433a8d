//! `--log-opt`: the options of the json-file and local drivers, checked as Docker checks them
//! and refused in its words, into the settings the shim keeps the log by. Docker finds a bad
//! value only when the container starts; berth finds it at create, so nothing is made for a
//! container that could never log. Sizes are read as Docker's go-units reads them
//! (`FromHumanSize`: decimal, so `10k` is 10000 bytes).

use super::{Format, LogSettings};
use std::collections::BTreeMap;

/// The local driver's defaults (Docker's): 20 MiB files, five of them, rotated ones gzipped.
pub const LOCAL_MAX_SIZE: u64 = 20 * 1024 * 1024;
pub const LOCAL_MAX_FILES: u32 = 5;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LogOptError {
    #[error("unknown log opt '{0}' for json-file log driver")]
    UnknownJsonFile(String),
    #[error("unknown log opt '{0}' for log driver local")]
    UnknownLocal(String),
    #[error("invalid size: '{0}'")]
    Size(String),
    #[error("max-size must be a positive number")]
    SizeNotPositive,
    #[error("invalid value for max-file: {0}: strconv.Atoi: parsing {0:?}: {1}")]
    MaxFile(String, &'static str),
    #[error("max-file cannot be less than 1")]
    MaxFileBelowOne,
    #[error("max file count cannot be less than 0")]
    MaxFileNegative,
    #[error(
        "invalid boolean value for compress: strconv.ParseBool: parsing {0:?}: invalid syntax"
    )]
    Compress(String),
    #[error("compress cannot be true when max-file is less than 2 or max-size is not set")]
    CompressWithoutRotation,
    #[error("compression cannot be enabled when max file count is 1")]
    LocalCompressOneFile,
    #[error("logger: logging mode not supported: {0}")]
    Mode(String),
    #[error("logger: max-buffer-size option is only supported with 'mode=non-blocking'")]
    MaxBufferSize,
    #[error("--log-opt mode=non-blocking is not supported by berth yet")]
    NonBlocking,
    #[error("invalid {0} '{1}': {2}")]
    Regex(&'static str, String, String),
    #[error("invalid tag template '{0}': {1}")]
    Tag(String, String),
    #[error("the log driver {0:?} is not supported by berth yet")]
    Driver(String),
}

/// The options of one container's log, checked; the attributes still need the container.
#[derive(Debug, Clone)]
pub struct LogOptions {
    settings: LogSettings,
    labels: Vec<String>,
    labels_regex: Option<regex::Regex>,
    env: Vec<String>,
    env_regex: Option<regex::Regex>,
    tag: Option<String>,
}

/// What `labels`, `env` and `tag` are taken from: the container.
#[derive(Debug, Clone, Default)]
pub struct LogContext<'a> {
    pub id: &'a str,
    /// With or without Docker's leading slash.
    pub name: &'a str,
    /// `sha256:…`
    pub image_id: &'a str,
    /// The image as the container was created from it (`busybox`).
    pub image_name: &'a str,
    pub hostname: &'a str,
    pub command: Vec<String>,
    pub labels: Option<&'a BTreeMap<String, String>>,
    /// `KEY=value` entries.
    pub env: &'a [String],
}

/// `max-size` as Docker's go-units `FromHumanSize` reads it: a decimal number, an optional
/// space, an optional k/m/g/t/p (powers of 1000), an optional `i` and `b`. No sign: Docker
/// refuses `-1` as an invalid size, and there is no way to ask for "no limit" but leaving it out.
pub fn parse_size(s: &str) -> Result<i64, LogOptError> {
    let bad = || LogOptError::Size(s.to_string());
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    let mut parts = num.split('.');
    let whole = parts.next().unwrap_or_default();
    let frac = parts.next();
    if whole.is_empty() || parts.next().is_some() || frac.is_some_and(|f| f.is_empty()) {
        return Err(bad());
    }
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "p" => 1e15,
        _ => return Err(bad()),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    // Go converts with int64(f), which saturates; so does `as`.
    Ok((n * mult) as i64)
}

/// Go's `strconv.Atoi`, for `max-file`.
fn atoi(key_value: &str) -> Result<i64, LogOptError> {
    key_value.parse::<i64>().map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        LogOptError::MaxFile(key_value.to_string(), why)
    })
}

/// Go's `strconv.ParseBool`, for `compress`.
fn parse_bool(s: &str) -> Result<bool, LogOptError> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(LogOptError::Compress(s.to_string())),
    }
}

fn regex(key: &'static str, v: &str) -> Result<Option<regex::Regex>, LogOptError> {
    if v.is_empty() {
        return Ok(None);
    }
    regex::Regex::new(v).map(Some).map_err(|e| {
        let why = e.to_string();
        let last = why.lines().last().unwrap_or_default().trim();
        LogOptError::Regex(key, v.to_string(), last.to_string())
    })
}

fn list(v: Option<&String>) -> Vec<String> {
    match v {
        Some(v) if !v.is_empty() => v.split(',').map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// `--log-opt` values as the docker CLI and dockerd read them: `key=value`, a bare `key` is an
/// empty value.
pub fn from_flags(opts: &[String]) -> BTreeMap<String, String> {
    opts.iter()
        .map(|o| match o.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (o.clone(), String::new()),
        })
        .collect()
}

/// Check a driver's options. None for `none`, which keeps no log (and, as in Docker,
/// ignores whatever options it was given).
pub fn parse(
    driver: &str,
    cfg: &BTreeMap<String, String>,
) -> Result<Option<LogOptions>, LogOptError> {
    let format = match driver {
        "" | "json-file" => Format::JsonFile,
        "local" => Format::Local,
        "none" => return Ok(None),
        other => return Err(LogOptError::Driver(other.to_string())),
    };
    // The options every driver takes (Docker's `builtInLogOpts`).
    match cfg.get("mode").map(String::as_str) {
        None | Some("") | Some("blocking") => {
            if cfg.contains_key("max-buffer-size") {
                return Err(LogOptError::MaxBufferSize);
            }
        }
        Some("non-blocking") => return Err(LogOptError::NonBlocking),
        Some(other) => return Err(LogOptError::Mode(other.to_string())),
    }
    let own = cfg
        .keys()
        .filter(|k| !matches!(k.as_str(), "mode" | "max-buffer-size"));
    for key in own {
        let known = match format {
            Format::JsonFile => matches!(
                key.as_str(),
                "max-file"
                    | "max-size"
                    | "compress"
                    | "labels"
                    | "labels-regex"
                    | "env"
                    | "env-regex"
                    | "tag"
            ),
            Format::Local => matches!(key.as_str(), "max-file" | "max-size" | "compress"),
        };
        if !known {
            return Err(match format {
                Format::JsonFile => LogOptError::UnknownJsonFile(key.clone()),
                Format::Local => LogOptError::UnknownLocal(key.clone()),
            });
        }
    }
    let max_size = match cfg.get("max-size") {
        None => None,
        Some(v) => match parse_size(v)? {
            n if n <= 0 => return Err(LogOptError::SizeNotPositive),
            n => Some(n as u64),
        },
    };
    let max_files = cfg.get("max-file").map(|v| atoi(v)).transpose()?;
    let compress = cfg.get("compress").map(|v| parse_bool(v)).transpose()?;
    // Each driver's defaults and its own checks; the settings are built once after.
    let (max_size, max_files, compress) = match format {
        Format::JsonFile => {
            let max_files = match max_files {
                None => 1,
                Some(n) if n < 1 => return Err(LogOptError::MaxFileBelowOne),
                Some(n) => n.min(i64::from(u32::MAX)) as u32,
            };
            let compress = compress.unwrap_or(false);
            if compress && (max_files == 1 || max_size.is_none()) {
                return Err(LogOptError::CompressWithoutRotation);
            }
            (max_size, max_files, compress)
        }
        Format::Local => {
            let max_files = match max_files {
                None => LOCAL_MAX_FILES,
                Some(n) if n < 0 => return Err(LogOptError::MaxFileNegative),
                // Docker keeps one file for 0 as for 1.
                Some(n) => n.clamp(1, i64::from(u32::MAX)) as u32,
            };
            let compress = compress.unwrap_or(true);
            if compress && max_files <= 1 {
                return Err(LogOptError::LocalCompressOneFile);
            }
            (
                Some(max_size.unwrap_or(LOCAL_MAX_SIZE)),
                max_files,
                compress,
            )
        }
    };
    let settings = LogSettings {
        format,
        max_size,
        max_files,
        compress,
        attrs: BTreeMap::new(),
    };
    let opts = LogOptions {
        settings,
        labels: list(cfg.get("labels")),
        labels_regex: regex("labels-regex", cfg.get("labels-regex").map_or("", |s| s))?,
        env: list(cfg.get("env")),
        env_regex: regex("env-regex", cfg.get("env-regex").map_or("", |s| s))?,
        tag: cfg.get("tag").filter(|t| !t.is_empty()).cloned(),
    };
    // A template that cannot render for any container is refused now, not at start.
    opts.settings_for(&LogContext {
        id: "0123456789ab0123456789ab0123456789ab0123456789ab0123456789ab0123",
        name: "/name",
        image_id: "sha256:0123456789ab0123456789ab0123456789ab0123456789ab0123456789ab0123",
        image_name: "image",
        hostname: "host",
        ..Default::default()
    })?;
    Ok(Some(opts))
}

fn short(id: &str) -> String {
    let id = id.split_once(':').map_or(id, |(_, h)| h);
    id.chars().take(12).collect()
}

/// `tag`: a Go template over the container, with the names Docker's log `Info` offers.
fn render_tag(tag: &str, ctx: &LogContext) -> Result<String, LogOptError> {
    use gtmpl_value::Value;
    let s = |v: &str| Value::String(v.to_string());
    let name = ctx.name.trim_start_matches('/');
    let fields = std::collections::HashMap::from([
        ("ID".to_string(), Value::String(short(ctx.id))),
        ("FullID".to_string(), s(ctx.id)),
        ("Name".to_string(), s(name)),
        ("ImageID".to_string(), Value::String(short(ctx.image_id))),
        ("ImageFullID".to_string(), s(ctx.image_id)),
        ("ImageName".to_string(), s(ctx.image_name)),
        ("DaemonName".to_string(), s("berth")),
        ("Hostname".to_string(), s(ctx.hostname)),
        ("Command".to_string(), s(&ctx.command.join(" "))),
        ("ContainerID".to_string(), s(ctx.id)),
        ("ContainerName".to_string(), s(ctx.name)),
        ("ContainerImageID".to_string(), s(ctx.image_id)),
        ("ContainerImageName".to_string(), s(ctx.image_name)),
    ]);
    gtmpl::template(tag, Value::Object(fields)).map_err(|e| {
        let why = e.to_string();
        // gtmpl names a missing field and then prints every field there is.
        let why = match why.split_once("no field ") {
            Some((_, rest)) => {
                let field = rest.split(' ').next().unwrap_or_default();
                format!("can't evaluate field {field}")
            }
            None => why,
        };
        LogOptError::Tag(tag.to_string(), why)
    })
}

impl LogOptions {
    /// The settings for one container: json-file's attributes taken from its labels, its
    /// environment and the tag template, as Docker's `ExtraAttributes` takes them.
    pub fn settings_for(&self, ctx: &LogContext) -> Result<LogSettings, LogOptError> {
        let mut s = self.settings.clone();
        let no_labels = BTreeMap::new();
        let labels = ctx.labels.unwrap_or(&no_labels);
        for l in &self.labels {
            if let Some(v) = labels.get(l) {
                s.attrs.insert(l.clone(), v.clone());
            }
        }
        if let Some(re) = &self.labels_regex {
            for (k, v) in labels.iter().filter(|(k, _)| re.is_match(k)) {
                s.attrs.insert(k.clone(), v.clone());
            }
        }
        let env: BTreeMap<&str, &str> = ctx.env.iter().filter_map(|e| e.split_once('=')).collect();
        for e in &self.env {
            if let Some(v) = env.get(e.as_str()) {
                s.attrs.insert(e.clone(), v.to_string());
            }
        }
        if let Some(re) = &self.env_regex {
            for (k, v) in env.iter().filter(|(k, _)| re.is_match(k)) {
                s.attrs.insert(k.to_string(), v.to_string());
            }
        }
        if let Some(tag) = &self.tag {
            let t = render_tag(tag, ctx)?;
            if !t.is_empty() {
                s.attrs.insert("tag".into(), t);
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn settings(driver: &str, pairs: &[(&str, &str)]) -> Result<LogSettings, String> {
        parse(driver, &opts(pairs))
            .map(|o| o.expect("a driver that keeps logs").settings)
            .map_err(|e| e.to_string())
    }

    #[rstest]
    #[case("10", 10)]
    #[case("10b", 10)]
    #[case("10k", 10_000)]
    #[case("10K", 10_000)]
    #[case("10kb", 10_000)]
    #[case("10KiB", 10_000)]
    #[case("10 k", 10_000)]
    #[case("1.5m", 1_500_000)]
    #[case("2g", 2_000_000_000)]
    #[case("1t", 1_000_000_000_000)]
    #[case("0", 0)]
    fn sizes_parse_as_go_units_does(#[case] s: &str, #[case] n: i64) {
        assert_eq!(parse_size(s), Ok(n));
    }

    #[rstest]
    #[case("")]
    #[case("k")]
    #[case("10x")]
    #[case("-2")]
    #[case("-1")]
    #[case("1.")]
    #[case("1.2.3")]
    #[case("10kk")]
    #[case("10  k")]
    #[case(" 10")]
    fn bad_sizes_are_refused_naming_the_value(#[case] s: &str) {
        assert_eq!(
            parse_size(s).unwrap_err().to_string(),
            format!("invalid size: '{s}'")
        );
    }

    proptest! {
        #[test]
        fn a_number_and_a_unit_is_that_many_bytes(
            n in 0u32..1_000_000,
            unit in prop::sample::select(vec![
                ("", 1u64), ("b", 1), ("k", 1000), ("K", 1000), ("kb", 1000), ("KiB", 1000),
                ("m", 1_000_000), ("MB", 1_000_000), ("g", 1_000_000_000), ("Gi", 1_000_000_000),
            ]),
            space in any::<bool>(),
        ) {
            let text = format!("{n}{}{}", if space && !unit.0.is_empty() { " " } else { "" }, unit.0);
            prop_assert_eq!(parse_size(&text), Ok((u64::from(n) * unit.1) as i64));
        }

        #[test]
        fn any_text_parses_or_is_refused_by_name(s in "\\PC{0,12}") {
            match parse_size(&s) {
                Ok(n) => prop_assert!(n >= 0),
                Err(e) => prop_assert_eq!(e.to_string(), format!("invalid size: '{s}'")),
            }
        }
    }

    #[rstest]
    #[case::json_defaults("json-file", &[], None, 1, false)]
    #[case::empty_driver_is_json("", &[("max-size", "10k")], Some(10_000), 1, false)]
    #[case::json_rotation("json-file", &[("max-size", "10k"), ("max-file", "3")], Some(10_000), 3, false)]
    #[case::json_compress("json-file", &[("max-size", "1m"), ("max-file", "2"), ("compress", "true")], Some(1_000_000), 2, true)]
    #[case::max_file_alone_is_accepted("json-file", &[("max-file", "100")], None, 100, false)]
    #[case::local_defaults("local", &[], Some(20 * 1024 * 1024), 5, true)]
    #[case::local_options("local", &[("max-size", "10k"), ("max-file", "3"), ("compress", "false")], Some(10_000), 3, false)]
    #[case::local_zero_files_is_one("local", &[("max-file", "0"), ("compress", "0")], Some(20 * 1024 * 1024), 1, false)]
    #[case::blocking_mode("json-file", &[("mode", "blocking")], None, 1, false)]
    fn good_options(
        #[case] driver: &str,
        #[case] pairs: &[(&str, &str)],
        #[case] max_size: Option<u64>,
        #[case] max_files: u32,
        #[case] compress: bool,
    ) {
        let s = settings(driver, pairs).unwrap();
        assert_eq!(
            (s.max_size, s.max_files, s.compress),
            (max_size, max_files, compress)
        );
        let format = if driver == "local" {
            Format::Local
        } else {
            Format::JsonFile
        };
        assert_eq!(s.format, format);
    }

    #[rstest]
    #[case("json-file", &[("x", "1")], "unknown log opt 'x' for json-file log driver")]
    #[case("local", &[("labels", "a")], "unknown log opt 'labels' for log driver local")]
    #[case("json-file", &[("max-size", "10q")], "invalid size: '10q'")]
    #[case("json-file", &[("max-size", "0")], "max-size must be a positive number")]
    #[case("json-file", &[("max-file", "abc")], "invalid value for max-file: abc: strconv.Atoi: parsing \"abc\": invalid syntax")]
    #[case("json-file", &[("max-file", "99999999999999999999")], "invalid value for max-file: 99999999999999999999: strconv.Atoi: parsing \"99999999999999999999\": value out of range")]
    #[case("json-file", &[("max-file", "0")], "max-file cannot be less than 1")]
    #[case("json-file", &[("compress", "maybe")], "invalid boolean value for compress: strconv.ParseBool: parsing \"maybe\": invalid syntax")]
    #[case("json-file", &[("compress", "true"), ("max-size", "1k")], "compress cannot be true when max-file is less than 2 or max-size is not set")]
    #[case("json-file", &[("compress", "true"), ("max-file", "3")], "compress cannot be true when max-file is less than 2 or max-size is not set")]
    #[case("local", &[("max-file", "1")], "compression cannot be enabled when max file count is 1")]
    #[case("local", &[("max-file", "-1")], "max file count cannot be less than 0")]
    #[case("local", &[("max-size", "0")], "max-size must be a positive number")]
    #[case("json-file", &[("mode", "sometimes")], "logger: logging mode not supported: sometimes")]
    #[case("json-file", &[("max-buffer-size", "4m")], "logger: max-buffer-size option is only supported with 'mode=non-blocking'")]
    #[case("local", &[("mode", "non-blocking")], "--log-opt mode=non-blocking is not supported by berth yet")]
    #[case("json-file", &[("env-regex", "[a")], "invalid env-regex '[a': error: unclosed character class")]
    #[case("json-file", &[("tag", "{{.Name")], "invalid tag template '{{.Name': ")]
    #[case("json-file", &[("tag", "{{.Nope}}")], "invalid tag template '{{.Nope}}': can't evaluate field Nope")]
    #[case("syslog", &[], "the log driver \"syslog\" is not supported by berth yet")]
    fn bad_options_in_dockers_words(
        #[case] driver: &str,
        #[case] pairs: &[(&str, &str)],
        #[case] wording: &str,
    ) {
        let err = settings(driver, pairs).unwrap_err();
        assert!(
            err.starts_with(wording),
            "{err:?} does not start with {wording:?}"
        );
    }

    #[test]
    fn none_takes_anything_and_keeps_nothing() {
        assert!(parse("none", &opts(&[("x", "y")])).unwrap().is_none());
    }

    #[test]
    fn attributes_come_from_labels_env_and_the_tag() {
        let o = parse(
            "json-file",
            &opts(&[
                ("labels", "team,absent"),
                ("labels-regex", "^com\\."),
                ("env", "STAGE"),
                ("env-regex", "^APP_"),
                ("tag", "{{.ImageName}}/{{.Name}}/{{.ID}}"),
            ]),
        )
        .unwrap()
        .unwrap();
        let labels = BTreeMap::from([
            ("team".to_string(), "web".to_string()),
            ("com.example".to_string(), "x".to_string()),
            ("other".to_string(), "no".to_string()),
        ]);
        let env = vec![
            "STAGE=prod".to_string(),
            "APP_PORT=80".to_string(),
            "PATH=/bin".to_string(),
        ];
        let s = o
            .settings_for(&LogContext {
                id: "c0ffeec0ffee1234",
                name: "/web1",
                image_id: "sha256:abcdef",
                image_name: "busybox",
                labels: Some(&labels),
                env: &env,
                ..Default::default()
            })
            .unwrap();
        let want: BTreeMap<String, String> = [
            ("team", "web"),
            ("com.example", "x"),
            ("STAGE", "prod"),
            ("APP_PORT", "80"),
            ("tag", "busybox/web1/c0ffeec0ffee"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(s.attrs, want);
    }
}
