//! The daemon: owns the image store, the default bridge, the cgroup parent and the container
//! records, and carries out what the Engine API asks. It knows nothing of HTTP: `api::server`
//! turns requests into calls here, and `DaemonError` back into Docker's status codes.

pub mod archive;
pub mod build;
pub mod commit;
pub mod container;
mod create;
mod delete;
mod df;
pub mod distribution;
pub mod error;
mod etc_files;
pub mod events;
pub mod exec;
pub mod filters;
pub mod health;
mod health_monitor;
mod hostconfig;
pub mod images;
mod links;
pub mod lock;
pub mod logs;
mod monitor;
mod mounts;
pub mod names;
mod namespaces;
pub mod network;
mod pause;
mod rename;
mod resize;
mod restart;
mod start;
pub mod stats;
mod stop;
mod sweep;
pub mod top;
mod unplug;
mod update;
pub mod views;
pub mod volume;
mod wait;

use crate::cgroups::CgroupManager;
use crate::image::ImageStore;
use crate::network::{BridgeNetwork, NetworkConfig, SubnetPool};
use container::{Container, Record};
pub use error::{DaemonError, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Everything the daemon touches comes from these; tests give each daemon its own.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub root: PathBuf,
    pub exec_root: PathBuf,
    pub socket: PathBuf,
    pub bridge: String,
    pub iptables_prefix: String,
    pub pools: Vec<SubnetPool>,
    pub cgroup_parent: String,
    pub debug: bool,
    /// Registries spoken to over plain http (loopback ones always are).
    pub insecure_registries: Vec<String>,
    /// Where references to Docker Hub (`busybox`, `docker.io/…`) are pulled from instead.
    pub registry_mirror: Option<String>,
    /// `--log-driver`/`--log-opt`: what a container that names no log driver gets.
    pub log_config: crate::wire::types::LogConfig,
    /// `--default-cgroupns-mode`; None: Docker's default for the host's cgroup version.
    pub default_cgroupns: Option<crate::wire::namespaces::CgroupnsMode>,
}

pub struct Daemon {
    pub config: DaemonConfig,
    pub images: Arc<Mutex<ImageStore>>,
    /// The default bridge (also the `bridge` entry of `networks`).
    pub network: Arc<BridgeNetwork>,
    /// Every network: the predefined three and the user-defined ones.
    pub networks: network::Networks,
    /// Held while a network is created or removed, so two never race for a name or subnet.
    pub network_lock: tokio::sync::Mutex<()>,
    /// The names the embedded DNS answers, and each running container's resolver.
    pub dns: Arc<crate::network::dns::NameTable>,
    pub resolvers: Mutex<HashMap<String, crate::network::dns::Resolver>>,
    pub cgroups: CgroupManager,
    pub containers: Mutex<HashMap<String, Arc<Container>>>,
    pub execs: Mutex<HashMap<String, Arc<exec::Exec>>>,
    pub events: events::Events,
    /// Set once shutdown begins: exits after that do not trigger restart policies.
    pub shutting_down: std::sync::atomic::AtomicBool,
    /// Containers' network teardowns still under way (see `unplug`).
    pub unplugs: unplug::Unplugs,
    /// The berth binary, re-executed as each container's shim.
    pub exe: PathBuf,
    pub started: std::time::Instant,
    /// One lock per layer chain being pulled, so concurrent pulls unpack it once.
    pub layer_locks: crate::image::distribution::LayerLocks,
    /// The local driver's volumes.
    pub volumes: crate::volume::store::VolumeStore,
    /// Held while volumes are made for a create, or removed, so a volume is never removed
    /// between being chosen for a container and that container's record naming it.
    pub volume_lock: tokio::sync::Mutex<()>,
    /// Held by a create while it copies an image's directory into a new volume.
    pub copy_up_lock: tokio::sync::Mutex<()>,
    /// The running containers using each volume that is mounted from a device (`--opt`):
    /// mounted at the first, unmounted after the last.
    pub volume_users: Mutex<HashMap<String, std::collections::HashSet<String>>>,
}

