//! Container commands: run, create, start, ps, rm, kill, inspect. `run` makes the same calls
//! in the same order as the docker CLI: create, attach (hijacked), wait, start.

use super::{report, table};
use crate::api::client::{Client, ClientError};
use crate::api::stream;
use crate::api::types::{
    ContainerConfig, ContainerSummary, CreateRequest, CreateResponse, HostConfig, WaitResponse,
};
use crate::util::human::human_duration;
use clap::Args;
use hyper::Method;
use tokio::io::AsyncWriteExt;

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

#[derive(Args, Debug)]
pub struct StartCmdArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PortArgs {
    pub container: String,
    /// The container's port, e.g. 80 or 53/udp
    pub private_port: Option<String>,
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long)]
    pub last: Option<i64>,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
    /// Filter output based on conditions provided (status=, name=, id=, label=, ancestor=, exited=)
    #[arg(short = 'f', long = "filter")]
    pub filters: Vec<String>,
    /// Format output using a Go template ("table ..." for columns)
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time")]
    pub time: Option<i64>,
    /// Signal to send to the container
    #[arg(short = 's', long)]
    pub signal: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Show logs since a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)
    #[arg(long)]
    pub until: Option<String>,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    pub container: String,
    /// The command and its arguments
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TopArgs {
    pub container: String,
    /// Options passed to ps (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(clap::Subcommand, Debug)]
pub enum ContainerCommand {
    /// Remove all stopped containers
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `--restart on-failure:3` as the API's RestartPolicy; a count that is not a number becomes
/// -1, which the daemon refuses by name.
fn restart_policy(flag: &str) -> crate::api::types::RestartPolicyConfig {
    let (name, max) = match flag.split_once(':') {
        Some((p, n)) => (p, n.parse::<i64>().unwrap_or(-1)),
        None => (flag, 0),
    };
    crate::api::types::RestartPolicyConfig {
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

fn resource_fields(a: &ResourceArgs) -> Result<serde_json::Map<String, serde_json::Value>, String> {
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

fn create_request(a: &RunArgs) -> CreateRequest {
    let attach = !a.detach;
    let labels: std::collections::BTreeMap<String, String> = a
        .labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect();
    let mut extra = serde_json::Map::new();
    if let Some(t) = a.stop_timeout {
        extra.insert("StopTimeout".into(), t.into());
    }
    let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    CreateRequest {
        config: ContainerConfig {
            hostname: a.hostname.clone().unwrap_or_default(),
            user: a.user.clone().unwrap_or_default(),
            attach_stdin: attach && a.interactive,
            attach_stdout: attach,
            attach_stderr: attach,
            tty: a.tty,
            open_stdin: a.interactive,
            stdin_once: attach && a.interactive,
            env: if a.env.is_empty() {
                None
            } else {
                Some(a.env.clone())
            },
            cmd: if a.command.is_empty() {
                None
            } else {
                Some(a.command.clone())
            },
            image: a.image.clone(),
            working_dir: a.workdir.clone().unwrap_or_default(),
            // `--entrypoint ""` clears the image's entrypoint, as docker's does.
            entrypoint: a.entrypoint.as_ref().map(|e| {
                if e.is_empty() {
                    vec![]
                } else {
                    vec![e.clone()]
                }
            }),
            labels: Some(labels),
            stop_signal: a.stop_signal.clone(),
            extra,
            ..Default::default()
        },
        host_config: Some(HostConfig {
            auto_remove: a.rm,
            privileged: a.privileged,
            network_mode: "default".into(),
            readonly_rootfs: a.read_only,
            init: a.init.then_some(true),
            cap_add: some(&a.cap_add),
            cap_drop: some(&a.cap_drop),
            restart_policy: restart_policy(&a.restart),
            console_size: a
                .tty
                .then(super::session::console_size)
                .flatten()
                .unwrap_or_default(),
            ..Default::default()
        }),
        networking_config: None,
    }
}

/// `run` prints a daemon error, adds docker's hint line, and picks 125/126/127 as docker does.
fn run_failure(err: &ClientError) -> i32 {
    match err {
        ClientError::Api { message, .. } => {
            eprintln!("berth: Error response from daemon: {message}");
            eprintln!("Run 'berth run --help' for more information");
            start_error_code(message)
        }
        other => {
            eprintln!("berth: {other}");
            if matches!(
                other,
                ClientError::Connect { .. } | ClientError::Permission { .. }
            ) {
                1
            } else {
                125
            }
        }
    }
}

/// The docker CLI's rule: a missing executable is 127, one that cannot run is 126.
pub fn start_error_code(message: &str) -> i32 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
        || message.contains("system cannot find the file specified")
    {
        127
    } else if message.contains("permission denied") || message.contains("is a directory") {
        126
    } else {
        125
    }
}

async fn create_container(client: &Client, a: &RunArgs) -> Result<String, ClientError> {
    // Like docker, refuse before creating anything when the cidfile is already there.
    if let Some(f) = &a.cidfile {
        if f.exists() {
            return Err(ClientError::Protocol(format!(
                "Container ID file found, make sure the other container isn't running or delete {}",
                f.display()
            )));
        }
    }
    let id = create_only(client, a).await?;
    if let Some(f) = &a.cidfile {
        if let Err(e) = crate::util::fsutil::write_atomic(f, id.as_bytes()) {
            return Err(ClientError::Protocol(format!(
                "writing the container ID file {}: {e}",
                f.display()
            )));
        }
    }
    Ok(id)
}

async fn create_only(client: &Client, a: &RunArgs) -> Result<String, ClientError> {
    let limits = resource_fields(&a.resources).map_err(ClientError::Protocol)?;
    let security = security_opts(&a.security_opt).map_err(ClientError::Protocol)?;
    let mut exposed = std::collections::BTreeMap::new();
    let mut bindings: std::collections::BTreeMap<String, Vec<serde_json::Value>> =
        Default::default();
    for spec in &a.publish {
        for (key, ip, port) in
            crate::network::ports::parse_publish(spec).map_err(ClientError::Protocol)?
        {
            exposed.insert(key.clone(), serde_json::json!({}));
            bindings
                .entry(key)
                .or_default()
                .push(serde_json::json!({ "HostIp": ip, "HostPort": port }));
        }
    }
    let mut path = "/containers/create".to_string();
    if let Some(n) = &a.name {
        path.push_str(&format!(
            "?name={}",
            url::form_urlencoded::byte_serialize(n.as_bytes()).collect::<String>()
        ));
    }
    let mut request = create_request(a);
    if !exposed.is_empty() {
        request.config.exposed_ports = Some(exposed);
    }
    if let Some(hc) = request.host_config.as_mut() {
        if !bindings.is_empty() {
            hc.port_bindings = Some(
                bindings
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::Array(v)))
                    .collect(),
            );
        }
        *hc = hc.with_fields(limits).map_err(ClientError::Protocol)?;
        if !security.is_empty() {
            hc.security_opt = Some(security);
        }
    }
    if a.pull == "always" {
        super::registry::pull_image(client, &a.image, false, true).await?;
    }
    let resp: Result<CreateResponse, _> = client.post_json(&path, &request).await;
    match resp {
        Ok(r) => Ok(r.id),
        Err(ClientError::Api {
            status: 404,
            message,
        }) if message.starts_with("No such image") && a.pull == "missing" => {
            // Docker's order: say so, pull (progress on stderr, stdout is the container's),
            // then create again.
            eprintln!("Unable to find image '{}' locally", familiar(&a.image));
            super::registry::pull_image(client, &a.image, false, true).await?;
            let r: CreateResponse = client.post_json(&path, &request).await?;
            Ok(r.id)
        }
        Err(e) => Err(e),
    }
}

/// `--security-opt`, as the docker CLI sends it: a seccomp profile named by a file goes to
/// the daemon as the file's contents.
fn security_opts(opts: &[String]) -> Result<Vec<String>, String> {
    opts.iter()
        .map(|o| {
            let profile = o
                .strip_prefix("seccomp=")
                .or_else(|| o.strip_prefix("seccomp:"));
            match profile {
                Some(p) if p != "unconfined" => {
                    let json = std::fs::read_to_string(p)
                        .map_err(|e| format!("opening seccomp profile ({p}) failed: {e}"))?;
                    Ok(format!("seccomp={json}"))
                }
                _ => Ok(o.clone()),
            }
        })
        .collect()
}

fn familiar(image: &str) -> String {
    match crate::image::reference::Reference::parse(image) {
        Ok(r) => r.familiar(),
        Err(_) => image.to_string(),
    }
}

pub async fn create(client: &Client, a: RunArgs) -> i32 {
    match create_container(client, &a).await {
        Ok(id) => {
            println!("{id}");
            0
        }
        Err(e) => run_failure(&e),
    }
}

pub async fn run(client: &Client, a: RunArgs) -> i32 {
    if let Err(e) = client.ping().await {
        return run_failure(&e);
    }
    if !a.detach {
        if let Err(e) = super::session::check_terminal(a.tty, a.interactive) {
            eprintln!("berth: {e}");
            return 1;
        }
    }
    let id = match create_container(client, &a).await {
        Ok(id) => id,
        Err(e) => return run_failure(&e),
    };
    if a.detach {
        return match client.post_empty(&format!("/containers/{id}/start")).await {
            Ok(_) => {
                println!("{id}");
                0
            }
            Err(e) => run_failure(&e),
        };
    }

    let conn = match client
        .attach(&id, a.interactive, a.detach_keys.as_deref())
        .await
    {
        Ok(c) => c,
        Err(e) => return run_failure(&e),
    };
    let condition = if a.rm { "removed" } else { "next-exit" };
    let wait_resp = match client
        .request(
            Method::POST,
            &format!("/containers/{id}/wait?condition={condition}"),
            None,
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return run_failure(&e),
    };
    let session = super::session::Session {
        client,
        stdin: a.interactive,
        tty: a.tty,
        resize_path: format!("/containers/{id}/resize"),
    };
    let raw = session.raw_mode();
    if let Err(e) = client.post_empty(&format!("/containers/{id}/start")).await {
        drop(raw);
        return run_failure(&e);
    }
    let pumped = session.pump(conn).await;
    drop(raw);
    if let Err(e) = pumped {
        eprintln!("berth: reading the container's output: {e}");
    }
    if a.interactive {
        // Detached with the keys: the container runs on, and so does its wait.
        if let Ok(v) = client
            .get_json::<serde_json::Value>(&format!("/containers/{id}/json"))
            .await
        {
            if v["State"]["Running"].as_bool().unwrap_or(false) {
                return 0;
            }
        }
    }
    let body = match Client::read_body(wait_resp).await {
        Ok(b) => b,
        Err(e) => return report(&e),
    };
    match serde_json::from_slice::<WaitResponse>(&body) {
        Ok(w) => {
            if let Some(err) = w.error {
                eprintln!("berth: {}", err.message);
            }
            w.status_code as i32
        }
        Err(e) => {
            eprintln!("berth: decoding the wait result: {e}");
            125
        }
    }
}

pub async fn start(client: &Client, a: StartCmdArgs) -> i32 {
    if a.attach || a.interactive {
        if a.containers.len() > 1 {
            eprintln!("berth: you cannot start and attach multiple containers at once");
            return 1;
        }
        return attached_session(
            client,
            &a.containers[0],
            a.interactive,
            true,
            a.detach_keys.as_deref(),
        )
        .await;
    }
    let mut failed = Vec::new();
    for c in &a.containers {
        match client.post_empty(&format!("/containers/{c}/start")).await {
            Ok(_) => println!("{c}"),
            Err(e) => {
                eprintln!("{e}");
                failed.push(c.clone());
            }
        }
    }
    if failed.is_empty() {
        0
    } else {
        eprintln!("Error: failed to start containers: {}", failed.join(", "));
        1
    }
}

pub async fn attach(client: &Client, a: AttachArgs) -> i32 {
    attached_session(
        client,
        &a.container,
        !a.no_stdin,
        false,
        a.detach_keys.as_deref(),
    )
    .await
}

/// Attach to a container (starting it first when `start`), copy its output, and feed it our
/// stdin when `stdin` and the container keeps one open. Ends with the container's exit code,
/// or 0 when the detach keys (ctrl-p ctrl-q) left it running.
async fn attached_session(
    client: &Client,
    name: &str,
    stdin: bool,
    start: bool,
    detach_keys: Option<&str>,
) -> i32 {
    let info: serde_json::Value = match client.get_json(&format!("/containers/{name}/json")).await {
        Ok(v) => v,
        Err(e) => return report(&e),
    };
    let id = info["Id"].as_str().unwrap_or(name).to_string();
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let running = info["State"]["Running"].as_bool().unwrap_or(false);
    if !start && !running {
        eprintln!("You cannot attach to a stopped container, start it first");
        return 1;
    }
    let stdin = stdin && info["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    if let Err(e) = super::session::check_terminal(tty, stdin) {
        eprintln!("berth: {e}");
        return 1;
    }
    let conn = match client.attach(&id, stdin, detach_keys).await {
        Ok(c) => c,
        Err(e) => return report(&e),
    };
    let session = super::session::Session {
        client,
        stdin,
        tty,
        resize_path: format!("/containers/{id}/resize"),
    };
    let raw = session.raw_mode();
    if start {
        if let Err(e) = client.post_empty(&format!("/containers/{id}/start")).await {
            drop(raw);
            return report(&e);
        }
    }
    let pumped = session.pump(conn).await;
    drop(raw);
    if let Err(e) = pumped {
        eprintln!("berth: reading the container's output: {e}");
    }
    let after: serde_json::Value = match client.get_json(&format!("/containers/{id}/json")).await {
        Ok(v) => v,
        Err(e) => return report(&e),
    };
    if after["State"]["Running"].as_bool().unwrap_or(false) {
        // Detached with the keys: the container runs on.
        return 0;
    }
    let waited: Result<WaitResponse, _> = client
        .post_json(&format!("/containers/{id}/wait"), &serde_json::json!({}))
        .await;
    match waited {
        Ok(w) => w.status_code as i32,
        Err(e) => report(&e),
    }
}

/// The COMMAND column: quoted, cut to 20 characters with an ellipsis unless --no-trunc.
pub fn command_cell(cmd: &str, no_trunc: bool) -> String {
    let chars: Vec<char> = cmd.chars().collect();
    let shown = if no_trunc || chars.len() <= 20 {
        cmd.to_string()
    } else {
        format!("{}…", chars[..19].iter().collect::<String>())
    };
    // Go's strconv.Quote, which JSON string quoting matches for printable text.
    serde_json::to_string(&shown).unwrap_or(shown)
}

/// Docker's default `ps` table (with SIZE last under `-s`), built from the same fields as
/// `--format`.
pub fn ps_table(rows: &[ContainerSummary], no_trunc: bool, size: bool, now: i64) -> String {
    let mut columns = vec![
        ("CONTAINER ID", "ID"),
        ("IMAGE", "Image"),
        ("COMMAND", "Command"),
        ("CREATED", "RunningFor"),
        ("STATUS", "Status"),
        ("PORTS", "Ports"),
        ("NAMES", "Names"),
    ];
    if size {
        columns.push(("SIZE", "Size"));
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|c| {
            let ctx = ps_context(c, no_trunc, now);
            columns
                .iter()
                .map(|(_, key)| ctx[key].as_str().unwrap_or("").to_string())
                .collect()
        })
        .collect();
    let headers: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
    table::render(&headers, &cells)
}

/// The fields `ps --format` offers, as docker names them.
pub fn ps_context(c: &ContainerSummary, no_trunc: bool, now: i64) -> serde_json::Value {
    let created = std::time::Duration::from_secs((now - c.created).max(0) as u64);
    let labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    serde_json::json!({
        "ID": if no_trunc { c.id.clone() } else { c.id[..12.min(c.id.len())].to_string() },
        "Image": c.image,
        "Command": command_cell(&c.command, no_trunc),
        "CreatedAt": chrono::DateTime::from_timestamp(c.created, 0).map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()).unwrap_or_default(),
        "RunningFor": format!("{} ago", human_duration(created)),
        "Ports": ports_cell(&c.ports),
        "State": c.state,
        "Status": c.status,
        "Size": size_cell(c),
        "Names": c.names.iter().map(|n| n.trim_start_matches('/')).collect::<Vec<_>>().join(","),
        "Labels": labels.join(","),
        "Mounts": "",
        "Networks": "bridge",
    })
}

/// Docker's PORTS cell: `0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp`.
fn ports_cell(ports: &[serde_json::Value]) -> String {
    let mut cells: Vec<String> = ports
        .iter()
        .map(|p| match p["PublicPort"].as_u64() {
            Some(public) => format!(
                "{}:{}->{}/{}",
                p["IP"].as_str().unwrap_or("0.0.0.0"),
                public,
                p["PrivatePort"],
                p["Type"].as_str().unwrap_or("tcp")
            ),
            None => format!(
                "{}/{}",
                p["PrivatePort"],
                p["Type"].as_str().unwrap_or("tcp")
            ),
        })
        .collect();
    cells.sort();
    cells.join(", ")
}

fn size_cell(c: &ContainerSummary) -> String {
    match (c.size_rw, c.size_root_fs) {
        (Some(rw), Some(root)) => format!(
            "{} (virtual {})",
            crate::util::human::human_size(rw),
            crate::util::human::human_size(root)
        ),
        _ => String::new(),
    }
}

/// Translate `-f key=value` flags into the API's filters JSON.
pub fn filters_json(flags: &[String]) -> Result<String, String> {
    let mut map: std::collections::BTreeMap<String, std::collections::BTreeMap<String, bool>> =
        Default::default();
    for f in flags {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| format!("bad format of filter (expected name=value): {f}"))?;
        map.entry(k.to_string())
            .or_default()
            .insert(v.to_string(), true);
    }
    Ok(serde_json::to_string(&map).unwrap_or_default())
}

