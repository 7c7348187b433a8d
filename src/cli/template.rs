//! `--format` and `inspect -f`: Go templates over the same JSON the Engine API returns, rendered
//! by gtmpl (a Go text/template implementation), with the helper functions docker adds
//! (`json`, `join`, `upper`, `lower`, `split`, `truncate`).

use gtmpl_value::{FuncError, Number, Value};
use std::collections::HashMap;

pub struct Template {
    inner: gtmpl::Template,
}

/// JSON into the template engine's values. Objects stay objects, so `.Field` works.
pub fn to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::Number(Number::from(i)),
            (_, Some(u), _) => Value::Number(Number::from(u)),
            (_, _, Some(f)) => Value::Number(Number::from(f)),
            _ => Value::Nil,
        },
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(a) => Value::Array(a.iter().map(to_value).collect()),
        serde_json::Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), to_value(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

/// And back, for `json`.
pub fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::NoValue | Value::Nil | Value::Function(_) => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                serde_json::Value::from(i)
            } else if let Some(u) = n.as_u64() {
                serde_json::Value::from(u)
            } else {
                n.as_f64()
                    .map(serde_json::Value::from)
                    .unwrap_or(serde_json::Value::Null)
            }
        }
        Value::Array(a) => serde_json::Value::Array(a.iter().map(to_json).collect()),
        Value::Object(o) | Value::Map(o) => {
            // Sorted keys, as Go's encoding/json writes maps; `__` keys are the CLI's own
            // (what `label` reads), not fields of the object.
            let sorted: std::collections::BTreeMap<_, _> = o
                .iter()
                .filter(|(k, _)| !k.starts_with("__"))
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect();
            serde_json::Value::Object(sorted.into_iter().collect())
        }
    }
}

fn string_arg(args: &[Value], i: usize, name: &str) -> Result<String, FuncError> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Ok(other.to_string()),
        None => Err(FuncError::AtLeastXArgs(name.to_string(), i + 1)),
    }
}

fn json(args: &[Value]) -> Result<Value, FuncError> {
    let v = args
        .first()
        .ok_or_else(|| FuncError::ExactlyXArgs("json".into(), 1))?;
    Ok(Value::String(
        serde_json::to_string(&to_json(v)).unwrap_or_default(),
    ))
}

fn join(args: &[Value]) -> Result<Value, FuncError> {
    let sep = string_arg(args, 1, "join")?;
    match args.first() {
        Some(Value::Array(a)) => Ok(Value::String(
            a.iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(&sep),
        )),
        _ => Err(FuncError::UnableToConvertFromValue),
    }
}

fn upper(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(string_arg(args, 0, "upper")?.to_uppercase()))
}

fn lower(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(string_arg(args, 0, "lower")?.to_lowercase()))
}

fn split(args: &[Value]) -> Result<Value, FuncError> {
    let s = string_arg(args, 0, "split")?;
    let sep = string_arg(args, 1, "split")?;
    Ok(Value::Array(
        s.split(sep.as_str())
            .map(|p| Value::String(p.to_string()))
            .collect(),
    ))
}

fn truncate(args: &[Value]) -> Result<Value, FuncError> {
    let s = string_arg(args, 0, "truncate")?;
    let n = match args.get(1) {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0) as usize,
        _ => return Err(FuncError::ExactlyXArgs("truncate".into(), 2)),
    };
    Ok(Value::String(s.chars().take(n).collect()))
}

