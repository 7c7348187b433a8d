//! `cp`: files between a container and the host, as tar streams through the API's
//! `/containers/{id}/archive` (HEAD to stat, GET to read, PUT to write). Where the bytes land
//! follows Docker's rules, decided here on the client side:
//! - a destination directory that exists receives the source by its own name; a source
//!   ending in `/.` gives its contents instead;
//! - a destination that does not exist becomes the source under the new name (its parent
//!   must exist; a destination ending in `/` must exist);
//! - a file may replace a file, never a directory, and a directory never replaces a file.
//!
//! `-L` follows a symlink given as the source; otherwise a link is copied as a link.

use super::report;
use crate::api::client::{Client, ClientError};
use base64::Engine;
use clap::Args;
use http_body_util::BodyExt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Suppress progress output during copy
    #[arg(short, long)]
    pub quiet: bool,
    /// CONTAINER:SRC_PATH or a local path (- for a tar on STDIN)
    pub src: String,
    /// CONTAINER:DEST_PATH or a local path (- for a tar on STDOUT)
    pub dest: String,
}

/// Split `CONTAINER:PATH`; a path that starts with `/` or `.` is local even with a colon.
fn split(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') || arg.starts_with('.') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.is_empty() && !c.contains('/') => (Some(c), p),
        _ => (None, arg),
    }
}

#[derive(Debug, serde::Deserialize)]
struct PathStat {
    #[serde(default)]
    mode: u32,
    #[serde(default, rename = "linkTarget")]
    link_target: String,
}

impl PathStat {
    fn is_dir(&self) -> bool {
        self.mode & (1 << 31) != 0
    }
    fn is_link(&self) -> bool {
        self.mode & (1 << 27) != 0
    }
}

fn decode_stat(resp: &hyper::Response<hyper::body::Incoming>) -> Option<PathStat> {
    let raw = resp.headers().get("X-Docker-Container-Path-Stat")?;
    let json = base64::engine::general_purpose::STANDARD
        .decode(raw.as_bytes())
        .ok()?;
    serde_json::from_slice(&json).ok()
}

fn archive_path(container: &str, path: &str) -> String {
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("path", path)
        .finish();
    format!("/containers/{container}/archive?{q}")
}

