//! `berth volume …`: Docker's volume commands, one file per command as in docker/cli's
//! `cli/command/volume`, each a plain client of the Engine API's `/volumes` routes. The flags,
//! the requests and the output are the docker CLI's (version 28), so the same commands can be
//! checked against a real Docker engine and against berth's daemon. Swarm's cluster volumes
//! (`--cluster`, `--group`, `volume update`) are left out: berth has no swarm mode.

mod create;
mod inspect;
mod ls;
mod prune;
mod rm;

pub use create::{create, create_request, CreateArgs};
pub use inspect::{inspect, render, InspectArgs};
pub(crate) use ls::header;
pub use ls::{ls, ls_table, volume_context, LsArgs};
pub use prune::{prune, PruneArgs};
pub use rm::{rm, RmArgs};

use crate::api::client::Client;

#[derive(clap::Subcommand, Debug)]
pub enum VolumeCommand {
    /// Create a volume
    Create(CreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove unused local volumes
    Prune(PruneArgs),
}

pub async fn volume(client: &Client, cmd: VolumeCommand) -> i32 {
    match cmd {
        VolumeCommand::Create(a) => create(client, a).await,
        VolumeCommand::Ls(a) => ls(client, a).await,
        VolumeCommand::Inspect(a) => inspect(client, a).await,
        VolumeCommand::Rm(a) => rm(client, a).await,
        VolumeCommand::Prune(a) => prune(client, a).await,
    }
}
