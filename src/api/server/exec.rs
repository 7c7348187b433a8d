//! `/containers/{id}/exec` and `/exec/...`: an exec is created (its config kept by the
//! daemon), then started, detached or on a hijacked connection that carries its stdin and
//! output, then inspected for its exit code. The exec runs through `berth nsexec`, which joins
//! the container's cgroup and namespaces.

use super::containers::size_query;
use super::{hijack, json_response, ok_empty, ok_json, streaming};
use super::{ApiError, Call, Reply};
use crate::wire::types::{ExecConfig, ExecStartConfig};
use crate::wire::{detach, stream};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::StatusCode;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `POST /containers/{id}/exec`.
pub(super) async fn create(c: Call) -> Reply {
    let (id, d) = (c.param("id"), c.d.clone());
    let config: ExecConfig = c.json().await?;
    let exec_id = d.exec_create(&id, config)?;
    Ok(json_response(
        StatusCode::CREATED,
        &serde_json::json!({ "Id": exec_id }),
    ))
}

/// `POST /exec/{id}/resize?h=&w=`.
pub(super) async fn resize(c: Call) -> Reply {
    let (rows, cols) = size_query(&c)?;
    c.d.exec_resize(&c.param("id"), rows, cols)?;
    ok_empty()
}

/// `GET /exec/{id}/json`.
pub(super) async fn inspect(c: Call) -> Reply {
    ok_json(&c.d.exec_get(&c.param("id"))?.inspect())
}

/// `POST /exec/{id}/start`: run the exec; unless detached, the connection is hijacked and
/// carries its output and its stdin, and closes when the process ends or the client types the
/// detach keys. Whether the output is framed follows the start request's `Tty`, not the
/// exec's, as in Docker: an exec made with a terminal and started without one (docker-py's
/// default) sends the terminal's output in stdout frames.
pub(super) async fn start(c: Call) -> Reply {
    let id = c.param("id");
    let version = c.version();
    let Call { mut req, d, .. } = c;
    let exec = d.exec_get(&id)?;
    let upgrade = req.headers().get(hyper::header::UPGRADE).is_some();
    let on_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let body = req
        .into_body()
        .collect()
        .await
        .map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?
        .to_bytes();
    let start: ExecStartConfig = if body.iter().all(u8::is_ascii_whitespace) {
        ExecStartConfig::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))?
    };
    let size = [&start.console_size, &exec.config.console_size]
        .into_iter()
        .flatten()
        .find_map(|v| match v.as_slice() {
            [r, c] if *r > 0 && *c > 0 => Some((
                u16::try_from(*r).unwrap_or(u16::MAX),
                u16::try_from(*c).unwrap_or(u16::MAX),
            )),
            _ => None,
        });
    let keys = detach::parse(&exec.config.detach_keys).unwrap_or_else(|_| detach::DEFAULT.to_vec());
    let spawned = d.exec_spawn(&exec, size).await?;
    let mut child = spawned.child;
    // With a terminal, all output is the terminal's (plus nsexec's own errors).
    let (pty_out, pty_in) = match spawned.terminal.map(crate::runtime::console::AsyncPty::new) {
        Some(Ok(pty)) => {
            let (r, w) = tokio::io::split(pty);
            (Some(r), Some(w))
        }
        Some(Err(e)) => {
            let _ = child.kill().await;
            return Err(ApiError::Status(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("relaying the exec's terminal: {e}"),
            ));
        }
        None => (None, None),
    };
    let framed = !start.tty;
    let (out_stream, err_stream) = if framed {
        (Some(stream::STDOUT), Some(stream::STDERR))
    } else {
        (None, None)
    };
    let stdin: Option<Box<dyn tokio::io::AsyncWrite + Send + Unpin>> =
        match (pty_in, child.stdin.take()) {
            (Some(w), _) if exec.config.attach_stdin => Some(Box::new(w)),
            (None, Some(p)) => Some(Box::new(p)),
            _ => None,
        };
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (want_out, want_err) = if start.detach {
        (false, false)
    } else {
        (exec.config.attach_stdout, exec.config.attach_stderr)
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    // Held until the exit is recorded: the client reads the exit code (GET /exec/{id}/json)
    // as soon as its stream ends, so the stream must not end before that.
    let tx_hold = tx.clone();
    // Every output is read to its end, wanted or not, so the process never blocks on it.
    let forward = async move {
        tokio::join!(
            frame_pipe(pty_out, out_stream, want_out, tx.clone()),
            frame_pipe(stdout, out_stream, want_out, tx.clone()),
            frame_pipe(stderr, err_stream, want_err, tx)
        );
    };
    let finish = {
        let exec = exec.clone();
        let d = d.clone();
        async move {
            let (_, status) = tokio::join!(forward, child.wait());
            if let Ok(st) = status {
                d.exec_finished(&exec, st);
            }
            drop(tx_hold);
        }
    };
    if start.detach {
        drop((rx, stdin));
        tokio::spawn(finish);
        return ok_empty();
    }
    let Some(on_upgrade) = on_upgrade else {
        // Without an upgrade Docker answers 200 and the stream, always called raw.
        drop(stdin);
        tokio::spawn(finish);
        return streaming(hijack::RAW, rx);
    };
    tokio::spawn(async move {
        let finished = tokio::spawn(finish);
        let (mut rd, mut wr) = match hijack::take(on_upgrade).await {
            Ok(halves) => halves,
            Err(e) => {
                tracing::debug!("exec upgrade failed: {e}");
                return;
            }
        };
        let detached = Arc::new(tokio::sync::Notify::new());
        let stdin_task = {
            let detached = detached.clone();
            tokio::spawn(async move {
                let Some(mut sink) = stdin else { return };
                let mut keys = detach::DetachKeys::new(keys);
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match rd.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let (data, detach) = keys.scan(&buf[..n]);
                            if !data.is_empty() && sink.write_all(&data).await.is_err() {
                                break;
                            }
                            if detach {
                                detached.notify_one();
                                return;
                            }
                        }
                    }
                }
                // End of the client's input: a pipe is closed, so the process sees EOF.
                let _ = sink.shutdown().await;
            })
        };
        let mut rx = rx;
        loop {
            let next = tokio::select! {
                b = rx.recv() => b,
                _ = detached.notified() => break,
            };
            match next {
                Some(b) => {
                    if wr.write_all(&b).await.is_err() {
                        break;
                    }
                }
                None => break,
            }
        }
        drop(rx);
        let _ = wr.flush().await;
        let _ = wr.shutdown().await;
        stdin_task.abort();
        // A detached exec runs on; its end is still recorded.
        drop(finished);
    });
    Ok(hijack::upgraded_response(hijack::media_type(
        framed, version,
    )))
}

/// Copy a process's pipe into `tx` as frames of `stream` (raw bytes when None). It reads to the end even when the
/// client did not ask for this stream (`wanted` false), so the process never blocks on a full
/// pipe.
async fn frame_pipe<R: tokio::io::AsyncRead + Unpin>(
    src: Option<R>,
    stream: Option<u8>,
    wanted: bool,
    tx: tokio::sync::mpsc::Sender<Bytes>,
) {
    let Some(mut src) = src else { return };
    let mut buf = vec![0u8; 32 * 1024];
    let mut forwarding = wanted;
    while let Ok(n) = src.read(&mut buf).await {
        if n == 0 {
            break;
        }
        if forwarding
            && tx
                .send(Bytes::from(match stream {
                    Some(s) => stream::encode(s, &buf[..n]),
                    None => buf[..n].to_vec(),
                }))
                .await
                .is_err()
        {
            forwarding = false;
        }
    }
}
