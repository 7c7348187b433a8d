//! Volumes (chapter 06): the data that outlives a container. The local driver's store
//! (`store`, and `local` for a volume mounted from a device), volume names (`name`), what a
//! container asks to mount and how Docker reads it (`spec`), and the copy of an image's
//! directory into a new volume (`copyup`). The daemon ties these to containers; nothing
//! here knows of HTTP or of container records.

pub mod copyup;
pub mod local;
pub mod name;
pub mod spec;
pub mod store;
