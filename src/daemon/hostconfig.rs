//! The pure translations from a container's HostConfig to what the runtime and the cgroups
//! need: which fields berth refuses (by their flag's name, never silently ignored), the
//! security options, the capability set, the resource limits and the environment merge.
//! Nothing here touches the system, so all of it is unit-tested.

use super::error::{DaemonError, Result};
use super::restart::*;
use crate::wire::types::HostConfig;

/// HostConfig fields berth does not implement yet: refused when set, never silently ignored.
pub(super) const UNSUPPORTED_HOST_CONFIG: &[(&str, &str)] = &[
    ("Devices", "--device"),
    ("Ulimits", "--ulimit"),
    ("UsernsMode", "--userns"),
    ("CgroupParent", "--cgroup-parent"),
];

/// The log drivers Docker itself has: a name outside them is unknown, not unsupported.
const DOCKER_LOG_DRIVERS: &[&str] = &[
    "json-file",
    "local",
    "none",
    "syslog",
    "journald",
    "gelf",
    "fluentd",
    "awslogs",
    "splunk",
    "etwlogs",
    "gcplogs",
    "logentries",
];

/// `HostConfig.GroupAdd` as given: gids or group names (numbers are taken as gids too).
pub(super) fn group_add(hc: &HostConfig) -> Result<Vec<String>> {
    let Some(v) = hc.extra.get("GroupAdd").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let bad = || DaemonError::InvalidParameter(format!("invalid HostConfig.GroupAdd: {v}"));
    v.as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|g| match g {
            serde_json::Value::String(s) if !s.is_empty() => Ok(s.clone()),
            serde_json::Value::Number(n) if n.as_u64().is_some() => Ok(n.to_string()),
            _ => Err(bad()),
        })
        .collect()
}

/// `--log-driver none`: the output is not kept (it still reaches an attached client).
pub(super) fn logs_discarded(hc: &HostConfig) -> bool {
    hc.log_config.driver == "none"
}

/// The one runtime (Docker's default name for it, which clients read back in inspect).
pub(super) const DEFAULT_RUNTIME: &str = "runc";

/// A string field of HostConfig that berth keeps among the extra ones ("" when absent).
pub(super) fn extra_str<'a>(hc: &'a HostConfig, key: &str) -> &'a str {
    hc.extra
        .get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
}

/// `HostConfig.Runtime` as asked ("" when not).
pub(super) fn runtime(hc: &HostConfig) -> &str {
    extra_str(hc, "Runtime")
}

pub(super) fn is_unset(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Bool(b) => !b,
        serde_json::Value::Number(n) => n.as_f64() == Some(0.0) || n.as_i64() == Some(-1),
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
    }
}

/// Refuse, with the flag's name, what berth cannot do yet.
pub(super) fn check_supported(hc: &HostConfig) -> Result<()> {
    let refuse = |what: &str| {
        Err(DaemonError::InvalidParameter(format!(
            "{what} is not supported by berth yet"
        )))
    };
    if let Some(b) = &hc.port_bindings {
        crate::network::ports::requested(b).map_err(DaemonError::InvalidParameter)?;
    }
    crate::network::mode::NetworkMode::parse(&hc.network_mode)
        .map_err(|e| DaemonError::InvalidParameter(e.to_string()))?;
    extra_hosts(hc)?;
    dns_overrides(hc)?;
    group_add(hc)?;
    shm_size(hc)?;
    let driver = hc.log_config.driver.as_str();
    if !matches!(driver, "" | "json-file" | "local" | "none") {
        if !DOCKER_LOG_DRIVERS.contains(&driver) {
            // Docker's words for a driver no one has (clients match on them).
            return Err(DaemonError::InvalidParameter(format!(
                "logger: no log driver named '{driver}' is registered"
            )));
        }
        return refuse(&format!("the log driver {driver:?}"));
    }
    crate::runtime::logging::opts::parse(driver, &hc.log_config.config)
        .map_err(|e| DaemonError::InvalidParameter(e.to_string()))?;
    match runtime(hc) {
        "" | DEFAULT_RUNTIME => {}
        other => {
            return Err(DaemonError::InvalidParameter(format!(
                "Unknown runtime specified {other}"
            )))
        }
    }
    container_caps(hc)?;
    security_opts(hc)?;
    resources(hc)
        .validate(&crate::cgroups::resources::HostCpus::read())
        .map_err(DaemonError::InvalidParameter)?;
    let policy = RestartPolicy::of(hc)?;
    if policy != RestartPolicy::No && hc.auto_remove {
        return Err(DaemonError::InvalidParameter(
            "Conflicting options: --restart and --rm".into(),
        ));
    }
    for (field, flag) in UNSUPPORTED_HOST_CONFIG {
        if let Some(v) = hc.extra.get(*field) {
            if !is_unset(v) {
                return refuse(flag);
            }
        }
    }
    Ok(())
}

