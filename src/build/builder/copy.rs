//! COPY and ADD: which files of the context (or of another stage) a step names, the hash of
//! their content that is the step's cache key, and the copy into the new layer. Names,
//! modes, owners, link targets and bytes go into the hash; mtimes do not, so touching a file
//! leaves the cache valid, and changing one byte does not.
//!
//! Nothing here follows a link out of the root it reads from: sources are resolved inside
//! the context as inside a chroot, and a link among them is copied as a link.

use super::{BuildError, Result};
use crate::util::inroot::resolve_in_root;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// One source and where it goes.
#[derive(Debug, Clone)]
pub struct Item {
    /// The file, link or directory as the host reaches it.
    pub src: PathBuf,
    /// Its path in the new image (absolute). For a directory: the directory its contents go
    /// into.
    pub dest: String,
    /// An ADD source that is an archive: extracted into `dest` instead of copied.
    pub extract: bool,
    /// A downloaded file's mode (ADD of a URL gets 0600, as Docker gives it).
    pub mode: Option<u32>,
}

/// Every item of one COPY or ADD.
#[derive(Debug, Clone, Default)]
pub struct CopyPlan {
    pub items: Vec<Item>,
    /// `file`, `dir` or `multi`: how Docker's history names the sources.
    pub kind: &'static str,
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Go's `filepath.Match` for one path element: `*`, `?`, `[a-z]`, `[^a]`, `\` escapes.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(c) = n.first() else { return false };
                let mut i = 1;
                let negate = matches!(p.get(1), Some('^') | Some('!'));
                if negate {
                    i += 1;
                }
                let mut matched = false;
                let start = i;
                while i < p.len() && (p[i] != ']' || i == start) {
                    let lo = p[i];
                    if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|c| *c != ']') {
                        if lo <= *c && *c <= p[i + 2] {
                            matched = true;
                        }
                        i += 3;
                    } else {
                        if lo == *c {
                            matched = true;
                        }
                        i += 1;
                    }
                }
                if i >= p.len() {
                    return false;
                }
                matched != negate && go(&p[i + 1..], &n[1..])
            }
            Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && go(&p[2..], &n[1..]),
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// A source path cleaned inside the root it is read from; `..` may not climb out.
fn clean_source(src: &str) -> Result<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in src.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(BuildError::Invalid(format!(
                        "forbidden path outside the build context: {src} ()"
                    )));
                }
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// Every path under `root` a wildcard source names, sorted, as paths relative to `root`.
fn expand_wildcard(root: &Path, pattern: &str) -> Vec<String> {
    let mut found = vec![String::new()];
    for part in pattern.split('/').filter(|p| !p.is_empty()) {
        let mut next = Vec::new();
        for base in &found {
            let dir = if base.is_empty() {
                root.to_path_buf()
            } else {
                root.join(base)
            };
            if !has_wildcard(part) {
                if fs::symlink_metadata(dir.join(part)).is_ok() {
                    next.push(join_rel(base, part));
                }
                continue;
            }
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| glob_match(part, n))
                .collect();
            names.sort();
            next.extend(names.iter().map(|n| join_rel(base, n)));
        }
        found = next;
    }
    found
}

fn join_rel(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}/{name}")
    }
}

impl CopyPlan {
    /// Resolve a COPY's sources in `root` (the context, or another stage's root with
    /// `follow` set) and their destinations against `dest` in the image (already joined to
    /// WORKDIR). `dest_is_dir` tells whether the destination exists there as a directory.
    pub fn new(
        root: &Path,
        sources: &[String],
        dest: &str,
        dest_is_dir: bool,
        follow: bool,
        instruction: &str,
    ) -> Result<CopyPlan> {
        let mut found: Vec<(String, PathBuf)> = Vec::new();
        for s in sources {
            let clean = clean_source(s)?;
            if has_wildcard(&clean) {
                for rel in expand_wildcard(root, &clean) {
                    let host = resolve_in_root(root, &rel, follow)
                        .map_err(|e| BuildError::Invalid(format!("{instruction} failed: {e}")))?;
                    found.push((rel, host));
                }
                continue;
            }
            let host = resolve_in_root(root, &clean, follow)
                .map_err(|e| BuildError::Invalid(format!("{instruction} failed: {e}")))?;
            if fs::symlink_metadata(&host).is_err() {
                return Err(BuildError::Invalid(format!(
                    "{instruction} failed: file not found in build context or excluded by .dockerignore: stat {s}: file does not exist"
                )));
            }
            found.push((clean, host));
        }
        if found.is_empty() {
            return Err(BuildError::Invalid(format!(
                "{instruction} failed: no source files were specified"
            )));
        }
        let into_dir = dest.ends_with('/') || dest_is_dir;
        if found.len() > 1 && !dest.ends_with('/') {
            return Err(BuildError::Invalid(format!(
                "When using {instruction} with more than one source file, the destination must be a directory and end with a /"
            )));
        }
        let dest_clean = super::dispatch::clean_abs(dest);
        let mut items = Vec::new();
        let mut dirs = 0;
        for (rel, host) in &found {
            let md = fs::symlink_metadata(host).map_err(|e| {
                BuildError::Invalid(format!("{instruction} failed: stat {rel}: {e}"))
            })?;
            let item_dest = if md.is_dir() {
                dirs += 1;
                dest_clean.clone()
            } else if into_dir {
                let name = Path::new(rel)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("{}/{name}", dest_clean.trim_end_matches('/'))
            } else {
                dest_clean.clone()
            };
            items.push(Item {
                src: host.clone(),
                dest: item_dest,
                extract: false,
                mode: None,
            });
        }
        let kind = match (items.len(), dirs) {
            (1, 0) => "file",
            (1, _) => "dir",
            _ => "multi",
        };
        Ok(CopyPlan { items, kind })
    }
}

