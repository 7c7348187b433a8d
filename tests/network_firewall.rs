//! Golden-file test of berth's firewall, libnetwork's habit: each configuration is applied by
//! berth's own code (bridge setup, the rules `publish` adds, `unpublish`) in a child process
//! inside a throwaway network namespace (`unshare --net`), whose `iptables-save` is compared
//! with an insta snapshot. The host's own rules are never read or touched, and no packet is
//! sent. The snapshots double as the figures of chapter 07.

mod common;

use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

use berth::network::iptables::{plan_bridge_rules, Rule};
use berth::network::ports::{plan_port_rules, PortMapping};
use berth::network::{BridgeNetwork, NetworkConfig};

/// Set (to a scenario name) only in the child that runs inside the namespace.
const SCENARIO_ENV: &str = "BERTH_FIREWALL_SCENARIO";
const BEGIN: &str = "----- iptables-save -----";
const END: &str = "----- end of iptables-save -----";

/// The address IPAM gives the first container on the default bridge.
const CONTAINER_IP: Ipv4Addr = Ipv4Addr::new(172, 17, 0, 2);
/// A user network's bridge and subnet, and its first container's address.
const USER_BRIDGE: &str = "br-0123456789ab";
const USER_SUBNET: &str = "172.18.0.0/16";
const USER_IP: Ipv4Addr = Ipv4Addr::new(172, 18, 0, 2);
const CONTAINER_ID: &str = "c0ffee0123456789";

