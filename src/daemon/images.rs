//! The daemon's side of images: listing, inspecting and loading, as the Engine API shows them.

use super::error::{DaemonError, Result};
use super::Daemon;
use crate::api::types::ImageSummary;
use crate::image::ImageRecord;
use serde_json::{json, Value};

fn created_unix(created: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(created)
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

impl Daemon {
    pub async fn image_list(&self) -> Result<Vec<ImageSummary>> {
        let images = self.images.clone();
        let list = tokio::task::spawn_blocking(move || images.lock().unwrap().list())
            .await
            .map_err(|e| DaemonError::system("listing images", e))?
            .map_err(|e| DaemonError::system("listing images", e))?;
        let mut rows: Vec<ImageSummary> = list
            .into_iter()
            .map(|img| ImageSummary {
                id: img.id.clone(),
                parent_id: String::new(),
                repo_tags: img.repo_tags.clone(),
                repo_digests: img.repo_digests.clone(),
                created: created_unix(&img.created),
                size: img.size,
                shared_size: -1,
                virtual_size: img.size,
                labels: img.config.config.as_ref().and_then(|c| c.labels.clone()),
                containers: -1,
            })
            .collect();
        rows.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Ok(rows)
    }

    pub async fn image_get(&self, name: &str) -> Result<ImageRecord> {
        let images = self.images.clone();
        let name = name.to_string();
        tokio::task::spawn_blocking(move || images.lock().unwrap().get(&name))
            .await
            .map_err(|e| DaemonError::system("looking up the image", e))?
            .map_err(|e| DaemonError::NotFound(e.to_string()))
    }

    /// `ps -s`: bytes in the container's read-write layer, and those plus its image's.
    pub async fn container_sizes(&self, id: &str, image_id: &str) -> (i64, i64) {
        let upper = self.images.lock().unwrap().layers().upper_dir(id).ok();
        let rw = match upper {
            Some(dir) => tokio::task::spawn_blocking(move || crate::layers::dir_size(&dir) as i64)
                .await
                .unwrap_or(0),
            None => 0,
        };
        let image = self.image_get(image_id).await.map(|i| i.size).unwrap_or(0);
        (rw, rw + image)
    }

    /// `GET /images/{name}/json`: Docker's image inspect shape.
    pub async fn image_inspect(&self, name: &str) -> Result<Value> {
        let img = self.image_get(name).await?;
        let cfg = serde_json::to_value(&img.config).unwrap_or(Value::Null);
        Ok(json!({
            "Id": img.id,
            "RepoTags": img.repo_tags,
            "RepoDigests": img.repo_digests,
            "Parent": "",
            "Comment": cfg.get("comment").cloned().unwrap_or(json!("")),
            "Created": img.created,
            "DockerVersion": cfg.get("docker_version").cloned().unwrap_or(json!("")),
            "Author": cfg.get("author").cloned().unwrap_or(json!("")),
            "Config": cfg.get("config").cloned().unwrap_or(Value::Null),
            "Architecture": cfg.get("architecture").cloned().unwrap_or(json!("amd64")),
            "Os": cfg.get("os").cloned().unwrap_or(json!("linux")),
            "Size": img.size,
            "VirtualSize": img.size,
            "GraphDriver": {"Name": "overlay2", "Data": null},
            "RootFS": cfg.get("rootfs").cloned().unwrap_or(Value::Null),
            "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        }))
    }
}
