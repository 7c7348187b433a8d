//! v1 `pids`: `--pids-limit` (pids.max; zero or negative means unlimited, as in Docker, so
//! nothing is written), and the current count and limit `docker stats` shows.

use crate::cgroups::resources::{knob, Knob, Resources};
use crate::cgroups::stats::{read_u64, PidsStats};
use std::path::Path;

pub(super) const NAME: &str = "pids";

pub(super) fn plan(r: &Resources, k: &mut Vec<Knob>) {
    if let Some(p) = r.pids_limit.filter(|p| *p > 0) {
        k.push(knob(NAME, "pids.max", p));
    }
}

pub(super) fn stats(dir: &Path) -> PidsStats {
    PidsStats {
        current: read_u64(&dir.join("pids.current")).unwrap_or(0),
        limit: read_u64(&dir.join("pids.max")),
    }
}
