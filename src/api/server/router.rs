//! The routing table: every endpoint berth serves is one line here, a method, a path pattern
//! and the handler in its noun's file, in the order they are tried. A pattern's `{id}` takes
//! one path segment; `{name*}` takes one or more, for image names with slashes in them
//! (`/images/{name*}/json` matches `/images/lib/bb:v1/json`).

use super::{
    archive, attach, build, containers, distribution, exec, images, logs, networks, system, volumes,
};
use super::{error_response, ApiError, Body, Call, Reply};
use crate::daemon::Daemon;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};

type Handler = Box<dyn Fn(Call) -> Pin<Box<dyn Future<Output = Reply> + Send>> + Send + Sync>;

struct Route {
    method: Method,
    pattern: &'static str,
    segments: Vec<Segment>,
    handler: Handler,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(&'static str),
    /// `{id}`: exactly one segment.
    Param(&'static str),
    /// `{name*}`: one or more segments, joined again with `/`.
    Rest(&'static str),
}

fn route<F, Fut>(method: Method, pattern: &'static str, handler: F) -> Route
where
    F: Fn(Call) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    Route {
        method,
        pattern,
        segments: parse(pattern),
        handler: Box::new(move |call| Box::pin(handler(call))),
    }
}

static ROUTES: LazyLock<Vec<Route>> = LazyLock::new(table);

fn table() -> Vec<Route> {
    use Method as M;
    vec![
        route(M::GET, "/_ping", system::ping),
        route(M::HEAD, "/_ping", system::ping),
        route(M::GET, "/version", system::version),
        route(M::GET, "/info", system::info),
        route(M::GET, "/events", system::events),
        route(M::POST, "/swarm/leave", system::swarm_leave),
        route(M::POST, "/containers/create", containers::create),
        route(M::GET, "/containers/json", containers::list),
        route(M::POST, "/containers/prune", containers::prune),
        route(M::GET, "/containers/{id}/json", containers::inspect),
        route(M::POST, "/containers/{id}/start", containers::start),
        route(M::POST, "/containers/{id}/kill", containers::kill),
        route(M::POST, "/containers/{id}/wait", containers::wait),
        route(M::POST, "/containers/{id}/stop", containers::stop),
        route(M::POST, "/containers/{id}/restart", containers::restart),
        route(M::POST, "/containers/{id}/rename", containers::rename),
        route(M::POST, "/containers/{id}/resize", containers::resize),
        route(M::POST, "/containers/{id}/pause", containers::pause),
        route(M::POST, "/containers/{id}/unpause", containers::unpause),
        route(M::GET, "/containers/{id}/top", containers::top),
        route(M::POST, "/containers/{id}/update", containers::update),
        route(M::GET, "/containers/{id}/stats", containers::stats),
        route(M::GET, "/containers/{id}/changes", containers::changes),
        route(M::GET, "/containers/{id}/export", containers::export),
        route(M::DELETE, "/containers/{id*}", containers::remove),
        route(M::POST, "/commit", containers::commit),
        route(M::POST, "/build", build::build),
        route(M::POST, "/containers/{id}/attach", attach::attach),
        route(M::GET, "/containers/{id}/logs", logs::logs),
        route(M::HEAD, "/containers/{id}/archive", archive::stat),
        route(M::GET, "/containers/{id}/archive", archive::get),
        route(M::PUT, "/containers/{id}/archive", archive::put),
        route(M::POST, "/containers/{id}/exec", exec::create),
        route(M::POST, "/exec/{id}/start", exec::start),
        route(M::POST, "/exec/{id}/resize", exec::resize),
        route(M::GET, "/exec/{id}/json", exec::inspect),
        route(M::GET, "/volumes", volumes::list),
        route(M::POST, "/volumes/create", volumes::create),
        route(M::POST, "/volumes/prune", volumes::prune),
        route(M::GET, "/volumes/{name}", volumes::inspect),
        route(M::DELETE, "/volumes/{name}", volumes::remove),
        route(M::GET, "/system/df", system::df),
        route(M::GET, "/networks", networks::list),
        route(M::POST, "/networks/create", networks::create),
        route(M::POST, "/networks/prune", networks::prune),
        route(M::GET, "/networks/{id}", networks::inspect),
        route(M::DELETE, "/networks/{id}", networks::remove),
        route(M::POST, "/networks/{id}/connect", networks::connect),
        route(M::POST, "/networks/{id}/disconnect", networks::disconnect),
        route(M::GET, "/images/json", images::list),
        route(M::POST, "/images/load", images::load),
        route(M::GET, "/images/get", images::save),
        route(M::POST, "/images/prune", images::prune),
        route(M::GET, "/images/search", distribution::search),
        route(M::POST, "/images/create", distribution::create),
        route(M::POST, "/images/{name*}/push", distribution::push),
        route(M::POST, "/auth", distribution::auth),
        route(M::GET, "/images/{name*}/get", images::save_one),
        route(M::POST, "/images/{name*}/tag", images::tag),
        route(M::GET, "/images/{name*}/history", images::history),
        route(M::GET, "/images/{name*}/json", images::inspect),
        route(M::DELETE, "/images/{name*}", images::remove),
    ]
}

/// Answer a request: the first route whose method and pattern fit, or Docker's 404.
pub(super) async fn dispatch(req: Request<Incoming>, path: &str, d: Arc<Daemon>) -> Response<Body> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    for r in ROUTES.iter() {
        if r.method != req.method() {
            continue;
        }
        if let Some(params) = matches(&r.segments, &segments) {
            tracing::debug!("{} {} ({})", req.method(), req.uri(), r.pattern);
            return (r.handler)(Call { req, params, d })
                .await
                .unwrap_or_else(ApiError::into_response);
        }
    }
    tracing::debug!("{} {}: no route", req.method(), req.uri());
    error_response(StatusCode::NOT_FOUND, "page not found")
}

fn parse(pattern: &'static str) -> Vec<Segment> {
    pattern
        .trim_matches('/')
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => match name.strip_suffix('*') {
                    Some(name) => Segment::Rest(name),
                    None => Segment::Param(name),
                },
                None => Segment::Literal(s),
            },
        )
        .collect()
}

