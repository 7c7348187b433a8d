//! The daemon's side of the embedded DNS: which names a running container answers to on
//! each user network it is on (its name, aliases, short id and hostname, and the aliases its
//! own links give other containers, for it alone), and its resolver
//! (`network::dns::Resolver`), started before its process runs and stopped when it exits.

use super::super::container::{Container, Record};
use super::super::Daemon;
use super::connect::Plugged;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

impl Daemon {
    /// Whether any of the networks plugged in has the embedded DNS.
    pub(crate) fn on_user_network(&self, plugged: &[Plugged]) -> bool {
        plugged
            .iter()
            .any(|(name, _, _)| self.networks.find(name).is_ok_and(|n| n.has_dns()))
    }

    /// Put a container's names on each of its user networks into the table.
    pub(crate) fn dns_names(&self, rec: &Record, plugged: &[Plugged]) {
        self.dns.remove_container(&rec.id);
        for (name, _, ep) in plugged {
            let Some(a) = rec.networks.get(name) else {
                continue;
            };
            let Ok(net) = self.networks.for_attachment(name, &a.network_id) else {
                continue;
            };
            if !net.has_dns() {
                continue;
            }
            let mut names = vec![rec.name.trim_start_matches('/').to_string()];
            names.extend(a.aliases.iter().cloned());
            names.push(rec.id[..12].to_string());
            if !rec.config.hostname.is_empty() {
                names.push(rec.config.hostname.clone());
            }
            let ip6 = ep.ipv6.as_ref().map(|v6| v6.ip);
            self.dns
                .add_linked(&net.record.id, &rec.id, names, ep.ip, ip6, a.link_pairs());
        }
    }

    /// A running container's endpoints with their bridges, from its record.
    pub(crate) fn plugged_of(&self, rec: &Record) -> Vec<Plugged> {
        rec.endpoints()
            .filter_map(|(name, ep)| {
                let bridge = self.bridge_of(name, &rec.networks[name])?;
                Some((name.clone(), bridge, ep.clone()))
            })
            .collect()
    }

    /// After a connect or disconnect of a running container, or a daemon restart: its names
    /// as its record says, and its resolver running if it is on a user network.
    pub(crate) async fn names_changed(self: &Arc<Self>, c: &Arc<Container>) {
        let rec = c.snapshot();
        let plugged = self.plugged_of(&rec);
        self.dns_names(&rec, &plugged);
        let running = self.resolvers.lock().unwrap().contains_key(&rec.id);
        if !running && self.on_user_network(&plugged) {
            if let Some(ns) = &rec.netns {
                let upstream = self.upstream_servers(&rec);
                if let Err(e) = self.start_resolver(&rec.id, ns, upstream).await {
                    tracing::warn!("container {}: starting its DNS server: {e}", rec.id);
                }
            }
        }
    }

    /// The upstream servers of a container's resolver, as its resolv.conf was made.
    pub(crate) fn upstream_servers(&self, rec: &Record) -> Vec<SocketAddr> {
        let (host, systemd) = super::super::etc_files::host_resolv_files();
        let dns = super::super::hostconfig::dns_overrides(&rec.host_config).unwrap_or_default();
        crate::network::dns::resolv::for_user_network(&host, systemd.as_deref(), &dns).upstream
    }

    pub(crate) async fn start_resolver(
        &self,
        id: &str,
        netns: &Path,
        upstream: Vec<SocketAddr>,
    ) -> Result<(), crate::network::dns::DnsError> {
        let r = crate::network::dns::Resolver::start(id, netns, self.dns.clone(), upstream).await?;
        self.resolvers.lock().unwrap().insert(id.to_string(), r);
        Ok(())
    }

    /// Its names out of the table, its resolver stopped (its sockets close with it).
    pub(crate) fn stop_resolver(&self, id: &str) {
        self.dns.remove_container(id);
        self.resolvers.lock().unwrap().remove(id);
    }
}