/// The content hash of a plan, as Docker's history shows it: `file:<hex>`, `dir:<hex>`,
/// `multi:<hex>`.
pub fn hash_sources(plan: &CopyPlan) -> io::Result<String> {
    let mut h = Sha256::new();
    for item in &plan.items {
        h.update(item.dest.as_bytes());
        h.update([0, item.extract as u8]);
        if let Some(m) = item.mode {
            h.update(m.to_le_bytes());
        }
        hash_tree(&mut h, &item.src, Path::new(""))?;
    }
    Ok(format!("{}:{}", plan.kind, hex::encode(h.finalize())))
}

fn hash_tree(h: &mut Sha256, path: &Path, rel: &Path) -> io::Result<()> {
    let md = fs::symlink_metadata(path)?;
    h.update(rel.as_os_str().as_encoded_bytes());
    h.update([0]);
    h.update(md.mode().to_le_bytes());
    h.update(md.uid().to_le_bytes());
    h.update(md.gid().to_le_bytes());
    let ft = md.file_type();
    if ft.is_symlink() {
        h.update(fs::read_link(path)?.as_os_str().as_encoded_bytes());
    } else if ft.is_file() {
        h.update(md.len().to_le_bytes());
        let mut f = fs::File::open(path)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    } else if ft.is_dir() {
        let mut names: Vec<_> = fs::read_dir(path)?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for n in names {
            hash_tree(h, &path.join(&n), &rel.join(&n))?;
        }
    }
    h.update([0xff]);
    Ok(())
}

/// Who copied files belong to, and the mode `--chmod` gives them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ownership {
    pub uid: u32,
    pub gid: u32,
    pub chmod: Option<u32>,
}

/// `--chown=user[:group]`, names looked up in the image's `/etc/passwd` and `/etc/group`.
pub fn parse_chown(spec: &str, root: &Path) -> Result<(u32, u32)> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let lookup = |file: &str, name: &str| -> Option<(u32, u32)> {
        let text = fs::read_to_string(root.join("etc").join(file)).ok()?;
        text.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 3 && f[0] == name).then(|| {
                (
                    f[2].parse().unwrap_or(0),
                    f.get(3).and_then(|g| g.parse().ok()).unwrap_or(0),
                )
            })
        })
    };
    let err = |what: &str, name: &str| {
        BuildError::Invalid(format!(
            "unable to convert uid/gid chown string to host mapping: can't find {what} for user {name}: no such user: {name}"
        ))
    };
    let (uid, primary) = match user.parse::<u32>() {
        Ok(n) => (n, n),
        Err(_) => lookup("passwd", user).ok_or_else(|| err("uid", user))?,
    };
    let gid = match group {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => lookup("group", g)
                .map(|(id, _)| id)
                .ok_or_else(|| err("gid", g))?,
        },
    };
    Ok((uid, gid))
}

/// `--chmod=0755`: octal only, as the classic builder takes it.
pub fn parse_chmod(spec: &str) -> Result<u32> {
    u32::from_str_radix(spec, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| BuildError::Invalid(format!("invalid chmod parameter: {spec}")))
}

