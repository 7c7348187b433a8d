//! How a container's overlay is mounted, and the planner that decides it. mount(2) takes all
//! options in one page, which is why Docker stops near 125 layers; since Linux 6.8 overlayfs
//! also takes `lowerdir+` through fsconfig(2), one lower dir a call, and berth prefers that
//! wherever the kernel has it. Either way overlayfs stacks at most `OVL_MAX_STACK` lowers.

mod sys;

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
pub(crate) use sys::mount_from;
use sys::FsContext;
use thiserror::Error;

/// overlayfs's own limit on lower dirs (`OVL_MAX_STACK`, fs/overlayfs/params.h; 500 since it
/// was introduced, and still on 6.18).
pub const OVL_MAX_STACK: usize = 500;

/// The longest value fsconfig(2) copies (`strndup_user(value, 256)`, the NUL included).
const FSCONFIG_VALUE_MAX: usize = 255;

/// A short link's name in `l/` is always this long, so a chain's option length is known
/// before its links exist.
pub(crate) const LINK_LEN: usize = 26;

/// How this kernel takes an overlay's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountApi {
    /// fsopen, one fsconfig `lowerdir+` per lower dir, fsmount, move_mount (Linux 6.8+).
    LowerdirPlus,
    /// mount(2) with one option string of at most a page.
    Legacy,
}

/// Whether the kernel mounts an overlay with `lowerdir+`, asked once per process. The probe
/// builds a real two-lower overlay superblock (never attached) from two empty dirs under
/// `scratch`: before 6.5 overlayfs parses fsconfig options as a legacy string and refuses
/// them only at create, and 6.5 to 6.7 refuse `lowerdir+` itself, so only a create is sure.
pub fn mount_api(scratch: &Path) -> MountApi {
    static API: OnceLock<MountApi> = OnceLock::new();
    *API.get_or_init(|| {
        if probe_lowerdir_plus(scratch) {
            MountApi::LowerdirPlus
        } else {
            MountApi::Legacy
        }
    })
}

fn probe_lowerdir_plus(scratch: &Path) -> bool {
    let dir = scratch.join(format!(".probe-{}", std::process::id()));
    let (a, b) = (dir.join("a"), dir.join("b"));
    let made = fs::create_dir_all(&a).and_then(|_| fs::create_dir_all(&b));
    let ok = made.is_ok()
        && FsContext::open("overlay")
            .and_then(|ctx| {
                ctx.set_string("lowerdir+", a.as_os_str().as_bytes())?;
                ctx.set_string("lowerdir+", b.as_os_str().as_bytes())?;
                ctx.create()
            })
            .is_ok();
    let _ = fs::remove_dir_all(&dir);
    ok
}

/// Why a chain cannot be mounted on this kernel at all.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DepthError {
    #[error("overlayfs stacks at most {OVL_MAX_STACK} lower directories, and a container adds its -init layer to the image's")]
    Stack,
    #[error("this kernel has no overlayfs lowerdir+ (Linux 6.8 and later), and mount(2) takes one page of options: room for {max} image layers")]
    Page { max: usize },
}

/// One container's overlay, as the kernel will be asked for it.
#[derive(Debug, Clone, PartialEq)]
pub enum OverlayMount {
    /// mount(2) with an option string.
    Options(MountPlan),
    /// fsconfig(2) calls in this order, `lowerdir+` top first, then fsmount at `target`.
    Fsconfig {
        options: Vec<(&'static str, PathBuf)>,
        target: PathBuf,
    },
}

/// Plan the mount of `mount_id` over `lower` (its `lower` file: short links, top first) for
/// the kernel's `api`. Pure: the same answer at create, where it refuses a chain too deep
/// for this kernel, and at start, where it is carried out.
pub fn plan_overlay(
    home: &Path,
    mount_id: &str,
    lower: &str,
    page: usize,
    api: MountApi,
) -> Result<OverlayMount, DepthError> {
    let lowers: Vec<&str> = lower.split(':').filter(|l| !l.is_empty()).collect();
    if lowers.len() > OVL_MAX_STACK {
        return Err(DepthError::Stack);
    }
    match api {
        MountApi::LowerdirPlus => {
            let dir = home.join(mount_id);
            let mut options: Vec<(&'static str, PathBuf)> =
                lowers.iter().map(|l| ("lowerdir+", home.join(l))).collect();
            options.push(("upperdir", dir.join("diff")));
            options.push(("workdir", dir.join("work")));
            Ok(OverlayMount::Fsconfig {
                options,
                target: dir.join("merged"),
            })
        }
        MountApi::Legacy => plan_mount(home, mount_id, lower, page)
            .map(OverlayMount::Options)
            .ok_or(DepthError::Page {
                max: legacy_max_lowers(mount_id, page).saturating_sub(1),
            }),
    }
}

/// How many lower dirs of `l/<link>` fit in a page of relative options.
fn legacy_max_lowers(mount_id: &str, page: usize) -> usize {
    let fixed = relative_options(mount_id, "").len();
    let each = "l/".len() + LINK_LEN + 1;
    // fixed + n * each - 1 (no colon after the last) must stay under a page.
    (page + 1).saturating_sub(fixed + 1) / each
}

/// Why the kernel refused an fsconfig mount: the option it refused (or the step), its errno
/// and what overlayfs logged on the context.
#[derive(Debug)]
pub struct MountFailure {
    pub option: String,
    pub errno: nix::Error,
    pub kernel: Vec<String>,
}

/// Carry out an `OverlayMount::Fsconfig` plan. A value longer than fsconfig copies (a very
/// deep `--root`) is passed as `/proc/self/fd/N` of an fd of the dir: overlayfs looks
/// the path up during the call, so the fd can be closed right after.
pub fn mount_fsconfig(
    options: &[(&'static str, PathBuf)],
    target: &Path,
) -> Result<(), MountFailure> {
    fn fail(
        option: String,
        ctx: Option<&FsContext>,
    ) -> impl FnOnce(nix::Error) -> MountFailure + '_ {
        move |errno| MountFailure {
            option,
            errno,
            kernel: ctx.map(|c| c.kernel_errors()).unwrap_or_default(),
        }
    }
    let ctx = FsContext::open("overlay").map_err(fail("fsopen overlay".into(), None))?;
    ctx.set_string("source", b"overlay")
        .map_err(fail("source=overlay".into(), Some(&ctx)))?;
    for (key, path) in options {
        let option = format!("{key}={}", path.display());
        let bytes = path.as_os_str().as_bytes();
        if bytes.len() <= FSCONFIG_VALUE_MAX {
            ctx.set_string(key, bytes)
                .map_err(fail(option, Some(&ctx)))?;
            continue;
        }
        let dir = fs::File::open(path).map_err(|e| MountFailure {
            option: option.clone(),
            errno: nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            kernel: Vec::new(),
        })?;
        let via = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&dir));
        ctx.set_string(key, via.as_bytes())
            .map_err(fail(option, Some(&ctx)))?;
    }
    ctx.create()
        .map_err(fail("creating the superblock".into(), Some(&ctx)))?;
    ctx.attach(target).map_err(fail(
        format!("attaching at {}", target.display()),
        Some(&ctx),
    ))
}

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

