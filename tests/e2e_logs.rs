//! e2e: log options, rotation and the local driver, through berth's CLI and the real docker
//! CLI: `--log-opt max-size/max-file` keep a bounded set of files, `compress` gzips the
//! rotated ones, `logs` reads across all of them (`--tail`, `-f` across a rotation),
//! `--log-driver local` keeps Docker's framed files, json-file's labels/env/tag attributes
//! show with `--details`, the daemon's `--log-driver`/`--log-opt` are the default, and bad
//! options are refused in Docker's words before anything is made.

mod common;

use common::text;
use std::path::{Path, PathBuf};

fn container_dir(d: &common::TestDaemon, name: &str) -> PathBuf {
    let id = d.ok(&["inspect", "-f", "{{.Id}}", name]);
    d.root.join("containers").join(id.trim())
}

/// The files of a log (`<log>`, `<log>.1`, `<log>.2.gz`, …) and their sizes, by name.
fn log_files(dir: &Path, prefix: &str) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, e.metadata().unwrap().len())
        })
        .filter(|(n, _)| n.starts_with(prefix) && !n.ends_with(".rotations"))
        .collect();
    v.sort();
    v
}

/// `line N` lines, checked to be consecutive; returns the first and last N.
fn consecutive(out: &str) -> (usize, usize) {
    let nums: Vec<usize> = out
        .lines()
        .map(|l| {
            l.strip_prefix("line ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("a torn or foreign line: {l:?}"))
        })
        .collect();
    assert!(!nums.is_empty(), "no lines");
    for w in nums.windows(2) {
        assert_eq!(w[1], w[0] + 1, "lines lost or repeated around {}", w[0]);
    }
    (nums[0], *nums.last().unwrap())
}

const CHATTY: &str = "i=0; while [ $i -lt 3000 ]; do echo \"line $i\"; i=$((i+1)); done";

#[test]
fn max_size_and_max_file_bound_the_files_and_logs_reads_the_newest_in_order() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&[
        "run",
        "--name",
        "chatty",
        "--log-opt",
        "max-size=10k",
        "--log-opt",
        "max-file=3",
        "busybox",
        "sh",
        "-c",
        CHATTY,
    ]);
    let dir = container_dir(&d, "chatty");
    let id = dir.file_name().unwrap().to_string_lossy().into_owned();
    let json = format!("{id}-json.log");
    let files = log_files(&dir, &json);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [json.clone(), format!("{json}.1"), format!("{json}.2")],
        "{files:?}"
    );
    // 10k is 10000 bytes, as Docker's units read it.
    assert!(files.iter().all(|(_, size)| *size <= 10_000), "{files:?}");
    // About 3000 lines of ~70 bytes went by: the rotations were many, the kept lines few.
    let out = d.ok(&["logs", "chatty"]);
    let (first, last) = consecutive(&out);
    assert_eq!(last, 2999);
    assert!(first > 2000, "kept from line {first}");
    assert_eq!(
        d.ok(&["logs", "--tail", "3", "chatty"]),
        "line 2997\nline 2998\nline 2999\n"
    );
    // A tail longer than the current file reaches into the rotated ones.
    let tail = d.ok(&["logs", "--tail", "300", "chatty"]);
    assert_eq!(consecutive(&tail), (2700, 2999));
    let stamped = d.ok(&["logs", "-t", "--tail", "1", "chatty"]);
    let (ts, line) = stamped.trim_end().split_once(' ').unwrap();
    assert_eq!(line, "line 2999");
    assert!(
        chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
        "{stamped}"
    );
    assert_eq!(d.ok(&["logs", "--since", "1h", "chatty"]), out);
    assert_eq!(d.ok(&["logs", "--until", "1h", "chatty"]), "");
    assert_eq!(
        d.ok(&["inspect", "-f", "{{json .HostConfig.LogConfig}}", "chatty"])
            .trim(),
        r#"{"Config":{"max-file":"3","max-size":"10k"},"Type":"json-file"}"#
    );
    d.ok(&["rm", "chatty"]);
}

