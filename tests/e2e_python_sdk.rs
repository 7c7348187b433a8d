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

/// Attach before start, as the SDK's tests do: the input and its end are sent before the
/// container starts, with and without a terminal; and kill answers with the exit recorded.
const ATTACH_BEFORE_START: &str = r#"
import docker, socket, struct
api = docker.from_env().api

def read_all(sock):
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk

def demux(data):
    out = b""
    while data:
        kind, size = struct.unpack(">BxxxL", data[:8])
        out += data[8:8 + size]
        data = data[8 + size:]
    return out

def create(cmd, **kw):
    # StdinOnce, as the docker CLI sets it: the end of the attach's input ends the process's.
    config = api.create_container_config("busybox", cmd, stdin_open=True, **kw)
    config["StdinOnce"] = True
    return api.create_container_from_config(config)

ct = create(["tr", "a-z", "A-Z"])
sock = api.attach_socket(ct, params={"stdin": 1, "stdout": 1, "stream": 1})._sock
sock.sendall(b"hello\n")
sock.shutdown(socket.SHUT_WR)
api.start(ct)
out = demux(read_all(sock))
assert out == b"HELLO\n", out
assert api.wait(ct)["StatusCode"] == 0
api.remove_container(ct)

ct = create(["sh"], tty=True)
sock = api.attach_socket(ct, params={"stdin": 1, "stdout": 1, "stream": 1})._sock
sock.sendall(b"echo h$((20+22))i; exit 3\n")
api.start(ct)
out = read_all(sock)
assert b"h42i" in out, out
assert api.wait(ct)["StatusCode"] == 3
api.remove_container(ct)

ct = api.create_container("busybox", ["sleep", "60"])
api.start(ct)
api.kill(ct)
state = api.inspect_container(ct)["State"]
assert not state["Running"] and state["ExitCode"] == 137, state
api.remove_container(ct)
print("ok")
"#;

