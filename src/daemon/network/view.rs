//! A network as Docker's API shows it (`NetworkResource`), with the containers on it.

use super::super::Daemon;
use super::Network;
use crate::wire::network::{ConfigReference, Ipam, IpamConfig, NetworkContainer, NetworkResource};
use std::collections::BTreeMap;

impl Daemon {
    /// `GET /networks/{id}` (`with_containers`), or one item of `GET /networks` (without).
    pub fn network_resource(&self, net: &Network, with_containers: bool) -> NetworkResource {
        let r = &net.record;
        let mut containers = BTreeMap::new();
        if with_containers {
            for c in self.all_containers() {
                let rec = c.snapshot();
                let Some(a) = rec.networks.get(&r.name).filter(|a| a.network_id == r.id) else {
                    continue;
                };
                if !rec.state.running {
                    continue;
                }
                let ep = a.endpoint.as_ref();
                containers.insert(
                    rec.id.clone(),
                    NetworkContainer {
                        name: rec.name.trim_start_matches('/').to_string(),
                        endpoint_id: ep.map(|_| endpoint_id(&rec.id, &r.id)).unwrap_or_default(),
                        mac_address: ep.map(|e| e.mac.clone()).unwrap_or_default(),
                        ipv4_address: ep
                            .map(|e| format!("{}/{}", e.ip, e.prefix_len))
                            .unwrap_or_default(),
                        ipv6_address: ep
                            .and_then(|e| e.ipv6.as_ref())
                            .map(|v6| format!("{}/{}", v6.ip, v6.prefix_len))
                            .unwrap_or_default(),
                    },
                );
            }
        }
        let mut config = match (&r.subnet, &r.gateway) {
            (Some(s), g) => vec![IpamConfig {
                subnet: s.clone(),
                gateway: g.clone().unwrap_or_default(),
                ip_range: r.ip_range.clone().unwrap_or_default(),
                auxiliary_addresses: (!r.aux.is_empty()).then(|| r.aux.clone()),
            }],
            _ => vec![],
        };
        if let Some(s) = &r.subnet6 {
            config.push(IpamConfig {
                subnet: s.clone(),
                gateway: r.gateway6.clone().unwrap_or_default(),
                ip_range: r.ip_range6.clone().unwrap_or_default(),
                auxiliary_addresses: None,
            });
        }
        NetworkResource {
            name: r.name.clone(),
            id: r.id.clone(),
            created: r.created.clone(),
            scope: "local".into(),
            driver: r.driver.clone(),
            enable_ipv6: r.enable_ipv6,
            ipam: Ipam {
                driver: "default".into(),
                options: r.ipam_options.clone(),
                config: Some(config),
            },
            internal: r.internal,
            attachable: r.attachable,
            ingress: false,
            config_from: ConfigReference::default(),
            config_only: false,
            containers,
            options: r.options.clone(),
            labels: r.labels.clone(),
        }
    }
}

/// A stable id for a container's endpoint on a network (Docker's is random; clients only
/// compare them).
pub fn endpoint_id(container: &str, network: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(container);
    h.update(network);
    hex::encode(h.finalize())
}
