//! The embedded DNS server (chapter 07), Docker's 127.0.0.11: one resolver per container on a
//! user-defined network, listening inside the container's network namespace at a random port
//! that NAT rules there map port 53 to, answering the names of the containers it shares a
//! network with from the daemon's [`NameTable`], and forwarding every other name to the host's
//! servers from the daemon's own namespace. `message` is the wire format, `table` the names,
//! `answer` the decision for one query, `upstream` the forwarding, `nat` the rules, `server`
//! the sockets and tasks, and `resolv` the container's resolv.conf.

pub mod message;
pub mod resolv;
pub mod table;

pub use resolv::{for_default_bridge, for_user_network, DnsOverrides, EmbeddedResolvConf};
pub use table::NameTable;
