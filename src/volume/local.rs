//! The local driver's options (`--opt type=… --opt device=… --opt o=…`): a volume whose
//! `_data` is a mount of something else (a tmpfs, a block device, a bind of another
//! directory, an NFS export), mounted when its first container starts and unmounted when
//! its last one stops, as Docker's local driver does.

use nix::mount::{MntFlags, MsFlags};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DriverOpts {
    pub fs_type: String,
    pub device: String,
    pub options: String,
}

impl DriverOpts {
    /// Docker's rules: only `type`, `device`, `o` (and `size`, which needs quotas), and
    /// `type` and `device` go together, `o` with both.
    pub fn parse(opts: &BTreeMap<String, String>) -> Result<DriverOpts, String> {
        for k in opts.keys() {
            if !matches!(k.as_str(), "type" | "device" | "o" | "size") {
                return Err(format!("invalid option: {k:?}"));
            }
        }
        if opts.contains_key("size") {
            return Err("quota size requested but no quota support".into());
        }
        for (opt, needs) in [
            ("device", &["type"][..]),
            ("type", &["device"][..]),
            ("o", &["device", "type"][..]),
        ] {
            if opts.contains_key(opt) {
                if let Some(missing) = needs.iter().find(|n| !opts.contains_key(**n)) {
                    return Err(format!("missing required option: {missing:?}"));
                }
            }
        }
        let get = |k: &str| opts.get(k).cloned().unwrap_or_default();
        let d = DriverOpts {
            fs_type: get("type"),
            device: get("device"),
            options: get("o"),
        };
        if [&d.fs_type, &d.device, &d.options]
            .iter()
            .any(|s| s.contains('\0'))
        {
            return Err("volume options must not contain NUL bytes".into());
        }
        Ok(d)
    }

    pub fn needs_mount(&self) -> bool {
        !self.device.is_empty() || !self.fs_type.is_empty()
    }

    /// The options string split as mount(8) does: flags for the kernel, the rest as data.
    fn flags_and_data(&self) -> (MsFlags, String) {
        let mut flags = MsFlags::empty();
        let mut data = Vec::new();
        for o in self.options.split(',').filter(|o| !o.is_empty()) {
            match o {
                "ro" => flags |= MsFlags::MS_RDONLY,
                "rw" => flags &= !MsFlags::MS_RDONLY,
                "nosuid" => flags |= MsFlags::MS_NOSUID,
                "suid" => flags &= !MsFlags::MS_NOSUID,
                "nodev" => flags |= MsFlags::MS_NODEV,
                "dev" => flags &= !MsFlags::MS_NODEV,
                "noexec" => flags |= MsFlags::MS_NOEXEC,
                "exec" => flags &= !MsFlags::MS_NOEXEC,
                "sync" => flags |= MsFlags::MS_SYNCHRONOUS,
                "async" => flags &= !MsFlags::MS_SYNCHRONOUS,
                "noatime" => flags |= MsFlags::MS_NOATIME,
                "nodiratime" => flags |= MsFlags::MS_NODIRATIME,
                "relatime" => flags |= MsFlags::MS_RELATIME,
                "strictatime" => flags |= MsFlags::MS_STRICTATIME,
                "bind" => flags |= MsFlags::MS_BIND,
                "rbind" => flags |= MsFlags::MS_BIND | MsFlags::MS_REC,
                _ => data.push(o),
            }
        }
        (flags, data.join(","))
    }

    pub fn mount(&self, at: &Path) -> std::io::Result<()> {
        let (flags, data) = self.flags_and_data();
        let data = (!data.is_empty()).then_some(data.as_str());
        let fs_type =
            (!self.fs_type.is_empty() && self.fs_type != "none").then_some(self.fs_type.as_str());
        nix::mount::mount(Some(self.device.as_str()), at, fs_type, flags, data).map_err(|e| {
            std::io::Error::other(format!("mounting {} on {}: {e}", self.device, at.display()))
        })?;
        // A read-only bind needs a second pass: MS_RDONLY is ignored on the first.
        if flags.contains(MsFlags::MS_BIND) && flags.contains(MsFlags::MS_RDONLY) {
            nix::mount::mount(
                None::<&str>,
                at,
                None::<&str>,
                flags | MsFlags::MS_REMOUNT,
                None::<&str>,
            )
            .map_err(|e| {
                std::io::Error::other(format!("remounting {} read-only: {e}", at.display()))
            })?;
        }
        Ok(())
    }
}

/// Unmount everything stacked at `path`.
pub fn unmount_if_mounted(path: &Path) -> std::io::Result<()> {
    for _ in 0..16 {
        if !crate::layers::is_mountpoint(path) {
            return Ok(());
        }
        if nix::mount::umount(path).is_err() {
            nix::mount::umount2(path, MntFlags::MNT_DETACH).map_err(|e| {
                std::io::Error::other(format!("unmounting {}: {e}", path.display()))
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn opts(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[rstest]
    #[case(&[], Ok(false))]
    #[case(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=64m")], Ok(true))]
    #[case(&[("type", "none"), ("device", "/srv"), ("o", "bind")], Ok(true))]
    #[case(&[("colour", "red")], Err("invalid option: \"colour\""))]
    #[case(&[("type", "tmpfs")], Err("missing required option: \"device\""))]
    #[case(&[("o", "size=1m")], Err("missing required option: \"device\""))]
    #[case(&[("size", "10m")], Err("quota size requested but no quota support"))]
    fn options(#[case] kv: &[(&str, &str)], #[case] want: Result<bool, &str>) {
        assert_eq!(
            DriverOpts::parse(&opts(kv)).map(|d| d.needs_mount()),
            want.map_err(String::from)
        );
    }

    #[test]
    fn flags_go_to_the_kernel_and_the_rest_to_the_filesystem() {
        let d = DriverOpts {
            fs_type: "tmpfs".into(),
            device: "tmpfs".into(),
            options: "size=64m,ro,noexec,uid=1000".into(),
        };
        let (flags, data) = d.flags_and_data();
        assert_eq!(flags, MsFlags::MS_RDONLY | MsFlags::MS_NOEXEC);
        assert_eq!(data, "size=64m,uid=1000");
    }
}
