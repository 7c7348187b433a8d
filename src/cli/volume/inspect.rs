//! `volume inspect`: each volume as docker's client prints it. Unlike `network inspect`, docker
//! decodes the daemon's answer into its `volume.Volume` and encodes that again, so what it
//! prints is that struct's JSON whatever the daemon sent: its fields only, in its order, empty
//! `CreatedAt`/`Status`/`UsageData` left out, `<`, `>` and `&` escaped as Go escapes them;
//! indented in one array, compact with `--format json`, or through a Go template. A volume
//! that is not there is reported after the others are printed, and the command exits 1.

use crate::api::client::Client;
use crate::cli::network::{go_indent, trim_id};
use clap::Args;
use serde_json::Value;

#[derive(Args, Debug, Clone, Default)]
pub struct InspectArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(required = true, value_name = "VOLUME")]
    pub volumes: Vec<String>,
}

/// A daemon's volume as docker's `volume.Volume` holds it, or why it cannot (a field of the
/// wrong type, as Go's decoder refuses it).
fn as_docker_volume(raw: &[u8]) -> Result<Value, String> {
    let v: Value = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
    let Value::Object(o) = v else {
        return Err("json: cannot unmarshal into Go value of type volume.Volume".into());
    };
    let mut out = serde_json::Map::new();
    let text = |k: &str| -> Result<Value, String> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(Value::String(String::new())),
            Some(s @ Value::String(_)) => Ok(s.clone()),
            Some(_) => Err(format!(
                "json: cannot unmarshal into Go struct field Volume.{k} of type string"
            )),
        }
    };
    let string_map = |k: &str| -> Result<Value, String> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(Value::Null),
            Some(Value::Object(m)) if m.values().all(Value::is_string) => {
                Ok(Value::Object(m.clone()))
            }
            Some(_) => Err(format!(
                "json: cannot unmarshal into Go struct field Volume.{k} of type map[string]string"
            )),
        }
    };
    // Go's struct order is alphabetical here, which serde_json's sorted maps keep.
    if let Some(c) = o.get("ClusterVolume").filter(|c| !c.is_null()) {
        out.insert("ClusterVolume".into(), c.clone());
    }
    let created = text("CreatedAt")?;
    if created != "" {
        out.insert("CreatedAt".into(), created);
    }
    out.insert("Driver".into(), text("Driver")?);
    out.insert("Labels".into(), string_map("Labels")?);
    out.insert("Mountpoint".into(), text("Mountpoint")?);
    out.insert("Name".into(), text("Name")?);
    out.insert("Options".into(), string_map("Options")?);
    out.insert("Scope".into(), text("Scope")?);
    if let Some(Value::Object(s)) = o.get("Status") {
        if !s.is_empty() {
            out.insert("Status".into(), Value::Object(s.clone()));
        }
    }
    if let Some(u) = o.get("UsageData").filter(|u| !u.is_null()) {
        out.insert("UsageData".into(), u.clone());
    }
    Ok(Value::Object(out))
}

