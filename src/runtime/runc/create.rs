//! `berth-runc create`: read the bundle, make the state directory, the exec fifo and the
//! cgroup, clone init into its namespaces, run the hooks that belong to the runtime while init
//! waits for them, and exit once init is ready and blocked on the fifo. Init then belongs to
//! whoever reaps our orphans (containerd's shim is a subreaper for this very reason).

use super::Globals;
use crate::runtime::oci::init::{self, InitFds, Options};
use crate::runtime::oci::plan::Plan;
use crate::runtime::oci::state::{self, Container, Status};
use anyhow::{bail, Context};
use nix::sched::CloneFlags;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bundle: the directory that holds config.json.
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write init's pid here.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// With a terminal: the unix socket init's pseudo-terminal master is sent to.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Move the rootfs onto / and chroot instead of pivot_root (a rootfs on a ramfs).
    #[arg(long)]
    pub no_pivot: bool,
    /// Keep the caller's session keyring instead of a new one for the container.
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass this many descriptors after stdio (3, 4, ...) to the container's process.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

/// Undo what a failed create made: init, the cgroup, the state directory.
struct Undo<'a> {
    dir: &'a Path,
    child: Option<nix::unistd::Pid>,
    cgroup: Option<crate::cgroups::Cgroup>,
    done: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(pid) = self.child {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.remove();
        }
        let _ = std::fs::remove_dir_all(self.dir);
    }
}

/// Descriptors we were started with beyond stdio and the preserved ones must not reach the
/// container: mark them close-on-exec.
fn cloexec_inherited(preserve: u32) {
    let keep = 3 + preserve as i32;
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= keep)
        .collect();
    for fd in fds {
        let _ = nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
    }
}

fn clone_flag(kind: &str) -> CloneFlags {
    match kind {
        "user" => CloneFlags::CLONE_NEWUSER,
        "pid" => CloneFlags::CLONE_NEWPID,
        "net" => CloneFlags::CLONE_NEWNET,
        "mnt" => CloneFlags::CLONE_NEWNS,
        "ipc" => CloneFlags::CLONE_NEWIPC,
        "uts" => CloneFlags::CLONE_NEWUTS,
        "cgroup" => CloneFlags::CLONE_NEWCGROUP,
        _ => CloneFlags::empty(),
    }
}

fn open_ro(p: &Path) -> anyhow::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    Ok(std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(p)
        .with_context(|| format!("opening {}", p.display()))?
        .into())
}

fn device_rules(plan: &Plan) -> Vec<(bool, crate::cgroups::devices::Rule)> {
    plan.resources
        .devices
        .iter()
        .map(|d| {
            let n = |v: Option<i64>| v.and_then(|v| u32::try_from(v).ok());
            (
                d.allow,
                crate::cgroups::devices::Rule {
                    kind: d.kind,
                    major: n(d.major),
                    minor: n(d.minor),
                    access: d.access.clone(),
                },
            )
        })
        .collect()
}

/// The limits a bundle may set that Docker's flags do not reach (`cgroups::Resources`):
/// cpuset.mems, and v1's memory.swappiness.
pub(super) fn apply_beyond_docker(
    cgroup: &crate::cgroups::Cgroup,
    r: &crate::runtime::oci::plan::ResourcesPlan,
) -> anyhow::Result<()> {
    let write = |controller: &str, file: &str, value: &str| -> anyhow::Result<()> {
        let dir = cgroup
            .dir_for(controller)
            .with_context(|| format!("no {controller} controller for {file}"))?;
        std::fs::write(dir.join(file), value)
            .with_context(|| format!("writing {value} to {}", dir.join(file).display()))
    };
    if let Some(mems) = &r.cpuset_mems {
        write("cpuset", "cpuset.mems", mems)?;
    }
    if let Some(s) = r.swappiness {
        if cgroup.version() == crate::cgroups::CgroupVersion::V2 {
            bail!("linux.resources.memory.swappiness: cgroup v2 has no swappiness");
        }
        write("memory", "memory.swappiness", &s.to_string())?;
    }
    Ok(())
}

