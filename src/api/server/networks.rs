//! `/networks/...`: list, inspect, create, remove, connect, disconnect and prune, each a call
//! to the daemon's network verb of the same name.

use super::{json_response, ok_empty, ok_json};
use super::{ApiError, Call, Reply};
use crate::daemon::filters;
use crate::wire::network::{
    NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest,
    NetworkPruneResponse, NetworkResource,
};
use hyper::StatusCode;

const LIST_FILTERS: &[&str] = &["driver", "id", "label", "name", "scope", "type", "dangling"];

/// One network against `GET /networks`'s filters: within a key any value, every key.
fn matches(f: &filters::Filters, n: &NetworkResource, builtin: bool, in_use: bool) -> bool {
    f.iter().all(|(key, values)| {
        values.iter().any(|v| match key.as_str() {
            "driver" => n.driver == *v,
            "id" => n.id.starts_with(v.as_str()),
            "name" => n.name.contains(v.as_str()),
            "label" => filters::label_matches(Some(&n.labels), v),
            "scope" => n.scope == *v,
            "type" => (v == "builtin" && builtin) || (v == "custom" && !builtin),
            "dangling" => (v == "true" || v == "1") == (!in_use && !builtin),
            _ => false,
        })
    })
}

/// `GET /networks?filters=`.
pub(super) async fn list(c: Call) -> Reply {
    let d = &c.d;
    let f = filters::parse(c.query().str("filters")).map_err(ApiError::BadRequest)?;
    filters::validate(&f, LIST_FILTERS).map_err(ApiError::BadRequest)?;
    let mut out: Vec<NetworkResource> = Vec::new();
    for net in d.networks.all() {
        let in_use = !d
            .active_endpoints(&net.record.id, &net.record.name)
            .is_empty();
        let view = d.network_resource(&net, false);
        if matches(&f, &view, net.record.builtin, in_use) {
            out.push(view);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    ok_json(&out)
}

/// `GET /networks/{id}`.
pub(super) async fn inspect(c: Call) -> Reply {
    let net = c.d.networks.find(&c.param("id"))?;
    ok_json(&c.d.network_resource(&net, true))
}

/// `POST /networks/create`.
pub(super) async fn create(c: Call) -> Reply {
    let d = c.d.clone();
    let body = c.body().await?;
    let req: NetworkCreateRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))?;
    let id = d.network_create(req).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &NetworkCreateResponse {
            id,
            warning: String::new(),
        },
    ))
}

/// `DELETE /networks/{id}`.
pub(super) async fn remove(c: Call) -> Reply {
    c.d.network_remove(&c.param("id")).await?;
    super::no_content()
}

/// `POST /networks/{id}/connect`.
pub(super) async fn connect(c: Call) -> Reply {
    let (d, id) = (c.d.clone(), c.param("id"));
    let body = c.body().await?;
    let req: NetworkConnectRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))?;
    d.network_connect(&id, req).await?;
    ok_empty()
}

/// `POST /networks/{id}/disconnect`.
pub(super) async fn disconnect(c: Call) -> Reply {
    let (d, id) = (c.d.clone(), c.param("id"));
    let body = c.body().await?;
    let req: NetworkDisconnectRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))?;
    d.network_disconnect(&id, &req.container, req.force).await?;
    ok_empty()
}

/// `until=`: a Go duration before now, an RFC 3339 time, or Unix seconds.
fn cutoff(v: &str) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    let now = chrono::Utc::now();
    if let Ok(ns) = crate::util::goduration::parse(v) {
        return Ok(now - chrono::Duration::nanoseconds(ns));
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    v.parse::<f64>()
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s as i64, 0))
        .ok_or_else(|| ApiError::BadRequest(format!("invalid filter 'until={v}'")))
}

/// `POST /networks/prune?filters=` (`label`, `label!`, `until`).
pub(super) async fn prune(c: Call) -> Reply {
    let f = filters::parse(c.query().str("filters")).map_err(ApiError::BadRequest)?;
    filters::validate(&f, &["label", "label!", "until"]).map_err(ApiError::BadRequest)?;
    let labels = f.get("label").cloned().unwrap_or_default();
    let not = f.get("label!").cloned().unwrap_or_default();
    let until = match f.get("until").and_then(|v| v.first()) {
        Some(v) => Some(cutoff(v)?),
        None => None,
    };
    let removed = c.d.network_prune(&labels, &not, until).await?;
    ok_json(&NetworkPruneResponse {
        networks_deleted: Some(removed),
    })
}
