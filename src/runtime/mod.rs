//! The runtime (chapters 02 and 10): the per-container shim (`shim`), the init that finishes
//! the container inside its new namespaces (`init`, whose system calls go through `kernel`),
//! the way `exec` enters one (`nsexec`), the shim's socket protocol (`protocol`), the
//! daemon's client for it (`client`), the log and its rotation (`logging`), `-u` resolution (`user`),
//! terminals (`console`), signal names (`signal`), Docker's default security settings
//! (`security`) and its seccomp profile (`seccomp`); OCI bundles, the one init that follows
//! their plan and the way into a running container (`oci`), and `berth-runc`'s command line
//! (`runc`).

pub mod client;
pub mod console;
pub mod init;
pub mod kernel;
pub mod logging;
pub mod nsexec;
pub mod oci;
pub mod protocol;
pub mod runc;
pub mod seccomp;
pub mod security;
pub mod shim;
pub mod signal;
pub mod spec;
pub mod user;
