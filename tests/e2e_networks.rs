//! e2e: user-defined networks (seed 001's walkthrough): containers on one network find each
//! other by name, alias and short id through the embedded DNS and reach each other; a
//! container on another network can do neither; connect and disconnect a running container;
//! internal networks; names after a daemon SIGKILL; a build's RUN on a user network.
//! Traffic goes only to the test's own containers and to 127.0.0.0/8: every container asks
//! its embedded DNS to forward unknown names to 127.0.0.1 (`--dns`), never to the host's
//! resolvers.

mod common;

use common::{ip_on, run_on as start, text};
use std::time::Duration;

fn exec(d: &common::TestDaemon, name: &str, script: &str) -> (String, String, i32) {
    text(&d.berth(&["exec", name, "sh", "-c", script]))
}

/// The addresses `name` resolves to inside container `from`, sorted.
fn lookup(d: &common::TestDaemon, from: &str, name: &str) -> Vec<String> {
    let (out, _, _) = exec(d, from, &format!("nslookup {name} 127.0.0.11"));
    let mut ips: Vec<String> = out
        .split("Name:")
        .skip(1)
        .filter_map(|rec| {
            rec.lines().find_map(|l| {
                l.trim()
                    .strip_prefix("Address:")
                    .map(|a| a.trim().to_string())
            })
        })
        .filter(|a| !a.contains(':'))
        .collect();
    ips.sort();
    ips
}

/// An HTTP GET of `www` that prints the body's last line (busybox's wget crashes in the
/// Debian build the fixtures use, so `nc` speaks HTTP).
const GET_WWW: &str = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 www 80 | tail -1";

const SERVE: &[&str] = &[
    "sh",
    "-c",
    "mkdir -p /www && hostname > /www/index.html && httpd -f -p 80 -h /www",
];

