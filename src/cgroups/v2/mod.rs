//! cgroup v2: one unified tree, so a container's cgroup is a single directory holding every
//! controller's files. A controller is usable in a cgroup only if every ancestor lists it in
//! `cgroup.subtree_control`, so berth enables what the root offers at every level on the way
//! down to its parent (processes live only in the leaves, the containers' own cgroups).

mod cpu;
mod cpuset;
pub mod devices;
mod freezer;
mod io;
mod memory;
mod pids;

use super::backend::{self, Backend};
use super::resources::{Knob, Resources};
use super::stats::Stats;
use super::{io_ctx, CgroupError, CgroupVersion};
use std::path::{Path, PathBuf};

/// The v2 plan, controller by controller, in the order the knobs are written.
pub(crate) fn plan(r: &Resources) -> Vec<Knob> {
    let mut k = Vec::new();
    memory::plan(r, &mut k);
    cpu::plan(r, &mut k);
    cpuset::plan(r, &mut k);
    pids::plan(r, &mut k);
    k
}

#[derive(Debug)]
pub(crate) struct V2 {
    root: PathBuf,
}

impl V2 {
    pub(crate) fn new(root: &Path) -> V2 {
        V2 {
            root: root.to_path_buf(),
        }
    }
}

fn enable_controllers(dir: &Path) {
    let available = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    for c in available.split_whitespace() {
        // Best effort: a controller that cannot be delegated here (e.g. held by v1 on a
        // hybrid host) is simply not available to containers.
        let _ = std::fs::write(dir.join("cgroup.subtree_control"), format!("+{c}"));
    }
}

impl Backend for V2 {
    fn version(&self) -> CgroupVersion {
        CgroupVersion::V2
    }

    fn dirs(&self, name: &Path) -> Vec<PathBuf> {
        vec![self.root.join(name)]
    }

    fn dir_for<'a>(&self, paths: &'a [PathBuf], _controller: &str) -> Option<&'a PathBuf> {
        paths.first()
    }

    fn create(&self, paths: &[PathBuf]) -> Result<(), CgroupError> {
        for path in paths {
            let parent_dir = path.parent().unwrap_or(&self.root);
            std::fs::create_dir_all(parent_dir)
                .map_err(io_ctx(format!("creating {}", parent_dir.display())))?;
            // Every level from the root down to the parent (`--cgroup-parent a/b` has two):
            // a level offers only what the level above enabled for its children.
            let mut dir = self.root.clone();
            enable_controllers(&dir);
            for level in parent_dir.strip_prefix(&self.root).unwrap_or(Path::new("")) {
                dir.push(level);
                enable_controllers(&dir);
            }
            std::fs::create_dir_all(path)
                .map_err(io_ctx(format!("creating {}", path.display())))?;
        }
        Ok(())
    }

    fn apply(&self, paths: &[PathBuf], r: &Resources) -> Result<(), CgroupError> {
        backend::write_plan(plan(r), |_| paths.first())
    }

    fn restrict_devices(&self, paths: &[PathBuf]) -> Result<(), CgroupError> {
        let Some(dir) = paths.first() else {
            return Ok(());
        };
        devices::attach(dir, &super::devices::default_rules()).map_err(io_ctx(format!(
            "restricting the devices of {}",
            dir.display()
        )))
    }

    fn set_device_rules(
        &self,
        paths: &[PathBuf],
        rules: &[(bool, crate::cgroups::devices::Rule)],
    ) -> Result<(), CgroupError> {
        let Some(dir) = paths.first() else {
            return Ok(());
        };
        // v2 has no rule files: the program allows a list and denies the rest. The rules,
        // played in order, leave that list (a `deny a` empties it, an `allow a` means none).
        let mut allowed: Vec<crate::cgroups::devices::Rule> = Vec::new();
        let mut everything = false;
        for (allow, r) in rules {
            match (allow, r.kind) {
                (true, 'a') => everything = true,
                (false, 'a') => {
                    everything = false;
                    allowed.clear();
                }
                (true, _) => allowed.push(r.clone()),
                (false, _) => allowed.retain(|a| a != r),
            }
        }
        if everything {
            return Ok(());
        }
        devices::attach(dir, &allowed).map_err(io_ctx(format!(
            "restricting the devices of {}",
            dir.display()
        )))
    }

    fn freeze(&self, paths: &[PathBuf], frozen: bool) -> Result<(), CgroupError> {
        freezer::set(paths, frozen)
    }

    fn stats(&self, paths: &[PathBuf]) -> Stats {
        let Some(d) = paths.first() else {
            return Stats::default();
        };
        Stats {
            cpu: cpu::stats(d),
            memory: memory::stats(d),
            pids: pids::stats(d),
            io: io::stats(d),
        }
    }

    fn oom_killed(&self, paths: &[PathBuf]) -> bool {
        paths.first().is_some_and(|d| memory::oom_killed(d))
    }
}
