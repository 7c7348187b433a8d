//! e2e: published ports (`-p`, `-P`, `port`, the PORTS column), served by DNAT alone: from
//! 127.0.0.1, from a fake "upstream" network namespace the test makes, from containers
//! (hairpin), UDP, a port already in use, and ports that keep answering while the daemon is
//! dead.
//! Traffic goes only to 127.0.0.1 and to addresses this test created.

mod common;

use common::text;
use std::process::Command;
use std::time::Duration;

/// A network namespace with a veth to the host: 10.214.<n>.1 on the host, .2 inside.
struct Upstream {
    ns: String,
    host_if: String,
    host_ip: String,
    client_ip: String,
}

impl Upstream {
    fn new(tag: &str, n: u8) -> Upstream {
        let ns = format!("bu{tag}");
        let host_if = format!("bu{tag}h");
        let run = |args: &[&str]| {
            let out = Command::new("ip").args(args).output().unwrap();
            assert!(out.status.success(), "ip {args:?}: {out:?}");
        };
        run(&["netns", "add", &ns]);
        let u = Upstream {
            ns: ns.clone(),
            host_if: host_if.clone(),
            host_ip: format!("10.214.{n}.1"),
            client_ip: format!("10.214.{n}.2"),
        };
        run(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", "up0", "netns", &ns,
        ]);
        run(&["addr", "add", &format!("10.214.{n}.1/30"), "dev", &host_if]);
        run(&["link", "set", &host_if, "up"]);
        run(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("10.214.{n}.2/30"),
            "dev",
            "up0",
        ]);
        run(&["-n", &ns, "link", "set", "up0", "up"]);
        run(&["-n", &ns, "link", "set", "lo", "up"]);
        u
    }

    /// An HTTP GET from inside the namespace (the host's curl, run there).
    fn get(&self, port: &str) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "curl", "-s", "--max-time", "5"])
            .arg(format!("http://{}:{port}/", self.host_ip))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

fn server(d: &common::TestDaemon, name: &str, publish: &[&str]) -> String {
    let mut args = vec!["run", "-d", "--name", name];
    for p in publish {
        args.extend(["-p", p]);
    }
    args.extend([
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && echo hello-from-$HOSTNAME > /www/index.html && httpd -f -vv -p 80 -h /www",
    ]);
    d.ok(&args).trim().to_string()
}

