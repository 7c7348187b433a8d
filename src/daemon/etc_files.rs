//! The three files Docker writes for each container and bind-mounts over the image's `/etc`:
//! `hostname`, `hosts` (loopback names, `--add-host` entries, the container's address once it
//! has one) and `resolv.conf` (the host's, less its loopback servers, which mean nothing inside
//! a network namespace of its own). On the host's network both are the host's files.

use crate::network::extra_hosts::{self, ExtraHost};
use crate::network::mode::NetworkMode;
use std::net::IpAddr;
use std::path::Path;

const LOOPBACK_NAMES: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// What a container's three files are made from.
pub(super) struct EtcFiles<'a> {
    pub hostname: &'a str,
    pub mode: NetworkMode,
    /// `--add-host`.
    pub extra_hosts: Vec<ExtraHost>,
    /// What `host-gateway` stands for.
    pub gateway: IpAddr,
}

impl EtcFiles<'_> {
    /// Docker's /etc/hosts: loopback names, the `--add-host` entries, then the container's own
    /// address. On the host's network, with nothing added, the host's own file.
    pub fn hosts(&self, ip: Option<IpAddr>, host_file: impl FnOnce() -> String) -> String {
        if self.mode == NetworkMode::Host && self.extra_hosts.is_empty() {
            return host_file();
        }
        let mut hosts = String::from(LOOPBACK_NAMES);
        hosts.push_str(&extra_hosts::lines(&self.extra_hosts, self.gateway));
        if let Some(ip) = ip {
            hosts.push_str(&format!("{ip}\t{}\n", self.hostname));
        }
        hosts
    }

    /// The host's resolv.conf; in a namespace of its own, without the loopback servers.
    pub fn resolv_conf(&self, host: &str) -> String {
        match self.mode {
            NetworkMode::Host => host.to_string(),
            NetworkMode::Bridge | NetworkMode::None => container_resolv_conf(host),
        }
    }

    /// The three files Docker bind-mounts over the image's /etc (hosts without the address).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        use crate::util::fsutil::write_atomic;
        write_atomic(
            &dir.join("hostname"),
            format!("{}\n", self.hostname).as_bytes(),
        )?;
        let hosts = self.hosts(None, || {
            std::fs::read_to_string("/etc/hosts").unwrap_or_default()
        });
        write_atomic(&dir.join("hosts"), hosts.as_bytes())?;
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        write_atomic(
            &dir.join("resolv.conf"),
            self.resolv_conf(&host_resolv).as_bytes(),
        )
    }

    /// Put the container's address into its `hosts`. The file is already bind-mounted into
    /// the container, so it is rewritten in place: a rename would leave the container looking
    /// at the old inode. This happens before the process starts, when nothing inside can be
    /// reading it.
    pub fn write_hosts(&self, dir: &Path, ip: Option<IpAddr>) -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(dir.join("hosts"))?;
        let hosts = self.hosts(ip, || {
            std::fs::read_to_string("/etc/hosts").unwrap_or_default()
        });
        std::io::Write::write_all(&mut f, hosts.as_bytes())?;
        f.sync_all()
    }
}

/// The host's resolv.conf without loopback nameservers, which mean nothing inside the
/// container's own network namespace; Docker falls back to public resolvers when none is left.
pub fn container_resolv_conf(host: &str) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let addr = words.next().unwrap_or("");
            if addr.starts_with("127.") || addr == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(mode: NetworkMode, extra: &[&str]) -> EtcFiles<'static> {
        EtcFiles {
            hostname: "c0ffee",
            mode,
            extra_hosts: extra
                .iter()
                .map(|e| extra_hosts::parse(e).unwrap())
                .collect(),
            gateway: "172.17.0.1".parse().unwrap(),
        }
    }

    #[test]
    fn hosts_files_in_each_mode() {
        let host = || "10.9.8.7\tthe-host\n".to_string();
        let ip = Some("172.17.0.2".parse().unwrap());
        insta::assert_snapshot!(
            files(NetworkMode::Bridge, &["db:10.0.0.5", "gw:host-gateway"]).hosts(ip, host)
        );
        assert_eq!(
            files(NetworkMode::None, &[]).hosts(None, host),
            LOOPBACK_NAMES,
            "none: loopback only"
        );
        assert_eq!(files(NetworkMode::Host, &[]).hosts(None, host), host());
        // With --add-host the host's file is not the base, so an entry can override it.
        assert_eq!(
            files(NetworkMode::Host, &["the-host:1.2.3.4"]).hosts(None, host),
            format!("{LOOPBACK_NAMES}1.2.3.4\tthe-host\n")
        );
    }

    #[test]
    fn the_hosts_network_keeps_the_hosts_resolvers() {
        let host = "nameserver 127.0.0.53\n";
        assert_eq!(files(NetworkMode::Host, &[]).resolv_conf(host), host);
        assert!(!files(NetworkMode::None, &[])
            .resolv_conf(host)
            .contains("127.0.0.53"));
    }

    #[test]
    fn resolv_conf_drops_loopback_servers() {
        let host = "search example\nnameserver 127.0.0.53\noptions edns0\n";
        assert_eq!(
            container_resolv_conf(host),
            "search example\noptions edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        let host = "nameserver 10.1.2.3\n";
        assert_eq!(container_resolv_conf(host), "nameserver 10.1.2.3\n");
    }
}
