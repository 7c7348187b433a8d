use super::*;
use proptest::prelude::*;
use rstest::rstest;
use serde_json::json;

/// Each `--mount` value with what docker's client makes of it: the `HostConfig.Mounts` entry
/// it sends, or the words it refuses the value with.
fn table(inputs: &[&str]) -> serde_json::Value {
    inputs
        .iter()
        .map(|i| match parse_mount(i, Some("/home/u/proj")) {
            Ok(m) => json!({ "in": i, "mount": m }),
            Err(e) => json!({ "in": i, "error": e }),
        })
        .collect()
}

#[test]
fn mounts_parse_as_dockers_client_parses_them() {
    insta::assert_json_snapshot!(table(&[
        "type=bind,source=/srv,target=/data",
        "type=bind,src=/srv,dst=/data,readonly",
        "type=bind,src=/srv,destination=/data,ro=true",
        "type=bind,src=/srv,target=/data,ro=0",
        "TYPE=BIND,SRC=/srv,Target=/data,bind-propagation=RSHARED",
        "type=bind,src=./build,target=/out",
        "type=bind,src=..,target=/up",
        "type=bind,src=/srv,target=/data,bind-nonrecursive",
        "type=bind,src=/srv,target=/data,bind-recursive=disabled",
        "type=bind,src=/srv,target=/data,bind-recursive=enabled",
        "type=bind,src=/srv,target=/data,bind-recursive=writable,readonly",
        "type=bind,src=/srv,target=/data,bind-recursive=readonly,readonly,bind-propagation=rprivate",
        "type=bind,src=/srv,target=/data,bind-create-src",
        "type=bind,src=/srv,target=/data,consistency=Cached",
        "target=/data",
        "src=cache,target=/cache",
        "type=volume,src=cache,dst=/cache,volume-nocopy",
        "type=volume,src=cache,dst=/cache,volume-nocopy=false",
        "type=volume,src=cache,dst=/cache,volume-driver=local,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=1m",
        "type=volume,src=cache,dst=/cache,volume-label=a=1,volume-label=b,volume-label==x",
        "type=volume,src=cache,dst=/cache,volume-opt=",
        "type=volume,src=cache,dst=/cache,volume-subpath=sub/dir",
        r#"type=volume,src=cache,dst=/cache,"volume-opt=o=uid=1,gid=2""#,
        "type=tmpfs,target=/run,tmpfs-size=64m,tmpfs-mode=1770",
        "type=tmpfs,target=/run,tmpfs-size=1.5GiB",
        "type=tmpfs,target=/run,tmpfs-size=100",
        "type=tmpfs,target=/run,tmpfs-size=512 kB",
        "type=image,src=alpine,target=/img,image-subpath=/etc",
        "type=npipe,src=x,target=/y",
        // Refused, with docker's words.
        "",
        "type=volume",
        "type=,target=/x",
        "type=volume,bogus=1,target=/x",
        "type=volume,target=/x,bogus",
        "type=volume,target=/x,readonly=no",
        "type=volume,target=/x,volume-nocopy=yes",
        "type=bind,src=/a,target=/x,volume-nocopy",
        "type=volume,target=/x,bind-propagation=rprivate",
        "type=bind,src=/a,target=/x,tmpfs-size=1m",
        "type=volume,target=/x,image-subpath=/a",
        "type=tmpfs,target=/x,tmpfs-size=lots",
        "type=tmpfs,target=/x,tmpfs-size=1q",
        "type=tmpfs,target=/x,tmpfs-size=-1",
        "type=tmpfs,target=/x,tmpfs-mode=0o700",
        "type=tmpfs,target=/x,tmpfs-mode=8",
        "type=tmpfs,target=/x,tmpfs-mode=77777777777",
        "type=bind,src=/a,target=/x,bind-recursive=sometimes",
        "type=bind,src=/a,target=/x,bind-recursive=writable",
        "type=bind,src=/a,target=/x,bind-recursive=readonly",
        "type=bind,src=/a,target=/x,bind-recursive=readonly,ro",
        "type=bind,src=/a,target=/x,bind-nonrecursive=maybe",
        r#"type=bind,src=/a"b,target=/x"#,
        r#"type=bind,"src=/a"b",target=/x"#,
        r#""type=bind,target=/x"#,
    ]));
}

