//! `network rm`: each network removed in turn and its name printed as given; one that fails is
//! reported and the rest still go, and the command ends with docker's `exit status 1` line
//! and code. `-f` is quiet about a network that is not there. As docker does, each is looked
//! at first, so removing a swarm's ingress network asks before it goes.

use crate::api::client::{Client, ClientError};
use clap::Args;

#[derive(Args, Debug, Clone, Default)]
pub struct RmArgs {
    /// Do not error if the network does not exist
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true, value_name = "NETWORK")]
    pub networks: Vec<String>,
}

const INGRESS_WARNING: &str = "WARNING! Before removing the routing-mesh network, make sure all \
the nodes in your swarm run the same docker engine version. Otherwise, removal may not be \
effective and functionality of newly create ingress networks will be impaired.\nAre you sure \
you want to continue?";

pub async fn rm(client: &Client, a: RmArgs) -> i32 {
    let mut code = 0;
    for name in &a.networks {
        let id = match super::trim_id("network", name) {
            Ok(id) => id,
            Err(e) => {
                eprintln!("{e}");
                code = 1;
                continue;
            }
        };
        let found: Result<crate::wire::network::NetworkResource, _> =
            client.get_json(&format!("/networks/{id}")).await;
        if found.is_ok_and(|n| n.ingress) && !super::confirm(INGRESS_WARNING) {
            continue;
        }
        match client.delete(&format!("/networks/{id}")).await {
            Ok(()) => println!("{name}"),
            Err(ClientError::Api { status: 404, .. }) if a.force => {}
            Err(e) => code = super::fail(&e),
        }
    }
    if code != 0 {
        // docker ends with its StatusError's own text.
        eprintln!("exit status {code}");
    }
    code
}
