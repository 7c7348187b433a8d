//! `inspect`: each name looked up as a container, then as an image, printed as one JSON array
//! with Go's four-space indent or through a `--format` template, so the output matches
//! `docker inspect` byte for byte. `image inspect` shares the indenting.

use crate::api::client::{Client, ClientError};
use crate::cli::report;
use clap::Args;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// Go's json.MarshalIndent with four spaces, as `docker inspect` prints.
pub fn indent_json(v: &serde_json::Value) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(v, &mut ser).expect("JSON values serialize");
    String::from_utf8(out).expect("JSON is UTF-8")
}

pub async fn inspect(client: &Client, a: InspectArgs) -> i32 {
    let mut found = Vec::new();
    let mut code = 0;
    for name in &a.names {
        let as_container: Result<serde_json::Value, _> =
            client.get_json(&format!("/containers/{name}/json")).await;
        match as_container {
            Ok(v) => found.push(v),
            Err(ClientError::Api { status: 404, .. }) => {
                match client
                    .get_json::<serde_json::Value>(&format!("/images/{name}/json"))
                    .await
                {
                    Ok(v) => found.push(v),
                    Err(ClientError::Api { status: 404, .. }) => {
                        code = 1;
                        eprintln!("Error: No such object: {name}");
                    }
                    Err(e) => code = report(&e),
                }
            }
            Err(e) => code = report(&e),
        }
    }
    match &a.format {
        None => println!("{}", indent_json(&serde_json::Value::Array(found))),
        Some(format) => {
            let format = format.replace("\\t", "\t").replace("\\n", "\n");
            let t = match crate::cli::template::Template::parse(&format) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("{e}");
                    return 125;
                }
            };
            for v in &found {
                match t.render(v) {
                    Ok(line) => println!("{line}"),
                    Err(e) => {
                        eprintln!("{e}");
                        code = 1;
                    }
                }
            }
        }
    }
    code
}
