//! Signals as people and engines name them: `9`, `KILL`, `SIGKILL`, `sigkill` (`docker kill
//! -s`, `docker stop`'s stop signal, `runc kill`).

use nix::sys::signal::Signal;
use std::str::FromStr;

/// The signal `s` names, by number or by name with or without `SIG`, in any case.
pub fn parse(s: &str) -> Option<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).ok();
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).ok()
}
