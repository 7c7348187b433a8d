//! `POST /build`: Docker's classic builder protocol. The body is the context as a tar (plain
//! or compressed); the query says what to build; the answer is a JSON stream of
//! `{"stream": …}` lines, the image's id in `{"aux": {"ID": …}}`, and a failure as
//! `{"errorDetail": {"code", "message"}, "error"}`, after which the docker CLI exits with
//! that code.

use super::{body_reader, json_line, streaming, ApiError, Call, Reply};
use crate::build::builder::{BuildOptions, Message, RunOptions};
use crate::daemon::build::{unpack_context, BuildDir};
use bytes::Bytes;
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn json_query<T: serde::de::DeserializeOwned + Default>(
    raw: &str,
    name: &str,
) -> Result<T, ApiError> {
    if raw.is_empty() {
        return Ok(T::default());
    }
    serde_json::from_str(raw).map_err(|e| ApiError::BadRequest(format!("invalid {name}: {e}")))
}

fn number(q: &super::Query, name: &str) -> Result<i64, ApiError> {
    match q.get(name).filter(|v| !v.is_empty()) {
        None => Ok(0),
        Some(v) => v
            .parse()
            .map_err(|_| ApiError::BadRequest(format!("invalid {name}: {v:?} is not a number"))),
    }
}

/// The query as the builder takes it.
fn options(q: &super::Query) -> Result<(BuildOptions, String), ApiError> {
    if q.str("version") == "2" {
        return Err(ApiError::BadRequest(
            "BuildKit is not supported by berth: use the classic builder (DOCKER_BUILDKIT=0)"
                .into(),
        ));
    }
    if q.get("remote").is_some_and(|r| !r.is_empty()) {
        return Err(ApiError::BadRequest(format!(
            "remote build contexts are not supported by berth yet: {}",
            q.str("remote")
        )));
    }
    let platform = q.str("platform");
    if !platform.is_empty() {
        let want = format!("linux/{}", crate::image::archive::host_arch());
        if !platform.eq_ignore_ascii_case(&want) && !platform.eq_ignore_ascii_case("linux") {
            return Err(ApiError::BadRequest(format!(
                "berth builds only for this machine ({want}), not {platform}"
            )));
        }
    }
    let build_args: BTreeMap<String, Option<String>> = json_query(q.str("buildargs"), "buildargs")?;
    let labels: BTreeMap<String, String> = json_query(q.str("labels"), "labels")?;
    let cache_from: Vec<String> = json_query(q.str("cachefrom"), "cachefrom")?;
    let extra_hosts: Vec<String> = q
        .all("extrahosts")
        .iter()
        .flat_map(|h| h.split(',').map(str::to_string).collect::<Vec<_>>())
        .filter(|h| !h.is_empty())
        .collect();
    let truthy = |k: &str| q.flag(k);
    let opts = BuildOptions {
        tags: q.all("t").into_iter().filter(|t| !t.is_empty()).collect(),
        build_args,
        labels,
        no_cache: truthy("nocache"),
        // `rm` is on unless the client says otherwise.
        rm: q.get("rm").is_none_or(|v| v != "0" && v != "false"),
        force_rm: truthy("forcerm"),
        pull: truthy("pull"),
        target: q
            .get("target")
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        cache_from,
        run: RunOptions {
            network_mode: q.str("networkmode").to_string(),
            extra_hosts,
            shm_size: number(q, "shmsize")?,
            memory: number(q, "memory")?,
            memory_swap: number(q, "memswap")?,
            cpu_shares: number(q, "cpushares")?,
            cpu_period: number(q, "cpuperiod")?,
            cpu_quota: number(q, "cpuquota")?,
            cpuset_cpus: q.str("cpusetcpus").to_string(),
            cpuset_mems: q.str("cpusetmems").to_string(),
        },
    };
    for t in &opts.tags {
        crate::image::reference::Reference::parse(t)
            .map_err(|e| ApiError::BadRequest(format!("invalid reference format: {t}: {e}")))?;
    }
    // The first value, as Go's FormValue takes it: the Python SDK sends the Dockerfile's
    // name and then, for one from outside the context, its text under the same key.
    let dockerfile = q.all("dockerfile").into_iter().next().unwrap_or_default();
    Ok((opts, dockerfile))
}

fn error_line(message: &str, code: i64) -> Bytes {
    json_line(&json!({
        "errorDetail": {"code": code, "message": message},
        "error": message,
    }))
}

/// `POST /build`.
pub(super) async fn build(c: Call) -> Reply {
    let q = c.query();
    let Call { req, d, .. } = c;
    let (opts, dockerfile) = match options(&q) {
        Ok(o) => o,
        Err(e) => {
            super::discard_body(req.into_body());
            return Err(e);
        }
    };
    let quiet = q.flag("q");
    let dir = match BuildDir::new(&d.config.root.join("tmp")) {
        Ok(dir) => dir,
        Err(e) => {
            super::discard_body(req.into_body());
            return Err(ApiError::Status(
                hyper::StatusCode::INTERNAL_SERVER_ERROR,
                format!("creating the build's directory: {e}"),
            ));
        }
    };
    let reader = body_reader(req.into_body());
    let context = dir.context();
    let unpacked = tokio::task::spawn_blocking(move || unpack_context(reader, &context))
        .await
        .map_err(|e| ApiError::Status(hyper::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    if let Err(e) = unpacked {
        let _ = tx
            .send(error_line(&format!("reading the build context: {e}"), 1))
            .await;
        drop(tx);
        return streaming("application/json", rx);
    }
    let (out, mut messages) = tokio::sync::mpsc::unbounded_channel::<Message>();
    let tx2 = tx.clone();
    // The builder's messages become lines of the stream as they come.
    let forward = tokio::spawn(async move {
        while let Some(m) = messages.recv().await {
            let line = match m {
                Message::Stream(_) if quiet => continue,
                Message::Progress(_) if quiet => continue,
                Message::Stream(s) => json_line(&json!({ "stream": s })),
                // A quiet build says only the id, as a line of text (what `docker build -q`
                // prints and `--iidfile` keeps), after the aux message.
                Message::Aux(id) if quiet => {
                    let aux = json_line(&json!({"aux": {"ID": id}}));
                    if tx2.send(aux).await.is_err() {
                        break;
                    }
                    json_line(&json!({ "stream": format!("{id}\n") }))
                }
                Message::Aux(id) => json_line(&json!({"aux": {"ID": id}})),
                Message::Progress(v) => json_line::<Value>(&v),
            };
            if tx2.send(line).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let result = d.build(&dir, &dockerfile, &opts, &out).await;
        drop(out);
        let _ = forward.await;
        if let Err(e) = result {
            let _ = tx.send(error_line(&e.to_string(), e.code())).await;
        }
        drop(dir);
    });
    streaming("application/json", rx)
}
