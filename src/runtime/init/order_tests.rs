//! Init's order, checked without root: the whole sequence runs against the recording
//! kernel for a few kinds of container, and each run must keep the properties a container's
//! isolation rests on. The default container's transcript is a snapshot (chapter 02 shows it).

use super::*;
use crate::runtime::kernel::recording::{Call, RecordingKernel};
use crate::runtime::oci::plan::propagation_flags;
use crate::runtime::security::{DEFAULT_CAPS, MASKED_PATHS, READONLY_PATHS};
use crate::runtime::spec::{
    BindMount, Mount, MountKind, Namespace, Namespaces, Network, OwnOrHost, Propagation, Shm,
};
use nix::mount::MntFlags;
use nix::sched::CloneFlags;
use std::fs::File;
use std::path::PathBuf;

/// A sock_filter is 8 bytes; the double only counts instructions.
const FILTER: [u8; 32] = [0; 32];

struct Run {
    kernel: RecordingKernel,
    spec: ShimSpec,
    calls: Vec<Call>,
    tmp: tempfile::TempDir,
    result: Result<(), InitError>,
    report: Vec<u8>,
}

/// What the daemon sends for `berth run busybox`: a prepared network namespace, the three
/// /etc files, Docker's defaults everywhere else.
fn container(tmp: &Path) -> ShimSpec {
    let files = tmp.join("container");
    std::fs::create_dir_all(&files).unwrap();
    let binds = ["hosts", "hostname", "resolv.conf"]
        .iter()
        .map(|name| {
            let source = files.join(name);
            std::fs::write(&source, b"").unwrap();
            BindMount {
                source,
                destination: format!("/etc/{name}"),
                readonly: false,
            }
        })
        .collect();
    ShimSpec {
        id: "c0ffee".into(),
        rootfs: tmp.join("rootfs"),
        args: vec!["/bin/sh".into(), "-c".into(), "true".into()],
        env: vec!["PATH=/bin".into()],
        // Created after the pivot, which the double does not do: it must already exist here.
        cwd: "/".into(),
        uid: 0,
        gid: 0,
        additional_gids: vec![],
        domainname: String::new(),
        hostname: "c0ffee".into(),
        tty: false,
        open_stdin: false,
        network: Network::Join("/run/berth/netns/c0ffee".into()),
        namespaces: Namespaces::default(),
        cgroup_paths: vec!["/sys/fs/cgroup/berth/c0ffee".into()],
        binds,
        mounts: vec![],
        log_path: "/dev/null".into(),
        log: Default::default(),
        state_dir: tmp.to_path_buf(),
        shm_size: crate::runtime::spec::DEFAULT_SHM_SIZE,
        shm: Shm::Private,
        readonly_rootfs: false,
        capabilities: None,
        init: false,
        privileged: false,
        console_size: None,
        seccomp_filter: Some("/run/berth/seccomp/default".into()),
        no_new_privileges: false,
    }
}

fn run_with(kernel: RecordingKernel, change: impl FnOnce(&mut ShimSpec)) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let mut spec = container(tmp.path());
    change(&mut spec);
    std::fs::create_dir_all(&spec.rootfs).unwrap();
    let null = || -> OwnedFd { File::open("/dev/null").unwrap().into() };
    let (go, go_w) = nix::unistd::pipe().unwrap();
    let (report_r, report) = nix::unistd::pipe().unwrap();
    // The shim's word, said in advance: the sequence then runs straight through.
    write_all(&go_w, b"x");
    let mut joined = Vec::new();
    if matches!(spec.network, Network::Join(_)) {
        joined.push((null(), CloneFlags::CLONE_NEWNET));
    }
    if let Namespace::Join(_) = spec.namespaces.ipc {
        joined.push((null(), CloneFlags::CLONE_NEWIPC));
    }
    let fds = InitFds {
        parent: Parent::Shim { report, go },
        joined,
        console: None,
        stdio: Some([null(), null(), null()]),
    };
    let filter = spec.seccomp_filter.as_ref().map(|_| &FILTER[..]);
    let result = prepare_and_exec(&kernel, &spec, &fds, filter);
    drop(fds);
    let mut report = Vec::new();
    std::io::Read::read_to_end(&mut File::from(report_r), &mut report).unwrap();
    Run {
        calls: kernel.calls(),
        kernel,
        spec,
        tmp,
        result,
        report,
    }
}

fn run(change: impl FnOnce(&mut ShimSpec)) -> Run {
    run_with(RecordingKernel::default(), change)
}

fn position(calls: &[Call], what: impl Fn(&Call) -> bool) -> Option<usize> {
    calls.iter().position(what)
}

