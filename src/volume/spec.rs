//! What a container asks to have mounted, read as Docker's daemon reads it: a `-v` string
//! (`HostConfig.Binds`: `[src:]dst[:mode]`), a `--mount` (`HostConfig.Mounts`), a `--tmpfs`
//! (`HostConfig.Tmpfs`) and a `--volumes-from`. Each becomes a [`MountPoint`]: the
//! container's record of one mount, which inspect shows and start mounts. Pure, so every
//! rule and message is unit-tested.

use crate::runtime::spec::Propagation;
use crate::wire::volume::Mount;
use serde::{Deserialize, Serialize};
use std::path::{Component, Path};

/// One mount of a container, as its record keeps it (Docker's `MountPoints`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct MountPoint {
    /// `volume`, `bind` or `tmpfs`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// The volume's name (empty before an anonymous volume is made, and for the others).
    #[serde(default)]
    pub name: String,
    /// The host path: a bind's source, a volume's `_data` once it exists.
    #[serde(default)]
    pub source: String,
    pub destination: String,
    #[serde(default)]
    pub driver: String,
    /// The mode string as given (`ro,z`), shown by inspect.
    #[serde(default)]
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    /// Empty for volumes and tmpfs, as inspect shows them.
    #[serde(default)]
    pub propagation: String,
    /// Copy the image's content into the volume if it is empty.
    #[serde(default)]
    pub copy_data: bool,
    /// Binds: the mounts under the source come too (`rbind`), unless `bind-recursive=disabled`.
    #[serde(default)]
    pub non_recursive: bool,
    /// A missing bind source is made (a `-v` host path; `--mount` only with `bind-create-src`).
    #[serde(default)]
    pub create_source: bool,
    /// tmpfs: the flags and the filesystem's data, Docker's defaults first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<TmpfsSpec>,
    /// Volumes: the options and labels of the volume if this mount creates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_spec: Option<VolumeSpec>,
    /// Made for this container alone (`-v /data`, `VOLUME`): `rm -v` takes it away.
    #[serde(default)]
    pub anonymous: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TmpfsSpec {
    pub readonly: bool,
    pub nosuid: bool,
    pub nodev: bool,
    pub noexec: bool,
    /// `size=…,mode=…` and the other tmpfs options, flags excluded.
    pub data: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeSpec {
    #[serde(default)]
    pub driver_opts: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub subpath: String,
}

impl MountPoint {
    pub fn is_volume(&self) -> bool {
        self.kind == "volume"
    }

    /// Its propagation as the runtime takes it (rprivate unless asked).
    pub fn propagation(&self) -> Propagation {
        Propagation::parse(&self.propagation).unwrap_or_default()
    }

    /// The inspect `Mounts` entry.
    pub fn view(&self) -> crate::wire::volume::MountPoint {
        crate::wire::volume::MountPoint {
            kind: self.kind.clone(),
            name: self.name.clone(),
            source: self.source.clone(),
            destination: self.destination.clone(),
            driver: self.driver.clone(),
            mode: self.mode.clone(),
            rw: self.rw,
            propagation: self.propagation.clone(),
        }
    }
}

/// `invalid volume specification: '<raw>'`, Docker's word for a `-v` it cannot read.
fn invalid_spec(raw: &str) -> String {
    format!("invalid volume specification: '{raw}'")
}

fn mount_config(kind: &str, what: impl std::fmt::Display) -> String {
    format!("invalid mount config for type {kind:?}: {what}")
}

/// A mode string's parts are each one of these, at most one of each kind.
fn valid_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return true;
    }
    let mut counts = [0; 5];
    for o in mode.split(',') {
        let slot = match o {
            "rw" | "ro" => 0,
            "z" | "Z" => 1,
            "nocopy" => 3,
            "consistent" | "cached" | "delegated" => 4,
            _ if Propagation::parse(o).is_some() => 2,
            _ => return false,
        };
        counts[slot] += 1;
    }
    counts.iter().all(|&c| c <= 1)
}

fn mode_propagation(mode: &str) -> Option<Propagation> {
    mode.split(',').find_map(Propagation::parse)
}

/// `path.Clean` of an absolute path, as Go writes it.
pub fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(n) => parts.push(n.to_str().unwrap_or("")),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

