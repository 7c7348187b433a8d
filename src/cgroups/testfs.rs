//! Unit tests of both managers against a temporary directory that plays cgroupfs, so they run
//! without root: v1's layout (a hierarchy per controller, each with a root `cgroup.procs`) and
//! v2's unified one (`cgroup.controllers` at the root). The kernel's side (files appearing in
//! a new cgroup, state changes) is played by writing the files it would.

use super::*;
use std::fs;
use tempfile::TempDir;

const PARENT: &str = "berth-test";
const ID: &str = "c0ffee";

fn fake_v1() -> (TempDir, CgroupManager) {
    let root = tempfile::tempdir().unwrap();
    for c in v1::CONTROLLERS {
        fs::create_dir(root.path().join(c)).unwrap();
        fs::write(root.path().join(c).join("cgroup.procs"), "1\n").unwrap();
    }
    fs::write(root.path().join("cpuset/cpuset.cpus"), "0-1\n").unwrap();
    fs::write(root.path().join("cpuset/cpuset.mems"), "0\n").unwrap();
    let m = CgroupManager::with_mount(root.path(), CgroupVersion::V1, PARENT).unwrap();
    (root, m)
}

fn fake_v2() -> (TempDir, CgroupManager) {
    let root = tempfile::tempdir().unwrap();
    fs::write(
        root.path().join("cgroup.controllers"),
        "cpuset cpu io memory pids\n",
    )
    .unwrap();
    fs::write(root.path().join("cgroup.subtree_control"), "").unwrap();
    let m = CgroupManager::with_mount(root.path(), CgroupVersion::V2, PARENT).unwrap();
    (root, m)
}

fn read(p: impl AsRef<Path>) -> String {
    fs::read_to_string(p).unwrap()
}

fn sample() -> Resources {
    Resources {
        memory: Some(64 << 20),
        memory_reservation: Some(32 << 20),
        nano_cpus: Some(1_500_000_000),
        cpu_shares: Some(512),
        cpuset_cpus: Some("0".into()),
        pids_limit: Some(20),
        ..Default::default()
    }
}

/// On cgroupfs a cgroup's files go with its directory; here they must be deleted first.
fn clear_files(cg: &Cgroup) {
    for p in cg.paths() {
        for e in fs::read_dir(p).unwrap().flatten() {
            if e.path().is_file() {
                fs::remove_file(e.path()).unwrap();
            }
        }
    }
}

#[test]
fn v1_creates_a_directory_in_every_hierarchy_with_cpus_copied_down() {
    let (root, m) = fake_v1();
    let cg = m.create(ID).unwrap();
    assert_eq!(cg.paths().len(), v1::CONTROLLERS.len());
    assert!(cg.paths().iter().all(|p| p.is_dir()));
    assert_eq!(m.list(), vec![ID.to_string()]);
    for dir in [PARENT.to_string(), format!("{PARENT}/{ID}")] {
        let d = root.path().join("cpuset").join(dir);
        assert_eq!(read(d.join("cpuset.cpus")), "0-1");
        assert_eq!(read(d.join("cpuset.mems")), "0");
    }
    // cpu and cpuacct are separate hierarchies, even though one name prefixes the other.
    assert_eq!(
        cg.dir_for("cpu").unwrap(),
        &root.path().join("cpu").join(PARENT).join(ID)
    );
    assert_eq!(
        cg.dir_for("cpuacct").unwrap(),
        &root.path().join("cpuacct").join(PARENT).join(ID)
    );
}

#[test]
fn v1_only_uses_mounted_hierarchies() {
    let (root, m) = fake_v1();
    fs::remove_file(root.path().join("blkio/cgroup.procs")).unwrap();
    let cg = m.create(ID).unwrap();
    assert_eq!(cg.paths().len(), v1::CONTROLLERS.len() - 1);
    assert!(cg.dir_for("blkio").is_none());
}

#[test]
fn v2_creates_one_directory_and_delegates_the_controllers() {
    let (root, m) = fake_v2();
    let cg = m.create(ID).unwrap();
    assert_eq!(cg.paths(), [root.path().join(PARENT).join(ID)]);
    assert!(cg.paths()[0].is_dir());
    assert_eq!(m.list(), vec![ID.to_string()]);
    // One write per controller; a plain file keeps the last one.
    assert_eq!(read(root.path().join("cgroup.subtree_control")), "+pids");
}

#[test]
fn v2_delegates_at_every_level_of_a_nested_parent() {
    let (root, _) = fake_v2();
    // The kernel shows a level's cgroup.controllers once the level above enabled them.
    for level in ["outer", "outer/inner"] {
        fs::create_dir(root.path().join(level)).unwrap();
        fs::write(
            root.path().join(level).join("cgroup.controllers"),
            "memory pids\n",
        )
        .unwrap();
    }
    let m = CgroupManager::with_mount(root.path(), CgroupVersion::V2, "outer/inner").unwrap();
    m.create(ID).unwrap();
    for level in ["outer", "outer/inner"] {
        let file = root.path().join(level).join("cgroup.subtree_control");
        assert_eq!(read(file), "+pids", "{level} delegates");
    }
}

