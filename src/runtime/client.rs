//! The daemon's side of a shim: spawn it, learn whether the container was created, connect to
//! its socket, say START, and then read its events. Async (tokio), because it lives in the
//! daemon; the shim itself stays synchronous.

use super::protocol::{self, FrameBuffer};
use super::spec::{ExitStatus, ShimSpec};
use bytes::Bytes;
use std::path::Path;
use std::time::Duration;
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

#[derive(Debug, Error)]
pub enum RuntimeError {
    /// The container could not be created; `exit_code` is docker's (125, 126 or 127).
    #[error("{message}")]
    Create { message: String, exit_code: i32 },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("the shim misbehaved: {0}")]
    Protocol(String),
}

impl RuntimeError {
    pub fn exit_code(&self) -> i32 {
        match self {
            RuntimeError::Create { exit_code, .. } => *exit_code,
            _ => 125,
        }
    }
}

fn io_ctx(context: &str) -> impl FnOnce(std::io::Error) -> RuntimeError + '_ {
    move |source| RuntimeError::Io {
        context: context.to_string(),
        source,
    }
}

#[derive(Debug, Clone)]
pub struct StartError {
    pub message: String,
    pub exit_code: i32,
}

#[derive(Debug)]
pub enum ShimEvent {
    Stdout(Bytes),
    Stderr(Bytes),
    Exited(ExitStatus),
}

pub struct Shim {
    pid: i32,
    stream: UnixStream,
}

pub struct ShimEvents {
    rd: OwnedReadHalf,
    buf: FrameBuffer,
}

pub struct ShimStdin {
    wr: OwnedWriteHalf,
}

#[derive(serde::Deserialize)]
struct CreateReport {
    pid: Option<i32>,
    message: Option<String>,
    exit_code: Option<i32>,
}

/// Spawn `berth shim` for `spec` and wait until the container's init is set up and waiting.
pub async fn create(berth_exe: &Path, spec: &ShimSpec) -> Result<Shim, RuntimeError> {
    std::fs::create_dir_all(&spec.state_dir).map_err(io_ctx("creating the shim's directory"))?;
    crate::util::fsutil::write_json_replace(&spec.state_dir.join("spec.json"), spec)
        .map_err(io_ctx("writing spec.json"))?;
    let log = std::fs::File::create(spec.state_dir.join("shim.log"))
        .map_err(io_ctx("creating shim.log"))?;
    let mut child = tokio::process::Command::new(berth_exe)
        .arg("shim")
        .arg(&spec.state_dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(io_ctx("starting the shim"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    let read = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::io::BufReader::new(stdout).read_line(&mut line),
    )
    .await;
    // The first shim process forks and exits at once; reap it.
    let _ = child.wait().await;
    match read {
        Err(_) => {
            return Err(RuntimeError::Protocol(
                "the shim did not report within 60s".into(),
            ))
        }
        Ok(Err(e)) => return Err(io_ctx("reading the shim's report")(e)),
        Ok(Ok(_)) => {}
    }
    if line.trim().is_empty() {
        let log = std::fs::read_to_string(spec.state_dir.join("shim.log")).unwrap_or_default();
        return Err(RuntimeError::Protocol(format!(
            "the shim exited without a report: {}",
            log.trim()
        )));
    }
    let report: CreateReport = serde_json::from_str(line.trim())
        .map_err(|e| RuntimeError::Protocol(format!("bad report {line:?}: {e}")))?;
    let pid = match report {
        CreateReport { pid: Some(pid), .. } => pid,
        CreateReport {
            message, exit_code, ..
        } => {
            return Err(RuntimeError::Create {
                message: message.unwrap_or_else(|| "container creation failed".into()),
                exit_code: exit_code.unwrap_or(125),
            })
        }
    };
    let stream = connect(&spec.state_dir).await.map_err(|e| {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        io_ctx("connecting to the shim")(e)
    })?;
    Ok(Shim { pid, stream })
}

impl Shim {
    /// The container's init, as a pid in the host's pid namespace.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Let init exec the user's program; an exec failure comes back with docker's exit code.
    pub async fn start(&mut self) -> Result<(), StartError> {
        let fail = |m: String| StartError {
            message: m,
            exit_code: 125,
        };
        self.stream
            .write_all(&protocol::encode(protocol::START, &[]))
            .await
            .map_err(|e| fail(format!("telling the shim to start: {e}")))?;
        let mut head = [0u8; 5];
        self.stream
            .read_exact(&mut head)
            .await
            .map_err(|e| fail(format!("the shim went away during start: {e}")))?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if len > protocol::MAX_FRAME {
            return Err(fail("the shim sent a corrupt frame".into()));
        }
        let mut payload = vec![0u8; len];
        self.stream
            .read_exact(&mut payload)
            .await
            .map_err(|e| fail(format!("reading the shim: {e}")))?;
        match head[0] {
            protocol::STARTED => Ok(()),
            protocol::START_FAILED => {
                let err: super::init::InitError = serde_json::from_slice(&payload)
                    .map_err(|e| fail(format!("bad start report from the shim: {e}")))?;
                Err(StartError {
                    message: err.message,
                    exit_code: err.exit_code,
                })
            }
            k => Err(fail(format!("unexpected frame {k} from the shim"))),
        }
    }

    pub fn split(self) -> (ShimEvents, ShimStdin) {
        let (rd, wr) = self.stream.into_split();
        (
            ShimEvents {
                rd,
                buf: FrameBuffer::default(),
            },
            ShimStdin { wr },
        )
    }
}

impl ShimEvents {
    /// The next event; None when the shim has gone (read `exit.json` then).
    pub async fn next(&mut self) -> Option<ShimEvent> {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match self.buf.next_frame() {
                Ok(Some((kind, payload))) => match kind {
                    protocol::STDOUT => return Some(ShimEvent::Stdout(Bytes::from(payload))),
                    protocol::STDERR => return Some(ShimEvent::Stderr(Bytes::from(payload))),
                    protocol::EXITED => {
                        return serde_json::from_slice(&payload).ok().map(ShimEvent::Exited)
                    }
                    _ => continue,
                },
                Ok(None) => {}
                Err(_) => return None,
            }
            match self.rd.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.push(&chunk[..n]),
            }
        }
    }
}

