//! `network ls`: the networks as docker lists them, sorted by name in natural order (`net2`
//! before `net10`), 12-hex ids unless `--no-trunc`, `-f` sent as the API's `filters` JSON (the
//! daemon checks the keys: driver, id, label, name, scope, type, dangling), and `--format`
//! over docker's fields (`table …`, `json`, `raw` and Go templates, `{{.Label "k"}}` too).

use crate::api::client::Client;
use crate::cli::template::format_rows;
use crate::wire::network::NetworkResource;
use clap::Args;
use serde_json::{json, Value};

pub const DEFAULT_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

#[derive(Args, Debug, Clone, Default)]
pub struct LsArgs {
    /// Only display network IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Do not truncate the output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Provide filter values (e.g. "driver=bridge")
    #[arg(short = 'f', long = "filter", value_parser = filter_flag)]
    pub filters: Vec<String>,
}

/// docker's `FilterOpt`: `name=value`, the name lower-cased, both trimmed.
pub(crate) fn filter_flag(v: &str) -> Result<String, String> {
    let (k, val) = v
        .split_once('=')
        .ok_or("bad format of filter (expected name=value)")?;
    Ok(format!("{}={}", k.trim().to_lowercase(), val.trim()))
}

/// Go's `time.Time.String()` of an RFC 3339 time: `2026-11-22 09:14:19.960793085 +0000 UTC`.
pub(crate) fn go_time_string(rfc3339: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(rfc3339) else {
        return "0001-01-01 00:00:00 +0000 UTC".into();
    };
    let frac = format!("{:09}", t.timestamp_subsec_nanos());
    let frac = frac.trim_end_matches('0');
    let offset = t.offset().local_minus_utc();
    let zone = if offset == 0 {
        "+0000 UTC".to_string()
    } else {
        let z = t.format("%z").to_string();
        format!("{z} {z}")
    };
    format!(
        "{}{}{} {zone}",
        t.format("%Y-%m-%d %H:%M:%S"),
        if frac.is_empty() { "" } else { "." },
        frac
    )
}

/// The `--format` fields of each network, as docker's network formatter names them; the
/// labels themselves ride along under `__labels` for `{{.Label "k"}}` (and `json` leaves
/// them out).
pub fn ls_contexts(rows: &[(NetworkResource, bool)], no_trunc: bool) -> Vec<Value> {
    rows.iter()
        .map(|(n, ipv4)| {
            let id = if no_trunc {
                n.id.clone()
            } else {
                n.id.chars().take(12).collect()
            };
            let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            json!({
                "ID": id,
                "Name": n.name,
                "Driver": n.driver,
                "Scope": n.scope,
                "IPv4": ipv4.to_string(),
                "IPv6": n.enable_ipv6.to_string(),
                "Internal": n.internal.to_string(),
                "Labels": labels.join(","),
                "CreatedAt": go_time_string(&n.created),
                "__labels": n.labels,
            })
        })
        .collect()
}

fn header() -> Value {
    json!({
        "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
        "IPv4": "IPV4", "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS",
        "CreatedAt": "CREATED AT",
    })
}

/// The template `--format` (or its absence) stands for, as docker's `NewFormat` picks it.
fn template_for(format: Option<&str>, quiet: bool) -> String {
    match format.unwrap_or("table") {
        "table" if quiet => "{{.ID}}".into(),
        "table" => DEFAULT_TABLE.into(),
        "raw" if quiet => "network_id: {{.ID}}".into(),
        "raw" => {
            "network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: {{.Driver}}\\nscope: {{.Scope}}\\n"
                .into()
        }
        "json" => "{{json .}}".into(),
        other => other.into(),
    }
}

/// docker's `{{.Label "k"}}` is a method call, which the template engine lacks: it becomes
/// `{{label . "k"}}`, a function of the row (or of the header, where it names the column).
pub(crate) fn with_label_calls(t: &str) -> String {
    t.replace(".Label ", "label . ")
}

/// The listing as docker prints it for `format` (None: the default table).
pub fn ls_table(
    rows: &[(NetworkResource, bool)],
    format: Option<&str>,
    quiet: bool,
    no_trunc: bool,
) -> Result<String, String> {
    let mut rows = rows.to_vec();
    rows.sort_by(|a, b| natural_cmp(&a.0.name, &b.0.name));
    let t = with_label_calls(&template_for(format, quiet));
    format_rows(&t, &ls_contexts(&rows, no_trunc), &header())
}