fn is_mask(c: &Call) -> bool {
    c.mount_target().is_some_and(|t| {
        MASKED_PATHS
            .iter()
            .chain(READONLY_PATHS)
            .any(|p| t == Path::new(p))
    })
}

fn changes_mounts(c: &Call) -> bool {
    matches!(
        c,
        Call::Mount { .. }
            | Call::MountAt { .. }
            | Call::Mknod { .. }
            | Call::PivotRoot(..)
            | Call::Umount(..)
    )
}

fn capset(c: &Call, set: &str) -> bool {
    matches!(c, Call::Capset(s, _) if s == set)
}

fn mask_of(names: &[&str]) -> u64 {
    use std::str::FromStr;
    let caps: Vec<_> = names
        .iter()
        .map(|n| caps::Capability::from_str(n).unwrap())
        .collect();
    crate::runtime::security::mask(&caps)
}

/// What every container's sequence must keep, whatever its configuration.
fn assert_init_order(r: &Run, no_new_privileges: bool) {
    let calls = &r.calls;
    assert_eq!(r.result, Ok(()));
    assert_eq!(r.report, b"R", "init said it was ready, once");

    // Private (or slave) propagation first: nothing that follows can show up in the host's
    // mounts.
    let first = position(calls, changes_mounts).unwrap();
    assert_eq!(
        calls[first],
        Call::Mount {
            source: None,
            target: "/".into(),
            fstype: None,
            flags: mounts::root_propagation(&r.spec.mounts),
            data: None,
        }
    );

    // Init joins each of its cgroup's directories while it still sees the host's
    // /sys/fs/cgroup, and before its cgroup namespace, whose root is the cgroup it is in then.
    let joins: Vec<usize> = (0..calls.len())
        .filter(|&i| matches!(calls[i], Call::JoinCgroup(_)))
        .collect();
    assert_eq!(joins.len(), r.spec.cgroup_paths.len());
    let cgroupns = position(calls, |c| *c == Call::Unshare(CloneFlags::CLONE_NEWCGROUP));
    for j in joins {
        assert!(j < first, "joined a cgroup after a mount");
        assert!(
            cgroupns.is_none_or(|n| j < n),
            "joined a cgroup inside its namespace"
        );
    }

    // The pivot: into the rootfs, the old root stacked under it and detached.
    let pivot = position(calls, |c| matches!(c, Call::PivotRoot(..))).unwrap();
    let rootfs = r.tmp.path().join("rootfs");
    assert_eq!(
        calls[pivot - 1..=pivot + 2],
        [
            Call::Chdir(rootfs),
            Call::PivotRoot(".".into(), ".".into()),
            Call::Umount(".".into(), MntFlags::MNT_DETACH),
            Call::Chdir("/".into()),
        ]
    );
    // Masks after pivot_root: they name the container's /proc and /sys, not the host's.
    for (i, c) in calls.iter().enumerate() {
        if is_mask(c) {
            assert!(i > pivot + 2, "mask before the pivot: {c}");
        }
    }

    // Capabilities before setuid: after it, a non-root process could no longer drop them.
    let bounding = position(calls, |c| matches!(c, Call::Bounding(_))).unwrap();
    let setgroups = position(calls, |c| matches!(c, Call::Setgroups(_))).unwrap();
    let setgid = position(calls, |c| matches!(c, Call::Setgid(_))).unwrap();
    let setuid = position(calls, |c| matches!(c, Call::Setuid(_))).unwrap();
    assert!(bounding < setgroups && setgroups < setgid && setgid < setuid);
    let last_capset = calls
        .iter()
        .rposition(|c| matches!(c, Call::Capset(..) | Call::ClearAmbient))
        .unwrap();
    assert!(last_capset > setuid);

    // Seccomp where the confinement says.
    let seccomp = position(calls, |c| matches!(c, Call::Seccomp(_)));
    let nnp = position(calls, |c| *c == Call::NoNewPrivileges);
    if no_new_privileges {
        let nnp = nnp.unwrap();
        assert!(nnp > last_capset, "no_new_privs after the capabilities");
        if let Some(s) = seccomp {
            assert_eq!(s, nnp + 1, "the filter right after no_new_privs");
        }
    } else {
        assert_eq!(nnp, None);
        if let Some(s) = seccomp {
            assert!(s < bounding, "the filter while CAP_SYS_ADMIN is still held");
        }
    }

    // Exec last, once.
    assert!(matches!(calls.last(), Some(Call::Execve(..))));
    assert_eq!(
        calls
            .iter()
            .filter(|c| matches!(c, Call::Execve(..)))
            .count(),
        1
    );
}

