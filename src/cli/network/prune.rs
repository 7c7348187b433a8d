//! `network prune`: after docker's y/N prompt (skipped with `-f`), `POST /networks/prune` with
//! the `--filter`s (until, label; the daemon checks them) as the API's `filters` JSON, then
//! the names of the networks removed under `Deleted Networks:`. Answering no is not an error.

use crate::api::client::Client;
use crate::wire::network::NetworkPruneResponse;
use clap::Args;

#[derive(Args, Debug, Clone, Default)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_parser = super::ls::filter_flag)]
    pub filters: Vec<String>,
}

pub const WARNING: &str = "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?";

/// What docker prints for the answer: nothing when nothing went.
pub fn report(r: &NetworkPruneResponse) -> String {
    match r.networks_deleted.as_deref() {
        Some(names) if !names.is_empty() => {
            let mut out = "Deleted Networks:\n".to_string();
            for n in names {
                out.push_str(n);
                out.push('\n');
            }
            out.push('\n');
            out
        }
        _ => String::new(),
    }
}

pub async fn prune(client: &Client, a: PruneArgs) -> i32 {
    let path = match super::with_filters("/networks/prune", &a.filters) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 125;
        }
    };
    if !a.force && !super::confirm(WARNING) {
        return 0;
    }
    let resp = match client.request(hyper::Method::POST, &path, None).await {
        Ok(r) => r,
        Err(e) => return super::fail(&e),
    };
    let body = match Client::read_body(resp).await {
        Ok(b) => b,
        Err(e) => return super::fail(&e),
    };
    match serde_json::from_slice::<NetworkPruneResponse>(&body) {
        Ok(r) => {
            print!("{}", report(&r));
            0
        }
        Err(e) => {
            eprintln!("berth: decoding the daemon's prune answer: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_is_dockers() {
        let r = NetworkPruneResponse {
            networks_deleted: Some(vec!["n1".into(), "n2".into()]),
        };
        assert_eq!(report(&r), "Deleted Networks:\nn1\nn2\n\n");
        assert_eq!(report(&NetworkPruneResponse::default()), "");
    }
}
