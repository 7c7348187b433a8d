//! `ps`: the container list as docker prints it (the default table, `--format` templates over
//! the same fields, docker's truncation of IDs and commands), so scripts written against
//! `docker ps` read ours. `filters_json` is docker's encoding of `-f key=value`, which `images`
//! and `events` use too.

use crate::api::client::Client;
use crate::cli::{report, table};
use crate::util::human::human_duration;
use crate::wire::types::ContainerSummary;
use clap::Args;

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long)]
    pub last: Option<i64>,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
    /// Filter output based on conditions provided (status=, name=, id=, label=, ancestor=, exited=, health=)
    #[arg(short = 'f', long = "filter")]
    pub filters: Vec<String>,
    /// Format output using a Go template ("table ..." for columns)
    #[arg(long)]
    pub format: Option<String>,
}

/// The COMMAND column: quoted, cut to 20 characters with an ellipsis unless --no-trunc.
pub fn command_cell(cmd: &str, no_trunc: bool) -> String {
    let chars: Vec<char> = cmd.chars().collect();
    let shown = if no_trunc || chars.len() <= 20 {
        cmd.to_string()
    } else {
        format!("{}…", chars[..19].iter().collect::<String>())
    };
    // Go's strconv.Quote, which JSON string quoting matches for printable text.
    serde_json::to_string(&shown).unwrap_or(shown)
}

/// Docker's default `ps` table (with SIZE last under `-s`), built from the same fields as
/// `--format`.
pub fn ps_table(rows: &[ContainerSummary], no_trunc: bool, size: bool, now: i64) -> String {
    let mut columns = vec![
        ("CONTAINER ID", "ID"),
        ("IMAGE", "Image"),
        ("COMMAND", "Command"),
        ("CREATED", "RunningFor"),
        ("STATUS", "Status"),
        ("PORTS", "Ports"),
        ("NAMES", "Names"),
    ];
    if size {
        columns.push(("SIZE", "Size"));
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|c| {
            let ctx = ps_context(c, no_trunc, now);
            columns
                .iter()
                .map(|(_, key)| ctx[key].as_str().unwrap_or("").to_string())
                .collect()
        })
        .collect();
    let headers: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
    table::render(&headers, &cells)
}

/// The fields `ps --format` offers, as docker names them.
pub fn ps_context(c: &ContainerSummary, no_trunc: bool, now: i64) -> serde_json::Value {
    let created = std::time::Duration::from_secs((now - c.created).max(0) as u64);
    let labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    serde_json::json!({
        "ID": if no_trunc { c.id.clone() } else { c.id[..12.min(c.id.len())].to_string() },
        "Image": c.image,
        "Command": command_cell(&c.command, no_trunc),
        "CreatedAt": chrono::DateTime::from_timestamp(c.created, 0).map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()).unwrap_or_default(),
        "RunningFor": format!("{} ago", human_duration(created)),
        "Ports": ports_cell(&c.ports),
        "State": c.state,
        "Status": c.status,
        "Size": size_cell(c),
        "Names": c.names.iter().map(|n| n.trim_start_matches('/')).collect::<Vec<_>>().join(","),
        "Labels": labels.join(","),
        "Mounts": "",
        "Networks": "bridge",
    })
}

/// Docker's PORTS cell: `0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp`.
fn ports_cell(ports: &[serde_json::Value]) -> String {
    let mut cells: Vec<String> = ports
        .iter()
        .map(|p| match p["PublicPort"].as_u64() {
            Some(public) => format!(
                "{}:{}->{}/{}",
                p["IP"].as_str().unwrap_or("0.0.0.0"),
                public,
                p["PrivatePort"],
                p["Type"].as_str().unwrap_or("tcp")
            ),
            None => format!(
                "{}/{}",
                p["PrivatePort"],
                p["Type"].as_str().unwrap_or("tcp")
            ),
        })
        .collect();
    cells.sort();
    cells.join(", ")
}

fn size_cell(c: &ContainerSummary) -> String {
    match (c.size_rw, c.size_root_fs) {
        (Some(rw), Some(root)) => format!(
            "{} (virtual {})",
            crate::util::human::human_size(rw),
            crate::util::human::human_size(root)
        ),
        _ => String::new(),
    }
}

/// Translate `-f key=value` flags into the API's filters JSON.
pub fn filters_json(flags: &[String]) -> Result<String, String> {
    let mut map: std::collections::BTreeMap<String, std::collections::BTreeMap<String, bool>> =
        Default::default();
    for f in flags {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| format!("bad format of filter (expected name=value): {f}"))?;
        map.entry(k.to_string())
            .or_default()
            .insert(v.to_string(), true);
    }
    Ok(serde_json::to_string(&map).unwrap_or_default())
}

pub async fn ps(client: &Client, a: PsArgs) -> i32 {
    let mut query = Vec::new();
    if a.all {
        query.push("all=1".to_string());
    }
    let limit = if a.latest { Some(1) } else { a.last };
    if let Some(n) = limit {
        query.push(format!("limit={n}"));
    }
    if a.size {
        query.push("size=1".to_string());
    }
    if !a.filters.is_empty() {
        match filters_json(&a.filters) {
            Ok(j) => query.push(format!(
                "filters={}",
                url::form_urlencoded::byte_serialize(j.as_bytes()).collect::<String>()
            )),
            Err(e) => {
                eprintln!("{e}");
                return 125;
            }
        }
    }
    let path = format!("/containers/json?{}", query.join("&"));
    let rows: Vec<ContainerSummary> = match client.get_json(&path).await {
        Ok(r) => r,
        Err(e) => return report(&e),
    };
    if a.quiet {
        for c in rows {
            println!(
                "{}",
                if a.no_trunc {
                    &c.id[..]
                } else {
                    &c.id[..12.min(c.id.len())]
                }
            );
        }
        return 0;
    }
    let now = chrono::Utc::now().timestamp();
    // The config file's psFormat stands in for a missing --format.
    if let Some(format) = &crate::cli::config::ps_format(a.format.as_deref()) {
        let contexts: Vec<serde_json::Value> = rows
            .iter()
            .map(|c| ps_context(c, a.no_trunc, now))
            .collect();
        let header = serde_json::json!({
            "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
            "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
            "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
        });
        return match crate::cli::template::format_rows(format, &contexts, &header) {
            Ok(out) => {
                print!("{out}");
                0
            }
            Err(e) => {
                eprintln!("{e}");
                125
            }
        };
    }
    print!("{}", ps_table(&rows, a.no_trunc, a.size, now));
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_cell_truncates_like_docker() {
        assert_eq!(command_cell("sleep 1000", false), "\"sleep 1000\"");
        assert_eq!(
            command_cell("sh -c 'echo started; sleep 100'", false),
            "\"sh -c 'echo started…\""
        );
        assert_eq!(
            command_cell("sh -c 'echo started; sleep 100'", true),
            "\"sh -c 'echo started; sleep 100'\""
        );
    }

    #[test]
    fn ps_table_snapshot() {
        let row = ContainerSummary {
            id: "37fae9751937ccdf21e150a88e1974235ef93f443a066732730306dd87c4799f".into(),
            names: vec!["/s16".into()],
            image: "busybox".into(),
            command: "sleep 1000".into(),
            created: 1000,
            status: "Up 2 seconds".into(),
            ..Default::default()
        };
        insta::assert_snapshot!(ps_table(&[row], false, false, 1003));
    }
}
