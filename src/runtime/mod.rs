//! The runtime (chapters 02 and 10): the per-container shim (`shim`), the init that finishes
//! the container inside its new namespaces (`init`, whose system calls go through `kernel`),
//! the way `exec` enters one (`nsexec`), the shim's socket protocol (`protocol`), the
//! daemon's client for it (`client`), the log and its rotation (`logging`), `-u` resolution (`user`),
//! terminals (`console`), Docker's default security settings (`security`) and its seccomp
//! profile (`seccomp`).

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
pub mod spec;
pub mod user;
