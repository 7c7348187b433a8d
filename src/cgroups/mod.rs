//! cgroups: one per container under a parent, on v1 and v2 behind one interface.
