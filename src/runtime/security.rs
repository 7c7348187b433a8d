//! Docker's default capability set, and the /proc and /sys paths it masks or makes read-only.
//! A root process in a container keeps these 14 capabilities (CapEff 00000000a80425fb);
//! any other uid keeps none, only the bounding set.

use caps::Capability;

pub const DEFAULT_CAPS: &[Capability] = &[
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FSETID,
    Capability::CAP_FOWNER,
    Capability::CAP_MKNOD,
    Capability::CAP_NET_RAW,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_KILL,
    Capability::CAP_AUDIT_WRITE,
];

pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

fn parse_cap(name: &str) -> Result<Capability, String> {
    use std::str::FromStr;
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    Capability::from_str(&full).map_err(|_| format!("unknown capability: \"{full}\""))
}

/// `--cap-add` and `--cap-drop` applied to Docker's default set, by Docker's rules: `ALL` in
/// the adds starts from every capability; `ALL` in the drops starts from none; then the named
/// adds are added and the named drops removed.
pub fn capability_set(add: &[String], drop: &[String]) -> Result<Vec<Capability>, String> {
    let is_all = |c: &String| c.eq_ignore_ascii_case("ALL");
    let mut set: Vec<Capability> = if add.iter().any(is_all) {
        caps::all().into_iter().collect()
    } else if drop.iter().any(is_all) {
        Vec::new()
    } else {
        DEFAULT_CAPS.to_vec()
    };
    for a in add.iter().filter(|c| !is_all(c)) {
        let cap = parse_cap(a)?;
        if !set.contains(&cap) {
            set.push(cap);
        }
    }
    for d in drop.iter().filter(|c| !is_all(c)) {
        let cap = parse_cap(d)?;
        set.retain(|c| *c != cap);
    }
    set.sort_by_key(|c| c.index());
    Ok(set)
}

/// The bit mask of a capability list, as /proc/PID/status prints it.
pub fn mask(list: &[Capability]) -> u64 {
    list.iter().fold(0, |m, c| m | (1u64 << c.index()))
}

/// The capability names a container's processes hold (as root): every one with
/// `--privileged`, the container's own set, or Docker's default. Seccomp rules are chosen by it.
pub fn container_cap_names(privileged: bool, caps: Option<&[String]>) -> Vec<String> {
    match (privileged, caps) {
        (true, _) => caps::all().iter().map(|c| c.to_string()).collect(),
        (false, Some(c)) => c.to_vec(),
        (false, None) => DEFAULT_CAPS.iter().map(|c| c.to_string()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_set_matches_dockers_capeff() {
        assert_eq!(format!("{:016x}", mask(DEFAULT_CAPS)), "00000000a80425fb");
    }

    #[test]
    fn cap_add_and_drop_follow_dockers_rules() {
        let s = |a: &[&str], d: &[&str]| {
            let a: Vec<String> = a.iter().map(|x| x.to_string()).collect();
            let d: Vec<String> = d.iter().map(|x| x.to_string()).collect();
            capability_set(&a, &d).map(|c| format!("{:016x}", mask(&c)))
        };
        assert_eq!(s(&[], &[]).unwrap(), "00000000a80425fb");
        assert_eq!(
            s(&["NET_ADMIN"], &[]).unwrap(),
            format!("{:016x}", 0xa80425fbu64 | 1 << 12)
        );
        assert_eq!(
            s(&[], &["chown", "CAP_KILL"]).unwrap(),
            format!("{:016x}", 0xa80425fbu64 & !1 & !(1 << 5))
        );
        assert_eq!(s(&[], &["ALL"]).unwrap(), "0000000000000000");
        assert_eq!(
            s(&["NET_RAW"], &["ALL"]).unwrap(),
            format!("{:016x}", 1u64 << 13)
        );
        assert_eq!(
            s(&["ALL"], &["SYS_ADMIN"]).unwrap(),
            format!(
                "{:016x}",
                mask(&caps::all().into_iter().collect::<Vec<_>>()) & !(1 << 21)
            )
        );
        assert_eq!(
            s(&["FLY"], &[]).unwrap_err(),
            "unknown capability: \"CAP_FLY\""
        );
    }
}
