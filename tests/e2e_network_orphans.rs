//! e2e: the crash window of `network create`. A bridge berth made whose network record was
//! never written (the daemon died in between) is removed at the next start; a bridge that
//! looks the same but is not marked as this daemon's (Docker's `br-…`, another daemon's) is
//! left alone. The orphan is made by hand as berth makes it: a bridge with the daemon's mark
//! as its alias.

mod common;

use std::process::Command;
use std::time::Duration;

fn ip(args: &[&str]) -> (bool, String) {
    let out = Command::new("ip").args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn exists(bridge: &str) -> bool {
    ip(&["link", "show", "dev", bridge]).0
}

/// Removes the hand-made bridges however the test ends.
struct Bridges(Vec<String>);

impl Drop for Bridges {
    fn drop(&mut self) {
        for b in &self.0 {
            let _ = Command::new("ip").args(["link", "del", b]).output();
        }
    }
}

#[test]
fn a_marked_bridge_without_a_record_is_removed_at_start_and_no_other() {
    let mut d = daemon_or_skip!();
    let mark = format!("berth {} {}", d.prefix, d.root.join("network").display());

    // What `network create` leaves: its bridge carries the mark from the start.
    d.ok(&["network", "create", "kept"]);
    let kept = d.user_bridges().pop().expect("the network's bridge");
    let (_, shown) = ip(&["-d", "link", "show", "dev", &kept]);
    assert!(shown.contains(&format!("alias {mark}")), "{shown}");

    let hex = &d.tag;
    let orphan = format!("br-{hex}00orph");
    let foreign = format!("br-{hex}00frgn");
    let other = format!("br-{hex}00othr");
    let _cleanup = Bridges(vec![orphan.clone(), foreign.clone(), other.clone()]);
    let other_mark = format!("berth {} /elsewhere/network", d.prefix);
    d.kill9_and_restart_with(Duration::ZERO, |_| {
        for (name, alias) in [
            (&orphan, Some(mark.clone())),
            (&foreign, None),
            (&other, Some(other_mark.clone())),
        ] {
            assert!(ip(&["link", "add", "name", name.as_str(), "type", "bridge"]).0);
            if let Some(a) = alias {
                assert!(ip(&["link", "set", "dev", name.as_str(), "alias", a.as_str()]).0);
            }
        }
    });
    assert!(!exists(&orphan), "the orphan survived:\n{}", d.log());
    assert!(exists(&foreign), "an unmarked bridge was removed");
    assert!(exists(&other), "another daemon's bridge was removed");
    assert!(exists(&kept), "a recorded network's bridge was removed");
    assert!(d.log().contains(&format!("bridge {orphan}")), "{}", d.log());
    d.ok(&["network", "rm", "kept"]);
}
