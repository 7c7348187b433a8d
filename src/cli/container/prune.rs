//! `container prune`: remove every stopped container after docker's y/N prompt (skipped with
//! `-f`), then list what went and the space reclaimed, in docker's words.

use crate::api::client::Client;
use crate::cli::report;
use clap::Args;

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
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
