//! `network connect`: `POST /networks/{network}/connect` with the endpoint the flags describe,
//! in the shape the docker CLI sends (an `IPAMConfig` object even when empty, the aliases a
//! list, the driver options a map).

use crate::api::client::Client;
use crate::wire::network::{EndpointIpamConfig, NetworkConnectRequest};
use crate::wire::types::EndpointSettings;
use clap::Args;

#[derive(Args, Debug, Clone, Default)]
pub struct ConnectArgs {
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (e.g., "2001:db8::33")
    #[arg(long)]
    pub ip6: Option<String>,
    /// Add link to another container
    #[arg(long = "link", value_parser = crate::cli::container::validate_link)]
    pub links: Vec<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "alias", value_delimiter = ',')]
    pub aliases: Vec<String>,
    /// Add a link-local address for the container
    #[arg(long = "link-local-ip", value_delimiter = ',')]
    pub link_local_ips: Vec<String>,
    /// driver options for the network
    #[arg(long = "driver-opt", value_delimiter = ',')]
    pub driver_opts: Vec<String>,
    #[arg(value_name = "NETWORK")]
    pub network: String,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// docker's `convertDriverOpt`: `key=value`, both trimmed, the key not empty.
fn driver_opts(opts: &[String]) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let mut m = serde_json::Map::new();
    for o in opts {
        match o.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                m.insert(k.trim().to_string(), v.trim().into());
            }
            _ => return Err("invalid key/value pair format in driver options".into()),
        }
    }
    Ok(m)
}

/// The `EndpointConfig` of the connect request for these flags.
pub fn endpoint_settings(a: &ConnectArgs) -> Result<EndpointSettings, String> {
    let ipam = EndpointIpamConfig {
        ipv4_address: a.ip.clone().unwrap_or_default(),
        ipv6_address: a.ip6.clone().unwrap_or_default(),
        link_local_ips: (!a.link_local_ips.is_empty()).then(|| a.link_local_ips.clone()),
    };
    Ok(EndpointSettings {
        ipam_config: Some(serde_json::to_value(ipam).expect("IPAM config serializes")),
        links: (!a.links.is_empty()).then(|| a.links.clone()),
        aliases: Some(a.aliases.clone()),
        driver_opts: Some(serde_json::Value::Object(driver_opts(&a.driver_opts)?)),
        ..Default::default()
    })
}

pub async fn connect(client: &Client, a: ConnectArgs) -> i32 {
    let ids = super::trim_id("network", &a.network)
        .and_then(|n| Ok((n, super::trim_id("container", &a.container)?)));
    let request = endpoint_settings(&a).and_then(|e| Ok((ids?, e)));
    let ((network, container), endpoint) = match request {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let body = NetworkConnectRequest {
        container,
        endpoint_config: Some(endpoint),
    };
    match client
        .request(
            hyper::Method::POST,
            &format!("/networks/{network}/connect"),
            Some(serde_json::to_vec(&body).expect("a connect request serializes")),
        )
        .await
    {
        Ok(resp) => {
            let _ = Client::read_body(resp).await;
            0
        }
        Err(e) => super::fail(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_sends_dockers_endpoint() {
        let a = ConnectArgs {
            ip: Some("10.9.0.7".into()),
            aliases: vec!["db".into(), "pg".into()],
            links: vec!["other:o".into()],
            link_local_ips: vec!["169.254.1.1".into()],
            driver_opts: vec![" k = v ".into()],
            network: "n1".into(),
            container: "c1".into(),
            ..Default::default()
        };
        let body = NetworkConnectRequest {
            container: "c1".into(),
            endpoint_config: Some(endpoint_settings(&a).unwrap()),
        };
        insta::assert_json_snapshot!(serde_json::to_value(body).unwrap());
        let bare = endpoint_settings(&ConnectArgs::default()).unwrap();
        assert_eq!(bare.ipam_config, Some(serde_json::json!({})));
        assert_eq!(bare.aliases, Some(vec![]));
        assert_eq!(bare.links, None);
    }

    #[test]
    fn a_driver_option_needs_a_key() {
        for bad in ["novalue", "=v", " =v"] {
            let a = ConnectArgs {
                driver_opts: vec![bad.into()],
                ..Default::default()
            };
            assert_eq!(
                endpoint_settings(&a).unwrap_err(),
                "invalid key/value pair format in driver options"
            );
        }
    }
}
