//! e2e: Debian's `docker-compose` (1.29, a Python client of the Engine API) brings up a
//! two-service application on a user network against berth: the services find each other by
//! service name through the embedded DNS, `docker-compose ps` lists them, and `down` removes
//! every container and the network. Skips, saying so, where docker-compose is not installed.
//! Traffic goes only between the test's own containers; forwarded names go to 127.0.0.1.

mod common;

use common::text;
use std::process::Command;

const COMPOSE_FILE: &str = r#"version: "3.7"
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 80 -h /www"]
    dns: 127.0.0.1
    networks: [app]
  client:
    image: busybox
    command: ["sleep", "1d"]
    dns: 127.0.0.1
    networks: [app]
networks:
  app: {}
"#;

fn compose(d: &common::TestDaemon, dir: &std::path::Path, args: &[&str]) -> (String, String, i32) {
    text(
        &Command::new("docker-compose")
            .current_dir(dir)
            .env("DOCKER_HOST", d.host())
            .env("COMPOSE_PROJECT_NAME", "berthapp")
            .env("COMPOSE_INTERACTIVE_NO_CLI", "1")
            .args(args)
            .output()
            .expect("running docker-compose"),
    )
}

#[test]
fn compose_brings_up_two_services_that_find_each_other_by_name() {
    let d = daemon_or_skip!();
    if !common::installed("docker-compose") {
        eprintln!("SKIPPED: docker-compose is not installed (apt install docker-compose)");
        return;
    }
    d.load_busybox();
    let project = d.dir.path().join("app");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("docker-compose.yml"), COMPOSE_FILE).unwrap();

    let (out, err, code) = compose(&d, &project, &["up", "-d"]);
    assert_eq!(code, 0, "compose up: {out}{err}");
    // Compose names things <project>_<name>: the network and one container per service.
    let networks = d.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(networks.lines().any(|n| n == "berthapp_app"), "{networks}");
    let names = d.ok(&["ps", "--format", "{{.Names}}"]);
    for service in ["berthapp_web_1", "berthapp_client_1"] {
        assert!(names.lines().any(|n| n == service), "{service} in {names}");
    }
    let (ps, err, code) = compose(&d, &project, &["ps"]);
    assert_eq!(code, 0, "compose ps: {err}");
    assert!(ps.contains("berthapp_web_1") && ps.contains("Up"), "{ps}");

    // The client reaches the web service by its service name, over HTTP, once httpd listens.
    let mut last = String::new();
    common::wait_until("the client reaches web by name", || {
        let (out, err, _) = compose(
            &d,
            &project,
            &[
                "exec",
                "-T",
                "client",
                "sh",
                "-c",
                "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 web 80",
            ],
        );
        last = format!("{out}{err}");
        out.contains("hello-from-web")
    });
    assert!(last.contains("200 OK"), "{last}");
    // The name resolves through the embedded DNS, to the web container's address on the network.
    let web_ip = d.ok(&[
        "inspect",
        "-f",
        "{{(index .NetworkSettings.Networks \"berthapp_app\").IPAddress}}",
        "berthapp_web_1",
    ]);
    let (lookup, err, code) = compose(&d, &project, &["exec", "-T", "client", "nslookup", "web"]);
    assert_eq!(code, 0, "nslookup web: {lookup}{err}");
    assert!(lookup.contains(web_ip.trim()), "web is {web_ip}: {lookup}");

    let (out, err, code) = compose(&d, &project, &["down"]);
    assert_eq!(code, 0, "compose down: {out}{err}");
    assert_eq!(
        d.ok(&["ps", "-aq"]).trim(),
        "",
        "containers left after down"
    );
    let networks = d.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!networks.lines().any(|n| n == "berthapp_app"), "{networks}");
    let leaks = d.leaks_but_the_daemon();
    assert!(leaks.is_empty(), "left after compose down: {leaks:?}");
}
