//! e2e: pull, push, login, logout, search and run's pull of a missing image, against a real
//! registry (Debian's docker-registry on 127.0.0.1), through berth's CLI and the docker CLI;
//! a corrupted blob registers nothing; concurrent pulls of one layer unpack it once.

mod common;

use common::registry::TestRegistry;
use common::{output_with_stdin, run_ok, text};
use std::path::Path;

fn image_id(d: &common::TestDaemon, name: &str) -> String {
    d.ok(&["image", "inspect", "-f", "{{.Id}}", name])
        .trim()
        .to_string()
}

/// Layer dirs in overlay2/ (not the `l/` links), and layer chains in layerdb.
fn layer_counts(d: &common::TestDaemon) -> (usize, usize) {
    let count = |p: &Path, skip: &[&str]| {
        std::fs::read_dir(p)
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    // A removed container's layer dirs, renamed aside while they are deleted.
                    .filter(|n| !skip.contains(&n.as_str()) && !n.starts_with(".trash-"))
                    .count()
            })
            .unwrap_or(0)
    };
    (
        count(&d.root.join("overlay2"), &["l"]),
        count(&d.root.join("image/overlay2/layerdb/sha256"), &[]),
    )
}

#[test]
fn push_and_pull_round_trip_through_a_real_registry() {
    let d = daemon_or_skip!();
    let Some(reg) = TestRegistry::start(None) else {
        return;
    };
    d.load_busybox();
    let id = image_id(&d, "busybox");
    let h = &reg.host;
    let tools = format!("{h}/tools/busybox:1.0");
    let other = format!("{h}/other/bb:2");

    d.ok(&["tag", "busybox", &tools]);
    let out = d.ok(&["push", &tools]);
    assert!(
        out.starts_with(&format!(
            "The push refers to repository [{h}/tools/busybox]\n"
        )),
        "{out}"
    );
    assert!(out.contains(": Pushed\n"), "{out}");
    let digest_line = out.lines().last().unwrap().to_string();
    assert!(digest_line.starts_with("1.0: digest: sha256:"), "{out}");
    let digest = digest_line.split_whitespace().nth(2).unwrap().to_string();

    // Again: the registry has the layer. Into another repository: mounted, not uploaded.
    assert!(d.ok(&["push", &tools]).contains(": Layer already exists\n"));
    d.ok(&["tag", "busybox", &other]);
    let out = d.ok(&["push", &other]);
    assert!(out.contains(": Mounted from tools/busybox\n"), "{out}");

    // The manifest in the registry is Docker's schema 2, and its digest is what push said.
    let out = std::process::Command::new("curl")
        .args([
            "-sf",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
        ])
        .arg(format!("http://{h}/v2/tools/busybox/manifests/1.0"))
        .output();
    if let Ok(out) = out {
        if out.status.success() {
            let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(m["schemaVersion"], 2);
            assert_eq!(m["config"]["digest"].as_str(), Some(id.as_str()));
            use sha2::Digest;
            assert_eq!(
                format!("sha256:{}", hex::encode(sha2::Sha256::digest(&out.stdout))),
                digest
            );
        }
    }

    // Gone locally, then pulled back: the same image id, content addressed end to end.
    d.ok(&["rmi", "busybox", &tools, &other]);
    assert_eq!(d.ok(&["images", "-q"]), "");
    assert_eq!(layer_counts(&d), (0, 0));
    let out = d.ok(&["pull", &tools]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1.0: Pulling from tools/busybox", "{out}");
    assert!(out.contains(": Pull complete\n"), "{out}");
    assert!(out.contains(&format!("Digest: {digest}\n")), "{out}");
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {tools}\n")),
        "{out}"
    );
    assert_eq!(lines.last().copied(), Some(tools.as_str()));
    assert_eq!(image_id(&d, &tools), id);
    let out = d.ok(&["pull", &tools]);
    assert!(
        out.contains(&format!("Status: Image is up to date for {tools}")),
        "{out}"
    );
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{json .RepoDigests}}", &tools])
            .trim(),
        format!("[\"{h}/tools/busybox@{digest}\"]")
    );
    assert!(d.ok(&["images", "--digests"]).contains(&digest));
    // By digest too.
    let by_digest = format!("{h}/tools/busybox@{digest}");
    assert_eq!(d.ok(&["pull", "-q", &by_digest]).trim(), by_digest);

    // run of an image that is not here pulls it first, progress on stderr.
    let out = d.berth(&["run", "--rm", &other, "echo", "pulled and ran"]);
    let (stdout, stderr, code) = text(&out);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "pulled and ran\n");
    assert!(
        stderr.contains(&format!("Unable to find image '{other}' locally")),
        "{stderr}"
    );
    assert!(stderr.contains("2: Pulling from other/bb"), "{stderr}");
    let (_, stderr, code) = text(&d.berth(&[
        "run",
        "--rm",
        "--pull",
        "never",
        &format!("{h}/other/nope:1"),
        "true",
    ]));
    assert_ne!(code, 0);
    assert!(stderr.contains("No such image"), "{stderr}");

    // A name the registry does not know: Docker's error, exit 1, nothing registered.
    let (_, stderr, code) = text(&d.berth(&["pull", &format!("{h}/nothere")]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!(
            "Error response from daemon: manifest for {h}/nothere:latest not found"
        )),
        "{stderr}"
    );

    let out = d.ok(&["search", &format!("{h}/b")]);
    assert!(out.starts_with("NAME"), "{out}");
    assert!(out.contains(&format!("{h}/other/bb")), "{out}");
    assert!(out.contains(&format!("{h}/tools/busybox")), "{out}");

    // The docker CLI drives the same endpoints.
    if let Some(mut docker) = d.docker() {
        let shared = format!("{h}/from/docker:3");
        run_ok(docker.args(["tag", &tools, &shared]));
        let stdout = run_ok(d.docker().unwrap().args(["push", &shared]));
        assert!(stdout.contains("3: digest: sha256:"), "{stdout}");
        d.ok(&["rmi", &shared]);
        let stdout = run_ok(d.docker().unwrap().args(["pull", &shared]));
        assert!(
            stdout.contains("Status: Downloaded newer image"),
            "{stdout}"
        );
        let out = d
            .docker()
            .unwrap()
            .args(["pull", &format!("{h}/nothere")])
            .output()
            .unwrap();
        assert!(!out.status.success());
    } else {
        eprintln!("SKIPPED (part): the docker CLI is not installed");
    }
}

