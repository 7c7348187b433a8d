//! The NAT rules inside a container's namespace that make 127.0.0.11:53 reach the resolver's
//! random ports: DNAT of what the container sends to port 53, and SNAT of the resolver's
//! replies back to port 53 (conntrack already reverses the DNAT for replies of the same
//! flow; the SNAT covers packets it has no entry for). They live in two chains of berth's
//! (nat `BERTH_DNS_OUTPUT`, `BERTH_DNS_POSTROUTING`) reached from OUTPUT and POSTROUTING by one
//! jump each, and are written by one `iptables-restore --noflush` run. Pure planners here;
//! `server` runs them inside the namespace.

use super::resolv::{DNS_PORT, EMBEDDED_DNS};

pub const OUTPUT_CHAIN: &str = "BERTH_DNS_OUTPUT";
pub const POSTROUTING_CHAIN: &str = "BERTH_DNS_POSTROUTING";

fn jumps() -> [(&'static str, String); 2] {
    [
        ("OUTPUT", format!("-d {EMBEDDED_DNS}/32 -j {OUTPUT_CHAIN}")),
        (
            "POSTROUTING",
            format!("-d {EMBEDDED_DNS}/32 -j {POSTROUTING_CHAIN}"),
        ),
    ]
}

fn chain_rules(udp_port: u16, tcp_port: u16) -> String {
    let ip = EMBEDDED_DNS;
    let mut out = String::new();
    for (proto, port) in [("udp", udp_port), ("tcp", tcp_port)] {
        out.push_str(&format!(
            "-A {OUTPUT_CHAIN} -d {ip}/32 -p {proto} --dport {DNS_PORT} -j DNAT --to-destination {ip}:{port}\n"
        ));
    }
    for (proto, port) in [("udp", udp_port), ("tcp", tcp_port)] {
        out.push_str(&format!(
            "-A {POSTROUTING_CHAIN} -s {ip}/32 -p {proto} --sport {port} -j SNAT --to-source :{DNS_PORT}\n"
        ));
    }
    out
}

/// For a namespace that has never had the rules (a container's first start, the common
/// case): `-N` creates the chains, and fails the whole run, changing nothing, if they exist.
pub fn plan_fresh(udp_port: u16, tcp_port: u16) -> String {
    let mut out = format!("*nat\n-N {OUTPUT_CHAIN}\n-N {POSTROUTING_CHAIN}\n");
    out.push_str(&chain_rules(udp_port, tcp_port));
    for (chain, spec) in jumps() {
        out.push_str(&format!("-I {chain} {spec}\n"));
    }
    out.push_str("COMMIT\n");
    out
}

/// For a namespace that has them already (the daemon restarted, a resolver started again),
/// given its `iptables-save -t nat`: the chains are flushed and refilled for the new ports
/// (a `:chain` line does that under --noflush), and exactly one jump of each kind is left.
pub fn plan_repair(save: &str, udp_port: u16, tcp_port: u16) -> String {
    let mut out = format!("*nat\n:{OUTPUT_CHAIN} - [0:0]\n:{POSTROUTING_CHAIN} - [0:0]\n");
    out.push_str(&chain_rules(udp_port, tcp_port));
    for (chain, spec) in jumps() {
        let line = format!("-A {chain} {spec}");
        let present = save.lines().filter(|l| l.trim() == line).count();
        if present == 0 {
            out.push_str(&format!("-I {chain} {spec}\n"));
        }
        for _ in 1..present {
            out.push_str(&format!("-D {chain} {spec}\n"));
        }
    }
    out.push_str("COMMIT\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_plan() {
        insta::assert_snapshot!("nat_fresh", plan_fresh(40001, 40002));
    }

    #[test]
    fn repair_keeps_one_jump_of_each() {
        let save = "*nat\n:OUTPUT ACCEPT [0:0]\n:BERTH_DNS_OUTPUT - [0:0]\n\
                    -A OUTPUT -d 127.0.0.11/32 -j BERTH_DNS_OUTPUT\n\
                    -A OUTPUT -d 127.0.0.11/32 -j BERTH_DNS_OUTPUT\n\
                    -A BERTH_DNS_OUTPUT -d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT \
                    --to-destination 127.0.0.11:39999\nCOMMIT\n";
        insta::assert_snapshot!("nat_repair", plan_repair(save, 40001, 40002));
    }
}
