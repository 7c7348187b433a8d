//! Firewall rules for the bridge: a pure planner that says which rules a configuration needs,
//! and a thin shell that applies them with the `iptables` command (always `-w`), checking
//! each with `-C` first so that setup can run any number of times. Like Docker, berth keeps
//! its rules in its own chains (`<PREFIX>-POSTROUTING`, `<PREFIX>-FORWARD`) reached by one
//! jump from the built-in chain, so removing berth removes two jumps and two chains.

use std::fmt;

use ipnet::Ipv4Net;
use serde::Serialize;

use super::chains::{dnat_chain, isolation2_chain, isolation_chain, raw_chain};
pub use super::chains::{forward_chain, is_builtin_chain, nat_chain};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Table {
    Nat,
    Filter,
    Raw,
}

impl Table {
    pub fn as_str(&self) -> &'static str {
        match self {
            Table::Nat => "nat",
            Table::Filter => "filter",
            Table::Raw => "raw",
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a rule goes when it is added: jumps from built-in chains go first so that rules
/// other software appended (a DROP policy's helpers, say) cannot shadow them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Placement {
    Top,
    Bottom,
}

/// One iptables rule: its table, chain and match/target arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub table: Table,
    pub chain: String,
    pub spec: Vec<String>,
    pub placement: Placement,
}

impl Rule {
    fn new(table: Table, chain: &str, spec: &[&str], placement: Placement) -> Self {
        Rule {
            table,
            chain: chain.to_string(),
            spec: spec.iter().map(|s| s.to_string()).collect(),
            placement,
        }
    }

    fn with_op(&self, op: &str) -> Vec<String> {
        let mut args = vec![
            "-t".to_string(),
            self.table.as_str().to_string(),
            op.to_string(),
            self.chain.clone(),
        ];
        args.extend(self.spec.iter().cloned());
        args
    }

    /// Arguments (after `iptables -w`) that add the rule.
    pub fn add_args(&self) -> Vec<String> {
        self.with_op(match self.placement {
            Placement::Top => "-I",
            Placement::Bottom => "-A",
        })
    }

    /// Arguments that ask whether the rule is present (exit status 0 when it is).
    pub fn check_args(&self) -> Vec<String> {
        self.with_op("-C")
    }

    /// Arguments that delete one copy of the rule.
    pub fn delete_args(&self) -> Vec<String> {
        self.with_op("-D")
    }

    /// The rule as `iptables-save` prints it inside its table's section.
    pub fn save_line(&self) -> String {
        let mut line = format!("-A {}", self.chain);
        for arg in &self.spec {
            line.push(' ');
            line.push_str(arg);
        }
        line
    }
}

/// berth's own chains, with their tables.
pub fn bridge_chains(prefix: &str) -> Vec<(Table, String)> {
    vec![
        (Table::Nat, nat_chain(prefix)),
        (Table::Nat, dnat_chain(prefix)),
        (Table::Filter, forward_chain(prefix)),
        (Table::Filter, isolation_chain(prefix)),
        (Table::Filter, isolation2_chain(prefix)),
        (Table::Raw, raw_chain(prefix)),
    ]
}

/// The jumps from the built-in chains into berth's chains.
pub fn plan_bridge_jumps(prefix: &str) -> Vec<Rule> {
    vec![
        Rule::new(
            Table::Nat,
            "POSTROUTING",
            &["-j", &nat_chain(prefix)],
            Placement::Top,
        ),
        Rule::new(
            Table::Filter,
            "FORWARD",
            &["-j", &forward_chain(prefix)],
            Placement::Top,
        ),
        // Published ports: packets for one of the host's own addresses, arriving from outside
        // or from a container, or sent by the host itself, loopback included (route_localnet
        // on the bridges lets 127.0.0.1 be rewritten to a container's address).
        dnat_jump(prefix, "PREROUTING", &[]),
        dnat_jump(prefix, "OUTPUT", &[]),
        Rule::new(
            Table::Raw,
            "PREROUTING",
            &["-j", &raw_chain(prefix)],
            Placement::Top,
        ),
    ]
}

/// A jump into the DNAT chain from a built-in chain of the nat table, for packets bound for
/// one of the host's own addresses (and matching `extra`).
fn dnat_jump(prefix: &str, from: &str, extra: &[&str]) -> Rule {
    let chain = dnat_chain(prefix);
    let mut spec = extra.to_vec();
    spec.extend(["-m", "addrtype", "--dst-type", "LOCAL", "-j", &chain]);
    Rule::new(Table::Nat, from, &spec, Placement::Top)
}

