#![recursion_limit = "256"]
//! berth: a Docker engine rebuilt from first principles, and the course that explains it.
//!
//! One binary plays four roles (see `main.rs`): the CLI, the daemon that serves the
//! Docker Engine API, the per-container shim, and the init that finishes a container
//! from inside its namespaces. Each module below is a chapter of the course in `chapters/`.

pub mod api;
pub mod build;
pub mod cgroups;
pub mod cli;
pub mod daemon;
pub mod image;
pub mod layers;
pub mod network;
pub mod runtime;
pub mod util;
pub mod volume;
pub mod wire;
