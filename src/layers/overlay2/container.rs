//! A container's two layers (`<mount id>-init` and `<mount id>`), their record under
//! `layerdb/mounts/<container id>/`, and the overlay mount at `<mount id>/merged`.

use super::{io_ctx, LayerError, LayerStore};
use crate::layers::mount::{
    is_mountpoint, mount_from, mount_fsconfig, page_size, plan_overlay, OverlayMount, LINK_LEN,
};
use crate::util::fsutil::write_atomic;
use std::fs;
use std::io;
use std::path::PathBuf;

impl LayerStore {
    /// The `-init` layer (the files Docker always puts in a container) and the read-write
    /// layer above it.
    pub fn create_container_layers(
        &self,
        container_id: &str,
        image_top: Option<&str>,
    ) -> Result<(), LayerError> {
        if self.mounts.join(container_id).exists() {
            return Err(LayerError::MountExists(container_id.to_string()));
        }
        let mount_id = crate::util::id::random_id();
        let init_id = format!("{mount_id}-init");
        let lower = match image_top {
            Some(top) => Some(self.lower_above(&self.cache_of(top)?)),
            None => None,
        };
        self.check_depth(&mount_id, lower.as_deref())?;
        let result = (|| {
            let init = self.new_layer_dir(&init_id, lower.as_deref())?.join("diff");
            for d in ["dev/pts", "dev/shm", "proc", "sys", "etc"] {
                fs::create_dir_all(init.join(d)).map_err(io_ctx("filling the init layer"))?;
            }
            for f in [
                "etc/hosts",
                "etc/hostname",
                "etc/resolv.conf",
                ".dockerenv",
                "dev/console",
            ] {
                fs::write(init.join(f), b"").map_err(io_ctx("filling the init layer"))?;
            }
            // Docker's init layer also points /etc/mtab at the kernel's table.
            std::os::unix::fs::symlink("/proc/mounts", init.join("etc/mtab"))
                .map_err(io_ctx("filling the init layer"))?;
            self.new_layer_dir(&mount_id, Some(&self.lower_above(&init_id)))?;
            // The record appears whole or not at all: written aside, then renamed in.
            let tmp = self.mounts.join(format!(".{container_id}.tmp"));
            let _ = fs::remove_dir_all(&tmp);
            fs::create_dir_all(&tmp).map_err(io_ctx("recording the container's layers"))?;
            write_atomic(&tmp.join("init-id"), init_id.as_bytes())
                .map_err(io_ctx("writing init-id"))?;
            write_atomic(&tmp.join("mount-id"), mount_id.as_bytes())
                .map_err(io_ctx("writing mount-id"))?;
            if let Some(top) = image_top {
                write_atomic(&tmp.join("parent"), top.as_bytes())
                    .map_err(io_ctx("writing parent"))?;
            }
            fs::rename(&tmp, self.mounts.join(container_id))
                .map_err(io_ctx("recording the container's layers"))?;
            Ok(())
        })();
        if result.is_err() {
            self.remove_layer_dir(&mount_id);
            self.remove_layer_dir(&init_id);
            let _ = fs::remove_dir_all(self.mounts.join(format!(".{container_id}.tmp")));
        }
        result
    }

    /// Refuse, before anything is written, a chain this kernel cannot mount: the plan of the
    /// mount to come, with a link of the same length standing for the `-init` layer's.
    fn check_depth(&self, mount_id: &str, image_lower: Option<&str>) -> Result<(), LayerError> {
        let init_link = format!("l/{}", "X".repeat(LINK_LEN));
        let lower = match image_lower {
            Some(l) => format!("{init_link}:{l}"),
            None => init_link,
        };
        plan_overlay(
            &self.overlay,
            mount_id,
            &lower,
            page_size(),
            self.mount_api(),
        )
        .map(|_| ())
        .map_err(|reason| LayerError::TooDeep {
            layers: image_lower.map_or(0, |l| l.split(':').filter(|x| !x.is_empty()).count()),
            reason,
        })
    }

    fn mount_id(&self, container_id: &str) -> Result<String, LayerError> {
        Self::read_meta(&self.mounts.join(container_id), "mount-id")
            .ok_or_else(|| LayerError::NoSuchMount(container_id.to_string()))
    }

    pub fn merged_dir(&self, container_id: &str) -> Result<PathBuf, LayerError> {
        Ok(self
            .overlay
            .join(self.mount_id(container_id)?)
            .join("merged"))
    }

    pub fn upper_dir(&self, container_id: &str) -> Result<PathBuf, LayerError> {
        Ok(self.overlay.join(self.mount_id(container_id)?).join("diff"))
    }