#[test]
fn default_container() {
    let r = run(|_| {});
    assert_init_order(&r, false);
    assert_eq!(
        r.calls[..3],
        [
            Call::Setns(CloneFlags::CLONE_NEWNET),
            Call::JoinCgroup("/sys/fs/cgroup/berth/c0ffee".into()),
            Call::Unshare(CloneFlags::CLONE_NEWCGROUP)
        ]
    );
    assert!(r.calls.contains(&Call::Seccomp(4)));
    // Every mask that names something present, and only those.
    let masks = r.calls.iter().filter(|c| is_mask(c)).count();
    assert_eq!(masks, (MASKED_PATHS.len() - 1) + 2 * READONLY_PATHS.len());
    let default = crate::runtime::security::mask(DEFAULT_CAPS);
    assert!(r.calls.contains(&Call::Bounding(default)));
    assert!(r.calls.contains(&Call::Capset("effective".into(), default)));
    insta::assert_snapshot!(r.kernel.transcript(r.tmp.path()));
}

#[test]
fn read_only_rootfs_is_remounted_after_the_pivot_and_before_the_masks() {
    let r = run(|s| s.readonly_rootfs = true);
    assert_init_order(&r, false);
    let ro_root = Call::Mount {
        source: None,
        target: "/".into(),
        fstype: None,
        flags: MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        data: None,
    };
    let at = position(&r.calls, |c| *c == ro_root).unwrap();
    let pivot = position(&r.calls, |c| matches!(c, Call::PivotRoot(..))).unwrap();
    let first_mask = position(&r.calls, is_mask).unwrap();
    assert!(pivot < at && at < first_mask);
}

#[test]
fn privileged_masks_nothing_and_keeps_every_capability() {
    let r = run(|s| {
        s.privileged = true;
        s.seccomp_filter = None;
    });
    assert_init_order(&r, false);
    assert_eq!(position(&r.calls, is_mask), None);
    assert_eq!(position(&r.calls, |c| matches!(c, Call::Seccomp(_))), None);
    let sys = r.tmp.path().join("rootfs/sys");
    let sys_mount = r
        .calls
        .iter()
        .find_map(|c| match c {
            Call::MountAt { target, flags, .. } if *target == sys => Some(*flags),
            _ => None,
        })
        .unwrap();
    assert!(!sys_mount.contains(MsFlags::MS_RDONLY));
    let all = crate::runtime::security::mask(&caps::all().into_iter().collect::<Vec<_>>());
    assert!(r.calls.contains(&Call::Bounding(all)));
    assert!(r.calls.contains(&Call::Capset("permitted".into(), all)));
}

#[test]
fn a_user_keeps_no_capability() {
    let r = run(|s| {
        s.uid = 1000;
        s.gid = 1000;
        s.additional_gids = vec![10];
    });
    assert_init_order(&r, false);
    let setuid = position(&r.calls, |c| *c == Call::Setuid(1000)).unwrap();
    assert_eq!(
        r.calls[setuid - 2..=setuid],
        [
            Call::Setgroups(vec![10]),
            Call::Setgid(1000),
            Call::Setuid(1000)
        ]
    );
    assert!(r.calls.contains(&Call::Capset("inheritable".into(), 0)));
    // PR_SET_KEEPCAPS kept them through setuid: they are emptied after it.
    for set in ["effective", "permitted"] {
        let last = r.calls.iter().rposition(|c| capset(c, set)).unwrap();
        assert!(last > setuid, "{set}");
        assert_eq!(r.calls[last], Call::Capset(set.into(), 0), "{set}");
    }
}

#[test]
fn no_new_privileges_loads_the_filter_last() {
    let r = run(|s| s.no_new_privileges = true);
    assert_init_order(&r, true);
    let exec = r.calls.len() - 1;
    assert_eq!(
        r.calls[exec - 2..exec],
        [Call::NoNewPrivileges, Call::Seccomp(4)]
    );
}

#[test]
fn a_custom_capability_set_is_what_root_keeps_of_what_it_holds() {
    let mut kernel = RecordingKernel::default();
    kernel.permitted.remove(&caps::Capability::CAP_SYS_ADMIN);
    let r = run_with(kernel, |s| {
        s.capabilities = Some(vec![
            "CAP_CHOWN".into(),
            "CAP_NET_ADMIN".into(),
            "CAP_SYS_ADMIN".into(),
        ]);
    });
    assert_init_order(&r, false);
    let kept = mask_of(&["CAP_CHOWN", "CAP_NET_ADMIN"]);
    assert!(r.calls.contains(&Call::Bounding(kept)));
    for set in ["effective", "permitted"] {
        assert!(r.calls.contains(&Call::Capset(set.into(), kept)), "{set}");
    }
}

