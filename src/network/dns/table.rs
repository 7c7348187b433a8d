//! The names the embedded DNS server answers: for each network, the containers on it, their
//! address there and the names they answer to (name, aliases, short id, hostname). A
//! container sees only the containers of the networks it is on itself, as in Docker; a name
//! that none of them has is not ours, and the server forwards it upstream. Several containers
//! behind one name (an alias) are answered in turn (round robin). A link on a user network
//! (`--link target:alias`) is an alias only its container sees: asked by that container, the
//! alias answers as the target's name would on that network, looked up at query time (so the
//! target may come later than the link, as in Docker).

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::RwLock;

#[derive(Debug, Clone)]
struct Entry {
    /// Lower-cased, without a final dot; the first is the container's name (for PTR).
    names: Vec<String>,
    ip: Ipv4Addr,
    /// Its address on an IPv6-enabled network, for AAAA.
    ip6: Option<Ipv6Addr>,
    /// This container's links on the network: alias -> target name, both normalized.
    links: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct Inner {
    /// network id -> container id -> entry. BTreeMaps keep answers in a stable order.
    networks: BTreeMap<String, BTreeMap<String, Entry>>,
    /// One turn counter per name, for round robin; kept in step with `networks`.
    turns: HashMap<String, AtomicUsize>,
}

impl Inner {
    fn shared_networks<'a>(
        &'a self,
        asker: &'a str,
    ) -> impl Iterator<Item = &'a BTreeMap<String, Entry>> + 'a {
        self.networks
            .values()
            .filter(move |containers| containers.contains_key(asker))
    }

    /// The entries `name` stands for, as seen by `asker`: the targets of the asker's own link
    /// of that name on each network where it has one, else every container of a shared
    /// network answering to the name.
    fn matching<'a>(&'a self, asker: &'a str, name: &str) -> Vec<&'a Entry> {
        let linked: Vec<&Entry> = self
            .shared_networks(asker)
            .filter_map(|containers| {
                let target = containers[asker].links.get(name)?;
                Some(
                    containers
                        .values()
                        .filter(move |e| e.names.contains(target)),
                )
            })
            .flatten()
            .collect();
        if !linked.is_empty() {
            return linked;
        }
        self.shared_networks(asker)
            .flat_map(BTreeMap::values)
            .filter(|e| e.names.iter().any(|n| n == name))
            .collect()
    }

    fn refresh_turns(&mut self) {
        let mut live: HashMap<String, AtomicUsize> = HashMap::new();
        for entry in self.networks.values().flat_map(BTreeMap::values) {
            for n in &entry.names {
                if !live.contains_key(n) {
                    let turn = self.turns.remove(n).unwrap_or_default();
                    live.insert(n.clone(), turn);
                }
            }
        }
        self.turns = live;
    }
}

/// The daemon's name table, shared by every container's resolver (`Arc<NameTable>`).
#[derive(Debug, Default)]
pub struct NameTable {
    inner: RwLock<Inner>,
}

fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

impl NameTable {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind, still consistent enough
        // to answer from: never let one poison DNS for every container.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Container `container` (full id) is on network `network` (id) with address `ip`,
    /// answering to `names` (its name without the leading '/', its aliases on that network,
    /// its 12-hex short id, its hostname). Replaces what was there for that pair.
    pub fn add(&self, network: &str, container: &str, names: Vec<String>, ip: Ipv4Addr) {
        self.add_linked(network, container, names, ip, None, Vec::new());
    }

    /// `add`, with the container's IPv6 address on that network (an IPv6-enabled one) and
    /// its links there as (target, alias) pairs.
    pub fn add_linked(
        &self,
        network: &str,
        container: &str,
        names: Vec<String>,
        ip: Ipv4Addr,
        ip6: Option<Ipv6Addr>,
        links: Vec<(String, String)>,
    ) {
        let links = links
            .iter()
            .map(|(target, alias)| (normalize(alias), normalize(target.trim_start_matches('/'))))
            .filter(|(alias, target)| !alias.is_empty() && !target.is_empty())
            .collect();
        let mut names: Vec<String> = names
            .iter()
            .map(|n| normalize(n.trim_start_matches('/')))
            .filter(|n| !n.is_empty())
            .collect();
        // Keep the first (the container's name) first; drop repeats (hostname == short id).
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        let mut inner = self.write();
        inner
            .networks
            .entry(network.to_string())
            .or_default()
            .insert(
                container.to_string(),
                Entry {
                    names,
                    ip,
                    ip6,
                    links,
                },
            );
        inner.refresh_turns();
    }

