//! Reading a container's log back: the entries `logs` selects with `--tail`, `--since` and
//! `--until`, across the rotated files, rendered as Docker does (optionally with RFC 3339
//! timestamps and `--details`' attributes), and the follow mode that keeps reading, across
//! rotations, while the container runs. Also where each driver keeps the log, the settings
//! the shim is given, and the daemon's default (`--log-driver`, `--log-opt`) merged into a
//! container's LogConfig as dockerd merges it.

use super::container::Record;
use super::error::Result as DaemonResult;
use super::Daemon;
use crate::runtime::logging::opts::LogContext;
use crate::runtime::logging::{self, reader, Format, LogSettings};
use crate::util::query::query_escape;
use crate::wire::types::{HostConfig, LogConfig};
use bytes::Bytes;
use std::path::{Path, PathBuf};

pub use crate::runtime::logging::Entry;

/// Where a container's log lives, and its format: json-file's `<id>-json.log` beside the
/// record, local's `local-logs/container.log` (Docker's places); None for `none`.
pub fn log_file(dir: &Path, id: &str, hc: &HostConfig) -> Option<(PathBuf, Format)> {
    if super::hostconfig::logs_discarded(hc) {
        return None;
    }
    let format = log_format(hc);
    match format {
        Format::Local => Some((dir.join("local-logs").join("container.log"), format)),
        Format::JsonFile => Some((dir.join(format!("{id}-json.log")), format)),
    }
}

/// How the driver lays its records out (json-file for any driver but local).
fn log_format(hc: &HostConfig) -> Format {
    match hc.log_config.driver.as_str() {
        "local" => Format::Local,
        _ => Format::JsonFile,
    }
}

/// What the shim keeps a container's log by: the options checked at create, with json-file's
/// attributes taken from the container.
pub(super) fn shim_log_settings(rec: &Record) -> LogSettings {
    let lc = &rec.host_config.log_config;
    let mut command = vec![rec.path.clone()];
    command.extend(rec.args.iter().cloned());
    let ctx = LogContext {
        id: &rec.id,
        name: &rec.name,
        image_id: &rec.image,
        image_name: &rec.config.image,
        hostname: &rec.config.hostname,
        command,
        labels: rec.config.labels.as_ref(),
        env: rec.config.env.as_deref().unwrap_or(&[]),
    };
    logging::opts::parse(&lc.driver, &lc.config)
        .ok()
        .flatten()
        .and_then(|o| o.settings_for(&ctx).ok())
        // Checked at create; a record that fails now keeps its format and no rotation.
        .unwrap_or(LogSettings {
            format: log_format(&rec.host_config),
            ..Default::default()
        })
}

