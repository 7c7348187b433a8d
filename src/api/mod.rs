//! The Docker Engine API: wire types (`types`), the HTTP server the daemon runs (`server`),
//! the client the CLI uses (`client`), the stream framing both share (`stream`) and the
//! detach keys found in an attached stdin (`detach`).
//! Subsystems know nothing of HTTP; this module is the only serde mirror of the API.

pub mod client;
pub mod detach;
pub mod server;
pub mod stream;
pub mod types;
