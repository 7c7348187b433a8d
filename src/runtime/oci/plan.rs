//! An OCI bundle's config.json (runtime-spec 1.1, parsed by the oci-spec crate) turned into the
//! plan init follows: every path resolved against the bundle, every mount option split into
//! the flags mount(2) takes and the data its filesystem takes, every name checked. Whatever
//! config.json asks for that berth cannot do is refused here, by name, before anything on the
//! host has changed.

use super::mount_options::{clean, mount, PROPAGATIONS};
pub use super::mount_options::{ms_flags, propagation_flags};
pub use super::resources::{resources, DeviceRule, ResourcesPlan};
use crate::runtime::seccomp::Profile;
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PlanError {
    #[error("reading {path}: {err}")]
    Read { path: PathBuf, err: std::io::Error },
    #[error("parsing {path}: {err}")]
    Parse { path: PathBuf, err: String },
    #[error("config.json: {0}")]
    Invalid(String),
    #[error("config.json: {0} is not supported by berth-runc")]
    Unsupported(String),
}

pub(super) fn invalid(s: impl Into<String>) -> PlanError {
    PlanError::Invalid(s.into())
}

/// What init does, in the order it does it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    /// Absolute: `root.path` joined to the bundle when relative.
    pub rootfs: PathBuf,
    pub readonly_rootfs: bool,
    pub process: ProcessPlan,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    /// In the order config.json lists them; `path` set means join, unset means new.
    pub namespaces: Vec<NamespacePlan>,
    pub uid_mappings: Vec<IdMapping>,
    pub gid_mappings: Vec<IdMapping>,
    /// What the container's `/` propagates (`rootfsPropagation`; runc's default is rslave).
    pub root_propagation: String,
    pub mounts: Vec<MountPlan>,
    /// Nodes made in /dev after the mounts: the six every container has, then config.json's.
    pub devices: Vec<DevicePlan>,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    pub sysctl: BTreeMap<String, String>,
    /// Under the cgroup root (`/sys/fs/cgroup[/<controller>]`), no leading slash. Empty in
    /// the daemon's plans: the daemon made the cgroup, and init is handed its directories.
    pub cgroups_path: String,
    pub resources: ResourcesPlan,
    pub seccomp: Option<Profile>,
    pub hooks: HooksPlan,
    /// config.json's annotations, which `state` shows.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ProcessPlan {
    pub terminal: bool,
    /// (rows, columns).
    pub console_size: Option<(u16, u16)>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: Option<u32>,
    pub capabilities: CapabilitySets,
    pub rlimits: Vec<Rlimit>,
    pub no_new_privileges: bool,
    pub oom_score_adj: Option<i32>,
}

