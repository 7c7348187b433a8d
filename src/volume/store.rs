//! The local volume driver's store: `<root>/volumes/<name>/_data` holds a volume's files,
//! `<root>/volumes/<name>/volume.json` what it was created with. A volume appears whole or
//! not at all: it is made under a temporary name and renamed into place, and removed by
//! renaming it out of the way first. Which containers use a volume is not stored here: the
//! daemon reads it from the container records, so a crash cannot leave a count that lies.

use super::local::{self, DriverOpts};
use crate::wire::volume::Volume;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The label Docker puts on the volumes it makes for one container (`-v /data`, `VOLUME`).
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("get {0}: no such volume")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("create {name}: error looking up volume plugin {driver}: plugin {driver:?} not found")]
    NoDriver { name: String, driver: String },
    #[error("{what} {name}: {err}")]
    Io {
        what: &'static str,
        name: String,
        err: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, VolumeError>;

/// `volume.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct Meta {
    created_at: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    options: BTreeMap<String, String>,
}

pub struct VolumeStore {
    dir: PathBuf,
}

/// What `create` asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// None: an anonymous volume, named by 64 random hex digits and labelled so.
    pub name: Option<String>,
    pub driver: String,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

impl VolumeStore {
    pub fn open(root: &Path) -> std::io::Result<VolumeStore> {
        let dir = root.join("volumes");
        std::fs::create_dir_all(&dir)?;
        let store = VolumeStore { dir };
        // A crash between the rename out of the way and the end of a removal, or in the
        // middle of a create, leaves one of these: nobody can name them.
        for e in std::fs::read_dir(&store.dir)?.flatten() {
            let n = e.file_name();
            let n = n.to_string_lossy();
            if n.starts_with(".tmp-") || n.starts_with(".trash-") {
                let _ = local::unmount_if_mounted(&e.path().join("_data"));
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A volume's files on the host (`_data`), whether or not it exists.
    pub fn data_path(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("_data")
    }

    /// Make a volume; an existing one of that name is returned as it is (as Docker does:
    /// `volume create x` twice, or two containers naming `x`, share it). `bool`: made now.
    pub fn create(&self, o: &CreateOptions) -> Result<(Volume, bool)> {
        let anonymous = o.name.is_none();
        let name = match &o.name {
            Some(n) => {
                super::name::validate(n).map_err(VolumeError::Invalid)?;
                n.clone()
            }
            None => crate::util::id::random_id(),
        };
        if !o.driver.is_empty() && o.driver != "local" {
            return Err(VolumeError::NoDriver {
                name,
                driver: o.driver.clone(),
            });
        }
        if let Ok(v) = self.get(&name) {
            return Ok((v, false));
        }
        DriverOpts::parse(&o.options).map_err(VolumeError::Invalid)?;
        let mut labels = o.labels.clone();
        if anonymous {
            labels.insert(ANONYMOUS_LABEL.into(), String::new());
        }
        let meta = Meta {
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            labels,
            options: o.options.clone(),
        };
        let io = |err| VolumeError::Io {
            what: "create",
            name: name.clone(),
            err,
        };
        let tmp = self
            .dir
            .join(format!(".tmp-{}", &crate::util::id::random_id()[..16]));
        let made = (|| {
            std::fs::create_dir(&tmp)?;
            std::fs::create_dir(tmp.join("_data"))?;
            crate::util::fsutil::write_json_atomic(&tmp.join("volume.json"), &meta)?;
            std::fs::rename(&tmp, self.dir.join(&name))
        })();
        if let Err(e) = made {
            let _ = std::fs::remove_dir_all(&tmp);
            // Someone made it meanwhile: theirs is the volume.
            if let Ok(v) = self.get(&name) {
                return Ok((v, false));
            }
            return Err(io(e));
        }
        Ok((self.get(&name)?, true))
    }

    pub fn get(&self, name: &str) -> Result<Volume> {
        if super::name::validate(name).is_err() && !is_anonymous_name(name) {
            return Err(VolumeError::NotFound(name.into()));
        }
        let dir = self.dir.join(name);
        let meta: Meta = std::fs::read(dir.join("volume.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| VolumeError::NotFound(name.into()))?;
        Ok(Volume {
            created_at: meta.created_at,
            driver: "local".into(),
            labels: meta.labels,
            mountpoint: dir.join("_data").to_string_lossy().into_owned(),
            name: name.into(),
            options: (!meta.options.is_empty()).then_some(meta.options),
            scope: "local".into(),
            usage_data: None,
        })
    }

    /// Every volume, by name.
    pub fn list(&self) -> Vec<Volume> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        names.iter().filter_map(|n| self.get(n).ok()).collect()
    }

    /// Take a volume away with its data. The caller has checked that no container uses it.
    pub fn remove(&self, name: &str) -> Result<()> {
        self.get(name)?;
        let dir = self.dir.join(name);
        let io = |err| VolumeError::Io {
            what: "remove",
            name: name.into(),
            err,
        };
        local::unmount_if_mounted(&dir.join("_data")).map_err(io)?;
        let trash = self
            .dir
            .join(format!(".trash-{}", &crate::util::id::random_id()[..16]));
        std::fs::rename(&dir, &trash).map_err(io)?;
        std::fs::remove_dir_all(&trash).map_err(io)
    }

    /// Mount a volume's device (`opts`, from [`device_opts`]) over its `_data` (first user),
    /// unless it is already.
    pub fn mount(&self, name: &str, opts: &DriverOpts) -> Result<()> {
        let data = self.data_path(name);
        if crate::layers::is_mountpoint(&data) {
            return Ok(());
        }
        opts.mount(&data).map_err(|err| VolumeError::Io {
            what: "mount",
            name: name.into(),
            err,
        })
    }

    /// Undo `mount` (last user gone).
    pub fn unmount(&self, name: &str) -> Result<()> {
        local::unmount_if_mounted(&self.data_path(name)).map_err(|err| VolumeError::Io {
            what: "unmount",
            name: name.into(),
            err,
        })
    }

    /// The bytes a volume holds.
    pub fn size(&self, name: &str) -> u64 {
        crate::layers::dir_size(&self.data_path(name))
    }
}

/// The driver options of a volume that is mounted from somewhere (`type`/`device`/`o`), or
/// None for a plain directory.
pub fn device_opts(v: &Volume) -> Result<Option<DriverOpts>> {
    let opts = DriverOpts::parse(v.options.as_ref().unwrap_or(&BTreeMap::new()))
        .map_err(VolumeError::Invalid)?;
    Ok(opts.needs_mount().then_some(opts))
}

fn is_anonymous_name(n: &str) -> bool {
    n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, VolumeStore) {
        let t = tempfile::tempdir().unwrap();
        let s = VolumeStore::open(t.path()).unwrap();
        (t, s)
    }

    #[test]
    fn a_named_volume_is_made_once_and_shared() {
        let (_t, s) = store();
        let o = CreateOptions {
            name: Some("data".into()),
            labels: [("a".to_string(), "b".to_string())].into(),
            ..Default::default()
        };
        let (v, made) = s.create(&o).unwrap();
        assert!(made);
        assert_eq!(v.name, "data");
        assert_eq!(v.driver, "local");
        assert!(v.mountpoint.ends_with("volumes/data/_data"));
        assert!(Path::new(&v.mountpoint).is_dir());
        std::fs::write(Path::new(&v.mountpoint).join("f"), "x").unwrap();
        let (again, made) = s.create(&o).unwrap();
        assert!(!made);
        assert_eq!(again, v);
        assert_eq!(s.size("data"), 1);
        assert_eq!(s.list().len(), 1);
    }

    #[test]
    fn an_anonymous_volume_has_a_hex_name_and_dockers_label() {
        let (_t, s) = store();
        let (v, _) = s.create(&CreateOptions::default()).unwrap();
        assert!(is_anonymous_name(&v.name));
        assert_eq!(v.labels.get(ANONYMOUS_LABEL).map(String::as_str), Some(""));
        assert!(s.get(&v.name).is_ok());
    }

    #[test]
    fn bad_names_options_and_drivers_are_refused_and_leave_nothing() {
        let (t, s) = store();
        for o in [
            CreateOptions {
                name: Some("../escape".into()),
                ..Default::default()
            },
            CreateOptions {
                name: Some("v1".into()),
                options: [("colour".to_string(), "red".to_string())].into(),
                ..Default::default()
            },
            CreateOptions {
                name: Some("v1".into()),
                driver: "nfs".into(),
                ..Default::default()
            },
        ] {
            assert!(s.create(&o).is_err(), "{o:?}");
        }
        let left: Vec<_> = std::fs::read_dir(t.path().join("volumes"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn remove_takes_the_data_and_a_missing_volume_is_dockers_error() {
        let (_t, s) = store();
        s.create(&CreateOptions {
            name: Some("gone".into()),
            ..Default::default()
        })
        .unwrap();
        s.remove("gone").unwrap();
        assert!(s.list().is_empty());
        assert_eq!(
            s.remove("gone").unwrap_err().to_string(),
            "get gone: no such volume"
        );
        assert_eq!(
            s.get("../../etc").unwrap_err().to_string(),
            "get ../../etc: no such volume"
        );
    }

    #[test]
    fn leftovers_of_a_crash_are_swept_at_open() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("volumes");
        std::fs::create_dir_all(dir.join(".tmp-abc/_data")).unwrap();
        std::fs::create_dir_all(dir.join(".trash-abc/_data")).unwrap();
        let s = VolumeStore::open(t.path()).unwrap();
        assert!(s.list().is_empty());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    }
}