fn check_target(kind: &str, target: &str) -> Result<String, String> {
    if target.is_empty() {
        return Err(mount_config(kind, "field Target must not be empty"));
    }
    if !target.starts_with('/') {
        return Err(mount_config(
            kind,
            format!("invalid mount path: '{target}' mount path must be absolute"),
        ));
    }
    let dst = clean(target);
    if dst == "/" {
        return Err(mount_config(
            kind,
            "invalid specification: destination can't be '/'",
        ));
    }
    Ok(dst)
}

/// One `-v` / `HostConfig.Binds` entry: `dst`, `src:dst` or `src:dst:mode`, where a source
/// that is an absolute path is a bind and anything else a volume's name.
pub fn parse_bind(raw: &str) -> Result<MountPoint, String> {
    let parts: Vec<&str> = raw.splitn(4, ':').collect();
    if parts[0].is_empty() {
        return Err(invalid_spec(raw));
    }
    let (source, target, mode) = match parts.as_slice() {
        [dst] => ("", *dst, ""),
        // `/foo:rw` names a destination and a mode, and a volume needs a source too.
        [_, m] if valid_mode(m) => return Err(invalid_spec(raw)),
        [src, dst] => (*src, *dst, ""),
        [src, dst, mode] => (*src, *dst, *mode),
        _ => return Err(invalid_spec(raw)),
    };
    if !valid_mode(mode) {
        return Err(format!("invalid mode: {mode}"));
    }
    let wrap = |e: String| format!("{}: {e}", invalid_spec(raw));
    let bind = source.starts_with('/');
    let kind = if bind { "bind" } else { "volume" };
    let destination = check_target(kind, target).map_err(wrap)?;
    let rw = !mode.split(',').any(|o| o == "ro");
    let mut mp = MountPoint {
        kind: kind.into(),
        destination,
        mode: mode.into(),
        rw,
        ..Default::default()
    };
    if bind {
        mp.source = clean(source);
        mp.propagation = mode_propagation(mode).unwrap_or_default().as_str().into();
        mp.create_source = true;
    } else {
        if !source.is_empty() {
            super::name::validate(source).map_err(wrap)?;
        }
        mp.name = source.into();
        mp.anonymous = source.is_empty();
        mp.driver = "local".into();
        mp.copy_data = !mode.split(',').any(|o| o == "nocopy");
        // The local driver's mode, as Docker fills it in when none was given.
        if mp.mode.is_empty() {
            mp.mode = "z".into();
        }
    }
    Ok(mp)
}

