//! The storage flags of `run` and `create` (`-v`, `--mount`, `--tmpfs`, `--volumes-from`,
//! `--volume-driver`) and where docker/cli (28) puts them in the create request: a `-v` with a
//! source (a host path or a volume's name) in `HostConfig.Binds` as written, a bare `-v /path`
//! in `Config.Volumes` (an anonymous volume), each `--mount` as a `HostConfig.Mounts` entry,
//! `--tmpfs` as the `HostConfig.Tmpfs` map. The daemon decides what each means; the client only
//! splits and refuses what docker's client refuses, with its words, so the same command line
//! fails the same way against either engine.

use crate::wire::types::CreateRequest;
use crate::wire::volume::{
    BindOptions, DriverConfig, ImageOptions, Mount, TmpfsOptions, VolumeOptions,
};
use clap::Args;
use std::collections::BTreeMap;

#[derive(Args, Debug, Clone, Default)]
pub struct MountArgs {
    /// Bind mount a volume
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// Attach a filesystem mount to the container
    #[arg(long = "mount")]
    pub mounts: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long = "tmpfs")]
    pub tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long = "volumes-from")]
    pub volumes_from: Vec<String>,
    /// Optional volume driver for the container
    #[arg(long = "volume-driver")]
    pub volume_driver: Option<String>,
}

/// What the flags add to the create request, each part under its Engine API name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MountPlan {
    /// `HostConfig.Binds`.
    pub binds: Vec<String>,
    /// `Config.Volumes`: the anonymous volumes' targets.
    pub volumes: BTreeMap<String, serde_json::Value>,
    /// `HostConfig.Mounts`.
    pub mounts: Vec<Mount>,
    /// `HostConfig.Tmpfs`: target → mount options.
    pub tmpfs: BTreeMap<String, String>,
    /// `HostConfig.VolumesFrom`.
    pub volumes_from: Vec<String>,
    /// `HostConfig.VolumeDriver`.
    pub volume_driver: Option<String>,
}

/// The plan for these flags, or the first one docker would refuse. `cwd` turns the relative
/// sources (`src=./data`, `-v ./data:/data`) into absolute ones, as docker's client does with
/// the directory it runs in.
pub fn plan(a: &MountArgs, cwd: Option<&str>) -> Result<MountPlan, String> {
    let mut p = MountPlan::default();
    // `--mount` is checked as the flag is read, before anything else, as pflag does.
    for m in &a.mounts {
        p.mounts.push(
            parse_mount(m, cwd)
                .map_err(|e| format!("invalid argument {m:?} for \"--mount\" flag: {e}"))?,
        );
    }
    for spec in &a.volumes {
        let v = split_volume(spec)?;
        if v.source.is_empty() {
            p.volumes.insert(spec.clone(), serde_json::json!({}));
            continue;
        }
        let mut bind = spec.clone();
        if v.kind == "bind" {
            if let (Some((host, rest)), Some(cwd)) = (spec.split_once(':'), cwd) {
                if host.starts_with('.') {
                    bind = format!("{}:{rest}", go_abs(cwd, host));
                }
            }
        }
        // docker collects `-v` in a set: a repeated spec is sent once.
        if !p.binds.contains(&bind) {
            p.binds.push(bind);
        }
    }
    for t in &a.tmpfs {
        let (k, v) = t.split_once(':').unwrap_or((t, ""));
        p.tmpfs.insert(k.to_string(), v.to_string());
    }
    p.volumes_from = a.volumes_from.clone();
    p.volume_driver = a.volume_driver.clone();
    Ok(p)
}

/// Put the plan in the request: `Config.Volumes` always (docker sends `{}` for none), and
/// HostConfig's `Binds`, `Mounts`, `Tmpfs`, `VolumesFrom` and `VolumeDriver` when given.
pub fn apply(p: MountPlan, request: &mut CreateRequest) {
    request.config.volumes = Some(p.volumes);
    let Some(hc) = request.host_config.as_mut() else {
        return;
    };
    hc.binds = (!p.binds.is_empty()).then_some(p.binds);
    hc.mounts = (!p.mounts.is_empty()).then_some(p.mounts);
    hc.tmpfs = (!p.tmpfs.is_empty()).then_some(p.tmpfs);
    hc.volumes_from = (!p.volumes_from.is_empty()).then_some(p.volumes_from);
    hc.volume_driver = p.volume_driver.unwrap_or_default();
}

