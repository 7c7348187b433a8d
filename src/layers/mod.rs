//! The overlay2 layer store: one directory per layer, short links, the -init layer.
