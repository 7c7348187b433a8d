//! The shim's side: the container's output cut into lines and written as the driver's
//! records. A line is written when its newline arrives; a partial line waits, up to 16 KiB,
//! as Docker's log copier does, and is flushed when the container exits.

use super::rotate::{RotatingFile, Rotation};
use super::{jsonfile, local, Format, LogSettings};
use std::path::Path;

const MAX_PARTIAL: usize = 16 * 1024;

pub struct LogWriter {
    out: RotatingFile,
    settings: LogSettings,
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    pub fn open(path: &Path, settings: &LogSettings) -> std::io::Result<LogWriter> {
        let out = RotatingFile::open(
            path,
            Rotation {
                max_size: settings.max_size,
                max_files: settings.max_files,
                compress: settings.compress,
            },
        )?;
        Ok(LogWriter {
            out,
            settings: settings.clone(),
            partial: [Vec::new(), Vec::new()],
        })
    }

    fn slot(stream: &str) -> usize {
        usize::from(stream == "stderr")
    }

    fn record(&self, line: &[u8], stream: &str, now: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
        match self.settings.format {
            Format::JsonFile => jsonfile::encode_line(
                line,
                stream,
                &super::rfc3339_nanos(now),
                Some(&self.settings.attrs),
            ),
            Format::Local => local::encode(line, stream, now.timestamp_nanos_opt().unwrap_or(0)),
        }
    }

    pub fn write(&mut self, stream: &str, data: &[u8]) {
        let i = Self::slot(stream);
        self.partial[i].extend_from_slice(data);
        let now = chrono::Utc::now();
        let mut records = Vec::new();
        while let Some(pos) = self.partial[i].iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial[i].drain(..=pos).collect();
            records.push(self.record(&line, stream, now));
        }
        if self.partial[i].len() >= MAX_PARTIAL {
            let line = std::mem::take(&mut self.partial[i]);
            records.push(self.record(&line, stream, now));
        }
        if !records.is_empty() {
            let _ = self.out.write_records(&records);
        }
    }

    pub fn flush(&mut self) {
        let now = chrono::Utc::now();
        let mut records = Vec::new();
        for (i, stream) in ["stdout", "stderr"].iter().enumerate() {
            let line = std::mem::take(&mut self.partial[i]);
            if !line.is_empty() {
                records.push(self.record(&line, stream, now));
            }
        }
        let _ = self.out.write_records(&records);
        self.out.sync();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(format: Format, text: &[u8]) -> Vec<String> {
        super::super::decode(format, text)
            .0
            .into_iter()
            .map(|e| format!("{}:{}", e.stream, e.log))
            .collect()
    }

    #[test]
    fn partial_lines_wait_for_their_newline() {
        for format in [Format::JsonFile, Format::Local] {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("log");
            let settings = LogSettings {
                format,
                ..Default::default()
            };
            let mut log = LogWriter::open(&p, &settings).unwrap();
            log.write("stdout", b"a");
            log.write("stderr", b"err\n");
            log.write("stdout", b"b\nc");
            log.flush();
            let text = std::fs::read(&p).unwrap();
            assert_eq!(
                logs(format, &text),
                vec!["stderr:err\n", "stdout:ab\n", "stdout:c"]
            );
        }
    }

    #[test]
    fn json_lines_carry_the_attributes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let mut settings = LogSettings::default();
        settings.attrs.insert("tag".into(), "web".into());
        let mut log = LogWriter::open(&p, &settings).unwrap();
        log.write("stdout", b"hi\n");
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.starts_with(
                "{\"log\":\"hi\\n\",\"stream\":\"stdout\",\"attrs\":{\"tag\":\"web\"},\"time\":"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_long_line_is_cut_at_16k() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let mut log = LogWriter::open(&p, &LogSettings::default()).unwrap();
        log.write("stdout", &vec![b'x'; MAX_PARTIAL + 10]);
        let entries = super::super::decode(Format::JsonFile, &std::fs::read(&p).unwrap()).0;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].log.len(), MAX_PARTIAL + 10);
    }
}
