//! Published ports (`-p`, `-P`) on the bridge, as Docker's port mapper does them: bind the
//! host ports (so a port in use fails the start at once, in Docker's words; port 0 comes from
//! the daemon's [`portalloc`]), add the DNAT, ACCEPT and hairpin rules, and start the userland
//! proxy with the bound sockets; on stop, take the proxy and the rules down again and give the
//! ports back, and after a crash sweep what no running container owns.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};

use super::bridge::{check_id, BridgeNetwork};
use super::iptables::{self, Rule, Table};
use super::{chains, portalloc, ports, proxy, NetworkError};

impl BridgeNetwork {
    /// One container's published-port rules on this bridge, with this daemon's chains.
    fn port_rules(&self, ip: Ipv4Addr, maps: &[ports::PortMapping]) -> Vec<Rule> {
        let cfg = self.config();
        ports::plan_port_rules(&cfg.iptables_prefix, &cfg.bridge, ip, maps)
    }

    /// Publish a container's ports: bind the host ports (failing at once, with Docker's
    /// message, on one in use), add the DNAT/ACCEPT/hairpin rules, and start the userland
    /// proxy with the bound sockets. Undoes its own steps on failure.
    pub async fn publish(
        &self,
        id: &str,
        ip: Ipv4Addr,
        requests: &[ports::Requested],
    ) -> Result<Vec<ports::PortMapping>, NetworkError> {
        check_id(id)?;
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let bound = {
            let mut alloc = portalloc::host_ports().lock().unwrap();
            ports::bind(requests, &mut alloc)?
        };
        let maps: Vec<_> = bound.iter().map(|(m, _)| m.clone()).collect();
        if let Err(e) = self.add_port_rules(ip, &maps).await {
            release_ports(&maps);
            return Err(e);
        }
        if let Err(e) = self.start_proxy(id, ip, &maps, &bound) {
            delete_quietly(&self.port_rules(ip, &maps)).await;
            release_ports(&maps);
            return Err(e);
        }
        Ok(maps)
    }

    /// The firewall half of [`Self::publish`], on its own so that it can be exercised without
    /// binding host ports or starting a proxy: add the container's DNAT, ACCEPT and hairpin
    /// rules, or, when one of them cannot be added, none.
    pub async fn add_port_rules(
        &self,
        ip: Ipv4Addr,
        maps: &[ports::PortMapping],
    ) -> Result<(), NetworkError> {
        let rules = self.port_rules(ip, maps);
        if let Err(e) = iptables::apply(&rules).await {
            delete_quietly(&rules).await;
            return Err(e.into());
        }
        Ok(())
    }

    fn start_proxy(
        &self,
        id: &str,
        ip: Ipv4Addr,
        maps: &[ports::PortMapping],
        bound: &[(ports::PortMapping, ports::Bound)],
    ) -> Result<(), NetworkError> {
        use std::os::unix::process::CommandExt;
        let io = |what: &str| {
            let what = what.to_string();
            let path = self.config().exec_root.join("proxies");
            move |source| NetworkError::Io { what, path, source }
        };
        // Out of the way of fds 3, 4, ... first, so placing them there cannot overwrite one
        // still to be placed.
        let high: Vec<OwnedFd> = bound
            .iter()
            .map(|(_, b)| {
                nix::fcntl::fcntl(
                    b.fd().as_raw_fd(),
                    nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(1000),
                )
                // SAFETY: F_DUPFD_CLOEXEC returned a new fd that nothing else owns.
                .map(|fd| unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
                .map_err(std::io::Error::from)
            })
            .collect::<Result<_, _>>()
            .map_err(io("passing the published sockets"))?;
        let raw: Vec<i32> = high.iter().map(|f| f.as_raw_fd()).collect();
        let spec = proxy::ProxySpec {
            container_ip: ip,
            ports: maps.to_vec(),
        };
        let exe = std::env::current_exe().map_err(io("finding the berth binary"))?;
        let mut cmd = std::process::Command::new(exe);
        // The exec root comes last, unread: it tells `ps` (and the e2e leak check) whose it is.
        cmd.arg("proxy")
            .arg(id)
            .arg(serde_json::to_string(&spec).unwrap_or_default())
            .arg(&self.config().exec_root)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // SAFETY: between fork and exec only setsid and dup2, both async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                for (i, fd) in raw.iter().enumerate() {
                    if libc::dup2(*fd, proxy::FIRST_FD + i as i32) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(io("starting the userland proxy"))?;
        drop(high);
        let pid_file = proxy::pid_file(&self.config().exec_root, id);
        if let Some(dir) = pid_file.parent() {
            std::fs::create_dir_all(dir).map_err(io("creating the proxies directory"))?;
        }
        if let Err(e) =
            crate::util::fsutil::write_atomic(&pid_file, child.id().to_string().as_bytes())
        {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io("recording the proxy")(e));
        }
        // Reaped by whoever is its parent when it ends (it outlives us by design).
        std::thread::spawn(move || {
            let _ = child.wait();
        });
        Ok(())
    }

