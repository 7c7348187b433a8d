//! `volume ls`: the volumes as docker lists them, sorted by name in natural order, `-f` sent
//! as the API's `filters` JSON (the daemon checks the keys: dangling, driver, label, name), and
//! `--format` over the fields of docker's volume formatter (`table …`, `json`, `raw`, Go
//! templates, `{{.Label "k"}}`). `Links` and `Size` read `N/A` here: only `system df` has the
//! usage, and the swarm columns (`Group`, `Availability`, `Status`) are always `N/A`.

use crate::api::client::Client;
use crate::cli::network::{filter_flag, natural_cmp, with_label_calls};
use crate::cli::template::format_rows;
use crate::wire::volume::{Volume, VolumeListResponse};
use clap::Args;
use serde_json::{json, Value};

pub const DEFAULT_TABLE: &str = "table {{.Driver}}\t{{.Name}}";

#[derive(Args, Debug, Clone, Default)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Provide filter values (e.g. "dangling=true")
    #[arg(short = 'f', long = "filter", value_parser = filter_flag)]
    pub filters: Vec<String>,
}

/// The fields docker's volume formatter offers for `v`; its labels ride along under
/// `__labels` for `{{.Label "k"}}` (and `json` leaves them out).
pub fn volume_context(v: &Volume) -> Value {
    // Docker joins the labels in Go's map order, which is random; sorted is one of its orders.
    let labels: Vec<String> = v
        .labels
        .iter()
        .map(|(k, val)| format!("{k}={val}"))
        .collect();
    let (links, size) = match &v.usage_data {
        // A size the daemon did not measure is -1, which docker prints as it is.
        Some(u) if u.size < 0 => (u.ref_count.to_string(), format!("{}B", u.size)),
        Some(u) => (
            u.ref_count.to_string(),
            crate::util::human::human_size_with_precision(u.size, 4),
        ),
        None => ("N/A".into(), "N/A".into()),
    };
    json!({
        "Name": v.name,
        "Driver": v.driver,
        "Scope": v.scope,
        "Mountpoint": v.mountpoint,
        "Labels": labels.join(","),
        "Links": links,
        "Size": size,
        "Group": "N/A",
        "Availability": "N/A",
        "Status": "N/A",
        "__labels": v.labels,
    })
}

pub(crate) fn header() -> Value {
    json!({
        "ID": "ID", "Name": "VOLUME NAME", "Group": "GROUP", "Driver": "DRIVER",
        "Scope": "SCOPE", "Availability": "AVAILABILITY", "Mountpoint": "MOUNTPOINT",
        "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "Status": "STATUS",
    })
}

/// The template `--format` (or its absence) stands for, as docker's `NewVolumeFormat` picks it.
fn template_for(format: Option<&str>, quiet: bool) -> String {
    match format.unwrap_or("table") {
        "table" if quiet => "{{.Name}}".into(),
        "table" => DEFAULT_TABLE.into(),
        "raw" if quiet => "name: {{.Name}}".into(),
        "raw" => "name: {{.Name}}\\ndriver: {{.Driver}}\\n".into(),
        f if f.trim() == "json" => "{{json .}}".into(),
        other => other.into(),
    }
}

/// The listing as docker prints it for `format` (None: the default table).
pub fn ls_table(volumes: &[Volume], format: Option<&str>, quiet: bool) -> Result<String, String> {
    let mut volumes: Vec<&Volume> = volumes.iter().collect();
    volumes.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    let rows: Vec<Value> = volumes.into_iter().map(volume_context).collect();
    let t = with_label_calls(&template_for(format, quiet));
    format_rows(&t, &rows, &header())
}

