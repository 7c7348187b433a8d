//! `berth daemon`: take the root's lock, open the stores, set up the bridge, serve the Engine
//! API on the unix socket until SIGTERM or SIGINT, then stop containers and clean up. Under
//! systemd (`-H fd://`) the socket is the one berth.socket listens on (`super::systemd`).

use crate::daemon::lock::{DirLock, PidLock};
use crate::daemon::{Daemon, DaemonConfig};
use crate::network::SubnetPool;
use crate::wire::host::{listen_from_host, Listen};
use crate::wire::namespaces::CgroupnsMode;
use anyhow::Context;
use clap::Args;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
#[command(args_override_self = true)]
pub struct DaemonArgs {
    /// Root directory of persistent state
    #[arg(long, default_value = "/var/lib/berth")]
    pub root: PathBuf,
    /// Root directory for execution state (netns files, shims, pid file)
    #[arg(long = "exec-root", default_value = "/run/berth")]
    pub exec_root: PathBuf,
    /// Socket to listen on (unix:///path), or fd:// for the one systemd passes
    #[arg(short = 'H', long = "host", default_value = "unix:///run/berth.sock")]
    pub host: String,
    /// Name of the default bridge
    #[arg(long, default_value = "berth0")]
    pub bridge: String,
    /// Prefix of berth's iptables chains
    #[arg(long = "iptables-prefix", default_value = "BERTH")]
    pub iptables_prefix: String,
    /// Where the bridges' subnets are picked from: base=CIDR,size=N (repeatable; dockerd's
    /// name, and berth's older `--default-subnet-pool`)
    #[arg(long = "default-address-pool", alias = "default-subnet-pool")]
    pub pools: Vec<SubnetPool>,
    /// Parent cgroup of every container's cgroup
    #[arg(long = "cgroup-parent", default_value = "berth")]
    pub cgroup_parent: String,
    /// Enable debug logging
    #[arg(short = 'D', long)]
    pub debug: bool,
    /// A registry (host:port) to speak plain http to; loopback registries always are
    #[arg(long = "insecure-registry")]
    pub insecure_registries: Vec<String>,
    /// A registry (host:port) that serves Docker Hub's references (busybox, docker.io/...)
    #[arg(long = "registry-mirror")]
    pub registry_mirror: Option<String>,
    /// Default driver for container logs (json-file, local or none)
    #[arg(long = "log-driver", default_value = "json-file")]
    pub log_driver: String,
    /// Default log driver options for containers (key=value, repeatable)
    #[arg(long = "log-opt")]
    pub log_opts: Vec<String>,
    /// Default mode for containers' cgroup namespace ("host" | "private"); without it, private
    /// on cgroup v2 and host on v1, as dockerd
    #[arg(long = "default-cgroupns-mode", value_parser = cgroupns_mode)]
    pub default_cgroupns_mode: Option<CgroupnsMode>,
}

/// dockerd's words for a bad `--default-cgroupns-mode`.
fn cgroupns_mode(s: &str) -> Result<CgroupnsMode, String> {
    match CgroupnsMode::parse(s) {
        Ok(Some(m)) => Ok(m),
        _ => Err(format!(
            "default cgroup namespace mode ({s}) is invalid; use \"host\" or \"private\""
        )),
    }
}

