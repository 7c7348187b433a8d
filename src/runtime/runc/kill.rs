//! `berth-runc kill`: a signal to init, or with `--all` to every process of the cgroup.

use super::Globals;
use crate::runtime::oci::state::Status;
use anyhow::bail;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Every process of the container, not only init.
    #[arg(short, long)]
    pub all: bool,
    pub id: String,
    /// A name (TERM, SIGTERM) or a number; SIGTERM by default.
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn run(g: &Globals, a: &Args) -> anyhow::Result<i32> {
    let c = super::load(g, &a.id)?;
    let sig = crate::runtime::signal::parse(&a.signal)
        .ok_or_else(|| anyhow::anyhow!("unknown signal {:?}", a.signal))?;
    if c.status(&g.root) == Status::Stopped && !a.all {
        bail!("container not running");
    }
    if a.all {
        let procs = c.cgroup().map(|cg| cg.procs()).unwrap_or_default();
        for pid in procs {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), sig);
        }
        // A frozen process takes no signal until it thaws; SIGKILL is meant to end it now.
        if sig == Signal::SIGKILL {
            if let Some(cg) = c.cgroup().filter(|cg| cg.is_frozen()) {
                let _ = cg.set_frozen(false);
            }
        }
        return Ok(0);
    }
    nix::sys::signal::kill(Pid::from_raw(c.pid), sig)
        .map_err(|e| anyhow::anyhow!("container not running: {e}"))?;
    Ok(0)
}
