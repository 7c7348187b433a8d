//! `completion SHELL`: the shell's completion script on stdout, as `docker completion` prints
//! it, generated from the same clap definition that parses the command line, so it knows every
//! command and flag of this build. `just install` writes the bash, zsh and fish ones where
//! those shells look for them.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell to generate the script for
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut super::Cli::command(), "berth", &mut out);
    out
}

pub fn completion(a: &CompletionArgs) -> i32 {
    use std::io::Write;
    match std::io::stdout().write_all(&script(a.shell)) {
        Ok(()) => 0,
        // The reader has what it wanted (`| head`).
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("berth: writing the completion script: {e}");
            1
        }
    }
}
