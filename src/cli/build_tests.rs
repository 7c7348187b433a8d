use super::*;
use clap::Parser;

#[derive(Parser)]
struct Wrap {
    #[command(flatten)]
    a: BuildArgs,
}

fn args(argv: &[&str]) -> BuildArgs {
    Wrap::try_parse_from(std::iter::once("build").chain(argv.iter().copied()))
        .unwrap()
        .a
}

fn env(k: &str) -> Option<String> {
    (k == "FROM_ENV").then(|| "from the env".to_string())
}

#[test]
fn a_plain_build_sends_what_the_docker_cli_sends() {
    // The recorded `docker build -t t2 .`: dockerfile=Dockerfile&t=t2&version=1.
    let q = query(&args(&["-t", "t2", "."]), "Dockerfile", env).unwrap();
    assert_eq!(q, "dockerfile=Dockerfile&t=t2&version=1");
}

#[test]
fn every_flag_lands_in_the_query() {
    let a = args(&[
        "-t",
        "app:1",
        "--tag",
        "reg.example:5000/app:latest",
        "-f",
        "sub/Dockerfile",
        "--build-arg",
        "A=1",
        "--build-arg",
        "FROM_ENV",
        "--build-arg",
        "UNSET_ANYWHERE",
        "--build-arg",
        "SPACED=a b&c",
        "--label",
        "org.x=y",
        "--label",
        "flag",
        "--no-cache",
        "-q",
        "--target",
        "final",
        "--pull",
        "--network",
        "host",
        "--rm=false",
        "--force-rm",
        "--iidfile",
        "/tmp/id",
        "--cache-from",
        "a:1,b:2",
        "--cache-from",
        "c",
        "--add-host",
        "db:10.0.0.2",
        "--add-host",
        "v6=[::1]",
        "--shm-size",
        "64m",
        "-m",
        "1g",
        "--memory-swap",
        "-1",
        "-c",
        "512",
        "--cpuset-cpus",
        "0-1",
        "--cpuset-mems",
        "0",
        "--cpu-period",
        "100000",
        "--cpu-quota",
        "50000",
        "--platform",
        "Linux/AMD64",
        ".",
    ]);
    let q = query(&a, "sub/Dockerfile", env).unwrap();
    // Decoded, one pair a line, in the order sent.
    let pairs: Vec<String> = url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    insta::assert_snapshot!(pairs.join("\n"));
}

#[test]
fn the_network_default_and_zero_sizes_are_left_out() {
    let q = query(&args(&["--network", "default", "-m", "0", "."]), "", env).unwrap();
    assert_eq!(q, "version=1");
}

#[test]
fn flag_values_docker_refuses_are_refused_in_its_words() {
    let err = |argv: &[&str]| query(&args(argv), "", env).unwrap_err();
    assert_eq!(
        err(&["-t", "Bad:Tag:x", "."]),
        "invalid argument \"Bad:Tag:x\" for \"-t, --tag\" flag: invalid reference format"
    );
    assert_eq!(
        err(&["--build-arg", "=v", "."]),
        "invalid argument \"=v\" for \"--build-arg\" flag: invalid environment variable: =v"
    );
    assert_eq!(
        err(&["--label", "=v", "."]),
        "invalid argument \"=v\" for \"--label\" flag: invalid label '=v': empty name"
    );
    assert_eq!(
        err(&["--add-host", "nohost", "."]),
        "invalid argument \"nohost\" for \"--add-host\" flag: bad format for add-host: \"nohost\""
    );
    assert_eq!(
        err(&["--add-host", "h:999.1.1.1", "."]),
        "invalid argument \"h:999.1.1.1\" for \"--add-host\" flag: invalid IP address in add-host: \"999.1.1.1\""
    );
    assert!(err(&["-m", "lots", "."])
        .starts_with("invalid argument \"lots\" for \"-m, --memory\" flag"));
}

#[test]
fn the_upload_line_reads_like_dockers() {
    let mut u = Upload {
        sent: 2048,
        live: false,
        aside: Some(Arc::default()),
    };
    assert_eq!(u.line(), "Sending build context to daemon  2.048kB\r");
    u.sent = 12_290_000;
    assert_eq!(u.line(), "Sending build context to daemon  12.29MB\r");
    u.sent = 500;
    assert_eq!(u.line(), "Sending build context to daemon     500B\r");
    u.finish();
    let aside = u.aside.unwrap();
    assert_eq!(
        &*aside.lock().unwrap(),
        "Sending build context to daemon     500B\r\r\n"
    );
}

#[test]
fn queries_escape_as_go_does() {
    assert_eq!(query_escape("a b&c*~/"), "a+b%26c%2A~%2F");
}
