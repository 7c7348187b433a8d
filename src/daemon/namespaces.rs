//! `--pid`, `--ipc`, `--uts` and `--cgroupns` on the daemon's side. At create the modes are
//! checked and written down as Docker reads them back: `IpcMode` is `private` and
//! `CgroupnsMode` the daemon's default (private on cgroup v2, host on v1) when not given, and
//! `container:<name>` becomes `container:<id>`, so that a rename does not break the sharing.
//! At start they become what the shim is told (`runtime::spec::Namespaces` and `Shm`), with
//! Docker's refusals when the container to join is gone, stopped, or keeps its IPC to itself.
//! A shareable container's /dev/shm is a tmpfs on the host, `containers/<id>/mounts/shm` as in
//! Docker, which its own /dev/shm and every joiner's are binds of.

use super::container::Record;
use super::error::{DaemonError, Result};
use super::hostconfig::extra_str;
use super::Daemon;
use crate::cgroups::CgroupVersion;
use crate::runtime::spec::{Namespace, Namespaces, OwnOrHost, Shm};
use crate::wire::namespaces::{CgroupnsMode, IpcMode, PidMode, UtsMode};
use crate::wire::types::{ContainerConfig, HostConfig};
use std::path::{Path, PathBuf};

/// The four modes of a HostConfig.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Modes {
    pub pid: PidMode,
    pub ipc: IpcMode,
    pub uts: UtsMode,
    /// None: not given, the daemon's default.
    pub cgroupns: Option<CgroupnsMode>,
}

/// Parse the modes, refusing a bad one in the daemon's words (`invalid PID mode: x`).
pub(super) fn modes(hc: &HostConfig) -> Result<Modes> {
    let bad = |e: crate::wire::namespaces::ModeError| DaemonError::InvalidParameter(e.to_string());
    Ok(Modes {
        pid: PidMode::parse(extra_str(hc, "PidMode")).map_err(bad)?,
        ipc: IpcMode::parse(extra_str(hc, "IpcMode")).map_err(bad)?,
        uts: UtsMode::parse(extra_str(hc, "UTSMode")).map_err(bad)?,
        cgroupns: CgroupnsMode::parse(extra_str(hc, "CgroupnsMode")).map_err(bad)?,
    })
}

/// What create refuses: a bad mode, and names for a UTS namespace that is the host's (Docker
/// refuses the hostname at create; a domain name it only fails at start, in runc's words).
pub(super) fn check(cfg: &ContainerConfig, hc: &HostConfig) -> Result<()> {
    let m = modes(hc)?;
    if m.uts == UtsMode::Host {
        let conflict = |what: &str| {
            Err(DaemonError::InvalidParameter(format!(
                "conflicting options: {what} and the UTS mode"
            )))
        };
        if !cfg.hostname.is_empty() {
            return conflict("hostname");
        }
        if !cfg.domainname.is_empty() {
            return conflict("domainname");
        }
    }
    Ok(())
}

/// Docker's default cgroup namespace: the daemon's `--default-cgroupns-mode` (`configured`),
/// else a private one where the host runs cgroup v2 and the host's on v1, where a container's
/// cgroup files are still found under the host's paths. A privileged container on v1 always
/// gets the host's.
pub fn default_cgroupns(
    version: CgroupVersion,
    configured: Option<CgroupnsMode>,
    privileged: bool,
) -> CgroupnsMode {
    match (version, configured) {
        (CgroupVersion::V1, _) if privileged => CgroupnsMode::Host,
        (_, Some(m)) => m,
        (CgroupVersion::V2, None) => CgroupnsMode::Private,
        (CgroupVersion::V1, None) => CgroupnsMode::Host,
    }
}

