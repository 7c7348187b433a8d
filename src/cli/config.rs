//! The CLI's own settings, Docker's `config.json`: in the directory `--config` names, else
//! `$BERTH_CONFIG`, else `~/.berth` (docker's `--config`, `$DOCKER_CONFIG`, `~/.docker`). It
//! keeps registry credentials (`auths`, written by `login`) and the user's defaults:
//! `detachKeys` (run -it, start -a, attach, exec -it), `psFormat` and `imagesFormat`. A flag
//! always wins over the file. A file that cannot be read or parsed is reported once with
//! docker's warning, and the command goes on as if there were none.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

static DIR: OnceLock<PathBuf> = OnceLock::new();
/// The file as read once per process (docker loads it once, before the command runs); `save`
/// keeps it in step.
static LOADED: Mutex<Option<Value>> = Mutex::new(None);

/// The keys berth reads that hold a string. A file where one has another type is as unusable
/// to docker as one that is not JSON, so it is to berth. Every other key is kept as it is.
const STRING_KEYS: [&str; 3] = ["detachKeys", "psFormat", "imagesFormat"];

/// Use `dir` (the global `--config`, or `$BERTH_CONFIG` through it) for this process. Only the
/// first call counts.
pub fn set_dir(dir: Option<PathBuf>) {
    if let Some(d) = dir {
        let _ = DIR.set(d);
    }
}

/// The config directory: `--config`/`$BERTH_CONFIG`, else `.berth` in the home directory.
pub fn dir() -> PathBuf {
    if let Some(d) = DIR.get() {
        return d.clone();
    }
    if let Some(d) = std::env::var_os("BERTH_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    home().join(".berth")
}

/// `$HOME`, else the user's home from the password database (as Go's os/user does for docker).
fn home() -> PathBuf {
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.dir)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

pub fn path() -> PathBuf {
    dir().join("config.json")
}

/// The file's content as an object: `{}` when there is no file, or when it is unusable (then
/// said once on stderr, in docker's words).
pub fn load() -> Value {
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(v) = loaded.as_ref() {
        return v.clone();
    }
    let path = path();
    let value = match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => warn(&path, &format!("read {}: {e}", path.display())),
        Ok(raw) => parse(&raw).unwrap_or_else(|e| warn(&path, &e)),
    };
    *loaded = Some(value.clone());
    value
}

fn warn(path: &Path, cause: &str) -> Value {
    eprintln!(
        "WARNING: Error parsing config file ({}): {cause}",
        path.display()
    );
    json!({})
}

/// The config object in `raw`, or why it is unusable.
fn parse(raw: &[u8]) -> Result<Value, String> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        // docker treats an empty file as an empty config.
        return Ok(json!({}));
    }
    let value: Value = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
    if !value.is_object() {
        return Err("the file does not hold a JSON object".into());
    }
    for key in STRING_KEYS {
        match &value[key] {
            Value::Null | Value::String(_) => {}
            other => return Err(format!("{key}: {other} is not a string")),
        }
    }
    match &value["auths"] {
        Value::Null | Value::Object(_) => {}
        other => return Err(format!("auths: {other} is not an object")),
    }
    Ok(value)
}

/// Write `cfg` aside with mode 0600, then rename it in: credentials are never readable by
/// others, not even for a moment.
pub fn save(cfg: &Value) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = path();
    let dir = path.parent().expect("config.json has a parent");
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(".config.json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&serde_json::to_vec_pretty(cfg).expect("json serializes"))?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    *LOADED.lock().unwrap_or_else(|e| e.into_inner()) = Some(cfg.clone());
    Ok(())
}

fn setting(cfg: &Value, key: &str) -> Option<String> {
    cfg.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `flag` when given (and not empty, as docker reads it), else the config's `key`.
fn flag_or(flag: Option<&str>, key: &str) -> Option<String> {
    match flag.filter(|f| !f.is_empty()) {
        Some(f) => Some(f.to_string()),
        None => setting(&load(), key),
    }
}

/// The detach keys to ask the daemon for: `--detach-keys`, else the config's `detachKeys`,
/// else none (the daemon's ctrl-p,ctrl-q).
pub fn detach_keys(flag: Option<&str>) -> Option<String> {
    flag_or(flag, "detachKeys")
}

/// The format `ps` prints in: `--format`, else the config's `psFormat`, else its table.
pub fn ps_format(flag: Option<&str>) -> Option<String> {
    flag_or(flag, "psFormat")
}

/// The format `images` prints in: `--format`, else the config's `imagesFormat`, else its table.
pub fn images_format(flag: Option<&str>) -> Option<String> {
    flag_or(flag, "imagesFormat")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_with_the_known_keys_parses_and_keeps_the_rest() {
        let v = parse(br#"{"psFormat":"{{.ID}}","detachKeys":"ctrl-x","credsStore":"x"}"#).unwrap();
        assert_eq!(setting(&v, "psFormat").as_deref(), Some("{{.ID}}"));
        assert_eq!(setting(&v, "detachKeys").as_deref(), Some("ctrl-x"));
        assert_eq!(v["credsStore"], "x");
    }

    #[test]
    fn an_empty_file_is_an_empty_config() {
        assert_eq!(parse(b"").unwrap(), json!({}));
        assert_eq!(parse(b" \n").unwrap(), json!({}));
    }

    #[test]
    fn unusable_files_are_refused_with_the_cause() {
        assert!(parse(b"{bad").unwrap_err().contains("key must be a string"));
        assert!(parse(b"[1]").unwrap_err().contains("JSON object"));
        // A known key of the wrong type spoils the file, as in docker.
        assert_eq!(
            parse(br#"{"psFormat": 5}"#).unwrap_err(),
            "psFormat: 5 is not a string"
        );
        assert!(parse(br#"{"auths": "x"}"#).is_err());
    }

    #[test]
    fn an_empty_setting_is_no_setting() {
        let v = parse(br#"{"psFormat":"","imagesFormat":null}"#).unwrap();
        assert_eq!(setting(&v, "psFormat"), None);
        assert_eq!(setting(&v, "imagesFormat"), None);
    }
}