#[rstest]
#[case("a=b,c=d", &["a=b", "c=d"])]
#[case(r#""a,b",c"#, &["a,b", "c"])]
#[case(r#""say ""hi""",x"#, &[r#"say "hi""#, "x"])]
#[case("a,,b,", &["a", "", "b", ""])]
#[case("\n\na=1\nb=2", &["a=1"])]
#[case("a=1\r\n", &["a=1"])]
#[case("a=1\r", &["a=1"])]
#[case("\"two\nlines\",x", &["two\nlines", "x"])]
#[case("\"crlf\r\ninside\"", &["crlf\ninside"])]
#[case(" a , b ", &[" a ", " b "])]
fn csv_reads_the_first_record_as_go_does(#[case] input: &str, #[case] want: &[&str]) {
    assert_eq!(csv_record(input).unwrap(), want);
}

#[rstest]
#[case("", "EOF")]
#[case("\n\n", "EOF")]
#[case(
    r#"ab"c"#,
    "parse error on line 1, column 3: bare \" in non-quoted-field"
)]
#[case(
    r#"x,"ab"c"#,
    "parse error on line 1, column 6: extraneous or missing \" in quoted-field"
)]
#[case(
    r#""abc"#,
    "parse error on line 1, column 5: extraneous or missing \" in quoted-field"
)]
#[case(
    "\"a\nb\"c",
    "record on line 1; parse error on line 2, column 2: extraneous or missing \" in quoted-field"
)]
fn csv_errors_are_gos(#[case] input: &str, #[case] want: &str) {
    assert_eq!(csv_record(input).unwrap_err(), want);
}

#[rstest]
#[case("/data", "", "/data", "volume")]
#[case("ab", "", "ab", "volume")]
#[case("a:", "", "a:", "volume")]
#[case("/srv:/data", "/srv", "/data", "bind")]
#[case("./srv:/data:ro", "./srv", "/data", "bind")]
#[case("~/srv:/data", "~/srv", "/data", "bind")]
#[case("cache:/cache", "cache", "/cache", "volume")]
#[case("cache:/cache:nocopy,rw", "cache", "/cache", "volume")]
#[case("a:/data", "", "a:/data", "volume")]
#[case("c:/x:/data", "c:/x", "/data", "bind")]
fn volume_specs_split_as_dockers_client_splits_them(
    #[case] spec: &str,
    #[case] source: &str,
    #[case] target: &str,
    #[case] kind: &str,
) {
    let v = split_volume(spec).unwrap();
    assert_eq!(
        (v.source.as_str(), v.target.as_str(), v.kind),
        (source, target, kind)
    );
}

#[rstest]
#[case("", "invalid empty volume spec")]
#[case(":/data", "invalid spec: :/data: empty section between colons")]
#[case("/srv:", "invalid spec: /srv:: empty section between colons")]
#[case(
    "/srv::/data",
    "invalid spec: /srv::/data: empty section between colons"
)]
#[case("/a:/b:ro:x", "invalid spec: /a:/b:ro:x: too many colons")]
fn volume_specs_are_refused_with_dockers_words(#[case] spec: &str, #[case] want: &str) {
    assert_eq!(split_volume(spec).unwrap_err(), want);
}

