//! Image commands: images, image inspect, tag, rmi, image prune, history, load.

use super::{report, table};
use crate::api::client::{Client, ClientError};
use crate::util::human::{human_duration, human_size};
use crate::wire::types::ImageSummary;
use clap::Args;

#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images; berth makes none)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided (dangling=, reference=, label=)
    #[arg(short = 'f', long = "filter")]
    pub filters: Vec<String>,
    /// Format output using a custom template ('table', 'table TEMPLATE', or a Go template)
    #[arg(long)]
    pub format: Option<String>,
    /// Only images of this repository (and tag)
    pub repository: Option<String>,
}

#[derive(clap::Subcommand, Debug)]
pub enum ImageCommand {
    /// List images
    #[command(alias = "list")]
    Ls(ImagesArgs),
    /// Display detailed information on one or more images
    Inspect(super::container::InspectArgs),
    /// Remove one or more images
    #[command(alias = "remove")]
    Rm(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Remove unused images
    Prune(ImagePruneArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Download an image from a registry
    Pull(super::registry::PullArgs),
    /// Upload an image to a registry
    Push(super::registry::PushArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change")]
    pub changes: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    /// A tar file of a root filesystem, or - for STDIN (plain, gzip or zstd)
    pub file: String,
    /// The repository (and tag) to give the image
    pub reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    pub output: Option<std::path::PathBuf>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TagArgs {
    pub source: String,
    pub target: String,
}

#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Do not delete untagged parents (berth keeps no parents apart from layers)
    #[arg(long)]
    pub no_prune: bool,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub human: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    pub image: String,
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
    let cells: Vec<Vec<String>> = image_rows(rows, no_trunc, now)
        .iter()
        .map(|r| {
            ["Repository", "Tag", "ID", "CreatedSince", "Size"]
                .iter()
                .map(|k| r[k].as_str().unwrap_or("").to_string())
                .collect()
        })
        .collect();
    table::render(
        &["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        &cells,
    )
}

/// The fields `images --format` offers, one row per tag, as docker names them.
fn image_rows(rows: &[ImageSummary], no_trunc: bool, now: i64) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
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
        // A row's digest is the one recorded for its repository; a repository known only by
        // digest (pulled by digest, or its tags gone) gets a row of its own, as in docker.
        let digests: Vec<(String, String)> = img
            .repo_digests
            .iter()
            .filter_map(|d| d.split_once('@'))
            .map(|(r, d)| (r.to_string(), d.to_string()))
            .collect();
        let mut tags = tags;
        for (repo, _) in &digests {
            if !tags.iter().any(|(r, _)| r == repo) {
                tags.push((repo.clone(), "<none>".into()));
            }
        }
        if tags.len() > 1 {
            tags.retain(|(r, _)| r != "<none>");
        }
        for (repo, tag) in tags {
            let digest = digests
                .iter()
                .find(|(r, _)| *r == repo)
                .or(if repo == "<none>" {
                    digests.first()
                } else {
                    None
                })
                .map(|(_, d)| d.clone())
                .unwrap_or_else(|| "<none>".into());
            out.push(serde_json::json!({
                "Repository": repo,
                "Tag": tag,
                "ID": short_id(&img.id, no_trunc),
                "Digest": digest,
                "CreatedSince": created,
                "CreatedAt": chrono::DateTime::from_timestamp(img.created, 0).map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()).unwrap_or_default(),
                "Size": human_size(img.size),
                "Containers": "N/A",
            }));
        }
    }
    out
}

pub async fn images(client: &Client, a: ImagesArgs) -> i32 {
    let mut filters = a.filters.clone();
    if let Some(r) = &a.repository {
        filters.push(format!("reference={r}"));
    }
    let mut path = "/images/json".to_string();
    if !filters.is_empty() {
        match super::container::filters_json(&filters) {
            Ok(f) => path.push_str(&format!(
                "?filters={}",
                url::form_urlencoded::byte_serialize(f.as_bytes()).collect::<String>()
            )),
            Err(e) => {
                eprintln!("berth: {e}");
                return 1;
            }
        }
    }
    let rows: Vec<ImageSummary> = match client.get_json(&path).await {
        Ok(r) => r,
        Err(e) => return report(&e),
    };
    if a.quiet {
        let mut seen = std::collections::HashSet::new();
        for img in &rows {
            if seen.insert(&img.id) {
                println!("{}", short_id(&img.id, a.no_trunc));
            }
        }
        return 0;
    }
    let now = chrono::Utc::now().timestamp();
    // The config file's imagesFormat stands in for a missing --format.
    let format = match (
        &super::config::images_format(a.format.as_deref()),
        a.digests,
    ) {
        (Some(f), _) if f != "table" => f.clone(),
        (_, true) => {
            "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
                .into()
        }
        _ => {
            print!("{}", images_table(&rows, a.no_trunc, now));
            return 0;
        }
    };
    let header = serde_json::json!({
        "Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "Digest": "DIGEST",
        "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
        "Containers": "CONTAINERS",
    });
    match super::template::format_rows(&format, &image_rows(&rows, a.no_trunc, now), &header) {
        Ok(out) => {
            print!("{out}");
            0
        }
        Err(e) => {
            eprintln!("berth: {e}");
            1
        }
    }
}

pub async fn save(client: &Client, a: SaveArgs) -> i32 {
    use std::io::IsTerminal;
    if a.output.is_none() && std::io::stdout().is_terminal() {
        eprintln!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
        return 1;
    }
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(a.images.iter().map(|i| ("names", i.as_str())))
        .finish();
    let resp = match client
        .request(hyper::Method::GET, &format!("/images/get?{q}"), None)
        .await
    {
        Ok(r) => r,
        Err(e) => return report(&e),
    };
    super::download::tar_to(resp, a.output.as_deref()).await
}

/// `image inspect`: images only (plain `inspect` tries containers first).
pub async fn inspect(client: &Client, a: super::container::InspectArgs) -> i32 {
    let mut found = Vec::new();
    let mut code = 0;
    for name in &a.names {
        match client
            .get_json::<serde_json::Value>(&format!("/images/{name}/json"))
            .await
        {
            Ok(v) => found.push(v),
            Err(ClientError::Api { status: 404, .. }) => {
                code = 1;
                eprintln!("Error: No such image: {name}");
            }
            Err(e) => code = report(&e),
        }
    }
    match &a.format {
        None => println!(
            "{}",
            super::container::indent_json(&serde_json::Value::Array(found))
        ),
        Some(f) => match super::template::format_rows(f, &found, &serde_json::Value::Null) {
            Ok(out) => print!("{out}"),
            Err(e) => {
                eprintln!("{e}");
                return 1;
            }
        },
    }
    code
}

pub async fn tag(client: &Client, a: TagArgs) -> i32 {
    let (repo, tag) = match crate::image::reference::Reference::parse(&a.target) {
        Ok(r) => (r.familiar_name(), r.tag().unwrap_or("latest").to_string()),
        Err(e) => {
            eprintln!(
                "Error parsing reference: \"{}\" is not a valid repository/tag: {e}",
                a.target
            );
            return 1;
        }
    };
    let q = format!(
        "repo={}&tag={}",
        url::form_urlencoded::byte_serialize(repo.as_bytes()).collect::<String>(),
        url::form_urlencoded::byte_serialize(tag.as_bytes()).collect::<String>()
    );
    match client
        .post_empty(&format!("/images/{}/tag?{q}", a.source))
        .await
    {
        Ok(_) => 0,
        Err(e) => report(&e),
    }
}

pub async fn rmi(client: &Client, a: RmiArgs) -> i32 {
    let mut code = 0;
    for name in &a.images {
        let path = format!(
            "/images/{name}?force={}&noprune={}",
            a.force as u8, a.no_prune as u8
        );
        let resp = client.request(hyper::Method::DELETE, &path, None).await;
        let body = match resp {
            Ok(r) => Client::read_body(r).await,
            Err(e) => Err(e),
        };
        match body.and_then(|b| {
            serde_json::from_slice::<Vec<serde_json::Value>>(&b)
                .map_err(|e| ClientError::Protocol(e.to_string()))
        }) {
            Ok(items) => {
                for i in items {
                    if let Some(u) = i["Untagged"].as_str() {
                        println!("Untagged: {u}");
                    }
                    if let Some(d) = i["Deleted"].as_str() {
                        println!("Deleted: {d}");
                    }
                }
            }
            Err(e) => code = report(&e),
        }
    }
    code
}

pub async fn prune(client: &Client, a: ImagePruneArgs) -> i32 {
    if !a.force {
        use std::io::Write;
        let what = if a.all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        print!("{what}\nAre you sure you want to continue? [y/N] ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return 0;
        }
    }
    let mut path = "/images/prune".to_string();
    if a.all {
        path.push_str(&format!(
            "?filters={}",
            url::form_urlencoded::byte_serialize(br#"{"dangling":["false"]}"#).collect::<String>()
        ));
    }
    let v: serde_json::Value = match client.post_json(&path, &serde_json::json!({})).await {
        Ok(v) => v,
        Err(e) => return report(&e),
    };
    let items = v["ImagesDeleted"].as_array().cloned().unwrap_or_default();
    if !items.is_empty() {
        println!("Deleted Images:");
        for i in items {
            if let Some(u) = i["Untagged"].as_str() {
                println!("untagged: {u}");
            }
            if let Some(d) = i["Deleted"].as_str() {
                println!("deleted: {d}");
            }
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        human_size(v["SpaceReclaimed"].as_i64().unwrap_or(0))
    );
    0
}

/// Docker's CREATED BY cell: `/bin/sh -c #(nop) ` dropped from the display only when
/// truncating is off; cut to 45 characters with an ellipsis otherwise.
fn created_by_cell(by: &str, no_trunc: bool) -> String {
    let by = by.replace('\t', " ");
    if no_trunc || by.chars().count() <= 45 {
        return by;
    }
    let cut: String = by.chars().take(44).collect();
    format!("{cut}…")
}

pub fn history_rows(
    rows: &[serde_json::Value],
    no_trunc: bool,
    human: bool,
    now: i64,
) -> Vec<serde_json::Value> {
    rows.iter()
        .map(|h| {
            let id = h["Id"].as_str().unwrap_or("");
            let created = h["Created"].as_i64().unwrap_or(0);
            let size = h["Size"].as_i64().unwrap_or(0);
            serde_json::json!({
                "ID": if id == "<missing>" { id.to_string() } else { short_id(id, no_trunc) },
                "CreatedSince": if human {
                    format!("{} ago", human_duration(std::time::Duration::from_secs((now - created).max(0) as u64)))
                } else {
                    chrono::DateTime::from_timestamp(created, 0).map(|t| t.to_rfc3339()).unwrap_or_default()
                },
                "CreatedAt": chrono::DateTime::from_timestamp(created, 0).map(|t| t.to_rfc3339()).unwrap_or_default(),
                "CreatedBy": created_by_cell(h["CreatedBy"].as_str().unwrap_or(""), no_trunc),
                "Size": if human { human_size(size) } else { size.to_string() },
                "Comment": h["Comment"].as_str().unwrap_or(""),
            })
        })
        .collect()
}

pub async fn history(client: &Client, a: HistoryArgs) -> i32 {
    let rows: Vec<serde_json::Value> = match client
        .get_json(&format!("/images/{}/history", a.image))
        .await
    {
        Ok(r) => r,
        Err(e) => return report(&e),
    };
    let ctx = history_rows(&rows, a.no_trunc, a.human, chrono::Utc::now().timestamp());
    if a.quiet {
        for r in &ctx {
            println!("{}", r["ID"].as_str().unwrap_or(""));
        }
        return 0;
    }
    let format = a
        .format
        .clone()
        .filter(|f| f != "table")
        .unwrap_or_else(|| {
            "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}".into()
        });
    let header = serde_json::json!({
        "ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
        "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT",
    });
    match super::template::format_rows(&format, &ctx, &header) {
        Ok(out) => {
            print!("{out}");
            0
        }
        Err(e) => {
            eprintln!("berth: {e}");
            1
        }
    }
}

/// A request body streamed from a file, or from stdin when there is none.
fn upload_body(
    input: Option<&std::path::Path>,
    what: &str,
) -> Result<crate::api::client::ReqBody, i32> {
    let file = match input {
        Some(path) => std::fs::File::open(path).map_err(|e| {
            eprintln!("open {}: {e}", path.display());
            1
        })?,
        None => {
            use std::io::IsTerminal;
            if std::io::stdin().is_terminal() {
                eprintln!("requested {what} from stdin, but stdin is empty");
                return Err(1);
            }
            super::upload::stdin_file().map_err(|e| {
                eprintln!("berth: stdin: {e}");
                1
            })?
        }
    };
    Ok(super::upload::file_body(file))
}

pub async fn import(client: &Client, a: ImportArgs) -> i32 {
    let input = (a.file != "-").then(|| std::path::Path::new(&a.file));
    if let Some(p) = input {
        if a.file.contains("://") {
            eprintln!("berth: importing from a URL is not supported: {}", a.file);
            return 1;
        }
        if !p.exists() {
            eprintln!("open {}: no such file or directory", p.display());
            return 1;
        }
    }
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("fromSrc", "-");
    if let Some(r) = &a.reference {
        match crate::image::reference::Reference::parse(r) {
            Ok(parsed) => {
                q.append_pair("repo", &parsed.familiar_name());
                q.append_pair("tag", parsed.tag().unwrap_or("latest"));
            }
            Err(e) => {
                eprintln!("invalid reference format: {r}: {e}");
                return 1;
            }
        }
    }
    if let Some(m) = &a.message {
        q.append_pair("message", m);
    }
    if let Some(p) = &a.platform {
        q.append_pair("platform", p);
    }
    for c in &a.changes {
        q.append_pair("changes", c);
    }
    let body = match upload_body(input, "import") {
        Ok(b) => b,
        Err(code) => return code,
    };
    let resp = match client
        .request_with(
            hyper::Method::POST,
            &format!("/images/create?{}", q.finish()),
            body,
            Some("application/x-tar"),
            &[],
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return report(&e),
    };
    match super::progress::render(resp, false, false).await {
        Ok(_) => 0,
        Err(e) => report(&e),
    }
}

pub async fn load(client: &Client, a: LoadArgs) -> i32 {
    let body = match upload_body(a.input.as_deref(), "load") {
        Ok(b) => b,
        Err(code) => return code,
    };
    let path = format!("/images/load?quiet={}", if a.quiet { 1 } else { 0 });
    let resp = match client
        .request_stream(hyper::Method::POST, &path, body)
        .await
    {
        Ok(r) => r,
        Err(e) => return report(&e),
    };
    match super::progress::render(resp, a.quiet, false).await {
        Ok(_) => 0,
        Err(e) => report(&e),
    }
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

    #[test]
    fn history_table_snapshot() {
        let rows = vec![
            serde_json::json!({"Id": "sha256:26ef77768ffa48d1630993a7f0edf6e1533792f0c8513f350d29aa466b407104", "Created": 1000, "CreatedBy": "berth commit", "Size": 12, "Comment": "a note"}),
            serde_json::json!({"Id": "<missing>", "Created": 900, "CreatedBy": "/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789abcdef in / ", "Size": 1_980_000, "Comment": ""}),
        ];
        let ctx = history_rows(&rows, false, true, 1000 + 180);
        let header = serde_json::json!({"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"});
        insta::assert_snapshot!(super::super::template::format_rows(
            "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
            &ctx,
            &header
        )
        .unwrap());
    }

    #[test]
    fn digests_go_with_their_repository() {
        let img = |tags: &[&str], digests: &[&str]| ImageSummary {
            id: "sha256:26ef77768ffa48d1630993a7f0edf6e1533792f0c8513f350d29aa466b407104".into(),
            repo_tags: tags.iter().map(|s| s.to_string()).collect(),
            repo_digests: digests.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let rows = |i: ImageSummary| -> Vec<String> {
            image_rows(&[i], false, 0)
                .iter()
                .map(|r| {
                    format!("{} {} {}", r["Repository"], r["Tag"], r["Digest"]).replace('"', "")
                })
                .collect()
        };
        assert_eq!(
            rows(img(
                &["busybox:latest", "r:5000/bb:1"],
                &["r:5000/bb@sha256:aa"]
            )),
            ["busybox latest <none>", "r:5000/bb 1 sha256:aa"]
        );
        assert_eq!(
            rows(img(&[], &["r:5000/bb@sha256:aa"])),
            ["r:5000/bb <none> sha256:aa"]
        );
        assert_eq!(rows(img(&[], &[])), ["<none> <none> <none>"]);
    }
}
