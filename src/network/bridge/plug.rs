//! Plugging a container's network namespace into a bridge and out again: the addresses
//! from IPAM, the veth pair, the interface's name, MAC, addresses and routes inside.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::Path;

use netlink_packet_route::link::{InfoData, InfoKind, InfoVeth};
use rtnetlink::{LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder};

use super::*;

/// How a container is plugged into a network: which of its networks this is, and what the
/// user asked for.
#[derive(Debug, Clone, Default)]
pub struct Plug {
    pub slot: usize,
    pub ip: Option<Ipv4Addr>,
    pub mac: Option<[u8; 6]>,
    pub link_local: Vec<Ipv4Addr>,
    /// `--ip6`: used on an IPv6-enabled network (the lowest free v6 address otherwise).
    pub ip6: Option<Ipv6Addr>,
}

impl BridgeNetwork {
    /// Plug the namespace at `netns` into the bridge: an address, a veth pair, `eth0`, `lo`,
    /// and a default route through the gateway. Undoes its own steps on failure.
    pub async fn connect(&self, id: &str, netns: &Path) -> Result<Endpoint, NetworkError> {
        self.connect_slot(id, netns, &Plug::default()).await
    }

    /// `connect` as the container's `plug.slot`th network (`eth<slot>` inside; only slot 0
    /// gets the default route), at the address `plug.ip` (`--ip`) or the lowest free one, with
    /// `plug.mac` (`--mac-address`) or the `02:42:<ip>` one, and the `plug.link_local`
    /// addresses (`--link-local-ip`) on the interface as well.
    pub async fn connect_slot(
        &self,
        id: &str,
        netns: &Path,
        plug: &Plug,
    ) -> Result<Endpoint, NetworkError> {
        check_id(id)?;
        let ip = match plug.ip {
            Some(ip) => {
                self.with_ipam(|i| i.reserve(ip)).await??;
                ip
            }
            None => self.with_ipam(|i| i.allocate()).await??,
        };
        let ip6 = match self.take_ipv6(plug.ip6).await {
            Ok(ip6) => ip6,
            Err(e) => {
                if let Err(e) = self.with_ipam(|i| i.release(ip)).await {
                    tracing::warn!("undoing connect of {id}: {e}");
                }
                return Err(e);
            }
        };
        let mut created_veth = false;
        let result = self.plug(id, netns, ip, ip6, plug, &mut created_veth).await;
        if result.is_err() {
            if let Some(ip6) = ip6 {
                if let Err(e) = self.with_ipam6(|i| i.release(ip6)).await {
                    tracing::warn!("undoing connect of {id}: {e}");
                }
            }
            if created_veth {
                if let Ok(h) = netlink::connect() {
                    if let Err(e) = netlink::delete_link(&h, &slot_veth_name(id, plug.slot)).await {
                        tracing::warn!("undoing connect of {id}: {e}");
                    }
                }
            }
            if let Err(e) = self.with_ipam(|i| i.release(ip)).await {
                tracing::warn!("undoing connect of {id}: {e}");
            }
        }
        result
    }

    /// On an IPv6-enabled network, the container's v6 address: the one asked for, or the
    /// lowest free one of the range. None on a network without IPv6.
    async fn take_ipv6(&self, asked: Option<Ipv6Addr>) -> Result<Option<Ipv6Addr>, NetworkError> {
        let got = match asked {
            Some(ip6) => self
                .with_ipam6(|i| i.reserve(ip6).map(|()| ip6))
                .await?
                .transpose()?,
            None => self.with_ipam6(|i| i.allocate()).await?.transpose()?,
        };
        Ok(got)
    }

