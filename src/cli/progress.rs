//! The JSON progress stream of pull, push and import, shown as docker shows it: on a terminal
//! a line per layer that redraws in place (indicatif bars for bytes), elsewhere one line per
//! status change without the byte counts.

use crate::api::client::ClientError;
use http_body_util::BodyExt;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;

/// What the stream said besides progress: its last status, and the `aux` object of a push.
#[derive(Default)]
pub struct Outcome {
    pub statuses: Vec<String>,
    pub aux: Option<Value>,
}

pub(crate) enum Screen {
    Bars {
        multi: MultiProgress,
        bars: HashMap<String, ProgressBar>,
    },
    Lines,
    Quiet,
}

impl Screen {
    pub(crate) fn new(quiet: bool, to_stderr: bool) -> Screen {
        use std::io::IsTerminal;
        let tty = if to_stderr {
            std::io::stderr().is_terminal()
        } else {
            std::io::stdout().is_terminal()
        };
        if quiet {
            Screen::Quiet
        } else if tty {
            let target = if to_stderr {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::stdout()
            };
            Screen::Bars {
                multi: MultiProgress::with_draw_target(target),
                bars: HashMap::new(),
            }
        } else {
            Screen::Lines
        }
    }

    /// Whether it redraws lines in place (a terminal), so text must come in whole lines.
    pub(crate) fn draws_bars(&self) -> bool {
        matches!(self, Screen::Bars { .. })
    }

    pub(crate) fn show(&mut self, m: &Value, to_stderr: bool) {
        let status = m.get("status").and_then(|s| s.as_str()).unwrap_or("");
        let id = m.get("id").and_then(|s| s.as_str());
        let detail = m.get("progressDetail");
        let current = detail
            .and_then(|d| d.get("current"))
            .and_then(|c| c.as_u64());
        let total = detail.and_then(|d| d.get("total")).and_then(|c| c.as_u64());
        let line = match id {
            Some(id) => format!("{id}: {status}"),
            None => status.to_string(),
        };
        match self {
            Screen::Quiet => {}
            Screen::Lines => {
                // Byte counts are for terminals; a log gets the changes of state only.
                if current.is_none() && !status.is_empty() {
                    if to_stderr {
                        eprintln!("{line}");
                    } else {
                        println!("{line}");
                    }
                }
            }
            Screen::Bars { multi, bars } => {
                let Some(id) = id else {
                    if !status.is_empty() {
                        let _ = multi.println(&line);
                    }
                    return;
                };
                let bar = bars.entry(id.to_string()).or_insert_with(|| {
                    let b = multi.add(ProgressBar::new(0));
                    b.set_style(ProgressStyle::with_template("{prefix}: {msg}").unwrap());
                    b.set_prefix(id.to_string());
                    b
                });
                match current {
                    Some(cur) => {
                        if let Some(t) = total {
                            bar.set_style(
                                ProgressStyle::with_template(
                                    "{prefix}: {msg} [{bar:50.=> }] {bytes}/{total_bytes}",
                                )
                                .unwrap()
                                .progress_chars("=> "),
                            );
                            bar.set_length(t);
                        } else {
                            bar.set_style(
                                ProgressStyle::with_template("{prefix}: {msg} {bytes}").unwrap(),
                            );
                        }
                        bar.set_position(cur);
                    }
                    None => bar.set_style(ProgressStyle::with_template("{prefix}: {msg}").unwrap()),
                }
                bar.set_message(status.to_string());
            }
        }
    }

    pub(crate) fn text(&mut self, text: &str, to_stderr: bool) {
        match self {
            Screen::Bars { multi, .. } => {
                let _ = multi.println(text.trim_end_matches('\n'));
            }
            _ if to_stderr => eprint!("{text}"),
            _ => print!("{text}"),
        }
    }

    pub(crate) fn finish(self) {
        if let Screen::Bars { bars, .. } = self {
            for b in bars.values() {
                b.finish();
            }
        }
    }
}

/// Each JSON line of a progress stream, as it comes; lines that are not JSON are skipped.
pub async fn each_message(
    resp: hyper::Response<hyper::body::Incoming>,
    mut f: impl FnMut(Value),
) -> Result<(), ClientError> {
    let mut body = resp.into_body();
    let mut pending = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ClientError::Protocol(format!("the daemon closed the progress stream early: {e}"))
        })?;
        if let Some(d) = frame.data_ref() {
            pending.extend_from_slice(d);
        }
        while let Some(nl) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            if let Ok(m) = serde_json::from_slice::<Value>(&line) {
                f(m);
            }
        }
    }
    Ok(())
}

/// Read the stream to its end. An `error` object ends it with that message.
pub async fn render(
    resp: hyper::Response<hyper::body::Incoming>,
    quiet: bool,
    to_stderr: bool,
) -> Result<Outcome, ClientError> {
    let mut screen = Screen::new(quiet, to_stderr);
    let mut outcome = Outcome::default();
    let mut failure = None;
    each_message(resp, |m| {
        if let Some(err) = m.get("error").and_then(|e| e.as_str()) {
            failure = Some(err.to_string());
            return;
        }
        // `load` says what it loaded as text lines, whatever the screen.
        if let Some(text) = m.get("stream").and_then(|s| s.as_str()) {
            screen.text(text, to_stderr);
            return;
        }
        if let Some(aux) = m.get("aux") {
            outcome.aux = Some(aux.clone());
            return;
        }
        if let Some(s) = m.get("status").and_then(|s| s.as_str()) {
            if m.get("id").is_none() {
                outcome.statuses.push(s.to_string());
            }
        }
        screen.show(&m, to_stderr);
    })
    .await?;
    screen.finish();
    let _ = std::io::stdout().flush();
    match failure {
        Some(f) => Err(ClientError::Protocol(f)),
        None => Ok(outcome),
    }
}