pub async fn ps(client: &Client, a: PsArgs) -> i32 {
    let mut query = Vec::new();
    if a.all {
        query.push("all=1".to_string());
    }
    let limit = if a.latest { Some(1) } else { a.last };
    if let Some(n) = limit {
        query.push(format!("limit={n}"));
    }
    if a.size {
        query.push("size=1".to_string());
    }
    if !a.filters.is_empty() {
        match filters_json(&a.filters) {
            Ok(j) => query.push(format!(
                "filters={}",
                url::form_urlencoded::byte_serialize(j.as_bytes()).collect::<String>()
            )),
            Err(e) => {
                eprintln!("{e}");
                return 125;
            }
        }
    }
    let path = format!("/containers/json?{}", query.join("&"));
    let rows: Vec<ContainerSummary> = match client.get_json(&path).await {
        Ok(r) => r,
        Err(e) => return report(&e),
    };
    if a.quiet {
        for c in rows {
            println!(
                "{}",
                if a.no_trunc {
                    &c.id[..]
                } else {
                    &c.id[..12.min(c.id.len())]
                }
            );
        }
        return 0;
    }
    let now = chrono::Utc::now().timestamp();
    if let Some(format) = &a.format {
        let contexts: Vec<serde_json::Value> = rows
            .iter()
            .map(|c| ps_context(c, a.no_trunc, now))
            .collect();
        let header = serde_json::json!({
            "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
            "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
            "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
        });
        return match super::template::format_rows(format, &contexts, &header) {
            Ok(out) => {
                print!("{out}");
                0
            }
            Err(e) => {
                eprintln!("{e}");
                125
            }
        };
    }
    print!("{}", ps_table(&rows, a.no_trunc, a.size, now));
    0
}

