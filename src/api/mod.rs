//! The Docker Engine API: wire types, the HTTP server and the client.
