//! `pull`, `push`, `login`, `logout`, `search`: the CLI's side of registries. Credentials are
//! the CLI's, not the daemon's: `login` has the daemon check them (`POST /auth`), then keeps
//! them in the CLI's config.json (`super::config`; mode 0600, Docker's `auths` format), and
//! every pull or push sends them along in `X-Registry-Auth`.

use super::{config, progress, report};
use crate::api::client::{empty_body, Client, ClientError};
use crate::image::reference::Reference;
use base64::Engine;
use clap::Args;
use serde_json::{json, Value};

/// The key under which a registry's credentials are kept.
fn server_key(server: &str) -> String {
    let s = server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    if s.is_empty() || s == "index.docker.io/v1" || s == "registry-1.docker.io" {
        "docker.io".into()
    } else {
        s.to_string()
    }
}

/// The `X-Registry-Auth` value for a registry, from the stored credentials.
pub fn auth_header(domain: &str) -> Option<String> {
    let cfg = config::load();
    let key = server_key(domain);
    let encoded = cfg.get("auths")?.get(&key)?.get("auth")?.as_str()?;
    let pair = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let pair = String::from_utf8(pair).ok()?;
    let (user, pass) = pair.split_once(':')?;
    let json = json!({"username": user, "password": pass, "serveraddress": key});
    Some(base64::engine::general_purpose::URL_SAFE.encode(json.to_string()))
}

/// The `X-Registry-Config` of a build: every stored credential, keyed by registry, so the
/// daemon can pull any FROM image (base64url of `{}` when there are none).
pub fn registry_config() -> String {
    let cfg = config::load();
    let mut all = serde_json::Map::new();
    if let Some(auths) = cfg.get("auths").and_then(|a| a.as_object()) {
        for (key, v) in auths {
            let pair = v
                .get("auth")
                .and_then(|a| a.as_str())
                .and_then(|a| base64::engine::general_purpose::STANDARD.decode(a).ok())
                .and_then(|p| String::from_utf8(p).ok());
            if let Some((user, pass)) = pair.as_deref().and_then(|p| p.split_once(':')) {
                all.insert(
                    key.clone(),
                    json!({"username": user, "password": pass, "serveraddress": key}),
                );
            }
        }
    }
    base64::engine::general_purpose::URL_SAFE.encode(Value::Object(all).to_string())
}

fn auth_headers(domain: &str) -> Vec<(&'static str, String)> {
    auth_header(domain)
        .map(|h| vec![("X-Registry-Auth", h)])
        .unwrap_or_default()
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// Download all tagged images in the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    pub image: String,
}

/// Pull `image`, showing progress on stdout (or stderr, as `run` does). The reference pulled.
pub async fn pull_image(
    client: &Client,
    image: &str,
    quiet: bool,
    to_stderr: bool,
) -> Result<Reference, ClientError> {
    pull_tags(client, image, false, quiet, to_stderr).await
}

/// Pull `image`, or with `all_tags` every tag of its repository (the request then names no
/// tag, which is how the API asks for all of them).
async fn pull_tags(
    client: &Client,
    image: &str,
    all_tags: bool,
    quiet: bool,
    to_stderr: bool,
) -> Result<Reference, ClientError> {
    let r = Reference::parse(image)
        .map_err(|e| ClientError::Protocol(format!("invalid reference format: {image}: {e}")))?;
    let from = format!("{}/{}", r.domain(), r.path());
    let tag = match (r.tag(), r.digest()) {
        (_, Some(d)) => Some(d.to_string()),
        (Some(t), None) => Some(t.to_string()),
        (None, None) if all_tags => None,
        (None, None) => Some("latest".to_string()),
    };
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("fromImage", &from);
    if let Some(t) = &tag {
        q.append_pair("tag", t);
    }
    let q = q.finish();
    let resp = client
        .request_with(
            hyper::Method::POST,
            &format!("/images/create?{q}"),
            empty_body(),
            None,
            &auth_headers(r.domain()),
        )
        .await?;
    progress::render(resp, quiet, to_stderr).await?;
    Ok(r)
}