#[test]
fn v1_apply_writes_the_plan_into_each_controllers_directory() {
    let (_root, m) = fake_v1();
    let cg = m.create(ID).unwrap();
    // The kernel shows memsw files only with swap accounting on.
    let memsw = cg
        .dir_for("memory")
        .unwrap()
        .join("memory.memsw.limit_in_bytes");
    fs::write(&memsw, "").unwrap();
    let plan = sample().plan(CgroupVersion::V1);
    cg.apply(&sample()).unwrap();
    for k in &plan {
        let file = cg.dir_for(k.controller).unwrap().join(k.file);
        assert_eq!(read(file), k.value, "{}", k.file);
    }
    assert_eq!(read(&memsw), "134217728");
}

#[test]
fn v1_without_swap_accounting_skips_memory_swap() {
    let (_root, m) = fake_v1();
    let cg = m.create(ID).unwrap();
    cg.apply(&sample()).unwrap();
    let mem = cg.dir_for("memory").unwrap();
    assert_eq!(read(mem.join("memory.limit_in_bytes")), "67108864");
    assert!(!mem.join("memory.memsw.limit_in_bytes").exists());
}

#[test]
fn v1_apply_says_which_controller_is_missing() {
    let (root, m) = fake_v1();
    fs::remove_file(root.path().join("pids/cgroup.procs")).unwrap();
    let cg = m.create(ID).unwrap();
    let e = cg.apply(&sample()).unwrap_err().to_string();
    assert_eq!(e, "setting pids.max: the pids controller is not available");
}

#[test]
fn v2_apply_writes_the_plan_into_the_one_directory() {
    let (_root, m) = fake_v2();
    let cg = m.create(ID).unwrap();
    cg.apply(&sample()).unwrap();
    for k in sample().plan(CgroupVersion::V2) {
        assert_eq!(read(cg.paths()[0].join(k.file)), k.value, "{}", k.file);
    }
}

#[test]
fn v1_freezes_and_thaws_through_freezer_state() {
    let (_root, m) = fake_v1();
    let cg = m.create(ID).unwrap();
    let state = cg.dir_for("freezer").unwrap().join("freezer.state");
    fs::write(&state, "THAWED\n").unwrap();
    cg.set_frozen(true).unwrap();
    assert_eq!(read(&state), "FROZEN");
    cg.set_frozen(false).unwrap();
    assert_eq!(read(&state), "THAWED");
}

#[test]
fn v2_freezes_through_cgroup_freeze_and_waits_for_cgroup_events() {
    let (_root, m) = fake_v2();
    let cg = m.create(ID).unwrap();
    let dir = &cg.paths()[0];
    fs::write(dir.join("cgroup.freeze"), "0\n").unwrap();
    fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
    cg.set_frozen(true).unwrap();
    assert_eq!(read(dir.join("cgroup.freeze")), "1");
    fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
    cg.set_frozen(false).unwrap();
    assert_eq!(read(dir.join("cgroup.freeze")), "0");
}

#[test]
fn a_freeze_the_kernel_never_reports_is_busy() {
    let (_root, m) = fake_v2();
    let cg = m.create(ID).unwrap();
    let dir = &cg.paths()[0];
    fs::write(dir.join("cgroup.freeze"), "0\n").unwrap();
    fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
    assert!(matches!(cg.set_frozen(true), Err(CgroupError::Busy { .. })));
}

#[test]
fn freezing_without_a_freezer_is_an_error() {
    let (_root, m) = fake_v1();
    let cg = m.create(ID).unwrap();
    let e = cg.set_frozen(true).unwrap_err().to_string();
    assert_eq!(e, "finding freezer.state: no freezer for this cgroup");
}

#[test]
fn v1_stats_come_from_each_controllers_files() {
    let (_root, m) = fake_v1();
    let cg = m.create(ID).unwrap();
    let put = |c: &str, f: &str, text: &str| fs::write(cg.dir_for(c).unwrap().join(f), text);
    put("cpuacct", "cpuacct.usage", "123456789\n").unwrap();
    put("memory", "memory.usage_in_bytes", "1048576\n").unwrap();
    put("memory", "memory.limit_in_bytes", "9223372036854771712\n").unwrap();
    put(
        "memory",
        "memory.stat",
        "cache 8192\ninactive_file 4096\ntotal_cache 8192\ntotal_inactive_file 12288\n",
    )
    .unwrap();
    put("pids", "pids.current", "3\n").unwrap();
    put("pids", "pids.max", "max\n").unwrap();
    put(
        "blkio",
        "blkio.throttle.io_service_bytes_recursive",
        "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 12288\n8:0 Async 0\n8:0 Total 12288\nTotal 12288\n",
    )
    .unwrap();
    let s = cg.stats();
    assert_eq!(s.cpu.usage_ns, 123_456_789);
    assert_eq!(s.memory.usage, 1 << 20);
    assert_eq!(s.memory.limit, Some(9_223_372_036_854_771_712));
    assert_eq!(s.memory.inactive_file, 12288);
    assert_eq!(s.pids.current, 3);
    assert_eq!(s.pids.limit, None);
    assert_eq!((s.io.read_bytes, s.io.write_bytes), (4096, 8192));
}

