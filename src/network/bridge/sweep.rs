//! The bridge's half of the crash sweep: veths, addresses and namespaces that no running
//! container holds.

use super::*;

impl BridgeNetwork {
    /// After a crash: delete the host veths on the bridge and release the addresses that no
    /// running container (`live`: id and endpoint) holds; unpin their namespaces. Returns what
    /// it removed, for the log.
    pub async fn sweep(&self, live: &[(String, Option<Endpoint>)]) -> Vec<String> {
        let mut removed = Vec::new();
        let keep_veths: Vec<String> = live
            .iter()
            .map(|(id, ep)| match ep {
                Some(ep) => ep.host_veth.clone(),
                None => host_veth_name(id),
            })
            .collect();
        let stale: Vec<String> = self
            .list_host_veths()
            .await
            .into_iter()
            .filter(|n| n.starts_with("veth") && !keep_veths.contains(n))
            .collect();
        if !stale.is_empty() {
            if let Ok(h) = netlink::connect() {
                for name in stale {
                    match netlink::delete_link(&h, &name).await {
                        Ok(_) => removed.push(format!("veth {name}")),
                        Err(e) => tracing::warn!("sweep: deleting {name}: {e}"),
                    }
                }
            }
        }
        let keep_ips: Vec<Ipv4Addr> = live
            .iter()
            .filter_map(|(_, ep)| ep.as_ref().map(|e| e.ip))
            .collect();
        let released = self
            .with_ipam(|i| {
                let stale: Vec<Ipv4Addr> =
                    i.allocated().filter(|ip| !keep_ips.contains(ip)).collect();
                for ip in &stale {
                    i.release(*ip);
                }
                stale
            })
            .await;
        match released {
            Ok(ips) => removed.extend(ips.into_iter().map(|ip| format!("address {ip}"))),
            Err(e) => tracing::warn!("sweep: releasing addresses: {e}"),
        }
        let keep_ips6: Vec<Ipv6Addr> = live
            .iter()
            .filter_map(|(_, ep)| Some(ep.as_ref()?.ipv6.as_ref()?.ip))
            .collect();
        let released6 = self
            .with_ipam6(|i| {
                let stale: Vec<Ipv6Addr> =
                    i.allocated().filter(|ip| !keep_ips6.contains(ip)).collect();
                for ip in &stale {
                    i.release(*ip);
                }
                stale
            })
            .await;
        match released6 {
            Ok(ips) => removed.extend(ips.into_iter().flatten().map(|ip| format!("address {ip}"))),
            Err(e) => tracing::warn!("sweep: releasing IPv6 addresses: {e}"),
        }
        let netns_dir = self.cfg.exec_root.join("netns");
        for entry in std::fs::read_dir(&netns_dir)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if live.iter().any(|(id, _)| *id == name) {
                continue;
            }
            match netns::remove(&entry.path()) {
                Ok(()) => removed.push(format!("netns {name}")),
                Err(e) => tracing::warn!("sweep: removing netns {name}: {e}"),
            }
        }
        removed
    }

    /// The links attached to this bridge (containers' host veths), for a crash sweep.
    pub async fn list_host_veths(&self) -> Vec<String> {
        let listed = async {
            let h = netlink::connect()?;
            let bridge = netlink::require_link(&h, &self.cfg.bridge).await?;
            netlink::links_on(&h, bridge).await
        };
        match listed.await {
            Ok(names) => names,
            Err(e) => {
                tracing::warn!("listing links on {}: {e}", self.cfg.bridge);
                Vec::new()
            }
        }
    }
}
