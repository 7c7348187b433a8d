//! The networking flags of `run` and `create` (`--network-alias`, `--ip`, `--ip6`,
//! `--link-local-ip`, `--mac-address`, `--dns*`, `--link`, `--expose`, `-P`, `--domainname`)
//! and their place in the create request, as docker/cli's `parseNetworkOpts` puts them: the
//! endpoint options on the one network's entry of `NetworkingConfig.EndpointsConfig` (an
//! entry always there for the daemon's default network, left out for a named network with no
//! options), DNS and links in HostConfig, exposed ports and the domain name in Config. The
//! combinations docker refuses before asking the daemon are refused here with its words.

use crate::wire::network::EndpointIpamConfig;
use crate::wire::types::{CreateRequest, EndpointSettings};
use clap::Args;
use serde_json::{json, Value};

#[derive(Args, Debug, Clone, Default)]
pub struct NetworkArgs {
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", alias = "net-alias")]
    pub aliases: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33)
    #[arg(long)]
    pub ip6: Option<String>,
    /// Container IPv4/IPv6 link-local addresses
    #[arg(long = "link-local-ip")]
    pub link_local_ips: Vec<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// Set custom DNS servers
    #[arg(long = "dns", value_parser = validate_ip)]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search", value_parser = validate_dns_search)]
    pub dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option", alias = "dns-opt")]
    pub dns_options: Vec<String>,
    /// Add link to another container
    #[arg(long = "link", value_parser = validate_link)]
    pub links: Vec<String>,
    /// Expose a port or a range of ports
    #[arg(long = "expose")]
    pub expose: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Container NIS domain name
    #[arg(long)]
    pub domainname: Option<String>,
}

/// docker's `ValidateIPAddress`: an IP address, kept in its canonical form.
pub fn validate_ip(v: &str) -> Result<String, String> {
    v.trim()
        .parse::<std::net::IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| format!("IP address is not correctly formatted: {v}"))
}

/// docker's `ValidateDNSSearch`: `.` (no search domain) or a domain name, kept without a
/// trailing dot.
pub fn validate_dns_search(v: &str) -> Result<String, String> {
    let v = v.trim_matches(' ');
    if v == "." {
        return Ok(v.into());
    }
    let bad = || format!("{v} is not a valid domain");
    if !v.chars().any(|c| c.is_ascii_alphabetic()) {
        return Err(bad());
    }
    let name = v.trim_end();
    let name = name.strip_suffix('.').unwrap_or(name);
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
    };
    if name.split('.').all(label_ok) && name.len() < 255 {
        Ok(name.to_string())
    } else {
        Err(bad())
    }
}

/// docker's `ValidateLink`: `name` or `name:alias`.
pub fn validate_link(v: &str) -> Result<String, String> {
    if v.is_empty() {
        return Err("empty string specified for links".into());
    }
    if v.splitn(3, ':').count() > 2 {
        return Err(format!("bad format for links: {v}"));
    }
    Ok(v.to_string())
}

/// Go's `net.ParseMAC` forms: 6, 8 or 20 octets, in pairs of hex digits separated by `:` or
/// `-`, or groups of four separated by `.`.
fn valid_mac(s: &str) -> bool {
    let s = s.trim();
    let hex = |p: &str, n: usize| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit());
    let octets = |n: usize| [6, 8, 20].contains(&n);
    if s.contains('.') {
        let parts: Vec<&str> = s.split('.').collect();
        return octets(parts.len() * 2) && parts.iter().all(|p| hex(p, 4));
    }
    for sep in [':', '-'] {
        let parts: Vec<&str> = s.split(sep).collect();
        if parts.len() > 1 {
            return octets(parts.len()) && parts.iter().all(|p| hex(p, 2));
        }
    }
    false
}

/// docker's test for `--network`'s long form (its pattern `\w+=\w+(,\w+=\w+)*`, which
/// matches anywhere): an `=` with a word character on each side.
fn long_syntax(v: &str) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = v.as_bytes();
    (1..b.len().saturating_sub(1)).any(|i| b[i] == b'=' && word(b[i - 1]) && word(b[i + 1]))
}

