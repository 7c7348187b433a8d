//! The container lifecycle: create, start, the exit and its teardown, kill, remove, wait and
//! attach. Start acquires resources in a fixed order (rootfs mount, cgroup, netns, veth and
//! address, shim) and a failure at any step releases, in reverse, exactly what was acquired.

use super::container::{Container, Lifecycle, Output, Record, ZERO_TIME};
use super::error::{DaemonError, Result};
use super::{names, Daemon};
use crate::api::types::{CreateRequest, HostConfig, WaitError, WaitResponse};
use crate::runtime::client::{self as shim, ShimEvent};
use crate::runtime::spec::{BindMount, ExitStatus, ShimSpec};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// HostConfig fields berth does not implement yet: refused when set, never silently ignored.
const UNSUPPORTED_HOST_CONFIG: &[(&str, &str)] = &[
    ("Dns", "--dns"),
    ("DnsSearch", "--dns-search"),
    ("DnsOptions", "--dns-option"),
    ("ExtraHosts", "--add-host"),
    ("Links", "--link"),
    ("VolumesFrom", "--volumes-from"),
    ("Mounts", "--mount"),
    ("Tmpfs", "--tmpfs"),
    ("PublishAllPorts", "--publish-all"),
    ("Devices", "--device"),
    ("Ulimits", "--ulimit"),
    ("GroupAdd", "--group-add"),
    ("PidMode", "--pid"),
    ("IpcMode", "--ipc"),
    ("UTSMode", "--uts"),
    ("UsernsMode", "--userns"),
    ("CgroupParent", "--cgroup-parent"),
];

fn is_unset(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Bool(b) => !b,
        serde_json::Value::Number(n) => n.as_f64() == Some(0.0) || n.as_i64() == Some(-1),
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
    }
}

/// Refuse, with the flag's name, what berth cannot do yet.
fn check_supported(hc: &HostConfig) -> Result<()> {
    let refuse = |what: &str| {
        Err(DaemonError::InvalidParameter(format!(
            "{what} is not supported by berth yet"
        )))
    };
    if hc.binds.as_ref().is_some_and(|b| !b.is_empty()) {
        return refuse("volumes and bind mounts (-v)");
    }
    if let Some(b) = &hc.port_bindings {
        crate::network::ports::requested(b).map_err(DaemonError::InvalidParameter)?;
    }
    match hc.network_mode.as_str() {
        "" | "default" | "bridge" => {}
        other => return refuse(&format!("network mode {other:?}")),
    }
    let driver = hc.log_config.driver.as_str();
    if !driver.is_empty() && driver != "json-file" {
        return refuse(&format!("the log driver {driver:?}"));
    }
    container_caps(hc)?;
    security_opts(hc)?;
    resources(hc)
        .validate(&crate::cgroups::resources::HostCpus::read())
        .map_err(DaemonError::InvalidParameter)?;
    let policy = RestartPolicy::of(hc)?;
    if policy != RestartPolicy::No && hc.auto_remove {
        return Err(DaemonError::InvalidParameter(
            "Conflicting options: --restart and --rm".into(),
        ));
    }
    for (field, flag) in UNSUPPORTED_HOST_CONFIG {
        if let Some(v) = hc.extra.get(*field) {
            if !is_unset(v) {
                return refuse(flag);
            }
        }
    }
    Ok(())
}

/// What `--security-opt` asks for: the seccomp profile (None: unconfined) and
/// no-new-privileges.
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityOpts {
    pub seccomp: Option<Seccomp>,
    pub no_new_privileges: bool,
}

/// A seccomp profile, and the text that names it in the filter cache.
#[derive(Debug, Clone, PartialEq)]
pub struct Seccomp {
    pub profile: crate::runtime::seccomp::Profile,
    /// "default", or the profile's JSON as given.
    pub source: String,
}

/// Docker's `SecurityOpt` entries, `key=value` (or the old `key:value`): `seccomp=unconfined`,
/// `seccomp=<profile JSON>` (the CLI sends a file's contents), `no-new-privileges[=bool]`;
/// `apparmor=unconfined` and `label=disable` ask for what berth does anyway. A privileged
/// container runs without seccomp, as in Docker.
pub fn security_opts(hc: &HostConfig) -> Result<SecurityOpts> {
    let mut out = SecurityOpts {
        seccomp: (!hc.privileged).then(|| Seccomp {
            profile: crate::runtime::seccomp::default_profile(),
            source: "default".into(),
        }),
        no_new_privileges: false,
    };
    let opts = hc.security_opt.as_deref().unwrap_or_default();
    let bad = |o: &str| {
        DaemonError::InvalidParameter(format!(
            "invalid --security-opt: {o:?} (berth supports seccomp=unconfined|<profile>, no-new-privileges, apparmor=unconfined, label=disable)"
        ))
    };
    for opt in opts {
        let (key, value) = match (opt.split_once('='), opt.split_once(':')) {
            (Some((k, v)), Some((k2, _))) if k.len() < k2.len() => (k, Some(v)),
            (_, Some((k, v))) => (k, Some(v)),
            (Some((k, v)), None) => (k, Some(v)),
            (None, None) => (opt.as_str(), None),
        };
        match (key, value) {
            ("no-new-privileges", None) => out.no_new_privileges = true,
            ("no-new-privileges", Some(v)) => {
                out.no_new_privileges = v.parse().map_err(|_| bad(opt))?;
            }
            ("seccomp", Some("unconfined")) => out.seccomp = None,
            ("seccomp", Some(json)) if json.trim_start().starts_with('{') => {
                let p = crate::runtime::seccomp::parse(json.as_bytes())
                    .map_err(|e| DaemonError::InvalidParameter(e.to_string()))?;
                out.seccomp = Some(Seccomp {
                    profile: p,
                    source: json.to_string(),
                });
            }
            ("apparmor", Some("unconfined")) | ("label", Some("disable")) => {}
            _ => return Err(bad(opt)),
        }
    }
    Ok(out)
}

/// The terminal size `[rows, columns]` the client sent (`ConsoleSize`); None when zero.
pub fn console_size([rows, cols]: [u16; 2]) -> Option<(u16, u16)> {
    (rows > 0 && cols > 0).then_some((rows, cols))
}

