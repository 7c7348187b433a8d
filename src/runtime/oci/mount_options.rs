//! A bundle's mount entries: each option of config.json's list sorted into a flag of
//! mount(2) (as runc spells them: `ro`, `nosuid`, ... and their opposites), a propagation
//! (`rprivate`, `shared`, ...), a bind (`bind`, `rbind`), or data for the filesystem
//! (`size=64m`, `mode=755`).

use super::plan::{invalid, MountPlan, PlanError};

pub(super) const PROPAGATIONS: &[&str] = &[
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
];

/// The mount options that are flags, as runc spells them: (name, sets the flag).
const FLAG_OPTIONS: &[(&str, bool)] = &[
    ("ro", true),
    ("rw", false),
    ("suid", false),
    ("nosuid", true),
    ("dev", false),
    ("nodev", true),
    ("exec", false),
    ("noexec", true),
    ("sync", true),
    ("async", false),
    ("dirsync", true),
    ("remount", true),
    ("mand", true),
    ("nomand", false),
    ("atime", false),
    ("noatime", true),
    ("diratime", false),
    ("nodiratime", true),
    ("relatime", true),
    ("norelatime", false),
    ("strictatime", true),
    ("nostrictatime", false),
];

pub(super) use crate::util::inroot::clean_abs as clean;

pub(super) fn mount(m: &oci_spec::runtime::Mount) -> Result<MountPlan, PlanError> {
    let dest = m.destination().to_string_lossy().into_owned();
    if !dest.starts_with('/') {
        return Err(invalid(format!(
            "mount destination {dest:?} is not absolute"
        )));
    }
    if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
        return Err(PlanError::Unsupported(format!("idmapped mount {dest}")));
    }
    let fstype = m.typ().clone().unwrap_or_default();
    let mut plan = MountPlan {
        destination: clean(&dest),
        fstype: fstype.clone(),
        source: m
            .source()
            .as_ref()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bind: fstype == "bind",
        recursive: false,
        flags: Vec::new(),
        propagation: None,
        data: String::new(),
    };
    let mut data = Vec::new();
    for o in m.options().iter().flatten() {
        let o = o.as_str();
        match o {
            "bind" => plan.bind = true,
            "rbind" => {
                plan.bind = true;
                plan.recursive = true;
            }
            o if PROPAGATIONS.contains(&o) => plan.propagation = Some(o.to_string()),
            o if FLAG_OPTIONS.iter().any(|(n, _)| *n == o) => {
                // The last word on a flag wins: `rw` after `ro` clears it.
                let (set_name, clear_name) = flag_pair(o);
                plan.flags.retain(|f| f != set_name && f != clear_name);
                if FLAG_OPTIONS.iter().any(|(n, set)| *n == o && *set) {
                    plan.flags.push(o.to_string());
                }
            }
            o if o.starts_with("rro") || o == "tmpcopyup" || o.starts_with("idmap") => {
                return Err(PlanError::Unsupported(format!(
                    "the mount option {o} ({dest})"
                )));
            }
            o => data.push(o.to_string()),
        }
    }
    if plan.bind && plan.source.is_empty() {
        return Err(invalid(format!("bind mount {dest} has no source")));
    }
    if !plan.bind && fstype.is_empty() {
        return Err(invalid(format!("mount {dest} has no type")));
    }
    plan.data = data.join(",");
    Ok(plan)
}

/// The option that sets a flag and the one that clears it.
fn flag_pair(o: &str) -> (&'static str, &'static str) {
    const PAIRS: &[(&str, &str)] = &[
        ("ro", "rw"),
        ("nosuid", "suid"),
        ("nodev", "dev"),
        ("noexec", "exec"),
        ("sync", "async"),
        ("dirsync", "dirsync"),
        ("remount", "remount"),
        ("mand", "nomand"),
        ("noatime", "atime"),
        ("nodiratime", "diratime"),
        ("relatime", "norelatime"),
        ("strictatime", "nostrictatime"),
    ];
    PAIRS
        .iter()
        .find(|(a, b)| *a == o || *b == o)
        .copied()
        .unwrap_or(("", ""))
}

/// The mount(2) flags an option list names (see `MountPlan::flags`).
pub fn ms_flags(names: &[String]) -> nix::mount::MsFlags {
    use nix::mount::MsFlags as F;
    let mut f = F::empty();
    for n in names {
        f |= match n.as_str() {
            "ro" => F::MS_RDONLY,
            "nosuid" => F::MS_NOSUID,
            "nodev" => F::MS_NODEV,
            "noexec" => F::MS_NOEXEC,
            "sync" => F::MS_SYNCHRONOUS,
            "dirsync" => F::MS_DIRSYNC,
            "remount" => F::MS_REMOUNT,
            "mand" => F::MS_MANDLOCK,
            "noatime" => F::MS_NOATIME,
            "nodiratime" => F::MS_NODIRATIME,
            "relatime" => F::MS_RELATIME,
            "strictatime" => F::MS_STRICTATIME,
            _ => F::empty(),
        };
    }
    f
}

/// The propagation flags of a name in [`PROPAGATIONS`].
pub fn propagation_flags(name: &str) -> nix::mount::MsFlags {
    use nix::mount::MsFlags as F;
    match name {
        "private" => F::MS_PRIVATE,
        "rprivate" => F::MS_PRIVATE | F::MS_REC,
        "shared" => F::MS_SHARED,
        "rshared" => F::MS_SHARED | F::MS_REC,
        "slave" => F::MS_SLAVE,
        "rslave" => F::MS_SLAVE | F::MS_REC,
        "unbindable" => F::MS_UNBINDABLE,
        "runbindable" => F::MS_UNBINDABLE | F::MS_REC,
        _ => F::empty(),
    }
}
