//! `-H`/`DOCKER_HOST` addresses, which the daemon listens on and the client dials: berth
//! speaks the Engine API on unix sockets only, named `unix:///path` or by a bare path. The
//! daemon also takes `fd://` and `fd://N`: the socket systemd listens on and passes over.

use std::path::PathBuf;

/// Where the daemon takes its listening socket from.
#[derive(Debug, PartialEq, Eq)]
pub enum Listen {
    /// Bind this path.
    Unix(PathBuf),
    /// The socket systemd passed (`fd://`), or the passed fd N (`fd://N`).
    Systemd(Option<i32>),
}

/// What `-H` of `berth daemon` names, or why it names nothing the daemon can listen on.
pub fn listen_from_host(host: &str) -> std::result::Result<Listen, String> {
    match host.strip_prefix("fd://") {
        None => socket_from_host(host).map(Listen::Unix),
        Some("") => Ok(Listen::Systemd(None)),
        Some(n) => n
            .parse::<i32>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| Listen::Systemd(Some(n)))
            .ok_or_else(|| {
                format!("invalid host {host:?}: fd:// names no fd, or a number (fd://3)")
            }),
    }
}

/// The socket path a host address names, or why it names none.
pub fn socket_from_host(host: &str) -> std::result::Result<PathBuf, String> {
    if let Some(p) = host.strip_prefix("unix://") {
        if p.is_empty() {
            return Err(format!("invalid host {host:?}: empty socket path"));
        }
        Ok(PathBuf::from(p))
    } else if host.starts_with('/') {
        Ok(PathBuf::from(host))
    } else if host.starts_with("fd://") {
        Err(format!(
            "invalid host {host:?}: fd:// is for the daemon under systemd; a client dials \
             unix:///path"
        ))
    } else {
        Err(format!(
            "invalid host {host:?}: berth listens on unix sockets only (unix:///path)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemon_listens_on_a_path_or_a_passed_fd() {
        assert_eq!(
            listen_from_host("unix:///run/b.sock"),
            Ok(Listen::Unix("/run/b.sock".into()))
        );
        assert_eq!(listen_from_host("fd://"), Ok(Listen::Systemd(None)));
        assert_eq!(listen_from_host("fd://4"), Ok(Listen::Systemd(Some(4))));
        assert!(listen_from_host("fd://x").unwrap_err().contains("fd://3"));
        assert!(listen_from_host("tcp://1.2.3.4:2375")
            .unwrap_err()
            .contains("unix sockets only"));
    }

    #[test]
    fn a_client_cannot_dial_fd() {
        assert!(socket_from_host("fd://").unwrap_err().contains("daemon"));
    }
}