fn runs(tool: &str, probe: &str) -> bool {
    Command::new(tool)
        .arg(probe)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Why this machine cannot run the test, if it cannot.
fn skip_reason() -> Option<String> {
    if !common::is_root() {
        return Some("needs root (run `sudo just e2e`, or `just vm-e2e`)".into());
    }
    // `ip` has no --version; -V is its spelling.
    for (tool, probe) in [
        ("iptables", "--version"),
        ("iptables-save", "--version"),
        ("unshare", "--version"),
        ("ip", "-V"),
    ] {
        if !runs(tool, probe) {
            return Some(format!("needs {tool}, which is not installed"));
        }
    }
    None
}

/// Run `scenario` in a child of this test binary inside a new network namespace, which dies
/// with the child, so nothing can be left behind; returns that namespace's firewall.
fn firewall_after(scenario: &str) -> String {
    let exe = std::env::current_exe().expect("the test binary");
    let out = Command::new("unshare")
        .arg("--net")
        .arg("--")
        .arg(exe)
        .args([
            "--exact",
            "firewall_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SCENARIO_ENV, scenario)
        .output()
        .expect("running unshare");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "scenario {scenario} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let dump = stdout
        .split_once(BEGIN)
        .and_then(|(_, rest)| rest.split_once(END))
        .map(|(dump, _)| dump.trim_start_matches('\n').to_string());
    dump.unwrap_or_else(|| panic!("no firewall dump from scenario {scenario}:\n{stdout}"))
}

macro_rules! skip_unless_able {
    () => {
        if let Some(why) = skip_reason() {
            eprintln!("SKIPPED: the firewall golden-file test {why}");
            return;
        }
    };
}

/// Compare a scenario's firewall with its snapshot; `what` heads the snapshot file, which is
/// a figure of chapter 07.
fn golden(scenario: &str, what: &str) -> String {
    let dump = firewall_after(scenario);
    insta::assert_snapshot!(scenario, dump, what);
    dump
}

#[test]
fn default_bridge() {
    skip_unless_able!();
    golden(
        "default_bridge",
        "iptables-save (raw, nat, filter) of the default bridge alone",
    );
}

#[test]
fn one_published_tcp_port() {
    skip_unless_able!();
    golden(
        "one_published_tcp_port",
        "iptables-save (raw, nat, filter) with a container publishing -p 8080:80",
    );
}

#[test]
fn two_ports_on_two_host_addresses() {
    skip_unless_able!();
    golden(
        "two_ports_on_two_host_addresses",
        "iptables-save (raw, nat, filter) with -p 192.0.2.10:8080:80 -p 198.51.100.10:5353:53/udp",
    );
}

#[test]
fn container_stopped() {
    skip_unless_able!();
    let after = golden(
        "container_stopped",
        "iptables-save (raw, nat, filter) after that container stopped",
    );
    // Stopping takes away exactly what publishing added: the bridge is as it was.
    assert_eq!(after, firewall_after("default_bridge"));
}

#[test]
fn user_network_with_a_published_port() {
    skip_unless_able!();
    golden(
        "user_network_with_a_published_port",
        "iptables-save (raw, nat, filter) with a user network beside the default bridge, and a \
         container on it publishing -p 8080:80",
    );
}

#[test]
fn internal_network() {
    skip_unless_able!();
    let dump = golden(
        "internal_network",
        "iptables-save (raw, nat, filter) with an --internal network beside the default bridge",
    );
    // No way out and no way in: no MASQUERADE, no route_localnet, names only its bridge in
    // the isolation chains.
    assert!(
        !dump
            .lines()
            .any(|l| l.contains(USER_BRIDGE) && l.contains("MASQUERADE")),
        "{dump}"
    );
}

#[test]
fn user_network_without_icc() {
    skip_unless_able!();
    golden(
        "user_network_without_icc",
        "iptables-save (raw, nat, filter) with a user network made with -o \
         com.docker.network.bridge.enable_icc=false beside the default bridge",
    );
}

#[test]
fn user_network_removed() {
    skip_unless_able!();
    // Removing the network takes its own rules; the shared chains and jumps stay for the
    // default bridge, and the firewall is the default bridge's alone again.
    assert_eq!(
        firewall_after("user_network_removed"),
        firewall_after("default_bridge")
    );
}

fn port(proto: &str, host_ip: Ipv4Addr, host_port: u16, container_port: u16) -> PortMapping {
    PortMapping {
        proto: proto.into(),
        host_ip,
        host_port,
        container_port,
    }
}

/// The published ports of each scenario. Host addresses are documentation ranges
/// (RFC 5737): nothing is bound or sent, so they need not exist.
fn ports_of(scenario: &str) -> Vec<PortMapping> {
    match scenario {
        "default_bridge" => Vec::new(),
        "one_published_tcp_port" => vec![port("tcp", Ipv4Addr::UNSPECIFIED, 8080, 80)],
        "two_ports_on_two_host_addresses" | "container_stopped" => vec![
            port("tcp", Ipv4Addr::new(192, 0, 2, 10), 8080, 80),
            port("udp", Ipv4Addr::new(198, 51, 100, 10), 5353, 53),
        ],
        other => panic!("unknown scenario {other}"),
    }
}

fn output(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Refuse to program anything unless this process is in a namespace of its own with nothing
/// in it yet: a mistake here must not become rules on the host.
fn assert_fresh_namespace() {
    let ino = |p: &str| std::fs::metadata(p).map(|m| m.ino()).ok();
    assert_ne!(
        ino("/proc/self/ns/net"),
        ino("/proc/1/ns/net"),
        "refusing: this is the host's network namespace"
    );
    let links = output("ip", &["-o", "link", "show"]);
    let names: Vec<&str> = links.lines().filter_map(|l| l.split(": ").nth(1)).collect();
    assert_eq!(names, ["lo"], "refusing: not a fresh network namespace");
    let rules = output("iptables-save", &[]);
    assert!(
        !rules.lines().any(|l| l.starts_with("-A")),
        "refusing: the namespace already has rules:\n{rules}"
    );
}

/// `iptables-save` of the nat and filter tables without what varies from run to run: the
/// comment lines (version, date) and the packet/byte counters.
fn firewall() -> String {
    let mut out = String::new();
    for table in ["raw", "nat", "filter"] {
        for line in output("iptables-save", &["-t", table]).lines() {
            if line.starts_with('#') {
                continue;
            }
            let line = match line.rsplit_once(" [") {
                Some((head, counters)) if line.starts_with(':') && counters.ends_with(']') => head,
                _ => line,
            };
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

async fn apply(scenario: &str) -> String {
    let root = tempfile::tempdir().unwrap();
    // Inside the namespace berth's default names cannot clash with anything: the figures
    // show `berth0`, `BERTH-*` and 172.17.0.0/16, as a reader's own machine would.
    let cfg = NetworkConfig::with_defaults(&root.path().join("lib"), &root.path().join("run"));
    let net = BridgeNetwork::setup(cfg.clone()).await.unwrap();
    if scenario.starts_with("user_network") || scenario == "internal_network" {
        let user = BridgeNetwork::setup(NetworkConfig {
            bridge: USER_BRIDGE.into(),
            subnet: Some(USER_SUBNET.parse().unwrap()),
            policy: berth::network::iptables::Policy {
                internal: scenario == "internal_network",
                icc: scenario != "user_network_without_icc",
            },
            state_dir: root.path().join("lib/user"),
            ..cfg.clone()
        })
        .await
        .unwrap();
        let maps = vec![port("tcp", Ipv4Addr::UNSPECIFIED, 8080, 80)];
        match scenario {
            "user_network_with_a_published_port" => {
                user.add_port_rules(USER_IP, &maps).await.unwrap()
            }
            "user_network_removed" => user.remove().await.unwrap(),
            _ => {}
        }
        return firewall();
    }
    let maps = ports_of(scenario);
    if !maps.is_empty() {
        net.add_port_rules(CONTAINER_IP, &maps).await.unwrap();
    }
    if scenario == "container_stopped" {
        net.unpublish(CONTAINER_ID, CONTAINER_IP, &maps).await;
    }
    let dump = firewall();

    // The kernel holds every rule the planner promised (the snapshot shows how it orders them).
    let mut planned: Vec<Rule> =
        plan_bridge_rules(&cfg.iptables_prefix, &cfg.bridge, &net.subnet());
    if scenario != "container_stopped" {
        planned.extend(plan_port_rules(
            &cfg.iptables_prefix,
            &cfg.bridge,
            CONTAINER_IP,
            &maps,
        ));
    }
    for rule in &planned {
        let line = rule.save_line();
        assert!(
            dump.lines().any(|l| l == line),
            "planned but not in the kernel: {line}\n{dump}"
        );
    }
    dump
}

/// The half of each test above that runs inside the throwaway namespace.
#[test]
#[ignore = "runs only as the child of the firewall golden-file tests, in their namespace"]
fn firewall_child() {
    let Ok(scenario) = std::env::var(SCENARIO_ENV) else {
        eprintln!("SKIPPED: firewall_child runs only inside the namespace its parent test makes");
        return;
    };
    assert_fresh_namespace();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dump = rt.block_on(apply(&scenario));
    println!("{BEGIN}\n{dump}{END}");
}
