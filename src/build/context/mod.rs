//! The build context as the client sends it: a directory tarred the way the docker CLI tars
//! it (honouring `.dockerignore`, the Dockerfile and `.dockerignore` always in), a tar or a
//! lone Dockerfile read from stdin, and a Dockerfile from outside the context added under a
//! random name. Pure pieces, so the CLI only moves bytes.

pub mod archive;
pub mod ignore;
pub mod pattern;
pub mod source;

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ContextError {
    #[error("error checking context: {0}")]
    Pattern(pattern::PatternError),
    #[error("error checking context: no permission to read from '{}'", .0.display())]
    Unreadable(PathBuf),
    #[error("{}: {}", .0.display(), .1)]
    Io(PathBuf, std::io::Error),
    /// What the docker CLI says when it cannot make sense of PATH or `-f`.
    #[error("unable to prepare context: {0}")]
    Prepare(String),
    #[error("unable to open Dockerfile: {0}")]
    OpenDockerfile(String),
    #[error("berth build: remote contexts are not supported yet: {0}")]
    Remote(String),
    #[error("invalid argument: can't use stdin for both build context and dockerfile")]
    StdinTwice,
    #[error("error reading .dockerignore: {0}")]
    Dockerignore(std::io::Error),
    #[error("reading the Dockerfile from stdin: {0}")]
    Stdin(std::io::Error),
}

/// An I/O error worded as Go words it ("lstat /x: no such file or directory"), since the
/// docker CLI's messages embed Go's.
pub(crate) fn go_error(op: &str, path: &std::path::Path, e: &std::io::Error) -> String {
    let what = match e.raw_os_error() {
        Some(n) => {
            let d = nix::errno::Errno::from_raw(n).desc();
            let mut c = d.chars();
            match c.next() {
                Some(f) => f.to_lowercase().chain(c).collect(),
                None => String::new(),
            }
        }
        None => e.to_string(),
    };
    format!("{op} {}: {what}", path.display())
}

#[cfg(test)]
mod oracle_tests;
