//! The Engine API's JSON, as serde types: the only place where berth mirrors Docker's wire format.
//! Fields berth acts on are typed; everything else a client sends is kept in `extra` and echoed
//! back by `inspect`, so a round trip through berth loses nothing the client said.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The API version berth speaks, and the oldest it accepts.
pub const API_VERSION: &str = "1.50";
pub const MIN_API_VERSION: &str = "1.24";

/// `{"message": "..."}`: every error body of the Engine API.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub message: String,
}

/// A container's `Config`: what runs, with which environment, as `docker create` sends it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub domainname: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub attach_stdin: bool,
    #[serde(default)]
    pub attach_stdout: bool,
    #[serde(default)]
    pub attach_stderr: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub open_stdin: bool,
    #[serde(default)]
    pub stdin_once: bool,
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub volumes: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub working_dir: String,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub on_build: Option<Vec<String>>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Config.Healthcheck`, as images store it and `create` takes it: the probe (`["CMD", …]`,
/// `["CMD-SHELL", "…"]`, `["NONE"]`) and its timings in nanoseconds, where 0 means the
/// default (or, at create, the image's value). Zero fields are left out, as Go's omitempty.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HealthConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub interval: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub timeout: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub start_period: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub start_interval: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub retries: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// `State.Health`: present only for a container whose healthcheck runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    pub failing_streak: i64,
    /// The last results, oldest first.
    #[serde(default, deserialize_with = "nullable")]
    pub log: Vec<HealthcheckResult>,
}

/// One run of a probe, as `State.Health.Log` shows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HealthcheckResult {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

/// `HostConfig`: how the container relates to the host. Every field the daemon acts on is
/// typed, so a value of the wrong type is refused with the field's name (`parse_naming`)
/// instead of being dropped; a `null` means the field's zero value, as Go's JSON decoding
/// (and so Docker) reads it. The rest is kept in `extra` and round-trips.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    #[serde(default, deserialize_with = "nullable")]
    pub auto_remove: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub network_mode: String,
    #[serde(default, deserialize_with = "nullable")]
    pub privileged: bool,
    #[serde(default)]
    pub binds: Option<Vec<String>>,
    /// `--mount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Vec<crate::wire::volume::Mount>>,
    /// `--tmpfs`: destination → options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<BTreeMap<String, String>>,
    /// `--volumes-from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes_from: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub volume_driver: String,
    #[serde(default)]
    pub port_bindings: Option<BTreeMap<String, Value>>,
    #[serde(default, deserialize_with = "nullable")]
    pub restart_policy: RestartPolicyConfig,
    #[serde(default, deserialize_with = "nullable")]
    pub log_config: LogConfig,
    #[serde(default)]
    pub cap_add: Option<Vec<String>>,
    #[serde(default)]
    pub cap_drop: Option<Vec<String>>,
    #[serde(default)]
    pub security_opt: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub readonly_rootfs: bool,
    #[serde(default)]
    pub init: Option<bool>,
    /// `[rows, columns]` of the client's terminal, for a container with a TTY.
    #[serde(default, deserialize_with = "nullable")]
    pub console_size: [u16; 2],
    #[serde(default, deserialize_with = "nullable")]
    pub memory: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub memory_swap: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub memory_reservation: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub nano_cpus: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub cpu_shares: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub cpu_period: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub cpu_quota: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub cpuset_cpus: String,
    #[serde(default)]
    pub pids_limit: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    pub oom_kill_disable: bool,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl HostConfig {
    /// This config with `fields` (Engine API names and JSON values) laid over it, checked
    /// as a request's would be: how `update` and the CLI's flags change a typed config.
    pub fn with_fields(&self, fields: Map<String, Value>) -> Result<HostConfig, String> {
        let Ok(Value::Object(mut all)) = serde_json::to_value(self) else {
            unreachable!("a HostConfig serializes to an object")
        };
        all.extend(fields);
        parse_naming(&Value::Object(all), "HostConfig")
    }
}

/// `HostConfig.RestartPolicy`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicyConfig {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub maximum_retry_count: i64,
}

/// `HostConfig.LogConfig`: the log driver and its options.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LogConfig {
    #[serde(rename = "Type", default, deserialize_with = "nullable")]
    pub driver: String,
    #[serde(rename = "Config", default, deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
}

