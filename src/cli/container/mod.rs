//! Container commands, one file per command or close family as in docker/cli's
//! `cli/command/container` (shared flags in `opts`). Everything is re-exported here, so
//! `cli::dispatch` and the other command modules (`image inspect`, `events`) name them as
//! `container::run` or `container::PsArgs` without knowing which file holds them.

mod commit;
mod diff;
mod exec;
mod export;
mod inspect;
mod list;
mod logs;
mod mountopts;
mod netopts;
mod nsopts;
mod opts;
mod port;
mod prune;
mod rename;
mod rm;
mod run;
mod start;
mod stop;
mod top;
mod update;
mod wait;

pub use commit::{commit, CommitArgs};
pub use diff::{diff, DiffArgs};
pub use exec::{exec, ExecArgs};
pub use export::{export, ExportArgs};
pub use inspect::{indent_json, inspect, InspectArgs};
pub use list::{command_cell, filters_json, ps, ps_context, ps_table, PsArgs};
pub use logs::{logs, to_unix_time, LogsArgs};
pub use mountopts::MountArgs;
pub use netopts::{validate_link, NetworkArgs};
pub use opts::{ResourceArgs, RunArgs, StartArgs};
pub use port::{port, PortArgs};
pub use prune::{prune, PruneArgs};
pub use rename::{rename, RenameArgs};
pub use rm::{rm, RmArgs};
pub use run::{create, run, start_error_code};
pub use start::{attach, start, AttachArgs, StartCmdArgs};
pub use stop::{for_each, kill, stop, KillArgs, StopArgs};
pub use top::{top, top_table, TopArgs};
pub use update::{update, UpdateArgs};
pub use wait::wait;

/// `berth container …`: only the subcommands with no top-level form of their own, as in
/// docker, where `container prune` has no `docker prune`.
#[derive(clap::Subcommand, Debug)]
pub enum ContainerCommand {
    /// Remove all stopped containers
    Prune(PruneArgs),
}
