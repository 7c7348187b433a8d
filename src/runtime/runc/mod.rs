//! `berth-runc`: berth's runtime with runc's command line, so that containerd's runc shim
//! (`io.containerd.runc.v2`, and through it `ctr`, Kubernetes' CRI and dockerd) can run
//! containers with it. One file per command, as runc has. Errors go to stderr and, in runc's
//! shape, to `--log` (text or JSON lines), which is where containerd reads them from.

use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;

mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod spec;
mod start;
mod state;
mod update;

#[derive(Parser, Debug)]
#[command(
    name = "berth-runc",
    version,
    about = "berth's container runtime, with runc's command line (OCI runtime-spec 1.1)"
)]
pub struct Cli {
    /// Where containers' state is kept (a tmpfs: it must not outlive a reboot).
    #[arg(long, default_value = crate::runtime::oci::state::DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Where errors and debug lines go, besides stderr.
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// text or json.
    #[arg(long, default_value = "text")]
    pub log_format: String,
    #[arg(long)]
    pub debug: bool,
    /// Refused: berth-runc manages cgroupfs itself.
    #[arg(long)]
    pub systemd_cgroup: bool,
    /// Refused: checkpoint and restore are not implemented.
    #[arg(long)]
    pub criu: Option<String>,
    /// Accepted for runc's sake; only `false` (or `auto` as root) can be honoured.
    #[arg(long)]
    pub rootless: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container from a bundle; its process waits for `start`.
    Create(create::Args),
    /// Run the process of a created container.
    Start(start::Args),
    /// Print a container's state as JSON.
    State(state::Args),
    /// Send a signal to a container's init (or, with --all, to all its processes).
    Kill(kill::Args),
    /// Delete a container and what it holds on the host.
    Delete(delete::Args),
    /// Run another process in a container.
    Exec(exec::Args),
    /// List a container's processes.
    Ps(ps::Args),
    /// Freeze every process of a container.
    Pause(pause::Args),
    /// Thaw a paused container.
    Resume(pause::Args),
    /// Change a container's resource limits.
    Update(update::Args),
    /// Print a container's resource usage (or keep printing it).
    Events(events::Args),
    /// Print what this runtime supports (runtime-spec features.json).
    Features,
    /// Write a default config.json.
    Spec(spec::Args),
    /// List the containers under --root.
    #[command(alias = "ls")]
    List(list::Args),
}

/// The global options every command sees.
pub struct Globals {
    pub root: PathBuf,
    log: Option<PathBuf>,
    json: bool,
    pub debug: bool,
}

impl Globals {
    fn log_line(&self, level: &str, msg: &str) {
        let Some(path) = &self.log else {
            return;
        };
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let line = if self.json {
            serde_json::json!({"level": level, "msg": msg, "time": time}).to_string()
        } else {
            format!("time={time:?} level={level} msg={msg:?}")
        };
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }

    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.log_line("debug", msg);
        }
    }

    pub fn warn(&self, msg: &str) {
        self.log_line("warning", msg);
        if self.log.is_none() {
            eprintln!("berth-runc: warning: {msg}");
        }
    }
}

pub fn main() -> ! {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 1,
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let g = Globals {
        root: cli.root.clone(),
        log: cli.log.clone(),
        json: cli.log_format == "json",
        debug: cli.debug,
    };
    let code = match run(&cli, &g) {
        Ok(code) => code,
        Err(e) => {
            let msg = format!("{e:#}");
            g.log_line("error", &msg);
            eprintln!("{msg}");
            1
        }
    };
    std::process::exit(code)
}

fn run(cli: &Cli, g: &Globals) -> anyhow::Result<i32> {
    if !matches!(cli.log_format.as_str(), "text" | "json") {
        anyhow::bail!("invalid log-format {:?}: text or json", cli.log_format);
    }
    if cli.systemd_cgroup {
        anyhow::bail!(
            "--systemd-cgroup is not supported: berth-runc manages cgroupfs itself \
             (containerd: SystemdCgroup = false; dockerd: --exec-opt native.cgroupdriver=cgroupfs)"
        );
    }
    if cli.criu.is_some() {
        anyhow::bail!("--criu is not supported: berth-runc cannot checkpoint or restore");
    }
    if let Some(r) = &cli.rootless {
        let rootless = match r.as_str() {
            "true" => true,
            "false" => false,
            "auto" => !nix::unistd::geteuid().is_root(),
            other => anyhow::bail!("invalid --rootless {other:?}: true, false or auto"),
        };
        if rootless {
            anyhow::bail!("rootless containers are not supported by berth-runc");
        }
    }
    g.debug(&format!("{:?}", cli.command));
    match &cli.command {
        Command::Create(a) => create::run(g, a),
        Command::Start(a) => start::run(g, a),
        Command::State(a) => state::run(g, a),
        Command::Kill(a) => kill::run(g, a),
        Command::Delete(a) => delete::run(g, a),
        Command::Exec(a) => exec::run(g, a),
        Command::Ps(a) => ps::run(g, a),
        Command::Pause(a) => pause::run(g, a, true),
        Command::Resume(a) => pause::run(g, a, false),
        Command::Update(a) => update::run(g, a),
        Command::Events(a) => events::run(g, a),
        Command::Features => features::run(),
        Command::Spec(a) => spec::run(a),
        Command::List(a) => list::run(g, a),
    }
}

#[cfg(test)]
pub fn default_spec_for_tests() -> serde_json::Value {
    spec::default_spec()
}

/// A container that must exist, in runc's words when it does not.
fn load(g: &Globals, id: &str) -> anyhow::Result<crate::runtime::oci::state::Container> {
    use crate::runtime::oci::state::{Container, StateError};
    match Container::load(&g.root, id) {
        Ok(c) => Ok(c),
        Err(StateError::NotExist) => anyhow::bail!("container {id} does not exist"),
        Err(e) => Err(e.into()),
    }
}
