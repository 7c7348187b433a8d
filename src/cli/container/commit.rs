//! `commit`: a new image from a container's changes. The reference is split into repo and tag
//! here, as the docker CLI does, so a malformed one fails with 125 before the daemon pauses
//! the container.

use crate::api::client::Client;
use crate::cli::report;
use clap::Args;

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change")]
    pub changes: Vec<String>,
    /// Commit message
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short = 'p', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub pause: bool,
    pub container: String,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
}

pub async fn commit(client: &Client, a: CommitArgs) -> i32 {
    let mut q: Vec<(String, String)> = vec![
        ("container".into(), a.container.clone()),
        ("pause".into(), a.pause.to_string()),
    ];
    if let Some(r) = &a.reference {
        match crate::image::reference::Reference::parse(r) {
            Ok(parsed) => {
                q.push(("repo".into(), parsed.familiar_name()));
                q.push(("tag".into(), parsed.tag().unwrap_or("latest").to_string()));
            }
            Err(e) => {
                eprintln!("berth: invalid reference format: {r}: {e}");
                return 125;
            }
        }
    }
    if let Some(m) = &a.message {
        q.push(("comment".into(), m.clone()));
    }
    if let Some(au) = &a.author {
        q.push(("author".into(), au.clone()));
    }
    for c in &a.changes {
        q.push(("changes".into(), c.clone()));
    }
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(q)
        .finish();
    let r: Result<serde_json::Value, _> = client
        .post_json(&format!("/commit?{query}"), &serde_json::json!({}))
        .await;
    match r {
        Ok(v) => {
            println!("{}", v["Id"].as_str().unwrap_or(""));
            0
        }
        Err(e) => report(&e),
    }
}
