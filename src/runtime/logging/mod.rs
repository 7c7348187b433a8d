//! A container's log on the host, as Docker keeps it: the `json-file` driver (one JSON object
//! per line in `<id>-json.log`) and the `local` driver (length-framed protobuf records in
//! `local-logs/container.log`), each rotated at `max-size` into `.1`, `.2`, … (`.N.gz` with
//! `compress`), keeping `max-file` files in all. The shim writes (`writer`, `rotate`); the
//! daemon reads across the rotated files and follows across a rotation (`reader`). The
//! options are checked as Docker checks them (`opts`).

pub mod jsonfile;
pub mod local;
pub mod opts;
pub mod reader;
pub mod rotate;
pub mod writer;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How the records of a log file are laid out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    #[default]
    JsonFile,
    Local,
}

/// What the shim needs to keep a container's log: the format, the rotation and, for
/// json-file, the attributes (`labels`, `env`, `env-regex`, `tag`) put on every line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogSettings {
    #[serde(default)]
    pub format: Format,
    /// Bytes a file may grow to before it is rotated; None = never rotated.
    #[serde(default)]
    pub max_size: Option<u64>,
    /// Files kept in all, the current one included.
    #[serde(default = "one")]
    pub max_files: u32,
    /// Rotated files are gzipped (`.N.gz`).
    #[serde(default)]
    pub compress: bool,
    #[serde(default)]
    pub attrs: BTreeMap<String, String>,
}

fn one() -> u32 {
    1
}

impl Default for LogSettings {
    /// Docker's json-file without options: one file that grows without bound.
    fn default() -> Self {
        LogSettings {
            format: Format::JsonFile,
            max_size: None,
            max_files: 1,
            compress: false,
            attrs: BTreeMap::new(),
        }
    }
}

impl LogSettings {
    pub fn is_default(&self) -> bool {
        *self == LogSettings::default()
    }
}

/// One record of a log, whichever the format: the text (with its newline unless the line
/// was cut, at 16 KiB or by the container's exit), the stream, the RFC 3339 time with
/// nanoseconds, and the attributes json-file stored with it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Entry {
    pub log: String,
    pub stream: String,
    pub time: String,
    #[serde(default)]
    pub attrs: BTreeMap<String, String>,
}

/// RFC 3339 with nine digits of nanoseconds, as Docker writes and shows log times.
pub fn rfc3339_nanos(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Decode the complete records at the start of `buf`; returns them and the bytes they took
/// (a record still being written is left for the next read).
pub fn decode(format: Format, buf: &[u8]) -> (Vec<Entry>, usize) {
    match format {
        Format::JsonFile => jsonfile::decode(buf),
        Format::Local => local::decode(buf),
    }
}