impl Daemon {
    /// Open the stores under the root, set up the default bridge, load container records.
    pub async fn open(config: DaemonConfig) -> anyhow::Result<Arc<Daemon>> {
        use anyhow::Context;
        for dir in [
            config.root.join("containers"),
            config.root.join("network"),
            config.exec_root.join("shims"),
            config.exec_root.join("netns"),
        ] {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let images = ImageStore::open(&config.root)
            .with_context(|| format!("opening the image store in {}", config.root.display()))?;
        let network = BridgeNetwork::setup(NetworkConfig {
            bridge: config.bridge.clone(),
            iptables_prefix: config.iptables_prefix.clone(),
            pools: config.pools.clone(),
            state_dir: config.root.join("network"),
            exec_root: config.exec_root.clone(),
            subnet: None,
            gateway: None,
            ip_range: None,
            aux: Vec::new(),
            policy: Default::default(),
            nameservers: etc_files::host_nameservers(),
            other_subnets: Vec::new(),
            ipv6: None,
        })
        .await
        .with_context(|| format!("setting up the bridge {}", config.bridge))?;
        let network = Arc::new(network);
        let networks =
            network::Networks::open(&config.root, network.clone(), network.config()).await?;
        let cgroups = CgroupManager::new(&config.cgroup_parent)
            .with_context(|| format!("opening the cgroup parent {}", config.cgroup_parent))?;
        let exe = std::env::current_exe().context("finding the berth binary")?;
        let volumes = crate::volume::store::VolumeStore::open(&config.root)
            .with_context(|| format!("opening the volumes in {}", config.root.display()))?;
        let daemon = Arc::new(Daemon {
            config,
            images: Arc::new(Mutex::new(images)),
            network,
            networks,
            network_lock: tokio::sync::Mutex::new(()),
            dns: Arc::new(crate::network::dns::NameTable::new()),
            resolvers: Mutex::new(HashMap::new()),
            cgroups,
            containers: Mutex::new(HashMap::new()),
            execs: Mutex::new(HashMap::new()),
            events: events::Events::default(),
            shutting_down: std::sync::atomic::AtomicBool::new(false),
            unplugs: Default::default(),
            exe,
            started: std::time::Instant::now(),
            layer_locks: Default::default(),
            volumes,
            volume_lock: tokio::sync::Mutex::new(()),
            copy_up_lock: tokio::sync::Mutex::new(()),
            volume_users: Mutex::new(HashMap::new()),
        });
        daemon.load_containers().await;
        Ok(daemon)
    }

    /// Record a container event, with Docker's attributes: the image as given, the name,
    /// the container's labels, and `extra`.
    pub fn container_event(&self, rec: &Record, action: &str, extra: &[(&str, String)]) {
        let mut attrs: std::collections::BTreeMap<String, String> = rec
            .config
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        attrs.insert("image".into(), rec.config.image.clone());
        attrs.insert("name".into(), rec.name.trim_start_matches('/').to_string());
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        self.events
            .emit(events::Event::new("container", action, &rec.id, attrs));
    }

    pub fn network_event(
        &self,
        r: &network::NetworkRecord,
        action: &str,
        extra: &std::collections::BTreeMap<String, String>,
    ) {
        let mut attrs = extra.clone();
        attrs.insert("name".into(), r.name.clone());
        attrs.insert("type".into(), r.driver.clone());
        self.events
            .emit(events::Event::new("network", action, &r.id, attrs));
    }

    fn containers_dir(&self) -> PathBuf {
        self.config.root.join("containers")
    }

    pub fn shim_dir(&self, id: &str) -> PathBuf {
        self.config.exec_root.join("shims").join(id)
    }

    /// Read every record; reattach to the shims of containers that were running when the
    /// previous daemon went away (live restore); sweep what a crash left; apply the restart
    /// policies that start containers with the daemon.
    async fn load_containers(self: &Arc<Self>) {
        let Ok(entries) = std::fs::read_dir(self.containers_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            let rec = match Record::load(&dir) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!("skipping {}: {e}", dir.display());
                    continue;
                }
            };
            let was_running = rec.state.running;
            let c = Arc::new(Container::new(rec, dir));
            self.containers
                .lock()
                .unwrap()
                .insert(c.id.clone(), c.clone());
            if was_running {
                self.reattach(&c).await;
            }
        }
        self.sweep().await;
        for c in self.all_containers() {
            if restart::starts_at_boot(&c.snapshot()) {
                if let Err(e) = self.start(&c.id).await {
                    tracing::warn!("starting {} at boot (restart policy): {e}", &c.id[..12]);
                }
            }
        }
    }

    /// Find a container by full id, name, or unique id prefix, as Docker does.
    pub fn lookup(&self, input: &str) -> Result<Arc<Container>> {
        let map = self.containers.lock().unwrap();
        if let Some(c) = map.get(input) {
            return Ok(c.clone());
        }
        let as_name = format!("/{}", input.trim_start_matches('/'));
        if let Some(c) = map.values().find(|c| c.name() == as_name) {
            return Ok(c.clone());
        }
        if input.is_empty() {
            return Err(DaemonError::no_such_container(input));
        }
        let mut found = map.values().filter(|c| c.id.starts_with(input));
        match (found.next(), found.next()) {
            (Some(c), None) => Ok(c.clone()),
            (Some(_), Some(_)) => Err(DaemonError::InvalidParameter(format!(
                "multiple IDs found with provided prefix: {input}"
            ))),
            _ => Err(DaemonError::no_such_container(input)),
        }
    }

    pub fn all_containers(&self) -> Vec<Arc<Container>> {
        self.containers.lock().unwrap().values().cloned().collect()
    }

    /// On shutdown without live restore, Docker stops its containers; berth kills them and
    /// waits for their teardown, so nothing the daemon made outlives it.
    pub async fn shutdown(self: &Arc<Self>) {
        self.shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let running: Vec<_> = self
            .all_containers()
            .into_iter()
            .filter(|c| c.is_running())
            .collect();
        for c in &running {
            let _ = self.kill(&c.id, "KILL").await;
        }
        for c in &running {
            let mut rx = c.lifecycle.subscribe();
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                rx.wait_for(|l| !l.running),
            )
            .await;
        }
        self.unplugs.wait_all().await;
    }
}

/// The daemon's socket path from `-H unix:///path` (or a bare path).
/// Now, as Docker writes times in records and events (RFC 3339, nanoseconds, UTC).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

pub fn ensure_dir(p: &Path) -> Result<()> {
    std::fs::create_dir_all(p)
        .map_err(|e| DaemonError::system(&format!("creating {}", p.display()), e))
}
