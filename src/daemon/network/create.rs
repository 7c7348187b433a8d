//! `network create`: check the request as Docker does, make the bridge (a subnet of its own,
//! asked for or taken first-fit from the pools, and with `--ipv6` the IPv6 pool asked for),
//! and only then record the network.

use super::super::error::{DaemonError, Result};
use super::super::Daemon;
use super::pool6::{self, Pool6};
use super::{user_bridge, Network, NetworkRecord};
use crate::wire::network::NetworkCreateRequest;
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

const BRIDGE_NAME: &str = "com.docker.network.bridge.name";
const ICC: &str = "com.docker.network.bridge.enable_icc";

/// Whether containers on the network may talk to each other: the `enable_icc` option, read
/// as Go's strconv.ParseBool reads it (Docker's reader); true when it is absent.
pub(super) fn icc(options: &BTreeMap<String, String>) -> Result<bool> {
    match options.get(ICC).map(String::as_str) {
        None | Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(other) => Err(invalid(format!(
            "invalid value {other:?} for option {ICC}: it must be true or false"
        ))),
    }
}

fn invalid(m: impl Into<String>) -> DaemonError {
    DaemonError::InvalidParameter(m.into())
}

/// What `IPAM.Config` asks for: one IPv4 subnet, its gateway, its range and its auxiliary
/// addresses, each optional; and one IPv6 pool, optional too.
#[derive(Default)]
struct Asked {
    subnet: Option<Ipv4Net>,
    gateway: Option<Ipv4Addr>,
    range: Option<Ipv4Net>,
    aux: BTreeMap<String, String>,
    v6: Option<Pool6>,
}

fn ipam(req: &NetworkCreateRequest) -> Result<Asked> {
    let Some(ipam) = &req.ipam else {
        return Ok(Asked::default());
    };
    if !ipam.driver.is_empty() && ipam.driver != "default" {
        return Err(DaemonError::NotFound(format!(
            "plugin \"{}\" not found",
            ipam.driver
        )));
    }
    if ipam.options.as_ref().is_some_and(|o| !o.is_empty()) {
        return Err(invalid("--ipam-opt is not supported by berth yet"));
    }
    let all = ipam.config.as_deref().unwrap_or_default();
    let (v6, configs): (Vec<_>, Vec<_>) = all.iter().partition(|c| pool6::is_v6(c));
    if configs.len() > 1 {
        return Err(invalid(
            "berth supports one IPv4 subnet per network (more are not supported yet)",
        ));
    }
    if v6.len() > 1 {
        return Err(invalid(
            "berth supports one IPv6 subnet per network (more are not supported yet)",
        ));
    }
    let v6 = v6.first().map(|c| pool6::parse(c)).transpose()?;
    let Some(c) = configs.first() else {
        return Ok(Asked {
            v6,
            ..Asked::default()
        });
    };
    let range: Option<Ipv4Net> = match c.ip_range.as_str() {
        "" => None,
        r => Some(
            r.parse()
                .map_err(|_| invalid(format!("invalid ip range {r}")))?,
        ),
    };
    let subnet: Option<Ipv4Net> = match c.subnet.as_str() {
        "" => None,
        s => Some(s.parse().map_err(|_| {
            invalid(format!(
                "invalid subnet {s}: IPv4 subnets only, as a.b.c.d/n"
            ))
        })?),
    };
    let gateway: Option<Ipv4Addr> = match c.gateway.as_str() {
        "" => None,
        g => Some(
            g.parse()
                .map_err(|_| invalid(format!("invalid gateway address {g}")))?,
        ),
    };
    if let Some(r) = range {
        match subnet {
            None => return Err(invalid("an ip range needs a subnet (--subnet)")),
            Some(s) if !s.contains(&r) => {
                return Err(invalid(format!("ip range {r} is not within subnet {s}")))
            }
            _ => {}
        }
    }
    match (subnet, gateway) {
        (None, Some(_)) => Err(invalid("a gateway needs a subnet (--subnet)")),
        (Some(s), Some(g)) if !s.contains(&g) || g == s.network() || g == s.broadcast() => {
            Err(invalid(format!("no matching subnet for gateway {g}")))
        }
        (Some(s), _) if s.prefix_len() > 30 => Err(invalid(format!(
            "subnet {s} is too small for a network (a /30 at least)"
        ))),
        (subnet, gateway) => {
            let aux = c.auxiliary_addresses.clone().unwrap_or_default();
            for (name, ip) in &aux {
                let ip: Ipv4Addr = ip
                    .parse()
                    .map_err(|_| invalid(format!("invalid auxiliary address {name}={ip}")))?;
                if subnet.is_none_or(|s| !s.contains(&ip)) {
                    return Err(invalid(format!("no matching subnet for aux-address {ip}")));
                }
            }
            Ok(Asked {
                subnet,
                gateway,
                range,
                aux,
                v6,
            })
        }
    }
}

