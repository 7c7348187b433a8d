//! A container's `/etc/resolv.conf`, made Docker's way from the host's file and the
//! `--dns`, `--dns-search` and `--dns-option` flags. On a user-defined network the only
//! nameserver is the embedded server, 127.0.0.11, and the servers it replaced become its
//! upstreams; on the default bridge (no embedded DNS) the host's servers are copied, less
//! the loopback ones, which mean nothing inside another network namespace. Pure: the files'
//! texts come in as arguments, so every case is a unit test.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Where the embedded server listens inside every container's namespace.
pub const EMBEDDED_DNS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
pub const DNS_PORT: u16 = 53;
/// What Docker falls back to when the default bridge would be left with no server.
const FALLBACK: [Ipv4Addr; 2] = [Ipv4Addr::new(8, 8, 8, 8), Ipv4Addr::new(8, 8, 4, 4)];
/// systemd-resolved's stub listener, which the host's /etc/resolv.conf names when it runs.
pub const SYSTEMD_RESOLVED_PATH: &str = "/run/systemd/resolve/resolv.conf";

/// The container's DNS flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsOverrides {
    /// `--dns`: replaces the host's servers (and so the embedded server's upstreams).
    pub servers: Vec<IpAddr>,
    /// `--dns-search`: replaces the host's search list; `.` alone means none.
    pub search: Vec<String>,
    /// `--dns-option`: replaces the host's options.
    pub options: Vec<String>,
}

/// A user-network container's resolv.conf and the servers its resolver forwards to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedResolvConf {
    pub file: String,
    pub upstream: Vec<SocketAddr>,
}

/// The parts of a resolv.conf that matter here; other directives are kept as they are.
#[derive(Debug, Default)]
struct Parsed {
    servers: Vec<IpAddr>,
    search: Option<Vec<String>>,
    options: Vec<String>,
    other: Vec<String>,
}

fn parse(text: &str) -> Parsed {
    let mut p = Parsed::default();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let mut words = trimmed.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                // Unparseable servers (a zone-scoped fe80::1%eth0, garbage) are skipped,
                // as Docker does.
                if let Some(ip) = words.next().and_then(|w| w.parse().ok()) {
                    p.servers.push(ip);
                }
            }
            // The last search line wins, as in glibc.
            Some("search") => p.search = Some(words.map(str::to_string).collect()),
            Some("options") => p.options.extend(words.map(str::to_string)),
            _ => p.other.push(trimmed.to_string()),
        }
    }
    p
}

/// The host's file as berth starts from it: its loopback servers replaced by
/// systemd-resolved's real upstreams when `systemd_resolved` (the text of
/// [`SYSTEMD_RESOLVED_PATH`]) is given, then the container's flags applied.
fn base(host: &str, systemd_resolved: Option<&str>, o: &DnsOverrides) -> Parsed {
    let mut p = parse(host);
    if let Some(systemd) = systemd_resolved {
        if p.servers.iter().any(IpAddr::is_loopback) {
            let real: Vec<IpAddr> = parse(systemd)
                .servers
                .into_iter()
                .filter(|s| !s.is_loopback())
                .collect();
            let mut servers = Vec::new();
            for s in p.servers {
                let add: Vec<IpAddr> = if s.is_loopback() {
                    real.clone()
                } else {
                    vec![s]
                };
                for a in add {
                    if !servers.contains(&a) {
                        servers.push(a);
                    }
                }
            }
            p.servers = servers;
        }
    }
    if !o.servers.is_empty() {
        p.servers = o.servers.clone();
    }
    if !o.search.is_empty() {
        p.search = Some(o.search.iter().filter(|s| *s != ".").cloned().collect());
    }
    if !o.options.is_empty() {
        p.options = o.options.clone();
    }
    p
}

