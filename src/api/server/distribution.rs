//! Registries: `POST /images/create` (a pull, or an import when `fromSrc=-`), `push`,
//! `search` and `/auth`. Credentials come in `X-Registry-Auth`, as the docker CLI sends them;
//! pulls and pushes answer with Docker's JSON progress stream.

use super::{json_line, ok_json, streaming, ApiError, Call, Reply};
use crate::daemon::DaemonError;
use bytes::Bytes;

/// `POST /images/create?fromImage=&tag=` pulls; `?fromSrc=-` imports the body.
pub(super) async fn create(c: Call) -> Reply {
    let q = c.query();
    match (q.get("fromImage"), q.get("fromSrc")) {
        (Some(image), _) if !image.is_empty() => {
            let rx = c.d.image_pull(image, q.str("tag"), registry_auth(&c));
            progress_response(rx).await
        }
        (_, Some("-")) => super::images::import(c).await,
        (_, Some(src)) => Err(ApiError::BadRequest(format!(
            "importing from {src}: berth imports only from the request body (fromSrc=-)"
        ))),
        _ => Err(ApiError::BadRequest(
            "fromImage or fromSrc is required".into(),
        )),
    }
}

/// `POST /images/{name}/push?tag=`.
pub(super) async fn push(c: Call) -> Reply {
    let rx =
        c.d.image_push(&c.param("name"), c.query().str("tag"), registry_auth(&c));
    progress_response(rx).await
}

/// `GET /images/search?term=&limit=`.
pub(super) async fn search(c: Call) -> Reply {
    let q = c.query();
    let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(0);
    ok_json(&c.d.search(q.str("term"), limit, registry_auth(&c)).await?)
}

/// `POST /auth`: check credentials against the registry (401 when it refuses them).
pub(super) async fn auth(c: Call) -> Reply {
    let d = c.d.clone();
    let auth: crate::image::registry::AuthConfig = c.json().await?;
    ok_json(&d.auth(auth).await?)
}

/// The credentials in `X-Registry-Auth`, if the client sent any.
fn registry_auth(c: &Call) -> Option<crate::image::registry::AuthConfig> {
    c.req
        .headers()
        .get("X-Registry-Auth")
        .and_then(|v| v.to_str().ok())
        .and_then(crate::image::registry::AuthConfig::from_header)
}

/// A JSON progress stream (pull, push, import). An error before the first message is the
/// response's status; a later one is the stream's last object, `{"errorDetail":…}`.
pub(super) async fn progress_response(mut rx: crate::daemon::distribution::ProgressRx) -> Reply {
    let first = match rx.recv().await {
        Some(Ok(v)) => v,
        Some(Err(e)) => return Err(e.into()),
        None => {
            return Err(DaemonError::System("the operation ended without a word".into()).into())
        }
    };
    let (tx, body_rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        if tx.send(json_line(&first)).await.is_err() {
            return;
        }
        while let Some(item) = rx.recv().await {
            let v = match item {
                Ok(v) => v,
                Err(e) => {
                    serde_json::json!({"errorDetail": {"message": e.to_string()}, "error": e.to_string()})
                }
            };
            if tx.send(json_line(&v)).await.is_err() {
                return;
            }
        }
    });
    streaming("application/json", body_rx)
}
