//! `berth version`, `berth info` and `berth system df`, laid out as docker prints them. The
//! disk-usage tables are a pure function of the daemon's `GET /system/df` answer and the
//! time, so they are tested against fixed inputs.

use super::report;
use crate::api::client::Client;
use crate::wire::types::VersionResponse;

pub async fn version(client: &Client) -> i32 {
    println!("Client:");
    println!(" Version:           {}", env!("CARGO_PKG_VERSION"));
    println!(" API version:       {}", crate::wire::types::API_VERSION);
    println!(
        " OS/Arch:           linux/{}",
        std::env::consts::ARCH.replace("x86_64", "amd64")
    );
    println!();
    match client.get_json::<VersionResponse>("/version").await {
        Ok(v) => {
            println!("Server: berth");
            println!(" Engine:");
            println!("  Version:          {}", v.version);
            println!(
                "  API version:      {} (minimum version {})",
                v.api_version, v.min_api_version
            );
            println!("  OS/Arch:          {}/{}", v.os, v.arch);
            println!("  Kernel Version:   {}", v.kernel_version);
            0
        }
        Err(e) => report(&e),
    }
}

pub async fn info(client: &Client) -> i32 {
    let v: serde_json::Value = match client.get_json("/info").await {
        Ok(v) => v,
        Err(e) => return report(&e),
    };
    let s = |k: &str| match &v[k] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    println!("Client:");
    println!(" Version:    {}", env!("CARGO_PKG_VERSION"));
    println!();
    println!("Server:");
    println!(" Containers: {}", s("Containers"));
    println!("  Running: {}", s("ContainersRunning"));
    println!("  Paused: {}", s("ContainersPaused"));
    println!("  Stopped: {}", s("ContainersStopped"));
    println!(" Images: {}", s("Images"));
    println!(" Server Version: {}", s("ServerVersion"));
    println!(" Storage Driver: {}", s("Driver"));
    println!(" Logging Driver: {}", s("LoggingDriver"));
    println!(" Cgroup Driver: {}", s("CgroupDriver"));
    println!(" Cgroup Version: {}", s("CgroupVersion"));
    println!(
        " Default Bridge: {} ({})",
        s("BerthBridge"),
        s("BerthSubnet")
    );
    println!(" Kernel Version: {}", s("KernelVersion"));
    println!(" Operating System: {}", s("OperatingSystem"));
    println!(" OSType: {}", s("OSType"));
    println!(" Architecture: {}", s("Architecture"));
    println!(" CPUs: {}", s("NCPU"));
    let mem = v["MemTotal"].as_f64().unwrap_or(0.0);
    println!(" Total Memory: {:.2}GiB", mem / 1024.0 / 1024.0 / 1024.0);
    println!(" Name: {}", s("Name"));
    println!(" Berth Root Dir: {}", s("DockerRootDir"));
    println!(" Debug Mode: {}", s("Debug"));
    println!(" Live Restore Enabled: {}", s("LiveRestoreEnabled"));
    0
}

/// `berth system …`: of docker's system commands, the ones with no top-level form.
#[derive(clap::Subcommand, Debug)]
pub enum SystemCommand {
    /// Show docker disk usage
    Df(DfArgs),
}

#[derive(clap::Args, Debug, Clone, Default)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long)]
    pub format: Option<String>,
}

pub async fn system(client: &Client, cmd: SystemCommand) -> i32 {
    match cmd {
        SystemCommand::Df(a) => df(client, a).await,
    }
}

