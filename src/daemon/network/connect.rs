//! `network connect` and `network disconnect`, and the plugging of a starting container into
//! every network it is on: the one its network mode names as `eth0` (with the default route),
//! the others as `eth1`, `eth2`, … in the order of their names. A stopped container only has
//! its record changed; a running one gets (or loses) the interface at once.

use super::super::container::{Attachment, Container, Record};
use super::super::error::{DaemonError, Result};
use super::super::Daemon;
use super::Network;
use crate::network::mode::NetworkMode;
use crate::network::{BridgeNetwork, Endpoint};
use crate::wire::network::NetworkConnectRequest;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;

/// A container's network names in plugging order: its network mode's first, then the rest.
pub fn plug_order(rec: &Record) -> Vec<String> {
    let primary = rec.primary_network();
    let mut names: Vec<String> = rec
        .networks
        .keys()
        .filter(|n| **n != primary)
        .cloned()
        .collect();
    if rec.networks.contains_key(&primary) {
        names.insert(0, primary);
    }
    names
}

/// What a plugged container holds on one network: the bridge and the endpoint on it.
pub type Plugged = (String, Arc<BridgeNetwork>, Endpoint);

/// The attachment of `--network`/`NetworkingConfig` for a network, checked as Docker checks it.
/// On a user network the container's short id is one of its aliases, as Docker records it.
pub fn attachment(
    net: &Network,
    container: &str,
    cfg: crate::wire::types::EndpointSettings,
) -> Result<Attachment> {
    let ip = ipv4_of(cfg.ipam_config.as_ref())?;
    let ip6 = ipv6_of(net, cfg.ipam_config.as_ref())?;
    let ipam = cfg.ipam_config.clone().unwrap_or_default();
    let mut link_local = Vec::new();
    for v in ipam
        .get("LinkLocalIPs")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
    {
        let s = v.as_str().unwrap_or_default();
        match s.parse::<Ipv4Addr>() {
            Ok(ip) if ip.is_link_local() => link_local.push(ip),
            _ => {
                return Err(DaemonError::InvalidParameter(format!(
                "--link-local-ip {s}: berth takes IPv4 link-local addresses (169.254.0.0/16) only"
            )))
            }
        }
    }
    let mut aliases = cfg.aliases.clone().unwrap_or_default();
    let mac = match cfg.mac_address.as_str() {
        "" => None,
        m if crate::network::parse_mac(m).is_some() => Some(m.to_ascii_lowercase()),
        m => {
            return Err(DaemonError::InvalidParameter(format!(
                "invalid MAC address: {m}"
            )))
        }
    };
    let links = cfg.links.clone().unwrap_or_default();
    if !links.is_empty() && !net.has_dns() {
        return Err(DaemonError::InvalidParameter(
            "links are only supported for user-defined networks".into(),
        ));
    }
    if let Some(bad) = links.iter().find(|l| {
        let (target, alias) = l.split_once(':').unwrap_or((l, l));
        target.trim_start_matches('/').is_empty() || alias.is_empty()
    }) {
        return Err(DaemonError::InvalidParameter(format!(
            "invalid link: {bad:?} (name[:alias])"
        )));
    }
    if !net.has_dns() && !aliases.is_empty() {
        return Err(DaemonError::InvalidParameter(
            "network-scoped alias is supported only for containers in user defined networks".into(),
        ));
    }
    if let Some(ip) = ip {
        if !net.has_dns() {
            return Err(DaemonError::InvalidParameter(
                "user specified IP address is supported on user defined networks only".into(),
            ));
        }
        let subnet = net.bridge.as_ref().map(|b| b.subnet());
        if subnet.is_some_and(|s| !s.contains(&ip)) {
            return Err(DaemonError::InvalidParameter(format!(
                "no configured subnet contains IP address {ip}"
            )));
        }
    }
    let short = &container[..container.len().min(12)];
    if net.has_dns() && !aliases.iter().any(|a| a == short) {
        aliases.push(short.to_string());
    }
    Ok(Attachment {
        network_id: net.record.id.clone(),
        aliases,
        ipv4_address: ip,
        ipv6_address: ip6,
        links,
        link_local,
        mac,
        ipam_config: cfg.ipam_config.clone().filter(|v| !v.is_null()),
        driver_opts: cfg.driver_opts.clone().filter(|v| !v.is_null()),
        endpoint: None,
    })
}

