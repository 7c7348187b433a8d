//! A container's mounts, from create to teardown (chapter 06). At create, what the client
//! asked for (`--volumes-from`, then `-v`, then `--mount`, then the anonymous volumes of
//! `Config.Volumes` and the image's `VOLUME`s where nothing else is mounted) becomes the
//! record's mount points, making the volumes they name, and an empty new volume gets the
//! image's content (copy-up). At start they become the runtime's mount list, parent before
//! child; a volume mounted from a device is mounted for its first running user and
//! unmounted after its last.

use super::container::Record;
use super::error::{DaemonError, Result};
use super::Daemon;
use crate::runtime::spec::{Mount, MountKind};
use crate::volume::spec::{self, MountPoint};
use crate::volume::store::{device_opts, CreateOptions, VolumeError};
use crate::wire::types::{ContainerConfig, HostConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

impl From<VolumeError> for DaemonError {
    fn from(e: VolumeError) -> Self {
        match e {
            VolumeError::NotFound(_) | VolumeError::NoDriver { .. } => {
                DaemonError::NotFound(e.to_string())
            }
            VolumeError::Invalid(_) => DaemonError::InvalidParameter(e.to_string()),
            VolumeError::Io { .. } => DaemonError::System(e.to_string()),
        }
    }
}

fn duplicate(dst: &str) -> DaemonError {
    DaemonError::InvalidParameter(format!("Duplicate mount point: {dst}"))
}

/// The mount points a create plans, and the volumes it made for them (taken away again if
/// the create fails).
pub(super) struct Planned {
    pub mounts: Vec<MountPoint>,
    pub made: Vec<String>,
}

impl Daemon {
    /// Plan a new container's mounts and make its volumes. The caller holds `volume_lock`
    /// until the container's record (which names them) is in the map.
    pub(super) fn plan_mounts(&self, cfg: &ContainerConfig, hc: &HostConfig) -> Result<Planned> {
        let mut planned = Planned {
            mounts: Vec::new(),
            made: Vec::new(),
        };
        match self.plan_into(cfg, hc, &mut planned) {
            Ok(()) => Ok(planned),
            Err(e) => {
                self.forget_volumes(&planned.made);
                Err(e)
            }
        }
    }

    fn plan_into(&self, cfg: &ContainerConfig, hc: &HostConfig, p: &mut Planned) -> Result<()> {
        let tmpfs = hc.tmpfs.clone().unwrap_or_default();
        let tmpfs_targets: Vec<String> = tmpfs.keys().map(|k| spec::clean(k)).collect();
        for (dst, opts) in &tmpfs {
            spec::parse_tmpfs(dst, opts).map_err(DaemonError::InvalidParameter)?;
        }
        // Later sources replace earlier ones at the same destination; -v and --mount
        // naming one twice is the user's mistake.
        let put = |mounts: &mut Vec<MountPoint>, m: MountPoint| {
            mounts.retain(|o| o.destination != m.destination);
            mounts.push(m);
        };
        for from in hc.volumes_from.iter().flatten() {
            let (id, mode) =
                spec::parse_volumes_from(from).map_err(DaemonError::InvalidParameter)?;
            let other = self
                .lookup(&id)
                .map_err(|e| DaemonError::InvalidParameter(e.to_string()))?;
            for m in other.snapshot().mount_points {
                let mut m = m.clone();
                m.rw = m.rw && spec::mode_is_rw(&mode);
                m.copy_data = false;
                put(&mut p.mounts, m);
            }
        }
        let mut explicit: Vec<String> = Vec::new();
        for raw in hc.binds.iter().flatten() {
            let mut m = spec::parse_bind(raw).map_err(DaemonError::InvalidParameter)?;
            if explicit.contains(&m.destination) || tmpfs_targets.contains(&m.destination) {
                return Err(duplicate(&m.destination));
            }
            if m.is_volume() {
                self.volume_for(&mut m, &hc.volume_driver, p)?;
            }
            explicit.push(m.destination.clone());
            put(&mut p.mounts, m);
        }
        for mount in hc.mounts.iter().flatten() {
            let mut m = spec::parse_mount(mount, |s| Path::new(s).exists())
                .map_err(DaemonError::InvalidParameter)?;
            if explicit.contains(&m.destination) || tmpfs_targets.contains(&m.destination) {
                return Err(duplicate(&mount.target));
            }
            if m.is_volume() {
                self.volume_for(&mut m, "", p)?;
            }
            explicit.push(m.destination.clone());
            put(&mut p.mounts, m);
        }
        for dst in cfg.volumes.iter().flat_map(|v| v.keys()) {
            let destination = spec::clean(dst);
            if !dst.starts_with('/') || destination == "/" {
                return Err(DaemonError::InvalidParameter(format!(
                    "invalid volume specification: '{dst}'"
                )));
            }
            if p.mounts.iter().any(|m| m.destination == destination)
                || tmpfs_targets.contains(&destination)
            {
                continue;
            }
            let mut m = MountPoint {
                kind: "volume".into(),
                destination,
                driver: "local".into(),
                rw: true,
                copy_data: true,
                anonymous: true,
                ..Default::default()
            };
            self.volume_for(&mut m, &hc.volume_driver, p)?;
            p.mounts.push(m);
        }
        Ok(())
    }

    /// Make (or find) the volume a mount point names, and point it at its `_data`.
    fn volume_for(&self, m: &mut MountPoint, driver: &str, p: &mut Planned) -> Result<()> {
        let vs = m.volume_spec.clone().unwrap_or_default();
        let (v, made) = self.volumes.create(&CreateOptions {
            name: (!m.name.is_empty()).then(|| m.name.clone()),
            driver: driver.to_string(),
            options: vs.driver_opts,
            labels: vs.labels,
        })?;
        if made {
            p.made.push(v.name.clone());
            self.volume_event(&v.name, "create", &[]);
        }
        m.anonymous = v.labels.contains_key(crate::volume::store::ANONYMOUS_LABEL);
        m.name = v.name;
        m.source = v.mountpoint;
        Ok(())
    }

    /// Take away volumes a failed create made.
    pub(super) fn forget_volumes(&self, names: &[String]) {
        for n in names {
            if let Err(e) = self.volumes.remove(n) {
                tracing::warn!("removing volume {n} after a failed create: {e}");
            }
        }
    }

    /// Copy-up: each empty volume of a new container, mounted over a directory of the
    /// image, gets that directory's content. The rootfs is mounted for the time of it.
    pub(super) async fn copy_up(self: &Arc<Self>, rec: &Record) -> Result<()> {
        // Only an empty volume is copied into (a device-backed one is only there while
        // mounted: it is left alone); without one, the rootfs need not be mounted at all.
        let is_empty = |name: &str| {
            let data = self.volumes.data_path(name);
            std::fs::read_dir(&data).is_ok_and(|mut d| d.next().is_none())
                && !crate::layers::is_mountpoint(&data)
        };
        let wanted: Vec<MountPoint> = rec
            .mount_points
            .iter()
            .filter(|m| m.is_volume() && m.copy_data && is_empty(&m.name))
            .cloned()
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        // One copy-up at a time: two new containers on one new volume must not both fill it.
        let _one = self.copy_up_lock.lock().await;
        let mounted = self.mount_root(&rec.id)?;
        let merged = mounted.root.merged.clone();
        let store_dir = self.volumes.dir().to_path_buf();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let _keep = mounted;
            for m in wanted {
                let src = crate::util::inroot::resolve_in_root(&merged, &m.destination, true)
                    .map_err(|e| DaemonError::system("resolving a volume's path", e))?;
                let Ok(md) = std::fs::metadata(&src) else {
                    continue;
                };
                if !md.is_dir() {
                    if m.anonymous {
                        return Err(DaemonError::InvalidParameter(format!(
                            "cannot mount volume over existing file, file exists {}",
                            src.display()
                        )));
                    }
                    continue;
                }
                let data = store_dir.join(&m.name).join("_data");
                // Another container's copy-up may have filled it meanwhile.
                if std::fs::read_dir(&data).is_ok_and(|mut d| d.next().is_some()) {
                    continue;
                }
                crate::volume::copyup::copy_up(&src, &data).map_err(|e| {
                    DaemonError::System(format!(
                        "copying the image's {} into volume {}: {e}",
                        m.destination, m.name
                    ))
                })?;
            }
            Ok(())
        })
        .await
        .map_err(|e| DaemonError::system("copy-up", e))?
    }

    /// At start: the runtime's mounts for a container, its bind sources made where `-v`
    /// asks, and its device-backed volumes mounted.
    pub(super) fn start_mounts(&self, rec: &Record) -> Result<Vec<Mount>> {
        let mut points = rec.mount_points.clone();
        for (dst, opts) in rec.host_config.tmpfs.iter().flatten() {
            let m = spec::parse_tmpfs(dst, opts).map_err(DaemonError::InvalidParameter)?;
            points.retain(|o| o.destination != m.destination);
            points.push(m);
        }
        spec::sort_for_mounting(&mut points);
        let mut out = Vec::new();
        for m in &points {
            let mount = match m.kind.as_str() {
                "tmpfs" => {
                    let t = m.tmpfs.clone().unwrap_or_default();
                    Mount {
                        destination: m.destination.clone(),
                        kind: MountKind::Tmpfs { data: t.data },
                        readonly: t.readonly,
                        nosuid: t.nosuid,
                        nodev: t.nodev,
                        noexec: t.noexec,
                        propagation: m.propagation(),
                    }
                }
                kind => Mount {
                    destination: m.destination.clone(),
                    kind: MountKind::Bind {
                        source: self.mount_source(rec, m)?,
                        recursive: kind == "volume" || !m.non_recursive,
                    },
                    readonly: !m.rw,
                    nosuid: false,
                    nodev: false,
                    noexec: false,
                    propagation: m.propagation(),
                },
            };
            out.push(mount);
        }
        Ok(out)
    }

    /// The host path a bind or volume mount point binds.
    fn mount_source(&self, rec: &Record, m: &MountPoint) -> Result<PathBuf> {
        if m.is_volume() {
            let v = self.volumes.get(&m.name)?;
            self.use_volume(&rec.id, &v)?;
            let data = PathBuf::from(v.mountpoint);
            let sub = m
                .volume_spec
                .as_ref()
                .map(|s| s.subpath.as_str())
                .unwrap_or("");
            if sub.is_empty() {
                return Ok(data);
            }
            let path = crate::util::inroot::resolve_in_root(&data, sub, true)
                .map_err(|e| DaemonError::system("resolving the volume's subpath", e))?;
            if !path.exists() {
                return Err(DaemonError::InvalidParameter(format!(
                    "cannot access path {}: no such file or directory",
                    path.display()
                )));
            }
            return Ok(path);
        }
        let source = PathBuf::from(&m.source);
        if !source.exists() {
            if !m.create_source {
                return Err(DaemonError::InvalidParameter(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {}",
                    m.source
                )));
            }
            // `-v /host/path:/dst` makes a missing host directory, as Docker does.
            std::fs::create_dir_all(&source).map_err(|e| {
                DaemonError::system(&format!("creating the bind source {}", m.source), e)
            })?;
        }
        Ok(source)
    }

    /// A running container starts using a volume: a device-backed one is mounted for its
    /// first user.
    fn use_volume(&self, id: &str, v: &crate::wire::volume::Volume) -> Result<()> {
        let Some(opts) = device_opts(v)? else {
            return Ok(());
        };
        let mut users = self.volume_users.lock().unwrap();
        let set = users.entry(v.name.clone()).or_default();
        if set.is_empty() {
            self.volumes.mount(&v.name, &opts)?;
            self.volume_event(&v.name, "mount", &[("container", id.to_string())]);
        }
        set.insert(id.to_string());
        Ok(())
    }

    /// A container stopped (or failed to start): the volumes it held that are mounted from a
    /// device and have no other running user are unmounted.
    pub(super) fn release_volumes(&self, id: &str) {
        let mut users = self.volume_users.lock().unwrap();
        let mut idle = Vec::new();
        for (name, set) in users.iter_mut() {
            if set.remove(id) && set.is_empty() {
                idle.push(name.clone());
            }
        }
        for name in idle {
            users.remove(&name);
            match self.volumes.unmount(&name) {
                Ok(()) => self.volume_event(&name, "unmount", &[("container", id.to_string())]),
                Err(e) => tracing::warn!("container {id}: {e}"),
            }
        }
    }

    /// After a restart: the running containers' device-backed volumes are theirs again, and
    /// one mounted for nobody (its container died with the old daemon) is unmounted.
    pub(super) fn restore_volume_users(&self) -> Vec<String> {
        let mut users = self.volume_users.lock().unwrap();
        for c in self.all_containers() {
            let rec = c.snapshot();
            if !rec.state.running {
                continue;
            }
            for m in rec.mount_points.iter().filter(|m| m.is_volume()) {
                let device = self.volumes.get(&m.name).ok().map(|v| device_opts(&v));
                if matches!(device, Some(Ok(Some(_)))) {
                    users
                        .entry(m.name.clone())
                        .or_default()
                        .insert(rec.id.clone());
                }
            }
        }
        let mut swept = Vec::new();
        for v in self.volumes.list() {
            let data = self.volumes.data_path(&v.name);
            if !users.contains_key(&v.name) && crate::layers::is_mountpoint(&data) {
                match self.volumes.unmount(&v.name) {
                    Ok(()) => swept.push(format!("mount of volume {}", v.name)),
                    Err(e) => tracing::warn!("sweep: {e}"),
                }
            }
        }
        swept
    }

    pub(super) fn volume_event(&self, name: &str, action: &str, extra: &[(&str, String)]) {
        let mut attrs = std::collections::BTreeMap::new();
        attrs.insert("driver".to_string(), "local".to_string());
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        self.events
            .emit(super::events::Event::new("volume", action, name, attrs));
    }
}
