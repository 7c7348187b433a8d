//! Telling berth's own bridges from everyone else's (Docker's `br-…` look the same). When the
//! daemon creates a bridge it sets the bridge's alias (IFLA_IFALIAS, `ip link` prints it as
//! `alias`) to a mark naming this daemon, its iptables prefix and state directory, before
//! anything else about the network can fail. A crash between creating a network's bridge
//! and writing its record leaves a marked bridge that no record names: at start the daemon
//! removes exactly those. An unmarked bridge, or one marked by another daemon, is never touched.

use std::path::Path;

/// The kernel keeps at most this many bytes of an alias (IFALIASZ less the NUL).
const MAX_ALIAS: usize = 255;

/// This daemon's mark: `berth <prefix> <state dir>`; if that is too long for an alias, the
/// state dir's sha256 stands for it (still one mark per daemon).
pub fn mark(iptables_prefix: &str, state_dir: &Path) -> String {
    let plain = format!("berth {iptables_prefix} {}", state_dir.display());
    if plain.len() <= MAX_ALIAS {
        return plain;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(state_dir.as_os_str().as_encoded_bytes());
    format!("berth {iptables_prefix} sha256:{}", hex::encode(digest))
}

/// A bridge on the host, as netlink lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenBridge {
    pub name: String,
    pub alias: Option<String>,
}

/// The bridges to remove: those carrying exactly `mark` whose name no network record (nor
/// the default bridge, in `recorded` too) gives.
pub fn orphans<'a>(bridges: &'a [SeenBridge], mark: &str, recorded: &[&str]) -> Vec<&'a str> {
    bridges
        .iter()
        .filter(|b| b.alias.as_deref() == Some(mark))
        .filter(|b| !recorded.contains(&b.name.as_str()))
        .map(|b| b.name.as_str())
        .collect()
}

/// At daemon start: remove the bridges of `orphans` (this daemon's mark, no record among
/// `recorded`), each with its rules and IPAM state file. Returns what went, for the log.
pub async fn remove_orphans(cfg: &super::NetworkConfig, recorded: &[&str]) -> Vec<String> {
    let mut removed = Vec::new();
    let h = match super::netlink::connect() {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!("sweep: listing bridges: {e}");
            return removed;
        }
    };
    let seen = match super::netlink::bridges(&h).await {
        Ok(seen) => seen,
        Err(e) => {
            tracing::warn!("sweep: listing bridges: {e}");
            return removed;
        }
    };
    let mark = mark(&cfg.iptables_prefix, &cfg.state_dir);
    for name in orphans(&seen, &mark, recorded) {
        // Its address says which subnet its rules name.
        let subnet = match super::netlink::link_index(&h, name).await {
            Ok(Some(index)) => super::netlink::ipv4_addrs(&h, index)
                .await
                .ok()
                .and_then(|a| a.first().map(|n| n.trunc())),
            _ => None,
        };
        // Whether the network was internal, or had ICC off, is not known, so the rules of
        // every kind go (absent ones are fine).
        let every_policy = [(false, true), (true, true), (false, false)]
            .map(|(internal, icc)| super::iptables::Policy { internal, icc });
        if let Err(e) = super::bridge::remove_bridge(cfg, name, subnet, &every_policy).await {
            tracing::warn!("sweep: removing orphaned bridge {name}: {e}");
            continue;
        }
        removed.push(format!("bridge {name}"));
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(name: &str, alias: Option<&str>) -> SeenBridge {
        SeenBridge {
            name: name.into(),
            alias: alias.map(str::to_string),
        }
    }

    #[test]
    fn mark_names_prefix_and_state_dir_and_fits_an_alias() {
        assert_eq!(
            mark("BERTH", Path::new("/var/lib/berth/network")),
            "berth BERTH /var/lib/berth/network"
        );
        let long = format!("/{}", "d".repeat(300));
        let m = mark("BERTH", Path::new(&long));
        assert!(
            m.len() <= MAX_ALIAS && m.starts_with("berth BERTH sha256:"),
            "{m}"
        );
        assert_ne!(m, mark("BERTH", Path::new(&format!("{long}x"))));
    }

    #[test]
    fn removes_only_our_marked_bridges_without_a_record() {
        let ours = "berth BERTH /var/lib/berth/network";
        let bridges = [
            seen("berth0", Some(ours)),              // the default bridge: recorded
            seen("br-0123456789ab", Some(ours)),     // a network's: recorded
            seen("br-ba9876543210", Some(ours)),     // the crash's orphan
            seen("br-ffffffffffff", None),           // Docker's (or anyone's)
            seen("br-eeeeeeeeeeee", Some("docker")), // someone else's alias
            seen("br-dddddddddddd", Some("berth BERTH /tmp/other/network")), // another daemon
            seen(
                "br-cccccccccccc",
                Some("berth BERTH2 /var/lib/berth/network"),
            ), // other prefix
            seen("mybr", Some(ours)),                // a custom-named network's bridge, orphaned
        ];
        assert_eq!(
            orphans(&bridges, ours, &["berth0", "br-0123456789ab"]),
            ["br-ba9876543210", "mybr"]
        );
        assert!(orphans(
            &bridges,
            ours,
            &["berth0", "br-0123456789ab", "br-ba9876543210", "mybr"]
        )
        .is_empty());
        assert!(orphans(&[], ours, &[]).is_empty());
    }
}
