//! The namespace flags of `run` and `create`: `--pid`, `--ipc`, `--uts` and `--cgroupns`, as
//! `HostConfig.PidMode`, `IpcMode`, `UTSMode` and `CgroupnsMode`. A value docker refuses
//! before asking the daemon is refused here with its words; an absent flag sends nothing, and
//! the daemon picks the default.

use crate::wire::namespaces::{CgroupnsMode, IpcMode, ModeError, PidMode, UtsMode};
use crate::wire::types::HostConfig;
use clap::Args;

#[derive(Args, Debug, Clone, Default)]
pub struct NamespaceArgs {
    /// PID namespace to use (host, or container:<name|id>)
    #[arg(long)]
    pub pid: Option<String>,
    /// IPC mode to use (private, shareable, none, host, or container:<name|id>)
    #[arg(long)]
    pub ipc: Option<String>,
    /// UTS namespace to use (host)
    #[arg(long)]
    pub uts: Option<String>,
    /// Cgroup namespace to use (host|private); the daemon's default is private on cgroup v2
    /// and host on v1
    #[arg(long)]
    pub cgroupns: Option<String>,
}

/// The fields the flags ask for, each checked as the docker CLI checks it.
pub(super) fn fields(a: &NamespaceArgs) -> Result<Vec<(&'static str, String)>, String> {
    let said = |e: ModeError| e.flag_message().to_string();
    let mut out = Vec::new();
    if let Some(m) = &a.pid {
        PidMode::parse(m).map_err(said)?;
        out.push(("PidMode", m.clone()));
    }
    if let Some(m) = &a.ipc {
        IpcMode::parse(m).map_err(said)?;
        out.push(("IpcMode", m.clone()));
    }
    if let Some(m) = &a.uts {
        UtsMode::parse(m).map_err(said)?;
        out.push(("UTSMode", m.clone()));
    }
    if let Some(m) = &a.cgroupns {
        CgroupnsMode::parse(m).map_err(said)?;
        out.push(("CgroupnsMode", m.clone()));
    }
    Ok(out)
}

pub(super) fn apply(a: &NamespaceArgs, hc: &mut HostConfig) -> Result<(), String> {
    for (key, value) in fields(a)? {
        hc.extra.insert(key.into(), value.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn args(pid: &str, ipc: &str, uts: &str, cgroupns: &str) -> NamespaceArgs {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        NamespaceArgs {
            pid: some(pid),
            ipc: some(ipc),
            uts: some(uts),
            cgroupns: some(cgroupns),
        }
    }

    #[rstest]
    #[case::none(args("", "", "", ""), Ok(vec![]))]
    #[case::all(
        args("host", "shareable", "host", "private"),
        Ok(vec![("PidMode", "host"), ("IpcMode", "shareable"), ("UTSMode", "host"), ("CgroupnsMode", "private")])
    )]
    #[case::join(args("container:web", "container:db", "", ""), Ok(vec![("PidMode", "container:web"), ("IpcMode", "container:db")]))]
    #[case::bad_pid(args("container:", "", "", ""), Err("--pid: invalid PID mode"))]
    #[case::bad_ipc(args("", "bogus", "", ""), Err("--ipc: invalid IPC mode"))]
    #[case::bad_uts(args("", "", "container:x", ""), Err("--uts: invalid UTS mode"))]
    #[case::bad_cgroupns(args("", "", "", "shared"), Err("--cgroupns: invalid CGROUP mode"))]
    fn flags_become_fields_or_dockers_refusal(
        #[case] a: NamespaceArgs,
        #[case] want: Result<Vec<(&str, &str)>, &str>,
    ) {
        let want = want
            .map(|v| v.into_iter().map(|(k, v)| (k, v.to_string())).collect())
            .map_err(String::from);
        assert_eq!(fields(&a), want);
    }
}
