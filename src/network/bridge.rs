//! The default bridge network: the bridge itself, its subnet and gateway, the IPAM state
//! file, the NAT rules, and the veth pair that plugs each container's namespace into it.
//! Reproduces Docker's `docker0` setup (adopt an existing bridge's address, else pick an
//! unrouted range, create the bridge and masquerade what leaves it) and its per-container
//! `veth` + `eth0` with a `02:42:<ip>` MAC and a default route via the gateway. On an
//! IPv6-enabled network the same steps add the IPv6 side (`bridge6`) beside the IPv4 one.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use rtnetlink::LinkBridge;
use serde::{Deserialize, Serialize};

use super::bridge6::{self, Endpoint6, Ipv6Config};
use super::ipam::Ipam;
use super::ipam6::Ipam6;
use super::subnet::{first_host, pick_subnet, InUse, SubnetPool};
use super::{iptables, netlink, netns, NetworkError};

mod plug;
mod sweep;

pub use plug::Plug;

/// Everything the bridge network needs to know, all from the daemon's flags.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// Bridge device name (`--bridge`, default `berth0`).
    pub bridge: String,
    /// Prefix of berth's iptables chains (`--iptables-prefix`, default `BERTH`).
    pub iptables_prefix: String,
    /// Where a new bridge's subnet may come from (`--default-address-pool`).
    pub pools: Vec<SubnetPool>,
    /// `<root>/network`: IPAM state lives here.
    pub state_dir: PathBuf,
    /// `<exec root>`: namespaces are pinned under `netns/`.
    pub exec_root: PathBuf,
    /// A subnet asked for (`network create --subnet`); None picks one from `pools`.
    pub subnet: Option<Ipv4Net>,
    /// The bridge's own address in it (`--gateway`); None is the subnet's first address.
    pub gateway: Option<Ipv4Addr>,
    /// `--ip-range`: containers' addresses come from this part of the subnet.
    pub ip_range: Option<Ipv4Net>,
    /// `--aux-address`: addresses in the subnet never given to a container.
    pub aux: Vec<Ipv4Addr>,
    /// `--internal` (no way out: no masquerade, nothing forwarded off the bridge) and ICC.
    pub policy: iptables::Policy,
    /// The host's nameservers: a picked subnet must contain none of them.
    pub nameservers: Vec<Ipv4Addr>,
    /// The subnets of the daemon's other networks: a picked subnet must overlap none.
    pub other_subnets: Vec<Ipv4Net>,
    /// `--ipv6` with an IPv6 pool: the bridge and its containers get IPv6 addresses too.
    pub ipv6: Option<Ipv6Config>,
}

impl NetworkConfig {
    /// berth's defaults (`berth0`, `BERTH`, Docker's pools) under the given roots.
    pub fn with_defaults(root: &Path, exec_root: &Path) -> Self {
        NetworkConfig {
            bridge: "berth0".into(),
            iptables_prefix: "BERTH".into(),
            pools: super::subnet::default_pools(),
            state_dir: root.join("network"),
            exec_root: exec_root.to_path_buf(),
            subnet: None,
            gateway: None,
            ip_range: None,
            aux: Vec::new(),
            policy: iptables::Policy::default(),
            nameservers: Vec::new(),
            other_subnets: Vec::new(),
            ipv6: None,
        }
    }
}

/// A container's attachment to the bridge, as recorded in its container record.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Ipv4Addr,
    pub mac: String,
    pub host_veth: String,
    /// The interface inside the container: `eth0` on its first network, `eth1`, ... after.
    #[serde(default = "eth0")]
    pub interface: String,
    /// On an IPv6-enabled network: its IPv6 address there too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Endpoint6>,
}

fn eth0() -> String {
    "eth0".into()
}

/// The set-up default bridge. Cheap to share behind an `Arc`; IPAM is serialised inside.
#[derive(Debug)]
pub struct BridgeNetwork {
    cfg: NetworkConfig,
    subnet: Ipv4Net,
    gateway: Ipv4Addr,
    ipam: tokio::sync::Mutex<Ipam>,
    /// The IPv6 pool's allocations, on an IPv6-enabled network only.
    ipam6: Option<tokio::sync::Mutex<Ipam6>>,
}

