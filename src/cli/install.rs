//! `berth __install` and `berth __uninstall` (hidden; `just install` and `just uninstall` run
//! them): put the binary, its completions (bash, zsh, fish), a man page per command and the
//! systemd units (berth.service, berth.socket) under a prefix, or take them away again.
//!
//! Why the binary installs itself rather than a shell recipe with a generator beside it: every
//! file comes from the binary's own clap definition and its embedded units, so what is
//! installed always matches that build; one list (`files`) serves install and uninstall, so
//! uninstall removes exactly what install wrote; and it needs neither `just` nor a toolchain,
//! so the smoke VM (vagrant/vm/) installs with the same command as `just install`.

use super::completion;
use super::systemd;
use clap::{CommandFactory, Parser};
use clap_complete::Shell;
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
pub struct InstallArgs {
    /// Where the files go: PREFIX/bin, PREFIX/share, PREFIX/lib/systemd/system
    #[arg(long, default_value = "/usr/local")]
    pub prefix: PathBuf,
    /// A staging root the files are written under (packaging); the paths inside them, such as
    /// the unit's ExecStart, stay those of PREFIX
    #[arg(long, value_name = "DIR")]
    pub destdir: Option<String>,
}

/// What a file holds.
enum Content {
    /// This very binary.
    Exe,
    /// A binary built beside this one (`berth-runc`), by its file name.
    Sibling(&'static str),
    Text(Vec<u8>),
}

struct File {
    /// Relative to the prefix.
    path: PathBuf,
    mode: u32,
    content: Content,
}

/// Every file install writes, relative to `prefix`.
fn files(prefix: &Path) -> Vec<File> {
    let text = |path: String, content: Vec<u8>| File {
        path: PathBuf::from(path),
        mode: 0o644,
        content: Content::Text(content),
    };
    let mut out = vec![File {
        path: PathBuf::from("bin/berth"),
        mode: 0o755,
        content: Content::Exe,
    }];
    // The runtime for containerd and dockerd (`--runc-binary`, `--add-runtime`), when built.
    if sibling("berth-runc").is_some_and(|p| p.exists()) {
        out.push(File {
            path: PathBuf::from("bin/berth-runc"),
            mode: 0o755,
            content: Content::Sibling("berth-runc"),
        });
    }
    // Where each shell looks for a command's completions, under a prefix.
    out.push(text(
        "share/bash-completion/completions/berth".into(),
        completion::script(Shell::Bash),
    ));
    out.push(text(
        "share/zsh/site-functions/_berth".into(),
        completion::script(Shell::Zsh),
    ));
    out.push(text(
        "share/fish/vendor_completions.d/berth.fish".into(),
        completion::script(Shell::Fish),
    ));
    for (name, page) in man_pages() {
        out.push(text(format!("share/man/man1/{name}"), page));
    }
    // systemd reads units from /usr/local/lib/systemd/system and /usr/lib/systemd/system.
    out.push(text(
        "lib/systemd/system/berth.service".into(),
        systemd::service_unit(&prefix.join("bin")).into_bytes(),
    ));
    out.push(text(
        "lib/systemd/system/berth.socket".into(),
        systemd::SOCKET_UNIT.as_bytes().to_vec(),
    ));
    out
}

/// A file beside this very binary (`target/release/berth-runc` beside `target/release/berth`).
fn sibling(name: &str) -> Option<PathBuf> {
    Some(std::env::current_exe().ok()?.parent()?.join(name))
}

/// `berth.1` and one page per command, `berth-run.1`, `berth-network-create.1`, ... as
/// (file name, roff), hidden commands left out.
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    fn walk(cmd: &clap::Command, out: &mut Vec<(String, Vec<u8>)>) {
        let man = clap_mangen::Man::new(cmd.clone())
            .source(format!("berth {}", env!("CARGO_PKG_VERSION")))
            .manual("berth manual");
        let mut page = Vec::new();
        man.render(&mut page).expect("rendering into memory");
        out.push((man.get_filename(), page));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub, out);
        }
    }
    let mut cmd = super::Cli::command();
    // Names every subcommand `berth-run`, `berth-network-create`, ... and its usage line
    // `berth run`, `berth network create`, before the pages are cut from it.
    cmd.build();
    let mut out = Vec::new();
    walk(&cmd, &mut out);
    out
}

