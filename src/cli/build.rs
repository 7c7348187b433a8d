//! `berth build`: the docker CLI's classic-builder client. The context is prepared (see
//! `build::context`), streamed as the body of `POST /build` from a thread of its own while
//! its size counts up, and the daemon's JSON stream is shown as the docker CLI shows it:
//! `stream` text as is, pull progress as `berth pull` draws it, the image id kept from `aux`,
//! and an `errorDetail` ending the command with its code.

use super::progress::{each_message, Screen};
use super::{report, upload};
use crate::api::client::{Client, ReqBody};
use crate::build::context::source::{prepare, Prepared};
use crate::util::chanio::ChannelWriter;
use crate::util::query::query_escape;
use bytes::Bytes;
use clap::Args;
use http_body_util::BodyExt;
use hyper::Method;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

#[derive(Args, Debug, Default)]
pub struct BuildArgs {
    /// Name and optionally a tag in the "name:tag" format
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (Default is "PATH/Dockerfile")
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// Set build-time variables
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Set metadata for an image
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Suppress the build output and print image ID on success
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Set the target build stage to build.
    #[arg(long)]
    pub target: Option<String>,
    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pub pull: bool,
    /// Set the networking mode for the RUN instructions during build
    #[arg(long = "network", default_value = "default")]
    pub network: String,
    /// Remove intermediate containers after a successful build
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    pub rm: bool,
    /// Always remove intermediate containers
    #[arg(long = "force-rm")]
    pub force_rm: bool,
    /// Write the image ID to the file
    #[arg(long)]
    pub iidfile: Option<String>,
    /// Images to consider as cache sources
    #[arg(long = "cache-from", value_delimiter = ',')]
    pub cache_from: Vec<String>,
    /// Add a custom host-to-IP mapping ("host:ip")
    #[arg(long = "add-host")]
    pub add_hosts: Vec<String>,
    /// Size of "/dev/shm"
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares", default_value_t = 0)]
    pub cpu_shares: i64,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Limit the CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period", default_value_t = 0)]
    pub cpu_period: i64,
    /// Limit the CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", default_value_t = 0, allow_hyphen_values = true)]
    pub cpu_quota: i64,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    /// Build context: a directory, or `-` for a tar or a Dockerfile on stdin
    #[arg(value_name = "PATH | URL | -")]
    pub context: String,
}

/// A flag's value that docker's own validators refuse, worded as they word it.
fn bad_flag(value: &str, flag: &str, why: impl std::fmt::Display) -> String {
    format!("invalid argument {value:?} for \"{flag}\" flag: {why}")
}

fn size(flag: &str, v: &Option<String>) -> Result<i64, String> {
    match v.as_deref() {
        None => Ok(0),
        Some("-1") if flag == "--memory-swap" => Ok(-1),
        Some(s) => crate::cgroups::parse_size(s).map_err(|e| bad_flag(s, flag, e)),
    }
}

/// opts.ValidateExtraHost: `host:ip` or `host=ip`, the address checked (or host-gateway);
/// sent as written.
fn extra_host(v: &str) -> Result<String, String> {
    crate::network::extra_hosts::parse(v).map_err(|e| bad_flag(v, "--add-host", e))?;
    Ok(v.to_string())
}

/// The query of `POST /build`, keys sorted and escaped as Go's url.Values encodes them;
/// `env` answers `--build-arg NAME` without a value.
pub fn query(
    a: &BuildArgs,
    dockerfile: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut q: Vec<(&str, String)> = Vec::new();
    for t in &a.tags {
        crate::image::reference::Reference::parse(t)
            .map_err(|_| bad_flag(t, "-t, --tag", "invalid reference format"))?;
        q.push(("t", t.clone()));
    }
    for h in &a.add_hosts {
        q.push(("extrahosts", extra_host(h)?));
    }
    let mut flag = |on: bool, k: &'static str, v: &str| {
        if on {
            q.push((k, v.to_string()));
        }
    };
    flag(a.quiet, "q", "1");
    flag(a.no_cache, "nocache", "1");
    // The daemon removes intermediate containers by default: only opting out is sent.
    flag(!a.rm, "rm", "0");
    flag(a.force_rm, "forcerm", "1");
    flag(a.pull, "pull", "1");
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    // As the Go client: empty strings and zero numbers are left out.
    let mut put = |k: &'static str, v: String| {
        if !v.is_empty() {
            q.push((k, v));
        }
    };
    let num = |n: i64| if n == 0 { String::new() } else { n.to_string() };
    put("cpusetcpus", text(&a.cpuset_cpus));
    if a.network != "default" {
        put("networkmode", a.network.clone());
    }
    put("cpusetmems", text(&a.cpuset_mems));
    put("cpushares", num(a.cpu_shares));
    put("cpuquota", num(a.cpu_quota));
    put("cpuperiod", num(a.cpu_period));
    put("memory", num(size("-m, --memory", &a.memory)?));
    put("memswap", num(size("--memory-swap", &a.memory_swap)?));
    put("shmsize", num(size("--shm-size", &a.shm_size)?));
    put("dockerfile", dockerfile.to_string());
    put("target", text(&a.target));
    // opts.ValidateEnv takes a bare NAME from the environment; one the environment lacks
    // goes as null, which the daemon reads as "declared, no value".
    let mut args: BTreeMap<String, Option<String>> = BTreeMap::new();
    for b in &a.build_args {
        let (k, v) = match b.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (b.as_str(), env(b)),
        };
        if k.is_empty() {
            return Err(bad_flag(
                b,
                "--build-arg",
                format!("invalid environment variable: {b}"),
            ));
        }
        args.insert(k.to_string(), v);
    }
    if !args.is_empty() {
        put("buildargs", serde_json::to_string(&args).expect("json"));
    }
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    for l in &a.labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        let key = k.trim();
        if key.is_empty() {
            return Err(bad_flag(
                l,
                "--label",
                format!("invalid label '{l}': empty name"),
            ));
        }
        if key.chars().any(char::is_whitespace) {
            return Err(bad_flag(
                l,
                "--label",
                format!("label '{key}' contains whitespaces"),
            ));
        }
        labels.insert(k.to_string(), v.to_string());
    }
    if !labels.is_empty() {
        put("labels", serde_json::to_string(&labels).expect("json"));
    }
    if !a.cache_from.is_empty() {
        put(
            "cachefrom",
            serde_json::to_string(&a.cache_from).expect("json"),
        );
    }
    put("platform", text(&a.platform).to_lowercase());
    q.push(("version", "1".into()));
    // url.Values.Encode: sorted by key, the values of one key in their order.
    q.sort_by(|x, y| x.0.cmp(y.0));
    Ok(q.iter()
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect::<Vec<_>>()
        .join("&"))
}

