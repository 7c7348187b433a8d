//! `network create`: the flags become the `POST /networks/create` body the docker CLI sends.
//! The client's own checks are docker's (`createIPAMConfig`): every `--ip-range`, `--gateway`
//! and `--aux-address` must fall in one of the `--subnet`s, at most one range and one gateway
//! per subnet, no two subnets overlapping; whether a subnet, a driver or an option is
//! acceptable is the daemon's to say.

use crate::api::client::Client;
use crate::wire::network::{ConfigReference, Ipam, IpamConfig, NetworkCreateRequest};
use clap::Args;
use std::net::IpAddr;

#[derive(Args, Debug, Clone, Default)]
pub struct CreateArgs {
    /// Driver to manage the Network
    #[arg(short = 'd', long, default_value = "bridge")]
    pub driver: String,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    pub opts: Vec<String>,
    /// Set metadata on a network
    #[arg(long = "label", value_parser = validate_label)]
    pub labels: Vec<String>,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    /// Enable or disable IPv6 address assignment
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub ipv6: Option<bool>,
    /// Enable manual container attachment
    #[arg(long)]
    pub attachable: bool,
    /// Create swarm routing-mesh network
    #[arg(long)]
    pub ingress: bool,
    /// Control the network's scope
    #[arg(long, default_value = "")]
    pub scope: String,
    /// Create a configuration only network
    #[arg(long = "config-only")]
    pub config_only: bool,
    /// The network from which to copy the configuration
    #[arg(long = "config-from", default_value = "")]
    pub config_from: String,
    /// IP Address Management Driver
    #[arg(long = "ipam-driver", default_value = "default")]
    pub ipam_driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long = "subnet", value_delimiter = ',')]
    pub subnets: Vec<String>,
    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range", value_delimiter = ',')]
    pub ip_ranges: Vec<String>,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long = "gateway", value_delimiter = ',')]
    pub gateways: Vec<String>,
    /// Auxiliary IPv4 or IPv6 addresses used by Network driver
    #[arg(long = "aux-address")]
    pub aux_addresses: Vec<String>,
    /// Set IPAM driver specific options
    #[arg(long = "ipam-opt")]
    pub ipam_opts: Vec<String>,
    /// The network's name
    pub name: String,
}

/// Docker's `ValidateLabel`: a key, not empty and without whitespace.
pub(crate) fn validate_label(value: &str) -> Result<String, String> {
    let key = value.split_once('=').map_or(value, |(k, _)| k);
    let key = key.trim_start_matches([' ', '\t']);
    if key.is_empty() {
        return Err(format!("invalid label '{value}': empty name"));
    }
    if key.contains([' ', '\t']) {
        return Err(format!("label '{key}' contains whitespaces"));
    }
    Ok(value.to_string())
}

/// Go's `net.ParseCIDR`: the address and the network it names.
fn parse_cidr(s: &str) -> Result<(IpAddr, ipnet::IpNet), String> {
    let bad = || format!("invalid CIDR address: {s}");
    let (addr, _) = s.split_once('/').ok_or_else(bad)?;
    let ip: IpAddr = addr.parse().map_err(|_| bad())?;
    let net: ipnet::IpNet = s.parse().map_err(|_| bad())?;
    Ok((ip, net.trunc()))
}

/// Docker's `subnetMatches`: whether `data` (an address, or a CIDR's address) is in `subnet`.
fn subnet_matches(subnet: &str, data: &str) -> Result<bool, String> {
    let (_, net) = parse_cidr(subnet).map_err(|e| format!("invalid subnet: {e}"))?;
    let ip = if data.contains('/') {
        Some(parse_cidr(data)?.0)
    } else {
        data.parse::<IpAddr>().ok()
    };
    Ok(ip.is_some_and(|ip| net.contains(&ip)))
}

