//! The three files Docker writes for each container and bind-mounts over the image's `/etc`:
//! `hostname`, `hosts` (loopback names, `--add-host` entries, the container's address once it
//! has one) and `resolv.conf` (the host's, less its loopback servers, which mean nothing inside
//! a network namespace of its own). On the host's network both are the host's files.

use crate::network::dns::resolv::{self, DnsOverrides};
use crate::network::extra_hosts::{self, ExtraHost};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

const LOOPBACK_NAMES: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// What a container's three files are made from.
pub(super) struct EtcFiles<'a> {
    pub hostname: &'a str,
    /// `--domainname`: the container's own line names it `hostname.domainname` as well.
    pub domainname: &'a str,
    /// `--network host`: the host's own files.
    pub host_network: bool,
    /// On a user-defined network: the embedded DNS server is the nameserver.
    pub embedded_dns: bool,
    /// `--dns`, `--dns-search`, `--dns-option`.
    pub dns: DnsOverrides,
    /// `--add-host`.
    pub extra_hosts: Vec<ExtraHost>,
    /// `--link`: a line each, `ip\talias id name`.
    pub links: Vec<String>,
    /// What `host-gateway` stands for.
    pub gateway: IpAddr,
}

impl EtcFiles<'_> {
    /// Docker's /etc/hosts: loopback names, the `--add-host` entries, then the container's own
    /// address. On the host's network, with nothing added, the host's own file.
    pub fn hosts(&self, ip: Option<IpAddr>, host_file: impl FnOnce() -> String) -> String {
        if self.host_network && self.extra_hosts.is_empty() {
            return host_file();
        }
        let mut hosts = String::from(LOOPBACK_NAMES);
        hosts.push_str(&extra_hosts::lines(&self.extra_hosts, self.gateway));
        for l in &self.links {
            hosts.push_str(l);
            hosts.push('\n');
        }
        if let Some(ip) = ip {
            match self.domainname {
                "" => hosts.push_str(&format!("{ip}\t{}\n", self.hostname)),
                d => hosts.push_str(&format!("{ip}\t{}.{d} {}\n", self.hostname, self.hostname)),
            }
        }
        hosts
    }

    /// The container's resolv.conf, and the servers its embedded DNS forwards to: on the
    /// host's network the host's file; on a user network 127.0.0.11 (the host's servers its
    /// upstreams); on the default bridge and `none` the host's servers less the loopback ones.
    pub fn resolv_conf(&self, host: &str, systemd: Option<&str>) -> (String, Vec<SocketAddr>) {
        let no_flags = self.dns == DnsOverrides::default();
        if self.host_network && no_flags {
            return (host.to_string(), vec![]);
        }
        if self.embedded_dns {
            let r = resolv::for_user_network(host, systemd, &self.dns);
            return (r.file, r.upstream);
        }
        (resolv::for_default_bridge(host, systemd, &self.dns), vec![])
    }

    /// The three files Docker bind-mounts over the image's /etc (hosts without the address);
    /// the embedded DNS's upstream servers.
    pub fn write(&self, dir: &Path) -> std::io::Result<Vec<SocketAddr>> {
        // Rewritten at every start, before the process runs (nothing reads them meanwhile):
        // plain writes, with nothing to keep through a crash of the machine.
        std::fs::write(
            dir.join("hostname"),
            format!("{}\n", self.hostname).as_bytes(),
        )?;
        let hosts = self.hosts(None, || {
            std::fs::read_to_string("/etc/hosts").unwrap_or_default()
        });
        std::fs::write(dir.join("hosts"), hosts.as_bytes())?;
        let (host_resolv, systemd) = host_resolv_files();
        let (file, upstream) = self.resolv_conf(&host_resolv, systemd.as_deref());
        std::fs::write(dir.join("resolv.conf"), file.as_bytes())?;
        Ok(upstream)
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
        std::io::Write::write_all(&mut f, hosts.as_bytes())
    }
}

/// The host's resolv.conf, and systemd-resolved's list of real servers where it runs.
pub(super) fn host_resolv_files() -> (String, Option<String>) {
    (
        std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        std::fs::read_to_string(resolv::SYSTEMD_RESOLVED_PATH).ok(),
    )
}

/// The host's IPv4 nameservers, read from the same files: a new network's subnet skips them.
pub(super) fn host_nameservers() -> Vec<std::net::Ipv4Addr> {
    let (host, systemd) = host_resolv_files();
    resolv::host_nameservers(&host, systemd.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(PartialEq)]
    enum Mode {
        Bridge,
        Host,
        None,
        User,
    }

    fn files(mode: Mode, extra: &[&str]) -> EtcFiles<'static> {
        EtcFiles {
            hostname: "c0ffee",
            domainname: "",
            host_network: mode == Mode::Host,
            embedded_dns: mode == Mode::User,
            dns: DnsOverrides::default(),
            extra_hosts: extra
                .iter()
                .map(|e| extra_hosts::parse(e).unwrap())
                .collect(),
            links: vec![],
            gateway: "172.17.0.1".parse().unwrap(),
        }
    }

    #[test]
    fn hosts_files_in_each_mode() {
        let host = || "10.9.8.7\tthe-host\n".to_string();
        let ip = Some("172.17.0.2".parse().unwrap());
        insta::assert_snapshot!(
            files(Mode::Bridge, &["db:10.0.0.5", "gw:host-gateway"]).hosts(ip, host)
        );
        assert_eq!(
            files(Mode::None, &[]).hosts(None, host),
            LOOPBACK_NAMES,
            "none: loopback only"
        );
        assert_eq!(files(Mode::Host, &[]).hosts(None, host), host());
        // With --add-host the host's file is not the base, so an entry can override it.
        assert_eq!(
            files(Mode::Host, &["the-host:1.2.3.4"]).hosts(None, host),
            format!("{LOOPBACK_NAMES}1.2.3.4\tthe-host\n")
        );
    }

    #[test]
    fn resolv_conf_in_each_mode() {
        let host = "nameserver 127.0.0.53\nnameserver 10.1.2.3\n";
        assert_eq!(
            files(Mode::Host, &[]).resolv_conf(host, None),
            (host.to_string(), vec![])
        );
        let (bridge, none) = (
            files(Mode::Bridge, &[]).resolv_conf(host, None),
            files(Mode::None, &[]).resolv_conf(host, None),
        );
        assert_eq!(bridge, none);
        assert!(!bridge.0.contains("127.0.0.53") && bridge.0.contains("10.1.2.3"));
        let (file, upstream) = files(Mode::User, &[]).resolv_conf(host, None);
        assert!(file.contains("nameserver 127.0.0.11"), "{file}");
        assert_eq!(upstream.len(), 2, "{upstream:?}");
    }
}
