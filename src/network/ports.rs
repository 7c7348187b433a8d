//! Published ports (`-p`, `-P`): parsing `-p` and PortBindings as Docker does, adding a
//! binding for every exposed port under `-P`, binding the host ports (one in use fails the
//! start at once, in Docker's words; port 0 becomes a port from [`super::portalloc`]), and
//! each container's rules, which `portmap` applies. A DNAT in `<PREFIX>-DNAT` rewrites every
//! packet for a published port on one of the host's addresses (127.0.0.1 included, as
//! Docker's `userland-proxy=false` does) to the container: no process copies any byte.

pub use super::chains::dnat_chain;
use super::chains::forward_chain;
use super::iptables::{Placement, Rule, Table};
use super::portalloc::{Exhausted, PortAllocator};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// One published port, resolved: the host port is never 0 here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// `tcp` or `udp`.
    pub proto: String,
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub container_port: u16,
}

impl PortMapping {
    /// Docker's key for the container side: `80/tcp`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.container_port, self.proto)
    }
}

/// A binding as asked for: host port 0 means "any free port".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    pub proto: String,
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub container_port: u16,
}

fn parse_port(s: &str, what: &str) -> Result<u16, String> {
    s.parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("invalid {what} port: {s:?}"))
}

fn parse_range(s: &str, what: &str) -> Result<(u16, u16), String> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse_port(a, what)?, parse_port(b, what)?);
            if b < a {
                return Err(format!("invalid {what} port range: {s:?}"));
            }
            Ok((a, b))
        }
        None => {
            let p = parse_port(s, what)?;
            Ok((p, p))
        }
    }
}

/// `-p` as the docker CLI reads it: `[ip:][hostPort:]containerPort[/proto]`, ports or equal
/// ranges. Returns `(container key, host ip, host port)` triples as the API's PortBindings
/// carry them (an empty host port: any).
pub fn parse_publish(spec: &str) -> Result<Vec<(String, String, String)>, String> {
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if proto != "tcp" && proto != "udp" {
        return Err(format!("invalid proto: {proto}"));
    }
    if rest.contains('[') {
        return Err(format!(
            "invalid publish spec {spec:?}: berth publishes on IPv4 addresses only"
        ));
    }
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [c] => ("", "", *c),
        [h, c] => ("", *h, *c),
        [i, h, c] => (*i, *h, *c),
        _ => return Err(format!("invalid publish spec: {spec:?}")),
    };
    if !ip.is_empty() {
        ip.parse::<Ipv4Addr>()
            .map_err(|_| format!("invalid IP address: {ip}"))?;
    }
    let (c0, c1) = parse_range(container, "container")?;
    let count = c1 - c0;
    let host_ports: Vec<String> = if host.is_empty() {
        vec![String::new(); count as usize + 1]
    } else if host == "0" {
        // Port 0: any free port, as an empty host port.
        vec![String::new(); count as usize + 1]
    } else {
        let (h0, h1) = parse_range(host, "host")?;
        if h1 - h0 != count {
            return Err(format!(
                "invalid ranges specified for container and host Ports: {container} and {host}"
            ));
        }
        (h0..=h1).map(|p| p.to_string()).collect()
    };
    Ok((c0..=c1)
        .zip(host_ports)
        .map(|(c, h)| (format!("{c}/{proto}"), ip.to_string(), h))
        .collect())
}

/// HostConfig.PortBindings → what to bind. Keys are `port/proto`; values lists of
/// `{"HostIp": "", "HostPort": ""}`.
pub fn requested(bindings: &BTreeMap<String, serde_json::Value>) -> Result<Vec<Requested>, String> {
    let mut out = Vec::new();
    for (key, list) in bindings {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let proto = proto.to_ascii_lowercase();
        if proto != "tcp" && proto != "udp" {
            return Err(format!(
                "publishing {proto} ports is not supported by berth"
            ));
        }
        let container_port = parse_port(port, "container")?;
        for b in list.as_array().into_iter().flatten() {
            let ip = b["HostIp"].as_str().unwrap_or("");
            let host_ip = if ip.is_empty() {
                Ipv4Addr::UNSPECIFIED
            } else {
                ip.parse()
                    .map_err(|_| format!("invalid host IP {ip:?}: berth publishes on IPv4 only"))?
            };
            let hp = b["HostPort"].as_str().unwrap_or("");
            let host_port = if hp.is_empty() {
                0
            } else {
                hp.parse::<u16>()
                    .map_err(|_| format!("invalid host port {hp:?}"))?
            };
            out.push(Requested {
                proto: proto.clone(),
                host_ip,
                host_port,
                container_port,
            });
        }
    }
    Ok(out)
}

