//! Seccomp: a filter the kernel runs on every system call of the container's processes.
//! Docker's default profile allows some 360 calls outright, a few more with argument checks
//! (`personality`, `clone` without namespace flags, `socket` without AF_VSOCK) or only with a
//! capability (`mount` needs CAP_SYS_ADMIN, `reboot` CAP_SYS_BOOT), and answers everything
//! else with EPERM. The profile is data in Docker's JSON format, so `--security-opt
//! seccomp=<file>` takes Docker's files; `default.json` next to this module carries the same
//! lists as Docker's own default (moby/profiles, Apache-2.0), normalized.
//! The filter itself is compiled to BPF by libseccomp, as runc and youki do: berth only
//! decides which rules apply (capabilities, architecture, kernel version).

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SeccompError {
    #[error("Decoding seccomp profile failed: {0}")]
    Parse(String),
    #[error("seccomp profile: {0}")]
    Invalid(String),
    #[error("seccomp: {what}: {source}")]
    Lib {
        what: String,
        source: libseccomp::error::SeccompError,
    },
}

fn lib(what: impl Into<String>) -> impl FnOnce(libseccomp::error::SeccompError) -> SeccompError {
    let what = what.into();
    move |source| SeccompError::Lib { what, source }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub arch_map: Vec<ArchMap>,
    /// The older form: a flat list of architectures.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub architectures: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub syscalls: Vec<Syscall>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub sub_architectures: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Syscall {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub names: Vec<String>,
    /// The older form: one name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub args: Vec<Arg>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub includes: Filter,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub excludes: Filter,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

/// When a rule applies: every listed capability held, the machine's architecture listed, the
/// kernel at least `min_kernel` (`includes`); none of them (`excludes`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub caps: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub arches: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<String>,
}

/// Docker's files write `null` for an empty list or filter.
fn null_as_empty<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Docker's default profile.
pub fn default_profile() -> Profile {
    static DEFAULT: std::sync::OnceLock<Profile> = std::sync::OnceLock::new();
    DEFAULT
        .get_or_init(|| {
            serde_json::from_str(include_str!("seccomp/default.json"))
                .expect("the built-in seccomp profile parses")
        })
        .clone()
}

/// A profile in Docker's format, checked: every action and comparison must be one we know.
pub fn parse(json: &[u8]) -> Result<Profile, SeccompError> {
    let p: Profile =
        serde_json::from_slice(json).map_err(|e| SeccompError::Parse(e.to_string()))?;
    action(&p.default_action, p.default_errno_ret, None)?;
    for s in &p.syscalls {
        action(&s.action, s.errno_ret, p.default_errno_ret)?;
        for a in &s.args {
            compare(a)?;
        }
    }
    Ok(p)
}

fn action(
    name: &str,
    errno: Option<u32>,
    default_errno: Option<u32>,
) -> Result<ScmpAction, SeccompError> {
    let errno = errno.or(default_errno).unwrap_or(libc::EPERM as u32) as i32;
    Ok(match name {
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(errno),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_TRACE" => ScmpAction::Trace(errno as u16),
        "SCMP_ACT_LOG" => ScmpAction::Log,
        other => return Err(SeccompError::Invalid(format!("unknown action {other:?}"))),
    })
}

fn compare(a: &Arg) -> Result<ScmpArgCompare, SeccompError> {
    let op = match a.op.as_str() {
        "SCMP_CMP_NE" => ScmpCompareOp::NotEqual,
        "SCMP_CMP_LT" => ScmpCompareOp::Less,
        "SCMP_CMP_LE" => ScmpCompareOp::LessOrEqual,
        "SCMP_CMP_EQ" => ScmpCompareOp::Equal,
        "SCMP_CMP_GE" => ScmpCompareOp::GreaterEqual,
        "SCMP_CMP_GT" => ScmpCompareOp::Greater,
        // Docker's profiles put the mask in `value` and the expected bits in `valueTwo`.
        "SCMP_CMP_MASKED_EQ" => ScmpCompareOp::MaskedEqual(a.value),
        other => {
            return Err(SeccompError::Invalid(format!(
                "unknown comparison {other:?}"
            )))
        }
    };
    let datum = if matches!(op, ScmpCompareOp::MaskedEqual(_)) {
        a.value_two
    } else {
        a.value
    };
    Ok(ScmpArgCompare::new(a.index, op, datum))
}

/// The machine's architecture as Docker's profiles name it (Go's names).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn kernel_at_least(min: &str) -> bool {
    let parse = |v: &str| -> (u32, u32) {
        let mut it = v.split(|c: char| !c.is_ascii_digit());
        let major = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
        let minor = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
        (major, minor)
    };
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    parse(&release) >= parse(min)
}

