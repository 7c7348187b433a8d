//! `exec`: create an exec instance, then start it detached (`-d`) or over a hijacked session.
//! As with docker, the exit code is the process's own, read back from the exec's inspect once
//! the stream ends, because the stream itself carries no status.

use crate::api::client::Client;
use crate::cli::report;
use clap::Args;
use hyper::Method;

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

pub async fn exec(client: &Client, a: ExecArgs) -> i32 {
    let config = crate::wire::types::ExecConfig {
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
        detach_keys: crate::cli::config::detach_keys(a.detach_keys.as_deref()).unwrap_or_default(),
        console_size: None,
    };
    if !a.detach {
        if let Err(e) = crate::cli::session::check_terminal(a.tty, a.interactive) {
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
        if let Some(size) = crate::cli::session::console_size() {
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
    let session = crate::cli::session::Session {
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
        // Still running: the detach keys ended the session and the exec runs on. The docker
        // CLI spots the keys itself on a terminal and fails with its escape error; without
        // one the daemon spots them and the null exit code reads as 0.
        Ok(v) if v["Running"].as_bool() == Some(true) => {
            if a.tty && a.interactive {
                eprintln!("read escape sequence");
                1
            } else {
                0
            }
        }
        Ok(v) => v["ExitCode"].as_i64().unwrap_or(126) as i32,
        Err(e) => report(&e),
    }
}
