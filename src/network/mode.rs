//! `--network`: which network namespace a container gets. berth has the default bridge, the
//! host's own namespace, and `none` (a namespace with only loopback); a container's or a
//! user-defined network's name is answered as Docker answers a name it does not know.

use std::fmt;

/// A container's network mode, parsed from `HostConfig.NetworkMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkMode {
    /// The default bridge (`default`, `bridge`, or nothing given).
    Bridge,
    /// The host's own namespace: the host's interfaces, ports and hostname.
    Host,
    /// A namespace of its own with only `lo`: no way in or out.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModeError {
    /// Docker's 404 for a network it does not have (berth has no user networks yet).
    #[error("network {0} not found")]
    NotFound(String),
    #[error("network mode {0:?} is not supported by berth yet")]
    Unsupported(String),
}

impl NetworkMode {
    pub fn parse(mode: &str) -> Result<NetworkMode, ModeError> {
        match mode {
            "" | "default" | "bridge" => Ok(NetworkMode::Bridge),
            "host" => Ok(NetworkMode::Host),
            "none" => Ok(NetworkMode::None),
            m if m.starts_with("container:") => Err(ModeError::Unsupported(m.to_string())),
            other => Err(ModeError::NotFound(other.to_string())),
        }
    }

    /// The name of the one network the container is on, as inspect's `Networks` keys it.
    pub fn network_name(self) -> &'static str {
        match self {
            NetworkMode::Bridge => "bridge",
            NetworkMode::Host => "host",
            NetworkMode::None => "none",
        }
    }
}

impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.network_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("", Ok(NetworkMode::Bridge))]
    #[case("default", Ok(NetworkMode::Bridge))]
    #[case("bridge", Ok(NetworkMode::Bridge))]
    #[case("host", Ok(NetworkMode::Host))]
    #[case("none", Ok(NetworkMode::None))]
    #[case("container:web", Err(ModeError::Unsupported("container:web".into())))]
    #[case("backend", Err(ModeError::NotFound("backend".into())))]
    fn modes(#[case] given: &str, #[case] want: Result<NetworkMode, ModeError>) {
        assert_eq!(NetworkMode::parse(given), want);
    }

    #[test]
    fn errors_read_as_dockers() {
        assert_eq!(
            NetworkMode::parse("backend").unwrap_err().to_string(),
            "network backend not found"
        );
    }
}
