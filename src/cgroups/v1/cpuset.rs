//! v1 `cpuset`: `--cpuset-cpus` (cpuset.cpus). It is the awkward controller: a new cpuset
//! cgroup has no CPUs or memory nodes, and no task can join it, until they are copied down
//! from its parent, which Docker (through runc) does for every level it creates.

use crate::cgroups::resources::{knob, Knob, Resources};
use crate::cgroups::{io_ctx, CgroupError};
use std::path::Path;

pub(super) const NAME: &str = "cpuset";

pub(super) fn plan(r: &Resources, k: &mut Vec<Knob>) {
    if let Some(c) = &r.cpuset_cpus {
        k.push(knob(NAME, "cpuset.cpus", c));
    }
}

/// Give every level from the hierarchy's root `root` down to `path` the CPUs and memory nodes
/// of the level above, where it has none yet.
pub(super) fn copy_down(root: &Path, path: &Path) -> Result<(), CgroupError> {
    let rel = path
        .strip_prefix(root)
        .expect("path is under the cpuset hierarchy");
    let mut dir = root.to_path_buf();
    for comp in rel.components() {
        let next = dir.join(comp);
        copy_from(&dir, &next)?;
        dir = next;
    }
    Ok(())
}

fn copy_from(from: &Path, to: &Path) -> Result<(), CgroupError> {
    for knob in ["cpuset.cpus", "cpuset.mems"] {
        let current = std::fs::read_to_string(to.join(knob)).unwrap_or_default();
        if current.trim().is_empty() {
            let value = std::fs::read_to_string(from.join(knob))
                .map_err(io_ctx(format!("reading {knob}")))?;
            std::fs::write(to.join(knob), value.trim())
                .map_err(io_ctx(format!("writing {}", to.join(knob).display())))?;
        }
    }
    Ok(())
}
