//! Networking (chapter 07): the default bridge, IP allocation, network namespaces, veth pairs
//! and outbound NAT, as Docker's `docker0` does it. Pure parts (`subnet`, `ipam`, `chains`,
//! the rule planner in `iptables`) hold the decisions; `netlink`, `netns` and `bridge` apply
//! them to the kernel. Published ports are `ports` (parsing, binding, the per-container rules),
//! `portalloc` (ephemeral host ports) and `portmap` (publishing them on the bridge, by DNAT
//! alone: no process per port). An IPv6-enabled network adds `ipam6` (its pure allocator)
//! and `bridge6` (its addresses and routes).

pub mod bridge;
pub mod bridge6;
pub mod bridge_mark;
pub mod chains;
pub mod dns;
pub mod extra_hosts;
pub mod ipam;
pub mod ipam6;
pub mod iptables;
pub mod mode;
mod netlink;
mod netns;
pub mod portalloc;
mod portmap;
pub use portmap::Published;
pub mod ports;
pub mod subnet;

use std::path::{Path, PathBuf};

pub use bridge::{
    host_veth_name, mac_for, parse_mac, teardown, BridgeNetwork, Endpoint, NetworkConfig, Plug,
};
pub use bridge6::{Endpoint6, Ipv6Config};
pub use ipam::{Ipam, IpamError};
pub use ipam6::{first_host6, Ipam6, Ipam6Error};
pub use iptables::{plan_bridge_rules, render_save, IptablesError, Placement, Rule, Table};
pub use ports::PortError;
pub use subnet::{
    candidates, default_pools, first_host, overlaps, pick_subnet, Exhausted, InUse, PoolParseError,
    SubnetPool,
};

/// Everything that can go wrong while setting up or using the bridge network.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("invalid container id {id:?} for networking: {reason}")]
    InvalidId { id: String, reason: String },
    #[error("cannot open a netlink socket: {source}")]
    NetlinkSocket {
        #[source]
        source: std::io::Error,
    },
    #[error("netlink: cannot {what}: {source}")]
    Netlink {
        what: String,
        #[source]
        source: rtnetlink::Error,
    },
    /// A published port could not be had; the message is Docker's (e.g. "Bind for
    /// 0.0.0.0:8080 failed: port is already allocated").
    #[error(transparent)]
    Publish(#[from] PortError),
    #[error("network link {name} does not exist")]
    LinkNotFound { name: String },
    #[error(
        "no free subnet for the bridge: every candidate in the pools [{pools}] overlaps a host \
         route or another network, or holds a nameserver (choose another with \
         --default-address-pool)"
    )]
    NoFreeSubnet { pools: String },
    #[error(transparent)]
    Iptables(#[from] IptablesError),
    #[error(transparent)]
    Ipam(#[from] IpamError),
    #[error(transparent)]
    Ipam6(#[from] Ipam6Error),
    #[error("cannot {what} ({}): {source}", path.display())]
    Io {
        what: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot {what}: {source}")]
    Sys {
        what: String,
        #[source]
        source: nix::errno::Errno,
    },
    #[error("corrupt network state file {}: {source}", path.display())]
    State {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the helper thread died before it could {what}")]
    Thread { what: String },
}

/// Unpin a network namespace made by [`BridgeNetwork::create_netns`]: lazy unmount, unlink.
/// Idempotent.
pub fn remove_netns(path: &Path) -> Result<(), NetworkError> {
    netns::remove(path)
}

/// `--network none`: bring up `lo` in the namespace pinned at `netns`, and nothing else.
pub async fn loopback_only(netns: &Path) -> Result<(), NetworkError> {
    netns::run_in(netns, || async {
        let h = netlink::connect()?;
        let lo = netlink::require_link(&h, "lo").await?;
        netlink::set_up(&h, lo, "lo").await
    })
    .await
}