/// The OUTPUT jump of berth before published ports were served by DNAT on loopback (it left
/// 127.0.0.0/8 to a userland proxy): still removed, so a host upgraded from then is clean.
fn legacy_output_jump(prefix: &str) -> Rule {
    dnat_jump(prefix, "OUTPUT", &["!", "-d", "127.0.0.0/8"])
}

/// Every rule the default bridge needs: masquerade what leaves the subnet through another
/// interface, let containers send anything out, and let replies (only) come back in.
/// Published ports add their own rules per container (`ports::plan_port_rules`).
pub fn plan_bridge_rules(prefix: &str, bridge: &str, subnet: &Ipv4Net) -> Vec<Rule> {
    let subnet = subnet.trunc().to_string();
    let nat = nat_chain(prefix);
    let fwd = forward_chain(prefix);
    let mut rules = vec![
        Rule::new(
            Table::Nat,
            &nat,
            &["-s", &subnet, "!", "-o", bridge, "-j", "MASQUERADE"],
            Placement::Bottom,
        ),
        Rule::new(
            Table::Filter,
            &fwd,
            &[
                "-o",
                bridge,
                "-m",
                "conntrack",
                "--ctstate",
                "RELATED,ESTABLISHED",
                "-j",
                "ACCEPT",
            ],
            Placement::Bottom,
        ),
        Rule::new(
            Table::Filter,
            &fwd,
            &["-i", bridge, "-j", "ACCEPT"],
            Placement::Bottom,
        ),
    ];
    // Published ports, served by DNAT alone (no proxy process). From the host's loopback:
    // the rewritten packet leaves through the bridge with a 127.x source, which the
    // container could not answer; it takes the bridge's address instead.
    rules.push(Rule::new(
        Table::Nat,
        &nat,
        &["-s", "127.0.0.0/8", "-o", bridge, "-j", "MASQUERADE"],
        Placement::Bottom,
    ));
    // Hairpin: a container reaching its own, or a sibling's, published port through a host
    // address is rewritten back onto the bridge it came from; its reply would go straight to
    // the sender (same subnet) and miss the reverse rewrite, so the sender takes the
    // bridge's address too, as it would behind Docker's proxy.
    rules.push(Rule::new(
        Table::Nat,
        &nat,
        &[
            "-s",
            &subnet,
            "-o",
            bridge,
            "-m",
            "conntrack",
            "--ctstate",
            "DNAT",
            "-j",
            "MASQUERADE",
        ],
        Placement::Bottom,
    ));
    // route_localnet on the bridge must not open the host's loopback services to containers.
    rules.push(Rule::new(
        Table::Raw,
        &raw_chain(prefix),
        &["-d", "127.0.0.0/8", "-i", bridge, "-j", "DROP"],
        Placement::Bottom,
    ));
    // Jumps last, so no packet enters a chain that is still being filled.
    rules.extend(plan_bridge_jumps(prefix));
    rules
}

/// What a network's rules depend on beyond its bridge and subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `--internal`: no way out, no way in.
    pub internal: bool,
    /// Inter-container communication (`com.docker.network.bridge.enable_icc`, true unless
    /// set false): whether containers on the bridge may reach each other.
    pub icc: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            internal: false,
            icc: true,
        }
    }
}