/// The "Sending build context" line: redrawn on a terminal as the bytes go, written once
/// at the end otherwise; kept aside with `-q`, for stderr should the build fail.
struct Upload {
    sent: u64,
    live: bool,
    aside: Option<Arc<Mutex<String>>>,
}

impl Upload {
    fn line(&self) -> String {
        let size = crate::util::human::human_size_with_precision(self.sent as i64, 4);
        format!("Sending build context to daemon {size:>8}\r")
    }

    fn add(&mut self, n: usize) {
        self.sent += n as u64;
        if self.live && self.aside.is_none() {
            print!("{}", self.line());
            let _ = std::io::stdout().flush();
        }
    }

    /// As docker's last progress update: the line, then a `\r\n` of its own.
    fn finish(&mut self) {
        let text = format!("{}\r\n", self.line());
        match &self.aside {
            Some(buf) => buf
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push_str(&text),
            None => {
                print!("{text}");
                let _ = std::io::stdout().flush();
            }
        }
    }
}

/// The context as a streamed request body, written on a thread of its own. A failure there
/// ends the body with the error, so the daemon sees a cut-short upload and builds nothing;
/// its message is left in `failed` for the CLI to print.
fn context_body(
    prepared: Prepared,
    stdin: Option<std::fs::File>,
    mut upload: Upload,
    failed: Arc<Mutex<Option<String>>>,
) -> ReqBody {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let error: Arc<Mutex<Option<std::io::Error>>> = Arc::default();
    let error_in = error.clone();
    std::thread::spawn(move || {
        let mut w = ChannelWriter::new(tx);
        let written = match stdin {
            Some(s) => prepared.write(s, &mut w),
            None => prepared.write(std::io::empty(), &mut w),
        };
        if let Err(e) = written.and_then(|_| w.flush()) {
            *error_in.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        }
        drop(w);
    });
    let mut done = false;
    let chunks = futures::stream::poll_fn(move |cx| {
        if done {
            return std::task::Poll::Ready(None);
        }
        match rx.poll_recv(cx) {
            std::task::Poll::Ready(Some(b)) => {
                upload.add(b.len());
                std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(b))))
            }
            std::task::Poll::Ready(None) => {
                done = true;
                let e = error.lock().unwrap_or_else(|p| p.into_inner()).take();
                match e {
                    Some(e) => {
                        *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                        std::task::Poll::Ready(Some(Err(e)))
                    }
                    None => {
                        upload.finish();
                        std::task::Poll::Ready(None)
                    }
                }
            }
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    });
    BodyExt::boxed(http_body_util::StreamBody::new(chunks))
}

/// What the daemon's stream said.
#[derive(Default)]
struct Rendered {
    /// From `aux`.
    id: String,
    /// With `-q`, the stream's text (the daemon sends the image id as text then).
    text: String,
    failure: Option<(String, i64)>,
}

