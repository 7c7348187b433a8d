//! IP address management for one subnet: which container addresses are held. A plain data
//! structure with no I/O, serialised to `<root>/network/<bridge>.json` by the bridge. Like
//! Docker's IP allocator it hands out the lowest free address and never the network, gateway
//! or broadcast address.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IpamError {
    #[error("no free address left in subnet {subnet}")]
    Exhausted { subnet: Ipv4Net },
    #[error("address {ip} is outside subnet {subnet}")]
    OutOfRange { ip: Ipv4Addr, subnet: Ipv4Net },
    #[error("address {ip} is reserved in subnet {subnet} (network, gateway or broadcast)")]
    Reserved { ip: Ipv4Addr, subnet: Ipv4Net },
    #[error("address {ip} is already allocated in subnet {subnet}")]
    AlreadyAllocated { ip: Ipv4Addr, subnet: Ipv4Net },
}

/// The addresses held in one subnet. The gateway is never "allocated": it is reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipam {
    subnet: Ipv4Net,
    gateway: Ipv4Addr,
    /// `--ip-range`: where addresses are handed out from (an `--ip` may be anywhere in the
    /// subnet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    range: Option<Ipv4Net>,
    /// `--aux-address`: addresses something else on the network uses; never handed out.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    aux: BTreeSet<Ipv4Addr>,
    allocated: BTreeSet<Ipv4Addr>,
}

impl Ipam {
    pub fn new(subnet: Ipv4Net, gateway: Ipv4Addr) -> Self {
        Ipam {
            subnet: subnet.trunc(),
            gateway,
            range: None,
            aux: BTreeSet::new(),
            allocated: BTreeSet::new(),
        }
    }

    /// Hand addresses out of `range` only (it must lie inside the subnet).
    pub fn with_range(mut self, range: Option<Ipv4Net>) -> Self {
        self.range = range.map(|r| r.trunc());
        self
    }

    pub fn range(&self) -> Option<Ipv4Net> {
        self.range
    }

    /// Keep these addresses from ever being handed out or asked for.
    pub fn with_aux(mut self, aux: impl IntoIterator<Item = Ipv4Addr>) -> Self {
        self.aux = aux.into_iter().collect();
        self
    }

    pub fn subnet(&self) -> Ipv4Net {
        self.subnet
    }

    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    /// The held addresses, lowest first.
    pub fn allocated(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.allocated.iter().copied()
    }

    fn check_usable(&self, ip: Ipv4Addr) -> Result<(), IpamError> {
        let subnet = self.subnet;
        if !subnet.contains(&ip) {
            return Err(IpamError::OutOfRange { ip, subnet });
        }
        if ip == subnet.network()
            || ip == subnet.broadcast()
            || ip == self.gateway
            || self.aux.contains(&ip)
        {
            return Err(IpamError::Reserved { ip, subnet });
        }
        Ok(())
    }

    /// Hold the lowest free address (of the range, when there is one).
    pub fn allocate(&mut self) -> Result<Ipv4Addr, IpamError> {
        let mut first = u32::from(self.subnet.network()).saturating_add(1);
        let mut last = u32::from(self.subnet.broadcast()).saturating_sub(1);
        if let Some(r) = self.range {
            first = first.max(u32::from(r.network()));
            last = last.min(u32::from(r.broadcast()));
        }
        let gateway = u32::from(self.gateway);
        let taken = |c: u32| {
            c == gateway
                || self.allocated.contains(&Ipv4Addr::from(c))
                || self.aux.contains(&Ipv4Addr::from(c))
        };
        let free = (first..=last)
            .find(|c| !taken(*c))
            .ok_or(IpamError::Exhausted {
                subnet: self.subnet,
            })?;
        let ip = Ipv4Addr::from(free);
        self.allocated.insert(ip);
        Ok(ip)
    }

    /// Hold a specific address (used when reloading endpoints that already exist).
    pub fn reserve(&mut self, ip: Ipv4Addr) -> Result<(), IpamError> {
        self.check_usable(ip)?;
        if !self.allocated.insert(ip) {
            return Err(IpamError::AlreadyAllocated {
                ip,
                subnet: self.subnet,
            });
        }
        Ok(())
    }

    /// Give an address back; returns whether it was held. Releasing twice is harmless.
    pub fn release(&mut self, ip: Ipv4Addr) -> bool {
        self.allocated.remove(&ip)
    }