    /// The container left the network.
    pub fn remove(&self, network: &str, container: &str) {
        let mut inner = self.write();
        if let Some(containers) = inner.networks.get_mut(network) {
            containers.remove(container);
            if containers.is_empty() {
                inner.networks.remove(network);
            }
        }
        inner.refresh_turns();
    }

    /// The container is gone (stopped or removed): off every network.
    pub fn remove_container(&self, container: &str) {
        let mut inner = self.write();
        inner.networks.retain(|_, containers| {
            containers.remove(container);
            !containers.is_empty()
        });
        inner.refresh_turns();
    }

    /// A records for `name` as seen by `asker` (full id): only containers on a network the
    /// asker is on; case-insensitive; a trailing dot ignored. None when the name is not one
    /// of ours (then it is forwarded). Several answers rotate between calls (round robin).
    pub fn lookup(&self, asker: &str, name: &str) -> Option<Vec<Ipv4Addr>> {
        let name = normalize(name);
        let inner = self.read();
        let mut ips: Vec<Ipv4Addr> = inner.matching(asker, &name).iter().map(|e| e.ip).collect();
        if ips.is_empty() {
            return None;
        }
        ips.sort();
        ips.dedup();
        if ips.len() > 1 {
            if let Some(turn) = inner.turns.get(&name) {
                let n = turn.fetch_add(1, Ordering::Relaxed);
                let len = ips.len();
                ips.rotate_left(n % len);
            }
        }
        Some(ips)
    }

    /// AAAA records for `name` as seen by `asker`, the way `lookup` sees it: None when the
    /// name is not ours; empty when it is but none of its containers has an IPv6 address.
    pub fn lookup6(&self, asker: &str, name: &str) -> Option<Vec<Ipv6Addr>> {
        let name = normalize(name);
        let inner = self.read();
        let found = inner.matching(asker, &name);
        if found.is_empty() {
            return None;
        }
        let mut ips: Vec<Ipv6Addr> = found.iter().filter_map(|e| e.ip6).collect();
        ips.sort();
        ips.dedup();
        Some(ips)
    }