/// The full name Docker prints last: `docker.io/library/busybox:latest`.
fn canonical(r: &Reference) -> String {
    let base = format!("{}/{}", r.domain(), r.path());
    match (r.tag(), r.digest()) {
        (_, Some(d)) => format!("{base}@{d}"),
        (Some(t), None) => format!("{base}:{t}"),
        (None, None) => format!("{base}:latest"),
    }
}

pub async fn pull(client: &Client, a: PullArgs) -> i32 {
    if let Some(p) = &a.platform {
        let host = format!("linux/{}", crate::image::archive::host_arch());
        if p != &host {
            eprintln!("berth: --platform {p}: berth pulls images for {host} only");
            return 1;
        }
    }
    let untagged = Reference::parse(&a.image)
        .map(|r| r.tag().is_none() && r.digest().is_none())
        .unwrap_or(false);
    if a.all_tags && !untagged {
        eprintln!("berth: tag can't be used with --all-tags/-a");
        return 1;
    }
    if untagged && !a.all_tags && !a.quiet {
        println!("Using default tag: latest");
    }
    match pull_tags(client, &a.image, a.all_tags, a.quiet, false).await {
        Ok(r) if a.all_tags => {
            println!("{}/{}", r.domain(), r.path());
            0
        }
        Ok(r) => {
            println!("{}", canonical(&r));
            0
        }
        Err(e) => report(&e),
    }
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    pub image: String,
}

pub async fn push(client: &Client, a: PushArgs) -> i32 {
    let r = match Reference::parse(&a.image) {
        Ok(r) if r.digest().is_none() => r,
        Ok(_) => {
            eprintln!("berth: cannot push a digest reference: {}", a.image);
            return 1;
        }
        Err(e) => {
            eprintln!("invalid reference format: {}: {e}", a.image);
            return 1;
        }
    };
    // With --all-tags the request names no tag, which is how the API asks for all of them.
    let tag = match (r.tag(), a.all_tags) {
        (Some(_), true) => {
            eprintln!("berth: tag can't be used with --all-tags/-a");
            return 1;
        }
        (Some(t), false) => t.to_string(),
        (None, true) => String::new(),
        (None, false) => {
            if !a.quiet {
                println!("Using default tag: latest");
            }
            "latest".into()
        }
    };
    let name = format!("{}/{}", r.domain(), r.path());
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("tag", &tag)
        .finish();
    let resp = match client
        .request_with(
            hyper::Method::POST,
            &format!("/images/{name}/push?{q}"),
            empty_body(),
            None,
            &auth_headers(r.domain()),
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return report(&e),
    };
    match progress::render(resp, a.quiet, false).await {
        Ok(_) => {
            if a.quiet {
                println!("{}", r.familiar());
            }
            0
        }
        Err(e) => report(&e),
    }
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Username
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// The registry (host:port); Docker Hub's mirror when absent
    pub server: Option<String>,
}

