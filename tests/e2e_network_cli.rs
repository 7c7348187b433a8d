//! e2e: `berth network …` and the networking flags of `berth run` against a real Docker
//! engine, and berth's output beside the docker CLI's for the same command on the same engine.
//! The engine is a private dockerd (its own data root, exec root, socket and pid file, inside
//! `unshare --net` so its bridges and addresses are made in a namespace of its own and the
//! host's are never touched); without dockerd the test says so and skips.
//!
//! Everything speaks through `Engine`, which knows only a socket, so the same checks also run
//! against a private berth daemon (`common::TestDaemon`): berth's daemon must answer as
//! Docker's does.

mod common;

use common::dockerd::PrivateDocker;
use common::text;
use std::io::Write;
use std::process::{Command, Output, Stdio};

/// An engine reached through one socket, by berth's CLI and (when installed) docker's.
struct Engine {
    host: String,
    config: std::path::PathBuf,
}

impl Engine {
    fn new(host: &str, dir: &std::path::Path) -> Engine {
        Engine {
            host: host.to_string(),
            config: dir.join("cli-config"),
        }
    }

    fn berth_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(common::berth_bin());
        c.arg("-H").arg(&self.host).args(args);
        c.env("BERTH_CONFIG", &self.config);
        c.stdin(Stdio::null());
        c
    }

    fn berth(&self, args: &[&str]) -> Output {
        self.berth_cmd(args).output().unwrap()
    }

    fn berth_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut c = self.berth_cmd(args);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let (out, err, code) = text(&self.berth(args));
        assert_eq!(code, 0, "berth {args:?} failed:\n{out}\n{err}");
        out
    }

    fn docker(&self, args: &[&str]) -> Option<Output> {
        if !common::installed("docker") {
            return None;
        }
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", &self.config)
            .env_remove("DOCKER_CONTEXT")
            .stdin(Stdio::null())
            .args(args);
        Some(c.output().unwrap())
    }

    fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args).expect("the docker CLI");
        let (o, e, c) = text(&out);
        assert_eq!(c, 0, "docker {args:?} failed:\n{o}\n{e}");
        o
    }

    /// berth and docker given the same arguments print the same and exit the same.
    fn same(&self, args: &[&str]) -> String {
        let ours = text(&self.berth(args));
        let Some(theirs) = self.docker(args) else {
            return ours.0;
        };
        let theirs = text(&theirs);
        assert_eq!(ours.0, theirs.0, "stdout of {args:?}");
        assert_eq!(
            ours.1.trim_start_matches("berth: "),
            theirs.1,
            "stderr of {args:?}"
        );
        assert_eq!(ours.2, theirs.2, "exit code of {args:?}");
        ours.0
    }
}

enum Backing {
    Docker(PrivateDocker),
    Berth(Box<common::TestDaemon>),
}

/// The same checks against Docker itself (the reference) and against berth's daemon.
#[test]
fn network_commands_answer_as_dockers_do() {
    let Some(d) = PrivateDocker::start("netcli", &[]) else {
        return;
    };
    let e = Engine::new(&d.host(), d.dir.path());
    network_commands(Backing::Docker(d), e);
}

#[test]
fn network_commands_answer_the_same_from_berth() {
    let Some(d) = common::TestDaemon::start() else {
        eprintln!("SKIPPED: not root (run `just e2e` in the Vagrant VM)");
        return;
    };
    let e = Engine::new(&d.host(), d.dir.path());
    network_commands(Backing::Berth(Box::new(d)), e);
}

