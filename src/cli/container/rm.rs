//! `rm`: remove each named container (with `-f` the daemon kills a running one first), printing
//! names as they go and exiting 1 if any failed, like docker's, so the rest are still removed.

use crate::api::client::Client;
use crate::cli::report;
use clap::Args;

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
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
