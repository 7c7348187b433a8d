//! PATH and `-f` turned into what is sent, by the docker CLI's rules: `-` is stdin (an
//! archive, sniffed, or else a Dockerfile with an empty context); a directory is tarred, its
//! Dockerfile found relative to it by default, or relative to the working directory with
//! `-f`; a Dockerfile outside the context (or `-f -`) rides along under a random name; a URL
//! is refused.

use super::archive::{self, Entry, Extra};
use super::ignore::{legacy_matches, read_dockerignore, Matcher};
use super::{go_error, ContextError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// What the request body will be.
pub enum Body {
    /// A directory's entries, and maybe a Dockerfile added to them.
    Dir {
        entries: Vec<Entry>,
        extra: Option<Extra>,
    },
    /// stdin is an archive (plain or compressed): the bytes already read to sniff it, then
    /// the rest of stdin, sent as they are.
    Archive { head: Vec<u8> },
    /// stdin was a Dockerfile: an archive of it alone.
    Dockerfile { content: Vec<u8> },
}

pub struct Prepared {
    pub body: Body,
    /// The `dockerfile` query parameter; empty leaves the daemon's default.
    pub dockerfile: String,
}

impl Prepared {
    /// Write the body to `out`; `stdin` is read only for a stdin archive.
    pub fn write(self, stdin: impl Read, mut out: impl Write) -> io::Result<()> {
        match self.body {
            Body::Dir { entries, extra } => archive::write_tar(&entries, extra.as_ref(), out),
            Body::Archive { head } => {
                out.write_all(&head)?;
                copy_big(stdin, &mut out)?;
                out.flush()
            }
            Body::Dockerfile { content } => archive::write_single("Dockerfile", &content, out),
        }
    }
}

fn copy_big(mut from: impl Read, to: &mut impl Write) -> io::Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => to.write_all(&buf[..n])?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Work out what to send for context `context` and `-f` `file`, reading stdin where one of
/// them is `-`.
pub fn prepare(
    context: &str,
    file: Option<&str>,
    stdin: &mut dyn Read,
) -> Result<Prepared, ContextError> {
    let file = file.filter(|f| !f.is_empty());
    let dockerfile_from_stdin = file == Some("-");
    if dockerfile_from_stdin && context == "-" {
        return Err(ContextError::StdinTwice);
    }
    if context == "-" {
        return from_stdin(stdin, file);
    }
    if std::fs::metadata(context).is_ok() {
        return from_dir(context, file, stdin);
    }
    if is_git_url(context) || is_url(context) {
        return Err(ContextError::Remote(context.to_string()));
    }
    Err(ContextError::Prepare(format!("path {context:?} not found")))
}

fn from_stdin(stdin: &mut dyn Read, file: Option<&str>) -> Result<Prepared, ContextError> {
    let mut head = Vec::with_capacity(512);
    stdin.take(512).read_to_end(&mut head).map_err(|e| {
        ContextError::Prepare(format!("failed to peek context header from STDIN: {e}"))
    })?;
    if is_archive(&head) {
        return Ok(Prepared {
            body: Body::Archive { head },
            dockerfile: file.unwrap_or_default().to_string(),
        });
    }
    let mut content = head;
    stdin
        .read_to_end(&mut content)
        .map_err(ContextError::Stdin)?;
    Ok(Prepared {
        body: Body::Dockerfile { content },
        dockerfile: "Dockerfile".into(),
    })
}

/// An archive by its first block: a compression's magic, or a tar header whose checksum
/// holds (which covers ustar, GNU and old v7 headers alike).
pub fn is_archive(head: &[u8]) -> bool {
    const MAGIC: [&[u8]; 4] = [
        &[0x1f, 0x8b, 0x08],
        b"BZh",
        &[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
        &[0x28, 0xb5, 0x2f, 0xfd],
    ];
    if MAGIC.iter().any(|m| head.starts_with(m)) {
        return true;
    }
    if head.len() < 512 || head[..512].iter().all(|b| *b == 0) {
        return false;
    }
    let field = &head[148..156];
    let text: String = field
        .iter()
        .take_while(|b| **b != 0 && **b != b' ')
        .map(|b| *b as char)
        .skip_while(|c| *c == ' ')
        .collect();
    let Ok(want) = i64::from_str_radix(text.trim(), 8) else {
        return false;
    };
    // The checksum field itself counts as eight spaces; some writers sum signed bytes.
    let unsigned: i64 = head[..512]
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                *b as i64
            }
        })
        .sum();
    let signed: i64 = head[..512]
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                *b as i8 as i64
            }
        })
        .sum();
    want == unsigned || want == signed
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// urlutil.IsGitURL: a URL ending in `.git` (any character before `git`, as Docker's regexp
/// has it, and an optional `#fragment`), or one of git's own forms.
fn is_git_url(s: &str) -> bool {
    let ends_git = |p: &str| p.len() >= 4 && p.ends_with("git");
    let dot_git = ends_git(s)
        || s.match_indices('#')
            .any(|(i, _)| ends_git(&s[..i]) && i + 1 < s.len());
    (is_url(s) && dot_git)
        || ["git://", "github.com/", "git@"]
            .iter()
            .any(|p| s.starts_with(p))
}

