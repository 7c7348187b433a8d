//! The Engine API over HTTP/1.1 on a unix socket (hyper), laid out as moby's
//! `api/server/router/<noun>/`: `router` is the one table from method and path to a handler,
//! and each noun (`containers`, `exec`, `attach`, `logs`, `images`, `archive`,
//! `distribution`, `system`) has a file of handlers. Paths may carry a `/v1.xx` prefix;
//! versions older than 1.24 are refused. A handler's error becomes Docker's status code and
//! `{"message": …}` body in one place, `ApiError::into_response`.

mod archive;
mod attach;
mod build;
mod containers;
mod distribution;
mod exec;
mod hijack;
mod images;
mod logs;
mod networks;
mod router;
mod system;
mod volumes;

use crate::daemon::{Daemon, DaemonError};
use crate::wire::types::{ErrorResponse, API_VERSION, MIN_API_VERSION};
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::UnixListener;

type Body = BoxBody<Bytes, std::io::Error>;

/// What a handler answers: a response, or the error that `into_response` turns into one.
type Reply = Result<Response<Body>, ApiError>;

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
    Ok(router::dispatch(req, &route, d).await)
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

/// Why a request failed: the daemon's typed error, or one found in the request itself.
#[derive(Debug)]
enum ApiError {
    Daemon(DaemonError),
    BadRequest(String),
    Status(StatusCode, String),
}

impl From<DaemonError> for ApiError {
    fn from(e: DaemonError) -> ApiError {
        ApiError::Daemon(e)
    }
}

impl ApiError {
    /// Docker's status code for each kind of error, with the message as `{"message": …}`.
    fn into_response(self) -> Response<Body> {
        let (status, message) = match self {
            ApiError::Daemon(e) => {
                let status = match &e {
                    DaemonError::NotFound(_) => StatusCode::NOT_FOUND,
                    DaemonError::Conflict(_) => StatusCode::CONFLICT,
                    DaemonError::InvalidParameter(_) => StatusCode::BAD_REQUEST,
                    DaemonError::NotModified(_) => {
                        return base(StatusCode::NOT_MODIFIED).body(empty()).unwrap()
                    }
                    DaemonError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
                    DaemonError::Forbidden(_) => StatusCode::FORBIDDEN,
                    DaemonError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
                    DaemonError::System(_) => StatusCode::INTERNAL_SERVER_ERROR,
                };
                (status, e.to_string())
            }
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::Status(s, m) => (s, m),
        };
        error_response(status, message)
    }
}

/// What a handler is given: the request, the parameters its route's pattern named, and the
/// daemon.
struct Call {
    req: Request<Incoming>,
    params: Vec<(&'static str, String)>,
    d: Arc<Daemon>,
}

impl Call {
    /// A parameter of the route's pattern (`{id}`, `{name*}`), percent-decoded (a network
    /// named `test 01` arrives as `test%2001`).
    fn param(&self, name: &str) -> String {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| {
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .unwrap_or_default()
    }

    /// The API version the client asked for in the path (`/v1.41/...`), if it did.
    fn api_version(&self) -> Option<(u32, u32)> {
        split_version(self.req.uri().path()).0.map(version_tuple)
    }

    /// The API version the request speaks: the one in its path, else the daemon's own.
    fn version(&self) -> (u32, u32) {
        self.api_version()
            .unwrap_or_else(|| version_tuple(API_VERSION))
    }

    fn query(&self) -> Query {
        Query::of(&self.req)
    }

    /// The body, whole.
    async fn body(self) -> Result<Bytes, ApiError> {
        Ok(self
            .req
            .into_body()
            .collect()
            .await
            .map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?
            .to_bytes())
    }

    /// The body as JSON.
    async fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, ApiError> {
        let body = self.body().await?;
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))
    }
}

/// A request's query string. A key that repeats (`changes`, `names`) keeps every value for
/// `all`; `get` answers with the last one.
struct Query {
    pairs: Vec<(String, String)>,
    last: HashMap<String, String>,
}

impl Query {
    fn of(req: &Request<Incoming>) -> Query {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let last = pairs.iter().cloned().collect();
        Query { pairs, last }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.last.get(key).map(String::as_str)
    }

    /// The value, or "" when absent.
    fn str(&self, key: &str) -> &str {
        self.get(key).unwrap_or("")
    }

    /// Every value of a key that repeats.
    fn all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Docker clients send `1`, `true`, and (the Python SDK) `True`.
    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("1") | Some("true") | Some("True"))
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

/// A response with the headers every answer of Docker's carries.
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

fn ok_json<T: serde::Serialize>(value: &T) -> Reply {
    Ok(json_response(StatusCode::OK, value))
}

fn error_response(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    json_response(
        status,
        &ErrorResponse {
            message: message.into(),
        },
    )
}

fn no_content() -> Reply {
    Ok(base(StatusCode::NO_CONTENT).body(empty()).unwrap())
}

fn ok_empty() -> Reply {
    Ok(base(StatusCode::OK).body(empty()).unwrap())
}

/// A body fed by a channel: for `wait`, `load`, logs, events and attach without an upgrade.
fn channel_body(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Body {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::io::Error>(Frame::data(b)), rx))
    });
    StreamBody::new(stream).boxed()
}

/// A 200 whose body streams from `rx`, of `content_type`.
fn streaming(content_type: &str, rx: tokio::sync::mpsc::Receiver<Bytes>) -> Reply {
    Ok(base(StatusCode::OK)
        .header(CONTENT_TYPE, content_type)
        .body(channel_body(rx))
        .unwrap())
}

/// One JSON value and a newline: a line of a JSON stream (events, stats, progress).
fn json_line<T: serde::Serialize>(value: &T) -> Bytes {
    let mut b = serde_json::to_vec(value).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
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
                                drain(body).await;
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

/// Read the rest of a body nobody wants. A handler that refuses a request before reading its
/// body (a bad query, no such container) must still let the client finish sending it: were
/// the connection closed with the body unread, the kernel would reset it and the client
/// would see a failed write instead of the answer.
async fn drain(mut body: Incoming) {
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            return;
        }
    }
}

/// `drain` in the background, for a handler about to answer with an error.
fn discard_body(body: Incoming) {
    tokio::spawn(drain(body));
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
