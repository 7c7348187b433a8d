//! `rename`: the new name goes URL-encoded in the query, as the docker CLI sends it; whether
//! it is valid and free is the daemon's to say, so both CLIs get the same refusals.

use crate::api::client::Client;
use crate::cli::report;
use clap::Args;

#[derive(Args, Debug)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

pub async fn rename(client: &Client, a: RenameArgs) -> i32 {
    let name: String = url::form_urlencoded::byte_serialize(a.new_name.as_bytes()).collect();
    match client
        .post_empty(&format!("/containers/{}/rename?name={name}", a.container))
        .await
    {
        Ok(_) => 0,
        Err(e) => report(&e),
    }
}
