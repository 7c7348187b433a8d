//! An attached session, shared by `run`, `start -a`, `attach` and `exec`: the hijacked
//! connection joined to this terminal. Our stdin goes up the connection (then a half-close),
//! the container's output comes down (demultiplexed, or raw with a TTY), and with a TTY our
//! terminal is in raw mode and its size follows ours (`resize` on SIGWINCH).

use crate::api::client::Client;
use crate::wire::stream;
use nix::sys::termios::{self, SetArg, Termios};
use std::os::fd::AsFd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What a session joins.
pub struct Session<'a> {
    pub client: &'a Client,
    /// Send our stdin.
    pub stdin: bool,
    /// The container (or exec) has a terminal: its output is raw, and it can be resized.
    pub tty: bool,
    /// `/containers/{id}/resize` or `/exec/{id}/resize`.
    pub resize_path: String,
}

/// Docker's refusal of `-it` when our stdin is not a terminal.
pub fn check_terminal(tty: bool, stdin: bool) -> Result<(), String> {
    if tty && stdin && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err("the input device is not a TTY".into());
    }
    Ok(())
}

/// Our terminal in raw mode for as long as this lives: keys go to the container as typed
/// (ctrl-c included), and its terminal does the echoing and line editing.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// None when stdin is not a terminal.
    pub fn enable() -> Option<RawMode> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

impl Session<'_> {
    /// Raw mode for an interactive terminal session; taken before the container starts, so
    /// that nothing typed early is echoed or swallowed (ctrl-q) by our own terminal.
    pub fn raw_mode(&self) -> Option<RawMode> {
        (self.tty && self.stdin).then(RawMode::enable).flatten()
    }

    /// Run the session until the output ends (the process exited, or we detached).
    pub async fn pump<C>(&self, conn: C) -> std::io::Result<()>
    where
        C: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (mut rd, mut wr) = tokio::io::split(conn);
        let stdin_task = if self.stdin {
            Some(tokio::spawn(async move {
                let mut input = tokio::io::stdin();
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match input.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if wr.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = wr.shutdown().await;
            }))
        } else {
            let _ = wr.shutdown().await;
            None
        };
        let result = if self.tty {
            tokio::select! {
                r = copy_output(&mut rd, true) => r,
                _ = follow_size(self.client, &self.resize_path) => Ok(()),
            }
        } else {
            copy_output(&mut rd, false).await
        };
        if let Some(t) = stdin_task {
            t.abort();
        }
        result
    }
}

/// Keep the remote terminal the size of ours: once now, then at every SIGWINCH. Never ends
/// (unless signals cannot be had, then it waits forever, harmlessly).
async fn follow_size(client: &Client, path: &str) {
    let mut winch =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok();
    loop {
        let size =
            crate::runtime::console::get_size(1).or_else(|| crate::runtime::console::get_size(0));
        if let Some((h, w)) = size.filter(|(h, w)| *h > 0 && *w > 0) {
            let _ = client.post_empty(&format!("{path}?h={h}&w={w}")).await;
        }
        match winch.as_mut() {
            Some(s) => {
                if s.recv().await.is_none() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending::<()>().await,
        }
    }
}

/// Our terminal's size as the API's `ConsoleSize` (`[rows, columns]`), when we have one.
pub fn console_size() -> Option<[u16; 2]> {
    let (h, w) =
        crate::runtime::console::get_size(1).or_else(|| crate::runtime::console::get_size(0))?;
    (h > 0 && w > 0).then_some([h, w])
}

/// Copy a hijacked stream to stdout and stderr, demultiplexing frames unless it is a TTY.
pub async fn copy_output<R: AsyncRead + Unpin>(rd: &mut R, tty: bool) -> std::io::Result<()> {
    let mut out = tokio::io::stdout();
    let mut err = tokio::io::stderr();
    let mut dec = stream::Decoder::default();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = rd.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        if tty {
            out.write_all(&buf[..n]).await?;
            out.flush().await?;
            continue;
        }
        dec.push(&buf[..n]);
        while let Some((s, payload)) = dec.next_frame() {
            if s == stream::STDERR {
                err.write_all(&payload).await?;
                err.flush().await?;
            } else {
                out.write_all(&payload).await?;
                out.flush().await?;
            }
        }
    }
    Ok(())
}