/// A `-v` spec as docker/cli's `volumespec.Parse` splits it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VolumeSpec {
    pub source: String,
    pub target: String,
    /// `bind` for a source that is a path, `volume` otherwise.
    pub kind: &'static str,
}

/// docker/cli's split of `-v`: `target`, `source:target` or `source:target:options`, on the
/// colons; a colon right after a lone letter is part of a Windows drive (`c:\x`), which
/// docker's client treats the same on every platform, so `-v a:/data` is one anonymous
/// volume named by its whole text, as there. One or two characters are always a target.
pub fn split_volume(spec: &str) -> Result<VolumeSpec, String> {
    let mut v = VolumeSpec {
        kind: "volume",
        ..Default::default()
    };
    match spec.len() {
        0 => return Err("invalid empty volume spec".into()),
        1 | 2 => {
            v.target = spec.to_string();
            return Ok(v);
        }
        _ => {}
    }
    let mut buffer = String::new();
    // Docker's end-of-spec marker is NUL, so a NUL inside the spec ends a part just the same.
    for c in spec.chars().chain(std::iter::once('\0')) {
        let drive = c == ':'
            && buffer.chars().count() == 1
            && buffer.chars().next().is_some_and(char::is_alphabetic);
        if drive {
            buffer.push(c);
        } else if c == ':' || c == '\0' {
            if let Err(e) = spec_field(c, &buffer, &mut v) {
                return Err(format!("invalid spec: {spec}: {e}"));
            }
            buffer.clear();
        } else {
            buffer.push(c);
        }
    }
    if !v.source.is_empty() && is_file_path(&v.source) {
        v.kind = "bind";
    }
    Ok(v)
}

fn spec_field(c: char, buffer: &str, v: &mut VolumeSpec) -> Result<(), &'static str> {
    if buffer.is_empty() {
        return Err("empty section between colons");
    }
    if v.source.is_empty() && c == '\0' {
        v.target = buffer.to_string();
    } else if v.source.is_empty() {
        v.source = buffer.to_string();
    } else if v.target.is_empty() {
        v.target = buffer.to_string();
    } else if c == ':' {
        return Err("too many colons");
    }
    // The third part, the options (`ro`, `z`, `nocopy`, …), goes to the daemon as written.
    Ok(())
}

/// docker/cli's `isFilePath`: what makes a `-v` source a host path rather than a volume name.
fn is_file_path(source: &str) -> bool {
    let first = source.chars().next();
    if matches!(first, Some('.' | '/' | '~')) {
        return true;
    }
    if source.chars().count() == 1 {
        return false;
    }
    if source.starts_with("\\\\") {
        return true;
    }
    first.is_some_and(char::is_alphabetic)
        && source.as_bytes().get(first.map_or(0, char::len_utf8)) == Some(&b':')
}

