//! Init's order, checked without root: the whole sequence runs against the recording
//! kernel for a few kinds of container, and each run must keep the properties a container's
//! isolation rests on. The default container's transcript is a snapshot (chapter 02 shows it).

use super::*;
use crate::runtime::kernel::recording::{Call, RecordingKernel};
use crate::runtime::spec::{
    BindMount, Mount, MountKind, Namespace, Namespaces, Network, OwnOrHost, Propagation, Shm,
};
use nix::sched::CloneFlags;
use std::fs::File;

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
        cgroup_paths: vec![],
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
    let (cgroup_done, cgroup_w) = nix::unistd::pipe().unwrap();
    let (go, go_w) = nix::unistd::pipe().unwrap();
    let (report_r, report) = nix::unistd::pipe().unwrap();
    // The shim's two words, said in advance: the sequence then runs straight through.
    write_all(&cgroup_w, b"x");
    write_all(&go_w, b"x");
    let fds = InitFds {
        netns: matches!(spec.network, Network::Join(_)).then(null),
        joined: match spec.namespaces.ipc {
            Namespace::Join(_) => vec![(null(), CloneFlags::CLONE_NEWIPC)],
            _ => vec![],
        },
        cgroup_done,
        report,
        go,
        stdin: null(),
        stdout: null(),
        stderr: null(),
        console: None,
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
        r.calls[..2],
        [
            Call::Setns(CloneFlags::CLONE_NEWNET),
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
            Call::Mount { target, flags, .. } if *target == sys => Some(*flags),
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
    for set in ["effective", "permitted"] {
        assert_eq!(position(&r.calls, |c| capset(c, set)), None, "{set}");
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
    let mqueue = r.tmp.path().join("rootfs/dev/mqueue");
    let dev_done = position(
        &r.calls,
        |c| matches!(c, Call::Mount { target, .. } if *target == mqueue),
    )
    .unwrap();
    let data = first_mount_on(&r, "/data").unwrap();
    let deeper = first_mount_on(&r, "/data/deeper").unwrap();
    let shm = first_mount_on(&r, "/dev/shm").unwrap();
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
    assert_eq!(
        r.calls[2],
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
            matches!(last, Call::MountAt { flags, .. } if flags == mounts::propagation_flags(*p)),
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

// --- Namespaces it shares: --ipc, --uts, --cgroupns ----------------------------------------

fn mounts_under(r: &Run, dir: &str) -> Vec<Call> {
    let dir = r
        .tmp
        .path()
        .join("rootfs")
        .join(dir.trim_start_matches('/'));
    r.calls
        .iter()
        .filter(|c| c.mount_target().is_some_and(|t| t.starts_with(&dir)))
        .cloned()
        .collect()
}

fn bind(source: &str, target: PathBuf) -> [Call; 2] {
    let ro = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY;
    [
        Call::Mount {
            source: Some(source.into()),
            target: target.clone(),
            fstype: None,
            flags: MsFlags::MS_BIND | MsFlags::MS_REC,
            data: None,
        },
        Call::Mount {
            source: None,
            target,
            fstype: None,
            flags: MsFlags::MS_BIND | MsFlags::MS_REMOUNT | ro,
            data: None,
        },
    ]
}

#[test]
fn another_containers_ipc_is_joined_first_and_its_shm_bound() {
    let r = run(|s| {
        s.namespaces.ipc = Namespace::Join("/proc/42/ns/ipc".into());
        s.shm = Shm::Bind("/var/lib/berth/containers/owner/mounts/shm".into());
    });
    assert_init_order(&r, false);
    assert_eq!(
        r.calls[..3],
        [
            Call::Setns(CloneFlags::CLONE_NEWNET),
            Call::Setns(CloneFlags::CLONE_NEWIPC),
            Call::Unshare(CloneFlags::CLONE_NEWCGROUP)
        ]
    );
    assert_eq!(
        mounts_under(&r, "/dev/shm"),
        [Call::Mount {
            source: Some("/var/lib/berth/containers/owner/mounts/shm".into()),
            target: r.tmp.path().join("rootfs/dev/shm"),
            fstype: None,
            flags: MsFlags::MS_BIND | MsFlags::MS_REC,
            data: None,
        }],
        "the owner's tmpfs, not one of its own"
    );
}

#[test]
fn a_private_ipc_namespace_has_a_tmpfs_of_its_size() {
    let r = run(|s| s.shm_size = 1 << 20);
    assert_init_order(&r, false);
    assert_eq!(
        mounts_under(&r, "/dev/shm"),
        [Call::Mount {
            source: Some("shm".into()),
            target: r.tmp.path().join("rootfs/dev/shm"),
            fstype: Some("tmpfs".into()),
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            data: Some("mode=1777,size=1048576".into()),
        }]
    );
}

#[test]
fn ipc_none_has_no_dev_shm_at_all() {
    let r = run(|s| s.shm = Shm::None);
    assert_init_order(&r, false);
    assert_eq!(mounts_under(&r, "/dev/shm"), []);
    assert!(!r.tmp.path().join("rootfs/dev/shm").exists());
    assert!(!r
        .calls
        .iter()
        .any(|c| matches!(c, Call::Setns(f) if *f == CloneFlags::CLONE_NEWIPC)));
}

#[rstest::rstest]
#[case::its_own(OwnOrHost::Private, true)]
#[case::the_hosts(OwnOrHost::Host, false)]
fn names_are_set_only_in_a_uts_namespace_of_its_own(#[case] uts: OwnOrHost, #[case] set: bool) {
    let r = run(|s| {
        s.namespaces.uts = uts;
        s.domainname = "example.org".into();
    });
    assert_init_order(&r, false);
    let named: Vec<&Call> = r
        .calls
        .iter()
        .filter(|c| matches!(c, Call::Sethostname(_) | Call::Setdomainname(_)))
        .collect();
    if set {
        assert_eq!(
            named,
            [
                &Call::Sethostname("c0ffee".into()),
                &Call::Setdomainname("example.org".into())
            ]
        );
    } else {
        assert_eq!(
            named,
            Vec::<&Call>::new(),
            "the host's names are left alone"
        );
    }
}

/// A cgroup v1 host with controllers berth joins, one it does not (pids here, with no line
/// for it) and systemd's named hierarchy.
fn v1_kernel() -> RecordingKernel {
    let mut k = RecordingKernel::default();
    k.cgroups = crate::runtime::kernel::HostCgroups::V1(vec![
        ("memory".into(), "memory".into()),
        ("cpu,cpuacct".into(), "cpu,cpuacct".into()),
        ("pids".into(), "pids".into()),
        ("systemd".into(), "xattr,name=systemd".into()),
    ]);
    k.own_cgroups =
        "9:name=systemd:/\n4:memory:/berth/c0ffee\n3:cpu,cpuacct:/berth/c0ffee\n0::/\n".into();
    for dir in [
        "/sys/fs/cgroup/memory/berth/c0ffee",
        "/sys/fs/cgroup/cpu,cpuacct/berth/c0ffee",
        "/sys/fs/cgroup/systemd",
    ] {
        k.paths.insert(dir.into(), PathKind::Directory);
    }
    k
}

#[test]
fn the_hosts_cgroup_namespace_binds_the_containers_cgroup_v1() {
    let r = run_with(v1_kernel(), |s| s.namespaces.cgroup = OwnOrHost::Host);
    assert_init_order(&r, false);
    assert!(!r
        .calls
        .contains(&Call::Unshare(CloneFlags::CLONE_NEWCGROUP)));
    let root = r.tmp.path().join("rootfs/sys/fs/cgroup");
    let at = |d: &str| root.join(d);
    let mut want = vec![Call::Mount {
        source: Some("tmpfs".into()),
        target: root.clone(),
        fstype: Some("tmpfs".into()),
        flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        data: Some("mode=755".into()),
    }];
    want.extend(bind("/sys/fs/cgroup/memory/berth/c0ffee", at("memory")));
    want.extend(bind(
        "/sys/fs/cgroup/cpu,cpuacct/berth/c0ffee",
        at("cpu,cpuacct"),
    ));
    // pids: no directory of its own to show, so nothing of the host's either.
    want.extend(bind("/sys/fs/cgroup/systemd", at("systemd")));
    want.push(Call::Mount {
        source: None,
        target: root.clone(),
        fstype: None,
        flags: MsFlags::MS_REMOUNT
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC
            | MsFlags::MS_RDONLY,
        data: Some("mode=755".into()),
    });
    assert_eq!(mounts_under(&r, "/sys/fs/cgroup"), want);
    assert!(at("pids").is_dir());
}

#[test]
fn the_hosts_cgroup_namespace_binds_the_containers_cgroup_v2() {
    let mut k = RecordingKernel::default();
    k.paths
        .insert("/sys/fs/cgroup/berth/c0ffee".into(), PathKind::Directory);
    let r = run_with(k, |s| s.namespaces.cgroup = OwnOrHost::Host);
    assert_init_order(&r, false);
    assert!(!r
        .calls
        .contains(&Call::Unshare(CloneFlags::CLONE_NEWCGROUP)));
    assert_eq!(
        mounts_under(&r, "/sys/fs/cgroup"),
        bind(
            "/sys/fs/cgroup/berth/c0ffee",
            r.tmp.path().join("rootfs/sys/fs/cgroup")
        )
    );
}

#[test]
fn a_private_cgroup_namespace_comes_before_its_fresh_cgroup_mounts() {
    let r = run_with(v1_kernel(), |_| {});
    assert_init_order(&r, false);
    let unshare = position(&r.calls, |c| {
        *c == Call::Unshare(CloneFlags::CLONE_NEWCGROUP)
    })
    .unwrap();
    let cgroup_mounts: Vec<usize> = r
        .calls
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c, Call::Mount { fstype: Some(t), .. } if t == "cgroup"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(cgroup_mounts.len(), 4, "one per hierarchy, pids included");
    assert!(cgroup_mounts.iter().all(|i| *i > unshare));
}

#[rstest::rstest]
#[case::v2(crate::runtime::kernel::HostCgroups::V2, "0::/berth/c0ffee\n", &[(None, "/sys/fs/cgroup/berth/c0ffee")])]
#[case::v1_hybrid(
    crate::runtime::kernel::HostCgroups::V1(vec![
        ("cpu".into(), "cpu".into()),
        ("cpuacct".into(), "cpuacct".into()),
        ("systemd".into(), "name=systemd".into()),
    ]),
    "9:name=systemd:/user.slice\n2:cpuacct:/b/c\n1:cpu:/b/c\n0::/user.slice\n",
    &[(Some("cpu"), "/sys/fs/cgroup/cpu/b/c"), (Some("cpuacct"), "/sys/fs/cgroup/cpuacct/b/c"), (Some("systemd"), "/sys/fs/cgroup/systemd/user.slice")]
)]
#[case::v1_combined(
    crate::runtime::kernel::HostCgroups::V1(vec![("cpu,cpuacct".into(), "cpu,cpuacct".into())]),
    "3:cpu,cpuacct:/b/c\n",
    &[(Some("cpu,cpuacct"), "/sys/fs/cgroup/cpu,cpuacct/b/c")]
)]
#[case::no_line(crate::runtime::kernel::HostCgroups::V1(vec![("pids".into(), "pids".into())]), "0::/\n", &[])]
fn own_cgroup_directories_come_from_proc_self_cgroup(
    #[case] layout: crate::runtime::kernel::HostCgroups,
    #[case] own: &str,
    #[case] want: &[(Option<&str>, &str)],
) {
    let want: Vec<(Option<String>, PathBuf)> = want
        .iter()
        .map(|(n, p)| (n.map(String::from), PathBuf::from(p)))
        .collect();
    assert_eq!(own_cgroup_dirs(&layout, own), want);
}
