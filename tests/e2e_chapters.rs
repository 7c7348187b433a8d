//! e2e: every `console` block of every chapter runs against a private daemon and its output is
//! checked, so the course never drifts from the code. See chapters/README.md for the format.

mod common;

use regex::Regex;
use std::path::Path;

struct Step {
    command: String,
    expected: Vec<String>,
    line: usize,
}

fn parse_blocks(text: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut in_block = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block && line.trim() == "```console";
            continue;
        }
        if !in_block {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: cmd.to_string(),
                expected: Vec::new(),
                line: n + 1,
            });
        } else if let Some(step) = steps.last_mut() {
            step.expected.push(line.to_string());
        }
    }
    steps
}

/// One expected line as a regex: literal text, with the placeholders of chapters/README.md.
fn line_regex(pattern: &str) -> Regex {
    let mut re = String::from("^");
    let mut rest = pattern.trim_end();
    let tokens = [
        ("<hex12>", "[0-9a-f]{12}"),
        ("<hex64>", "[0-9a-f]{64}"),
        ("<ip>", r"\d+\.\d+\.\d+\.\d+"),
        ("<n>", r"\d+"),
        ("<*>", ".*"),
    ];
    'outer: while !rest.is_empty() {
        for (tok, rx) in tokens {
            if let Some(after) = rest.strip_prefix(tok) {
                re.push_str(rx);
                rest = after;
                continue 'outer;
            }
        }
        let ch = rest.chars().next().unwrap();
        re.push_str(&regex::escape(&ch.to_string()));
        rest = &rest[ch.len_utf8()..];
    }
    re.push('$');
    Regex::new(&re).unwrap()
}

/// Match output lines against expected lines, where `...` stands for any number of lines.
fn matches(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first.trim() == "..." => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((first, rest)) => match actual.split_first() {
            Some((a, arest)) => line_regex(first).is_match(a.trim_end()) && matches(rest, arest),
            None => false,
        },
    }
}

/// `registry`: the host:port of a test registry standing in for the course's `localhost:5000`.
fn run_chapter(d: &common::TestDaemon, path: &Path, have_docker: bool, registry: Option<&str>) {
    let text = std::fs::read_to_string(path).unwrap();
    let bin_dir = common::berth_bin().parent().unwrap().to_path_buf();
    let path_env = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for step in parse_blocks(&text) {
        if step.command.contains("docker ") && !have_docker {
            eprintln!(
                "{}:{}: skipped (no docker client): {}",
                path.display(),
                step.line,
                step.command
            );
            continue;
        }
        if step.command.contains("localhost:5000") && registry.is_none() {
            eprintln!(
                "{}:{}: skipped (no docker-registry): {}",
                path.display(),
                step.line,
                step.command
            );
            continue;
        }
        let reg = registry.unwrap_or("localhost:5000");
        let cmd = step
            .command
            .replace("localhost:5000", reg)
            .replace("/var/lib/berth", &d.root.to_string_lossy())
            .replace("/run/berth.sock", &d.socket.to_string_lossy())
            .replace("/run/berth", &d.exec_root.to_string_lossy())
            .replace("berth0", &d.bridge)
            .replace("BERTH-", &format!("{}-", d.prefix));
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("{{ {cmd}\n}} 2>&1"))
            .current_dir(common::project_dir())
            .env("PATH", &path_env)
            .env("BERTH_HOST", d.host())
            .env("DOCKER_CONFIG", d.dir.path().join("docker-config"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let actual: Vec<&str> = stdout.lines().collect();
        let expected: Vec<String> = step
            .expected
            .iter()
            .map(|l| {
                l.replace("localhost:5000", reg)
                    .replace("berth0", &d.bridge)
                    .replace("BERTH-", &format!("{}-", d.prefix))
            })
            .collect();
        assert!(
            matches(&expected, &actual),
            "{}:{}: `{}`\nexpected:\n{}\ngot:\n{}\ndaemon log:\n{}",
            path.display(),
            step.line,
            step.command,
            expected.join("\n"),
            stdout,
            d.log()
        );
    }
}

#[test]
fn chapter_examples_run_as_written() {
    let d = daemon_or_skip!();
    common::busybox_archive();
    let have_docker = d.docker().is_some();
    let registry = common::registry::TestRegistry::start(None);
    let mut chapters: Vec<_> = std::fs::read_dir(common::project_dir().join("chapters"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "md") && p.file_name().unwrap() != "README.md"
        })
        .collect();
    chapters.sort();
    assert!(!chapters.is_empty());
    for ch in chapters {
        run_chapter(
            &d,
            &ch,
            have_docker,
            registry.as_ref().map(|r| r.host.as_str()),
        );
    }
}

#[test]
fn the_matcher_itself() {
    let exp = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(matches(
        &exp(&["a <hex12>", "..."]),
        &["a 0123456789ab", "x", "y"]
    ));
    assert!(!matches(&exp(&["a <hex12>"]), &["a 0123456789abc"]));
    assert!(matches(&exp(&["...", "end"]), &["x", "end"]));
    assert!(!matches(&exp(&["end"]), &["end", "extra"]));
    assert!(matches(
        &exp(&["inet <ip>/24 <*>"]),
        &["inet 10.0.0.2/24 scope global"]
    ));
    let steps = parse_blocks("text\n```console\n$ echo hi\nhi\n```\n```sh\n$ not run\n```\n");
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].expected, vec!["hi".to_string()]);
}
