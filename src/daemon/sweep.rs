//! The crash sweep. A daemon killed at the wrong moment (in the middle of a start, or of a
//! create) leaves objects that no record accounts for: an overlay mount, a pinned network
//! namespace, a veth on the bridge and its address, published-port rules and their reservations, a
//! cgroup, a shim directory. At start,
//! after the records are read and the running containers reattached, everything that does not
//! belong to a running container is taken down, so a crash never leaks into the next run.

use super::Daemon;
use std::collections::HashMap;

impl Daemon {
    pub(super) async fn sweep(&self) {
        let records: HashMap<String, super::container::Record> = self
            .all_containers()
            .iter()
            .map(|c| (c.id.clone(), c.snapshot()))
            .collect();
        let running: Vec<&super::container::Record> =
            records.values().filter(|r| r.state.running).collect();
        let is_live = |id: &str| running.iter().any(|r| r.id == id);

        // Each running container's ports, on the bridge of the network they are published on.
        let published: Vec<crate::network::Published> = running
            .iter()
            .filter(|r| !r.ports.is_empty())
            .filter_map(|r| {
                let name = r.primary_network();
                let ep = r.primary_endpoint()?;
                let att = r.networks.get(&name)?;
                let net = self.networks.for_attachment(&name, &att.network_id).ok()?;
                Some(crate::network::Published {
                    id: r.id.clone(),
                    bridge: net.bridge.as_ref()?.bridge().to_string(),
                    ip: ep.ip,
                    ports: r.ports.clone(),
                })
            })
            .collect();
        let mut removed = self.network.sweep_ports(&published).await;
        // A bridge this daemon made whose network record was never written (a crash inside
        // `network create`) is named by no record: take it down with its rules.
        match self.networks.recorded_bridges() {
            Some(mut recorded) => {
                recorded.push(self.network.bridge().to_string());
                let recorded: Vec<&str> = recorded.iter().map(String::as_str).collect();
                removed.extend(
                    crate::network::bridge_mark::remove_orphans(self.network.config(), &recorded)
                        .await,
                );
            }
            None => tracing::warn!("sweep: a network record is unreadable; no bridge removed"),
        }
        // Each bridge keeps the veths and addresses of the running containers on it.
        for net in self.networks.all() {
            let Some(bridge) = &net.bridge else { continue };
            let live: Vec<(String, Option<crate::network::Endpoint>)> = running
                .iter()
                .map(|r| {
                    let ep = r
                        .networks
                        .get(&net.record.name)
                        .filter(|a| a.network_id == net.record.id)
                        .and_then(|a| a.endpoint.clone());
                    (r.id.clone(), ep)
                })
                .collect();
            removed.extend(bridge.sweep(&live).await);
        }

        {
            let images = self.images.lock().unwrap();
            let layers = images.layers();
            for id in layers.container_ids() {
                match records.get(&id) {
                    None => match layers.remove_container_layers(&id) {
                        Ok(()) => removed.push(format!("layers of {id}")),
                        Err(e) => tracing::warn!("sweep: removing layers of {id}: {e}"),
                    },
                    Some(r) if !r.state.running && layers.is_mounted(&id) => {
                        match layers.unmount(&id) {
                            Ok(()) => removed.push(format!("mount of {id}")),
                            Err(e) => tracing::warn!("sweep: unmounting {id}: {e}"),
                        }
                    }
                    Some(_) => {}
                }
            }
        }

        for id in self.cgroups.list() {
            if is_live(&id) {
                continue;
            }
            let cg = self.cgroups.open(&id);
            // A process in the cgroup of a container that does not run was orphaned by the
            // crash (a shim that never got to report): it has nobody to answer to.
            for pid in cg.procs() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            match tokio::task::spawn_blocking(move || cg.remove()).await {
                Ok(Ok(())) => removed.push(format!("cgroup {id}")),
                Ok(Err(e)) => tracing::warn!("sweep: removing cgroup {id}: {e}"),
                Err(e) => tracing::warn!("sweep: removing cgroup {id}: {e}"),
            }
        }

        // A shareable /dev/shm is mounted on the host for as long as its container runs.
        for r in records.values().filter(|r| !r.state.running) {
            let dir = self.containers_dir().join(&r.id);
            if let Some(shm) = super::namespaces::own_shm(r, &dir) {
                if super::namespaces::unmount_shareable_shm(&shm) {
                    removed.push(format!("/dev/shm of {}", r.id));
                }
            }
        }

        removed.extend(self.restore_volume_users());

        let shims = self.config.exec_root.join("shims");
        for entry in std::fs::read_dir(&shims).into_iter().flatten().flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if is_live(&id) || crate::runtime::client::shim_alive(&entry.path()) {
                continue;
            }
            if std::fs::remove_dir_all(entry.path()).is_ok() {
                removed.push(format!("shim directory {id}"));
            }
        }

        if !removed.is_empty() {
            tracing::info!("swept what a crash left behind: {}", removed.join(", "));
        }
    }
}