/// The resource limits a HostConfig asks for (zero and null mean "no limit", as in Docker).
pub fn resources(hc: &HostConfig) -> crate::cgroups::Resources {
    let set = |v: i64| (v != 0).then_some(v);
    crate::cgroups::Resources {
        memory: set(hc.memory),
        memory_swap: set(hc.memory_swap),
        memory_reservation: set(hc.memory_reservation),
        nano_cpus: set(hc.nano_cpus),
        cpu_shares: set(hc.cpu_shares),
        cpu_period: set(hc.cpu_period),
        cpu_quota: set(hc.cpu_quota),
        cpuset_cpus: Some(hc.cpuset_cpus.clone()).filter(|s| !s.is_empty()),
        pids_limit: hc.pids_limit.filter(|p| *p > 0),
        oom_kill_disable: hc.oom_kill_disable,
    }
}

/// The capability set `--cap-add`/`--cap-drop` ask for, as `CAP_*` names; None when neither
/// was given (Docker's default set).
pub fn container_caps(hc: &HostConfig) -> Result<Option<Vec<String>>> {
    let add = hc.cap_add.as_deref().unwrap_or_default();
    let drop = hc.cap_drop.as_deref().unwrap_or_default();
    if add.is_empty() && drop.is_empty() {
        return Ok(None);
    }
    let set = crate::runtime::security::capability_set(add, drop)
        .map_err(DaemonError::InvalidParameter)?;
    Ok(Some(set.iter().map(|c| c.to_string()).collect()))
}

/// Docker's rule for an environment list: later entries replace earlier ones with the same key.
pub fn merge_env(base: &[String], over: &[String]) -> Vec<String> {
    let mut out: Vec<String> = base.to_vec();
    for e in over {
        let key = e.split('=').next().unwrap_or(e);
        if let Some(slot) = out
            .iter_mut()
            .find(|x| x.split('=').next().unwrap_or(x) == key)
        {
            *slot = e.clone();
        } else {
            out.push(e.clone());
        }
    }
    out
}

fn has_key(env: &[String], key: &str) -> bool {
    env.iter().any(|e| e.split('=').next() == Some(key))
}

