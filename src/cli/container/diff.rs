//! `diff`: the container's filesystem changes against its image, in docker's `A`/`C`/`D` lines,
//! so tools that parse `docker diff` read ours.

use crate::api::client::Client;
use crate::cli::report;
use clap::Args;

#[derive(Args, Debug)]
pub struct DiffArgs {
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
