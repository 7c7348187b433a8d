use super::*;
use proptest::prelude::*;
use rstest::rstest;

fn corpus(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/oci")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn plan_of(v: &serde_json::Value) -> Result<Plan, PlanError> {
    let spec: Spec = serde_json::from_value(v.clone()).map_err(|e| PlanError::Parse {
        path: "config.json".into(),
        err: e.to_string(),
    })?;
    from_spec(&spec, Path::new("/bundle"), "the-id")
}

/// The plan as a snapshot shows it: the seccomp profile summed up, not listed.
fn shown(plan: &Plan) -> serde_json::Value {
    let mut v = serde_json::to_value(plan).unwrap();
    if let Some(p) = &plan.seccomp {
        v["seccomp"] = serde_json::json!({
            "defaultAction": p.default_action,
            "architectures": p.architectures,
            "rules": p.syscalls.len(),
        });
    }
    v
}

/// The plan init follows for the configs real engines write: runc's `spec`, ours,
/// containerd's (`ctr run --memory-limit`) and dockerd's (`docker run -p -m -v`).
#[rstest]
#[case::runc_spec("runc-spec.json")]
#[case::berth_runc_spec("berth-runc-spec.json")]
#[case::containerd("containerd.json")]
#[case::dockerd("dockerd.json")]
fn the_plan_for_each_engines_config(#[case] file: &str) {
    let plan = plan_of(&corpus(file)).unwrap();
    insta::assert_json_snapshot!(file.trim_end_matches(".json"), shown(&plan));
}

#[test]
fn our_spec_is_the_one_the_corpus_holds() {
    assert_eq!(
        crate::runtime::runc::default_spec_for_tests(),
        corpus("berth-runc-spec.json")
    );
}

/// `v` with the value at `pointer` set (its parent must exist).
fn with(mut v: serde_json::Value, pointer: &str, value: serde_json::Value) -> serde_json::Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let key = key.replace("~1", "/").replace("~0", "~");
    match v.pointer_mut(parent).unwrap() {
        serde_json::Value::Object(m) => {
            m.insert(key, value);
        }
        serde_json::Value::Array(a) => a[key.parse::<usize>().unwrap()] = value,
        other => *other = value,
    }
    v
}

/// What berth-runc refuses, and the words it uses.
#[rstest]
#[case::old_version("/ociVersion", serde_json::json!("0.6.0"), "ociVersion \"0.6.0\"")]
#[case::relative_cwd("/process/cwd", serde_json::json!("tmp"), "process.cwd \"tmp\" is not absolute")]
#[case::no_args("/process/args", serde_json::json!([]), "process.args is empty")]
#[case::systemd_cgroup("/linux/cgroupsPath", serde_json::json!("system.slice:berth:x"), "the systemd cgroupsPath")]
#[case::cgroup_escape("/linux/cgroupsPath", serde_json::json!("/a/../../b"), "cgroupsPath")]
#[case::host_sysctl("/linux/sysctl", serde_json::json!({"vm.swappiness": "10"}), "sysctl \"vm.swappiness\" is not in a separate kernel namespace")]
#[case::blkio("/linux/resources", serde_json::json!({"blockIO": {"weight": 300}}), "linux.resources.blockIO is not supported")]
#[case::hugepages("/linux/resources", serde_json::json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}), "linux.resources.hugepageLimits is not supported")]
#[case::twice("/linux/namespaces", serde_json::json!([{"type": "pid"}, {"type": "pid"}, {"type": "mount"}]), "the pid namespace is listed twice")]
#[case::no_mount_ns("/linux/namespaces", serde_json::json!([{"type": "pid"}, {"type": "uts"}]), "needs a mount namespace")]
#[case::maps_without_userns("/linux/uidMappings", serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]), "uidMappings without a user namespace")]
#[case::relative_mount("/mounts/0/destination", serde_json::json!("proc"), "mount destination \"proc\" is not absolute")]
#[case::bind_without_source("/mounts/0", serde_json::json!({"destination": "/x", "type": "bind", "options": ["rbind"]}), "bind mount /x has no source")]
#[case::device_outside_dev("/linux/devices", serde_json::json!([{"path": "/etc/x", "type": "c", "major": 1, "minor": 3}]), "device /etc/x: not under /dev")]
#[case::soft_above_hard("/process/rlimits", serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]), "soft above hard")]
fn bad_configs_are_refused_by_name(
    #[case] pointer: &str,
    #[case] value: serde_json::Value,
    #[case] words: &str,
) {
    let v = with(corpus("runc-spec.json"), pointer, value);
    let err = plan_of(&v).unwrap_err().to_string();
    assert!(err.contains(words), "{err:?} does not say {words:?}");
}

#[test]
fn mount_options_split_into_flags_propagation_and_data() {
    let v = with(
        corpus("runc-spec.json"),
        "/mounts/1",
        serde_json::json!({"destination": "/dev/../data/", "type": "tmpfs", "source": "tmpfs",
            "options": ["ro", "rw", "nosuid", "rshared", "size=1m", "noexec", "exec", "mode=700"]}),
    );
    let plan = plan_of(&v).unwrap();
    let m = &plan.mounts[1];
    assert_eq!(m.destination, "/data");
    assert_eq!(m.flags, vec!["nosuid"]);
    assert_eq!(m.propagation.as_deref(), Some("rshared"));
    assert_eq!(m.data, "size=1m,mode=700");
    assert_eq!(ms_flags(&m.flags), nix::mount::MsFlags::MS_NOSUID);
}

#[test]
fn a_relative_bind_source_is_the_bundles() {
    let v = with(
        corpus("runc-spec.json"),
        "/mounts/0",
        serde_json::json!({"destination": "/data", "type": "bind", "source": "shared", "options": ["rbind", "ro"]}),
    );
    let m = &plan_of(&v).unwrap().mounts[0];
    assert_eq!(m.source, "/bundle/shared");
    assert!(m.bind && m.recursive);
    assert_eq!(m.flags, vec!["ro"]);
}

/// Any JSON at all.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-zA-Z0-9/._:=-]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-zA-Z]{1,10}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every place in a JSON document, as a JSON pointer.
fn pointers(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                pointers(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                )
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                pointers(x, format!("{at}/{i}"), out)
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever config.json holds, the answer is a plan or an error, never a panic.
    #[test]
    fn no_config_makes_the_planner_panic(v in json()) {
        let _ = plan_of(&v);
    }

    /// The same for real configs with any one value replaced by anything.
    #[test]
    fn no_changed_engine_config_makes_the_planner_panic(
        file in prop::sample::select(vec!["runc-spec.json", "containerd.json", "dockerd.json"]),
        pick in any::<prop::sample::Index>(),
        value in json(),
    ) {
        let v = corpus(file);
        let mut all = Vec::new();
        pointers(&v, String::new(), &mut all);
        let at = pick.get(&all).clone();
        let changed = if at.is_empty() { value } else { with(v, &at, value) };
        let _ = plan_of(&changed);
    }
}