#[test]
fn basic_auth_login_and_logout() {
    let d = daemon_or_skip!();
    let Some(reg) = TestRegistry::start(Some(("alice", "s3cret"))) else {
        return;
    };
    d.load_busybox();
    let h = &reg.host;
    let name = format!("{h}/private/bb:1");
    d.ok(&["tag", "busybox", &name]);

    let (_, stderr, code) = text(&d.berth(&["push", &name]));
    assert_eq!(code, 1);
    assert!(stderr.contains("no basic auth credentials"), "{stderr}");

    let login = |password: &str| {
        text(&output_with_stdin(
            d.cmd()
                .args(["login", "-u", "alice", "--password-stdin", h]),
            format!("{password}\n").as_bytes(),
        ))
    };
    let (_, stderr, code) = login("wrong");
    assert_eq!(code, 1);
    assert!(
        stderr.contains("incorrect username or password"),
        "{stderr}"
    );
    let config = d.dir.path().join("berth-config/config.json");
    assert!(!config.exists(), "a failed login stores nothing");

    let (stdout, stderr, code) = login("s3cret");
    assert_eq!(
        (stdout.as_str(), code),
        ("Login Succeeded\n", 0),
        "{stderr}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    assert!(d.ok(&["push", &name]).contains(": Pushed\n"));
    d.ok(&["rmi", &name]);
    assert!(d.ok(&["pull", &name]).contains("Status: "));

    assert_eq!(
        d.ok(&["logout", h]),
        format!("Removing login credentials for {h}\n")
    );
    assert_eq!(d.ok(&["logout", h]), format!("Not logged in to {h}\n"));
    d.ok(&["rmi", &name]);
    let (_, stderr, code) = text(&d.berth(&["pull", &name]));
    assert_eq!(code, 1);
    assert!(stderr.contains("no basic auth credentials"), "{stderr}");

    // The docker CLI logs in through the daemon (POST /auth) and keeps its own credentials.
    if let Some(mut docker) = d.docker() {
        let (stdout, stderr, code) = text(&output_with_stdin(
            docker.args(["login", "-u", "alice", "--password-stdin", h]),
            b"s3cret\n",
        ));
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("Login Succeeded"), "{stdout}");
        run_ok(d.docker().unwrap().args(["pull", &name]));
    }
}

