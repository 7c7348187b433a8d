//! The names of berth's own iptables chains, derived from the daemon's `--iptables-prefix`.
//! They live here, apart from the rule planner (`iptables`) and the published-port rules
//! (`ports`), so both name the same chains without depending on each other. Like Docker's
//! `DOCKER`/`DOCKER-FORWARD`, they are reached by one jump each from a built-in chain.

/// Whether a chain is one of the kernel's own (which berth must never create or delete).
pub fn is_builtin_chain(chain: &str) -> bool {
    matches!(
        chain,
        "PREROUTING" | "INPUT" | "FORWARD" | "OUTPUT" | "POSTROUTING"
    )
}

/// nat: the bridge's outbound MASQUERADE and the published ports' hairpin MASQUERADE.
pub fn nat_chain(prefix: &str) -> String {
    format!("{prefix}-POSTROUTING")
}

/// filter: what may cross the bridge (out, replies in, and published ports).
pub fn forward_chain(prefix: &str) -> String {
    format!("{prefix}-FORWARD")
}

/// filter: the first stage of isolation between networks: what leaves a bridge for another
/// interface goes on to the second stage (Docker's `DOCKER-ISOLATION-STAGE-1`).
pub fn isolation_chain(prefix: &str) -> String {
    format!("{prefix}-ISOLATION-1")
}

/// filter: the second stage: a packet that left one bridge is dropped if it is bound for
/// another of berth's bridges.
pub fn isolation2_chain(prefix: &str) -> String {
    format!("{prefix}-ISOLATION-2")
}

/// nat: the published ports' DNAT, reached for packets to the host's own addresses.
pub fn dnat_chain(prefix: &str) -> String {
    format!("{prefix}-DNAT")
}

/// raw: drops what arrives on a bridge for 127.0.0.0/8. Published ports reach containers
/// from loopback through DNAT, which needs `route_localnet` on the bridges; that setting would
/// also let a container (which has CAP_NET_RAW) hand-craft packets to the host's loopback
/// services, so those are dropped before routing.
pub fn raw_chain(prefix: &str) -> String {
    format!("{prefix}-PREROUTING")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_carry_the_prefix_and_are_never_builtin() {
        for c in [
            nat_chain("P"),
            forward_chain("P"),
            dnat_chain("P"),
            isolation_chain("P"),
            isolation2_chain("P"),
            raw_chain("P"),
        ] {
            assert!(c.starts_with("P-"), "{c}");
            assert!(!is_builtin_chain(&c), "{c}");
        }
        assert!(is_builtin_chain("POSTROUTING"));
    }
}
