//! cgroup v1: each controller is its own hierarchy under the root, so a container's cgroup is
//! one directory in each, and each knob goes to its controller's directory. Each controller's
//! file knows its knobs (its part of the plan), its statistics and any setup it needs.

mod blkio;
mod cpu;
mod cpuacct;
mod cpuset;
mod devices;
mod freezer;
mod memory;
mod pids;

use super::backend::{self, Backend};
use super::resources::{Knob, Resources};
use super::stats::Stats;
use super::{io_ctx, CgroupError, CgroupVersion};
use std::path::{Component, Path, PathBuf};

/// The hierarchies berth uses, where they are mounted.
pub const CONTROLLERS: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer", "blkio",
];

/// The v1 plan, controller by controller, in the order the knobs are written.
pub(crate) fn plan(r: &Resources) -> Vec<Knob> {
    let mut k = Vec::new();
    memory::plan(r, &mut k);
    cpu::plan(r, &mut k);
    cpuset::plan(r, &mut k);
    pids::plan(r, &mut k);
    k
}

#[derive(Debug)]
pub(crate) struct V1 {
    root: PathBuf,
}

impl V1 {
    pub(crate) fn new(root: &Path) -> V1 {
        V1 {
            root: root.to_path_buf(),
        }
    }

    /// The controllers' hierarchies that are mounted (have a root `cgroup.procs`).
    fn hierarchies(&self) -> Vec<PathBuf> {
        CONTROLLERS
            .iter()
            .map(|c| self.root.join(c))
            .filter(|p| p.join("cgroup.procs").exists())
            .collect()
    }
}

impl Backend for V1 {
    fn version(&self) -> CgroupVersion {
        CgroupVersion::V1
    }

    fn dirs(&self, name: &Path) -> Vec<PathBuf> {
        self.hierarchies()
            .into_iter()
            .map(|h| h.join(name))
            .collect()
    }

    fn dir_for<'a>(&self, paths: &'a [PathBuf], controller: &str) -> Option<&'a PathBuf> {
        paths.iter().find(|p| {
            p.strip_prefix(&self.root)
                .ok()
                .and_then(|rel| rel.components().next())
                == Some(Component::Normal(controller.as_ref()))
        })
    }

    fn create(&self, paths: &[PathBuf]) -> Result<(), CgroupError> {
        let cpuset_root = self.root.join(cpuset::NAME);
        for p in paths {
            std::fs::create_dir_all(p).map_err(io_ctx(format!("creating {}", p.display())))?;
            if p.starts_with(&cpuset_root) {
                cpuset::copy_down(&cpuset_root, p)?;
            }
        }
        Ok(())
    }

    fn apply(&self, paths: &[PathBuf], r: &Resources) -> Result<(), CgroupError> {
        let no_swap = memory::swap_accounting_off(self.dir_for(paths, memory::NAME));
        let knobs = plan(r)
            .into_iter()
            .filter(|k| !(no_swap && k.file == memory::MEMSW_LIMIT));
        backend::write_plan(knobs, |c| self.dir_for(paths, c))
    }

    fn restrict_devices(&self, paths: &[PathBuf]) -> Result<(), CgroupError> {
        match self.dir_for(paths, devices::NAME) {
            Some(dir) => devices::restrict(dir),
            None => Ok(()),
        }
    }

    fn set_device_rules(
        &self,
        paths: &[PathBuf],
        rules: &[(bool, crate::cgroups::devices::Rule)],
    ) -> Result<(), CgroupError> {
        match self.dir_for(paths, devices::NAME) {
            Some(dir) => devices::write_rules(dir, rules),
            None => Ok(()),
        }
    }

    fn freeze(&self, paths: &[PathBuf], frozen: bool) -> Result<(), CgroupError> {
        freezer::set(paths, frozen)
    }

    fn stats(&self, paths: &[PathBuf]) -> Stats {
        let at = |c: &str| self.dir_for(paths, c).map(PathBuf::as_path);
        Stats {
            cpu: at(cpuacct::NAME).map(cpuacct::stats).unwrap_or_default(),
            memory: at(memory::NAME).map(memory::stats).unwrap_or_default(),
            pids: at(pids::NAME).map(pids::stats).unwrap_or_default(),
            io: at(blkio::NAME).map(blkio::stats).unwrap_or_default(),
        }
    }

    fn oom_killed(&self, paths: &[PathBuf]) -> bool {
        self.dir_for(paths, memory::NAME)
            .is_some_and(|d| memory::oom_killed(d))
    }
}
