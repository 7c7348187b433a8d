//! `/containers/...` and `/commit`: create, list, inspect, the lifecycle verbs, top, update,
//! stats, changes, export and remove. Each handler reads the request's parameters and calls
//! the daemon's verb of the same name; what the daemon refuses comes back as its typed error.

use super::{json_line, json_response, no_content, ok_empty, ok_json, streaming};
use super::{ApiError, Call, Reply};
use crate::wire::types::{CreateRequest, CreateResponse};
use bytes::Bytes;
use hyper::StatusCode;

/// `POST /containers/create?name=`: the body is Config with HostConfig inside; a field of
/// the wrong type is named in the 400 (`wire::types::parse_naming`).
pub(super) async fn create(c: Call) -> Reply {
    let name = c.query().get("name").map(String::from);
    let d = c.d.clone();
    let body = c.body().await?;
    if body.is_empty() {
        return Err(ApiError::BadRequest(
            "config cannot be empty in order to create a container".into(),
        ));
    }
    let create: CreateRequest = serde_json::from_slice::<serde_json::Value>(&body)
        .map_err(|e| format!("invalid JSON: {e}"))
        .and_then(|v| crate::wire::types::parse_naming(&v, ""))
        .map_err(ApiError::BadRequest)?;
    let (id, warnings) = d.create(name.as_deref(), create).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &CreateResponse { id, warnings },
    ))
}

/// `GET /containers/json?all=&limit=&size=&filters=`.
pub(super) async fn list(c: Call) -> Reply {
    use crate::daemon::filters;
    let d = &c.d;
    let q = c.query();
    let limit: i64 = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(-1);
    let f = filters::parse(q.str("filters")).map_err(ApiError::BadRequest)?;
    filters::validate(&f, filters::CONTAINER_FILTERS).map_err(ApiError::BadRequest)?;
    let mut ancestors = Vec::new();
    for name in f.get("ancestor").into_iter().flatten() {
        if let Ok(img) = d.image_get(name).await {
            ancestors.push(img.id);
        }
    }
    // A status or exited filter can only be met by stopped containers, so it implies --all.
    let all = q.flag("all") || limit > 0 || f.contains_key("status") || f.contains_key("exited");
    let mut recs: Vec<_> = d
        .all_containers()
        .iter()
        .map(|c| c.snapshot())
        .filter(|r| all || r.state.running)
        .filter(|r| filters::matches(r, &f, &ancestors))
        .collect();
    recs.sort_by(|a, b| b.created.cmp(&a.created));
    if limit > 0 {
        recs.truncate(limit as usize);
    }
    let mut rows: Vec<_> = recs.iter().map(|r| d.summary_view(r)).collect();
    if q.flag("size") {
        for row in rows.iter_mut() {
            let (rw, root) = d.container_sizes(&row.id, &row.image_id).await;
            row.size_rw = Some(rw);
            row.size_root_fs = Some(root);
        }
    }
    ok_json(&rows)
}

/// `GET /containers/{id}/json`.
pub(super) async fn inspect(c: Call) -> Reply {
    let container = c.d.lookup(&c.param("id"))?;
    ok_json(&c.d.inspect_view(&container.snapshot(), &container.dir))
}

pub(super) async fn start(c: Call) -> Reply {
    c.d.start(&c.param("id")).await?;
    no_content()
}

/// `POST /containers/{id}/kill?signal=`: SIGKILL (the default) answers once it is dead.
pub(super) async fn kill(c: Call) -> Reply {
    c.d.kill_by_user(&c.param("id"), c.query().str("signal"))
        .await?;
    no_content()
}

/// `POST /containers/{id}/wait?condition=`: the headers go at once (the docker CLI waits for
/// them before it starts the container), the body at the exit.
pub(super) async fn wait(c: Call) -> Reply {
    let fut = c.d.wait(&c.param("id"), c.query().str("condition"))?;
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        let _ = tx.send(json_line(&fut.await)).await;
    });
    streaming("application/json", rx)
}

/// The `t` (seconds) and `signal` of stop and restart.
fn stop_args(c: &Call) -> (Option<i64>, Option<String>) {
    let q = c.query();
    (
        q.get("t").and_then(|t| t.parse().ok()),
        q.get("signal").map(String::from),
    )
}

pub(super) async fn stop(c: Call) -> Reply {
    let (t, signal) = stop_args(&c);
    c.d.stop(&c.param("id"), t, signal.as_deref()).await?;
    no_content()
}

pub(super) async fn restart(c: Call) -> Reply {
    let (t, signal) = stop_args(&c);
    c.d.restart(&c.param("id"), t, signal.as_deref()).await?;
    no_content()
}

pub(super) async fn rename(c: Call) -> Reply {
    c.d.rename(&c.param("id"), c.query().str("name"))?;
    no_content()
}

