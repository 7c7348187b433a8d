//! The daemon's side: a log read back across its rotated files, oldest first (`<log>.N[.gz]`
//! … `<log>.1[.gz]`, then `<log>`), and followed while the shim writes it. The set of files
//! is opened under the shared lock of `<log>.rotations`, so it is never caught half-moved;
//! once open, a file reads to its end whatever is renamed or removed meanwhile.

use super::rotate;
use super::{decode, Entry, Format};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A rotated file, open.
pub struct Segment {
    file: File,
    gz: bool,
}

impl Segment {
    pub fn entries(self, format: Format) -> std::io::Result<Vec<Entry>> {
        let mut buf = Vec::new();
        if self.gz {
            flate2::read::GzDecoder::new(self.file).read_to_end(&mut buf)?;
        } else {
            let mut f = self.file;
            f.read_to_end(&mut buf)?;
        }
        Ok(decode(format, &buf).0)
    }
}

/// Reads the current file as it grows, and moves on to the next one after a rotation.
pub struct Follower {
    path: PathBuf,
    format: Format,
    /// The rotation count when `current` was the current file.
    count: u64,
    current: Option<File>,
    /// Bytes of a record not yet whole.
    pending: Vec<u8>,
}

fn open_segment(path: &Path, k: u64) -> Option<Segment> {
    let (p, gz) = rotate::rotated(path, k)?;
    File::open(p).ok().map(|file| Segment { file, gz })
}

/// The log as it is now: its rotated files, oldest first, and a follower at the start of
/// the current file (whose `poll` gives the current file's records, then what comes).
pub fn open(path: &Path, format: Format) -> (Vec<Segment>, Follower) {
    let lock = rotate::lock_shared(path);
    let count = lock.as_ref().map_or(0, |l| l.1);
    let mut segments: Vec<Segment> = (1..).map_while(|k| open_segment(path, k)).collect();
    segments.reverse();
    let current = File::open(path).ok();
    drop(lock);
    let follower = Follower {
        path: path.to_path_buf(),
        format,
        count,
        current,
        pending: Vec::new(),
    };
    (segments, follower)
}

impl Follower {
    fn drain(&mut self, out: &mut Vec<Entry>) -> std::io::Result<()> {
        if let Some(f) = self.current.as_mut() {
            f.read_to_end(&mut self.pending)?;
            let (entries, used) = decode(self.format, &self.pending);
            self.pending.drain(..used);
            out.extend(entries);
        }
        Ok(())
    }

    /// The records written since the last poll, in order, across any rotations since.
    pub fn poll(&mut self) -> std::io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        loop {
            self.drain(&mut out)?;
            let lock = rotate::lock_shared(&self.path);
            let count = lock.as_ref().map_or(0, |l| l.1);
            if self.current.is_some() && count == self.count {
                return Ok(out);
            }
            // `d` rotations since we last looked. With a file open, it is now `.d`, and
            // `.d-1` … `.1` came after it; with none (the log was not there yet), every
            // rotated file was made since. Those past max-file are gone: the writer outran us.
            let d = count.saturating_sub(self.count);
            let had_file = self.current.is_some();
            let newest = if had_file { d.max(1) - 1 } else { d };
            let newer: Vec<Segment> = (1..=newest.min(10_000))
                .rev()
                .filter_map(|k| open_segment(&self.path, k))
                .collect();
            let next = File::open(&self.path).ok();
            drop(lock);
            if had_file {
                // Everything our file will ever hold was written before it was renamed.
                self.drain(&mut out)?;
                self.pending.clear();
            } else if next.is_none() {
                // Not there yet (the container has not started): look again next time.
                return Ok(out);
            }
            for s in newer {
                out.extend(s.entries(self.format)?);
            }
            self.current = next;
            self.count = count;
            if self.current.is_none() {
                return Ok(out);
            }
        }
    }
}