#[test]
fn published_ports_answer_on_loopback_and_through_dnat_and_survive_the_daemon() {
    let mut d = daemon_or_skip!();
    d.load_busybox();
    let id = server(&d, "web", &["127.0.0.1::80", "80/tcp"]);
    let short = &id[..12];

    // Both bindings got free ports; `port` and `ps` show them as docker does.
    let ports = d.ok(&["port", "web"]);
    let lines: Vec<&str> = ports.lines().collect();
    assert_eq!(lines.len(), 2, "{ports}");
    let loopback = lines
        .iter()
        .find_map(|l| l.strip_prefix("80/tcp -> 127.0.0.1:"))
        .expect("the 127.0.0.1 binding")
        .to_string();
    let any = lines
        .iter()
        .find_map(|l| l.strip_prefix("80/tcp -> 0.0.0.0:"))
        .expect("the 0.0.0.0 binding")
        .to_string();
    assert_eq!(d.ok(&["port", "web", "80"]).lines().count(), 2);
    let ps = d.ok(&["ps", "--format", "{{.Ports}}"]);
    assert!(
        ps.contains(&format!("127.0.0.1:{loopback}->80/tcp")),
        "{ps}"
    );
    let (_, err, code) = text(&d.berth(&["port", "web", "81"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("No public port '81/tcp' published for web"),
        "{err}"
    );

    // From the host, over loopback: the DNAT too (route_localnet on the bridge).
    assert!(
        common::http_get(&format!("127.0.0.1:{loopback}")).contains(&format!("hello-from-{short}"))
    );

    // From another network namespace, to the host's address there: the DNAT rule, which
    // keeps the client's own address (Docker's proxy would show the gateway's).
    let tag = &d.prefix[2..].to_ascii_lowercase();
    let up = Upstream::new(tag, (std::process::id() % 200) as u8 + 20);
    assert!(up.get(&any).contains("hello-from"), "upstream GET");
    let log = d.ok(&["logs", "web"]) + &String::from_utf8_lossy(&d.berth(&["logs", "web"]).stderr);
    let upstream_client = up.client_ip.clone();
    assert!(
        log.contains(&upstream_client),
        "the container saw the upstream client {upstream_client}:\n{log}"
    );

    // A port in use fails the start with Docker's words, and leaves nothing behind.
    let taken = format!("127.0.0.1:{loopback}:80");
    let out = d.berth(&["run", "--rm", "-p", &taken, "busybox", "true"]);
    let (_, err, code) = text(&out);
    assert_eq!(code, 125);
    assert!(err.contains("port is already allocated"), "{err}");

    // The daemon dies; the published ports keep answering, both ways.
    d.kill9_and_restart_with(Duration::ZERO, |_| {
        assert!(common::http_get(&format!("127.0.0.1:{loopback}")).contains("hello-from"));
        assert!(up.get(&any).contains("hello-from"), "DNAT without a daemon");
    });
    assert!(common::http_get(&format!("127.0.0.1:{loopback}")).contains("hello-from"));

    // The real docker CLI reads the same bindings.
    if let Some(mut docker) = d.docker() {
        let out = docker.args(["port", "web", "80"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&format!("127.0.0.1:{loopback}")), "{text}");
    }

    // Stopping takes the rules away: nothing answers any more.
    d.ok(&["stop", "-t", "0", "web"]);
    assert_unpublished(&d, &loopback);
    assert_eq!(d.ok(&["port", "web"]), "");
    d.ok(&["rm", "web"]);
    drop(up);
}

/// An HTTP GET, sent from inside container `from` with busybox nc to the host's address on
/// its default route (the gateway: one of the host's own addresses), port `port`.
fn get_via_gateway(d: &common::TestDaemon, from: &str, port: u16) -> String {
    let script = format!(
        "gw=$(ip route | sed -n 's/^default via \\([0-9.]*\\).*/\\1/p'); \
         for i in 1 2 3 4 5 6 7 8 9 10; do \
           out=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 $gw {port}) && \
           [ -n \"$out\" ] && echo \"$out\" && exit 0; sleep 0.2; done; exit 1"
    );
    let (out, err, code) = text(&d.berth(&["exec", from, "sh", "-c", &script]));
    assert_eq!(
        code, 0,
        "GET from {from} to the gateway's port {port}: {out}{err}"
    );
    out
}

/// A UDP echo (answering `echo:<datagram>`) bound to `port` inside the network namespace
/// at `ns`, served by a thread of the test: the socket is made in that namespace by a thread
/// that joins it, and stays there.
fn udp_echo_in(ns: &str, port: u16) -> std::thread::JoinHandle<()> {
    let ns = std::fs::File::open(ns).unwrap();
    std::thread::spawn(move || {
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let echo = std::net::UdpSocket::bind(("0.0.0.0", port)).unwrap();
        echo.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = echo.recv_from(&mut buf) {
            let mut reply = b"echo:".to_vec();
            reply.extend_from_slice(&buf[..n]);
            let _ = echo.send_to(&reply, from);
        }
    })
}

/// No process serves a port: with TCP and UDP published, the test's daemon has no child but
/// its shims. UDP reaches the container from loopback through the DNAT; a container reaches
/// its own published port, a sibling's on its bridge, and one on another network, through a
/// host address (hairpin), while the networks stay isolated otherwise.
#[test]
fn ports_are_served_by_dnat_alone_udp_and_hairpin_included() {
    let mut d = daemon_or_skip!();
    d.load_busybox();
    server(&d, "web", &["80"]);
    let (web_port, _) = published(&d, "web", "80/tcp");
    // busybox has no UDP server: the container's echo is a socket of the test's own, bound
    // inside the container's network namespace.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "udp",
        "-p",
        "127.0.0.1::9999/udp",
        "busybox",
        "sleep",
        "600",
    ]);
    let pid = d.ok(&["inspect", "-f", "{{.State.Pid}}", "udp"]);
    let echo = udp_echo_in(&format!("/proc/{}/ns/net", pid.trim()), 9999);
    let udp = d.ok(&["port", "udp", "9999/udp"]);
    let udp_port: u16 = udp
        .trim()
        .strip_prefix("127.0.0.1:")
        .unwrap_or_else(|| panic!("{udp}"))
        .parse()
        .unwrap();

    // Only the daemon and one shim per container: no proxy, whatever is published.
    let here = d.dir.path().to_string_lossy().into_owned();
    let roles: Vec<String> = common::processes_mentioning(&here)
        .into_iter()
        .filter_map(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).ok())
        .filter_map(|cmd| {
            cmd.split(|b| *b == 0)
                .nth(1)
                .map(|r| String::from_utf8_lossy(r).into_owned())
        })
        .collect();
    assert!(
        roles.iter().all(|r| r == "daemon" || r == "shim"),
        "{roles:?}"
    );
    assert_eq!(
        roles.iter().filter(|r| *r == "shim").count(),
        2,
        "{roles:?}"
    );

    // UDP from the host's loopback, both ways: the container's echo answers through it.
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 64];
    common::wait_until("a datagram through the DNAT and its answer", || {
        client.send_to(b"ping", ("127.0.0.1", udp_port)).unwrap();
        matches!(client.recv_from(&mut buf), Ok((n, _)) if &buf[..n] == b"echo:ping")
    });
    drop(echo);

    // Hairpin: the server reaches itself, a sibling reaches it, through a host address.
    assert!(get_via_gateway(&d, "web", web_port).contains("hello-from"));
    d.ok(&["run", "-d", "--name", "sibling", "busybox", "sleep", "600"]);
    assert!(get_via_gateway(&d, "sibling", web_port).contains("hello-from"));

    // From a user network: through the published port, yes; to the address, no.
    d.ok(&["network", "create", "elsewhere"]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "far",
        "--network",
        "elsewhere",
        "--dns",
        "127.0.0.1",
        "busybox",
        "sleep",
        "600",
    ]);
    assert!(get_via_gateway(&d, "far", web_port).contains("hello-from"));
    // A port published from a user network survives a daemon SIGKILL: the sweep at restart
    // keeps the rules of a running container on any bridge, not only the default one.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "farweb",
        "--network",
        "elsewhere",
        "--dns",
        "127.0.0.1",
        "-p",
        "127.0.0.1::80",
        "busybox",
        "sh",
        "-c",
        "mkdir /www && echo far > /www/index.html && httpd -f -p 80 -h /www",
    ]);
    let farweb = d.ok(&["port", "farweb", "80"]);
    let farweb = farweb.trim().to_string();
    d.kill9_and_restart_with(Duration::ZERO, |_| {});
    assert!(common::http_get(&farweb).contains("200"), "{farweb}");
    // ... and its way in from outside (FORWARD names its bridge) is still there too.
    let farweb_ip = d.ok(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Networks.elsewhere.IPAddress}}",
        "farweb",
    ]);
    let forward = Command::new("iptables")
        .args(["-w", "-S", &format!("{}-FORWARD", d.prefix)])
        .output()
        .unwrap();
    let forward = String::from_utf8_lossy(&forward.stdout);
    assert!(
        forward.contains(&format!("-d {}/32", farweb_ip.trim())),
        "{forward}"
    );

    let web_ip = d.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"]);
    let (_, _, code) = text(&d.berth(&[
        "exec",
        "far",
        "sh",
        "-c",
        &format!(
            "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {} 80",
            web_ip.trim()
        ),
    ]));
    assert_ne!(
        code, 0,
        "another network reached the container's own address"
    );

    for name in ["web", "udp", "sibling", "far", "farweb"] {
        d.ok(&["rm", "-f", name]);
    }
    d.ok(&["network", "rm", "elsewhere"]);
    assert_unpublished(&d, &web_port.to_string());
}

