//! The Engine API over HTTP/1.1 on a unix socket (hyper). Routes strip an optional `/v1.xx`
//! prefix, refuse versions older than 1.24, and answer errors as `{"message": …}` with Docker's
//! status codes. `attach` hijacks the connection (101 UPGRADED, then raw frames both ways) and
//! `wait` sends its headers at once and its body at exit, as the docker CLI requires.

use crate::api::types::*;
use crate::api::{detach, stream};
use crate::daemon::container::Output;
use crate::daemon::events::{Event, EventFilter};
use crate::daemon::{Daemon, DaemonError};
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

type Body = BoxBody<Bytes, std::io::Error>;

/// Accept connections until `shutdown` resolves.
pub async fn serve(
    listener: UnixListener,
    daemon: Arc<Daemon>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((sock, _)) = accepted else { continue };
                let daemon = daemon.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| handle(req, daemon.clone()));
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(sock), svc)
                        .with_upgrades();
                    if let Err(e) = conn.await {
                        tracing::debug!("connection ended: {e}");
                    }
                });
            }
        }
    }
}

fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

fn empty() -> Body {
    full(Bytes::new())
}

fn base(status: StatusCode) -> hyper::http::response::Builder {
    Response::builder()
        .status(status)
        .header("Api-Version", API_VERSION)
        .header("Docker-Experimental", "false")
        .header("Ostype", "linux")
        .header(
            "Server",
            concat!("berth/", env!("CARGO_PKG_VERSION"), " (linux)"),
        )
}

fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let mut body = serde_json::to_vec(value).unwrap_or_default();
    body.push(b'\n');
    base(status)
        .header(CONTENT_TYPE, "application/json")
        .body(full(body))
        .unwrap()
}

fn error_response(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    json_response(
        status,
        &ErrorResponse {
            message: message.into(),
        },
    )
}

fn from_daemon(err: DaemonError) -> Response<Body> {
    let status = match &err {
        DaemonError::NotFound(_) => StatusCode::NOT_FOUND,
        DaemonError::Conflict(_) => StatusCode::CONFLICT,
        DaemonError::InvalidParameter(_) => StatusCode::BAD_REQUEST,
        DaemonError::NotModified(_) => {
            return base(StatusCode::NOT_MODIFIED).body(empty()).unwrap()
        }
        DaemonError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        DaemonError::System(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error_response(status, err.to_string())
}

fn no_content() -> Response<Body> {
    base(StatusCode::NO_CONTENT).body(empty()).unwrap()
}

/// A body fed by a channel: for `wait`, `load` and attach without an upgrade.
fn channel_body(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Body {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::io::Error>(Frame::data(b)), rx))
    });
    StreamBody::new(stream).boxed()
}

fn query(req: &Request<Incoming>) -> HashMap<String, String> {
    req.uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

/// Docker clients send `1`, `true`, and (the Python SDK) `True`.
fn flag(q: &HashMap<String, String>, key: &str) -> bool {
    matches!(
        q.get(key).map(|s| s.as_str()),
        Some("1") | Some("true") | Some("True")
    )
}

/// Split `/v1.41/containers/x/json` into (Some("1.41"), "/containers/x/json").
pub fn split_version(path: &str) -> (Option<&str>, &str) {
    if let Some(rest) = path.strip_prefix("/v") {
        if let Some(slash) = rest.find('/') {
            let v = &rest[..slash];
            if !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.') {
                return (Some(v), &rest[slash..]);
            }
        }
    }
    (None, path)
}

