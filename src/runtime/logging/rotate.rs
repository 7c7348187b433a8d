//! The log file the shim appends to, rotated as Docker rotates it: when the next records
//! would take the current file past `max-size`, `<log>.N-1` is dropped, each `<log>.k` moves
//! to `.k+1`, the current file becomes `.1` (gzipped to `.1.gz` with `compress`) and a new,
//! empty one starts. With `max-file=1` the current file is simply started afresh.
//!
//! Readers are in another process (the daemon), so the rotation must be visible to them:
//! `<log>.rotations` counts the rotations, and is flock(2)ed, exclusively while files move
//! and shared while a reader opens its set of files. A follower that held the old current
//! file knows from the count how many files came after it, and never loses or repeats a
//! record as long as fewer than `max-file` rotations happen between two of its looks.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// When and how a log file is rotated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rotation {
    pub max_size: Option<u64>,
    pub max_files: u32,
    pub compress: bool,
}

/// `<log>.rotations`: the count of rotations so far, and the lock readers and writer share.
pub fn rotations_path(log: &Path) -> PathBuf {
    suffixed(log, "rotations")
}

/// `<log>.<suffix>`
pub fn suffixed(log: &Path, suffix: &str) -> PathBuf {
    let mut s = log.as_os_str().to_owned();
    s.push(".");
    s.push(suffix);
    PathBuf::from(s)
}

/// The rotated file `<log>.k`, plain or gzipped, if there is one.
pub fn rotated(log: &Path, k: u64) -> Option<(PathBuf, bool)> {
    let plain = suffixed(log, &k.to_string());
    if plain.exists() {
        return Some((plain, false));
    }
    let gz = suffixed(log, &format!("{k}.gz"));
    gz.exists().then_some((gz, true))
}

/// The count a rotations file holds (a missing or unreadable one is 0).
pub fn read_count(f: &File) -> u64 {
    let mut buf = [0u8; 24];
    let n = f.read_at(&mut buf, 0).unwrap_or(0);
    std::str::from_utf8(&buf[..n])
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn lock(f: &File, arg: nix::fcntl::FlockArg) -> std::io::Result<nix::fcntl::Flock<File>> {
    nix::fcntl::Flock::lock(f.try_clone()?, arg).map_err(|(_, e)| std::io::Error::from(e))
}

/// Shared lock on `<log>.rotations` and the count in it; None when the log never rotates.
pub fn lock_shared(log: &Path) -> Option<(nix::fcntl::Flock<File>, u64)> {
    let f = File::open(rotations_path(log)).ok()?;
    let locked = lock(&f, nix::fcntl::FlockArg::LockShared).ok()?;
    let n = read_count(&locked);
    Some((locked, n))
}

pub struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Rotation,
    /// `<log>.rotations`, only for a log that can rotate.
    count: Option<File>,
}

fn open_log(path: &Path, truncate: bool) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true).mode(0o640);
    if truncate {
        o.write(true).truncate(true);
    } else {
        o.append(true);
    }
    o.open(path)
}

impl RotatingFile {
    pub fn open(path: &Path, rotation: Rotation) -> std::io::Result<RotatingFile> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = open_log(path, false)?;
        let size = file.metadata()?.len();
        let count = match rotation.max_size {
            Some(_) => Some(
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .mode(0o640)
                    .open(rotations_path(path))?,
            ),
            None => None,
        };
        Ok(RotatingFile {
            path: path.to_path_buf(),
            file,
            size,
            rotation,
            count,
        })
    }

    /// Append whole records, rotating between two of them where the next would not fit.
    /// Each file gets its records in one write, so a reader sees whole records or none
    /// (it keeps a record it sees only in part until the rest arrives).
    pub fn write_records(&mut self, records: &[Vec<u8>]) -> std::io::Result<()> {
        let mut buf: Vec<u8> = Vec::new();
        for r in records {
            if let Some(max) = self.rotation.max_size {
                let used = self.size + buf.len() as u64;
                if used > 0 && used + r.len() as u64 > max {
                    self.append(&buf)?;
                    buf.clear();
                    self.rotate()?;
                }
            }
            buf.extend_from_slice(r);
        }
        self.append(&buf)
    }

    fn append(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if !buf.is_empty() {
            self.file.write_all(buf)?;
            self.size += buf.len() as u64;
        }
        Ok(())
    }

    pub fn sync(&self) {
        let _ = self.file.sync_data();
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let Some(count) = &self.count else {
            return Ok(());
        };
        let locked = lock(count, nix::fcntl::FlockArg::LockExclusive)?;
        let keep = u64::from(self.rotation.max_files.max(1));
        if keep == 1 {
            remove_if_there(&self.path)?;
        } else {
            // Only the files that exist move, so a large max-file costs nothing.
            let mut last = 0;
            while last + 1 < keep && rotated(&self.path, last + 1).is_some() {
                last += 1;
            }
            if last + 1 == keep {
                for s in [last.to_string(), format!("{last}.gz")] {
                    remove_if_there(&suffixed(&self.path, &s))?;
                }
                last -= 1;
            }
            for k in (1..=last).rev() {
                if let Some((from, gz)) = rotated(&self.path, k) {
                    let to = if gz {
                        format!("{}.gz", k + 1)
                    } else {
                        (k + 1).to_string()
                    };
                    std::fs::rename(from, suffixed(&self.path, &to))?;
                }
            }
            let first = suffixed(&self.path, "1");
            std::fs::rename(&self.path, &first)?;
            if self.rotation.compress {
                // A file that cannot be compressed (a full disk) stays as it is; readers
                // take either form.
                if gzip(&first).is_ok() {
                    let _ = std::fs::remove_file(&first);
                }
            }
        }
        self.file = open_log(&self.path, true)?;
        self.size = 0;
        let n = read_count(&locked) + 1;
        // Fixed width, in place: the lock lives on this inode, so it is never replaced.
        locked.write_all_at(format!("{n:<20}\n").as_bytes(), 0)?;
        Ok(())
    }
}

