//! Images (chapter 05): the content-addressed store (`imagedb`, `repositories.json`),
//! Docker references, loading `docker save` archives and writing them (`save`). An image id is the sha256 of its
//! config JSON; its layers are verified against the config's diff ids while they unpack.

pub mod archive;
pub mod config;
pub mod distribution;
pub mod lineage;
pub mod reference;
pub mod registry;
pub mod save;
pub mod store;

pub use config::{ContainerConfig, History, ImageConfig, RootFs};
pub use store::{ImageError, ImageRecord, ImageStore};
