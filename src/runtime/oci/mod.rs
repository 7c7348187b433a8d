//! berth's runtime behind the command line every OCI engine speaks (`berth-runc`, chapter
//! 02): an OCI bundle's config.json becomes a [`plan::Plan`], which [`init`] follows with the
//! same steps as the daemon's containers' init; [`state`] is what lasts between commands and
//! [`hooks`] runs config.json's hooks; [`enter`] is how an exec
//! gets into a running container, for the daemon and for `berth-runc`.

pub mod enter;
pub mod hooks;
pub mod init;
mod mount_options;
pub mod plan;
mod resources;
pub mod state;
