//! `berth network …`: Docker's network commands, one file per command as in docker/cli's
//! `cli/command/network`, each a plain client of the Engine API's `/networks` routes. The
//! flags, the requests and the output are the docker CLI's (version 28), so the same
//! commands can be checked against a real Docker engine and against berth's daemon.

mod connect;
mod create;
mod disconnect;
mod inspect;
mod ls;
mod prune;
mod rm;

pub use connect::{connect, endpoint_settings, ConnectArgs};
pub use create::{create, create_request, CreateArgs};
pub use disconnect::{disconnect, DisconnectArgs};
pub use inspect::{go_indent, inspect, InspectArgs};
pub use ls::{ls, ls_contexts, ls_table, LsArgs};
pub use prune::{prune, PruneArgs};
pub use rm::{rm, RmArgs};
// docker/cli's own helpers, which the volume commands share with these.
pub(crate) use create::validate_label;
pub(crate) use ls::{filter_flag, natural_cmp, with_label_calls};

use crate::api::client::Client;

#[derive(clap::Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks
    Inspect(InspectArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
}

pub async fn network(client: &Client, cmd: NetworkCommand) -> i32 {
    match cmd {
        NetworkCommand::Create(a) => create(client, a).await,
        NetworkCommand::Ls(a) => ls(client, a).await,
        NetworkCommand::Inspect(a) => inspect(client, a).await,
        NetworkCommand::Rm(a) => rm(client, a).await,
        NetworkCommand::Connect(a) => connect(client, a).await,
        NetworkCommand::Disconnect(a) => disconnect(client, a).await,
        NetworkCommand::Prune(a) => prune(client, a).await,
    }
}

/// `key=value` flags (`-o`, `--label`, `--aux-address`, `--ipam-opt`) as a map; a flag
/// without `=` is a key with an empty value, as docker's `ConvertKVStringsToMap` reads it.
pub(crate) fn kv_map(flags: &[String]) -> std::collections::BTreeMap<String, String> {
    flags
        .iter()
        .map(|f| match f.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (f.clone(), String::new()),
        })
        .collect()
}

/// Print a daemon or client error as docker does (`Error response from daemon: …`) and
/// return its exit code, 1.
pub(crate) fn fail(err: &crate::api::client::ClientError) -> i32 {
    crate::cli::report(err)
}

/// The docker client's `trimID`: a name or id, trimmed, and never empty.
pub(crate) fn trim_id(kind: &str, id: &str) -> Result<String, String> {
    let id = id.trim();
    if id.is_empty() {
        return Err(format!("invalid {kind} name or ID: value is empty"));
    }
    Ok(id.to_string())
}

/// docker's `prompt.Confirm`: the question and ` [y/N] ` on stdout, and only `y` (either
/// case) on stdin is a yes.
pub(crate) fn confirm(message: &str) -> bool {
    use std::io::Write;
    print!("{message} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    answer.trim().eq_ignore_ascii_case("y")
}

/// `path` with `?filters=` and the docker CLI's JSON of `-f/--filter` (none: `path` as it is).
pub(crate) fn with_filters(path: &str, filters: &[String]) -> Result<String, String> {
    if filters.is_empty() {
        return Ok(path.to_string());
    }
    let json = crate::cli::container::filters_json(filters)?;
    let encoded: String = url::form_urlencoded::byte_serialize(json.as_bytes()).collect();
    Ok(format!("{path}?filters={encoded}"))
}