fn from_dir(
    context: &str,
    file: Option<&str>,
    stdin: &mut dyn Read,
) -> Result<Prepared, ContextError> {
    let root = context_root(context)?;
    let from_stdin = file == Some("-");
    let rel = if from_stdin {
        "-".to_string()
    } else {
        dockerfile_rel(&root, file)?
    };
    let extra_content =
        if from_stdin {
            let mut c = Vec::new();
            stdin.read_to_end(&mut c).map_err(ContextError::Stdin)?;
            Some(c)
        } else if rel.starts_with("../") {
            let given = file.expect("only a -f can point outside the context");
            Some(std::fs::read(given).map_err(|e| {
                ContextError::OpenDockerfile(go_error("open", Path::new(given), &e))
            })?)
        } else {
            None
        };
    let mut excludes = match std::fs::read(root.join(".dockerignore")) {
        Ok(raw) => read_dockerignore(&raw),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(ContextError::Dockerignore(e)),
    };
    Matcher::new(&excludes).map_err(ContextError::Pattern)?;
    // TrimBuildFilesFromExcludes: what the daemon must read is sent even when ignored.
    if legacy_matches(".dockerignore", &excludes) {
        excludes.push("!.dockerignore".into());
    }
    if !from_stdin && legacy_matches(&rel, &excludes) {
        excludes.push(format!("!{rel}"));
    }
    let entries = archive::plan(&root, &excludes)?;
    let (extra, dockerfile) = match extra_content {
        Some(content) => {
            let name = format!(".dockerfile.{}", random_hex(20));
            let extra = Extra {
                name: name.clone(),
                content,
                mtime: archive::now(),
            };
            (Some(extra), name)
        }
        None => (None, rel),
    };
    Ok(Prepared {
        body: Body::Dir { entries, extra },
        dockerfile,
    })
}

/// ResolveAndValidateContextPath: absolute, links resolved, a directory.
fn context_root(context: &str) -> Result<PathBuf, ContextError> {
    let abs = absolute(Path::new(context));
    let real = std::fs::canonicalize(&abs).map_err(|e| {
        ContextError::Prepare(format!(
            "unable to evaluate symlinks in context path: {}",
            go_error("lstat", &abs, &e)
        ))
    })?;
    match std::fs::metadata(&real) {
        Ok(m) if m.is_dir() => Ok(real),
        Ok(_) => Err(ContextError::Prepare(format!(
            "context must be a directory: {}",
            real.display()
        ))),
        Err(e) => Err(ContextError::Prepare(format!(
            "unable to stat context directory {:?}: {}",
            real.display().to_string(),
            go_error("stat", &real, &e)
        ))),
    }
}

/// The Dockerfile's path relative to the context root, `/`-separated: `-f` relative to the
/// working directory, else `Dockerfile` (or `dockerfile` when only that exists) in the root.
fn dockerfile_rel(root: &Path, file: Option<&str>) -> Result<String, ContextError> {
    let abs = match file {
        Some(f) => absolute(Path::new(f)),
        None => {
            let d = root.join("Dockerfile");
            let lower = root.join("dockerfile");
            if std::fs::symlink_metadata(&d).is_err() && std::fs::symlink_metadata(&lower).is_ok() {
                lower
            } else {
                d
            }
        }
    };
    let real = std::fs::canonicalize(&abs).map_err(|e| {
        ContextError::Prepare(format!(
            "unable to evaluate symlinks in Dockerfile path: {}",
            go_error("lstat", &abs, &e)
        ))
    })?;
    Ok(relative(root, &real))
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// filepath.Rel for two cleaned absolute paths.
fn relative(base: &Path, target: &Path) -> String {
    let b: Vec<_> = base.components().collect();
    let t: Vec<_> = target.components().collect();
    let common = b.iter().zip(&t).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".into(); b.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

fn random_hex(n: usize) -> String {
    let bytes: Vec<u8> = (0..n.div_ceil(2)).map(|_| rand::random::<u8>()).collect();
    let mut s = hex::encode(bytes);
    s.truncate(n);
    s
}

#[cfg(test)]
#[path = "source_tests.rs"]
mod tests;
