//! `berth-runc list`: the containers under --root, as runc's table or JSON.

use super::Globals;
use crate::runtime::oci::state::{self, Container};
use anyhow::bail;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// table or json.
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// Only the ids.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(g: &Globals, a: &Args) -> anyhow::Result<i32> {
    let containers: Vec<Container> = state::list(&g.root)
        .iter()
        .filter_map(|id| Container::load(&g.root, id).ok())
        .collect();
    if a.quiet {
        for c in &containers {
            println!("{}", c.id);
        }
        return Ok(0);
    }
    match a.format.as_str() {
        "json" => {
            let all: Vec<serde_json::Value> = containers
                .iter()
                .map(|c| c.oci_state(c.status(&g.root)))
                .collect();
            println!("{}", serde_json::to_string(&all)?);
        }
        "table" => {
            let mut rows = Vec::new();
            for c in &containers {
                let status = c.status(&g.root);
                let pid = if status == state::Status::Stopped {
                    0
                } else {
                    c.pid
                };
                rows.push(vec![
                    c.id.clone(),
                    pid.to_string(),
                    status.as_str().to_string(),
                    c.bundle.display().to_string(),
                    c.created.clone(),
                    "root".to_string(),
                ]);
            }
            let headers = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"];
            print!("{}", crate::cli::table::render(&headers, &rows));
        }
        other => bail!("invalid format option {other:?}: table or json"),
    }
    Ok(0)
}