/// Go's `json.Marshal` text of a volume: serde_json's, with `UsageData` in Go's field order and
/// the characters Go escapes for HTML escaped.
fn go_json(v: &Value) -> String {
    let mut s = serde_json::to_string(v).expect("JSON values serialize");
    if let Some(u) = v.get("UsageData") {
        let sorted = serde_json::to_string(u).expect("JSON values serialize");
        let go_order = format!(
            "{{\"Size\":{},\"RefCount\":{}}}",
            u.get("Size").unwrap_or(&Value::from(0)),
            u.get("RefCount").unwrap_or(&Value::from(0))
        );
        s = s.replace(
            &format!("\"UsageData\":{sorted}"),
            &format!("\"UsageData\":{go_order}"),
        );
    }
    // Outside strings serde_json writes none of these, so each one found is inside a string.
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// What `inspect` prints on stdout for the volumes found (`raw`, as the daemon sent them) and
/// the errors met on the way, as docker's inspector reports them.
pub fn render(raw: &[bytes::Bytes], format: Option<&str>) -> Result<(String, Vec<String>), String> {
    let mut errors = Vec::new();
    let mut volumes = Vec::new();
    for r in raw {
        match as_docker_volume(r) {
            Ok(v) => volumes.push(v),
            Err(e) => errors.push(e),
        }
    }
    let array = || {
        let items: Vec<String> = volumes.iter().map(go_json).collect();
        format!("[{}]", items.join(","))
    };
    let out = match format.unwrap_or("") {
        "" | "json" if volumes.is_empty() => "[]\n".to_string(),
        "" => format!("{}\n", go_indent(array().as_bytes(), "    ")),
        "json" => format!("{}\n", array()),
        f => {
            let (out, render_errors) = crate::cli::inspector::render_each(f, &volumes)?;
            errors.extend(render_errors);
            out
        }
    };
    Ok((out, errors))
}

pub async fn inspect(client: &Client, a: InspectArgs) -> i32 {
    let paths = a
        .volumes
        .iter()
        .map(|name| trim_id("volume", name).map(|n| format!("/volumes/{n}")))
        .collect();
    crate::cli::inspector::inspect_each(client, paths, a.format.as_deref(), render).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Docker 20.10's answer to `POST /volumes/create` (../shared/docker-api/captures/14), the
    /// same shape as `GET /volumes/v2`.
    const V2: &str = r#"{"CreatedAt":"2026-11-22T09:15:29Z","Driver":"local","Labels":null,"Mountpoint":"/var/lib/docker/volumes/v2/_data","Name":"v2","Options":null,"Scope":"local"}
"#;

    /// A daemon's answer with fields out of docker's order, one docker does not know, an
    /// empty `Status` and HTML in a label.
    const ODD: &str = r#"{"Name":"db","Scope":"local","Driver":"local","Mountpoint":"/m","Labels":{"z":"1","a":"<b>&"},"Options":{"type":"tmpfs"},"Status":{},"Extra":true,"UsageData":{"RefCount":1,"Size":42}}"#;

    #[test]
    fn the_array_is_what_docker_prints() {
        let (out, errs) = render(&[V2.into(), ODD.into()], None).unwrap();
        assert!(errs.is_empty(), "{errs:?}");
        insta::assert_snapshot!(out);
    }

    #[test]
    fn json_is_compact_and_none_is_an_empty_array() {
        let (out, _) = render(&[V2.into()], Some("json")).unwrap();
        assert_eq!(
            out,
            "[{\"CreatedAt\":\"2026-11-22T09:15:29Z\",\"Driver\":\"local\",\"Labels\":null,\"Mountpoint\":\"/var/lib/docker/volumes/v2/_data\",\"Name\":\"v2\",\"Options\":null,\"Scope\":\"local\"}]\n"
        );
        assert_eq!(render(&[], None).unwrap().0, "[]\n");
        assert_eq!(render(&[], Some("json")).unwrap().0, "[]\n");
        assert_eq!(render(&[], Some("{{.Name}}")).unwrap().0, "\n");
    }

    #[test]
    fn templates_see_dockers_fields() {
        let (out, errs) = render(
            &[V2.into(), ODD.into()],
            Some("{{.Name}} {{.Mountpoint}} {{.Driver}} {{json .Labels}}"),
        )
        .unwrap();
        assert_eq!(
            out,
            "v2 /var/lib/docker/volumes/v2/_data local null\ndb /m local {\"a\":\"<b>&\",\"z\":\"1\"}\n"
        );
        assert!(errs.is_empty(), "{errs:?}");
    }

    #[test]
    fn a_field_of_the_wrong_type_is_an_error_for_that_volume() {
        let (out, errs) = render(&[br#"{"Name":7}"#[..].into(), V2.into()], None).unwrap();
        assert!(out.contains("\"Name\": \"v2\""), "{out}");
        assert_eq!(
            errs,
            ["json: cannot unmarshal into Go struct field Volume.Name of type string"]
        );
    }
}
