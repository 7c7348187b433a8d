//! IPv6 address management for one subnet of an IPv6-enabled network: which container
//! addresses are held. The IPv4 allocator (`ipam`) walks a subnet of at most a few thousand
//! addresses; a /64 has 2^64, so this one never walks the subnet: it steps from the start of
//! the range past the few addresses that are taken, the lowest free one first. As in Docker,
//! the subnet's first address (the subnet-router anycast address) and the gateway are never
//! handed out; IPv6 has no broadcast address, so the last one is.

use std::collections::BTreeSet;
use std::net::Ipv6Addr;

use ipnet::Ipv6Net;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Ipam6Error {
    #[error("no free address left in subnet {subnet}")]
    Exhausted { subnet: Ipv6Net },
    #[error("address {ip} is outside subnet {subnet}")]
    OutOfRange { ip: Ipv6Addr, subnet: Ipv6Net },
    #[error(
        "address {ip} is reserved in subnet {subnet} (the subnet's first address or the gateway)"
    )]
    Reserved { ip: Ipv6Addr, subnet: Ipv6Net },
    #[error("address {ip} is already allocated in subnet {subnet}")]
    AlreadyAllocated { ip: Ipv6Addr, subnet: Ipv6Net },
}

/// The IPv6 addresses held in one subnet. The gateway is reserved, never allocated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipam6 {
    subnet: Ipv6Net,
    gateway: Ipv6Addr,
    /// `--ip-range` of the IPv6 pool: where addresses are handed out from (an `--ip6` may be
    /// anywhere in the subnet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    range: Option<Ipv6Net>,
    allocated: BTreeSet<Ipv6Addr>,
}

/// The gateway a subnet gets when none is asked for: its first address after the network's
/// own (`2001:db8::1` of `2001:db8::/64`), as Docker picks it.
pub fn first_host6(subnet: &Ipv6Net) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(subnet.network()).saturating_add(1))
}

impl Ipam6 {
    pub fn new(subnet: Ipv6Net, gateway: Ipv6Addr, range: Option<Ipv6Net>) -> Self {
        Ipam6 {
            subnet: subnet.trunc(),
            gateway,
            range: range.map(|r| r.trunc()),
            allocated: BTreeSet::new(),
        }
    }

    pub fn subnet(&self) -> Ipv6Net {
        self.subnet
    }

    pub fn gateway(&self) -> Ipv6Addr {
        self.gateway
    }

    pub fn range(&self) -> Option<Ipv6Net> {
        self.range
    }

