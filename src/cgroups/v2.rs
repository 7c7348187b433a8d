//! cgroup v2: one unified tree. A controller is usable in a cgroup only if every ancestor
//! lists it in `cgroup.subtree_control`, so berth enables what the root offers on the way down
//! to its parent (processes live only in the leaves, the containers' own cgroups).

use super::{io_ctx, CgroupError};
use std::path::{Path, PathBuf};

fn enable_controllers(dir: &Path) {
    let available = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    for c in available.split_whitespace() {
        // Best effort: a controller that cannot be delegated here (e.g. held by v1 on a
        // hybrid host) is simply not available to containers.
        let _ = std::fs::write(dir.join("cgroup.subtree_control"), format!("+{c}"));
    }
}

pub fn create(mount: &Path, parent: &str, path: &PathBuf) -> Result<(), CgroupError> {
    let parent_dir = mount.join(parent);
    std::fs::create_dir_all(&parent_dir)
        .map_err(io_ctx(format!("creating {}", parent_dir.display())))?;
    enable_controllers(mount);
    enable_controllers(&parent_dir);
    std::fs::create_dir_all(path).map_err(io_ctx(format!("creating {}", path.display())))?;
    Ok(())
}