/// Ids name files and links, so only characters safe in both are accepted.
pub(super) fn check_id(id: &str) -> Result<(), NetworkError> {
    let ok = !id.is_empty()
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(NetworkError::InvalidId {
            id: id.to_string(),
            reason: "expected letters, digits, '-', '_' or '.' (not leading)".into(),
        })
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(11)]
}

/// The host end of a container's veth pair: `veth` + the first 11 characters of its id.
pub fn host_veth_name(id: &str) -> String {
    format!("veth{}", short(id))
}

/// The host end of the veth for a container's `slot`th network (0 is `host_veth_name`):
/// still 15 characters at most, still distinct per slot.
pub fn slot_veth_name(id: &str, slot: usize) -> String {
    match slot {
        0 => host_veth_name(id),
        n => format!("veth{}{:x}", &id[..id.len().min(9)], n.min(0xff)),
    }
}

/// Docker's container MAC: the locally administered prefix 02:42, then the IPv4 address.
pub fn mac_for(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("02:42:{a:02x}:{b:02x}:{c:02x}:{d:02x}")
}

fn mac_bytes(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

fn format_mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// `aa:bb:cc:dd:ee:ff` (or with dashes), as `--mac-address` takes it.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return None;
    }
    let mut out = [0u8; 6];
    for (o, p) in out.iter_mut().zip(parts) {
        if p.len() != 2 {
            return None;
        }
        *o = u8::from_str_radix(p, 16).ok()?;
    }
    Some(out)
}

/// Set a sysctl under /proc/sys to "1" unless it already is.
async fn enable(path: &Path, what: &str) -> Result<(), NetworkError> {
    let io = |source| NetworkError::Io {
        what: what.into(),
        path: path.to_path_buf(),
        source,
    };
    if tokio::fs::read_to_string(path).await.map_err(io)?.trim() == "1" {
        return Ok(());
    }
    tokio::fs::write(path, b"1\n").await.map_err(io)
}

/// Load br_netfilter if it is not loaded, and have it pass bridged IPv4 frames to iptables.
async fn enable_bridge_netfilter() -> Result<(), NetworkError> {
    let path = Path::new("/proc/sys/net/bridge/bridge-nf-call-iptables");
    if !path.exists() {
        let _ = tokio::process::Command::new("modprobe")
            .arg("br_netfilter")
            .status()
            .await;
    }
    enable(
        path,
        "turn on br_netfilter (com.docker.network.bridge.enable_icc=false needs it)",
    )
    .await
}