/// `destdir` + `prefix`, the prefix being absolute.
fn root(a: &InstallArgs) -> Result<PathBuf, String> {
    if !a.prefix.is_absolute() {
        return Err(format!(
            "--prefix {}: must be an absolute path (the unit runs the binary from there)",
            a.prefix.display()
        ));
    }
    let inner = a.prefix.strip_prefix("/").expect("absolute");
    Ok(match a.destdir.as_deref().filter(|d| !d.is_empty()) {
        None => a.prefix.clone(),
        Some(d) => Path::new(d).join(inner),
    })
}

/// Write `file` under `root`: aside first, then renamed in, so a running berth is replaced
/// whole (never written into: "text file busy") and an interrupted install leaves no half file.
fn put(root: &Path, file: &File) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = root.join(&file.path);
    let dir = path.parent().expect("every file is in a directory");
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().expect("a file name").to_string_lossy();
    let tmp = dir.join(format!(".{name}.berth-install"));
    let written = match &file.content {
        Content::Exe => std::env::current_exe().and_then(|exe| std::fs::copy(exe, &tmp).map(drop)),
        Content::Sibling(name) => match sibling(name) {
            Some(from) => std::fs::copy(from, &tmp).map(drop),
            None => Err(std::io::Error::other(format!(
                "no {name} beside this binary"
            ))),
        },
        Content::Text(bytes) => std::fs::write(&tmp, bytes),
    };
    let done = written
        .and_then(|()| std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(file.mode)))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(path)
}

/// `berth __install ARGS` or `berth __uninstall ARGS`: the exit code.
pub fn main(cmd: &str, args: &[String]) -> i32 {
    let argv = std::iter::once(format!("berth {cmd}")).chain(args.iter().cloned());
    let a = match InstallArgs::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 125 } else { 0 };
        }
    };
    let root = match root(&a) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("berth: {e}");
            return 1;
        }
    };
    if cmd == "__install" {
        install(&a, &root)
    } else {
        uninstall(&a, &root)
    }
}

/// A line on stdout; a closed stdout (`| head`) must not stop the install half-way.
fn say(line: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

fn install(a: &InstallArgs, root: &Path) -> i32 {
    for file in files(&a.prefix) {
        match put(root, &file) {
            Ok(path) => say(format_args!("installed {}", path.display())),
            Err(e) => {
                eprintln!("berth: installing {}: {e}", root.join(&file.path).display());
                return 1;
            }
        }
    }
    0
}

fn uninstall(a: &InstallArgs, root: &Path) -> i32 {
    let mut code = 0;
    for file in files(&a.prefix) {
        let path = root.join(&file.path);
        match std::fs::remove_file(&path) {
            Ok(()) => say(format_args!("removed {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                eprintln!("berth: removing {}: {e}", path.display());
                code = 1;
            }
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_per_visible_command_named_after_its_path() {
        let names: Vec<String> = man_pages().into_iter().map(|(n, _)| n).collect();
        for want in [
            "berth.1",
            "berth-run.1",
            "berth-network-create.1",
            "berth-completion.1",
        ] {
            assert!(
                names.contains(&want.to_string()),
                "{want} missing: {names:?}"
            );
        }
        assert!(!names.iter().any(|n| n.contains("__")), "{names:?}");
    }

    #[test]
    fn a_subcommand_page_shows_its_usage_as_typed() {
        let (_, page) = man_pages()
            .into_iter()
            .find(|(n, _)| n == "berth-run.1")
            .unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.contains(".TH berth-run 1"), "{page}");
        assert!(page.contains("berth run"), "{page}");
        assert!(page.contains("\\-\\-publish"), "{page}");
    }

    #[test]
    fn destdir_stages_the_prefix() {
        let a = |prefix: &str, destdir: &str| InstallArgs {
            prefix: prefix.into(),
            destdir: Some(destdir.into()),
        };
        assert_eq!(
            root(&a("/usr/local", "")).unwrap(),
            PathBuf::from("/usr/local")
        );
        assert_eq!(
            root(&a("/usr", "/tmp/stage")).unwrap(),
            PathBuf::from("/tmp/stage/usr")
        );
        assert!(root(&a("usr", "")).unwrap_err().contains("absolute"));
    }
}
