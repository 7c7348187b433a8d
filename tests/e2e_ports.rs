//! e2e: published ports (`-p`, `port`, the PORTS column): through the userland proxy on
//! 127.0.0.1, through the DNAT rules from a fake "upstream" network namespace the test makes,
//! UDP, a port already in use, and ports that keep answering while the daemon is dead.
//! Traffic goes only to 127.0.0.1 and to addresses this test created.

mod common;

use common::text;
use std::net::TcpStream;
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

    // From the host, over loopback: the userland proxy.
    assert!(
        common::http_get(&format!("127.0.0.1:{loopback}")).contains(&format!("hello-from-{short}"))
    );

    // From another network namespace, to the host's address there: the DNAT rule, which
    // keeps the client's own address (the proxy would show the gateway's).
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

    // Stopping takes the proxy and the rules away: nothing answers any more.
    d.ok(&["stop", "-t", "0", "web"]);
    assert!(TcpStream::connect(format!("127.0.0.1:{loopback}")).is_err());
    assert_eq!(d.ok(&["port", "web"]), "");
    d.ok(&["rm", "web"]);
    drop(up);
}

/// The userland proxy relays UDP both ways. busybox has no UDP server, so the "container"
/// here is an echo socket of the test's own on 127.0.0.1, and the proxy is started by hand the
/// way the daemon starts it: with the bound host socket as fd 3.
#[test]
fn the_proxy_relays_udp_both_ways() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let echo = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let echo_port = echo.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = echo.recv_from(&mut buf) {
            let mut reply = b"echo:".to_vec();
            reply.extend_from_slice(&buf[..n]);
            let _ = echo.send_to(&reply, from);
        }
    });
    let host = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let host_addr = host.local_addr().unwrap();
    let spec = serde_json::json!({
        "container_ip": "127.0.0.1",
        "ports": [{"proto": "udp", "host_ip": "127.0.0.1", "host_port": host_addr.port(), "container_port": echo_port}],
    });
    let fd = host.as_raw_fd();
    let mut cmd = Command::new(common::berth_bin());
    cmd.args(["proxy", "0123456789ab", &spec.to_string()]);
    // SAFETY: only dup2 between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut proxy = cmd.spawn().unwrap();
    drop(host);
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 1500];
    let mut got = None;
    for _ in 0..20 {
        client.send_to(b"ping", host_addr).unwrap();
        if let Ok((n, _)) = client.recv_from(&mut buf) {
            got = Some(buf[..n].to_vec());
            break;
        }
    }
    let _ = proxy.kill();
    let _ = proxy.wait();
    assert_eq!(got.as_deref(), Some(&b"echo:ping"[..]));
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
    assert!(TcpStream::connect(format!("127.0.0.1:{port_a}")).is_err());

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