impl Daemon {
    /// `POST /containers/create`.
    pub async fn create(
        self: &Arc<Self>,
        name: Option<&str>,
        req: CreateRequest,
    ) -> Result<String> {
        let mut cfg = req.config;
        let mut hc = req.host_config.unwrap_or_default();
        check_supported(&hc)?;
        // Docker records the log driver it chose; clients (the Python SDK) read it back.
        hc.log_config.driver = "json-file".into();
        if cfg.image.is_empty() {
            return Err(DaemonError::InvalidParameter(
                "config error: no image specified".into(),
            ));
        }
        // The kernel takes the environment as C strings: a NUL would cut the entry short.
        if let Some(bad) = cfg.env.iter().flatten().find(|e| e.contains('\0')) {
            return Err(DaemonError::InvalidParameter(format!(
                "invalid environment variable {bad:?}: it contains a NUL byte"
            )));
        }
        let image = {
            let images = self.images.clone();
            let wanted = cfg.image.clone();
            tokio::task::spawn_blocking(move || images.lock().unwrap().get(&wanted))
                .await
                .map_err(|e| DaemonError::system("looking up the image", e))?
                .map_err(|e| DaemonError::NotFound(e.to_string()))?
        };
        // The image supplies what the client left out, as Docker merges them.
        let icfg = image.config.config.clone().unwrap_or_default();
        // No entrypoint: the image's, with its Cmd unless one was given. An empty one
        // (`--entrypoint ""`) clears the image's but keeps its Cmd. A new one drops the image's
        // Cmd, because that Cmd was written for the old entrypoint.
        let no_cmd = cfg.cmd.as_ref().is_none_or(|c| c.is_empty());
        match &cfg.entrypoint {
            None => {
                cfg.entrypoint = icfg.entrypoint.clone().filter(|e| !e.is_empty());
                if no_cmd {
                    cfg.cmd = icfg.cmd.clone();
                }
            }
            Some(e) if e.iter().all(|x| x.is_empty()) => {
                cfg.entrypoint = None;
                if no_cmd {
                    cfg.cmd = icfg.cmd.clone();
                }
            }
            Some(_) => {}
        }
        let image_env = icfg.env.clone().unwrap_or_default();
        cfg.env = Some(merge_env(&image_env, cfg.env.as_deref().unwrap_or(&[])));
        if cfg.working_dir.is_empty() {
            cfg.working_dir = icfg.working_dir.clone().unwrap_or_default();
        }
        if cfg.user.is_empty() {
            cfg.user = icfg.user.clone().unwrap_or_default();
        }
        if let Some(image_labels) = icfg.labels.clone() {
            let mut labels = image_labels;
            labels.extend(cfg.labels.take().unwrap_or_default());
            cfg.labels = Some(labels);
        }
        if cfg.stop_signal.is_none() {
            cfg.stop_signal = icfg.stop_signal.clone();
        }
        let mut argv: Vec<String> = cfg.entrypoint.clone().unwrap_or_default();
        argv.extend(cfg.cmd.clone().unwrap_or_default());
        if argv.is_empty() {
            return Err(DaemonError::InvalidParameter("No command specified".into()));
        }
        if !cfg.working_dir.is_empty() && !cfg.working_dir.starts_with('/') {
            return Err(DaemonError::InvalidParameter(format!(
                "the working directory '{}' is invalid, it needs to be an absolute path",
                cfg.working_dir
            )));
        }

        let id = crate::util::id::random_id();
        if cfg.hostname.is_empty() {
            cfg.hostname = id[..12].to_string();
        }
        let dir = self.containers_dir().join(&id);
        let record = Record {
            id: id.clone(),
            created: now_rfc3339(),
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            config: cfg,
            host_config: hc,
            image: image.id.clone(),
            name: String::new(),
            state: Record::status_created(),
            endpoint: None,
            netns: None,
            rootfs: None,
            restart_count: 0,
            manually_stopped: false,
            ports: Vec::new(),
        };

        // The name is reserved under the map's lock, so two creates cannot take the same one.
        let container = {
            let mut map = self.containers.lock().unwrap();
            let name = match name {
                Some(n) if !n.is_empty() => {
                    let n = names::validate(n).map_err(DaemonError::InvalidParameter)?;
                    if let Some(other) = map.values().find(|c| c.name() == n) {
                        return Err(DaemonError::Conflict(format!(
                            "Conflict. The container name \"{n}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                            other.id
                        )));
                    }
                    n
                }
                _ => loop {
                    let n = format!("/{}", names::generate());
                    if !map.values().any(|c| c.name() == n) {
                        break n;
                    }
                },
            };
            let mut record = record;
            record.name = name;
            let c = Arc::new(Container::new(record, dir.clone()));
            map.insert(id.clone(), c.clone());
            c
        };

        let made = (|| -> Result<()> {
            std::fs::create_dir_all(&dir)
                .map_err(|e| DaemonError::system("creating the container directory", e))?;
            self.images
                .lock()
                .unwrap()
                .layers()
                .create_container_layers(&id, image.top_layer.as_deref())
                .map_err(|e| DaemonError::system("creating the container's layers", e))?;
            container
                .update(|_| {})
                .map_err(|e| DaemonError::system("writing the container record", e))
        })();
        if let Err(e) = made {
            self.containers.lock().unwrap().remove(&id);
            let _ = self
                .images
                .lock()
                .unwrap()
                .layers()
                .remove_container_layers(&id);
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        self.container_event(&container.snapshot(), "create", &[]);
        Ok(id)
    }

    /// `POST /containers/{id}/start`.
    pub async fn start(self: &Arc<Self>, input: &str) -> Result<()> {
        self.start_for(input, false).await
    }

    /// Start a container; `by_policy` when a restart policy asks, which a stop made while
    /// the restart waited must win over (checked under the container's lock).
    async fn start_for(self: &Arc<Self>, input: &str, by_policy: bool) -> Result<()> {
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
                    r.endpoint = None;
                    r.netns = None;
                    r.rootfs = None;
                    r.ports.clear();
                });
                if c.snapshot().host_config.auto_remove {
                    drop(_op);
                    let _ = self.remove(&c.id, true).await;
                }
                Err(err)
            }
        }
    }

    async fn start_inner(
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

        let netns = self
            .network
            .create_netns(&id)
            .await
            .map_err(|e| sys("creating the network namespace", &e))?;
        acquired.netns = Some(netns.clone());
        let user = crate::runtime::user::resolve(&rootfs, &rec.config.user)
            .map_err(|e| (DaemonError::InvalidParameter(e.to_string()), 125))?;
        // /etc/hosts gets the container's address once it has one, below.
        write_etc_files(&c.dir, &rec.config.hostname)
            .map_err(|e| sys("writing /etc/hosts, /etc/hostname, /etc/resolv.conf", &e))?;

        let mut env = vec![
            DEFAULT_PATH.to_string(),
            format!("HOSTNAME={}", rec.config.hostname),
        ];
        if rec.config.tty {
            env.push("TERM=xterm".into());
        }
        env = merge_env(&env, rec.config.env.as_deref().unwrap_or(&[]));
        if !has_key(&env, "HOME") {
            env.push(format!("HOME={}", user.home));
        }
        let mut args = vec![rec.path.clone()];
        args.extend(rec.args.iter().cloned());
        let cwd = if rec.config.working_dir.is_empty() {
            "/".to_string()
        } else {
            rec.config.working_dir.clone()
        };
        let state_dir = self.shim_dir(&id);
        let _ = std::fs::remove_dir_all(&state_dir);
        let security = security_opts(&rec.host_config).map_err(|e| (e, 125))?;
        let seccomp_filter = self
            .seccomp_filter(&security, &rec.host_config)
            .map_err(|e| (e, 125))?;
        let spec = ShimSpec {
            id: id.clone(),
            rootfs: rootfs.clone(),
            args,
            env,
            cwd,
            uid: user.uid,
            gid: user.gid,
            additional_gids: user.additional_gids.clone(),
            hostname: rec.config.hostname.clone(),
            tty: rec.config.tty,
            open_stdin: rec.config.open_stdin,
            netns: Some(netns.clone()),
            cgroup_paths: cgroup.paths().to_vec(),
            binds: ["hosts", "hostname", "resolv.conf"]
                .iter()
                .map(|f| BindMount {
                    source: c.dir.join(f),
                    destination: format!("/etc/{f}"),
                    readonly: false,
                })
                .collect(),
            log_path: c.log_path(),
            state_dir: state_dir.clone(),
            readonly_rootfs: rec.host_config.readonly_rootfs,
            capabilities: container_caps(&rec.host_config).unwrap_or(None),
            init: rec.host_config.init.unwrap_or(false),
            privileged: rec.host_config.privileged,
            console_size: console_size(rec.host_config.console_size),
            seccomp_filter,
            no_new_privileges: security.no_new_privileges,
        };
        acquired.shim_dir = Some(state_dir.clone());
        // The veth and the container's namespaces are independent until the process runs, so
        // the two slowest steps of a start overlap: plugging in the network, and the shim
        // creating the container. The process is only started once both are done.
        let (connected, created) = tokio::join!(
            self.network.connect(&id, &netns),
            shim::create(&self.exe, &spec)
        );
        let endpoint = match connected {
            Ok(ep) => ep,
            // Dropping a created shim before START makes it kill its init and exit.
            Err(e) => return Err(sys("connecting to the bridge", &e)),
        };
        acquired.endpoint = Some(endpoint.clone());
        let mut shim = created.map_err(|e| start_failure(&e.to_string(), e.exit_code()))?;
        let requested = match &rec.host_config.port_bindings {
            Some(b) => crate::network::ports::requested(b)
                .map_err(|e| (DaemonError::InvalidParameter(e), 125))?,
            None => Vec::new(),
        };
        let ports = self
            .network
            .publish(&id, endpoint.ip, &requested)
            .await
            .map_err(|e| {
                (
                    DaemonError::System(format!(
                        "driver failed programming external connectivity on endpoint {} ({id}): {e}",
                        rec.name.trim_start_matches('/')
                    )),
                    125,
                )
            })?;
        acquired.ports = ports.clone();
        step("network connected and container created");
        write_hosts(&c.dir, &rec.config.hostname, &endpoint.ip.to_string())
            .map_err(|e| sys("writing /etc/hosts", &e))?;
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
            r.endpoint = Some(endpoint.clone());
            r.netns = Some(netns.clone());
            r.rootfs = Some(rootfs.clone());
            r.ports = ports.clone();
        });
        c.lifecycle.send_modify(|l| l.running = true);
        self.container_event(&c.snapshot(), "start", &[]);

        self.monitor(c, events);
        Ok(())
    }

    /// Relay a running container's output to attached clients until its shim reports the
    /// exit (or goes away, when `exit.json` tells), then finish it.
    fn monitor(self: &Arc<Self>, c: &Arc<Container>, mut events: shim::ShimEvents) {
        let daemon = self.clone();
        let container = c.clone();
        tokio::spawn(async move {
            let mut exit = None;
            while let Some(ev) = events.next().await {
                match ev {
                    ShimEvent::Stdout(b) => {
                        let _ = container.output.send(Output::Stdout(b));
                    }
                    ShimEvent::Stderr(b) => {
                        let _ = container.output.send(Output::Stderr(b));
                    }
                    ShimEvent::Exited(st) => {
                        exit = Some(st);
                        break;
                    }
                }
            }
            let status = exit
                .or_else(|| shim::read_exit(&daemon.shim_dir(&container.id)))
                .unwrap_or(ExitStatus {
                    exit_code: 255,
                    finished_at: now_rfc3339(),
                    oom_killed: false,
                });
            daemon.finish(&container, status).await;
        });
    }

    /// Release what a start acquired, newest first. Every step is idempotent.
    async fn release(&self, id: &str, a: &Acquired) {
        if let Some(dir) = &a.shim_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        // The network (netlink) and the filesystem side (cgroup rmdirs, which wait for the
        // kernel, and the unmount) do not depend on each other: take them down together.
        let cgroup = a.cgroup.then(|| self.cgroups.open(id));
        let images = a.rootfs.then(|| self.images.clone());
        let owner = id.to_string();
        let local = tokio::task::spawn_blocking(move || {
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
        if let Some(ep) = &a.endpoint {
            if !a.ports.is_empty() {
                self.network.unpublish(id, ep.ip, &a.ports).await;
            }
            if let Err(e) = self.network.disconnect(id, ep).await {
                tracing::warn!("container {id}: disconnecting: {e}");
            }
        }
        if let Some(ns) = &a.netns {
            if let Err(e) = crate::network::remove_netns(ns) {
                tracing::warn!("container {id}: removing netns: {e}");
            }
        }
        if let Err(e) = local.await {
            tracing::warn!("container {id}: teardown task failed: {e}");
        }
    }

    /// The process is gone: tear down, record the exit, wake waiters, and honour `--rm`.
    async fn finish(self: &Arc<Self>, c: &Arc<Container>, status: ExitStatus) {
        let t0 = std::time::Instant::now();
        let rec = c.snapshot();
        let acquired = Acquired {
            rootfs: true,
            cgroup: true,
            netns: rec.netns.clone(),
            endpoint: rec.endpoint.clone(),
            ports: rec.ports.clone(),
            shim_dir: Some(self.shim_dir(&c.id)),
        };
        *c.stdin.lock().await = None;
        // Read before the cgroup goes: the kernel counts OOM kills there.
        let oom_killed = status.oom_killed || self.cgroups.open(&c.id).oom_killed();
        self.release(&c.id, &acquired).await;
        tracing::debug!("exit {}: released in {:?}", &c.id[..12], t0.elapsed());
        let code = status.exit_code as i64;
        let _ = c.update(|r| {
            r.state.status = "exited".into();
            r.state.running = false;
            r.state.paused = false;
            r.state.pid = 0;
            r.state.exit_code = code;
            r.state.oom_killed = oom_killed;
            r.state.finished_at = status.finished_at.clone();
            r.endpoint = None;
            r.netns = None;
            r.rootfs = None;
            r.ports.clear();
        });
        let after = c.snapshot();
        if oom_killed {
            self.container_event(&after, "oom", &[]);
        }
        self.container_event(&after, "die", &[("exitCode", code.to_string())]);
        let _ = c.output.send(Output::Closed);
        c.lifecycle.send_modify(|l| {
            l.running = false;
            l.exits += 1;
            l.exit_code = code;
        });
        if rec.host_config.auto_remove {
            if let Err(e) = self.remove(&c.id, true).await {
                tracing::warn!("auto-removing {}: {e}", c.id);
            }
            return;
        }
        let policy = RestartPolicy::of(&rec.host_config).unwrap_or(RestartPolicy::No);
        let shutting_down = self.shutting_down.load(std::sync::atomic::Ordering::SeqCst);
        if !shutting_down && policy.should_restart(code, rec.restart_count, rec.manually_stopped) {
            self.schedule_restart(c, rec.restart_count);
        }
    }

    /// Start the container again after a back-off that doubles with each restart (100 ms,
    /// 200 ms, … capped at a minute), as Docker's restart manager does.
    fn schedule_restart(self: &Arc<Self>, c: &Arc<Container>, count: i64) {
        let delay = std::time::Duration::from_millis((100u64 << count.clamp(0, 10)).min(60_000));
        let _ = c.update(|r| {
            r.state.restarting = true;
            r.state.status = "restarting".into();
        });
        let daemon = self.clone();
        let container = c.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let rec = container.snapshot();
            if container.lifecycle.borrow().removed || rec.manually_stopped || !rec.state.restarting
            {
                return;
            }
            let _ = container.update(|r| r.restart_count += 1);
            if let Err(e) = daemon.start_for(&container.id, true).await {
                tracing::warn!("restarting {}: {e}", &container.id[..12]);
                let _ = container.update(|r| r.state.status = "exited".into());
            }
        });
    }

    /// A record says running, and this daemon just started: the previous one died (or was
    /// killed) while the container ran. If its shim is still there, reconnect to it and carry
    /// on as if nothing happened; if the container exited meanwhile, record the real exit code
    /// and time from `exit.json` and take everything down.
    pub(super) async fn reattach(self: &Arc<Self>, c: &Arc<Container>) {
        let dir = self.shim_dir(&c.id);
        if shim::read_exit(&dir).is_none() && shim::shim_alive(&dir) {
            match shim::reconnect(&dir).await {
                Ok((events, stdin)) => {
                    *c.stdin.lock().await = Some(stdin);
                    tracing::info!("container {}: reattached to its shim", &c.id[..12]);
                    self.monitor(c, events);
                    return;
                }
                Err(e) => {
                    tracing::warn!("container {}: reconnecting to the shim: {e}", &c.id[..12])
                }
            }
        }
        let rec = c.snapshot();
        let status = match shim::read_exit(&dir) {
            Some(st) => st,
            None => {
                // No shim and no exit record: nothing can report this container's end, so
                // make sure it has one.
                if rec.state.pid > 0 {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(rec.state.pid as i32),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                ExitStatus {
                    exit_code: 137,
                    finished_at: now_rfc3339(),
                    oom_killed: false,
                }
            }
        };
        self.finish(c, status).await;
    }

    /// `POST /containers/{id}/kill` from a client: a person's kill, which restart policies
    /// respect (unlike the daemon's own kills, at shutdown or for `rm -f`).
    pub async fn kill_by_user(&self, input: &str, signal: &str) -> Result<()> {
        let c = self.lookup(input)?;
        parse_signal(signal)?;
        if c.is_running() {
            let _ = c.update(|r| r.manually_stopped = true);
        }
        let mut lifecycle = c.lifecycle.subscribe();
        let exits = lifecycle.borrow_and_update().exits;
        self.kill(input, signal).await?;
        if parse_signal(signal)? == nix::sys::signal::Signal::SIGKILL {
            // As Docker's kill: SIGKILL answers once the container is stopped, so `kill` then
            // `rm` (or a look at State.ExitCode) never meets it still running.
            let stopped = lifecycle.wait_for(|l| l.exits > exits || l.removed);
            if tokio::time::timeout(std::time::Duration::from_secs(10), stopped)
                .await
                .is_err()
            {
                return Err(DaemonError::System(format!(
                    "Cannot kill container: {input}: the container did not stop within 10 seconds of SIGKILL"
                )));
            }
        }
        Ok(())
    }

    /// Send a signal to the container's init.
    pub async fn kill(&self, input: &str, signal: &str) -> Result<()> {
        let c = self.lookup(input)?;
        let sig = parse_signal(signal)?;
        let rec = c.snapshot();
        if !rec.state.running || rec.state.pid <= 0 {
            return Err(DaemonError::Conflict(format!(
                "Cannot kill container: {input}: Container {} is not running",
                rec.id
            )));
        }
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(rec.state.pid as i32), sig)
            .map_err(|e| DaemonError::system(&format!("Cannot kill container: {input}"), e))?;
        self.container_event(&rec, "kill", &[("signal", (sig as i32).to_string())]);
        if rec.state.paused {
            // A frozen process only acts on its signal once thawed.
            let cg = self.cgroups.open(&rec.id);
            let _ = tokio::task::spawn_blocking(move || cg.set_frozen(false)).await;
            let _ = c.update(|r| {
                r.state.paused = false;
                r.state.status = "running".into();
            });
        }
        Ok(())
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

    /// `POST /containers/{id}/resize`: the container's terminal takes a new size.
    pub async fn resize(&self, input: &str, rows: u16, cols: u16) -> Result<()> {
        let c = self.lookup(input)?;
        if !c.is_running() {
            return Err(DaemonError::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        if let Some(s) = c.stdin.lock().await.as_mut() {
            s.resize(rows, cols)
                .await
                .map_err(|e| DaemonError::system("resizing the terminal", e))?;
        }
        self.container_event(
            &c.snapshot(),
            "resize",
            &[("height", rows.to_string()), ("width", cols.to_string())],
        );
        Ok(())
    }

    /// `POST /containers/{id}/pause` and `unpause`: the cgroup freezer stops every process of
    /// the container where it stands, and lets them go again.
    pub async fn set_paused(&self, input: &str, pause: bool) -> Result<()> {
        let c = self.lookup(input)?;
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        if !rec.state.running {
            return Err(DaemonError::Conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        if rec.state.paused == pause {
            return Err(DaemonError::Conflict(if pause {
                format!("Container {} is already paused", rec.id)
            } else {
                format!("Container {} is not paused", rec.id)
            }));
        }
        let cg = self.cgroups.open(&rec.id);
        tokio::task::spawn_blocking(move || cg.set_frozen(pause))
            .await
            .map_err(|e| DaemonError::system("freezing", e))?
            .map_err(|e| DaemonError::system(if pause { "pausing" } else { "unpausing" }, e))?;
        c.update(|r| {
            r.state.paused = pause;
            r.state.status = if pause { "paused" } else { "running" }.into();
        })
        .map_err(|e| DaemonError::system("writing the container record", e))?;
        self.container_event(&rec, if pause { "pause" } else { "unpause" }, &[]);
        Ok(())
    }

    /// `GET /containers/{id}/top`: the host's `ps`, narrowed to the container's processes,
    /// which is how Docker does it too.
    pub async fn top(&self, input: &str, ps_args: &str) -> Result<serde_json::Value> {
        let c = self.lookup(input)?;
        if !c.is_running() {
            return Err(DaemonError::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        let pids = self.cgroups.open(&c.id).procs();
        let args: Vec<&str> = if ps_args.is_empty() {
            vec!["-ef"]
        } else {
            ps_args.split_whitespace().collect()
        };
        let out = tokio::process::Command::new("ps")
            .args(&args)
            .output()
            .await
            .map_err(|e| DaemonError::system("running ps", e))?;
        if !out.status.success() {
            return Err(DaemonError::System(format!(
                "ps: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        parse_ps(&String::from_utf8_lossy(&out.stdout), &pids).map_err(DaemonError::System)
    }

    /// `POST /containers/{id}/update`: change resource limits, and the restart policy, of a
    /// container; a running one gets them in its cgroup at once.
    pub async fn update(
        &self,
        input: &str,
        changes: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Vec<String>> {
        const FIELDS: &[&str] = &[
            "Memory",
            "MemorySwap",
            "MemoryReservation",
            "NanoCpus",
            "CpuShares",
            "CpuPeriod",
            "CpuQuota",
            "CpusetCpus",
            "PidsLimit",
            "OomKillDisable",
            "RestartPolicy",
        ];
        let c = self.lookup(input)?;
        let _op = c.op.lock().await;
        let mut wanted = serde_json::Map::new();
        for (k, v) in changes {
            if !FIELDS.contains(&k.as_str()) {
                if is_unset(&v) {
                    continue;
                }
                return Err(DaemonError::InvalidParameter(format!(
                    "updating {k} is not supported by berth yet"
                )));
            }
            // Zero means "leave as it is" in an update, as in Docker's.
            if k != "RestartPolicy" && is_unset(&v) {
                continue;
            }
            wanted.insert(k, v);
        }
        let hc = c
            .snapshot()
            .host_config
            .with_fields(wanted)
            .map_err(DaemonError::InvalidParameter)?;
        let limits = resources(&hc);
        limits
            .validate(&crate::cgroups::resources::HostCpus::read())
            .map_err(DaemonError::InvalidParameter)?;
        let policy = RestartPolicy::of(&hc)?;
        if policy != RestartPolicy::No && hc.auto_remove {
            return Err(DaemonError::InvalidParameter(
                "Conflicting options: --restart and --rm".into(),
            ));
        }
        if c.is_running() {
            self.cgroups
                .open(&c.id)
                .apply(&limits)
                .map_err(|e| DaemonError::system("updating the cgroup", e))?;
        }
        c.update(|r| r.host_config = hc)
            .map_err(|e| DaemonError::system("writing the container record", e))?;
        self.container_event(&c.snapshot(), "update", &[]);
        Ok(vec![])
    }

    /// `POST /containers/prune`: remove every container that is not running; returns their ids
    /// and the bytes their read-write layers held.
    pub async fn prune(self: &Arc<Self>) -> Result<(Vec<String>, u64)> {
        let mut deleted = Vec::new();
        let mut reclaimed = 0;
        for c in self.all_containers() {
            if c.is_running() {
                continue;
            }
            let size = self
                .images
                .lock()
                .unwrap()
                .layers()
                .upper_dir(&c.id)
                .map(|d| crate::layers::dir_size(&d))
                .unwrap_or(0);
            if self.remove(&c.id, false).await.is_ok() {
                deleted.push(c.id.clone());
                reclaimed += size;
            }
        }
        deleted.sort();
        Ok((deleted, reclaimed))
    }

    /// `POST /containers/{id}/stop`: the stop signal (the container's, else SIGTERM), then
    /// SIGKILL once `timeout` seconds (the container's StopTimeout, else 10) have passed.
    pub async fn stop(
        &self,
        input: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        let c = self.lookup(input)?;
        // Held throughout, so a stop and a policy restart of the same container never interleave.
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        if !rec.state.running {
            if rec.state.restarting {
                // Waiting to be restarted: stopping it cancels the restart.
                let _ = c.update(|r| {
                    r.manually_stopped = true;
                    r.state.restarting = false;
                    r.state.status = "exited".into();
                });
                return Ok(());
            }
            return Err(DaemonError::NotModified("container already stopped".into()));
        }
        let sig = signal
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .or(rec.config.stop_signal.clone())
            .unwrap_or_else(|| "TERM".into());
        let secs = timeout
            .or_else(|| rec.config.extra.get("StopTimeout").and_then(|v| v.as_i64()))
            .unwrap_or(10);
        let mut rx = c.lifecycle.subscribe();
        let _ = c.update(|r| r.manually_stopped = true);
        if let Err(e) = self.kill(&c.id, &sig).await {
            if c.is_running() {
                return Err(e);
            }
        }
        let stopped = || self.container_event(&c.snapshot(), "stop", &[]);
        if secs < 0 {
            // A negative timeout waits as long as it takes, as Docker's does.
            let _ = rx.wait_for(|l| !l.running).await;
            stopped();
            return Ok(());
        }
        let grace = std::time::Duration::from_secs(secs as u64);
        if tokio::time::timeout(grace, rx.wait_for(|l| !l.running))
            .await
            .is_ok()
        {
            stopped();
            return Ok(());
        }
        let _ = self.kill(&c.id, "KILL").await;
        let mut rx = c.lifecycle.subscribe();
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            rx.wait_for(|l| !l.running),
        )
        .await
        .map(|_| stopped())
        .map_err(|_| DaemonError::System(format!("container {} did not stop after SIGKILL", c.id)))
    }

    /// `POST /containers/{id}/restart`: stop if running, then start.
    pub async fn restart(
        self: &Arc<Self>,
        input: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        match self.stop(input, timeout, signal).await {
            Ok(()) | Err(DaemonError::NotModified(_)) => {}
            Err(e) => return Err(e),
        }
        self.start(input).await?;
        if let Ok(c) = self.lookup(input) {
            self.container_event(&c.snapshot(), "restart", &[]);
        }
        Ok(())
    }

    /// `POST /containers/{id}/rename`.
    pub fn rename(&self, input: &str, new_name: &str) -> Result<()> {
        let c = self.lookup(input)?;
        let map = self.containers.lock().unwrap();
        let name = names::validate(new_name).map_err(DaemonError::InvalidParameter)?;
        if c.name() == name {
            return Err(DaemonError::InvalidParameter(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        if let Some(other) = map.values().find(|o| o.name() == name) {
            return Err(DaemonError::Conflict(format!(
                "Conflict. The container name \"{name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                other.id
            )));
        }
        let old_name = c.name();
        c.update(|r| r.name = name.clone())
            .map_err(|e| DaemonError::system("writing the container record", e))?;
        self.container_event(&c.snapshot(), "rename", &[("oldName", old_name)]);
        Ok(())
    }

    /// `DELETE /containers/{id}`.
    pub async fn remove(self: &Arc<Self>, input: &str, force: bool) -> Result<()> {
        let c = self.lookup(input)?;
        if c.is_running() {
            if !force {
                return Err(DaemonError::Conflict(format!(
                    "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
                    c.id
                )));
            }
            let _ = self.kill(&c.id, "KILL").await;
            let mut rx = c.lifecycle.subscribe();
            let waited = tokio::time::timeout(
                std::time::Duration::from_secs(30),
                rx.wait_for(|l| !l.running),
            )
            .await;
            if waited.is_err() {
                return Err(DaemonError::System(format!(
                    "could not kill running container {}, cannot remove",
                    c.id
                )));
            }
        }
        let _op = c.op.lock().await;
        if c.lifecycle.borrow().removed {
            return Ok(());
        }
        self.images
            .lock()
            .unwrap()
            .layers()
            .remove_container_layers(&c.id)
            .map_err(|e| DaemonError::system("removing the container's layers", e))?;
        let _ = std::fs::remove_dir_all(&c.dir);
        let _ = std::fs::remove_dir_all(self.shim_dir(&c.id));
        self.containers.lock().unwrap().remove(&c.id);
        self.execs
            .lock()
            .unwrap()
            .retain(|_, e| e.container_id != c.id);
        c.lifecycle.send_modify(|l| l.removed = true);
        self.container_event(&c.snapshot(), "destroy", &[]);
        Ok(())
    }

    /// `POST /containers/{id}/wait`: resolves the body of the response; the server sends the
    /// headers before awaiting it, as the docker CLI requires.
    pub fn wait(
        self: &Arc<Self>,
        input: &str,
        condition: &str,
    ) -> Result<impl std::future::Future<Output = WaitResponse> + Send + 'static> {
        let c = self.lookup(input)?;
        let condition = match condition {
            "" | "not-running" => Condition::NotRunning,
            "next-exit" => Condition::NextExit,
            "removed" => Condition::Removed,
            other => {
                return Err(DaemonError::InvalidParameter(format!(
                    "invalid condition: \"{other}\""
                )))
            }
        };
        let mut rx = c.lifecycle.subscribe();
        let seen = rx.borrow().exits;
        Ok(async move {
            let done = |l: &Lifecycle| match condition {
                Condition::NotRunning => !l.running,
                Condition::NextExit => l.exits > seen,
                Condition::Removed => l.removed,
            };
            let code = match rx.wait_for(done).await {
                Ok(l) => l.exit_code,
                // The container went away with its sender: it was removed.
                Err(_) => c.lifecycle.borrow().exit_code,
            };
            WaitResponse {
                status_code: code,
                error: None::<WaitError>,
            }
        })
    }
}

/// A process that could not be started: 126 and 127 are the client's mistake (400), with the
/// wording Docker uses so the docker CLI picks the same exit code; anything else is ours (500).
fn start_failure(message: &str, code: i32) -> (DaemonError, i64) {
    let err = if code == 126 || code == 127 {
        DaemonError::InvalidParameter(format!(
            "failed to create task for container: {message}: unknown"
        ))
    } else {
        DaemonError::System(message.to_string())
    };
    (err, code as i64)
}

#[derive(Clone, Copy)]
enum Condition {
    NotRunning,
    NextExit,
    Removed,
}

/// `--restart`: what the daemon does when a container's process ends on its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RestartPolicy {
    No,
    Always,
    UnlessStopped,
    /// Restart after a non-zero exit, at most this many times (0: no limit).
    OnFailure(i64),
}

impl RestartPolicy {
    pub fn of(hc: &HostConfig) -> Result<RestartPolicy> {
        let (name, max) = (
            hc.restart_policy.name.as_str(),
            hc.restart_policy.maximum_retry_count,
        );
        if max < 0 {
            return Err(DaemonError::InvalidParameter(
                "invalid restart policy: maximum retry count cannot be negative".into(),
            ));
        }
        let policy = match name {
            "" | "no" => RestartPolicy::No,
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            "on-failure" => RestartPolicy::OnFailure(max),
            other => {
                return Err(DaemonError::InvalidParameter(format!(
                    "invalid restart policy '{other}'"
                )))
            }
        };
        if max != 0 && !matches!(policy, RestartPolicy::OnFailure(_)) {
            return Err(DaemonError::InvalidParameter(
                "invalid restart policy: maximum retry count can only be used with 'on-failure'"
                    .into(),
            ));
        }
        Ok(policy)
    }

    /// Docker's decision after an exit with `code`, the container having been restarted
    /// `count` times, `stopped` saying whether a person stopped or killed it.
    pub fn should_restart(self, code: i64, count: i64, stopped: bool) -> bool {
        match self {
            _ if stopped => false,
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure(max) => code != 0 && (max == 0 || count < max),
        }
    }
}

/// What a start has taken so far, so a failure can give back exactly that.
#[derive(Default)]
struct Acquired {
    rootfs: bool,
    cgroup: bool,
    netns: Option<PathBuf>,
    endpoint: Option<crate::network::Endpoint>,
    ports: Vec<crate::network::ports::PortMapping>,
    shim_dir: Option<PathBuf>,
}

/// Docker's `top` answer from `ps` output: the header's words are the titles; each row is
/// split into as many fields, the last taking the rest of the line (the command). Only rows
/// whose PID column names one of `pids` are kept.
pub fn parse_ps(output: &str, pids: &[i32]) -> std::result::Result<serde_json::Value, String> {
    let mut lines = output.lines();
    let header = lines.next().ok_or("ps printed nothing")?;
    let titles: Vec<&str> = header.split_whitespace().collect();
    let pid_col = titles
        .iter()
        .position(|t| *t == "PID")
        .ok_or("ps output has no PID column; give ps options that print one")?;
    let mut rows = Vec::new();
    for line in lines {
        let mut fields: Vec<String> = Vec::new();
        let mut rest = line.trim_start();
        while fields.len() + 1 < titles.len() {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            fields.push(rest[..end].to_string());
            rest = rest[end..].trim_start();
        }
        fields.push(rest.to_string());
        if fields
            .get(pid_col)
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|p| pids.contains(&p))
        {
            rows.push(fields);
        }
    }
    Ok(serde_json::json!({ "Titles": titles, "Processes": rows }))
}

/// On daemon start: `always` containers start whatever their state, `unless-stopped` ones
/// unless a person stopped them, as Docker's daemon does at boot.
pub fn starts_at_boot(rec: &Record) -> bool {
    if rec.state.running {
        return false;
    }
    match RestartPolicy::of(&rec.host_config) {
        Ok(RestartPolicy::Always) => true,
        Ok(RestartPolicy::UnlessStopped) => !rec.manually_stopped,
        _ => false,
    }
}

/// `KILL`, `SIGKILL`, `9`: the forms `docker kill -s` accepts.
pub fn parse_signal(s: &str) -> Result<nix::sys::signal::Signal> {
    use nix::sys::signal::Signal;
    use std::str::FromStr;
    let s = s.trim();
    if s.is_empty() {
        return Ok(Signal::SIGKILL);
    }
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n)
            .map_err(|_| DaemonError::InvalidParameter(format!("Invalid signal: {s}")));
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name)
        .map_err(|_| DaemonError::InvalidParameter(format!("Invalid signal: {s}")))
}

/// Docker's /etc/hosts for a container: loopback names, then the container's own address.
fn hosts_file(hostname: &str, ip: Option<&str>) -> String {
    let mut hosts = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    if let Some(ip) = ip {
        hosts.push_str(&format!("{ip}\t{hostname}\n"));
    }
    hosts
}

/// Put the container's address into its `hosts`. The file is already bind-mounted into the
/// container, so it is rewritten in place: a rename would leave the container looking at the
/// old inode. This happens before the process starts, when nothing inside can be reading it.
fn write_hosts(dir: &Path, hostname: &str, ip: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(dir.join("hosts"))?;
    std::io::Write::write_all(&mut f, hosts_file(hostname, Some(ip)).as_bytes())?;
    f.sync_all()
}

/// The three files Docker bind-mounts over the image's /etc (hosts without the address yet).
fn write_etc_files(dir: &Path, hostname: &str) -> std::io::Result<()> {
    use crate::util::fsutil::write_atomic;
    write_atomic(&dir.join("hostname"), format!("{hostname}\n").as_bytes())?;
    write_atomic(&dir.join("hosts"), hosts_file(hostname, None).as_bytes())?;
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    write_atomic(
        &dir.join("resolv.conf"),
        container_resolv_conf(&host_resolv).as_bytes(),
    )
}

/// The host's resolv.conf without loopback nameservers, which mean nothing inside the
/// container's own network namespace; Docker falls back to public resolvers when none is left.
pub fn container_resolv_conf(host: &str) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let addr = words.next().unwrap_or("");
            if addr.starts_with("127.") || addr == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_keeps_the_containers_rows_and_the_whole_command() {
        let ps = "UID          PID    PPID  C STIME TTY          TIME CMD\nroot           1       0  0 10:48 ?        00:00:01 /sbin/init\nroot        4242    4000  0 10:49 ?        00:00:00 sleep 300 --long arg\n";
        let v = parse_ps(ps, &[4242]).unwrap();
        assert_eq!(v["Titles"].as_array().unwrap().len(), 8);
        assert_eq!(v["Processes"][0][1], "4242");
        assert_eq!(v["Processes"][0][7], "sleep 300 --long arg");
        assert_eq!(v["Processes"].as_array().unwrap().len(), 1);
        assert!(parse_ps("USER COMMAND\nroot x\n", &[1]).is_err());
    }

    #[test]
    fn restart_policies_decide_like_docker() {
        use RestartPolicy::*;
        assert!(!No.should_restart(1, 0, false));
        assert!(Always.should_restart(0, 5, false));
        assert!(!Always.should_restart(0, 5, true));
        assert!(UnlessStopped.should_restart(0, 0, false));
        assert!(OnFailure(0).should_restart(1, 100, false));
        assert!(!OnFailure(0).should_restart(0, 0, false));
        assert!(OnFailure(2).should_restart(3, 1, false));
        assert!(!OnFailure(2).should_restart(3, 2, false));
        let policy = |name: &str, max: i64| HostConfig {
            restart_policy: crate::api::types::RestartPolicyConfig {
                name: name.into(),
                maximum_retry_count: max,
            },
            ..Default::default()
        };
        assert_eq!(
            RestartPolicy::of(&policy("on-failure", 3)).unwrap(),
            OnFailure(3)
        );
        assert!(RestartPolicy::of(&policy("always", 3)).is_err());
        let hc = policy("sometimes", 0);
        assert_eq!(
            RestartPolicy::of(&hc).unwrap_err().to_string(),
            "invalid restart policy 'sometimes'"
        );
    }

    #[test]
    fn env_merge_replaces_by_key_and_keeps_order() {
        let base = vec!["PATH=/bin".to_string(), "A=1".to_string()];
        let over = vec!["A=2".to_string(), "B=3".to_string()];
        assert_eq!(merge_env(&base, &over), vec!["PATH=/bin", "A=2", "B=3"]);
    }

    #[test]
    fn signals_parse_in_every_docker_form() {
        use nix::sys::signal::Signal;
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("BOGUS").is_err());
    }

    #[test]
    fn resolv_conf_drops_loopback_servers() {
        let host = "search example\nnameserver 127.0.0.53\noptions edns0\n";
        assert_eq!(
            container_resolv_conf(host),
            "search example\noptions edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        let host = "nameserver 10.1.2.3\n";
        assert_eq!(container_resolv_conf(host), "nameserver 10.1.2.3\n");
    }

    #[test]
    fn unsupported_flags_are_refused_by_name() {
        let mut hc = HostConfig::default();
        hc.extra.insert("Devices".into(), serde_json::json!([]));
        hc.extra.insert("ShmSize".into(), serde_json::json!(0));
        assert!(check_supported(&hc).is_ok());
        hc.extra.insert(
            "Devices".into(),
            serde_json::json!([{"PathOnHost": "/dev/fuse"}]),
        );
        let err = check_supported(&hc).unwrap_err();
        assert_eq!(err.to_string(), "--device is not supported by berth yet");
        hc.extra.insert("Devices".into(), serde_json::json!(null));
        hc.memory = 1048576;
        let err = check_supported(&hc).unwrap_err();
        assert_eq!(err.to_string(), "Minimum memory limit allowed is 6MB");
    }
}
