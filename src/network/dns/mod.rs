//! The embedded DNS server (chapter 07), Docker's 127.0.0.11: one resolver per container on a
//! user-defined network, listening inside the container's network namespace at a random port
//! that NAT rules there map port 53 to, answering the names of the containers it shares a
//! network with from the daemon's [`NameTable`], and forwarding every other name to the host's
//! servers from the daemon's own namespace. `message` is the wire format, `table` the names,
//! `answer` the decision for one query, `upstream` the forwarding, `nat` the rules, `server`
//! the sockets and tasks, and `resolv` the container's resolv.conf.

pub mod answer;
mod conntrack;
pub mod message;
pub mod nat;
pub mod resolv;
mod server;
pub mod table;
pub mod upstream;

use std::path::PathBuf;

pub use resolv::{
    for_default_bridge, for_user_network, DnsOverrides, EmbeddedResolvConf, EMBEDDED_DNS,
};
pub use server::{Resolver, MAX_FORWARDS, MAX_TCP_CLIENTS};
pub use table::NameTable;

/// Why a container's resolver could not start.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("cannot open the network namespace {}: {source}", path.display())]
    OpenNetns {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot join the network namespace {}: {source}", path.display())]
    JoinNetns {
        path: PathBuf,
        #[source]
        source: nix::errno::Errno,
    },
    #[error(
        "cannot bind the DNS {proto} socket on 127.0.0.11 in the network namespace {}: {source} \
         (is lo up in it?)",
        netns.display()
    )]
    Bind {
        proto: &'static str,
        netns: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run {cmd} in the network namespace {}: {source}", netns.display())]
    Spawn {
        cmd: String,
        netns: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{cmd} in the network namespace {} failed ({status}): {stderr}", netns.display())]
    Rules {
        cmd: String,
        netns: PathBuf,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("cannot serve the DNS sockets of the network namespace {}: {source}", netns.display())]
    Socket {
        netns: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the thread binding the DNS sockets in {} died", netns.display())]
    Thread { netns: PathBuf },
    #[error(
        "cannot flush the connection tracking of the network namespace {}: {source}",
        netns.display()
    )]
    Conntrack {
        netns: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