    /// The held addresses, lowest first.
    pub fn allocated(&self) -> impl Iterator<Item = Ipv6Addr> + '_ {
        self.allocated.iter().copied()
    }

    pub fn is_allocated(&self, ip: Ipv6Addr) -> bool {
        self.allocated.contains(&ip)
    }

    fn taken(&self, ip: Ipv6Addr) -> bool {
        ip == self.subnet.network() || ip == self.gateway || self.allocated.contains(&ip)
    }

    /// Hold the lowest free address of the range (of the subnet when there is none). Every
    /// step past a taken address passes one of the at most `allocated + 2` taken ones, so
    /// this ends quickly however large the subnet.
    pub fn allocate(&mut self) -> Result<Ipv6Addr, Ipam6Error> {
        let span = self.range.unwrap_or(self.subnet);
        let (first, last) = (u128::from(span.network()), u128::from(span.broadcast()));
        let mut candidate = first;
        loop {
            let ip = Ipv6Addr::from(candidate);
            if !self.taken(ip) {
                self.allocated.insert(ip);
                return Ok(ip);
            }
            if candidate == last {
                return Err(Ipam6Error::Exhausted {
                    subnet: self.subnet,
                });
            }
            candidate += 1;
        }
    }

    /// Hold a specific address (`--ip6`, or an endpoint that already exists).
    pub fn reserve(&mut self, ip: Ipv6Addr) -> Result<(), Ipam6Error> {
        let subnet = self.subnet;
        if !subnet.contains(&ip) {
            return Err(Ipam6Error::OutOfRange { ip, subnet });
        }
        if ip == subnet.network() || ip == self.gateway {
            return Err(Ipam6Error::Reserved { ip, subnet });
        }
        if !self.allocated.insert(ip) {
            return Err(Ipam6Error::AlreadyAllocated { ip, subnet });
        }
        Ok(())
    }

    /// Give an address back; returns whether it was held. Releasing twice is harmless.
    pub fn release(&mut self, ip: Ipv6Addr) -> bool {
        self.allocated.remove(&ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn net(s: &str) -> Ipv6Net {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn the_default_gateway_is_the_first_address() {
        assert_eq!(first_host6(&net("2001:db8::/64")), ip("2001:db8::1"));
    }

    #[test]
    fn allocates_lowest_free_skipping_network_and_gateway() {
        let s = net("2001:db8::/64");
        let mut a = Ipam6::new(s, first_host6(&s), None);
        assert_eq!(a.allocate().unwrap(), ip("2001:db8::2"));
        assert_eq!(a.allocate().unwrap(), ip("2001:db8::3"));
        assert!(a.release(ip("2001:db8::2")));
        assert!(!a.release(ip("2001:db8::2")));
        assert_eq!(a.allocate().unwrap(), ip("2001:db8::2"));
        assert_eq!(a.allocate().unwrap(), ip("2001:db8::4"));
    }

    #[test]
    fn a_range_bounds_what_is_handed_out_and_the_last_address_is_usable() {
        // docker-py's pool: the gateway at ::ffff, inside the range.
        let mut a = Ipam6::new(
            net("2001:389::/64"),
            ip("2001:389::ffff"),
            Some(net("2001:389::fffc/126")),
        );
        let got: Vec<_> = (0..3).map(|_| a.allocate().unwrap()).collect();
        assert_eq!(
            got,
            [
                ip("2001:389::fffc"),
                ip("2001:389::fffd"),
                ip("2001:389::fffe")
            ]
        );
        assert!(matches!(a.allocate(), Err(Ipam6Error::Exhausted { .. })));
        // An address asked for may still be anywhere in the subnet.
        a.reserve(ip("2001:389::f00d")).unwrap();
    }

    #[test]
    fn reserve_refuses_reserved_foreign_and_held() {
        let s = net("2001:db8::/64");
        let mut a = Ipam6::new(s, first_host6(&s), None);
        for (bad, want) in [
            ("2001:db8::", "reserved"),
            ("2001:db8::1", "reserved"),
            ("2001:db9::5", "outside"),
        ] {
            let err = a.reserve(ip(bad)).unwrap_err().to_string();
            assert!(err.contains(want), "{bad}: {err}");
        }
        a.reserve(ip("2001:db8::f00d")).unwrap();
        assert!(matches!(
            a.reserve(ip("2001:db8::f00d")),
            Err(Ipam6Error::AlreadyAllocated { .. })
        ));
        assert!(a.is_allocated(ip("2001:db8::f00d")));
    }

    #[test]
    fn serde_round_trip() {
        let s = net("2001:db8::/64");
        let mut a = Ipam6::new(s, first_host6(&s), None);
        a.allocate().unwrap();
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(
            json,
            r#"{"subnet":"2001:db8::/64","gateway":"2001:db8::1","allocated":["2001:db8::2"]}"#
        );
        assert_eq!(serde_json::from_str::<Ipam6>(&json).unwrap(), a);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Allocate,
        Reserve(u8),
        Release(u8),
    }

    proptest! {
        /// Whatever the order of allocations, reservations and releases: never the
        /// gateway or the subnet's first address, never an address twice, always inside
        /// the range (a reservation anywhere in the subnet), and the held set is the model's.
        #[test]
        fn never_the_gateway_nor_a_duplicate(
            ops in proptest::collection::vec(prop_oneof![
                3 => Just(Op::Allocate),
                1 => any::<u8>().prop_map(Op::Reserve),
                2 => any::<u8>().prop_map(Op::Release),
            ], 0..200),
            range_prefix in 121u8..=128,
            range_off in 0u8..4,
            gw_off in 0u128..16,
        ) {
            let subnet = net("2001:db8:0:7::/64");
            let base = u128::from(subnet.network());
            let range = Ipv6Net::new(
                Ipv6Addr::from(base + u128::from(range_off) * 128),
                range_prefix,
            ).unwrap().trunc();
            let gateway = Ipv6Addr::from(u128::from(range.network()) + gw_off);
            let mut a = Ipam6::new(subnet, gateway, Some(range));
            let mut model: HashSet<Ipv6Addr> = HashSet::new();
            for op in ops {
                match op {
                    Op::Allocate => match a.allocate() {
                        Ok(got) => {
                            prop_assert_ne!(got, gateway);
                            prop_assert_ne!(got, subnet.network());
                            prop_assert!(range.contains(&got));
                            prop_assert!(model.insert(got), "{} handed out twice", got);
                        }
                        Err(Ipam6Error::Exhausted { .. }) => {
                            let free = range.hosts().chain([range.network(), range.broadcast()])
                                .any(|c| c != gateway && c != subnet.network() && !model.contains(&c));
                            prop_assert!(!free, "exhausted with a free address left");
                        }
                        Err(e) => prop_assert!(false, "{}", e),
                    },
                    Op::Reserve(n) => {
                        let want = Ipv6Addr::from(base + u128::from(n));
                        let got = a.reserve(want);
                        let usable = want != gateway && want != subnet.network();
                        prop_assert_eq!(got.is_ok(), usable && !model.contains(&want));
                        if got.is_ok() {
                            model.insert(want);
                        }
                    }
                    Op::Release(n) => {
                        let ip = Ipv6Addr::from(base + u128::from(n));
                        prop_assert_eq!(a.release(ip), model.remove(&ip));
                    }
                }
                prop_assert!(!a.is_allocated(gateway));
                prop_assert_eq!(a.allocated().count(), model.len());
            }
        }
    }
}