    fn chain(n: usize) -> String {
        let links: Vec<String> = (0..n).map(|i| format!("l/{i:026}")).collect();
        links.join(":")
    }

    const HOME: &str = "/var/lib/berth/overlay2";
    const MOUNT_ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn lowerdir_plus_takes_one_option_per_lower_at_any_length() {
        let p = plan_overlay(
            Path::new(HOME),
            MOUNT_ID,
            &chain(201),
            4096,
            MountApi::LowerdirPlus,
        )
        .unwrap();
        let OverlayMount::Fsconfig { options, target } = p else {
            panic!("expected fsconfig steps, got {p:?}");
        };
        assert_eq!(options.len(), 203);
        assert_eq!(
            options[0],
            ("lowerdir+", PathBuf::from(format!("{HOME}/l/{:026}", 0)))
        );
        assert_eq!(
            options[200],
            ("lowerdir+", PathBuf::from(format!("{HOME}/l/{:026}", 200)))
        );
        assert_eq!(
            options[201],
            ("upperdir", PathBuf::from(format!("{HOME}/{MOUNT_ID}/diff")))
        );
        assert_eq!(
            options[202],
            ("workdir", PathBuf::from(format!("{HOME}/{MOUNT_ID}/work")))
        );
        assert_eq!(target, PathBuf::from(format!("{HOME}/{MOUNT_ID}/merged")));
    }

    #[test]
    fn overlayfs_stack_limit_holds_for_either_api() {
        for api in [MountApi::LowerdirPlus, MountApi::Legacy] {
            let err = plan_overlay(Path::new(HOME), MOUNT_ID, &chain(501), 4096, api);
            assert_eq!(err, Err(DepthError::Stack));
        }
        assert!(plan_overlay(
            Path::new(HOME),
            MOUNT_ID,
            &chain(OVL_MAX_STACK),
            4096,
            MountApi::LowerdirPlus
        )
        .is_ok());
    }

    #[test]
    fn mount2_takes_what_fits_in_a_page_and_names_its_room() {
        let home = Path::new(HOME);
        let short = plan_overlay(home, MOUNT_ID, &chain(2), 4096, MountApi::Legacy).unwrap();
        assert!(matches!(
            short,
            OverlayMount::Options(MountPlan {
                relative: false,
                ..
            })
        ));
        let long = plan_overlay(home, MOUNT_ID, &chain(120), 4096, MountApi::Legacy).unwrap();
        assert!(matches!(
            long,
            OverlayMount::Options(MountPlan { relative: true, .. })
        ));
        let Err(DepthError::Page { max }) =
            plan_overlay(home, MOUNT_ID, &chain(200), 4096, MountApi::Legacy)
        else {
            panic!("200 lowers cannot fit a page");
        };
        // `max` image layers plus the -init layer fit; one more does not.
        assert!(plan_overlay(home, MOUNT_ID, &chain(max + 1), 4096, MountApi::Legacy).is_ok());
        assert_eq!(
            plan_overlay(home, MOUNT_ID, &chain(max + 2), 4096, MountApi::Legacy),
            Err(DepthError::Page { max })
        );
        assert_eq!(max, 134);
    }

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo("/a\\040b\\011c"), "/a b\tc");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert_eq!(unescape_mountinfo("/end\\04"), "/end\\04");
    }
}
