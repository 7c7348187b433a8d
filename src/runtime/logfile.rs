//! Docker's json-file log: one JSON object per line of output,
//! `{"log":"hi\n","stream":"stdout","time":"2026-11-22T09:15:18.123456789Z"}`.
//! A line is written when its newline arrives; a partial line waits, up to 16 KiB, as Docker's
//! log copier does, and is flushed when the container exits.

use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

const MAX_PARTIAL: usize = 16 * 1024;

#[derive(Serialize)]
struct Line<'a> {
    log: &'a str,
    stream: &'a str,
    time: String,
}

pub fn encode_line(log: &[u8], stream: &str, time: String) -> Vec<u8> {
    let text = String::from_utf8_lossy(log);
    let mut out = serde_json::to_vec(&Line {
        log: &text,
        stream,
        time,
    })
    .unwrap_or_default();
    out.push(b'\n');
    out
}

pub struct JsonLog {
    file: File,
    partial: [Vec<u8>; 2],
}

impl JsonLog {
    pub fn open(path: &Path) -> std::io::Result<JsonLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(JsonLog {
            file,
            partial: [Vec::new(), Vec::new()],
        })
    }

    fn slot(stream: &str) -> usize {
        usize::from(stream == "stderr")
    }

    pub fn write(&mut self, stream: &str, data: &[u8]) {
        let i = Self::slot(stream);
        self.partial[i].extend_from_slice(data);
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let mut out = Vec::new();
        while let Some(pos) = self.partial[i].iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial[i].drain(..=pos).collect();
            out.extend(encode_line(&line, stream, now.clone()));
        }
        if self.partial[i].len() >= MAX_PARTIAL {
            let line = std::mem::take(&mut self.partial[i]);
            out.extend(encode_line(&line, stream, now));
        }
        if !out.is_empty() {
            let _ = self.file.write_all(&out);
        }
    }

    pub fn flush(&mut self) {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        for (i, stream) in ["stdout", "stderr"].iter().enumerate() {
            let line = std::mem::take(&mut self.partial[i]);
            if !line.is_empty() {
                let _ = self
                    .file
                    .write_all(&encode_line(&line, stream, now.clone()));
            }
        }
        let _ = self.file.sync_data();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_look_like_dockers() {
        let l = encode_line(b"hi\n", "stdout", "2026-11-22T09:15:18.000000001Z".into());
        assert_eq!(String::from_utf8(l).unwrap(), "{\"log\":\"hi\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-22T09:15:18.000000001Z\"}\n");
    }

    #[test]
    fn partial_lines_wait_for_their_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let mut log = JsonLog::open(&p).unwrap();
        log.write("stdout", b"a");
        log.write("stderr", b"err\n");
        log.write("stdout", b"b\nc");
        log.flush();
        let text = std::fs::read_to_string(&p).unwrap();
        let logs: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|v| {
                format!(
                    "{}:{}",
                    v["stream"].as_str().unwrap(),
                    v["log"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(logs, vec!["stderr:err\n", "stdout:ab\n", "stdout:c"]);
    }
}
