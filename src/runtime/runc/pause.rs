//! `berth-runc pause` and `resume`: the cgroup freezer.

use super::Globals;
use crate::runtime::oci::state::Status;
use anyhow::{bail, Context};

#[derive(clap::Args, Debug)]
pub struct Args {
    pub id: String,
}

pub fn run(g: &Globals, a: &Args, freeze: bool) -> anyhow::Result<i32> {
    let c = super::load(g, &a.id)?;
    match (c.status(&g.root), freeze) {
        (Status::Running, true) | (Status::Paused, false) => {}
        (Status::Paused, true) => bail!("container {} is already paused", a.id),
        (_, true) => bail!("container not running"),
        (_, false) => bail!("container not paused"),
    }
    let cg = c.cgroup().context("the container's cgroup")?;
    cg.set_frozen(freeze)?;
    Ok(0)
}