async fn render(
    resp: hyper::Response<hyper::body::Incoming>,
    quiet: bool,
) -> Result<Rendered, crate::api::client::ClientError> {
    let mut out = Rendered::default();
    let mut screen: Option<Screen> = None;
    let mut partial = String::new();
    each_message(resp, |m: Value| {
        if out.failure.is_some() {
            return;
        }
        if let Some(aux) = m.get("aux") {
            if let Some(id) = aux.get("ID").and_then(Value::as_str) {
                out.id = id.to_string();
            }
            return;
        }
        let detail = m.get("errorDetail");
        let message = detail
            .and_then(|d| d.get("message"))
            .or_else(|| m.get("error"))
            .and_then(Value::as_str);
        if let Some(msg) = message {
            let code = detail
                .and_then(|d| d.get("code"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            out.failure = Some((msg.to_string(), code));
            return;
        }
        if let Some(text) = m.get("stream").and_then(Value::as_str) {
            if quiet {
                out.text.push_str(text);
            } else if let Some(s) = screen.as_mut().filter(|s| s.draws_bars()) {
                // Bars redraw below whole lines only; the daemon sends "Step 1/3 : …" and
                // its newline apart.
                partial.push_str(text);
                while let Some(nl) = partial.find('\n') {
                    let line: String = partial.drain(..=nl).collect();
                    s.text(&line, false);
                }
            } else {
                print!("{text}");
                let _ = std::io::stdout().flush();
            }
            return;
        }
        if m.get("status").is_some() {
            screen
                .get_or_insert_with(|| Screen::new(quiet, false))
                .show(&m, false);
        }
    })
    .await?;
    if let Some(s) = screen {
        if !partial.is_empty() {
            print!("{partial}");
        }
        s.finish();
    }
    let _ = std::io::stdout().flush();
    Ok(out)
}

pub async fn build(client: &Client, a: BuildArgs) -> i32 {
    let uses_stdin = a.context == "-" || a.file.as_deref() == Some("-");
    // Flags first, as docker parses them before it looks at the context.
    if let Err(msg) = query(&a, "", |k| std::env::var(k).ok()) {
        eprintln!("{msg}\nSee 'berth build --help'.");
        return 125;
    }
    if let Some(f) = &a.iidfile {
        // No stale id should survive a failed build.
        if let Err(e) = std::fs::remove_file(f) {
            if e.kind() != std::io::ErrorKind::NotFound {
                eprintln!("Removing image ID file: {e}");
                return 1;
            }
        }
    }
    let stdin = if uses_stdin {
        match upload::stdin_file() {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("berth build: reading stdin: {e}");
                return 1;
            }
        }
    } else {
        None
    };
    let (context, file) = (a.context.clone(), a.file.clone());
    let prepared = tokio::task::spawn_blocking(move || {
        let mut stdin = stdin;
        let r = match stdin.as_mut() {
            Some(s) => prepare(&context, file.as_deref(), s),
            None => prepare(&context, file.as_deref(), &mut std::io::empty()),
        };
        r.map(|p| (p, stdin))
    })
    .await;
    let (prepared, stdin) = match prepared {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            eprintln!("{e}");
            return 1;
        }
        Err(e) => {
            eprintln!("berth build: {e}");
            return 1;
        }
    };
    let path = match query(&a, &prepared.dockerfile, |k| std::env::var(k).ok()) {
        Ok(q) => format!("/build?{q}"),
        Err(msg) => {
            eprintln!("{msg}");
            return 125;
        }
    };
    if let Err(e) = client.negotiate().await {
        return report(&e);
    }
    let aside = a.quiet.then(|| Arc::new(Mutex::new(String::new())));
    let upload = Upload {
        sent: 0,
        live: std::io::stdout().is_terminal(),
        aside: aside.clone(),
    };
    let failed = Arc::new(Mutex::new(None));
    let body = context_body(prepared, stdin, upload, failed.clone());
    let headers = [("X-Registry-Config", super::registry::registry_config())];
    let aside_text = || {
        aside
            .as_ref()
            .map(|b| b.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .unwrap_or_default()
    };
    let resp = client
        .request_with(
            Method::POST,
            &path,
            body,
            Some("application/x-tar"),
            &headers,
        )
        .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            eprint!("{}", aside_text());
            if let Some(msg) = failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
                eprintln!("berth build: sending the build context: {msg}");
                return 1;
            }
            return report(&e);
        }
    };
    let out = match render(resp, a.quiet).await {
        Ok(o) => o,
        Err(e) => return report(&e),
    };
    if let Some((msg, code)) = out.failure {
        if a.quiet {
            eprint!("{}{}", aside_text(), out.text);
        }
        eprintln!("{msg}");
        return if code == 0 { 1 } else { code as i32 };
    }
    // docker prints, and writes to --iidfile, the text a quiet build's stream carried (the
    // id and its newline); a daemon that sent the id in `aux` only is read the same way.
    let id = if a.quiet {
        let text = if out.text.is_empty() && !out.id.is_empty() {
            format!("{}\n", out.id)
        } else {
            out.text
        };
        print!("{text}");
        let _ = std::io::stdout().flush();
        text
    } else {
        out.id
    };
    if let Some(f) = &a.iidfile {
        if id.is_empty() {
            eprintln!("Server did not provide an image ID. Cannot write {f}");
            return 1;
        }
        if let Err(e) = std::fs::write(f, &id) {
            eprintln!("berth build: {f}: {e}");
            return 1;
        }
    }
    0
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