fn render(header: &str, servers: &[IpAddr], p: &Parsed, trailer: &str) -> String {
    let mut out = String::from(header);
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if let Some(search) = p.search.as_ref().filter(|s| !s.is_empty()) {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !p.options.is_empty() {
        out.push_str(&format!("options {}\n", p.options.join(" ")));
    }
    for line in &p.other {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(trailer);
    out
}

/// A valid `ndots:N` (N a number); an invalid one does not count and is dropped.
fn is_valid_ndots(opt: &str) -> bool {
    opt.strip_prefix("ndots:")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// resolv.conf for a container on a user-defined network: `nameserver 127.0.0.11` only, the
/// search list and options kept (or replaced by the flags), `ndots:0` added unless an ndots
/// option is already there (so a dotted name like `web.front` is tried as it is first), and
/// the servers it replaced returned as the resolver's upstreams (port 53). Host loopback
/// servers stay upstreams: the resolver forwards from the daemon's (the host's) namespace,
/// where they answer.
pub fn for_user_network(
    host: &str,
    systemd_resolved: Option<&str>,
    o: &DnsOverrides,
) -> EmbeddedResolvConf {
    let mut p = base(host, systemd_resolved, o);
    let has_ndots = p.options.iter().any(|opt| is_valid_ndots(opt));
    p.options
        .retain(|opt| !opt.starts_with("ndots:") || is_valid_ndots(opt));
    if !has_ndots {
        p.options.push("ndots:0".into());
    }
    let upstream: Vec<SocketAddr> = p
        .servers
        .iter()
        .filter(|s| **s != IpAddr::V4(EMBEDDED_DNS))
        .map(|s| SocketAddr::new(*s, DNS_PORT))
        .collect();
    let shown: Vec<String> = upstream.iter().map(|u| u.ip().to_string()).collect();
    let trailer = format!(
        "# berth's embedded DNS answers container names and forwards the rest to: {}\n",
        if shown.is_empty() {
            "(no upstream server: other names fail)".to_string()
        } else {
            shown.join(" ")
        }
    );
    EmbeddedResolvConf {
        file: render("", &[IpAddr::V4(EMBEDDED_DNS)], &p, &trailer),
        upstream,
    }
}

/// resolv.conf for a container on the default bridge, which has no embedded DNS: the host's
/// servers less the loopback ones (Google's public servers when none is left), or the
/// `--dns` servers as given; search and options from the host or the flags.
pub fn for_default_bridge(host: &str, systemd_resolved: Option<&str>, o: &DnsOverrides) -> String {
    let p = base(host, systemd_resolved, o);
    let mut servers = p.servers.clone();
    if o.servers.is_empty() {
        servers.retain(|s| !s.is_loopback());
        if servers.is_empty() {
            servers = FALLBACK.iter().map(|ip| IpAddr::V4(*ip)).collect();
        }
    }
    render("", &servers, &p, "")
}

/// The host's IPv4 nameservers, systemd-resolved's stub replaced by its real upstreams as
/// for a container: what a new network's subnet must not contain (`subnet::InUse`).
pub fn host_nameservers(host: &str, systemd_resolved: Option<&str>) -> Vec<Ipv4Addr> {
    base(host, systemd_resolved, &DnsOverrides::default())
        .servers
        .into_iter()
        .filter_map(|s| match s {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_nameservers_are_the_real_ipv4_servers() {
        let v4 = |l: &[&str]| {
            l.iter()
                .map(|s| s.parse().unwrap())
                .collect::<Vec<Ipv4Addr>>()
        };
        assert_eq!(host_nameservers(HOST, None), v4(&["10.0.0.2", "10.0.0.3"]));
        assert_eq!(host_nameservers(STUB, Some(SYSTEMD)), v4(&["192.168.1.1"]));
        assert_eq!(host_nameservers(STUB, None), v4(&["127.0.0.53"]));
        assert_eq!(host_nameservers("", None), v4(&[]));
    }

    const HOST: &str = "# managed by someone\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n\
                        search corp.example lab.example\noptions edns0 timeout:2\n";
    const STUB: &str = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch home.arpa\n";
    const SYSTEMD: &str = "# real upstreams\nnameserver 192.168.1.1\nnameserver fd00::1\n";

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn socks(list: &[&str]) -> Vec<SocketAddr> {
        ips(list)
            .into_iter()
            .map(|ip| SocketAddr::new(ip, 53))
            .collect()
    }

    #[test]
    fn user_network_points_at_the_embedded_server_and_keeps_the_rest() {
        let r = for_user_network(HOST, None, &DnsOverrides::default());
        insta::assert_snapshot!("user_network_host_file", r.file);
        assert_eq!(r.upstream, socks(&["10.0.0.2", "10.0.0.3"]));
    }

    #[test]
    fn flags_replace_servers_search_and_options() {
        let o = DnsOverrides {
            servers: ips(&["1.1.1.1"]),
            search: vec!["svc.example".into()],
            options: vec!["ndots:3".into(), "rotate".into()],
        };
        let r = for_user_network(HOST, None, &o);
        insta::assert_snapshot!("user_network_with_flags", r.file);
        assert_eq!(r.upstream, socks(&["1.1.1.1"]));
        assert!(
            r.file.contains("options ndots:3 rotate\n"),
            "no ndots:0 added"
        );
        assert!(!r.file.contains("corp.example"));
    }

    #[test]
    fn dns_search_dot_means_no_search_list() {
        let o = DnsOverrides {
            search: vec![".".into()],
            ..Default::default()
        };
        let r = for_user_network(HOST, None, &o);
        assert!(!r.file.contains("search"), "{}", r.file);
    }

    #[test]
    fn an_invalid_ndots_is_replaced_and_a_host_ndots_is_kept() {
        let o = DnsOverrides {
            options: vec!["ndots:x".into()],
            ..Default::default()
        };
        assert!(for_user_network(HOST, None, &o)
            .file
            .contains("options ndots:0\n"));
        let host = "nameserver 10.0.0.2\noptions ndots:2\n";
        let r = for_user_network(host, None, &DnsOverrides::default());
        assert!(r.file.contains("options ndots:2\n"), "{}", r.file);
    }

    #[test]
    fn systemd_resolved_stub_is_replaced_by_its_real_servers() {
        let r = for_user_network(STUB, Some(SYSTEMD), &DnsOverrides::default());
        assert_eq!(r.upstream, socks(&["192.168.1.1", "fd00::1"]));
        assert!(r.file.contains("search home.arpa\n"));
        // Without the systemd file, the loopback server is still an upstream: the resolver
        // forwards from the host's namespace, where it answers.
        let r = for_user_network(STUB, None, &DnsOverrides::default());
        assert_eq!(r.upstream, socks(&["127.0.0.53"]));
    }

    #[test]
    fn no_server_at_all_means_no_upstream() {
        let r = for_user_network("search x\n", None, &DnsOverrides::default());
        assert!(r.upstream.is_empty());
        assert!(r.file.starts_with("nameserver 127.0.0.11\nsearch x\n"));
    }

    #[test]
    fn default_bridge_drops_loopback_and_falls_back() {
        insta::assert_snapshot!(
            "default_bridge_host_file",
            for_default_bridge(HOST, None, &DnsOverrides::default())
        );
        let stub_only = for_default_bridge(STUB, None, &DnsOverrides::default());
        assert!(stub_only.starts_with("nameserver 8.8.8.8\nnameserver 8.8.4.4\n"));
        let via_systemd = for_default_bridge(STUB, Some(SYSTEMD), &DnsOverrides::default());
        assert!(via_systemd.starts_with("nameserver 192.168.1.1\nnameserver fd00::1\n"));
        let o = DnsOverrides {
            servers: ips(&["127.0.0.1", "9.9.9.9"]),
            search: vec!["a.example".into()],
            options: vec!["debug".into()],
        };
        assert_eq!(
            for_default_bridge(HOST, None, &o),
            "nameserver 127.0.0.1\nnameserver 9.9.9.9\nsearch a.example\noptions debug\n",
            "--dns is taken as given, as Docker does"
        );
    }
}
