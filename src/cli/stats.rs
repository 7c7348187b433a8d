//! `berth stats`: docker's table of CPU, memory, network, block I/O and PIDs per container,
//! computed from the Engine API's stats JSON the way the docker CLI computes it.

use super::{report, table};
use crate::api::client::Client;
use crate::util::human::{human_size, human_size_binary};
use clap::Args;
use serde_json::Value;

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output using a custom template ('table', 'table TEMPLATE', or a Go template)
    #[arg(long)]
    pub format: Option<String>,
    pub containers: Vec<String>,
}

/// The fields `stats --format` offers, as docker names them, from one table row.
fn context(cells: &[String], asked_as: &str) -> Value {
    let cell = |i: usize| cells.get(i).cloned().unwrap_or_default();
    serde_json::json!({
        "Container": asked_as,
        "ID": cell(0),
        "Name": cell(1),
        "CPUPerc": cell(2),
        "MemUsage": cell(3),
        "MemPerc": cell(4),
        "NetIO": cell(5),
        "BlockIO": cell(6),
        "PIDs": cell(7),
    })
}

fn header() -> Value {
    serde_json::json!({
        "Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
        "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
        "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
    })
}

const HEADERS: [&str; 8] = [
    "CONTAINER ID",
    "NAME",
    "CPU %",
    "MEM USAGE / LIMIT",
    "MEM %",
    "NET I/O",
    "BLOCK I/O",
    "PIDS",
];

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// One row of the table from one stats JSON.
pub fn row(s: &Value, no_trunc: bool) -> Vec<String> {
    let cpu_delta = u(&s["cpu_stats"]["cpu_usage"]["total_usage"]) as f64
        - u(&s["precpu_stats"]["cpu_usage"]["total_usage"]) as f64;
    let sys_delta = u(&s["cpu_stats"]["system_cpu_usage"]) as f64
        - u(&s["precpu_stats"]["system_cpu_usage"]) as f64;
    let cpus = u(&s["cpu_stats"]["online_cpus"]).max(1) as f64;
    let cpu = if cpu_delta > 0.0 && sys_delta > 0.0 && u(&s["precpu_stats"]["system_cpu_usage"]) > 0
    {
        cpu_delta / sys_delta * cpus * 100.0
    } else {
        0.0
    };
    let mem = &s["memory_stats"];
    let inactive = u(&mem["stats"]["total_inactive_file"]).max(u(&mem["stats"]["inactive_file"]));
    let used = u(&mem["usage"]).saturating_sub(inactive);
    let limit = u(&mem["limit"]);
    let mem_pct = if limit > 0 {
        used as f64 / limit as f64 * 100.0
    } else {
        0.0
    };
    let (mut rx, mut tx) = (0, 0);
    if let Some(nets) = s["networks"].as_object() {
        for n in nets.values() {
            rx += u(&n["rx_bytes"]);
            tx += u(&n["tx_bytes"]);
        }
    }
    let (mut br, mut bw) = (0, 0);
    for e in s["blkio_stats"]["io_service_bytes_recursive"]
        .as_array()
        .into_iter()
        .flatten()
    {
        match e["op"].as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => br += u(&e["value"]),
            Some("write") => bw += u(&e["value"]),
            _ => {}
        }
    }
    let id = s["id"].as_str().unwrap_or("");
    vec![
        if no_trunc {
            id.to_string()
        } else {
            id.chars().take(12).collect()
        },
        s["name"]
            .as_str()
            .unwrap_or("")
            .trim_start_matches('/')
            .to_string(),
        format!("{cpu:.2}%"),
        format!("{} / {}", human_size_binary(used), human_size_binary(limit)),
        format!("{mem_pct:.2}%"),
        format!("{} / {}", human_size(rx as i64), human_size(tx as i64)),
        format!("{} / {}", human_size(br as i64), human_size(bw as i64)),
        u(&s["pids_stats"]["current"]).to_string(),
    ]
}

async fn names(client: &Client, a: &StatsArgs) -> Result<Vec<String>, i32> {
    if !a.containers.is_empty() {
        return Ok(a.containers.clone());
    }
    let path = if a.all {
        "/containers/json?all=1"
    } else {
        "/containers/json"
    };
    match client
        .get_json::<Vec<crate::wire::types::ContainerSummary>>(path)
        .await
    {
        Ok(rows) => Ok(rows.into_iter().map(|r| r.id).collect()),
        Err(e) => Err(report(&e)),
    }
}

async fn snapshot(
    client: &Client,
    names: &[String],
    no_trunc: bool,
    format: Option<&str>,
) -> (String, i32) {
    let samples = futures::future::join_all(names.iter().map(|n| async move {
        client
            .get_json::<Value>(&format!("/containers/{n}/stats?stream=0"))
            .await
    }))
    .await;
    let mut rows = Vec::new();
    let mut code = 0;
    for (name, s) in names.iter().zip(samples) {
        match s {
            Ok(v) => rows.push(row(&v, no_trunc)),
            Err(e) if e.status() == Some(409) => rows.push(vec![
                name.chars().take(12).collect(),
                String::new(),
                "--".into(),
                "-- / --".into(),
                "--".into(),
                "--".into(),
                "--".into(),
                "--".into(),
            ]),
            Err(e) => code = report(&e),
        }
    }
    match format.filter(|f| *f != "table") {
        None => (table::render(&HEADERS, &rows), code),
        Some(f) => {
            let ctx: Vec<Value> = rows.iter().zip(names).map(|(r, n)| context(r, n)).collect();
            match super::template::format_rows(f, &ctx, &header()) {
                Ok(out) => (out, code),
                Err(e) => (String::new(), {
                    eprintln!("berth: {e}");
                    1
                }),
            }
        }
    }
}

pub async fn stats(client: &Client, a: StatsArgs) -> i32 {
    if a.no_stream {
        let names = match names(client, &a).await {
            Ok(n) => n,
            Err(code) => return code,
        };
        let (out, code) = snapshot(client, &names, a.no_trunc, a.format.as_deref()).await;
        print!("{out}");
        return code;
    }
    // Live: redraw every second until interrupted, as docker does.
    loop {
        let names = match names(client, &a).await {
            Ok(n) => n,
            Err(code) => return code,
        };
        let (out, _) = snapshot(client, &names, a.no_trunc, a.format.as_deref()).await;
        print!("\x1b[2J\x1b[H{out}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_row_like_docker_computes_it() {
        let s = json!({
            "id": "37fae9751937ccdf21e150a88e1974235ef93f443a066732730306dd87c4799f",
            "name": "/web",
            "cpu_stats": {"cpu_usage": {"total_usage": 300_000_000u64}, "system_cpu_usage": 4_000_000_000u64, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 100_000_000u64}, "system_cpu_usage": 2_000_000_000u64},
            "memory_stats": {"usage": 2_097_152u64, "limit": 16_777_216u64, "stats": {"total_inactive_file": 524_288u64}},
            "networks": {"eth0": {"rx_bytes": 1296, "tx_bytes": 586}},
            "blkio_stats": {"io_service_bytes_recursive": [{"op": "Read", "value": 4096}, {"op": "Write", "value": 0}]},
            "pids_stats": {"current": 3},
        });
        insta::assert_snapshot!(table::render(&HEADERS, &[row(&s, false)]));
    }
}