/// `80/tcp`, `80` (tcp), `7000-7002/udp`: a Config.ExposedPorts key as (port, proto) pairs.
fn exposed_key(key: &str) -> Result<Vec<(u16, String)>, String> {
    let (ports, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if proto != "tcp" && proto != "udp" {
        return Err(format!(
            "publishing {proto} ports is not supported by berth (exposed port {key})"
        ));
    }
    let (a, b) = parse_range(ports, "exposed")?;
    Ok((a..=b).map(|p| (p, proto.clone())).collect())
}

/// Everything a container's ports ask for, as Docker's daemon reads them: the PortBindings,
/// and with PublishAllPorts (`-P`) one more for each exposed port that has no binding of its
/// own, on an ephemeral port (0) of every host address. Sorted by container port.
pub fn requests_for(
    bindings: Option<&BTreeMap<String, serde_json::Value>>,
    exposed: Option<&BTreeMap<String, serde_json::Value>>,
    publish_all: bool,
) -> Result<Vec<Requested>, String> {
    let mut out = match bindings {
        Some(b) => requested(b)?,
        None => Vec::new(),
    };
    if publish_all {
        for key in exposed.into_iter().flat_map(|e| e.keys()) {
            for (port, proto) in exposed_key(key)? {
                let bound = out
                    .iter()
                    .any(|r| r.container_port == port && r.proto == proto);
                if !bound {
                    out.push(Requested {
                        proto,
                        host_ip: Ipv4Addr::UNSPECIFIED,
                        host_port: 0,
                        container_port: port,
                    });
                }
            }
        }
    }
    out.sort_by(|a, b| (a.container_port, &a.proto).cmp(&(b.container_port, &b.proto)));
    Ok(out)
}

/// A bound host socket: the port's reservation while it is published. It never listens (the
/// DNAT takes every packet for the port before a socket could see it); it keeps the port
/// from other programs, and from the kernel's choice of ports for outgoing connections.
pub struct Bound(#[allow(dead_code)] socket2::Socket);

/// Why a host port could not be had. The texts are Docker's: clients and tests match on them.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Someone (another container, or any other program) holds the port.
    #[error("Bind for {host_ip}:{host_port} failed: port is already allocated")]
    AlreadyAllocated { host_ip: Ipv4Addr, host_port: u16 },
    /// Any other refusal from the kernel (no such address on the host, a privileged port, ...).
    #[error("binding {host_ip}:{host_port}/{proto}: {source}")]
    Bind {
        proto: String,
        host_ip: Ipv4Addr,
        host_port: u16,
        #[source]
        source: std::io::Error,
    },
    /// No ephemeral port left (or none the kernel would give) in the range.
    #[error(transparent)]
    Exhausted(#[from] Exhausted),
}

impl PortError {
    fn from_io(proto: &str, host_ip: Ipv4Addr, host_port: u16, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            PortError::AlreadyAllocated { host_ip, host_port }
        } else {
            PortError::Bind {
                proto: proto.to_string(),
                host_ip,
                host_port,
                source,
            }
        }
    }
}

fn bind_one(proto: &str, host_ip: Ipv4Addr, port: u16) -> std::io::Result<Bound> {
    use socket2::{Domain, Socket, Type};
    let ty = if proto == "udp" {
        Type::DGRAM
    } else {
        Type::STREAM
    };
    // socket2 opens it close-on-exec: no shim or build step inherits a reservation.
    let socket = Socket::new(Domain::IPV4, ty, None)?;
    socket.bind(&std::net::SocketAddr::from((host_ip, port)).into())?;
    Ok(Bound(socket))
}

/// Bind a published port's host side again (its reservation, after a daemon restart).
pub fn bind_mapping(m: &PortMapping) -> std::io::Result<Bound> {
    bind_one(&m.proto, m.host_ip, m.host_port)
}

/// An ephemeral port for `r`: the allocator's next one that the kernel lets us bind; a port
/// some other program holds is given back and the next one tried, until the range is done.
fn bind_ephemeral(r: &Requested, alloc: &mut PortAllocator) -> Result<(u16, Bound), PortError> {
    let (begin, end) = alloc.range();
    for _ in begin..=end {
        let port = alloc.allocate(&r.proto)?;
        match bind_one(&r.proto, r.host_ip, port) {
            Ok(b) => return Ok((port, b)),
            Err(e) => {
                alloc.release(&r.proto, port);
                if e.kind() != std::io::ErrorKind::AddrInUse {
                    return Err(PortError::from_io(&r.proto, r.host_ip, port, e));
                }
            }
        }
    }
    Err(Exhausted {
        proto: r.proto.clone(),
        begin,
        end,
    }
    .into())
}

/// Bind every requested host port, port 0 through `alloc`; a port in use fails with Docker's
/// words. On failure nothing stays bound or allocated.
pub fn bind(
    requests: &[Requested],
    alloc: &mut PortAllocator,
) -> Result<Vec<(PortMapping, Bound)>, PortError> {
    let mut out: Vec<(PortMapping, Bound)> = Vec::new();
    let mut given = Vec::new();
    for r in requests {
        let bound = if r.host_port == 0 {
            bind_ephemeral(r, alloc).inspect(|(port, _)| given.push((r, *port)))
        } else {
            bind_one(&r.proto, r.host_ip, r.host_port)
                .map(|b| (r.host_port, b))
                .map_err(|e| PortError::from_io(&r.proto, r.host_ip, r.host_port, e))
        };
        let (port, bound) = match bound {
            Ok(b) => b,
            Err(e) => {
                for (r, port) in given {
                    alloc.release(&r.proto, port);
                }
                return Err(e);
            }
        };
        out.push((
            PortMapping {
                proto: r.proto.clone(),
                host_ip: r.host_ip,
                host_port: port,
                container_port: r.container_port,
            },
            bound,
        ));
    }
    Ok(out)
}

/// The rules of one container's published ports: the DNAT, and the ACCEPT that lets the
/// rewritten packet through FORWARD. Loopback and hairpin need no rule per port: the bridge's
/// MASQUERADE rules cover them (`iptables::plan_bridge_rules`).
pub fn plan_port_rules(
    prefix: &str,
    bridge: &str,
    ip: Ipv4Addr,
    maps: &[PortMapping],
) -> Vec<Rule> {
    let mut rules = Vec::new();
    let ip32 = format!("{ip}/32");
    for m in maps {
        let hp = m.host_port.to_string();
        let cp = m.container_port.to_string();
        let mut dnat = Vec::new();
        if !m.host_ip.is_unspecified() {
            dnat.extend(["-d".to_string(), format!("{}/32", m.host_ip)]);
        }
        dnat.extend(
            [
                "-p",
                &m.proto,
                "-m",
                &m.proto,
                "--dport",
                &hp,
                "-j",
                "DNAT",
                "--to-destination",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        dnat.push(format!("{ip}:{cp}"));
        rules.push(Rule {
            table: Table::Nat,
            chain: dnat_chain(prefix),
            spec: dnat,
            placement: Placement::Bottom,
        });
        rules.push(Rule {
            table: Table::Filter,
            chain: forward_chain(prefix),
            spec: [
                "-d", &ip32, "!", "-i", bridge, "-o", bridge, "-p", &m.proto, "-m", &m.proto,
                "--dport", &cp, "-j", "ACCEPT",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            placement: Placement::Bottom,
        });
    }
    rules
}

/// Docker's PORTS column and `port` lines: `0.0.0.0:8080->80/tcp`.
pub fn describe(m: &PortMapping) -> String {
    format!("{}:{}->{}", m.host_ip, m.host_port, m.key())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[rstest]
    #[case("80", Ok(vec![("80/tcp", "", "")]))]
    #[case("8080:80", Ok(vec![("80/tcp", "", "8080")]))]
    #[case("127.0.0.1:8080:80/udp", Ok(vec![("80/udp", "127.0.0.1", "8080")]))]
    #[case("127.0.0.1::80", Ok(vec![("80/tcp", "127.0.0.1", "")]))]
    #[case("8000-8001:80-81", Ok(vec![("80/tcp", "", "8000"), ("81/tcp", "", "8001")]))]
    #[case(
        "8000-8002:80-81",
        Err("invalid ranges specified for container and host Ports: 80-81 and 8000-8002")
    )]
    #[case("80/sctp", Err("invalid proto: sctp"))]
    #[case("0:80", Ok(vec![("80/tcp", "", "")]))]
    #[case("x:80", Err("invalid host port: \"x\""))]
    #[case("1.2.3:80:80", Err("invalid IP address: 1.2.3"))]
    fn publish_specs_parse_like_dockers(
        #[case] spec: &str,
        #[case] want: Result<Vec<(&str, &str, &str)>, &str>,
    ) {
        let want = want
            .map(|v| {
                v.into_iter()
                    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
                    .collect::<Vec<_>>()
            })
            .map_err(str::to_string);
        assert_eq!(parse_publish(spec), want);
    }

    proptest! {
        #[test]
        fn any_host_and_container_port_round_trip(h in 1u16.., c in 1u16.., udp: bool) {
            let proto = if udp { "udp" } else { "tcp" };
            let got = parse_publish(&format!("{h}:{c}/{proto}")).unwrap();
            prop_assert_eq!(got, vec![(format!("{c}/{proto}"), String::new(), h.to_string())]);
        }
    }

    #[test]
    fn port_rules_snapshot() {
        let maps = [
            PortMapping {
                proto: "tcp".into(),
                host_ip: Ipv4Addr::UNSPECIFIED,
                host_port: 8080,
                container_port: 80,
            },
            PortMapping {
                proto: "udp".into(),
                host_ip: Ipv4Addr::new(127, 0, 0, 1),
                host_port: 5353,
                container_port: 53,
            },
        ];
        let rules = plan_port_rules("BERTH", "berth0", Ipv4Addr::new(172, 18, 0, 2), &maps);
        insta::assert_snapshot!(super::super::iptables::render_save(&rules));
    }

    #[test]
    fn a_port_in_use_is_already_allocated_in_dockers_words() {
        let taken = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let want = |proto: &str| Requested {
            proto: proto.into(),
            host_ip: Ipv4Addr::LOCALHOST,
            host_port: port,
            container_port: 80,
        };
        let alloc = &mut PortAllocator::new(40000, 40010);
        let err = bind(&[want("tcp")], alloc)
            .err()
            .expect("the port is taken");
        assert!(matches!(err, PortError::AlreadyAllocated { host_port, .. } if host_port == port));
        assert_eq!(
            err.to_string(),
            format!("Bind for 127.0.0.1:{port} failed: port is already allocated")
        );
        // TCP and UDP ports are separate: the same number is free for UDP.
        let (map, _socket) = bind(&[want("udp")], alloc).unwrap().pop().unwrap();
        assert_eq!(map.host_port, port);
    }

    #[test]
    fn other_bind_failures_name_the_binding() {
        // 192.0.2.1 (TEST-NET-1) is no address of this host, so binding it fails at once.
        let r = Requested {
            proto: "tcp".into(),
            host_ip: Ipv4Addr::new(192, 0, 2, 1),
            host_port: 8080,
            container_port: 80,
        };
        let alloc = &mut PortAllocator::new(40000, 40010);
        let err = bind(&[r], alloc).err().expect("not a local address");
        assert!(matches!(err, PortError::Bind { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with("binding 192.0.2.1:8080/tcp: "),
            "{err}"
        );
    }

    fn req(proto: &str, ip: [u8; 4], host_port: u16, container_port: u16) -> Requested {
        Requested {
            proto: proto.into(),
            host_ip: ip.into(),
            host_port,
            container_port,
        }
    }

    #[rstest]
    #[case::expose_only_publishes_nothing(r#"{}"#, r#"{"80/tcp":{}}"#, false, vec![])]
    #[case::expose_and_publish_all(r#"{}"#, r#"{"80/tcp":{}}"#, true, vec![req("tcp", [0; 4], 0, 80)])]
    #[case::a_binding_of_its_own_wins(
        r#"{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}]}"#,
        r#"{"80/tcp":{},"9000/tcp":{}}"#,
        true,
        vec![req("tcp", [127, 0, 0, 1], 8080, 80), req("tcp", [0; 4], 0, 9000)]
    )]
    #[case::an_empty_binding_list_is_no_binding(r#"{"80/tcp":[]}"#, r#"{"80/tcp":{}}"#, true, vec![req("tcp", [0; 4], 0, 80)])]
    #[case::udp_and_tcp_are_different_ports(
        r#"{"53/tcp":[{"HostIp":"","HostPort":"5353"}]}"#,
        r#"{"53/udp":{},"53/tcp":{}}"#,
        true,
        vec![req("tcp", [0; 4], 5353, 53), req("udp", [0; 4], 0, 53)]
    )]
    #[case::a_range_and_a_bare_port(r#"{}"#, r#"{"7000-7001/tcp":{},"8000":{}}"#, true, vec![req("tcp", [0; 4], 0, 7000), req("tcp", [0; 4], 0, 7001), req("tcp", [0; 4], 0, 8000)])]
    #[case::bindings_without_publish_all(r#"{"80/tcp":[{"HostIp":"","HostPort":""}]}"#, r#"{"80/tcp":{},"81/tcp":{}}"#, false, vec![req("tcp", [0; 4], 0, 80)])]
    fn exposed_ports_expand_into_requests(
        #[case] bindings: &str,
        #[case] exposed: &str,
        #[case] publish_all: bool,
        #[case] want: Vec<Requested>,
    ) {
        let b: BTreeMap<String, serde_json::Value> = serde_json::from_str(bindings).unwrap();
        let e: BTreeMap<String, serde_json::Value> = serde_json::from_str(exposed).unwrap();
        assert_eq!(requests_for(Some(&b), Some(&e), publish_all), Ok(want));
    }

    #[test]
    fn publish_all_refuses_an_exposed_sctp_port() {
        let e: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(r#"{"9/sctp":{}}"#).unwrap();
        assert_eq!(
            requests_for(None, Some(&e), true),
            Err("publishing sctp ports is not supported by berth (exposed port 9/sctp)".into())
        );
        assert_eq!(requests_for(None, Some(&e), false), Ok(vec![]));
    }

    /// Port 0 comes from the allocator, skipping a port some other program holds; a failure
    /// later in the list gives back what was allocated.
    #[test]
    fn port_zero_comes_from_the_allocator_and_skips_ports_in_use() {
        // A range of ports that may be busy on this host: take the first free one we find, and
        // hold it, so the allocator has to step over it.
        let held = (41000..41100)
            .find_map(|p| std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, p)).ok())
            .expect("a free port in 41000-41099");
        let first = held.local_addr().unwrap().port();
        let alloc = &mut PortAllocator::new(first, first + 20);
        let got = bind(&[req("tcp", [127, 0, 0, 1], 0, 80)], alloc).unwrap();
        assert_ne!(got[0].0.host_port, first);
        assert!((first + 1..=first + 20).contains(&got[0].0.host_port));
        assert_eq!(alloc.in_use("tcp"), 1);

        // An explicit port in use after an ephemeral one: the ephemeral one is given back.
        let err = bind(
            &[
                req("tcp", [127, 0, 0, 1], 0, 81),
                req("tcp", [127, 0, 0, 1], first, 82),
            ],
            alloc,
        )
        .err()
        .expect("the explicit port is taken");
        assert!(matches!(err, PortError::AlreadyAllocated { .. }), "{err:?}");
        assert_eq!(alloc.in_use("tcp"), 1);
    }

    #[test]
    fn a_full_range_is_reported() {
        let alloc = &mut PortAllocator::new(41200, 41200);
        alloc.reserve("udp", 41200);
        let err = bind(&[req("udp", [127, 0, 0, 1], 0, 53)], alloc)
            .err()
            .expect("no port left");
        assert_eq!(
            err.to_string(),
            "no free host port in 41200-41200 for udp: all ports are allocated"
        );
    }

    #[test]
    fn bindings_from_the_api() {
        let b: BTreeMap<String, serde_json::Value> = serde_json::from_str(
            r#"{"80/tcp":[{"HostIp":"","HostPort":"8080"}],"53/udp":[{"HostIp":"127.0.0.1","HostPort":""}]}"#,
        )
        .unwrap();
        let r = requested(&b).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].proto, "udp");
        assert_eq!(r[0].host_port, 0);
        assert_eq!(r[1].host_port, 8080);
    }
}