    pub fn is_allocated(&self, ip: Ipv4Addr) -> bool {
        self.allocated.contains(&ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_bounds_what_is_handed_out() {
        let subnet: Ipv4Net = "10.5.0.0/16".parse().unwrap();
        let range: Ipv4Net = "10.5.7.0/30".parse().unwrap();
        let mut i = Ipam::new(subnet, "10.5.0.1".parse().unwrap()).with_range(Some(range));
        let got: Vec<Ipv4Addr> = (0..4).map(|_| i.allocate().unwrap()).collect();
        assert_eq!(got[0], Ipv4Addr::new(10, 5, 7, 0));
        assert_eq!(got[3], Ipv4Addr::new(10, 5, 7, 3));
        assert!(matches!(i.allocate(), Err(IpamError::Exhausted { .. })));
        // An address asked for may still be anywhere in the subnet.
        i.reserve("10.5.200.9".parse().unwrap()).unwrap();
    }
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn ipam(cidr: &str) -> Ipam {
        let subnet: Ipv4Net = cidr.parse().unwrap();
        Ipam::new(subnet, crate::network::subnet::first_host(&subnet))
    }

    #[test]
    fn allocates_lowest_free_skipping_gateway() {
        let mut a = ipam("10.0.0.0/24");
        assert_eq!(a.allocate().unwrap(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(a.allocate().unwrap(), Ipv4Addr::new(10, 0, 0, 3));
        assert!(a.release(Ipv4Addr::new(10, 0, 0, 2)));
        assert!(!a.release(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(a.allocate().unwrap(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(a.allocate().unwrap(), Ipv4Addr::new(10, 0, 0, 4));
    }

    #[test]
    fn gateway_in_the_middle_is_skipped() {
        let subnet: Ipv4Net = "10.0.0.0/29".parse().unwrap();
        let mut a = Ipam::new(subnet, Ipv4Addr::new(10, 0, 0, 3));
        let got: Vec<_> = (0..5).map(|_| a.allocate().unwrap()).collect();
        let want: Vec<Ipv4Addr> = [1, 2, 4, 5, 6]
            .iter()
            .map(|d| Ipv4Addr::new(10, 0, 0, *d))
            .collect();
        assert_eq!(got, want);
        assert!(matches!(a.allocate(), Err(IpamError::Exhausted { .. })));
    }

    #[test]
    fn slash29_exhausts_after_five() {
        let mut a = ipam("10.0.0.8/29");
        for d in 10..=14 {
            assert_eq!(a.allocate().unwrap(), Ipv4Addr::new(10, 0, 0, d));
        }
        let err = a.allocate().unwrap_err();
        assert_eq!(
            err,
            IpamError::Exhausted {
                subnet: "10.0.0.8/29".parse().unwrap()
            }
        );
        assert_eq!(
            err.to_string(),
            "no free address left in subnet 10.0.0.8/29"
        );
        a.release(Ipv4Addr::new(10, 0, 0, 12));
        assert_eq!(a.allocate().unwrap(), Ipv4Addr::new(10, 0, 0, 12));
    }

    #[test]
    fn reserve_refuses_reserved_foreign_and_held() {
        let mut a = ipam("10.0.0.0/24");
        assert!(matches!(
            a.reserve(Ipv4Addr::new(10, 0, 0, 0)),
            Err(IpamError::Reserved { .. })
        ));
        assert!(matches!(
            a.reserve(Ipv4Addr::new(10, 0, 0, 1)),
            Err(IpamError::Reserved { .. })
        ));
        assert!(matches!(
            a.reserve(Ipv4Addr::new(10, 0, 0, 255)),
            Err(IpamError::Reserved { .. })
        ));
        assert!(matches!(
            a.reserve(Ipv4Addr::new(10, 0, 1, 5)),
            Err(IpamError::OutOfRange { .. })
        ));
        a.reserve(Ipv4Addr::new(10, 0, 0, 2)).unwrap();
        assert!(matches!(
            a.reserve(Ipv4Addr::new(10, 0, 0, 2)),
            Err(IpamError::AlreadyAllocated { .. })
        ));
        assert!(a.is_allocated(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(a.allocate().unwrap(), Ipv4Addr::new(10, 0, 0, 3));
    }

    #[test]
    fn serde_round_trip() {
        let mut a = ipam("10.0.0.0/24");
        a.allocate().unwrap();
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(
            json,
            r#"{"subnet":"10.0.0.0/24","gateway":"10.0.0.1","allocated":["10.0.0.2"]}"#
        );
        assert_eq!(serde_json::from_str::<Ipam>(&json).unwrap(), a);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Allocate,
        Release(u8),
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        proptest::collection::vec(
            prop_oneof![3 => Just(Op::Allocate), 2 => any::<u8>().prop_map(Op::Release)],
            0..200,
        )
    }

    proptest! {
        #[test]
        fn matches_a_set_model(ops in ops(), prefix in 26u8..=30, gw_off in 1u32..3) {
            let subnet = Ipv4Net::new(Ipv4Addr::new(10, 1, 2, 0), prefix).unwrap();
            let gateway = Ipv4Addr::from(u32::from(subnet.network()) + gw_off);
            let mut a = Ipam::new(subnet, gateway);
            let mut model: HashSet<Ipv4Addr> = HashSet::new();
            let usable: Vec<Ipv4Addr> = subnet.hosts().filter(|ip| *ip != gateway).collect();
            for op in ops {
                match op {
                    Op::Allocate => {
                        let expect = usable.iter().find(|ip| !model.contains(ip)).copied();
                        match (a.allocate(), expect) {
                            (Ok(ip), Some(want)) => {
                                prop_assert_eq!(ip, want);
                                prop_assert!(model.insert(ip));
                            }
                            (Err(IpamError::Exhausted { subnet: s }), None) => prop_assert_eq!(s, subnet),
                            (got, want) => prop_assert!(false, "got {:?}, model wanted {:?}", got, want),
                        }
                    }
                    Op::Release(n) => {
                        let ip = Ipv4Addr::from(u32::from(subnet.network()) + u32::from(n) % 64);
                        prop_assert_eq!(a.release(ip), model.remove(&ip));
                    }
                }
                for ip in subnet.hosts() {
                    prop_assert_eq!(a.is_allocated(ip), model.contains(&ip));
                }
                prop_assert!(!a.is_allocated(gateway));
            }
        }
    }
}
