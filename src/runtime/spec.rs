//! The contract between the daemon and a container's shim: everything the shim and init
//! need to create one container, written by the daemon as JSON before it spawns the shim.
//! The daemon has already mounted the rootfs, created the cgroup and the network
//! namespace; the shim and init only join and finish.

use super::logging::LogSettings;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Docker's `/dev/shm` when `--shm-size` is not given: 64 MiB.
pub const DEFAULT_SHM_SIZE: u64 = 64 << 20;

fn default_shm_size() -> u64 {
    DEFAULT_SHM_SIZE
}

/// A container's network namespace (`--network`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// Join the namespace the daemon pinned at this path (bridge and `none` modes).
    Join(PathBuf),
    /// A new, empty namespace of its own, made by the clone.
    New,
    /// The host's own namespace (`--network host`): nothing is unshared.
    Host,
}

/// One kind of namespace, which a container may own or share (`--pid`, `--ipc`, `--uts`,
/// `--cgroupns`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Namespace {
    /// A new one of its own.
    #[default]
    Private,
    /// The host's: nothing is unshared.
    Host,
    /// Another container's, through a namespace file of its init (`/proc/<pid>/ns/<kind>`).
    Join(PathBuf),
}

/// A namespace a container owns or takes from the host, never from another container
/// (`--uts`, `--cgroupns`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum OwnOrHost {
    #[default]
    Private,
    Host,
}

/// The namespaces besides the mount one (always the container's own) and the network one
/// (`ShimSpec::network`). Absent fields are private, which is all berth made before.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Namespaces {
    #[serde(default)]
    pub pid: Namespace,
    #[serde(default)]
    pub ipc: Namespace,
    #[serde(default)]
    pub uts: OwnOrHost,
    #[serde(default)]
    pub cgroup: OwnOrHost,
}

/// What the container's /dev/shm is (`--ipc`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Shm {
    /// A tmpfs of its own, `shm_size` bytes.
    #[default]
    Private,
    /// A bind of this host directory: the host's /dev/shm (`--ipc host`), or the tmpfs the
    /// daemon mounted for a shareable container, its own or the one it joins.
    Bind(PathBuf),
    /// None at all (`--ipc none`).
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShimSpec {
    /// Full 64-hex container id.
    pub id: String,
    /// The mounted overlay (`overlay2/<cache id>/merged`); init pivots into it.
    pub rootfs: PathBuf,
    /// argv; `args[0]` is looked up in the container's PATH when it has no slash.
    pub args: Vec<String>,
    /// Complete environment, `KEY=value`, already merged (image, defaults, `-e`).
    pub env: Vec<String>,
    /// Working directory inside the container (absolute); created if missing, as Docker does.
    pub cwd: String,
    /// Resolved identity (the daemon resolves `-u` against the image's /etc/passwd).
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub hostname: String,
    /// `--domainname`: the UTS namespace's domain name (empty: left as the kernel's default).
    #[serde(default)]
    pub domainname: String,
    pub tty: bool,
    /// Keep stdin open (`-i`): the shim accepts stdin from attached clients.
    pub open_stdin: bool,
    /// Which network namespace the container's processes live in.
    pub network: Network,
    /// Which of the other namespaces are its own, the host's or another container's.
    #[serde(default)]
    pub namespaces: Namespaces,
    /// cgroup directories the init process is placed in before it runs
    /// (one per v1 hierarchy, or the single v2 directory).
    pub cgroup_paths: Vec<PathBuf>,
    /// Files bound into the container: /etc/hosts, /etc/hostname, /etc/resolv.conf.
    pub binds: Vec<BindMount>,
    /// Volumes, bind mounts and tmpfs mounts, already in the order they are applied (a
    /// parent before its children); applied after /dev and the /etc files.
    #[serde(default)]
    pub mounts: Vec<Mount>,
    /// The log the shim appends to (json-file's `<id>-json.log`, local's
    /// `local-logs/container.log`, or /dev/null for `--log-driver none`).
    pub log_path: PathBuf,
    /// Its format and rotation, and json-file's attributes (absent: json-file, no rotation).
    #[serde(default, skip_serializing_if = "LogSettings::is_default")]
    pub log: LogSettings,
    /// The shim's own directory: `pid`, `shim.sock`, `exit.json` live here.
    pub state_dir: PathBuf,
    /// The size of `/dev/shm` in bytes (`--shm-size`; Docker's default is 64 MiB).
    #[serde(default = "default_shm_size")]
    pub shm_size: u64,
    #[serde(default)]
    pub shm: Shm,
    /// `--read-only`: the container sees its root filesystem read-only.
    #[serde(default)]
    pub readonly_rootfs: bool,
    /// The capabilities a root process keeps (`CAP_*` names); None means Docker's default set.
    #[serde(default)]
    pub capabilities: Option<Vec<String>>,
    /// `--init`: PID 1 is a tiny init that forwards signals and reaps orphans.
    #[serde(default)]
    pub init: bool,
    /// `--privileged`: every capability and device, writable /sys, nothing masked.
    #[serde(default)]
    pub privileged: bool,
    /// `-t`: the terminal's first size (rows, columns), from the API's `ConsoleSize`.
    #[serde(default)]
    pub console_size: Option<(u16, u16)>,
    /// The compiled seccomp program to install before exec (the daemon compiles each profile
    /// once per capability set, under `<exec root>/seccomp/`); None runs unconfined.
    #[serde(default)]
    pub seccomp_filter: Option<PathBuf>,
    /// `--security-opt no-new-privileges`: setuid binaries and file capabilities stop working.
    #[serde(default)]
    pub no_new_privileges: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BindMount {
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub destination: String,
    pub readonly: bool,
}

/// One volume, bind or tmpfs mount of a container. Its target is resolved inside the
/// rootfs without leaving it (a link planted in the image or in a volume cannot point a
/// mount at a host path).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mount {
    /// Absolute and clean path inside the container.
    pub destination: String,
    pub kind: MountKind,
    pub readonly: bool,
    pub nosuid: bool,
    pub nodev: bool,
    pub noexec: bool,
    pub propagation: Propagation,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A host path (a bind's source, a volume's `_data`): a file or a directory.
    Bind {
        source: PathBuf,
        /// `rbind`: the mounts under the source come along (Docker's default).
        recursive: bool,
    },
    /// A fresh tmpfs; `data` is the filesystem's options (`size=…,mode=…`), flags excluded.
    Tmpfs { data: String },
}

/// Mount propagation (`bind-propagation`, the `-v` propagation modes).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    Private,
    #[default]
    Rprivate,
    Shared,
    Rshared,
    Slave,
    Rslave,
}

impl Propagation {
    pub fn parse(s: &str) -> Option<Propagation> {
        Some(match s {
            "private" => Propagation::Private,
            "rprivate" => Propagation::Rprivate,
            "shared" => Propagation::Shared,
            "rshared" => Propagation::Rshared,
            "slave" => Propagation::Slave,
            "rslave" => Propagation::Rslave,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Private => "private",
            Propagation::Rprivate => "rprivate",
            Propagation::Shared => "shared",
            Propagation::Rshared => "rshared",
            Propagation::Slave => "slave",
            Propagation::Rslave => "rslave",
        }
    }
}

/// What the shim records when its container's process ends (`exit.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExitStatus {
    /// The process's exit code, or 128+N when killed by signal N.
    pub exit_code: i32,
    /// RFC 3339 time with nanoseconds, as Docker's `State.FinishedAt`.
    pub finished_at: String,
    pub oom_killed: bool,
}
