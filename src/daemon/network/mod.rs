//! The daemon's networks (chapter 07): the predefined `bridge`, `host` and `none`, and the
//! user-defined bridge networks, each a record in `<root>/network/networks/<id>.json` and,
//! for a bridge, a `BridgeNetwork` (its own bridge device, subnet, IPAM and rules). The verbs
//! are one file each: `create`, `remove`, `prune`, `connect` (and disconnect); `view` turns a
//! network into Docker's JSON.

pub(crate) mod connect;
mod create;
mod dns;
mod pool6;
mod prune;
mod remove;
pub mod view;

use super::error::{DaemonError, Result};
use crate::network::{BridgeNetwork, NetworkConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// A network as the daemon keeps it on disk.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    pub created: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    /// The bridge device (empty for host and none).
    #[serde(default)]
    pub bridge: String,
    #[serde(default)]
    pub subnet: Option<String>,
    #[serde(default)]
    pub gateway: Option<String>,
    #[serde(default)]
    pub ip_range: Option<String>,
    /// `--ipv6`: containers get IPv6 addresses from the IPv6 pool below.
    #[serde(default)]
    pub enable_ipv6: bool,
    /// The IPv6 pool of `IPAM.Config`, if one was given (recorded, and shown, even without
    /// `--ipv6`, as Docker does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<String>,
    /// As given (None: the bridge takes the subnet's first address, and inspect shows none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range6: Option<String>,
    /// `--ipam-opt`, as given (null when none was sent, as Docker shows it).
    #[serde(default)]
    pub ipam_options: Option<BTreeMap<String, String>>,
    /// `--aux-address name=ip`.
    #[serde(default)]
    pub aux: BTreeMap<String, String>,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `bridge`, `host` and `none`: made by the daemon, never removed.
    #[serde(default)]
    pub builtin: bool,
}

/// One network: its record, and for a bridge network the bridge itself.
#[derive(Debug)]
pub struct Network {
    pub record: NetworkRecord,
    pub bridge: Option<Arc<BridgeNetwork>>,
}

impl NetworkRecord {
    /// The IPv6 subnet configured, with or without `--ipv6`.
    pub fn ipv6_subnet(&self) -> Option<ipnet::Ipv6Net> {
        self.subnet6.as_deref().and_then(|s| s.parse().ok())
    }

    /// The IPv6 pool the bridge uses: only on an IPv6-enabled network.
    pub fn ipv6_config(&self) -> Option<crate::network::Ipv6Config> {
        if !self.enable_ipv6 {
            return None;
        }
        let subnet = self.ipv6_subnet()?;
        Some(crate::network::Ipv6Config {
            subnet,
            gateway: self
                .gateway6
                .as_deref()
                .and_then(|g| g.parse().ok())
                .unwrap_or_else(|| crate::network::first_host6(&subnet)),
            range: self.ip_range6.as_deref().and_then(|r| r.parse().ok()),
        })
    }
}

impl Network {
    /// A network whose containers get names in the embedded DNS (every user network).
    pub fn has_dns(&self) -> bool {
        !self.record.builtin && self.bridge.is_some()
    }
}

/// Every network the daemon has, by id.
#[derive(Debug, Default)]
pub struct Networks {
    by_id: RwLock<BTreeMap<String, Arc<Network>>>,
    dir: PathBuf,
}

fn records_dir(root: &Path) -> PathBuf {
    root.join("network").join("networks")
}

/// Every `<id>.json` in the records directory, read and parsed (or why not).
fn read_records(dir: &Path) -> std::io::Result<Vec<(PathBuf, anyhow::Result<NetworkRecord>)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)?.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let read = std::fs::read(&path)
            .map_err(anyhow::Error::from)
            .and_then(|d| serde_json::from_slice(&d).map_err(anyhow::Error::from));
        out.push((path, read));
    }
    Ok(out)
}