/// Copy every item of `plan` into the image root `root` (a mounted layer).
pub fn apply(plan: &CopyPlan, root: &Path, own: Ownership) -> io::Result<()> {
    for item in &plan.items {
        let dest = resolve_in_root(root, &item.dest, true)?;
        if item.extract {
            mkdir_p(&dest, own)?;
            extract_archive(&item.src, &dest)?;
            continue;
        }
        let md = fs::symlink_metadata(&item.src)?;
        if md.is_dir() {
            mkdir_p(&dest, own)?;
            copy_children(&item.src, &dest, own)?;
        } else {
            // A file copied onto a directory the image has goes into it (`COPY f /etc`), as
            // Docker does: never over it.
            let dest = if dest.is_dir() {
                let name = item.src.file_name().unwrap_or_default();
                resolve_in_root(
                    root,
                    &format!("{}/{}", item.dest, name.to_string_lossy()),
                    true,
                )?
            } else {
                dest
            };
            if let Some(parent) = dest.parent() {
                mkdir_p(parent, Ownership { chmod: None, ..own })?;
            }
            copy_one(&item.src, &dest, own, item.mode)?;
        }
    }
    Ok(())
}

fn mkdir_p(dir: &Path, own: Ownership) -> io::Result<()> {
    if fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        mkdir_p(parent, own)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(own.chmod.unwrap_or(0o755)))?;
    std::os::unix::fs::lchown(dir, Some(own.uid), Some(own.gid))
}

fn copy_children(src: &Path, dest: &Path, own: Ownership) -> io::Result<()> {
    let mut names: Vec<_> = fs::read_dir(src)?
        .flatten()
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for n in names {
        copy_one(&src.join(&n), &dest.join(&n), own, None)?;
    }
    Ok(())
}

/// One entry, a directory with everything under it. A link is copied as a link, never
/// followed; sockets and devices are left out (a context does not carry them).
fn copy_one(src: &Path, dest: &Path, own: Ownership, mode: Option<u32>) -> io::Result<()> {
    let md = fs::symlink_metadata(src)?;
    let ft = md.file_type();
    let perm = mode.or(own.chmod).unwrap_or(md.mode() & 0o7777);
    if let Ok(existing) = fs::symlink_metadata(dest) {
        if !(existing.is_dir() && ft.is_dir()) {
            if existing.is_dir() {
                fs::remove_dir_all(dest)?;
            } else {
                fs::remove_file(dest)?;
            }
        }
    }
    if ft.is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(src)?, dest)?;
        return std::os::unix::fs::lchown(dest, Some(own.uid), Some(own.gid));
    }
    if ft.is_dir() {
        if fs::symlink_metadata(dest).is_err() {
            fs::create_dir(dest)?;
        }
        copy_children(src, dest, own)?;
    } else if ft.is_file() {
        let mut from = fs::File::open(src)?;
        let mut to = fs::File::create(dest)?;
        io::copy(&mut from, &mut to)?;
        to.flush()?;
        let _ = to.set_modified(md.modified()?);
    } else {
        return Ok(());
    }
    std::os::unix::fs::lchown(dest, Some(own.uid), Some(own.gid))?;
    fs::set_permissions(dest, fs::Permissions::from_mode(perm))
}

/// Whether ADD should unpack `path`: a tar, plain or gzip/bzip2/xz compressed, by content.
pub fn is_archive(path: &Path) -> bool {
    let Ok(f) = fs::File::open(path) else {
        return false;
    };
    let Ok(mut r) = decompressed(f) else {
        return false;
    };
    let mut head = [0u8; 512];
    let mut got = 0;
    while got < head.len() {
        match r.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(_) => return false,
        }
    }
    got == 512 && &head[257..262] == b"ustar"
}

/// A tar as it came, or decompressed (gzip, bzip2, xz, zstd), by its first bytes: ADD's
/// archives and the build context arrive either way.
pub fn decompressed<'a>(r: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let mut br = io::BufReader::new(r);
    let head = io::BufRead::fill_buf(&mut br)?.to_vec();
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(br))
    } else if head.starts_with(b"BZh") {
        Box::new(bzip2::read::BzDecoder::new(br))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Box::new(xz2::read::XzDecoder::new(br))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(br)?)
    } else {
        Box::new(br)
    })
}

/// ADD's unpacking: as safe as `load` (the tar crate refuses entries that would leave
/// `dest`), keeping the archive's owners and modes.
fn extract_archive(src: &Path, dest: &Path) -> io::Result<()> {
    let mut archive = tar::Archive::new(decompressed(fs::File::open(src)?)?);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_overwrite(true);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let rel = crate::layers::clean_entry_path(&entry.path()?)?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        if !entry.unpack_in(dest)? {
            return Err(io::Error::other(format!(
                "the archive entry {} would leave the destination",
                rel.display()
            )));
        }
    }
    Ok(())
}