fn args(f: impl FnOnce(&mut MountArgs)) -> MountArgs {
    let mut a = MountArgs::default();
    f(&mut a);
    a
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn volumes_go_to_binds_or_to_config_volumes() {
    let a = args(|a| {
        a.volumes = strings(&[
            "/data",
            "cache:/cache",
            "./src:/src:ro",
            "/srv:/srv",
            "/data",
            "/srv:/srv",
        ])
    });
    let p = plan(&a, Some("/home/u/proj")).unwrap();
    assert_eq!(
        p.binds,
        ["cache:/cache", "/home/u/proj/src:/src:ro", "/srv:/srv"]
    );
    assert_eq!(json!(p.volumes), json!({"/data": {}}));
    let err = plan(&args(|a| a.volumes = strings(&["/a::/b"])), None).unwrap_err();
    assert_eq!(err, "invalid spec: /a::/b: empty section between colons");
}

#[rstest]
#[case(&["/run"], json!({"/run": ""}))]
#[case(&["/run:rw,noexec,size=64m"], json!({"/run": "rw,noexec,size=64m"}))]
#[case(&["/run:size=1m", "/tmp:mode=1777", "/run:size=2m"], json!({"/run": "size=2m", "/tmp": "mode=1777"}))]
#[case(&["/a:b:c"], json!({"/a": "b:c"}))]
fn tmpfs_flags_become_the_tmpfs_map(#[case] flags: &[&str], #[case] want: serde_json::Value) {
    let p = plan(&args(|a| a.tmpfs = strings(flags)), None).unwrap();
    assert_eq!(json!(p.tmpfs), want);
}

#[test]
fn a_mount_error_names_the_flag_as_pflag_does() {
    let err = plan(&args(|a| a.mounts = strings(&["type=bind,src=/a"])), None).unwrap_err();
    assert_eq!(
        err,
        r#"invalid argument "type=bind,src=/a" for "--mount" flag: target is required"#
    );
}

#[test]
fn the_request_gets_dockers_fields() {
    let a = args(|a| {
        a.volumes = strings(&["/anon", "v1:/v1:ro"]);
        a.mounts = strings(&["type=tmpfs,dst=/scratch,tmpfs-size=1m"]);
        a.tmpfs = strings(&["/run:size=64m"]);
        a.volumes_from = strings(&["other:ro", "third"]);
        a.volume_driver = Some("local".into());
    });
    let mut request = CreateRequest {
        host_config: Some(Default::default()),
        ..Default::default()
    };
    apply(plan(&a, None).unwrap(), &mut request);
    let v = serde_json::to_value(&request).unwrap();
    let hc = &v["HostConfig"];
    insta::assert_json_snapshot!(json!({
        "Config.Volumes": v["Volumes"],
        "Binds": hc["Binds"],
        "Mounts": hc["Mounts"],
        "Tmpfs": hc["Tmpfs"],
        "VolumesFrom": hc["VolumesFrom"],
        "VolumeDriver": hc["VolumeDriver"],
    }));
    let mut bare = CreateRequest {
        host_config: Some(Default::default()),
        ..Default::default()
    };
    apply(plan(&MountArgs::default(), None).unwrap(), &mut bare);
    let v = serde_json::to_value(&bare).unwrap();
    assert_eq!(
        v["Volumes"],
        json!({}),
        "docker sends an empty map, not null"
    );
    for absent in ["Mounts", "Tmpfs", "VolumesFrom", "VolumeDriver"] {
        assert!(v["HostConfig"].get(absent).is_none(), "{absent}");
    }
    assert_eq!(v["HostConfig"]["Binds"], json!(null));
}

#[rstest]
#[case("64m", Some(64 << 20))]
#[case("1MB", Some(1 << 20))]
#[case("1MiB", Some(1 << 20))]
#[case("1.5k", Some(1536))]
#[case("10 GB", Some(10 << 30))]
#[case("7b", Some(7))]
#[case("7", Some(7))]
#[case("", None)]
#[case("m", None)]
#[case("1bb", None)]
#[case("1mi", None)]
#[case("1kib ", None)]
#[case("-5", None)]
fn sizes_read_as_go_units_reads_them(#[case] s: &str, #[case] want: Option<i64>) {
    assert_eq!(ram_in_bytes(s), want);
}

/// A mount written back as a `--mount` value: the keys the parser reads, one field each,
/// quoted as Go's CSV writer quotes them.
fn to_csv(m: &Mount) -> String {
    let mut fields = vec![format!("type={}", m.kind), format!("target={}", m.target)];
    if !m.source.is_empty() {
        fields.push(format!("source={}", m.source));
    }
    fields.push(format!("readonly={}", m.read_only));
    if !m.consistency.is_empty() {
        fields.push(format!("consistency={}", m.consistency));
    }
    if let Some(b) = &m.bind_options {
        fields.push(format!("bind-propagation={}", b.propagation));
        fields.push(format!("bind-nonrecursive={}", b.non_recursive));
        fields.push(format!("bind-create-src={}", b.create_mountpoint));
        if b.read_only_non_recursive {
            fields.push("bind-recursive=writable".into());
        }
        if b.read_only_force_recursive {
            fields.push("bind-recursive=readonly".into());
        }
    }
    if let Some(v) = &m.volume_options {
        fields.push(format!("volume-nocopy={}", v.no_copy));
        fields.push(format!("volume-subpath={}", v.subpath));
        for (k, val) in v.labels.iter().flatten() {
            fields.push(format!("volume-label={k}={val}"));
        }
        if let Some(d) = &v.driver_config {
            fields.push(format!("volume-driver={}", d.name));
            for (k, val) in d.options.iter().flatten() {
                fields.push(format!("volume-opt={k}={val}"));
            }
        }
    }
    if let Some(i) = &m.image_options {
        fields.push(format!("image-subpath={}", i.subpath));
    }
    if let Some(t) = &m.tmpfs_options {
        fields.push(format!("tmpfs-size={}", t.size_bytes));
        fields.push(format!("tmpfs-mode={:o}", t.mode));
    }
    fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\n']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Text a value may hold: commas, quotes, `=` and newlines included, as CSV must carry them.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9/_ ,\"=:\n-]{0,10}"
}

fn key() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9._,\"-]{0,6}"
}

