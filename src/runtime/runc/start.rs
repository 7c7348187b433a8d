//! `berth-runc start`: open exec.fifo for reading, which lets init's blocked open for writing
//! return; init writes one byte and execs. Then the poststart hooks.

use super::Globals;
use crate::runtime::oci::state::{self, Status};
use anyhow::{bail, Context};
use std::io::Read;
use std::os::fd::AsFd;

#[derive(clap::Args, Debug)]
pub struct Args {
    pub id: String,
}

pub fn run(g: &Globals, a: &Args) -> anyhow::Result<i32> {
    let c = super::load(g, &a.id)?;
    match c.status(&g.root) {
        Status::Created => {}
        Status::Stopped => bail!("cannot start a container that has stopped"),
        Status::Running | Status::Paused => bail!("cannot start an already running container"),
        Status::Creating => bail!("cannot start a container that is still being created"),
    }
    let path = state::Container::dir(&g.root, &a.id).join(state::FIFO);
    // Non-blocking: should init be gone, a blocking open would wait forever for a writer.
    let mut fifo = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&path)
            .context("opening exec.fifo")?
    };
    loop {
        let mut pfd = [nix::poll::PollFd::new(
            fifo.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let _ = nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(100u16));
        let mut b = [0u8; 1];
        match fifo.read(&mut b) {
            Ok(1) => break,
            Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => {
                return Err(e).context("reading exec.fifo")
            }
            _ => {}
        }
        if !c.init_alive() {
            bail!("container init exited before it started");
        }
    }
    let _ = std::fs::remove_file(&path);
    let st = c.oci_state(Status::Running);
    if let Err(e) = crate::runtime::oci::hooks::run_all("poststart", &c.plan.hooks.poststart, &st) {
        g.warn(&e);
    }
    Ok(0)
}
