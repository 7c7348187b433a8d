//! `GET /system/df`: what images, containers and volumes take on disk, as `docker system
//! df` shows it. berth's build cache is made of images, so it has no entries of its own.

use super::error::Result;
use super::Daemon;
use crate::wire::volume::DiskUsage;
use std::sync::Arc;

impl Daemon {
    pub async fn disk_usage(self: &Arc<Self>) -> Result<DiskUsage> {
        let records: Vec<_> = self.all_containers().iter().map(|c| c.snapshot()).collect();
        let mut images = self.image_list(false).await?;
        for img in &mut images {
            img.containers = records.iter().filter(|r| r.image == img.id).count() as i64;
        }
        let layers_size = images.iter().map(|i| i.size).sum();
        let mut containers = Vec::new();
        for r in &records {
            let mut row = self.summary_view(r);
            let (rw, root) = self.container_sizes(&r.id, &r.image).await;
            row.size_rw = Some(rw);
            row.size_root_fs = Some(root);
            containers.push(serde_json::to_value(row).expect("a summary serializes"));
        }
        let d = self.clone();
        let volumes = tokio::task::spawn_blocking(move || d.volume_usage())
            .await
            .map_err(|e| super::DaemonError::system("measuring the volumes", e))?;
        Ok(DiskUsage {
            layers_size,
            images: images
                .into_iter()
                .map(|i| serde_json::to_value(i).expect("an image summary serializes"))
                .collect(),
            containers,
            volumes,
            build_cache: Vec::new(),
        })
    }
}