/// A field that may be `null`, read as its zero value.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Read `value` as a `T`; where a field has a value of the wrong type, the error names it
/// the way Docker's does (`HostConfig.Memory`), not by a line and column of the body.
/// `what` is the name of `T` in that path. The nested objects the API has (HostConfig in a
/// create body, RestartPolicy and LogConfig in a HostConfig) are named to their field.
pub fn parse_naming<T: serde::de::DeserializeOwned>(
    value: &Value,
    what: &str,
) -> Result<T, String> {
    match serde_json::from_value::<T>(value.clone()) {
        Ok(v) => Ok(v),
        Err(whole) => Err(bad_field::<T>(value, what).unwrap_or_else(|| whole.to_string())),
    }
}

/// The first field of `value` that `T` refuses on its own, named with its path.
fn bad_field<T: serde::de::DeserializeOwned>(value: &Value, what: &str) -> Option<String> {
    let fields = value.as_object()?;
    for (key, field) in fields {
        let alone = Value::Object(Map::from_iter([(key.clone(), field.clone())]));
        let Err(e) = serde_json::from_value::<T>(alone) else {
            continue;
        };
        let path = if what.is_empty() {
            key.clone()
        } else {
            format!("{what}.{key}")
        };
        let inner = match key.as_str() {
            "HostConfig" => bad_field::<HostConfig>(field, &path),
            "RestartPolicy" => bad_field::<RestartPolicyConfig>(field, &path),
            "LogConfig" => bad_field::<LogConfig>(field, &path),
            _ => None,
        };
        return Some(inner.unwrap_or_else(|| format!("invalid {path}: {e}")));
    }
    None
}