impl Daemon {
    /// `POST /networks/create`: the new network's id.
    pub async fn network_create(&self, req: NetworkCreateRequest) -> Result<String> {
        let _guard = self.network_lock.lock().await;
        let name = req.name.trim().to_string();
        if name.is_empty() {
            return Err(invalid("network name is required"));
        }
        if self.networks.all().iter().any(|n| n.record.name == name) {
            return Err(DaemonError::Conflict(format!(
                "network with name {name} already exists"
            )));
        }
        match req.driver.as_str() {
            "" | "bridge" => {}
            "host" | "null" => {
                return Err(DaemonError::Forbidden(format!(
                    "only one instance of \"{}\" network is allowed",
                    req.driver
                )))
            }
            other => {
                return Err(DaemonError::NotFound(format!(
                    "plugin \"{other}\" not found"
                )))
            }
        }
        if req.ingress
            || req.config_only
            || req
                .config_from
                .as_ref()
                .is_some_and(|c| !c.network.is_empty())
        {
            return Err(invalid(
                "swarm networks (--ingress, --config-only, --config-from) are not supported by berth",
            ));
        }
        if !req.scope.is_empty() && req.scope != "local" {
            return Err(invalid(format!(
                "scope {:?} is not supported by berth (local networks only)",
                req.scope
            )));
        }
        let Asked {
            subnet,
            gateway,
            range: ip_range,
            aux,
            v6,
        } = ipam(&req)?;
        let enable_ipv6 = req.enable_ipv6 == Some(true);
        if enable_ipv6 && v6.is_none() {
            // Docker has no default IPv6 pools either: `--ipv6` needs `--subnet`.
            return Err(DaemonError::Forbidden(
                "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network".into(),
            ));
        }
        // Only pools in use clash: a v6 subnet without `--ipv6` is recorded, never allocated.
        if let Some(p) = v6.as_ref().filter(|_| enable_ipv6) {
            for other in self.networks.all() {
                if other.record.ipv6_config().is_some_and(|t| {
                    t.subnet.contains(&p.subnet.network()) || p.subnet.contains(&t.subnet.network())
                }) {
                    return Err(DaemonError::Forbidden(
                        "Pool overlaps with other one on this address space".into(),
                    ));
                }
            }
        }
        if let Some(s) = subnet {
            for other in self.networks.all() {
                let theirs = other.bridge.as_ref().map(|b| b.subnet());
                if theirs.is_some_and(|t| t.contains(&s.network()) || s.contains(&t.network())) {
                    return Err(DaemonError::Forbidden(
                        "Pool overlaps with other one on this address space".into(),
                    ));
                }
            }
        }
        let options = req.options.clone().unwrap_or_default();
        icc(&options)?;
        for key in options.keys() {
            if key != BRIDGE_NAME && key != ICC && key != "com.docker.network.driver.mtu" {
                return Err(invalid(format!(
                    "network option {key} is not supported by berth yet"
                )));
            }
        }
        if options.contains_key("com.docker.network.driver.mtu") {
            return Err(invalid(
                "network option com.docker.network.driver.mtu is not supported by berth yet",
            ));
        }
        let id = crate::util::id::random_id();
        let bridge = match options.get(BRIDGE_NAME) {
            Some(b) if b.is_empty() || b.len() > 15 || b.contains('/') || b.contains(' ') => {
                return Err(invalid(format!("invalid bridge name {b:?}")))
            }
            Some(b) => b.clone(),
            None => format!("br-{}", &id[..12]),
        };
        if self
            .networks
            .all()
            .iter()
            .any(|n| n.record.bridge == bridge)
        {
            return Err(DaemonError::Conflict(format!(
                "bridge name {bridge} is already in use by another network"
            )));
        }
        let mut record = NetworkRecord {
            id: id.clone(),
            name,
            created: super::super::now_rfc3339(),
            driver: "bridge".into(),
            bridge,
            subnet: subnet.map(|s| s.trunc().to_string()),
            gateway: gateway.map(|g| g.to_string()),
            ip_range: ip_range.map(|r| r.trunc().to_string()),
            enable_ipv6,
            subnet6: v6.as_ref().map(|p| p.subnet.to_string()),
            // As given: Docker shows no gateway it was not asked for, though the bridge takes
            // the subnet's first address (`NetworkRecord::ipv6_config`).
            gateway6: v6.as_ref().and_then(|p| p.gateway.map(|g| g.to_string())),
            ip_range6: v6.as_ref().and_then(|p| p.range.map(|r| r.to_string())),
            aux,
            ipam_options: req.ipam.as_ref().and_then(|i| i.options.clone()),
            internal: req.internal,
            attachable: req.attachable,
            options: options.clone(),
            labels: req.labels.clone().unwrap_or_default(),
            builtin: false,
        };
        let mut base = self.network.config().clone();
        // Docker's choice: first fit, skipping the host's routes and nameservers and the
        // subnets other networks hold (a down bridge has no route to show for its subnet).
        base.nameservers = super::super::etc_files::host_nameservers();
        base.other_subnets = self
            .networks
            .all()
            .iter()
            .filter_map(|n| n.bridge.as_ref().map(|b| b.subnet()))
            .collect();
        let made = user_bridge(&base, &record).await.map_err(|e| match e {
            crate::network::NetworkError::NoFreeSubnet { .. } => DaemonError::Forbidden(
                "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into(),
            ),
            e => DaemonError::system("creating the network's bridge", e),
        })?;
        record.subnet = Some(made.subnet().to_string());
        record.gateway = Some(made.gateway().to_string());
        let made = Arc::new(made);
        if let Err(e) = self.networks.save(&record) {
            let _ = made.remove().await;
            return Err(DaemonError::system("writing the network record", e));
        }
        self.network_event(&record, "create", &BTreeMap::new());
        self.networks.insert(Network {
            record,
            bridge: Some(made),
        });
        Ok(id)
    }
}
