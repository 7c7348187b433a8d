//! `--link name[:alias]` on the default bridge, Docker's legacy links: the linking container
//! gets the linked one's address in its /etc/hosts under the alias, its name and its short id,
//! and environment variables naming it (`ALIAS_NAME`, `ALIAS_PORT_80_TCP_ADDR`, …,
//! `ALIAS_ENV_<its env>`). Links are kept in `HostConfig.Links` as Docker keeps them,
//! `/<linked>:/<linking>/<alias>`, and `DELETE /containers/<linking>/<alias>?link=1` removes one.
//! On a user network a link is something else, a per-container DNS alias kept in the
//! endpoint (`EndpointSettings.Links`, see `network::connect`); there `HostConfig.Links` is
//! left alone, as Docker leaves it.

use super::container::Record;
use super::error::{DaemonError, Result};
use super::Daemon;
use std::net::IpAddr;

/// Whether a network mode is a user network, where `HostConfig.Links` plays no part (Docker's
/// `registerLinks` skips them: the endpoint's links are DNS aliases instead).
fn on_user_network(hc: &crate::wire::types::HostConfig) -> bool {
    matches!(
        crate::network::mode::NetworkMode::parse(&hc.network_mode),
        Ok(crate::network::mode::NetworkMode::Named(_))
    )
}

/// One link: the linked container (as given) and the alias it has in the linking one.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub target: String,
    pub alias: String,
}

/// `HostConfig.Links`, in the client's forms (`name`, `name:alias`) or Docker's stored one
/// (`/name:/me/alias`).
pub fn parse(hc: &crate::wire::types::HostConfig) -> Result<Vec<Link>> {
    super::hostconfig::string_list(hc, "Links")?
        .iter()
        .map(|e| {
            let (target, alias) = e.split_once(':').unwrap_or((e, e));
            let target = target.trim_start_matches('/');
            let alias = alias.rsplit('/').next().unwrap_or(alias);
            if target.is_empty() || alias.is_empty() {
                return Err(DaemonError::InvalidParameter(format!(
                    "invalid link: {e:?} (name[:alias])"
                )));
            }
            Ok(Link {
                target: target.to_string(),
                alias: alias.to_string(),
            })
        })
        .collect()
}

/// The environment a link gives, as Docker makes it: the alias's name, the linked container's
/// exposed ports (the lowest also as `ALIAS_PORT`), and its own environment but PATH and HOME.
pub fn link_env(alias: &str, me: &str, ip: IpAddr, linked: &Record) -> Vec<String> {
    let p = alias.to_ascii_uppercase().replace('-', "_");
    let mut env = vec![format!("{p}_NAME=/{}/{alias}", me.trim_start_matches('/'))];
    let mut ports: Vec<(u16, String)> = linked
        .config
        .exposed_ports
        .iter()
        .flat_map(|m| m.keys())
        .filter_map(|k| {
            let (port, proto) = k.split_once('/').unwrap_or((k, "tcp"));
            Some((port.parse().ok()?, proto.to_string()))
        })
        .collect();
    ports.sort();
    if let Some((port, proto)) = ports.first() {
        env.push(format!("{p}_PORT={proto}://{ip}:{port}"));
    }
    for (port, proto) in &ports {
        let key = format!("{p}_PORT_{port}_{}", proto.to_ascii_uppercase());
        env.push(format!("{key}={proto}://{ip}:{port}"));
        env.push(format!("{key}_ADDR={ip}"));
        env.push(format!("{key}_PORT={port}"));
        env.push(format!("{key}_PROTO={proto}"));
    }
    for e in linked.config.env.iter().flatten() {
        let (k, v) = e.split_once('=').unwrap_or((e, ""));
        if k != "PATH" && k != "HOME" {
            env.push(format!("{p}_ENV_{k}={v}"));
        }
    }
    env
}

impl Daemon {
    /// At create: every linked container exists and the link is on the default bridge; the
    /// links as Docker stores them.
    pub(super) fn check_links(&self, hc: &crate::wire::types::HostConfig) -> Result<()> {
        let links = parse(hc)?;
        if links.is_empty() || on_user_network(hc) {
            return Ok(());
        }
        if !matches!(hc.network_mode.as_str(), "" | "default" | "bridge") {
            return Err(DaemonError::InvalidParameter(
                "conflicting options: links can only be used on the default bridge or a user network".into(),
            ));
        }
        for l in &links {
            self.lookup(&l.target).map_err(|e| {
                DaemonError::NotFound(format!("could not get container for {}: {e}", l.target))
            })?;
        }
        Ok(())
    }

