//! The one berth binary: `berth shim` (per container) and `berth nsexec` (per exec), both
//! started by the daemon; `berth __install`/`__uninstall` (run by `just install`/`uninstall`);
//! `berth daemon`; and every other first argument is a CLI command. The commands no user types
//! stay outside the CLI's clap definition, so its completions and man pages never show them.

use clap::Parser;

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("shim") {
        let Some(dir) = argv.get(2) else {
            eprintln!("usage: berth shim <state dir> (started by the daemon, not by hand)");
            std::process::exit(125);
        };
        berth::runtime::shim::main(std::path::Path::new(dir));
    }
    if argv.get(1).map(String::as_str) == Some("nsexec") {
        let Some(spec) = argv.get(2) else {
            eprintln!("usage: berth nsexec <spec> (started by the daemon, not by hand)");
            std::process::exit(125);
        };
        berth::runtime::nsexec::main(spec);
    }
    if let Some(cmd @ ("__install" | "__uninstall")) = argv.get(1).map(String::as_str) {
        std::process::exit(berth::cli::install::main(cmd, &argv[2..]));
    }
    let cli = match berth::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                // docker exits 125 on a flag it does not know.
                _ => 125,
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if let berth::cli::Command::Daemon(args) = cli.command {
        if let Err(e) = berth::cli::daemon_cmd::run(args) {
            eprintln!("berth daemon: {e:#}");
            std::process::exit(1);
        }
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let code = rt.block_on(berth::cli::dispatch(cli));
    // Leave at once: a stdin reader may still be blocked in a background thread.
    std::process::exit(code);
}