/// One `HostConfig.Mounts` entry, checked as Docker checks it. A bind's source must exist
/// unless `bind-create-src` (`exists` answers for the host path).
pub fn parse_mount(m: &Mount, exists: impl Fn(&str) -> bool) -> Result<MountPoint, String> {
    let kind = m.kind.as_str();
    let extra = |f: &str| {
        Err(mount_config(
            kind,
            format!("field {f} must not be specified"),
        ))
    };
    if kind != "bind" && m.bind_options.is_some() {
        return extra("BindOptions");
    }
    if kind != "volume" && m.volume_options.is_some() {
        return extra("VolumeOptions");
    }
    if kind != "tmpfs" && m.tmpfs_options.is_some() {
        return extra("TmpfsOptions");
    }
    let destination = check_target(kind, &m.target)?;
    let mut mp = MountPoint {
        kind: kind.into(),
        destination,
        rw: !m.read_only,
        ..Default::default()
    };
    match kind {
        "bind" => {
            if m.source.is_empty() {
                return Err(mount_config(kind, "field Source must not be empty"));
            }
            let opts = m.bind_options.clone().unwrap_or_default();
            let propagation = if opts.propagation.is_empty() {
                Propagation::Rprivate
            } else {
                Propagation::parse(&opts.propagation).ok_or_else(|| {
                    mount_config(
                        kind,
                        format!("invalid propagation mode: {}", opts.propagation),
                    )
                })?
            };
            if !m.source.starts_with('/') {
                return Err(mount_config(
                    kind,
                    format!(
                        "invalid mount path: '{}' mount path must be absolute",
                        m.source
                    ),
                ));
            }
            if !opts.create_mountpoint && !exists(&m.source) {
                return Err(mount_config(
                    kind,
                    format!("bind source path does not exist: {}", m.source),
                ));
            }
            mp.source = clean(&m.source);
            mp.propagation = propagation.as_str().into();
            mp.non_recursive = opts.non_recursive;
            mp.create_source = opts.create_mountpoint;
        }
        "volume" => {
            let opts = m.volume_options.clone().unwrap_or_default();
            if !m.source.is_empty() {
                super::name::validate(&m.source).map_err(|e| mount_config(kind, e))?;
            }
            if !opts.subpath.is_empty() {
                if m.source.is_empty() {
                    return Err(mount_config(
                        kind,
                        "must not set Subpath when using anonymous volumes",
                    ));
                }
                let local = !opts.subpath.starts_with('/')
                    && Path::new(&opts.subpath)
                        .components()
                        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
                if !local {
                    return Err(mount_config(
                        kind,
                        "subpath must be a relative path within the volume",
                    ));
                }
            }
            let driver = opts.driver_config.clone().unwrap_or_default();
            if !driver.name.is_empty() && driver.name != "local" {
                return Err(format!(
                    "error looking up volume plugin {}: plugin {:?} not found",
                    driver.name, driver.name
                ));
            }
            mp.name = m.source.clone();
            mp.anonymous = m.source.is_empty();
            mp.driver = "local".into();
            mp.mode = "z".into();
            mp.copy_data = !opts.no_copy;
            mp.volume_spec = Some(VolumeSpec {
                driver_opts: driver.options.unwrap_or_default(),
                labels: opts.labels.unwrap_or_default(),
                subpath: opts.subpath,
            });
        }
        "tmpfs" => {
            if !m.source.is_empty() {
                return Err(mount_config(kind, "field Source must not be specified"));
            }
            let mut raw = Vec::new();
            if m.read_only {
                raw.push("ro".to_string());
            }
            if let Some(t) = &m.tmpfs_options {
                if t.mode != 0 {
                    raw.push(format!("mode={:o}", t.mode));
                }
                if t.size_bytes < 0 {
                    return Err(mount_config(kind, "tmpfs size must not be negative"));
                }
                if t.size_bytes != 0 {
                    raw.push(format!("size={}", size_with_suffix(t.size_bytes)));
                }
            }
            mp.tmpfs =
                Some(parse_tmpfs_options(&raw.join(",")).map_err(|e| mount_config(kind, e))?);
            mp.rw = !mp.tmpfs.as_ref().is_some_and(|t| t.readonly);
        }
        "npipe" | "cluster" | "image" => {
            return Err(format!("mount type {kind:?} is not supported by berth yet"))
        }
        _ => return Err(mount_config(kind, "mount type unknown")),
    }
    Ok(mp)
}

/// Docker writes a tmpfs size with the largest suffix that divides it evenly.
fn size_with_suffix(size: i64) -> String {
    for (suffix, div) in [("g", 1i64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
        if size % div == 0 {
            return format!("{}{suffix}", size / div);
        }
    }
    size.to_string()
}

/// A `--tmpfs` entry (`HostConfig.Tmpfs`: destination → options).
pub fn parse_tmpfs(destination: &str, options: &str) -> Result<MountPoint, String> {
    let destination = check_target("tmpfs", destination)?;
    let tmpfs = parse_tmpfs_options(options)?;
    Ok(MountPoint {
        kind: "tmpfs".into(),
        destination,
        rw: !tmpfs.readonly,
        tmpfs: Some(tmpfs),
        ..Default::default()
    })
}

/// The options of a tmpfs after Docker's defaults (`noexec,nosuid,nodev`): the flags the
/// kernel takes as mount flags, and the rest as the filesystem's data.
pub fn parse_tmpfs_options(options: &str) -> Result<TmpfsSpec, String> {
    let mut t = TmpfsSpec {
        nosuid: true,
        nodev: true,
        noexec: true,
        ..Default::default()
    };
    let mut data = Vec::new();
    for o in options.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => t.readonly = true,
            "rw" => t.readonly = false,
            "exec" => t.noexec = false,
            "noexec" => t.noexec = true,
            "suid" => t.nosuid = false,
            "nosuid" => t.nosuid = true,
            "dev" => t.nodev = false,
            "nodev" => t.nodev = true,
            _ => match o.split_once('=') {
                Some((k, v))
                    if matches!(
                        k,
                        "size" | "mode" | "uid" | "gid" | "nr_inodes" | "nr_blocks" | "mpol"
                    ) && !v.is_empty()
                        && !v.contains(['\0', ',']) =>
                {
                    data.push(o.to_string())
                }
                _ => return Err(format!("invalid tmpfs option [{o:?}]")),
            },
        }
    }
    t.data = data.join(",");
    Ok(t)
}

