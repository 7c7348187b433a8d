//! `--add-host name:ip`: extra lines of a container's `/etc/hosts`. `host-gateway` stands for
//! the address at which the host answers the container, the default bridge's gateway.

use std::net::IpAddr;

/// One `--add-host` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraHost {
    pub name: String,
    pub ip: HostIp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostIp {
    Addr(IpAddr),
    /// `host-gateway`, resolved when the container starts.
    Gateway,
}

/// `name:ip` or `name=ip` (the address may be an IPv6 one, bracketed or not: the name ends at
/// the first separator), with the docker CLI's wording for what is wrong.
pub fn parse(entry: &str) -> Result<ExtraHost, String> {
    let (name, ip) = entry
        .split_once('=')
        .or_else(|| entry.split_once(':'))
        .filter(|(name, ip)| !name.is_empty() && !ip.is_empty())
        .ok_or_else(|| format!("bad format for add-host: {entry:?}"))?;
    let ip = if ip == "host-gateway" {
        HostIp::Gateway
    } else {
        let bare = ip
            .strip_prefix('[')
            .and_then(|i| i.strip_suffix(']'))
            .unwrap_or(ip);
        HostIp::Addr(
            bare.parse()
                .map_err(|_| format!("invalid IP address in add-host: {ip:?}"))?,
        )
    };
    Ok(ExtraHost {
        name: name.to_string(),
        ip,
    })
}

/// The hosts-file lines for `entries`, `host-gateway` written as `gateway`.
pub fn lines(entries: &[ExtraHost], gateway: IpAddr) -> String {
    entries
        .iter()
        .map(|h| {
            let ip = match h.ip {
                HostIp::Addr(ip) => ip,
                HostIp::Gateway => gateway,
            };
            format!("{ip}\t{}\n", h.name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("db:10.0.0.5", "db", "10.0.0.5")]
    #[case("db=10.0.0.5", "db", "10.0.0.5")]
    #[case("v6:::1", "v6", "::1")]
    #[case("v6=[fe80::1]", "v6", "fe80::1")]
    fn entries(#[case] given: &str, #[case] name: &str, #[case] ip: &str) {
        assert_eq!(
            parse(given).unwrap(),
            ExtraHost {
                name: name.into(),
                ip: HostIp::Addr(ip.parse().unwrap())
            }
        );
    }

    #[rstest]
    #[case("nocolon", "bad format for add-host: \"nocolon\"")]
    #[case(":1.2.3.4", "bad format for add-host: \":1.2.3.4\"")]
    #[case("db:", "bad format for add-host: \"db:\"")]
    #[case("db:300.1.1.1", "invalid IP address in add-host: \"300.1.1.1\"")]
    fn refused(#[case] given: &str, #[case] message: &str) {
        assert_eq!(parse(given).unwrap_err(), message);
    }

    #[test]
    fn the_gateway_is_filled_in() {
        let entries = [
            parse("host.docker.internal:host-gateway").unwrap(),
            parse("a=1.2.3.4").unwrap(),
        ];
        assert_eq!(
            lines(&entries, "172.17.0.1".parse().unwrap()),
            "172.17.0.1\thost.docker.internal\n1.2.3.4\ta\n"
        );
    }
}
