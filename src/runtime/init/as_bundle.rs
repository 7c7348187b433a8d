//! The daemon's container as an OCI bundle would describe it: a [`ShimSpec`] turned into the
//! same [`Plan`] that `berth-runc` makes of a config.json, so that one init serves both. What
//! Docker writes into the config.json it hands runc, berth writes here: proc, a sysfs
//! (writable only when privileged), /sys/fs/cgroup, a /dev tmpfs with its devpts, shm and
//! mqueue, the user's mounts in their order, the /etc files (unless a mount of the user's is
//! at that very path), the devices, Docker's masked and read-only paths, and the capability
//! sets of Docker's rules: a root process keeps its set in every set, any other uid only in
//! the bounding set.

use super::{InitError, Kernel};
use crate::runtime::oci::plan::{
    CapabilitySets, DevicePlan, HooksPlan, MountPlan, NamespacePlan, Plan, ProcessPlan,
    ResourcesPlan,
};
use crate::runtime::security::{DEFAULT_CAPS, MASKED_PATHS, READONLY_PATHS};
use crate::runtime::spec::{MountKind, Namespace, Network, OwnOrHost, ShimSpec, Shm};
use std::collections::BTreeMap;
use std::path::Path;

fn flags(names: &[(&str, bool)]) -> Vec<String> {
    names
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| n.to_string())
        .collect()
}

fn fs(destination: &str, fstype: &str, source: &str, flag_names: &[&str], data: &str) -> MountPlan {
    MountPlan {
        destination: destination.into(),
        fstype: fstype.into(),
        source: source.into(),
        bind: false,
        recursive: false,
        flags: flag_names.iter().map(|f| f.to_string()).collect(),
        propagation: None,
        data: data.into(),
    }
}

fn bind(destination: &str, source: &Path, recursive: bool, flags: Vec<String>) -> MountPlan {
    MountPlan {
        destination: destination.into(),
        fstype: "bind".into(),
        source: source.to_string_lossy().into_owned(),
        bind: true,
        recursive,
        flags,
        propagation: None,
        data: String::new(),
    }
}

const NOSUID_NODEV_NOEXEC: &[&str] = &["nosuid", "nodev", "noexec"];

pub fn plan_of(k: &dyn Kernel, spec: &ShimSpec) -> Result<Plan, InitError> {
    let mut mounts = vec![fs("/proc", "proc", "proc", NOSUID_NODEV_NOEXEC, "")];
    // --privileged gets a writable /sys, all host devices and no masked paths, as in Docker.
    let sys: &[&str] = if spec.privileged {
        NOSUID_NODEV_NOEXEC
    } else {
        &["nosuid", "nodev", "noexec", "ro"]
    };
    mounts.push(fs("/sys", "sysfs", "sysfs", sys, ""));
    mounts.push(fs(
        "/sys/fs/cgroup",
        "cgroup",
        "cgroup",
        &["nosuid", "nodev", "noexec", "ro"],
        "",
    ));
    mounts.push(fs(
        "/dev",
        "tmpfs",
        "tmpfs",
        &["nosuid", "strictatime"],
        "mode=755,size=65536k",
    ));
    mounts.push(fs(
        "/dev/pts",
        "devpts",
        "devpts",
        &["nosuid", "noexec"],
        "newinstance,ptmxmode=0666,mode=0620,gid=5",
    ));
    match &spec.shm {
        Shm::Private => mounts.push(fs(
            "/dev/shm",
            "tmpfs",
            "shm",
            NOSUID_NODEV_NOEXEC,
            &format!("mode=1777,size={}", spec.shm_size),
        )),
        // The host's, or a shareable container's: the same tmpfs, with its own flags.
        Shm::Bind(source) => mounts.push(bind("/dev/shm", source, true, vec![])),
        // `--ipc none`: not even the directory, as in Docker.
        Shm::None => {}
    }
    mounts.push(fs(
        "/dev/mqueue",
        "mqueue",
        "mqueue",
        NOSUID_NODEV_NOEXEC,
        "",
    ));
    // Volumes, binds and tmpfs after /dev (a volume at /dev/shm covers berth's), and before
    // the /etc files, which a user's mount at that path replaces.
    for m in &spec.mounts {
        let f = flags(&[
            ("ro", m.readonly),
            ("nosuid", m.nosuid),
            ("nodev", m.nodev),
            ("noexec", m.noexec),
        ]);
        let mut plan = match &m.kind {
            MountKind::Bind { source, recursive } => bind(&m.destination, source, *recursive, f),
            MountKind::Tmpfs { data } => MountPlan {
                flags: f,
                ..fs(&m.destination, "tmpfs", "tmpfs", &[], data)
            },
        };
        if matches!(m.kind, MountKind::Bind { .. }) {
            plan.propagation = Some(m.propagation.as_str().to_string());
        }
        mounts.push(plan);
    }
    for b in &spec.binds {
        if spec.mounts.iter().any(|m| m.destination == b.destination) {
            continue;
        }
        mounts.push(bind(
            &b.destination,
            &b.source,
            false,
            flags(&[("ro", b.readonly)]),
        ));
    }

    let mut devices = crate::runtime::oci::plan::default_devices();
    if spec.privileged {
        host_devices(Path::new("/dev"), &mut devices);
    }

    let mut namespaces = vec![NamespacePlan {
        kind: "mnt".into(),
        path: None,
    }];
    let mut ns = |kind: &str, own: bool| {
        if own {
            namespaces.push(NamespacePlan {
                kind: kind.into(),
                path: None,
            });
        }
    };
    ns("net", spec.network != Network::Host);
    ns("pid", spec.namespaces.pid == Namespace::Private);
    ns("ipc", spec.namespaces.ipc == Namespace::Private);
    ns("uts", spec.namespaces.uts == OwnOrHost::Private);
    ns("cgroup", spec.namespaces.cgroup == OwnOrHost::Private);

    let capabilities =
        docker_capabilities(k, spec.uid, spec.privileged, spec.capabilities.as_deref())?;

    let own_uts = spec.namespaces.uts == OwnOrHost::Private;
    let root_propagation =
        if super::mounts::root_propagation(&spec.mounts).contains(nix::mount::MsFlags::MS_SLAVE) {
            "rslave"
        } else {
            "rprivate"
        };
    let listed = |paths: &[&str]| -> Vec<String> {
        if spec.privileged {
            vec![]
        } else {
            paths.iter().map(|p| p.to_string()).collect()
        }
    };
    Ok(Plan {
        rootfs: spec.rootfs.clone(),
        readonly_rootfs: spec.readonly_rootfs,
        process: ProcessPlan {
            terminal: spec.tty,
            console_size: spec.console_size,
            args: spec.args.clone(),
            env: spec.env.clone(),
            cwd: if spec.cwd.is_empty() {
                "/".into()
            } else {
                spec.cwd.clone()
            },
            uid: spec.uid,
            gid: spec.gid,
            additional_gids: spec.additional_gids.clone(),
            umask: None,
            capabilities,
            rlimits: vec![],
            no_new_privileges: spec.no_new_privileges,
            oom_score_adj: None,
        },
        hostname: (own_uts && !spec.hostname.is_empty()).then(|| spec.hostname.clone()),
        domainname: (own_uts && !spec.domainname.is_empty()).then(|| spec.domainname.clone()),
        namespaces,
        uid_mappings: vec![],
        gid_mappings: vec![],
        root_propagation: root_propagation.into(),
        mounts,
        devices,
        masked_paths: listed(MASKED_PATHS),
        readonly_paths: listed(READONLY_PATHS),
        sysctl: BTreeMap::new(),
        cgroups_path: String::new(),
        resources: ResourcesPlan::default(),
        seccomp: None,
        hooks: HooksPlan::default(),
        annotations: BTreeMap::new(),
    })
}