impl ShimStdin {
    pub async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.wr
            .write_all(&protocol::encode(protocol::STDIN, data))
            .await
    }

    /// Resize the container's terminal (ignored by the shim when it has none).
    pub async fn resize(&mut self, rows: u16, cols: u16) -> std::io::Result<()> {
        let mut size = rows.to_be_bytes().to_vec();
        size.extend_from_slice(&cols.to_be_bytes());
        self.wr
            .write_all(&protocol::encode(protocol::RESIZE, &size))
            .await
    }

    pub async fn close(&mut self) -> std::io::Result<()> {
        self.wr
            .write_all(&protocol::encode(protocol::CLOSE_STDIN, &[]))
            .await
    }
}

/// Connect to `<state_dir>/shim.sock` through `/proc/self/fd/N/`, which keeps the address
/// short however deep the state dir is (a unix socket address holds at most 108 bytes).
async fn connect(state_dir: &Path) -> std::io::Result<UnixStream> {
    use std::os::fd::AsRawFd;
    let dir = std::fs::File::open(state_dir)?;
    let path = format!("/proc/self/fd/{}/shim.sock", dir.as_raw_fd());
    let stream = UnixStream::connect(&path).await;
    drop(dir);
    stream
}

/// Reconnect to a shim that outlived the daemon that started it.
pub async fn reconnect(state_dir: &Path) -> std::io::Result<(ShimEvents, ShimStdin)> {
    let stream = connect(state_dir).await?;
    let (rd, wr) = stream.into_split();
    Ok((
        ShimEvents {
            rd,
            buf: FrameBuffer::default(),
        },
        ShimStdin { wr },
    ))
}

/// Whether the shim recorded in `<state_dir>/pid` still runs (and is a berth shim for this
/// state dir, not a process that reused its pid).
pub fn shim_alive(state_dir: &Path) -> bool {
    let Some(pid) = std::fs::read_to_string(state_dir.join("pid"))
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
    else {
        return false;
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    args.get(1) == Some(&&b"shim"[..])
        && args
            .get(2)
            .is_some_and(|a| Path::new(std::str::from_utf8(a).unwrap_or("")) == state_dir)
}

/// The exit status the shim recorded, if it has.
pub fn read_exit(state_dir: &Path) -> Option<ExitStatus> {
    let data = std::fs::read(state_dir.join("exit.json")).ok()?;
    serde_json::from_slice(&data).ok()
}
