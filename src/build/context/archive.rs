//! The context directory as the tar the docker CLI sends: entries in the order of a walk
//! that visits each directory's names sorted, owned by 0:0 (the CLI's ChownOpts), modes and
//! mtimes (whole seconds) as the files have them, links kept as links, a second name of a
//! file sent as a hard link to the first. Ustar headers, with PAX records only where ustar
//! cannot say it (long names, large sizes, file capabilities), as Go's archive/tar writes.
//!
//! The walk is a plan made before anything is sent (so an unreadable file fails the build
//! before the daemon starts one); the tar itself is written from the plan as it is sent.

use super::ignore::{Matcher, ParentInfo};
use super::ContextError;
use std::collections::HashMap;
use std::fs::Metadata;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// One entry to send: its name in the archive and where it is on the host.
#[derive(Debug)]
pub struct Entry {
    pub name: String,
    pub path: PathBuf,
    meta: Metadata,
}

/// A file added to the archive by the CLI: the Dockerfile from stdin or from outside the
/// context, under its random name, which `.dockerignore` then lists so COPY never sees it.
pub struct Extra {
    pub name: String,
    pub content: Vec<u8>,
    pub mtime: u64,
}

/// Walk `root` as the docker CLI's archive walk does: an excluded directory is skipped
/// whole unless an exception's text starts with its path, in which case it is walked into
/// (without an entry of its own) so the exception can pick files out of it.
pub fn plan(root: &Path, excludes: &[String]) -> Result<Vec<Entry>, ContextError> {
    let matcher = Matcher::new(excludes).map_err(ContextError::Pattern)?;
    let mut out = Vec::new();
    walk(root, "", None, &matcher, &mut out)?;
    Ok(out)
}

fn walk(
    dir: &Path,
    rel: &str,
    parent: Option<&ParentInfo>,
    matcher: &Matcher,
    out: &mut Vec<Entry>,
) -> Result<(), ContextError> {
    let read = std::fs::read_dir(dir).map_err(|e| ContextError::Io(dir.to_path_buf(), e))?;
    let mut names = Vec::new();
    for e in read {
        let e = e.map_err(|e| ContextError::Io(dir.to_path_buf(), e))?;
        names.push(e.file_name());
    }
    names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
    for name in names {
        let path = dir.join(&name);
        let name = name.to_string_lossy();
        let rel = if rel.is_empty() {
            name.into_owned()
        } else {
            format!("{rel}/{name}")
        };
        let meta =
            std::fs::symlink_metadata(&path).map_err(|e| ContextError::Io(path.clone(), e))?;
        let (skip, info) = matcher.matches_using_parent(&rel, parent.map(|p| p.as_slice()));
        if skip {
            if !meta.is_dir() || !exception_under(matcher, &rel) {
                continue;
            }
            walk(&path, &rel, Some(&info), matcher, out)?;
            continue;
        }
        if meta.is_file() {
            // What ValidateContextDirectory checks before the CLI sends anything.
            if let Err(e) = std::fs::File::open(&path) {
                return Err(if e.kind() == io::ErrorKind::PermissionDenied {
                    ContextError::Unreadable(path)
                } else {
                    ContextError::Io(path, e)
                });
            }
        }
        let is_dir = meta.is_dir();
        out.push(Entry {
            name: rel.clone(),
            path: path.clone(),
            meta,
        });
        if is_dir {
            walk(&path, &rel, Some(&info), matcher, out)?;
        }
    }
    Ok(())
}

/// Whether some exception names something under `dir`, by its text (as the CLI checks it:
/// `!*/keep` does not open `src`).
fn exception_under(m: &Matcher, dir: &str) -> bool {
    if !m.exclusions() {
        return false;
    }
    let dir_slash = format!("{dir}/");
    m.patterns()
        .iter()
        .filter(|p| p.exclusion)
        .any(|p| format!("{}/", p.text).starts_with(&dir_slash))
}

