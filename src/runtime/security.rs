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

/// The bit mask of a capability list, as /proc/PID/status prints it.
pub fn mask(list: &[Capability]) -> u64 {
    list.iter().fold(0, |m, c| m | (1u64 << c.index()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_set_matches_dockers_capeff() {
        assert_eq!(format!("{:016x}", mask(DEFAULT_CAPS)), "00000000a80425fb");
    }
}
