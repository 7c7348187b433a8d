//! `POST /containers/{id}/attach`: the docker CLI's way into a container's stdio. With
//! `Upgrade: tcp` the connection is hijacked (101, then the stream both ways, as Docker does);
//! without it, output streams in the response body. `logs=1` first replays what the container
//! has logged so far; `stream=1` then follows its live output (and takes its input), and
//! without it the answer ends after the replay. Input sent before the container starts waits
//! for its process; the detach keys end the session and leave the container running.

use super::{hijack, streaming, ApiError, Call, Reply};
use crate::daemon::container::Output;
use crate::daemon::logs::LogQuery;
use crate::wire::{detach, stream};
use bytes::Bytes;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast::error::RecvError;

/// `POST /containers/{id}/attach`: with `Upgrade: tcp` the connection is hijacked and carries
/// the stream both ways; without it, output streams in the response body.
pub(super) async fn attach(call: Call) -> Reply {
    let (id, q, version) = (call.param("id"), call.query(), call.version());
    let Call { mut req, d, .. } = call;
    let c = d.lookup(&id)?;
    let want_stdin = q.flag("stdin");
    let want_stdout = q.flag("stdout");
    let want_stderr = q.flag("stderr");
    let want_stream = q.flag("stream");
    let detach_keys = match q.get("detachKeys").filter(|k| !k.is_empty()) {
        Some(spec) => detach::parse(spec).map_err(ApiError::BadRequest)?,
        None => detach::DEFAULT.to_vec(),
    };
    let rec = c.snapshot();
    let tty = rec.config.tty;
    // Subscribe before the replay and before answering, so output produced meanwhile (or
    // right after `start`) is never missed.
    let mut output = c.output.subscribe();
    let replay = if q.flag("logs") {
        Some(d.logs(
            &rec.id,
            LogQuery {
                stdout: want_stdout,
                stderr: want_stderr,
                ..Default::default()
            },
        )?)
    } else {
        None
    };
    d.container_event(&rec, "attach", &[]);
    let finished = !rec.state.running && rec.state.status == "exited";
    // Input sent before the container starts waits for it; input after this run has ended
    // is dropped.
    let exits_seen = c.lifecycle.borrow().exits;

    let frame = move |o: &Output| -> Option<Vec<u8>> {
        let (id, b) = match o {
            Output::Stdout(b) if want_stdout => (stream::STDOUT, b),
            Output::Stderr(b) if want_stderr => (stream::STDERR, b),
            _ => return None,
        };
        Some(if tty {
            b.to_vec()
        } else {
            stream::encode(id, b)
        })
    };

    let upgrade = req.headers().get(hyper::header::UPGRADE).is_some();
    if !upgrade {
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
        tokio::spawn(async move {
            if let Some(mut replay) = replay {
                while let Some(b) = replay.recv().await {
                    if tx.send(b).await.is_err() {
                        return;
                    }
                }
            }
            if !want_stream || finished {
                return;
            }
            loop {
                match output.recv().await {
                    Ok(Output::Closed) | Err(RecvError::Closed) => break,
                    Ok(o) => {
                        if let Some(b) = frame(&o) {
                            if tx.send(Bytes::from(b)).await.is_err() {
                                break;
                            }
                        }
                    }
                    Err(RecvError::Lagged(_)) => continue,
                }
            }
        });
        return streaming(hijack::RAW, rx);
    }

    let on_upgrade = hyper::upgrade::on(&mut req);
    let container = c.clone();
    tokio::spawn(async move {
        let (mut rd, mut wr) = match hijack::take(on_upgrade).await {
            Ok(halves) => halves,
            Err(e) => {
                tracing::debug!("attach upgrade failed: {e}");
                return;
            }
        };
        if let Some(mut replay) = replay {
            while let Some(b) = replay.recv().await {
                if wr.write_all(&b).await.is_err() {
                    return;
                }
            }
        }
        if !want_stream {
            let _ = wr.flush().await;
            let _ = wr.shutdown().await;
            return;
        }
        // Set when the client types the detach keys: the attach ends, the container runs on.
        let detached = Arc::new(tokio::sync::Notify::new());
        let stdin_task = if want_stdin && rec.config.open_stdin {
            let container = container.clone();
            let stdin_once = rec.config.stdin_once;
            let detached = detached.clone();
            Some(tokio::spawn(async move {
                let mut buf = vec![0u8; 32 * 1024];
                let mut keys = detach::DetachKeys::new(detach_keys);
                loop {
                    match rd.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let (data, detach) = keys.scan(&buf[..n]);
                            if !data.is_empty() {
                                match container.stdin_when_started(exits_seen).await {
                                    Some(mut s) => {
                                        if let Some(s) = s.as_mut() {
                                            let _ = s.write(&data).await;
                                        }
                                    }
                                    None => return,
                                }
                            }
                            if detach {
                                detached.notify_one();
                                return;
                            }
                        }
                    }
                }
                if stdin_once {
                    if let Some(mut s) = container.stdin_when_started(exits_seen).await {
                        if let Some(s) = s.as_mut() {
                            let _ = s.close().await;
                        }
                    }
                }
            }))
        } else {
            None
        };
        // An exited container streams again when it is started (`start -a` attaches first),
        // so the session lasts until that run's output ends or the container is removed.
        let mut lifecycle = container.lifecycle.subscribe();
        loop {
            let next = tokio::select! {
                o = output.recv() => o,
                _ = detached.notified() => break,
                _ = lifecycle.wait_for(|l| l.removed) => break,
            };
            match next {
                Ok(Output::Closed) | Err(RecvError::Closed) => break,
                Ok(o) => {
                    if let Some(b) = frame(&o) {
                        if wr.write_all(&b).await.is_err() {
                            break;
                        }
                    }
                }
                Err(RecvError::Lagged(_)) => continue,
            }
        }
        let _ = wr.flush().await;
        let _ = wr.shutdown().await;
        if let Some(t) = stdin_task {
            t.abort();
        }
    });
    Ok(hijack::upgraded_response(hijack::media_type(!tty, version)))
}
