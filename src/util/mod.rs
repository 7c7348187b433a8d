//! Small helpers shared by every subsystem: atomic state files and Docker-style ids.

pub mod chanio;
pub mod fsutil;
pub mod hashing;
pub mod human;
pub mod id;
pub mod tarpath;
