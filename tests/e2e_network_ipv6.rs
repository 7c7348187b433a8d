//! e2e: IPv6 on a user network, as Docker 20.10 has it: `network create --ipv6` with an IPv6
//! subnet keeps its IPv4 subnet too; the bridge gets the v6 gateway; a container gets the v6
//! address it asks for (`--ip6`) or the next free one, a default v6 route via the gateway,
//! and reaches another container over IPv6, by address and through the embedded DNS's AAAA
//! answer; inspect shows it in Docker's shape; `--ip6` on a network without an IPv6 subnet is
//! refused. Traffic goes only to the test's containers.

mod common;

use common::text;

/// A ULA /64 of this daemon's own: the third octet of its claimed user subnet block makes it
/// unique among the test daemons alive on the machine.
fn v6_prefix(d: &common::TestDaemon) -> String {
    let third = d.user_subnets.split('.').nth(2).expect("a.b.c.d/n");
    format!("fd00:b6:{third}::")
}

fn start(d: &common::TestDaemon, net: &str, name: &str, extra: &[&str]) {
    common::run_on(d, net, name, extra, &["sleep", "300"]);
}

fn exec(d: &common::TestDaemon, name: &str, script: &str) -> (String, String, i32) {
    text(&d.berth(&["exec", name, "sh", "-c", script]))
}

fn net_field(d: &common::TestDaemon, name: &str, net: &str, field: &str) -> String {
    d.ok(&[
        "inspect",
        "-f",
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").{field}}}}}"),
        name,
    ])
    .trim()
    .to_string()
}