#[test]
fn v2_stats_come_from_the_one_directory() {
    let (_root, m) = fake_v2();
    let cg = m.create(ID).unwrap();
    let put = |f: &str, text: &str| fs::write(cg.paths()[0].join(f), text);
    put(
        "cpu.stat",
        "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n",
    )
    .unwrap();
    put("memory.current", "2097152\n").unwrap();
    put("memory.max", "max\n").unwrap();
    put("memory.stat", "anon 4096\nfile 8192\ninactive_file 4096\n").unwrap();
    put("pids.current", "2\n").unwrap();
    put("pids.max", "20\n").unwrap();
    put(
        "io.stat",
        "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n",
    )
    .unwrap();
    assert_eq!(
        cg.stats(),
        Stats {
            cpu: stats::CpuStats {
                usage_ns: 2_500_000
            },
            memory: stats::MemoryStats {
                usage: 2 << 20,
                limit: None,
                inactive_file: 4096
            },
            pids: stats::PidsStats {
                current: 2,
                limit: Some(20)
            },
            io: stats::IoStats {
                read_bytes: 100,
                write_bytes: 200
            },
        }
    );
}

#[test]
fn missing_files_read_as_zero() {
    let (_root, m) = fake_v1();
    assert_eq!(m.create(ID).unwrap().stats(), Stats::default());
    let (_root, m) = fake_v2();
    assert_eq!(m.create(ID).unwrap().stats(), Stats::default());
}

#[test]
fn oom_kills_are_read_from_the_versions_memory_file() {
    let (_root, m) = fake_v1();
    let cg = m.create(ID).unwrap();
    assert!(!cg.oom_killed());
    let ctl = cg.dir_for("memory").unwrap().join("memory.oom_control");
    fs::write(&ctl, "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n").unwrap();
    assert!(cg.oom_killed());

    let (_root, m) = fake_v2();
    let cg = m.create(ID).unwrap();
    assert!(!cg.oom_killed());
    let events = cg.paths()[0].join("memory.events");
    fs::write(&events, "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n").unwrap();
    assert!(cg.oom_killed());
}

#[test]
fn v1_devices_start_from_deny_all() {
    let (_root, m) = fake_v1();
    let cg = m.create(ID).unwrap();
    cg.restrict_devices().unwrap();
    let dir = cg.dir_for("devices").unwrap();
    assert_eq!(read(dir.join("devices.deny")), "a");
    // One write per rule; a plain file keeps the last one.
    assert_eq!(
        read(dir.join("devices.allow")),
        *devices::DEFAULT_ALLOW.last().unwrap()
    );
}

#[test]
fn procs_are_gathered_from_every_hierarchy_once() {
    let (_root, m) = fake_v1();
    let cg = m.create(ID).unwrap();
    fs::write(cg.dir_for("memory").unwrap().join("cgroup.procs"), "7\n3\n").unwrap();
    fs::write(cg.dir_for("pids").unwrap().join("cgroup.procs"), "3\n").unwrap();
    assert_eq!(cg.procs(), vec![3, 7]);
}

#[rstest::rstest]
#[case::v1(fake_v1())]
#[case::v2(fake_v2())]
fn removal_takes_the_directories_and_can_be_repeated(#[case] fake: (TempDir, CgroupManager)) {
    let (_root, m) = fake;
    let cg = m.create(ID).unwrap();
    clear_files(&cg);
    cg.remove().unwrap();
    assert!(cg.paths().iter().all(|p| !p.exists()));
    assert!(m.list().is_empty());
    cg.remove().unwrap();
    clear_files(&m.open(""));
    m.remove_parent();
    assert!(m.parent_dirs().iter().all(|p| !p.exists()));
}

#[test]
fn names_that_leave_the_parent_are_refused() {
    let (_root, m) = fake_v2();
    assert!(matches!(m.create("../x"), Err(CgroupError::InvalidName(_))));
    assert!(matches!(m.create("a/b"), Err(CgroupError::InvalidName(_))));
    assert!(CgroupManager::with_mount(Path::new("/x"), CgroupVersion::V1, "..").is_err());
}
