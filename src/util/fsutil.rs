//! State files are replaced atomically: a crash leaves either the old file or the new one,
//! never half of one. The recipe is Docker's (moby's `AtomicWriteFile`): temp file in the
//! same directory, fsync, rename over the target. The directory is not fsynced: a rename the
//! journal has not committed yet when the machine crashes is lost, and the old file, whole,
//! is what the next boot reads. A `run` writes a dozen state files, and each directory fsync
//! is one more journal commit to wait for.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Write `data` to `path` atomically (temp file, fsync, rename).
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    replace(path, data, true)
}

/// Replace `path` with `data` atomically, without waiting for the disk: for files that only
/// describe this boot's running system (under the exec root, which Docker and berth keep on
/// /run, or rewritten at every start, like a container's /etc files). A reader sees the
/// old file or the new one, never half of one; a crash of the machine makes them moot.
pub fn write_replace(path: &Path, data: &[u8]) -> io::Result<()> {
    replace(path, data, false)
}

/// `<pid>-<n>`, a different n at each call: a name no other call of any process makes.
fn unique() -> String {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{seq}", std::process::id())
}

fn replace(path: &Path, data: &[u8], durable: bool) -> io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    // Unique per call, not only per process: two of the daemon's tasks may write the same
    // file at once (two starts compiling the same seccomp filter), and a shared temp name
    // would let the first rename take the second's file from under it.
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), unique()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(data)?;
        if durable {
            f.sync_all()?;
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Remove the directory `dir` off the caller's path: it is renamed to a hidden sibling at
/// once (so its name is free, and nothing that lists the parent sees it), and a thread of its
/// own deletes it. A directory whose rename fails is deleted here. What a stopped process
/// left set aside, `remove_trash` finds by its name.
pub fn remove_dir_later(dir: &Path) {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        let _ = fs::remove_dir_all(dir);
        return;
    };
    let trash = parent.join(format!("{TRASH}{}-{}", name.to_string_lossy(), unique()));
    match fs::rename(dir, &trash) {
        Ok(()) => {
            let spawned = std::thread::Builder::new().name("berth-rm".into()).spawn({
                let trash = trash.clone();
                move || {
                    let _ = fs::remove_dir_all(trash);
                }
            });
            if spawned.is_err() {
                let _ = fs::remove_dir_all(trash);
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(_) => {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

const TRASH: &str = ".trash-";

/// Delete what `remove_dir_later` set aside in `parent` and did not finish.
pub fn remove_trash(parent: &Path) {
    for e in fs::read_dir(parent).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().starts_with(TRASH) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// Serialize `value` as JSON and write it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let data = serde_json::to_vec(value).map_err(io::Error::other)?;
    write_atomic(path, &data)
}

/// Serialize `value` as JSON and [`write_replace`] it.
pub fn write_json_replace<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let data = serde_json::to_vec(value).map_err(io::Error::other)?;
    write_replace(path, &data)
}

/// Starts the writeback of a file as it is written, a step at a time, without waiting for
/// it. A big file fsynced at the end then waits only for its last step, not for all of it,
/// and one never fsynced is on its way to disk before a `sync` asks: the disk works while the
/// rest is still being produced.
#[derive(Default)]
pub struct Writeback {
    written: u64,
    started: u64,
}

impl Writeback {
    pub const STEP: u64 = 8 << 20;

    /// `n` more bytes were written at the end of `f`.
    pub fn wrote(&mut self, f: &File, n: u64) {
        self.written += n;
        if self.written - self.started >= Self::STEP {
            start_writeback(f, self.started, self.written - self.started);
            self.started = self.written;
        }
    }
}

/// Only a hint: an error here would show again at an fsync, which reports it.
fn start_writeback(f: &File, offset: u64, len: u64) {
    use std::os::unix::io::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: sync_file_range reads only its integer arguments; the fd is `f`'s, open for the
    // whole call.
    let _ =
        unsafe { libc::sync_file_range(f.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE) };
}

/// Asks the kernel to read a file ahead of a reader that goes front to back
/// (`POSIX_FADV_WILLNEED`, `READ_AHEAD` bytes ahead). The kernel's own readahead keeps only a
/// few requests in flight; on a virtual disk, whose every request has a long round trip, that
/// leaves the disk waiting, and many requests in flight hide the round trip.
pub struct Prefetch {
    advised: u64,
    /// Where the file ends, as far as it is known.
    end: u64,
    /// No more advice: the file is too small to need any, or takes none (a pipe: ESPIPE).
    stopped: bool,
}

impl Prefetch {
    const READ_AHEAD: u64 = 32 << 20;
    const STEP: u64 = 4 << 20;

    /// For a file of `len` bytes (`u64::MAX` if unknown). A file smaller than a step is left
    /// to the kernel's own readahead: one request reads it all anyway.
    pub fn new(len: u64) -> Prefetch {
        Prefetch {
            advised: 0,
            end: len,
            stopped: len <= Self::STEP,
        }
    }

    /// Keep the advice `READ_AHEAD` bytes past `pos`, where the reader of `f` now is.
    pub fn keep_ahead(&mut self, f: &File, pos: u64) {
        use std::os::unix::io::AsRawFd;
        let until = pos.saturating_add(Self::READ_AHEAD).min(self.end);
        while !self.stopped && self.advised < until {
            let (Ok(offset), Ok(len)) = (i64::try_from(self.advised), i64::try_from(Self::STEP))
            else {
                return;
            };
            self.stopped = nix::fcntl::posix_fadvise(
                f.as_raw_fd(),
                offset,
                len,
                nix::fcntl::PosixFadviseAdvice::POSIX_FADV_WILLNEED,
            )
            .is_err();
            self.advised += Self::STEP;
        }
    }
}

/// A file read front to back with a `Prefetch` ahead of it.
pub struct PrefetchedFile {
    file: File,
    pos: u64,
    prefetch: Prefetch,
}

impl PrefetchedFile {
    /// `file`, which is `len` bytes long.
    pub fn new(file: File, len: u64) -> PrefetchedFile {
        PrefetchedFile {
            file,
            pos: 0,
            prefetch: Prefetch::new(len),
        }
    }
}

impl io::Read for PrefetchedFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.prefetch.keep_ahead(&self.file, self.pos);
        let n = self.file.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_directory_removed_later_is_gone_at_once_by_its_name_and_soon_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("layer");
        fs::create_dir_all(d.join("diff/etc")).unwrap();
        fs::write(d.join("diff/etc/hosts"), b"x").unwrap();
        remove_dir_later(&d);
        assert!(!d.exists());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while fs::read_dir(dir.path()).unwrap().count() > 0 {
            assert!(std::time::Instant::now() < deadline, "the trash stayed");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // What a stopped daemon left is found by its name.
        fs::create_dir_all(dir.path().join(".trash-old-1-0/diff")).unwrap();
        fs::create_dir_all(dir.path().join("kept")).unwrap();
        remove_trash(dir.path());
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("kept")]);
    }

    #[test]
    fn threads_writing_one_file_at_once_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("filter.bpf");
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let p = p.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        write_atomic(&p, b"same bytes").unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(fs::read(&p).unwrap(), b"same bytes");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn writeback_starts_a_step_at_a_time() {
        let mut f = tempfile::tempfile().unwrap();
        let mut w = Writeback::default();
        let mib = vec![1u8; 1 << 20];
        for _ in 0..20 {
            f.write_all(&mib).unwrap();
            w.wrote(&f, mib.len() as u64);
        }
        assert_eq!((w.written, w.started), (20 << 20, 2 * Writeback::STEP));
    }

    #[test]
    fn prefetch_stays_a_read_ahead_in_front_and_stops_at_the_end() {
        let f = tempfile::tempfile().unwrap();
        f.set_len(100 << 20).unwrap();
        let mut p = Prefetch::new(100 << 20);
        p.keep_ahead(&f, 0);
        assert_eq!(p.advised, Prefetch::READ_AHEAD);
        p.keep_ahead(&f, 10 << 20);
        // In whole steps: at least a read-ahead in front, less than a step more.
        let front = (10 << 20) + Prefetch::READ_AHEAD;
        assert!((front..front + Prefetch::STEP).contains(&p.advised));
        p.keep_ahead(&f, 90 << 20);
        assert_eq!(p.advised, 100 << 20);
        assert!(!p.stopped);
        // Too small to need advice: none is asked for.
        let mut small = Prefetch::new(Prefetch::STEP);
        small.keep_ahead(&f, 0);
        assert_eq!(small.advised, 0);
    }

    #[test]
    fn a_pipe_refuses_advice_once_and_is_asked_no_more() {
        let (r, _w) = nix::unistd::pipe().unwrap();
        let r = File::from(r);
        let mut p = Prefetch::new(u64::MAX);
        p.keep_ahead(&r, 0);
        assert!(p.stopped);
        assert_eq!(p.advised, Prefetch::STEP);
    }

    #[test]
    fn a_prefetched_file_reads_like_the_file() {
        use std::io::{Read, Seek};
        let data: Vec<u8> = (0..(9 << 20) + 3).map(|i| (i % 239) as u8).collect();
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&data).unwrap();
        f.rewind().unwrap();
        let mut got = Vec::new();
        PrefetchedFile::new(f, data.len() as u64)
            .read_to_end(&mut got)
            .unwrap();
        assert_eq!(got, data);
    }
}
