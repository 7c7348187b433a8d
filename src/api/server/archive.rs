//! `/containers/{id}/archive`: what `docker cp` speaks. HEAD stats a path (the stat travels
//! base64-encoded in `X-Docker-Container-Path-Stat`), GET streams it out as a tar, PUT
//! extracts a tar into a directory. Paths resolve inside the container's root, as in a
//! chroot; a stopped container's root is mounted for the copy.

use super::{base, body_reader, empty, ok_empty, Call, Reply};
use bytes::Bytes;
use hyper::header::CONTENT_TYPE;
use hyper::StatusCode;

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// `HEAD /containers/{id}/archive?path=`.
pub(super) async fn stat(c: Call) -> Reply {
    let stat =
        c.d.archive_stat(&c.param("id"), c.query().str("path"))
            .await?;
    Ok(base(StatusCode::OK)
        .header(STAT_HEADER, stat)
        .body(empty())
        .unwrap())
}

/// `GET /containers/{id}/archive?path=`.
pub(super) async fn get(c: Call) -> Reply {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let stat =
        c.d.archive_get(&c.param("id"), c.query().str("path"), tx)
            .await?;
    Ok(base(StatusCode::OK)
        .header(CONTENT_TYPE, "application/x-tar")
        .header(STAT_HEADER, stat)
        .body(super::channel_body(rx))
        .unwrap())
}

/// `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=&copyUIDGID=`.
pub(super) async fn put(c: Call) -> Reply {
    let (id, q) = (c.param("id"), c.query());
    let Call { req, d, .. } = c;
    let reader = body_reader(req.into_body());
    d.archive_put(
        &id,
        q.str("path"),
        reader,
        q.flag("noOverwriteDirNonDir"),
        q.flag("copyUIDGID"),
    )
    .await?;
    ok_empty()
}