/// Natural order, as docker's `sortorder.NaturalLess`: runs of digits compare as numbers.
pub(crate) fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let (si, sj) = (i, j);
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let na = std::str::from_utf8(&a[si..i])
                .unwrap()
                .trim_start_matches('0');
            let nb = std::str::from_utf8(&b[sj..j])
                .unwrap()
                .trim_start_matches('0');
            let o = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if o != Ordering::Equal {
                return o;
            }
            let o = (i - si).cmp(&(j - sj));
            if o != Ordering::Equal {
                return o;
            }
        } else {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

pub async fn ls(client: &Client, a: LsArgs) -> i32 {
    let path = match super::with_filters("/networks", &a.filters) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 125;
        }
    };
    let raw: Vec<Value> = match client.get_json(&path).await {
        Ok(r) => r,
        Err(e) => return super::fail(&e),
    };
    let mut rows = Vec::new();
    for v in raw {
        let ipv4 = v["EnableIPv4"].as_bool().unwrap_or(false);
        match serde_json::from_value::<NetworkResource>(v) {
            Ok(n) => rows.push((n, ipv4)),
            Err(e) => {
                eprintln!("berth: decoding the daemon's network list: {e}");
                return 1;
            }
        }
    }
    match ls_table(&rows, a.format.as_deref(), a.quiet, a.no_trunc) {
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
    use rstest::rstest;

    pub(crate) fn net(name: &str, id: &str, driver: &str) -> NetworkResource {
        NetworkResource {
            name: name.into(),
            id: id.into(),
            created: "2026-11-22T09:14:19.960793085Z".into(),
            scope: "local".into(),
            driver: driver.into(),
            ..Default::default()
        }
    }

    fn rows() -> Vec<(NetworkResource, bool)> {
        let mut web = net(
            "web10",
            "dfb14ce2fbbffdf96f89535b64bb921c1ded0057447c8dacae4b86aec1e1d9c0",
            "bridge",
        );
        web.labels.insert("com.example.team".into(), "front".into());
        web.labels.insert("tier".into(), "1".into());
        web.internal = true;
        vec![
            (web, true),
            (
                net(
                    "web2",
                    "f054c98917d3e3b6a3f68bf6d80b29e21188d6c8059ca74787503ce343cc789c",
                    "bridge",
                ),
                true,
            ),
            (
                net(
                    "host",
                    "0a3fe5e7f9b3a8ab20fa9ad7bcb8e2f1f5c94c61c16f5e4d3c4c1e2d5a6b7c8d",
                    "host",
                ),
                false,
            ),
            (
                net(
                    "bridge",
                    "6d27c3e6b5a4c1f2e3d4c5b6a7980123456789abcdef0123456789abcdef0123",
                    "bridge",
                ),
                true,
            ),
        ]
    }

    #[test]
    fn the_default_table_is_dockers() {
        insta::assert_snapshot!(ls_table(&rows(), None, false, false).unwrap());
    }

    #[test]
    fn no_trunc_and_quiet() {
        let q = ls_table(&rows(), None, true, false).unwrap();
        assert_eq!(
            q, "6d27c3e6b5a4\n0a3fe5e7f9b3\nf054c98917d3\ndfb14ce2fbbf\n",
            "sorted by name, naturally: bridge host web2 web10"
        );
        let long = ls_table(&rows(), Some("{{.ID}}"), false, true).unwrap();
        assert!(
            long.starts_with("6d27c3e6b5a4c1f2e3d4c5b6a7980123456789abcdef0123456789abcdef0123\n")
        );
        assert_eq!(
            ls_table(&rows(), Some("{{.Name}}"), true, false).unwrap(),
            "bridge\nhost\nweb2\nweb10\n",
            "a template of one's own wins over -q, as in docker"
        );
    }

    #[rstest]
    #[case(
        "{{.Name}} {{.IPv4}} {{.IPv6}} {{.Internal}}",
        "web10 true false true\n"
    )]
    #[case("{{.Labels}}", "com.example.team=front,tier=1\n")]
    #[case(r#"{{.Label "com.example.team"}}|{{.Label "nope"}}"#, "front|\n")]
    #[case("{{.CreatedAt}}", "2026-11-22 09:14:19.960793085 +0000 UTC\n")]
    #[case("json", r#"{"CreatedAt":"2026-11-22 09:14:19.960793085 +0000 UTC","Driver":"bridge","ID":"dfb14ce2fbbf","IPv4":"true","IPv6":"false","Internal":"true","Labels":"com.example.team=front,tier=1","Name":"web10","Scope":"local"}
"#)]
    #[case(
        "raw",
        "network_id: dfb14ce2fbbf\nname: web10\ndriver: bridge\nscope: local\n\n"
    )]
    fn formats(#[case] format: &str, #[case] want: &str) {
        let one = vec![rows().remove(0)];
        assert_eq!(ls_table(&one, Some(format), false, false).unwrap(), want);
    }

    #[test]
    fn a_table_template_names_label_columns_as_docker_does() {
        let one = vec![rows().remove(0)];
        let out = ls_table(
            &one,
            Some(r#"table {{.Name}}\t{{.Label "com.example.team"}}"#),
            false,
            false,
        )
        .unwrap();
        assert_eq!(out, "NAME      team\nweb10     front\n");
    }

    #[rstest]
    #[case("driver=bridge", "driver=bridge")]
    #[case(" Type = custom ", "type=custom")]
    #[case("dangling=true", "dangling=true")]
    fn filters_are_read_as_docker_reads_them(#[case] flag: &str, #[case] want: &str) {
        assert_eq!(filter_flag(flag).unwrap(), want);
    }

    #[test]
    fn filters_go_as_dockers_json() {
        let flags: Vec<String> = [
            "driver=bridge",
            "label=a=b",
            "name=x",
            "name=y",
            "type=custom",
        ]
        .iter()
        .map(|f| filter_flag(f).unwrap())
        .collect();
        assert_eq!(
            crate::cli::container::filters_json(&flags).unwrap(),
            r#"{"driver":{"bridge":true},"label":{"a=b":true},"name":{"x":true,"y":true},"type":{"custom":true}}"#
        );
        assert_eq!(
            filter_flag("nope").unwrap_err(),
            "bad format of filter (expected name=value)"
        );
    }

    #[rstest]
    #[case("2026-11-22T09:14:19Z", "2026-11-22 09:14:19 +0000 UTC")]
    #[case("2026-11-22T09:14:19.5Z", "2026-11-22 09:14:19.5 +0000 UTC")]
    #[case("2026-11-22T09:14:19.1+02:00", "2026-11-22 09:14:19.1 +0200 +0200")]
    fn times_print_as_go_prints_them(#[case] t: &str, #[case] want: &str) {
        assert_eq!(go_time_string(t), want);
    }

    #[test]
    fn natural_order() {
        let mut v = vec!["n10", "n2", "bridge", "n1", "a", "n02"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["a", "bridge", "n1", "n2", "n02", "n10"]);
    }
}
