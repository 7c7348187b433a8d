//! `berth-runc delete`: a stopped container's cgroup and state go, then the poststop hooks
//! run. `--force` kills a container that still runs first.

use super::Globals;
use crate::runtime::oci::state::{Container, Status};
use anyhow::bail;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Kill the container first if it runs.
    #[arg(short, long)]
    pub force: bool,
    pub id: String,
}

pub fn run(g: &Globals, a: &Args) -> anyhow::Result<i32> {
    crate::runtime::oci::state::check_id(&a.id)?;
    let c = match Container::load(&g.root, &a.id) {
        Ok(c) => c,
        Err(crate::runtime::oci::state::StateError::NotExist) => {
            // An aborted create can leave a directory with no state.json in it.
            let dir = Container::dir(&g.root, &a.id);
            let existed = dir.exists();
            let _ = std::fs::remove_dir_all(&dir);
            if a.force || existed {
                return Ok(0);
            }
            bail!("container {} does not exist", a.id);
        }
        Err(e) => return Err(e.into()),
    };
    let status = c.status(&g.root);
    match status {
        Status::Stopped | Status::Created => {}
        _ if a.force => {}
        s => bail!(
            "cannot delete container {} that is not stopped: {}",
            a.id,
            s.as_str()
        ),
    }
    if status != Status::Stopped {
        kill_and_wait(&c);
    }
    if let Some(cg) = c.cgroup() {
        if cg.is_frozen() {
            let _ = cg.set_frozen(false);
        }
        cg.remove()?;
    }
    let _ = std::fs::remove_dir_all(Container::dir(&g.root, &a.id));
    let st = c.oci_state(Status::Stopped);
    if let Err(e) = crate::runtime::oci::hooks::run_all("poststop", &c.plan.hooks.poststop, &st) {
        g.warn(&e);
    }
    Ok(0)
}

/// SIGKILL init (its pid namespace goes with it) and wait, a few seconds at most, until it is
/// gone or a zombie for its reaper.
fn kill_and_wait(c: &Container) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(c.pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.init_alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}
