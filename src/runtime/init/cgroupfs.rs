//! /sys/fs/cgroup inside the container: a fresh cgroup mount in a private cgroup namespace,
//! or, in the host's one, binds of the container's own cgroup directories (found in
//! /proc/self/cgroup), so a container never sees the host's whole tree.

use super::{bind_with, mnt, InitError};
use crate::runtime::kernel::{HostCgroups, Kernel, PathKind};
use nix::mount::MsFlags;
use std::path::{Path, PathBuf};

/// /sys/fs/cgroup inside the container, read-only, as Docker gives it: the cgroup2 tree, or a
/// tmpfs holding each v1 hierarchy the host has, each showing the container's own cgroup as
/// its root. In its own cgroup namespace (`private_ns`) a fresh cgroup mount does that by
/// itself; in the host's one it would show the host's whole tree, so the directory of the
/// container's cgroup in each hierarchy is bound there instead, as runc does.
pub(crate) fn mount_cgroups(
    k: &dyn Kernel,
    target: &Path,
    private_ns: bool,
) -> Result<(), InitError> {
    let ro = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY;
    let layout = k
        .host_cgroups()
        .map_err(|e| InitError::setup("inspecting /sys/fs/cgroup", e))?;
    let own = if private_ns {
        Vec::new()
    } else {
        let text = k
            .own_cgroups()
            .map_err(|e| InitError::setup("reading /proc/self/cgroup", e))?;
        own_cgroup_dirs(&layout, &text)
    };
    // A read-only bind of the container's directory. A hierarchy where it has no directory of its own stays empty.
    let bind_own = |name: Option<&str>, dir: &Path| -> Result<(), InitError> {
        let Some((_, source)) = own.iter().find(|(n, _)| n.as_deref() == name) else {
            return Ok(());
        };
        if k.path_kind(source, true) != Some(PathKind::Directory) {
            return Ok(());
        }
        bind_with(k, source, dir, ro)
    };
    match layout {
        HostCgroups::V2 if private_ns => mnt(k, Some("cgroup2"), target, Some("cgroup2"), ro, None),
        HostCgroups::V2 => bind_own(None, target),
        HostCgroups::V1(hierarchies) => {
            mnt(
                k,
                Some("tmpfs"),
                target,
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                Some("mode=755"),
            )?;
            for (name, opts) in hierarchies {
                let dir = target.join(&name);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| InitError::setup(&format!("creating {}", dir.display()), e))?;
                if private_ns {
                    mnt(k, Some("cgroup"), &dir, Some("cgroup"), ro, Some(&opts))?;
                } else {
                    bind_own(Some(&name), &dir)?;
                }
            }
            mnt(
                k,
                None,
                target,
                None,
                MsFlags::MS_REMOUNT | ro,
                Some("mode=755"),
            )
        }
    }
}

/// Where the cgroup this process is in lies on the host, per hierarchy, from
/// `/proc/self/cgroup` (`own`, read in the host's cgroup namespace): the v2 directory (named
/// None), or for each v1 hierarchy (named by its directory) the line whose controllers are
/// among its mount options.
pub fn own_cgroup_dirs(layout: &HostCgroups, own: &str) -> Vec<(Option<String>, PathBuf)> {
    let root = Path::new(crate::cgroups::DEFAULT_ROOT);
    let lines: Vec<(&str, &str)> = own
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let _id = f.next()?;
            Some((f.next()?, f.next()?))
        })
        .collect();
    let under = |base: PathBuf, path: &str| match path.trim_matches('/') {
        "" => base,
        rel => base.join(rel),
    };
    match layout {
        HostCgroups::V2 => lines
            .iter()
            .find(|(controllers, _)| controllers.is_empty())
            .map(|(_, path)| (None, under(root.to_path_buf(), path)))
            .into_iter()
            .collect(),
        HostCgroups::V1(hierarchies) => hierarchies
            .iter()
            .filter_map(|(name, opts)| {
                let opts: Vec<&str> = opts.split(',').collect();
                let (_, path) = lines.iter().find(|(controllers, _)| {
                    !controllers.is_empty() && controllers.split(',').all(|c| opts.contains(&c))
                })?;
                Some((Some(name.clone()), under(root.join(name), path)))
            })
            .collect(),
    }
}
