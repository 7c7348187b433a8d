//! The daemon as a whole: `_ping`, `version`, `info` (what `docker info` and the SDK's
//! `version()` read), `events` (the kept events since `since`, then live ones), and swarm's
//! `leave`, answered as a node that is in no swarm, which is what clients probe for.

use super::{base, empty, full, json_line, ok_json, streaming, ApiError, Call, Reply};
use crate::daemon::events::{Event, EventFilter};
use crate::daemon::Daemon;
use crate::wire::types::{VersionComponent, VersionResponse, API_VERSION, MIN_API_VERSION};
use bytes::Bytes;
use hyper::header::CONTENT_TYPE;
use hyper::{Method, StatusCode};

/// `GET` and `HEAD /_ping`: "OK", uncached, with the API version in the headers (clients
/// read it there to pick the version they speak).
pub(super) async fn ping(c: Call) -> Reply {
    Ok(base(StatusCode::OK)
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .header("Cache-Control", "no-cache, no-store, must-revalidate")
        .header("Pragma", "no-cache")
        .body(if c.req.method() == Method::HEAD {
            empty()
        } else {
            full("OK")
        })
        .unwrap())
}

pub(super) async fn version(_: Call) -> Reply {
    ok_json(&version_info())
}

/// `GET /system/df`.
pub(super) async fn df(c: Call) -> Reply {
    ok_json(&c.d.disk_usage().await?)
}

pub(super) async fn info(c: Call) -> Reply {
    ok_json(&info_of(&c.d))
}

pub(super) async fn swarm_leave(_: Call) -> Reply {
    Err(ApiError::Status(
        StatusCode::SERVICE_UNAVAILABLE,
        "This node is not part of a swarm".into(),
    ))
}

/// `GET /events`: the kept events since `since` (if given), then new ones as they happen,
/// until `until` (if given) passes; one JSON object a line.
pub(super) async fn events(c: Call) -> Reply {
    let (q, d) = (c.query(), &c.d);
    let parse = |k: &str| {
        q.get(k)
            .filter(|v| !v.is_empty())
            .map(unix_nanos)
            .transpose()
            .map_err(ApiError::BadRequest)
    };
    let (since, until) = (parse("since")?, parse("until")?);
    let filter = EventFilter::parse(q.str("filters")).map_err(ApiError::BadRequest)?;
    let (past, mut live) = d.events.subscribe();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        let in_window = |e: &Event| {
            since.is_none_or(|s| e.time_nano >= s) && until.is_none_or(|u| e.time_nano <= u)
        };
        if since.is_some() {
            for e in past.iter().filter(|e| in_window(e) && filter.matches(e)) {
                if tx.send(json_line(e)).await.is_err() {
                    return;
                }
            }
        }
        let deadline = until.map(|u| {
            let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
            tokio::time::Instant::now()
                + std::time::Duration::from_nanos(u.saturating_sub(now).max(0) as u64)
        });
        loop {
            let next = match deadline {
                Some(at) => tokio::select! {
                    e = live.recv() => e,
                    _ = tokio::time::sleep_until(at) => return,
                    _ = tx.closed() => return,
                },
                None => tokio::select! {
                    e = live.recv() => e,
                    _ = tx.closed() => return,
                },
            };
            match next {
                Ok(e) if in_window(&e) && filter.matches(&e) => {
                    if tx.send(json_line(&e)).await.is_err() {
                        return;
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    streaming("application/json", rx)
}

/// A `since`/`until` of `GET /events`: unix seconds, with an optional fraction, as nanoseconds.
fn unix_nanos(v: &str) -> Result<i64, String> {
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = secs
        .parse()
        .map_err(|_| format!("invalid timestamp {v:?}"))?;
    let mut digits: String = frac.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("invalid timestamp {v:?}"));
    }
    while digits.len() < 9 {
        digits.push('0');
    }
    Ok(secs * 1_000_000_000 + digits.parse::<i64>().unwrap_or(0))
}

fn kernel_version() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn version_info() -> VersionResponse {
    let version = env!("CARGO_PKG_VERSION").to_string();
    let mut details = std::collections::BTreeMap::new();
    details.insert("ApiVersion".to_string(), API_VERSION.to_string());
    details.insert("MinAPIVersion".to_string(), MIN_API_VERSION.to_string());
    details.insert("Os".to_string(), "linux".to_string());
    details.insert("Arch".to_string(), "amd64".to_string());
    details.insert("KernelVersion".to_string(), kernel_version());
    let mut platform = std::collections::BTreeMap::new();
    platform.insert("Name".to_string(), "berth".to_string());
    VersionResponse {
        platform,
        components: vec![VersionComponent {
            name: "Engine".into(),
            version: version.clone(),
            details,
        }],
        version,
        api_version: API_VERSION.into(),
        min_api_version: MIN_API_VERSION.into(),
        git_commit: String::new(),
        go_version: format!("rust (berth {})", env!("CARGO_PKG_VERSION")),
        os: "linux".into(),
        arch: std::env::consts::ARCH.replace("x86_64", "amd64"),
        kernel_version: kernel_version(),
        build_time: String::new(),
    }
}

fn os_release() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    (get("PRETTY_NAME"), get("VERSION_ID"))
}

fn info_of(d: &Daemon) -> serde_json::Value {
    let recs: Vec<_> = d.all_containers().iter().map(|c| c.snapshot()).collect();
    let running = recs.iter().filter(|r| r.state.running).count();
    let images = d
        .images
        .lock()
        .unwrap()
        .list()
        .map(|l| l.len())
        .unwrap_or(0);
    let (os, os_version) = os_release();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        })
        .unwrap_or(0)
        * 1024;
    let hostname = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cgroup_version = match d.cgroups.version() {
        crate::cgroups::CgroupVersion::V1 => "1",
        crate::cgroups::CgroupVersion::V2 => "2",
    };
    serde_json::json!({
        "ID": "",
        "Containers": recs.len(),
        "ContainersRunning": running,
        "ContainersPaused": 0,
        "ContainersStopped": recs.len() - running,
        "Images": images,
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"], ["Native Overlay Diff", "true"]],
        "Plugins": {"Volume": ["local"], "Network": ["bridge"], "Authorization": null, "Log": ["json-file", "local"]},
        "MemoryLimit": false,
        "SwapLimit": false,
        "CpuCfsPeriod": false,
        "CpuCfsQuota": false,
        "CPUShares": false,
        "CPUSet": false,
        "PidsLimit": false,
        "IPv4Forwarding": true,
        "Debug": d.config.debug,
        "NFd": std::fs::read_dir("/proc/self/fd").map(|r| r.count()).unwrap_or(0),
        "NGoroutines": 0,
        "SystemTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "LoggingDriver": d.config.log_config.driver,
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version,
        "NEventsListener": 0,
        "KernelVersion": kernel_version(),
        "OperatingSystem": os,
        "OSVersion": os_version,
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "IndexServerAddress": "",
        "RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {}, "Mirrors": []},
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "MemTotal": mem,
        "DockerRootDir": d.config.root,
        "Name": hostname,
        "Labels": [],
        "ExperimentalBuild": false,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Runtimes": {"berth": {"path": d.exe}},
        "DefaultRuntime": "berth",
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": null},
        "LiveRestoreEnabled": false,
        "Isolation": "",
        "InitBinary": "",
        "SecurityOptions": [],
        "Warnings": null,
        "BerthBridge": d.network.bridge(),
        "BerthSubnet": d.network.subnet().to_string(),
    })
}