/// `system df`: `GET /system/df`, then docker's summary (or, with `-v`, its four sections),
/// rendered by `df_render`.
pub async fn df(client: &Client, a: DfArgs) -> i32 {
    let du: crate::wire::volume::DiskUsage = match client.get_json("/system/df").await {
        Ok(du) => du,
        Err(e) => return report(&e),
    };
    let now = chrono::Utc::now().timestamp();
    match df_render(&du, a.verbose, a.format.as_deref(), now) {
        Ok(out) => {
            print!("{out}");
            0
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// What `system df` prints for `du` at `now` (Unix seconds, for the "… ago" columns), as
/// docker's disk-usage formatter lays it out: the summary's four rows (images, containers,
/// local volumes, build cache) or, verbose, one table per kind.
pub fn df_render(
    du: &crate::wire::volume::DiskUsage,
    verbose: bool,
    format: Option<&str>,
    now: i64,
) -> Result<String, String> {
    let format = format.filter(|f| !f.is_empty()).unwrap_or("table");
    if verbose {
        return usage::verbose(du, format, now);
    }
    let template = match format {
        "table" => "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
        "raw" => "type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\nreclaimable: {{.Reclaimable}}\n",
        f if f.trim() == "json" => "{{json .}}",
        f => f,
    };
    let header = serde_json::json!({
        "Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
        "Reclaimable": "RECLAIMABLE",
    });
    super::template::format_rows(template, &usage::summary(du), &header)
}

/// The pieces of `system df`, after docker/cli's `formatter/disk_usage.go` and the image,
/// container, volume and build-cache formatters its verbose form borrows.
mod usage {
    use crate::cli::template::format_rows;
    use crate::util::human::{human_duration, human_size_with_precision};
    use crate::wire::volume::DiskUsage;
    use serde_json::{json, Value};

    fn int(v: &Value, k: &str) -> i64 {
        v[k].as_i64().unwrap_or(0)
    }

    fn text<'a>(v: &'a Value, k: &str) -> &'a str {
        v[k].as_str().unwrap_or("")
    }

    /// go-units' `HumanSizeWithPrecision`, negative sizes included (docker prints `-1B` for a
    /// size not computed).
    fn size(n: i64, precision: i32) -> String {
        if n < 0 {
            format!("{n}B")
        } else {
            human_size_with_precision(n, precision)
        }
    }

    /// `HumanSize`: four significant digits.
    fn human(n: i64) -> String {
        size(n, 4)
    }

    /// "12.3MB (45%)" when there is a total to take a share of, "0B" otherwise.
    fn share(reclaimable: i64, total: i64) -> String {
        if total > 0 {
            format!("{} ({}%)", human(reclaimable), reclaimable * 100 / total)
        } else {
            human(reclaimable)
        }
    }

    fn ago(now: i64, then: i64) -> String {
        let d = std::time::Duration::from_secs((now - then).max(0) as u64);
        format!("{} ago", human_duration(d))
    }

    /// docker's `TruncateID`: what follows an algorithm prefix, cut to 12.
    fn truncate_id(id: &str) -> String {
        let id = id.split_once(':').map_or(id, |(_, rest)| rest);
        id.chars().take(12).collect()
    }

    fn container_active(c: &Value) -> bool {
        matches!(text(c, "State"), "running" | "paused" | "restarting")
    }

    fn usage(v: &crate::wire::volume::Volume) -> (i64, i64) {
        // Docker's client would crash on a volume without usage; none counts as unused and
        // of unknown size here.
        v.usage_data
            .as_ref()
            .map_or((-1, 0), |u| (u.size, u.ref_count))
    }

    /// The space the build cache takes: what is not shared with images.
    fn builder_size(du: &DiskUsage) -> i64 {
        du.build_cache
            .iter()
            .filter(|b| !b["Shared"].as_bool().unwrap_or(false))
            .map(|b| int(b, "Size"))
            .sum()
    }

    pub(super) fn summary(du: &DiskUsage) -> Vec<Value> {
        let row = |kind: &str, total: usize, active: usize, size: String, reclaimable: String| {
            json!({
                "Type": kind, "TotalCount": total.to_string(), "Active": active.to_string(),
                "Size": size, "Reclaimable": reclaimable,
            })
        };
        let images = {
            let used: i64 = du
                .images
                .iter()
                .filter(|i| int(i, "Containers") != 0)
                .filter(|i| int(i, "Size") != -1 && int(i, "SharedSize") != -1)
                .map(|i| int(i, "Size") - int(i, "SharedSize"))
                .sum();
            row(
                "Images",
                du.images.len(),
                du.images
                    .iter()
                    .filter(|i| int(i, "Containers") > 0)
                    .count(),
                human(du.layers_size),
                share(du.layers_size - used, du.layers_size),
            )
        };
        let containers = {
            let total: i64 = du.containers.iter().map(|c| int(c, "SizeRw")).sum();
            let idle: i64 = du
                .containers
                .iter()
                .filter(|c| !container_active(c))
                .map(|c| int(c, "SizeRw"))
                .sum();
            row(
                "Containers",
                du.containers.len(),
                du.containers.iter().filter(|c| container_active(c)).count(),
                human(total),
                share(idle, total),
            )
        };
        let volumes = {
            let known: Vec<(i64, i64)> = du
                .volumes
                .iter()
                .map(usage)
                .filter(|(s, _)| *s != -1)
                .collect();
            let total: i64 = known.iter().map(|(s, _)| s).sum();
            let unused: i64 = known.iter().filter(|(_, r)| *r == 0).map(|(s, _)| s).sum();
            row(
                "Local Volumes",
                du.volumes.len(),
                du.volumes.iter().filter(|v| usage(v).1 > 0).count(),
                human(total),
                share(unused, total),
            )
        };
        let cache = {
            let in_use: i64 = du
                .build_cache
                .iter()
                .filter(|b| b["InUse"].as_bool().unwrap_or(false))
                .filter(|b| !b["Shared"].as_bool().unwrap_or(false))
                .map(|b| int(b, "Size"))
                .sum();
            let size = builder_size(du);
            row(
                "Build Cache",
                du.build_cache.len(),
                du.build_cache
                    .iter()
                    .filter(|b| b["InUse"].as_bool().unwrap_or(false))
                    .count(),
                human(size),
                human(size - in_use),
            )
        };
        vec![images, containers, volumes, cache]
    }

    /// docker's `isDangling`: no tags and no digests, or only the `<none>` placeholders.
    fn dangling(i: &Value) -> bool {
        let list = |k: &str| -> Vec<&str> {
            i[k].as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect()
        };
        let (tags, digests) = (list("RepoTags"), list("RepoDigests"));
        (tags.is_empty() && digests.is_empty())
            || (tags == ["<none>:<none>"] && digests == ["<none>@<none>"])
    }

    fn utc(secs: i64) -> String {
        chrono::DateTime::from_timestamp(secs, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
            .unwrap_or_default()
    }

    /// The rows of the images section; an image whose first tag does not parse is left out,
    /// as docker leaves it.
    fn images(du: &DiskUsage, trunc: bool, now: i64) -> Vec<Value> {
        let mut rows = Vec::new();
        for i in &du.images {
            let (mut repo, mut tag) = ("<none>".to_string(), "<none>".to_string());
            let first = i["RepoTags"].get(0).and_then(Value::as_str);
            if let Some(first) = first.filter(|_| !dangling(i)) {
                let Ok(r) = crate::image::reference::Reference::parse(first) else {
                    continue;
                };
                if let Some(t) = r.tag() {
                    (repo, tag) = (r.familiar_name(), t.to_string());
                }
            }
            let id = text(i, "Id");
            let (sz, shared) = (int(i, "Size"), int(i, "SharedSize"));
            let containers = int(i, "Containers");
            rows.push(json!({
                "ID": if trunc { truncate_id(id) } else { id.to_string() },
                "Repository": repo,
                "Tag": tag,
                "Digest": "",
                "CreatedSince": ago(now, int(i, "Created")),
                "CreatedAt": utc(int(i, "Created")),
                "Size": size(sz, 3),
                "VirtualSize": human(sz),
                "SharedSize": if shared == -1 { "N/A".into() } else { human(shared) },
                "UniqueSize": if sz == -1 || shared == -1 { "N/A".into() } else { human(sz - shared) },
                "Containers": if containers == -1 { "N/A".into() } else { containers.to_string() },
            }));
        }
        rows
    }

    /// docker's IMAGE cell: the image's short id when it was run by id, else the reference
    /// without its digest, in familiar form.
    fn image_cell(c: &Value, trunc: bool) -> String {
        let image = text(c, "Image");
        if image.is_empty() {
            return "<no image>".into();
        }
        if !trunc {
            return image.into();
        }
        if truncate_id(text(c, "ImageID")) == truncate_id(image) {
            return truncate_id(image);
        }
        match crate::image::reference::Reference::parse(image) {
            Ok(r) => match r.tag() {
                Some(t) => format!("{}:{t}", r.familiar_name()),
                None => r.familiar_name(),
            },
            Err(_) => image.into(),
        }
    }

    fn containers(du: &DiskUsage, trunc: bool, now: i64) -> Vec<Value> {
        du.containers
            .iter()
            .map(|c| {
                let names: Vec<&str> = c["Names"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(|n| n.get(1..).unwrap_or(""))
                    .collect();
                // Truncated, a container shows its own name, not the ones links gave it.
                let names = match names.iter().find(|n| !n.contains('/')) {
                    Some(own) if trunc => own.to_string(),
                    _ => names.join(","),
                };
                let mounts: Vec<&Value> = c["Mounts"].as_array().into_iter().flatten().collect();
                let mount_names: Vec<String> = mounts
                    .iter()
                    .map(|m| {
                        let n = match text(m, "Name") {
                            "" => text(m, "Source"),
                            n => n,
                        };
                        if trunc && n.chars().count() > 15 {
                            format!("{}…", n.chars().take(14).collect::<String>())
                        } else {
                            n.to_string()
                        }
                    })
                    .collect();
                let mut labels: Vec<String> = c["Labels"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect();
                labels.sort();
                let networks: Vec<&String> = c["NetworkSettings"]["Networks"]
                    .as_object()
                    .into_iter()
                    .flat_map(|n| n.keys())
                    .collect();
                let id = text(c, "Id");
                json!({
                    "ID": if trunc { truncate_id(id) } else { id.to_string() },
                    "Names": names,
                    "Image": image_cell(c, trunc),
                    "Command": crate::cli::container::command_cell(text(c, "Command"), !trunc),
                    "CreatedAt": utc(int(c, "Created")),
                    "RunningFor": ago(now, int(c, "Created")),
                    "State": text(c, "State"),
                    "Status": text(c, "Status"),
                    // The virtual size is left out here, as docker leaves it.
                    "Size": size(int(c, "SizeRw"), 3),
                    "Labels": labels.join(","),
                    "Mounts": mount_names.join(","),
                    "LocalVolumes": mounts.iter().filter(|m| text(m, "Driver") == "local").count().to_string(),
                    "Networks": networks.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(","),
                })
            })
            .collect()
    }

    fn volumes(du: &DiskUsage) -> Vec<Value> {
        du.volumes
            .iter()
            .map(crate::cli::volume::volume_context)
            .collect()
    }

    fn rfc3339(v: &Value) -> Option<i64> {
        chrono::DateTime::parse_from_rfc3339(v.as_str()?)
            .ok()
            .map(|t| t.timestamp())
    }

    fn build_cache(du: &DiskUsage, trunc: bool, now: i64) -> Vec<Value> {
        let mut records: Vec<&Value> = du.build_cache.iter().collect();
        // docker's order: never used first, then by last use, ties by id.
        records.sort_by(|a, b| {
            let by_id = || text(a, "ID").cmp(text(b, "ID"));
            match (rfc3339(&a["LastUsedAt"]), rfc3339(&b["LastUsedAt"])) {
                (None, None) => by_id(),
                (None, Some(_)) => std::cmp::Ordering::Less,
                (Some(_), None) => std::cmp::Ordering::Greater,
                (Some(x), Some(y)) => x.cmp(&y).then_with(by_id),
            }
        });
        records
            .into_iter()
            .map(|b| {
                let in_use = b["InUse"].as_bool().unwrap_or(false);
                let id = text(b, "ID");
                let id = if trunc {
                    truncate_id(id)
                } else {
                    id.to_string()
                };
                let last_used = rfc3339(&b["LastUsedAt"]);
                json!({
                    "ID": if in_use { format!("{id}*") } else { id },
                    "CacheType": text(b, "Type"),
                    "Description": text(b, "Description"),
                    "Size": size(int(b, "Size"), 3),
                    "CreatedSince": ago(now, rfc3339(&b["CreatedAt"]).unwrap_or(0)),
                    "LastUsedSince": last_used.map(|t| ago(now, t)).unwrap_or_default(),
                    "UsageCount": int(b, "UsageCount").to_string(),
                    "InUse": in_use.to_string(),
                    "Shared": b["Shared"].as_bool().unwrap_or(false).to_string(),
                })
            })
            .collect()
    }

    /// `-v`: the four sections as tables, or, for a format of one's own, that template run
    /// once over all four lists, as docker runs it.
    pub(super) fn verbose(du: &DiskUsage, format: &str, now: i64) -> Result<String, String> {
        if format != "table" {
            let all = json!({
                "Images": images(du, false, now),
                "Containers": containers(du, false, now),
                "Volumes": volumes(du),
                "BuildCache": build_cache(du, false, now),
            });
            let f = match format.strip_prefix("table") {
                Some(rest) => rest,
                None if format.trim() == "json" => "{{json .}}",
                None => format,
            };
            let f = f
                .trim_matches(' ')
                .replace("\\t", "\t")
                .replace("\\n", "\n");
            let t = crate::cli::template::Template::parse(&f)?;
            return t.render(&all);
        }
        let section =
            |template: &str, rows: &[Value], header: Value| format_rows(template, rows, &header);
        let mut out = String::from("Images space usage:\n\n");
        out += &section(
            "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
            &images(du, true, now),
            json!({"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED",
                   "Size": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS"}),
        )?;
        out += "\nContainers space usage:\n\n";
        out += &section(
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
            &containers(du, true, now),
            json!({"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "LocalVolumes": "LOCAL VOLUMES",
                   "Size": "SIZE", "RunningFor": "CREATED", "Status": "STATUS", "Names": "NAMES"}),
        )?;
        out += "\nLocal Volumes space usage:\n\n";
        out += &section(
            "table {{.Name}}\t{{.Links}}\t{{.Size}}",
            &volumes(du),
            crate::cli::volume::header(),
        )?;
        out += &format!("\nBuild cache usage: {}\n\n", human(builder_size(du)));
        out += &section(
            "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}",
            &build_cache(du, true, now),
            json!({"ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE", "CreatedSince": "CREATED",
                   "LastUsedSince": "LAST USED", "UsageCount": "USAGE", "Shared": "SHARED"}),
        )?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::volume::{DiskUsage, UsageData, Volume};
    use serde_json::json;

    /// 2026-11-22 09:15:29 UTC, the "now" of the fixtures.
    const NOW: i64 = 1_795_338_929;

    fn volume(name: &str, size: i64, refs: i64) -> Volume {
        Volume {
            name: name.into(),
            driver: "local".into(),
            scope: "local".into(),
            mountpoint: format!("/var/lib/berth/volumes/{name}/_data"),
            usage_data: Some(UsageData {
                size,
                ref_count: refs,
            }),
            ..Default::default()
        }
    }

    /// Two tagged images (one used by a container, sharing a layer with the other), a dangling
    /// one; a running and an exited container; three volumes (one in use, one not measured);
    /// a build cache with a shared, an in-use and a never-used record.
    fn usage() -> DiskUsage {
        DiskUsage {
            layers_size: 92_000_000,
            images: vec![
                json!({"Id": "sha256:6d5fb2c56f4ae6d1d4b7e8a3c2f19e0b7a6d5c4b3a29180f7e6d5c4b3a291807",
                       "RepoTags": ["busybox:latest", "busybox:1.36"], "RepoDigests": [],
                       "Created": NOW - 3 * 86_400, "Size": 4_261_550, "SharedSize": 4_261_550, "Containers": 2}),
                json!({"Id": "sha256:a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
                       "RepoTags": ["localhost:5000/team/app:v2"], "RepoDigests": ["localhost:5000/team/app@sha256:ff"],
                       "Created": NOW - 7_200, "Size": 80_123_456, "SharedSize": 4_261_550, "Containers": 0}),
                json!({"Id": "sha256:0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef",
                       "RepoTags": [], "RepoDigests": [],
                       "Created": NOW - 90, "Size": 7_615_000, "SharedSize": -1, "Containers": -1}),
            ],
            containers: vec![
                json!({"Id": "4a1c9e3f7b2d4a1c9e3f7b2d4a1c9e3f7b2d4a1c9e3f7b2d4a1c9e3f7b2d4a1c",
                       "Names": ["/web", "/other/web"], "Image": "busybox:latest", "ImageID": "sha256:6d5fb2c56f4a",
                       "Command": "httpd -f -p 8080 -h /var/www", "Created": NOW - 600, "State": "running",
                       "Status": "Up 10 minutes", "SizeRw": 12_288, "SizeRootFs": 4_273_838,
                       "Mounts": [{"Type": "volume", "Name": "data", "Driver": "local", "Source": "/var/lib/berth/volumes/data/_data"},
                                  {"Type": "bind", "Source": "/srv", "Driver": ""}]}),
                json!({"Id": "9f8e7d6c5b4a9f8e7d6c5b4a9f8e7d6c5b4a9f8e7d6c5b4a9f8e7d6c5b4a9f8e",
                       "Names": ["/job"], "Image": "busybox@sha256:6d5fb2c56f4ae6d1d4b7e8a3c2f19e0b7a6d5c4b3a29180f7e6d5c4b3a291807",
                       "ImageID": "sha256:6d5fb2c56f4a", "Command": "true", "Created": NOW - 86_400,
                       "State": "exited", "Status": "Exited (0) 23 hours ago", "SizeRw": 2_048_000, "Mounts": []}),
            ],
            volumes: vec![
                volume("data", 150_000_000, 1),
                volume(
                    "0d5fb2c56f4ae6d1d4b7e8a3c2f19e0b7a6d5c4b3a29180f7e6d5c4b3a291807",
                    50_000_000,
                    0,
                ),
                volume("remote", -1, 0),
            ],
            build_cache: vec![
                json!({"ID": "sha256:c0ffee00c0ffee00c0ffee00", "Type": "regular", "Size": 3_000_000,
                       "CreatedAt": "2026-11-20T09:15:29Z", "LastUsedAt": "2026-11-22T08:15:29Z",
                       "UsageCount": 4, "InUse": false, "Shared": true}),
                json!({"ID": "k3x9p2m7q1w8e4r6t5y0u2i9o", "Type": "source.local", "Size": 1_200_000,
                       "CreatedAt": "2026-11-21T09:15:29Z", "LastUsedAt": "2026-11-22T09:14:29Z",
                       "UsageCount": 2, "InUse": true, "Shared": false}),
                json!({"ID": "b4d5e6f7a8b9c0d1e2f3a4b5c", "Type": "exec.cachemount", "Size": 640_000,
                       "CreatedAt": "2026-11-22T06:15:29Z", "LastUsedAt": null,
                       "UsageCount": 0, "InUse": false, "Shared": false}),
            ],
        }
    }

    #[test]
    fn the_summary_is_dockers() {
        insta::assert_snapshot!(df_render(&usage(), false, None, NOW).unwrap());
    }

    #[test]
    fn the_verbose_sections_are_dockers() {
        insta::assert_snapshot!(df_render(&usage(), true, None, NOW).unwrap());
    }

    #[test]
    fn nothing_at_all_is_four_rows_of_zeros() {
        assert_eq!(
            df_render(&DiskUsage::default(), false, None, NOW).unwrap(),
            "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n\
             Images          0         0         0B        0B\n\
             Containers      0         0         0B        0B\n\
             Local Volumes   0         0         0B        0B\n\
             Build Cache     0         0         0B        0B\n"
        );
    }

    #[test]
    fn formats_of_ones_own() {
        let du = usage();
        assert_eq!(
            df_render(&du, false, Some("{{.Type}}={{.Reclaimable}}"), NOW).unwrap(),
            "Images=92MB (100%)\nContainers=2.048MB (99%)\nLocal Volumes=50MB (25%)\nBuild Cache=640kB\n"
        );
        let json = df_render(&du, false, Some("json"), NOW).unwrap();
        assert_eq!(
            json.lines().next().unwrap(),
            r#"{"Active":"1","Reclaimable":"92MB (100%)","Size":"92MB","TotalCount":"3","Type":"Images"}"#
        );
        assert_eq!(
            df_render(&du, false, Some("raw"), NOW)
                .unwrap()
                .lines()
                .take(6)
                .collect::<Vec<_>>(),
            [
                "type: Images",
                "total: 3",
                "active: 1",
                "size: 92MB",
                "reclaimable: 92MB (100%)",
                ""
            ]
        );
        assert_eq!(
            df_render(
                &du,
                true,
                Some("{{range .Volumes}}{{.Name}}:{{.Links}} {{end}}"),
                NOW
            )
            .unwrap(),
            "data:1 0d5fb2c56f4ae6d1d4b7e8a3c2f19e0b7a6d5c4b3a29180f7e6d5c4b3a291807:0 remote:0 "
        );
    }
}
