//! Chapter 08: the Dockerfile builder, which turns a Dockerfile and a build context into an
//! image one committed step at a time. Today it holds only the parser (`dockerfile`): text
//! in, typed stages out, with no I/O, so that the builder that executes steps can be written
//! and tested against a value rather than against strings.

pub mod builder;
pub mod context;
pub mod dockerfile;