/// One network's bridge: the default bridge's rules for it (`plan_bridge_rules`, none of the
/// way out when `internal`), and its part of the isolation between networks. Traffic between
/// two of berth's bridges never passes; an internal network's traffic never leaves its bridge;
/// with ICC off, nothing passes between two containers of the bridge (as Docker, this needs
/// br_netfilter, which makes bridged frames traverse FORWARD).
pub fn plan_network_rules(
    prefix: &str,
    bridge: &str,
    subnet: &Ipv4Net,
    policy: Policy,
) -> Vec<Rule> {
    let internal = policy.internal;
    let mut rules: Vec<Rule> = plan_bridge_rules(prefix, bridge, subnet)
        .into_iter()
        .filter(|r| !(internal && r.spec.iter().any(|s| s == "MASQUERADE")))
        .collect();
    if !policy.icc {
        let accept_out = rules
            .iter()
            .position(|r| r.spec == ["-i", bridge, "-j", "ACCEPT"])
            .unwrap_or(rules.len());
        rules.insert(
            accept_out,
            Rule::new(
                Table::Filter,
                &forward_chain(prefix),
                &["-i", bridge, "-o", bridge, "-j", "DROP"],
                Placement::Bottom,
            ),
        );
    }
    let iso1 = isolation_chain(prefix);
    let iso2 = isolation2_chain(prefix);
    let jumps_at = rules
        .iter()
        .position(|r| is_builtin_chain(&r.chain))
        .unwrap_or(rules.len());
    let mut own = vec![Rule::new(
        Table::Filter,
        &iso2,
        &["-o", bridge, "-j", "DROP"],
        Placement::Bottom,
    )];
    if internal {
        own.push(Rule::new(
            Table::Filter,
            &iso1,
            &["-i", bridge, "!", "-o", bridge, "-j", "DROP"],
            Placement::Top,
        ));
        own.push(Rule::new(
            Table::Filter,
            &iso1,
            &["!", "-i", bridge, "-o", bridge, "-j", "DROP"],
            Placement::Top,
        ));
    } else {
        own.push(Rule::new(
            Table::Filter,
            &iso1,
            &["-i", bridge, "!", "-o", bridge, "-j", &iso2],
            Placement::Bottom,
        ));
    }
    // A published port is open to every network, as behind Docker's proxy: a connection that
    // a published port's DNAT made may cross from one bridge to another (both ways). It is
    // asked in the second stage, so an internal network's own DROPs (first stage) still hold.
    own.push(Rule::new(
        Table::Filter,
        &iso2,
        &["-m", "conntrack", "--ctstate", "DNAT", "-j", "RETURN"],
        Placement::Top,
    ));
    // The forward chain asks the isolation chain before anything it accepts.
    own.push(Rule::new(
        Table::Filter,
        &forward_chain(prefix),
        &["-j", &iso1],
        Placement::Top,
    ));
    rules.splice(jumps_at..jumps_at, own);
    rules
}

/// The rules of `plan_network_rules` that belong to that one bridge (the jumps and the
/// shared isolation jump stay for the other networks): what removing the network deletes.
pub fn network_own_rules(
    prefix: &str,
    bridge: &str,
    subnet: &Ipv4Net,
    policy: Policy,
) -> Vec<Rule> {
    plan_network_rules(prefix, bridge, subnet, policy)
        .into_iter()
        .filter(|r| r.spec.iter().any(|s| s == bridge))
        .collect()
}

/// The rules of each table that has any, in the order iptables-save prints the tables.
fn by_table(rules: &[Rule]) -> Vec<(Table, Vec<&Rule>)> {
    [Table::Raw, Table::Nat, Table::Filter]
        .into_iter()
        .map(|t| (t, rules.iter().filter(|r| r.table == t).collect::<Vec<_>>()))
        .filter(|(_, in_table)| !in_table.is_empty())
        .collect()
}