#[test]
fn logs_follow_crosses_rotations_without_losing_or_repeating_a_line() {
    let d = daemon_or_skip!();
    d.load_busybox();
    // Ten lines every 50 ms after a second's pause: the follower is there from the start,
    // and many rotations (4k files) happen while it follows.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "steady",
        "--log-opt",
        "max-size=4k",
        "--log-opt",
        "max-file=5",
        "busybox",
        "sh",
        "-c",
        "sleep 1; i=0; while [ $i -lt 400 ]; do echo \"line $i\"; i=$((i+1)); \
         [ $((i % 10)) = 0 ] && sleep 0.05; done; true",
    ]);
    let out = d.ok(&["logs", "-f", "steady"]);
    assert_eq!(consecutive(&out), (0, 399));
    let dir = container_dir(&d, "steady");
    let id = dir.file_name().unwrap().to_string_lossy().into_owned();
    let rotations = std::fs::read_to_string(dir.join(format!("{id}-json.log.rotations"))).unwrap();
    assert!(
        rotations.trim().parse::<u32>().unwrap() >= 5,
        "rotated only {rotations} times"
    );
    // Files were dropped since: the whole log now starts later.
    let (first, last) = consecutive(&d.ok(&["logs", "steady"]));
    assert!(first > 0 && last == 399, "{first}..{last}");

    // Following through the docker CLI too.
    if d.docker_or_say() {
        let (_, err, c) = d.docker_text(&[
            "run",
            "-d",
            "--name",
            "steady2",
            "--log-opt",
            "max-size=4k",
            "--log-opt",
            "max-file=5",
            "busybox",
            "sh",
            "-c",
            "sleep 1; i=0; while [ $i -lt 300 ]; do echo \"line $i\"; i=$((i+1)); \
             [ $((i % 10)) = 0 ] && sleep 0.05; done; true",
        ]);
        assert_eq!(c, 0, "{err}");
        let (out, err, c) = d.docker_text(&["logs", "-f", "steady2"]);
        assert_eq!(c, 0, "{err}");
        assert_eq!(consecutive(&out), (0, 299));
        d.docker_text(&["rm", "steady2"]);
    }
    d.ok(&["rm", "steady"]);
}

#[test]
fn compress_gzips_rotated_files_and_logs_still_reads_them() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let opts = [
        "--log-opt",
        "max-size=10k",
        "--log-opt",
        "max-file=4",
        "--log-opt",
        "compress=true",
    ];
    let run = |name: &str| -> Vec<String> {
        let mut v = vec!["run", "--name", name];
        v.extend(opts);
        v.extend(["busybox", "sh", "-c", CHATTY]);
        v.into_iter().map(String::from).collect()
    };
    let mut names = vec!["gz"];
    d.ok(&run("gz").iter().map(String::as_str).collect::<Vec<_>>());
    if d.docker_or_say() {
        let (_, err, c) = d.docker_text(&run("gz2").iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(c, 0, "{err}");
        names.push("gz2");
    }
    for name in names {
        let dir = container_dir(&d, name);
        let id = dir.file_name().unwrap().to_string_lossy().into_owned();
        let json = format!("{id}-json.log");
        let files: Vec<String> = log_files(&dir, &json).into_iter().map(|f| f.0).collect();
        assert_eq!(
            files,
            [
                json.clone(),
                format!("{json}.1.gz"),
                format!("{json}.2.gz"),
                format!("{json}.3.gz")
            ]
        );
        // A real gzip file, holding whole json lines.
        let gz = std::fs::read(dir.join(format!("{json}.1.gz"))).unwrap();
        assert_eq!(&gz[..2], b"\x1f\x8b");
        let mut plain = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain)
            .unwrap();
        assert!(
            plain.lines().all(|l| l.starts_with("{\"log\":\"line ")),
            "{plain}"
        );
        let (first, last) = consecutive(&d.ok(&["logs", name]));
        assert_eq!(last, 2999);
        assert!(first > 1000 && first < 2900, "kept from line {first}");
        let (first_docker, _) = if name == "gz2" {
            let (out, _, _) = d.docker_text(&["logs", name]);
            consecutive(&out)
        } else {
            (first, last)
        };
        assert_eq!(first_docker, first);
        d.ok(&["rm", name]);
    }
}

