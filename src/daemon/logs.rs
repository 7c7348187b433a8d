//! Reading a container's json-file log back: the entries `logs` selects with `--tail`,
//! `--since` and `--until`, rendered as Docker does (optionally with RFC 3339 timestamps), and
//! the follow mode that keeps reading while the container runs.

use super::error::Result as DaemonResult;
use super::Daemon;
use bytes::Bytes;
use serde::Deserialize;
use std::io::{Read, Seek, SeekFrom};

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Entry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// What `GET /containers/{id}/logs` asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogQuery {
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    pub timestamps: bool,
    /// None = all.
    pub tail: Option<usize>,
    /// Unix times in nanoseconds; 0 = unbounded.
    pub since: i128,
    pub until: i128,
}

/// `1700000000` or `1700000000.123456789` (what the docker CLI sends), as nanoseconds.
pub fn parse_unix_time(s: &str) -> Result<i128, String> {
    if s.is_empty() {
        return Ok(0);
    }
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i128 = secs.parse().map_err(|_| format!("invalid time {s:?}"))?;
    let mut nanos: i128 = 0;
    if !frac.is_empty() {
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("invalid time {s:?}"));
        }
        nanos = format!("{frac:0<9}")
            .parse()
            .map_err(|_| format!("invalid time {s:?}"))?;
    }
    Ok(secs * 1_000_000_000 + nanos)
}

fn entry_nanos(e: &Entry) -> i128 {
    chrono::DateTime::parse_from_rfc3339(&e.time)
        .map(|t| t.timestamp_nanos_opt().unwrap_or(0) as i128)
        .unwrap_or(0)
}

pub fn parse_entries(text: &str) -> Vec<Entry> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

impl LogQuery {
    pub fn wants(&self, e: &Entry) -> bool {
        let stream_ok =
            (e.stream == "stdout" && self.stdout) || (e.stream == "stderr" && self.stderr);
        if !stream_ok {
            return false;
        }
        let t = entry_nanos(e);
        (self.since == 0 || t > self.since) && (self.until == 0 || t <= self.until)
    }

    /// The entries to show from what is already on disk.
    pub fn select(&self, entries: Vec<Entry>) -> Vec<Entry> {
        let kept: Vec<Entry> = entries.into_iter().filter(|e| self.wants(e)).collect();
        match self.tail {
            Some(n) if n < kept.len() => kept[kept.len() - n..].to_vec(),
            _ => kept,
        }
    }

    /// One entry as the client receives it: the line, timestamped when asked, framed unless
    /// the container has a TTY.
    pub fn render(&self, e: &Entry, tty: bool) -> Vec<u8> {
        let mut line = Vec::new();
        if self.timestamps {
            line.extend_from_slice(e.time.as_bytes());
            line.push(b' ');
        }
        line.extend_from_slice(e.log.as_bytes());
        if tty {
            line
        } else {
            let stream = if e.stream == "stderr" {
                crate::wire::stream::STDERR
            } else {
                crate::wire::stream::STDOUT
            };
            crate::wire::stream::encode(stream, &line)
        }
    }
}