#[test]
fn a_corrupted_blob_registers_nothing_and_concurrent_pulls_unpack_once() {
    let d = daemon_or_skip!();
    let Some(reg) = TestRegistry::start(None) else {
        return;
    };
    d.load_busybox();
    let h = &reg.host;
    let a = format!("{h}/lib/bb:a");
    let b = format!("{h}/lib/bb:b");
    d.ok(&["tag", "busybox", &a]);
    d.ok(&["tag", "busybox", &b]);
    d.ok(&["push", &a]);
    d.ok(&["push", &b]);
    d.ok(&["rmi", "busybox", &a, &b]);
    assert_eq!(layer_counts(&d), (0, 0));

    // The biggest blob is the layer. Flip one byte in its middle.
    let blobs = reg.dir.path().join("data/docker/registry/v2/blobs/sha256");
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for prefix in std::fs::read_dir(&blobs).unwrap().flatten() {
        for blob in std::fs::read_dir(prefix.path()).unwrap().flatten() {
            files.push(blob.path().join("data"));
        }
    }
    files.sort_by_key(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0));
    let layer = files.last().unwrap().clone();
    let good = std::fs::read(&layer).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    std::fs::write(&layer, &bad).unwrap();
    let (_, stderr, code) = text(&d.berth(&["pull", &a]));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("is corrupt: its content's digest is sha256:"),
        "{stderr}"
    );
    assert_eq!(d.ok(&["images", "-q"]), "");
    assert_eq!(layer_counts(&d), (0, 0), "a failed pull leaves no layer");
    assert_eq!(
        std::fs::read_dir(d.root.join("overlay2/l"))
            .unwrap()
            .count(),
        0,
        "nor a short link"
    );

    // Truncated: the same.
    std::fs::write(&layer, &good[..good.len() / 3]).unwrap();
    let (_, _, code) = text(&d.berth(&["pull", &a]));
    assert_eq!(code, 1);
    assert_eq!(layer_counts(&d), (0, 0));

    // Whole again; two pulls at once of two tags of the image share one unpack.
    std::fs::write(&layer, &good).unwrap();
    let spawn = |name: &str| {
        d.cmd()
            .args(["pull", name])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (pa, pb) = (spawn(&a), spawn(&b));
    for p in [pa, pb] {
        let (stdout, stderr, code) = text(&p.wait_with_output().unwrap());
        assert_eq!(code, 0, "{stdout}{stderr}\n{}", d.log());
    }
    assert_eq!(layer_counts(&d), (1, 1));
    assert_eq!(d.ok(&["images", "-q"]).lines().count(), 1);
    assert_eq!(d.ok(&["run", "--rm", &b, "echo", "ok"]), "ok\n");
}

#[test]
fn a_registry_mirror_serves_docker_hub_names() {
    let d = daemon_or_skip!();
    let Some(reg) = TestRegistry::start(None) else {
        return;
    };
    d.load_busybox();
    let h = &reg.host;
    // Docker Hub keeps official images under library/.
    d.ok(&["tag", "busybox", &format!("{h}/library/busybox:latest")]);
    d.ok(&["push", &format!("{h}/library/busybox:latest")]);
    drop(d);

    let m = common::TestDaemon::start_with(&["--registry-mirror", h]).unwrap();
    let out = m.ok(&["pull", "busybox"]);
    assert!(
        out.starts_with("Using default tag: latest\nlatest: Pulling from library/busybox\n"),
        "{out}"
    );
    assert!(out.ends_with("docker.io/library/busybox:latest\n"), "{out}");
    assert_eq!(
        m.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "busybox:latest\n"
    );
    assert_eq!(
        m.ok(&["run", "--rm", "busybox", "echo", "mirrored"]),
        "mirrored\n"
    );
}

