//! One daemon per root: `berth.pid` in the exec root, held with an exclusive `flock` for the
//! daemon's whole life. A second daemon on the same root fails at once and names the holder.

use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

pub struct PidLock {
    _lock: Flock<File>,
}

impl PidLock {
    pub fn acquire(path: &Path) -> anyhow::Result<PidLock> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| anyhow::anyhow!("opening {}: {e}", path.display()))?;
        let mut lock = match Flock::lock(file.try_clone()?, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err((_, _)) => {
                let mut held = String::new();
                let _ = file.read_to_string(&mut held);
                anyhow::bail!(
                    "another berth daemon (pid {}) is already using this root: {} is locked",
                    held.trim(),
                    path.display()
                );
            }
        };
        lock.set_len(0)?;
        lock.seek(SeekFrom::Start(0))?;
        writeln!(lock, "{}", std::process::id())?;
        lock.sync_all()?;
        Ok(PidLock { _lock: lock })
    }
}

/// An exclusive `flock` on a directory itself, so the root needs no lock file of its own and
/// looks like Docker's.
pub struct DirLock {
    _lock: Flock<File>,
}

impl DirLock {
    pub fn acquire(dir: &Path) -> anyhow::Result<DirLock> {
        let file =
            File::open(dir).map_err(|e| anyhow::anyhow!("opening {}: {e}", dir.display()))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(DirLock { _lock: lock }),
            Err(_) => anyhow::bail!(
                "another berth daemon is already using the root {}",
                dir.display()
            ),
        }
    }
}
