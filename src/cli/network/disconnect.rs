//! `network disconnect`: `POST /networks/{network}/disconnect`, `-f` to force it.

use crate::api::client::Client;
use crate::wire::network::NetworkDisconnectRequest;
use clap::Args;

#[derive(Args, Debug, Clone, Default)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(value_name = "NETWORK")]
    pub network: String,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

pub async fn disconnect(client: &Client, a: DisconnectArgs) -> i32 {
    let ids = super::trim_id("network", &a.network)
        .and_then(|n| Ok((n, super::trim_id("container", &a.container)?)));
    let (network, container) = match ids {
        Ok(ids) => ids,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let body = NetworkDisconnectRequest {
        container,
        force: a.force,
    };
    match client
        .request(
            hyper::Method::POST,
            &format!("/networks/{network}/disconnect"),
            Some(serde_json::to_vec(&body).expect("a disconnect request serializes")),
        )
        .await
    {
        Ok(resp) => {
            let _ = Client::read_body(resp).await;
            0
        }
        Err(e) => super::fail(&e),
    }
}
