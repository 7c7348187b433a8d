//! `volume rm`: each volume removed in turn and its name printed as given; the ones that fail
//! are reported together once the rest are gone, and the command exits 1, as docker's (which
//! joins its errors) does. `-f` asks the daemon not to mind a volume that is not there.

use crate::api::client::Client;
use crate::cli::network::trim_id;
use clap::Args;

#[derive(Args, Debug, Clone, Default)]
pub struct RmArgs {
    /// Force the removal of one or more volumes
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true, value_name = "VOLUME")]
    pub volumes: Vec<String>,
}

pub async fn rm(client: &Client, a: RmArgs) -> i32 {
    let mut errors = Vec::new();
    for name in &a.volumes {
        let id = match trim_id("volume", name) {
            Ok(id) => id,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let query = if a.force { "?force=1" } else { "" };
        match client.delete(&format!("/volumes/{id}{query}")).await {
            Ok(()) => println!("{name}"),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() {
        return 0;
    }
    eprintln!("{}", errors.join("\n"));
    1
}
