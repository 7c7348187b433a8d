//! The Engine API's network objects: what `GET /networks` and `GET /networks/{id}` answer, and
//! the bodies of `create`, `connect`, `disconnect` and `prune`, in Docker's JSON shapes.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

use super::types::EndpointSettings;

/// A JSON `null` read as the type's default (clients such as the Python SDK send `null` for
/// what they leave unset).
fn null_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A network as `GET /networks/{id}` (and each item of `GET /networks`) shows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkResource {
    pub name: String,
    pub id: String,
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_from: ConfigReference,
    pub config_only: bool,
    /// The containers on the network, by full id (on the list, Docker leaves it empty).
    #[serde(default)]
    pub containers: BTreeMap<String, NetworkContainer>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    #[serde(default, deserialize_with = "null_default")]
    pub driver: String,
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub config: Option<Vec<IpamConfig>>,
}

/// One subnet of a network: `--subnet`, `--ip-range`, `--gateway`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfig {
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub subnet: String,
    #[serde(
        rename = "IPRange",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub ip_range: String,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub gateway: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auxiliary_addresses: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigReference {
    pub network: String,
}

/// A container as its network's inspect lists it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkContainer {
    pub name: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub mac_address: String,
    /// With its prefix: `172.18.0.2/16`.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// `POST /networks/create`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkCreateRequest {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Deprecated in the API (the daemon always checks); still sent by older clients.
    #[serde(default)]
    pub check_duplicate: Option<bool>,
    #[serde(default, deserialize_with = "null_default")]
    pub driver: String,
    #[serde(default, deserialize_with = "null_default")]
    pub scope: String,
    #[serde(default, deserialize_with = "null_default")]
    pub internal: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub attachable: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub ingress: bool,
    #[serde(rename = "IPAM", default)]
    pub ipam: Option<Ipam>,
    #[serde(rename = "EnableIPv6", default)]
    pub enable_ipv6: Option<bool>,
    #[serde(default, deserialize_with = "null_default")]
    pub config_only: bool,
    #[serde(default)]
    pub config_from: Option<ConfigReference>,
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

/// The answer to `POST /networks/create`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkCreateResponse {
    pub id: String,
    #[serde(default)]
    pub warning: String,
}

/// `POST /networks/{id}/connect`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkConnectRequest {
    pub container: String,
    #[serde(default)]
    pub endpoint_config: Option<EndpointSettings>,
}

/// `POST /networks/{id}/disconnect`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkDisconnectRequest {
    pub container: String,
    #[serde(default, deserialize_with = "null_default")]
    pub force: bool,
}

/// The answer to `POST /networks/prune`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkPruneResponse {
    pub networks_deleted: Option<Vec<String>>,
}

/// `EndpointSettings.IPAMConfig`: the addresses asked for with `--ip`, `--ip6` and
/// `--link-local-ip`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointIpamConfig {
    #[serde(
        rename = "IPv4Address",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv4_address: String,
    #[serde(
        rename = "IPv6Address",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv6_address: String,
    /// `--link-local-ip`, on `run` and `network connect`.
    #[serde(
        rename = "LinkLocalIPs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub link_local_ips: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Docker 20.10 answered for `GET /networks/n1` (../shared/docker-api/captures/23).
    #[test]
    fn dockers_inspect_round_trips() {
        let docker = r#"{"Name":"n1","Id":"dfb14ce2fbbffdf96f89535b64bb921c1ded0057447c8dacae4b86aec1e1d9c0","Created":"2026-11-22T09:14:19.960793085Z","Scope":"local","Driver":"bridge","EnableIPv6":false,"IPAM":{"Driver":"default","Options":{},"Config":[{"Subnet":"172.18.0.0/16","Gateway":"172.18.0.1"}]},"Internal":false,"Attachable":false,"Ingress":false,"ConfigFrom":{"Network":""},"ConfigOnly":false,"Containers":{},"Options":{},"Labels":{}}"#;
        let n: NetworkResource = serde_json::from_str(docker).unwrap();
        assert_eq!(n.ipam.config.as_ref().unwrap()[0].subnet, "172.18.0.0/16");
        let back: serde_json::Value = serde_json::to_value(&n).unwrap();
        let want: serde_json::Value = serde_json::from_str(docker).unwrap();
        assert_eq!(back, want);
    }

    /// What the Python SDK sends: nulls for what it leaves out.
    #[test]
    fn the_sdks_nulls_are_defaults() {
        let body = r#"{"Name":"n3","Driver":null,"Options":null,"EnableIPv6":false,"Internal":false,"Attachable":null,"Ingress":null,"Labels":null,"Scope":null,"IPAM":{"Driver":"default","Config":[{"Subnet":"10.9.0.0/24","IPRange":null,"Gateway":null,"AuxiliaryAddresses":null}],"Options":null}}"#;
        let r: NetworkCreateRequest = serde_json::from_str(body).unwrap();
        assert_eq!((r.driver.as_str(), r.attachable), ("", false));
        assert_eq!(r.ipam.unwrap().config.unwrap()[0].gateway, "");
    }

    /// What the docker CLI 28 sends for `docker network create n2` (captures/13).
    #[test]
    fn the_clis_create_parses() {
        let body = r#"{"Driver":"bridge","Scope":"","IPAM":{"Driver":"default","Options":{},"Config":[]},"Internal":false,"Attachable":false,"Ingress":false,"ConfigOnly":false,"ConfigFrom":null,"Options":{},"Labels":{},"Name":"n2","CheckDuplicate":true}"#;
        let r: NetworkCreateRequest = serde_json::from_str(body).unwrap();
        assert_eq!(r.name, "n2");
        assert_eq!(r.driver, "bridge");
        assert_eq!(r.ipam.unwrap().config, Some(vec![]));
    }
}
