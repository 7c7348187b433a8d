//! The embedded DNS server on the real kernel: a throwaway network namespace of the test's
//! own (`ip netns add`, lo up), a fake upstream resolver of the test's own on 127.0.0.1 in
//! the host namespace, and `Resolver::start` between them. Queries are sent from inside the
//! namespace to 127.0.0.11:53, as a container's libc would. Traffic stays on loopback: the
//! resolver's only upstream is the fake one, and no real resolver is ever asked. The
//! namespace (and with it the NAT rules inside) is deleted on the way out, panics included.

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth::network::dns::message::{Message, RData, Rcode, Record, TYPE_A, TYPE_AAAA, TYPE_PTR};
use berth::network::dns::{NameTable, Resolver};

const WEB1: &str = "aaaa00000001000000000000000000000000000000000000000000000000beef";
const WEB2: &str = "aaaa00000002000000000000000000000000000000000000000000000000beef";
const CLIENT: &str = "cccc00000003000000000000000000000000000000000000000000000000beef";
const LONER: &str = "dddd00000004000000000000000000000000000000000000000000000000beef";

/// The one name the fake upstream knows, and its (never contacted) address.
const KNOWN: &str = "known.upstream.test";
const KNOWN_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
/// A name whose UDP answer comes truncated from the fake upstream and whole over TCP.
const BIG: &str = "big.upstream.test";
const BIG_COUNT: u8 = 20;

fn skip_reason() -> Option<String> {
    if !common::is_root() {
        return Some("needs root (run `sudo just e2e`, or `just vm-e2e`)".into());
    }
    for (tool, probe) in [("ip", "-V"), ("iptables-restore", "--version")] {
        let ok = Command::new(tool)
            .arg(probe)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            return Some(format!("needs {tool}, which is not installed"));
        }
    }
    None
}

/// A network namespace of the test's own, deleted on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn create() -> Netns {
        let name = format!("bdns{:08x}", rand::random::<u32>());
        let ns = Netns { name };
        ip(&["netns", "add", &ns.name]);
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    fn nat_rules(&self) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "iptables-save", "-t", "nat"])
            .output()
            .expect("iptables-save in the netns");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("running ip");
    assert!(st.success(), "ip {args:?} failed");
}

/// Run `f` on a thread that joined the namespace (never a tokio thread), and await it.
async fn in_ns<T: Send + 'static>(ns: &Path, f: impl FnOnce() -> T + Send + 'static) -> T {
    let file = std::fs::File::open(ns).expect("opening the netns");
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let _ = tx.send(f());
    });
    rx.await.expect("the client thread panicked")
}

const SERVER: (Ipv4Addr, u16) = (Ipv4Addr::new(127, 0, 0, 11), 53);

/// One UDP query to 127.0.0.11:53 from inside the namespace (call on an `in_ns` thread).
fn udp_query(name: &str, qtype: u16) -> Message {
    udp_query_from(0, name, qtype).0
}

