//! Forgetting a namespace's connection tracking after its DNS rules are repointed.
//!
//! The rules send port 53 of 127.0.0.11 to the resolver's random port by DNAT, and a NAT
//! decision lives in the flow's conntrack entry, not in the rule: after a daemon restart a
//! query from a source port that a query before the restart used (a UDP entry lasts 30 s
//! and every packet renews it) still goes to the dead resolver's port, and is lost. So the
//! repair ends by flushing the namespace's IPv4 entries, as `conntrack -F` does: one
//! ctnetlink delete with no tuple. Only the namespace's own flows are there, and its only NAT
//! is this DNAT; other flows are picked up again from their next packet. Hand-written (one
//! message and its ack) rather than a netfilter crate for one call.

use nix::sys::socket::{
    bind, recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol,
    SockType,
};
use std::os::fd::AsRawFd;

/// Flush the IPv4 conntrack table of the calling thread's network namespace.
pub fn flush_ipv4() -> std::io::Result<()> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkNetFilter,
    )?;
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
    sendto(
        fd.as_raw_fd(),
        &flush_request(1),
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )?;
    let mut buf = [0u8; 256];
    let n = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
    ack_result(&buf[..n])
}

/// `enum cntl_msg_types` of linux/netfilter/nfnetlink_conntrack.h (libc has no name for it).
const IPCTNL_MSG_CT_DELETE: u16 = 2;

/// nlmsghdr + nfgenmsg: IPCTNL_MSG_CT_DELETE of the ctnetlink subsystem, family AF_INET, no
/// attributes (no tuple: every entry of the family), asking for an ack.
fn flush_request(seq: u32) -> Vec<u8> {
    const LEN: u32 = 16 + 4;
    let kind = ((libc::NFNL_SUBSYS_CTNETLINK as u16) << 8) | IPCTNL_MSG_CT_DELETE;
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
    let mut m = Vec::with_capacity(LEN as usize);
    m.extend_from_slice(&LEN.to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    // nfgenmsg: family, version (NFNETLINK_V0), res_id (big endian).
    m.push(libc::AF_INET as u8);
    m.push(libc::NFNETLINK_V0 as u8);
    m.extend_from_slice(&0u16.to_be_bytes());
    m
}

/// The kernel's answer: an NLMSG_ERROR message whose error is 0 (the ack) or -errno.
fn ack_result(reply: &[u8]) -> std::io::Result<()> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "a short netlink reply");
    let kind = u16::from_ne_bytes(reply.get(4..6).ok_or_else(bad)?.try_into().unwrap());
    if kind != libc::NLMSG_ERROR as u16 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("netlink answered message type {kind}, not an ack"),
        ));
    }
    match i32::from_ne_bytes(reply.get(16..20).ok_or_else(bad)?.try_into().unwrap()) {
        0 => Ok(()),
        e => Err(std::io::Error::from_raw_os_error(-e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_a_ctnetlink_delete_of_ipv4_without_a_tuple() {
        let m = flush_request(7);
        assert_eq!(m.len(), 20);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 20);
        // (NFNL_SUBSYS_CTNETLINK = 1) << 8 | IPCTNL_MSG_CT_DELETE = 2
        assert_eq!(u16::from_ne_bytes(m[4..6].try_into().unwrap()), 0x0102);
        assert_eq!(u16::from_ne_bytes(m[6..8].try_into().unwrap()), 0x0005);
        assert_eq!(u32::from_ne_bytes(m[8..12].try_into().unwrap()), 7);
        assert_eq!(&m[16..20], &[2, 0, 0, 0]);
    }

    #[test]
    fn an_ack_is_ok_and_an_errno_is_the_error() {
        let reply = |err: i32| {
            let mut r = vec![0u8; 36];
            r[4..6].copy_from_slice(&(libc::NLMSG_ERROR as u16).to_ne_bytes());
            r[16..20].copy_from_slice(&err.to_ne_bytes());
            r
        };
        assert!(ack_result(&reply(0)).is_ok());
        assert_eq!(
            ack_result(&reply(-libc::EPERM)).unwrap_err().raw_os_error(),
            Some(libc::EPERM)
        );
        assert!(ack_result(&[0u8; 3]).is_err());
    }
}
