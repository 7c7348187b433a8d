//! Volumes: the image's content copied into a new, empty volume (`copyup`).

pub mod copyup;
