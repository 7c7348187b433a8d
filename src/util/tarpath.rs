//! One path of the host as a tar stream, the form `docker cp` moves files in: what the
//! daemon sends out of a container, and what the CLI sends into one.

use std::io;
use std::path::Path;

/// Tar `host` (a file, a link, or a whole directory, links kept as links) with its top entry
/// named `name`.
pub fn tar_path(host: &Path, name: &str, out: impl io::Write) -> io::Result<()> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let md = std::fs::symlink_metadata(host)?;
    if md.is_dir() {
        b.append_dir_all(name, host)?;
    } else {
        b.append_path_with_name(host, name)?;
    }
    b.into_inner()?.flush()
}
