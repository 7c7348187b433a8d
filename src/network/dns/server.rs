//! One resolver per container: UDP and TCP sockets on 127.0.0.11 at random ports, bound from
//! a thread that joined the container's network namespace (a socket stays in the namespace
//! it was made in, wherever it is used from), the NAT rules that send the container's port
//! 53 there, and tokio tasks that serve the sockets from the daemon's runtime. Local answers
//! are sent at once; forwarded queries run on tasks of their own, at most [`MAX_FORWARDS`] at
//! a time (beyond that, REFUSED), so a flood costs bounded memory.

use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nix::sched::{setns, CloneFlags};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::answer::{decide, Decision};
use super::message::{Header, Message, Rcode, UDP_MIN_SIZE};
use super::nat::{plan_fresh, plan_repair};
use super::resolv::EMBEDDED_DNS;
use super::table::NameTable;
use super::upstream::{forward, read_framed, write_framed};
use super::DnsError;

/// Forwarded queries in flight per container (Docker: 1024).
pub const MAX_FORWARDS: usize = 1024;
/// TCP clients served at once per container; more are closed at once.
pub const MAX_TCP_CLIENTS: usize = 128;
/// A TCP client that sends nothing for this long is closed.
const TCP_IDLE: Duration = Duration::from_secs(10);
const TCP_MAX_REPLY: usize = 65535;

/// The embedded DNS server of one container. Dropping it (or [`Resolver::stop`]) ends its
/// tasks and closes its sockets; the NAT rules stay in the namespace, which goes with the
/// container (a later `start` repoints them).
#[derive(Debug)]
pub struct Resolver {
    container: String,
    udp_addr: SocketAddr,
    tcp_addr: SocketAddr,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

struct Ctx {
    asker: String,
    table: Arc<NameTable>,
    upstream: Vec<SocketAddr>,
    forwards: Arc<Semaphore>,
}

impl Resolver {
    /// Bind UDP and TCP sockets on 127.0.0.11:0 inside the namespace pinned at `netns` (its
    /// `lo` must be up), point the namespace's port 53 at them, and serve: names from
    /// `table` as container `container` sees them, the rest forwarded to `upstream`.
    /// Idempotent per namespace: starting again (after a daemon restart) repoints the rules.
    pub async fn start(
        container: &str,
        netns: &Path,
        table: Arc<NameTable>,
        upstream: Vec<SocketAddr>,
    ) -> Result<Resolver, DnsError> {
        let (udp, tcp) = bind_in_netns(netns).await?;
        let socket_err = |source| DnsError::Socket {
            netns: netns.to_path_buf(),
            source,
        };
        let udp = UdpSocket::from_std(udp).map_err(socket_err)?;
        let tcp = TcpListener::from_std(tcp).map_err(socket_err)?;
        let udp_addr = udp.local_addr().map_err(socket_err)?;
        let tcp_addr = tcp.local_addr().map_err(socket_err)?;
        let ctx = Arc::new(Ctx {
            asker: container.to_string(),
            table,
            upstream,
            forwards: Arc::new(Semaphore::new(MAX_FORWARDS)),
        });
        let cancel = CancellationToken::new();
        let tasks = vec![
            tokio::spawn(serve_udp(ctx.clone(), Arc::new(udp), cancel.clone())),
            tokio::spawn(serve_tcp(ctx, tcp, cancel.clone())),
        ];
        tracing::debug!(
            "dns: resolver for {container} on udp {udp_addr}, tcp {tcp_addr} in {}",
            netns.display()
        );
        Ok(Resolver {
            container: container.to_string(),
            udp_addr,
            tcp_addr,
            cancel,
            tasks,
        })
    }

    pub fn container(&self) -> &str {
        &self.container
    }

    /// The UDP socket's address inside the namespace (127.0.0.11:<random port>).
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp_addr
    }

