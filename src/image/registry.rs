//! A client of the OCI Distribution API (registry v2), as `pull`, `push`, `login` and `search`
//! use it: the `/v2/` ping that learns how the registry wants to be authenticated (nothing,
//! HTTP Basic, or a Bearer token fetched from the realm it names), manifests, blobs, chunked
//! uploads and cross-repository mounts. The calls block: a blob's body is a `Read` that feeds
//! straight into the layer unpacker, so a layer is downloaded, hashed and unpacked in one pass.
//! HTTP itself is ureq's; what is written here is the protocol the course teaches.

use base64::Engine;
use std::io::Read;
use std::time::Duration;
use thiserror::Error;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Where Docker Hub's API lives; `docker.io` is only the name references use.
const HUB_ENDPOINT: &str = "registry-1.docker.io";
/// Upload chunk size: each PATCH carries this much of the compressed layer.
const CHUNK: usize = 8 << 20;

#[derive(Debug, Error)]
pub enum RegistryError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Protocol(String),
    #[error("{url}: {message}")]
    Transport { url: String, message: String },
}

type Result<T> = std::result::Result<T, RegistryError>;

/// Credentials for one registry, as the CLI sends them in `X-Registry-Auth`.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct AuthConfig {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default, rename = "serveraddress")]
    pub server_address: String,
    #[serde(default, rename = "identitytoken")]
    pub identity_token: String,
}

impl AuthConfig {
    /// Decode an `X-Registry-Auth` header: base64url (padded or not) JSON.
    pub fn from_header(value: &str) -> Option<AuthConfig> {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        let engines = [
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
            base64::engine::general_purpose::STANDARD,
        ];
        let raw = engines.iter().find_map(|e| e.decode(value).ok())?;
        let auth: AuthConfig = serde_json::from_slice(&raw).ok()?;
        (!auth.username.is_empty() || !auth.identity_token.is_empty()).then_some(auth)
    }

    fn basic(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

/// How a registry host is reached: `http` for the insecure ones, `https` otherwise.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub host: String,
    pub scheme: &'static str,
}

impl Endpoint {
    /// The endpoint for a reference's domain. Loopback registries and the configured insecure
    /// ones speak plain http, as Docker allows for 127.0.0.0/8 out of the box. `mirror` stands
    /// in for Docker Hub, whose own endpoint has another name than its references.
    pub fn for_domain(domain: &str, insecure: &[String], mirror: Option<&str>) -> Endpoint {
        let host = match (domain, mirror) {
            ("docker.io", Some(m)) => m.to_string(),
            ("docker.io", None) => HUB_ENDPOINT.to_string(),
            (d, _) => d.to_string(),
        };
        let bare = host
            .rsplit_once(':')
            .filter(|(_, p)| p.bytes().all(|c| c.is_ascii_digit()))
            .map(|(h, _)| h)
            .unwrap_or(&host)
            .trim_matches(|c| c == '[' || c == ']');
        let loopback = bare == "localhost"
            || bare
                .parse::<std::net::IpAddr>()
                .map(|ip| ip.is_loopback())
                .unwrap_or(false);
        let scheme = if loopback || insecure.iter().any(|h| h == &host || h == bare) {
            "http"
        } else {
            "https"
        };
        Endpoint { host, scheme }
    }

    pub fn base(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }
}

/// A session with one registry for one repository, authenticated for `actions`.
pub struct Registry {
    agent: ureq::Agent,
    endpoint: Endpoint,
    authorization: Option<String>,
}

/// A `WWW-Authenticate` challenge: its scheme and its parameters.
#[derive(Debug, PartialEq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    pub fn parse(header: &str) -> Option<Challenge> {
        let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        let mut params = Vec::new();
        let mut rest = rest.trim();
        while !rest.is_empty() {
            let (key, after) = rest.split_once('=')?;
            let after = after.trim_start();
            let (value, tail) = if let Some(q) = after.strip_prefix('"') {
                let end = q.find('"')?;
                (&q[..end], &q[end + 1..])
            } else {
                match after.find(',') {
                    Some(i) => (&after[..i], &after[i..]),
                    None => (after, ""),
                }
            };
            params.push((key.trim().to_ascii_lowercase(), value.to_string()));
            rest = tail.trim_start().trim_start_matches(',').trim_start();
        }
        Some(Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params,
        })
    }

    fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn transport(url: &str, e: ureq::Error) -> RegistryError {
    match e {
        ureq::Error::Status(code, resp) => {
            let body = resp.into_string().unwrap_or_default();
            let message = registry_message(&body).unwrap_or_else(|| format!("HTTP status {code}"));
            match code {
                401 | 403 => RegistryError::Unauthorized(message),
                404 => RegistryError::NotFound(message),
                _ => RegistryError::Transport {
                    url: url.to_string(),
                    message,
                },
            }
        }
        ureq::Error::Transport(t) => RegistryError::Transport {
            url: url.to_string(),
            message: t.to_string(),
        },
    }
}

