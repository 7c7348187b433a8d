//! Image commands: images, load.

use super::{report, table};
use crate::api::client::{Client, ClientError};
use crate::api::types::{ImageSummary, JsonMessage};
use crate::util::human::{human_duration, human_size};
use clap::Args;
use http_body_util::BodyExt;

#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long = "input")]
    pub input: Option<std::path::PathBuf>,
    /// Suppress the load output
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

fn short_id(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        crate::util::id::short(id).to_string()
    }
}

pub fn images_table(rows: &[ImageSummary], no_trunc: bool, now: i64) -> String {
    let mut cells = Vec::new();
    for img in rows {
        let created = format!(
            "{} ago",
            human_duration(std::time::Duration::from_secs(
                (now - img.created).max(0) as u64
            ))
        );
        let tags: Vec<(String, String)> = if img.repo_tags.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            img.repo_tags
                .iter()
                .map(|t| match t.rfind(':') {
                    Some(i) if !t[i..].contains('/') => {
                        (t[..i].to_string(), t[i + 1..].to_string())
                    }
                    _ => (t.clone(), "<none>".into()),
                })
                .collect()
        };
        for (repo, tag) in tags {
            cells.push(vec![
                repo,
                tag,
                short_id(&img.id, no_trunc),
                created.clone(),
                human_size(img.size),
            ]);
        }
    }
    table::render(
        &["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        &cells,
    )
}

pub async fn images(client: &Client, a: ImagesArgs) -> i32 {
    let rows: Vec<ImageSummary> = match client.get_json("/images/json").await {
        Ok(r) => r,
        Err(e) => return report(&e),
    };
    if a.quiet {
        for img in &rows {
            println!("{}", short_id(&img.id, a.no_trunc));
        }
        return 0;
    }
    print!(
        "{}",
        images_table(&rows, a.no_trunc, chrono::Utc::now().timestamp())
    );
    0
}

pub async fn load(client: &Client, a: LoadArgs) -> i32 {
    use futures::TryStreamExt;
    type ByteStream =
        std::pin::Pin<Box<dyn futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + Sync>>;
    let body = match &a.input {
        Some(path) => match tokio::fs::File::open(path).await {
            Ok(f) => Box::pin(tokio_util::io::ReaderStream::new(f)) as ByteStream,
            Err(e) => {
                eprintln!("open {}: {e}", path.display());
                return 1;
            }
        },
        None => {
            use std::io::IsTerminal;
            if std::io::stdin().is_terminal() {
                eprintln!("requested load from stdin, but stdin is empty");
                return 1;
            }
            Box::pin(tokio_util::io::ReaderStream::new(tokio::io::stdin())) as ByteStream
        }
    };
    let body = BodyExt::boxed(http_body_util::StreamBody::new(
        body.map_ok(hyper::body::Frame::data),
    ));
    let path = format!("/images/load?quiet={}", if a.quiet { 1 } else { 0 });
    let resp = match client
        .request_stream(hyper::Method::POST, &path, body)
        .await
    {
        Ok(r) => r,
        Err(e) => return report(&e),
    };
    let mut body = resp.into_body();
    let mut pending = Vec::new();
    let mut code = 0;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            eprintln!("berth: the daemon closed the load stream early");
            return 1;
        };
        if let Some(d) = frame.data_ref() {
            pending.extend_from_slice(d);
        }
        while let Some(nl) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            if let Ok(m) = serde_json::from_slice::<JsonMessage>(&line) {
                if let Some(err) = m.error {
                    code = report(&ClientError::Protocol(err));
                } else if let Some(s) = m.stream {
                    print!("{s}");
                }
            }
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_table_snapshot() {
        let img = ImageSummary {
            id: "sha256:26ef77768ffa48d1630993a7f0edf6e1533792f0c8513f350d29aa466b407104".into(),
            repo_tags: vec!["busybox:latest".into(), "localhost:5000/bb:v1".into()],
            created: 1000,
            size: 1_980_000,
            ..Default::default()
        };
        insta::assert_snapshot!(images_table(&[img], false, 1000 + 180));
    }
}
