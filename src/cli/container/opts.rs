//! The flags more than one command takes, and their translation into API fields: `run` and
//! `create` share RunArgs, `update` takes the same resource limits (ResourceArgs) and restart
//! policy, and `wait`, `pause` and `unpause` take a bare list of containers. One translation
//! means `-m 512m` or `--restart on-failure:3` reach the daemon the same whichever command set
//! it, as with docker/cli's shared container options.

use clap::Args;

#[derive(Args, Debug, Clone)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long, default_value = "missing", value_parser = ["always", "missing", "never"])]
    pub pull: String,
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Container host name
    #[arg(short = 'h', long = "hostname")]
    pub hostname: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Set meta data on a container (key=value)
    #[arg(short = 'l', long = "label")]
    pub labels: Vec<String>,
    /// Signal to stop the container
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<i64>,
    /// Write the container ID to the file
    #[arg(long)]
    pub cidfile: Option<std::path::PathBuf>,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Publish a container's port(s) to the host ([ip:][hostPort:]containerPort[/proto])
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Security Options (seccomp=unconfined|<profile.json>, no-new-privileges)
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Restart policy to apply when a container exits (no, on-failure[:max-retries], always, unless-stopped)
    #[arg(long, default_value = "no")]
    pub restart: String,
    #[arg(long = "help", action = clap::ArgAction::Help, help = "Print help")]
    help: Option<bool>,
    /// The image to run
    pub image: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StartArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// The resource limit flags `run`, `create` and `update` share.
#[derive(Args, Debug, Clone, Default)]
pub struct ResourceArgs {
    /// Memory limit (e.g. 512m)
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<f64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Disable OOM Killer
    #[arg(long = "oom-kill-disable")]
    pub oom_kill_disable: bool,
}

/// `--restart on-failure:3` as the API's RestartPolicy; a count that is not a number becomes
/// -1, which the daemon refuses by name.
pub(super) fn restart_policy(flag: &str) -> crate::wire::types::RestartPolicyConfig {
    let (name, max) = match flag.split_once(':') {
        Some((p, n)) => (p, n.parse::<i64>().unwrap_or(-1)),
        None => (flag, 0),
    };
    crate::wire::types::RestartPolicyConfig {
        name: name.into(),
        maximum_retry_count: max,
    }
}

/// `-m 512m` and friends as bytes; `-1` passes through (unlimited swap).
fn size_flag(flag: &str, v: &Option<String>) -> Result<Option<i64>, String> {
    match v.as_deref() {
        None => Ok(None),
        Some("-1") => Ok(Some(-1)),
        Some(s) => crate::cgroups::parse_size(s)
            .map(Some)
            .map_err(|e| format!("invalid argument {s:?} for \"{flag}\" flag: {e}")),
    }
}

pub(super) fn resource_fields(
    a: &ResourceArgs,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, v: Option<i64>| {
        if let Some(v) = v {
            m.insert(k.into(), v.into());
        }
    };
    put("Memory", size_flag("--memory", &a.memory)?);
    put("MemorySwap", size_flag("--memory-swap", &a.memory_swap)?);
    put(
        "MemoryReservation",
        size_flag("--memory-reservation", &a.memory_reservation)?,
    );
    put("NanoCpus", a.cpus.map(|c| (c * 1e9) as i64));
    put("CpuShares", a.cpu_shares);
    put("CpuPeriod", a.cpu_period);
    put("CpuQuota", a.cpu_quota);
    put("PidsLimit", a.pids_limit);
    if let Some(c) = &a.cpuset_cpus {
        m.insert("CpusetCpus".into(), c.clone().into());
    }
    if a.oom_kill_disable {
        m.insert("OomKillDisable".into(), true.into());
    }
    Ok(m)
}
