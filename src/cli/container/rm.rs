//! `rm`: remove each named container (with `-f` the daemon kills a running one first, with `-v`
//! it removes the container's anonymous volumes too), printing names as they go and exiting 1
//! if any failed, like docker's, so the rest are still removed.

use crate::api::client::Client;
use crate::cli::report;
use clap::Args;

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    pub volumes: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// The query docker's client sends: its keys sorted, as Go's `url.Values` encodes them.
fn query(a: &RmArgs) -> &'static str {
    match (a.force, a.volumes) {
        (false, false) => "",
        (true, false) => "?force=1",
        (false, true) => "?v=1",
        (true, true) => "?force=1&v=1",
    }
}

pub async fn rm(client: &Client, a: RmArgs) -> i32 {
    let mut code = 0;
    for c in &a.containers {
        let path = format!("/containers/{c}{}", query(&a));
        match client.delete(&path).await {
            Ok(()) => println!("{c}"),
            Err(e) => {
                code = report(&e);
            }
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_go_in_dockers_query() {
        let q = |force, volumes| {
            query(&RmArgs {
                force,
                volumes,
                containers: vec![],
            })
        };
        assert_eq!(q(false, false), "");
        assert_eq!(q(true, false), "?force=1");
        assert_eq!(q(false, true), "?v=1");
        assert_eq!(q(true, true), "?force=1&v=1");
    }
}