async fn stat(
    client: &Client,
    container: &str,
    path: &str,
) -> Result<Option<PathStat>, ClientError> {
    match client
        .request(hyper::Method::HEAD, &archive_path(container, path), None)
        .await
    {
        Ok(resp) => Ok(decode_stat(&resp)),
        Err(ClientError::Api { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

pub async fn cp(client: &Client, a: CpArgs) -> i32 {
    let result = match (split(&a.src), split(&a.dest)) {
        ((Some(c), src), (None, dest)) => download(client, &a, c, src, dest).await,
        ((None, src), (Some(c), dest)) => upload(client, &a, src, c, dest).await,
        ((Some(_), _), (Some(_), _)) => Err(CpError::Usage(
            "copying between containers is not supported".into(),
        )),
        _ => Err(CpError::Usage(
            "must specify at least one container source".into(),
        )),
    };
    match result {
        Ok(()) => 0,
        Err(CpError::Client(e)) => report(&e),
        Err(CpError::Usage(m)) => {
            eprintln!("berth: {m}");
            1
        }
    }
}

#[derive(Debug)]
enum CpError {
    Client(ClientError),
    Usage(String),
}

impl From<ClientError> for CpError {
    fn from(e: ClientError) -> Self {
        CpError::Client(e)
    }
}

fn io_err(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> CpError {
    move |e| CpError::Usage(format!("{what}: {e}"))
}

fn done(a: &CpArgs, bytes: u64, to: &str) {
    if !a.quiet && to != "-" {
        eprintln!(
            "Successfully copied {} to {to}",
            crate::util::human::human_size(bytes as i64)
        );
    }
}

/// The last component of a path as `cp` names things (`/a/b/` is `b`).
fn base_name(p: &str) -> String {
    Path::new(p.trim_end_matches('/'))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".into())
}

async fn download(
    client: &Client,
    a: &CpArgs,
    c: &str,
    src: &str,
    dest: &str,
) -> Result<(), CpError> {
    let mut src = src.to_string();
    let st = stat(client, c, &src).await?.ok_or_else(|| {
        CpError::Client(ClientError::Api {
            status: 404,
            message: format!("Could not find the file {src} in container {c}"),
        })
    })?;
    if a.follow_link && st.is_link() {
        src = st.link_target.clone();
    }
    let resp = client
        .request(hyper::Method::GET, &archive_path(c, &src), None)
        .await?;
    let st = decode_stat(&resp).unwrap_or(st);
    // The tar goes through a blocking extractor on its own thread.
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(16);
    let dest_owned = dest.to_string();
    let src_owned = src.clone();
    let keep_owner = a.archive;
    let src_is_dir = st.is_dir() && !(st.is_link() && !src.ends_with('/') && !src.ends_with("/."));
    let extractor = std::thread::spawn(move || -> Result<(), CpError> {
        let reader = crate::util::chanio::ChannelReader::new(rx);
        place_locally(reader, &src_owned, &dest_owned, src_is_dir, keep_owner)
    });
    let mut body = resp.into_body();
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ClientError::Protocol(format!("reading the archive: {e}")))?;
        if let Some(d) = frame.data_ref() {
            total += d.len() as u64;
            if tx.send(Ok(d.clone())).await.is_err() {
                break;
            }
        }
    }
    drop(tx);
    extractor
        .join()
        .map_err(|_| CpError::Usage("the extractor panicked".into()))??;
    done(a, total, dest);
    Ok(())
}

/// Unpack the tar from the container at `dest` by Docker's rules.
fn place_locally(
    mut tar: impl Read,
    src: &str,
    dest: &str,
    src_is_dir: bool,
    keep_owner: bool,
) -> Result<(), CpError> {
    if dest == "-" {
        let mut out = std::io::stdout().lock();
        std::io::copy(&mut tar, &mut out).map_err(io_err("writing to stdout"))?;
        return out.flush().map_err(io_err("writing to stdout"));
    }
    let contents_only = src.ends_with("/.");
    let dest_path = PathBuf::from(dest);
    let (into, rename) = match std::fs::metadata(&dest_path) {
        // Into a directory: the source by its own name, or (`/.`) its contents.
        Ok(md) if md.is_dir() => (dest_path.clone(), None),
        Ok(_) => {
            if src_is_dir {
                return Err(CpError::Usage(format!(
                    "cannot copy directory to an existing file: {dest}"
                )));
            }
            (parent_of(&dest_path), Some(base_name(dest)))
        }
        Err(_) => {
            if dest.ends_with('/') {
                return Err(CpError::Usage(format!(
                    "destination directory {dest} does not exist"
                )));
            }
            let parent = parent_of(&dest_path);
            if !parent.is_dir() {
                return Err(CpError::Usage(format!(
                    "destination directory {} does not exist",
                    parent.display()
                )));
            }
            if contents_only {
                std::fs::create_dir(&dest_path).map_err(io_err(dest))?;
                (dest_path.clone(), None)
            } else {
                (parent, Some(base_name(dest)))
            }
        }
    };
    extract_renamed(&mut tar, &into, rename.as_deref(), keep_owner)
}

fn parent_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `rel` with its first component replaced by `rename`, when there is one.
fn renamed(rel: &Path, rename: Option<&str>) -> PathBuf {
    match rename {
        Some(new) => {
            let mut parts = rel.components();
            parts.next();
            let rest = parts.as_path();
            if rest.as_os_str().is_empty() {
                PathBuf::from(new)
            } else {
                Path::new(new).join(rest)
            }
        }
        None => rel.to_path_buf(),
    }
}

/// Make the directories of `rel` below `dir`, refusing to pass through a symlink or a file:
/// what a container sends can never steer a write out of `dir`.
fn safe_parent(dir: &Path, rel: &Path) -> Result<PathBuf, CpError> {
    let mut at = dir.to_path_buf();
    if let Some(parent) = rel.parent() {
        for part in parent.components() {
            at.push(part);
            match std::fs::symlink_metadata(&at) {
                Ok(md) if md.is_dir() => {}
                Ok(_) => {
                    return Err(CpError::Usage(format!(
                        "{} is not a directory (a link or a file): refusing to write through it",
                        at.display()
                    )))
                }
                Err(_) => std::fs::create_dir(&at).map_err(io_err(at.display()))?,
            }
        }
    }
    Ok(dir.join(rel))
}

/// Extract `tar` into `dir`, the first component of each entry replaced by `rename`.
fn extract_renamed(
    tar: &mut impl Read,
    dir: &Path,
    rename: Option<&str>,
    keep_owner: bool,
) -> Result<(), CpError> {
    let mut archive = tar::Archive::new(tar);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(keep_owner);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    for entry in archive.entries().map_err(io_err("reading the archive"))? {
        let mut entry = entry.map_err(io_err("reading the archive"))?;
        let path = entry
            .path()
            .map_err(io_err("reading the archive"))?
            .into_owned();
        let clean =
            crate::layers::clean_entry_path(&path).map_err(io_err("reading the archive"))?;
        let target = renamed(&clean, rename);
        if target.as_os_str().is_empty() || target == Path::new(".") {
            continue;
        }
        let dest = safe_parent(dir, &target)?;
        let kind = entry.header().entry_type();
        if let Ok(existing) = std::fs::symlink_metadata(&dest) {
            if existing.is_dir() && !kind.is_dir() {
                return Err(CpError::Usage(format!(
                    "cannot overwrite directory \"{}\" with non-directory",
                    dest.display()
                )));
            }
            if !existing.is_dir() && kind.is_dir() {
                return Err(CpError::Usage(format!(
                    "cannot overwrite non-directory \"{}\" with directory",
                    dest.display()
                )));
            }
        }
        if kind.is_hard_link() {
            // The link's target is another entry of this archive, renamed the same way.
            let link = entry
                .link_name()
                .map_err(io_err("reading the archive"))?
                .ok_or_else(|| {
                    CpError::Usage(format!("{}: hard link without a target", path.display()))
                })?;
            let link =
                crate::layers::clean_entry_path(&link).map_err(io_err("reading the archive"))?;
            let source = safe_parent(dir, &renamed(&link, rename))?;
            let _ = std::fs::remove_file(&dest);
            std::fs::hard_link(&source, &dest).map_err(io_err(dest.display()))?;
            continue;
        }
        entry.unpack(&dest).map_err(io_err(dest.display()))?;
    }
    Ok(())
}

enum Source {
    Stdin,
    Path { local: PathBuf, name: String },
}

async fn upload(
    client: &Client,
    a: &CpArgs,
    src: &str,
    c: &str,
    dest: &str,
) -> Result<(), CpError> {
    let mut dest_stat = stat(client, c, dest).await?;
    let mut dest = dest.to_string();
    // A link as the destination stands for what it points to (inside the container).
    if let Some(s) = &dest_stat {
        if s.is_link() && !s.link_target.is_empty() {
            dest = s.link_target.clone();
            dest_stat = stat(client, c, &dest).await?;
        }
    }
    let dest_is_dir = dest_stat.as_ref().map(|s| s.is_dir());
    let (put_dir, source) = if src == "-" {
        if dest_is_dir != Some(true) {
            return Err(CpError::Usage(format!(
                "destination \"{c}:{dest}\" must be a directory"
            )));
        }
        (dest.clone(), Source::Stdin)
    } else {
        let local = if a.follow_link {
            std::fs::canonicalize(src)
                .map_err(|e| CpError::Usage(format!("could not stat {src}: {e}")))?
        } else {
            PathBuf::from(src)
        };
        let md = std::fs::symlink_metadata(&local)
            .map_err(|e| CpError::Usage(format!("could not stat {src}: {e}")))?;
        let own_name = if src.ends_with("/.") {
            ".".to_string()
        } else {
            base_name(src)
        };
        match dest_is_dir {
            Some(true) => (
                dest.clone(),
                Source::Path {
                    local,
                    name: own_name,
                },
            ),
            Some(false) => {
                if md.is_dir() {
                    return Err(CpError::Usage(format!(
                        "cannot copy a directory to the file {c}:{dest}"
                    )));
                }
                (
                    parent_str(&dest),
                    Source::Path {
                        local,
                        name: base_name(&dest),
                    },
                )
            }
            None => {
                if dest.ends_with('/') {
                    return Err(CpError::Usage(format!("no such directory: {c}:{dest}")));
                }
                (
                    parent_str(&dest),
                    Source::Path {
                        local,
                        name: base_name(&dest),
                    },
                )
            }
        }
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
    let total = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = total.clone();
    let producer = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut writer = crate::util::chanio::ChannelWriter::new(tx);
        match source {
            // A tar on stdin goes up as it is.
            Source::Stdin => {
                std::io::copy(&mut std::io::stdin().lock(), &mut writer)?;
                writer.flush()
            }
            Source::Path { local, name } => crate::util::tarpath::tar_path(&local, &name, writer),
        }
    });
    let stream = futures::stream::unfold(rx, move |mut rx| {
        let counted = counted.clone();
        async move {
            let chunk = rx.recv().await?;
            counted.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
            Some((Ok::<_, std::io::Error>(hyper::body::Frame::data(chunk)), rx))
        }
    });
    let body = BodyExt::boxed(http_body_util::StreamBody::new(stream));
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("path", &put_dir);
    q.append_pair("noOverwriteDirNonDir", "true");
    if a.archive {
        q.append_pair("copyUIDGID", "true");
    }
    let sent = client
        .request_with(
            hyper::Method::PUT,
            &format!("/containers/{c}/archive?{}", q.finish()),
            body,
            Some("application/x-tar"),
            &[],
        )
        .await;
    let produced = producer
        .await
        .map_err(|e| CpError::Usage(format!("reading {src}: {e}")))?;
    sent?;
    produced.map_err(io_err(src))?;
    done(
        a,
        total.load(std::sync::atomic::Ordering::Relaxed),
        &format!("{c}:{dest}"),
    );
    Ok(())
}

fn parent_str(p: &str) -> String {
    match Path::new(p).parent() {
        Some(d) if !d.as_os_str().is_empty() => d.display().to_string(),
        _ => "/".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        b: &mut tar::Builder<Vec<u8>>,
        name: &str,
        kind: tar::EntryType,
        link: &str,
        data: &[u8],
    ) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        if !link.is_empty() {
            h.set_link_name(link).unwrap();
        }
        h.set_path(name).unwrap();
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    #[test]
    fn a_tar_from_a_container_cannot_write_through_its_own_links() {
        let dest = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        entry(&mut b, "data/", tar::EntryType::Directory, "", b"");
        let target = outside.path().display().to_string();
        entry(&mut b, "data/out", tar::EntryType::Symlink, &target, b"");
        entry(&mut b, "data/out/pwned", tar::EntryType::Regular, "", b"x");
        let raw = b.into_inner().unwrap();
        let err = extract_renamed(&mut &raw[..], dest.path(), Some("copy"), false);
        assert!(err.is_err());
        assert!(!outside.path().join("pwned").exists());
        // The link itself is copied, as a link.
        assert!(std::fs::symlink_metadata(dest.path().join("copy/out"))
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn hard_links_stay_inside_and_follow_the_rename() {
        let dest = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        entry(&mut b, "d/", tar::EntryType::Directory, "", b"");
        entry(&mut b, "d/f", tar::EntryType::Regular, "", b"hi");
        entry(&mut b, "d/g", tar::EntryType::Link, "d/f", b"");
        let raw = b.into_inner().unwrap();
        extract_renamed(&mut &raw[..], dest.path(), Some("e"), false).unwrap();
        assert_eq!(std::fs::read(dest.path().join("e/g")).unwrap(), b"hi");
        let mut b = tar::Builder::new(Vec::new());
        entry(&mut b, "h", tar::EntryType::Link, "../../etc/passwd", b"");
        let raw = b.into_inner().unwrap();
        assert!(extract_renamed(&mut &raw[..], dest.path(), None, false).is_err());
    }

    #[test]
    fn container_arguments() {
        assert_eq!(split("box:/etc"), (Some("box"), "/etc"));
        assert_eq!(split("./a:b"), (None, "./a:b"));
        assert_eq!(split("/abs:x"), (None, "/abs:x"));
        assert_eq!(split("file"), (None, "file"));
        assert_eq!(split("-"), (None, "-"));
    }
}