// --- The container's own mounts -----------------------------------------------------------

/// A volume-like bind of a directory made under the test's temporary directory.
fn volume(s: &ShimSpec, name: &str, destination: &str) -> Mount {
    let source = s.state_dir.join("volumes").join(name);
    std::fs::create_dir_all(&source).unwrap();
    Mount {
        destination: destination.into(),
        kind: MountKind::Bind {
            source,
            recursive: true,
        },
        readonly: false,
        nosuid: false,
        nodev: false,
        noexec: false,
        propagation: Propagation::Rprivate,
    }
}

fn tmpfs(destination: &str) -> Mount {
    Mount {
        destination: destination.into(),
        kind: MountKind::Tmpfs {
            data: "size=65536k".into(),
        },
        readonly: false,
        nosuid: true,
        nodev: true,
        noexec: true,
        propagation: Propagation::Rprivate,
    }
}

fn mounted_on(r: &Run, destination: &str) -> PathBuf {
    r.tmp
        .path()
        .canonicalize()
        .unwrap()
        .join("rootfs")
        .join(destination.trim_start_matches('/'))
}

/// Where the first mount onto `destination` (through a descriptor) is in the sequence.
fn first_mount_on(r: &Run, destination: &str) -> Option<usize> {
    let target = mounted_on(r, destination);
    position(
        &r.calls,
        |c| matches!(c, Call::MountAt { target: t, .. } if *t == target),
    )
}

fn mounts_on(r: &Run, destination: &str) -> Vec<Call> {
    let target = mounted_on(r, destination);
    r.calls
        .iter()
        .filter(|c| matches!(c, Call::MountAt { target: t, .. } if *t == target))
        .cloned()
        .collect()
}

#[test]
fn a_container_with_volumes() {
    let r = run(|s| {
        s.mounts = vec![
            volume(s, "data", "/data"),
            Mount {
                readonly: true,
                ..volume(s, "conf", "/data/conf")
            },
            tmpfs("/run/cache"),
        ];
    });
    assert_init_order(&r, false);
    insta::assert_snapshot!(r.kernel.transcript(r.tmp.path()));
}

#[test]
fn user_mounts_come_after_dev_and_in_their_order_before_the_etc_files() {
    let r = run(|s| {
        s.mounts = vec![
            volume(s, "data", "/data"),
            volume(s, "deeper", "/data/deeper"),
            tmpfs("/dev/shm"),
        ];
    });
    assert_init_order(&r, false);
    let dev_done = first_mount_on(&r, "/dev/mqueue").unwrap();
    let data = first_mount_on(&r, "/data").unwrap();
    let deeper = first_mount_on(&r, "/data/deeper").unwrap();
    // The user's tmpfs, over berth's own /dev/shm.
    let target = mounted_on(&r, "/dev/shm");
    let shm = r
        .calls
        .iter()
        .rposition(|c| matches!(c, Call::MountAt { target: t, .. } if *t == target))
        .unwrap();
    let hosts = first_mount_on(&r, "/etc/hosts").unwrap();
    let pivot = position(&r.calls, |c| matches!(c, Call::PivotRoot(..))).unwrap();
    assert!(dev_done < data && data < deeper && deeper < shm && shm < hosts && hosts < pivot);
}

#[test]
fn a_users_mount_at_etc_hosts_replaces_berths() {
    let r = run(|s| {
        let mine = s.state_dir.join("my-hosts");
        std::fs::write(&mine, b"").unwrap();
        s.mounts = vec![Mount {
            kind: MountKind::Bind {
                source: mine,
                recursive: false,
            },
            ..volume(s, "unused", "/etc/hosts")
        }];
    });
    assert_init_order(&r, false);
    let sources: Vec<String> = mounts_on(&r, "/etc/hosts")
        .into_iter()
        .filter_map(|c| match c {
            Call::MountAt { source, .. } => source,
            _ => None,
        })
        .collect();
    assert_eq!(
        sources,
        [r.tmp.path().join("my-hosts").to_string_lossy().into_owned()]
    );
    for other in ["/etc/hostname", "/etc/resolv.conf"] {
        assert!(first_mount_on(&r, other).is_some(), "{other}");
    }
}

