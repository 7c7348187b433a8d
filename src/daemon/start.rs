//! `start`: acquire a container's resources in a fixed order (rootfs mount, cgroup, netns,
//! veth and address, published ports, shim), and on a failure at any step release, in
//! reverse, exactly what was acquired. The shim's spec is built by the pure `shim_spec`.

use super::container::{Container, Record, ZERO_TIME};
use super::error::{DaemonError, Result};
use super::etc_files::*;
use super::hostconfig::*;
use super::{now_rfc3339, Daemon};
use crate::network::mode::NetworkMode;
use crate::runtime::client as shim;
use crate::runtime::spec::{BindMount, Network, ShimSpec};
use crate::wire::types::HostConfig;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(super) const DEFAULT_PATH: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a start has made ready for the container's process, which its spec names.
pub(super) struct Prepared<'a> {
    /// `containers/<id>`: the record, the /etc files and the log.
    pub dir: &'a Path,
    pub rootfs: &'a Path,
    pub network: Network,
    pub cgroup_paths: Vec<PathBuf>,
    pub state_dir: PathBuf,
    pub user: &'a crate::runtime::user::ResolvedUser,
    pub seccomp_filter: Option<PathBuf>,
    pub no_new_privileges: bool,
    /// `--link`: the environment each link gives, before the container's own.
    pub link_env: Vec<String>,
    /// Volumes, binds and tmpfs mounts, in the order they are applied.
    pub mounts: Vec<crate::runtime::spec::Mount>,
    /// The namespaces it owns, takes from the host or joins, and its /dev/shm.
    pub namespaces: crate::runtime::spec::Namespaces,
    pub shm: crate::runtime::spec::Shm,
}

/// The spec the shim runs a container from, built from its record alone and what start
/// prepared: argv (entrypoint and cmd were merged at create), the environment in Docker's
/// order (PATH and HOSTNAME first, TERM with a terminal, the container's own, HOME from the
/// user's passwd entry unless given), the working directory, and the three /etc binds.
/// Pure, so a snapshot shows exactly what the runtime is told (chapter 02).
pub(super) fn shim_spec(rec: &Record, p: Prepared) -> ShimSpec {
    let mut env = vec![
        DEFAULT_PATH.to_string(),
        format!("HOSTNAME={}", rec.config.hostname),
    ];
    if rec.config.tty {
        env.push("TERM=xterm".into());
    }
    env = merge_env(&env, &p.link_env);
    env = merge_env(&env, rec.config.env.as_deref().unwrap_or(&[]));
    if !has_key(&env, "HOME") {
        env.push(format!("HOME={}", p.user.home));
    }
    let mut args = vec![rec.path.clone()];
    args.extend(rec.args.iter().cloned());
    let cwd = if rec.config.working_dir.is_empty() {
        "/".to_string()
    } else {
        rec.config.working_dir.clone()
    };
    let hc = &rec.host_config;
    ShimSpec {
        id: rec.id.clone(),
        rootfs: p.rootfs.to_path_buf(),
        args,
        env,
        cwd,
        uid: p.user.uid,
        gid: p.user.gid,
        additional_gids: p.user.additional_gids.clone(),
        hostname: rec.config.hostname.clone(),
        domainname: rec.config.domainname.clone(),
        tty: rec.config.tty,
        open_stdin: rec.config.open_stdin,
        network: p.network,
        namespaces: p.namespaces,
        cgroup_paths: p.cgroup_paths,
        binds: ["hosts", "hostname", "resolv.conf"]
            .iter()
            .map(|f| BindMount {
                source: p.dir.join(f),
                destination: format!("/etc/{f}"),
                readonly: false,
            })
            .collect(),
        mounts: p.mounts,
        // The shim writes its records where they are not kept, for `--log-driver none`.
        log_path: super::logs::log_file(p.dir, &rec.id, hc)
            .map_or_else(|| PathBuf::from("/dev/null"), |(path, _)| path),
        log: super::logs::shim_log_settings(rec),
        state_dir: p.state_dir,
        shm_size: shm_size(hc).unwrap_or(crate::runtime::spec::DEFAULT_SHM_SIZE),
        shm: p.shm,
        readonly_rootfs: hc.readonly_rootfs,
        capabilities: container_caps(hc).unwrap_or(None),
        init: hc.init.unwrap_or(false),
        privileged: hc.privileged,
        console_size: console_size(hc.console_size),
        seccomp_filter: p.seccomp_filter,
        no_new_privileges: p.no_new_privileges,
    }
}