/// dockerd's merge: no driver takes the daemon's, and a container of the daemon's driver
/// takes each daemon option it does not set itself. The result is what inspect shows.
pub(super) fn merge_default(lc: &mut LogConfig, default: &LogConfig) {
    if lc.driver.is_empty() {
        lc.driver = default.driver.clone();
    }
    if lc.driver == default.driver {
        for (k, v) in &default.config {
            lc.config.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

/// The daemon's `--log-driver`/`--log-opt`, checked as a container's would be.
pub fn check_default(lc: &LogConfig) -> Result<(), String> {
    let hc = HostConfig {
        log_config: lc.clone(),
        ..Default::default()
    };
    super::hostconfig::check_supported(&hc).map_err(|e| e.to_string())
}

/// What `GET /containers/{id}/logs` asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogQuery {
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    pub timestamps: bool,
    /// `details`: each line led by its attributes (`key=value,…`).
    pub details: bool,
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
        if self.details {
            line.extend_from_slice(details(&e.attrs).as_bytes());
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

/// `--details`: the attributes as Docker prints them, sorted by key, each `key=value`
/// query-escaped, joined by commas.
fn details(attrs: &std::collections::BTreeMap<String, String>) -> String {
    attrs
        .iter()
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// The entries to show from what is on disk when `logs` is asked, and a follower at the end
/// of them. With a tail, rotated files are read newest first only until it is filled.
fn first_read(path: &Path, format: Format, q: &LogQuery) -> (Vec<Entry>, reader::Follower) {
    let (mut older, mut follower) = reader::open(path, format);
    let keep = |v: Vec<Entry>| -> Vec<Entry> { v.into_iter().filter(|e| q.wants(e)).collect() };
    let mut picked = keep(follower.poll().unwrap_or_default());
    while q.tail.is_none_or(|n| picked.len() < n) {
        let Some(segment) = older.pop() else { break };
        let mut before = keep(segment.entries(format).unwrap_or_default());
        before.append(&mut picked);
        picked = before;
    }
    (q.select(picked), follower)
}

impl Daemon {
    /// Stream the selected log entries into `tx`; with `follow`, keep reading the files while
    /// the container runs. Reading the files (not the live output) means an entry is never
    /// sent twice or skipped between the two.
    pub fn logs(
        &self,
        input: &str,
        q: LogQuery,
    ) -> DaemonResult<tokio::sync::mpsc::Receiver<Bytes>> {
        let c = self.lookup(input)?;
        let Some((path, format)) = c.log_file() else {
            return Err(super::error::DaemonError::NotImplemented(
                "configured logging driver does not support reading".into(),
            ));
        };
        let tty = c.snapshot().config.tty;
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
        let mut lifecycle = c.lifecycle.subscribe();
        tokio::spawn(async move {
            let mut follower: Option<reader::Follower> = None;
            let mut idle = std::time::Duration::from_millis(100);
            loop {
                // The container's state before reading, so a final read follows its exit.
                let running = lifecycle.borrow().running;
                let (p, q2) = (path.clone(), q.clone());
                let read = tokio::task::spawn_blocking(move || match follower {
                    None => {
                        let (entries, f) = first_read(&p, format, &q2);
                        (entries, f, true)
                    }
                    Some(mut f) => {
                        let new = f.poll().unwrap_or_default();
                        let more = !new.is_empty();
                        (new.into_iter().filter(|e| q2.wants(e)).collect(), f, more)
                    }
                })
                .await;
                let Ok((entries, f, more)) = read else { return };
                follower = Some(f);
                for e in &entries {
                    if tx.send(Bytes::from(q.render(e, tty))).await.is_err() {
                        return;
                    }
                }
                if !q.follow || !running || lifecycle.borrow().removed {
                    return;
                }
                // While the container writes, read on at once, and look again soon after
                // it pauses: a follower loses lines only when max-file files are written
                // between two of its reads, so it must not sleep through a burst.
                if more {
                    idle = std::time::Duration::from_millis(2);
                    continue;
                }
                let _ = tokio::time::timeout(idle, lifecycle.changed()).await;
                idle = (idle * 2).min(std::time::Duration::from_millis(100));
            }
        });
        Ok(rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = concat!(
        "{\"log\":\"one\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-22T09:15:31.000000001Z\"}\n",
        "{\"log\":\"err\\n\",\"stream\":\"stderr\",\"time\":\"2026-11-22T09:15:32.000000000Z\"}\n",
        "{\"log\":\"two\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-22T09:15:33.000000000Z\"}\n",
    );

    fn parse_entries(text: &str) -> Vec<Entry> {
        logging::decode(Format::JsonFile, text.as_bytes()).0
    }

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

    #[test]
    fn details_lead_with_the_attributes_as_docker_escapes_them() {
        let mut e = parse_entries(LOG)[0].clone();
        e.attrs.insert("tag".into(), "my app".into());
        e.attrs.insert("a/b".into(), "x~y".into());
        let d = LogQuery {
            details: true,
            timestamps: true,
            ..q()
        };
        assert_eq!(
            String::from_utf8(d.render(&e, true)).unwrap(),
            "2026-11-22T09:15:31.000000001Z a%2Fb=x~y,tag=my+app one\n"
        );
        e.attrs.clear();
        let d = LogQuery {
            details: true,
            ..q()
        };
        assert_eq!(d.render(&e, true), b" one\n");
    }

    #[test]
    fn a_tail_reads_back_through_rotated_files_only_as_far_as_it_needs() {
        use crate::runtime::logging::writer::LogWriter;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let settings = LogSettings {
            max_size: Some(500),
            max_files: 5,
            compress: true,
            ..Default::default()
        };
        let mut w = LogWriter::open(&p, &settings).unwrap();
        for i in 0..20 {
            w.write("stdout", format!("line {i}\n").as_bytes());
            w.write("stderr", format!("err {i}\n").as_bytes());
        }
        assert!(dir.path().join("c-json.log.2.gz").exists());
        let texts = |v: Vec<Entry>| v.into_iter().map(|e| e.log).collect::<Vec<_>>();
        let tail = LogQuery {
            stderr: false,
            tail: Some(7),
            ..q()
        };
        let (got, _) = first_read(&p, Format::JsonFile, &tail);
        let want: Vec<String> = (13..20).map(|i| format!("line {i}\n")).collect();
        assert_eq!(texts(got), want);
        let (all, _) = first_read(&p, Format::JsonFile, &q());
        let all = texts(all);
        // What max-file kept: the newest entries, none missing, in order.
        let written: Vec<String> = (0..20)
            .flat_map(|i| [format!("line {i}\n"), format!("err {i}\n")])
            .collect();
        assert!(all.len() > 20 && all.len() < 40, "{}", all.len());
        assert!(written.ends_with(&all));
    }

    #[test]
    fn the_daemon_default_fills_what_a_container_leaves_out() {
        let default = LogConfig {
            driver: "local".into(),
            config: [("max-size".to_string(), "1m".to_string())].into(),
        };
        let mut lc = LogConfig::default();
        merge_default(&mut lc, &default);
        assert_eq!(lc, default);
        let mut lc = LogConfig {
            driver: String::new(),
            config: [("max-size".to_string(), "5m".to_string())].into(),
        };
        merge_default(&mut lc, &default);
        assert_eq!(
            (lc.driver.as_str(), lc.config["max-size"].as_str()),
            ("local", "5m")
        );
        let mut lc = LogConfig {
            driver: "json-file".into(),
            config: Default::default(),
        };
        merge_default(&mut lc, &default);
        assert!(lc.config.is_empty());
        assert!(check_default(&default).is_ok());
        let bad = LogConfig {
            driver: "local".into(),
            config: [("labels".to_string(), "x".to_string())].into(),
        };
        assert_eq!(
            check_default(&bad).unwrap_err(),
            "unknown log opt 'labels' for log driver local"
        );
    }
}