/// The modes as create records them: defaults filled in, and the container to join named by
/// its id (`id_of` resolves a name, an id or a prefix, or says there is no such container).
pub(super) fn settle(
    hc: &mut HostConfig,
    default: CgroupnsMode,
    id_of: impl Fn(&str) -> Result<String>,
) -> Result<()> {
    let m = modes(hc)?;
    let pid = match m.pid {
        PidMode::Container(x) => PidMode::Container(id_of(&x)?),
        other => other,
    };
    let ipc = match m.ipc {
        IpcMode::Container(x) => IpcMode::Container(id_of(&x)?),
        other => other,
    };
    let uts = match m.uts {
        UtsMode::Private => "",
        UtsMode::Host => "host",
    };
    let cgroupns = m.cgroupns.unwrap_or(default);
    for (key, value) in [
        ("PidMode", pid.to_string()),
        ("IpcMode", ipc.to_string()),
        ("UTSMode", uts.to_string()),
        ("CgroupnsMode", cgroupns.as_str().to_string()),
    ] {
        hc.extra.insert(key.into(), value.into());
    }
    Ok(())
}

/// Where a shareable container's /dev/shm is mounted on the host.
pub(super) fn shareable_shm_path(container_dir: &Path) -> PathBuf {
    container_dir.join("mounts").join("shm")
}

/// The host directory of the container's own shareable /dev/shm, if it has one.
pub(super) fn own_shm(rec: &Record, container_dir: &Path) -> Option<PathBuf> {
    (extra_str(&rec.host_config, "IpcMode") == "shareable")
        .then(|| shareable_shm_path(container_dir))
}

/// A shareable container's /dev/shm: a tmpfs of `size` bytes with the flags and mode Docker
/// gives /dev/shm, mounted before the container starts.
pub(super) fn mount_shareable_shm(path: &Path, size: u64) -> Result<()> {
    use nix::mount::MsFlags;
    std::fs::create_dir_all(path)
        .map_err(|e| DaemonError::system(&format!("creating {}", path.display()), e))?;
    nix::mount::mount(
        Some("shm"),
        path,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(format!("mode=1777,size={size}").as_str()),
    )
    .map_err(|e| DaemonError::system(&format!("mounting /dev/shm at {}", path.display()), e))
}

/// Unmount a shareable /dev/shm; nothing to do where there is none. Containers that joined it
/// keep their own binds, and with them the tmpfs, until they stop too.
pub(super) fn unmount_shareable_shm(path: &Path) -> bool {
    nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH).is_ok()
}

/// What start tells the shim of the container's namespaces and /dev/shm.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Sharing {
    pub namespaces: Namespaces,
    pub shm: Shm,
    /// The tmpfs to mount on the host before the start (a shareable container's own).
    pub mount_shm: Option<PathBuf>,
}

/// How many `container:` links a chain may have (x joins y, which joins z...).
const MAX_CHAIN: usize = 16;

impl Daemon {
    /// At create: the modes recorded as Docker records them ([`settle`]).
    pub(super) fn settle_namespace_modes(&self, hc: &mut HostConfig) -> Result<()> {
        let default = default_cgroupns(
            self.cgroups.version(),
            self.config.default_cgroupns,
            hc.privileged,
        );
        settle(hc, default, |x| Ok(self.lookup(x)?.id.clone()))
    }

    /// At start, before anything is acquired: the namespaces the container owns, the host's it
    /// takes, and those of the containers it joins, which must be running.
    pub(super) fn sharing_for(&self, rec: &Record, container_dir: &Path) -> Result<Sharing> {
        let m = modes(&rec.host_config)?;
        let pid = match &m.pid {
            PidMode::Private => Namespace::Private,
            PidMode::Host => Namespace::Host,
            PidMode::Container(x) => {
                let other = self.lookup(x).map_err(|e| {
                    DaemonError::NotFound(format!(
                        "cannot join PID of a non running container: {x}: {e}"
                    ))
                })?;
                let o = other.snapshot();
                if !o.state.running || o.state.pid <= 0 {
                    return Err(not_running(&o.id));
                }
                Namespace::Join(format!("/proc/{}/ns/pid", o.state.pid).into())
            }
        };
        let (ipc, shm, mount_shm) = match &m.ipc {
            IpcMode::Private => (Namespace::Private, Shm::Private, None),
            IpcMode::None => (Namespace::Private, Shm::None, None),
            IpcMode::Host => {
                if !Path::new("/dev/shm").is_dir() {
                    return Err(DaemonError::System(
                        "/dev/shm is not mounted, but must be for --ipc=host".into(),
                    ));
                }
                (Namespace::Host, Shm::Bind("/dev/shm".into()), None)
            }
            IpcMode::Shareable => {
                let path = shareable_shm_path(container_dir);
                (Namespace::Private, Shm::Bind(path.clone()), Some(path))
            }
            IpcMode::Container(x) => {
                let (pid, shm) = self.ipc_owner(x)?;
                (
                    Namespace::Join(format!("/proc/{pid}/ns/ipc").into()),
                    Shm::Bind(shm),
                    None,
                )
            }
        };
        let own_or_host = |host: bool| {
            if host {
                OwnOrHost::Host
            } else {
                OwnOrHost::Private
            }
        };
        Ok(Sharing {
            namespaces: Namespaces {
                pid,
                ipc,
                uts: own_or_host(m.uts == UtsMode::Host),
                // "" is a record older than the field: berth always gave those their own.
                cgroup: own_or_host(m.cgroupns == Some(CgroupnsMode::Host)),
            },
            shm,
            mount_shm,
        })
    }

