//! e2e: `--network host|none`, `--add-host`, for `run` and for a build's RUN steps, through
//! berth's CLI and the docker CLI. Traffic goes only to 127.0.0.1 and to the test's own
//! containers.

mod common;

use common::text;
use std::process::Command;

/// The interfaces a container sees, from its /proc/net/dev.
fn interfaces(d: &common::TestDaemon, network: &str) -> Vec<String> {
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        network,
        "busybox",
        "sh",
        "-c",
        "tail -n +3 /proc/net/dev | cut -d: -f1",
    ]);
    let mut names: Vec<String> = out.split_whitespace().map(str::to_string).collect();
    names.sort();
    names
}

fn gateway(d: &common::TestDaemon) -> String {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "dev", &d.bridge])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let cidr = text
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .unwrap_or_else(|| panic!("no address on {}: {text}", d.bridge));
    cidr.split('/').next().unwrap().to_string()
}

#[test]
fn host_and_none_networks() {
    let d = daemon_or_skip!();
    d.load_busybox();

    // none: a namespace with loopback alone, and loopback up.
    assert_eq!(interfaces(&d, "none"), ["lo"]);
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "ping",
            "-c1",
            "-W2",
            "127.0.0.1"
        ])
        .lines()
        .find(|l| l.contains("packets"))
        .unwrap_or_default(),
        "1 packets transmitted, 1 packets received, 0% packet loss"
    );
    let id = d.ok(&["create", "--network", "none", "busybox", "true"]);
    let id = id.trim();
    let networks = d.ok(&["inspect", "-f", "{{json .NetworkSettings.Networks}}", id]);
    assert!(networks.starts_with("{\"none\":"), "{networks}");
    d.ok(&["rm", id]);

    // host: the host's interfaces (this test's bridge among them) and the host's name.
    assert!(interfaces(&d, "host").contains(&d.bridge));
    let host_name = nix::unistd::gethostname().unwrap();
    assert_eq!(
        d.ok(&["run", "--rm", "--network", "host", "busybox", "hostname"])
            .trim(),
        host_name.to_string_lossy()
    );
    // A server in the host's namespace answers on the host's loopback, with no -p.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let web = d.ok(&[
        "run",
        "-d",
        "--network",
        "host",
        "busybox",
        "sh",
        "-c",
        &format!(
            "mkdir -p /www && echo on-the-host > /www/index.html && httpd -f -p 127.0.0.1:{port} -h /www"
        ),
    ]);
    assert!(common::http_get(&format!("127.0.0.1:{port}")).contains("on-the-host"));
    d.ok(&["rm", "-f", web.trim()]);

    // -p means nothing on the host's network: Docker's warning, and the container runs.
    let (_, stderr, code) = text(&d.berth(&[
        "run",
        "--rm",
        "--network",
        "host",
        "-p",
        "8080:80",
        "busybox",
        "true",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("WARNING: Published ports are discarded when using host network mode"),
        "{stderr}"
    );

    // A network berth does not have is Docker's 404, and nothing is left behind.
    let (_, stderr, code) = text(&d.berth(&["run", "--network", "nope", "busybox", "true"]));
    assert_eq!(code, 125);
    assert!(stderr.contains("network nope not found"), "{stderr}");
    assert_eq!(d.ok(&["ps", "-aq"]), "");

    // The docker CLI asks for the same modes the same way.
    if let Some(mut docker) = d.docker() {
        let out = docker
            .args([
                "run",
                "--rm",
                "--net=none",
                "busybox",
                "cat",
                "/proc/net/dev",
            ])
            .output()
            .unwrap();
        let (stdout, stderr, code) = text(&out);
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stdout.contains("lo:") && !stdout.contains("eth0"),
            "{stdout}"
        );
    }
}

#[test]
fn extra_hosts_in_run_and_build() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let gw = gateway(&d);
    let hosts = d.ok(&[
        "run",
        "--rm",
        "--add-host",
        "db:10.0.0.5",
        "--add-host",
        "gw=host-gateway",
        "busybox",
        "cat",
        "/etc/hosts",
    ]);
    let lines: Vec<&str> = hosts.lines().collect();
    // Loopback names, the added entries in order, then the container's own address.
    assert_eq!(lines[0], "127.0.0.1\tlocalhost");
    assert_eq!(lines[6], "10.0.0.5\tdb", "{hosts}");
    assert_eq!(lines[7], format!("{gw}\tgw"), "{hosts}");
    assert_eq!(lines.len(), 9, "{hosts}");
    let (_, stderr, code) = text(&d.berth(&["run", "--add-host", "nocolon", "busybox", "true"]));
    assert_eq!(code, 125);
    assert!(
        stderr.contains("invalid argument \"nocolon\" for \"--add-host\" flag: bad format for add-host: \"nocolon\""),
        "{stderr}"
    );

    // A build's RUN steps get the same: extra hosts, the none and host networks.
    let ctx = d.dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN ping -c1 -W2 extrahost.test && grep extrahost /etc/hosts > /found\n",
    )
    .unwrap();
    let ctx_s = ctx.to_str().unwrap();
    d.ok(&[
        "build",
        "-t",
        "hosts",
        "--add-host",
        "extrahost.test:127.0.0.1",
        ctx_s,
    ]);
    assert_eq!(
        d.ok(&["run", "--rm", "hosts", "cat", "/found"]),
        "127.0.0.1\textrahost.test\n"
    );
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > /ifaces\n",
    )
    .unwrap();
    d.ok(&["build", "-t", "isolated", "--network", "none", ctx_s]);
    assert_eq!(d.ok(&["run", "--rm", "isolated", "cat", "/ifaces"]), "lo\n");
    d.ok(&[
        "build",
        "--no-cache",
        "-t",
        "onhost",
        "--network",
        "host",
        ctx_s,
    ]);
    let seen = d.ok(&["run", "--rm", "onhost", "cat", "/ifaces"]);
    assert!(seen.lines().any(|l| l == d.bridge), "{seen}");
}

