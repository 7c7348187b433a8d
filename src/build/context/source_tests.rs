use super::*;
use std::os::unix::fs::PermissionsExt;

fn write(root: &Path, rel: &str, data: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

/// The archive as (name, type, uid, gid, mode, link, content) rows.
fn entries(p: Prepared) -> Vec<(String, char, u64, u64, u32, String, String)> {
    let mut out = Vec::new();
    p.write(io::empty(), &mut out).unwrap();
    let mut a = tar::Archive::new(out.as_slice());
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let mut content = String::new();
            e.read_to_string(&mut content).unwrap();
            (
                String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                h.entry_type().as_byte() as char,
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.mode().unwrap(),
                e.link_name()
                    .unwrap()
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                content,
            )
        })
        .collect()
}

fn names(p: Prepared) -> Vec<String> {
    entries(p).into_iter().map(|e| e.0).collect()
}

fn prep(ctx: &Path, file: Option<&str>) -> Prepared {
    prepare(ctx.to_str().unwrap(), file, &mut io::empty()).unwrap()
}

#[test]
fn a_directory_is_sent_sorted_as_root_with_links_kept() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "Dockerfile", "FROM busybox\n");
    write(r, "b/z.txt", "z");
    write(r, "a.txt", "a");
    write(r, "a/x", "x");
    std::fs::set_permissions(r.join("a.txt"), std::fs::Permissions::from_mode(0o4751)).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", r.join("link")).unwrap();
    std::fs::hard_link(r.join("a/x"), r.join("hard")).unwrap();
    std::os::unix::fs::chown(r.join("b/z.txt"), Some(1234), Some(5678)).unwrap();
    let p = prep(r, None);
    assert_eq!(p.dockerfile, "Dockerfile");
    let got = entries(p);
    let short: Vec<_> = got
        .iter()
        .map(|e| (e.0.as_str(), e.1, e.5.as_str()))
        .collect();
    assert_eq!(
        short,
        [
            ("Dockerfile", '0', ""),
            ("a/", '5', ""),
            ("a/x", '0', ""),
            ("a.txt", '0', ""),
            ("b/", '5', ""),
            ("b/z.txt", '0', ""),
            ("hard", '1', "a/x"),
            ("link", '2', "/etc/passwd"),
        ]
    );
    assert!(got.iter().all(|e| e.2 == 0 && e.3 == 0), "all 0:0: {got:?}");
    assert_eq!(got[3].4, 0o4751);
    assert_eq!(got[5].6, "z");
}

#[test]
fn dockerignore_excludes_but_the_build_files_are_always_sent() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "Dockerfile", "FROM busybox\n");
    write(r, ".dockerignore", "*\n!src\nsrc/*.tmp\n");
    write(r, "secret", "s");
    write(r, "src/main.rs", "m");
    write(r, "src/junk.tmp", "j");
    let got = names(prep(r, None));
    assert_eq!(got, [".dockerignore", "Dockerfile", "src/", "src/main.rs"]);
}

#[test]
fn an_exception_reaches_into_an_excluded_directory() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "Dockerfile", "FROM busybox\n");
    write(
        r,
        ".dockerignore",
        "vendor\n!vendor/keep/a.txt\nsrc\n!*/wanted\n",
    );
    write(r, "vendor/keep/a.txt", "a");
    write(r, "vendor/keep/b.txt", "b");
    write(r, "vendor/other", "o");
    write(r, "src/wanted", "w");
    let got = names(prep(r, None));
    // No entry for the excluded directories themselves; `!*/wanted` does not name src by
    // its text, so the CLI never looks inside src.
    assert_eq!(got, [".dockerignore", "Dockerfile", "vendor/keep/a.txt"]);
}

#[test]
fn a_dockerfile_in_an_ignored_subdirectory_is_still_sent_under_its_path() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "build/Dockerfile.dev", "FROM busybox\n");
    write(r, "build/other", "x");
    write(r, ".dockerignore", "build\n.dockerignore\n");
    let cwd = std::env::current_dir().unwrap();
    let f = r.join("build/Dockerfile.dev");
    let p = prepare(
        r.to_str().unwrap(),
        Some(f.to_str().unwrap()),
        &mut io::empty(),
    )
    .unwrap();
    assert_eq!(p.dockerfile, "build/Dockerfile.dev");
    assert_eq!(names(p), [".dockerignore", "build/Dockerfile.dev"]);
    assert_eq!(std::env::current_dir().unwrap(), cwd);
}

#[test]
fn a_dockerfile_outside_the_context_rides_along_under_a_random_name() {
    let d = tempfile::tempdir().unwrap();
    let ctx = d.path().join("ctx");
    write(&ctx, "f.txt", "f");
    write(
        d.path(),
        "elsewhere/Dockerfile",
        "FROM busybox\nCOPY . /c\n",
    );
    let f = d.path().join("elsewhere/Dockerfile");
    let p = prep(&ctx, Some(f.to_str().unwrap()));
    let name = p.dockerfile.clone();
    assert!(name.starts_with(".dockerfile."), "{name}");
    assert_eq!(name.len(), ".dockerfile.".len() + 20);
    assert!(name[12..].chars().all(|c| c.is_ascii_hexdigit()));
    let got = entries(p);
    let rows: Vec<_> = got.iter().map(|e| (e.0.as_str(), e.6.as_str())).collect();
    let ignore = format!(".dockerignore\n{name}\n");
    assert_eq!(
        rows,
        [
            ("f.txt", "f"),
            (".dockerignore", ignore.as_str()),
            (name.as_str(), "FROM busybox\nCOPY . /c\n"),
        ]
    );
    assert_eq!(got[2].4, 0o600);
}