/// The same from source port `port` (0: any), and the port it went from.
fn udp_query_from(port: u16, name: &str, qtype: u16) -> (Message, u16) {
    let sock = std::net::UdpSocket::bind(("0.0.0.0", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let id = rand::random();
    let q = Message::query(id, name, qtype).encode().unwrap();
    sock.send_to(&q, SERVER).unwrap();
    let mut buf = [0u8; 4096];
    let (n, from) = sock.recv_from(&mut buf).expect("an answer from 127.0.0.11");
    assert_eq!(from, SocketAddr::from(SERVER), "the reply comes from :53");
    let m = Message::parse(&buf[..n]).unwrap();
    assert_eq!(m.header.id, id);
    (m, sock.local_addr().unwrap().port())
}

fn tcp_query(name: &str, qtype: u16) -> Message {
    let mut s = std::net::TcpStream::connect(SERVER).expect("connecting to 127.0.0.11:53");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let q = Message::query(9, name, qtype).encode().unwrap();
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    s.write_all(&framed).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf).unwrap();
    Message::parse(&buf).unwrap()
}

fn a_records(m: &Message) -> Vec<Ipv4Addr> {
    m.answers
        .iter()
        .filter_map(|r| match r.data {
            RData::A(ip) => Some(ip),
            _ => None,
        })
        .collect()
}

/// What the fake upstream says to one query; `tcp` tells how it came.
fn fake_answer(raw: &[u8], tcp: bool) -> Option<Vec<u8>> {
    let q = Message::parse(raw).ok()?;
    let name = q.questions.first()?.name.to_ascii_lowercase();
    let mut r = Message::reply(&q, Rcode::NxDomain);
    if name == KNOWN {
        r.header.rcode = Rcode::NoError;
        r.answers
            .push(Record::a(&q.questions[0].name, KNOWN_IP, 60));
    } else if name == BIG {
        r.header.rcode = Rcode::NoError;
        if tcp {
            for i in 0..BIG_COUNT {
                let ip = Ipv4Addr::new(10, 98, 0, i);
                r.answers.push(Record::a(&q.questions[0].name, ip, 60));
            }
        } else {
            r.header.truncated = true;
        }
    }
    r.encode().ok()
}

/// A UDP and TCP responder on one port of 127.0.0.1 in the host namespace.
struct FakeUpstream {
    addr: SocketAddr,
    tcp_queries: Arc<AtomicUsize>,
}

async fn fake_upstream() -> FakeUpstream {
    let (udp, tcp) = loop {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = udp.local_addr().unwrap().port();
        if let Ok(tcp) = tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            break (udp, tcp);
        }
    };
    let addr = udp.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65535];
        while let Ok((n, from)) = udp.recv_from(&mut buf).await {
            if let Some(reply) = fake_answer(&buf[..n], false) {
                let _ = udp.send_to(&reply, from).await;
            }
        }
    });
    let tcp_queries = Arc::new(AtomicUsize::new(0));
    let counter = tcp_queries.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = tcp.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let Ok(len) = s.read_u16().await else { return };
                let mut buf = vec![0u8; usize::from(len)];
                if s.read_exact(&mut buf).await.is_err() {
                    return;
                }
                counter.fetch_add(1, Ordering::SeqCst);
                if let Some(reply) = fake_answer(&buf, true) {
                    let mut out = (reply.len() as u16).to_be_bytes().to_vec();
                    out.extend_from_slice(&reply);
                    let _ = s.write_all(&out).await;
                }
            });
        }
    });
    FakeUpstream { addr, tcp_queries }
}

/// A port on 127.0.0.1 where nothing listens (bound, then let go).
fn closed_port() -> SocketAddr {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap()
}

