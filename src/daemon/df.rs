//! `GET /system/df`: what images, containers and volumes take on disk, as `docker system
//! df` shows it. berth's build cache is made of images, so it has no entries of its own.

use super::error::Result;
use super::Daemon;
use crate::wire::volume::DiskUsage;
use std::collections::HashMap;
use std::sync::Arc;

/// An image's layers, bottom first: (chain id, bytes of that layer alone).
type Layers = Vec<(String, i64)>;

/// Docker's two layer totals of `system df`: for each image, the bytes of its layers that some
/// other image also stands on (`SharedSize`, which the client subtracts from what is in use
/// to say what is reclaimable), and the bytes of every layer once (`LayersSize`).
fn layer_sharing(images: &HashMap<String, Layers>) -> (HashMap<String, i64>, i64) {
    let mut refs: HashMap<&str, (usize, i64)> = HashMap::new();
    for layers in images.values() {
        for (chain, size) in layers {
            refs.entry(chain).or_insert((0, *size)).0 += 1;
        }
    }
    let shared = images
        .iter()
        .map(|(id, layers)| {
            let bytes = layers
                .iter()
                .filter(|(chain, _)| refs[chain.as_str()].0 > 1)
                .map(|(_, size)| size)
                .sum();
            (id.clone(), bytes)
        })
        .collect();
    (shared, refs.values().map(|(_, size)| size).sum())
}

impl Daemon {
    pub async fn disk_usage(self: &Arc<Self>) -> Result<DiskUsage> {
        let records: Vec<_> = self.all_containers().iter().map(|c| c.snapshot()).collect();
        let mut images = self.image_list(false).await?;
        let layers: HashMap<String, Layers> = self
            .with_store("measuring the image layers", |store| {
                Ok(store
                    .list()?
                    .iter()
                    .map(|img| {
                        let chains = crate::image::ImageStore::chains(img);
                        let sized = chains
                            .into_iter()
                            .map(|c| {
                                let size = store.layers().layer_size(&c) as i64;
                                (c, size)
                            })
                            .collect();
                        (img.id.clone(), sized)
                    })
                    .collect())
            })
            .await?;
        // Every layer counts in LayersSize; sharing, as Docker counts it, only among the images
        // listed (not the builder's intermediate ones).
        let (_, layers_size) = layer_sharing(&layers);
        let listed: HashMap<String, Layers> = layers
            .into_iter()
            .filter(|(id, _)| images.iter().any(|i| &i.id == id))
            .collect();
        let (shared, _) = layer_sharing(&listed);
        for img in &mut images {
            img.containers = records.iter().filter(|r| r.image == img.id).count() as i64;
            img.shared_size = shared.get(&img.id).copied().unwrap_or(0);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn image(layers: &[(&str, i64)]) -> Layers {
        layers.iter().map(|(c, s)| (c.to_string(), *s)).collect()
    }

    #[test]
    fn a_layer_under_two_images_is_shared_by_both_and_counted_once() {
        let images = HashMap::from([
            ("base".to_string(), image(&[("a", 100)])),
            ("app".to_string(), image(&[("a", 100), ("b", 30)])),
            ("other".to_string(), image(&[("c", 7)])),
        ]);
        let (shared, total) = layer_sharing(&images);
        assert_eq!(shared["base"], 100);
        assert_eq!(shared["app"], 100);
        assert_eq!(shared["other"], 0);
        assert_eq!(total, 137);
    }

    #[test]
    fn no_images_no_bytes() {
        let (shared, total) = layer_sharing(&HashMap::new());
        assert!(shared.is_empty());
        assert_eq!(total, 0);
    }
}