/// This daemon no longer rewrites `port`: no DNAT rule names it. (Not "nothing answers": the
/// tests of this file run side by side, each with a daemon of its own, and another may
/// publish the same port as soon as this one gives it back.)
fn assert_unpublished(d: &common::TestDaemon, port: &str) {
    let out = Command::new("iptables")
        .args(["-w", "-t", "nat", "-S", &format!("{}-DNAT", d.prefix)])
        .output()
        .unwrap();
    let rules = String::from_utf8_lossy(&out.stdout);
    assert!(
        !rules.contains(&format!("--dport {port} ")),
        "port {port} is still published:\n{rules}"
    );
}

/// The host port `port <name>` shows for `key` (`80/tcp`) on 0.0.0.0, and how many lines it has.
fn published(d: &common::TestDaemon, name: &str, key: &str) -> (u16, usize) {
    let out = d.ok(&["port", name]);
    let port = out
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key} -> 0.0.0.0:")))
        .unwrap_or_else(|| panic!("no {key} on 0.0.0.0 in `port {name}`:\n{out}"))
        .parse()
        .unwrap();
    (port, out.lines().count())
}

/// `-P`: the image's EXPOSE and `--expose` published on ephemeral ports of the kernel's range,
/// as `port`, `ps` and inspect show them; every container its own ports, a released port not
/// handed out again at once, a binding of the container's own kept; the docker CLI agrees.
#[test]
fn publish_all_publishes_every_exposed_port_on_an_ephemeral_port() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let ctx = d.dir.path().join("exposing");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nEXPOSE 80\n\
         CMD mkdir -p /www && echo hello-from-$HOSTNAME > /www/index.html && httpd -f -p 80 -h /www\n",
    )
    .unwrap();
    d.ok(&["build", "-q", "-t", "exposing", ctx.to_str().unwrap()]);
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let mut range = range.split_whitespace().map(|p| p.parse::<u16>().unwrap());
    let range = range.next().unwrap()..=range.next().unwrap();

    let a = d.ok(&["run", "-d", "--name", "pa", "-P", "exposing"]);
    let (port_a, lines) = published(&d, "pa", "80/tcp");
    assert_eq!(lines, 1);
    assert!(range.contains(&port_a), "{port_a} outside {range:?}");
    assert!(common::http_get(&format!("127.0.0.1:{port_a}"))
        .contains(&format!("hello-from-{}", &a[..12])));
    assert_eq!(
        d.ok(&["inspect", "-f", "{{json .Config.ExposedPorts}}", "pa"]),
        "{\"80/tcp\":{}}\n"
    );
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostPort}}",
            "pa"
        ]),
        format!("{port_a}\n")
    );
    assert_eq!(
        d.ok(&["ps", "-f", "name=pa", "--format", "{{.Ports}}"]),
        format!("0.0.0.0:{port_a}->80/tcp\n")
    );

    // --expose adds a port; a second container gets ports of its own.
    d.ok(&[
        "run", "-d", "--name", "pb", "--expose", "9000", "-P", "exposing",
    ]);
    let (port_b, lines) = published(&d, "pb", "80/tcp");
    let (port_b9000, _) = published(&d, "pb", "9000/tcp");
    assert_eq!(lines, 2);
    let all = [port_a, port_b, port_b9000];
    assert!(all.iter().all(|p| range.contains(p)), "{all:?}");
    assert!(
        port_a != port_b && port_b != port_b9000 && port_a != port_b9000,
        "{all:?}"
    );
    assert!(common::http_get(&format!("127.0.0.1:{port_b}")).contains("hello-from"));

    // A binding of its own wins over -P; without -P, EXPOSE publishes nothing.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "pc",
        "-P",
        "-p",
        "127.0.0.1::80",
        "exposing",
    ]);
    let c = d.ok(&["port", "pc"]);
    assert_eq!(c.lines().count(), 1, "{c}");
    assert!(c.starts_with("80/tcp -> 127.0.0.1:"), "{c}");
    d.ok(&["run", "-d", "--name", "pe", "exposing"]);
    assert_eq!(d.ok(&["port", "pe"]), "");
    assert_eq!(
        d.ok(&["ps", "-f", "name=pe", "--format", "{{.Ports}}"]),
        "80/tcp\n"
    );

    // A port just released is not handed out again at once.
    d.ok(&["rm", "-f", "pa"]);
    d.ok(&["run", "-d", "--name", "pg", "-P", "exposing"]);
    let (port_g, _) = published(&d, "pg", "80/tcp");
    assert_ne!(port_g, port_a);
    assert_unpublished(&d, &port_a.to_string());

    // The docker CLI: its -P and its `port` agree with ours.
    if let Some(mut docker) = d.docker() {
        let out = docker
            .args(["run", "-d", "-P", "--name", "pf", "exposing"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let (port_f, _) = published(&d, "pf", "80/tcp");
        let out = d
            .docker()
            .unwrap()
            .args(["port", "pf", "80"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.lines().next(),
            Some(format!("0.0.0.0:{port_f}").as_str()),
            "{text}"
        );
        assert!(common::http_get(&format!("127.0.0.1:{port_f}")).contains("hello-from"));
    }
    for name in ["pb", "pc", "pe", "pg", "pf"] {
        let _ = d.berth(&["rm", "-f", name]);
    }
}
