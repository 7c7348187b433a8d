//! The command line: Docker-compatible commands that call the Engine API.
