//! Images: the content-addressed store, references, and archives.