fn remove_if_there(p: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// `<f>` into `<f>.gz`, through a temporary name so the `.gz` appears whole.
fn gzip(plain: &Path) -> std::io::Result<()> {
    let tmp = suffixed(plain, "gz.tmp");
    let result = (|| {
        let mut input = File::open(plain)?;
        let out = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o640)
            .open(&tmp)?;
        let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = input.read(&mut buf)?;
            if n == 0 {
                break;
            }
            enc.write_all(&buf[..n])?;
        }
        enc.finish()?.sync_data()?;
        std::fs::rename(&tmp, suffixed(plain, "gz"))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn record(i: usize) -> Vec<u8> {
        format!("{i:09}\n").into_bytes()
    }

    fn read(p: &Path) -> String {
        let bytes = std::fs::read(p).unwrap();
        if p.extension().is_some_and(|e| e == "gz") {
            let mut s = String::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_string(&mut s)
                .unwrap();
            s
        } else {
            String::from_utf8(bytes).unwrap()
        }
    }

    #[test]
    fn files_stay_under_max_size_and_max_file_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("c-json.log");
        let rot = Rotation {
            max_size: Some(50),
            max_files: 3,
            compress: false,
        };
        let mut f = RotatingFile::open(&log, rot).unwrap();
        // 10 bytes a record: five fit in a file.
        for i in 0..23 {
            f.write_records(&[record(i)]).unwrap();
        }
        assert_eq!(
            names(dir.path()),
            [
                "c-json.log",
                "c-json.log.1",
                "c-json.log.2",
                "c-json.log.rotations"
            ]
        );
        for p in ["c-json.log", "c-json.log.1", "c-json.log.2"] {
            assert!(std::fs::metadata(dir.path().join(p)).unwrap().len() <= 50);
        }
        // Oldest to newest: .2, .1, current, with nothing lost between them.
        let all = [".2", ".1", ""]
            .iter()
            .map(|s| read(&dir.path().join(format!("c-json.log{s}"))))
            .collect::<String>();
        let want: String = (10..23).map(|i| format!("{i:09}\n")).collect();
        assert_eq!(all, want);
        let count = File::open(rotations_path(&log)).unwrap();
        assert_eq!(read_count(&count), 4);
    }

    #[test]
    fn a_batch_is_split_between_files_at_record_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("l");
        let rot = Rotation {
            max_size: Some(25),
            max_files: 2,
            compress: false,
        };
        let mut f = RotatingFile::open(&log, rot).unwrap();
        let batch: Vec<Vec<u8>> = (0..5).map(record).collect();
        f.write_records(&batch).unwrap();
        assert_eq!(read(&dir.path().join("l.1")), "000000002\n000000003\n");
        assert_eq!(read(&log), "000000004\n");
    }

    #[test]
    fn compress_gzips_rotated_files() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("l");
        let rot = Rotation {
            max_size: Some(20),
            max_files: 3,
            compress: true,
        };
        let mut f = RotatingFile::open(&log, rot).unwrap();
        for i in 0..7 {
            f.write_records(&[record(i)]).unwrap();
        }
        assert_eq!(names(dir.path()), ["l", "l.1.gz", "l.2.gz", "l.rotations"]);
        assert_eq!(read(&dir.path().join("l.2.gz")), "000000002\n000000003\n");
        assert_eq!(read(&dir.path().join("l.1.gz")), "000000004\n000000005\n");
        assert_eq!(read(&log), "000000006\n");
    }

    #[test]
    fn one_file_starts_afresh_and_an_oversized_record_gets_a_file_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("l");
        let rot = Rotation {
            max_size: Some(15),
            max_files: 1,
            compress: false,
        };
        let mut f = RotatingFile::open(&log, rot).unwrap();
        f.write_records(&[record(1)]).unwrap();
        f.write_records(&[b"a record of thirty bytes long\n".to_vec()])
            .unwrap();
        assert_eq!(read(&log), "a record of thirty bytes long\n");
        f.write_records(&[record(2)]).unwrap();
        assert_eq!(read(&log), "000000002\n");
        assert_eq!(names(dir.path()), ["l", "l.rotations"]);
    }

    #[test]
    fn no_max_size_never_rotates_and_leaves_no_count() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("l");
        let rot = Rotation {
            max_size: None,
            max_files: 5,
            compress: false,
        };
        let mut f = RotatingFile::open(&log, rot).unwrap();
        for i in 0..100 {
            f.write_records(&[record(i)]).unwrap();
        }
        assert_eq!(names(dir.path()), ["l"]);
        assert_eq!(std::fs::metadata(&log).unwrap().len(), 1000);
    }

    #[test]
    fn a_reopened_log_keeps_its_size_and_count() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("l");
        let rot = Rotation {
            max_size: Some(25),
            max_files: 3,
            compress: false,
        };
        let mut f = RotatingFile::open(&log, rot).unwrap();
        for i in 0..3 {
            f.write_records(&[record(i)]).unwrap();
        }
        drop(f);
        let mut f = RotatingFile::open(&log, rot).unwrap();
        f.write_records(&[record(3)]).unwrap();
        assert_eq!(read(&log), "000000002\n000000003\n");
        assert_eq!(read_count(&File::open(rotations_path(&log)).unwrap()), 1);
    }
}
