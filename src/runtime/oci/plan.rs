//! An OCI bundle's config.json (runtime-spec 1.1, parsed by the oci-spec crate) turned into the
//! plan init follows: every path resolved against the bundle, every mount option split into
//! the flags mount(2) takes and the data its filesystem takes, every name checked. Whatever
//! config.json asks for that berth cannot do is refused here, by name, before anything on the
//! host has changed.

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

fn invalid(s: impl Into<String>) -> PlanError {
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
    /// Under the cgroup root (`/sys/fs/cgroup[/<controller>]`), no leading slash.
    pub cgroups_path: String,
    pub resources: ResourcesPlan,
    pub seccomp: Option<Profile>,
    pub hooks: HooksPlan,
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

/// One device cgroup rule, in order; `kind` is `a`, `c` or `b`, None major/minor is `*`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceRule {
    pub allow: bool,
    pub kind: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

/// The limits berth's cgroup code knows (`cgroups::Resources`) and the device rules.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ResourcesPlan {
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub oom_kill_disable: bool,
    pub cpu_shares: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    /// v1's memory.swappiness (v2 has none).
    pub swappiness: Option<u64>,
    pub pids_limit: Option<i64>,
    pub devices: Vec<DeviceRule>,
}

impl ResourcesPlan {
    pub fn limits(&self) -> crate::cgroups::Resources {
        crate::cgroups::Resources {
            memory: self.memory,
            memory_swap: self.memory_swap,
            memory_reservation: self.memory_reservation,
            nano_cpus: None,
            cpu_shares: self.cpu_shares,
            cpu_period: self.cpu_period,
            cpu_quota: self.cpu_quota,
            cpuset_cpus: self.cpuset_cpus.clone(),
            pids_limit: self.pids_limit,
            oom_kill_disable: self.oom_kill_disable,
        }
    }
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
fn name_of<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

/// The six devices runc gives every container, made whatever config.json says.
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

