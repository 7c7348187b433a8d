//! The hijacked connection of attach and exec start: after `101 UPGRADED` the HTTP connection
//! carries a process's stdio both ways. Two rules are Docker's contract rather than HTTP's.
//! The Content-Type says how the output comes: `application/vnd.docker.multiplexed-stream`
//! (8-byte frame headers naming stdout or stderr) from API 1.42 on when it is framed,
//! `application/vnd.docker.raw-stream` otherwise. And no byte of the stream may reach the
//! client before it has read the response head: docker-py (through Python's http.client)
//! reads the head through a buffer, then reads the stream from the raw socket, so output sent
//! along with the head would be lost in that buffer. Docker leaves this to the time its
//! runtime takes to start a process; berth waits until the socket's send queue is empty.

use super::{base, empty, Body};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::UnixStream;

pub(super) const RAW: &str = "application/vnd.docker.raw-stream";
pub(super) const MULTIPLEXED: &str = "application/vnd.docker.multiplexed-stream";

/// The media type of an upgraded attach or exec stream, or of a logs body: multiplexed when
/// the output is framed and the client speaks API 1.42 or later, raw otherwise (Docker 20.10,
/// at 1.41, always said raw).
pub(super) fn media_type(framed: bool, version: (u32, u32)) -> &'static str {
    if framed && version >= (1, 42) {
        MULTIPLEXED
    } else {
        RAW
    }
}

/// `101 UPGRADED`: from here on the connection is a raw stream both ways.
pub(super) fn upgraded_response(content_type: &'static str) -> Response<Body> {
    let mut resp = base(StatusCode::SWITCHING_PROTOCOLS).body(empty()).unwrap();
    let h = resp.headers_mut();
    h.remove("Api-Version");
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        hyper::header::CONNECTION,
        HeaderValue::from_static("Upgrade"),
    );
    h.insert(hyper::header::UPGRADE, HeaderValue::from_static("tcp"));
    resp
}

pub(super) type Reader = Box<dyn AsyncRead + Send + Unpin>;
pub(super) type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// The two directions of a hijacked connection, once the client has read the response head.
/// The reader starts with whatever the client sent right behind its request.
pub(super) async fn take(on_upgrade: OnUpgrade) -> hyper::Result<(Reader, Writer)> {
    let upgraded: Upgraded = on_upgrade.await?;
    match upgraded.downcast::<TokioIo<UnixStream>>() {
        Ok(parts) => {
            let sock = parts.io.into_inner();
            head_read(&sock).await;
            let (rd, wr) = sock.into_split();
            let early = std::io::Cursor::new(parts.read_buf);
            Ok((Box::new(early.chain(rd)), Box::new(wr)))
        }
        // Not our unix socket (never, today): no queue to watch, the stream as it is.
        Err(upgraded) => {
            let (rd, wr) = tokio::io::split(TokioIo::new(upgraded));
            Ok((Box::new(rd), Box::new(wr)))
        }
    }
}

/// How long a client may take to read the response head before the stream starts anyway.
const HEAD_READ_LIMIT: Duration = Duration::from_secs(2);

/// Wait until the peer has read everything sent so far (the response head), or the limit.
async fn head_read(sock: &UnixStream) {
    let start = Instant::now();
    while unread_bytes(sock).is_some_and(|n| n > 0) && start.elapsed() < HEAD_READ_LIMIT {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Bytes written to a unix stream socket that its peer has not read yet (`SIOCOUTQ`).
fn unread_bytes(sock: &UnixStream) -> Option<i32> {
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one int through the pointer, which points at `n`;
    // the fd is the socket `sock` owns, open for the whole call.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    (rc == 0).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framed_output_is_announced_from_api_1_42() {
        assert_eq!(media_type(true, (1, 41)), RAW);
        assert_eq!(media_type(true, (1, 42)), MULTIPLEXED);
        assert_eq!(media_type(false, (1, 50)), RAW);
    }

    #[tokio::test]
    async fn the_send_queue_empties_when_the_peer_reads() {
        use tokio::io::AsyncWriteExt;
        let (mut a, mut b) = UnixStream::pair().unwrap();
        a.write_all(b"HTTP/1.1 101 UPGRADED\r\n\r\n").await.unwrap();
        assert!(unread_bytes(&a).unwrap() > 0);
        let mut buf = [0u8; 64];
        let n = b.read(&mut buf).await.unwrap();
        assert_eq!(n, 25);
        assert_eq!(unread_bytes(&a), Some(0));
        // And the wait returns at once.
        let t = Instant::now();
        head_read(&a).await;
        assert!(t.elapsed() < Duration::from_millis(500));
    }
}