    /// The TCP listener's address inside the namespace.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// End the tasks and wait until every socket is closed.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        self.cancel.cancel();
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// On a thread of its own (namespaces are per thread, and a tokio worker must never
/// switch): join the namespace, bind, install the rules, hand the sockets back.
async fn bind_in_netns(
    netns: &Path,
) -> Result<(std::net::UdpSocket, std::net::TcpListener), DnsError> {
    let path = netns.to_path_buf();
    let file = File::open(netns).map_err(|source| DnsError::OpenNetns {
        path: path.clone(),
        source,
    })?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let thread_path = path.clone();
    std::thread::Builder::new()
        .name("berth-dns-bind".into())
        .spawn(move || {
            let _ = tx.send(bind_and_route(&file, &thread_path));
        })
        .map_err(|source| DnsError::Socket {
            netns: path.clone(),
            source,
        })?;
    rx.await.map_err(|_| DnsError::Thread { netns: path })?
}

fn bind_and_route(
    ns: &File,
    path: &Path,
) -> Result<(std::net::UdpSocket, std::net::TcpListener), DnsError> {
    setns(ns, CloneFlags::CLONE_NEWNET).map_err(|source| DnsError::JoinNetns {
        path: path.to_path_buf(),
        source,
    })?;
    let bind_err = |proto| {
        move |source| DnsError::Bind {
            proto,
            netns: path.to_path_buf(),
            source,
        }
    };
    let udp = std::net::UdpSocket::bind((EMBEDDED_DNS, 0)).map_err(bind_err("UDP"))?;
    let tcp = std::net::TcpListener::bind((EMBEDDED_DNS, 0)).map_err(bind_err("TCP"))?;
    udp.set_nonblocking(true).map_err(bind_err("UDP"))?;
    tcp.set_nonblocking(true).map_err(bind_err("TCP"))?;
    let udp_port = udp.local_addr().map_err(bind_err("UDP"))?.port();
    let tcp_port = tcp.local_addr().map_err(bind_err("TCP"))?.port();
    install_rules(path, udp_port, tcp_port)?;
    Ok((udp, tcp))
}

/// One `iptables-restore` for a fresh namespace; when berth's chains are there already (a
/// restart), read the table and write a repair, so the rules end up pointing at the new
/// ports with nothing duplicated, then forget the flows the old rules NATed. Runs on the thread that joined the namespace, so the
/// commands it spawns are in it too.
fn install_rules(netns: &Path, udp_port: u16, tcp_port: u16) -> Result<(), DnsError> {
    let restore = ["-w", "--noflush"];
    match run(
        netns,
        "iptables-restore",
        &restore,
        &plan_fresh(udp_port, tcp_port),
    ) {
        Ok(_) => return Ok(()),
        Err(DnsError::Rules { .. }) => {}
        Err(e) => return Err(e),
    }
    let save = run(netns, "iptables-save", &["-t", "nat"], "")?;
    run(
        netns,
        "iptables-restore",
        &restore,
        &plan_repair(&save, udp_port, tcp_port),
    )?;
    // Flows NATed by the old rules keep their old destination (see conntrack.rs).
    super::conntrack::flush_ipv4().map_err(|source| DnsError::Conntrack {
        netns: netns.to_path_buf(),
        source,
    })
}

fn run(netns: &Path, cmd: &str, args: &[&str], stdin: &str) -> Result<String, DnsError> {
    use std::io::Write;
    let spawn_err = |source| DnsError::Spawn {
        cmd: cmd.to_string(),
        netns: netns.to_path_buf(),
        source,
    };
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    let mut input = child.stdin.take().expect("stdin was piped");
    input.write_all(stdin.as_bytes()).map_err(spawn_err)?;
    drop(input);
    let out = child.wait_with_output().map_err(spawn_err)?;
    if !out.status.success() {
        return Err(DnsError::Rules {
            cmd: format!("{cmd} {}", args.join(" ")),
            netns: netns.to_path_buf(),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What to do with one message from a client.
enum Plan {
    Send(Vec<u8>),
    Forward(Message, OwnedSemaphorePermit),
    Nothing,
}

/// Encode within `limit`; a message whose question cannot be written again (it always can,
/// since it was read) falls back to the bare header.
fn encode(m: &Message, limit: usize) -> Vec<u8> {
    m.encode_within(limit).unwrap_or_else(|_| {
        let bare = Message {
            questions: vec![],
            ..Message::reply(m, m.header.rcode)
        };
        bare.encode().unwrap_or_default()
    })
}

fn plan(ctx: &Ctx, raw: &[u8], tcp: bool) -> Plan {
    let query = match Message::parse(raw) {
        Ok(q) => q,
        // Unreadable past the header: FORMERR if it was a query at all.
        Err(_) => {
            return match Header::parse(raw) {
                Ok(h) if !h.response => Plan::Send(encode(&formerr(h), UDP_MIN_SIZE)),
                _ => Plan::Nothing,
            }
        }
    };
    let limit = if tcp {
        TCP_MAX_REPLY
    } else {
        udp_limit(&query)
    };
    match decide(&ctx.table, &ctx.asker, &query) {
        Decision::Reply(m) => Plan::Send(encode(&m, limit)),
        Decision::Ignore => Plan::Nothing,
        Decision::Forward => match ctx.forwards.clone().try_acquire_owned() {
            Ok(permit) => Plan::Forward(query, permit),
            Err(_) => Plan::Send(encode(&Message::reply(&query, Rcode::Refused), limit)),
        },
    }
}

/// The upstream's reply, or SERVFAIL when none came; an answer too big for the client's UDP
/// size becomes an empty one with TC set, so the client asks again over TCP.
async fn forwarded(ctx: &Ctx, query: &Message, raw: &[u8], tcp: bool, limit: usize) -> Vec<u8> {
    match forward(&ctx.upstream, raw, tcp).await {
        Some(reply) if reply.len() <= limit => reply,
        Some(reply) => {
            let rcode = Header::parse(&reply).map_or(Rcode::NoError, |h| h.rcode);
            let mut m = Message::reply(query, rcode);
            m.header.truncated = true;
            encode(&m, limit)
        }
        None => encode(&Message::reply(query, Rcode::ServFail), limit),
    }
}

/// A reply to a message that could not be read: its id and opcode, no question.
fn formerr(h: Header) -> Message {
    let unreadable = Message {
        header: h,
        questions: vec![],
        answers: vec![],
        authorities: vec![],
        additionals: vec![],
    };
    Message::reply(&unreadable, Rcode::FormErr)
}

fn udp_limit(query: &Message) -> usize {
    query.edns_udp_size().unwrap_or(UDP_MIN_SIZE)
}

async fn serve_udp(ctx: Arc<Ctx>, sock: Arc<UdpSocket>, cancel: CancellationToken) {
    let mut forwards = JoinSet::new();
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, from) = tokio::select! {
            _ = cancel.cancelled() => break,
            Some(_) = forwards.join_next(), if !forwards.is_empty() => continue,
            got = sock.recv_from(&mut buf) => match got {
                Ok(got) => got,
                Err(e) => {
                    // ICMP errors from a client that went away surface here; keep serving.
                    tracing::debug!("dns: udp receive for {}: {e}", ctx.asker);
                    continue;
                }
            },
        };
        let raw = &buf[..n];
        match plan(&ctx, raw, false) {
            Plan::Send(reply) => {
                let _ = sock.send_to(&reply, from).await;
            }
            Plan::Nothing => {}
            Plan::Forward(query, permit) => {
                let (ctx, sock, raw) = (ctx.clone(), sock.clone(), raw.to_vec());
                forwards.spawn(async move {
                    let reply = forwarded(&ctx, &query, &raw, false, udp_limit(&query)).await;
                    let _ = sock.send_to(&reply, from).await;
                    drop(permit);
                });
            }
        }
    }
    forwards.shutdown().await;
}

async fn serve_tcp(ctx: Arc<Ctx>, listener: TcpListener, cancel: CancellationToken) {
    let clients = Arc::new(Semaphore::new(MAX_TCP_CLIENTS));
    let mut conns = JoinSet::new();
    loop {
        let stream = tokio::select! {
            _ = cancel.cancelled() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            got = listener.accept() => match got {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::debug!("dns: tcp accept for {}: {e}", ctx.asker);
                    // EMFILE and the like: do not spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = clients.clone().try_acquire_owned() else {
            continue; // dropped: closed
        };
        let ctx = ctx.clone();
        conns.spawn(async move {
            serve_tcp_client(&ctx, stream).await;
            drop(permit);
        });
    }
    conns.shutdown().await;
}

/// Queries one after the other on one connection, until the client closes or idles.
async fn serve_tcp_client(ctx: &Ctx, mut stream: TcpStream) {
    loop {
        let raw = match tokio::time::timeout(TCP_IDLE, read_framed(&mut stream)).await {
            Ok(Ok(raw)) => raw,
            _ => return,
        };
        let reply = match plan(ctx, &raw, true) {
            Plan::Send(reply) => reply,
            Plan::Nothing => continue,
            Plan::Forward(query, permit) => {
                let reply = forwarded(ctx, &query, &raw, true, TCP_MAX_REPLY).await;
                drop(permit);
                reply
            }
        };
        if write_framed(&mut stream, &reply).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::message::TYPE_A;
    use super::*;

    fn ctx(forwards: usize) -> Ctx {
        let table = NameTable::new();
        table.add(
            "n",
            "me",
            vec!["me".into()],
            std::net::Ipv4Addr::new(10, 0, 0, 2),
        );
        Ctx {
            asker: "me".into(),
            table: Arc::new(table),
            upstream: vec![],
            forwards: Arc::new(Semaphore::new(forwards)),
        }
    }

    fn sent(p: Plan) -> Message {
        match p {
            Plan::Send(bytes) => Message::parse(&bytes).unwrap(),
            _ => panic!("expected a reply"),
        }
    }

    #[test]
    fn garbage_after_a_query_header_is_formerr_and_responses_get_nothing() {
        let mut raw = Message::query(77, "me", TYPE_A).encode().unwrap();
        raw.truncate(15);
        let r = sent(plan(&ctx(1), &raw, false));
        assert_eq!((r.header.id, r.header.rcode), (77, Rcode::FormErr));
        raw[2] |= 0x80;
        assert!(matches!(plan(&ctx(1), &raw, false), Plan::Nothing));
        assert!(matches!(plan(&ctx(1), &[1, 2, 3], false), Plan::Nothing));
    }

    #[test]
    fn forwards_beyond_the_cap_are_refused() {
        let c = ctx(1);
        let raw = Message::query(1, "elsewhere", TYPE_A).encode().unwrap();
        let held = match plan(&c, &raw, false) {
            Plan::Forward(_, permit) => permit,
            _ => panic!("expected a forward"),
        };
        assert_eq!(sent(plan(&c, &raw, false)).header.rcode, Rcode::Refused);
        drop(held);
        assert!(matches!(plan(&c, &raw, false), Plan::Forward(..)));
        assert_eq!(
            sent(plan(
                &c,
                &Message::query(2, "me", TYPE_A).encode().unwrap(),
                false
            ))
            .answers
            .len(),
            1
        );
    }

    #[tokio::test]
    async fn no_upstream_at_all_is_servfail() {
        let q = Message::query(3, "elsewhere", TYPE_A);
        let raw = q.encode().unwrap();
        let reply = forwarded(&ctx(1), &q, &raw, false, UDP_MIN_SIZE).await;
        let r = Message::parse(&reply).unwrap();
        assert_eq!((r.header.id, r.header.rcode), (3, Rcode::ServFail));
    }
}
