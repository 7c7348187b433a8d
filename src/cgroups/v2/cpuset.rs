//! v2 `cpuset`: `--cpuset-cpus` (cpuset.cpus). Unlike v1, an empty cpuset.cpus means "the
//! parent's", so nothing has to be copied down when a cgroup is created.

use crate::cgroups::resources::{knob, Knob, Resources};

pub(super) fn plan(r: &Resources, k: &mut Vec<Knob>) {
    if let Some(c) = &r.cpuset_cpus {
        k.push(knob("cpuset", "cpuset.cpus", c));
    }
}