#[test]
fn another_containers_network() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let base = d.ok(&[
        "run",
        "-d",
        "--name",
        "base",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && echo shared > /www/i && httpd -f -p 127.0.0.1:8080 -h /www",
    ]);
    let base = base.trim();
    // The joiner's loopback is base's: base's server answers on 127.0.0.1 inside it.
    let got = d.ok(&[
        "run",
        "--rm",
        "--network",
        "container:base",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do printf 'GET /i HTTP/1.0\\r\\n\\r\\n' | nc -w 2 127.0.0.1 8080 | tail -1 | grep . && break; sleep 0.2; done; hostname; ls /sys/class/net",
    ]);
    assert_eq!(got, format!("shared\n{}\neth0\nlo\n", &base[..12]));
    // It took nothing of base's with it.
    assert!(d.exec_root.join("netns").join(base).exists());
    let id = d.ok(&["create", "--network", "container:base", "busybox", "true"]);
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.NetworkMode}} {{len .NetworkSettings.Networks}}",
            id.trim()
        ]),
        "container:base 0\n"
    );
    d.ok(&["rm", id.trim()]);

    // What would configure a network of its own conflicts, in Docker's words.
    for (flags, want) in [
        (
            vec!["-p", "80:80"],
            "conflicting options: port publishing and the container type network mode",
        ),
        (
            vec!["--hostname", "x"],
            "conflicting options: hostname and the network mode",
        ),
        (
            vec!["--dns", "127.0.0.1"],
            "conflicting options: dns and the network mode",
        ),
    ] {
        let mut args = vec!["run", "--rm", "--network", "container:base"];
        args.extend(flags);
        args.extend(["busybox", "true"]);
        let (_, err, code) = text(&d.berth(&args));
        assert_eq!(code, 125, "{err}");
        assert!(err.contains(want), "{err}");
    }
    d.ok(&["create", "--name", "idle", "busybox", "true"]);
    let (_, err, code) = text(&d.berth(&["run", "--network", "container:idle", "busybox", "true"]));
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("cannot join network namespace of a non running container"),
        "{err}"
    );
    let (_, err, code) =
        text(&d.berth(&["run", "--network", "container:ghost", "busybox", "true"]));
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("No such container: ghost"), "{err}");
    d.ok(&["rm", "-f", "base", "idle"]);
    let leftover = d.ok(&["ps", "-aq"]);
    for id in leftover.lines() {
        d.ok(&["rm", "-f", id]);
    }
}

#[test]
fn legacy_links_on_the_default_bridge() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&[
        "run", "-d", "--name", "db", "-e", "FOO=1", "--expose", "5432", "busybox", "sleep", "300",
    ]);
    let db_ip = d.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "db"]);
    let db_ip = db_ip.trim();
    let out = d.ok(&[
        "run",
        "--name",
        "app",
        "--link",
        "db:store",
        "busybox",
        "sh",
        "-c",
        "env | grep ^STORE_ | sort; grep store /etc/hosts; ping -c1 -W2 store | head -1",
    ]);
    let db_id = d.ok(&["inspect", "-f", "{{.Id}}", "db"]);
    assert_eq!(
        out,
        format!(
            "STORE_ENV_FOO=1\nSTORE_NAME=/app/store\nSTORE_PORT=tcp://{db_ip}:5432\n\
             STORE_PORT_5432_TCP=tcp://{db_ip}:5432\nSTORE_PORT_5432_TCP_ADDR={db_ip}\n\
             STORE_PORT_5432_TCP_PORT=5432\nSTORE_PORT_5432_TCP_PROTO=tcp\n\
             {db_ip}\tstore {} db\nPING store ({db_ip}): 56 data bytes\n",
            &db_id[..12]
        )
    );
    assert_eq!(
        d.ok(&["inspect", "-f", "{{json .HostConfig.Links}}", "app"]),
        "[\"/db:/app/store\"]\n"
    );
    // The link goes on its own; both containers stay.
    let status = {
        use std::io::{Read, Write};
        let mut sock = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
        sock.write_all(b"DELETE /containers/app/store?link=1 HTTP/1.0\r\nHost: berth\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        sock.read_to_string(&mut answer).unwrap();
        answer
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(status, "204");
    assert_eq!(
        d.ok(&["inspect", "-f", "{{json .HostConfig.Links}}", "app"]),
        "[]\n"
    );
    let (_, err, code) = text(&d.berth(&["run", "--rm", "--link", "nobody:x", "busybox", "true"]));
    assert_eq!(code, 125);
    assert!(err.contains("could not get container for nobody"), "{err}");
    d.ok(&["stop", "-t", "0", "db"]);
    let (_, err, code) = text(&d.berth(&["run", "--rm", "--link", "db", "busybox", "true"]));
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("Cannot link to a non running container"),
        "{err}"
    );
    d.ok(&["rm", "-f", "db", "app"]);
}
