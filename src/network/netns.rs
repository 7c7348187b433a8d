//! Network namespaces kept alive by a bind-mounted file, as `ip netns add` and Docker do, and
//! a way to run netlink work inside one. Namespace switches are per thread, so they happen
//! only on a dedicated `std::thread` that exits afterwards: a tokio worker thread must never
//! change namespace, or unrelated tasks scheduled on it would run in the container's network.

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

use super::NetworkError;

fn io_err(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> NetworkError {
    let (what, path) = (what.to_string(), path.to_path_buf());
    move |source| NetworkError::Io { what, path, source }
}

fn sys_err(what: String) -> impl FnOnce(nix::errno::Errno) -> NetworkError {
    move |source| NetworkError::Sys { what, source }
}

/// Run `work` on a fresh thread and await its result without blocking the runtime.
async fn on_thread<T, F>(what: &str, work: F) -> Result<T, NetworkError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, NetworkError> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("berth-netns".into())
        .spawn(move || {
            let _ = tx.send(work());
        })
        .map_err(|source| NetworkError::Io {
            what: format!("spawn a thread to {what}"),
            path: PathBuf::new(),
            source,
        })?;
    rx.await.map_err(|_| NetworkError::Thread {
        what: what.to_string(),
    })?
}

/// Create a new network namespace pinned by a bind mount on `path` (which must not exist).
pub(crate) async fn create(path: PathBuf) -> Result<PathBuf, NetworkError> {
    let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(io_err("create the netns directory", &dir))?;
    on_thread("create a network namespace", move || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_err("create the netns file", &path))?;
        let pinned = unshare(CloneFlags::CLONE_NEWNET)
            .map_err(sys_err("unshare the network namespace".into()))
            .and_then(|()| {
                // thread-self, not self: /proc/self names the main thread, whose namespace
                // this thread just left.
                mount(
                    Some("/proc/thread-self/ns/net"),
                    &path,
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .map_err(sys_err(format!(
                    "bind-mount the netns on {}",
                    path.display()
                )))
            });
        if let Err(e) = pinned {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        Ok(path)
    })
    .await
}

/// Unpin a namespace: lazy unmount, then unlink. Absent mounts and files are fine.
pub(crate) fn remove(path: &Path) -> Result<(), NetworkError> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(sys_err(format!("unmount netns {}", path.display()))(e)),
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("remove the netns file", path)(e)),
    }
}

/// Run async netlink work inside the namespace pinned at `netns`: a dedicated thread joins
/// it, drives `work` on its own single-threaded runtime (so sockets open in that namespace),
/// and exits.
pub(crate) async fn run_in<T, F, Fut>(netns: &Path, work: F) -> Result<T, NetworkError>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, NetworkError>>,
{
    let ns_file = File::open(netns).map_err(io_err("open the netns", netns))?;
    let shown = netns.display().to_string();
    on_thread("configure a network namespace", move || {
        setns(&ns_file, CloneFlags::CLONE_NEWNET)
            .map_err(sys_err(format!("join netns {shown}")))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| NetworkError::Io {
                what: "build a runtime inside the netns".into(),
                path: shown.clone().into(),
                source,
            })?;
        rt.block_on(work())
    })
    .await
}
