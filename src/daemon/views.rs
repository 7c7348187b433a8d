//! How containers look through the API: `inspect` and the rows of `ps`, built from records.

use super::container::{Attachment, Record};
use super::Daemon;
use crate::util::human::human_duration;
use crate::wire::types::{
    ContainerInspect, ContainerSummary, EndpointSettings, GraphDriver, NetworkSettings,
};
use std::collections::BTreeMap;

impl Daemon {
    pub fn inspect_view(&self, rec: &Record, dir: &std::path::Path) -> ContainerInspect {
        inspect_view(rec, dir)
    }

    pub fn network_view(&self, rec: &Record) -> NetworkSettings {
        network_view(rec)
    }

    pub fn summary_view(&self, rec: &Record) -> ContainerSummary {
        summary_view(rec)
    }
}

/// `docker inspect` of a container: its record, and where its files are under `dir`.
pub fn inspect_view(rec: &Record, dir: &std::path::Path) -> ContainerInspect {
    let p = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let mut graph = BTreeMap::new();
    if let Some(root) = &rec.rootfs {
        graph.insert("MergedDir".to_string(), root.to_string_lossy().into_owned());
    }
    ContainerInspect {
        id: rec.id.clone(),
        created: rec.created.clone(),
        path: rec.path.clone(),
        args: rec.args.clone(),
        state: rec.state.clone(),
        image: rec.image.clone(),
        resolv_conf_path: p("resolv.conf"),
        hostname_path: p("hostname"),
        hosts_path: p("hosts"),
        // Docker shows json-file's path only: local's files are not an interface.
        log_path: match super::logs::log_file(std::path::Path::new(""), &rec.id, &rec.host_config) {
            Some((_, crate::runtime::logging::Format::JsonFile)) => {
                p(&format!("{}-json.log", rec.id))
            }
            _ => String::new(),
        },
        name: rec.name.clone(),
        restart_count: rec.restart_count,
        driver: "overlay2".into(),
        platform: "linux".into(),
        mount_label: String::new(),
        process_label: String::new(),
        app_armor_profile: String::new(),
        exec_ids: None,
        host_config: rec.host_config.clone(),
        graph_driver: GraphDriver {
            name: "overlay2".into(),
            data: graph,
        },
        mounts: rec
            .mount_points
            .iter()
            .map(|m| serde_json::to_value(m.view()).expect("a mount point serializes"))
            .collect(),
        config: rec.config.clone(),
        network_settings: network_view(rec),
    }
}

fn endpoint_view(rec: &Record, a: &Attachment) -> EndpointSettings {
    let mut e = EndpointSettings {
        network_id: a.network_id.clone(),
        aliases: (!a.aliases.is_empty()).then(|| a.aliases.clone()),
        links: (!a.links.is_empty()).then(|| a.links.clone()),
        // Asked for at create or connect: shown at once, as Docker records it, before the
        // container runs with it.
        mac_address: a.mac.clone().unwrap_or_default(),
        ipam_config: a.ipam_config.clone(),
        driver_opts: a.driver_opts.clone(),
        ..Default::default()
    };
    if let Some(ep) = &a.endpoint {
        e.endpoint_id = crate::daemon::network::view::endpoint_id(&rec.id, &a.network_id);
        e.gateway = ep.gateway.to_string();
        e.ip_address = ep.ip.to_string();
        e.ip_prefix_len = ep.prefix_len as i64;
        e.mac_address = ep.mac.clone();
        if let Some(v6) = &ep.ipv6 {
            e.global_ipv6_address = v6.ip.to_string();
            e.global_ipv6_prefix_len = i64::from(v6.prefix_len);
            e.ipv6_gateway = v6.gateway.to_string();
        }
    }
    e
}

/// NetworkSettings: one entry per network, by name; the old top-level fields describe the
/// default bridge only, as Docker's do.
pub fn network_view(rec: &Record) -> NetworkSettings {
    let networks: BTreeMap<String, EndpointSettings> = rec
        .networks
        .iter()
        .map(|(name, a)| (name.clone(), endpoint_view(rec, a)))
        .collect();
    let bridge = networks.get("bridge").cloned().unwrap_or_default();
    NetworkSettings {
        bridge: String::new(),
        sandbox_id: if rec.netns.is_some() {
            rec.id.clone()
        } else {
            String::new()
        },
        sandbox_key: rec
            .netns
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default(),
        ports: ports_view(rec),
        endpoint_id: bridge.endpoint_id.clone(),
        gateway: bridge.gateway.clone(),
        ip_address: bridge.ip_address.clone(),
        ip_prefix_len: bridge.ip_prefix_len,
        mac_address: bridge.mac_address.clone(),
        networks,
    }
}