fn version_tuple(v: &str) -> (u32, u32) {
    let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

async fn handle(req: Request<Incoming>, d: Arc<Daemon>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let (version, route) = split_version(&path);
    if let Some(v) = version {
        if version_tuple(v) < version_tuple(MIN_API_VERSION) {
            return Ok(error_response(
                StatusCode::BAD_REQUEST,
                format!("client version {v} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"),
            ));
        }
    }
    let route = route.to_string();
    tracing::debug!("{} {}", req.method(), req.uri());
    Ok(route_request(req, &route, d).await)
}

async fn route_request(req: Request<Incoming>, route: &str, d: Arc<Daemon>) -> Response<Body> {
    let segs: Vec<&str> = route.trim_matches('/').split('/').collect();
    let method = req.method().clone();
    match (&method, segs.as_slice()) {
        (&Method::GET | &Method::HEAD, ["_ping"]) => base(StatusCode::OK)
            .header(CONTENT_TYPE, "text/plain; charset=utf-8")
            .header("Cache-Control", "no-cache, no-store, must-revalidate")
            .header("Pragma", "no-cache")
            .body(if method == Method::HEAD {
                empty()
            } else {
                full("OK")
            })
            .unwrap(),
        (&Method::GET, ["version"]) => json_response(StatusCode::OK, &version_info()),
        (&Method::GET, ["info"]) => json_response(StatusCode::OK, &info(&d)),
        (&Method::GET, ["events"]) => events(&req, &d),
        (&Method::POST, ["containers", "create"]) => create(req, d).await,
        (&Method::GET, ["containers", "json"]) => list_containers(&req, &d).await,
        (&Method::GET, ["containers", id, "json"]) => match d.lookup(id) {
            Ok(c) => json_response(StatusCode::OK, &d.inspect_view(&c.snapshot(), &c.dir)),
            Err(e) => from_daemon(e),
        },
        (&Method::POST, ["containers", id, "start"]) => match d.start(id).await {
            Ok(()) => no_content(),
            Err(e) => from_daemon(e),
        },
        (&Method::POST, ["containers", id, "kill"]) => {
            let q = query(&req);
            let sig = q.get("signal").cloned().unwrap_or_default();
            match d.kill_by_user(id, &sig).await {
                Ok(()) => no_content(),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::POST, ["containers", id, "wait"]) => {
            let q = query(&req);
            let cond = q.get("condition").cloned().unwrap_or_default();
            match d.wait(id, &cond) {
                Ok(fut) => {
                    let (tx, rx) = tokio::sync::mpsc::channel(1);
                    tokio::spawn(async move {
                        let res = fut.await;
                        let mut body = serde_json::to_vec(&res).unwrap_or_default();
                        body.push(b'\n');
                        let _ = tx.send(Bytes::from(body)).await;
                    });
                    base(StatusCode::OK)
                        .header(CONTENT_TYPE, "application/json")
                        .body(channel_body(rx))
                        .unwrap()
                }
                Err(e) => from_daemon(e),
            }
        }
        (&Method::POST, ["containers", id, "attach"]) => {
            let id = id.to_string();
            attach(req, &id, d).await
        }
        (&Method::POST, ["containers", id, "stop"]) => {
            let q = query(&req);
            let t = q.get("t").and_then(|t| t.parse().ok());
            match d.stop(id, t, q.get("signal").map(String::as_str)).await {
                Ok(()) => no_content(),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::POST, ["containers", id, "restart"]) => {
            let q = query(&req);
            let t = q.get("t").and_then(|t| t.parse().ok());
            match d.restart(id, t, q.get("signal").map(String::as_str)).await {
                Ok(()) => no_content(),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::POST, ["containers", id, "rename"]) => {
            let q = query(&req);
            match d.rename(id, q.get("name").map(String::as_str).unwrap_or("")) {
                Ok(()) => no_content(),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::POST, ["containers", id, "exec"]) => {
            let id = id.to_string();
            let config: ExecConfig = match json_body(req).await {
                Ok(v) => v,
                Err(resp) => return resp,
            };
            match d.exec_create(&id, config) {
                Ok(exec_id) => {
                    json_response(StatusCode::CREATED, &serde_json::json!({ "Id": exec_id }))
                }
                Err(e) => from_daemon(e),
            }
        }
        (&Method::POST, ["exec", id, "start"]) => {
            let id = id.to_string();
            exec_start(req, &id, d).await
        }
        (&Method::POST, ["containers", id, "resize"]) => {
            let (rows, cols) = match size_query(&req) {
                Ok(s) => s,
                Err(e) => return error_response(StatusCode::BAD_REQUEST, e),
            };
            match d.resize(id, rows, cols).await {
                Ok(()) => base(StatusCode::OK).body(empty()).unwrap(),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::POST, ["exec", id, "resize"]) => {
            let (rows, cols) = match size_query(&req) {
                Ok(s) => s,
                Err(e) => return error_response(StatusCode::BAD_REQUEST, e),
            };
            match d.exec_resize(id, rows, cols) {
                Ok(()) => base(StatusCode::OK).body(empty()).unwrap(),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::GET, ["exec", id, "json"]) => match d.exec_get(id) {
            Ok(e) => json_response(StatusCode::OK, &e.inspect()),
            Err(e) => from_daemon(e),
        },
        (&Method::GET, ["containers", id, "logs"]) => logs(&req, id, &d),
        (&Method::POST, ["containers", id, verb @ ("pause" | "unpause")]) => {
            match d.set_paused(id, *verb == "pause").await {
                Ok(()) => no_content(),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::GET, ["containers", id, "top"]) => {
            let q = query(&req);
            match d
                .top(id, q.get("ps_args").map(String::as_str).unwrap_or(""))
                .await
            {
                Ok(v) => json_response(StatusCode::OK, &v),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::POST, ["containers", id, "update"]) => {
            let id = id.to_string();
            let changes: serde_json::Map<String, serde_json::Value> = match json_body(req).await {
                Ok(v) => v,
                Err(resp) => return resp,
            };
            match d.update(&id, changes).await {
                Ok(warnings) => {
                    json_response(StatusCode::OK, &serde_json::json!({ "Warnings": warnings }))
                }
                Err(e) => from_daemon(e),
            }
        }
        (&Method::GET, ["containers", id, "stats"]) => {
            let q = query(&req);
            let stream = !matches!(
                q.get("stream").map(String::as_str),
                Some("0") | Some("false") | Some("False")
            );
            let one_shot = flag(&q, "one-shot");
            stats(&d, id, stream, one_shot).await
        }
        (&Method::POST, ["containers", "prune"]) => match d.prune().await {
            Ok((ids, bytes)) => json_response(
                StatusCode::OK,
                &serde_json::json!({ "ContainersDeleted": ids, "SpaceReclaimed": bytes }),
            ),
            Err(e) => from_daemon(e),
        },
        (&Method::DELETE, ["containers", id]) => {
            let q = query(&req);
            if flag(&q, "v") {
                // No volumes exist yet, so there is nothing to remove with the container.
            }
            match d.remove(id, flag(&q, "force")).await {
                Ok(()) => no_content(),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::GET, ["images", "json"]) => {
            let q = query(&req);
            let filter = match crate::daemon::images::ImageFilter::parse(
                q.get("filters").map(String::as_str).unwrap_or(""),
            ) {
                Ok(f) => f,
                Err(e) => return error_response(StatusCode::BAD_REQUEST, e),
            };
            match d.image_list().await {
                Ok(list) => {
                    let list: Vec<_> = list.into_iter().filter_map(|i| filter.apply(i)).collect();
                    json_response(StatusCode::OK, &list)
                }
                Err(e) => from_daemon(e),
            }
        }
        (&Method::POST, ["images", "load"]) => load(req, d).await,
        (&Method::POST, ["images", "create"]) => {
            let q = query(&req);
            let auth = registry_auth(&req);
            match (q.get("fromImage"), q.get("fromSrc")) {
                (Some(image), _) if !image.is_empty() => {
                    let rx = d.image_pull(image, q.get("tag").map(String::as_str).unwrap_or(""), auth);
                    progress_response(rx).await
                }
                (_, Some(src)) if src == "-" => import(req, q, d).await,
                (_, Some(src)) => error_response(
                    StatusCode::BAD_REQUEST,
                    format!("importing from {src}: berth imports only from the request body (fromSrc=-)"),
                ),
                _ => error_response(StatusCode::BAD_REQUEST, "fromImage or fromSrc is required"),
            }
        }
        (&Method::POST, ["images", rest @ .., "push"]) if !rest.is_empty() => {
            let q = query(&req);
            let auth = registry_auth(&req);
            let rx = d.image_push(
                &rest.join("/"),
                q.get("tag").map(String::as_str).unwrap_or(""),
                auth,
            );
            progress_response(rx).await
        }
        (&Method::GET, ["images", "search"]) => {
            let q = query(&req);
            let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(0);
            let term = q.get("term").cloned().unwrap_or_default();
            match d.search(&term, limit, registry_auth(&req)).await {
                Ok(v) => json_response(StatusCode::OK, &v),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::POST, ["auth"]) => {
            let auth: crate::image::registry::AuthConfig = match json_body(req).await {
                Ok(v) => v,
                Err(resp) => return resp,
            };
            match d.auth(auth).await {
                Ok(v) => json_response(StatusCode::OK, &v),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::HEAD, ["containers", id, "archive"]) => {
            let q = query(&req);
            match d
                .archive_stat(id, q.get("path").map(String::as_str).unwrap_or(""))
                .await
            {
                Ok(stat) => base(StatusCode::OK)
                    .header("X-Docker-Container-Path-Stat", stat)
                    .body(empty())
                    .unwrap(),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::GET, ["containers", id, "archive"]) => {
            let q = query(&req);
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
            match d
                .archive_get(id, q.get("path").map(String::as_str).unwrap_or(""), tx)
                .await
            {
                Ok(stat) => base(StatusCode::OK)
                    .header(CONTENT_TYPE, "application/x-tar")
                    .header("X-Docker-Container-Path-Stat", stat)
                    .body(channel_body(rx))
                    .unwrap(),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::PUT, ["containers", id, "archive"]) => {
            let id = id.to_string();
            let q = query(&req);
            let path = q.get("path").cloned().unwrap_or_default();
            let no_overwrite = flag(&q, "noOverwriteDirNonDir");
            let copy_uid_gid = flag(&q, "copyUIDGID");
            let reader = body_reader(req.into_body());
            match d
                .archive_put(&id, &path, reader, no_overwrite, copy_uid_gid)
                .await
            {
                Ok(()) => base(StatusCode::OK).body(empty()).unwrap(),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::GET, ["containers", id, "changes"]) => match d.container_changes(id).await {
            Ok(v) => json_response(StatusCode::OK, &v),
            Err(e) => from_daemon(e),
        },
        (&Method::GET, ["containers", id, "export"]) => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
            match d.container_export(id, tx).await {
                Ok(()) => base(StatusCode::OK)
                    .header(CONTENT_TYPE, "application/x-tar")
                    .body(channel_body(rx))
                    .unwrap(),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::POST, ["commit"]) => {
            let pairs: Vec<(String, String)> =
                url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                    .into_owned()
                    .collect();
            let get = |k: &str| {
                pairs
                    .iter()
                    .rev()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let repo = get("repo");
            let tag = get("tag");
            let request = crate::daemon::commit::CommitRequest {
                container: get("container"),
                reference: (!repo.is_empty()).then(|| {
                    if tag.is_empty() {
                        repo.clone()
                    } else {
                        format!("{repo}:{tag}")
                    }
                }),
                comment: get("comment"),
                author: get("author"),
                pause: !matches!(get("pause").as_str(), "0" | "false" | "False"),
                changes: pairs
                    .iter()
                    .filter(|(n, _)| n == "changes")
                    .map(|(_, v)| v.clone())
                    .collect(),
            };
            match d.commit(request).await {
                Ok(id) => json_response(StatusCode::CREATED, &serde_json::json!({ "Id": id })),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::GET, ["images", "get"]) => {
            let names: Vec<String> =
                url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                    .filter(|(k, _)| k == "names")
                    .map(|(_, v)| v.into_owned())
                    .collect();
            save(&d, names).await
        }
        (&Method::GET, ["images", rest @ .., "get"]) if !rest.is_empty() => {
            save(&d, vec![rest.join("/")]).await
        }
        (&Method::POST, ["images", "prune"]) => {
            let q = query(&req);
            // `dangling=false` (`image prune -a`): every unused image, tagged or not.
            let all = q
                .get("filters")
                .is_some_and(|f| f.contains("\"dangling\"") && f.contains("false"));
            match d.image_prune(all).await {
                Ok((items, bytes)) => json_response(
                    StatusCode::OK,
                    &serde_json::json!({ "ImagesDeleted": items, "SpaceReclaimed": bytes }),
                ),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::POST, ["images", rest @ .., "tag"]) if !rest.is_empty() => {
            let q = query(&req);
            let name = rest.join("/");
            let repo = q.get("repo").cloned().unwrap_or_default();
            let tag = q.get("tag").cloned().unwrap_or_default();
            match d.image_tag(&name, &repo, &tag).await {
                Ok(()) => base(StatusCode::CREATED).body(empty()).unwrap(),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::GET, ["images", rest @ .., "history"]) if !rest.is_empty() => {
            match d.image_history(&rest.join("/")).await {
                Ok(v) => json_response(StatusCode::OK, &v),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::DELETE, ["images", rest @ ..]) if !rest.is_empty() => {
            let q = query(&req);
            match d.image_remove(&rest.join("/"), flag(&q, "force")).await {
                Ok(v) => json_response(StatusCode::OK, &v),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::GET, ["images", rest @ .., "json"]) if !rest.is_empty() => {
            let name = rest.join("/");
            match d.image_inspect(&name).await {
                Ok(v) => json_response(StatusCode::OK, &v),
                Err(e) => from_daemon(e),
            }
        }
        (&Method::POST, ["swarm", "leave"]) => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "This node is not part of a swarm",
        ),
        _ => error_response(StatusCode::NOT_FOUND, "page not found"),
    }
}

async fn create(req: Request<Incoming>, d: Arc<Daemon>) -> Response<Body> {
    let q = query(&req);
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return error_response(StatusCode::BAD_REQUEST, format!("reading the body: {e}")),
    };
    let create: CreateRequest = if body.is_empty() {
        return error_response(
            StatusCode::BAD_REQUEST,
            "config cannot be empty in order to create a container",
        );
    } else {
        let parsed = serde_json::from_slice::<serde_json::Value>(&body)
            .map_err(|e| format!("invalid JSON: {e}"))
            .and_then(|v| crate::api::types::parse_naming(&v, ""));
        match parsed {
            Ok(c) => c,
            Err(e) => return error_response(StatusCode::BAD_REQUEST, e),
        }
    };
    match d.create(q.get("name").map(|s| s.as_str()), create).await {
        Ok(id) => json_response(
            StatusCode::CREATED,
            &CreateResponse {
                id,
                warnings: vec![],
            },
        ),
        Err(e) => from_daemon(e),
    }
}

async fn list_containers(req: &Request<Incoming>, d: &Arc<Daemon>) -> Response<Body> {
    use crate::daemon::filters;
    let q = query(req);
    let all = flag(&q, "all");
    let limit: i64 = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(-1);
    let f = match filters::parse(q.get("filters").map(String::as_str).unwrap_or("")) {
        Ok(f) => f,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, e),
    };
    if let Err(e) = filters::validate(&f, filters::CONTAINER_FILTERS) {
        return error_response(StatusCode::BAD_REQUEST, e);
    }
    let mut ancestors = Vec::new();
    for name in f.get("ancestor").into_iter().flatten() {
        if let Ok(img) = d.image_get(name).await {
            ancestors.push(img.id);
        }
    }
    // A status or exited filter can only be met by stopped containers, so it implies --all.
    let all = all || limit > 0 || f.contains_key("status") || f.contains_key("exited");
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
    if flag(&q, "size") {
        for row in rows.iter_mut() {
            let (rw, root) = d.container_sizes(&row.id, &row.image_id).await;
            row.size_rw = Some(rw);
            row.size_root_fs = Some(root);
        }
    }
    json_response(StatusCode::OK, &rows)
}

fn logs(req: &Request<Incoming>, id: &str, d: &Arc<Daemon>) -> Response<Body> {
    use crate::daemon::logs::{parse_unix_time, LogQuery};
    let q = query(req);
    let time = |k: &str| parse_unix_time(q.get(k).map(String::as_str).unwrap_or(""));
    let (since, until) = match (time("since"), time("until")) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(e), _) | (_, Err(e)) => return error_response(StatusCode::BAD_REQUEST, e),
    };
    let tail = match q.get("tail").map(String::as_str) {
        None | Some("") | Some("all") => None,
        Some(n) => match n.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n as usize),
            Ok(_) => None,
            Err(_) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    format!("invalid value for tail: {n:?}"),
                )
            }
        },
    };
    let lq = LogQuery {
        stdout: flag(&q, "stdout"),
        stderr: flag(&q, "stderr"),
        follow: flag(&q, "follow"),
        timestamps: flag(&q, "timestamps"),
        tail,
        since,
        until,
    };
    if !lq.stdout && !lq.stderr {
        return error_response(
            StatusCode::BAD_REQUEST,
            "Bad parameters: you must choose at least one stream",
        );
    }
    let tty = d
        .lookup(id)
        .map(|c| c.snapshot().config.tty)
        .unwrap_or(false);
    match d.logs(id, lq) {
        Ok(rx) => base(StatusCode::OK)
            .header(
                CONTENT_TYPE,
                if tty {
                    "application/vnd.docker.raw-stream"
                } else {
                    "application/vnd.docker.multiplexed-stream"
                },
            )
            .body(channel_body(rx))
            .unwrap(),
        Err(e) => from_daemon(e),
    }
}

/// `GET /containers/{id}/stats`: one sample (with the one a second earlier, so CPU use can be
/// computed, unless `one-shot`), or a sample every second while the container runs.
async fn stats(d: &Arc<Daemon>, id: &str, stream: bool, one_shot: bool) -> Response<Body> {
    let (first, cid, name) = match d.stats_sample(id) {
        Ok(s) => s,
        Err(e) => return from_daemon(e),
    };
    let line = |v: serde_json::Value| {
        let mut b = serde_json::to_vec(&v).unwrap_or_default();
        b.push(b'\n');
        Bytes::from(b)
    };
    if !stream {
        if one_shot {
            return json_response(StatusCode::OK, &first.to_json(None, &cid, &name));
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        return match d.stats_sample(&cid) {
            Ok((second, _, _)) => {
                json_response(StatusCode::OK, &second.to_json(Some(&first), &cid, &name))
            }
            // Stopped in between: what was measured is still the answer.
            Err(_) => json_response(StatusCode::OK, &first.to_json(None, &cid, &name)),
        };
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let d = d.clone();
    tokio::spawn(async move {
        let mut pre = first;
        if tx.send(line(pre.to_json(None, &cid, &name))).await.is_err() {
            return;
        }
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let Ok((next, _, _)) = d.stats_sample(&cid) else {
                return;
            };
            if tx
                .send(line(next.to_json(Some(&pre), &cid, &name)))
                .await
                .is_err()
            {
                return;
            }
            pre = next;
        }
    });
    base(StatusCode::OK)
        .header(CONTENT_TYPE, "application/json")
        .body(channel_body(rx))
        .unwrap()
}

async fn load(req: Request<Incoming>, d: Arc<Daemon>) -> Response<Body> {
    let quiet = flag(&query(&req), "quiet");
    let sync_reader = body_reader(req.into_body());
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let images = d.images.clone();
    tokio::task::spawn_blocking(move || {
        let send = |m: JsonMessage| {
            let mut line = serde_json::to_vec(&m).unwrap_or_default();
            line.push(b'\n');
            let _ = tx.blocking_send(Bytes::from(line));
        };
        // Clients get the byte counts (docker draws them as bars on a terminal and prints
        // nothing of them elsewhere); the per-layer notes are for the store's own callers.
        let mut progress = |v: serde_json::Value| {
            if !quiet && v["progressDetail"]["current"].is_number() {
                let mut line = serde_json::to_vec(&v).unwrap_or_default();
                line.push(b'\n');
                let _ = tx.blocking_send(Bytes::from(line));
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
    base(StatusCode::OK)
        .header(CONTENT_TYPE, "application/json")
        .body(channel_body(rx))
        .unwrap()
}

/// `POST /images/create?fromSrc=-&repo=&tag=&message=&changes=…`: `import` of the body.
async fn import(
    req: Request<Incoming>,
    q: HashMap<String, String>,
    d: Arc<Daemon>,
) -> Response<Body> {
    // `changes` repeats, one instruction each, which the map of `query` would fold into one.
    let changes: Vec<String> = req
        .uri()
        .query()
        .map(|raw| {
            url::form_urlencoded::parse(raw.as_bytes())
                .filter(|(k, _)| k == "changes")
                .map(|(_, v)| v.into_owned())
                .collect()
        })
        .unwrap_or_default();
    let repo = q.get("repo").cloned().unwrap_or_default();
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
    let reader = body_reader(req.into_body());
    let request = crate::daemon::commit::ImportRequest {
        reference,
        message: q.get("message").cloned().unwrap_or_default(),
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
    progress_response(rx).await
}

/// The request body as a blocking reader, fed by a task that gathers the body's frames into
/// chunks of about a MiB (see `util::chanio`).
fn body_reader(body: Incoming) -> crate::util::chanio::ChannelReader {
    use crate::util::chanio::{ChannelReader, ChunkPool, CHUNK};
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::spawn(async move {
        let mut body = body;
        let pool = ChunkPool::default();
        let mut chunk = pool.take();
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => {
                    let Ok(mut d) = f.into_data() else { continue };
                    // Chunks are filled to exactly CHUNK, so none ever grows (and is copied).
                    while !d.is_empty() {
                        let n = (CHUNK - chunk.len()).min(d.len());
                        chunk.extend_from_slice(&d.split_to(n));
                        if chunk.len() == CHUNK {
                            let full = std::mem::replace(&mut chunk, pool.take());
                            if tx.send(Ok(pool.send_off(full))).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e))).await;
                    return;
                }
            }
        }
        if !chunk.is_empty() {
            let _ = tx.send(Ok(pool.send_off(chunk))).await;
        }
    });
    ChannelReader::new(rx)
}

/// The credentials in `X-Registry-Auth`, if the client sent any.
fn registry_auth(req: &Request<Incoming>) -> Option<crate::image::registry::AuthConfig> {
    req.headers()
        .get("X-Registry-Auth")
        .and_then(|v| v.to_str().ok())
        .and_then(crate::image::registry::AuthConfig::from_header)
}

/// A JSON progress stream (pull, push, import). An error before the first message is the
/// response's status; a later one is the stream's last object, `{"errorDetail":…}`.
async fn progress_response(mut rx: crate::daemon::distribution::ProgressRx) -> Response<Body> {
    let line = |v: &serde_json::Value| {
        let mut b = serde_json::to_vec(v).unwrap_or_default();
        b.push(b'\n');
        Bytes::from(b)
    };
    let first = match rx.recv().await {
        Some(Ok(v)) => v,
        Some(Err(e)) => return from_daemon(e),
        None => {
            return from_daemon(DaemonError::System(
                "the operation ended without a word".into(),
            ))
        }
    };
    let (tx, body_rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        if tx.send(line(&first)).await.is_err() {
            return;
        }
        while let Some(item) = rx.recv().await {
            let v = match item {
                Ok(v) => v,
                Err(e) => {
                    serde_json::json!({"errorDetail": {"message": e.to_string()}, "error": e.to_string()})
                }
            };
            if tx.send(line(&v)).await.is_err() {
                return;
            }
        }
    });
    base(StatusCode::OK)
        .header(CONTENT_TYPE, "application/json")
        .body(channel_body(body_rx))
        .unwrap()
}

/// `GET /images/get` and `/images/{name}/get`: a tar stream.
async fn save(d: &Arc<Daemon>, names: Vec<String>) -> Response<Body> {
    // A few MiB ahead of the client are enough to keep the socket busy.
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    match d.image_save(names, tx).await {
        Ok(()) => base(StatusCode::OK)
            .header(CONTENT_TYPE, "application/x-tar")
            .body(channel_body(rx))
            .unwrap(),
        Err(e) => from_daemon(e),
    }
}

/// A `since`/`until` of `GET /events`: unix seconds, with an optional fraction, as nanoseconds.
fn unix_nanos(v: &str) -> Result<i64, String> {
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = secs
        .parse()
        .map_err(|_| format!("invalid timestamp {v:?}"))?;
    let mut digits: String = frac.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("invalid timestamp {v:?}"));
    }
    while digits.len() < 9 {
        digits.push('0');
    }
    Ok(secs * 1_000_000_000 + digits.parse::<i64>().unwrap_or(0))
}

/// `GET /events`: the kept events since `since` (if given), then new ones as they happen,
/// until `until` (if given) passes; one JSON object a line.
fn events(req: &Request<Incoming>, d: &Arc<Daemon>) -> Response<Body> {
    let q = query(req);
    let parse = |k: &str| {
        q.get(k)
            .filter(|v| !v.is_empty())
            .map(|v| unix_nanos(v))
            .transpose()
    };
    let (since, until) = match (parse("since"), parse("until")) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(e), _) | (_, Err(e)) => return error_response(StatusCode::BAD_REQUEST, e),
    };
    let filter = match EventFilter::parse(q.get("filters").map(String::as_str).unwrap_or("")) {
        Ok(f) => f,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, e),
    };
    let (past, mut live) = d.events.subscribe();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let line = |e: &Event| {
        let mut l = serde_json::to_vec(e).unwrap_or_default();
        l.push(b'\n');
        Bytes::from(l)
    };
    tokio::spawn(async move {
        let in_window = |e: &Event| {
            since.is_none_or(|s| e.time_nano >= s) && until.is_none_or(|u| e.time_nano <= u)
        };
        if since.is_some() {
            for e in past.iter().filter(|e| in_window(e) && filter.matches(e)) {
                if tx.send(line(e)).await.is_err() {
                    return;
                }
            }
        }
        let deadline = until.map(|u| {
            let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
            tokio::time::Instant::now()
                + std::time::Duration::from_nanos(u.saturating_sub(now).max(0) as u64)
        });
        loop {
            let next = match deadline {
                Some(at) => tokio::select! {
                    e = live.recv() => e,
                    _ = tokio::time::sleep_until(at) => return,
                    _ = tx.closed() => return,
                },
                None => tokio::select! {
                    e = live.recv() => e,
                    _ = tx.closed() => return,
                },
            };
            match next {
                Ok(e) if in_window(&e) && filter.matches(&e) => {
                    if tx.send(line(&e)).await.is_err() {
                        return;
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    base(StatusCode::OK)
        .header(CONTENT_TYPE, "application/json")
        .body(channel_body(rx))
        .unwrap()
}

/// `POST /containers/{id}/attach`: with `Upgrade: tcp` the connection is hijacked and carries
/// raw frames both ways; without it, output streams in the response body.
async fn attach(mut req: Request<Incoming>, id: &str, d: Arc<Daemon>) -> Response<Body> {
    let q = query(&req);
    let c = match d.lookup(id) {
        Ok(c) => c,
        Err(e) => return from_daemon(e),
    };
    let want_stdin = flag(&q, "stdin");
    let want_stdout = flag(&q, "stdout");
    let want_stderr = flag(&q, "stderr");
    let detach_keys = match q.get("detachKeys").filter(|k| !k.is_empty()) {
        Some(spec) => match detach::parse(spec) {
            Ok(k) => k,
            Err(e) => return error_response(StatusCode::BAD_REQUEST, e),
        },
        None => detach::DEFAULT.to_vec(),
    };
    let rec = c.snapshot();
    d.container_event(&rec, "attach", &[]);
    let tty = rec.config.tty;
    // Subscribe before answering, so output produced right after `start` is never missed.
    let mut output = c.output.subscribe();
    let finished = !rec.state.running && rec.state.status == "exited";
    // Input sent before the container starts waits for it; input after this run has ended
    // is dropped.
    let exits_seen = c.lifecycle.borrow().exits;

    let frame = move |o: &Output| -> Option<Vec<u8>> {
        match o {
            Output::Stdout(b) if want_stdout => Some(if tty {
                b.to_vec()
            } else {
                stream::encode(stream::STDOUT, b)
            }),
            Output::Stderr(b) if want_stderr => Some(if tty {
                b.to_vec()
            } else {
                stream::encode(stream::STDERR, b)
            }),
            _ => None,
        }
    };

    let upgrade = req.headers().get(hyper::header::UPGRADE).is_some();
    if !upgrade {
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
        if !finished {
            tokio::spawn(async move {
                loop {
                    match output.recv().await {
                        Ok(Output::Closed)
                        | Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                        Ok(o) => {
                            if let Some(b) = frame(&o) {
                                if tx.send(Bytes::from(b)).await.is_err() {
                                    break;
                                }
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    }
                }
            });
        }
        return base(StatusCode::OK)
            .header(CONTENT_TYPE, "application/vnd.docker.raw-stream")
            .body(channel_body(rx))
            .unwrap();
    }

    let on_upgrade = hyper::upgrade::on(&mut req);
    let container = c.clone();
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!("attach upgrade failed: {e}");
                return;
            }
        };
        let io = TokioIo::new(upgraded);
        let (mut rd, mut wr) = tokio::io::split(io);
        // Set when the client types the detach keys: the attach ends, the container runs on.
        let detached = Arc::new(tokio::sync::Notify::new());
        let stdin_task = if want_stdin && rec.config.open_stdin {
            let container = container.clone();
            let stdin_once = rec.config.stdin_once;
            let detached = detached.clone();
            Some(tokio::spawn(async move {
                let mut buf = vec![0u8; 32 * 1024];
                let mut keys = detach::DetachKeys::new(detach_keys);
                loop {
                    match rd.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let (data, detach) = keys.scan(&buf[..n]);
                            if !data.is_empty() {
                                match container.stdin_when_started(exits_seen).await {
                                    Some(mut s) => {
                                        if let Some(s) = s.as_mut() {
                                            let _ = s.write(&data).await;
                                        }
                                    }
                                    None => return,
                                }
                            }
                            if detach {
                                detached.notify_one();
                                return;
                            }
                        }
                    }
                }
                if stdin_once {
                    if let Some(mut s) = container.stdin_when_started(exits_seen).await {
                        if let Some(s) = s.as_mut() {
                            let _ = s.close().await;
                        }
                    }
                }
            }))
        } else {
            None
        };
        // An exited container streams again when it is started (`start -a` attaches first),
        // so the session lasts until that run's output ends or the container is removed.
        let mut lifecycle = container.lifecycle.subscribe();
        loop {
            let next = tokio::select! {
                o = output.recv() => o,
                _ = detached.notified() => break,
                _ = lifecycle.wait_for(|l| l.removed) => break,
            };
            match next {
                Ok(Output::Closed) | Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                Ok(o) => {
                    if let Some(b) = frame(&o) {
                        if wr.write_all(&b).await.is_err() {
                            break;
                        }
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            }
        }
        let _ = wr.flush().await;
        let _ = wr.shutdown().await;
        if let Some(t) = stdin_task {
            t.abort();
        }
    });
    upgraded_response()
}

/// `POST /exec/{id}/start`: run the exec; unless detached, the connection is hijacked and
/// carries its output (framed, or raw with a terminal) and its stdin, and closes when the
/// process ends or the client types the detach keys.
async fn exec_start(mut req: Request<Incoming>, id: &str, d: Arc<Daemon>) -> Response<Body> {
    let exec = match d.exec_get(id) {
        Ok(e) => e,
        Err(e) => return from_daemon(e),
    };
    let upgrade = req.headers().get(hyper::header::UPGRADE).is_some();
    let on_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return error_response(StatusCode::BAD_REQUEST, format!("reading the body: {e}")),
    };
    let start: ExecStartConfig = serde_json::from_slice(&body).unwrap_or_default();
    let size = [&start.console_size, &exec.config.console_size]
        .into_iter()
        .flatten()
        .find_map(|v| match v.as_slice() {
            [r, c] if *r > 0 && *c > 0 => Some((
                u16::try_from(*r).unwrap_or(u16::MAX),
                u16::try_from(*c).unwrap_or(u16::MAX),
            )),
            _ => None,
        });
    let keys = detach::parse(&exec.config.detach_keys).unwrap_or_else(|_| detach::DEFAULT.to_vec());
    let spawned = match d.exec_spawn(&exec, size).await {
        Ok(s) => s,
        Err(e) => return from_daemon(e),
    };
    let mut child = spawned.child;
    // With a terminal, all output is the terminal's (plus nsexec's own errors), sent raw.
    let (pty_out, pty_in) = match spawned.terminal.map(crate::runtime::console::AsyncPty::new) {
        Some(Ok(pty)) => {
            let (r, w) = tokio::io::split(pty);
            (Some(r), Some(w))
        }
        Some(Err(e)) => {
            let _ = child.kill().await;
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("relaying the exec's terminal: {e}"),
            );
        }
        None => (None, None),
    };
    let tty = pty_out.is_some();
    let (out_stream, err_stream) = if tty {
        (None, None)
    } else {
        (Some(stream::STDOUT), Some(stream::STDERR))
    };
    let stdin: Option<Box<dyn tokio::io::AsyncWrite + Send + Unpin>> =
        match (pty_in, child.stdin.take()) {
            (Some(w), _) if exec.config.attach_stdin => Some(Box::new(w)),
            (None, Some(p)) => Some(Box::new(p)),
            _ => None,
        };
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (want_out, want_err) = if start.detach {
        (false, false)
    } else {
        (exec.config.attach_stdout, exec.config.attach_stderr)
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    // Held until the exit is recorded: the client reads the exit code (GET /exec/{id}/json)
    // as soon as its stream ends, so the stream must not end before that.
    let tx_hold = tx.clone();
    // Every output is read to its end, wanted or not, so the process never blocks on it.
    let forward = async move {
        tokio::join!(
            frame_pipe(pty_out, None, want_out, tx.clone()),
            frame_pipe(stdout, out_stream, want_out, tx.clone()),
            frame_pipe(stderr, err_stream, want_err, tx)
        );
    };
    let finish = {
        let exec = exec.clone();
        let d = d.clone();
        async move {
            let (_, status) = tokio::join!(forward, child.wait());
            if let Ok(st) = status {
                d.exec_finished(&exec, st);
            }
            drop(tx_hold);
        }
    };
    if start.detach {
        drop((rx, stdin));
        tokio::spawn(finish);
        return base(StatusCode::OK).body(empty()).unwrap();
    }
    let Some(on_upgrade) = on_upgrade else {
        drop(stdin);
        tokio::spawn(finish);
        let content_type = if tty {
            "application/vnd.docker.raw-stream"
        } else {
            "application/vnd.docker.multiplexed-stream"
        };
        return base(StatusCode::OK)
            .header(CONTENT_TYPE, content_type)
            .body(channel_body(rx))
            .unwrap();
    };
    tokio::spawn(async move {
        let finished = tokio::spawn(finish);
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!("exec upgrade failed: {e}");
                return;
            }
        };
        let (mut rd, mut wr) = tokio::io::split(TokioIo::new(upgraded));
        let detached = Arc::new(tokio::sync::Notify::new());
        let stdin_task = {
            let detached = detached.clone();
            tokio::spawn(async move {
                let Some(mut sink) = stdin else { return };
                let mut keys = detach::DetachKeys::new(keys);
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match rd.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let (data, detach) = keys.scan(&buf[..n]);
                            if !data.is_empty() && sink.write_all(&data).await.is_err() {
                                break;
                            }
                            if detach {
                                detached.notify_one();
                                return;
                            }
                        }
                    }
                }
                // End of the client's input: a pipe is closed, so the process sees EOF.
                let _ = sink.shutdown().await;
            })
        };
        let mut rx = rx;
        loop {
            let next = tokio::select! {
                b = rx.recv() => b,
                _ = detached.notified() => break,
            };
            match next {
                Some(b) => {
                    if wr.write_all(&b).await.is_err() {
                        break;
                    }
                }
                None => break,
            }
        }
        drop(rx);
        let _ = wr.flush().await;
        let _ = wr.shutdown().await;
        stdin_task.abort();
        // A detached exec runs on; its end is still recorded.
        drop(finished);
    });
    upgraded_response()
}

/// `?h=<rows>&w=<columns>` of a resize request.
fn size_query(req: &Request<Incoming>) -> Result<(u16, u16), String> {
    let q = query(req);
    let get = |k: &str, what: &str| -> Result<u16, String> {
        let v = q.get(k).map(String::as_str).unwrap_or("");
        v.parse()
            .map_err(|_| format!("invalid {what} {v:?}: must be a number from 0 to 65535"))
    };
    Ok((get("h", "height")?, get("w", "width")?))
}

/// The request body as JSON, or the 400 answer to send instead.
async fn json_body<T: serde::de::DeserializeOwned>(
    req: Request<Incoming>,
) -> Result<T, Response<Body>> {
    let body = req
        .into_body()
        .collect()
        .await
        .map_err(|e| error_response(StatusCode::BAD_REQUEST, format!("reading the body: {e}")))?
        .to_bytes();
    serde_json::from_slice(&body)
        .map_err(|e| error_response(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")))
}

/// `101 UPGRADED`: from here on the connection is a raw stream both ways.
fn upgraded_response() -> Response<Body> {
    let mut resp = base(StatusCode::SWITCHING_PROTOCOLS).body(empty()).unwrap();
    let h = resp.headers_mut();
    h.remove("Api-Version");
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.docker.raw-stream"),
    );
    h.insert(
        hyper::header::CONNECTION,
        HeaderValue::from_static("Upgrade"),
    );
    h.insert(hyper::header::UPGRADE, HeaderValue::from_static("tcp"));
    resp
}

/// Copy a process's pipe into `tx` as frames of `stream` (raw bytes when None). It reads to the end even when the
/// client did not ask for this stream (`wanted` false), so the process never blocks on a full
/// pipe.
async fn frame_pipe<R: tokio::io::AsyncRead + Unpin>(
    src: Option<R>,
    stream: Option<u8>,
    wanted: bool,
    tx: tokio::sync::mpsc::Sender<Bytes>,
) {
    let Some(mut src) = src else { return };
    let mut buf = vec![0u8; 32 * 1024];
    let mut forwarding = wanted;
    while let Ok(n) = src.read(&mut buf).await {
        if n == 0 {
            break;
        }
        if forwarding
            && tx
                .send(Bytes::from(match stream {
                    Some(s) => stream::encode(s, &buf[..n]),
                    None => buf[..n].to_vec(),
                }))
                .await
                .is_err()
        {
            forwarding = false;
        }
    }
}

fn kernel_version() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn version_info() -> VersionResponse {
    let version = env!("CARGO_PKG_VERSION").to_string();
    let mut details = std::collections::BTreeMap::new();
    details.insert("ApiVersion".to_string(), API_VERSION.to_string());
    details.insert("MinAPIVersion".to_string(), MIN_API_VERSION.to_string());
    details.insert("Os".to_string(), "linux".to_string());
    details.insert("Arch".to_string(), "amd64".to_string());
    details.insert("KernelVersion".to_string(), kernel_version());
    let mut platform = std::collections::BTreeMap::new();
    platform.insert("Name".to_string(), "berth".to_string());
    VersionResponse {
        platform,
        components: vec![VersionComponent {
            name: "Engine".into(),
            version: version.clone(),
            details,
        }],
        version,
        api_version: API_VERSION.into(),
        min_api_version: MIN_API_VERSION.into(),
        git_commit: String::new(),
        go_version: format!("rust (berth {})", env!("CARGO_PKG_VERSION")),
        os: "linux".into(),
        arch: std::env::consts::ARCH.replace("x86_64", "amd64"),
        kernel_version: kernel_version(),
        build_time: String::new(),
    }
}

fn os_release() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    (get("PRETTY_NAME"), get("VERSION_ID"))
}

fn info(d: &Arc<Daemon>) -> serde_json::Value {
    let recs: Vec<_> = d.all_containers().iter().map(|c| c.snapshot()).collect();
    let running = recs.iter().filter(|r| r.state.running).count();
    let images = d
        .images
        .lock()
        .unwrap()
        .list()
        .map(|l| l.len())
        .unwrap_or(0);
    let (os, os_version) = os_release();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        })
        .unwrap_or(0)
        * 1024;
    let hostname = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cgroup_version = match d.cgroups.version() {
        crate::cgroups::CgroupVersion::V1 => "1",
        crate::cgroups::CgroupVersion::V2 => "2",
    };
    serde_json::json!({
        "ID": "",
        "Containers": recs.len(),
        "ContainersRunning": running,
        "ContainersPaused": 0,
        "ContainersStopped": recs.len() - running,
        "Images": images,
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"], ["Native Overlay Diff", "true"]],
        "Plugins": {"Volume": [], "Network": ["bridge"], "Authorization": null, "Log": ["json-file"]},
        "MemoryLimit": false,
        "SwapLimit": false,
        "CpuCfsPeriod": false,
        "CpuCfsQuota": false,
        "CPUShares": false,
        "CPUSet": false,
        "PidsLimit": false,
        "IPv4Forwarding": true,
        "Debug": d.config.debug,
        "NFd": std::fs::read_dir("/proc/self/fd").map(|r| r.count()).unwrap_or(0),
        "NGoroutines": 0,
        "SystemTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version,
        "NEventsListener": 0,
        "KernelVersion": kernel_version(),
        "OperatingSystem": os,
        "OSVersion": os_version,
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "IndexServerAddress": "",
        "RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {}, "Mirrors": []},
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "MemTotal": mem,
        "DockerRootDir": d.config.root,
        "Name": hostname,
        "Labels": [],
        "ExperimentalBuild": false,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Runtimes": {"berth": {"path": d.exe}},
        "DefaultRuntime": "berth",
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": null},
        "LiveRestoreEnabled": false,
        "Isolation": "",
        "InitBinary": "",
        "SecurityOptions": [],
        "Warnings": null,
        "BerthBridge": d.network.bridge(),
        "BerthSubnet": d.network.subnet().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_prefix_is_optional() {
        assert_eq!(
            split_version("/v1.41/containers/json"),
            (Some("1.41"), "/containers/json")
        );
        assert_eq!(
            split_version("/containers/json"),
            (None, "/containers/json")
        );
        assert_eq!(split_version("/volumes"), (None, "/volumes"));
        assert!(version_tuple("1.12") < version_tuple(MIN_API_VERSION));
        assert!(version_tuple("1.50") >= version_tuple(MIN_API_VERSION));
    }
}