/// Body of `POST /containers/create`: the Config with HostConfig and NetworkingConfig inside.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateRequest {
    #[serde(flatten)]
    pub config: ContainerConfig,
    #[serde(default)]
    pub host_config: Option<HostConfig>,
    #[serde(default)]
    pub networking_config: Option<Value>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateResponse {
    pub id: String,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct WaitResponse {
    pub status_code: i64,
    pub error: Option<WaitError>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct WaitError {
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerState {
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

/// One network endpoint as `inspect` and `ps` show it (and as a client asks for one, with
/// most fields left out).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointSettings {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<Value>,
    pub links: Option<Vec<String>>,
    pub aliases: Option<Vec<String>>,
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub gateway: String,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: i64,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: i64,
    pub mac_address: String,
    pub driver_opts: Option<Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettings {
    pub bridge: String,
    #[serde(rename = "SandboxID")]
    pub sandbox_id: String,
    pub sandbox_key: String,
    pub ports: BTreeMap<String, Value>,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub gateway: String,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: i64,
    pub mac_address: String,
    pub networks: BTreeMap<String, EndpointSettings>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    pub name: String,
    pub data: BTreeMap<String, String>,
}

/// `GET /containers/{id}/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: ContainerState,
    pub image: String,
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    pub log_path: String,
    pub name: String,
    pub restart_count: i64,
    pub driver: String,
    pub platform: String,
    pub mount_label: String,
    pub process_label: String,
    pub app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    pub host_config: HostConfig,
    pub graph_driver: GraphDriver,
    pub mounts: Vec<Value>,
    pub config: ContainerConfig,
    pub network_settings: NetworkSettings,
}

/// One row of `GET /containers/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    pub id: String,
    pub names: Vec<String>,
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    pub command: String,
    pub created: i64,
    pub ports: Vec<Value>,
    pub labels: BTreeMap<String, String>,
    pub state: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    pub host_config: Value,
    pub network_settings: Value,
    pub mounts: Vec<Value>,
}

/// One row of `GET /images/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ImageSummary {
    pub id: String,
    pub parent_id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub created: i64,
    pub size: i64,
    pub shared_size: i64,
    pub virtual_size: i64,
    pub labels: Option<BTreeMap<String, String>>,
    pub containers: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct VersionComponent {
    pub name: String,
    pub version: String,
    pub details: BTreeMap<String, String>,
}

/// `GET /version`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct VersionResponse {
    pub platform: BTreeMap<String, String>,
    pub components: Vec<VersionComponent>,
    pub version: String,
    pub api_version: String,
    #[serde(rename = "MinAPIVersion")]
    pub min_api_version: String,
    pub git_commit: String,
    pub go_version: String,
    pub os: String,
    pub arch: String,
    pub kernel_version: String,
    pub build_time: String,
}

/// A line of a JSON progress stream (`load`, later `pull` and `build`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct JsonMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "errorDetail"
    )]
    pub error_detail: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_from_the_docker_cli_keeps_unknown_fields() {
        let body = r#"{"Hostname":"","User":"","Cmd":["echo","hi"],"Image":"bb","Env":null,
            "HostConfig":{"AutoRemove":true,"NetworkMode":"default","ShmSize":0},
            "NetworkingConfig":{"EndpointsConfig":{}},"Volumes":{}}"#;
        let req: CreateRequest = serde_json::from_str(body).unwrap();
        assert_eq!(
            req.config.cmd.as_deref(),
            Some(&["echo".to_string(), "hi".to_string()][..])
        );
        let hc = req.host_config.unwrap();
        assert!(hc.auto_remove);
        assert_eq!(hc.extra.get("ShmSize"), Some(&Value::from(0)));
    }

    #[rstest::rstest]
    #[case(
        r#"{"HostConfig":{"Memory":"lots"}}"#,
        "invalid HostConfig.Memory: invalid type: string \"lots\", expected i64"
    )]
    #[case(
        r#"{"HostConfig":{"CapAdd":3}}"#,
        "invalid HostConfig.CapAdd: invalid type: integer `3`, expected a sequence"
    )]
    #[case(
        r#"{"HostConfig":{"CapAdd":[3]}}"#,
        "invalid HostConfig.CapAdd: invalid type: integer `3`, expected a string"
    )]
    #[case(
        r#"{"HostConfig":{"RestartPolicy":{"Name":3}}}"#,
        "invalid HostConfig.RestartPolicy.Name: invalid type: integer `3`, expected a string"
    )]
    #[case(
        r#"{"HostConfig":{"ReadonlyRootfs":1}}"#,
        "invalid HostConfig.ReadonlyRootfs: invalid type: integer `1`, expected a boolean"
    )]
    #[case(
        r#"{"Image":"bb","Tty":"yes"}"#,
        "invalid Tty: invalid type: string \"yes\", expected a boolean"
    )]
    fn a_field_of_the_wrong_type_is_named(#[case] body: &str, #[case] want: &str) {
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(parse_naming::<CreateRequest>(&v, "").unwrap_err(), want);
    }

    #[test]
    fn nulls_read_as_zero_values_and_the_rest_round_trips() {
        let body = r#"{"Memory":null,"CapAdd":null,"OomKillDisable":null,"RestartPolicy":null,
            "ConsoleSize":null,"PidsLimit":null,"ShmSize":67108864,"Runtime":"runc"}"#;
        let hc: HostConfig = parse_naming(&serde_json::from_str(body).unwrap(), "").unwrap();
        assert_eq!(hc.memory, 0);
        assert_eq!(hc.restart_policy, RestartPolicyConfig::default());
        assert_eq!(hc.console_size, [0, 0]);
        let back = serde_json::to_value(&hc).unwrap();
        assert_eq!(back["ShmSize"], 67108864);
        assert_eq!(back["Runtime"], "runc");
        // Docker's inspect shows every field it knows, zero or not.
        assert_eq!(back["Memory"], 0);
        assert_eq!(back["RestartPolicy"]["Name"], "");
    }

    #[test]
    fn with_fields_lays_changes_over_a_config_and_checks_them() {
        let hc = HostConfig {
            memory: 64 << 20,
            ..Default::default()
        };
        let changed = hc
            .with_fields(Map::from_iter([("PidsLimit".into(), Value::from(10))]))
            .unwrap();
        assert_eq!((changed.memory, changed.pids_limit), (64 << 20, Some(10)));
        let err = hc
            .with_fields(Map::from_iter([("Memory".into(), Value::from("x"))]))
            .unwrap_err();
        assert!(err.starts_with("invalid HostConfig.Memory:"), "{err}");
    }
}

/// Body of `POST /containers/{id}/exec`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ExecConfig {
    #[serde(default)]
    pub attach_stdin: bool,
    #[serde(default)]
    pub attach_stdout: bool,
    #[serde(default)]
    pub attach_stderr: bool,
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: Vec<String>,
    #[serde(default)]
    pub working_dir: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub privileged: bool,
    /// docker-py sends `detachKeys`; Go's JSON decoder, Docker's, matches keys in any case.
    #[serde(default, alias = "detachKeys")]
    pub detach_keys: String,
    /// `[rows, columns]` of the client's terminal, for `-t`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<Vec<u64>>,
}

/// Body of `POST /exec/{id}/start`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ExecStartConfig {
    #[serde(default)]
    pub detach: bool,
    #[serde(default)]
    pub tty: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<Vec<u64>>,
}
