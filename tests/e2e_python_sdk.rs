//! e2e: the Python `docker` SDK drives berth's daemon. Skips when not root or when the SDK
//! is not importable (vagrant/provision.sh installs Debian's python3-docker).

mod common;

const SCRIPT: &str = r#"
import docker, sys
c = docker.from_env()
assert c.ping()
out = c.containers.run("busybox", "echo hi", remove=True)
assert out == b"hi\n", out
ct = c.containers.run("busybox", ["sh", "-c", "echo started; sleep 30"], detach=True, name="py")
assert [x.name for x in c.containers.list()] == ["py"]
ct.reload()
assert ct.status == "running" and ct.attrs["NetworkSettings"]["IPAddress"], ct.attrs
ct.stop(timeout=1)
assert ct.wait()["StatusCode"] == 137
assert ct.logs() == b"started\n", ct.logs()
ct.remove()
assert c.containers.list(all=True) == []
assert ["busybox:latest"] in [i.tags for i in c.images.list()]
try:
    c.containers.run("busybox", "nosuchcommand", remove=True)
    sys.exit("a missing command must fail")
except docker.errors.APIError as e:
    assert "executable file not found" in str(e), str(e)
print("ok")
"#;

#[test]
fn python_sdk_runs_lists_stops_and_reads_logs() {
    let d = daemon_or_skip!();
    // The first interpreter that can import the SDK: the one on PATH, or Debian's own.
    let python = ["python3", "/usr/bin/python3"].into_iter().find(|py| {
        std::process::Command::new(py)
            .args(["-c", "import docker"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    });
    let Some(python) = python else {
        eprintln!(
            "SKIPPED: the Python docker SDK is not installed (apt-get install python3-docker)"
        );
        return;
    };
    d.load_busybox();
    let out = std::process::Command::new(python)
        .args(["-c", SCRIPT])
        .env("DOCKER_HOST", d.host())
        .output()
        .unwrap();
    let (stdout, stderr, code) = common::text(&out);
    assert_eq!(
        (stdout.as_str(), code),
        ("ok\n", 0),
        "{stderr}\n{}",
        d.log()
    );
}
