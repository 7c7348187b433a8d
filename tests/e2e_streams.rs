//! e2e: the hijacked streams of the Engine API, spoken raw over the daemon's socket as
//! docker-py speaks them. Whether exec output is framed follows the start request's `Tty`;
//! the Content-Type says raw or multiplexed by API version; attach replays the log with
//! `logs=1` and ends without `stream=1`; the detach keys (docker-py's lowercase `detachKeys`
//! too) end a session and leave the process running; and no stream byte travels with the
//! response head, where a client reading the head through a buffer would lose it.

mod common;

use common::TestDaemon;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// A connection that has sent one request; `head` reads the response head.
struct Conn {
    s: UnixStream,
    /// What was read past the head.
    rest: Vec<u8>,
}

impl Conn {
    /// `method path` with a JSON body (when given); upgraded to a raw stream when `upgrade`.
    fn send(d: &TestDaemon, method: &str, path: &str, body: Option<&str>, upgrade: bool) -> Conn {
        let mut s = UnixStream::connect(&d.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let body = body.unwrap_or("");
        // HTTP/1.0 without an upgrade, so the body ends with the connection, unchunked.
        let (version, conn) = if upgrade {
            ("HTTP/1.1", "Connection: Upgrade\r\nUpgrade: tcp\r\n")
        } else {
            ("HTTP/1.0", "")
        };
        write!(
            s,
            "{method} {path} {version}\r\nHost: berth\r\n{conn}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        Conn {
            s,
            rest: Vec::new(),
        }
    }

    /// The status line and headers, lower-cased.
    fn head(&mut self) -> String {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                self.rest = buf[end + 4..].to_vec();
                return String::from_utf8_lossy(&buf[..end]).to_lowercase();
            }
            let n = self.s.read(&mut chunk).unwrap();
            assert!(
                n > 0,
                "the connection closed before the head ended: {buf:?}"
            );
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The body of a response with a Content-Length (an error answered instead of a 101
    /// leaves the connection open).
    fn sized_body(mut self, head: &str) -> Vec<u8> {
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|n| n.trim().parse().ok())
            .expect("a content-length");
        let mut out = std::mem::take(&mut self.rest);
        let mut chunk = [0u8; 4096];
        while out.len() < len {
            let n = self.s.read(&mut chunk).unwrap();
            assert!(n > 0, "the connection closed inside the body");
            out.extend_from_slice(&chunk[..n]);
        }
        out
    }

    /// Everything after the head, to the end of the connection.
    fn rest(mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.rest);
        self.s.read_to_end(&mut out).unwrap();
        out
    }
}

fn content_type(head: &str) -> &str {
    head.lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .unwrap_or("")
}

/// Docker's frames: (stream, payload) for each 8-byte header and what follows it.
fn frames(mut b: &[u8]) -> Vec<(u8, String)> {
    let mut out = Vec::new();
    while !b.is_empty() {
        assert!(b.len() >= 8, "a torn frame header: {b:?}");
        let len = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as usize;
        assert!(
            b[0] <= 2 && b[1..4] == [0, 0, 0],
            "not a frame header: {b:?}"
        );
        out.push((b[0], String::from_utf8_lossy(&b[8..8 + len]).into_owned()));
        b = &b[8 + len..];
    }
    out
}

/// Frames of one stream run together (a terminal's output may come in several reads).
fn joined(frames: &[(u8, String)], stream: u8) -> String {
    frames
        .iter()
        .filter(|(s, _)| *s == stream)
        .map(|(_, p)| p.as_str())
        .collect()
}

fn post_json(d: &TestDaemon, path: &str, body: &str) -> (String, serde_json::Value) {
    let mut c = Conn::send(d, "POST", path, Some(body), false);
    let head = c.head();
    let rest = c.rest();
    (head, serde_json::from_slice(&rest).unwrap_or_default())
}

fn exec_create(d: &TestDaemon, container: &str, config: &str) -> String {
    let (head, v) = post_json(d, &format!("/v1.44/containers/{container}/exec"), config);
    assert!(head.starts_with("http/1.0 201"), "{head}\n{v}");
    v["Id"].as_str().unwrap().to_string()
}

fn exec_json(d: &TestDaemon, id: &str) -> serde_json::Value {
    let mut c = Conn::send(d, "GET", &format!("/v1.44/exec/{id}/json"), None, false);
    c.head();
    serde_json::from_slice(&c.rest()).unwrap()
}