/// docker's `IsUserDefined`: a network other than the daemon's own modes.
fn user_defined(mode: &str) -> bool {
    !matches!(mode, "default" | "bridge" | "host" | "none") && !mode.starts_with("container:")
}

/// `--expose 80`, `--expose 53/udp`, `--expose 7000-7002`: the `Config.ExposedPorts` keys.
pub fn expose_ports(specs: &[String]) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    for e in specs {
        if e.contains(':') {
            return Err(format!("invalid port format for --expose: {e}"));
        }
        let (port, proto) = match e.split_once('/') {
            Some((p, "")) => (p, "tcp"),
            Some((p, proto)) => (p, proto.split('/').next().unwrap_or(proto)),
            None => (e.as_str(), "tcp"),
        };
        let range_err =
            |err: String| format!("invalid range format for --expose: {e}, error: {err}");
        let num = |s: &str| {
            s.parse::<u16>()
                .map_err(|_| format!("strconv.ParseUint: parsing {s:?}: invalid syntax"))
        };
        if port.is_empty() {
            return Err(range_err("empty string specified for ports".into()));
        }
        let (start, end) = match port.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a).map_err(range_err)?, num(b).map_err(range_err)?);
                if b < a {
                    return Err(range_err(format!(
                        "invalid range specified for port: {port}"
                    )));
                }
                (a, b)
            }
            None => {
                let p = num(port).map_err(range_err)?;
                (p, p)
            }
        };
        for p in start..=end {
            let key = format!("{p}/{proto}");
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    Ok(keys)
}