/// The first error of a registry's JSON error body, as Docker prints it: `code: message`.
fn registry_message(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let e = v.get("errors")?.get(0)?;
    let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
    let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
    Some(format!(
        "{}: {msg}",
        code.to_ascii_lowercase().replace('_', " ")
    ))
}

impl Registry {
    /// Ping `/v2/` and authenticate as the registry asks. `repository` and `actions` make the
    /// token scope (`repository:library/busybox:pull,push`); login passes none.
    pub fn connect(
        endpoint: Endpoint,
        auth: Option<&AuthConfig>,
        repository: Option<&str>,
        actions: &str,
    ) -> Result<Registry> {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(15))
            .timeout_read(Duration::from_secs(60))
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .build();
        let mut reg = Registry {
            agent,
            endpoint,
            authorization: None,
        };
        let url = format!("{}/v2/", reg.endpoint.base());
        match reg.agent.get(&url).call() {
            Ok(_) => return Ok(reg),
            Err(ureq::Error::Status(401, resp)) => {
                let header = resp.header("www-authenticate").unwrap_or("").to_string();
                let challenge = Challenge::parse(&header).ok_or_else(|| {
                    RegistryError::Protocol(format!(
                        "{url} asks for credentials but names no scheme"
                    ))
                })?;
                reg.authorization = Some(reg.answer(&challenge, auth, repository, actions)?);
            }
            Err(e) => return Err(transport(&url, e)),
        }
        // The registry checks Basic credentials on every call; asking once more tells a wrong
        // password here, with the ping's words, rather than at the first blob.
        let mut req = reg.agent.get(&url);
        if let Some(a) = &reg.authorization {
            req = req.set("Authorization", a);
        }
        match req.call() {
            Ok(_) => Ok(reg),
            Err(ureq::Error::Status(401, _)) => Err(RegistryError::Unauthorized(
                "unauthorized: incorrect username or password".into(),
            )),
            Err(e) => Err(transport(&url, e)),
        }
    }

    fn answer(
        &self,
        challenge: &Challenge,
        auth: Option<&AuthConfig>,
        repository: Option<&str>,
        actions: &str,
    ) -> Result<String> {
        match challenge.scheme.as_str() {
            "basic" => match auth {
                Some(a) => Ok(a.basic()),
                None => Err(RegistryError::Unauthorized(
                    "no basic auth credentials".into(),
                )),
            },
            "bearer" => {
                let realm = challenge.param("realm").ok_or_else(|| {
                    RegistryError::Protocol("the Bearer challenge names no realm".into())
                })?;
                let mut url = url::Url::parse(realm).map_err(|e| {
                    RegistryError::Protocol(format!("the token realm {realm} is not a URL: {e}"))
                })?;
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = challenge.param("service") {
                        q.append_pair("service", s);
                    }
                    if let Some(r) = repository {
                        q.append_pair("scope", &format!("repository:{r}:{actions}"));
                    }
                }
                let mut req = self.agent.get(url.as_str());
                if let Some(a) = auth {
                    req = req.set("Authorization", &a.basic());
                }
                let resp = req.call().map_err(|e| transport(url.as_str(), e))?;
                let body: serde_json::Value = resp.into_json().map_err(|e| {
                    RegistryError::Protocol(format!("the token server's answer: {e}"))
                })?;
                let token = body
                    .get("token")
                    .or_else(|| body.get("access_token"))
                    .and_then(|t| t.as_str())
                    .ok_or_else(|| {
                        RegistryError::Protocol("the token server sent no token".into())
                    })?;
                Ok(format!("Bearer {token}"))
            }
            other => Err(RegistryError::Protocol(format!(
                "the registry asks for the {other} scheme, which berth does not speak"
            ))),
        }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn request(&self, method: &str, url: &str) -> ureq::Request {
        let req = self.agent.request(method, url);
        match &self.authorization {
            Some(a) => req.set("Authorization", a),
            None => req,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.endpoint.base())
    }

    /// A manifest or index by tag or digest: its bytes, media type and digest (the registry's
    /// `Docker-Content-Digest`, checked against the bytes; a digest reference is checked too).
    pub fn manifest(&self, repo: &str, reference: &str) -> Result<(Vec<u8>, String, String)> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let accept = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(", ");
        let resp = self
            .request("GET", &url)
            .set("Accept", &accept)
            .call()
            .map_err(|e| transport(&url, e))?;
        let media_type = resp
            .header("content-type")
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let mut raw = Vec::new();
        resp.into_reader()
            .take(8 << 20)
            .read_to_end(&mut raw)
            .map_err(|e| RegistryError::Transport {
                url: url.clone(),
                message: e.to_string(),
            })?;
        let digest = sha256_digest(&raw);
        if reference.starts_with("sha256:") && reference != digest {
            return Err(RegistryError::Protocol(format!(
                "the manifest {reference} the registry sent has the digest {digest}"
            )));
        }
        Ok((raw, media_type, digest))
    }

    /// A blob's body and its length when the registry says it.
    pub fn blob(&self, repo: &str, digest: &str) -> Result<(Box<dyn Read + Send>, Option<u64>)> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let resp = self
            .request("GET", &url)
            .call()
            .map_err(|e| transport(&url, e))?;
        let len = resp.header("content-length").and_then(|l| l.parse().ok());
        Ok((resp.into_reader(), len))
    }

    /// A small blob (a config), read whole and checked against its digest.
    pub fn blob_bytes(&self, repo: &str, digest: &str) -> Result<Vec<u8>> {
        let (body, _) = self.blob(repo, digest)?;
        let mut raw = Vec::new();
        body.take(64 << 20)
            .read_to_end(&mut raw)
            .map_err(|e| RegistryError::Transport {
                url: digest.to_string(),
                message: e.to_string(),
            })?;
        let actual = sha256_digest(&raw);
        if actual != digest {
            return Err(RegistryError::Protocol(format!(
                "the blob {digest} the registry sent has the digest {actual}"
            )));
        }
        Ok(raw)
    }

    pub fn blob_exists(&self, repo: &str, digest: &str) -> Result<bool> {
        Ok(self.blob_size(repo, digest)?.is_some())
    }

    /// `HEAD` a blob: its size when the repository holds it, None when it does not.
    pub fn blob_size(&self, repo: &str, digest: &str) -> Result<Option<u64>> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        match self.request("HEAD", &url).call() {
            Ok(resp) => Ok(Some(
                resp.header("content-length")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0),
            )),
            Err(ureq::Error::Status(404, _)) => Ok(None),
            Err(e) => Err(transport(&url, e)),
        }
    }

    /// Ask the registry to link a blob it holds for `from` into `repo`; false when it would
    /// rather have the bytes (it then opens an upload, which is cancelled).
    pub fn mount(&self, repo: &str, digest: &str, from: &str) -> Result<bool> {
        let url = self.url(&format!(
            "/v2/{repo}/blobs/uploads/?mount={digest}&from={from}"
        ));
        match self.request("POST", &url).call() {
            Ok(resp) if resp.status() == 201 => Ok(true),
            Ok(resp) => {
                if let Some(loc) = resp.header("location") {
                    let loc = self.absolute(loc);
                    let _ = self.request("DELETE", &loc).call();
                }
                Ok(false)
            }
            Err(ureq::Error::Status(404 | 401 | 403, _)) => Ok(false),
            Err(e) => Err(transport(&url, e)),
        }
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else {
            self.url(location)
        }
    }

    /// Upload a blob in chunks (`POST`, then a `PATCH` per chunk, then `PUT ?digest=`), hashing
    /// it as it goes, so the bytes are read once. Returns the digest and size.
    pub fn upload(
        &self,
        repo: &str,
        mut data: impl Read,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(String, u64)> {
        use sha2::Digest;
        let start = self.url(&format!("/v2/{repo}/blobs/uploads/"));
        let resp = self
            .request("POST", &start)
            .send_bytes(&[])
            .map_err(|e| transport(&start, e))?;
        let mut location = self.absolute(resp.header("location").ok_or_else(|| {
            RegistryError::Protocol("the registry opened an upload without a location".into())
        })?);
        let mut hasher = sha2::Sha256::new();
        let mut sent = 0u64;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = read_full(&mut data, &mut buf).map_err(|e| RegistryError::Transport {
                url: "the layer being uploaded".into(),
                message: e.to_string(),
            })?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            let range = format!("{}-{}", sent, sent + n as u64 - 1);
            let resp = self
                .request("PATCH", &location)
                .set("Content-Type", "application/octet-stream")
                .set("Content-Range", &range)
                .send_bytes(&buf[..n])
                .map_err(|e| transport(&location, e))?;
            location = self.absolute(resp.header("location").unwrap_or(&location));
            sent += n as u64;
            progress(sent);
            if n < buf.len() {
                break;
            }
        }
        let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
        let sep = if location.contains('?') { '&' } else { '?' };
        let done = format!("{location}{sep}digest={digest}");
        self.request("PUT", &done)
            .set("Content-Type", "application/octet-stream")
            .send_bytes(&[])
            .map_err(|e| transport(&done, e))?;
        Ok((digest, sent))
    }

    /// Upload a small blob whose digest is known (a config), unless the registry has it.
    pub fn upload_bytes(&self, repo: &str, raw: &[u8]) -> Result<String> {
        let digest = sha256_digest(raw);
        if !self.blob_exists(repo, &digest)? {
            let (got, _) = self.upload(repo, raw, &mut |_| {})?;
            debug_assert_eq!(got, digest);
        }
        Ok(digest)
    }

    pub fn put_manifest(&self, repo: &str, tag: &str, media_type: &str, raw: &[u8]) -> Result<()> {
        let url = self.url(&format!("/v2/{repo}/manifests/{tag}"));
        self.request("PUT", &url)
            .set("Content-Type", media_type)
            .send_bytes(raw)
            .map_err(|e| transport(&url, e))?;
        Ok(())
    }

    /// The tags of a repository (`/v2/<name>/tags/list`).
    pub fn tags(&self, repo: &str) -> Result<Vec<String>> {
        let url = self.url(&format!("/v2/{repo}/tags/list"));
        let resp = self
            .request("GET", &url)
            .call()
            .map_err(|e| transport(&url, e))?;
        let body: serde_json::Value = resp
            .into_json()
            .map_err(|e| RegistryError::Protocol(format!("the tag list of {repo}: {e}")))?;
        let mut tags: Vec<String> = body
            .get("tags")
            .and_then(|t| t.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        tags.sort();
        Ok(tags)
    }

    /// Every repository the registry lists in `/v2/_catalog`, following its pages.
    pub fn catalog(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut next = Some("/v2/_catalog?n=1000".to_string());
        while let Some(path) = next.take() {
            let url = self.absolute(&path);
            let resp = self
                .request("GET", &url)
                .call()
                .map_err(|e| transport(&url, e))?;
            next = resp
                .header("link")
                .and_then(|l| l.split_once('<'))
                .and_then(|(_, r)| r.split_once('>'))
                .map(|(p, _)| p.to_string());
            let body: serde_json::Value = resp
                .into_json()
                .map_err(|e| RegistryError::Protocol(format!("the catalog: {e}")))?;
            if let Some(list) = body.get("repositories").and_then(|r| r.as_array()) {
                out.extend(list.iter().filter_map(|r| r.as_str().map(String::from)));
            }
            if out.len() > 100_000 {
                break;
            }
        }
        Ok(out)
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

pub fn sha256_digest(raw: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(raw)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn bearer_challenge_params() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://auth.example/token"));
        assert_eq!(c.param("service"), Some("registry.example"));
        assert_eq!(c.param("scope"), Some("repository:a/b:pull"));
    }

    #[test]
    fn basic_challenge() {
        let c = Challenge::parse(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.param("realm"), Some("Registry Realm"));
    }

    #[rstest]
    #[case("127.0.0.1:5000", "http")]
    #[case("localhost:5000", "http")]
    #[case("[::1]:5000", "http")]
    #[case("registry.example:5000", "https")]
    #[case("myreg:5000", "http")]
    fn schemes(#[case] domain: &str, #[case] scheme: &str) {
        let insecure = vec!["myreg:5000".to_string()];
        assert_eq!(Endpoint::for_domain(domain, &insecure, None).scheme, scheme);
    }

    #[test]
    fn hub_goes_to_its_endpoint_or_the_mirror() {
        assert_eq!(
            Endpoint::for_domain("docker.io", &[], None).host,
            "registry-1.docker.io"
        );
        let m = Endpoint::for_domain("docker.io", &[], Some("127.0.0.1:5000"));
        assert_eq!((m.host.as_str(), m.scheme), ("127.0.0.1:5000", "http"));
    }

    #[test]
    fn registry_auth_header_round_trip() {
        let json = r#"{"username":"u","password":"p","serveraddress":"127.0.0.1:5000"}"#;
        let header = base64::engine::general_purpose::URL_SAFE.encode(json);
        let a = AuthConfig::from_header(&header).unwrap();
        assert_eq!((a.username.as_str(), a.password.as_str()), ("u", "p"));
        assert!(AuthConfig::from_header("").is_none());
        // The docker CLI sends `{}` (encoded) when it has no credentials.
        let empty = base64::engine::general_purpose::URL_SAFE.encode("{}");
        assert!(AuthConfig::from_header(&empty).is_none());
    }

    #[test]
    fn registry_errors_read_as_docker_prints_them() {
        let body =
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#;
        assert_eq!(
            registry_message(body).as_deref(),
            Some("manifest unknown: manifest unknown")
        );
    }
}