/// `label . "key"`: what docker's `{{.Label "key"}}` method gives, for a row that carries its
/// labels under `__labels` (`network ls`); on a table's header (no `__labels`), the column's
/// title as docker makes it: the key's last dotted part, `-` and `_` as spaces.
fn label(args: &[Value]) -> Result<Value, FuncError> {
    let key = string_arg(args, 1, "label")?;
    let labels = match args.first() {
        Some(Value::Object(o)) | Some(Value::Map(o)) => o.get("__labels"),
        _ => None,
    };
    Ok(Value::String(match labels {
        Some(Value::Object(l)) | Some(Value::Map(l)) => match l.get(&key) {
            Some(Value::String(v)) => v.clone(),
            _ => String::new(),
        },
        _ => key
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .replace(['-', '_'], " "),
    }))
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut inner = gtmpl::Template::default();
        inner.add_funcs(&[
            ("json", json as gtmpl_value::Func),
            ("join", join as gtmpl_value::Func),
            ("upper", upper as gtmpl_value::Func),
            ("lower", lower as gtmpl_value::Func),
            ("split", split as gtmpl_value::Func),
            ("truncate", truncate as gtmpl_value::Func),
            ("label", label as gtmpl_value::Func),
        ]);
        inner
            .parse(text)
            .map_err(|e| format!("template parsing error: {e}"))?;
        Ok(Template { inner })
    }

    pub fn render(&self, v: &serde_json::Value) -> Result<String, String> {
        self.inner
            .render(&gtmpl::Context::from(to_value(v)))
            .map_err(|e| format!("template: {e}"))
    }
}

/// Render `--format` over `rows`, as docker does: `\t` and `\n` typed on the command line
/// become real ones; a format starting with `table` gets a header line (the template rendered
/// over `header`, whose fields hold the column titles) and aligned columns.
pub fn format_rows(
    format: &str,
    rows: &[serde_json::Value],
    header: &serde_json::Value,
) -> Result<String, String> {
    let format = format.replace("\\t", "\t").replace("\\n", "\n");
    let (table, body) = match format.strip_prefix("table") {
        Some(rest) => (true, rest.trim_start().to_string()),
        None => (false, format),
    };
    let t = Template::parse(&body)?;
    let mut lines = Vec::new();
    for row in rows {
        lines.push(t.render(row)?);
    }
    if !table {
        return Ok(lines.iter().map(|l| format!("{l}\n")).collect());
    }
    let head = t.render(header)?;
    let titles: Vec<&str> = head.split('\t').collect();
    let cells: Vec<Vec<String>> = lines
        .iter()
        .map(|l| l.split('\t').map(String::from).collect())
        .collect();
    Ok(super::table::render(&titles, &cells))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(t: &str, v: serde_json::Value) -> String {
        Template::parse(t).unwrap().render(&v).unwrap()
    }

    #[test]
    fn docker_style_templates() {
        let v = json!({"NetworkSettings": {"IPAddress": "10.0.0.2"}, "State": {"Pid": 42, "Running": true},
                       "Config": {"Env": ["A=1", "B=2"], "Labels": {"b": "2", "a": "1"}}, "Name": "/web"});
        assert_eq!(
            render("{{.NetworkSettings.IPAddress}}", v.clone()),
            "10.0.0.2"
        );
        assert_eq!(
            render("{{.State.Pid}} {{.State.Running}}", v.clone()),
            "42 true"
        );
        assert_eq!(
            render("{{json .Config.Labels}}", v.clone()),
            r#"{"a":"1","b":"2"}"#
        );
        assert_eq!(
            render("{{range .Config.Env}}[{{.}}]{{end}}", v.clone()),
            "[A=1][B=2]"
        );
        assert_eq!(render("{{join .Config.Env \",\"}}", v.clone()), "A=1,B=2");
        assert_eq!(render("{{upper .Name}}", v.clone()), "/WEB");
        assert_eq!(
            render("{{if .State.Running}}up{{else}}down{{end}}", v),
            "up"
        );
    }

    #[test]
    fn table_formats_get_a_header_and_aligned_columns() {
        let rows = vec![
            json!({"ID": "abc", "Names": "web"}),
            json!({"ID": "defghij", "Names": "db"}),
        ];
        let header = json!({"ID": "CONTAINER ID", "Names": "NAMES"});
        let out = format_rows("table {{.ID}}\\t{{.Names}}", &rows, &header).unwrap();
        assert_eq!(
            out,
            "CONTAINER ID   NAMES\nabc            web\ndefghij        db\n"
        );
        assert_eq!(
            format_rows("{{.Names}}", &rows, &header).unwrap(),
            "web\ndb\n"
        );
    }

    #[test]
    fn a_broken_template_is_an_error_not_a_panic() {
        assert!(Template::parse("{{.Name").is_err());
    }
}
