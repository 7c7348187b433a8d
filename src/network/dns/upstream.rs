//! Forwarding a query the name table cannot answer to the upstream servers, from the
//! daemon's own network namespace (the tokio workers never leave it), so the host's
//! servers, loopback ones included, are reached as the host reaches them. UDP first and TCP
//! when the answer came truncated, or TCP only when the client asked over TCP. Each server
//! gets [`TIMEOUT`]; one that fails, or answers SERVFAIL or REFUSED, passes the query to the
//! next, as Docker does. The reply is relayed as it came, under the client's id.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::message::{set_id, Header, Rcode};

/// How long one upstream server has to answer (Docker: 4 s).
pub const TIMEOUT: Duration = Duration::from_secs(4);
/// How many upstream servers are tried for one query (Docker: 3, like glibc's MAXNS).
pub const MAX_SERVERS: usize = 3;

/// Ask the servers in turn; `None` when none gave a usable answer (the caller says SERVFAIL).
pub async fn forward(servers: &[SocketAddr], query: &[u8], over_tcp: bool) -> Option<Vec<u8>> {
    let client_id = Header::parse(query).ok()?.id;
    for server in servers.iter().take(MAX_SERVERS) {
        // A fresh id per exchange: an off-path forger must guess it, and the port.
        let id: u16 = rand::random();
        let mut q = query.to_vec();
        set_id(&mut q, id);
        let reply = tokio::time::timeout(TIMEOUT, exchange(*server, &q, id, over_tcp)).await;
        let mut reply = match reply {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::debug!("dns: upstream {server} failed: {e}");
                continue;
            }
            Err(_) => {
                tracing::debug!("dns: upstream {server} did not answer in {TIMEOUT:?}");
                continue;
            }
        };
        match Header::parse(&reply).map(|h| h.rcode) {
            Ok(Rcode::ServFail) | Ok(Rcode::Refused) | Err(_) => continue,
            Ok(_) => {}
        }
        set_id(&mut reply, client_id);
        return Some(reply);
    }
    None
}

async fn exchange(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    over_tcp: bool,
) -> std::io::Result<Vec<u8>> {
    if over_tcp {
        return tcp_exchange(server, query).await;
    }
    let reply = udp_exchange(server, query, id).await?;
    if Header::parse(&reply).is_ok_and(|h| h.truncated) {
        // The whole answer, then; if TCP fails, the truncated one still says something.
        return Ok(tcp_exchange(server, query).await.unwrap_or(reply));
    }
    Ok(reply)
}

async fn udp_exchange(server: SocketAddr, query: &[u8], id: u16) -> std::io::Result<Vec<u8>> {
    let local: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("a literal address")
    } else {
        "[::]:0".parse().expect("a literal address")
    };
    let sock = UdpSocket::bind(local).await?;
    // Connected: the kernel drops datagrams from anyone else, and a closed port shows up as
    // ECONNREFUSED at once instead of a timeout.
    sock.connect(server).await?;
    sock.send(query).await?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = sock.recv(&mut buf).await?;
        match Header::parse(&buf[..n]) {
            Ok(h) if h.response && h.id == id => {
                buf.truncate(n);
                return Ok(buf);
            }
            _ => continue,
        }
    }
}

async fn tcp_exchange(server: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(server).await?;
    write_framed(&mut stream, query).await?;
    read_framed(&mut stream).await
}

/// DNS over TCP: each message after its length, two bytes big-endian.
pub async fn read_framed<R: AsyncReadExt + Unpin>(r: &mut R) -> std::io::Result<Vec<u8>> {
    let len = usize::from(r.read_u16().await?);
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).await?;
    Ok(buf)
}

pub async fn write_framed<W: AsyncWriteExt + Unpin>(w: &mut W, msg: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(msg.len()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "a DNS message over 64 KiB",
        )
    })?;
    let mut framed = Vec::with_capacity(msg.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(msg);
    w.write_all(&framed).await?;
    w.flush().await
}