pub async fn rm(client: &Client, a: RmArgs) -> i32 {
    let mut code = 0;
    for c in &a.containers {
        let path = format!("/containers/{c}{}", if a.force { "?force=1" } else { "" });
        match client.delete(&path).await {
            Ok(()) => println!("{c}"),
            Err(e) => {
                code = report(&e);
            }
        }
    }
    code
}

pub async fn kill(client: &Client, a: KillArgs) -> i32 {
    let mut code = 0;
    let sig: String = url::form_urlencoded::byte_serialize(a.signal.as_bytes()).collect();
    for c in &a.containers {
        match client
            .post_empty(&format!("/containers/{c}/kill?signal={sig}"))
            .await
        {
            Ok(_) => println!("{c}"),
            Err(e) => code = report(&e),
        }
    }
    code
}

pub async fn stop(client: &Client, a: StopArgs, verb: &str) -> i32 {
    let mut query = Vec::new();
    if let Some(t) = a.time {
        query.push(format!("t={t}"));
    }
    if let Some(s) = &a.signal {
        query.push(format!(
            "signal={}",
            url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
        ));
    }
    let q = if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    };
    let mut code = 0;
    for c in &a.containers {
        match client
            .post_empty(&format!("/containers/{c}/{verb}{q}"))
            .await
        {
            Ok(_) => println!("{c}"),
            Err(e) => code = report(&e),
        }
    }
    code
}