/// Start an exec on an upgraded connection: the head, then the whole stream.
fn exec_start(d: &TestDaemon, version: &str, id: &str, tty: bool) -> (String, Vec<u8>) {
    let body = format!(r#"{{"Detach":false,"Tty":{tty}}}"#);
    let mut c = Conn::send(
        d,
        "POST",
        &format!("/v{version}/exec/{id}/start"),
        Some(&body),
        true,
    );
    let head = c.head();
    (head, c.rest())
}

const OUT_ERR: &str = r#""Cmd":["sh","-c","printf out; sleep 0.3; printf err >&2"],"AttachStdout":true,"AttachStderr":true"#;

#[test]
fn exec_output_is_framed_unless_the_start_asks_for_a_terminal() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&["run", "-d", "--name", "host", "busybox", "sleep", "300"]);

    // A terminal made by the exec, started without Tty (docker-py's default, and
    // exec_start(socket=True)): the terminal's output comes in stdout frames.
    let id = exec_create(&d, "host", &format!(r#"{{{OUT_ERR},"Tty":true}}"#));
    let (head, body) = exec_start(&d, "1.44", &id, false);
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert_eq!(
        content_type(&head),
        "application/vnd.docker.multiplexed-stream"
    );
    let f = frames(&body);
    assert!(f.iter().all(|(s, _)| *s == 1), "{f:?}");
    assert_eq!(joined(&f, 1), "outerr");
    assert_eq!(exec_json(&d, &id)["ExitCode"], 0);

    // Started with Tty: raw bytes, called raw.
    let id = exec_create(&d, "host", &format!(r#"{{{OUT_ERR},"Tty":true}}"#));
    let (head, body) = exec_start(&d, "1.44", &id, true);
    assert_eq!(content_type(&head), "application/vnd.docker.raw-stream");
    assert_eq!(String::from_utf8_lossy(&body), "outerr");

    // Pipes, framed: stdout and stderr told apart.
    let id = exec_create(&d, "host", &format!(r#"{{{OUT_ERR},"Tty":false}}"#));
    let (head, body) = exec_start(&d, "1.44", &id, false);
    assert_eq!(
        content_type(&head),
        "application/vnd.docker.multiplexed-stream"
    );
    assert_eq!(
        frames(&body),
        vec![(1, "out".to_string()), (2, "err".to_string())]
    );

    // Before API 1.42 every stream is called raw, framed or not (Docker 20.10).
    let id = exec_create(&d, "host", &format!(r#"{{{OUT_ERR},"Tty":false}}"#));
    let (head, body) = exec_start(&d, "1.41", &id, false);
    assert_eq!(content_type(&head), "application/vnd.docker.raw-stream");
    assert_eq!(frames(&body).len(), 2);

    // Without an upgrade: a 200 whose body is the stream.
    let id = exec_create(&d, "host", &format!(r#"{{{OUT_ERR},"Tty":false}}"#));
    let mut c = Conn::send(
        &d,
        "POST",
        &format!("/v1.44/exec/{id}/start"),
        Some(r#"{"Tty":false}"#),
        false,
    );
    let head = c.head();
    assert!(head.starts_with("http/1.0 200"), "{head}");
    assert_eq!(content_type(&head), "application/vnd.docker.raw-stream");
    assert_eq!(
        frames(&c.rest()),
        vec![(1, "out".to_string()), (2, "err".to_string())]
    );
    d.ok(&["rm", "-f", "host"]);
}

#[test]
fn no_stream_byte_travels_with_the_response_head() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&["run", "-d", "--name", "host", "busybox", "sleep", "300"]);
    let id = exec_create(
        &d,
        "host",
        r#"{"Cmd":["echo","root"],"AttachStdout":true,"AttachStderr":true}"#,
    );
    let mut c = Conn::send(
        &d,
        "POST",
        &format!("/v1.44/exec/{id}/start"),
        Some(r#"{"Tty":false}"#),
        true,
    );
    // Long enough for the echo to have ended; then one read, as a buffered client makes.
    std::thread::sleep(Duration::from_millis(700));
    let mut first = vec![0u8; 65536];
    let n = c.s.read(&mut first).unwrap();
    let first = String::from_utf8_lossy(&first[..n]).into_owned();
    assert!(first.starts_with("HTTP/1.1 101"), "{first}");
    assert!(
        first.ends_with("\r\n\r\n"),
        "the output came with the head: {first:?}"
    );
    let mut rest = Vec::new();
    c.s.read_to_end(&mut rest).unwrap();
    assert_eq!(frames(&rest), vec![(1, "root\n".to_string())]);
    d.ok(&["rm", "-f", "host"]);
}

#[test]
fn attach_replays_the_log_and_ends_without_stream() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&[
        "run",
        "--name",
        "once",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    let attach = |query: &str| {
        let mut c = Conn::send(
            &d,
            "POST",
            &format!("/v1.44/containers/once/attach?{query}"),
            None,
            true,
        );
        let head = c.head();
        (head, c.rest())
    };
    // docker-py's attach(stream=False, logs=True): the log so far, then the end.
    let (head, body) = attach("logs=1&stream=0&stdout=1&stderr=1");
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert_eq!(
        content_type(&head),
        "application/vnd.docker.multiplexed-stream"
    );
    assert_eq!(
        frames(&body),
        vec![(1, "out\n".to_string()), (2, "err\n".to_string())]
    );
    let (_, body) = attach("logs=1&stream=0&stdout=1&stderr=0");
    assert_eq!(frames(&body), vec![(1, "out\n".to_string())]);
    let (_, body) = attach("logs=0&stream=0&stdout=1&stderr=1");
    assert!(body.is_empty(), "{body:?}");

    // A terminal's log is one raw stream, called raw.
    d.ok(&["run", "-t", "--name", "tty", "busybox", "echo", "hi"]);
    let mut c = Conn::send(
        &d,
        "POST",
        "/v1.44/containers/tty/attach?logs=1&stream=0&stdout=1&stderr=1",
        None,
        true,
    );
    let head = c.head();
    assert_eq!(content_type(&head), "application/vnd.docker.raw-stream");
    assert_eq!(String::from_utf8_lossy(&c.rest()), "hi\r\n");

    // Without an upgrade the same replay is the body of a 200.
    let mut c = Conn::send(
        &d,
        "POST",
        "/v1.44/containers/once/attach?logs=1&stream=0&stdout=1&stderr=1",
        None,
        false,
    );
    assert!(c.head().starts_with("http/1.0 200"));
    assert_eq!(frames(&c.rest()).len(), 2);
    d.ok(&["rm", "once", "tty"]);
}

/// Send `input` on a hijacked session, then expect the stream to end within a few seconds.
fn detaches(c: &mut Conn, input: &[u8]) {
    c.s.write_all(input).unwrap();
    c.s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut rest = Vec::new();
    c.s.read_to_end(&mut rest)
        .expect("the stream ends after the detach keys");
}

#[test]
fn detach_keys_end_exec_and_attach_sessions() {
    let d = daemon_or_skip!();
    d.load_busybox();
    d.ok(&["run", "-d", "-i", "-t", "--name", "cat", "busybox", "cat"]);

    // docker-py puts the config file's detachKeys in the exec body, in lower camel case.
    let id = exec_create(
        &d,
        "cat",
        r#"{"Cmd":["cat"],"AttachStdin":true,"AttachStdout":true,"Tty":true,"detachKeys":"ctrl-p"}"#,
    );
    assert_eq!(exec_json(&d, &id)["DetachKeys"], "ctrl-p");
    let mut c = Conn::send(
        &d,
        "POST",
        &format!("/v1.44/exec/{id}/start"),
        Some(r#"{"Tty":true}"#),
        true,
    );
    c.head();
    detaches(&mut c, b"\x10");
    assert_eq!(exec_json(&d, &id)["Running"], true, "the exec runs on");

    // Docker's wording for keys that are not keys, on each path.
    let (head, v) = post_json(
        &d,
        "/v1.44/containers/cat/exec",
        r#"{"Cmd":["cat"],"DetachKeys":"ctrl-1"}"#,
    );
    assert!(head.starts_with("http/1.0 400"), "{head}");
    assert_eq!(v["message"], "Invalid escape keys (ctrl-1) provided");
    let mut c = Conn::send(
        &d,
        "POST",
        "/v1.44/containers/cat/attach?stream=1&stdin=1&detachKeys=ctrl-p,%20ctrl-q",
        None,
        true,
    );
    let head = c.head();
    assert!(head.starts_with("http/1.1 400"), "{head}");
    let v: serde_json::Value = serde_json::from_slice(&c.sized_body(&head)).unwrap();
    assert_eq!(
        v["message"],
        "Invalid detach keys (ctrl-p, ctrl-q) provided"
    );

    // attach: the default ctrl-p ctrl-q, and keys of the request's own (docker-py's
    // test_detach_with_arg).
    for (query, keys) in [("", &b"\x10\x11"[..]), ("&detachKeys=ctrl-x", b"\x18")] {
        let mut c = Conn::send(
            &d,
            "POST",
            &format!("/v1.44/containers/cat/attach?stream=1&stdin=1&stdout=1{query}"),
            None,
            true,
        );
        c.head();
        detaches(&mut c, keys);
        assert_eq!(
            d.ok(&["inspect", "-f", "{{.State.Running}}", "cat"]),
            "true\n"
        );
    }
    d.ok(&["rm", "-f", "cat"]);
}