/// Read a line from the terminal, echoing it or not.
fn prompt(label: &str, echo: bool) -> std::io::Result<String> {
    use std::io::{BufRead, Write};
    eprint!("{label}");
    std::io::stderr().flush()?;
    let stdin = std::io::stdin();
    let saved = if echo {
        None
    } else {
        nix::sys::termios::tcgetattr(&stdin).ok()
    };
    if let Some(t) = &saved {
        let mut quiet = t.clone();
        quiet
            .local_flags
            .remove(nix::sys::termios::LocalFlags::ECHO);
        let _ = nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &quiet);
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(t) = &saved {
        let _ = nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, t);
        eprintln!();
    }
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub async fn login(client: &Client, a: LoginArgs) -> i32 {
    use std::io::{IsTerminal, Read};
    let server = server_key(a.server.as_deref().unwrap_or(""));
    if a.password.is_some() && a.password_stdin {
        eprintln!("berth: --password and --password-stdin are mutually exclusive");
        return 1;
    }
    let username = match a.username {
        Some(u) => u,
        None if std::io::stdin().is_terminal() => match prompt("Username: ", true) {
            Ok(u) => u,
            Err(e) => {
                eprintln!("berth: reading the username: {e}");
                return 1;
            }
        },
        None => {
            eprintln!("berth: login needs --username when stdin is not a terminal");
            return 1;
        }
    };
    let password = if a.password_stdin {
        let mut s = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut s) {
            eprintln!("berth: reading the password from stdin: {e}");
            return 1;
        }
        s.trim_end_matches(['\r', '\n']).to_string()
    } else if let Some(p) = a.password {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        p
    } else if std::io::stdin().is_terminal() {
        match prompt("Password: ", false) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("berth: reading the password: {e}");
                return 1;
            }
        }
    } else {
        eprintln!("berth: login needs --password-stdin when stdin is not a terminal");
        return 1;
    };
    if username.is_empty() || password.is_empty() {
        eprintln!("Error: Username and password are required");
        return 1;
    }
    let body = json!({"username": username, "password": password, "serveraddress": server});
    let answer: Value = match client.post_json("/auth", &body).await {
        Ok(v) => v,
        Err(e) => return report(&e),
    };
    let mut cfg = config::load();
    let pair = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    cfg["auths"][&server] = json!({ "auth": pair });
    if let Err(e) = config::save(&cfg) {
        eprintln!(
            "berth: storing the credentials in {}: {e}",
            config::path().display()
        );
        return 1;
    }
    println!(
        "{}",
        answer
            .get("Status")
            .and_then(|s| s.as_str())
            .unwrap_or("Login Succeeded")
    );
    0
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    pub server: Option<String>,
}

pub async fn logout(a: LogoutArgs) -> i32 {
    let server = server_key(a.server.as_deref().unwrap_or(""));
    let mut cfg = config::load();
    let removed = cfg
        .get_mut("auths")
        .and_then(|a| a.as_object_mut())
        .and_then(|a| a.remove(&server))
        .is_some();
    if !removed {
        println!("Not logged in to {server}");
        return 0;
    }
    println!("Removing login credentials for {server}");
    if let Err(e) = config::save(&cfg) {
        eprintln!("berth: {}: {e}", config::path().display());
        return 1;
    }
    0
}

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Max number of search results
    #[arg(long, default_value_t = 25)]
    pub limit: usize,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// The term, with the registry first: 127.0.0.1:5000/busy
    pub term: String,
}

pub async fn search(client: &Client, a: SearchArgs) -> i32 {
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("term", &a.term)
        .append_pair("limit", &a.limit.to_string())
        .finish();
    let domain = a
        .term
        .split_once('/')
        .map(|(h, _)| h)
        .filter(|h| h.contains('.') || h.contains(':') || *h == "localhost")
        .unwrap_or("docker.io");
    let resp = match client
        .request_with(
            hyper::Method::GET,
            &format!("/images/search?{q}"),
            empty_body(),
            None,
            &auth_headers(domain),
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return report(&e),
    };
    let body = match Client::read_body(resp).await {
        Ok(b) => b,
        Err(e) => return report(&e),
    };
    let results: Vec<Value> = serde_json::from_slice(&body).unwrap_or_default();
    let mut rows = Vec::new();
    for r in results {
        let s = |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        let mut desc = s("description");
        if !a.no_trunc && desc.chars().count() > 45 {
            desc = desc.chars().take(42).collect::<String>() + "...";
        }
        let official = if r.get("is_official").and_then(|v| v.as_bool()) == Some(true) {
            "[OK]"
        } else {
            ""
        };
        rows.push(vec![
            s("name"),
            desc,
            r.get("star_count")
                .and_then(|v| v.as_u64())
                .unwrap_or(0)
                .to_string(),
            official.into(),
        ]);
    }
    print!(
        "{}",
        super::table::render(&["NAME", "DESCRIPTION", "STARS", "OFFICIAL"], &rows)
    );
    0
}