impl Daemon {
    /// `POST /containers/{id}/start`.
    pub async fn start(self: &Arc<Self>, input: &str) -> Result<()> {
        self.start_for(input, false).await
    }

    /// Start a container; `by_policy` when a restart policy asks, which a stop made while
    /// the restart waited must win over (checked under the container's lock).
    pub(super) async fn start_for(self: &Arc<Self>, input: &str, by_policy: bool) -> Result<()> {
        let c = self.lookup(input)?;
        let _op = c.op.lock().await;
        if c.is_running() {
            return Err(DaemonError::NotModified("container already started".into()));
        }
        if by_policy {
            let rec = c.snapshot();
            if rec.manually_stopped || c.lifecycle.borrow().removed {
                return Ok(());
            }
        } else {
            let _ = c.update(|r| r.manually_stopped = false);
        }
        let mut acquired = Acquired::default();
        match self.start_inner(&c, &mut acquired).await {
            Ok(()) => Ok(()),
            Err((err, code)) => {
                self.release(&c.id, &acquired).await;
                let msg = err.to_string();
                let _ = c.update(|r| {
                    r.state.exit_code = code;
                    r.state.error = msg.clone();
                    for a in r.networks.values_mut() {
                        a.endpoint = None;
                    }
                    r.netns = None;
                    r.rootfs = None;
                    r.ports.clear();
                });
                if c.snapshot().host_config.auto_remove {
                    drop(_op);
                    let _ = self.remove(&c.id, true, true).await;
                }
                Err(err)
            }
        }
    }

