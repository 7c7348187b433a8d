//! Root-only end-to-end test of the default bridge on the real kernel: setup and adoption,
//! two namespaces on one bridge, reachability, outbound NAT towards a fake upstream
//! namespace, undo on failure, disconnect, and a teardown that leaves nothing behind.
//! Every kernel object carries a random suffix; a Drop guard removes them even on panic.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use berth::network::{self, BridgeNetwork, NetworkConfig, SubnetPool};
use futures::TryStreamExt;
use ipnet::Ipv4Net;
use nix::sched::{setns, CloneFlags};
use rand::Rng;

fn hex(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| format!("{:x}", rng.gen_range(0..16)))
        .collect()
}

fn run(cmd: &str, args: &[&str]) -> std::process::Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"))
}

fn ok(cmd: &str, args: &[&str]) -> String {
    let out = run(cmd, args);
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn link_exists(name: &str) -> bool {
    run("ip", &["link", "show", "dev", name]).status.success()
}

fn mounted(path: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let p = path.to_string_lossy();
    info.lines()
        .any(|l| l.split_whitespace().nth(4) == Some(p.as_ref()))
}

/// Removes everything the test may have created, whatever state the test died in.
struct Guard {
    bridge: String,
    prefix: String,
    links: Vec<String>,
    netns: Vec<PathBuf>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for p in &self.netns {
            let _ = network::remove_netns(p);
        }
        let (bridge, prefix, links) =
            (self.bridge.clone(), self.prefix.clone(), self.links.clone());
        // Own thread and runtime: Drop may run inside the test's runtime, which must not block.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                for l in links {
                    let _ = Command::new("ip").args(["link", "del", "dev", &l]).output();
                }
                if let Err(e) = network::teardown(&bridge, &prefix).await {
                    eprintln!("cleanup of {bridge}/{prefix}: {e}");
                }
            })
        })
        .join();
    }
}

/// Run `f` on a thread that has joined the namespace at `ns`.
fn in_netns<T: Send + 'static>(
    ns: &Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let file = std::fs::File::open(ns).unwrap();
    std::thread::spawn(move || {
        setns(&file, CloneFlags::CLONE_NEWNET).unwrap();
        f()
    })
}

