//! Published ports (`-p`, `-P`) on a bridge, as Docker's port mapper does them with
//! `userland-proxy=false`: bind the host ports (so a port in use fails the start at once, in
//! Docker's words; port 0 comes from the daemon's [`portalloc`]) and keep them bound as the
//! ports' reservation, then add the DNAT and ACCEPT rules in one batch. No process serves a
//! port: the kernel rewrites every packet, from loopback too (`route_localnet` on the bridge),
//! so the ports answer at the speed of the bridge and keep answering while the daemon is
//! down. On stop the rules go and the ports are given back; after a crash the sweep removes
//! the rules that no running container owns and binds the reservations again.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Mutex, OnceLock};

use super::bridge::{check_id, BridgeNetwork};
use super::iptables::{self, Rule, Table};
use super::{chains, portalloc, ports, NetworkError};

/// The bound sockets that reserve each container's published host ports, by container id.
fn reservations() -> &'static Mutex<HashMap<String, Vec<ports::Bound>>> {
    static R: OnceLock<Mutex<HashMap<String, Vec<ports::Bound>>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// A published port's rules and reservation, as the sweep needs them for one running
/// container: its id, the bridge its ports are published on, its address, its ports.
pub struct Published {
    pub id: String,
    pub bridge: String,
    pub ip: Ipv4Addr,
    pub ports: Vec<ports::PortMapping>,
}

impl BridgeNetwork {
    /// One container's published-port rules on this bridge, with this daemon's chains.
    fn port_rules(&self, ip: Ipv4Addr, maps: &[ports::PortMapping]) -> Vec<Rule> {
        let cfg = self.config();
        ports::plan_port_rules(&cfg.iptables_prefix, &cfg.bridge, ip, maps)
    }

    /// Publish a container's ports: bind the host ports (failing at once, with Docker's
    /// message, on one in use) and hold them, then add the DNAT/ACCEPT rules. Undoes its own
    /// steps on failure.
    pub async fn publish(
        &self,
        id: &str,
        ip: Ipv4Addr,
        requests: &[ports::Requested],
    ) -> Result<Vec<ports::PortMapping>, NetworkError> {
        check_id(id)?;
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let bound = {
            let mut alloc = portalloc::host_ports().lock().unwrap();
            ports::bind(requests, &mut alloc)?
        };
        let (maps, sockets): (Vec<_>, Vec<_>) = bound.into_iter().unzip();
        if let Err(e) = self.add_port_rules(ip, &maps).await {
            release_ports(&maps);
            return Err(e);
        }
        reservations()
            .lock()
            .unwrap()
            .insert(id.to_string(), sockets);
        Ok(maps)
    }

    /// The firewall half of [`Self::publish`], on its own so that it can be exercised without
    /// binding host ports: add the container's DNAT and ACCEPT rules, all or none.
    pub async fn add_port_rules(
        &self,
        ip: Ipv4Addr,
        maps: &[ports::PortMapping],
    ) -> Result<(), NetworkError> {
        Ok(iptables::append_batch(&self.port_rules(ip, maps)).await?)
    }

    /// Take a container's published ports down: the rules, the reservations, and the ports
    /// in the allocator. Safe to repeat.
    pub async fn unpublish(&self, id: &str, ip: Ipv4Addr, maps: &[ports::PortMapping]) {
        if let Err(e) = iptables::delete_batch(&self.port_rules(ip, maps)).await {
            tracing::warn!("unpublishing ports of {id}: {e}");
        }
        reservations().lock().unwrap().remove(id);
        release_ports(maps);
    }

    /// After a crash: delete published-port rules that belong to no running container
    /// (`live`), tell the allocator which host ports the running ones hold, so a new container
    /// is not offered them first, and bind their reservations again (a port that some other
    /// program took meanwhile is only warned about: its DNAT still serves the container).
    pub async fn sweep_ports(&self, live: &[Published]) -> Vec<String> {
        {
            let mut alloc = portalloc::host_ports().lock().unwrap();
            for m in live.iter().flat_map(|p| &p.ports) {
                alloc.reserve(&m.proto, m.host_port);
            }
        }
        for p in live {
            reserve_again(p);
        }
        let prefix = &self.config().iptables_prefix;
        let wanted: Vec<String> = live
            .iter()
            .flat_map(|p| ports::plan_port_rules(prefix, &p.bridge, p.ip, &p.ports))
            .map(|r| r.save_line())
            .collect();
        let mut removed = Vec::new();
        for (table, chain) in [
            (Table::Nat, chains::dnat_chain(prefix)),
            (Table::Filter, chains::forward_chain(prefix)),
            (Table::Nat, chains::nat_chain(prefix)),
        ] {
            let Ok(lines) = iptables::list(table, &chain).await else {
                continue;
            };
            for line in lines {
                // Only per-port rules name a port; the bridge's own rules stay.
                if line.contains("--dport") && !wanted.contains(&line) {
                    match iptables::delete_listed(table, &line).await {
                        Ok(()) => removed.push(format!("rule {line}")),
                        Err(e) => tracing::warn!("sweep: deleting {line}: {e}"),
                    }
                }
            }
        }
        removed
    }
}

/// Bind a running container's host ports again after a daemon restart.
fn reserve_again(p: &Published) {
    let mut held = Vec::new();
    for m in &p.ports {
        match ports::bind_mapping(m) {
            Ok(b) => held.push(b),
            Err(e) => tracing::warn!(
                "container {}: cannot reserve {} again ({e}); it is still published",
                p.id,
                ports::describe(m)
            ),
        }
    }
    reservations().lock().unwrap().insert(p.id.clone(), held);
}

/// Give a container's host ports back to the allocator (explicit ones were never its: a no-op).
fn release_ports(maps: &[ports::PortMapping]) {
    let mut alloc = portalloc::host_ports().lock().unwrap();
    for m in maps {
        alloc.release(&m.proto, m.host_port);
    }
}