/// A `--volumes-from` entry: the container, and `rw` or `ro`.
pub fn parse_volumes_from(spec: &str) -> Result<(String, String), String> {
    if spec.is_empty() {
        return Err("volumes-from specification cannot be an empty string".into());
    }
    let (id, mode) = spec.split_once(':').unwrap_or((spec, ""));
    if mode.is_empty() {
        return Ok((id.into(), "rw".into()));
    }
    if !valid_mode(mode)
        || mode_propagation(mode).is_some()
        || mode.split(',').any(|o| o == "nocopy")
    {
        return Err(format!("invalid mode: {mode}"));
    }
    Ok((id.into(), mode.into()))
}

/// Whether a `--volumes-from` mode leaves the mounts writable.
pub fn mode_is_rw(mode: &str) -> bool {
    !mode.split(',').any(|o| o == "ro")
}

/// The order mounts are applied in: a parent before what is mounted under it (by the
/// number of components of the destination, as Docker sorts them), the given order otherwise.
pub fn sort_for_mounting(mounts: &mut [MountPoint]) {
    mounts.sort_by_key(|m| {
        Path::new(&m.destination)
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .count()
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    fn show(r: Result<MountPoint, String>) -> serde_json::Value {
        match r {
            Ok(m) => serde_json::to_value(m).unwrap(),
            Err(e) => serde_json::json!({ "error": e }),
        }
    }

    #[test]
    fn binds_as_docker_reads_them() {
        let table: Vec<(&str, serde_json::Value)> = [
            "/data",
            "vol:/data",
            "vol:/data:ro",
            "vol:/data:nocopy",
            "/host:/data",
            "/host/../etc//x/:/data/./y/:ro,rshared",
            "/host:/data:z",
            "/data:rw",
            "vol:relative",
            "vol:/",
            "a/b:/data",
            "vol:/data:bogus",
            "vol:/data:ro,rw",
            "a:b:c:d",
            ":/data",
        ]
        .iter()
        .map(|r| (*r, show(parse_bind(r))))
        .collect();
        insta::assert_json_snapshot!(table);
    }

    #[test]
    fn mounts_as_docker_checks_them() {
        let m = |v: serde_json::Value| -> Mount { serde_json::from_value(v).unwrap() };
        let exists = |p: &str| p == "/srv";
        let table: Vec<serde_json::Value> = [
            serde_json::json!({"Type": "bind", "Source": "/srv", "Target": "/app"}),
            serde_json::json!({"Type": "bind", "Source": "/missing", "Target": "/app"}),
            serde_json::json!({"Type": "bind", "Source": "/missing", "Target": "/app", "BindOptions": {"CreateMountpoint": true}}),
            serde_json::json!({"Type": "bind", "Source": "/srv", "Target": "/app", "ReadOnly": true, "BindOptions": {"Propagation": "rslave", "NonRecursive": true}}),
            serde_json::json!({"Type": "bind", "Source": "/srv", "Target": "/app", "BindOptions": {"Propagation": "sideways"}}),
            serde_json::json!({"Type": "bind", "Target": "/app"}),
            serde_json::json!({"Type": "volume", "Source": "v1", "Target": "/data", "VolumeOptions": {"NoCopy": true, "Labels": {"a": "b"}, "DriverConfig": {"Name": "local", "Options": {"type": "tmpfs"}}}}),
            serde_json::json!({"Type": "volume", "Target": "/data"}),
            serde_json::json!({"Type": "volume", "Target": "/data", "VolumeOptions": {"Subpath": "x"}}),
            serde_json::json!({"Type": "volume", "Source": "v1", "Target": "/data", "VolumeOptions": {"Subpath": "../x"}}),
            serde_json::json!({"Type": "volume", "Source": "v1", "Target": "/data", "BindOptions": {}}),
            serde_json::json!({"Type": "volume", "Source": "v1", "Target": "/data", "VolumeOptions": {"DriverConfig": {"Name": "nfs-plugin"}}}),
            serde_json::json!({"Type": "tmpfs", "Target": "/run", "TmpfsOptions": {"SizeBytes": 67108864, "Mode": 448}}),
            serde_json::json!({"Type": "tmpfs", "Target": "/run", "ReadOnly": true, "TmpfsOptions": {"SizeBytes": 1000}}),
            serde_json::json!({"Type": "tmpfs", "Source": "x", "Target": "/run"}),
            serde_json::json!({"Type": "tmpfs", "Target": "run"}),
            serde_json::json!({"Type": "npipe", "Source": "x", "Target": "/run"}),
            serde_json::json!({"Type": "weird", "Target": "/run"}),
        ]
        .into_iter()
        .map(|v| serde_json::json!({"in": v.clone(), "out": show(parse_mount(&m(v), exists))}))
        .collect();
        insta::assert_json_snapshot!(table);
    }

    #[rstest]
    #[case("", Ok((true, true, true, false, "")))]
    #[case("size=64m,mode=1770", Ok((true, true, true, false, "size=64m,mode=1770")))]
    #[case("rw,exec,size=1k", Ok((true, true, false, false, "size=1k")))]
    #[case("ro,suid,dev", Ok((false, false, true, true, "")))]
    #[case("noatime", Err(()))]
    #[case("size=", Err(()))]
    #[case("opt=1", Err(()))]
    fn tmpfs_options(#[case] opts: &str, #[case] want: Result<(bool, bool, bool, bool, &str), ()>) {
        let got = parse_tmpfs_options(opts)
            .map(|t| (t.nosuid, t.nodev, t.noexec, t.readonly, t.data))
            .map_err(|_| ());
        assert_eq!(got, want.map(|(a, b, c, d, e)| (a, b, c, d, e.to_string())));
    }

    #[rstest]
    #[case("db", Ok(("db", "rw")))]
    #[case("db:ro", Ok(("db", "ro")))]
    #[case("db:rw,z", Ok(("db", "rw,z")))]
    #[case("db:rshared", Err("invalid mode: rshared"))]
    #[case("db:nocopy", Err("invalid mode: nocopy"))]
    #[case("db:what", Err("invalid mode: what"))]
    #[case("", Err("volumes-from specification cannot be an empty string"))]
    fn volumes_from(#[case] spec: &str, #[case] want: Result<(&str, &str), &str>) {
        assert_eq!(
            parse_volumes_from(spec),
            want.map(|(a, b)| (a.to_string(), b.to_string()))
                .map_err(|e| e.to_string())
        );
    }

    #[test]
    fn parents_are_mounted_before_children() {
        let mut ms: Vec<MountPoint> = ["/a/b/c", "/a", "/z", "/a/b"]
            .iter()
            .map(|d| MountPoint {
                destination: d.to_string(),
                ..Default::default()
            })
            .collect();
        sort_for_mounting(&mut ms);
        let order: Vec<&str> = ms.iter().map(|m| m.destination.as_str()).collect();
        assert_eq!(order, ["/a", "/z", "/a/b", "/a/b/c"]);
    }

    proptest! {
        #[test]
        fn no_bind_string_panics(raw in ".{0,40}") {
            let _ = parse_bind(&raw);
        }

        #[test]
        fn a_parsed_bind_has_a_clean_absolute_destination(
            src in "(/[a-z.]{1,5}){1,3}|[a-z][a-z0-9_.-]{1,8}|",
            dst in "(/[a-z.]{1,5}){1,4}/?",
            mode in proptest::sample::select(vec!["", "ro", "rw", "ro,z", "nocopy", "rslave"]),
        ) {
            let raw = match (src.is_empty(), mode.is_empty()) {
                (true, _) => dst.clone(),
                (false, true) => format!("{src}:{dst}"),
                (false, false) => format!("{src}:{dst}:{mode}"),
            };
            if let Ok(m) = parse_bind(&raw) {
                prop_assert!(m.destination.starts_with('/'));
                prop_assert!(!m.destination.contains("/./") && !m.destination.contains("/../"));
                prop_assert!(m.destination == "/" || !m.destination.ends_with('/'));
                prop_assert_eq!(m.kind == "bind", src.starts_with('/'));
            }
        }

        #[test]
        fn no_tmpfs_options_panic(raw in ".{0,40}") {
            let _ = parse_tmpfs_options(&raw);
        }
    }
}