    /// Take a container's published ports down: the proxy, the rules, and the ports in the
    /// allocator. Safe to repeat.
    pub async fn unpublish(&self, id: &str, ip: Ipv4Addr, maps: &[ports::PortMapping]) {
        proxy::stop(&self.config().exec_root, id);
        release_ports(maps);
        for r in self.port_rules(ip, maps) {
            if let Err(e) = iptables::delete_all(&r).await {
                tracing::warn!("unpublishing ports of {id}: {e}");
            }
        }
    }

    /// After a crash: stop proxies and delete published-port rules that belong to no running
    /// container (`live`: id, address and ports of each), and tell the allocator which host
    /// ports the running ones hold, so a new container is not offered them first.
    pub async fn sweep_ports(
        &self,
        live: &[(String, Ipv4Addr, Vec<ports::PortMapping>)],
    ) -> Vec<String> {
        {
            let mut alloc = portalloc::host_ports().lock().unwrap();
            for m in live.iter().flat_map(|(_, _, maps)| maps) {
                alloc.reserve(&m.proto, m.host_port);
            }
        }
        let mut removed = Vec::new();
        let dir = self.config().exec_root.join("proxies");
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if !live.iter().any(|(l, _, _)| *l == id) {
                proxy::stop(&self.config().exec_root, &id);
                removed.push(format!("proxy of {id}"));
            }
        }
        let wanted: Vec<String> = live
            .iter()
            .flat_map(|(_, ip, maps)| self.port_rules(*ip, maps))
            .map(|r| r.save_line())
            .collect();
        let prefix = &self.config().iptables_prefix;
        for (table, chain) in [
            (Table::Nat, chains::dnat_chain(prefix)),
            (Table::Filter, chains::forward_chain(prefix)),
            (Table::Nat, chains::nat_chain(prefix)),
        ] {
            let Ok(lines) = iptables::list(table, &chain).await else {
                continue;
            };
            for line in lines {
                // Only per-port rules name a port; the bridge's own rules stay.
                if line.contains("--dport") && !wanted.contains(&line) {
                    match iptables::delete_listed(table, &line).await {
                        Ok(()) => removed.push(format!("rule {line}")),
                        Err(e) => tracing::warn!("sweep: deleting {line}: {e}"),
                    }
                }
            }
        }
        removed
    }
}

/// Give a container's host ports back to the allocator (explicit ones were never its: a no-op).
fn release_ports(maps: &[ports::PortMapping]) {
    let mut alloc = portalloc::host_ports().lock().unwrap();
    for m in maps {
        alloc.release(&m.proto, m.host_port);
    }
}

/// Undo on a failure path: the first error is the one worth reporting, not these.
async fn delete_quietly(rules: &[Rule]) {
    for r in rules {
        let _ = iptables::delete_all(r).await;
    }
}
