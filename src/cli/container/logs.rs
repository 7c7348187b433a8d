//! `logs`: the container's log stream, demultiplexed onto our stdout and stderr unless the
//! container has a TTY (then it is one raw stream), as docker prints it. `--since`/`--until`
//! become unix times here, the docker CLI's way, so a relative time counts back from the
//! client's clock; `events` uses the same conversion.

use crate::api::client::Client;
use crate::cli::report;
use crate::wire::stream;
use clap::Args;
use hyper::Method;
use tokio::io::AsyncWriteExt;

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Show extra details provided to logs (the attributes of --log-opt labels, env, tag)
    #[arg(long)]
    pub details: bool,
    /// Show logs since a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)
    #[arg(long)]
    pub until: Option<String>,
    pub container: String,
}

/// `--since`/`--until` as the docker CLI sends them: a unix time, from RFC 3339, a unix
/// time given as such, or a duration back from now (`10s`, `5m`, `2h`).
pub fn to_unix_time(value: &str, now: chrono::DateTime<chrono::Utc>) -> Result<String, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(format!(
            "{}.{:09}",
            t.timestamp(),
            t.timestamp_subsec_nanos()
        ));
    }
    if value.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !value.is_empty() {
        return Ok(value.to_string());
    }
    let (num, unit) = value.split_at(
        value
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(value.len()),
    );
    let n: i64 = num
        .parse()
        .map_err(|_| format!("invalid time value {value:?}"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("invalid time value {value:?}")),
    };
    let t = now - chrono::Duration::seconds(secs);
    Ok(format!(
        "{}.{:09}",
        t.timestamp(),
        t.timestamp_subsec_nanos()
    ))
}

pub async fn logs(client: &Client, a: LogsArgs) -> i32 {
    use http_body_util::BodyExt;
    let info: serde_json::Value = match client
        .get_json(&format!("/containers/{}/json", a.container))
        .await
    {
        Ok(v) => v,
        Err(e) => return report(&e),
    };
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let mut q = format!(
        "stdout=1&stderr=1&tail={}",
        url::form_urlencoded::byte_serialize(a.tail.as_bytes()).collect::<String>()
    );
    if a.follow {
        q.push_str("&follow=1");
    }
    if a.timestamps {
        q.push_str("&timestamps=1");
    }
    if a.details {
        q.push_str("&details=1");
    }
    for (key, value) in [("since", &a.since), ("until", &a.until)] {
        if let Some(v) = value {
            match to_unix_time(v, chrono::Utc::now()) {
                Ok(t) => q.push_str(&format!("&{key}={t}")),
                Err(e) => {
                    eprintln!("berth: {e}");
                    return 1;
                }
            }
        }
    }
    let id = info["Id"].as_str().unwrap_or(&a.container).to_string();
    let resp = match client
        .request(Method::GET, &format!("/containers/{id}/logs?{q}"), None)
        .await
    {
        Ok(r) => r,
        Err(e) => return report(&e),
    };
    let mut body = resp.into_body();
    let mut dec = stream::Decoder::default();
    let mut out = tokio::io::stdout();
    let mut err = tokio::io::stderr();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        let Some(data) = frame.data_ref() else {
            continue;
        };
        if tty {
            let _ = out.write_all(data).await;
            continue;
        }
        dec.push(data);
        while let Some((s, payload)) = dec.next_frame() {
            let _ = if s == stream::STDERR {
                err.write_all(&payload).await
            } else {
                out.write_all(&payload).await
            };
        }
    }
    let _ = out.flush().await;
    let _ = err.flush().await;
    0
}
