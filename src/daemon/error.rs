//! The daemon's errors, one variant per HTTP status the Engine API uses for them.
//! The messages are Docker's own wording where a client or a person keys on it.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum DaemonError {
    /// 404
    #[error("{0}")]
    NotFound(String),
    /// 409
    #[error("{0}")]
    Conflict(String),
    /// 400
    #[error("{0}")]
    InvalidParameter(String),
    /// 304: start of a running container, kill of nothing, and the like.
    #[error("{0}")]
    NotModified(String),
    /// 401: a registry refused the credentials (`POST /auth`).
    #[error("{0}")]
    Unauthorized(String),
    /// 403: removing a predefined network, or one with containers on it.
    #[error("{0}")]
    Forbidden(String),
    /// 500
    #[error("{0}")]
    System(String),
    /// 501: what the container's configuration cannot do (`logs` of `--log-driver none`).
    #[error("{0}")]
    NotImplemented(String),
}

impl DaemonError {
    pub fn no_such_container(input: &str) -> Self {
        DaemonError::NotFound(format!("No such container: {input}"))
    }

    pub fn system(context: &str, err: impl std::fmt::Display) -> Self {
        DaemonError::System(format!("{context}: {err}"))
    }
}

pub type Result<T> = std::result::Result<T, DaemonError>;