impl Daemon {
    /// Stream the selected log entries into `tx`; with `follow`, keep reading the file while
    /// the container runs. Reading the file (not the live output) means an entry is never sent
    /// twice or skipped between the two.
    pub fn logs(
        &self,
        input: &str,
        q: LogQuery,
    ) -> DaemonResult<tokio::sync::mpsc::Receiver<Bytes>> {
        let c = self.lookup(input)?;
        if super::hostconfig::logs_discarded(&c.snapshot().host_config) {
            return Err(super::error::DaemonError::NotImplemented(
                "configured logging driver does not support reading".into(),
            ));
        }
        let path = c.log_path();
        let tty = c.snapshot().config.tty;
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
        let mut lifecycle = c.lifecycle.subscribe();
        tokio::spawn(async move {
            let mut offset = 0u64;
            let mut pending = String::new();
            let mut first = true;
            loop {
                // The container's state before reading, so a final read follows its exit.
                let running = lifecycle.borrow().running;
                let (chunk, new_offset) = match read_from(&path, offset) {
                    Ok(r) => r,
                    Err(_) => (String::new(), offset),
                };
                offset = new_offset;
                pending.push_str(&chunk);
                let complete = match pending.rfind('\n') {
                    Some(i) => pending.drain(..=i).collect::<String>(),
                    None => String::new(),
                };
                let mut entries = parse_entries(&complete);
                if first {
                    entries = q.select(entries);
                    first = false;
                } else {
                    entries.retain(|e| q.wants(e));
                }
                for e in &entries {
                    if tx.send(Bytes::from(q.render(e, tty))).await.is_err() {
                        return;
                    }
                }
                if !q.follow || !running || lifecycle.borrow().removed {
                    return;
                }
                let _ = tokio::time::timeout(
                    std::time::Duration::from_millis(100),
                    lifecycle.changed(),
                )
                .await;
            }
        });
        Ok(rx)
    }
}

fn read_from(path: &std::path::Path, offset: u64) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let n = buf.len() as u64;
    Ok((String::from_utf8_lossy(&buf).into_owned(), offset + n))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = concat!(
        "{\"log\":\"one\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-22T09:15:31.000000001Z\"}\n",
        "{\"log\":\"err\\n\",\"stream\":\"stderr\",\"time\":\"2026-11-22T09:15:32.000000000Z\"}\n",
        "{\"log\":\"two\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-22T09:15:33.000000000Z\"}\n",
    );

    fn q() -> LogQuery {
        LogQuery {
            stdout: true,
            stderr: true,
            ..Default::default()
        }
    }

    #[test]
    fn tail_and_streams() {
        let all = parse_entries(LOG);
        assert_eq!(q().select(all.clone()).len(), 3);
        let last = LogQuery {
            tail: Some(1),
            ..q()
        }
        .select(all.clone());
        assert_eq!(last[0].log, "two\n");
        let out = LogQuery {
            stderr: false,
            ..q()
        }
        .select(all.clone());
        assert_eq!(
            out.iter().map(|e| e.log.as_str()).collect::<Vec<_>>(),
            ["one\n", "two\n"]
        );
        assert!(LogQuery {
            tail: Some(0),
            ..q()
        }
        .select(all)
        .is_empty());
    }

    #[test]
    fn since_and_until_bound_by_time() {
        let all = parse_entries(LOG);
        let since = parse_unix_time("1795338931.5").unwrap();
        let sel = LogQuery { since, ..q() }.select(all.clone());
        assert_eq!(
            sel.iter().map(|e| e.log.as_str()).collect::<Vec<_>>(),
            ["err\n", "two\n"]
        );
        let until = parse_unix_time("1795338932").unwrap();
        let sel = LogQuery { until, ..q() }.select(all);
        assert_eq!(
            sel.iter().map(|e| e.log.as_str()).collect::<Vec<_>>(),
            ["one\n", "err\n"]
        );
    }

    #[test]
    fn timestamps_and_frames() {
        let e = &parse_entries(LOG)[1];
        let ts = LogQuery {
            timestamps: true,
            ..q()
        };
        assert_eq!(ts.render(e, true), b"2026-11-22T09:15:32.000000000Z err\n");
        assert_eq!(
            q().render(e, false),
            b"\x02\x00\x00\x00\x00\x00\x00\x04err\n"
        );
    }

    #[test]
    fn unix_times_parse_like_the_docker_cli_sends_them() {
        assert_eq!(parse_unix_time("10").unwrap(), 10_000_000_000);
        assert_eq!(parse_unix_time("10.5").unwrap(), 10_500_000_000);
        assert!(parse_unix_time("ten").is_err());
    }
}
