//! v2's freezer is not a controller but the core's cgroup.freeze: `docker pause`/`unpause`
//! write 1 or 0 there, and the kernel says `frozen 1` in cgroup.events once every task has
//! stopped; Docker answers only then.

use crate::cgroups::backend::write_until;
use crate::cgroups::CgroupError;
use std::path::PathBuf;

pub(super) fn set(paths: &[PathBuf], frozen: bool) -> Result<(), CgroupError> {
    let (value, want) = if frozen {
        ("1", "frozen 1")
    } else {
        ("0", "frozen 0")
    };
    write_until(paths, "cgroup.freeze", value, "cgroup.events", want)
}