/// The first interpreter that can import the SDK: the one on PATH, or Debian's own.
fn sdk_python() -> Option<&'static str> {
    let python = ["python3", "/usr/bin/python3"].into_iter().find(|py| {
        std::process::Command::new(py)
            .args(["-c", "import docker"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    });
    if python.is_none() {
        eprintln!(
            "SKIPPED: the Python docker SDK is not installed (apt-get install python3-docker)"
        );
    }
    python
}

fn run_script(d: &common::TestDaemon, python: &str, script: &str) {
    d.load_busybox();
    let mut cmd = std::process::Command::new(python);
    cmd.args(["-c", script]).env("DOCKER_HOST", d.host());
    let out = common::output_with_stdin(&mut cmd, b"");
    let (stdout, stderr, code) = common::text(&out);
    assert_eq!(
        (stdout.as_str(), code),
        ("ok\n", 0),
        "{stderr}\n{}",
        d.log()
    );
}

#[test]
fn python_sdk_runs_lists_stops_and_reads_logs() {
    let d = daemon_or_skip!();
    let Some(python) = sdk_python() else { return };
    run_script(&d, python, SCRIPT);
}

#[test]
fn python_sdk_attaches_before_start_and_kills() {
    let d = daemon_or_skip!();
    let Some(python) = sdk_python() else { return };
    run_script(&d, python, ATTACH_BEFORE_START);
}

const BUILD: &str = r#"
import docker, io
c = docker.from_env()
img, logs = c.images.build(
    fileobj=io.BytesIO(b'FROM busybox\nARG V=1\nRUN echo "v$V" > /v\nCMD ["cat", "/v"]\n'),
    tag='sdk-built', buildargs={'V': '7'}, labels={'by': 'sdk'})
assert 'sdk-built:latest' in img.tags, img.tags
assert img.labels['by'] == 'sdk', img.labels
assert any('Successfully built' in l.get('stream', '') for l in logs)
assert c.containers.run('sdk-built', remove=True) == b'v7\n'
try:
    c.images.build(fileobj=io.BytesIO(b'FROM busybox\nRUN exit 5\n'))
    raise SystemExit('a failing build did not raise')
except docker.errors.BuildError as e:
    assert "returned a non-zero code: 5" in e.msg, e.msg
print('ok')
"#;

#[test]
fn python_sdk_builds_an_image() {
    let d = daemon_or_skip!();
    let Some(python) = sdk_python() else { return };
    run_script(&d, python, BUILD);
}

/// The SDK's port tests, on ephemeral ports (theirs bind fixed ones): `ports={"2222/tcp":
/// None}` (test_ports_target_none), explicit 127.0.0.1 bindings read back through `port`
/// (PortTest.test_port), and `publish_all_ports` over tcp and udp exposed ports.
const PORTS: &str = r#"
import docker
c = docker.from_env()
api = c.api
ct = c.containers.run("busybox", "sleep 100", detach=True, ports={"2222/tcp": None})
ct.reload()
assert list(ct.ports) == ["2222/tcp"], ct.ports
for b in ct.ports["2222/tcp"]:
    assert sorted(b) == ["HostIp", "HostPort"] and int(b["HostPort"]) > 0, ct.ports
ct.remove(force=True)

ct = api.create_container("busybox", ["sleep", "60"], ports=[1111, 2222, (3333, "udp")],
    host_config=api.create_host_config(
        port_bindings={"1111": ("127.0.0.1", None), "3333/udp": ("127.0.0.1", None)},
        publish_all_ports=True, network_mode="bridge"))
api.start(ct)
tcp = set()
for port, ip in [("1111", "127.0.0.1"), ("2222", "0.0.0.0"), ("3333/udp", "127.0.0.1")]:
    b = api.port(ct, port)
    assert len(b) == 1 and b[0]["HostIp"] == ip and int(b[0]["HostPort"]) > 0, (port, b)
    if "udp" not in port:
        tcp.add(b[0]["HostPort"])
assert len(tcp) == 2, tcp
assert api.inspect_container(ct)["HostConfig"]["PublishAllPorts"] is True
api.remove_container(ct, force=True)
print("ok")
"#;

#[test]
fn python_sdk_publishes_ports() {
    let d = daemon_or_skip!();
    let Some(python) = sdk_python() else { return };
    run_script(&d, python, PORTS);
}

/// Volumes through the SDK: a named volume shared by two containers, a bind, the in-use
/// conflict, `remove(v=True)` taking an anonymous volume, and prune.
const VOLUMES: &str = r#"
import docker, os, tempfile
c = docker.from_env()
v = c.volumes.create(name="pyvol", labels={"from": "sdk"})
assert v.attrs["Driver"] == "local" and v.attrs["Labels"] == {"from": "sdk"}, v.attrs
c.containers.run("busybox", "sh -c 'echo kept > /data/f'", volumes={"pyvol": {"bind": "/data", "mode": "rw"}}, remove=True)
host = tempfile.mkdtemp()
out = c.containers.run("busybox", "sh -c 'cat /in/f; echo bound > /out/g'",
    volumes={"pyvol": {"bind": "/in", "mode": "ro"}, host: {"bind": "/out", "mode": "rw"}}, remove=True)
assert out == b"kept\n", out
assert open(os.path.join(host, "g")).read() == "bound\n"
ct = c.containers.create("busybox", "true", volumes=["pyvol:/data", "/anon"])
mounts = {m["Destination"]: m for m in ct.attrs["Mounts"]}
assert mounts["/data"]["Name"] == "pyvol" and mounts["/data"]["RW"], mounts
anon = mounts["/anon"]["Name"]
assert len(anon) == 64, anon
try:
    v.remove()
    raise SystemExit("a volume in use must not be removed")
except docker.errors.APIError as e:
    assert e.status_code == 409 and "volume is in use" in str(e), str(e)
ct.remove(v=True)
names = [x.name for x in c.volumes.list()]
assert names == ["pyvol"], names
assert c.volumes.prune()["VolumesDeleted"] in (None, []), "a named volume is not pruned by default"
v.remove()
assert c.volumes.list() == []
print("ok")
"#;

#[test]
fn python_sdk_uses_volumes_and_binds() {
    let d = daemon_or_skip!();
    let Some(python) = sdk_python() else { return };
    run_script(&d, python, VOLUMES);
}
