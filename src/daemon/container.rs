//! A container as the daemon keeps it: the record persisted in `containers/<id>/config.v2.json`
//! (atomically, so a crash never leaves half of one), and the live parts that only exist while
//! the daemon runs: the output fan-out to attached clients, the lifecycle watch that `wait`
//! listens on, and the stdin of the running process.

use crate::network::Endpoint;
use crate::runtime::client::ShimStdin;
use crate::wire::types::{ContainerConfig, ContainerState, HostConfig};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokio::sync::{broadcast, watch};

/// Docker's zero time, shown for a container that never started or never finished.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Record {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    /// "sha256:..." of the image the container was created from.
    pub image: String,
    /// With the leading slash, as Docker stores it.
    pub name: String,
    pub state: ContainerState,
    /// The networks it is on, by name: the one of its network mode first at start (`eth0`),
    /// the others (`network connect`) after it.
    #[serde(default)]
    pub networks: std::collections::BTreeMap<String, Attachment>,
    #[serde(default)]
    pub netns: Option<PathBuf>,
    /// The overlay mount, while mounted.
    #[serde(default)]
    pub rootfs: Option<PathBuf>,
    /// How often the restart policy has restarted it.
    #[serde(default)]
    pub restart_count: i64,
    /// Stopped or killed by a person: restart policies leave it alone.
    #[serde(default)]
    pub manually_stopped: bool,
    /// The published ports, as bound (a requested port 0 is the port actually had).
    #[serde(default)]
    pub ports: Vec<crate::network::ports::PortMapping>,
    /// Its volumes and bind mounts (and `--mount type=tmpfs`), planned at create.
    #[serde(default)]
    pub mount_points: Vec<crate::volume::spec::MountPoint>,
}

/// The network a (create-normalized) `HostConfig.NetworkMode` names: `bridge` for the default.
pub fn network_of_mode(mode: &str) -> String {
    match mode {
        "" | "default" => "bridge".into(),
        m => m.to_string(),
    }
}

/// One network a container is on, or will be at its next start.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Attachment {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// `--network-alias`, `network connect --alias`: more names in the embedded DNS.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `--ip`: the address asked for.
    #[serde(default, rename = "IPv4Address")]
    pub ipv4_address: Option<std::net::Ipv4Addr>,
    /// `--ip6`: the IPv6 address asked for (used on an IPv6-enabled network).
    #[serde(default, rename = "IPv6Address")]
    pub ipv6_address: Option<std::net::Ipv6Addr>,
    /// `--link target[:alias]` on a user network, as given: the alias resolves to the target
    /// in this container's DNS, and in no other's.
    #[serde(default)]
    pub links: Vec<String>,
    /// `--link-local-ip`: more addresses on the interface.
    #[serde(default)]
    pub link_local: Vec<std::net::Ipv4Addr>,
    /// `--mac-address`: the interface's MAC instead of the one made from its address.
    #[serde(default)]
    pub mac: Option<String>,
    /// `IPAMConfig` and `DriverOpts` as the client gave them, shown back by inspect.
    #[serde(default, rename = "IPAMConfig")]
    pub ipam_config: Option<serde_json::Value>,
    #[serde(default)]
    pub driver_opts: Option<serde_json::Value>,
    /// While it runs: its veth and address on that network.
    #[serde(default)]
    pub endpoint: Option<Endpoint>,
}

impl Attachment {
    /// Its links as (target, alias) pairs: `name` alone is `name:name`, as Docker reads it.
    pub fn link_pairs(&self) -> Vec<(String, String)> {
        self.links
            .iter()
            .map(|l| {
                let (target, alias) = l.split_once(':').unwrap_or((l, l));
                (
                    target.trim_start_matches('/').to_string(),
                    alias.to_string(),
                )
            })
            .collect()
    }

    /// How to plug it in as the container's `slot`th network.
    pub fn plug(&self, slot: usize) -> crate::network::Plug {
        crate::network::Plug {
            slot,
            ip: self.ipv4_address,
            mac: self.mac.as_deref().and_then(crate::network::parse_mac),
            link_local: self.link_local.clone(),
            ip6: self.ipv6_address,
        }
    }
}

impl Record {
    /// The name of the network its network mode names (`bridge` for the default).
    pub fn primary_network(&self) -> String {
        network_of_mode(&self.host_config.network_mode)
    }

    /// Its endpoint on that network, while it runs.
    pub fn primary_endpoint(&self) -> Option<&Endpoint> {
        self.networks
            .get(&self.primary_network())
            .and_then(|a| a.endpoint.as_ref())
    }

    /// Every endpoint it has now, with the name of its network.
    pub fn endpoints(&self) -> impl Iterator<Item = (&String, &Endpoint)> {
        self.networks
            .iter()
            .filter_map(|(n, a)| a.endpoint.as_ref().map(|e| (n, e)))
    }

