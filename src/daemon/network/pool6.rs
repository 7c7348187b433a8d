//! The IPv6 pool of `network create`'s `IPAM.Config` (a config whose subnet is IPv6), checked
//! as Docker checks it: the range inside the subnet, the gateway inside it and not its first
//! address. Without a gateway the network uses the subnet's first address after the
//! network's own (`network::first_host6`).

use super::super::error::{DaemonError, Result};
use crate::wire::network::IpamConfig;
use ipnet::Ipv6Net;
use std::net::Ipv6Addr;

/// What an IPv6 `IPAM.Config` entry asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool6 {
    pub subnet: Ipv6Net,
    pub gateway: Option<Ipv6Addr>,
    pub range: Option<Ipv6Net>,
}

fn invalid(m: impl Into<String>) -> DaemonError {
    DaemonError::InvalidParameter(m.into())
}

/// Whether an `IPAM.Config` entry describes an IPv6 pool (its subnet is IPv6).
pub fn is_v6(c: &IpamConfig) -> bool {
    c.subnet.parse::<Ipv6Net>().is_ok()
}

/// Check an IPv6 pool (`is_v6` must hold).
pub fn parse(c: &IpamConfig) -> Result<Pool6> {
    let subnet: Ipv6Net = c
        .subnet
        .parse()
        .map_err(|_| invalid(format!("invalid subnet {}", c.subnet)))?;
    let subnet = subnet.trunc();
    if subnet.prefix_len() > 126 {
        return Err(invalid(format!(
            "subnet {subnet} is too small for a network (a /126 at least)"
        )));
    }
    let range = match c.ip_range.as_str() {
        "" => None,
        r => {
            let r: Ipv6Net = r
                .parse()
                .map_err(|_| invalid(format!("invalid ip range {r}")))?;
            if !subnet.contains(&r) {
                return Err(invalid(format!(
                    "ip range {r} is not within subnet {subnet}"
                )));
            }
            Some(r.trunc())
        }
    };
    let gateway = match c.gateway.as_str() {
        "" => None,
        g => {
            let g: Ipv6Addr = g
                .parse()
                .map_err(|_| invalid(format!("invalid gateway address {g}")))?;
            if !subnet.contains(&g) || g == subnet.network() {
                return Err(invalid(format!("no matching subnet for gateway {g}")));
            }
            Some(g)
        }
    };
    if c.auxiliary_addresses
        .as_ref()
        .is_some_and(|a| !a.is_empty())
    {
        return Err(invalid(
            "--aux-address in an IPv6 subnet is not supported by berth yet",
        ));
    }
    Ok(Pool6 {
        subnet,
        gateway,
        range,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(subnet: &str, range: &str, gateway: &str) -> IpamConfig {
        IpamConfig {
            subnet: subnet.into(),
            ip_range: range.into(),
            gateway: gateway.into(),
            auxiliary_addresses: None,
        }
    }

    #[test]
    fn docker_py_pool_is_accepted() {
        let c = cfg("2001:389::/64", "2001:389::0/96", "2001:389::ffff");
        assert!(is_v6(&c));
        assert_eq!(
            parse(&c).unwrap(),
            Pool6 {
                subnet: "2001:389::/64".parse().unwrap(),
                gateway: Some("2001:389::ffff".parse().unwrap()),
                range: Some("2001:389::/96".parse().unwrap()),
            }
        );
        assert!(!is_v6(&cfg("10.1.0.0/16", "", "")));
    }

    #[test]
    fn bad_pools_are_refused_with_the_cause() {
        for (c, want) in [
            (cfg("2001:389::/64", "2001:390::/96", ""), "not within"),
            (
                cfg("2001:389::/64", "", "2001:390::1"),
                "no matching subnet",
            ),
            (cfg("2001:389::/64", "", "2001:389::"), "no matching subnet"),
            (cfg("2001:389::/64", "", "zz"), "invalid gateway"),
            (cfg("2001:389::/127", "", ""), "too small"),
        ] {
            let err = parse(&c).unwrap_err().to_string();
            assert!(err.contains(want), "{c:?}: {err}");
        }
    }
}
