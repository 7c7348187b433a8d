//! `/images/...` of the local store: list, inspect, history, tag, remove, prune, and the
//! archives (`load` of a `docker save` tar or OCI layout, `save`, and `import` of a
//! filesystem tar). Archives stream both ways without the image store's lock; only placing
//! what a load read takes it.

use super::{base, empty};
use super::{body_reader, json_line, ok_json, streaming, ApiError, Call, Reply};
use crate::daemon::events::Event;
use crate::wire::types::JsonMessage;
use bytes::Bytes;
use hyper::StatusCode;

/// `GET /images/json?filters=`.
pub(super) async fn list(c: Call) -> Reply {
    let filter = crate::daemon::images::ImageFilter::parse(c.query().str("filters"))
        .map_err(ApiError::BadRequest)?;
    let list: Vec<_> =
        c.d.image_list(c.query().flag("all"))
            .await?
            .into_iter()
            .filter_map(|i| filter.apply(i))
            .collect();
    ok_json(&list)
}

/// `GET /images/{name}/json`.
pub(super) async fn inspect(c: Call) -> Reply {
    ok_json(&c.d.image_inspect(&c.param("name")).await?)
}

/// `GET /images/{name}/history`.
pub(super) async fn history(c: Call) -> Reply {
    ok_json(&c.d.image_history(&c.param("name")).await?)
}

/// `POST /images/{name}/tag?repo=&tag=`.
pub(super) async fn tag(c: Call) -> Reply {
    let q = c.query();
    c.d.image_tag(&c.param("name"), q.str("repo"), q.str("tag"))
        .await?;
    Ok(base(StatusCode::CREATED).body(empty()).unwrap())
}

/// `DELETE /images/{name}?force=`.
pub(super) async fn remove(c: Call) -> Reply {
    let force = c.query().flag("force");
    ok_json(&c.d.image_remove(&c.param("name"), force).await?)
}

/// `POST /images/prune?filters=`. `dangling=false` (`image prune -a`): every unused image,
/// tagged or not.
pub(super) async fn prune(c: Call) -> Reply {
    let all = c
        .query()
        .get("filters")
        .is_some_and(|f| f.contains("\"dangling\"") && f.contains("false"));
    let (items, bytes) = c.d.image_prune(all).await?;
    ok_json(&serde_json::json!({ "ImagesDeleted": items, "SpaceReclaimed": bytes }))
}

pub(super) async fn load(c: Call) -> Reply {
    let quiet = c.query().flag("quiet");
    let Call { req, d, .. } = c;
    let sync_reader = body_reader(req.into_body());
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let images = d.images.clone();
    tokio::task::spawn_blocking(move || {
        let send = |m: JsonMessage| {
            let _ = tx.blocking_send(json_line(&m));
        };
        // Clients get the byte counts (docker draws them as bars on a terminal and prints
        // nothing of them elsewhere); the per-layer notes are for the store's own callers.
        let mut progress = |v: serde_json::Value| {
            if !quiet && v["progressDetail"]["current"].is_number() {
                let _ = tx.blocking_send(json_line(&v));
            }
        };
        // The archive streams in without the store's lock (other image commands go on); only
        // placing what it held takes it.
        let (layers, tmp) = {
            let store = images.lock().unwrap();
            (store.layers().clone(), store.tmp_dir())
        };
        let result =
            crate::image::archive::StagedArchive::read(&layers, &tmp, sync_reader, &mut progress)
                .and_then(|staged| images.lock().unwrap().load_staged(staged, &mut progress));
        match result {
            Ok(lines) => {
                for l in &lines {
                    if let Some(name) = l
                        .strip_prefix("Loaded image: ")
                        .or_else(|| l.strip_prefix("Loaded image ID: "))
                    {
                        let attrs = [("name".to_string(), name.to_string())].into();
                        d.events.emit(Event::new("image", "load", name, attrs));
                    }
                }
                for l in lines {
                    send(JsonMessage {
                        stream: Some(format!("{l}\n")),
                        ..Default::default()
                    });
                }
            }
            Err(e) => send(JsonMessage {
                error: Some(e.to_string()),
                error_detail: Some(serde_json::json!({ "message": e.to_string() })),
                ..Default::default()
            }),
        }
    });
    streaming("application/json", rx)
}

/// `POST /images/create?fromSrc=-&repo=&tag=&message=&changes=…`: `import` of the body.
pub(super) async fn import(c: Call) -> Reply {
    let q = c.query();
    // `changes` repeats, one instruction each.
    let changes = q.all("changes");
    let repo = q.str("repo").to_string();
    let reference = match (repo.is_empty(), q.get("tag").filter(|t| !t.is_empty())) {
        (true, _) => None,
        (false, Some(t)) => Some(format!("{repo}:{t}")),
        (false, None) => Some(repo),
    };
    let platform_os = q
        .get("platform")
        .and_then(|p| p.split('/').next())
        .filter(|o| !o.is_empty())
        .unwrap_or("linux")
        .to_string();
    let message = q.str("message").to_string();
    let Call { req, d, .. } = c;
    let reader = body_reader(req.into_body());
    let request = crate::daemon::commit::ImportRequest {
        reference,
        message,
        changes,
        platform_os,
    };
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::task::spawn_blocking(move || {
        let item = d
            .import_blocking(reader, request)
            .map(|id| serde_json::json!({ "status": id }));
        let _ = tx.blocking_send(item);
    });
    super::distribution::progress_response(rx).await
}

/// `GET /images/get` and `/images/{name}/get`: a tar stream.
pub(super) async fn save(c: Call) -> Reply {
    let names = c.query().all("names");
    save_named(&c, names).await
}

/// `GET /images/{name}/get`.
pub(super) async fn save_one(c: Call) -> Reply {
    let name = c.param("name");
    save_named(&c, vec![name]).await
}

async fn save_named(c: &Call, names: Vec<String>) -> Reply {
    // A few MiB ahead of the client are enough to keep the socket busy.
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    c.d.image_save(names, tx).await?;
    streaming("application/x-tar", rx)
}
