//! `wait`: block until each named container exits and print its exit code, one line per
//! container in the order given, as docker does, so `code=$(berth wait c)` works in scripts.

use super::opts::StartArgs;
use crate::api::client::Client;
use crate::cli::report;
use crate::wire::types::WaitResponse;

pub async fn wait(client: &Client, a: StartArgs) -> i32 {
    let mut code = 0;
    for c in &a.containers {
        let r: Result<WaitResponse, _> = client
            .post_json(&format!("/containers/{c}/wait"), &serde_json::json!({}))
            .await;
        match r {
            Ok(w) => println!("{}", w.status_code),
            Err(e) => code = report(&e),
        }
    }
    code
}