    /// `Links` rewritten as `/<linked>:/<me>/<alias>`, once the container has its name;
    /// `name_of` gives a linked container's name (the caller holds the containers' lock).
    pub(super) fn stored_links(
        me: &str,
        hc: &crate::wire::types::HostConfig,
        name_of: impl Fn(&str) -> Option<String>,
    ) -> Option<Vec<String>> {
        let links = parse(hc).ok()?;
        (!links.is_empty() && !on_user_network(hc)).then(|| {
            links
                .iter()
                .map(|l| {
                    let target = name_of(&l.target).unwrap_or_else(|| format!("/{}", l.target));
                    format!("{target}:{me}/{}", l.alias)
                })
                .collect()
        })
    }

    /// At start: the hosts lines and the environment of each link. A linked container must
    /// run, on the default bridge.
    pub(super) fn link_parts(&self, rec: &Record) -> Result<(Vec<String>, Vec<String>)> {
        let (mut hosts, mut env) = (Vec::new(), Vec::new());
        if on_user_network(&rec.host_config) {
            return Ok((hosts, env));
        }
        for l in parse(&rec.host_config)? {
            let other = self.lookup(&l.target)?;
            let linked = other.snapshot();
            let ip = match (linked.state.running, linked.networks.get("bridge")) {
                (true, Some(a)) => a.endpoint.as_ref().map(|e| IpAddr::V4(e.ip)),
                _ => None,
            }
            .ok_or_else(|| {
                DaemonError::InvalidParameter(format!(
                    "Cannot link to a non running container: {} AS {}/{}",
                    linked.name, rec.name, l.alias
                ))
            })?;
            let name = linked.name.trim_start_matches('/');
            hosts.push(format!("{ip}\t{} {} {name}", l.alias, &linked.id[..12]));
            env.extend(link_env(&l.alias, &rec.name, ip, &linked));
        }
        Ok((hosts, env))
    }

    /// `DELETE /containers/<linking>/<alias>?link=1`.
    pub async fn remove_link(&self, path: &str) -> Result<()> {
        let (parent, alias) = path
            .trim_start_matches('/')
            .rsplit_once('/')
            .ok_or_else(|| DaemonError::InvalidParameter(format!("Could not find link {path}")))?;
        let c = self.lookup(parent)?;
        let rec = c.snapshot();
        let stored = super::hostconfig::string_list(&rec.host_config, "Links")?;
        let kept: Vec<String> = stored
            .iter()
            .filter(|l| l.rsplit('/').next() != Some(alias))
            .cloned()
            .collect();
        if stored.len() == kept.len() {
            return Err(DaemonError::NotFound(format!("Could not find link {path}")));
        }
        c.update(|r| {
            r.host_config
                .extra
                .insert("Links".into(), kept.clone().into());
        })
        .map_err(|e| DaemonError::system("writing the container record", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_of_a_link() {
        let hc: crate::wire::types::HostConfig = serde_json::from_value(serde_json::json!({
            "Links": ["db", "web:front", "/cache:/me/store"]
        }))
        .unwrap();
        let got: Vec<(String, String)> = parse(&hc)
            .unwrap()
            .into_iter()
            .map(|l| (l.target, l.alias))
            .collect();
        assert_eq!(
            got,
            [
                ("db".into(), "db".into()),
                ("web".into(), "front".into()),
                ("cache".into(), "store".into())
            ]
        );
    }

    #[test]
    fn the_environment_of_a_link() {
        let linked: Record = serde_json::from_value(serde_json::json!({
            "Id": "ab".repeat(32), "Created": "", "Path": "sh", "Args": [],
            "Config": {"Env": ["PATH=/bin", "FOO=1", "HOME=/root"],
                       "ExposedPorts": {"80/tcp": {}, "53/udp": {}}},
            "HostConfig": {}, "Image": "", "Name": "/db",
            "State": Record::status_created()
        }))
        .unwrap();
        let env = link_env("my-db", "/app", "172.17.0.2".parse().unwrap(), &linked);
        insta::assert_snapshot!(env.join("\n"));
    }
}
