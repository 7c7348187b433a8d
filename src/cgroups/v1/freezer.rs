//! v1 `freezer`: `docker pause`/`unpause` write FROZEN or THAWED into freezer.state, which
//! reads FREEZING until every task has stopped; Docker answers only once it reads FROZEN.

use crate::cgroups::backend::write_until;
use crate::cgroups::CgroupError;
use std::path::PathBuf;

pub(super) fn set(paths: &[PathBuf], frozen: bool) -> Result<(), CgroupError> {
    let state = if frozen { "FROZEN" } else { "THAWED" };
    write_until(paths, "freezer.state", state, "freezer.state", state)
}