/// The IPAM block of the request: one config per subnet, with its range, gateway and
/// auxiliary addresses, refused as docker refuses them. Configs keep the subnets' order.
pub(crate) fn ipam_config(a: &CreateArgs) -> Result<Ipam, String> {
    if a.subnets.len() < a.ip_ranges.len() || a.subnets.len() < a.gateways.len() {
        return Err("every ip-range or gateway must have a corresponding subnet".into());
    }
    let mut configs: Vec<IpamConfig> = Vec::new();
    for s in &a.subnets {
        for c in &configs {
            if subnet_matches(s, &c.subnet)? || subnet_matches(&c.subnet, s)? {
                return Err("multiple overlapping subnet configuration is not supported".into());
            }
        }
        configs.push(IpamConfig {
            subnet: s.clone(),
            ..Default::default()
        });
    }
    for r in &a.ip_ranges {
        let mut matched = false;
        for c in configs.iter_mut() {
            parse_cidr(r)?;
            if !subnet_matches(&c.subnet, r)? {
                continue;
            }
            if !c.ip_range.is_empty() {
                return Err(format!(
                    "cannot configure multiple ranges ({r}, {}) on the same subnet ({})",
                    c.ip_range, c.subnet
                ));
            }
            c.ip_range = r.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for range {r}"));
        }
    }
    for g in &a.gateways {
        let mut matched = false;
        for c in configs.iter_mut() {
            if !subnet_matches(&c.subnet, g)? {
                continue;
            }
            if !c.gateway.is_empty() {
                return Err(format!(
                    "cannot configure multiple gateways ({g}, {}) for the same subnet ({})",
                    c.gateway, c.subnet
                ));
            }
            c.gateway = g.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for gateway {g}"));
        }
    }
    for (key, addr) in super::kv_map(&a.aux_addresses) {
        let mut matched = false;
        for c in configs.iter_mut() {
            if !subnet_matches(&c.subnet, &addr)? {
                continue;
            }
            c.auxiliary_addresses
                .get_or_insert_with(Default::default)
                .insert(key.clone(), addr.clone());
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for aux-address {addr}"));
        }
    }
    Ok(Ipam {
        driver: a.ipam_driver.clone(),
        options: Some(super::kv_map(&a.ipam_opts)),
        config: Some(configs),
    })
}

/// The body of `POST /networks/create` for these flags, spoken at `api_version`: below 1.44
/// the docker CLI asks the daemon to refuse a duplicate name (`CheckDuplicate`), which later
/// daemons always do.
pub fn create_request(a: &CreateArgs, api_version: &str) -> Result<NetworkCreateRequest, String> {
    Ok(NetworkCreateRequest {
        name: a.name.clone(),
        check_duplicate: crate::cli::api_below(api_version, (1, 44)).then_some(true),
        driver: a.driver.clone(),
        scope: a.scope.clone(),
        internal: a.internal,
        attachable: a.attachable,
        ingress: a.ingress,
        ipam: Some(ipam_config(a)?),
        enable_ipv6: a.ipv6,
        config_only: a.config_only,
        config_from: (!a.config_from.is_empty()).then(|| ConfigReference {
            network: a.config_from.clone(),
        }),
        options: Some(super::kv_map(&a.opts)),
        labels: Some(super::kv_map(&a.labels)),
    })
}

