//! The thin rtnetlink layer: the few link, address and route requests the bridge needs,
//! each answering in berth's terms (names, `Ipv4Net`s, "absent" as `None`). Docker 2013
//! shelled out to `ip`; berth speaks netlink directly, in whichever network namespace the
//! calling thread is in when the connection is opened.

use std::net::{IpAddr, Ipv4Addr};

use futures::TryStreamExt;
use ipnet::Ipv4Net;
use netlink_packet_route::address::AddressAttribute;
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkInfo};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader};
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};

use super::NetworkError;

fn nl_err(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> NetworkError {
    let what = what.into();
    move |source| NetworkError::Netlink { what, source }
}

/// Whether a netlink error is the kernel saying "no such device".
fn is_no_device(err: &rtnetlink::Error) -> bool {
    matches!(err, rtnetlink::Error::NetlinkError(m) if m.raw_code().abs() == libc::ENODEV)
}

/// Open a netlink connection in the calling thread's network namespace. Its driver task
/// runs on the current tokio runtime and ends when the last handle is dropped.
pub(crate) fn connect() -> Result<Handle, NetworkError> {
    let (conn, handle, _) =
        rtnetlink::new_connection().map_err(|source| NetworkError::NetlinkSocket { source })?;
    tokio::spawn(conn);
    Ok(handle)
}

pub(crate) async fn link_index(h: &Handle, name: &str) -> Result<Option<u32>, NetworkError> {
    let mut links = h.link().get().match_name(name).execute();
    match links.try_next().await {
        Ok(link) => Ok(link.map(|l| l.header.index)),
        Err(e) if is_no_device(&e) => Ok(None),
        Err(e) => Err(nl_err(format!("look up link {name}"))(e)),
    }
}

pub(crate) async fn require_link(h: &Handle, name: &str) -> Result<u32, NetworkError> {
    link_index(h, name)
        .await?
        .ok_or_else(|| NetworkError::LinkNotFound {
            name: name.to_string(),
        })
}

/// Delete a link by name; Ok(false) when there was none.
pub(crate) async fn delete_link(h: &Handle, name: &str) -> Result<bool, NetworkError> {
    let Some(index) = link_index(h, name).await? else {
        return Ok(false);
    };
    match h.link().del(index).execute().await {
        Ok(()) => Ok(true),
        Err(e) if is_no_device(&e) => Ok(false),
        Err(e) => Err(nl_err(format!("delete link {name}"))(e)),
    }
}

/// Bring link `name` down; false if there is no such link.
pub(crate) async fn set_down(h: &Handle, name: &str) -> Result<bool, NetworkError> {
    let Some(index) = link_index(h, name).await? else {
        return Ok(false);
    };
    match h
        .link()
        .set(LinkUnspec::new_with_index(index).down().build())
        .execute()
        .await
    {
        Ok(()) => Ok(true),
        Err(e) if is_no_device(&e) => Ok(false),
        Err(e) => Err(nl_err(format!("bring down link {name}"))(e)),
    }
}

pub(crate) async fn set_up(h: &Handle, index: u32, name: &str) -> Result<(), NetworkError> {
    h.link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(nl_err(format!("bring up link {name}")))
}

/// The IPv4 addresses (with their prefix) configured on a link.
pub(crate) async fn ipv4_addrs(h: &Handle, index: u32) -> Result<Vec<Ipv4Net>, NetworkError> {
    let mut out = Vec::new();
    let mut addrs = h.address().get().set_link_index_filter(index).execute();
    while let Some(msg) = addrs
        .try_next()
        .await
        .map_err(nl_err(format!("list addresses of link #{index}")))?
    {
        if msg.header.index != index {
            continue;
        }
        for attr in &msg.attributes {
            if let AddressAttribute::Address(IpAddr::V4(ip)) = attr {
                if let Ok(net) = Ipv4Net::new(*ip, msg.header.prefix_len) {
                    out.push(net);
                }
            }
        }
    }
    Ok(out)
}

pub(crate) async fn add_ipv4_addr(
    h: &Handle,
    index: u32,
    name: &str,
    addr: Ipv4Net,
) -> Result<(), NetworkError> {
    h.address()
        .add(index, IpAddr::V4(addr.addr()), addr.prefix_len())
        .execute()
        .await
        .map_err(nl_err(format!("add address {addr} to {name}")))
}

/// The destinations of the main routing table's IPv4 routes, as `ip route` lists them.
pub(crate) async fn ipv4_routes(h: &Handle) -> Result<Vec<Ipv4Net>, NetworkError> {
    let mut out = Vec::new();
    let mut routes = h
        .route()
        .get(RouteMessageBuilder::<Ipv4Addr>::new().build())
        .execute();
    while let Some(msg) = routes
        .try_next()
        .await
        .map_err(nl_err("list IPv4 routes"))?
    {
        let table = msg
            .attributes
            .iter()
            .find_map(|a| match a {
                RouteAttribute::Table(t) => Some(*t),
                _ => None,
            })
            .unwrap_or(u32::from(msg.header.table));
        if table != u32::from(RouteHeader::RT_TABLE_MAIN) {
            continue;
        }
        let dst = msg
            .attributes
            .iter()
            .find_map(|a| match a {
                RouteAttribute::Destination(RouteAddress::Inet(ip)) => Some(*ip),
                _ => None,
            })
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        if let Ok(net) = Ipv4Net::new(dst, msg.header.destination_prefix_length) {
            out.push(net);
        }
    }
    Ok(out)
}

/// Names of the links enslaved to the link with index `controller`.
pub(crate) async fn links_on(h: &Handle, controller: u32) -> Result<Vec<String>, NetworkError> {
    let mut out = Vec::new();
    let mut links = h.link().get().execute();
    while let Some(msg) = links.try_next().await.map_err(nl_err("list links"))? {
        let on_bridge = msg
            .attributes
            .iter()
            .any(|a| matches!(a, LinkAttribute::Controller(c) if *c == controller));
        if !on_bridge {
            continue;
        }
        if let Some(name) = msg.attributes.iter().find_map(|a| match a {
            LinkAttribute::IfName(n) => Some(n.clone()),
            _ => None,
        }) {
            out.push(name);
        }
    }
    Ok(out)
}

/// Set a link's alias (IFLA_IFALIAS): berth's mark on the bridges it makes.
pub(crate) async fn set_alias(
    h: &Handle,
    index: u32,
    name: &str,
    alias: &str,
) -> Result<(), NetworkError> {
    let mut msg = LinkUnspec::new_with_index(index).build();
    msg.attributes
        .push(LinkAttribute::IfAlias(alias.to_string()));
    h.link()
        .set(msg)
        .execute()
        .await
        .map_err(nl_err(format!("set the alias of link {name}")))
}

/// Every bridge in the namespace, with its alias.
pub(crate) async fn bridges(
    h: &Handle,
) -> Result<Vec<super::bridge_mark::SeenBridge>, NetworkError> {
    let mut out = Vec::new();
    let mut links = h.link().get().execute();
    while let Some(msg) = links.try_next().await.map_err(nl_err("list links"))? {
        let (mut name, mut alias, mut is_bridge) = (None, None, false);
        for a in &msg.attributes {
            match a {
                LinkAttribute::IfName(n) => name = Some(n.clone()),
                LinkAttribute::IfAlias(s) => alias = Some(s.clone()),
                LinkAttribute::LinkInfo(infos) => {
                    is_bridge = infos
                        .iter()
                        .any(|i| matches!(i, LinkInfo::Kind(InfoKind::Bridge)))
                }
                _ => {}
            }
        }
        if let (true, Some(name)) = (is_bridge, name) {
            out.push(super::bridge_mark::SeenBridge { name, alias });
        }
    }
    Ok(out)
}
