//! `berth-runc exec`: another process in a running container. As the daemon's exec does
//! (`runtime::nsexec`), it joins the container's cgroup and namespaces, forks so that the
//! child is born in its pid namespace, and the child becomes the process config.json (or
//! `--process`) describes. With `--detach` it exits once the process has started, leaving it
//! to our reaper (containerd's shim); without, it waits and exits with the process's status.

use super::Globals;
use crate::runtime::init::InitError;
use crate::runtime::oci::plan::{self, ProcessPlan};
use crate::runtime::oci::state::{self, Status};
use anyhow::{bail, Context};
use nix::sched::CloneFlags;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The process, as config.json's `process` object.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Return once the process runs.
    #[arg(short, long)]
    pub detach: bool,
    /// Give the process a terminal (sent over --console-socket).
    #[arg(short, long)]
    pub tty: bool,
    #[arg(long)]
    pub cwd: Option<String>,
    /// KEY=value, added to the container's environment.
    #[arg(short, long)]
    pub env: Vec<String>,
    /// uid[:gid]
    #[arg(short, long)]
    pub user: Option<String>,
    #[arg(short = 'g', long)]
    pub additional_gids: Vec<u32>,
    /// A capability added to the container's (CAP_...).
    #[arg(long)]
    pub cap: Vec<String>,
    #[arg(long)]
    pub no_new_privs: bool,
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

fn process(a: &Args, base: &ProcessPlan) -> anyhow::Result<ProcessPlan> {
    if let Some(path) = &a.process {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let p: oci_spec::runtime::Process =
            serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))?;
        return Ok(plan::process_plan(&p)?);
    }
    if a.command.is_empty() {
        bail!("exec needs a command, or --process");
    }
    let mut p = base.clone();
    p.args = a.command.clone();
    p.terminal = a.tty;
    p.console_size = None;
    if let Some(cwd) = &a.cwd {
        p.cwd = cwd.clone();
    }
    p.env.extend(a.env.iter().cloned());
    if let Some(u) = &a.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
        p.uid = uid.parse().with_context(|| format!("--user {u:?}"))?;
        p.gid = gid.parse().with_context(|| format!("--user {u:?}"))?;
    }
    if !a.additional_gids.is_empty() {
        p.additional_gids = a.additional_gids.clone();
    }
    for c in &a.cap {
        for set in [
            &mut p.capabilities.bounding,
            &mut p.capabilities.effective,
            &mut p.capabilities.permitted,
        ] {
            set.push(c.clone());
        }
    }
    p.no_new_privileges |= a.no_new_privs;
    Ok(p)
}

pub fn run(g: &Globals, a: &Args) -> anyhow::Result<i32> {
    let c = super::load(g, &a.id)?;
    match c.status(&g.root) {
        Status::Created | Status::Running => {}
        Status::Paused => bail!("cannot exec in a paused container"),
        _ => bail!("cannot exec in a stopped container"),
    }
    let p = process(a, &c.plan.process)?;
    if p.terminal && a.console_socket.is_none() {
        bail!("cannot allocate tty without --console-socket");
    }
    let filter = std::fs::read(state::Container::dir(&g.root, &a.id).join(state::SECCOMP)).ok();
    let console = match &a.console_socket {
        Some(path) if p.terminal => Some(OwnedFd::from(
            std::os::unix::net::UnixStream::connect(path)
                .with_context(|| format!("connecting to the console socket {}", path.display()))?,
        )),
        _ => None,
    };
    let ours = std::fs::File::open("/proc/self/ns/mnt").context("opening our mount namespace")?;
    let joined = crate::runtime::oci::enter::namespaces_of(c.pid)
        .map_err(|(what, e)| anyhow::anyhow!("opening {what}: {e}"))?;
    let cgroup = c.cgroup().context("the container's cgroup")?;
    for dir in cgroup.paths() {
        crate::cgroups::join_self(dir)
            .with_context(|| format!("joining the cgroup {}", dir.display()))?;
    }
    let (report_r, report_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    for (fd, flag) in &joined {
        nix::sched::setns(fd, *flag).context("entering the container's namespaces")?;
    }
    drop(joined);
    // SAFETY: berth-runc is single-threaded; the child only sets itself up and execs.
    match unsafe { nix::unistd::fork() }.context("fork")? {
        nix::unistd::ForkResult::Child => {
            drop(report_r);
            let err =
                crate::runtime::oci::enter::become_process(&p, filter.as_deref(), console.as_ref());
            let json = serde_json::to_vec(&err).unwrap_or_default();
            let _ = nix::unistd::write(&report_w, &json);
            std::process::exit(255);
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(report_w);
            drop(console);
            // Back in our own mount namespace, for the pid file's path.
            nix::sched::setns(ours.as_fd(), CloneFlags::CLONE_NEWNS)
                .context("returning to our mount namespace")?;
            let mut report = Vec::new();
            let _ = std::fs::File::from(report_r).read_to_end(&mut report);
            if !report.is_empty() {
                let _ = nix::sys::wait::waitpid(child, None);
                let err: InitError = serde_json::from_slice(&report).unwrap_or(InitError {
                    message: String::from_utf8_lossy(&report).into_owned(),
                    exit_code: 126,
                });
                bail!(
                    "exec failed: unable to start container process: {}",
                    err.message
                );
            }
            if let Some(path) = &a.pid_file {
                crate::util::fsutil::write_atomic(path, child.as_raw().to_string().as_bytes())
                    .with_context(|| format!("writing the pid file {}", path.display()))?;
            }
            if a.detach {
                return Ok(0);
            }
            loop {
                match nix::sys::wait::waitpid(child, None) {
                    Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => return Ok(code),
                    Ok(nix::sys::wait::WaitStatus::Signaled(_, sig, _)) => {
                        return Ok(128 + sig as i32)
                    }
                    Err(nix::errno::Errno::EINTR) => continue,
                    _ => return Ok(255),
                }
            }
        }
    }
}