    pub(super) async fn start_inner(
        self: &Arc<Self>,
        c: &Arc<Container>,
        acquired: &mut Acquired,
    ) -> std::result::Result<(), (DaemonError, i64)> {
        let sys = |what: &str, e: &dyn std::fmt::Display| (DaemonError::system(what, e), 125);
        let t0 = std::time::Instant::now();
        let step =
            |what: &str| tracing::debug!("start {}: {what} after {:?}", &c.id[..12], t0.elapsed());
        let rec = c.snapshot();
        let id = rec.id.clone();
        // The namespaces to join are checked before anything is made for this one.
        let sharing = self.sharing_for(&rec, &c.dir).map_err(|e| (e, 125))?;

        let rootfs = self
            .images
            .lock()
            .unwrap()
            .layers()
            .mount(&id)
            .map_err(|e| sys("mounting the container's rootfs", &e))?;
        acquired.rootfs = true;
        step("rootfs mounted");

        let cgroup = self
            .cgroups
            .create(&id)
            .map_err(|e| sys("creating the container's cgroup", &e))?;
        acquired.cgroup = true;
        cgroup
            .apply(&resources(&rec.host_config))
            .map_err(|e| sys("setting the resource limits", &e))?;
        if !rec.host_config.privileged {
            cgroup
                .restrict_devices()
                .map_err(|e| sys("restricting devices", &e))?;
        }
        step("cgroup created");
        if let Some(path) = &sharing.mount_shm {
            acquired.shm = Some(path.clone());
            let size = shm_size(&rec.host_config).map_err(|e| (e, 125))?;
            super::namespaces::mount_shareable_shm(path, size).map_err(|e| (e, 125))?;
        }

        let mode = NetworkMode::parse(&rec.host_config.network_mode)
            .map_err(|e| (DaemonError::InvalidParameter(e.to_string()), 125))?;
        // `container:<x>`: x's namespace (not ours to remove) and x's /etc files.
        let joined = match &mode {
            NetworkMode::Container(other) => {
                Some(self.joined_network(other).map_err(|e| (e, 125))?)
            }
            _ => None,
        };
        let primary = match &joined {
            Some(_) => None,
            None => Some(
                self.networks
                    .find(mode.network_name())
                    .map_err(|e| (e, 125))?,
            ),
        };
        // The host's network has no namespace of berth's to make; bridge and none do.
        let netns = match (&mode, &joined) {
            (_, Some(j)) => j.netns.clone(),
            (NetworkMode::Host, _) => None,
            _ => {
                // The last run's veth names and netns pin are this run's too.
                self.unplugs.wait_for(&id).await;
                let ns = self
                    .network
                    .create_netns(&id)
                    .await
                    .map_err(|e| sys("creating the network namespace", &e))?;
                acquired.netns = Some(ns.clone());
                step("network namespace created");
                Some(ns)
            }
        };
        let user =
            container_user(&rootfs, &rec.config.user, &rec.host_config).map_err(|e| (e, 125))?;
        let (link_hosts, link_env) = self.link_parts(&rec).map_err(|e| (e, 125))?;
        acquired.volumes = true;
        let mounts = self.start_mounts(&rec).map_err(|e| (e, 125))?;
        let etc = EtcFiles {
            links: link_hosts,
            hostname: &rec.config.hostname,
            domainname: &rec.config.domainname,
            host_network: mode == NetworkMode::Host,
            embedded_dns: primary.as_ref().is_some_and(|p| p.has_dns()),
            dns: dns_overrides(&rec.host_config).map_err(|e| (e, 125))?,
            extra_hosts: extra_hosts(&rec.host_config).map_err(|e| (e, 125))?,
            gateway: self.network.gateway().into(),
        };
        // /etc/hosts gets the container's address once it has one, below.
        let upstream = match &joined {
            Some(j) => copy_etc_files(&j.dir, &c.dir).map(|()| Vec::new()),
            None => etc.write(&c.dir),
        }
        .map_err(|e| sys("writing /etc/hosts, /etc/hostname, /etc/resolv.conf", &e))?;

        let state_dir = self.shim_dir(&id);
        let _ = std::fs::remove_dir_all(&state_dir);
        let security = security_opts(&rec.host_config).map_err(|e| (e, 125))?;
        let seccomp_filter = self
            .seccomp_filter(&security, &rec.host_config)
            .map_err(|e| (e, 125))?;
        let spec = shim_spec(
            &rec,
            Prepared {
                dir: &c.dir,
                rootfs: &rootfs,
                network: match &netns {
                    Some(ns) => Network::Join(ns.clone()),
                    None => Network::Host,
                },
                cgroup_paths: cgroup.paths().to_vec(),
                state_dir: state_dir.clone(),
                user: &user,
                seccomp_filter,
                no_new_privileges: security.no_new_privileges,
                link_env,
                mounts,
                namespaces: sharing.namespaces,
                shm: sharing.shm,
            },
        );
        acquired.shim_dir = Some(state_dir.clone());
        // The veths and the container's namespaces are independent until the process runs,
        // so the two slowest steps of a start overlap: plugging in the networks, and the shim
        // creating the container. The process is only started once both are done.
        let plug = async {
            match (&mode, &netns) {
                (NetworkMode::None, Some(ns)) => crate::network::loopback_only(ns)
                    .await
                    .map(|()| Vec::new())
                    .map_err(|e| DaemonError::system("bringing up lo", e)),
                (NetworkMode::Host | NetworkMode::Container(_), _) | (_, None) => Ok(Vec::new()),
                (_, Some(ns)) => self.plug_all(&rec, ns).await,
            }
        };
        let plug = async {
            let plugged = plug.await;
            step("network connected");
            plugged
        };
        let created = async {
            let created = shim::create(&self.exe, &spec).await;
            step("container created");
            created
        };
        let (connected, created) = tokio::join!(plug, created);
        // Dropping a created shim before START makes it kill its init and exit.
        let plugged = connected.map_err(|e| (e, 125))?;
        acquired.plugged = plugged.clone();
        acquired.primary = rec.primary_network();
        let mut shim = created.map_err(|e| start_failure(&e.to_string(), e.exit_code()))?;
        let primary_ep = plugged.iter().find(|p| p.0 == acquired.primary);
        // Only a container with an address on a bridge has ports to publish: Docker
        // discards them in the other modes (with a warning at create). With -P, each exposed
        // port without a binding of its own gets an ephemeral one.
        // An internal network has no way in either: Docker publishes nothing there.
        let internal = primary.as_ref().is_some_and(|p| p.record.internal);
        let ports = match primary_ep.filter(|_| !internal) {
            Some((_, bridge, ep)) => {
                let requested = crate::network::ports::requests_for(
                    rec.host_config.port_bindings.as_ref(),
                    rec.config.exposed_ports.as_ref(),
                    publish_all(&rec.host_config),
                )
                .map_err(|e| (DaemonError::InvalidParameter(e), 125))?;
                bridge
                    .publish(&id, ep.ip, &requested)
                    .await
                    .map_err(|e| {
                        (
                            DaemonError::System(format!(
                                "driver failed programming external connectivity on endpoint {} ({id}): {e}",
                                rec.name.trim_start_matches('/')
                            )),
                            125,
                        )
                    })?
            }
            None => Vec::new(),
        };
        acquired.ports = ports.clone();
        step("ports published");
        if let Some((_, _, ep)) = primary_ep {
            etc.write_hosts(&c.dir, Some(ep.ip.into()))
                .map_err(|e| sys("writing /etc/hosts", &e))?;
        }
        // The names are in the embedded DNS, and it answers, before the process runs.
        if let (true, Some(ns)) = (self.on_user_network(&plugged), &netns) {
            self.dns_names(&rec, &plugged);
            acquired.dns = true;
            self.start_resolver(&id, ns, upstream)
                .await
                .map_err(|e| sys("starting the embedded DNS server", &e))?;
        }
        let pid = shim.pid();
        if let Err(e) = shim.start().await {
            return Err(start_failure(&e.message, e.exit_code));
        }
        step("process started");
        let (events, stdin) = shim.split();
        *c.stdin.lock().await = Some(stdin);
        let _ = c.update(|r| {
            r.state.restarting = false;
            r.state.status = "running".into();
            r.state.running = true;
            r.state.pid = pid as i64;
            r.state.exit_code = 0;
            r.state.error.clear();
            r.state.started_at = now_rfc3339();
            r.state.finished_at = ZERO_TIME.into();
            for (name, _, ep) in &plugged {
                if let Some(a) = r.networks.get_mut(name) {
                    a.endpoint = Some(ep.clone());
                }
            }
            r.netns = netns.clone();
            r.rootfs = Some(rootfs.clone());
            r.ports = ports.clone();
        });
        c.lifecycle.send_modify(|l| l.running = true);
        self.health_start(c);
        self.container_event(&c.snapshot(), "start", &[]);

        self.monitor(c, events);
        Ok(())
    }