/// Write the tar of `entries` (then `extra`) to `out`. `.dockerignore` gets the extra's name
/// appended, or is added with it if the context has none.
pub fn write_tar(entries: &[Entry], extra: Option<&Extra>, out: impl Write) -> io::Result<()> {
    let mut tar = tar::Builder::new(out);
    let mut seen: HashMap<(u64, u64), String> = HashMap::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut ignore_written = false;
    for e in entries {
        if let Some(x) = extra.filter(|_| e.name == ".dockerignore" && e.meta.is_file()) {
            let mut content = std::fs::read(&e.path)?;
            content.extend_from_slice(format!("\n{}\n", x.name).as_bytes());
            let mut h = header_for(e, &mut seen)?.expect("a regular file has a header");
            h.size = content.len() as u64;
            append(&mut tar, &h, &mut content.as_slice(), &mut buf)?;
            ignore_written = true;
            continue;
        }
        let Some(h) = header_for(e, &mut seen)? else {
            eprintln!(
                "berth: can't add file {} to tar: sockets not supported",
                e.path.display()
            );
            continue;
        };
        if h.kind == tar::EntryType::Regular && h.size > 0 {
            let f = std::fs::File::open(&e.path)?;
            append(&mut tar, &h, &mut f.take(h.size), &mut buf)?;
        } else {
            append(&mut tar, &h, &mut io::empty(), &mut buf)?;
        }
    }
    if let Some(x) = extra {
        if !ignore_written {
            let content = format!(".dockerignore\n{}\n", x.name);
            let h = Head::file(".dockerignore", content.len() as u64, x.mtime);
            append(&mut tar, &h, &mut content.as_bytes(), &mut buf)?;
        }
        let h = Head::file(&x.name, x.content.len() as u64, x.mtime);
        append(&mut tar, &h, &mut x.content.as_slice(), &mut buf)?;
    }
    tar.into_inner()?.flush()
}