/// A host<->upstream veth: host end `host` with .1, the other end moved into `ns` with .2.
async fn make_upstream(host: &str, ns: &Path, net: Ipv4Net) {
    let peer = format!("{host}p");
    let (conn, h, _) = rtnetlink::new_connection().unwrap();
    tokio::spawn(conn);
    h.link()
        .add(rtnetlink::LinkVeth::new(host, &peer).build())
        .execute()
        .await
        .unwrap();
    let index = |name: String| {
        let h = h.clone();
        async move {
            h.link()
                .get()
                .match_name(name)
                .execute()
                .try_next()
                .await
                .unwrap()
                .unwrap()
                .header
                .index
        }
    };
    let peer_index = index(peer.clone()).await;
    let file = std::fs::File::open(ns).unwrap();
    h.link()
        .set(
            rtnetlink::LinkUnspec::new_with_index(peer_index)
                .setns_by_fd(file.as_raw_fd())
                .build(),
        )
        .execute()
        .await
        .unwrap();
    let host_index = index(host.to_string()).await;
    let host_ip = Ipv4Addr::from(u32::from(net.network()) + 1);
    let up_ip = Ipv4Addr::from(u32::from(net.network()) + 2);
    h.address()
        .add(host_index, host_ip.into(), net.prefix_len())
        .execute()
        .await
        .unwrap();
    h.link()
        .set(
            rtnetlink::LinkUnspec::new_with_index(host_index)
                .up()
                .build(),
        )
        .execute()
        .await
        .unwrap();
    let nsarg = format!("--net={}", ns.display());
    let cidr = format!("{up_ip}/{}", net.prefix_len());
    ok(
        "nsenter",
        &[&nsarg, "ip", "addr", "add", &cidr, "dev", &peer],
    );
    ok("nsenter", &[&nsarg, "ip", "link", "set", &peer, "up"]);
    ok("nsenter", &[&nsarg, "ip", "link", "set", "lo", "up"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_end_to_end() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipping bridge_end_to_end: needs root");
        return;
    }
    let tag = hex(6);
    let bridge = format!("bt{tag}");
    let prefix = format!("BT{}", tag.to_uppercase());
    let mut rng = rand::thread_rng();
    let pool_net: Ipv4Net = format!("10.213.{}.0/24", rng.gen_range(0..=255u8))
        .parse()
        .unwrap();
    let up_net: Ipv4Net = format!("10.214.{}.0/24", rng.gen_range(0..=255u8))
        .parse()
        .unwrap();
    let root = tempfile::tempdir().unwrap();
    let cfg = NetworkConfig {
        bridge: bridge.clone(),
        iptables_prefix: prefix.clone(),
        pools: vec![pool_net.to_string().parse::<SubnetPool>().unwrap()],
        state_dir: root.path().join("network"),
        exec_root: root.path().join("exec"),
        subnet: None,
        gateway: None,
        ip_range: None,
        aux: Vec::new(),
        policy: Default::default(),
        nameservers: Vec::new(),
        other_subnets: Vec::new(),
        ipv6: None,
    };
    let up_host = format!("bu{tag}");
    let mut guard = Guard {
        bridge: bridge.clone(),
        prefix: prefix.clone(),
        links: vec![up_host.clone()],
        netns: Vec::new(),
    };

    // Setup creates the bridge in the pool's only subnet, gateway first.
    let net = BridgeNetwork::setup(cfg.clone()).await.unwrap();
    assert_eq!(net.subnet(), pool_net);
    assert_eq!(
        net.gateway(),
        Ipv4Addr::from(u32::from(pool_net.network()) + 1)
    );
    assert_eq!(net.bridge(), bridge);
    assert!(link_exists(&bridge));
    assert!(cfg.state_dir.join(format!("{bridge}.json")).exists());

    // A second setup adopts the bridge and adds no duplicate rule.
    {
        let again = BridgeNetwork::setup(cfg.clone()).await.unwrap();
        assert_eq!(again.subnet(), pool_net);
        assert_eq!(again.gateway(), net.gateway());
    }
    let nat = ok("iptables", &["-w", "-t", "nat", "-S", "POSTROUTING"]);
    assert_eq!(
        nat.matches(&format!("-j {prefix}-POSTROUTING")).count(),
        1,
        "{nat}"
    );
    let chain = ok(
        "iptables",
        &["-w", "-t", "nat", "-S", &format!("{prefix}-POSTROUTING")],
    );
    let masq = format!("-s {pool_net} ! -o {bridge} -j MASQUERADE");
    assert_eq!(chain.matches(&masq).count(), 1, "{chain}");
    let fwd = ok(
        "iptables",
        &["-w", "-t", "filter", "-S", &format!("{prefix}-FORWARD")],
    );
    assert!(fwd.contains(&format!("-i {bridge} -j ACCEPT")), "{fwd}");
    assert!(fwd.contains("RELATED,ESTABLISHED"), "{fwd}");

    // Two containers get different addresses in the subnet.
    let (id_a, id_b, id_up) = (hex(64), hex(64), hex(64));
    let ns_a = net.create_netns(&id_a).await.unwrap();
    guard.netns.push(ns_a.clone());
    let ns_b = net.create_netns(&id_b).await.unwrap();
    guard.netns.push(ns_b.clone());
    assert!(mounted(&ns_a) && mounted(&ns_b));
    guard.links.push(network::host_veth_name(&id_a));
    guard.links.push(network::host_veth_name(&id_b));
    let ep_a = net.connect(&id_a, &ns_a).await.unwrap();
    let ep_b = net.connect(&id_b, &ns_b).await.unwrap();
    assert_ne!(ep_a.ip, ep_b.ip);
    for ep in [&ep_a, &ep_b] {
        assert!(pool_net.contains(&ep.ip) && ep.ip != net.gateway());
        assert_eq!(ep.prefix_len, 24);
        assert_eq!(ep.gateway, net.gateway());
        assert!(net.is_allocated(ep.ip).await);
    }
    assert_eq!(ep_a.host_veth, format!("veth{}", &id_a[..11]));
    assert_eq!(ep_a.mac, network::mac_for(ep_a.ip));
    let mut veths = net.list_host_veths().await;
    veths.sort();
    let mut want = vec![ep_a.host_veth.clone(), ep_b.host_veth.clone()];
    want.sort();
    assert_eq!(veths, want);

    // Inside: eth0 with Docker's MAC, reachability of the gateway and of the neighbour.
    let nsarg_a = format!("--net={}", ns_a.display());
    let link = ok(
        "nsenter",
        &[&nsarg_a, "ip", "-o", "link", "show", "dev", "eth0"],
    );
    assert!(link.contains(&ep_a.mac), "{link}");
    let routes = ok("nsenter", &[&nsarg_a, "ip", "route"]);
    assert!(
        routes.contains(&format!("default via {}", net.gateway())),
        "{routes}"
    );
    for target in [net.gateway().to_string(), ep_b.ip.to_string()] {
        ok(
            "nsenter",
            &[&nsarg_a, "busybox", "ping", "-c1", "-W2", &target],
        );
    }

    // Outbound NAT: the upstream has no route back to the bridge subnet, so a connection
    // only succeeds if it was masqueraded, and then it comes from the host's upstream address.
    let ns_up = net.create_netns(&id_up).await.unwrap();
    guard.netns.push(ns_up.clone());
    make_upstream(&up_host, &ns_up, up_net).await;
    let up_ip = Ipv4Addr::from(u32::from(up_net.network()) + 2);
    let host_up_ip = Ipv4Addr::from(u32::from(up_net.network()) + 1);
    let (tx, rx) = std::sync::mpsc::channel();
    let server = in_netns(&ns_up, move || {
        let l = TcpListener::bind((up_ip, 0)).unwrap();
        tx.send(l.local_addr().unwrap().port()).unwrap();
        l.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match l.accept() {
                Ok((_, peer)) => return Some(peer),
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(_) => return None,
            }
        }
    });
    let port = rx.recv().unwrap();
    let client = in_netns(&ns_a, move || {
        TcpStream::connect_timeout(&SocketAddr::from((up_ip, port)), Duration::from_secs(5))
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let connected = tokio::task::spawn_blocking(move || client.join().unwrap())
        .await
        .unwrap();
    let peer = tokio::task::spawn_blocking(move || server.join().unwrap())
        .await
        .unwrap();
    assert_eq!(connected, Ok(()));
    assert_eq!(peer.map(|p| p.ip()), Some(host_up_ip.into()));

    // A failed connect undoes itself: a plain file is no namespace.
    let bogus_id = hex(64);
    let bogus = root.path().join("not-a-netns");
    std::fs::write(&bogus, b"").unwrap();
    guard.links.push(network::host_veth_name(&bogus_id));
    let err = net.connect(&bogus_id, &bogus).await.unwrap_err();
    assert!(err.to_string().contains("not-a-netns"), "{err}");
    assert!(!link_exists(&network::host_veth_name(&bogus_id)));
    let next = Ipv4Addr::from(u32::from(ep_b.ip).max(u32::from(ep_a.ip)) + 1);
    assert!(!net.is_allocated(next).await);

    // Disconnect deletes the veth and releases the address, twice without complaint;
    // the released address is the next one handed out.
    net.disconnect(&id_a, &ep_a).await.unwrap();
    assert!(!link_exists(&ep_a.host_veth));
    assert!(!net.is_allocated(ep_a.ip).await);
    net.disconnect(&id_a, &ep_a).await.unwrap();
    let id_c = hex(64);
    let ns_c = net.create_netns(&id_c).await.unwrap();
    guard.netns.push(ns_c.clone());
    guard.links.push(network::host_veth_name(&id_c));
    let ep_c = net.connect(&id_c, &ns_c).await.unwrap();
    assert_eq!(ep_c.ip, ep_a.ip);
    let saved = std::fs::read_to_string(cfg.state_dir.join(format!("{bridge}.json"))).unwrap();
    assert!(saved.contains(&ep_c.ip.to_string()) && saved.contains(&ep_b.ip.to_string()));

    // Teardown leaves no link, chain, jump or namespace mount; everything is repeatable.
    net.disconnect(&id_b, &ep_b).await.unwrap();
    net.disconnect(&id_c, &ep_c).await.unwrap();
    for ns in [&ns_a, &ns_b, &ns_c, &ns_up] {
        BridgeNetwork::remove_netns(ns).unwrap();
        BridgeNetwork::remove_netns(ns).unwrap();
        assert!(!ns.exists() && !mounted(ns));
    }
    Command::new("ip")
        .args(["link", "del", "dev", &up_host])
        .output()
        .unwrap();
    network::teardown(&bridge, &prefix).await.unwrap();
    network::teardown(&bridge, &prefix).await.unwrap();
    assert!(!link_exists(&bridge));
    for (table, builtin, ours) in [
        ("nat", "POSTROUTING", format!("{prefix}-POSTROUTING")),
        ("filter", "FORWARD", format!("{prefix}-FORWARD")),
    ] {
        let listed = ok("iptables", &["-w", "-t", table, "-S", builtin]);
        assert!(!listed.contains(&prefix), "{listed}");
        assert!(!run("iptables", &["-w", "-t", table, "-S", &ours])
            .status
            .success());
    }
    let leftovers = ok("ip", &["-o", "link"]);
    assert!(!leftovers.contains(&tag), "{leftovers}");
    drop(guard);
}

/// Like Docker's checkRouteOverlaps: a subnet already routed on the host (here through a
/// second bridge, as this kernel has no dummy links) is passed over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_skips_routed_candidates() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipping setup_skips_routed_candidates: needs root");
        return;
    }
    let tag = hex(6);
    let bridge = format!("bt{tag}");
    let prefix = format!("BT{}", tag.to_uppercase());
    let other = format!("bd{tag}");
    let third = rand::thread_rng().gen_range(0..=127u8) * 2;
    let taken: Ipv4Net = format!("10.216.{third}.0/24").parse().unwrap();
    let free: Ipv4Net = format!("10.216.{}.0/24", third + 1).parse().unwrap();
    let root = tempfile::tempdir().unwrap();
    let _guard = Guard {
        bridge: bridge.clone(),
        prefix: prefix.clone(),
        links: vec![other.clone()],
        netns: Vec::new(),
    };
    ok("ip", &["link", "add", &other, "type", "bridge"]);
    let taken_addr = format!("{}/24", Ipv4Addr::from(u32::from(taken.network()) + 1));
    ok("ip", &["addr", "add", &taken_addr, "dev", &other]);
    ok("ip", &["link", "set", &other, "up"]);
    let cfg = NetworkConfig {
        bridge: bridge.clone(),
        iptables_prefix: prefix.clone(),
        pools: vec![format!("base=10.216.{third}.0/23,size=24").parse().unwrap()],
        state_dir: root.path().join("network"),
        exec_root: root.path().join("exec"),
        subnet: None,
        gateway: None,
        ip_range: None,
        aux: Vec::new(),
        policy: Default::default(),
        nameservers: Vec::new(),
        other_subnets: Vec::new(),
        ipv6: None,
    };
    let net = BridgeNetwork::setup(cfg).await.unwrap();
    assert_eq!(net.subnet(), free);
    let addrs = ok("ip", &["-o", "-4", "addr", "show", "dev", &bridge]);
    assert!(addrs.contains(&format!("{}/24", net.gateway())), "{addrs}");
}
