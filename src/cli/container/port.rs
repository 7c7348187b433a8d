//! `port`: a container's published ports, read from its inspect as the docker CLI does (there
//! is no endpoint of their own); a port given without a protocol means tcp, as in docker.

use crate::api::client::Client;
use crate::cli::report;
use clap::Args;

#[derive(Args, Debug)]
pub struct PortArgs {
    pub container: String,
    /// The container's port, e.g. 80 or 53/udp
    pub private_port: Option<String>,
}

/// `port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's published ports, from inspect.
pub async fn port(client: &Client, a: PortArgs) -> i32 {
    let info: serde_json::Value = match client
        .get_json(&format!("/containers/{}/json", a.container))
        .await
    {
        Ok(v) => v,
        Err(e) => return report(&e),
    };
    let ports = info["NetworkSettings"]["Ports"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let lines_of = |key: &str, with_key: bool| -> Vec<String> {
        ports
            .get(key)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .map(|b| {
                let host = format!(
                    "{}:{}",
                    b["HostIp"].as_str().unwrap_or(""),
                    b["HostPort"].as_str().unwrap_or("")
                );
                if with_key {
                    format!("{key} -> {host}")
                } else {
                    host
                }
            })
            .collect()
    };
    match &a.private_port {
        None => {
            for key in ports.keys() {
                for line in lines_of(key, true) {
                    println!("{line}");
                }
            }
            0
        }
        Some(p) => {
            let key = if p.contains('/') {
                p.clone()
            } else {
                format!("{p}/tcp")
            };
            let lines = lines_of(&key, false);
            if lines.is_empty() {
                eprintln!(
                    "Error: No public port '{key}' published for {}",
                    a.container
                );
                return 1;
            }
            for line in lines {
                println!("{line}");
            }
            0
        }
    }
}
