//! `-H`/`DOCKER_HOST` addresses, which the daemon listens on and the client dials: berth
//! speaks the Engine API on unix sockets only, named `unix:///path` or by a bare path.

use std::path::PathBuf;

/// The socket path a host address names, or why it names none.
pub fn socket_from_host(host: &str) -> std::result::Result<PathBuf, String> {
    if let Some(p) = host.strip_prefix("unix://") {
        if p.is_empty() {
            return Err(format!("invalid host {host:?}: empty socket path"));
        }
        Ok(PathBuf::from(p))
    } else if host.starts_with('/') {
        Ok(PathBuf::from(host))
    } else {
        Err(format!(
            "invalid host {host:?}: berth listens on unix sockets only (unix:///path)"
        ))
    }
}