#[test]
fn an_index_is_followed_to_the_hosts_platform() {
    let d = daemon_or_skip!();
    let Some(reg) = TestRegistry::start(None) else {
        return;
    };
    d.load_busybox();
    let h = &reg.host;
    // Two images in one repository: busybox (for amd64) and a commit of it (posing as arm64).
    d.ok(&["create", "--name", "other", "busybox", "touch", "/arm"]);
    d.ok(&["commit", "other", "other:1"]);
    let manifest_of = |name: &str| {
        let out = d.ok(&["push", name]);
        out.lines()
            .last()
            .unwrap()
            .split_whitespace()
            .nth(2)
            .unwrap()
            .to_string()
    };
    d.ok(&["tag", "busybox", &format!("{h}/multi/bb:amd64")]);
    d.ok(&["tag", "other:1", &format!("{h}/multi/bb:arm64")]);
    let amd64 = manifest_of(&format!("{h}/multi/bb:amd64"));
    let arm64 = manifest_of(&format!("{h}/multi/bb:arm64"));
    let size = |digest: &str| {
        run_ok(
            std::process::Command::new("curl")
                .args([
                    "-sf",
                    "-H",
                    "Accept: application/vnd.docker.distribution.manifest.v2+json",
                ])
                .arg(format!("http://{h}/v2/multi/bb/manifests/{digest}")),
        )
        .len()
    };
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": arm64,
             "size": size(&arm64), "platform": {"architecture": "arm64", "os": "linux"}},
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": amd64,
             "size": size(&amd64), "platform": {"architecture": "amd64", "os": "linux"}},
        ],
    });
    run_ok(
        std::process::Command::new("curl")
            .args([
                "-sf",
                "-X",
                "PUT",
                "-H",
                "Content-Type: application/vnd.oci.image.index.v1+json",
            ])
            .arg("--data-binary")
            .arg(index.to_string())
            .arg(format!("http://{h}/v2/multi/bb/manifests/multi")),
    );
    let busybox_id = image_id(&d, "busybox");
    d.ok(&["rm", "other"]);
    d.ok(&[
        "rmi",
        "-f",
        "other:1",
        &format!("{h}/multi/bb:amd64"),
        &format!("{h}/multi/bb:arm64"),
        "busybox",
    ]);
    assert_eq!(d.ok(&["images", "-q"]), "");
    d.ok(&["pull", &format!("{h}/multi/bb:multi")]);
    assert_eq!(image_id(&d, &format!("{h}/multi/bb:multi")), busybox_id);
}

/// A registry that wants Bearer tokens, played by a small Python server (the distribution
/// registry's token auth needs a token service with signed JWTs): `/v2/` answers 401 with a
/// Bearer challenge, `/token` hands out a token for Basic credentials, and the image's
/// manifest and blobs are served to whoever shows the token.
const TOKEN_REGISTRY: &str = r#"
import base64, http.server, json, os, sys
port, root, user, password, token = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
log = open(os.path.join(root, "requests.log"), "a")
class H(http.server.BaseHTTPRequestHandler):
    def send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    def do_HEAD(self):
        self.do_GET()
    def do_GET(self):
        log.write(self.path + "\n"); log.flush()
        if self.path.startswith("/token"):
            want = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if self.headers.get("Authorization") != want:
                return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
            return self.send(200, json.dumps({"token": token}).encode())
        if self.headers.get("Authorization") != "Bearer " + token:
            challenge = f'Bearer realm="http://127.0.0.1:{port}/token",service="fake-registry"'
            return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"token required"}]}',
                             [("WWW-Authenticate", challenge)])
        if self.path == "/v2/":
            return self.send(200, b"{}")
        name = self.path.split("/")[-1]
        path = os.path.join(root, "blobs", name.replace("sha256:", ""))
        if "/manifests/" in self.path:
            path = os.path.join(root, "manifest.json")
        if not os.path.exists(path):
            return self.send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')
        data = open(path, "rb").read()
        ctype = "application/vnd.docker.distribution.manifest.v2+json" if "/manifests/" in self.path else "application/octet-stream"
        return self.send(200, data, [("Content-Type", ctype)])
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
"#;