impl BridgeNetwork {
    /// Adopt or create the bridge, enable forwarding, program NAT, and load IPAM state.
    pub async fn setup(cfg: NetworkConfig) -> Result<Self, NetworkError> {
        let h = netlink::connect()?;
        let name = cfg.bridge.as_str();
        let existing = netlink::link_index(&h, name).await?;
        let adopted = match existing {
            Some(index) => netlink::ipv4_addrs(&h, index).await?.into_iter().next(),
            None => None,
        };
        let (subnet, gateway) = match adopted {
            Some(addr) if cfg.subnet.is_none_or(|s| s.trunc() == addr.trunc()) => {
                tracing::info!("adopting bridge {name} with address {addr}");
                (addr.trunc(), addr.addr())
            }
            _ => {
                let subnet = match cfg.subnet {
                    Some(s) => s.trunc(),
                    None => {
                        let in_use = InUse {
                            routes: netlink::ipv4_routes(&h).await?,
                            nameservers: cfg.nameservers.clone(),
                            networks: cfg.other_subnets.clone(),
                        };
                        pick_subnet(&cfg.pools, &in_use)
                            .map_err(|e| NetworkError::NoFreeSubnet { pools: e.pools })?
                    }
                };
                let gateway = cfg.gateway.unwrap_or_else(|| first_host(&subnet));
                let index = match existing {
                    Some(index) => index,
                    None => {
                        tracing::info!("creating bridge {name} with network {subnet}");
                        h.link()
                            .add(LinkBridge::new(name).build())
                            .execute()
                            .await
                            .map_err(|source| NetworkError::Netlink {
                                what: format!("create bridge {name}"),
                                source,
                            })?;
                        let index = netlink::require_link(&h, name).await?;
                        // Marked first, so a crash at any later step leaves a bridge the
                        // next start knows as ours (bridge_mark); unmarked, it must not stay.
                        let mark = super::bridge_mark::mark(&cfg.iptables_prefix, &cfg.state_dir);
                        if let Err(e) = netlink::set_alias(&h, index, name, &mark).await {
                            let _ = netlink::delete_link(&h, name).await;
                            return Err(e);
                        }
                        index
                    }
                };
                let addr = Ipv4Net::new(gateway, subnet.prefix_len()).expect("prefix from subnet");
                netlink::add_ipv4_addr(&h, index, name, addr).await?;
                (subnet, gateway)
            }
        };
        let index = netlink::require_link(&h, name).await?;
        if let Some(v6) = &cfg.ipv6 {
            bridge6::setup_bridge(&h, index, name, v6).await?;
        }
        netlink::set_up(&h, index, name).await?;
        enable(
            Path::new("/proc/sys/net/ipv4/ip_forward"),
            "enable IPv4 forwarding",
        )
        .await?;
        // Published ports on 127.0.0.1 are rewritten to a container's address; the packet then
        // leaves through the bridge with a loopback source, which the kernel drops as a martian
        // unless the bridge allows it (the raw chain keeps containers off the host's loopback).
        if !cfg.policy.internal {
            let path = format!("/proc/sys/net/ipv4/conf/{name}/route_localnet");
            enable(
                Path::new(&path),
                "let published ports be reached from loopback",
            )
            .await?;
        }
        // With ICC off, what passes between two ports of the bridge must meet iptables at
        // all: br_netfilter makes bridged frames traverse FORWARD (Docker turns it on too).
        if !cfg.policy.icc {
            enable_bridge_netfilter().await?;
        }
        // Every chain first: the jumps name the DNAT chain before any container fills it.
        for (table, chain) in iptables::bridge_chains(&cfg.iptables_prefix) {
            iptables::ensure_chain(table, &chain).await?;
        }
        iptables::apply(&iptables::plan_network_rules(
            &cfg.iptables_prefix,
            name,
            &subnet,
            cfg.policy,
        ))
        .await?;

        tokio::fs::create_dir_all(&cfg.state_dir)
            .await
            .map_err(|source| NetworkError::Io {
                what: "create the network state directory".into(),
                path: cfg.state_dir.clone(),
                source,
            })?;
        let ipam = load_ipam(&state_path(&cfg), subnet, gateway)
            .await?
            .with_range(cfg.ip_range)
            .with_aux(cfg.aux.iter().copied());
        let ipam6 = match &cfg.ipv6 {
            Some(v6) => Some(bridge6::load_ipam(
                &bridge6::state_path(&cfg.state_dir, &cfg.bridge),
                v6,
            )?),
            None => None,
        };
        let net = BridgeNetwork {
            cfg,
            subnet,
            gateway,
            ipam: tokio::sync::Mutex::new(ipam.clone()),
            ipam6: ipam6.clone().map(tokio::sync::Mutex::new),
        };
        net.persist(&ipam).await?;
        if let Some(ipam6) = ipam6 {
            net.persist6(&ipam6).await?;
        }
        Ok(net)
    }

    pub fn subnet(&self) -> Ipv4Net {
        self.subnet
    }

    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    pub fn bridge(&self) -> &str {
        &self.cfg.bridge
    }

    pub fn config(&self) -> &NetworkConfig {
        &self.cfg
    }

    /// Whether IPAM currently holds `ip` for a container.
    pub async fn is_allocated(&self, ip: Ipv4Addr) -> bool {
        self.ipam.lock().await.is_allocated(ip)
    }

    /// Where a container's namespace is pinned: `<exec_root>/netns/<id>`.
    pub fn netns_path(&self, id: &str) -> PathBuf {
        self.cfg.exec_root.join("netns").join(id)
    }

    async fn persist(&self, ipam: &Ipam) -> Result<(), NetworkError> {
        write_state(state_path(&self.cfg), ipam.clone()).await
    }

    async fn persist6(&self, ipam: &Ipam6) -> Result<(), NetworkError> {
        write_state(
            bridge6::state_path(&self.cfg.state_dir, &self.cfg.bridge),
            ipam.clone(),
        )
        .await
    }

