//! `update`: new resource limits or restart policy for existing containers, sent as the same
//! fields `run` sends (the translation is in `opts`), so a limit reads back the same however
//! it was set.

use super::opts::{resource_fields, restart_policy, ResourceArgs};
use crate::api::client::Client;
use crate::cli::report;
use clap::Args;

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
