//! What `network inspect` and `volume inspect` share, as docker/cli's inspector does for
//! them: the template checked before the daemon is asked anything, each object fetched in
//! turn (one the daemon does not have is an error reported after the others are printed),
//! and a `--format` template rendered over each object, a line each.

use crate::api::client::{Client, ClientError};
use hyper::Method;

/// The template over each value, one line each. A value the template fails on is an error
/// of its own; the others are still printed. An empty result is one empty line, as docker's.
pub fn render_each(
    format: &str,
    values: &[serde_json::Value],
) -> Result<(String, Vec<String>), String> {
    let format = format.replace("\\t", "\t").replace("\\n", "\n");
    let t = crate::cli::template::Template::parse(&format)?;
    let mut out = String::new();
    let mut errors = Vec::new();
    for v in values {
        match t.render(v) {
            Ok(line) => {
                out.push_str(&line);
                out.push('\n');
            }
            Err(e) => errors.push(format!("template parsing error: {e}")),
        }
    }
    if out.is_empty() {
        out.push('\n');
    }
    Ok((out, errors))
}

/// GET each path (or report why there is none) and print what `render` makes of the bodies;
/// exits 1 if anything was not found or not rendered, 64 for a template that does not parse.
pub async fn inspect_each(
    client: &Client,
    paths: Vec<Result<String, String>>,
    format: Option<&str>,
    render: impl Fn(&[bytes::Bytes], Option<&str>) -> Result<(String, Vec<String>), String>,
) -> i32 {
    if let Some(f) = format.filter(|f| !f.is_empty() && *f != "json") {
        // docker refuses a template it cannot parse before asking the daemon anything.
        if let Err(e) = crate::cli::template::Template::parse(f) {
            eprintln!("{e}");
            return 64;
        }
    }
    let mut raw = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    for path in paths {
        let path = match path {
            Ok(p) => p,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let got = match client.request(Method::GET, &path, None).await {
            Ok(resp) => Client::read_body(resp).await,
            Err(e) => Err(e),
        };
        match got {
            Ok(body) => raw.push(body),
            Err(e @ ClientError::Api { .. }) => errors.push(e.to_string()),
            Err(e) => {
                eprintln!("{e}");
                return 1;
            }
        }
    }
    match render(&raw, format) {
        Ok((out, render_errors)) => {
            print!("{out}");
            errors.extend(render_errors);
        }
        Err(e) => {
            eprintln!("{e}");
            return 64;
        }
    }
    if errors.is_empty() {
        return 0;
    }
    eprintln!("{}", errors.join("\n"));
    1
}
