//! The overlay2 layer store (chapter 04): one directory per layer under `overlay2/`, short
//! links in `overlay2/l/`, layer chains in `image/overlay2/layerdb/`, and for each container an
//! `-init` layer and a read-write layer mounted together as one overlay filesystem.

mod lease;
mod mount;
mod overlay2;
pub mod pack;
mod unpack;

pub use lease::Lease;
pub use mount::{
    is_mountpoint, plan_mount, plan_overlay, DepthError, MountApi, MountPlan, OverlayMount,
    OVL_MAX_STACK,
};
pub use overlay2::{LayerError, LayerInfo, LayerStore, LayerTarReader, StagedLayer};
pub use unpack::{chain_id, clean_entry_path, dir_size, Segment};