/// `HostConfig.ShmSize` in bytes: 0 or absent is Docker's default, a negative one an error.
pub(super) fn shm_size(hc: &HostConfig) -> Result<u64> {
    match hc.extra.get("ShmSize").and_then(|v| v.as_i64()) {
        None | Some(0) => Ok(crate::runtime::spec::DEFAULT_SHM_SIZE),
        Some(n) if n < 0 => Err(DaemonError::InvalidParameter(
            "SHM size can not be less than 0".into(),
        )),
        Some(n) => Ok(n as u64),
    }
}

/// `--dns`, `--dns-search`, `--dns-option` (`HostConfig.Dns`, `DnsSearch`, `DnsOptions`).
/// A list of strings among the HostConfig fields berth does not type (`Dns`, `ExtraHosts`,
/// `Links`, …): absent or null is empty, anything but strings is refused by the field's name.
pub(super) fn string_list(hc: &HostConfig, key: &str) -> Result<Vec<String>> {
    match hc.extra.get(key).filter(|v| !v.is_null()) {
        None => Ok(Vec::new()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|_| {
            DaemonError::InvalidParameter(format!("{key}: a list of strings, not {v}"))
        }),
    }
}

pub(super) fn dns_overrides(hc: &HostConfig) -> Result<crate::network::dns::resolv::DnsOverrides> {
    let list = |key: &str| string_list(hc, key);
    let servers = list("Dns")?
        .iter()
        .map(|s| {
            s.parse()
                .map_err(|_| DaemonError::InvalidParameter(format!("{s} is not an ip address")))
        })
        .collect::<Result<Vec<std::net::IpAddr>>>()?;
    Ok(crate::network::dns::resolv::DnsOverrides {
        servers,
        search: list("DnsSearch")?,
        options: list("DnsOptions")?,
    })
}

/// `HostConfig.ExtraHosts` (`--add-host`), each entry checked.
pub(super) fn extra_hosts(hc: &HostConfig) -> Result<Vec<crate::network::extra_hosts::ExtraHost>> {
    string_list(hc, "ExtraHosts")?
        .iter()
        .map(|e| crate::network::extra_hosts::parse(e).map_err(DaemonError::InvalidParameter))
        .collect()
}

/// `--network container:<x>` shares the other's namespace and files, so what would configure
/// a network of its own conflicts (Docker's checks and words).
pub(super) fn check_container_mode(
    cfg: &crate::wire::types::ContainerConfig,
    hc: &HostConfig,
) -> Result<()> {
    use crate::network::mode::NetworkMode;
    if !matches!(
        NetworkMode::parse(&hc.network_mode),
        Ok(NetworkMode::Container(_))
    ) {
        return Ok(());
    }
    let set = |key: &str| hc.extra.get(key).is_some_and(|v| !is_unset(v));
    let conflict = |what: &str| {
        Err(DaemonError::InvalidParameter(format!(
            "conflicting options: {what}"
        )))
    };
    if !cfg.hostname.is_empty() {
        return conflict("hostname and the network mode");
    }
    if set("Links") {
        return conflict(
            "container type network can't be used with links. This would result in undefined behavior",
        );
    }
    if set("Dns") || set("DnsSearch") || set("DnsOptions") {
        return conflict("dns and the network mode");
    }
    if set("ExtraHosts") {
        return conflict("custom host-to-IP mapping and the network mode");
    }
    if cfg.extra.get("MacAddress").is_some_and(|v| !is_unset(v)) {
        return conflict("mac-address and the network mode");
    }
    if hc.port_bindings.as_ref().is_some_and(|b| !b.is_empty()) || set("PublishAllPorts") {
        return conflict("port publishing and the container type network mode");
    }
    if cfg.exposed_ports.as_ref().is_some_and(|p| !p.is_empty()) {
        return conflict("port exposing and the container type network mode");
    }
    Ok(())
}