impl Syscall {
    fn applies(&self, caps: &[String]) -> bool {
        let inc = &self.includes;
        let exc = &self.excludes;
        let has = |c: &String| caps.iter().any(|h| h.eq_ignore_ascii_case(c));
        if !inc.caps.iter().all(has) {
            return false;
        }
        if !inc.arches.is_empty() && !inc.arches.iter().any(|a| a == go_arch()) {
            return false;
        }
        if inc
            .min_kernel
            .as_deref()
            .is_some_and(|k| !kernel_at_least(k))
        {
            return false;
        }
        if exc.caps.iter().any(has) || exc.arches.iter().any(|a| a == go_arch()) {
            return false;
        }
        !exc.min_kernel.as_deref().is_some_and(kernel_at_least)
    }

    fn all_names(&self) -> impl Iterator<Item = &String> {
        self.names.iter().chain(self.name.iter())
    }
}

/// The syscall names a process with `caps` may call without condition (for the chapter and
/// the tests: what the profile means for a given container).
pub fn allowed_names(profile: &Profile, caps: &[String]) -> Vec<String> {
    let mut names: Vec<String> = profile
        .syscalls
        .iter()
        .filter(|s| s.action == "SCMP_ACT_ALLOW" && s.args.is_empty() && s.applies(caps))
        .flat_map(|s| s.all_names().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Build the filter for a process holding `caps` (`CAP_*` names).
pub fn compile(profile: &Profile, caps: &[String]) -> Result<ScmpFilterContext, SeccompError> {
    let default = action(&profile.default_action, profile.default_errno_ret, None)?;
    let mut ctx = ScmpFilterContext::new(default).map_err(lib("creating the filter"))?;
    // Whether to set no_new_privs is the caller's decision (--security-opt no-new-privileges).
    ctx.set_ctl_nnp(false)
        .map_err(lib("clearing the NNP flag"))?;
    let native = ScmpArch::native();
    let native_name = format!("{native:?}");
    let mut arches: Vec<String> = profile.architectures.clone();
    for m in &profile.arch_map {
        if ScmpArch::from_str_name(&m.architecture) == Some(native) {
            arches.extend(m.sub_architectures.iter().cloned());
        }
    }
    for a in arches {
        if let Some(arch) = ScmpArch::from_str_name(&a) {
            if arch != native {
                ctx.add_arch(arch)
                    .map_err(lib(format!("adding architecture {a}")))?;
            }
        }
    }
    for s in profile.syscalls.iter().filter(|s| s.applies(caps)) {
        let act = action(&s.action, s.errno_ret, profile.default_errno_ret)?;
        if act == default {
            // libseccomp refuses a rule that does what the default already does.
            continue;
        }
        let conds = s.args.iter().map(compare).collect::<Result<Vec<_>, _>>()?;
        let mut indexes: Vec<u32> = s.args.iter().map(|a| a.index).collect();
        indexes.sort();
        indexes.dedup();
        for name in s.all_names() {
            // Names this architecture does not have are skipped, as runc skips them.
            let Ok(call) = libseccomp::ScmpSyscall::from_name(name) else {
                continue;
            };
            let added = if conds.is_empty() {
                ctx.add_rule(act, call)
            } else if indexes.len() == conds.len() {
                ctx.add_rule_conditional(act, call, &conds)
            } else {
                // Two conditions on one argument cannot be ANDed in one rule: one rule each,
                // so any of them matching is enough (Docker's meaning of such entries).
                conds
                    .iter()
                    .try_for_each(|c| ctx.add_rule_conditional(act, call, &[*c]).map(|_| ()))
                    .map(|_| &mut ctx)
            };
            added.map_err(lib(format!("adding the rule for {name} ({native_name})")))?;
        }
    }
    Ok(ctx)
}

/// Compile to the BPF program the kernel takes (`struct sock_filter`s), for a process
/// holding `caps`. The daemon does this once per profile and capability set, and the
/// container's init only installs the result ([`install`]).
pub fn to_bpf(profile: &Profile, caps: &[String]) -> Result<Vec<u8>, SeccompError> {
    use std::io::{Read, Seek};
    let ctx = compile(profile, caps)?;
    let io =
        |what: &'static str| move |e: std::io::Error| SeccompError::Invalid(format!("{what}: {e}"));
    let mut file = tempfile::tempfile().map_err(io("a buffer for the filter"))?;
    ctx.export_bpf(&file).map_err(lib("exporting the filter"))?;
    let mut bpf = Vec::new();
    file.rewind().map_err(io("reading the filter back"))?;
    file.read_to_end(&mut bpf)
        .map_err(io("reading the filter back"))?;
    Ok(bpf)
}

/// Install a BPF program made by [`to_bpf`] on the calling thread; it is inherited across
/// fork and exec. Needs no_new_privs, or CAP_SYS_ADMIN.
pub fn install(bpf: &[u8]) -> std::io::Result<()> {
    let len = bpf.len() / std::mem::size_of::<libc::sock_filter>();
    if len == 0 || len > u16::MAX as usize {
        return Err(std::io::Error::other(format!(
            "a seccomp filter of {} bytes",
            bpf.len()
        )));
    }
    // The kernel copies the program during the call; it only reads through this pointer.
    let prog = libc::sock_fprog {
        len: len as u16,
        filter: bpf.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: PR_SET_SECCOMP with SECCOMP_MODE_FILTER reads `prog`, which points at `bpf`;
    // both live across the call.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const libc::sock_fprog,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The `Seccomp:` mode of this process from /proc/self/status: 0 none, 2 filter.
pub fn mode_of_self() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

trait FromStrName: Sized {
    fn from_str_name(s: &str) -> Option<Self>;
}

impl FromStrName for ScmpArch {
    fn from_str_name(s: &str) -> Option<ScmpArch> {
        s.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::security::DEFAULT_CAPS;

    fn default_caps() -> Vec<String> {
        DEFAULT_CAPS.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn the_default_profile_compiles_for_default_and_extra_capabilities() {
        let p = default_profile();
        compile(&p, &default_caps()).unwrap();
        let mut more = default_caps();
        more.push("CAP_SYS_ADMIN".into());
        compile(&p, &more).unwrap();
    }

    #[test]
    fn what_the_default_profile_allows() {
        let p = default_profile();
        let base = allowed_names(&p, &default_caps());
        let mut admin_caps = default_caps();
        admin_caps.push("CAP_SYS_ADMIN".into());
        let admin = allowed_names(&p, &admin_caps);
        let gained: Vec<&String> = admin.iter().filter(|n| !base.contains(n)).collect();
        let denied: Vec<&str> = [
            "add_key",
            "bpf",
            "chroot",
            "keyctl",
            "mount",
            "ptrace",
            "reboot",
            "request_key",
            "setns",
            "unshare",
            "umount2",
        ]
        .into_iter()
        .filter(|n| !base.iter().any(|b| b == n))
        .collect();
        insta::assert_snapshot!(format!(
            "allowed with Docker's default capabilities: {}\nmore with CAP_SYS_ADMIN: {}\n{gained:?}\ndenied of a few well-known calls: {denied:?}",
            base.len(),
            gained.len()
        ));
    }

    #[test]
    fn bad_profiles_are_refused_with_the_reason() {
        let err = parse(b"{not json").unwrap_err().to_string();
        assert!(err.starts_with("Decoding seccomp profile failed"), "{err}");
        let err = parse(br#"{"defaultAction":"SCMP_ACT_MAYBE"}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "seccomp profile: unknown action \"SCMP_ACT_MAYBE\"");
        let err = parse(
            br#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_SOMETIMES"}]}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("SCMP_CMP_SOMETIMES"), "{err}");
    }

    /// In a child process: the filter is installed and denies what Docker denies. The BPF is
    /// made before the fork, so the child (of a multi-threaded test) never allocates.
    #[test]
    fn an_installed_filter_denies_keyctl_and_unshare_but_not_getpid() {
        let bpf = to_bpf(&default_profile(), &default_caps()).unwrap();
        // SAFETY: the child only makes raw system calls and exits with _exit.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let code = (|| {
                    // SAFETY: prctl with constant arguments.
                    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                        return 10;
                    }
                    if install(&bpf).is_err() {
                        return 11;
                    }
                    // SAFETY: raw system calls with harmless arguments.
                    unsafe {
                        if libc::syscall(libc::SYS_keyctl, 0, 0, 0, 0, 0) != -1
                            || *libc::__errno_location() != libc::EPERM
                        {
                            return 13;
                        }
                        if libc::unshare(libc::CLONE_NEWUTS) != -1
                            || *libc::__errno_location() != libc::EPERM
                        {
                            return 14;
                        }
                        if libc::getpid() <= 0 {
                            return 15;
                        }
                    }
                    0
                })();
                // SAFETY: _exit never returns and runs no destructors in the forked child.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let st = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(st, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }
}