pub async fn create(client: &Client, a: CreateArgs) -> i32 {
    if a.ingress {
        eprintln!(
            "berth: --ingress creates a swarm routing-mesh network, and berth has no swarm mode"
        );
        return 1;
    }
    let request = match create_request(&a, client.api_version()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    match client
        .post_json::<crate::wire::network::NetworkCreateResponse>("/networks/create", &request)
        .await
    {
        Ok(r) => {
            println!("{}", r.id);
            0
        }
        Err(e) => super::fail(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn args(f: impl FnOnce(&mut CreateArgs)) -> CreateArgs {
        let mut a = CreateArgs {
            driver: "bridge".into(),
            ipam_driver: "default".into(),
            name: "n1".into(),
            ..Default::default()
        };
        f(&mut a);
        a
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_bare_create_is_the_body_docker_sends() {
        let body = serde_json::to_value(create_request(&args(|_| {}), "1.50").unwrap()).unwrap();
        insta::assert_json_snapshot!(body);
        let old = create_request(&args(|_| {}), "1.41").unwrap();
        assert_eq!(old.check_duplicate, Some(true));
    }

    #[test]
    fn subnets_gateways_ranges_and_options_pair_up() {
        let a = args(|a| {
            a.subnets = strings(&["10.50.0.0/16", "fd00:50::/64"]);
            a.gateways = strings(&["fd00:50::1", "10.50.0.254"]);
            a.ip_ranges = strings(&["10.50.1.0/24"]);
            a.aux_addresses = strings(&["router=10.50.0.2", "v6host=fd00:50::2"]);
            a.opts = strings(&["com.docker.network.bridge.name=br-test", "mtu"]);
            a.labels = strings(&["team=net", "empty"]);
            a.ipam_opts = strings(&["x=y"]);
            a.ipv6 = Some(true);
            a.internal = true;
            a.attachable = true;
            a.config_from = "base".into();
            a.scope = "local".into();
        });
        insta::assert_json_snapshot!(
            serde_json::to_value(create_request(&a, "1.50").unwrap()).unwrap()
        );
    }

    #[rstest]
    #[case::gateway_without_subnet(args(|a| a.gateways = strings(&["10.0.0.1"])), "every ip-range or gateway must have a corresponding subnet")]
    #[case::range_without_subnet(args(|a| a.ip_ranges = strings(&["10.0.0.0/24"])), "every ip-range or gateway must have a corresponding subnet")]
    #[case::gateway_outside(args(|a| { a.subnets = strings(&["10.1.0.0/16"]); a.gateways = strings(&["10.2.0.1"]); }), "no matching subnet for gateway 10.2.0.1")]
    #[case::gateway_not_an_address(args(|a| { a.subnets = strings(&["10.1.0.0/16"]); a.gateways = strings(&["nope"]); }), "no matching subnet for gateway nope")]
    #[case::range_outside(args(|a| { a.subnets = strings(&["10.1.0.0/16"]); a.ip_ranges = strings(&["10.3.0.0/24"]); }), "no matching subnet for range 10.3.0.0/24")]
    #[case::range_not_a_cidr(args(|a| { a.subnets = strings(&["10.1.0.0/16"]); a.ip_ranges = strings(&["10.1.0.0"]); }), "invalid CIDR address: 10.1.0.0")]
    #[case::two_gateways(args(|a| { a.subnets = strings(&["10.1.0.0/16", "10.9.0.0/16"]); a.gateways = strings(&["10.1.0.1", "10.1.0.2"]); }), "cannot configure multiple gateways (10.1.0.2, 10.1.0.1) for the same subnet (10.1.0.0/16)")]
    #[case::two_ranges(args(|a| { a.subnets = strings(&["10.1.0.0/16", "10.9.0.0/16"]); a.ip_ranges = strings(&["10.1.1.0/24", "10.1.2.0/24"]); }), "cannot configure multiple ranges (10.1.2.0/24, 10.1.1.0/24) on the same subnet (10.1.0.0/16)")]
    #[case::overlap(args(|a| a.subnets = strings(&["10.1.0.0/16", "10.1.2.0/24"])), "multiple overlapping subnet configuration is not supported")]
    #[case::bad_subnet_beside_another(args(|a| a.subnets = strings(&["10.1.0.0/16", "bogus"])), "invalid subnet: invalid CIDR address: bogus")]
    #[case::aux_outside(args(|a| { a.subnets = strings(&["10.1.0.0/16"]); a.aux_addresses = strings(&["h=10.7.0.1"]); }), "no matching subnet for aux-address 10.7.0.1")]
    #[case::aux_without_subnet(args(|a| a.aux_addresses = strings(&["h=10.7.0.1"])), "no matching subnet for aux-address 10.7.0.1")]
    fn ipam_flags_are_refused_as_docker_refuses_them(#[case] a: CreateArgs, #[case] err: &str) {
        assert_eq!(create_request(&a, "1.50").unwrap_err(), err);
    }

    #[test]
    fn a_lone_bad_subnet_is_the_daemons_to_refuse() {
        let a = args(|a| a.subnets = strings(&["bogus"]));
        let r = create_request(&a, "1.50").unwrap();
        assert_eq!(r.ipam.unwrap().config.unwrap()[0].subnet, "bogus");
    }

    #[rstest]
    #[case("=x", "invalid label '=x': empty name")]
    #[case("a b=c", "label 'a b' contains whitespaces")]
    fn labels_are_validated_like_dockers(#[case] l: &str, #[case] err: &str) {
        assert_eq!(validate_label(l).unwrap_err(), err);
        assert!(validate_label("ok=with space").is_ok());
    }
}
