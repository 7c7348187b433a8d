//! `start` and `attach`: join an existing container's streams to this terminal. `start -a` or
//! `-i` attaches before it starts the container, as docker does, so no early output is lost;
//! both end with the container's exit code, or 0 when the detach keys left it running.

use crate::api::client::Client;
use crate::cli::report;
use crate::wire::types::WaitResponse;
use clap::Args;

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
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    pub container: String,
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
            crate::cli::config::detach_keys(a.detach_keys.as_deref()).as_deref(),
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
        crate::cli::config::detach_keys(a.detach_keys.as_deref()).as_deref(),
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
    if let Err(e) = crate::cli::session::check_terminal(tty, stdin) {
        eprintln!("berth: {e}");
        return 1;
    }
    let conn = match client.attach(&id, stdin, detach_keys).await {
        Ok(c) => c,
        Err(e) => return report(&e),
    };
    let session = crate::cli::session::Session {
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