    /// Release what a start acquired, newest first. Every step is idempotent.
    pub(super) async fn release(&self, id: &str, a: &Acquired) {
        if let Some(dir) = &a.shim_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        // The network (netlink) and the filesystem side (cgroup rmdirs, which wait for the
        // kernel, and the unmount) do not depend on each other: take them down together.
        let cgroup = a.cgroup.then(|| self.cgroups.open(id));
        let images = a.rootfs.then(|| self.images.clone());
        let owner = id.to_string();
        let shm = a.shm.clone();
        let local = tokio::task::spawn_blocking(move || {
            if let Some(path) = shm {
                super::namespaces::unmount_shareable_shm(&path);
            }
            if let Some(cg) = cgroup {
                if let Err(e) = cg.remove() {
                    tracing::warn!("container {owner}: removing cgroup: {e}");
                }
            }
            if let Some(images) = images {
                if let Err(e) = images.lock().unwrap().layers().unmount(&owner) {
                    tracing::warn!("container {owner}: unmounting: {e}");
                }
            }
        });
        if a.dns {
            self.stop_resolver(id);
        }
        if a.volumes {
            self.release_volumes(id);
        }
        if !a.ports.is_empty() {
            if let Some((_, bridge, ep)) = a.plugged.iter().find(|p| p.0 == a.primary) {
                bridge.unpublish(id, ep.ip, &a.ports).await;
            }
        }
        // Off the bridge and the addresses free now, as Docker's are when `rm` returns; the
        // veths' deletion, which waits for the kernel, after the answer.
        for (name, bridge, ep) in a.plugged.iter().rev() {
            if let Err(e) = bridge.detach(ep).await {
                tracing::warn!("container {id}: detaching from {name}: {e}");
            }
        }
        self.unplugs.start(id, a.plugged.clone(), a.netns.clone());
        if let Err(e) = local.await {
            tracing::warn!("container {id}: teardown task failed: {e}");
        }
    }

