//! `POST /containers/{id}/attach`: the docker CLI's way into a container's stdio. With
//! `Upgrade: tcp` the connection is hijacked (101, then raw frames both ways, as Docker does);
//! without it, output streams in the response body. Input sent before the container starts
//! waits for its process; the detach keys end the session and leave the container running.

use super::{streaming, upgraded_response, ApiError, Call, Reply};
use crate::daemon::container::Output;
use crate::wire::{detach, stream};
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `POST /containers/{id}/attach`: with `Upgrade: tcp` the connection is hijacked and carries
/// raw frames both ways; without it, output streams in the response body.
pub(super) async fn attach(call: Call) -> Reply {
    let (id, q) = (call.param("id"), call.query());
    let Call { mut req, d, .. } = call;
    let c = d.lookup(&id)?;
    let want_stdin = q.flag("stdin");
    let want_stdout = q.flag("stdout");
    let want_stderr = q.flag("stderr");
    let detach_keys = match q.get("detachKeys").filter(|k| !k.is_empty()) {
        Some(spec) => detach::parse(spec).map_err(ApiError::BadRequest)?,
        None => detach::DEFAULT.to_vec(),
    };
    let rec = c.snapshot();
    d.container_event(&rec, "attach", &[]);
    let tty = rec.config.tty;
    // Subscribe before answering, so output produced right after `start` is never missed.
    let mut output = c.output.subscribe();
    let finished = !rec.state.running && rec.state.status == "exited";
    // Input sent before the container starts waits for it; input after this run has ended
    // is dropped.
    let exits_seen = c.lifecycle.borrow().exits;

    let frame = move |o: &Output| -> Option<Vec<u8>> {
        match o {
            Output::Stdout(b) if want_stdout => Some(if tty {
                b.to_vec()
            } else {
                stream::encode(stream::STDOUT, b)
            }),
            Output::Stderr(b) if want_stderr => Some(if tty {
                b.to_vec()
            } else {
                stream::encode(stream::STDERR, b)
            }),
            _ => None,
        }
    };

    let upgrade = req.headers().get(hyper::header::UPGRADE).is_some();
    if !upgrade {
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
        if !finished {
            tokio::spawn(async move {
                loop {
                    match output.recv().await {
                        Ok(Output::Closed)
                        | Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                        Ok(o) => {
                            if let Some(b) = frame(&o) {
                                if tx.send(Bytes::from(b)).await.is_err() {
                                    break;
                                }
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    }
                }
            });
        }
        return streaming("application/vnd.docker.raw-stream", rx);
    }

    let on_upgrade = hyper::upgrade::on(&mut req);
    let container = c.clone();
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!("attach upgrade failed: {e}");
                return;
            }
        };
        let io = TokioIo::new(upgraded);
        let (mut rd, mut wr) = tokio::io::split(io);
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
                Ok(Output::Closed) | Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                Ok(o) => {
                    if let Some(b) = frame(&o) {
                        if wr.write_all(&b).await.is_err() {
                            break;
                        }
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            }
        }
        let _ = wr.flush().await;
        let _ = wr.shutdown().await;
        if let Some(t) = stdin_task {
            t.abort();
        }
    });
    Ok(upgraded_response())
}