pub async fn ls(client: &Client, a: LsArgs) -> i32 {
    let path = match crate::cli::network::with_filters("/volumes", &a.filters) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 125;
        }
    };
    let list: VolumeListResponse = match client.get_json(&path).await {
        Ok(l) => l,
        Err(e) => return crate::cli::network::fail(&e),
    };
    match ls_table(&list.volumes, a.format.as_deref(), a.quiet) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::volume::UsageData;
    use rstest::rstest;

    pub(crate) fn vol(name: &str) -> Volume {
        Volume {
            created_at: "2026-11-22T09:15:29Z".into(),
            driver: "local".into(),
            mountpoint: format!("/var/lib/berth/volumes/{name}/_data"),
            name: name.into(),
            scope: "local".into(),
            ..Default::default()
        }
    }

    fn volumes() -> Vec<Volume> {
        let mut db = vol("db10");
        db.labels.insert("com.example.team".into(), "data".into());
        db.labels.insert("tier".into(), "2".into());
        vec![
            db,
            vol("db2"),
            vol("0d5fb2c56f4ae6d1d4b7e8a3c2f19e0b7a6d5c4b3a29180f7e6d5c4b3a291807"),
            Volume {
                driver: "nfs".into(),
                ..vol("Archive")
            },
        ]
    }

    #[test]
    fn the_default_table_is_dockers() {
        insta::assert_snapshot!(ls_table(&volumes(), None, false).unwrap());
    }

    #[test]
    fn an_empty_list_is_the_header_alone() {
        assert_eq!(
            ls_table(&[], None, false).unwrap(),
            "DRIVER    VOLUME NAME\n"
        );
        assert_eq!(ls_table(&[], None, true).unwrap(), "");
    }

    #[rstest]
    #[case(
        None,
        true,
        "0d5fb2c56f4ae6d1d4b7e8a3c2f19e0b7a6d5c4b3a29180f7e6d5c4b3a291807\nArchive\ndb2\ndb10\n"
    )]
    #[case(Some("{{.Name}}:{{.Driver}}"), true, "0d5fb2c56f4ae6d1d4b7e8a3c2f19e0b7a6d5c4b3a29180f7e6d5c4b3a291807:local\nArchive:nfs\ndb2:local\ndb10:local\n")]
    #[case(Some("raw"), true, "name: 0d5fb2c56f4ae6d1d4b7e8a3c2f19e0b7a6d5c4b3a29180f7e6d5c4b3a291807\nname: Archive\nname: db2\nname: db10\n")]
    fn quiet_and_formats(#[case] format: Option<&str>, #[case] quiet: bool, #[case] want: &str) {
        assert_eq!(ls_table(&volumes(), format, quiet).unwrap(), want);
    }

    #[rstest]
    #[case("{{.Labels}}", "com.example.team=data,tier=2\n")]
    #[case(r#"{{.Label "tier"}}|{{.Label "nope"}}"#, "2|\n")]
    #[case(
        "{{.Mountpoint}} {{.Scope}}",
        "/var/lib/berth/volumes/db10/_data local\n"
    )]
    #[case(
        "{{.Links}} {{.Size}} {{.Group}} {{.Availability}} {{.Status}}",
        "N/A N/A N/A N/A N/A\n"
    )]
    #[case("json", r#"{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"com.example.team=data,tier=2","Links":"N/A","Mountpoint":"/var/lib/berth/volumes/db10/_data","Name":"db10","Scope":"local","Size":"N/A","Status":"N/A"}
"#)]
    #[case("raw", "name: db10\ndriver: local\n\n")]
    #[case(r#"table {{.Name}}\t{{.Label "com.example.team"}}\t{{.Mountpoint}}"#, "VOLUME NAME   team      MOUNTPOINT\ndb10          data      /var/lib/berth/volumes/db10/_data\n")]
    fn formats(#[case] format: &str, #[case] want: &str) {
        let one = vec![volumes().remove(0)];
        assert_eq!(ls_table(&one, Some(format), false).unwrap(), want);
    }

    #[test]
    fn usage_fills_links_and_size() {
        let mut v = vol("big");
        v.usage_data = Some(UsageData {
            size: 123_456_789,
            ref_count: 2,
        });
        assert_eq!(
            ls_table(&[v], Some("{{.Links}} {{.Size}}"), false).unwrap(),
            "2 123.5MB\n"
        );
    }
}