    async fn plug(
        &self,
        id: &str,
        netns: &Path,
        ip: Ipv4Addr,
        ip6: Option<Ipv6Addr>,
        opts: &Plug,
        created_veth: &mut bool,
    ) -> Result<Endpoint, NetworkError> {
        let slot = opts.slot;
        let h = netlink::connect()?;
        let bridge = netlink::require_link(&h, &self.cfg.bridge).await?;
        let host = slot_veth_name(id, slot);
        let interface = format!("eth{slot}");
        let mac = opts.mac.unwrap_or_else(|| mac_bytes(ip));
        let ns_file = std::fs::File::open(netns).map_err(|source| NetworkError::Io {
            what: "open the netns".into(),
            path: netns.to_path_buf(),
            source,
        })?;
        // One message makes the whole pair: the host end on the bridge and up, the container
        // end born in the container's namespace with its name and MAC (down: the kernel
        // refuses to bring a veth end up before its peer is registered). Moving an existing
        // link into a namespace instead costs the kernel an rcu_barrier (20-30 ms on a busy
        // host), the largest single step of a start before this.
        let peer = LinkMessageBuilder::<LinkUnspec>::new()
            .name(interface.clone())
            .address(mac.to_vec())
            .setns_by_fd(ns_file.as_raw_fd())
            .build();
        let pair = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
            .name(host.clone())
            .controller(bridge)
            .up()
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
            .build();
        h.link()
            .add(pair)
            .execute()
            .await
            .map_err(|source| NetworkError::Netlink {
                what: format!(
                    "create veth pair {host}/{interface} on bridge {}, {interface} in {}",
                    self.cfg.bridge,
                    netns.display()
                ),
                source,
            })?;
        *created_veth = true;
        drop(ns_file);
        // Hairpin: with br_netfilter, a container's packet to its own published port is
        // rewritten on the bridge and must go back out of the port it came in by.
        let hairpin = PathBuf::from(format!("/sys/class/net/{host}/brport/hairpin_mode"));
        tokio::fs::write(&hairpin, b"1")
            .await
            .map_err(|source| NetworkError::Io {
                what: format!("turn on hairpin mode on {host}"),
                path: hairpin,
                source,
            })?;

        let prefix_len = self.subnet.prefix_len();
        // An internal network has no way out, so nothing routes through it by default.
        let gateway = (slot == 0 && !self.cfg.policy.internal).then_some(self.gateway);
        let inside = interface.clone();
        let extra = opts.link_local.clone();
        let ipv6 = ip6.zip(self.cfg.ipv6.as_ref()).map(|(ip, v6)| Endpoint6 {
            ip,
            prefix_len: v6.subnet.prefix_len(),
            gateway: v6.gateway,
        });
        let inside_v6 = ipv6.clone().map(|ep| (ep, gateway.is_some()));
        netns::run_in(netns, move || {
            configure_inside(inside, ip, prefix_len, gateway, extra, inside_v6)
        })
        .await?;
        Ok(Endpoint {
            ip,
            prefix_len,
            gateway: self.gateway,
            mac: format_mac(&mac),
            host_veth: host,
            interface,
            ipv6,
        })
    }

    /// Unplug a container: [`detach`](Self::detach), then [`delete_veth`](Self::delete_veth).
    /// Safe to repeat.
    pub async fn disconnect(&self, id: &str, ep: &Endpoint) -> Result<(), NetworkError> {
        self.detach(ep).await?;
        self.delete_veth(id, ep).await
    }

    /// Take an endpoint off the bridge at once: its host veth down (the bridge no longer
    /// forwards to it and forgets the MACs it learnt there, so nothing behind it answers
    /// for the address any more) and its addresses back in IPAM, free for the next
    /// container. Cheap, unlike the veth's deletion. Safe to repeat.
    pub async fn detach(&self, ep: &Endpoint) -> Result<(), NetworkError> {
        let h = netlink::connect()?;
        netlink::set_down(&h, &ep.host_veth).await?;
        self.with_ipam(|i| i.release(ep.ip)).await?;
        if let Some(v6) = &ep.ipv6 {
            self.with_ipam6(|i| i.release(v6.ip)).await?;
        }
        Ok(())
    }

    /// Delete a detached endpoint's host veth (the peer goes with it): the kernel waits for an
    /// RCU barrier here. Safe to repeat.
    pub async fn delete_veth(&self, id: &str, ep: &Endpoint) -> Result<(), NetworkError> {
        let h = netlink::connect()?;
        if netlink::delete_link(&h, &ep.host_veth).await? {
            tracing::debug!("deleted {} of {id}", ep.host_veth);
        }
        Ok(())
    }
}

/// Inside the container's namespace, where the interface already has its name and MAC:
/// its address (and its IPv6 one, with a v6 default route when `ipv6.1`), it and `lo` up,
/// and everything routed through the gateway.
async fn configure_inside(
    name: String,
    ip: Ipv4Addr,
    prefix_len: u8,
    gateway: Option<Ipv4Addr>,
    link_local: Vec<Ipv4Addr>,
    ipv6: Option<(Endpoint6, bool)>,
) -> Result<(), NetworkError> {
    let nl = |what: String| move |source| NetworkError::Netlink { what, source };
    let h = netlink::connect()?;
    let index = netlink::require_link(&h, &name).await?;
    let addr = Ipv4Net::new(ip, prefix_len).expect("prefix from subnet");
    netlink::add_ipv4_addr(&h, index, &name, addr).await?;
    for ll in link_local {
        let net = Ipv4Net::new(ll, 16).expect("a /16");
        netlink::add_ipv4_addr(&h, index, &name, net).await?;
    }
    netlink::set_up(&h, index, &name).await?;
    let lo = netlink::require_link(&h, "lo").await?;
    netlink::set_up(&h, lo, "lo").await?;
    if let Some((ep6, default_route)) = &ipv6 {
        bridge6::configure_inside(&h, index, &name, ep6, *default_route).await?;
    }
    let Some(gateway) = gateway else {
        return Ok(());
    };
    h.route()
        .add(
            RouteMessageBuilder::<Ipv4Addr>::new()
                .gateway(gateway)
                .output_interface(index)
                .build(),
        )
        .execute()
        .await
        .map_err(nl(format!("add default route via {gateway}")))
}
