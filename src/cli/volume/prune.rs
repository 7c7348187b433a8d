//! `volume prune`: after docker's y/N prompt (skipped with `-f`), `POST /volumes/prune` with
//! the `--filter`s as the API's `filters` JSON, then the names removed under
//! `Deleted Volumes:` and the space reclaimed. From API 1.42 the daemon removes only anonymous
//! volumes unless asked for all, which docker's client asks as the filter `all=true`; older
//! daemons remove every unused volume, and the prompt says so. Answering no is not an error.

use crate::api::client::Client;
use crate::cli::network::{confirm, fail, filter_flag, with_filters};
use crate::util::human::human_size_with_precision;
use crate::wire::volume::VolumePruneResponse;
use clap::Args;

#[derive(Args, Debug, Clone, Default)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "label=<label>")
    #[arg(long = "filter", value_parser = filter_flag)]
    pub filters: Vec<String>,
}

pub const ANONYMOUS_WARNING: &str = "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?";
pub const ALL_WARNING: &str = "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?";

/// The filters to send and the question to ask, at `api_version`, as docker's `runPrune`
/// chooses them.
pub fn plan(a: &PruneArgs, api_version: &str) -> Result<(Vec<String>, &'static str), String> {
    let mut filters = a.filters.clone();
    if crate::cli::api_below(api_version, (1, 42)) {
        return Ok((filters, ALL_WARNING));
    }
    if !a.all {
        return Ok((filters, ANONYMOUS_WARNING));
    }
    if filters
        .iter()
        .any(|f| f.split_once('=').is_some_and(|(k, _)| k == "all"))
    {
        return Err("conflicting options: cannot specify both --all and --filter all=1".into());
    }
    filters.push("all=true".into());
    Ok((filters, ALL_WARNING))
}

/// What docker prints for the daemon's answer; the space counts only when something went.
pub fn report(r: &VolumePruneResponse) -> String {
    let mut out = String::new();
    let mut reclaimed = 0;
    if !r.volumes_deleted.is_empty() {
        out.push_str("Deleted Volumes:\n");
        for v in &r.volumes_deleted {
            out.push_str(v);
            out.push('\n');
        }
        out.push('\n');
        reclaimed = r.space_reclaimed;
    }
    let size = human_size_with_precision(i64::try_from(reclaimed).unwrap_or(i64::MAX), 4);
    out.push_str(&format!("Total reclaimed space: {size}\n"));
    out
}

pub async fn prune(client: &Client, a: PruneArgs) -> i32 {
    let (filters, warning) = match plan(&a, client.api_version()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let path = match with_filters("/volumes/prune", &filters) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 125;
        }
    };
    if !a.force && !confirm(warning) {
        return 0;
    }
    let resp = match client.request(hyper::Method::POST, &path, None).await {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let body = match Client::read_body(resp).await {
        Ok(b) => b,
        Err(e) => return fail(&e),
    };
    match serde_json::from_slice::<VolumePruneResponse>(&body) {
        Ok(r) => {
            print!("{}", report(&r));
            0
        }
        Err(e) => {
            eprintln!("Error retrieving volume prune report: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(all: bool, filters: &[&str]) -> PruneArgs {
        PruneArgs {
            all,
            filters: filters.iter().map(|f| f.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn all_is_the_filter_all_true_from_api_1_42() {
        let (f, w) = plan(&args(true, &["label=a=b"]), "1.50").unwrap();
        assert_eq!(f, ["label=a=b", "all=true"]);
        assert_eq!(w, ALL_WARNING);
        assert_eq!(
            with_filters("/volumes/prune", &f).unwrap(),
            "/volumes/prune?filters=%7B%22all%22%3A%7B%22true%22%3Atrue%7D%2C%22label%22%3A%7B%22a%3Db%22%3Atrue%7D%7D"
        );
        let (f, w) = plan(&args(false, &[]), "1.50").unwrap();
        assert!(f.is_empty());
        assert_eq!(w, ANONYMOUS_WARNING);
        assert_eq!(
            with_filters("/volumes/prune", &f).unwrap(),
            "/volumes/prune"
        );
    }

    #[test]
    fn older_daemons_prune_everything_and_the_prompt_says_so() {
        let (f, w) = plan(&args(true, &[]), "1.41").unwrap();
        assert!(f.is_empty(), "no all filter below 1.42: {f:?}");
        assert_eq!(w, ALL_WARNING);
        assert_eq!(plan(&args(false, &[]), "1.41").unwrap().1, ALL_WARNING);
    }

    #[test]
    fn all_twice_is_refused() {
        assert_eq!(
            plan(&args(true, &["all=1"]), "1.50").unwrap_err(),
            "conflicting options: cannot specify both --all and --filter all=1"
        );
        assert!(plan(&args(false, &["all=1"]), "1.50").is_ok());
    }

    #[test]
    fn the_report_is_dockers() {
        let r = VolumePruneResponse {
            volumes_deleted: vec!["v1".into(), "0d5fb2c56f4a".into()],
            space_reclaimed: 1_234_567,
        };
        assert_eq!(
            report(&r),
            "Deleted Volumes:\nv1\n0d5fb2c56f4a\n\nTotal reclaimed space: 1.235MB\n"
        );
        let none = VolumePruneResponse {
            space_reclaimed: 99,
            ..Default::default()
        };
        assert_eq!(report(&none), "Total reclaimed space: 0B\n");
    }
}
