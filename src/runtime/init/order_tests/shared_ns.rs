//! Init's order when a container shares a namespace: the host's uts namespace (no hostname
//! set), another container's ipc namespace and /dev/shm, ipc none, and the cgroup namespace
//! (host or private) with its /sys/fs/cgroup.

use super::*;

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
        // The owner's tmpfs, made by the daemon (a directory here).
        let owners = s.state_dir.join("owner-shm");
        std::fs::create_dir_all(&owners).unwrap();
        s.shm = Shm::Bind(owners);
    });
    assert_init_order(&r, false);
    assert_eq!(
        r.calls[..4],
        [
            Call::Setns(CloneFlags::CLONE_NEWNET),
            Call::Setns(CloneFlags::CLONE_NEWIPC),
            Call::JoinCgroup("/sys/fs/cgroup/berth/c0ffee".into()),
            Call::Unshare(CloneFlags::CLONE_NEWCGROUP)
        ]
    );
    assert_eq!(
        mounts_under(&r, "/dev/shm"),
        [Call::MountAt {
            source: Some(
                r.tmp
                    .path()
                    .join("owner-shm")
                    .to_string_lossy()
                    .into_owned()
            ),
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
        [Call::MountAt {
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
