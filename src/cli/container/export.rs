//! `export`: the container's filesystem as a tar stream, to `-o FILE` or stdout; like docker it
//! refuses to pour binary into a terminal.

use crate::api::client::Client;
use crate::cli::report;
use clap::Args;
use hyper::Method;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    pub output: Option<std::path::PathBuf>,
    pub container: String,
}

pub async fn export(client: &Client, a: ExportArgs) -> i32 {
    use std::io::IsTerminal;
    if a.output.is_none() && std::io::stdout().is_terminal() {
        eprintln!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
        return 1;
    }
    let resp = match client
        .request(
            Method::GET,
            &format!("/containers/{}/export", a.container),
            None,
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return report(&e),
    };
    crate::cli::download::tar_to(resp, a.output.as_deref()).await
}