impl Daemon {
    /// Plug a started container's namespace into each of its bridge networks; on a failure,
    /// unplug what was plugged. Host and none attachments have nothing to plug.
    pub(crate) async fn plug_all(&self, rec: &Record, netns: &Path) -> Result<Vec<Plugged>> {
        let mut done: Vec<Plugged> = Vec::new();
        for name in plug_order(rec) {
            let a = &rec.networks[&name];
            let net = match self.networks.for_attachment(&name, &a.network_id) {
                Ok(n) => n,
                Err(e) => {
                    unplug_all(&rec.id, &done).await;
                    return Err(e);
                }
            };
            let Some(bridge) = net.bridge.clone() else {
                continue;
            };
            match bridge
                .connect_slot(&rec.id, netns, &a.plug(done.len()))
                .await
            {
                Ok(ep) => done.push((name, bridge, ep)),
                Err(e) => {
                    unplug_all(&rec.id, &done).await;
                    return Err(DaemonError::system(
                        &format!("connecting to network {name}"),
                        e,
                    ));
                }
            }
        }
        Ok(done)
    }

    /// The bridge a recorded endpoint is on, for taking it down.
    pub(crate) fn bridge_of(&self, name: &str, a: &Attachment) -> Option<Arc<BridgeNetwork>> {
        self.networks
            .for_attachment(name, &a.network_id)
            .ok()
            .and_then(|n| n.bridge.clone())
    }

