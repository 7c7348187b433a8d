//! The runtime: the per-container shim and the init that runs inside the new namespaces.

pub mod spec;