#[test]
fn containers_on_a_network_find_each_other_and_no_one_else() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let front = d.ok(&["network", "create", "front"]).trim().to_string();
    assert_eq!(front.len(), 64, "{front}");
    d.ok(&["network", "create", "--label", "tier=back", "back"]);
    let ls = d.ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    assert_eq!(
        ls,
        "back bridge\nbridge bridge\nfront bridge\nhost host\nnone null\n"
    );

    let web = start(&d, "front", "web", &["--network-alias", "www"], SERVE);
    start(&d, "front", "client", &[], &["sleep", "300"]);
    start(&d, "back", "outsider", &[], &["sleep", "300"]);
    let web_ip = ip_on(&d, "web", "front");

    // By name, by alias, by short id; and over HTTP.
    for name in ["web", "www", &web[..12]] {
        assert_eq!(lookup(&d, "client", name), vec![web_ip.clone()], "{name}");
    }
    let (page, err, code) = exec(&d, "client", GET_WWW);
    assert_eq!((page.trim(), code), (&web[..12], 0), "{err}");
    // The embedded server is the only nameserver, reached at port 53 of 127.0.0.11.
    let (resolv, _, _) = exec(&d, "client", "cat /etc/resolv.conf");
    assert!(resolv.contains("nameserver 127.0.0.11\n"), "{resolv}");
    assert!(resolv.contains("ndots:0"), "{resolv}");

    // Another network: the name means nothing there, and the address cannot be reached.
    assert_eq!(lookup(&d, "outsider", "web"), Vec::<String>::new());
    let (_, _, code) = exec(&d, "outsider", &format!("ping -c1 -W1 {web_ip}"));
    assert_ne!(code, 0, "isolation between networks");

    // Connected to front as well, the outsider gets eth1 and the names; disconnected, not.
    d.ok(&[
        "network", "connect", "--alias", "guest", "front", "outsider",
    ]);
    let (links, _, _) = exec(&d, "outsider", "ls /sys/class/net");
    assert_eq!(links, "eth0\neth1\nlo\n");
    let (_, err, code) = exec(&d, "outsider", &GET_WWW.replace("www", "web"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        lookup(&d, "client", "guest"),
        [ip_on(&d, "outsider", "front")]
    );
    let members = d.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}} {{end}}",
        "front",
    ]);
    let mut members: Vec<&str> = members.split_whitespace().collect();
    members.sort();
    assert_eq!(members, ["client", "outsider", "web"]);
    d.ok(&["network", "disconnect", "front", "outsider"]);
    let (links, _, _) = exec(&d, "outsider", "ls /sys/class/net");
    assert_eq!(links, "eth0\nlo\n");
    assert_eq!(lookup(&d, "client", "guest"), Vec::<String>::new());

    // --mac-address, --hostname and --domainname: the interface, the UTS namespace, /etc/hosts.
    start(
        &d,
        "front",
        "named",
        &[
            "--mac-address",
            "92:d0:c6:0a:29:33",
            "--hostname",
            "box",
            "--domainname",
            "example.test",
        ],
        &["sleep", "300"],
    );
    let (mac, _, _) = exec(&d, "named", "cat /sys/class/net/eth0/address");
    assert_eq!(mac, "92:d0:c6:0a:29:33\n");
    let (names, _, _) = exec(
        &d,
        "named",
        "hostname; cat /proc/sys/kernel/domainname; tail -1 /etc/hosts",
    );
    let ip = ip_on(&d, "named", "front");
    assert_eq!(
        names,
        format!("box\nexample.test\n{ip}\tbox.example.test box\n")
    );
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.Networks.front.MacAddress}}",
            "named"
        ]),
        "92:d0:c6:0a:29:33\n"
    );
    let (_, err, code) = text(&d.berth(&[
        "run",
        "--rm",
        "--network",
        "front",
        "--mac-address",
        "92:d0:c6:0a:29",
        "busybox",
        "true",
    ]));
    assert_eq!(code, 125);
    assert!(err.contains("92:d0:c6:0a:29"), "{err}");

    // Several containers behind one alias: every address is answered.
    start(
        &d,
        "front",
        "p1",
        &["--network-alias", "pool"],
        &["sleep", "300"],
    );
    start(
        &d,
        "front",
        "p2",
        &["--network-alias", "pool"],
        &["sleep", "300"],
    );
    let mut want = vec![ip_on(&d, "p1", "front"), ip_on(&d, "p2", "front")];
    want.sort();
    assert_eq!(lookup(&d, "client", "pool"), want);

    // A network in use is not removed; the predefined ones never are.
    let (_, err, code) = text(&d.berth(&["network", "rm", "front"]));
    assert_eq!(code, 1);
    assert!(err.contains("has active endpoints"), "{err}");
    let (_, err, _) = text(&d.berth(&["network", "rm", "bridge"]));
    assert!(
        err.contains("bridge is a pre-defined network and cannot be removed"),
        "{err}"
    );

    // The docker CLI sees the same networks and runs on them.
    if let Some(mut docker) = d.docker() {
        let out = docker
            .args([
                "run",
                "--rm",
                "--network",
                "front",
                "--dns",
                "127.0.0.1",
                "busybox",
                "ping",
                "-c1",
                "-W2",
                "web",
            ])
            .output()
            .unwrap();
        let (stdout, stderr, code) = text(&out);
        assert_eq!(code, 0, "{stdout}{stderr}");
    }

    d.ok(&["rm", "-f", "web", "client", "outsider", "p1", "p2", "named"]);
    assert_eq!(d.ok(&["network", "rm", "front", "back"]), "front\nback\n");
    assert_eq!(d.ok(&["network", "ls", "-q", "-f", "type=custom"]), "");
}

#[test]
fn internal_networks_names_after_a_crash_and_builds() {
    let mut d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&["network", "create", "--internal", "vault"]);
    // Nothing is published from an internal network, as in Docker.
    start(
        &d,
        "vault",
        "safe",
        &["-p", "127.0.0.1::80"],
        &["sleep", "300"],
    );
    assert_eq!(d.ok(&["port", "safe"]), "");
    start(&d, "vault", "asker", &[], &["sleep", "300"]);
    // No way out: no default route.
    let (routes, _, _) = exec(&d, "safe", "ip route");
    assert!(!routes.contains("default"), "{routes}");
    let safe_ip = ip_on(&d, "safe", "vault");
    assert_eq!(lookup(&d, "asker", "safe"), vec![safe_ip.clone()]);

    // The daemon dies; the containers live on, and their names answer again.
    d.kill9_and_restart(Duration::from_millis(100));
    common::wait_until("the names to answer again", || {
        lookup(&d, "asker", "safe") == [safe_ip.clone()]
    });

    // A build's RUN steps on a user network see its names.
    let ctx = d.dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN nslookup safe 127.0.0.11 | grep -A1 'Name:' > /found\n",
    )
    .unwrap();
    d.ok(&[
        "build",
        "-q",
        "-t",
        "seen",
        "--network",
        "vault",
        ctx.to_str().unwrap(),
    ]);
    let found = d.ok(&["run", "--rm", "seen", "cat", "/found"]);
    assert!(found.contains(&safe_ip), "{found}");
    let (_, err, code) = text(&d.berth(&[
        "build",
        "--no-cache",
        "--network",
        "nowhere",
        ctx.to_str().unwrap(),
    ]));
    assert_ne!(code, 0);
    assert!(err.contains("network nowhere not found"), "{err}");

    d.ok(&["rm", "-f", "safe", "asker"]);
    assert_eq!(
        d.ok(&["network", "prune", "-f"]),
        "Deleted Networks:\nvault\n\n"
    );
}