#[test]
fn an_existing_dockerignore_gets_the_random_name_appended_in_place() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, ".dockerignore", "*.log");
    write(r, "z", "z");
    let mut stdin: &[u8] = b"FROM busybox\n";
    let p = prepare(r.to_str().unwrap(), Some("-"), &mut stdin).unwrap();
    let name = p.dockerfile.clone();
    let got = entries(p);
    let rows: Vec<_> = got.iter().map(|e| (e.0.clone(), e.6.clone())).collect();
    assert_eq!(
        rows,
        [
            (".dockerignore".to_string(), format!("*.log\n{name}\n")),
            ("z".into(), "z".into()),
            (name.clone(), "FROM busybox\n".into()),
        ]
    );
}

#[test]
fn stdin_is_sniffed_a_tar_goes_as_is_anything_else_is_a_dockerfile() {
    let mut tarred = Vec::new();
    {
        let mut b = tar::Builder::new(&mut tarred);
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_cksum();
        b.append_data(&mut h, "Dockerfile.x", &b"abc"[..]).unwrap();
        b.finish().unwrap();
    }
    let mut stdin = tarred.as_slice();
    let p = prepare("-", Some("Dockerfile.x"), &mut stdin).unwrap();
    assert_eq!(p.dockerfile, "Dockerfile.x");
    let mut sent = Vec::new();
    p.write(stdin, &mut sent).unwrap();
    assert_eq!(sent, tarred);

    let gz = [0x1f, 0x8b, 0x08, 0, 1, 2, 3];
    let mut stdin = &gz[..];
    let p = prepare("-", None, &mut stdin).unwrap();
    assert_eq!(p.dockerfile, "");
    let mut sent = Vec::new();
    p.write(stdin, &mut sent).unwrap();
    assert_eq!(sent, gz);

    let mut stdin: &[u8] = b"FROM busybox\nRUN true\n";
    let p = prepare("-", None, &mut stdin).unwrap();
    assert_eq!(p.dockerfile, "Dockerfile");
    let got = entries(p);
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].0.as_str(), got[0].6.as_str()),
        ("Dockerfile", "FROM busybox\nRUN true\n")
    );
}

#[test]
fn a_tar_header_is_told_from_text_by_its_checksum() {
    let mut h = tar::Header::new_old();
    h.set_path("x").unwrap();
    h.set_cksum();
    assert!(is_archive(h.as_bytes()));
    let mut bad = h.as_bytes().to_vec();
    bad[0] = b'y';
    assert!(!is_archive(&bad));
    assert!(!is_archive(&[0u8; 512]));
    assert!(!is_archive(b"FROM busybox\n"));
}

#[test]
fn paths_urls_and_stdin_twice_are_refused_with_dockers_words() {
    let err =
        |ctx: &str, f: Option<&str>| prepare(ctx, f, &mut io::empty()).err().unwrap().to_string();
    assert_eq!(
        err("-", Some("-")),
        "invalid argument: can't use stdin for both build context and dockerfile"
    );
    assert_eq!(
        err("/nonexistent/ctx", None),
        "unable to prepare context: path \"/nonexistent/ctx\" not found"
    );
    for url in [
        "https://example.com/ctx.tar.gz",
        "git@github.com:a/b.git",
        "https://github.com/a/b.git#main",
        "github.com/a/b",
    ] {
        assert_eq!(
            err(url, None),
            format!("berth build: remote contexts are not supported yet: {url}")
        );
    }
    let d = tempfile::tempdir().unwrap();
    let missing = err(d.path().to_str().unwrap(), None);
    assert!(
        missing.starts_with(
            "unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat "
        ) && missing.ends_with("/Dockerfile: no such file or directory"),
        "{missing}"
    );
    write(d.path(), "file", "x");
    let f = d.path().join("file");
    assert!(err(f.to_str().unwrap(), None).contains("context must be a directory"));
    write(d.path(), "Dockerfile", "FROM x");
    write(d.path(), ".dockerignore", "[\n");
    assert_eq!(
        err(d.path().to_str().unwrap(), None),
        "error checking context: syntax error in pattern"
    );
}

#[test]
fn a_lowercase_dockerfile_is_found_when_there_is_no_other() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "dockerfile", "FROM busybox\n");
    assert_eq!(prep(d.path(), None).dockerfile, "dockerfile");
}

#[test]
fn long_and_non_ascii_names_get_pax_records() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "Dockerfile", "FROM busybox\n");
    let long = format!("{}/{}", "d".repeat(120), "f".repeat(120));
    write(r, &long, "l");
    write(r, "é.txt", "e");
    let got = names(prep(r, None));
    assert!(got.contains(&long), "{got:?}");
    assert!(got.contains(&"é.txt".to_string()), "{got:?}");
}

#[test]
fn the_tar_ends_with_the_end_marker_and_is_whole_blocks() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "Dockerfile", "FROM busybox\n");
    let mut out = Vec::new();
    prep(d.path(), None).write(io::empty(), &mut out).unwrap();
    // One header, one data block, the two zero blocks: docker's "2.048kB".
    assert_eq!(out.len(), 2048);
    assert!(out[1024..].iter().all(|b| *b == 0));
}