    /// The container's lower layers, top first: its `-init` layer, then the image's.
    pub fn lower_dirs(&self, container_id: &str) -> Result<Vec<PathBuf>, LayerError> {
        let mount = self.overlay.join(self.mount_id(container_id)?);
        let lower = Self::read_meta(&mount, "lower").unwrap_or_default();
        Ok(lower
            .split(':')
            .filter(|l| !l.is_empty())
            .map(|l| self.overlay.join(l))
            .collect())
    }

    /// The chain id of the image layer a container stands on.
    pub fn container_parent(&self, container_id: &str) -> Option<String> {
        Self::read_meta(&self.mounts.join(container_id), "parent")
    }

    pub fn is_mounted(&self, container_id: &str) -> bool {
        match self.merged_dir(container_id) {
            Ok(m) => is_mountpoint(&m),
            Err(_) => false,
        }
    }

    /// Mount the container's overlay at `overlay2/<mount id>/merged` (idempotent).
    /// Where the kernel has `lowerdir+`, each lower dir is one fsconfig call and the page limit
    /// is gone. Otherwise, as Docker does, mount(2) with the lower dirs named by absolute
    /// paths through the short links while they fit in a page; past that, relative paths, with
    /// the mount made from a child process whose working directory is `overlay2/` (the
    /// daemon's own cwd must not change: it has other threads).
    pub fn mount(&self, container_id: &str) -> Result<PathBuf, LayerError> {
        let mount_id = self.mount_id(container_id)?;
        let dir = self.overlay.join(&mount_id);
        let merged = dir.join("merged");
        if is_mountpoint(&merged) {
            return Ok(merged);
        }
        fs::create_dir_all(&merged).map_err(io_ctx("creating merged dir"))?;
        let lower = Self::read_meta(&dir, "lower").unwrap_or_default();
        let plan = plan_overlay(
            &self.overlay,
            &mount_id,
            &lower,
            page_size(),
            self.mount_api(),
        )
        .map_err(|reason| LayerError::TooDeep {
            // The container's own -init layer is one of the lowers.
            layers: lower
                .split(':')
                .filter(|l| !l.is_empty())
                .count()
                .saturating_sub(1),
            reason,
        })?;
        let id = container_id.to_string();
        match plan {
            OverlayMount::Fsconfig { options, target } => mount_fsconfig(&options, &target)
                .map_err(|f| LayerError::MountOption {
                    id,
                    option: f.option,
                    source: f.errno,
                    kernel: f.kernel,
                })?,
            OverlayMount::Options(plan) => {
                let result = if plan.relative {
                    mount_from(&self.overlay, &plan.target, &plan.data)
                } else {
                    nix::mount::mount(
                        Some("overlay"),
                        &plan.target,
                        Some("overlay"),
                        nix::mount::MsFlags::empty(),
                        Some(plan.data.as_str()),
                    )
                };
                result.map_err(|source| LayerError::Mount { id, source })?;
            }
        }
        Ok(merged)
    }

    pub fn unmount(&self, container_id: &str) -> Result<(), LayerError> {
        let Ok(merged) = self.merged_dir(container_id) else {
            return Ok(());
        };
        if is_mountpoint(&merged) {
            nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH).map_err(|source| {
                LayerError::Mount {
                    id: container_id.to_string(),
                    source,
                }
            })?;
        }
        let _ = fs::remove_dir(&merged);
        Ok(())
    }

    /// The containers that have layers here (one mount record each), for a crash sweep.
    pub fn container_ids(&self) -> Vec<String> {
        fs::read_dir(&self.mounts)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect()
    }

    /// Unmount and delete the container's two layers (idempotent).
    pub fn remove_container_layers(&self, container_id: &str) -> Result<(), LayerError> {
        self.remove_container_layers_when(container_id, false)
    }

    /// `remove_container_layers` for `rm`, which need not wait for the disk: the record and
    /// links go now, the two directories' contents in the background.
    pub fn remove_container_layers_later(&self, container_id: &str) -> Result<(), LayerError> {
        self.remove_container_layers_when(container_id, true)
    }

    fn remove_container_layers_when(
        &self,
        container_id: &str,
        later: bool,
    ) -> Result<(), LayerError> {
        self.unmount(container_id)?;
        let m = self.mounts.join(container_id);
        if let Some(id) = Self::read_meta(&m, "mount-id") {
            self.remove_layer_dir_when(&id, later);
        }
        if let Some(id) = Self::read_meta(&m, "init-id") {
            self.remove_layer_dir_when(&id, later);
        }
        match fs::remove_dir_all(&m) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(io_ctx("removing the mount record")(e))
            }
            _ => Ok(()),
        }
    }
}