#[test]
fn a_restricted_bind_is_remounted_with_its_flags_and_those_of_its_source_mount() {
    let mut kernel = RecordingKernel::default();
    // The source lies on a nodev,nosuid,relatime mount; `sync` is the superblock's, not the
    // mount's, and not repeated.
    kernel.source_mount_flags =
        MsFlags::MS_NODEV | MsFlags::MS_NOSUID | MsFlags::MS_RELATIME | MsFlags::MS_SYNCHRONOUS;
    let r = run_with(kernel, |s| {
        s.mounts = vec![
            Mount {
                readonly: true,
                noexec: true,
                ..volume(s, "ro", "/ro")
            },
            volume(s, "rw", "/rw"),
        ];
    });
    assert_init_order(&r, false);
    let source = r
        .tmp
        .path()
        .join("volumes/ro")
        .to_string_lossy()
        .into_owned();
    let target = mounted_on(&r, "/ro");
    let at = |source: Option<&str>, flags| Call::MountAt {
        source: source.map(String::from),
        target: target.clone(),
        fstype: None,
        flags,
        data: None,
    };
    assert_eq!(
        mounts_on(&r, "/ro"),
        [
            at(Some(&source), MsFlags::MS_BIND | MsFlags::MS_REC),
            at(
                None,
                MsFlags::MS_BIND
                    | MsFlags::MS_REMOUNT
                    | MsFlags::MS_RDONLY
                    | MsFlags::MS_NOEXEC
                    | MsFlags::MS_NODEV
                    | MsFlags::MS_NOSUID
                    | MsFlags::MS_RELATIME
            ),
            at(None, MsFlags::MS_PRIVATE | MsFlags::MS_REC),
        ]
    );
    // Nothing asked, nothing remounted: a bind keeps its source mount's flags anyway.
    let rw = mounts_on(&r, "/rw");
    assert_eq!(rw.len(), 2);
    assert!(!rw
        .iter()
        .any(|c| matches!(c, Call::MountAt { flags, .. } if flags.contains(MsFlags::MS_REMOUNT))));
}

#[rstest::rstest]
#[case::none(&[], MsFlags::MS_PRIVATE)]
#[case::rprivate(&[Propagation::Rprivate], MsFlags::MS_PRIVATE)]
#[case::private(&[Propagation::Private, Propagation::Rprivate], MsFlags::MS_PRIVATE)]
#[case::shared(&[Propagation::Rprivate, Propagation::Shared], MsFlags::MS_SLAVE)]
#[case::rshared(&[Propagation::Rshared], MsFlags::MS_SLAVE)]
#[case::slave(&[Propagation::Slave], MsFlags::MS_SLAVE)]
#[case::rslave(&[Propagation::Rslave, Propagation::Private], MsFlags::MS_SLAVE)]
fn the_roots_propagation_follows_what_the_binds_ask(
    #[case] asked: &[Propagation],
    #[case] root: MsFlags,
) {
    let r = run(|s| {
        s.mounts = asked
            .iter()
            .enumerate()
            .map(|(i, p)| Mount {
                propagation: *p,
                ..volume(s, &format!("v{i}"), &format!("/v{i}"))
            })
            .collect();
        // A tmpfs's propagation is nobody's business: it receives nothing from the host.
        s.mounts.push(Mount {
            propagation: Propagation::Rshared,
            ..tmpfs("/tmp")
        });
    });
    assert_init_order(&r, false);
    // The root's propagation is the first mount init makes.
    let first_mount = r.calls.iter().find(|c| matches!(c, Call::Mount { .. }));
    assert_eq!(
        first_mount.cloned().unwrap(),
        Call::Mount {
            source: None,
            target: "/".into(),
            fstype: None,
            flags: MsFlags::MS_REC | root,
            data: None,
        }
    );
    for (i, p) in asked.iter().enumerate() {
        let last = mounts_on(&r, &format!("/v{i}")).pop().unwrap();
        assert!(
            matches!(last, Call::MountAt { flags, .. } if flags == propagation_flags(p.as_str())),
            "{p:?}: {last}"
        );
    }
    assert_eq!(
        mounts_on(&r, "/tmp").len(),
        1,
        "a tmpfs: one mount, no more"
    );
}

#[test]
fn a_failing_mount_names_its_destination() {
    let r = run(|s| {
        s.mounts = vec![Mount {
            kind: MountKind::Bind {
                source: s.state_dir.join("nowhere"),
                recursive: true,
            },
            ..volume(s, "unused", "/data")
        }];
    });
    let err = r.result.unwrap_err();
    assert!(
        err.message.starts_with("mounting /data: the bind source "),
        "{}",
        err.message
    );
    assert_eq!(err.exit_code, 125);
    assert!(position(&r.calls, |c| matches!(c, Call::PivotRoot(..))).is_none());
}

mod shared_ns;
