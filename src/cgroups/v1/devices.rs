//! v1 `devices`: Docker's default device rules ([`crate::cgroups::devices`]) written as text,
//! `a` into devices.deny to start from nothing, then each allowed rule into devices.allow.

use crate::cgroups::devices::DEFAULT_ALLOW;
use crate::cgroups::{io_ctx, CgroupError};
use std::path::Path;

pub(super) const NAME: &str = "devices";

/// Each rule into `devices.allow` or `devices.deny`, in order (a `deny a` first clears all).
pub(super) fn write_rules(
    dir: &Path,
    rules: &[(bool, crate::cgroups::devices::Rule)],
) -> Result<(), CgroupError> {
    for (allow, r) in rules {
        let file = dir.join(if *allow {
            "devices.allow"
        } else {
            "devices.deny"
        });
        let line = if r.kind == 'a' {
            "a".to_string()
        } else {
            r.v1_line()
        };
        std::fs::write(&file, &line)
            .map_err(io_ctx(format!("writing {line:?} to {}", file.display())))?;
    }
    Ok(())
}

pub(super) fn restrict(dir: &Path) -> Result<(), CgroupError> {
    std::fs::write(dir.join("devices.deny"), "a").map_err(io_ctx(format!(
        "writing {}",
        dir.join("devices.deny").display()
    )))?;
    for r in DEFAULT_ALLOW {
        std::fs::write(dir.join("devices.allow"), r).map_err(io_ctx(format!("allowing {r}")))?;
    }
    Ok(())
}