impl Networks {
    /// Read the records, set up each user network's bridge again (after a reboot it is gone;
    /// after a restart it is adopted), and make the predefined networks on first start.
    pub async fn open(
        root: &Path,
        default_bridge: Arc<BridgeNetwork>,
        base: &NetworkConfig,
    ) -> anyhow::Result<Networks> {
        use anyhow::Context;
        let dir = records_dir(root);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut records: Vec<NetworkRecord> = Vec::new();
        for (path, read) in read_records(&dir)? {
            match read {
                Ok(r) => records.push(r),
                Err(e) => tracing::warn!("network record {}: {e}", path.display()),
            }
        }
        let nets = Networks {
            by_id: RwLock::new(BTreeMap::new()),
            dir,
        };
        for (name, driver) in [("bridge", "bridge"), ("host", "host"), ("none", "null")] {
            let mut record = match records.iter().position(|r| r.builtin && r.name == name) {
                Some(i) => records.remove(i),
                None => NetworkRecord {
                    id: crate::util::id::random_id(),
                    name: name.into(),
                    created: super::now_rfc3339(),
                    driver: driver.into(),
                    bridge: String::new(),
                    subnet: None,
                    gateway: None,
                    ip_range: None,
                    enable_ipv6: false,
                    subnet6: None,
                    gateway6: None,
                    ip_range6: None,
                    aux: BTreeMap::new(),
                    ipam_options: None,
                    internal: false,
                    attachable: false,
                    options: BTreeMap::new(),
                    labels: BTreeMap::new(),
                    builtin: true,
                },
            };
            let bridge = (name == "bridge").then(|| default_bridge.clone());
            if let Some(b) = &bridge {
                record.bridge = b.bridge().to_string();
                record.subnet = Some(b.subnet().to_string());
                record.gateway = Some(b.gateway().to_string());
                record.options = BTreeMap::from([
                    (
                        "com.docker.network.bridge.default_bridge".into(),
                        "true".into(),
                    ),
                    (
                        "com.docker.network.bridge.name".into(),
                        record.bridge.clone(),
                    ),
                ]);
            }
            nets.save(&record)?;
            nets.insert(Network { record, bridge });
        }
        for record in records {
            match user_bridge(base, &record).await {
                Ok(bridge) => nets.insert(Network {
                    record,
                    bridge: Some(Arc::new(bridge)),
                }),
                Err(e) => {
                    tracing::warn!("network {}: setting up {}: {e}", record.name, record.bridge)
                }
            }
        }
        Ok(nets)
    }

    fn insert(&self, n: Network) {
        self.by_id
            .write()
            .unwrap()
            .insert(n.record.id.clone(), Arc::new(n));
    }

    fn save(&self, r: &NetworkRecord) -> std::io::Result<()> {
        crate::util::fsutil::write_json_atomic(&self.dir.join(format!("{}.json", r.id)), r)
    }

    fn forget(&self, id: &str) -> std::io::Result<()> {
        self.by_id.write().unwrap().remove(id);
        match std::fs::remove_file(self.dir.join(format!("{id}.json"))) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The bridge of every record on disk, also of networks whose setup failed at start;
    /// None if some record cannot be read (its bridge is unknown, so nothing may be called an
    /// orphan).
    pub fn recorded_bridges(&self) -> Option<Vec<String>> {
        let mut out = Vec::new();
        for (_, read) in read_records(&self.dir).ok()? {
            let record = read.ok()?;
            if !record.bridge.is_empty() {
                out.push(record.bridge);
            }
        }
        Some(out)
    }

    pub fn all(&self) -> Vec<Arc<Network>> {
        self.by_id.read().unwrap().values().cloned().collect()
    }

    /// Docker's order: the full id, then the name, then a unique id prefix.
    pub fn find(&self, input: &str) -> Result<Arc<Network>> {
        let map = self.by_id.read().unwrap();
        if let Some(n) = map.get(input) {
            return Ok(n.clone());
        }
        if let Some(n) = map.values().find(|n| n.record.name == input) {
            return Ok(n.clone());
        }
        let mut found = map
            .values()
            .filter(|n| !input.is_empty() && n.record.id.starts_with(input));
        match (found.next(), found.next()) {
            (Some(n), None) => Ok(n.clone()),
            (Some(_), Some(_)) => Err(DaemonError::InvalidParameter(format!(
                "network {input} is ambiguous"
            ))),
            _ => Err(DaemonError::NotFound(format!("network {input} not found"))),
        }
    }

    /// The network a container's record names (its id, or failing that its name).
    pub fn for_attachment(&self, name: &str, id: &str) -> Result<Arc<Network>> {
        if let Some(n) = self.by_id.read().unwrap().get(id) {
            return Ok(n.clone());
        }
        self.find(name)
    }
}

/// The `BridgeNetwork` of a user network record: its own device, subnet and state file.
async fn user_bridge(
    base: &NetworkConfig,
    r: &NetworkRecord,
) -> std::result::Result<BridgeNetwork, crate::network::NetworkError> {
    BridgeNetwork::setup(NetworkConfig {
        bridge: r.bridge.clone(),
        subnet: r.subnet.as_deref().and_then(|s| s.parse().ok()),
        gateway: r.gateway.as_deref().and_then(|s| s.parse().ok()),
        ip_range: r.ip_range.as_deref().and_then(|s| s.parse().ok()),
        aux: r.aux.values().filter_map(|s| s.parse().ok()).collect(),
        policy: crate::network::iptables::Policy {
            internal: r.internal,
            // Checked at create: a record holds only a value that parses.
            icc: create::icc(&r.options).unwrap_or(true),
        },
        ipv6: r.ipv6_config(),
        ..base.clone()
    })
    .await
}
