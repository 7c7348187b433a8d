//! `create`: a container record from the client's Config and HostConfig merged with the
//! image's (Docker's rules for entrypoint, cmd, env, workdir, exposed ports and healthcheck), a name, and the
//! container's layers (the `-init` layer and the read-write one). Nothing runs yet.

use super::container::{Container, Record};
use super::error::{DaemonError, Result};
use super::hostconfig::*;
use super::{names, now_rfc3339, Daemon};
use crate::wire::types::CreateRequest;
use std::sync::Arc;

impl Daemon {
    /// `POST /containers/create`: the new container's id, and Docker's warnings about it.
    pub async fn create(
        self: &Arc<Self>,
        name: Option<&str>,
        req: CreateRequest,
    ) -> Result<(String, Vec<String>)> {
        let t0 = std::time::Instant::now();
        let mut cfg = req.config;
        let mut hc = req.host_config.unwrap_or_default();
        super::logs::merge_default(&mut hc.log_config, &self.config.log_config);
        check_supported(&hc)?;
        check_container_mode(&cfg, &hc)?;
        super::namespaces::check(&cfg, &hc)?;
        self.check_links(&hc)?;
        super::health::validate(cfg.healthcheck.as_ref()).map_err(DaemonError::InvalidParameter)?;
        // Docker records the log driver and the runtime it chose; clients (the Python SDK)
        // read them back.
        if hc.log_config.driver.is_empty() {
            hc.log_config.driver = "json-file".into();
        }
        hc.extra
            .insert("Runtime".into(), super::hostconfig::DEFAULT_RUNTIME.into());
        // And the size of /dev/shm it picked (inspect shows 67108864 for the default).
        hc.extra.insert("ShmSize".into(), shm_size(&hc)?.into());
        // And the namespace modes, defaults and the ids of the containers to join included.
        self.settle_namespace_modes(&mut hc)?;
        if cfg.image.is_empty() {
            return Err(DaemonError::InvalidParameter(
                "config error: no image specified".into(),
            ));
        }
        // The kernel takes the environment as C strings: a NUL would cut the entry short.
        if let Some(bad) = cfg.env.iter().flatten().find(|e| e.contains('\0')) {
            return Err(DaemonError::InvalidParameter(format!(
                "invalid environment variable {bad:?}: it contains a NUL byte"
            )));
        }
        let image = {
            let images = self.images.clone();
            let wanted = cfg.image.clone();
            tokio::task::spawn_blocking(move || images.lock().unwrap().get(&wanted))
                .await
                .map_err(|e| DaemonError::system("looking up the image", e))?
                .map_err(|e| DaemonError::NotFound(e.to_string()))?
        };
        // The image supplies what the client left out, as Docker merges them.
        let icfg = image.config.config.clone().unwrap_or_default();
        // No entrypoint: the image's, with its Cmd unless one was given. An empty one
        // (`--entrypoint ""`) clears the image's but keeps its Cmd. A new one drops the image's
        // Cmd, because that Cmd was written for the old entrypoint.
        let no_cmd = cfg.cmd.as_ref().is_none_or(|c| c.is_empty());
        match &cfg.entrypoint {
            None => {
                cfg.entrypoint = icfg.entrypoint.clone().filter(|e| !e.is_empty());
                if no_cmd {
                    cfg.cmd = icfg.cmd.clone();
                }
            }
            Some(e) if e.iter().all(|x| x.is_empty()) => {
                cfg.entrypoint = None;
                if no_cmd {
                    cfg.cmd = icfg.cmd.clone();
                }
            }
            Some(_) => {}
        }
        let image_env = icfg.env.clone().unwrap_or_default();
        cfg.env = Some(merge_env(&image_env, cfg.env.as_deref().unwrap_or(&[])));
        if cfg.working_dir.is_empty() {
            cfg.working_dir = icfg.working_dir.clone().unwrap_or_default();
        }
        if cfg.user.is_empty() {
            cfg.user = icfg.user.clone().unwrap_or_default();
        }
        if let Some(image_labels) = icfg.labels.clone() {
            let mut labels = image_labels;
            labels.extend(cfg.labels.take().unwrap_or_default());
            cfg.labels = Some(labels);
        }
        // EXPOSE: the image's exposed ports are the container's too, with the client's.
        if let Some(image_ports) = icfg.exposed_ports.clone() {
            let ports = cfg.exposed_ports.get_or_insert_with(Default::default);
            for (k, v) in image_ports {
                ports.entry(k).or_insert(v);
            }
        }
        // With -P every one of them will be published: refuse one berth cannot publish now,
        // rather than at start.
        if publish_all(&hc) {
            crate::network::ports::requests_for(
                hc.port_bindings.as_ref(),
                cfg.exposed_ports.as_ref(),
                true,
            )
            .map_err(DaemonError::InvalidParameter)?;
        }
        // VOLUME: the image's volumes are the container's too (anonymous unless mounted).
        if let Some(image_volumes) = icfg.volumes.clone() {
            let volumes = cfg.volumes.get_or_insert_with(Default::default);
            for (k, v) in image_volumes {
                volumes.entry(k).or_insert(v);
            }
        }
        if cfg.stop_signal.is_none() {
            cfg.stop_signal = icfg.stop_signal.clone();
        }
        let image_health = icfg
            .healthcheck
            .clone()
            .and_then(|v| serde_json::from_value(v).ok());
        cfg.healthcheck = super::health::merge(cfg.healthcheck.take(), image_health);
        let mut argv: Vec<String> = cfg.entrypoint.clone().unwrap_or_default();
        argv.extend(cfg.cmd.clone().unwrap_or_default());
        if argv.is_empty() {
            return Err(DaemonError::InvalidParameter("No command specified".into()));
        }
        if !cfg.working_dir.is_empty() && !cfg.working_dir.starts_with('/') {
            return Err(DaemonError::InvalidParameter(format!(
                "the working directory '{}' is invalid, it needs to be an absolute path",
                cfg.working_dir
            )));
        }

        let id = crate::util::id::random_id();
        let mut networks =
            self.initial_attachments(&id, &mut hc, req.networking_config.as_ref())?;
        // The old place of `--mac-address` (API < 1.44): the primary network's endpoint.
        if let Some(m) = cfg
            .extra
            .get("MacAddress")
            .and_then(|v| v.as_str())
            .filter(|m| !m.is_empty())
        {
            if crate::network::parse_mac(m).is_none() {
                return Err(DaemonError::InvalidParameter(format!(
                    "invalid MAC address: {m}"
                )));
            }
            let primary = super::container::network_of_mode(&hc.network_mode);
            if let Some(a) = networks.get_mut(&primary) {
                a.mac.get_or_insert_with(|| m.to_ascii_lowercase());
            }
        }
        // The reference as given, for an error that names the image.
        let cfg_image = cfg.image.clone();
        if cfg.hostname.is_empty() {
            // On the host's network a container is the host, name included.
            use crate::network::mode::NetworkMode;
            cfg.hostname = match NetworkMode::parse(&hc.network_mode) {
                Ok(NetworkMode::Host) => nix::unistd::gethostname()
                    .map(|h| h.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| id[..12].to_string()),
                // The other container's name: its /etc/hostname and UTS name are shared.
                Ok(NetworkMode::Container(other)) => {
                    self.lookup(&other)?.snapshot().config.hostname
                }
                _ => id[..12].to_string(),
            };
        }
        let warnings = create_warnings(&hc);
        let dir = self.containers_dir().join(&id);
        // Volumes are made, and named by the record, under the volume lock: a `volume rm`
        // waits until the record that uses them is in the map, and then refuses.
        let volume_lock = self.volume_lock.lock().await;
        let planned = self.plan_mounts(&cfg, &hc)?;
        let made_volumes = planned.made;
        let record = Record {
            id: id.clone(),
            created: now_rfc3339(),
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            config: cfg,
            host_config: hc,
            image: image.id.clone(),
            name: String::new(),
            state: Record::status_created(),
            networks,
            netns: None,
            rootfs: None,
            restart_count: 0,
            manually_stopped: false,
            ports: Vec::new(),
            mount_points: planned.mounts,
        };

        // The name is reserved under the map's lock, so two creates cannot take the same one.
        let container = (|| {
            let mut map = self.containers.lock().unwrap();
            let name = match name {
                Some(n) if !n.is_empty() => {
                    let n = names::validate(n).map_err(DaemonError::InvalidParameter)?;
                    if let Some(other) = map.values().find(|c| c.name() == n) {
                        return Err(DaemonError::Conflict(format!(
                            "Conflict. The container name \"{n}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                            other.id
                        )));
                    }
                    n
                }
                _ => loop {
                    let n = format!("/{}", names::generate());
                    if !map.values().any(|c| c.name() == n) {
                        break n;
                    }
                },
            };
            let mut record = record;
            // Under the map's lock, so names are read from it, not through `lookup`.
            let name_of = |t: &str| {
                let as_name = format!("/{}", t.trim_start_matches('/'));
                map.values()
                    .find(|c| c.id == t || c.name() == as_name || c.id.starts_with(t))
                    .map(|c| c.name())
            };
            if let Some(links) = Daemon::stored_links(&name, &record.host_config, name_of) {
                record
                    .host_config
                    .extra
                    .insert("Links".into(), links.into());
            }
            record.name = name;
            let c = Arc::new(Container::new(record, dir.clone()));
            map.insert(id.clone(), c.clone());
            Ok(c)
        })();
        drop(volume_lock);
        let container = match container {
            Ok(c) => c,
            Err(e) => {
                self.forget_volumes(&made_volumes);
                return Err(e);
            }
        };

        let made = (|| -> Result<()> {
            std::fs::create_dir_all(&dir)
                .map_err(|e| DaemonError::system("creating the container directory", e))?;
            self.images
                .lock()
                .unwrap()
                .layers()
                .create_container_layers(&id, image.top_layer.as_deref())
                .map_err(|e| match e {
                    crate::layers::LayerError::TooDeep { .. } => {
                        DaemonError::System(format!("image {}: {e}", cfg_image))
                    }
                    e => DaemonError::system("creating the container's layers", e),
                })?;
            container
                .update(|_| {})
                .map_err(|e| DaemonError::system("writing the container record", e))
        })();
        let made = match made {
            Ok(()) => self.copy_up(&container.snapshot()).await,
            Err(e) => Err(e),
        };
        if let Err(e) = made {
            self.containers.lock().unwrap().remove(&id);
            {
                let _lock = self.volume_lock.lock().await;
                self.forget_volumes(&made_volumes);
            }
            let _ = self
                .images
                .lock()
                .unwrap()
                .layers()
                .remove_container_layers(&id);
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        self.container_event(&container.snapshot(), "create", &[]);
        tracing::debug!("create {}: created in {:?}", &id[..12], t0.elapsed());
        Ok((id, warnings))
    }
}