/// `-P`: HostConfig.PublishAllPorts (kept among the fields berth does not type).
pub(super) fn publish_all(hc: &HostConfig) -> bool {
    hc.extra
        .get("PublishAllPorts")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

/// What the daemon tells the client about a create it accepted but will not fully honour,
/// as Docker's `Warnings`.
pub(super) fn create_warnings(hc: &HostConfig) -> Vec<String> {
    let mut out = Vec::new();
    let mode = crate::network::mode::NetworkMode::parse(&hc.network_mode);
    if mode == Ok(crate::network::mode::NetworkMode::Host)
        && hc.port_bindings.as_ref().is_some_and(|b| !b.is_empty())
    {
        out.push("Published ports are discarded when using host network mode".to_string());
    }
    out
}

/// What `--security-opt` asks for: the seccomp profile (None: unconfined) and
/// no-new-privileges.
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityOpts {
    pub seccomp: Option<Seccomp>,
    pub no_new_privileges: bool,
}

/// A seccomp profile, and the text that names it in the filter cache.
#[derive(Debug, Clone, PartialEq)]
pub struct Seccomp {
    pub profile: crate::runtime::seccomp::Profile,
    /// "default", or the profile's JSON as given.
    pub source: String,
}

/// Docker's `SecurityOpt` entries, `key=value` (or the old `key:value`): `seccomp=unconfined`,
/// `seccomp=<profile JSON>` (the CLI sends a file's contents), `no-new-privileges[=bool]`;
/// `apparmor=unconfined` and `label=disable` ask for what berth does anyway. A privileged
/// container runs without seccomp, as in Docker.
pub fn security_opts(hc: &HostConfig) -> Result<SecurityOpts> {
    let mut out = SecurityOpts {
        seccomp: (!hc.privileged).then(|| Seccomp {
            profile: crate::runtime::seccomp::default_profile(),
            source: "default".into(),
        }),
        no_new_privileges: false,
    };
    let opts = hc.security_opt.as_deref().unwrap_or_default();
    let bad = |o: &str| {
        DaemonError::InvalidParameter(format!(
            "invalid --security-opt: {o:?} (berth supports seccomp=unconfined|<profile>, no-new-privileges, apparmor=unconfined, label=disable)"
        ))
    };
    for opt in opts {
        let (key, value) = match (opt.split_once('='), opt.split_once(':')) {
            (Some((k, v)), Some((k2, _))) if k.len() < k2.len() => (k, Some(v)),
            (_, Some((k, v))) => (k, Some(v)),
            (Some((k, v)), None) => (k, Some(v)),
            (None, None) => (opt.as_str(), None),
        };
        match (key, value) {
            ("no-new-privileges", None) => out.no_new_privileges = true,
            ("no-new-privileges", Some(v)) => {
                out.no_new_privileges = v.parse().map_err(|_| bad(opt))?;
            }
            ("seccomp", Some("unconfined")) => out.seccomp = None,
            ("seccomp", Some(json)) if json.trim_start().starts_with('{') => {
                let p = crate::runtime::seccomp::parse(json.as_bytes())
                    .map_err(|e| DaemonError::InvalidParameter(e.to_string()))?;
                out.seccomp = Some(Seccomp {
                    profile: p,
                    source: json.to_string(),
                });
            }
            ("apparmor", Some("unconfined")) | ("label", Some("disable")) => {}
            _ => return Err(bad(opt)),
        }
    }
    Ok(out)
}

/// The terminal size `[rows, columns]` the client sent (`ConsoleSize`); None when zero.
pub fn console_size([rows, cols]: [u16; 2]) -> Option<(u16, u16)> {
    (rows > 0 && cols > 0).then_some((rows, cols))
}

/// The resource limits a HostConfig asks for (zero and null mean "no limit", as in Docker).
pub fn resources(hc: &HostConfig) -> crate::cgroups::Resources {
    let set = |v: i64| (v != 0).then_some(v);
    crate::cgroups::Resources {
        memory: set(hc.memory),
        memory_swap: set(hc.memory_swap),
        memory_reservation: set(hc.memory_reservation),
        nano_cpus: set(hc.nano_cpus),
        cpu_shares: set(hc.cpu_shares),
        cpu_period: set(hc.cpu_period),
        cpu_quota: set(hc.cpu_quota),
        cpuset_cpus: Some(hc.cpuset_cpus.clone()).filter(|s| !s.is_empty()),
        pids_limit: hc.pids_limit.filter(|p| *p > 0),
        oom_kill_disable: hc.oom_kill_disable,
    }
}

/// The capability set `--cap-add`/`--cap-drop` ask for, as `CAP_*` names; None when neither
/// was given (Docker's default set).
pub fn container_caps(hc: &HostConfig) -> Result<Option<Vec<String>>> {
    let add = hc.cap_add.as_deref().unwrap_or_default();
    let drop = hc.cap_drop.as_deref().unwrap_or_default();
    if add.is_empty() && drop.is_empty() {
        return Ok(None);
    }
    let set = crate::runtime::security::capability_set(add, drop)
        .map_err(DaemonError::InvalidParameter)?;
    Ok(Some(set.iter().map(|c| c.to_string()).collect()))
}

/// Docker's rule for an environment list: later entries replace earlier ones with the same key.
pub fn merge_env(base: &[String], over: &[String]) -> Vec<String> {
    let mut out: Vec<String> = base.to_vec();
    for e in over {
        let key = e.split('=').next().unwrap_or(e);
        if let Some(slot) = out
            .iter_mut()
            .find(|x| x.split('=').next().unwrap_or(x) == key)
        {
            *slot = e.clone();
        } else {
            out.push(e.clone());
        }
    }
    out
}

pub(super) fn has_key(env: &[String], key: &str) -> bool {
    env.iter().any(|e| e.split('=').next() == Some(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_merge_replaces_by_key_and_keeps_order() {
        let base = vec!["PATH=/bin".to_string(), "A=1".to_string()];
        let over = vec!["A=2".to_string(), "B=3".to_string()];
        assert_eq!(merge_env(&base, &over), vec!["PATH=/bin", "A=2", "B=3"]);
    }

    #[test]
    fn unsupported_flags_are_refused_by_name() {
        let mut hc = HostConfig::default();
        hc.extra.insert("Devices".into(), serde_json::json!([]));
        hc.extra.insert("ShmSize".into(), serde_json::json!(0));
        assert!(check_supported(&hc).is_ok());
        hc.extra.insert(
            "Devices".into(),
            serde_json::json!([{"PathOnHost": "/dev/fuse"}]),
        );
        let err = check_supported(&hc).unwrap_err();
        assert_eq!(err.to_string(), "--device is not supported by berth yet");
        hc.extra.insert("Devices".into(), serde_json::json!(null));
        hc.memory = 1048576;
        let err = check_supported(&hc).unwrap_err();
        assert_eq!(err.to_string(), "Minimum memory limit allowed is 6MB");
    }

    #[test]
    fn unknown_log_drivers_and_runtimes_are_refused_in_dockers_words() {
        let mut hc = HostConfig::default();
        hc.log_config.driver = "asdf".into();
        let err = check_supported(&hc).unwrap_err();
        assert_eq!(
            err.to_string(),
            "logger: no log driver named 'asdf' is registered"
        );
        hc.log_config.driver = "none".into();
        assert!(check_supported(&hc).is_ok());
        hc.log_config.driver = "syslog".into();
        let err = check_supported(&hc).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the log driver \"syslog\" is not supported by berth yet"
        );
        hc.log_config.driver = "json-file".into();
        hc.extra.insert("Runtime".into(), serde_json::json!("runc"));
        assert!(check_supported(&hc).is_ok());
        hc.extra.insert("Runtime".into(), serde_json::json!("kata"));
        let err = check_supported(&hc).unwrap_err();
        assert_eq!(err.to_string(), "Unknown runtime specified kata");
    }
}
