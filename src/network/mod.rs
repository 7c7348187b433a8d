//! Networking: the default bridge, IP allocation, veth pairs, namespaces and NAT.
