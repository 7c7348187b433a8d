//! `-u user[:group]` resolved against the image's own /etc/passwd and /etc/group, as Docker
//! does: names or numbers, a numeric uid need not exist, supplementary groups come from
//! /etc/group. The files are read without following symlinks, so an image cannot point
//! berth at the host's files.

use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum UserError {
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
    #[error("invalid user specification {0:?}")]
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 6 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
            })
        })
        .collect()
}

pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 3 {
                return None;
            }
            Some(GroupEntry {
                name: f[0].to_string(),
                gid: f[2].parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// The pure part: resolve `spec` against parsed files.
pub fn resolve_in(
    spec: &str,
    passwd: &[PasswdEntry],
    groups: &[GroupEntry],
) -> Result<ResolvedUser, UserError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if spec.is_empty() || user.is_empty() && group.is_none() {
        let root = passwd.iter().find(|p| p.uid == 0);
        return Ok(ResolvedUser {
            uid: 0,
            gid: 0,
            additional_gids: supplementary(
                root.map(|r| r.name.as_str()).unwrap_or("root"),
                0,
                groups,
            ),
            home: root
                .map(|r| r.home.clone())
                .unwrap_or_else(|| "/root".into()),
        });
    }
    if user.is_empty() || group == Some("") {
        return Err(UserError::Invalid(spec.to_string()));
    }
    let entry = match user.parse::<u32>() {
        Ok(uid) => passwd
            .iter()
            .find(|p| p.uid == uid)
            .cloned()
            .or(Some(PasswdEntry {
                name: String::new(),
                uid,
                gid: 0,
                home: "/".into(),
            })),
        Err(_) => passwd.iter().find(|p| p.name == user).cloned(),
    }
    .ok_or_else(|| UserError::NoUser(user.to_string()))?;
    let gid = match group {
        None => entry.gid,
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => groups
                .iter()
                .find(|e| e.name == g)
                .map(|e| e.gid)
                .ok_or_else(|| UserError::NoGroup(g.to_string()))?,
        },
    };
    let additional_gids = if group.is_some() || entry.name.is_empty() {
        vec![]
    } else {
        supplementary(&entry.name, gid, groups)
    };
    Ok(ResolvedUser {
        uid: entry.uid,
        gid,
        additional_gids,
        home: entry.home,
    })
}

fn supplementary(name: &str, primary: u32, groups: &[GroupEntry]) -> Vec<u32> {
    let mut gids: Vec<u32> = groups
        .iter()
        .filter(|g| g.members.iter().any(|m| m == name) && g.gid != primary)
        .map(|g| g.gid)
        .collect();
    gids.dedup();
    gids
}

/// Read `rootfs/etc/<file>`, refusing symlinks anywhere on the way.
fn read_in_root(rootfs: &Path, file: &str) -> String {
    let etc = rootfs.join("etc");
    let path = etc.join(file);
    for p in [&etc, &path] {
        match p.symlink_metadata() {
            Ok(md) if md.file_type().is_symlink() => return String::new(),
            Ok(_) => {}
            Err(_) => return String::new(),
        }
    }
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Resolve `-u` for a container whose rootfs is mounted at `rootfs`.
pub fn resolve(rootfs: &Path, spec: &str) -> Result<ResolvedUser, UserError> {
    let passwd = parse_passwd(&read_in_root(rootfs, "passwd"));
    let groups = parse_group(&read_in_root(rootfs, "group"));
    resolve_in(spec, &passwd, &groups)
}

/// `--group-add`: each entry a gid, or a group name from `groups`; the result is in order,
/// without repeats.
pub fn group_add_in(specs: &[String], groups: &[GroupEntry]) -> Result<Vec<u32>, UserError> {
    let mut out: Vec<u32> = Vec::new();
    for spec in specs {
        let gid = match spec.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => groups
                .iter()
                .find(|g| g.name == *spec)
                .map(|g| g.gid)
                .ok_or_else(|| UserError::NoGroup(spec.clone()))?,
        };
        if !out.contains(&gid) {
            out.push(gid);
        }
    }
    Ok(out)
}

/// [`group_add_in`] against the group file of the rootfs mounted at `rootfs`.
pub fn group_add(rootfs: &Path, specs: &[String]) -> Result<Vec<u32>, UserError> {
    if specs.is_empty() {
        return Ok(Vec::new());
    }
    group_add_in(specs, &parse_group(&read_in_root(rootfs, "group")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn group_add_takes_numbers_and_names_once_each() {
        let groups = parse_group("root:x:0:\ndaemon:x:1:\nstaff:x:50:\n");
        let specs: Vec<String> = ["1000", "staff", "1000", "daemon"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(group_add_in(&specs, &groups).unwrap(), vec![1000, 50, 1]);
        let err = group_add_in(&["nosuch".to_string()], &groups).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unable to find group nosuch: no matching entries in group file"
        );
    }
    use rstest::rstest;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nuser:x:1000:1000:user:/home/user:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nstaff:x:50:user\nnobody:x:65534:\nuser:x:1000:\n";

    fn r(spec: &str) -> Result<ResolvedUser, UserError> {
        resolve_in(spec, &parse_passwd(PASSWD), &parse_group(GROUP))
    }

    #[rstest]
    #[case("", 0, 0, vec![], "/root")]
    #[case("root", 0, 0, vec![], "/root")]
    #[case("user", 1000, 1000, vec![50], "/home/user")]
    #[case("1000", 1000, 1000, vec![50], "/home/user")]
    #[case("user:staff", 1000, 50, vec![], "/home/user")]
    #[case("user:7", 1000, 7, vec![], "/home/user")]
    #[case("4242", 4242, 0, vec![], "/")]
    #[case("4242:4242", 4242, 4242, vec![], "/")]
    #[case("nobody", 65534, 65534, vec![], "/nonexistent")]
    fn resolves(
        #[case] spec: &str,
        #[case] uid: u32,
        #[case] gid: u32,
        #[case] extra: Vec<u32>,
        #[case] home: &str,
    ) {
        let u = r(spec).unwrap();
        assert_eq!(
            (u.uid, u.gid, u.additional_gids, u.home.as_str()),
            (uid, gid, extra, home)
        );
    }

    #[test]
    fn unknown_names_use_dockers_words() {
        assert_eq!(
            r("ghost").unwrap_err().to_string(),
            "unable to find user ghost: no matching entries in passwd file"
        );
        assert_eq!(
            r("user:ghosts").unwrap_err().to_string(),
            "unable to find group ghosts: no matching entries in group file"
        );
        assert!(matches!(r(":"), Err(UserError::Invalid(_))));
    }

    proptest! {
        #[test]
        fn never_panics(spec in ".{0,20}", passwd in ".{0,200}", group in ".{0,200}") {
            let _ = resolve_in(&spec, &parse_passwd(&passwd), &parse_group(&group));
        }
    }
}
