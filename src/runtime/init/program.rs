//! The last steps of init and of an exec: finding the program as Go's exec.LookPath does, and
//! execve(2) with Docker's words and exit codes (126 cannot invoke, 127 not found) when it
//! fails. (Becoming the container's user with its capabilities is `oci::init`'s.)

use super::InitError;
use crate::runtime::kernel::Kernel;
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn env_path(env: &[String]) -> String {
    env.iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .to_string()
}

/// Docker's (Go's exec.LookPath) rules and words for finding the program.
pub fn find_program(args: &[String], env: &[String]) -> Result<PathBuf, InitError> {
    let name = args.first().map(String::as_str).unwrap_or("");
    if name.contains('/') {
        let p = PathBuf::from(name);
        return match std::fs::metadata(&p) {
            Ok(md) if md.is_dir() => Err(InitError {
                message: format!("exec: \"{name}\": is a directory"),
                exit_code: 126,
            }),
            Ok(_) => Ok(p),
            Err(e) => Err(InitError {
                message: format!("exec: \"{name}\": stat {name}: {}", errno_text(&e)),
                exit_code: if e.kind() == std::io::ErrorKind::PermissionDenied {
                    126
                } else {
                    127
                },
            }),
        };
    }
    for dir in env_path(env).split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(name);
        if let Ok(md) = std::fs::metadata(&candidate) {
            if !md.is_dir() && md.permissions().mode() & 0o111 != 0 {
                return Ok(candidate);
            }
        }
    }
    Err(InitError {
        message: format!("exec: \"{name}\": executable file not found in $PATH"),
        exit_code: 127,
    })
}

fn errno_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_lowercase(),
        None => e.to_string(),
    }
}

/// execve(2), or the error in Docker's words with the exit code docker gives it.
/// A kernel that records returns `Ok` instead of replacing the process.
pub fn execve(
    k: &dyn Kernel,
    program: &Path,
    args: &[String],
    env: &[String],
) -> Result<(), InitError> {
    let cstr = |s: &str| {
        CString::new(s).map_err(|_| InitError::setup("an argument", "contains a NUL byte"))
    };
    let path = cstr(&program.to_string_lossy())?;
    let cargs: Vec<CString> = args.iter().map(|a| cstr(a)).collect::<Result<_, _>>()?;
    let cenv: Vec<CString> = env.iter().map(|a| cstr(a)).collect::<Result<_, _>>()?;
    let name = args.first().cloned().unwrap_or_default();
    let Err(errno) = k.execve(&path, &cargs, &cenv) else {
        return Ok(());
    };
    let (text, code) = match errno {
        nix::errno::Errno::EACCES => ("permission denied".to_string(), 126),
        nix::errno::Errno::ENOENT => ("no such file or directory".to_string(), 127),
        nix::errno::Errno::EISDIR => ("is a directory".to_string(), 126),
        other => (other.desc().to_lowercase(), 126),
    };
    Err(InitError {
        message: format!("exec: \"{name}\": {text}"),
        exit_code: code,
    })
}