    /// The container whose IPC namespace `--ipc container:<x>` joins: its init's pid and the
    /// host directory of its /dev/shm, in Docker's words when it has none to share.
    fn ipc_owner(&self, x: &str) -> Result<(i64, PathBuf)> {
        let cannot = |why: String| format!("can't join IPC of container {x}: {why}");
        let owner = self
            .lookup(x)
            .map_err(|e| DaemonError::NotFound(cannot(e.to_string())))?;
        let rec = owner.snapshot();
        if !rec.state.running || rec.state.pid <= 0 {
            return Err(DaemonError::Conflict(cannot(
                not_running(&rec.id).to_string(),
            )));
        }
        // Its /dev/shm: its own shareable one, the host's, or the one it joined in turn.
        let (mut hc, mut dir) = (rec.host_config.clone(), owner.dir.clone());
        for _ in 0..MAX_CHAIN {
            match IpcMode::parse(extra_str(&hc, "IpcMode")) {
                Ok(IpcMode::Shareable) => return Ok((rec.state.pid, shareable_shm_path(&dir))),
                Ok(IpcMode::Host) => return Ok((rec.state.pid, "/dev/shm".into())),
                Ok(IpcMode::Container(next)) => {
                    let c = self
                        .lookup(&next)
                        .map_err(|e| DaemonError::NotFound(cannot(e.to_string())))?;
                    hc = c.snapshot().host_config;
                    dir = c.dir.clone();
                }
                _ => break,
            }
        }
        Err(DaemonError::Conflict(cannot(
            "non-shareable IPC (hint: use IpcMode:shareable for the donor container)".into(),
        )))
    }
}

