//! The daemon: container records, lifecycle, and the engine behind the API.