/// `POST /containers/{id}/resize?h=&w=`: the container's terminal.
pub(super) async fn resize(c: Call) -> Reply {
    let (rows, cols) = size_query(&c)?;
    c.d.resize(&c.param("id"), rows, cols).await?;
    ok_empty()
}

/// `?h=<rows>&w=<columns>` of a resize request (a container's or an exec's).
pub(super) fn size_query(c: &Call) -> Result<(u16, u16), ApiError> {
    let q = c.query();
    let get = |k: &str, what: &str| -> Result<u16, ApiError> {
        let v = q.str(k);
        v.parse().map_err(|_| {
            ApiError::BadRequest(format!(
                "invalid {what} {v:?}: must be a number from 0 to 65535"
            ))
        })
    };
    Ok((get("h", "height")?, get("w", "width")?))
}

pub(super) async fn pause(c: Call) -> Reply {
    c.d.set_paused(&c.param("id"), true).await?;
    no_content()
}

pub(super) async fn unpause(c: Call) -> Reply {
    c.d.set_paused(&c.param("id"), false).await?;
    no_content()
}

/// `GET /containers/{id}/top?ps_args=`.
pub(super) async fn top(c: Call) -> Reply {
    let v = c.d.top(&c.param("id"), c.query().str("ps_args")).await?;
    ok_json(&v)
}

/// `POST /containers/{id}/update`: limits and the restart policy, applied live.
pub(super) async fn update(c: Call) -> Reply {
    let (id, d) = (c.param("id"), c.d.clone());
    let changes: serde_json::Map<String, serde_json::Value> = c.json().await?;
    let warnings = d.update(&id, changes).await?;
    ok_json(&serde_json::json!({ "Warnings": warnings }))
}

/// `GET /containers/{id}/stats?stream=&one-shot=`: one sample (with the one a second earlier,
/// so CPU use can be computed, unless `one-shot`), or a sample every second while it runs.
pub(super) async fn stats(c: Call) -> Reply {
    let q = c.query();
    let stream = !matches!(q.get("stream"), Some("0") | Some("false") | Some("False"));
    let one_shot = q.flag("one-shot");
    let d = c.d.clone();
    let (first, cid, name) = d.stats_sample(&c.param("id"))?;
    if !stream {
        if one_shot {
            return ok_json(&first.to_json(None, &cid, &name));
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        return match d.stats_sample(&cid) {
            Ok((second, _, _)) => ok_json(&second.to_json(Some(&first), &cid, &name)),
            // Stopped in between: what was measured is still the answer.
            Err(_) => ok_json(&first.to_json(None, &cid, &name)),
        };
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::spawn(async move {
        let mut pre = first;
        if tx
            .send(json_line(&pre.to_json(None, &cid, &name)))
            .await
            .is_err()
        {
            return;
        }
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let Ok((next, _, _)) = d.stats_sample(&cid) else {
                return;
            };
            if tx
                .send(json_line(&next.to_json(Some(&pre), &cid, &name)))
                .await
                .is_err()
            {
                return;
            }
            pre = next;
        }
    });
    streaming("application/json", rx)
}

pub(super) async fn prune(c: Call) -> Reply {
    let (ids, bytes) = c.d.prune().await?;
    ok_json(&serde_json::json!({ "ContainersDeleted": ids, "SpaceReclaimed": bytes }))
}

/// `DELETE /containers/{id}?force=&v=&link=`: with `v`, its anonymous volumes go too. With
/// `link`, `{id}` is `<container>/<alias>` and only that link goes.
pub(super) async fn remove(c: Call) -> Reply {
    if c.query().flag("link") {
        c.d.remove_link(&c.param("id")).await?;
    } else {
        c.d.remove(&c.param("id"), c.query().flag("force"), c.query().flag("v"))
            .await?;
    }
    no_content()
}

/// `GET /containers/{id}/changes`: what the container's layer changed.
pub(super) async fn changes(c: Call) -> Reply {
    let v = c.d.container_changes(&c.param("id")).await?;
    ok_json(&v)
}

/// `GET /containers/{id}/export`: the container's filesystem as a tar stream.
pub(super) async fn export(c: Call) -> Reply {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    c.d.container_export(&c.param("id"), tx).await?;
    streaming("application/x-tar", rx)
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=…`.
pub(super) async fn commit(c: Call) -> Reply {
    let q = c.query();
    let repo = q.str("repo");
    let tag = q.str("tag");
    let request = crate::daemon::commit::CommitRequest {
        container: q.str("container").to_string(),
        reference: (!repo.is_empty()).then(|| {
            if tag.is_empty() {
                repo.to_string()
            } else {
                format!("{repo}:{tag}")
            }
        }),
        comment: q.str("comment").to_string(),
        author: q.str("author").to_string(),
        pause: !matches!(q.str("pause"), "0" | "false" | "False"),
        changes: q.all("changes"),
    };
    let id = c.d.commit(request).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &serde_json::json!({ "Id": id }),
    ))
}
