//! `ps -f key=value`: the Engine API's `filters` parameter. Docker sends it as JSON, either
//! `{"status":{"exited":true}}` or the older `{"status":["exited"]}`. Values of one key are
//! alternatives (any may match); different keys must all match.

use super::container::Record;
use std::collections::BTreeMap;

pub type Filters = BTreeMap<String, Vec<String>>;

pub const CONTAINER_FILTERS: &[&str] = &[
    "status", "name", "id", "label", "ancestor", "exited", "health", "volume",
];

/// A `label` filter's value against an object's labels: `key` (any value) or `key=value`.
pub fn label_matches(labels: Option<&BTreeMap<String, String>>, want: &str) -> bool {
    let Some(labels) = labels else {
        return false;
    };
    match want.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(want),
    }
}

pub fn parse(json: &str) -> Result<Filters, String> {
    if json.trim().is_empty() {
        return Ok(Filters::new());
    }
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("invalid filter JSON: {e}"))?;
    let obj = v.as_object().ok_or("invalid filter: not a JSON object")?;
    let mut out = Filters::new();
    for (key, values) in obj {
        let list: Vec<String> = match values {
            serde_json::Value::Object(m) => m.keys().cloned().collect(),
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            _ => return Err(format!("invalid filter {key:?}")),
        };
        out.insert(key.clone(), list);
    }
    Ok(out)
}

pub fn validate(f: &Filters, allowed: &[&str]) -> Result<(), String> {
    if let Some(k) = f.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("invalid filter '{k}'"));
    }
    for v in f.get("health").into_iter().flatten() {
        super::health::validate_filter_value(v)?;
    }
    Ok(())
}

/// Whether a container record passes; `ancestor` ids are resolved by the caller.
pub fn matches(rec: &Record, f: &Filters, ancestor_ids: &[String]) -> bool {
    f.iter().all(|(key, values)| {
        values.iter().any(|v| match key.as_str() {
            "status" => rec.state.status == *v,
            "name" => rec
                .name
                .trim_start_matches('/')
                .contains(v.trim_start_matches('/')),
            "id" => rec.id.starts_with(v.as_str()),
            "label" => label_matches(rec.config.labels.as_ref(), v),
            "ancestor" => rec.config.image == *v || ancestor_ids.contains(&rec.image),
            "health" => super::health::filter_value(rec.state.health.as_ref()) == v,
            // A volume's name or a mount's destination, as Docker's `volume` filter.
            "volume" => rec
                .mount_points
                .iter()
                .any(|m| (m.is_volume() && m.name == *v) || m.destination == *v),
            "exited" => {
                rec.state.status == "exited"
                    && v.parse::<i64>().is_ok_and(|c| c == rec.state.exit_code)
            }
            _ => false,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rec(status: &str, name: &str, code: i64) -> Record {
        let mut state = Record::status_created();
        state.status = status.into();
        state.exit_code = code;
        let mut labels = BTreeMap::new();
        labels.insert("tier".to_string(), "web".to_string());
        Record {
            id: "abcdef0123".into(),
            created: String::new(),
            path: "sh".into(),
            args: vec![],
            config: crate::wire::types::ContainerConfig {
                image: "busybox".into(),
                labels: Some(labels),
                ..Default::default()
            },
            host_config: Default::default(),
            image: "sha256:1111".into(),
            name: format!("/{name}"),
            state,
            networks: Default::default(),
            netns: None,
            rootfs: None,
            restart_count: 0,
            manually_stopped: false,
            ports: vec![],
            mount_points: vec![],
        }
    }

    #[test]
    fn both_json_forms_parse() {
        let a = parse(r#"{"status":{"exited":true},"label":{"tier=web":true}}"#).unwrap();
        let b = parse(r#"{"status":["exited"],"label":["tier=web"]}"#).unwrap();
        assert_eq!(a, b);
        assert!(parse("[1]").is_err());
        assert_eq!(
            validate(&parse(r#"{"bogus":["x"]}"#).unwrap(), CONTAINER_FILTERS).unwrap_err(),
            "invalid filter 'bogus'"
        );
    }

    #[test]
    fn keys_and_values_combine_like_docker() {
        let r = rec("exited", "web1", 3);
        let f = |j: &str| parse(j).unwrap();
        assert!(matches(&r, &f(r#"{"status":["exited","running"]}"#), &[]));
        assert!(!matches(
            &r,
            &f(r#"{"status":["exited"],"name":["db"]}"#),
            &[]
        ));
        assert!(matches(
            &r,
            &f(r#"{"name":["web"],"label":["tier"],"exited":["3"]}"#),
            &[]
        ));
        assert!(!matches(&r, &f(r#"{"label":["tier=db"]}"#), &[]));
        assert!(matches(&r, &f(r#"{"id":["abc"]}"#), &[]));
        assert!(matches(
            &r,
            &f(r#"{"ancestor":["other"]}"#),
            &["sha256:1111".to_string()]
        ));
        assert!(!matches(
            &rec("running", "x", 0),
            &f(r#"{"exited":["0"]}"#),
            &[]
        ));
    }

    #[test]
    fn health_matches_the_status_or_none() {
        let f = |j: &str| parse(j).unwrap();
        let mut r = rec("running", "web", 0);
        assert!(matches(&r, &f(r#"{"health":["none"]}"#), &[]));
        assert!(!matches(&r, &f(r#"{"health":["healthy"]}"#), &[]));
        r.state.health = Some(crate::wire::types::Health {
            status: "healthy".into(),
            ..Default::default()
        });
        assert!(matches(&r, &f(r#"{"health":["starting","healthy"]}"#), &[]));
        assert!(!matches(&r, &f(r#"{"health":["none"]}"#), &[]));
        assert_eq!(
            validate(&f(r#"{"health":["sick"]}"#), CONTAINER_FILTERS).unwrap_err(),
            "invalid filter 'health=sick': invalid value for health (sick): must be one of none, starting, healthy, unhealthy"
        );
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in ".{0,60}") {
            let _ = parse(&s);
        }
    }
}