/// A single-file archive: the Dockerfile read from stdin, as the CLI tars its temp dir
/// (no 0:0 there: the file is the user's).
pub fn write_single(name: &str, content: &[u8], out: impl Write) -> io::Result<()> {
    let mut tar = tar::Builder::new(out);
    let mut h = Head::file(name, content.len() as u64, now());
    h.mode = 0o644;
    h.uid = nix::unistd::geteuid().as_raw() as u64;
    h.gid = nix::unistd::getegid().as_raw() as u64;
    append(&mut tar, &h, &mut &content[..], &mut vec![0u8; 64 << 10])?;
    tar.into_inner()?.flush()
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// What goes into one header, before it is laid out.
struct Head {
    name: String,
    kind: tar::EntryType,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: u64,
    link: Option<String>,
    dev: (u32, u32),
    capability: Option<Vec<u8>>,
}

impl Head {
    fn file(name: &str, size: u64, mtime: u64) -> Head {
        Head {
            name: name.to_string(),
            kind: tar::EntryType::Regular,
            mode: 0o600,
            uid: 0,
            gid: 0,
            size,
            mtime,
            link: None,
            dev: (0, 0),
            capability: None,
        }
    }
}

/// None for a socket, which tar cannot hold.
fn header_for(e: &Entry, seen: &mut HashMap<(u64, u64), String>) -> io::Result<Option<Head>> {
    let m = &e.meta;
    let ft = m.file_type();
    let mut h = Head::file(&e.name, 0, m.mtime().max(0) as u64);
    h.mode = m.mode() & 0o7777;
    if ft.is_dir() {
        h.kind = tar::EntryType::Directory;
        h.name.push('/');
    } else if ft.is_file() {
        h.size = m.len();
    } else if ft.is_symlink() {
        h.kind = tar::EntryType::Symlink;
        h.link = Some(std::fs::read_link(&e.path)?.to_string_lossy().into_owned());
    } else if ft.is_fifo() {
        h.kind = tar::EntryType::Fifo;
    } else if ft.is_char_device() || ft.is_block_device() {
        h.kind = if ft.is_char_device() {
            tar::EntryType::Char
        } else {
            tar::EntryType::Block
        };
        let rdev = m.rdev();
        h.dev = (libc::major(rdev), libc::minor(rdev));
    } else {
        return Ok(None);
    }
    if !ft.is_dir() && m.nlink() > 1 {
        match seen.get(&(m.dev(), m.ino())) {
            Some(first) => {
                h.kind = tar::EntryType::Link;
                h.link = Some(first.clone());
                h.size = 0;
            }
            None => {
                seen.insert((m.dev(), m.ino()), e.name.clone());
            }
        }
    }
    if !ft.is_symlink() {
        h.capability = xattr::get(&e.path, "security.capability").ok().flatten();
    }
    Ok(Some(h))
}

/// The largest size an 11-digit octal field holds.
const MAX_OCTAL: u64 = 0o77777777777;

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    h: &Head,
    data: &mut dyn Read,
    buf: &mut [u8],
) -> io::Result<()> {
    let mut header = tar::Header::new_ustar();
    let mut pax: Vec<(&str, Vec<u8>)> = Vec::new();
    {
        let u = header.as_ustar_mut().expect("a ustar header");
        let name = h.name.as_bytes();
        if name.len() <= u.name.len() && name.is_ascii() {
            u.name[..name.len()].copy_from_slice(name);
        } else if let Some((prefix, rest)) = split_ustar(name) {
            u.prefix[..prefix.len()].copy_from_slice(prefix);
            u.name[..rest.len()].copy_from_slice(rest);
        } else {
            pax.push(("path", name.to_vec()));
            let n = name.len().min(u.name.len());
            u.name[..n].copy_from_slice(&name[..n]);
        }
        if let Some(link) = &h.link {
            let link = link.as_bytes();
            let n = link.len().min(u.linkname.len());
            u.linkname[..n].copy_from_slice(&link[..n]);
            if link.len() > u.linkname.len() || !link.is_ascii() {
                pax.push(("linkpath", link.to_vec()));
            }
        }
    }
    header.set_entry_type(h.kind);
    header.set_mode(h.mode);
    header.set_uid(h.uid);
    header.set_gid(h.gid);
    header.set_mtime(h.mtime.min(MAX_OCTAL));
    if h.size > MAX_OCTAL {
        pax.push(("size", h.size.to_string().into_bytes()));
        header.set_size(0);
    } else {
        header.set_size(h.size);
    }
    if matches!(h.kind, tar::EntryType::Char | tar::EntryType::Block) {
        header.set_device_major(h.dev.0)?;
        header.set_device_minor(h.dev.1)?;
    }
    if let Some(cap) = &h.capability {
        pax.push(("SCHILY.xattr.security.capability", cap.clone()));
    }
    header.set_cksum();
    if !pax.is_empty() {
        tar.append_pax_extensions(pax.iter().map(|(k, v)| (*k, v.as_slice())))?;
    }
    // Written by hand rather than with Builder::append, so that a file that changed size
    // since the plan fails the archive instead of making a corrupt one.
    let out = tar.get_mut();
    out.write_all(header.as_bytes())?;
    let mut left = h.size;
    while left > 0 {
        let want = buf.len().min(left as usize);
        let n = data.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} shrank while it was being sent", h.name),
            ));
        }
        out.write_all(&buf[..n])?;
        left -= n as u64;
    }
    let pad = (512 - (h.size % 512) as usize) % 512;
    out.write_all(&[0u8; 512][..pad])
}

/// Go's splitUSTARPath: a prefix of at most 155 bytes and a name of at most 100, split at
/// a `/`, for ASCII names only.
fn split_ustar(name: &[u8]) -> Option<(&[u8], &[u8])> {
    if name.len() <= 100 || !name.is_ascii() {
        return None;
    }
    let mut length = name.len();
    if length > 156 {
        length = 156;
    } else if name[length - 1] == b'/' {
        length -= 1;
    }
    let i = name[..length].iter().rposition(|b| *b == b'/')?;
    let rest = name.len() - i - 1;
    (i > 0 && rest > 0 && rest <= 100 && i <= 155).then(|| (&name[..i], &name[i + 1..]))
}