pub fn run(args: DaemonArgs) -> anyhow::Result<()> {
    // Before anything starts a thread: this takes systemd's variables out of the environment.
    let systemd = super::systemd::take_environment();
    let host = args.host.clone();
    let listen = listen_from_host(&host).map_err(anyhow::Error::msg)?;
    let inherited = match listen {
        Listen::Systemd(fd) => Some(super::systemd::listener(&systemd, fd)?),
        Listen::Unix(_) => None,
    };
    let filter = if args.debug {
        "berth=debug"
    } else {
        "berth=info"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    if !nix::unistd::Uid::effective().is_root() {
        anyhow::bail!(
            "berth daemon needs root: it creates namespaces, mounts, cgroups and network links"
        );
    }
    let log_config = crate::wire::types::LogConfig {
        driver: args.log_driver,
        config: crate::runtime::logging::opts::from_flags(&args.log_opts),
    };
    crate::daemon::logs::check_default(&log_config)
        .map_err(|e| anyhow::anyhow!("the default log driver: {e}"))?;
    // The path clients dial; under systemd, where berth.socket listens (none when abstract).
    let socket = match (&listen, &inherited) {
        (Listen::Unix(path), _) => path.clone(),
        (_, Some((_, path))) => path.clone().unwrap_or_default(),
        (Listen::Systemd(_), None) => unreachable!("fd:// has its listener or failed above"),
    };
    let config = DaemonConfig {
        root: args.root,
        exec_root: args.exec_root,
        socket: socket.clone(),
        bridge: args.bridge,
        iptables_prefix: args.iptables_prefix,
        pools: if args.pools.is_empty() {
            crate::network::default_pools()
        } else {
            args.pools
        },
        cgroup_parent: args.cgroup_parent,
        debug: args.debug,
        insecure_registries: args.insecure_registries,
        registry_mirror: args.registry_mirror.map(|m| {
            m.trim_start_matches("http://")
                .trim_start_matches("https://")
                .trim_end_matches('/')
                .to_string()
        }),
        log_config,
        default_cgroupns: args.default_cgroupns_mode,
    };
    std::fs::create_dir_all(&config.exec_root)
        .with_context(|| format!("creating {}", config.exec_root.display()))?;
    std::fs::create_dir_all(&config.root)
        .with_context(|| format!("creating {}", config.root.display()))?;
    // Both roots are locked: two daemons may share neither the state nor the runtime dir.
    let _root_lock = DirLock::acquire(&config.root)?;
    let _lock = PidLock::acquire(&config.exec_root.join("berth.pid"))?;

    // glibc gives every thread that allocates an arena of its own (up to eight per core), and
    // each keeps memory freed into it; two serve a daemon whose threads mostly wait.
    // SAFETY: mallopt only sets a parameter of malloc, and no other thread runs yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let daemon = Daemon::open(config.clone()).await?;
        let bound = inherited.is_none();
        let listener = match inherited {
            Some((listener, _)) => {
                listener.set_nonblocking(true)?;
                tokio::net::UnixListener::from_std(listener)?
            }
            None => {
                // We hold the root's lock, so a socket file left here is a dead daemon's.
                let _ = std::fs::remove_file(&socket);
                if let Some(dir) = socket.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let listener = tokio::net::UnixListener::bind(&socket)
                    .with_context(|| format!("listening on {}", socket.display()))?;
                std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o660))?;
                listener
            }
        };
        // Like Docker's `docker` group: its members may use the socket without sudo. A socket
        // from systemd gets the same, so berth.socket need not name a group that may not exist.
        if !socket.as_os_str().is_empty() {
            if let Ok(Some(group)) = nix::unistd::Group::from_name("berth") {
                nix::unistd::chown(&socket, None, Some(group.gid))
                    .with_context(|| format!("giving {} to the group berth", socket.display()))?;
            }
        }
        tracing::info!(
            "berth daemon listening on {} (root {}, bridge {} {})",
            if bound {
                format!("unix://{}", socket.display())
            } else {
                format!("{host} from systemd ({})", socket.display())
            },
            config.root.display(),
            daemon.network.bridge(),
            daemon.network.subnet()
        );
        let shutdown = async {
            use tokio::signal::unix::{signal, SignalKind};
            let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
            let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
        };
        super::systemd::notify_ready(&systemd);
        crate::api::server::serve(listener, daemon.clone(), shutdown).await;
        tracing::info!("shutting down: stopping containers");
        daemon.shutdown().await;
        // A socket from systemd stays: berth.socket listens on and starts the next daemon.
        if bound {
            let _ = std::fs::remove_file(&socket);
        }
        anyhow::Ok(())
    })
}
