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
    /// Size of /dev/shm
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// Logging driver for the container (json-file, local, or none to keep no log)
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Log driver options (key=value; max-size, max-file, compress, ...)
    #[arg(long = "log-opt")]
    pub log_opts: Vec<String>,
    /// Add additional groups to join (a gid or a group name)
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    #[command(flatten)]
    pub storage: super::mountopts::MountArgs,
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
    /// Connect a container to a network (bridge, host, none, or a network's name)
    #[arg(long = "network", alias = "net")]
    pub network: Option<String>,
    #[command(flatten)]
    pub net: super::netopts::NetworkArgs,
    #[command(flatten)]
    pub namespaces: super::nsopts::NamespaceArgs,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host")]
    pub add_hosts: Vec<String>,
    /// Security Options (seccomp=unconfined|<profile.json>, no-new-privileges)
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Restart policy to apply when a container exits (no, on-failure[:max-retries], always, unless-stopped)
    #[arg(long, default_value = "no")]
    pub restart: String,
    #[command(flatten)]
    pub health: HealthArgs,
    #[arg(long = "help", action = clap::ArgAction::Help, help = "Print help")]
    help: Option<bool>,
    /// The image to run
    pub image: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// The healthcheck flags of `run` and `create`, over the image's HEALTHCHECK.
#[derive(Args, Debug, Clone, Default)]
pub struct HealthArgs {
    /// Command to run to check health
    #[arg(long = "health-cmd")]
    pub cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 0s)
    #[arg(long = "health-interval", allow_hyphen_values = true)]
    pub interval: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long = "health-retries", allow_hyphen_values = true)]
    pub retries: Option<i64>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s)
    #[arg(long = "health-timeout", allow_hyphen_values = true)]
    pub timeout: Option<String>,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)
    #[arg(long = "health-start-period", allow_hyphen_values = true)]
    pub start_period: Option<String>,
    /// Time between running the check during the start period (ms|s|m|h) (default 0s)
    #[arg(long = "health-start-interval", allow_hyphen_values = true)]
    pub start_interval: Option<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
}

/// `Config.Healthcheck` as the docker CLI makes it from the flags: none when no flag is
/// given (the image's applies), `["NONE"]` for `--no-healthcheck`, and otherwise only the
/// fields given (the daemon takes the rest from the image).
pub(super) fn health_config(
    a: &HealthArgs,
) -> Result<Option<crate::wire::types::HealthConfig>, String> {
    use crate::util::goduration;
    let duration = |flag: &str, v: &Option<String>| -> Result<i64, String> {
        match v.as_deref() {
            None => Ok(0),
            Some(s) => goduration::parse(s)
                .map_err(|e| format!("invalid argument {s:?} for \"--{flag}\" flag: {e}")),
        }
    };
    let interval = duration("health-interval", &a.interval)?;
    let timeout = duration("health-timeout", &a.timeout)?;
    let start_period = duration("health-start-period", &a.start_period)?;
    let start_interval = duration("health-start-interval", &a.start_interval)?;
    let retries = a.retries.unwrap_or(0);
    let cmd = a.cmd.clone().unwrap_or_default();
    let any = !cmd.is_empty()
        || interval != 0
        || timeout != 0
        || start_period != 0
        || retries != 0
        || start_interval != 0;
    if a.no_healthcheck {
        if any {
            return Err("--no-healthcheck conflicts with --health-* options".into());
        }
        return Ok(Some(crate::wire::types::HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        }));
    }
    if !any {
        return Ok(None);
    }
    for (flag, v) in [
        ("interval", interval),
        ("timeout", timeout),
        ("retries", retries),
        ("start-period", start_period),
        ("start-interval", start_interval),
    ] {
        if v < 0 {
            return Err(format!("--health-{flag} cannot be negative"));
        }
    }
    Ok(Some(crate::wire::types::HealthConfig {
        test: (!cmd.is_empty()).then(|| vec!["CMD-SHELL".into(), cmd]),
        interval,
        timeout,
        start_period,
        start_interval,
        retries,
    }))
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
pub(super) fn size_flag(flag: &str, v: &Option<String>) -> Result<Option<i64>, String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn args(f: impl FnOnce(&mut HealthArgs)) -> HealthArgs {
        let mut a = HealthArgs::default();
        f(&mut a);
        a
    }

    #[test]
    fn health_flags_become_dockers_healthcheck() {
        assert_eq!(health_config(&HealthArgs::default()), Ok(None));
        let a = args(|a| {
            a.cmd = Some("test -f /tmp/ok".into());
            a.interval = Some("100ms".into());
            a.retries = Some(2);
        });
        let hc = health_config(&a).unwrap().unwrap();
        assert_eq!(
            serde_json::to_value(&hc).unwrap(),
            serde_json::json!({"Test": ["CMD-SHELL", "test -f /tmp/ok"], "Interval": 100_000_000, "Retries": 2})
        );
        let only_timeout = args(|a| a.timeout = Some("1m".into()));
        assert_eq!(
            serde_json::to_value(health_config(&only_timeout).unwrap()).unwrap(),
            serde_json::json!({"Timeout": 60_000_000_000i64})
        );
        let none = args(|a| a.no_healthcheck = true);
        assert_eq!(
            health_config(&none).unwrap().unwrap().test,
            Some(vec!["NONE".to_string()])
        );
    }

    #[rstest]
    #[case::conflict(args(|a| { a.no_healthcheck = true; a.retries = Some(1); }), "--no-healthcheck conflicts with --health-* options")]
    #[case::negative_interval(args(|a| a.interval = Some("-1s".into())), "--health-interval cannot be negative")]
    #[case::negative_retries(args(|a| a.retries = Some(-2)), "--health-retries cannot be negative")]
    #[case::negative_start_interval(args(|a| a.start_interval = Some("-5ms".into())), "--health-start-interval cannot be negative")]
    #[case::bad_duration(args(|a| a.timeout = Some("10".into())), "invalid argument \"10\" for \"--health-timeout\" flag: time: missing unit in duration \"10\"")]
    fn health_flags_are_refused_as_docker_refuses_them(#[case] a: HealthArgs, #[case] err: &str) {
        assert_eq!(health_config(&a).unwrap_err(), err);
    }
}
