//! Helpers more than one subsystem needs, none of them a subject of the course: state files
//! written atomically and writeback/readahead advice (`fsutil`), byte streams between tasks
//! and threads in recycled chunks (`chanio`), sha256 on a thread of its own (`hashing`),
//! Docker's human sizes and durations (`human`), Go's duration text (`goduration`), ids
//! (`id`), paths inside a foreign root (`inroot`), Go's query escaping (`query`), and one
//! path as a tar (`tarpath`). They live here so that no subsystem reaches into another for
//! them.

pub mod chanio;
pub mod fsutil;
pub mod goduration;
pub mod hashing;
pub mod human;
pub mod id;
pub mod inroot;
pub mod query;
pub mod tarpath;
