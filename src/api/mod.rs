//! The Docker Engine API over HTTP: the server the daemon runs (`server`) and the client the
//! CLI uses (`client`). What both speak (the JSON types, the stream framing, the detach keys)
//! is in `wire`; subsystems know nothing of HTTP.

pub mod client;
pub mod server;