/// Lay the networking flags over `request`, for `network` (`--network`, None when not
/// given) and the API version the client speaks.
pub fn apply(
    n: &NetworkArgs,
    network: Option<&str>,
    request: &mut CreateRequest,
    api_version: &str,
) -> Result<(), String> {
    if let Some(net) = network {
        if long_syntax(net) {
            return Err(format!(
                "--network {net}: the long form (name=…,alias=…) is not supported by berth yet; \
                 use --network NAME with --network-alias, --ip, --mac-address"
            ));
        }
        if net.trim().is_empty() {
            return Err("no name set for network".into());
        }
    }
    if let Some(mac) = &n.mac_address {
        if !valid_mac(mac) {
            return Err(format!("{mac} is not a valid mac address"));
        }
    }
    let mode = network.unwrap_or("default");
    if !user_defined(mode) && !n.aliases.is_empty() {
        return Err("network-scoped aliases are only supported for user-defined networks".into());
    }
    let ipam = (n.ip.is_some() || n.ip6.is_some() || !n.link_local_ips.is_empty()).then(|| {
        serde_json::to_value(EndpointIpamConfig {
            ipv4_address: n.ip.clone().unwrap_or_default(),
            ipv6_address: n.ip6.clone().unwrap_or_default(),
            link_local_ips: (!n.link_local_ips.is_empty()).then(|| n.link_local_ips.clone()),
        })
        .expect("IPAM config serializes")
    });
    let endpoint = EndpointSettings {
        ipam_config: ipam,
        links: (user_defined(mode) && !n.links.is_empty()).then(|| n.links.clone()),
        aliases: (!n.aliases.is_empty()).then(|| n.aliases.clone()),
        mac_address: n.mac_address.clone().unwrap_or_default(),
        ..Default::default()
    };
    if !endpoint.mac_address.is_empty() && crate::cli::api_below(api_version, (1, 44)) {
        return Err(format!(
            "\"specify mac-address per network\" requires API version 1.44, but the Docker daemon API version is {api_version}"
        ));
    }
    let mut endpoints = serde_json::Map::new();
    // With no --network, docker always names the default network's endpoint; with one, only
    // when it has options.
    if network.is_none() || endpoint != EndpointSettings::default() {
        endpoints.insert(
            mode.to_string(),
            serde_json::to_value(&endpoint).expect("an endpoint serializes"),
        );
    }
    request.networking_config = Some(json!({ "EndpointsConfig": endpoints }));

    if let Some(d) = &n.domainname {
        request.config.domainname = d.clone();
    }
    let exposed = expose_ports(&n.expose)?;
    if !exposed.is_empty() {
        let ports = request
            .config
            .exposed_ports
            .get_or_insert_with(Default::default);
        for k in exposed {
            ports.entry(k).or_insert_with(|| json!({}));
        }
    }
    if let Some(hc) = request.host_config.as_mut() {
        hc.extra.insert("Dns".into(), json!(n.dns));
        hc.extra.insert("DnsSearch".into(), json!(n.dns_search));
        hc.extra.insert("DnsOptions".into(), json!(n.dns_options));
        if !n.links.is_empty() {
            hc.extra.insert("Links".into(), json!(n.links));
        }
        if n.publish_all {
            hc.extra.insert("PublishAllPorts".into(), Value::Bool(true));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn args(f: impl FnOnce(&mut NetworkArgs)) -> NetworkArgs {
        let mut a = NetworkArgs::default();
        f(&mut a);
        a
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn request() -> CreateRequest {
        CreateRequest {
            host_config: Some(Default::default()),
            ..Default::default()
        }
    }

    /// The parts of the create body the networking flags write.
    fn networking(a: &NetworkArgs, network: Option<&str>, version: &str) -> Value {
        let mut r = request();
        apply(a, network, &mut r, version).unwrap();
        let hc = r.host_config.unwrap();
        json!({
            "NetworkingConfig": r.networking_config,
            "HostConfig": {
                "Dns": hc.extra.get("Dns"), "DnsSearch": hc.extra.get("DnsSearch"),
                "DnsOptions": hc.extra.get("DnsOptions"), "Links": hc.extra.get("Links"),
                "PublishAllPorts": hc.extra.get("PublishAllPorts"),
            },
            "Domainname": r.config.domainname,
            "ExposedPorts": r.config.exposed_ports,
        })
    }

    #[test]
    fn no_flags_name_the_default_endpoint_as_docker_does() {
        insta::assert_json_snapshot!(networking(&NetworkArgs::default(), None, "1.50"));
    }

    #[test]
    fn a_user_network_with_alias_ip_mac_and_links() {
        let a = args(|a| {
            a.aliases = strings(&["web", "www"]);
            a.ip = Some("10.20.0.9".into());
            a.mac_address = Some("92:d0:c6:0a:29:33".into());
            a.links = strings(&["db:database"]);
            a.dns = strings(&["10.0.0.53"]);
            a.dns_search = strings(&["example.com"]);
            a.dns_options = strings(&["ndots:2"]);
            a.expose = strings(&["80", "53/udp", "7000-7001"]);
            a.publish_all = true;
            a.domainname = Some("example.com".into());
        });
        insta::assert_json_snapshot!(networking(&a, Some("appnet"), "1.50"));
    }

    #[rstest]
    #[case::named_without_options(None, Some("appnet"), json!({}))]
    #[case::bridge_without_options(None, Some("bridge"), json!({}))]
    #[case::bridge_with_ip(Some("172.17.0.9"), Some("bridge"), json!({"bridge": {"IPAMConfig": {"IPv4Address": "172.17.0.9"}}}))]
    #[case::default_with_ip(Some("172.17.0.9"), None, json!({"default": {"IPAMConfig": {"IPv4Address": "172.17.0.9"}}}))]
    fn which_endpoint_is_sent(
        #[case] ip: Option<&str>,
        #[case] network: Option<&str>,
        #[case] want: Value,
    ) {
        let a = args(|a| a.ip = ip.map(String::from));
        let got = networking(&a, network, "1.50")["NetworkingConfig"]["EndpointsConfig"].clone();
        let got: serde_json::Map<String, Value> = got
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let ipam = v["IPAMConfig"].clone();
                (
                    k.clone(),
                    if ipam.is_null() {
                        json!({})
                    } else {
                        json!({"IPAMConfig": ipam})
                    },
                )
            })
            .collect();
        if network.is_none() && ip.is_none() {
            assert!(got.contains_key("default"));
        } else {
            assert_eq!(Value::Object(got), want);
        }
    }

    #[test]
    fn a_link_on_the_default_bridge_is_a_legacy_link_only() {
        let a = args(|a| a.links = strings(&["db"]));
        let n = networking(&a, None, "1.50");
        assert_eq!(n["HostConfig"]["Links"], json!(["db"]));
        assert_eq!(
            n["NetworkingConfig"]["EndpointsConfig"]["default"]["Links"],
            Value::Null
        );
    }

    #[rstest]
    #[case::alias_on_bridge(args(|a| a.aliases = strings(&["x"])), Some("bridge"), "1.50", "network-scoped aliases are only supported for user-defined networks")]
    #[case::alias_on_default(args(|a| a.aliases = strings(&["x"])), None, "1.50", "network-scoped aliases are only supported for user-defined networks")]
    #[case::alias_on_host(args(|a| a.aliases = strings(&["x"])), Some("host"), "1.50", "network-scoped aliases are only supported for user-defined networks")]
    #[case::bad_mac(args(|a| a.mac_address = Some("92:d0:c6".into())), None, "1.50", "92:d0:c6 is not a valid mac address")]
    #[case::mac_on_an_old_api(args(|a| a.mac_address = Some("92:d0:c6:0a:29:33".into())), None, "1.41", "\"specify mac-address per network\" requires API version 1.44, but the Docker daemon API version is 1.41")]
    #[case::expose_with_a_host_port(args(|a| a.expose = strings(&["8080:80"])), None, "1.50", "invalid port format for --expose: 8080:80")]
    #[case::expose_not_a_number(args(|a| a.expose = strings(&["http"])), None, "1.50", "invalid range format for --expose: http, error: strconv.ParseUint: parsing \"http\": invalid syntax")]
    #[case::expose_backwards(args(|a| a.expose = strings(&["90-80"])), None, "1.50", "invalid range format for --expose: 90-80, error: invalid range specified for port: 90-80")]
    #[case::long_network_syntax(NetworkArgs::default(), Some("name=n1,alias=x"), "1.50", "--network name=n1,alias=x: the long form (name=…,alias=…) is not supported by berth yet; use --network NAME with --network-alias, --ip, --mac-address")]
    fn refused_before_the_daemon_is_asked(
        #[case] a: NetworkArgs,
        #[case] network: Option<&str>,
        #[case] version: &str,
        #[case] err: &str,
    ) {
        assert_eq!(
            apply(&a, network, &mut request(), version).unwrap_err(),
            err
        );
    }

    #[rstest]
    #[case("1.1.1.1", Ok("1.1.1.1"))]
    #[case(" 2001:db8::0:1 ", Ok("2001:db8::1"))]
    #[case("dns.google", Err("IP address is not correctly formatted: dns.google"))]
    fn dns_servers(#[case] v: &str, #[case] want: Result<&str, &str>) {
        assert_eq!(validate_ip(v), want.map(String::from).map_err(String::from));
    }

    #[rstest]
    #[case(".", Ok("."))]
    #[case("example.com", Ok("example.com"))]
    #[case("example.com.", Ok("example.com"))]
    #[case("-bad.com", Err("-bad.com is not a valid domain"))]
    #[case("123", Err("123 is not a valid domain"))]
    fn dns_search_domains(#[case] v: &str, #[case] want: Result<&str, &str>) {
        assert_eq!(
            validate_dns_search(v),
            want.map(String::from).map_err(String::from)
        );
    }

    #[rstest]
    #[case("db", true)]
    #[case("db:alias", true)]
    #[case("a:b:c", false)]
    #[case("", false)]
    fn links(#[case] v: &str, #[case] ok: bool) {
        assert_eq!(validate_link(v).is_ok(), ok);
    }

    #[rstest]
    #[case("92:d0:c6:0a:29:33", true)]
    #[case("92-D0-C6-0A-29-33", true)]
    #[case("92d0.c60a.2933", true)]
    #[case("92:d0:c6:0a:29", false)]
    #[case("zz:d0:c6:0a:29:33", false)]
    fn macs(#[case] v: &str, #[case] ok: bool) {
        assert_eq!(valid_mac(v), ok);
    }
}