/// The plan as `iptables-save` would print it: one section per table, berth's chains
/// declared, rules in the order they would be evaluated.
pub fn render_save(rules: &[Rule]) -> String {
    let mut out = String::new();
    for (table, in_table) in by_table(rules) {
        out.push_str(&format!("*{table}\n"));
        let mut chains: Vec<&str> = Vec::new();
        for r in &in_table {
            if !is_builtin_chain(&r.chain) && !chains.contains(&r.chain.as_str()) {
                chains.push(&r.chain);
            }
        }
        for c in &chains {
            out.push_str(&format!(":{c} - [0:0]\n"));
        }
        // Built-in chains first (as iptables-save orders them), then berth's, one chain after
        // the other; within a chain, Top rules are evaluated before Bottom ones.
        let mut ordered = in_table.clone();
        ordered.sort_by_key(|r| {
            (
                !is_builtin_chain(&r.chain),
                chains.iter().position(|c| *c == r.chain),
                r.placement == Placement::Bottom,
            )
        });
        for r in ordered {
            out.push_str(&r.save_line());
            out.push('\n');
        }
        out.push_str("COMMIT\n");
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum IptablesError {
    #[error("cannot run iptables {args}: {source}")]
    Spawn {
        args: String,
        #[source]
        source: std::io::Error,
    },
    #[error("iptables {args} failed ({status}): {stderr}")]
    Failed {
        args: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
}

/// Run `iptables -w <args>`; Ok(true) on success, Ok(false) on a non-zero exit when
/// `tolerate_failure` (used for -C and -S probes), an error otherwise.
async fn run(args: &[String], tolerate_failure: bool) -> Result<bool, IptablesError> {
    let out = tokio::process::Command::new("iptables")
        .arg("-w")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|source| IptablesError::Spawn {
            args: args.join(" "),
            source,
        })?;
    if out.status.success() {
        return Ok(true);
    }
    if tolerate_failure {
        return Ok(false);
    }
    Err(IptablesError::Failed {
        args: args.join(" "),
        status: out.status,
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

pub async fn chain_exists(table: Table, chain: &str) -> Result<bool, IptablesError> {
    run(&strings(&["-t", table.as_str(), "-S", chain]), true).await
}

pub async fn ensure_chain(table: Table, chain: &str) -> Result<(), IptablesError> {
    if chain_exists(table, chain).await? {
        return Ok(());
    }
    match run(&strings(&["-t", table.as_str(), "-N", chain]), false).await {
        // Another berth may have created it between our probe and -N.
        Err(e) if chain_exists(table, chain).await? => {
            tracing::debug!("chain {chain} appeared concurrently: {e}");
            Ok(())
        }
        other => other.map(|_| ()),
    }
}

/// Add every rule that is not already present, creating berth's chains first.
pub async fn apply(rules: &[Rule]) -> Result<(), IptablesError> {
    for r in rules.iter().filter(|r| !is_builtin_chain(&r.chain)) {
        ensure_chain(r.table, &r.chain).await?;
    }
    for r in rules {
        if !run(&r.check_args(), true).await? {
            run(&r.add_args(), false).await?;
        }
    }
    Ok(())
}

/// Add rules that are known to be new (a container's published ports) with one
/// `iptables-restore --noflush`: all of them or, on an error, none, and one process for a
/// thousand ports where `-C` and `-A` take two per rule. Their chains must exist already.
pub async fn append_batch(rules: &[Rule]) -> Result<(), IptablesError> {
    restore(&batch(rules, |r| match r.placement {
        Placement::Top => "-I",
        Placement::Bottom => "-A",
    }))
    .await
}

/// Delete rules with one `iptables-restore --noflush`. When one of them is missing the batch
/// changes nothing, so then each is deleted on its own (and every copy of it).
pub async fn delete_batch(rules: &[Rule]) -> Result<(), IptablesError> {
    if rules.is_empty() || restore(&batch(rules, |_| "-D")).await.is_ok() {
        return Ok(());
    }
    for r in rules {
        delete_all(r).await?;
    }
    Ok(())
}

/// An `iptables-restore` input: one section per table that has rules, each rule on its line.
fn batch(rules: &[Rule], op: impl Fn(&Rule) -> &'static str) -> String {
    let mut out = String::new();
    for (table, in_table) in by_table(rules) {
        out.push_str(&format!("*{table}\n"));
        for r in in_table {
            out.push_str(op(r));
            out.push(' ');
            out.push_str(&r.chain);
            for arg in &r.spec {
                out.push(' ');
                out.push_str(arg);
            }
            out.push('\n');
        }
        out.push_str("COMMIT\n");
    }
    out
}

async fn restore(input: &str) -> Result<(), IptablesError> {
    use tokio::io::AsyncWriteExt;
    if input.is_empty() {
        return Ok(());
    }
    let args = "iptables-restore -w --noflush".to_string();
    let spawn = |source| IptablesError::Spawn {
        args: args.clone(),
        source,
    };
    let mut child = tokio::process::Command::new("iptables-restore")
        .args(["-w", "--noflush"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).await.map_err(spawn)?;
    }
    let out = child.wait_with_output().await.map_err(spawn)?;
    if out.status.success() {
        return Ok(());
    }
    Err(IptablesError::Failed {
        args,
        status: out.status,
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// The rules of one of berth's chains as `iptables -S` prints them (`-A CHAIN ...`), for the
/// crash sweep.
pub async fn list(table: Table, chain: &str) -> Result<Vec<String>, IptablesError> {
    let args = strings(&["-w", "-t", table.as_str(), "-S", chain]);
    let out = tokio::process::Command::new("iptables")
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|source| IptablesError::Spawn {
            args: args.join(" "),
            source,
        })?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("-A "))
        .map(str::to_string)
        .collect())
}

/// Delete a rule given as `iptables -S` printed it (`-A CHAIN spec...`).
pub async fn delete_listed(table: Table, line: &str) -> Result<(), IptablesError> {
    let mut args = strings(&["-t", table.as_str()]);
    let mut words = shell_words(line);
    if words.first().map(String::as_str) == Some("-A") {
        words[0] = "-D".into();
    }
    args.extend(words);
    run(&args, true).await.map(|_| ())
}

/// `iptables -S` quotes arguments with spaces; berth's rules have none, but comments might.
fn shell_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in line.chars() {
        match ch {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Delete every copy of `rule`; absent rules (or chains) are fine.
pub async fn delete_all(rule: &Rule) -> Result<(), IptablesError> {
    while run(&rule.check_args(), true).await? {
        run(&rule.delete_args(), false).await?;
    }
    Ok(())
}

/// Remove the jumps into berth's chains, then flush and delete the chains. Idempotent.
pub async fn remove_bridge_chains(prefix: &str) -> Result<(), IptablesError> {
    for jump in plan_bridge_jumps(prefix)
        .into_iter()
        .chain([legacy_output_jump(prefix)])
    {
        delete_all(&jump).await?;
    }
    for (table, chain) in bridge_chains(prefix) {
        if chain_exists(table, &chain).await? {
            run(&strings(&["-t", table.as_str(), "-F", &chain]), false).await?;
            run(&strings(&["-t", table.as_str(), "-X", &chain]), false).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Vec<Rule> {
        plan_bridge_rules("BERTH", "berth0", &"172.17.0.0/16".parse().unwrap())
    }

    #[test]
    fn bridge_plan_as_iptables_save() {
        insta::assert_snapshot!(render_save(&plan()));
    }

    #[test]
    fn bridge_plan_as_commands() {
        let lines: Vec<String> = plan()
            .iter()
            .map(|r| format!("iptables -w {}", r.add_args().join(" ")))
            .collect();
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn user_network_plans_as_iptables_save() {
        let subnet = "172.18.0.0/16".parse().unwrap();
        insta::assert_snapshot!(render_save(&plan_network_rules(
            "BERTH",
            "br-0123456789ab",
            &subnet,
            Policy::default()
        )));
        let internal_policy = Policy {
            internal: true,
            icc: true,
        };
        let internal = plan_network_rules("BERTH", "br-internal0", &subnet, internal_policy);
        assert!(!internal
            .iter()
            .any(|r| r.spec.contains(&"MASQUERADE".to_string())));
        let own = network_own_rules("BERTH", "br-internal0", &subnet, internal_policy);
        assert!(own.iter().all(|r| !is_builtin_chain(&r.chain)));
        assert!(!own.iter().any(|r| r.spec == ["-j", "BERTH-ISOLATION-1"]));
    }

    #[test]
    fn a_batch_is_one_section_per_table_in_restore_order() {
        let rules = plan();
        let text = batch(&rules, |r| match r.placement {
            Placement::Top => "-I",
            Placement::Bottom => "-A",
        });
        assert!(text.starts_with("*raw\n"), "{text}");
        assert_eq!(text.matches("COMMIT\n").count(), 3, "{text}");
        assert!(text.contains("\n-I OUTPUT -m addrtype --dst-type LOCAL -j BERTH-DNAT\n"));
        let deletes = batch(&rules, |_| "-D");
        assert_eq!(
            deletes.lines().filter(|l| l.starts_with("-D ")).count(),
            rules.len()
        );
    }

    #[test]
    fn icc_off_drops_between_containers_of_the_bridge_before_accepting_what_leaves_it() {
        let subnet = "172.18.0.0/16".parse().unwrap();
        let no_icc = Policy {
            internal: false,
            icc: false,
        };
        let lines: Vec<String> = plan_network_rules("B", "br-x", &subnet, no_icc)
            .iter()
            .filter(|r| r.chain == "B-FORWARD")
            .map(Rule::save_line)
            .collect();
        let drop = lines
            .iter()
            .position(|l| l == "-A B-FORWARD -i br-x -o br-x -j DROP")
            .expect("the ICC drop");
        let accept = lines
            .iter()
            .position(|l| l == "-A B-FORWARD -i br-x -j ACCEPT")
            .expect("the way out");
        assert!(drop < accept, "{lines:#?}");
        let with_icc = plan_network_rules("B", "br-x", &subnet, Policy::default());
        assert!(!with_icc
            .iter()
            .any(|r| r.spec.contains(&"DROP".to_string()) && r.chain == "B-FORWARD"));
    }

    #[test]
    fn check_and_delete_mirror_add() {
        let jump = &plan_bridge_jumps("BT1")[0];
        assert_eq!(
            jump.check_args().join(" "),
            "-t nat -C POSTROUTING -j BT1-POSTROUTING"
        );
        assert_eq!(
            jump.delete_args().join(" "),
            "-t nat -D POSTROUTING -j BT1-POSTROUTING"
        );
        assert_eq!(
            jump.add_args().join(" "),
            "-t nat -I POSTROUTING -j BT1-POSTROUTING"
        );
    }

    #[test]
    fn plan_truncates_subnet_and_never_creates_builtin_chains() {
        let rules = plan_bridge_rules("P", "br", &"10.1.2.3/24".parse().unwrap());
        assert!(rules[0].spec.contains(&"10.1.2.0/24".to_string()));
        let custom: Vec<_> = rules
            .iter()
            .filter(|r| !is_builtin_chain(&r.chain))
            .map(|r| r.chain.as_str())
            .collect();
        assert!(custom.iter().all(|c| c.starts_with("P-")));
    }
}