    let mut devices: Vec<DevicePlan> = DEFAULT_DEVICES
        .iter()
        .map(|(p, major, minor)| DevicePlan {
            path: p.to_string(),
            kind: 'c',
            major: *major,
            minor: *minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect();
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

const PROPAGATIONS: &[&str] = &[
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
];

/// The mount options that are flags, as runc spells them: (name, sets the flag).
const FLAG_OPTIONS: &[(&str, bool)] = &[
    ("ro", true),
    ("rw", false),
    ("suid", false),
    ("nosuid", true),
    ("dev", false),
    ("nodev", true),
    ("exec", false),
    ("noexec", true),
    ("sync", true),
    ("async", false),
    ("dirsync", true),
    ("remount", true),
    ("mand", true),
    ("nomand", false),
    ("atime", false),
    ("noatime", true),
    ("diratime", false),
    ("nodiratime", true),
    ("relatime", true),
    ("norelatime", false),
    ("strictatime", true),
    ("nostrictatime", false),
];

/// A clean absolute path: no `.`, `..` or empty components (a `..` stops at `/`).
fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

fn mount(m: &oci_spec::runtime::Mount) -> Result<MountPlan, PlanError> {
    let dest = m.destination().to_string_lossy().into_owned();
    if !dest.starts_with('/') {
        return Err(invalid(format!(
            "mount destination {dest:?} is not absolute"
        )));
    }
    if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
        return Err(PlanError::Unsupported(format!("idmapped mount {dest}")));
    }
    let fstype = m.typ().clone().unwrap_or_default();
    let mut plan = MountPlan {
        destination: clean(&dest),
        fstype: fstype.clone(),
        source: m
            .source()
            .as_ref()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bind: fstype == "bind",
        recursive: false,
        flags: Vec::new(),
        propagation: None,
        data: String::new(),
    };
    let mut data = Vec::new();
    for o in m.options().iter().flatten() {
        let o = o.as_str();
        match o {
            "bind" => plan.bind = true,
            "rbind" => {
                plan.bind = true;
                plan.recursive = true;
            }
            o if PROPAGATIONS.contains(&o) => plan.propagation = Some(o.to_string()),
            o if FLAG_OPTIONS.iter().any(|(n, _)| *n == o) => {
                // The last word on a flag wins: `rw` after `ro` clears it.
                let (set_name, clear_name) = flag_pair(o);
                plan.flags.retain(|f| f != set_name && f != clear_name);
                if FLAG_OPTIONS.iter().any(|(n, set)| *n == o && *set) {
                    plan.flags.push(o.to_string());
                }
            }
            o if o.starts_with("rro") || o == "tmpcopyup" || o.starts_with("idmap") => {
                return Err(PlanError::Unsupported(format!(
                    "the mount option {o} ({dest})"
                )));
            }
            o => data.push(o.to_string()),
        }
    }
    if plan.bind && plan.source.is_empty() {
        return Err(invalid(format!("bind mount {dest} has no source")));
    }
    if !plan.bind && fstype.is_empty() {
        return Err(invalid(format!("mount {dest} has no type")));
    }
    plan.data = data.join(",");
    Ok(plan)
}

/// The option that sets a flag and the one that clears it.
fn flag_pair(o: &str) -> (&'static str, &'static str) {
    const PAIRS: &[(&str, &str)] = &[
        ("ro", "rw"),
        ("nosuid", "suid"),
        ("nodev", "dev"),
        ("noexec", "exec"),
        ("sync", "async"),
        ("dirsync", "dirsync"),
        ("remount", "remount"),
        ("mand", "nomand"),
        ("noatime", "atime"),
        ("nodiratime", "diratime"),
        ("relatime", "norelatime"),
        ("strictatime", "nostrictatime"),
    ];
    PAIRS
        .iter()
        .find(|(a, b)| *a == o || *b == o)
        .copied()
        .unwrap_or(("", ""))
}

/// The mount(2) flags an option list names (see `MountPlan::flags`).
pub fn ms_flags(names: &[String]) -> nix::mount::MsFlags {
    use nix::mount::MsFlags as F;
    let mut f = F::empty();
    for n in names {
        f |= match n.as_str() {
            "ro" => F::MS_RDONLY,
            "nosuid" => F::MS_NOSUID,
            "nodev" => F::MS_NODEV,
            "noexec" => F::MS_NOEXEC,
            "sync" => F::MS_SYNCHRONOUS,
            "dirsync" => F::MS_DIRSYNC,
            "remount" => F::MS_REMOUNT,
            "mand" => F::MS_MANDLOCK,
            "noatime" => F::MS_NOATIME,
            "nodiratime" => F::MS_NODIRATIME,
            "relatime" => F::MS_RELATIME,
            "strictatime" => F::MS_STRICTATIME,
            _ => F::empty(),
        };
    }
    f
}

/// The propagation flags of a name in [`PROPAGATIONS`].
pub fn propagation_flags(name: &str) -> nix::mount::MsFlags {
    use nix::mount::MsFlags as F;
    match name {
        "private" => F::MS_PRIVATE,
        "rprivate" => F::MS_PRIVATE | F::MS_REC,
        "shared" => F::MS_SHARED,
        "rshared" => F::MS_SHARED | F::MS_REC,
        "slave" => F::MS_SLAVE,
        "rslave" => F::MS_SLAVE | F::MS_REC,
        "unbindable" => F::MS_UNBINDABLE,
        "runbindable" => F::MS_UNBINDABLE | F::MS_REC,
        _ => F::empty(),
    }
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

/// `linux.resources`, for create and for `update` (where only what is given changes).
pub fn resources(r: &oci_spec::runtime::LinuxResources) -> Result<ResourcesPlan, PlanError> {
    let mut out = ResourcesPlan::default();
    let unsupported = |what: &str| Err(PlanError::Unsupported(format!("linux.resources.{what}")));
    if let Some(m) = r.memory() {
        out.memory = m.limit().filter(|v| *v != 0);
        out.memory_swap = m.swap().filter(|v| *v != 0);
        out.memory_reservation = m.reservation().filter(|v| *v != 0);
        out.oom_kill_disable = m.disable_oom_killer().unwrap_or(false);
        // Kernel memory limits are deprecated by the runtime-spec and ignored by runc (the
        // kernel itself stopped enforcing them in 5.16): ignored here too.
        out.swappiness = m.swappiness().filter(|v| *v <= 100);
        if m.swappiness().is_some_and(|v| v > 100) {
            return Err(invalid("linux.resources.memory.swappiness above 100"));
        }
    }
    if let Some(c) = r.cpu() {
        out.cpu_shares = c.shares().filter(|v| *v != 0).map(|v| v as i64);
        out.cpu_quota = c.quota().filter(|v| *v != 0);
        out.cpu_period = c.period().filter(|v| *v != 0).map(|v| v as i64);
        out.cpuset_cpus = c.cpus().clone().filter(|s| !s.is_empty());
        out.cpuset_mems = c.mems().clone().filter(|s| !s.is_empty());
        if c.realtime_runtime().is_some_and(|v| v != 0)
            || c.realtime_period().is_some_and(|v| v != 0)
        {
            return unsupported("cpu.realtime");
        }
        if c.idle().is_some_and(|v| v != 0) || c.burst().is_some_and(|v| v != 0) {
            return unsupported("cpu.idle and cpu.burst");
        }
    }
    if let Some(p) = r.pids() {
        out.pids_limit = match p.limit() {
            0 => None,
            n if n < 0 => Some(-1),
            n => Some(n),
        };
    }
    if let Some(b) = r.block_io() {
        let any = |l: &Option<Vec<oci_spec::runtime::LinuxThrottleDevice>>| {
            l.as_ref().is_some_and(|v| !v.is_empty())
        };
        if b.weight().is_some_and(|w| w != 0)
            || b.leaf_weight().is_some_and(|w| w != 0)
            || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
            || any(b.throttle_read_bps_device())
            || any(b.throttle_write_bps_device())
            || any(b.throttle_read_iops_device())
            || any(b.throttle_write_iops_device())
        {
            return unsupported("blockIO");
        }
    }
    if r.hugepage_limits().as_ref().is_some_and(|v| !v.is_empty()) {
        return unsupported("hugepageLimits");
    }
    if r.rdma().as_ref().is_some_and(|v| !v.is_empty()) {
        return unsupported("rdma");
    }
    if r.unified().as_ref().is_some_and(|v| !v.is_empty()) {
        return unsupported("unified");
    }
    if r.network().as_ref().is_some_and(|n| {
        n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty())
    }) {
        return unsupported("network");
    }
    for d in r.devices().iter().flatten() {
        let kind = match d.typ() {
            None => 'a',
            Some(t) => name_of(&t).chars().next().unwrap_or('a'),
        };
        if !matches!(kind, 'a' | 'c' | 'b') {
            return Err(invalid(format!("device rule type {kind}")));
        }
        let access = d.access().clone().unwrap_or_else(|| "rwm".into());
        if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
            return Err(invalid(format!("device rule access {access:?}")));
        }
        out.devices.push(DeviceRule {
            allow: d.allow(),
            kind,
            major: d.major().filter(|v| *v >= 0),
            minor: d.minor().filter(|v| *v >= 0),
            access,
        });
    }
    Ok(out)
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
