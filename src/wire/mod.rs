//! What the client and the daemon both speak, and nothing else: the Engine API's JSON as serde
//! types (`types`), the stream framing of attach, exec and logs (`stream`), the detach keys
//! found in an attached stdin (`detach`), events (`events`), networks (`network`) and host
//! addresses (`host`), volumes and mounts (`volume`), the namespace modes (`namespaces`). It
//! imports nothing of berth's, so `api::server`, `api::client`, the daemon and the CLI all
//! depend on it and none of them on each other.

pub mod detach;
pub mod events;
pub mod host;
pub mod namespaces;
pub mod network;
pub mod stream;
pub mod types;
pub mod volume;
