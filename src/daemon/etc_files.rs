//! The three files Docker writes for each container and bind-mounts over the image's `/etc`:
//! `hostname`, `hosts` (with the container's address once it has one) and `resolv.conf` (the
//! host's, less its loopback servers, which mean nothing inside the network namespace).

use std::path::Path;

/// Docker's /etc/hosts for a container: loopback names, then the container's own address.
pub(super) fn hosts_file(hostname: &str, ip: Option<&str>) -> String {
    let mut hosts = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    if let Some(ip) = ip {
        hosts.push_str(&format!("{ip}\t{hostname}\n"));
    }
    hosts
}

/// Put the container's address into its `hosts`. The file is already bind-mounted into the
/// container, so it is rewritten in place: a rename would leave the container looking at the
/// old inode. This happens before the process starts, when nothing inside can be reading it.
pub(super) fn write_hosts(dir: &Path, hostname: &str, ip: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(dir.join("hosts"))?;
    std::io::Write::write_all(&mut f, hosts_file(hostname, Some(ip)).as_bytes())?;
    f.sync_all()
}

/// The three files Docker bind-mounts over the image's /etc (hosts without the address yet).
pub(super) fn write_etc_files(dir: &Path, hostname: &str) -> std::io::Result<()> {
    use crate::util::fsutil::write_atomic;
    write_atomic(&dir.join("hostname"), format!("{hostname}\n").as_bytes())?;
    write_atomic(&dir.join("hosts"), hosts_file(hostname, None).as_bytes())?;
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    write_atomic(
        &dir.join("resolv.conf"),
        container_resolv_conf(&host_resolv).as_bytes(),
    )
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