    /// PTR: the container name for `ip` on a network the asker shares.
    pub fn reverse(&self, asker: &str, ip: Ipv4Addr) -> Option<String> {
        let inner = self.read();
        let found = inner
            .shared_networks(asker)
            .flat_map(BTreeMap::values)
            .find(|e| e.ip == ip)
            .and_then(|e| e.names.first().cloned());
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEB1: &str = "aaaa000000000000000000000000000000000000000000000000000000000001";
    const WEB2: &str = "aaaa000000000000000000000000000000000000000000000000000000000002";
    const CLIENT: &str = "cccc000000000000000000000000000000000000000000000000000000000003";
    const LONER: &str = "dddd000000000000000000000000000000000000000000000000000000000004";

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(172, 18, 0, last)
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn table() -> NameTable {
        let t = NameTable::new();
        t.add(
            "front",
            WEB1,
            names(&["/web1", "web", "aaaa00000000", "web1host"]),
            ip(2),
        );
        t.add(
            "front",
            WEB2,
            names(&["web2", "web", "aaaa00000000"]),
            ip(3),
        );
        t.add("front", CLIENT, names(&["client"]), ip(4));
        t.add(
            "back",
            LONER,
            names(&["loner"]),
            Ipv4Addr::new(172, 19, 0, 2),
        );
        t
    }

    #[test]
    fn answers_names_aliases_short_ids_and_hostnames_case_insensitively() {
        let t = table();
        assert_eq!(t.lookup(CLIENT, "web1"), Some(vec![ip(2)]));
        assert_eq!(t.lookup(CLIENT, "WEB1."), Some(vec![ip(2)]));
        assert_eq!(t.lookup(CLIENT, "web1host"), Some(vec![ip(2)]));
        assert_eq!(t.lookup(CLIENT, "client"), Some(vec![ip(4)]), "itself too");
        assert_eq!(t.lookup(CLIENT, "nosuch"), None);
    }

    #[test]
    fn only_networks_the_asker_is_on() {
        let t = table();
        assert_eq!(t.lookup(CLIENT, "loner"), None);
        assert_eq!(t.lookup(LONER, "web1"), None);
        assert_eq!(t.lookup("not-on-any-network", "web1"), None);
        assert_eq!(t.reverse(CLIENT, Ipv4Addr::new(172, 19, 0, 2)), None);
        assert_eq!(
            t.reverse(LONER, Ipv4Addr::new(172, 19, 0, 2)),
            Some("loner".into())
        );
    }

    #[test]
    fn an_alias_of_two_containers_rotates() {
        let t = table();
        let first = t.lookup(CLIENT, "web").unwrap();
        let second = t.lookup(CLIENT, "web").unwrap();
        let third = t.lookup(CLIENT, "Web").unwrap();
        assert_eq!(first.len(), 2);
        assert_ne!(first, second);
        assert_eq!(first, third);
        // Interleaved lookups of other names do not disturb the turn.
        let _ = t.lookup(CLIENT, "web1");
        assert_eq!(t.lookup(CLIENT, "web").unwrap(), second);
    }

    #[test]
    fn reverse_names_the_container() {
        let t = table();
        assert_eq!(t.reverse(CLIENT, ip(2)), Some("web1".into()));
        assert_eq!(t.reverse(CLIENT, ip(99)), None);
    }

    #[test]
    fn add_replaces_and_remove_forgets() {
        let t = table();
        t.add("front", WEB1, names(&["renamed"]), ip(12));
        assert_eq!(t.lookup(CLIENT, "web1"), None);
        assert_eq!(t.lookup(CLIENT, "renamed"), Some(vec![ip(12)]));
        assert_eq!(t.lookup(CLIENT, "web"), Some(vec![ip(3)]));
        t.remove("front", WEB2);
        assert_eq!(t.lookup(CLIENT, "web"), None);
        t.remove_container(CLIENT);
        assert_eq!(
            t.lookup(CLIENT, "renamed"),
            None,
            "the asker left: sees nothing"
        );
    }

    #[test]
    fn a_container_on_two_shared_networks_answers_with_both_addresses() {
        let t = table();
        t.add(
            "back",
            CLIENT,
            names(&["client"]),
            Ipv4Addr::new(172, 19, 0, 9),
        );
        t.add("back", WEB1, names(&["web1"]), Ipv4Addr::new(172, 19, 0, 5));
        let mut got = t.lookup(CLIENT, "web1").unwrap();
        got.sort();
        assert_eq!(
            got,
            vec![Ipv4Addr::new(172, 18, 0, 2), Ipv4Addr::new(172, 19, 0, 5)]
        );
    }

    #[test]
    fn a_link_is_an_alias_for_the_linking_container_only() {
        let t = table();
        // CLIENT links "web1" as "db" on front; WEB2 asks the same name and is not answered.
        t.add_linked(
            "front",
            CLIENT,
            names(&["client"]),
            ip(4),
            None,
            vec![("web1".into(), "DB".into())],
        );
        assert_eq!(t.lookup(CLIENT, "db"), Some(vec![ip(2)]));
        assert_eq!(t.lookup(CLIENT, "db."), Some(vec![ip(2)]));
        assert_eq!(
            t.lookup(WEB2, "db"),
            None,
            "another container does not see it"
        );
        // The target is resolved when asked: a link to a container not there yet answers
        // nothing until it comes, then its address; it follows the target's moves.
        t.add_linked(
            "front",
            CLIENT,
            names(&["client"]),
            ip(4),
            None,
            vec![("later".into(), "up".into())],
        );
        assert_eq!(
            t.lookup(CLIENT, "db"),
            None,
            "links are replaced with the entry"
        );
        assert_eq!(t.lookup(CLIENT, "up"), None);
        t.add("front", "eeee", names(&["later"]), ip(9));
        assert_eq!(t.lookup(CLIENT, "up"), Some(vec![ip(9)]));
        t.add("front", "eeee", names(&["later"]), ip(10));
        assert_eq!(t.lookup(CLIENT, "up"), Some(vec![ip(10)]));
        // A link is per network: the target on another network is not reached through it.
        t.add(
            "back",
            "ffff",
            names(&["other"]),
            Ipv4Addr::new(172, 19, 0, 7),
        );
        t.add_linked(
            "front",
            CLIENT,
            names(&["client"]),
            ip(4),
            None,
            vec![("other".into(), "o".into())],
        );
        assert_eq!(t.lookup(CLIENT, "o"), None);
    }

    #[test]
    fn aaaa_answers_the_ipv6_addresses_of_our_names() {
        let t = table();
        let v6: Ipv6Addr = "fd00:b6::2".parse().unwrap();
        t.add_linked(
            "front",
            WEB1,
            names(&["web1", "web"]),
            ip(2),
            Some(v6),
            vec![],
        );
        assert_eq!(t.lookup6(CLIENT, "web1"), Some(vec![v6]));
        assert_eq!(t.lookup6(CLIENT, "web"), Some(vec![v6]), "web2 has none");
        assert_eq!(
            t.lookup6(CLIENT, "client"),
            Some(vec![]),
            "ours, without one"
        );
        assert_eq!(t.lookup6(CLIENT, "nosuch"), None);
        assert_eq!(t.lookup6(LONER, "web1"), None);
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<NameTable>();
    }
}
