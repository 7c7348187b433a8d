//! How a container's overlay is mounted: the pure planner of the option string (what fits in
//! the one page of mount data the kernel copies), and reading the mount table back.

mod sys;

use std::fs;
use std::path::{Path, PathBuf};
pub(crate) use sys::mount_from;

/// Whether `path` is a mount point, from /proc/self/mountinfo (field 5, where the kernel
/// writes space, tab, newline and backslash as octal escapes).
pub fn is_mountpoint(path: &Path) -> bool {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.to_string_lossy();
    info.lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .any(|m| unescape_mountinfo(m) == want)
}

fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How to mount one container's overlay: the option string, the target, and whether the
/// paths in them are relative to `overlay2/`.
#[derive(Debug, Clone, PartialEq)]
pub struct MountPlan {
    pub data: String,
    pub target: PathBuf,
    pub relative: bool,
}

pub(crate) fn relative_options(mount_id: &str, lower: &str) -> String {
    format!("lowerdir={lower},upperdir={mount_id}/diff,workdir={mount_id}/work")
}

/// Docker's rule: absolute paths when the options fit in a page (the kernel copies at most
/// one page of mount data), relative ones otherwise, and None when even those do not fit.
pub fn plan_mount(home: &Path, mount_id: &str, lower: &str, page: usize) -> Option<MountPlan> {
    let lowers: Vec<String> = lower
        .split(':')
        .filter(|l| !l.is_empty())
        .map(|l| home.join(l).to_string_lossy().into_owned())
        .collect();
    let dir = home.join(mount_id);
    let absolute = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        dir.join("diff").display(),
        dir.join("work").display()
    );
    if absolute.len() < page {
        return Some(MountPlan {
            data: absolute,
            target: dir.join("merged"),
            relative: false,
        });
    }
    let relative = relative_options(mount_id, lower);
    (relative.len() < page).then(|| MountPlan {
        data: relative,
        target: Path::new(mount_id).join("merged"),
        relative: true,
    })
}

pub(crate) fn page_size() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map(|p| p as usize)
        .unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_chains_mount_with_absolute_paths() {
        let p = plan_mount(
            Path::new("/var/lib/berth/overlay2"),
            "m1",
            "l/AAA:l/BBB",
            4096,
        )
        .unwrap();
        assert!(!p.relative);
        assert_eq!(
            p.data,
            "lowerdir=/var/lib/berth/overlay2/l/AAA:/var/lib/berth/overlay2/l/BBB,\
             upperdir=/var/lib/berth/overlay2/m1/diff,workdir=/var/lib/berth/overlay2/m1/work"
        );
        assert_eq!(p.target, Path::new("/var/lib/berth/overlay2/m1/merged"));
    }

    #[test]
    fn long_chains_fall_back_to_relative_paths_then_give_up() {
        let lower: Vec<String> = (0..100).map(|i| format!("l/{:026}", i)).collect();
        let lower = lower.join(":");
        let p = plan_mount(Path::new("/var/lib/berth/overlay2"), "m1", &lower, 4096).unwrap();
        assert!(p.relative);
        assert_eq!(
            p.data,
            format!("lowerdir={lower},upperdir=m1/diff,workdir=m1/work")
        );
        assert_eq!(p.target, Path::new("m1/merged"));
        let lower: Vec<String> = (0..200).map(|i| format!("l/{:026}", i)).collect();
        assert_eq!(
            plan_mount(Path::new("/x"), "m1", &lower.join(":"), 4096),
            None
        );
    }

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo("/a\\040b\\011c"), "/a b\tc");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert_eq!(unescape_mountinfo("/end\\04"), "/end\\04");
    }
}