/// One `--mount` value as docker/cli's `MountOpt.Set` (28) reads it, with its error texts:
/// CSV fields of `key=value` (keys in any case), the type `volume` unless given, a target
/// required, and options of one type refused on another. `bind-create-src` (docker 29's) is
/// read too, since the wire has its field.
pub fn parse_mount(value: &str, cwd: Option<&str>) -> Result<Mount, String> {
    let fields = csv_record(value)?;
    let mut m = Mount {
        kind: "volume".into(),
        ..Default::default()
    };
    // Docker's client makes the volume options with an empty driver config, which its JSON
    // keeps (`"DriverConfig":{}`) as soon as any `volume-*` key is given.
    fn volume(m: &mut Mount) -> &mut VolumeOptions {
        m.volume_options.get_or_insert_with(|| VolumeOptions {
            driver_config: Some(DriverConfig::default()),
            ..Default::default()
        })
    }
    fn bind(m: &mut Mount) -> &mut BindOptions {
        m.bind_options.get_or_insert_with(Default::default)
    }
    fn tmpfs(m: &mut Mount) -> &mut TmpfsOptions {
        m.tmpfs_options.get_or_insert_with(Default::default)
    }
    fn put(map: &mut Option<BTreeMap<String, String>>, kv: &str) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        if !k.is_empty() {
            map.get_or_insert_with(Default::default)
                .insert(k.into(), v.into());
        }
    }
    let bad = |key: &str, val: &str| format!("invalid value for {key}: {val}");
    for field in &fields {
        let Some((key, val)) = field.split_once('=') else {
            match field.to_lowercase().as_str() {
                "readonly" | "ro" => m.read_only = true,
                "volume-nocopy" => volume(&mut m).no_copy = true,
                "bind-nonrecursive" => bind(&mut m).non_recursive = true,
                "bind-create-src" => bind(&mut m).create_mountpoint = true,
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
            continue;
        };
        let key = key.to_lowercase();
        match key.as_str() {
            "type" => m.kind = val.to_lowercase(),
            "source" | "src" => {
                m.source = match cwd {
                    Some(cwd) if val.starts_with('.') => go_abs(cwd, val),
                    _ => val.to_string(),
                }
            }
            "target" | "dst" | "destination" => m.target = val.to_string(),
            "readonly" | "ro" => m.read_only = go_bool(val).ok_or_else(|| bad(&key, val))?,
            "consistency" => m.consistency = val.to_lowercase(),
            "bind-propagation" => bind(&mut m).propagation = val.to_lowercase(),
            "bind-nonrecursive" => {
                bind(&mut m).non_recursive = go_bool(val).ok_or_else(|| bad(&key, val))?
            }
            "bind-recursive" => match val {
                "enabled" => {}
                "disabled" => bind(&mut m).non_recursive = true,
                "writable" => bind(&mut m).read_only_non_recursive = true,
                "readonly" => bind(&mut m).read_only_force_recursive = true,
                _ => {
                    return Err(format!(
                        r#"invalid value for {key}: {val} (must be "enabled", "disabled", "writable", or "readonly")"#
                    ))
                }
            },
            "bind-create-src" => {
                bind(&mut m).create_mountpoint = go_bool(val).ok_or_else(|| bad(&key, val))?
            }
            "volume-subpath" => volume(&mut m).subpath = val.to_string(),
            "volume-nocopy" => {
                volume(&mut m).no_copy =
                    go_bool(val).ok_or_else(|| format!("invalid value for volume-nocopy: {val}"))?
            }
            "volume-label" => put(&mut volume(&mut m).labels, val),
            "volume-driver" => {
                let d = volume(&mut m)
                    .driver_config
                    .get_or_insert_with(Default::default);
                d.name = val.to_string();
            }
            "volume-opt" => {
                let d = volume(&mut m)
                    .driver_config
                    .get_or_insert_with(Default::default);
                put(&mut d.options, val);
            }
            "image-subpath" => {
                m.image_options
                    .get_or_insert_with(ImageOptions::default)
                    .subpath = val.to_string()
            }
            "tmpfs-size" => {
                tmpfs(&mut m).size_bytes = ram_in_bytes(val).ok_or_else(|| bad(&key, val))?
            }
            "tmpfs-mode" => {
                let valid = !val.is_empty() && val.bytes().all(|b| (b'0'..=b'7').contains(&b));
                let mode = valid.then(|| u32::from_str_radix(val, 8).ok()).flatten();
                tmpfs(&mut m).mode = mode.ok_or_else(|| bad(&key, val))?;
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    if m.kind.is_empty() {
        return Err("type is required".into());
    }
    if m.target.is_empty() {
        return Err("target is required".into());
    }
    for (given, family, kind) in [
        (m.volume_options.is_some(), "volume", "volume"),
        (m.image_options.is_some(), "image", "image"),
        (m.bind_options.is_some(), "bind", "bind"),
        (m.tmpfs_options.is_some(), "tmpfs", "tmpfs"),
    ] {
        if given && m.kind != kind {
            return Err(format!(
                "cannot mix '{family}-*' options with mount type '{}'",
                m.kind
            ));
        }
    }
    if let Some(b) = &m.bind_options {
        if b.read_only_non_recursive && !m.read_only {
            return Err("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction".into());
        }
        if b.read_only_force_recursive {
            if !m.read_only {
                return Err("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction".into());
            }
            if b.propagation != "rprivate" {
                return Err("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction".into());
            }
        }
    }
    // Go's JSON leaves out the empty maps docker's client makes along the way.
    if let Some(v) = m.volume_options.as_mut() {
        v.labels = v.labels.take().filter(|l| !l.is_empty());
        if let Some(d) = v.driver_config.as_mut() {
            d.options = d.options.take().filter(|o| !o.is_empty());
        }
    }
    Ok(m)
}

/// The first record of `s` as Go's `encoding/csv` reader (comma-separated, RFC 4180 quotes,
/// blank lines skipped, `\r\n` read as `\n`) returns it, or its error text (columns are
/// 1-based byte offsets, as Go counts them).
pub fn csv_record(s: &str) -> Result<Vec<String>, String> {
    let lines = go_lines(s);
    let mut next = lines.iter().enumerate().map(|(i, l)| (i + 1, l.as_str()));
    let (start_line, mut line) = loop {
        match next.next() {
            None => return Err("EOF".into()),
            Some((_, "\n")) => continue,
            Some(l) => break l,
        }
    };
    let (mut line_no, mut col) = (start_line, 1usize);
    let error = |at: usize, col: usize, what: &str| {
        if start_line != at {
            format!("record on line {start_line}; parse error on line {at}, column {col}: {what}")
        } else {
            format!("parse error on line {at}, column {col}: {what}")
        }
    };
    const BARE: &str = "bare \" in non-quoted-field";
    const QUOTE: &str = "extraneous or missing \" in quoted-field";
    let mut fields = Vec::new();
    loop {
        if !line.starts_with('"') {
            let (field, comma) = match line.find(',') {
                Some(i) => (&line[..i], Some(i)),
                None => (line.strip_suffix('\n').unwrap_or(line), None),
            };
            if let Some(j) = field.find('"') {
                return Err(error(line_no, col + j, BARE));
            }
            fields.push(field.to_string());
            let Some(i) = comma else {
                return Ok(fields);
            };
            line = &line[i + 1..];
            col += i + 1;
            continue;
        }
        let mut field = String::new();
        line = &line[1..];
        col += 1;
        loop {
            if let Some(i) = line.find('"') {
                field.push_str(&line[..i]);
                line = &line[i + 1..];
                col += i + 1;
                if let Some(rest) = line.strip_prefix('"') {
                    field.push('"');
                    line = rest;
                    col += 1;
                } else if let Some(rest) = line.strip_prefix(',') {
                    line = rest;
                    col += 1;
                    fields.push(field);
                    break;
                } else if line.is_empty() || line == "\n" {
                    fields.push(field);
                    return Ok(fields);
                } else {
                    return Err(error(line_no, col - 1, QUOTE));
                }
            } else if !line.is_empty() {
                // A quoted field goes on past the end of its line.
                field.push_str(line);
                col += line.len();
                line = next.next().map_or("", |(_, l)| l);
                if !line.is_empty() {
                    line_no += 1;
                    col = 1;
                }
            } else {
                return Err(error(line_no, col, QUOTE));
            }
        }
    }
}

/// Go's `csv.Reader.readLine` over a whole string: each line with its `\n`, `\r\n` read as
/// `\n`, and a `\r` ending the input dropped.
fn go_lines(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (line, tail) = match rest.find('\n') {
            Some(i) => rest.split_at(i + 1),
            None => (rest.strip_suffix('\r').unwrap_or(rest), ""),
        };
        rest = tail;
        out.push(match line.strip_suffix("\r\n") {
            Some(text) => format!("{text}\n"),
            None => line.to_string(),
        });
    }
    out
}

/// Go's `strconv.ParseBool`.
fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// go-units' `RAMInBytes`: a number, an optional space, and an optional k/m/g/t/p with an
/// optional `b` or `ib` (any case), in powers of 1024; `64m`, `1.5GiB`, `512 kB`, `100`.
pub fn ram_in_bytes(s: &str) -> Option<i64> {
    let sep = s.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')?;
    let (num, sfx) = if s.as_bytes()[sep] == b' ' {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..=sep], &s[sep + 1..])
    };
    // Go's ParseFloat takes what Rust's does for a text ending in a digit or a dot, except
    // Rust's leading `+` on "inf"-like words, which cannot end in a digit anyway.
    let size: f64 = num.parse().ok()?;
    if size < 0.0 || size.is_nan() {
        return None;
    }
    if sfx.is_empty() {
        return Some(size as i64);
    }
    if sfx.len() > 3 {
        return None;
    }
    let sfx = sfx.to_lowercase();
    let b = sfx.as_bytes();
    if b[0] == b'b' {
        return (b.len() == 1).then_some(size as i64);
    }
    let mul: i64 = match b[0] {
        b'k' => 1 << 10,
        b'm' => 1 << 20,
        b'g' => 1 << 30,
        b't' => 1 << 40,
        b'p' => 1 << 50,
        _ => return None,
    };
    let ok = match b.len() {
        1 => true,
        2 => b[1] == b'b',
        _ => &b[1..] == b"ib",
    };
    ok.then_some((size * mul as f64) as i64)
}

/// Go's `filepath.Abs` from `cwd`: joined and cleaned lexically.
fn go_abs(cwd: &str, path: &str) -> String {
    let joined = format!("{cwd}/{path}");
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
#[path = "mountopts_tests.rs"]
mod tests;