    /// Change the IPv6 IPAM (None on a network without IPv6) and write it out under its lock.
    async fn with_ipam6<T>(
        &self,
        f: impl FnOnce(&mut Ipam6) -> T,
    ) -> Result<Option<T>, NetworkError> {
        let Some(lock) = &self.ipam6 else {
            return Ok(None);
        };
        let mut guard = lock.lock().await;
        let out = f(&mut guard);
        self.persist6(&guard).await?;
        Ok(Some(out))
    }

    /// Change IPAM and write it out while still holding the lock, so writes never race.
    async fn with_ipam<T>(&self, f: impl FnOnce(&mut Ipam) -> T) -> Result<T, NetworkError> {
        let mut guard = self.ipam.lock().await;
        let out = f(&mut guard);
        self.persist(&guard).await?;
        Ok(out)
    }

    /// A new network namespace for container `id`, pinned at `<exec_root>/netns/<id>`.
    pub async fn create_netns(&self, id: &str) -> Result<PathBuf, NetworkError> {
        check_id(id)?;
        netns::create(self.netns_path(id)).await
    }

    /// Take a user network's bridge down for good: the link, its own rules (the chains and
    /// jumps the other networks share stay), its IPAM state. Safe to repeat.
    pub async fn remove(&self) -> Result<(), NetworkError> {
        remove_bridge(
            &self.cfg,
            &self.cfg.bridge,
            Some(self.subnet),
            &[self.cfg.policy],
        )
        .await
    }

    /// Unpin a namespace made by `create_netns`. Safe to repeat.
    pub fn remove_netns(path: &Path) -> Result<(), NetworkError> {
        netns::remove(path)
    }
}

/// Take bridge `name` of this daemon (`cfg`'s prefix and state dir) down for good: the link,
/// the rules its network planned under each of `policies` (only its own: the chains and jumps
/// other networks share stay), and its IPAM state files. Every step is tried; the first
/// error is returned. Safe to repeat. Serves `remove` and the sweep of orphaned bridges.
pub(crate) async fn remove_bridge(
    cfg: &NetworkConfig,
    name: &str,
    subnet: Option<Ipv4Net>,
    policies: &[iptables::Policy],
) -> Result<(), NetworkError> {
    let mut first: Option<NetworkError> = None;
    let mut keep = |r: Result<(), NetworkError>| {
        if let Err(e) = r {
            first.get_or_insert(e);
        }
    };
    match netlink::connect() {
        Ok(h) => keep(netlink::delete_link(&h, name).await.map(|_| ())),
        Err(e) => keep(Err(e)),
    }
    // Without its subnet (an orphan that lost its address) its rules cannot be named.
    if let Some(subnet) = subnet {
        for policy in policies {
            for rule in iptables::network_own_rules(&cfg.iptables_prefix, name, &subnet, *policy) {
                keep(
                    iptables::delete_all(&rule)
                        .await
                        .map_err(NetworkError::from),
                );
            }
        }
    }
    for path in [
        cfg.state_dir.join(format!("{name}.json")),
        bridge6::state_path(&cfg.state_dir, name),
    ] {
        match std::fs::remove_file(&path) {
            Err(source) if source.kind() != std::io::ErrorKind::NotFound => {
                keep(Err(NetworkError::Io {
                    what: "remove IPAM state".into(),
                    path,
                    source,
                }))
            }
            _ => {}
        }
    }
    first.map_or(Ok(()), Err)
}

/// Write an IPAM state file atomically, off the runtime's threads.
async fn write_state<T: Serialize + Send + 'static>(
    path: PathBuf,
    value: T,
) -> Result<(), NetworkError> {
    let target = path.clone();
    tokio::task::spawn_blocking(move || crate::util::fsutil::write_json_atomic(&target, &value))
        .await
        .map_err(|_| NetworkError::Thread {
            what: "write IPAM state".into(),
        })?
        .map_err(|source| NetworkError::Io {
            what: "write IPAM state".into(),
            path,
            source,
        })
}

fn state_path(cfg: &NetworkConfig) -> PathBuf {
    cfg.state_dir.join(format!("{}.json", cfg.bridge))
}

