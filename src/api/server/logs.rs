//! `GET /containers/{id}/logs`: the log (json-file or local, across its rotated files) read
//! back, filtered by stream, time and tail, and followed while the container runs. Frames
//! carry the stream (stdout or stderr) unless the container has a terminal, whose output is
//! one raw stream, as in Docker.

use super::{streaming, ApiError, Call, Reply};

pub(super) async fn logs(c: Call) -> Reply {
    use crate::daemon::logs::{parse_unix_time, LogQuery};
    let (id, d, q) = (c.param("id"), &c.d, c.query());
    let time = |k: &str| parse_unix_time(q.str(k)).map_err(ApiError::BadRequest);
    let (since, until) = (time("since")?, time("until")?);
    let tail = match q.get("tail") {
        None | Some("") | Some("all") => None,
        Some(n) => match n.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n as usize),
            Ok(_) => None,
            Err(_) => {
                return Err(ApiError::BadRequest(format!(
                    "invalid value for tail: {n:?}"
                )))
            }
        },
    };
    let lq = LogQuery {
        stdout: q.flag("stdout"),
        stderr: q.flag("stderr"),
        follow: q.flag("follow"),
        timestamps: q.flag("timestamps"),
        details: q.flag("details"),
        tail,
        since,
        until,
    };
    if !lq.stdout && !lq.stderr {
        return Err(ApiError::BadRequest(
            "Bad parameters: you must choose at least one stream".into(),
        ));
    }
    let tty = d
        .lookup(&id)
        .map(|c| c.snapshot().config.tty)
        .unwrap_or(false);
    let rx = d.logs(&id, lq)?;
    streaming(super::hijack::media_type(!tty, c.version()), rx)
}