    pub fn status_created() -> ContainerState {
        ContainerState {
            status: "created".into(),
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            ..Default::default()
        }
    }

    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        crate::util::fsutil::write_json_atomic(&dir.join("config.v2.json"), self)?;
        crate::util::fsutil::write_json_atomic(&dir.join("hostconfig.json"), &self.host_config)
    }

    pub fn load(dir: &Path) -> std::io::Result<Record> {
        let data = std::fs::read(dir.join("config.v2.json"))?;
        serde_json::from_slice(&data).map_err(std::io::Error::other)
    }
}

/// Output of the container's process, fanned out to every attached client.
#[derive(Debug, Clone)]
pub enum Output {
    Stdout(Bytes),
    Stderr(Bytes),
    /// The process is gone and all of its output has been sent.
    Closed,
}

/// What `wait` watches: a counter of exits lets `next-exit` tell a new exit from an old one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lifecycle {
    pub running: bool,
    pub exits: u64,
    pub exit_code: i64,
    pub removed: bool,
}

pub struct Container {
    pub id: String,
    pub dir: PathBuf,
    pub record: Mutex<Record>,
    pub output: OutputHub,
    pub lifecycle: watch::Sender<Lifecycle>,
    pub stdin: tokio::sync::Mutex<Option<ShimStdin>>,
    /// Serializes start, stop and removal of this one container.
    pub op: tokio::sync::Mutex<()>,
    /// The healthcheck's monitor, while one runs.
    pub health: Mutex<Option<super::health_monitor::HealthTask>>,
}

/// A container's output for whoever is attached. tokio's broadcast channel allocates all its
/// slots up front (4096 of them here, about 256 kB), and most containers never have a client
/// attached: the channel is made by the first subscriber and dropped by the first send that
/// finds none left.
#[derive(Default)]
pub struct OutputHub(Mutex<Option<broadcast::Sender<Output>>>);

impl OutputHub {
    pub fn subscribe(&self) -> broadcast::Receiver<Output> {
        let mut hub = self.0.lock().unwrap();
        hub.get_or_insert_with(|| broadcast::channel(4096).0)
            .subscribe()
    }

    /// Pass `out` to every subscriber; with none, there is nobody to keep it for.
    pub fn send(&self, out: Output) {
        let mut hub = self.0.lock().unwrap();
        if hub.as_ref().is_some_and(|tx| tx.send(out).is_err()) {
            *hub = None;
        }
    }
}

impl Container {
    pub fn new(record: Record, dir: PathBuf) -> Container {
        let lifecycle = watch::Sender::new(Lifecycle {
            running: record.state.running,
            exits: 0,
            exit_code: record.state.exit_code,
            removed: false,
        });
        Container {
            id: record.id.clone(),
            dir,
            record: Mutex::new(record),
            output: OutputHub::default(),
            lifecycle,
            stdin: tokio::sync::Mutex::new(None),
            op: tokio::sync::Mutex::new(()),
            health: Mutex::new(None),
        }
    }

    pub fn snapshot(&self) -> Record {
        self.record.lock().unwrap().clone()
    }

    /// Change the record and persist it in one step.
    pub fn update<F: FnOnce(&mut Record)>(&self, f: F) -> std::io::Result<()> {
        let mut rec = self.record.lock().unwrap();
        let host_config = rec.host_config.clone();
        f(&mut rec);
        // A start or an exit changes the state, not the HostConfig: its file stays.
        if rec.host_config == host_config {
            crate::util::fsutil::write_json_atomic(&self.dir.join("config.v2.json"), &*rec)
        } else {
            rec.save(&self.dir)
        }
    }

    pub fn name(&self) -> String {
        self.record.lock().unwrap().name.clone()
    }

    pub fn is_running(&self) -> bool {
        self.record.lock().unwrap().state.running
    }

    /// The process's stdin, waiting for it while the container has not started yet: the
    /// docker CLI attaches, sends its input and half-closes before it calls start, and that
    /// input belongs to the process that start makes. None once the container has exited (or
    /// been removed) after `exits_seen`, the exit count the attach began with.
    pub async fn stdin_when_started(
        &self,
        exits_seen: u64,
    ) -> Option<tokio::sync::MutexGuard<'_, Option<ShimStdin>>> {
        let mut lifecycle = self.lifecycle.subscribe();
        loop {
            // Marked seen before stdin is looked at: start sets stdin, then `running`, so a
            // start between the two is still seen as a change.
            let now = lifecycle.borrow_and_update().clone();
            let stdin = self.stdin.lock().await;
            if stdin.is_some() {
                return Some(stdin);
            }
            drop(stdin);
            if now.removed || now.exits > exits_seen {
                return None;
            }
            lifecycle.changed().await.ok()?;
        }
    }

    /// Where its log is kept, and in which format (None: `--log-driver none`).
    pub fn log_file(&self) -> Option<(PathBuf, crate::runtime::logging::Format)> {
        super::logs::log_file(&self.dir, &self.id, &self.snapshot().host_config)
    }
}
