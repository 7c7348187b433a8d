//! `berth events`: the daemon's event stream (`GET /events`), one line an event, in docker's
//! layout or a Go template.

use super::report;
use super::template::Template;
use crate::api::client::Client;
use crate::wire::events::Event;
use clap::Args;
use hyper::Method;

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Show all events created since timestamp
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    pub until: Option<String>,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter")]
    pub filters: Vec<String>,
    /// Format the output using the given Go template
    #[arg(long)]
    pub format: Option<String>,
}

/// Docker's line: time (RFC 3339, nanoseconds, local), type, action, actor, (attributes).
pub fn event_line(e: &Event) -> String {
    use chrono::TimeZone;
    let mut line = String::new();
    if e.time_nano != 0 {
        let t = chrono::Local.timestamp_nanos(e.time_nano);
        let stamp = t.format("%Y-%m-%dT%H:%M:%S%.9f%:z").to_string();
        // Go writes a zero offset as "Z".
        let stamp = match stamp.strip_suffix("+00:00") {
            Some(s) => format!("{s}Z"),
            None => stamp,
        };
        line.push_str(&stamp);
        line.push(' ');
    }
    line.push_str(&format!("{} {} {}", e.typ, e.action, e.actor.id));
    if !e.actor.attributes.is_empty() {
        let attrs: Vec<String> = e
            .actor
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        line.push_str(&format!(" ({})", attrs.join(", ")));
    }
    line
}

pub async fn events(client: &Client, a: EventsArgs) -> i32 {
    use http_body_util::BodyExt;
    let mut q = Vec::new();
    for (key, value) in [("since", &a.since), ("until", &a.until)] {
        if let Some(v) = value {
            match super::container::to_unix_time(v, chrono::Utc::now()) {
                Ok(t) => q.push(format!("{key}={t}")),
                Err(e) => {
                    eprintln!("berth: {e}");
                    return 1;
                }
            }
        }
    }
    if !a.filters.is_empty() {
        match super::container::filters_json(&a.filters) {
            Ok(f) => q.push(format!(
                "filters={}",
                url::form_urlencoded::byte_serialize(f.as_bytes()).collect::<String>()
            )),
            Err(e) => {
                eprintln!("berth: {e}");
                return 1;
            }
        }
    }
    let template = match a.format.as_deref() {
        None | Some("") => None,
        Some(f) => match Template::parse(f) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("berth: {e}");
                return 1;
            }
        },
    };
    let resp = match client
        .request(Method::GET, &format!("/events?{}", q.join("&")), None)
        .await
    {
        Ok(r) => r,
        Err(e) => return report(&e),
    };
    let mut body = resp.into_body();
    let mut pending = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        let Some(data) = frame.data_ref() else {
            continue;
        };
        pending.extend_from_slice(data);
        while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            let Ok(e) = serde_json::from_slice::<Event>(&line) else {
                continue;
            };
            let text = match &template {
                Some(t) => match t.render(&serde_json::to_value(&e).unwrap_or_default()) {
                    Ok(s) => s,
                    Err(err) => {
                        eprintln!("berth: {err}");
                        return 1;
                    }
                },
                None => event_line(&e),
            };
            println!("{text}");
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_look_like_dockers() {
        let mut attrs = std::collections::BTreeMap::new();
        attrs.insert("name".to_string(), "web".to_string());
        attrs.insert("image".to_string(), "busybox".to_string());
        let mut e = Event::new("container", "start", "abc123", attrs);
        e.time_nano = 0;
        assert_eq!(
            event_line(&e),
            "container start abc123 (image=busybox, name=web)"
        );
    }
}