/// The capability sets by Docker's rules, for a container's process and its execs: `caps`
/// (Docker's default set when None; everything this process holds when privileged) in every
/// set of a root process, and only in the bounding set of any other uid.
pub fn docker_capabilities(
    k: &dyn Kernel,
    uid: u32,
    privileged: bool,
    caps: Option<&[String]>,
) -> Result<CapabilitySets, InitError> {
    let mut keep: Vec<String> = if privileged {
        // Everything this process holds: on a host that withholds some capabilities from
        // root itself, asking for more would fail.
        k.permitted_capabilities()
            .map_err(|e| InitError::setup("reading capabilities", e))?
            .iter()
            .map(|c| c.to_string())
            .collect()
    } else if let Some(names) = caps {
        let permitted = k
            .permitted_capabilities()
            .map_err(|e| InitError::setup("reading capabilities", e))?;
        names
            .iter()
            .filter(|n| {
                use std::str::FromStr;
                caps::Capability::from_str(n).is_ok_and(|c| permitted.contains(&c))
            })
            .cloned()
            .collect()
    } else {
        DEFAULT_CAPS.iter().map(|c| c.to_string()).collect()
    };
    keep.sort();
    let root = uid == 0;
    Ok(CapabilitySets {
        bounding: keep.clone(),
        effective: if root { keep.clone() } else { vec![] },
        inheritable: vec![],
        permitted: if root { keep } else { vec![] },
        ambient: vec![],
    })
}

/// Every device node of the host's /dev (and its subdirectories, but not the filesystems
/// mounted there, pts, shm and mqueue, nor ptmx, which points into pts), for --privileged.
fn host_devices(from: &Path, out: &mut Vec<DevicePlan>) {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        if ["pts", "shm", "mqueue", "ptmx"].iter().any(|n| name == *n) {
            continue;
        }
        let Ok(md) = e.path().symlink_metadata() else {
            continue;
        };
        let ft = md.file_type();
        if ft.is_dir() {
            host_devices(&e.path(), out);
            continue;
        }
        let path = e.path().to_string_lossy().into_owned();
        if !(ft.is_char_device() || ft.is_block_device()) || out.iter().any(|d| d.path == path) {
            continue;
        }
        out.push(DevicePlan {
            path,
            kind: if ft.is_char_device() { 'c' } else { 'b' },
            major: nix::sys::stat::major(md.rdev()),
            minor: nix::sys::stat::minor(md.rdev()),
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
        });
    }
}
