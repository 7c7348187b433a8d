//! `stop`, `restart`, `kill`, `pause` and `unpause`: one request per named container, its name
//! printed when it succeeds. Like the docker CLI we go on past a failure and exit 1 at the end,
//! so one bad name does not spare the others.

use crate::api::client::Client;
use crate::cli::report;
use clap::Args;

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