#[test]
fn bearer_token_auth_against_a_token_server() {
    let d = daemon_or_skip!();
    if !common::installed("python3") {
        eprintln!("SKIPPED: needs python3");
        return;
    }
    d.load_busybox();
    use sha2::Digest;
    let digest = |b: &[u8]| format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)));
    // The image as a registry holds it: config and gzipped layer as blobs, a schema 2 manifest.
    let mut config = Vec::new();
    let mut layer = Vec::new();
    {
        let out = d.berth(&["save", "busybox"]);
        let mut ar = tar::Archive::new(&out.stdout[..]);
        let mut files = std::collections::BTreeMap::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            files.insert(name, data);
        }
        let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        config.extend_from_slice(&files[manifest[0]["Config"].as_str().unwrap()]);
        layer.extend_from_slice(&files[manifest[0]["Layers"][0].as_str().unwrap()]);
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &layer).unwrap();
    let layer_gz = gz.finish().unwrap();
    let root = d.dir.path().join("token-registry");
    std::fs::create_dir_all(root.join("blobs")).unwrap();
    for blob in [&config, &layer_gz] {
        std::fs::write(root.join("blobs").join(&digest(blob)[7..]), blob).unwrap();
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(), "digest": digest(&config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": layer_gz.len(), "digest": digest(&layer_gz)}],
    });
    std::fs::write(root.join("manifest.json"), manifest.to_string()).unwrap();
    std::fs::write(root.join("server.py"), TOKEN_REGISTRY).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token = format!("tok-{}", d.tag);
    struct Server(std::process::Child);
    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Server(
        std::process::Command::new("python3")
            .arg(root.join("server.py"))
            .args([
                &port.to_string(),
                root.to_str().unwrap(),
                "alice",
                "s3cret",
                &token,
            ])
            .spawn()
            .unwrap(),
    );
    let host = format!("127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(&host).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // Without credentials the token server refuses; with them, login and pull work.
    let image = format!("{host}/lib/bb:1");
    let (_, stderr, code) = text(&d.berth(&["pull", &image]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("bad credentials"), "{stderr}");
    let login = |password: &str| {
        text(&output_with_stdin(
            d.cmd()
                .args(["login", "-u", "alice", "--password-stdin", &host]),
            format!("{password}\n").as_bytes(),
        ))
    };
    let (_, stderr, code) = login("wrong");
    assert_eq!(code, 1, "{stderr}");
    let (stdout, stderr, code) = login("s3cret");
    assert_eq!(
        (stdout.as_str(), code),
        ("Login Succeeded\n", 0),
        "{stderr}"
    );
    let id = image_id(&d, "busybox");
    d.ok(&["rmi", "busybox"]);
    let out = d.ok(&["pull", &image]);
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    assert_eq!(image_id(&d, &image), id);
    // The token was asked for the repository and the action.
    let log = std::fs::read_to_string(root.join("requests.log")).unwrap();
    assert!(log.contains("scope=repository%3Alib%2Fbb%3Apull"), "{log}");
}

#[test]
fn all_tags_push_and_pull() {
    let d = daemon_or_skip!();
    let Some(reg) = TestRegistry::start(None) else {
        return;
    };
    d.load_busybox();
    let h = &reg.host;
    let repo = format!("{h}/every/bb");
    d.ok(&["tag", "busybox", &format!("{repo}:a")]);
    d.ok(&["tag", "busybox", &format!("{repo}:b")]);
    let (_, err, code) = text(&d.berth(&["push", "-a", &format!("{repo}:a")]));
    assert_eq!(code, 1);
    assert!(
        err.contains("tag can't be used with --all-tags/-a"),
        "{err}"
    );
    let out = d.ok(&["push", "--all-tags", &repo]);
    assert!(out.contains("a: digest: sha256:"), "{out}");
    assert!(out.contains("b: digest: sha256:"), "{out}");
    d.ok(&["rmi", &format!("{repo}:a"), &format!("{repo}:b")]);
    let out = d.ok(&["pull", "-a", &repo]);
    assert!(out.contains("a: Pulling from every/bb"), "{out}");
    assert!(out.contains("b: Pulling from every/bb"), "{out}");
    assert_eq!(out.lines().last(), Some(repo.as_str()));
    assert_eq!(
        d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}", &repo]),
        format!("{repo}:a\n{repo}:b\n")
    );
}