/// NetworkSettings.Ports: every exposed or published port, with its host bindings while the
/// container runs (null otherwise), as Docker shows them.
fn ports_view(rec: &Record) -> BTreeMap<String, serde_json::Value> {
    let mut out: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    if !rec.state.running {
        return out;
    }
    for key in rec.config.exposed_ports.iter().flat_map(|p| p.keys()) {
        out.insert(key.clone(), serde_json::Value::Null);
    }
    for m in &rec.ports {
        let entry = out
            .entry(m.key())
            .or_insert_with(|| serde_json::Value::Array(vec![]));
        if entry.is_null() {
            *entry = serde_json::Value::Array(vec![]);
        }
        if let Some(list) = entry.as_array_mut() {
            list.push(serde_json::json!({
                "HostIp": m.host_ip.to_string(),
                "HostPort": m.host_port.to_string(),
            }));
        }
    }
    out
}

/// The list's Ports of a running container: each published port, and each exposed port that
/// is not published with its number and protocol only (the PORTS column's `80/tcp`).
fn summary_ports(rec: &Record) -> Vec<serde_json::Value> {
    if !rec.state.running {
        return vec![];
    }
    let mut out: Vec<serde_json::Value> = rec
        .ports
        .iter()
        .map(|m| {
            serde_json::json!({
                "IP": m.host_ip.to_string(),
                "PrivatePort": m.container_port,
                "PublicPort": m.host_port,
                "Type": m.proto,
            })
        })
        .collect();
    for key in ports_view(rec).keys() {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        if !rec
            .ports
            .iter()
            .any(|m| m.container_port == port && m.proto == proto)
        {
            out.push(serde_json::json!({ "PrivatePort": port, "Type": proto }));
        }
    }
    out
}

pub fn summary_view(rec: &Record) -> ContainerSummary {
    let created = chrono::DateTime::parse_from_rfc3339(&rec.created)
        .map(|t| t.timestamp())
        .unwrap_or(0);
    let mut command = rec.path.clone();
    for a in &rec.args {
        command.push(' ');
        command.push_str(a);
    }
    let net = network_view(rec);
    ContainerSummary {
        id: rec.id.clone(),
        names: vec![rec.name.clone()],
        image: rec.config.image.clone(),
        image_id: rec.image.clone(),
        command,
        created,
        ports: summary_ports(rec),
        labels: rec.config.labels.clone().unwrap_or_default(),
        state: rec.state.status.clone(),
        status: status_text(rec, chrono::Utc::now()),
        size_rw: None,
        size_root_fs: None,
        host_config: serde_json::json!({ "NetworkMode": rec.host_config.network_mode }),
        network_settings: serde_json::json!({ "Networks": net.networks }),
        mounts: rec
            .mount_points
            .iter()
            .map(|m| serde_json::to_value(m.view()).expect("a mount point serializes"))
            .collect(),
    }
}