/// POST `/containers/{c}/{verb}` for each container, printing its name as docker does.
pub async fn for_each(client: &Client, containers: &[String], verb: &str) -> i32 {
    let mut code = 0;
    for c in containers {
        match client.post_empty(&format!("/containers/{c}/{verb}")).await {
            Ok(_) => println!("{c}"),
            Err(e) => code = report(&e),
        }
    }
    code
}

pub async fn update(client: &Client, a: UpdateArgs) -> i32 {
    let mut body = match resource_fields(&a.resources) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return 125;
        }
    };
    if let Some(r) = &a.restart {
        body.insert("RestartPolicy".into(), serde_json::json!(restart_policy(r)));
    }
    let mut code = 0;
    for c in &a.containers {
        let r: Result<serde_json::Value, _> = client
            .post_json(&format!("/containers/{c}/update"), &body)
            .await;
        match r {
            Ok(_) => println!("{c}"),
            Err(e) => code = report(&e),
        }
    }
    code
}

pub async fn top(client: &Client, a: TopArgs) -> i32 {
    let args = a.ps_args.join(" ");
    let q: String = url::form_urlencoded::byte_serialize(args.as_bytes()).collect();
    let v: serde_json::Value = match client
        .get_json(&format!("/containers/{}/top?ps_args={q}", a.container))
        .await
    {
        Ok(v) => v,
        Err(e) => return report(&e),
    };
    print!("{}", top_table(&v));
    0
}

