//! `top`: the daemon runs `ps` (with the options given) for the container's processes and
//! answers titles and rows; we print them in docker's padded table, as `docker top` does.

use crate::api::client::Client;
use crate::cli::{report, table};
use clap::Args;

#[derive(Args, Debug)]
pub struct TopArgs {
    pub container: String,
    /// Options passed to ps (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub async fn top(client: &Client, a: TopArgs) -> i32 {
    let args = a.ps_args.join(" ");
    let q: String = url::form_urlencoded::byte_serialize(args.as_bytes()).collect();
    let v: serde_json::Value = match client
        .get_json(&format!("/containers/{}/top?ps_args={q}", a.container))
        .await
    {
        Ok(v) => v,
        Err(e) => return report(&e),
    };
    print!("{}", top_table(&v));
    0
}

/// `top`'s table from the API's `{"Titles": [...], "Processes": [[...], ...]}`.
pub fn top_table(v: &serde_json::Value) -> String {
    let titles: Vec<&str> = v["Titles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str())
        .collect();
    let rows: Vec<Vec<String>> = v["Processes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            r.as_array()
                .into_iter()
                .flatten()
                .map(|f| f.as_str().unwrap_or("").to_string())
                .collect()
        })
        .collect();
    table::render(&titles, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_table_snapshot() {
        let ps = "UID          PID    PPID  C STIME TTY          TIME CMD\n\
                  root      4242    4200  0 09:16 ?        00:00:00 sleep 100\n\
                  root      4300    4242  0 09:16 ?        00:00:00 sh -c echo hi; sleep 5\n\
                  root       999       1  0 08:00 ?        00:00:01 /usr/sbin/sshd -D\n";
        let v = crate::daemon::top::parse_ps(ps, &[4242, 4300]).unwrap();
        insta::assert_snapshot!(top_table(&v));
    }
}