#[test]
fn the_local_driver_keeps_framed_rotated_files_that_logs_reads() {
    let d = daemon_or_skip!();
    d.load_busybox();
    // Docker's defaults: nothing in Config, no LogPath, files under local-logs/.
    d.ok(&[
        "run",
        "--name",
        "loc",
        "--log-driver",
        "local",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; printf 'no newline'",
    ]);
    let out = d.berth(&["logs", "loc"]);
    assert_eq!(
        text(&out),
        ("out\nno newline".into(), "err\n".into(), 0),
        "local driver logs"
    );
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{json .HostConfig.LogConfig}}|{{.LogPath}}|",
            "loc"
        ])
        .trim(),
        r#"{"Config":{},"Type":"local"}||"#
    );
    let dir = container_dir(&d, "loc");
    let log = std::fs::read(dir.join("local-logs/container.log")).unwrap();
    // A record: big-endian length, protobuf (source = 1 first), the length again.
    let len = u32::from_be_bytes(log[..4].try_into().unwrap()) as usize;
    assert_eq!(&log[4..12], b"\x0a\x06stdout");
    assert_eq!(log[4 + len..8 + len], log[..4]);
    assert!(!dir
        .join(format!(
            "{}-json.log",
            dir.file_name().unwrap().to_string_lossy()
        ))
        .exists());

    // Its options rotate and compress as json-file's do.
    d.ok(&[
        "run",
        "--name",
        "loc2",
        "--log-driver",
        "local",
        "--log-opt",
        "max-size=10k",
        "--log-opt",
        "max-file=3",
        "busybox",
        "sh",
        "-c",
        CHATTY,
    ]);
    let dir = container_dir(&d, "loc2").join("local-logs");
    let files = log_files(&dir, "container.log");
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["container.log", "container.log.1.gz", "container.log.2.gz"]
    );
    let (first, last) = consecutive(&d.ok(&["logs", "loc2"]));
    assert!(first > 1000 && last == 2999, "{first}..{last}");
    assert_eq!(
        d.ok(&["logs", "--tail", "2", "loc2"]),
        "line 2998\nline 2999\n"
    );

    if d.docker_or_say() {
        let (_, err, c) = d.docker_text(&[
            "run",
            "-d",
            "--name",
            "loc3",
            "--log-driver",
            "local",
            "busybox",
            "sh",
            "-c",
            "for i in 1 2 3; do echo line $i; sleep 0.2; done",
        ]);
        assert_eq!(c, 0, "{err}");
        let (out, err, c) = d.docker_text(&["logs", "-f", "loc3"]);
        assert_eq!((out.as_str(), c), ("line 1\nline 2\nline 3\n", 0), "{err}");
        let (out, _, _) = d.docker_text(&["info", "-f", "{{.LoggingDriver}}"]);
        assert_eq!(out, "json-file\n");
        d.docker_text(&["rm", "loc3"]);
    }
    d.ok(&["rm", "loc", "loc2"]);
}

#[test]
fn bad_log_options_are_refused_in_dockers_words_and_nothing_is_made() {
    let d = daemon_or_skip!();
    d.load_busybox();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--log-opt", "x=1"],
            "unknown log opt 'x' for json-file log driver",
        ),
        (
            &["--log-driver", "local", "--log-opt", "labels=a"],
            "unknown log opt 'labels' for log driver local",
        ),
        (&["--log-opt", "max-size=10q"], "invalid size: '10q'"),
        (
            &["--log-opt", "max-size=0"],
            "max-size must be a positive number",
        ),
        (
            &["--log-opt", "max-file=many"],
            "invalid value for max-file: many: strconv.Atoi: parsing \"many\": invalid syntax",
        ),
        (
            &["--log-opt", "max-file=0"],
            "max-file cannot be less than 1",
        ),
        (
            &["--log-opt", "compress=true", "--log-opt", "max-size=1m"],
            "compress cannot be true when max-file is less than 2 or max-size is not set",
        ),
        (
            &["--log-driver", "local", "--log-opt", "max-file=1"],
            "compression cannot be enabled when max file count is 1",
        ),
    ];
    let docker = d.docker_or_say();
    for (flags, words) in cases {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend(["busybox", "true"]);
        let (_, err, code) = text(&d.berth(&args));
        assert_eq!(code, 125, "{args:?}: {err}");
        assert!(err.contains(words), "berth {args:?}: {err}");
        if docker {
            let (_, err, code) = d.docker_text(&args);
            assert_eq!(code, 125, "{args:?}: {err}");
            assert!(err.contains(words), "docker {args:?}: {err}");
        }
    }
    // The CLIs' own check: options for a driver that keeps nothing.
    let (_, err, code) = text(&d.berth(&[
        "run",
        "--log-driver",
        "none",
        "--log-opt",
        "a=b",
        "busybox",
        "true",
    ]));
    assert_eq!(
        (code, err.trim()),
        (125, "berth: invalid logging opts for driver none")
    );
    assert_eq!(d.ok(&["ps", "-aq"]), "");
}