/// `top`'s table from the API's `{"Titles": [...], "Processes": [[...], ...]}`.
pub fn top_table(v: &serde_json::Value) -> String {
    let titles: Vec<&str> = v["Titles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str())
        .collect();
    let rows: Vec<Vec<String>> = v["Processes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            r.as_array()
                .into_iter()
                .flatten()
                .map(|f| f.as_str().unwrap_or("").to_string())
                .collect()
        })
        .collect();
    table::render(&titles, &rows)
}

pub async fn prune(client: &Client, a: PruneArgs) -> i32 {
    if !a.force {
        use std::io::Write;
        print!("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return 0;
        }
    }
    let v: serde_json::Value = match client
        .post_json("/containers/prune", &serde_json::json!({}))
        .await
    {
        Ok(v) => v,
        Err(e) => return report(&e),
    };
    let ids: Vec<&str> = v["ContainersDeleted"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i.as_str())
        .collect();
    if !ids.is_empty() {
        println!("Deleted Containers:");
        for id in ids {
            println!("{id}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        crate::util::human::human_size(v["SpaceReclaimed"].as_i64().unwrap_or(0))
    );
    0
}

pub async fn exec(client: &Client, a: ExecArgs) -> i32 {
    let config = crate::api::types::ExecConfig {
        attach_stdin: a.interactive && !a.detach,
        attach_stdout: !a.detach,
        attach_stderr: !a.detach,
        tty: a.tty,
        env: if a.env.is_empty() {
            None
        } else {
            Some(a.env.clone())
        },
        cmd: a.command.clone(),
        working_dir: a.workdir.clone().unwrap_or_default(),
        user: a.user.clone().unwrap_or_default(),
        privileged: a.privileged,
        detach_keys: a.detach_keys.clone().unwrap_or_default(),
        console_size: None,
    };
    if !a.detach {
        if let Err(e) = super::session::check_terminal(a.tty, a.interactive) {
            eprintln!("berth: {e}");
            return 1;
        }
    }
    let created: Result<serde_json::Value, _> = client
        .post_json(&format!("/containers/{}/exec", a.container), &config)
        .await;
    let id = match created {
        Ok(v) => v["Id"].as_str().unwrap_or_default().to_string(),
        Err(e) => return report(&e),
    };
    let mut start = serde_json::json!({ "Detach": a.detach, "Tty": a.tty });
    if a.tty {
        if let Some(size) = super::session::console_size() {
            start["ConsoleSize"] = serde_json::json!(size);
        }
    }
    if a.detach {
        let body = serde_json::to_vec(&start).unwrap_or_default();
        return match client
            .request(Method::POST, &format!("/exec/{id}/start"), Some(body))
            .await
        {
            Ok(_) => 0,
            Err(e) => report(&e),
        };
    }
    let conn = match client
        .exec_attach(&id, &serde_json::to_vec(&start).unwrap_or_default())
        .await
    {
        Ok(c) => c,
        Err(e) => return report(&e),
    };
    let session = super::session::Session {
        client,
        stdin: a.interactive,
        tty: a.tty,
        resize_path: format!("/exec/{id}/resize"),
    };
    let raw = session.raw_mode();
    let pumped = session.pump(conn).await;
    drop(raw);
    if let Err(e) = pumped {
        eprintln!("berth: reading the exec's output: {e}");
    }
    match client
        .get_json::<serde_json::Value>(&format!("/exec/{id}/json"))
        .await
    {
        Ok(v) => v["ExitCode"].as_i64().unwrap_or(126) as i32,
        Err(e) => report(&e),
    }
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    pub container: String,
}

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change")]
    pub changes: Vec<String>,
    /// Commit message
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short = 'p', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub pause: bool,
    pub container: String,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    pub output: Option<std::path::PathBuf>,
    pub container: String,
}

/// `diff`: Docker's A/C/D lines.
pub async fn diff(client: &Client, a: DiffArgs) -> i32 {
    let v: Vec<serde_json::Value> = match client
        .get_json(&format!("/containers/{}/changes", a.container))
        .await
    {
        Ok(v) => v,
        Err(e) => return report(&e),
    };
    for c in v {
        let kind = match c["Kind"].as_u64() {
            Some(0) => "C",
            Some(1) => "A",
            _ => "D",
        };
        println!("{kind} {}", c["Path"].as_str().unwrap_or(""));
    }
    0
}

pub async fn commit(client: &Client, a: CommitArgs) -> i32 {
    let mut q: Vec<(String, String)> = vec![
        ("container".into(), a.container.clone()),
        ("pause".into(), a.pause.to_string()),
    ];
    if let Some(r) = &a.reference {
        match crate::image::reference::Reference::parse(r) {
            Ok(parsed) => {
                q.push(("repo".into(), parsed.familiar_name()));
                q.push(("tag".into(), parsed.tag().unwrap_or("latest").to_string()));
            }
            Err(e) => {
                eprintln!("berth: invalid reference format: {r}: {e}");
                return 125;
            }
        }
    }
    if let Some(m) = &a.message {
        q.push(("comment".into(), m.clone()));
    }
    if let Some(au) = &a.author {
        q.push(("author".into(), au.clone()));
    }
    for c in &a.changes {
        q.push(("changes".into(), c.clone()));
    }
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(q)
        .finish();
    let r: Result<serde_json::Value, _> = client
        .post_json(&format!("/commit?{query}"), &serde_json::json!({}))
        .await;
    match r {
        Ok(v) => {
            println!("{}", v["Id"].as_str().unwrap_or(""));
            0
        }
        Err(e) => report(&e),
    }
}

pub async fn export(client: &Client, a: ExportArgs) -> i32 {
    use std::io::IsTerminal;
    if a.output.is_none() && std::io::stdout().is_terminal() {
        eprintln!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
        return 1;
    }
    let resp = match client
        .request(
            Method::GET,
            &format!("/containers/{}/export", a.container),
            None,
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return report(&e),
    };
    super::download::tar_to(resp, a.output.as_deref()).await
}

/// `port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's published ports, from inspect.
pub async fn port(client: &Client, a: PortArgs) -> i32 {
    let info: serde_json::Value = match client
        .get_json(&format!("/containers/{}/json", a.container))
        .await
    {
        Ok(v) => v,
        Err(e) => return report(&e),
    };
    let ports = info["NetworkSettings"]["Ports"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let lines_of = |key: &str, with_key: bool| -> Vec<String> {
        ports
            .get(key)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .map(|b| {
                let host = format!(
                    "{}:{}",
                    b["HostIp"].as_str().unwrap_or(""),
                    b["HostPort"].as_str().unwrap_or("")
                );
                if with_key {
                    format!("{key} -> {host}")
                } else {
                    host
                }
            })
            .collect()
    };
    match &a.private_port {
        None => {
            for key in ports.keys() {
                for line in lines_of(key, true) {
                    println!("{line}");
                }
            }
            0
        }
        Some(p) => {
            let key = if p.contains('/') {
                p.clone()
            } else {
                format!("{p}/tcp")
            };
            let lines = lines_of(&key, false);
            if lines.is_empty() {
                eprintln!(
                    "Error: No public port '{key}' published for {}",
                    a.container
                );
                return 1;
            }
            for line in lines {
                println!("{line}");
            }
            0
        }
    }
}

pub async fn wait(client: &Client, a: StartArgs) -> i32 {
    let mut code = 0;
    for c in &a.containers {
        let r: Result<WaitResponse, _> = client
            .post_json(&format!("/containers/{c}/wait"), &serde_json::json!({}))
            .await;
        match r {
            Ok(w) => println!("{}", w.status_code),
            Err(e) => code = report(&e),
        }
    }
    code
}

pub async fn rename(client: &Client, a: RenameArgs) -> i32 {
    let name: String = url::form_urlencoded::byte_serialize(a.new_name.as_bytes()).collect();
    match client
        .post_empty(&format!("/containers/{}/rename?name={name}", a.container))
        .await
    {
        Ok(_) => 0,
        Err(e) => report(&e),
    }
}

/// `--since`/`--until` as the docker CLI sends them: a unix time, from RFC 3339, a unix
/// time given as such, or a duration back from now (`10s`, `5m`, `2h`).
pub fn to_unix_time(value: &str, now: chrono::DateTime<chrono::Utc>) -> Result<String, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(format!(
            "{}.{:09}",
            t.timestamp(),
            t.timestamp_subsec_nanos()
        ));
    }
    if value.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !value.is_empty() {
        return Ok(value.to_string());
    }
    let (num, unit) = value.split_at(
        value
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(value.len()),
    );
    let n: i64 = num
        .parse()
        .map_err(|_| format!("invalid time value {value:?}"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("invalid time value {value:?}")),
    };
    let t = now - chrono::Duration::seconds(secs);
    Ok(format!(
        "{}.{:09}",
        t.timestamp(),
        t.timestamp_subsec_nanos()
    ))
}