/// The five capability sets, `CAP_*` names, sorted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CapabilitySets {
    pub bounding: Vec<String>,
    pub effective: Vec<String>,
    pub inheritable: Vec<String>,
    pub permitted: Vec<String>,
    pub ambient: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Rlimit {
    /// `RLIMIT_NOFILE`, ...
    pub kind: String,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NamespacePlan {
    /// As /proc/<pid>/ns/ names it: pid, net, mnt, ipc, uts, user, cgroup.
    pub kind: String,
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IdMapping {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MountPlan {
    pub destination: String,
    /// proc, sysfs, tmpfs, devpts, mqueue, cgroup, bind, ...
    pub fstype: String,
    pub source: String,
    /// A bind (`bind`/`rbind` among the options, or type `bind`).
    pub bind: bool,
    pub recursive: bool,
    /// Flags mount(2) takes, by their option names (`nosuid`, `ro`, ...).
    pub flags: Vec<String>,
    /// Propagation to set after mounting (`rprivate`, `shared`, ...), if any.
    pub propagation: Option<String>,
    /// What is left: the filesystem's own options, comma-joined.
    pub data: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DevicePlan {
    pub path: String,
    /// `c`, `b`, `p`.
    pub kind: char,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HookPlan {
    pub path: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub timeout: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct HooksPlan {
    pub prestart: Vec<HookPlan>,
    pub create_runtime: Vec<HookPlan>,
    pub create_container: Vec<HookPlan>,
    pub start_container: Vec<HookPlan>,
    pub poststart: Vec<HookPlan>,
    pub poststop: Vec<HookPlan>,
}

impl Plan {
    /// Whether the container gets a namespace of this kind of its own (listed, no path).
    pub fn owns(&self, kind: &str) -> bool {
        self.namespaces
            .iter()
            .any(|n| n.kind == kind && n.path.is_none())
    }
}

/// Read and check `<bundle>/config.json`.
pub fn load(bundle: &Path, id: &str) -> Result<Plan, PlanError> {
    let path = bundle.join("config.json");
    let text = std::fs::read(&path).map_err(|err| PlanError::Read {
        path: path.clone(),
        err,
    })?;
    let spec: Spec = serde_json::from_slice(&text).map_err(|e| PlanError::Parse {
        path: path.clone(),
        err: e.to_string(),
    })?;
    from_spec(&spec, bundle, id)
}

/// The name serde gives an oci-spec enum value (`"network"`, `"c"`, `"CAP_CHOWN"`).
pub(super) fn name_of<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

/// The six devices runc (and Docker) give every container: character devices any user may
/// read and write.
pub fn default_devices() -> Vec<DevicePlan> {
    DEFAULT_DEVICES
        .iter()
        .map(|(path, major, minor)| DevicePlan {
            path: path.to_string(),
            kind: 'c',
            major: *major,
            minor: *minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect()
}

const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

pub fn from_spec(spec: &Spec, bundle: &Path, id: &str) -> Result<Plan, PlanError> {
    if !spec.version().starts_with("1.") {
        return Err(invalid(format!(
            "ociVersion {:?}: berth-runc reads runtime-spec 1.x",
            spec.version()
        )));
    }
    let root = spec.root().as_ref().ok_or_else(|| invalid("no root"))?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| invalid("no process"))?;
    let linux = spec.linux().as_ref().ok_or_else(|| invalid("no linux"))?;

    let namespaces = namespaces(linux)?;
    let has_ns = |k: &str| namespaces.iter().any(|n| n.kind == k);
    let mappings = |m: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        m.iter()
            .flatten()
            .map(|m| IdMapping {
                container_id: m.container_id(),
                host_id: m.host_id(),
                size: m.size(),
            })
            .collect::<Vec<_>>()
    };
    let uid_mappings = mappings(linux.uid_mappings());
    let gid_mappings = mappings(linux.gid_mappings());
    if has_ns("user") && (uid_mappings.is_empty() || gid_mappings.is_empty()) {
        let joined = namespaces
            .iter()
            .any(|n| n.kind == "user" && n.path.is_some());
        if !joined {
            return Err(invalid(
                "a new user namespace needs uidMappings and gidMappings",
            ));
        }
    }
    let mapped = !uid_mappings.is_empty() || !gid_mappings.is_empty();
    if mapped && !has_ns("user") {
        return Err(invalid("uidMappings without a user namespace"));
    }
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !has_ns("uts") {
        return Err(invalid("a hostname without a uts namespace of its own"));
    }

    let mut mounts = Vec::new();
    for m in spec.mounts().iter().flatten() {
        let mut plan = mount(m)?;
        // A bind's relative source is the bundle's, as runc reads it from the bundle.
        if plan.bind && !plan.source.starts_with('/') {
            plan.source = bundle.join(&plan.source).to_string_lossy().into_owned();
        }
        mounts.push(plan);
    }
    if !has_ns("mnt") {
        return Err(invalid(
            "berth-runc needs a mount namespace (linux.namespaces: mount)",
        ));
    }

    let mut devices = default_devices();
    for d in linux.devices().iter().flatten() {
        let path = d.path().to_string_lossy().into_owned();
        if !path.starts_with("/dev/") {
            return Err(invalid(format!("device {path}: not under /dev")));
        }
        let kind = name_of(&d.typ()).chars().next().unwrap_or('?');
        if !matches!(kind, 'c' | 'b' | 'p' | 'u') {
            return Err(invalid(format!("device {path}: type {kind}")));
        }
        let dev = DevicePlan {
            path: clean(&path),
            kind: if kind == 'u' { 'c' } else { kind },
            major: u64::try_from(d.major())
                .map_err(|_| invalid(format!("device {path}: major")))?,
            minor: u64::try_from(d.minor())
                .map_err(|_| invalid(format!("device {path}: minor")))?,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        };
        devices.retain(|x| x.path != dev.path);
        devices.push(dev);
    }

    let cgroups_path = match linux.cgroups_path() {
        Some(p) => {
            let s = p.to_string_lossy();
            if s.contains(':') {
                return Err(PlanError::Unsupported(format!(
                    "the systemd cgroupsPath {s:?} (slice:prefix:name)"
                )));
            }
            s.trim_matches('/').to_string()
        }
        None => id.to_string(),
    };
    if cgroups_path.is_empty()
        || cgroups_path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(invalid(format!("cgroupsPath {cgroups_path:?}")));
    }

    let mut resources = match linux.resources() {
        Some(r) => resources(r)?,
        None => ResourcesPlan::default(),
    };
    // As runc does: the standard devices are always usable, and so are config.json's own
    // (character and block ones: the devices controller knows no other kind).
    for d in devices.iter().filter(|d| matches!(d.kind, 'c' | 'b')) {
        resources.devices.push(DeviceRule {
            allow: true,
            kind: d.kind,
            major: Some(d.major as i64),
            minor: Some(d.minor as i64),
            access: "rwm".into(),
        });
    }
    for (kind, major, minor) in [
        ('c', Some(5), Some(1)),
        ('c', Some(5), Some(2)),
        ('c', Some(136), None),
    ] {
        resources.devices.push(DeviceRule {
            allow: true,
            kind,
            major,
            minor,
            access: "rwm".into(),
        });
    }

    let seccomp = match linux.seccomp() {
        Some(s) => {
            let json = serde_json::to_vec(s).map_err(|e| invalid(e.to_string()))?;
            Some(
                crate::runtime::seccomp::parse(&json)
                    .map_err(|e| invalid(format!("linux.seccomp: {e}")))?,
            )
        }
        None => None,
    };

    let root_propagation = match linux.rootfs_propagation().as_deref() {
        None | Some("") => "rslave".to_string(),
        Some(p) if PROPAGATIONS.contains(&p) => p.to_string(),
        Some(p) => return Err(invalid(format!("rootfsPropagation {p:?}"))),
    };

    let mut sysctl = BTreeMap::new();
    for (k, v) in linux.sysctl().iter().flatten() {
        check_sysctl(k, &has_ns)?;
        sysctl.insert(k.clone(), v.clone());
    }

    if process
        .apparmor_profile()
        .as_deref()
        .is_some_and(|p| !p.is_empty())
        && apparmor_enabled()
    {
        return Err(PlanError::Unsupported("process.apparmorProfile".into()));
    }
    if process
        .selinux_label()
        .as_deref()
        .is_some_and(|p| !p.is_empty())
    {
        return Err(PlanError::Unsupported("process.selinuxLabel".into()));
    }
    if linux.intel_rdt().is_some() {
        return Err(PlanError::Unsupported("linux.intelRdt".into()));
    }
    if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(PlanError::Unsupported("linux.timeOffsets".into()));
    }

    Ok(Plan {
        rootfs,
        readonly_rootfs: root.readonly().unwrap_or(false),
        process: process_plan(process)?,
        hostname: spec.hostname().clone().filter(|h| !h.is_empty()),
        domainname: spec.domainname().clone().filter(|h| !h.is_empty()),
        namespaces,
        uid_mappings,
        gid_mappings,
        root_propagation,
        mounts,
        devices,
        masked_paths: linux.masked_paths().clone().unwrap_or_default(),
        readonly_paths: linux.readonly_paths().clone().unwrap_or_default(),
        sysctl,
        cgroups_path,
        resources,
        seccomp,
        hooks: hooks(spec.hooks().as_ref()),
        annotations: spec
            .annotations()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

/// A sysctl is set inside the container only where a namespace of its own isolates it, as
/// runc checks (`net.*` with a network namespace, the IPC keys with an IPC one).
fn check_sysctl(key: &str, has_ns: &dyn Fn(&str) -> bool) -> Result<(), PlanError> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let ok = if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        has_ns("ipc")
    } else if key.starts_with("net.") {
        has_ns("net")
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        has_ns("uts")
    } else {
        false
    };
    if ok && !key.contains('/') && !key.contains("..") {
        Ok(())
    } else {
        Err(invalid(format!(
            "sysctl {key:?} is not in a separate kernel namespace of the container"
        )))
    }
}

fn namespaces(linux: &oci_spec::runtime::Linux) -> Result<Vec<NamespacePlan>, PlanError> {
    let mut out: Vec<NamespacePlan> = Vec::new();
    for ns in linux.namespaces().iter().flatten() {
        let kind = match name_of(&ns.typ()).as_str() {
            "pid" => "pid",
            "network" => "net",
            "mount" => "mnt",
            "ipc" => "ipc",
            "uts" => "uts",
            "user" => "user",
            "cgroup" => "cgroup",
            other => return Err(PlanError::Unsupported(format!("the {other} namespace"))),
        };
        if out.iter().any(|n| n.kind == kind) {
            return Err(invalid(format!("the {kind} namespace is listed twice")));
        }
        let path = ns.path().clone().filter(|p| !p.as_os_str().is_empty());
        if let Some(p) = &path {
            if !p.is_absolute() {
                return Err(invalid(format!(
                    "namespace path {} is not absolute",
                    p.display()
                )));
            }
        }
        out.push(NamespacePlan {
            kind: kind.to_string(),
            path,
        });
    }
    Ok(out)
}

fn sorted_names(set: &Option<oci_spec::runtime::Capabilities>) -> Vec<String> {
    let mut v: Vec<String> = set.iter().flatten().map(name_of).collect();
    v.sort();
    v
}

pub fn process_plan(p: &oci_spec::runtime::Process) -> Result<ProcessPlan, PlanError> {
    let args = p.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(invalid("process.args is empty"));
    }
    let cwd = p.cwd().to_string_lossy().into_owned();
    if !cwd.starts_with('/') {
        return Err(invalid(format!("process.cwd {cwd:?} is not absolute")));
    }
    let caps = p.capabilities().as_ref();
    let capabilities = CapabilitySets {
        bounding: caps.map(|c| sorted_names(c.bounding())).unwrap_or_default(),
        effective: caps
            .map(|c| sorted_names(c.effective()))
            .unwrap_or_default(),
        inheritable: caps
            .map(|c| sorted_names(c.inheritable()))
            .unwrap_or_default(),
        permitted: caps
            .map(|c| sorted_names(c.permitted()))
            .unwrap_or_default(),
        ambient: caps.map(|c| sorted_names(c.ambient())).unwrap_or_default(),
    };
    let mut rlimits = Vec::new();
    for r in p.rlimits().iter().flatten() {
        let kind = name_of(&r.typ());
        if rlimits.iter().any(|x: &Rlimit| x.kind == kind) {
            return Err(invalid(format!("rlimit {kind} is listed twice")));
        }
        if r.soft() > r.hard() {
            return Err(invalid(format!("rlimit {kind}: soft above hard")));
        }
        rlimits.push(Rlimit {
            kind,
            soft: r.soft(),
            hard: r.hard(),
        });
    }
    let console_size = p.console_size().map(|b| {
        (
            u16::try_from(b.height()).unwrap_or(u16::MAX),
            u16::try_from(b.width()).unwrap_or(u16::MAX),
        )
    });
    let user = p.user();
    Ok(ProcessPlan {
        terminal: p.terminal().unwrap_or(false),
        console_size,
        args,
        env: p.env().clone().unwrap_or_default(),
        cwd: clean(&cwd),
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
        capabilities,
        rlimits,
        no_new_privileges: p.no_new_privileges().unwrap_or(false),
        oom_score_adj: p.oom_score_adj(),
    })
}

fn hooks(h: Option<&oci_spec::runtime::Hooks>) -> HooksPlan {
    let Some(h) = h else {
        return HooksPlan::default();
    };
    let list = |l: &Option<Vec<oci_spec::runtime::Hook>>| {
        l.iter()
            .flatten()
            .map(|h| HookPlan {
                path: h.path().clone(),
                args: h.args().clone().unwrap_or_default(),
                env: h.env().clone().unwrap_or_default(),
                timeout: h.timeout(),
            })
            .collect::<Vec<_>>()
    };
    #[allow(deprecated)]
    let prestart = list(h.prestart());
    HooksPlan {
        prestart,
        create_runtime: list(h.create_runtime()),
        create_container: list(h.create_container()),
        start_container: list(h.start_container()),
        poststart: list(h.poststart()),
        poststop: list(h.poststop()),
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
