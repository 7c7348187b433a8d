//! `--pid`, `--ipc`, `--uts` and `--cgroupns`: which of a container's namespaces are its own
//! and which it shares, with the host or with another container, as `HostConfig.PidMode`,
//! `IpcMode`, `UTSMode` and `CgroupnsMode` spell them. Parsed here because both sides read
//! them: the CLI refuses a bad flag before it asks anything, the daemon refuses a bad field.
//! The errors carry the daemon's words; [`ModeError::flag_message`] gives the docker CLI's.

use std::fmt;

/// `HostConfig.PidMode`: "" (a pid namespace of its own), `host`, `container:<name|id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidMode {
    Private,
    Host,
    Container(String),
}

/// `HostConfig.IpcMode`. `private` and `shareable` both make a new IPC namespace; only a
/// shareable one's /dev/shm lives on the host where another container can bind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpcMode {
    Private,
    Shareable,
    /// A namespace of its own and no /dev/shm at all.
    None,
    Host,
    Container(String),
}

/// `HostConfig.UTSMode`: "" (its own hostname) or `host`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UtsMode {
    Private,
    Host,
}

/// `HostConfig.CgroupnsMode`: `private` or `host` ("" asks for the daemon's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupnsMode {
    Private,
    Host,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModeError {
    #[error("invalid PID mode: {0}")]
    Pid(String),
    #[error("invalid IPC mode: {0}")]
    Ipc(String),
    #[error("invalid UTS mode: {0}")]
    Uts(String),
    #[error("invalid cgroup namespace mode: {0}")]
    Cgroupns(String),
}

impl ModeError {
    /// What the docker CLI says of the flag, without naming the value.
    pub fn flag_message(&self) -> &'static str {
        match self {
            ModeError::Pid(_) => "--pid: invalid PID mode",
            ModeError::Ipc(_) => "--ipc: invalid IPC mode",
            ModeError::Uts(_) => "--uts: invalid UTS mode",
            ModeError::Cgroupns(_) => "--cgroupns: invalid CGROUP mode",
        }
    }
}

/// The container named by `container:<x>`; None when `mode` has another form. An empty name
/// is no container (Docker's CLI refuses `--pid container:` too).
fn container_of(mode: &str) -> Option<Option<String>> {
    mode.strip_prefix("container:")
        .map(|x| (!x.is_empty()).then(|| x.to_string()))
}

impl PidMode {
    pub fn parse(mode: &str) -> Result<PidMode, ModeError> {
        match mode {
            "" => Ok(PidMode::Private),
            "host" => Ok(PidMode::Host),
            m => match container_of(m) {
                Some(Some(x)) => Ok(PidMode::Container(x)),
                _ => Err(ModeError::Pid(m.to_string())),
            },
        }
    }
}

impl fmt::Display for PidMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PidMode::Private => Ok(()),
            PidMode::Host => f.write_str("host"),
            PidMode::Container(x) => write!(f, "container:{x}"),
        }
    }
}

impl IpcMode {
    /// "" is `private`: the daemon writes its default in at create, and containers made before
    /// berth knew the field had a private namespace.
    pub fn parse(mode: &str) -> Result<IpcMode, ModeError> {
        match mode {
            "" | "private" => Ok(IpcMode::Private),
            "shareable" => Ok(IpcMode::Shareable),
            "none" => Ok(IpcMode::None),
            "host" => Ok(IpcMode::Host),
            m => match container_of(m) {
                Some(Some(x)) => Ok(IpcMode::Container(x)),
                _ => Err(ModeError::Ipc(m.to_string())),
            },
        }
    }
}

impl fmt::Display for IpcMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpcMode::Private => f.write_str("private"),
            IpcMode::Shareable => f.write_str("shareable"),
            IpcMode::None => f.write_str("none"),
            IpcMode::Host => f.write_str("host"),
            IpcMode::Container(x) => write!(f, "container:{x}"),
        }
    }
}