/// Every record of the log, oldest first.
pub fn read_all(path: &Path, format: Format) -> std::io::Result<Vec<Entry>> {
    let (segments, mut follower) = open(path, format);
    let mut out = Vec::new();
    for s in segments {
        out.extend(s.entries(format)?);
    }
    out.extend(follower.poll()?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::writer::LogWriter;
    use super::super::LogSettings;
    use super::*;

    fn texts(entries: &[Entry]) -> Vec<String> {
        entries.iter().map(|e| e.log.clone()).collect()
    }

    fn lines(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("line {i:04}\n")).collect()
    }

    fn settings(format: Format, compress: bool, max_size: u64) -> LogSettings {
        LogSettings {
            format,
            max_size: Some(max_size),
            max_files: 4,
            compress,
            attrs: Default::default(),
        }
    }

    #[test]
    fn all_files_read_in_order_plain_gz_and_both_formats() {
        for format in [Format::JsonFile, Format::Local] {
            for compress in [false, true] {
                let dir = tempfile::tempdir().unwrap();
                let p = dir.path().join("log");
                let mut w = LogWriter::open(&p, &settings(format, compress, 200)).unwrap();
                for l in lines(0..100) {
                    w.write("stdout", l.as_bytes());
                }
                let got = texts(&read_all(&p, format).unwrap());
                // Four files of at most 200 bytes keep the newest lines, whole and in order.
                assert!(
                    got.len() >= 8 && got.len() < 40,
                    "{format:?}: {}",
                    got.len()
                );
                assert_eq!(got, lines(100 - got.len()..100), "{format:?} {compress}");
                let gz = dir.path().join("log.1.gz").exists();
                assert_eq!(gz, compress);
            }
        }
    }

    #[test]
    fn a_follower_crosses_rotations_without_losing_or_repeating() {
        for compress in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("log");
            // Five lines to a file, four files.
            let mut w = LogWriter::open(&p, &settings(Format::JsonFile, compress, 400)).unwrap();
            w.write("stdout", b"first\n");
            let (old, mut f) = open(&p, Format::JsonFile);
            assert!(old.is_empty());
            let mut seen = texts(&f.poll().unwrap());
            // Between two polls: no rotation, then two, three and four (as many as max-file).
            for (n, batch) in [(0, 1..2), (1, 2..12), (2, 12..27), (3, 27..47)] {
                for l in lines(batch) {
                    w.write("stdout", l.as_bytes());
                }
                seen.extend(texts(&f.poll().unwrap()));
                let want: Vec<String> = std::iter::once("first\n".to_string())
                    .chain(lines(1..[2, 12, 27, 47][n]))
                    .collect();
                assert_eq!(seen, want, "after batch {n}, compress {compress}");
            }
            assert!(f.poll().unwrap().is_empty());
        }
    }

    #[test]
    fn a_follower_waits_for_a_log_not_yet_made() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let (old, mut f) = open(&p, Format::Local);
        assert!(old.is_empty());
        assert!(f.poll().unwrap().is_empty());
        let mut w = LogWriter::open(&p, &settings(Format::Local, false, 200)).unwrap();
        // Three rotations before the follower looks: all four files are new to it.
        for l in lines(0..20) {
            w.write("stdout", l.as_bytes());
        }
        assert!(dir.path().join("log.3").exists());
        assert_eq!(texts(&f.poll().unwrap()), lines(0..20));
    }

    #[test]
    fn a_record_written_in_part_waits_for_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let whole =
            super::super::jsonfile::encode_line(b"x\n", "stdout", "2026-01-01T00:00:00Z", None);
        std::fs::write(&p, &whole[..10]).unwrap();
        let (_, mut f) = open(&p, Format::JsonFile);
        assert!(f.poll().unwrap().is_empty());
        use std::io::Write;
        let mut o = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        o.write_all(&whole[10..]).unwrap();
        assert_eq!(texts(&f.poll().unwrap()), ["x\n"]);
    }
}