    /// The compiled seccomp program for a container, as a file under
    /// `<exec root>/seccomp/`: compiled by libseccomp once per profile, capability set and
    /// berth version, then shared by every container (and exec) that needs the same one.
    pub fn seccomp_filter(&self, sec: &SecurityOpts, hc: &HostConfig) -> Result<Option<PathBuf>> {
        use sha2::Digest;
        let Some(seccomp) = &sec.seccomp else {
            return Ok(None);
        };
        let caps = crate::runtime::security::container_cap_names(
            hc.privileged,
            container_caps(hc)?.as_deref(),
        );
        let mut key = sha2::Sha256::new();
        key.update(env!("CARGO_PKG_VERSION"));
        key.update(&seccomp.source);
        for c in &caps {
            key.update(c);
        }
        let name = hex::encode(&key.finalize()[..12]);
        let path = self
            .config
            .exec_root
            .join("seccomp")
            .join(format!("{name}.bpf"));
        if path.exists() {
            return Ok(Some(path));
        }
        let bpf = crate::runtime::seccomp::to_bpf(&seccomp.profile, &caps)
            .map_err(|e| DaemonError::InvalidParameter(e.to_string()))?;
        super::ensure_dir(path.parent().expect("a parent"))?;
        crate::util::fsutil::write_atomic(&path, &bpf)
            .map_err(|e| DaemonError::system("writing the seccomp filter", e))?;
        Ok(Some(path))
    }
}

/// What a `container:<x>` start joins: x's pinned namespace (None: x is on the host's), and
/// the directory of x's /etc files.
pub(super) struct Joined {
    pub netns: Option<PathBuf>,
    pub dir: PathBuf,
}

impl Daemon {
    pub(super) fn joined_network(&self, other: &str) -> Result<Joined> {
        let o = self.lookup(other)?;
        let rec = o.snapshot();
        if !rec.state.running {
            return Err(DaemonError::Conflict(format!(
                "cannot join network namespace of a non running container: {}",
                rec.id
            )));
        }
        if rec.host_config.network_mode.starts_with("container:") {
            // Its namespace is a third container's: follow it, as the kernel would.
            return self.joined_network(&rec.host_config.network_mode["container:".len()..]);
        }
        Ok(Joined {
            netns: rec.netns.clone(),
            dir: o.dir.clone(),
        })
    }
}

/// The other container's hosts, hostname and resolv.conf, as this one's.
fn copy_etc_files(from: &Path, to: &Path) -> std::io::Result<()> {
    for f in ["hosts", "hostname", "resolv.conf"] {
        let data = std::fs::read(from.join(f))?;
        crate::util::fsutil::write_atomic(&to.join(f), &data)?;
    }
    Ok(())
}