fn table() -> Arc<NameTable> {
    let t = NameTable::new();
    let names = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let net = |last| Ipv4Addr::new(172, 18, 0, last);
    t.add("front", WEB1, names(&["web1", "web", &WEB1[..12]]), net(2));
    t.add("front", WEB2, names(&["web2", "web", &WEB2[..12]]), net(3));
    t.add("front", CLIENT, names(&["client"]), net(4));
    t.add(
        "back",
        LONER,
        names(&["loner"]),
        Ipv4Addr::new(172, 19, 0, 2),
    );
    Arc::new(t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_dns_in_a_namespace() {
    if let Some(why) = skip_reason() {
        eprintln!("SKIPPED: network_dns {why}");
        return;
    }
    let ns = Netns::create();
    let path = ns.path();
    let upstream = fake_upstream().await;
    let table = table();
    let started = Instant::now();
    let r1 = Resolver::start(CLIENT, &path, table.clone(), vec![upstream.addr])
        .await
        .expect("starting the resolver");
    eprintln!(
        "network_dns: Resolver::start took {:?} (fresh namespace)",
        started.elapsed()
    );
    assert_eq!(r1.udp_addr().ip(), Ipv4Addr::new(127, 0, 0, 11));
    assert_ne!(r1.udp_addr().port(), 53);

    let got = in_ns(&path, || {
        let web1 = udp_query("web1", TYPE_A);
        let alias = [udp_query("web", TYPE_A), udp_query("WEB.", TYPE_A)];
        let short = udp_query(&WEB2[..12], TYPE_A);
        let loner = udp_query("loner", TYPE_A);
        let known = udp_query(KNOWN, TYPE_A);
        let unknown = udp_query("nosuch.upstream.test", TYPE_A);
        let ptr = udp_query("2.0.18.172.in-addr.arpa", TYPE_PTR);
        let aaaa = udp_query("web1", TYPE_AAAA);
        let big = udp_query(BIG, TYPE_A);
        let tcp_local = tcp_query("web2", TYPE_A);
        let tcp_known = tcp_query(KNOWN, TYPE_A);
        (
            web1, alias, short, loner, known, unknown, ptr, aaaa, big, tcp_local, tcp_known,
        )
    })
    .await;
    let (web1, alias, short, loner, known, unknown, ptr, aaaa, big, tcp_local, tcp_known) = got;
    let net = |last| Ipv4Addr::new(172, 18, 0, last);

    assert_eq!(web1.header.rcode, Rcode::NoError);
    assert_eq!(a_records(&web1), vec![net(2)], "a container's name");

    let (first, second) = (a_records(&alias[0]), a_records(&alias[1]));
    assert_eq!(first.len(), 2, "both containers behind the alias");
    assert_eq!(
        first.iter().collect::<HashSet<_>>(),
        second.iter().collect::<HashSet<_>>()
    );
    assert_ne!(first[0], second[0], "the alias rotates");

    assert_eq!(a_records(&short), vec![net(3)], "a short id");

    assert_eq!(
        loner.header.rcode,
        Rcode::NxDomain,
        "a container on a network the asker is not on is not answered here: upstream says no"
    );
    assert_eq!(known.header.rcode, Rcode::NoError);
    assert_eq!(a_records(&known), vec![KNOWN_IP], "forwarded and relayed");
    assert_eq!(
        unknown.header.rcode,
        Rcode::NxDomain,
        "upstream's NXDOMAIN relayed"
    );

    assert_eq!(ptr.answers.len(), 1);
    assert_eq!(ptr.answers[0].data, RData::Ptr("web1".into()), "PTR");

    assert_eq!(aaaa.header.rcode, Rcode::NoError);
    assert!(
        aaaa.answers.is_empty(),
        "AAAA of a known name: empty NOERROR"
    );

    assert!(!big.header.truncated);
    assert_eq!(
        a_records(&big).len(),
        usize::from(BIG_COUNT),
        "a truncated UDP answer upstream is fetched again over TCP"
    );

    assert_eq!(a_records(&tcp_local), vec![net(3)], "TCP, local");
    assert_eq!(a_records(&tcp_known), vec![KNOWN_IP], "TCP, forwarded");
    assert!(
        upstream.tcp_queries.load(Ordering::SeqCst) >= 2,
        "the big name and the TCP query went upstream over TCP"
    );

    // What a container's libc-less tools see: busybox's nslookup against 127.0.0.11.
    if Path::new("/bin/busybox").exists() {
        let out = tokio::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns.name,
                "/bin/busybox",
                "nslookup",
                "web1",
            ])
            .arg("127.0.0.11")
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("172.18.0.2"), "busybox nslookup:\n{text}");
    }

    // A local lookup's round trip, measured from inside the namespace.
    let (per_query, last_port) = in_ns(&path, || {
        let n = 200;
        let start = Instant::now();
        let mut port = 0;
        for _ in 0..n {
            let (m, from) = udp_query_from(0, "web1", TYPE_A);
            assert_eq!(m.answers.len(), 1);
            port = from;
        }
        (start.elapsed() / n, port)
    })
    .await;
    eprintln!("network_dns: a local lookup takes {per_query:?} (UDP, mean of 200)");

    // The daemon restarted: a second start on the same namespace while the first still
    // runs (as sockets of a killed daemon linger a moment). The rules must point at the new
    // resolver alone, which forwards to an upstream that is down: SERVFAIL, not a hang and
    // not the first resolver's answer.
    let started = Instant::now();
    let r2 = Resolver::start(CLIENT, &path, table.clone(), vec![closed_port()])
        .await
        .expect("starting the resolver again");
    eprintln!(
        "network_dns: Resolver::start took {:?} (again, rules repaired)",
        started.elapsed()
    );
    assert_ne!(r2.udp_addr(), r1.udp_addr());
    r1.stop().await;
    // From a source port a query used before the restart: its conntrack entry still holds
    // the old rules' DNAT to the first resolver, unless the repair forgot it.
    let (web1_again, down) = in_ns(&path, move || {
        (
            udp_query_from(last_port, "web1", TYPE_A).0,
            udp_query(KNOWN, TYPE_A),
        )
    })
    .await;
    assert_eq!(a_records(&web1_again), vec![net(2)], "still answering");
    assert_eq!(
        down.header.rcode,
        Rcode::ServFail,
        "an upstream that is down"
    );

    let rules = ns.nat_rules();
    for jump in [
        "-A OUTPUT -d 127.0.0.11/32 -j BERTH_DNS_OUTPUT",
        "-A POSTROUTING -d 127.0.0.11/32 -j BERTH_DNS_POSTROUTING",
    ] {
        assert_eq!(rules.lines().filter(|l| *l == jump).count(), 1, "{rules}");
    }
    let dnat_udp = format!("--to-destination {}", r2.udp_addr());
    assert!(rules.contains(&dnat_udp), "{rules}");
    assert_eq!(rules.matches("-j DNAT").count(), 2, "{rules}");
    r2.stop().await;
}