fn network_commands(backing: Backing, e: Engine) {
    let on_berth = matches!(backing, Backing::Berth(_));
    // What the test does beside the commands under test: through docker's CLI on Docker,
    // through berth's own on berth (where the docker CLI may be absent).
    let helper_ok = |args: &[&str]| {
        if on_berth {
            e.ok(args)
        } else {
            e.docker_ok(args)
        }
    };
    let log = || match &backing {
        Backing::Docker(d) => d.log(),
        Backing::Berth(d) => d.log(),
    };

    // create: the id, and docker's own errors before the daemon is asked.
    let id = e.ok(&[
        "network",
        "create",
        "--subnet",
        "10.77.0.0/24",
        "--gateway",
        "10.77.0.254",
        "--ip-range",
        "10.77.0.32/27",
        "--aux-address",
        "printer=10.77.0.5",
        "--label",
        "team=net",
        "--label",
        "com.example.tier=front",
        "-o",
        "com.docker.network.bridge.name=brt77",
        "n1",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    e.ok(&[
        "network",
        "create",
        "--internal",
        "--label",
        "team=ops",
        "n2",
    ]);
    e.ok(&["network", "create", "n10"]);
    e.same(&["network", "create", "--gateway", "10.1.0.1", "bad"]);
    e.same(&[
        "network",
        "create",
        "--subnet",
        "10.1.0.0/16",
        "--gateway",
        "10.2.0.1",
        "bad",
    ]);
    e.same(&[
        "network",
        "create",
        "--subnet",
        "10.1.0.0/16",
        "--subnet",
        "10.1.2.0/24",
        "bad",
    ]);
    // A duplicate name is the daemon's to refuse (docker 20.10 only when asked: CheckDuplicate).
    let dup = e.same(&["network", "create", "n1"]);
    assert_eq!(dup, "");

    // ls: the table, -q, --no-trunc, filters and formats, as the docker CLI prints them.
    let table = e.same(&["network", "ls"]);
    assert!(
        table.starts_with("NETWORK ID     NAME      DRIVER    SCOPE\n"),
        "{table}"
    );
    let names: Vec<&str> = table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert!(
        names.iter().position(|n| *n == "n2") < names.iter().position(|n| *n == "n10"),
        "natural order: n2 before n10\n{table}"
    );
    e.same(&["network", "ls", "-q"]);
    e.same(&["network", "ls", "--no-trunc"]);
    let labelled = e.same(&["network", "ls", "-f", "label=team", "--format", "{{.Name}}"]);
    assert_eq!(labelled, "n1\nn2\n");
    e.same(&["network", "ls", "-f", "label=team=net", "-q"]);
    e.same(&["network", "ls", "-f", "type=custom", "-f", "driver=bridge"]);
    e.same(&["network", "ls", "-f", "name=n10", "--format", "json"]);
    e.same(&[
        "network",
        "ls",
        "--format",
        "table {{.Name}}\t{{.Driver}}\t{{.Internal}}\t{{.IPv6}}\t{{.Label \"com.example.tier\"}}",
    ]);
    // One label only: docker joins them in Go's map order, which is random.
    e.same(&[
        "network",
        "ls",
        "-f",
        "label=team=ops",
        "--format",
        "{{.ID}} {{.Labels}} {{.CreatedAt}}",
    ]);
    let labels = e.ok(&[
        "network",
        "ls",
        "-f",
        "label=com.example.tier",
        "--format",
        "{{.Labels}}",
    ]);
    assert_eq!(
        labels,
        "com.example.tier=front,team=net
"
    );
    e.same(&["network", "ls", "-f", "nosuch=1"]);

    // inspect: the daemon's JSON indented as docker does it, templates, and a missing one.
    let inspected = e.same(&["network", "inspect", "n1", "n2"]);
    assert!(
        inspected.contains("\"Subnet\": \"10.77.0.0/24\""),
        "{inspected}"
    );
    assert!(
        inspected.contains("\"printer\": \"10.77.0.5\""),
        "{inspected}"
    );
    e.same(&["network", "inspect", "--format", "json", "n1"]);
    let f = e.same(&[
        "network",
        "inspect",
        "-f",
        "{{.Name}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{.IPRange}}{{end}} {{json .Labels}} {{index .Options \"com.docker.network.bridge.name\"}}",
        "n1",
    ]);
    assert_eq!(
        f,
        "n1 10.77.0.0/24 10.77.0.254 10.77.0.32/27 {\"com.example.tier\":\"front\",\"team\":\"net\"} brt77\n"
    );
    let missing = e.berth(&["network", "inspect", "-f", "{{.Name}}", "n1", "nosuch"]);
    let (out, err, code) = text(&missing);
    assert_eq!((out.as_str(), code), ("n1\n", 1), "{err}");
    assert!(err.contains("nosuch"), "{err}");
    e.same(&["network", "inspect", "-f", "{{.Name}}", "n1", "nosuch"]);
    e.same(&["network", "inspect", "nosuch"]);
    // The template engine's own words differ from Go's; the prefix and the code do not.
    let (out, err, code) = text(&e.berth(&["network", "inspect", "-f", "{{.Name", "n1"]));
    assert_eq!((out.as_str(), code), ("", 64), "{err}");
    assert!(err.starts_with("template parsing error: "), "{err}");
    if let Some(d) = e.docker(&["network", "inspect", "-f", "{{.Name", "n1"]) {
        assert_eq!(d.status.code(), Some(64));
    }

    // connect and disconnect a container.
    let fixture = common::busybox_archive();
    helper_ok(&["load", "-i", fixture.to_str().unwrap()]);
    e.ok(&["create", "--name", "c1", "busybox", "sleep", "300"]);
    helper_ok(&["start", "c1"]);
    e.ok(&[
        "network",
        "connect",
        "--alias",
        "db",
        "--alias",
        "pg",
        "--ip",
        "10.77.0.50",
        "n1",
        "c1",
    ]);
    let ep = e.ok(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings.Networks.n1.Aliases}} {{.NetworkSettings.Networks.n1.IPAddress}} {{.NetworkSettings.Networks.n1.IPAMConfig.IPv4Address}}",
        "c1",
    ]);
    assert!(ep.starts_with("[\"db\",\"pg\""), "{ep}");
    assert!(ep.trim_end().ends_with(" 10.77.0.50 10.77.0.50"), "{ep}");
    let members = e.same(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}",
        "n1",
    ]);
    assert_eq!(members, "c1 10.77.0.50/24\n");
    // In use: the daemon refuses, and the other network named still goes.
    let (out, err, code) = text(&e.berth(&["network", "rm", "n1", "n10"]));
    assert_eq!((out.as_str(), code), ("n10\n", 1), "{err}");
    assert!(err.starts_with("Error response from daemon: "), "{err}");
    e.ok(&["network", "disconnect", "n1", "c1"]);
    let members = e.ok(&["network", "inspect", "-f", "{{len .Containers}}", "n1"]);
    assert_eq!(members, "0\n");
    e.same(&["network", "disconnect", "n1", "c1"]);
    e.ok(&["network", "connect", "n1", "c1"]);
    e.ok(&["network", "disconnect", "-f", "n1", "c1"]);

    // run with the networking flags: the endpoint and the DNS settings as docker made them.
    let mut run = vec![
        "run",
        "-d",
        "--name",
        "r1",
        "--network",
        "n1",
        "--network-alias",
        "web",
        "--ip",
        "10.77.0.60",
        "--dns",
        "10.77.0.53",
        "--dns-search",
        "example.com",
        "--dns-option",
        "ndots:2",
        "--expose",
        "8080",
        "--expose",
        "9000-9001/udp",
        "--domainname",
        "example.com",
    ];
    // On a user network a link is a DNS alias for this container; Docker takes it, so does
    // berth.
    run.extend(["--link", "c1:peer"]);
    run.extend(["busybox", "sleep", "300"]);
    e.ok(&run);
    let ep = e.ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.NetworkMode}} {{json .NetworkSettings.Networks.n1.Aliases}} {{.NetworkSettings.Networks.n1.IPAMConfig.IPv4Address}} {{.NetworkSettings.Networks.n1.IPAddress}}",
        "r1",
    ]);
    assert!(ep.starts_with("n1 [\"web\""), "{ep}");
    assert!(ep.trim_end().ends_with("10.77.0.60 10.77.0.60"), "{ep}");
    let cfg = e.ok(&[
        "inspect",
        "-f",
        "{{json .HostConfig.Dns}} {{json .HostConfig.DnsSearch}} {{json .HostConfig.DnsOptions}} {{json .Config.ExposedPorts}}",
        "r1",
    ]);
    assert_eq!(
        cfg,
        "[\"10.77.0.53\"] [\"example.com\"] [\"ndots:2\"] {\"8080/tcp\":{},\"9000/udp\":{},\"9001/udp\":{}}\n",
        "{}",
        log()
    );
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.Config.Domainname}}", "r1"]),
        "example.com\n"
    );
    let links = e.ok(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings.Networks.n1.Links}}",
        "r1",
    ]);
    assert_eq!(links, "[\"c1:peer\"]\n");
    let resolv = helper_ok(&["exec", "r1", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("search example.com"), "{resolv}");
    // docker's client-side refusals on run.
    let (_, err, code) = text(&e.berth(&["run", "--network-alias", "x", "busybox", "true"]));
    assert_eq!(code, 125);
    assert!(
        err.contains("network-scoped aliases are only supported for user-defined networks"),
        "{err}"
    );
    let (_, err, code) = text(&e.berth(&["run", "--dns", "nope", "busybox", "true"]));
    assert_eq!(code, 125);
    assert!(
        err.contains("IP address is not correctly formatted: nope"),
        "{err}"
    );

    // IPv6 as Docker 20.10 has it: a v6 pool beside the v4 one, the addresses in inspect,
    // traffic between two containers, and --ip6 refused where there is no v6 subnet.
    e.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "10.78.0.0/24",
        "--gateway",
        "10.78.0.1",
        "--subnet",
        "fd00:b6:77::/64",
        "six",
    ]);
    let shown = e.ok(&[
        "network",
        "inspect",
        "-f",
        "{{.EnableIPv6}} {{json .IPAM.Config}}",
        "six",
    ]);
    // The v6 pool as asked for: Docker shows no gateway it was not given (the bridge still
    // takes the subnet's first address).
    assert_eq!(
        shown,
        "true [{\"Gateway\":\"10.78.0.1\",\"Subnet\":\"10.78.0.0/24\"},{\"Subnet\":\"fd00:b6:77::/64\"}]\n"
    );
    for (name, ip6) in [("v6a", Some("fd00:b6:77::f00d")), ("v6b", None)] {
        let mut args = vec!["run", "-d", "--name", name, "--network", "six"];
        if let Some(ip6) = ip6 {
            args.extend(["--ip6", ip6]);
        }
        args.extend(["busybox", "sleep", "300"]);
        e.ok(&args);
    }
    let eps = e.ok(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}} {{.GlobalIPv6PrefixLen}} {{.IPv6Gateway}} {{json .IPAMConfig}}{{end}}",
        "v6a",
        "v6b",
    ]);
    assert_eq!(
        eps,
        "fd00:b6:77::f00d 64 fd00:b6:77::1 {\"IPv6Address\":\"fd00:b6:77::f00d\"}\n\
         fd00:b6:77::2 64 fd00:b6:77::1 null\n"
    );
    let members = e.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}} {{.IPv4Address}} {{.IPv6Address}};{{end}}",
        "six",
    ]);
    let mut members: Vec<&str> = members.trim().split_terminator(';').collect();
    members.sort();
    assert_eq!(
        members,
        [
            "v6a 10.78.0.2/24 fd00:b6:77::f00d/64",
            "v6b 10.78.0.3/24 fd00:b6:77::2/64"
        ]
    );
    let ping = helper_ok(&["exec", "v6b", "ping6", "-c1", "-W3", "fd00:b6:77::f00d"]);
    assert!(ping.contains("1 packets received"), "{ping}");
    let (_, err, code) = text(&e.berth(&[
        "run",
        "--rm",
        "--network",
        "n1",
        "--ip6",
        "fd00:b6:77::9",
        "busybox",
        "true",
    ]));
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("Error response from daemon: user specified IP address is supported only when connecting to networks with user configured subnets"),
        "{err}"
    );
    let (_, err, code) = text(&e.berth(&["network", "create", "--ipv6", "nopool"]));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("Error response from daemon: could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network"),
        "{err}"
    );
    helper_ok(&["rm", "-f", "v6a", "v6b"]);
    e.ok(&["network", "rm", "six"]);

    // rm: names as they go, -f quiet about a missing one, docker's code when one fails.
    e.same(&["network", "rm", "nosuch"]);
    e.same(&["network", "rm", "-f", "nosuch"]);
    e.ok(&["network", "create", "gone1"]);
    e.ok(&["network", "create", "gone2"]);
    assert_eq!(
        e.ok(&["network", "remove", "gone1", "gone2"]),
        "gone1\ngone2\n"
    );

    // prune: the prompt (a "no" removes nothing), filters, and the report.
    let (out, _, code) = text(&e.berth_with_stdin(&["network", "prune"], "n\n"));
    assert_eq!(
        (out.as_str(), code),
        (
            "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ",
            0
        )
    );
    assert!(e.ok(&["network", "ls", "-q", "-f", "name=n2"]).len() > 1);
    let pruned = e.ok(&["network", "prune", "-f", "--filter", "label=team=ops"]);
    assert_eq!(pruned, "Deleted Networks:\nn2\n\n");
    let pruned = e.ok(&["network", "prune", "-f", "--filter", "until=1h"]);
    assert_eq!(pruned, "", "nothing is an hour old");
    e.ok(&["network", "create", "n11"]);
    let (out, _, code) = text(&e.berth_with_stdin(&["network", "prune"], "y\n"));
    assert_eq!(code, 0);
    assert!(out.ends_with("[y/N] Deleted Networks:\nn11\n\n"), "{out}");
    let left = e.same(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(left.contains("n1\n"), "n1 is in use by r1: {left}");

    helper_ok(&["rm", "-f", "r1", "c1"]);
    e.ok(&["network", "rm", "n1"]);
}