impl UtsMode {
    pub fn parse(mode: &str) -> Result<UtsMode, ModeError> {
        match mode {
            "" => Ok(UtsMode::Private),
            "host" => Ok(UtsMode::Host),
            m => Err(ModeError::Uts(m.to_string())),
        }
    }
}

impl CgroupnsMode {
    /// None for "": the daemon's default decides.
    pub fn parse(mode: &str) -> Result<Option<CgroupnsMode>, ModeError> {
        match mode {
            "" => Ok(None),
            "private" => Ok(Some(CgroupnsMode::Private)),
            "host" => Ok(Some(CgroupnsMode::Host)),
            m => Err(ModeError::Cgroupns(m.to_string())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CgroupnsMode::Private => "private",
            CgroupnsMode::Host => "host",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("", Ok(PidMode::Private))]
    #[case("host", Ok(PidMode::Host))]
    #[case("container:web", Ok(PidMode::Container("web".into())))]
    #[case("container:", Err("invalid PID mode: container:"))]
    #[case("private", Err("invalid PID mode: private"))]
    #[case("hostx", Err("invalid PID mode: hostx"))]
    fn pid_modes(#[case] given: &str, #[case] want: Result<PidMode, &str>) {
        let got = PidMode::parse(given).map_err(|e| e.to_string());
        assert_eq!(got, want.map_err(String::from));
        if let Ok(m) = PidMode::parse(given) {
            assert_eq!(m.to_string(), given, "reads back as given");
        }
    }

    #[rstest]
    #[case("", Ok(IpcMode::Private))]
    #[case("private", Ok(IpcMode::Private))]
    #[case("shareable", Ok(IpcMode::Shareable))]
    #[case("none", Ok(IpcMode::None))]
    #[case("host", Ok(IpcMode::Host))]
    #[case("container:db", Ok(IpcMode::Container("db".into())))]
    #[case("container:", Err("invalid IPC mode: container:"))]
    #[case("bogus", Err("invalid IPC mode: bogus"))]
    fn ipc_modes(#[case] given: &str, #[case] want: Result<IpcMode, &str>) {
        assert_eq!(
            IpcMode::parse(given).map_err(|e| e.to_string()),
            want.map_err(String::from)
        );
    }

    #[rstest]
    #[case("", Ok(UtsMode::Private))]
    #[case("host", Ok(UtsMode::Host))]
    #[case("private", Err("invalid UTS mode: private"))]
    #[case("container:x", Err("invalid UTS mode: container:x"))]
    fn uts_modes(#[case] given: &str, #[case] want: Result<UtsMode, &str>) {
        assert_eq!(
            UtsMode::parse(given).map_err(|e| e.to_string()),
            want.map_err(String::from)
        );
    }

    #[rstest]
    #[case("", Ok(None))]
    #[case("private", Ok(Some(CgroupnsMode::Private)))]
    #[case("host", Ok(Some(CgroupnsMode::Host)))]
    #[case("invalid", Err("invalid cgroup namespace mode: invalid"))]
    fn cgroupns_modes(#[case] given: &str, #[case] want: Result<Option<CgroupnsMode>, &str>) {
        assert_eq!(
            CgroupnsMode::parse(given).map_err(|e| e.to_string()),
            want.map_err(String::from)
        );
    }

    #[rstest]
    #[case(ModeError::Pid("x".into()), "--pid: invalid PID mode")]
    #[case(ModeError::Ipc("x".into()), "--ipc: invalid IPC mode")]
    #[case(ModeError::Uts("x".into()), "--uts: invalid UTS mode")]
    #[case(ModeError::Cgroupns("x".into()), "--cgroupns: invalid CGROUP mode")]
    fn the_cli_says_it_in_the_docker_clis_words(#[case] e: ModeError, #[case] said: &str) {
        assert_eq!(e.flag_message(), said);
    }
}