/// Docker's STATUS column: "Created", "Up 3 seconds", "Up 3 seconds (healthy)",
/// "Exited (0) 2 minutes ago".
pub fn status_text(rec: &Record, now: chrono::DateTime<chrono::Utc>) -> String {
    let since = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| {
                (now - t.with_timezone(&chrono::Utc))
                    .to_std()
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    };
    match rec.state.status.as_str() {
        "running" => {
            let up = format!("Up {}", human_duration(since(&rec.state.started_at)));
            match &rec.state.health {
                Some(h) => format!("{up} ({})", super::health::status_suffix(h)),
                None => up,
            }
        }
        "paused" => format!(
            "Up {} (Paused)",
            human_duration(since(&rec.state.started_at))
        ),
        "exited" => format!(
            "Exited ({}) {} ago",
            rec.state.exit_code,
            human_duration(since(&rec.state.finished_at))
        ),
        "restarting" => format!(
            "Restarting ({}) {} ago",
            rec.state.exit_code,
            human_duration(since(&rec.state.finished_at))
        ),
        "created" => "Created".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::types::{ContainerConfig, HostConfig};

    fn running_record() -> Record {
        let mut state = Record::status_created();
        state.status = "running".into();
        state.running = true;
        state.pid = 4242;
        state.started_at = "2026-11-22T09:16:03.520824818Z".into();
        Record {
            id: "f3d76ad43f45ba93ade6d681d24c3ba85ffc01213b9c4644ba03a5cba4357227".into(),
            created: "2026-11-22T09:16:03.15434218Z".into(),
            path: "sleep".into(),
            args: vec!["100".into()],
            config: ContainerConfig {
                hostname: "f3d76ad43f45".into(),
                cmd: Some(vec!["sleep".into(), "100".into()]),
                image: "busybox".into(),
                env: Some(vec!["PATH=/bin".into()]),
                ..Default::default()
            },
            host_config: HostConfig {
                network_mode: "default".into(),
                ..Default::default()
            },
            image: "sha256:26ef77768ffa48d1630993a7f0edf6e1533792f0c8513f350d29aa466b407104".into(),
            name: "/web".into(),
            state,
            networks: [(
                "bridge".to_string(),
                crate::daemon::container::Attachment {
                    network_id: "7b3d".repeat(16),
                    endpoint: Some(crate::network::Endpoint {
                        ip: "10.213.7.2".parse().unwrap(),
                        prefix_len: 24,
                        gateway: "10.213.7.1".parse().unwrap(),
                        mac: "02:42:0a:d5:07:02".into(),
                        host_veth: "vethf3d76ad43f4".into(),
                        interface: "eth0".into(),
                        ipv6: None,
                    }),
                    ..Default::default()
                },
            )]
            .into(),
            netns: Some(
                "/run/berth/netns/f3d76ad43f45ba93ade6d681d24c3ba85ffc01213b9c4644ba03a5cba4357227"
                    .into(),
            ),
            rootfs: Some("/var/lib/berth/overlay2/abc/merged".into()),
            restart_count: 0,
            manually_stopped: false,
            ports: vec![],
            mount_points: vec![],
        }
    }

    #[test]
    fn inspect_json_has_dockers_shape() {
        let rec = running_record();
        let dir = std::path::Path::new("/var/lib/berth/containers").join(&rec.id);
        let v = inspect_view(&rec, &dir);
        insta::assert_json_snapshot!(v);
    }

    #[test]
    fn ps_row_and_status() {
        let rec = running_record();
        let row = summary_view(&rec);
        assert_eq!(row.command, "sleep 100");
        assert_eq!(row.names, vec!["/web"]);
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-22T09:16:05.6Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(status_text(&rec, now), "Up 2 seconds");
    }

    /// As Docker lists them: a published port with its host side, an exposed one without.
    #[test]
    fn ps_ports_show_published_and_exposed_ports() {
        let mut rec = running_record();
        rec.config.exposed_ports = Some(
            [
                ("80/tcp".to_string(), serde_json::json!({})),
                ("9000/udp".into(), serde_json::json!({})),
            ]
            .into(),
        );
        rec.ports = vec![crate::network::ports::PortMapping {
            proto: "tcp".into(),
            host_ip: std::net::Ipv4Addr::UNSPECIFIED,
            host_port: 32768,
            container_port: 80,
        }];
        assert_eq!(
            serde_json::Value::from(summary_view(&rec).ports),
            serde_json::json!([
                {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 32768, "Type": "tcp"},
                {"PrivatePort": 9000, "Type": "udp"},
            ])
        );
        rec.state.running = false;
        assert!(summary_view(&rec).ports.is_empty());
    }

    #[rstest::rstest]
    #[case("starting", "running", "Up 2 seconds (health: starting)")]
    #[case("healthy", "running", "Up 2 seconds (healthy)")]
    #[case("unhealthy", "running", "Up 2 seconds (unhealthy)")]
    #[case("healthy", "paused", "Up 2 seconds (Paused)")]
    fn ps_status_shows_the_health(#[case] health: &str, #[case] st: &str, #[case] want: &str) {
        let mut rec = running_record();
        rec.state.status = st.into();
        rec.state.health = Some(crate::wire::types::Health {
            status: health.into(),
            ..Default::default()
        });
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-22T09:16:05.6Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(status_text(&rec, now), want);
    }
}
