//! The command line: Docker's commands and flags (clap), each a client of the Engine API.
//! Exit codes are docker's: 125 when the daemon or the flags fail `run`, 126/127 when the
//! command cannot be invoked or found, the container's own code otherwise.

pub mod build;
pub mod completion;
pub mod config;
pub mod container;
pub mod cp;
pub mod daemon_cmd;
mod download;
pub mod events;
pub mod image;
pub mod inspector;
pub mod install;
pub mod network;
pub mod progress;
pub mod registry;
pub mod session;
pub mod stats;
pub mod system;
pub mod systemd;
pub mod table;
pub mod template;
mod upload;
pub mod volume;

use crate::api::client::{Client, ClientError};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "berth",
    version,
    about = "A Docker engine rebuilt from first principles, and a course",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Daemon socket to connect to
    #[arg(
        short = 'H',
        long = "host",
        env = "BERTH_HOST",
        default_value = "unix:///run/berth.sock",
        global = true
    )]
    pub host: String,
    /// Location of client config files (default ~/.berth)
    #[arg(
        long = "config",
        env = "BERTH_CONFIG",
        value_name = "DIR",
        global = true
    )]
    pub config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the berth daemon (serves the Docker Engine API)
    Daemon(daemon_cmd::DaemonArgs),
    /// Create and run a new container from an image
    Run(container::RunArgs),
    /// Create a new container
    Create(container::RunArgs),
    /// Start one or more stopped containers
    Start(container::StartCmdArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(container::AttachArgs),
    /// List containers
    Ps(container::PsArgs),
    /// Remove one or more containers
    Rm(container::RmArgs),
    /// Kill one or more running containers
    Kill(container::KillArgs),
    /// Stop one or more running containers
    Stop(container::StopArgs),
    /// Restart one or more containers
    Restart(container::StopArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(container::StartArgs),
    /// Rename a container
    Rename(container::RenameArgs),
    /// Fetch the logs of a container
    Logs(container::LogsArgs),
    /// Execute a command in a running container
    Exec(container::ExecArgs),
    /// Pause all processes within one or more containers
    Pause(container::StartArgs),
    /// Unpause all processes within one or more containers
    Unpause(container::StartArgs),
    /// Display the running processes of a container
    Top(container::TopArgs),
    /// Update configuration of one or more containers
    Update(container::UpdateArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(stats::StatsArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(container::DiffArgs),
    /// Build an image from a Dockerfile
    Build(build::BuildArgs),
    /// Create a new image from a container's changes
    Commit(container::CommitArgs),
    /// Export a container's filesystem as a tar archive
    Export(container::ExportArgs),
    /// List port mappings or a specific mapping for the container
    Port(container::PortArgs),
    /// Get real time events from the server
    Events(events::EventsArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(container::ContainerCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
    /// Manage berth
    #[command(subcommand)]
    System(system::SystemCommand),
    /// Return low-level information on containers or images
    Inspect(container::InspectArgs),
    /// List images
    Images(image::ImagesArgs),
    /// Load an image from a tar archive or STDIN
    Load(image::LoadArgs),
    /// Manage images
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(image::TagArgs),
    /// Remove one or more images
    Rmi(image::RmiArgs),
    /// Show the history of an image
    History(image::HistoryArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(image::SaveArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(cp::CpArgs),
    /// Download an image from a registry
    Pull(registry::PullArgs),
    /// Upload an image to a registry
    Push(registry::PushArgs),
    /// Log in to a registry
    Login(registry::LoginArgs),
    /// Log out from a registry
    Logout(registry::LogoutArgs),
    /// Search a registry's catalog for images
    Search(registry::SearchArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(image::ImportArgs),
    /// Show the berth version information
    Version,
    /// Display system-wide information
    Info,
    /// Generate the autocompletion script for the specified shell
    Completion(completion::CompletionArgs),
}

/// What a command ends with: an exit code, and maybe a message for stderr.
pub struct Exit {
    pub code: i32,
}

impl Exit {
    pub fn ok() -> Exit {
        Exit { code: 0 }
    }
}

/// Whether an API version ("1.41") is older than `than` (1, 44): the docker CLI's
/// `versions.LessThan`, for the choices it makes by the daemon's version.
pub fn api_below(version: &str, than: (u32, u32)) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let v = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    v < than
}

/// Report a client error the way docker does and choose the exit code.
pub fn report(err: &ClientError) -> i32 {
    eprintln!("{err}");
    1
}

pub async fn dispatch(cli: Cli) -> i32 {
    config::set_dir(cli.config.clone());
    // Read once up front, as docker does: a broken config file is reported whatever the command.
    let _ = config::load();
    // A command that speaks to no daemon.
    if let Command::Completion(args) = &cli.command {
        return completion::completion(args);
    }
    let client = match Client::new(&cli.host) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("berth: {e}");
            return 125;
        }
    };
    // As the docker CLI does before every command: speak the daemon's API version when it is
    // older than berth's (a real Docker 20.10 answers 1.41). A daemon that does not answer is
    // reported by the command itself.
    let _ = client.negotiate().await;
    match cli.command {
        Command::Daemon(_) => unreachable!("the daemon is started before the CLI runtime"),
        Command::Completion(_) => unreachable!("answered above, without a daemon"),
        Command::Run(args) => container::run(&client, args).await,
        Command::Create(args) => container::create(&client, args).await,
        Command::Start(args) => container::start(&client, args).await,
        Command::Attach(args) => container::attach(&client, args).await,
        Command::Ps(args) => container::ps(&client, args).await,
        Command::Rm(args) => container::rm(&client, args).await,
        Command::Kill(args) => container::kill(&client, args).await,
        Command::Stop(args) => container::stop(&client, args, "stop").await,
        Command::Restart(args) => container::stop(&client, args, "restart").await,
        Command::Wait(args) => container::wait(&client, args).await,
        Command::Rename(args) => container::rename(&client, args).await,
        Command::Logs(args) => container::logs(&client, args).await,
        Command::Exec(args) => container::exec(&client, args).await,
        Command::Pause(args) => container::for_each(&client, &args.containers, "pause").await,
        Command::Unpause(args) => container::for_each(&client, &args.containers, "unpause").await,
        Command::Top(args) => container::top(&client, args).await,
        Command::Update(args) => container::update(&client, args).await,
        Command::Stats(args) => stats::stats(&client, args).await,
        Command::Events(args) => events::events(&client, args).await,
        Command::Port(args) => container::port(&client, args).await,
        Command::Diff(args) => container::diff(&client, args).await,
        Command::Commit(args) => container::commit(&client, args).await,
        Command::Build(args) => build::build(&client, args).await,
        Command::Export(args) => container::export(&client, args).await,
        Command::Container(container::ContainerCommand::Prune(args)) => {
            container::prune(&client, args).await
        }
        Command::Network(cmd) => network::network(&client, cmd).await,
        Command::Volume(cmd) => volume::volume(&client, cmd).await,
        Command::System(cmd) => system::system(&client, cmd).await,
        Command::Inspect(args) => container::inspect(&client, args).await,
        Command::Images(args) => image::images(&client, args).await,
        Command::Load(args) => image::load(&client, args).await,
        Command::Tag(args) => image::tag(&client, args).await,
        Command::Rmi(args) => image::rmi(&client, args).await,
        Command::History(args) => image::history(&client, args).await,
        Command::Save(args) => image::save(&client, args).await,
        Command::Image(cmd) => match cmd {
            image::ImageCommand::Ls(args) => image::images(&client, args).await,
            image::ImageCommand::Inspect(args) => image::inspect(&client, args).await,
            image::ImageCommand::Rm(args) => image::rmi(&client, args).await,
            image::ImageCommand::Tag(args) => image::tag(&client, args).await,
            image::ImageCommand::Prune(args) => image::prune(&client, args).await,
            image::ImageCommand::History(args) => image::history(&client, args).await,
            image::ImageCommand::Load(args) => image::load(&client, args).await,
            image::ImageCommand::Save(args) => image::save(&client, args).await,
            image::ImageCommand::Pull(args) => registry::pull(&client, args).await,
            image::ImageCommand::Push(args) => registry::push(&client, args).await,
            image::ImageCommand::Import(args) => image::import(&client, args).await,
        },
        Command::Cp(args) => cp::cp(&client, args).await,
        Command::Pull(args) => registry::pull(&client, args).await,
        Command::Push(args) => registry::push(&client, args).await,
        Command::Login(args) => registry::login(&client, args).await,
        Command::Logout(args) => registry::logout(args).await,
        Command::Search(args) => registry::search(&client, args).await,
        Command::Import(args) => image::import(&client, args).await,
        Command::Version => system::version(&client).await,
        Command::Info => system::info(&client).await,
    }
}