fn map() -> impl Strategy<Value = Option<BTreeMap<String, String>>> {
    proptest::collection::btree_map(key(), text(), 0..3).prop_map(|m| (!m.is_empty()).then_some(m))
}

/// Mounts as the parser makes them: options only of the mount's own type, the empty maps left
/// out, lower-case words where the parser lowers them, the bind-recursive pairings docker
/// insists on.
fn mount() -> impl Strategy<Value = Mount> {
    let base = (
        "/[a-zA-Z0-9/_ ,\"=:\n-]{0,10}",
        // `.`-led sources become absolute, so they would not come back as written.
        "([a-zA-Z0-9/_ ,\"=:\n-][a-zA-Z0-9./_ ,\"=:\n-]{0,10})?",
        any::<bool>(),
        "[a-z]{0,8}",
    );
    let bind = (
        "[a-z]{0,8}",
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(propagation, non_recursive, create, ronr, rofr)| BindOptions {
                propagation,
                non_recursive,
                create_mountpoint: create,
                read_only_non_recursive: ronr,
                read_only_force_recursive: rofr,
            },
        );
    let volume = (any::<bool>(), map(), text(), text(), map()).prop_map(
        |(no_copy, labels, subpath, name, options)| VolumeOptions {
            no_copy,
            labels,
            subpath,
            driver_config: Some(DriverConfig { name, options }),
        },
    );
    let tmpfs = (0i64..(1 << 50), any::<u32>())
        .prop_map(|(size_bytes, mode)| TmpfsOptions { size_bytes, mode });
    let options = prop_oneof![
        Just(("volume", None, None, None, None)),
        proptest::option::of(volume).prop_map(|v| ("volume", None, v, None, None)),
        proptest::option::of(bind).prop_map(|b| ("bind", b, None, None, None)),
        proptest::option::of(tmpfs).prop_map(|t| ("tmpfs", None, None, None, t)),
        proptest::option::of(text().prop_map(|subpath| ImageOptions { subpath }))
            .prop_map(|i| ("image", None, None, i, None)),
    ];
    (base, options).prop_map(
        |((target, source, read_only, consistency), (kind, bind, volume, image, tmpfs))| {
            let mut m = Mount {
                kind: kind.into(),
                source,
                target,
                read_only,
                consistency,
                bind_options: bind,
                volume_options: volume,
                image_options: image,
                tmpfs_options: tmpfs,
            };
            if let Some(b) = m.bind_options.as_mut() {
                if b.read_only_non_recursive || b.read_only_force_recursive {
                    m.read_only = true;
                }
                if b.read_only_force_recursive {
                    b.propagation = "rprivate".into();
                }
            }
            m
        },
    )
}

proptest! {
    #[test]
    fn the_mount_parser_never_panics(s in any::<String>()) {
        let _ = parse_mount(&s, Some("/w"));
    }

    #[test]
    fn the_mount_parser_never_panics_on_csv_like_text(s in "[a-z=,\"\n\r .-]{0,40}") {
        let _ = parse_mount(&s, Some("/w"));
        let _ = split_volume(&s);
    }

    #[test]
    fn a_mount_written_back_parses_to_itself(m in mount()) {
        let csv = to_csv(&m);
        prop_assert_eq!(parse_mount(&csv, None), Ok(m), "{}", csv);
    }
}