#[test]
fn containers_on_an_ipv6_network_get_v6_addresses_and_reach_each_other() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let p = v6_prefix(&d);
    let subnet = format!("{p}/64");
    let id = d
        .ok(&["network", "create", "--ipv6", "--subnet", &subnet, "six"])
        .trim()
        .to_string();

    // Both pools in inspect: the IPv4 one from the daemon's pools, the IPv6 one as asked
    // for (no gateway shown, as Docker shows none); the bridge takes the subnet's first
    // address as the gateway.
    let shown = d.ok(&[
        "network",
        "inspect",
        "-f",
        "{{.EnableIPv6}} {{range .IPAM.Config}}{{json .}};{{end}}",
        "six",
    ]);
    let v4_block = d.user_subnets.trim_end_matches(".0/24");
    assert!(shown.starts_with("true "), "{shown}");
    assert!(shown.contains(v4_block), "{shown}");
    assert!(
        shown.contains(&format!("{{\"Subnet\":\"{subnet}\"}};")),
        "{shown}"
    );
    let bridge = format!("br-{}", &id[..12]);
    let addrs = common::run_ok(
        std::process::Command::new("ip").args(["-6", "addr", "show", "dev", &bridge]),
    );
    assert!(addrs.contains(&format!("{p}1/64")), "{addrs}");

    // A fixed address and an automatic one (the first after the gateway).
    let fixed = format!("{p}f00d");
    start(&d, "six", "fixed", &["--ip6", &fixed]);
    start(&d, "six", "auto", &[]);
    assert_eq!(net_field(&d, "fixed", "six", "GlobalIPv6Address"), fixed);
    assert_eq!(net_field(&d, "fixed", "six", "GlobalIPv6PrefixLen"), "64");
    assert_eq!(
        net_field(&d, "fixed", "six", "IPv6Gateway"),
        format!("{p}1")
    );
    assert_eq!(
        net_field(&d, "fixed", "six", "IPAMConfig.IPv6Address"),
        fixed
    );
    let auto = format!("{p}2");
    assert_eq!(net_field(&d, "auto", "six", "GlobalIPv6Address"), auto);
    // The IPv4 side is as on any network.
    assert!(net_field(&d, "auto", "six", "IPAddress").starts_with(v4_block));

    // Inside: the address on eth0, the default v6 route, and traffic both ways.
    let (inside, _, _) = exec(&d, "auto", "ip -6 addr show dev eth0; ip -6 route");
    assert!(inside.contains(&format!("{auto}/64")), "{inside}");
    assert!(
        inside.contains(&format!("default via {p}1 dev eth0")),
        "{inside}"
    );
    let (out, err, code) = exec(&d, "auto", &format!("ping6 -c1 -W3 {fixed}"));
    assert_eq!(code, 0, "{out}{err}");
    let (out, err, code) = exec(&d, "fixed", &format!("ping6 -c1 -W3 {auto}"));
    assert_eq!(code, 0, "{out}{err}");

    // The embedded DNS answers AAAA with the v6 address, beside the A record.
    let (answer, err, code) = exec(&d, "auto", "nslookup fixed 127.0.0.11");
    assert_eq!(code, 0, "{answer}{err}");
    assert!(answer.contains(&format!("Address: {fixed}")), "{answer}");
    let fixed_v4 = net_field(&d, "fixed", "six", "IPAddress");
    assert!(answer.contains(&format!("Address: {fixed_v4}")), "{answer}");

    // network inspect lists each container's IPv6 address with its prefix.
    let containers = d.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}}={{.IPv6Address}} {{end}}",
        "six",
    ]);
    assert!(
        containers.contains(&format!("fixed={fixed}/64")),
        "{containers}"
    );

    // The address asked for is taken; stopped, it is free again, and so is the automatic one.
    let (_, err, code) = text(&d.berth(&[
        "run",
        "--rm",
        "--network",
        "six",
        "--ip6",
        &fixed,
        "busybox",
        "true",
    ]));
    assert_ne!(code, 0);
    assert!(err.contains("already allocated"), "{err}");
    d.ok(&["rm", "-f", "auto"]);
    start(&d, "six", "again", &[]);
    assert_eq!(net_field(&d, "again", "six", "GlobalIPv6Address"), auto);

    // --ip6 on a network without an IPv6 subnet is refused, as Docker refuses it; outside
    // the subnet, too.
    d.ok(&["network", "create", "plain"]);
    let (_, err, code) =
        text(&d.berth(&["create", "--network", "plain", "--ip6", &fixed, "busybox"]));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("user specified IP address is supported only when connecting to networks with user configured subnets"),
        "{err}"
    );
    let (_, err, code) = text(&d.berth(&[
        "create",
        "--network",
        "six",
        "--ip6",
        "fd00:dead::5",
        "busybox",
    ]));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("no configured subnet contains IP address"),
        "{err}"
    );
    // --ipv6 without an IPv6 subnet: Docker has no default IPv6 pool either.
    let (_, err, code) = text(&d.berth(&["network", "create", "--ipv6", "nopool"]));
    assert_ne!(code, 0);
    assert!(err.contains("IPv6 address pool"), "{err}");

    // A pool in use is not given to a second IPv6 network; without --ipv6 a subnet is only
    // recorded (Docker 20.10 allocates nothing), so it may repeat one.
    let (_, err, code) =
        text(&d.berth(&["network", "create", "--ipv6", "--subnet", &subnet, "twin"]));
    assert_ne!(code, 0);
    assert!(err.contains("Pool overlaps"), "{err}");
    d.ok(&["network", "create", "--subnet", &subnet, "quiet"]);
    assert_eq!(
        d.ok(&["network", "inspect", "-f", "{{.EnableIPv6}}", "quiet"]),
        "false\n"
    );

    d.ok(&["rm", "-f", "fixed", "again"]);
    assert_eq!(
        d.ok(&["network", "rm", "six", "plain", "quiet"]),
        "six\nplain\nquiet\n"
    );
    let gone = text(
        &std::process::Command::new("ip")
            .args(["link", "show", &bridge])
            .output()
            .unwrap(),
    );
    assert_ne!(gone.2, 0, "the bridge is removed with the network");
}