/// A process that could not be started: 126 and 127 are the client's mistake (400), with the
/// wording Docker uses so the docker CLI picks the same exit code; anything else is ours (500).
pub(super) fn start_failure(message: &str, code: i32) -> (DaemonError, i64) {
    let err = if code == 126 || code == 127 {
        DaemonError::InvalidParameter(format!(
            "failed to create task for container: {message}: unknown"
        ))
    } else {
        DaemonError::System(message.to_string())
    };
    (err, code as i64)
}

/// What a start has taken so far, so a failure can give back exactly that.
#[derive(Default)]
pub(super) struct Acquired {
    pub(super) rootfs: bool,
    pub(super) cgroup: bool,
    pub(super) netns: Option<PathBuf>,
    /// The networks plugged in, and the name of the one its ports are published on.
    pub(super) plugged: Vec<super::network::connect::Plugged>,
    pub(super) primary: String,
    /// Its names are in the embedded DNS and its resolver runs.
    pub(super) dns: bool,
    /// Its device-backed volumes may be mounted for it.
    pub(super) volumes: bool,
    pub(super) ports: Vec<crate::network::ports::PortMapping>,
    pub(super) shim_dir: Option<PathBuf>,
    /// A shareable /dev/shm mounted on the host for it.
    pub(super) shm: Option<PathBuf>,
}

/// The user a container's process (or an exec's) runs as: `-u` resolved in its rootfs, with
/// the groups of `--group-add` added to its supplementary ones, as Docker adds them.
pub(super) fn container_user(
    rootfs: &std::path::Path,
    spec: &str,
    hc: &crate::wire::types::HostConfig,
) -> Result<crate::runtime::user::ResolvedUser> {
    let invalid = |e: crate::runtime::user::UserError| DaemonError::InvalidParameter(e.to_string());
    let mut user = crate::runtime::user::resolve(rootfs, spec).map_err(invalid)?;
    for gid in crate::runtime::user::group_add(rootfs, &group_add(hc)?).map_err(invalid)? {
        if !user.additional_gids.contains(&gid) {
            user.additional_gids.push(gid);
        }
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_of_a_container_with_a_user_a_terminal_and_limits() {
        let rec: Record = serde_json::from_value(serde_json::json!({
            "Id": "c0ffee".repeat(10) + "c0ff",
            "Created": "2026-12-02T06:00:00Z",
            "Path": "sh",
            "Args": ["-c", "echo hi"],
            "Config": {
                "Hostname": "c0ffeec0ffee",
                "Tty": true,
                "OpenStdin": true,
                "Env": ["PATH=/custom/bin", "GREETING=hello"],
                "WorkingDir": "/srv",
                "Image": "busybox"
            },
            "HostConfig": {
                "ReadonlyRootfs": true,
                "Init": true,
                "CapDrop": ["NET_RAW"],
                "ConsoleSize": [40, 120]
            },
            "Image": "sha256:abc",
            "Name": "/spec",
            "State": Record::status_created()
        }))
        .unwrap();
        let user = crate::runtime::user::ResolvedUser {
            uid: 1000,
            gid: 1000,
            additional_gids: vec![10],
            home: "/home/app".into(),
        };
        let spec = shim_spec(
            &rec,
            Prepared {
                dir: Path::new("/var/lib/berth/containers/c0ffee"),
                rootfs: Path::new("/var/lib/berth/overlay2/abc/merged"),
                network: Network::Join("/run/berth/netns/c0ffee".into()),
                cgroup_paths: vec!["/sys/fs/cgroup/berth/c0ffee".into()],
                state_dir: "/run/berth/shims/c0ffee".into(),
                user: &user,
                seccomp_filter: Some("/run/berth/seccomp/default.bpf".into()),
                no_new_privileges: true,
                link_env: vec![],
                mounts: vec![],
                namespaces: Default::default(),
                shm: Default::default(),
            },
        );
        insta::assert_json_snapshot!(spec);
    }
}