fn write_maps(pid: i32, plan: &Plan) -> anyhow::Result<()> {
    let text = |m: &[crate::runtime::oci::plan::IdMapping]| {
        m.iter()
            .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
            .collect::<String>()
    };
    std::fs::write(format!("/proc/{pid}/uid_map"), text(&plan.uid_mappings))
        .context("writing uid_map")?;
    std::fs::write(format!("/proc/{pid}/gid_map"), text(&plan.gid_mappings))
        .context("writing gid_map")?;
    Ok(())
}

pub fn run(g: &Globals, a: &Args) -> anyhow::Result<i32> {
    state::check_id(&a.id)?;
    let bundle = std::fs::canonicalize(&a.bundle)
        .with_context(|| format!("the bundle {}", a.bundle.display()))?;
    let plan = crate::runtime::oci::plan::load(&bundle, &a.id)?;
    if plan.process.terminal && a.console_socket.is_none() {
        bail!("cannot allocate tty if berth-runc will detach without setting console socket");
    }
    if !plan.process.terminal && a.console_socket.is_some() {
        bail!("cannot use console socket if berth-runc will not detach or allocate tty");
    }
    cloexec_inherited(a.preserve_fds);

    std::fs::create_dir_all(&g.root).with_context(|| format!("creating {}", g.root.display()))?;
    let dir = Container::dir(&g.root, &a.id);
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!(state::StateError::Exists(a.id.clone()))
        }
        Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
    }
    let mut undo = Undo {
        dir: &dir,
        child: None,
        cgroup: None,
        done: false,
    };

    let seccomp = match &plan.seccomp {
        Some(profile) => {
            let bpf = crate::runtime::seccomp::to_bpf(profile, &plan.process.capabilities.bounding)
                .context("compiling linux.seccomp")?;
            std::fs::write(dir.join(state::SECCOMP), &bpf).context("saving the seccomp filter")?;
            Some(bpf)
        }
        None => None,
    };

    let fifo_path = dir.join(state::FIFO);
    nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .context("creating exec.fifo")?;
    // Writable by the container's process whoever it becomes (mkfifo's mode went through the
    // umask), and owned by the container's root.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fifo_path, std::fs::Permissions::from_mode(0o622))
            .context("exec.fifo's mode")?;
        let host_root = |m: &[crate::runtime::oci::plan::IdMapping]| {
            m.iter().find(|m| m.container_id == 0).map(|m| m.host_id)
        };
        if let (Some(uid), Some(gid)) =
            (host_root(&plan.uid_mappings), host_root(&plan.gid_mappings))
        {
            nix::unistd::chown(&fifo_path, Some(uid.into()), Some(gid.into()))
                .context("exec.fifo's owner")?;
        }
    }
    let fifo: OwnedFd = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
            .open(&fifo_path)
            .context("opening exec.fifo")?
            .into()
    };

    let cgroup = crate::cgroups::Cgroup::at_path(&plan.cgroups_path)
        .with_context(|| format!("cgroupsPath {}", plan.cgroups_path))?;
    cgroup.create()?;
    undo.cgroup = Some(cgroup.clone());
    cgroup.apply(&plan.resources.limits())?;
    apply_beyond_docker(&cgroup, &plan.resources)?;
    cgroup.set_device_rules(&device_rules(&plan))?;

    let mut flags = CloneFlags::empty();
    let mut joined = Vec::new();
    let mut pidns = None;
    let mut new_userns = false;
    for ns in &plan.namespaces {
        match (&ns.path, ns.kind.as_str()) {
            (None, "user") => {
                new_userns = true;
                flags |= CloneFlags::CLONE_NEWUSER;
            }
            (None, "cgroup") => {}
            (None, kind) => flags |= clone_flag(kind),
            (Some(p), "pid") => pidns = Some(open_ro(p)?),
            (Some(p), "user") => joined.insert(0, (open_ro(p)?, CloneFlags::CLONE_NEWUSER)),
            (Some(p), kind) => joined.push((open_ro(p)?, clone_flag(kind))),
        }
    }
    let console = match &a.console_socket {
        Some(p) => {
            let s = std::os::unix::net::UnixStream::connect(p)
                .with_context(|| format!("connecting to the console socket {}", p.display()))?;
            Some(OwnedFd::from(s))
        }
        None => None,
    };
    let (parent_sync, child_sync) = nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::SeqPacket,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .context("socketpair")?;
    if !a.no_new_keyring {
        join_new_session_keyring(&a.id);
    }

    let mut container = Container {
        id: a.id.clone(),
        pid: 0,
        start_time: 0,
        bundle: bundle.clone(),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        plan: plan.clone(),
    };
    let fds = InitFds {
        parent: init::Parent::Runc {
            sync: child_sync,
            fifo,
        },
        joined,
        console,
        stdio: None,
    };
    // With a user namespace of its own, init cannot write the host's cgroup files: we put
    // it in the cgroup ourselves.
    let cgroup_dirs = if new_userns {
        Vec::new()
    } else {
        cgroup.paths().to_vec()
    };
    let opts = Options {
        plan: &plan,
        seccomp: seccomp.as_deref(),
        no_pivot: a.no_pivot,
        new_userns,
        cgroup_dirs: &cgroup_dirs,
        rootfs_is_mount: false,
        reap_as_pid1: false,
    };
    let child = init::clone_init(flags, pidns.as_ref(), Box::new(|| init::run(&opts, &fds)))?;
    undo.child = Some(child);
    drop(fds);
    container.pid = child.as_raw();
    container.start_time = state::proc_stat(child.as_raw()).map(|s| s.0).unwrap_or(0);
    g.debug(&format!("init is {}", child.as_raw()));

    if new_userns {
        write_maps(child.as_raw(), &plan)?;
        cgroup.add_process(child.as_raw())?;
        init::send(&parent_sync, &[init::MSG_MAPS_WRITTEN]);
    }
    loop {
        let Some(msg) = init::recv(&parent_sync) else {
            bail!("container init exited without a word");
        };
        match msg.first() {
            Some(&init::MSG_RUN_HOOKS) => {
                let st = container.oci_state(Status::Creating);
                crate::runtime::oci::hooks::run_all("prestart", &plan.hooks.prestart, &st)
                    .map_err(anyhow::Error::msg)?;
                crate::runtime::oci::hooks::run_all(
                    "createRuntime",
                    &plan.hooks.create_runtime,
                    &st,
                )
                .map_err(anyhow::Error::msg)?;
                let mut reply = vec![init::MSG_HOOKS_DONE];
                reply.extend(st.to_string().as_bytes());
                init::send(&parent_sync, &reply);
            }
            Some(&init::MSG_READY) => break,
            Some(&init::MSG_ERROR) => {
                let err: crate::runtime::init::InitError = serde_json::from_slice(&msg[1..])
                    .unwrap_or(crate::runtime::init::InitError {
                        message: "init failed".into(),
                        exit_code: 1,
                    });
                bail!("unable to start container process: {}", err.message);
            }
            _ => bail!("container init sent an unknown message"),
        }
    }
    container.save(&g.root)?;
    if let Some(p) = &a.pid_file {
        crate::util::fsutil::write_atomic(p, child.as_raw().to_string().as_bytes())
            .with_context(|| format!("writing the pid file {}", p.display()))?;
    }
    undo.done = true;
    Ok(0)
}

/// A session keyring of the container's own (`_ses.<id>`), so that its keys are not the
/// caller's; a kernel without keyrings, or one that refuses, leaves the caller's.
fn join_new_session_keyring(id: &str) {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let Ok(name) = std::ffi::CString::new(format!("_ses.{id}")) else {
        return;
    };
    // SAFETY: keyctl(JOIN_SESSION_KEYRING) reads one NUL-terminated string, which `name`
    // keeps alive for the call.
    let _ = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
}