pub async fn logs(client: &Client, a: LogsArgs) -> i32 {
    use http_body_util::BodyExt;
    let info: serde_json::Value = match client
        .get_json(&format!("/containers/{}/json", a.container))
        .await
    {
        Ok(v) => v,
        Err(e) => return report(&e),
    };
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let mut q = format!(
        "stdout=1&stderr=1&tail={}",
        url::form_urlencoded::byte_serialize(a.tail.as_bytes()).collect::<String>()
    );
    if a.follow {
        q.push_str("&follow=1");
    }
    if a.timestamps {
        q.push_str("&timestamps=1");
    }
    for (key, value) in [("since", &a.since), ("until", &a.until)] {
        if let Some(v) = value {
            match to_unix_time(v, chrono::Utc::now()) {
                Ok(t) => q.push_str(&format!("&{key}={t}")),
                Err(e) => {
                    eprintln!("berth: {e}");
                    return 1;
                }
            }
        }
    }
    let id = info["Id"].as_str().unwrap_or(&a.container).to_string();
    let resp = match client
        .request(Method::GET, &format!("/containers/{id}/logs?{q}"), None)
        .await
    {
        Ok(r) => r,
        Err(e) => return report(&e),
    };
    let mut body = resp.into_body();
    let mut dec = stream::Decoder::default();
    let mut out = tokio::io::stdout();
    let mut err = tokio::io::stderr();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        let Some(data) = frame.data_ref() else {
            continue;
        };
        if tty {
            let _ = out.write_all(data).await;
            continue;
        }
        dec.push(data);
        while let Some((s, payload)) = dec.next_frame() {
            let _ = if s == stream::STDERR {
                err.write_all(&payload).await
            } else {
                out.write_all(&payload).await
            };
        }
    }
    let _ = out.flush().await;
    let _ = err.flush().await;
    0
}