    /// `POST /networks/{id}/connect`.
    pub async fn network_connect(
        self: &Arc<Self>,
        network: &str,
        req: NetworkConnectRequest,
    ) -> Result<()> {
        let net = self.networks.find(network)?;
        let c = self.lookup(&req.container)?;
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        let name = net.record.name.clone();
        // Only a container with a namespace of its own on a bridge can get another interface.
        let own_namespace = !matches!(
            NetworkMode::parse(&rec.host_config.network_mode),
            Ok(NetworkMode::Host | NetworkMode::None | NetworkMode::Container(_))
        );
        if net.bridge.is_none() || !own_namespace {
            return Err(DaemonError::Forbidden(if net.bridge.is_none() {
                format!("container cannot be disconnected from host network or connected to {name} network")
            } else {
                "container sharing network namespace with another container or host cannot be connected to any other network".into()
            }));
        }
        if rec.networks.contains_key(&name) {
            return Err(DaemonError::Forbidden(format!(
                "endpoint with name {} already exists in network {name}",
                rec.name.trim_start_matches('/')
            )));
        }
        let cfg = req.endpoint_config.unwrap_or_default();
        let a = attachment(&net, &rec.id, cfg)?;
        let mut endpoint = None;
        if let (true, Some(ns), Some(bridge)) =
            (c.is_running(), rec.netns.clone(), net.bridge.clone())
        {
            let used: Vec<usize> = rec
                .endpoints()
                .filter_map(|(_, e)| e.interface.strip_prefix("eth")?.parse().ok())
                .collect();
            let slot = (0..).find(|n| !used.contains(n)).unwrap_or(0);
            let ep = bridge
                .connect_slot(&rec.id, &ns, &a.plug(slot))
                .await
                .map_err(|e| DaemonError::system(&format!("connecting to network {name}"), e))?;
            endpoint = Some(ep);
        }
        let running = endpoint.is_some();
        c.update(|r| {
            r.networks.insert(
                name.clone(),
                Attachment {
                    endpoint: endpoint.clone(),
                    ..a.clone()
                },
            );
        })
        .map_err(|e| DaemonError::system("writing the container record", e))?;
        if running {
            self.names_changed(&c).await;
        }
        self.network_event(
            &net.record,
            "connect",
            &BTreeMap::from([("container".to_string(), rec.id.clone())]),
        );
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn network_disconnect(
        self: &Arc<Self>,
        network: &str,
        container: &str,
        force: bool,
    ) -> Result<()> {
        let net = match self.networks.find(network) {
            Ok(n) => n,
            Err(e) if !force => return Err(e),
            Err(_) => return Ok(()),
        };
        let c = self.lookup(container)?;
        let _op = c.op.lock().await;
        self.detach(&c, &net).await
    }

    pub(crate) async fn detach(self: &Arc<Self>, c: &Arc<Container>, net: &Network) -> Result<()> {
        let rec = c.snapshot();
        let name = net.record.name.clone();
        if net.bridge.is_none() && rec.networks.contains_key(&name) {
            return Err(DaemonError::Forbidden(format!(
                "container cannot be disconnected from host network or connected to {name} network"
            )));
        }
        let Some(a) = rec.networks.get(&name).cloned() else {
            return Err(DaemonError::Forbidden(format!(
                "container {} is not connected to network {name}",
                rec.id
            )));
        };
        if let (Some(ep), Some(bridge)) = (&a.endpoint, &net.bridge) {
            if rec.primary_network() == name && !rec.ports.is_empty() {
                bridge.unpublish(&rec.id, ep.ip, &rec.ports).await;
            }
            bridge
                .disconnect(&rec.id, ep)
                .await
                .map_err(|e| DaemonError::system(&format!("disconnecting from {name}"), e))?;
        }
        c.update(|r| {
            r.networks.remove(&name);
            if r.primary_network() == name {
                r.ports.clear();
            }
        })
        .map_err(|e| DaemonError::system("writing the container record", e))?;
        if a.endpoint.is_some() {
            self.names_changed(c).await;
        }
        self.network_event(
            &net.record,
            "disconnect",
            &BTreeMap::from([("container".to_string(), rec.id.clone())]),
        );
        Ok(())
    }
}

/// `EndpointSettings.IPAMConfig.IPv4Address`.
pub fn ipv4_of(ipam: Option<&serde_json::Value>) -> Result<Option<Ipv4Addr>> {
    let Some(s) = ipam
        .and_then(|v| v.get("IPv4Address"))
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
    else {
        return Ok(None);
    };
    s.parse()
        .map(Some)
        .map_err(|_| DaemonError::InvalidParameter(format!("invalid IPv4 address: {s}")))
}

/// `EndpointSettings.IPAMConfig.IPv6Address`, checked as Docker 20.10 checks it: only on a
/// user network with an IPv6 subnet configured, and inside that subnet. (On a network that
/// has the subnet but not `EnableIPv6`, Docker records the address and assigns none; so
/// does berth.)
pub fn ipv6_of(net: &Network, ipam: Option<&serde_json::Value>) -> Result<Option<Ipv6Addr>> {
    let Some(s) = ipam
        .and_then(|v| v.get("IPv6Address"))
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
    else {
        return Ok(None);
    };
    let ip: Ipv6Addr = s
        .parse()
        .map_err(|_| DaemonError::InvalidParameter(format!("invalid IPv6 address: {s}")))?;
    if !net.has_dns() {
        return Err(DaemonError::InvalidParameter(
            "user specified IP address is supported on user defined networks only".into(),
        ));
    }
    let Some(subnet) = net.record.ipv6_subnet() else {
        return Err(DaemonError::InvalidParameter(
            "user specified IP address is supported only when connecting to networks with user configured subnets".into(),
        ));
    };
    if !subnet.contains(&ip) {
        return Err(DaemonError::InvalidParameter(format!(
            "no configured subnet contains IP address {ip}"
        )));
    }
    Ok(Some(ip))
}

impl Daemon {
    /// The networks a new container is on: the one its network mode names (the mode is
    /// rewritten to that network's name), with the aliases and address `NetworkingConfig`
    /// gives it, and any other network `NetworkingConfig.EndpointsConfig` names.
    pub(crate) fn initial_attachments(
        &self,
        id: &str,
        hc: &mut crate::wire::types::HostConfig,
        networking: Option<&serde_json::Value>,
    ) -> Result<BTreeMap<String, Attachment>> {
        let mode = NetworkMode::parse(&hc.network_mode)
            .map_err(|e| DaemonError::InvalidParameter(e.to_string()))?;
        if let NetworkMode::Container(other) = &mode {
            // On no network of its own: it lives in the other's namespace.
            self.lookup(other)?;
            return Ok(BTreeMap::new());
        }
        let primary = self.networks.find(mode.network_name())?;
        if let NetworkMode::Named(_) = mode {
            hc.network_mode = primary.record.name.clone();
        }
        let configs: BTreeMap<String, crate::wire::types::EndpointSettings> = networking
            .and_then(|n| n.get("EndpointsConfig"))
            .filter(|v| !v.is_null())
            .map(|v| serde_json::from_value(v.clone()))
            .transpose()
            .map_err(|e| DaemonError::InvalidParameter(format!("NetworkingConfig: {e}")))?
            .unwrap_or_default();
        let mut out = BTreeMap::new();
        let mut primary_cfg = None;
        for (key, cfg) in &configs {
            let mode = NetworkMode::parse(key)
                .map_err(|e| DaemonError::InvalidParameter(e.to_string()))?;
            let net = self.networks.find(mode.network_name())?;
            if net.record.id == primary.record.id {
                primary_cfg = Some(cfg.clone());
                continue;
            }
            if primary.bridge.is_none() {
                return Err(DaemonError::InvalidParameter(format!(
                    "Container cannot be connected to network endpoints: {}",
                    configs.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            let a = attachment(&net, id, cfg.clone())?;
            out.insert(net.record.name.clone(), a);
        }
        let a = attachment(&primary, id, primary_cfg.unwrap_or_default())?;
        out.insert(primary.record.name.clone(), a);
        Ok(out)
    }
}

/// Take container `id` out of the networks it was plugged into, newest first; what fails is
/// logged, and the rest still goes.
async fn unplug_all(id: &str, plugged: &[Plugged]) {
    for (name, bridge, ep) in plugged.iter().rev() {
        if let Err(e) = bridge.disconnect(id, ep).await {
            tracing::warn!("container {id}: disconnecting from {name}: {e}");
        }
    }
}
