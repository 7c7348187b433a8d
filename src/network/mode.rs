//! `--network`: which network namespace a container gets: the default bridge, the host's own
//! namespace, `none` (a namespace with only loopback), or a user-defined network by name or id
//! (the daemon looks it up), or another container's namespace (`container:<name|id>`).

use std::fmt;

/// A container's network mode, parsed from `HostConfig.NetworkMode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// The default bridge (`default`, `bridge`, or nothing given).
    Bridge,
    /// The host's own namespace: the host's interfaces, ports and hostname.
    Host,
    /// A namespace of its own with only `lo`: no way in or out.
    None,
    /// A user-defined network, by its name, id or id prefix.
    Named(String),
    /// The network namespace of another (running) container, and its /etc files.
    Container(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModeError {
    #[error("invalid network mode {0:?}: container: needs a container's name or id")]
    Unsupported(String),
}

impl NetworkMode {
    pub fn parse(mode: &str) -> Result<NetworkMode, ModeError> {
        match mode {
            "" | "default" | "bridge" => Ok(NetworkMode::Bridge),
            "host" => Ok(NetworkMode::Host),
            "none" => Ok(NetworkMode::None),
            "container:" => Err(ModeError::Unsupported("container:".into())),
            m if m.starts_with("container:") => {
                Ok(NetworkMode::Container(m["container:".len()..].to_string()))
            }
            other => Ok(NetworkMode::Named(other.to_string())),
        }
    }

    /// The name of the network it names (for `Named`, as given; none for `Container`).
    pub fn network_name(&self) -> &str {
        match self {
            NetworkMode::Bridge => "bridge",
            NetworkMode::Host => "host",
            NetworkMode::None => "none",
            NetworkMode::Named(n) => n,
            NetworkMode::Container(_) => "",
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
    #[case("container:web", Ok(NetworkMode::Container("web".into())))]
    #[case("container:", Err(ModeError::Unsupported("container:".into())))]
    #[case("backend", Ok(NetworkMode::Named("backend".into())))]
    fn modes(#[case] given: &str, #[case] want: Result<NetworkMode, ModeError>) {
        assert_eq!(NetworkMode::parse(given), want);
    }
}
