//! The Engine API client the CLI uses: one HTTP/1.1 connection per request over the daemon's
//! unix socket, the `/v1.50` prefix on every path, and Docker's error bodies turned into
//! `ClientError::Api` so the CLI can print "Error response from daemon: …".

use crate::wire::types::{ErrorResponse, API_VERSION};
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use thiserror::Error;
use tokio::net::UnixStream;

pub type ReqBody = BoxBody<Bytes, std::io::Error>;

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("Cannot connect to the berth daemon at {host}. Is the daemon running? Start it with `sudo berth daemon` (or pass -H/BERTH_HOST for another socket).")]
    Connect { host: String },
    #[error("permission denied while trying to connect to the berth daemon socket at {host}: run berth as root, or as a member of the group that owns the socket")]
    Permission { host: String },
    #[error("Error response from daemon: {message}")]
    Api { status: u16, message: String },
    #[error("{0}")]
    Protocol(String),
}

impl ClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
    /// The daemon's message alone, without the "Error response from daemon" prefix.
    pub fn daemon_message(&self) -> Option<&str> {
        match self {
            ClientError::Api { message, .. } => Some(message),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

pub struct Client {
    host: String,
    socket: PathBuf,
    /// The API version spoken: berth's, or a lower one a daemon named (`negotiate`).
    version: std::sync::OnceLock<String>,
}

pub fn empty_body() -> ReqBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

pub fn bytes_body(b: impl Into<Bytes>) -> ReqBody {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

impl Client {
    pub fn new(host: &str) -> Result<Client> {
        let socket = crate::wire::host::socket_from_host(host).map_err(ClientError::Protocol)?;
        Ok(Client {
            host: host.to_string(),
            socket,
            version: std::sync::OnceLock::new(),
        })
    }

    async fn connect(&self) -> Result<hyper::client::conn::http1::SendRequest<ReqBody>> {
        let stream = UnixStream::connect(&self.socket).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                ClientError::Permission {
                    host: self.host.clone(),
                }
            } else {
                ClientError::Connect {
                    host: self.host.clone(),
                }
            }
        })?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ClientError::Protocol(format!("handshake with the daemon: {e}")))?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        Ok(sender)
    }

    fn build(&self, method: Method, path: &str, body: ReqBody, json: bool) -> Request<ReqBody> {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("/v{}{path}", self.version()))
            .header(hyper::header::HOST, "berth")
            .header(
                hyper::header::USER_AGENT,
                concat!("berth-cli/", env!("CARGO_PKG_VERSION")),
            );
        if json {
            b = b.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        b.body(body).expect("a valid request")
    }

    /// Send a request; a 4xx/5xx answer becomes `ClientError::Api` with the daemon's message.
    pub async fn send(&self, req: Request<ReqBody>) -> Result<Response<Incoming>> {
        let mut sender = self.connect().await?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| ClientError::Protocol(format!("request to the daemon failed: {e}")))?;
        if resp.status().is_client_error() || resp.status().is_server_error() {
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let message = serde_json::from_slice::<ErrorResponse>(&body)
                .map(|e| e.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).trim().to_string());
            return Err(ClientError::Api { status, message });
        }
        Ok(resp)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Response<Incoming>> {
        let json = body.is_some();
        let body = body.map(bytes_body).unwrap_or_else(empty_body);
        self.send(self.build(method, path, body, json)).await
    }

    pub async fn request_stream(
        &self,
        method: Method,
        path: &str,
        body: ReqBody,
    ) -> Result<Response<Incoming>> {
        let mut req = self.build(method, path, body, false);
        req.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/x-tar"),
        );
        self.send(req).await
    }

    /// A request with a body of `content_type` (if any) and extra headers, such as
    /// `X-Registry-Auth` on pull and push.
    pub async fn request_with(
        &self,
        method: Method,
        path: &str,
        body: ReqBody,
        content_type: Option<&'static str>,
        headers: &[(&'static str, String)],
    ) -> Result<Response<Incoming>> {
        let mut req = self.build(method, path, body, false);
        if let Some(ct) = content_type {
            req.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(ct),
            );
        }
        for (k, v) in headers {
            if let Ok(v) = hyper::header::HeaderValue::from_str(v) {
                req.headers_mut().insert(*k, v);
            }
        }
        self.send(req).await
    }

    pub async fn read_body(resp: Response<Incoming>) -> Result<Bytes> {
        resp.into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .map_err(|e| ClientError::Protocol(format!("reading the daemon's answer: {e}")))
    }

    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let resp = self.request(Method::GET, path, None).await?;
        let body = Self::read_body(resp).await?;
        serde_json::from_slice(&body).map_err(|e| {
            ClientError::Protocol(format!("decoding the daemon's answer to {path}: {e}"))
        })
    }

    pub async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T> {
        let data = serde_json::to_vec(body).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let resp = self.request(Method::POST, path, Some(data)).await?;
        let body = Self::read_body(resp).await?;
        serde_json::from_slice(&body).map_err(|e| {
            ClientError::Protocol(format!("decoding the daemon's answer to {path}: {e}"))
        })
    }

    /// A POST with no body whose answer carries nothing (204, or 304 for "already so").
    pub async fn post_empty(&self, path: &str) -> Result<StatusCode> {
        let resp = self.request(Method::POST, path, None).await?;
        let status = resp.status();
        let _ = Self::read_body(resp).await;
        Ok(status)
    }

    pub async fn delete(&self, path: &str) -> Result<()> {
        let resp = self.request(Method::DELETE, path, None).await?;
        let _ = Self::read_body(resp).await;
        Ok(())
    }

    fn version(&self) -> &str {
        self.version.get().map_or(API_VERSION, String::as_str)
    }

    /// The API version requests are made with (after `negotiate`, maybe a daemon's lower
    /// one): what the docker CLI's version-dependent choices (CheckDuplicate on network
    /// create, where MacAddress goes) are made by.
    pub fn api_version(&self) -> &str {
        self.version()
    }

    /// Speak the lower of berth's API version and the one the daemon's `/_ping` names, as the
    /// docker CLI does before every command; so a command that needs it (build, which is
    /// tested against a real Docker 20.10 engine) works with older engines too.
    pub async fn negotiate(&self) -> Result<()> {
        let req = Request::builder()
            .method(Method::HEAD)
            .uri("/_ping")
            .header(hyper::header::HOST, "berth")
            .body(empty_body())
            .expect("a valid request");
        let resp = self.send(req).await?;
        let theirs = resp
            .headers()
            .get("Api-Version")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let number = |v: &str| -> Option<(u32, u32)> {
            let (a, b) = v.split_once('.')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        };
        if let Some(t) = theirs {
            if let (Some(tn), Some(on)) = (number(&t), number(API_VERSION)) {
                if tn < on {
                    let _ = self.version.set(t);
                }
            }
        }
        Ok(())
    }

    pub async fn ping(&self) -> Result<()> {
        let req = Request::builder()
            .method(Method::HEAD)
            .uri("/_ping")
            .header(hyper::header::HOST, "berth")
            .body(empty_body())
            .expect("a valid request");
        self.send(req).await.map(|_| ())
    }

    /// `POST /containers/{id}/attach` with `Upgrade: tcp`: the hijacked connection.
    pub async fn attach(
        &self,
        id: &str,
        stdin: bool,
        detach_keys: Option<&str>,
    ) -> Result<TokioIo<hyper::upgrade::Upgraded>> {
        let mut path = format!(
            "/v{}/containers/{id}/attach?stream=1&stdout=1&stderr=1{}",
            self.version(),
            if stdin { "&stdin=1" } else { "" }
        );
        if let Some(k) = detach_keys {
            path.push_str("&detachKeys=");
            path.extend(url::form_urlencoded::byte_serialize(k.as_bytes()));
        }
        self.hijack(&path, "text/plain", empty_body()).await
    }

    /// `POST /exec/{id}/start` with `Upgrade: tcp`.
    pub async fn exec_attach(
        &self,
        id: &str,
        body: &[u8],
    ) -> Result<TokioIo<hyper::upgrade::Upgraded>> {
        let path = format!("/v{}/exec/{id}/start", self.version());
        self.hijack(&path, "application/json", bytes_body(body.to_vec()))
            .await
    }

    /// A POST answered with `101 UPGRADED`, after which the connection is a raw stream.
    async fn hijack(
        &self,
        path: &str,
        content_type: &str,
        body: ReqBody,
    ) -> Result<TokioIo<hyper::upgrade::Upgraded>> {
        let mut sender = self.connect().await?;
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(hyper::header::HOST, "berth")
            .header(hyper::header::CONNECTION, "Upgrade")
            .header(hyper::header::UPGRADE, "tcp")
            .header(hyper::header::CONTENT_TYPE, content_type)
            .body(body)
            .expect("a valid request");
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| ClientError::Protocol(format!("attach failed: {e}")))?;
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            let status = resp.status().as_u16();
            let body = Self::read_body(resp).await.unwrap_or_default();
            let message = serde_json::from_slice::<ErrorResponse>(&body)
                .map(|e| e.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
            return Err(ClientError::Api { status, message });
        }
        let upgraded = hyper::upgrade::on(resp)
            .await
            .map_err(|e| ClientError::Protocol(format!("attach upgrade failed: {e}")))?;
        Ok(TokioIo::new(upgraded))
    }
}