/// Go's json.MarshalIndent with four spaces, as `docker inspect` prints.
pub fn indent_json(v: &serde_json::Value) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(v, &mut ser).expect("JSON values serialize");
    String::from_utf8(out).expect("JSON is UTF-8")
}

pub async fn inspect(client: &Client, a: InspectArgs) -> i32 {
    let mut found = Vec::new();
    let mut code = 0;
    for name in &a.names {
        let as_container: Result<serde_json::Value, _> =
            client.get_json(&format!("/containers/{name}/json")).await;
        match as_container {
            Ok(v) => found.push(v),
            Err(ClientError::Api { status: 404, .. }) => {
                match client
                    .get_json::<serde_json::Value>(&format!("/images/{name}/json"))
                    .await
                {
                    Ok(v) => found.push(v),
                    Err(ClientError::Api { status: 404, .. }) => {
                        code = 1;
                        eprintln!("Error: No such object: {name}");
                    }
                    Err(e) => code = report(&e),
                }
            }
            Err(e) => code = report(&e),
        }
    }
    match &a.format {
        None => println!("{}", indent_json(&serde_json::Value::Array(found))),
        Some(format) => {
            let format = format.replace("\\t", "\t").replace("\\n", "\n");
            let t = match super::template::Template::parse(&format) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("{e}");
                    return 125;
                }
            };
            for v in &found {
                match t.render(v) {
                    Ok(line) => println!("{line}"),
                    Err(e) => {
                        eprintln!("{e}");
                        code = 1;
                    }
                }
            }
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("failed to create task for container: exec: \"nosuch\": executable file not found in $PATH: unknown", 127)]
    #[case("exec: \"/nope\": stat /nope: no such file or directory", 127)]
    #[case("exec: \"/etc/passwd\": permission denied", 126)]
    #[case("exec: \"/etc\": is a directory", 126)]
    #[case("unable to find user nosuch: no matching entries in passwd file", 125)]
    fn start_errors_map_to_docker_exit_codes(#[case] msg: &str, #[case] code: i32) {
        assert_eq!(start_error_code(msg), code);
    }

    #[test]
    fn command_cell_truncates_like_docker() {
        assert_eq!(command_cell("sleep 1000", false), "\"sleep 1000\"");
        assert_eq!(
            command_cell("sh -c 'echo started; sleep 100'", false),
            "\"sh -c 'echo started…\""
        );
        assert_eq!(
            command_cell("sh -c 'echo started; sleep 100'", true),
            "\"sh -c 'echo started; sleep 100'\""
        );
    }

    #[test]
    fn top_table_snapshot() {
        let ps = "UID          PID    PPID  C STIME TTY          TIME CMD\n\
                  root      4242    4200  0 09:16 ?        00:00:00 sleep 100\n\
                  root      4300    4242  0 09:16 ?        00:00:00 sh -c echo hi; sleep 5\n\
                  root       999       1  0 08:00 ?        00:00:01 /usr/sbin/sshd -D\n";
        let v = crate::daemon::top::parse_ps(ps, &[4242, 4300]).unwrap();
        insta::assert_snapshot!(top_table(&v));
    }

    #[test]
    fn ps_table_snapshot() {
        let row = ContainerSummary {
            id: "37fae9751937ccdf21e150a88e1974235ef93f443a066732730306dd87c4799f".into(),
            names: vec!["/s16".into()],
            image: "busybox".into(),
            command: "sleep 1000".into(),
            created: 1000,
            status: "Up 2 seconds".into(),
            ..Default::default()
        };
        insta::assert_snapshot!(ps_table(&[row], false, false, 1003));
    }
}