fn not_running(id: &str) -> DaemonError {
    DaemonError::Conflict(format!("container {id} is not running"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    fn hc(fields: serde_json::Value) -> HostConfig {
        serde_json::from_value(fields).unwrap()
    }

    fn cfg(hostname: &str, domainname: &str) -> ContainerConfig {
        ContainerConfig {
            hostname: hostname.into(),
            domainname: domainname.into(),
            ..Default::default()
        }
    }

    #[rstest]
    #[case::nothing(json!({}), cfg("", ""), Ok(()))]
    #[case::every_mode(
        json!({"PidMode": "host", "IpcMode": "shareable", "UTSMode": "host", "CgroupnsMode": "private"}),
        cfg("", ""),
        Ok(())
    )]
    #[case::bad_pid(json!({"PidMode": "private"}), cfg("", ""), Err("invalid PID mode: private"))]
    #[case::empty_container(json!({"PidMode": "container:"}), cfg("", ""), Err("invalid PID mode: container:"))]
    #[case::bad_ipc(json!({"IpcMode": "bogus"}), cfg("", ""), Err("invalid IPC mode: bogus"))]
    #[case::bad_uts(json!({"UTSMode": "container:x"}), cfg("", ""), Err("invalid UTS mode: container:x"))]
    #[case::bad_cgroupns(json!({"CgroupnsMode": "invalid"}), cfg("", ""), Err("invalid cgroup namespace mode: invalid"))]
    #[case::uts_host_and_hostname(json!({"UTSMode": "host"}), cfg("box", ""), Err("conflicting options: hostname and the UTS mode"))]
    #[case::uts_host_and_domainname(json!({"UTSMode": "host"}), cfg("", "example.org"), Err("conflicting options: domainname and the UTS mode"))]
    #[case::hostname_of_its_own(json!({"UTSMode": ""}), cfg("box", "example.org"), Ok(()))]
    fn create_checks_the_modes_in_dockers_words(
        #[case] fields: serde_json::Value,
        #[case] config: ContainerConfig,
        #[case] want: std::result::Result<(), &str>,
    ) {
        let got = check(&config, &hc(fields)).map_err(|e| e.to_string());
        assert_eq!(got, want.map_err(String::from));
    }

    fn settled(fields: serde_json::Value, version: CgroupVersion) -> Result<serde_json::Value> {
        let mut h = hc(fields);
        let default = default_cgroupns(version, None, h.privileged);
        settle(&mut h, default, |x| match x {
            "web" | "c0ffee" => Ok("c0ffee".repeat(10) + "c0ff"),
            other => Err(DaemonError::no_such_container(other)),
        })?;
        Ok(json!({
            "PidMode": h.extra["PidMode"],
            "IpcMode": h.extra["IpcMode"],
            "UTSMode": h.extra["UTSMode"],
            "CgroupnsMode": h.extra["CgroupnsMode"],
        }))
    }

    #[test]
    fn create_records_the_defaults_docker_reads_back() {
        let v1 = settled(json!({}), CgroupVersion::V1).unwrap();
        assert_eq!(
            v1,
            json!({"PidMode": "", "IpcMode": "private", "UTSMode": "", "CgroupnsMode": "host"})
        );
        let v2 = settled(json!({"IpcMode": ""}), CgroupVersion::V2).unwrap();
        assert_eq!(v2["CgroupnsMode"], "private");
        let asked = settled(
            json!({"PidMode": "host", "IpcMode": "none", "UTSMode": "host", "CgroupnsMode": "private"}),
            CgroupVersion::V1,
        )
        .unwrap();
        assert_eq!(
            asked,
            json!({"PidMode": "host", "IpcMode": "none", "UTSMode": "host", "CgroupnsMode": "private"})
        );
    }

    #[rstest]
    #[case::v2(CgroupVersion::V2, None, false, CgroupnsMode::Private)]
    #[case::v1(CgroupVersion::V1, None, false, CgroupnsMode::Host)]
    #[case::v1_configured_private(
        CgroupVersion::V1,
        Some(CgroupnsMode::Private),
        false,
        CgroupnsMode::Private
    )]
    #[case::v1_privileged(
        CgroupVersion::V1,
        Some(CgroupnsMode::Private),
        true,
        CgroupnsMode::Host
    )]
    #[case::v2_privileged(CgroupVersion::V2, None, true, CgroupnsMode::Private)]
    #[case::v2_configured_host(
        CgroupVersion::V2,
        Some(CgroupnsMode::Host),
        false,
        CgroupnsMode::Host
    )]
    fn the_default_cgroup_namespace_is_dockers(
        #[case] version: CgroupVersion,
        #[case] configured: Option<CgroupnsMode>,
        #[case] privileged: bool,
        #[case] want: CgroupnsMode,
    ) {
        assert_eq!(default_cgroupns(version, configured, privileged), want);
    }

    #[test]
    fn a_container_to_join_is_recorded_by_its_id_and_must_exist() {
        let id = "c0ffee".repeat(10) + "c0ff";
        let joined = settled(
            json!({"PidMode": "container:web", "IpcMode": "container:web"}),
            CgroupVersion::V2,
        )
        .unwrap();
        assert_eq!(joined["PidMode"], format!("container:{id}"));
        assert_eq!(joined["IpcMode"], format!("container:{id}"));
        for field in ["PidMode", "IpcMode"] {
            let err = settled(json!({ field: "container:nosuch" }), CgroupVersion::V2).unwrap_err();
            assert_eq!(err.to_string(), "No such container: nosuch");
            assert!(matches!(err, DaemonError::NotFound(_)));
        }
    }
}