#[test]
fn labels_env_and_tag_become_attributes_that_details_shows() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&[
        "run",
        "--name",
        "attrs",
        "-l",
        "team=web",
        "-l",
        "com.example.tier=front",
        "-e",
        "STAGE=prod",
        "--log-opt",
        "labels=team",
        "--log-opt",
        "labels-regex=^com\\.",
        "--log-opt",
        "env=STAGE",
        "--log-opt",
        "tag={{.ImageName}}/{{.Name}}",
        "busybox",
        "echo",
        "hi",
    ]);
    let dir = container_dir(&d, "attrs");
    let id = dir.file_name().unwrap().to_string_lossy().into_owned();
    let raw = std::fs::read_to_string(dir.join(format!("{id}-json.log"))).unwrap();
    assert!(
        raw.starts_with(
            "{\"log\":\"hi\\n\",\"stream\":\"stdout\",\"attrs\":{\"STAGE\":\"prod\",\
             \"com.example.tier\":\"front\",\"tag\":\"busybox/attrs\",\"team\":\"web\"},\"time\":"
        ),
        "{raw}"
    );
    assert_eq!(d.ok(&["logs", "attrs"]), "hi\n");
    let want = "STAGE=prod,com.example.tier=front,tag=busybox%2Fattrs,team=web hi\n";
    assert_eq!(d.ok(&["logs", "--details", "attrs"]), want);
    if d.docker_or_say() {
        let (out, err, _) = d.docker_text(&["logs", "--details", "attrs"]);
        assert_eq!(out, want, "{err}");
    }
    d.ok(&["rm", "attrs"]);
}

#[test]
fn the_daemon_log_driver_and_options_are_the_default() {
    let Some(d) = common::TestDaemon::start_with(&[
        "--log-driver",
        "local",
        "--log-opt",
        "max-size=5k",
        "--log-opt",
        "max-file=2",
    ]) else {
        eprintln!("SKIPPED: this e2e test needs root");
        return;
    };
    d.load_busybox();
    d.ok(&["run", "--name", "dflt", "busybox", "sh", "-c", CHATTY]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{json .HostConfig.LogConfig}}", "dflt"])
            .trim(),
        r#"{"Config":{"max-file":"2","max-size":"5k"},"Type":"local"}"#
    );
    let dir = container_dir(&d, "dflt").join("local-logs");
    let names: Vec<String> = log_files(&dir, "container.log")
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(names, ["container.log", "container.log.1.gz"]);
    assert_eq!(d.ok(&["logs", "--tail", "1", "dflt"]), "line 2999\n");
    // A container's own driver takes none of the daemon's options; its own opts win.
    d.ok(&[
        "create",
        "--name",
        "own",
        "--log-driver",
        "json-file",
        "busybox",
        "true",
    ]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{json .HostConfig.LogConfig}}", "own"])
            .trim(),
        r#"{"Config":{},"Type":"json-file"}"#
    );
    d.ok(&[
        "create",
        "--name",
        "mine",
        "--log-opt",
        "max-size=7k",
        "busybox",
        "true",
    ]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{json .HostConfig.LogConfig}}", "mine"])
            .trim(),
        r#"{"Config":{"max-file":"2","max-size":"7k"},"Type":"local"}"#
    );
    let info = d.ok(&["info"]);
    assert!(info.contains(" Logging Driver: local\n"), "{info}");
    d.ok(&["rm", "dflt", "own", "mine"]);

    // A daemon with a bad default does not start, and makes nothing.
    let root = d.dir.path().join("never");
    let out = std::process::Command::new(common::berth_bin())
        .args(["daemon", "--root"])
        .arg(&root)
        .args(["--log-opt", "colour=blue"])
        .output()
        .unwrap();
    let (_, err, code) = text(&out);
    assert_ne!(code, 0);
    assert!(
        err.contains("the default log driver: unknown log opt 'colour' for json-file log driver"),
        "{err}"
    );
    assert!(!root.exists());
}