/// `{{json}}` of a field of a container's endpoint on `net`.
fn endpoint_json(d: &common::TestDaemon, name: &str, net: &str, field: &str) -> String {
    d.ok(&[
        "inspect",
        "-f",
        &format!("{{{{json (index .NetworkSettings.Networks \"{net}\").{field}}}}}"),
        name,
    ])
    .trim()
    .to_string()
}

#[test]
fn links_on_a_user_network_are_names_for_the_linking_container_only() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&["network", "create", "linked"]);
    // The link is made before its target exists: it is looked up when asked.
    start(
        &d,
        "linked",
        "asker",
        &["--link", "target:db"],
        &["sleep", "300"],
    );
    assert_eq!(
        endpoint_json(&d, "asker", "linked", "Links"),
        r#"["target:db"]"#
    );
    assert_eq!(lookup(&d, "asker", "db"), Vec::<String>::new());
    start(&d, "linked", "target", &[], &["sleep", "300"]);
    start(&d, "linked", "other", &[], &["sleep", "300"]);
    let target_ip = ip_on(&d, "target", "linked");
    assert_eq!(lookup(&d, "asker", "db"), vec![target_ip.clone()]);
    let (out, _, code) = exec(&d, "asker", "ping -c1 -W2 db");
    assert_eq!(code, 0, "{out}");
    // No one else has the alias.
    let (out, _, code) = exec(&d, "other", "nslookup db 127.0.0.11");
    assert_ne!(code, 0, "{out}");
    assert_eq!(lookup(&d, "other", "db"), Vec::<String>::new());

    // `network connect --link`: the other container's own alias for the target.
    d.ok(&["network", "disconnect", "linked", "other"]);
    d.ok(&[
        "network",
        "connect",
        "--link",
        "target:t2",
        "linked",
        "other",
    ]);
    assert_eq!(
        endpoint_json(&d, "other", "linked", "Links"),
        r#"["target:t2"]"#
    );
    assert_eq!(lookup(&d, "other", "t2"), vec![target_ip]);
    assert_eq!(lookup(&d, "asker", "t2"), Vec::<String>::new());

    // On the default bridge a link in the endpoint is refused, as Docker refuses it.
    let (_, err, code) = text(&d.berth(&[
        "network",
        "connect",
        "--link",
        "target:t3",
        "bridge",
        "other",
    ]));
    assert_ne!(code, 0);
    assert!(err.contains("user-defined networks"), "{err}");

    d.ok(&["rm", "-f", "asker", "target", "other"]);
    d.ok(&["network", "rm", "linked"]);
}

#[test]
fn a_mac_given_at_connect_shows_at_once_and_is_used_at_start() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&["network", "create", "macnet"]);
    let id = d
        .ok(&[
            "create",
            "--name",
            "macc",
            "--network",
            "macnet",
            "--dns",
            "127.0.0.1",
            "busybox",
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    d.ok(&["network", "create", "second"]);
    // The docker CLI has no flag for it; docker-py sends EndpointConfig.MacAddress.
    let body = r#"{"Container":"macc","EndpointConfig":{"MacAddress":"02:42:ac:11:00:02"}}"#;
    let out = common::run_ok(std::process::Command::new("curl").args([
        "-sS",
        "--fail",
        "--unix-socket",
        d.socket.to_str().unwrap(),
        "-H",
        "Content-Type: application/json",
        "-d",
        body,
        "http://localhost/networks/second/connect",
    ]));
    assert_eq!(out, "");
    assert_eq!(
        endpoint_json(&d, "macc", "second", "MacAddress"),
        r#""02:42:ac:11:00:02""#
    );
    d.ok(&["start", &id]);
    assert_eq!(
        endpoint_json(&d, "macc", "second", "MacAddress"),
        r#""02:42:ac:11:00:02""#
    );
    let (link, _, _) = exec(&d, "macc", "cat /sys/class/net/eth1/address");
    assert_eq!(link.trim(), "02:42:ac:11:00:02");
    d.ok(&["rm", "-f", "macc"]);
    d.ok(&["network", "rm", "macnet", "second"]);
}