/// The parameters a path gives a pattern, when it fits.
fn matches(pattern: &[Segment], path: &[&str]) -> Option<Vec<(&'static str, String)>> {
    let rest_at = pattern.iter().position(|s| matches!(s, Segment::Rest(_)));
    let (head, tail, rest) = match rest_at {
        None if pattern.len() != path.len() => return None,
        None => (pattern, &[][..], None),
        Some(_) if path.len() < pattern.len() => return None,
        Some(i) => (&pattern[..i], &pattern[i + 1..], Some(&pattern[i])),
    };
    let mut params = Vec::new();
    let mut fit = |seg: &Segment, part: &str| match seg {
        Segment::Literal(l) => *l == part,
        Segment::Param(name) if !part.is_empty() => {
            params.push((*name, part.to_string()));
            true
        }
        _ => false,
    };
    let tail_start = path.len() - tail.len();
    let fits = head.iter().zip(path).all(|(s, p)| fit(s, p))
        && tail.iter().zip(&path[tail_start..]).all(|(s, p)| fit(s, p));
    if !fits {
        return None;
    }
    if let Some(Segment::Rest(name)) = rest {
        params.push((*name, path[head.len()..tail_start].join("/")));
    }
    Some(params)
}

/// The table as `METHOD pattern` lines, for its snapshot (which chapter 09 shows).
#[cfg(test)]
fn listing() -> String {
    ROUTES
        .iter()
        .map(|r| format!("{:<6} {}\n", r.method.as_str(), r.pattern))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn fit(pattern: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        matches(&parse(pattern), &segments)
    }

    #[rstest]
    #[case("/containers/json", "/containers/json", Some(vec![]))]
    #[case("/containers/{id}/json", "/containers/abc/json", Some(vec![("id", "abc")]))]
    #[case("/containers/{id}/json", "/containers/json", None)]
    #[case("/containers/{id}", "/containers/abc/json", None)]
    #[case("/containers/{id}/json", "/containers//json", None)]
    #[case("/images/{name*}/json", "/images/busybox/json", Some(vec![("name", "busybox")]))]
    #[case("/images/{name*}/json", "/images/lib/bb:v1/json", Some(vec![("name", "lib/bb:v1")]))]
    #[case("/images/{name*}/json", "/images/json", None)]
    #[case("/images/{name*}", "/images/localhost:5000/a/b", Some(vec![("name", "localhost:5000/a/b")]))]
    #[case("/images/{name*}/push", "/images/a/b/tag", None)]
    fn patterns_match_paths(
        #[case] pattern: &'static str,
        #[case] path: &str,
        #[case] want: Option<Vec<(&'static str, &str)>>,
    ) {
        let want = want.map(|v| v.into_iter().map(|(k, v)| (k, v.to_string())).collect());
        assert_eq!(fit(pattern, path), want);
    }

    /// Every route, in the order tried: a new endpoint shows here.
    #[test]
    fn the_routing_table() {
        insta::assert_snapshot!(listing());
    }

    #[test]
    fn no_route_hides_a_later_one() {
        // A later route whose own pattern an earlier route of the same method would take
        // first could never be reached.
        let routes = &*ROUTES;
        for (i, late) in routes.iter().enumerate() {
            let sample: Vec<String> = late
                .segments
                .iter()
                .map(|s| match s {
                    Segment::Literal(l) => l.to_string(),
                    Segment::Param(_) => "x".into(),
                    Segment::Rest(_) => "a/b".into(),
                })
                .collect();
            let sample = sample.join("/");
            let path: Vec<&str> = sample.split('/').collect();
            for early in &routes[..i] {
                assert!(
                    early.method != late.method || matches(&early.segments, &path).is_none(),
                    "{} {} hides {}",
                    early.method,
                    early.pattern,
                    late.pattern
                );
            }
        }
    }
}