/// The saved IPAM state if it describes this subnet; a fresh one otherwise (a bridge that
/// changed subnet invalidates every saved address).
async fn load_ipam(path: &Path, subnet: Ipv4Net, gateway: Ipv4Addr) -> Result<Ipam, NetworkError> {
    match tokio::fs::read(path).await {
        Ok(data) => {
            let saved: Ipam =
                serde_json::from_slice(&data).map_err(|source| NetworkError::State {
                    path: path.to_path_buf(),
                    source,
                })?;
            if saved.subnet() == subnet && saved.gateway() == gateway {
                Ok(saved)
            } else {
                tracing::warn!(
                    "{}: saved subnet {} differs from the bridge's {subnet}; starting afresh",
                    path.display(),
                    saved.subnet()
                );
                Ok(Ipam::new(subnet, gateway))
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ipam::new(subnet, gateway)),
        Err(source) => Err(NetworkError::Io {
            what: "read IPAM state".into(),
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Delete the bridge and berth's chains and jumps. Idempotent; for tests and cleanup.
pub async fn teardown(bridge: &str, prefix: &str) -> Result<(), NetworkError> {
    let h = netlink::connect()?;
    netlink::delete_link(&h, bridge).await?;
    iptables::remove_bridge_chains(prefix).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_mac_follow_docker() {
        assert_eq!(host_veth_name("0123456789abcdef0123"), "veth0123456789a");
        assert_eq!(host_veth_name("abc"), "vethabc");
        assert!(host_veth_name("0123456789abcdef").len() <= 15);
        assert_eq!(mac_for(Ipv4Addr::new(172, 17, 0, 2)), "02:42:ac:11:00:02");
        assert_eq!(
            format_mac(&mac_bytes(Ipv4Addr::new(172, 17, 0, 2))),
            "02:42:ac:11:00:02"
        );
        assert_eq!(
            parse_mac("92:D0:C6:0A:29:33"),
            Some([0x92, 0xd0, 0xc6, 0x0a, 0x29, 0x33])
        );
        assert_eq!(parse_mac("92:d0:c6:0a:29"), None);
        assert_eq!(parse_mac("92:d0:c6:0a:29:zz"), None);
    }

    #[test]
    fn default_config_uses_berth_names_and_docker_pools() {
        let cfg =
            NetworkConfig::with_defaults(Path::new("/var/lib/berth"), Path::new("/run/berth"));
        assert_eq!(
            (cfg.bridge.as_str(), cfg.iptables_prefix.as_str()),
            ("berth0", "BERTH")
        );
        assert_eq!(cfg.state_dir, Path::new("/var/lib/berth/network"));
        assert_eq!(cfg.pools, super::super::subnet::default_pools());
    }

    #[test]
    fn ids_that_could_escape_are_refused() {
        for bad in ["", "../x", "a/b", ".hidden", "a b"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
        check_id("0123abcd").unwrap();
    }

    #[test]
    fn endpoint_serde() {
        let ep = Endpoint {
            ip: Ipv4Addr::new(172, 17, 0, 2),
            prefix_len: 16,
            gateway: Ipv4Addr::new(172, 17, 0, 1),
            mac: mac_for(Ipv4Addr::new(172, 17, 0, 2)),
            host_veth: "veth0123456789a".into(),
            interface: "eth0".into(),
            ipv6: None,
        };
        let json = serde_json::to_string(&ep).unwrap();
        assert_eq!(serde_json::from_str::<Endpoint>(&json).unwrap(), ep);
    }

    #[tokio::test]
    async fn ipam_state_that_describes_another_subnet_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("br.json");
        let old: Ipv4Net = "10.9.0.0/24".parse().unwrap();
        let mut ipam = Ipam::new(old, first_host(&old));
        ipam.allocate().unwrap();
        crate::util::fsutil::write_json_atomic(&path, &ipam).unwrap();
        let same = load_ipam(&path, old, first_host(&old)).await.unwrap();
        assert_eq!(same, ipam);
        let new: Ipv4Net = "10.8.0.0/24".parse().unwrap();
        let fresh = load_ipam(&path, new, first_host(&new)).await.unwrap();
        assert_eq!(fresh.allocated().count(), 0);
        std::fs::write(&path, b"{not json").unwrap();
        let err = load_ipam(&path, old, first_host(&old)).await.unwrap_err();
        assert!(err.to_string().contains("br.json"), "{err}");
    }
}
