//! The IPv6 half of a bridge network (`network create --ipv6 --subnet <v6>`), as Docker 20.10
//! does it: the bridge gets the v6 gateway address, each container's interface an address
//! from the v6 pool and a default v6 route via the gateway. No ip6tables rules: Docker 20.10
//! programs no IPv6 NAT by default either, so a container's v6 address is reachable on the
//! bridge, and beyond it only if the host routes that prefix. Addresses go on without
//! duplicate address detection (`IFA_F_NODAD`, as libnetwork adds them), since the pool
//! already guarantees they are unique and DAD would leave them tentative for a second or two.

use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnet::Ipv6Net;
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressHeaderFlags};
use rtnetlink::{Handle, RouteMessageBuilder};

use super::ipam6::Ipam6;
use super::NetworkError;

/// The IPv6 pool of a network: its subnet, its gateway (the subnet's first address unless
/// one was asked for) and the range containers' addresses come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6Config {
    pub subnet: Ipv6Net,
    pub gateway: Ipv6Addr,
    pub range: Option<Ipv6Net>,
}

/// A container's IPv6 side on a network, kept in its endpoint.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Endpoint6 {
    pub ip: Ipv6Addr,
    pub prefix_len: u8,
    pub gateway: Ipv6Addr,
}

/// IPv6 is on by default in a fresh namespace, but a host (or an image of one) may turn it
/// off per link; an address cannot be added to a link where it is off. Must run on the
/// thread that is in the link's namespace: /proc/sys/net shows the opener's namespace.
pub(super) fn enable_on(link: &str) -> Result<(), NetworkError> {
    let path = PathBuf::from(format!("/proc/sys/net/ipv6/conf/{link}/disable_ipv6"));
    let io = |source| NetworkError::Io {
        what: format!("enable IPv6 on {link}"),
        path: path.clone(),
        source,
    };
    if std::fs::read_to_string(&path).map_err(io)?.trim() == "0" {
        return Ok(());
    }
    std::fs::write(&path, b"0\n").map_err(io)
}

/// Whether a netlink error is the kernel saying "already there" (an adopted bridge keeps
/// its gateway address across daemon restarts).
fn is_exists(err: &rtnetlink::Error) -> bool {
    matches!(err, rtnetlink::Error::NetlinkError(m) if m.raw_code().abs() == libc::EEXIST)
}

/// Put `ip/prefix_len` on link `index` without duplicate address detection; present already
/// is fine.
pub(super) async fn add_addr(
    h: &Handle,
    index: u32,
    name: &str,
    ip: Ipv6Addr,
    prefix_len: u8,
) -> Result<(), NetworkError> {
    let mut req = h.address().add(index, IpAddr::V6(ip), prefix_len);
    let msg = req.message_mut();
    msg.header.flags = AddressHeaderFlags::Nodad;
    msg.attributes
        .push(AddressAttribute::Flags(AddressFlags::Nodad));
    match req.execute().await {
        Ok(()) => Ok(()),
        Err(e) if is_exists(&e) => Ok(()),
        Err(source) => Err(NetworkError::Netlink {
            what: format!("add address {ip}/{prefix_len} to {name}"),
            source,
        }),
    }
}

/// The bridge's side: IPv6 on, the gateway address on it.
pub(super) async fn setup_bridge(
    h: &Handle,
    index: u32,
    name: &str,
    cfg: &Ipv6Config,
) -> Result<(), NetworkError> {
    enable_on(name)?;
    add_addr(h, index, name, cfg.gateway, cfg.subnet.prefix_len()).await
}

/// Inside the container's namespace: IPv6 on for its interface, its address, and (on its
/// first network) the default v6 route via the gateway.
pub(super) async fn configure_inside(
    h: &Handle,
    index: u32,
    name: &str,
    ep: &Endpoint6,
    default_route: bool,
) -> Result<(), NetworkError> {
    enable_on(name)?;
    add_addr(h, index, name, ep.ip, ep.prefix_len).await?;
    if !default_route {
        return Ok(());
    }
    h.route()
        .add(
            RouteMessageBuilder::<Ipv6Addr>::new()
                .gateway(ep.gateway)
                .output_interface(index)
                .build(),
        )
        .execute()
        .await
        .map_err(|source| NetworkError::Netlink {
            what: format!("add default IPv6 route via {}", ep.gateway),
            source,
        })
}

/// `<root>/network/<bridge>.v6.json`, beside the IPv4 state.
pub(super) fn state_path(state_dir: &Path, bridge: &str) -> PathBuf {
    state_dir.join(format!("{bridge}.v6.json"))
}

/// The saved IPv6 IPAM state if it describes this pool; a fresh one otherwise.
pub(super) fn load_ipam(path: &Path, cfg: &Ipv6Config) -> Result<Ipam6, NetworkError> {
    let fresh = Ipam6::new(cfg.subnet, cfg.gateway, cfg.range);
    match std::fs::read(path) {
        Ok(data) => {
            let saved: Ipam6 =
                serde_json::from_slice(&data).map_err(|source| NetworkError::State {
                    path: path.to_path_buf(),
                    source,
                })?;
            let same = saved.subnet() == fresh.subnet()
                && saved.gateway() == fresh.gateway()
                && saved.range() == fresh.range();
            Ok(if same { saved } else { fresh })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(fresh),
        Err(source) => Err(NetworkError::Io {
            what: "read IPv6 IPAM state".into(),
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_for_another_pool_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let path = state_path(dir.path(), "br-x");
        let cfg = Ipv6Config {
            subnet: "2001:db8::/64".parse().unwrap(),
            gateway: "2001:db8::1".parse().unwrap(),
            range: None,
        };
        let mut ipam = load_ipam(&path, &cfg).unwrap();
        ipam.allocate().unwrap();
        crate::util::fsutil::write_json_atomic(&path, &ipam).unwrap();
        assert_eq!(load_ipam(&path, &cfg).unwrap(), ipam);
        let other = Ipv6Config {
            gateway: "2001:db8::ffff".parse().unwrap(),
            ..cfg
        };
        assert_eq!(load_ipam(&path, &other).unwrap().allocated().count(), 0);
    }
}
