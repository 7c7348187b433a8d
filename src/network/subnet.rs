//! Choosing the bridge's subnet: address pools, the candidates they yield, and the overlap
//! test against host routes. Reproduces Docker's `CreateBridgeIface`, which walks a list of
//! candidate ranges and takes the first one that `checkRouteOverlaps` finds unrouted, and its
//! later `--default-address-pool` flag (`base=10.66.0.0/16,size=24`).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use ipnet::Ipv4Net;

/// A range of addresses carved into equally sized subnets, as Docker's `--default-address-pool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubnetPool {
    base: Ipv4Net,
    size: u8,
}

/// Why a pool specification was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PoolParseError {
    #[error("invalid address pool {spec:?}: {reason}")]
    Invalid { spec: String, reason: String },
}

impl SubnetPool {
    /// A pool of `/size` subnets inside `base`; `None` when `size` is shorter than the base
    /// prefix or longer than 32.
    pub fn new(base: Ipv4Net, size: u8) -> Option<Self> {
        (size >= base.prefix_len() && size <= 32).then_some(SubnetPool {
            base: base.trunc(),
            size,
        })
    }

    pub fn base(&self) -> Ipv4Net {
        self.base
    }

    pub fn size(&self) -> u8 {
        self.size
    }
}

impl fmt::Display for SubnetPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "base={},size={}", self.base, self.size)
    }
}

impl FromStr for SubnetPool {
    type Err = PoolParseError;

    /// Accepts `base=CIDR,size=N` (either order) or a plain CIDR, whose own prefix is the size.
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| PoolParseError::Invalid {
            spec: spec.to_string(),
            reason,
        };
        let parse_net = |s: &str| {
            s.trim()
                .parse::<Ipv4Net>()
                .map_err(|e| invalid(format!("{s:?} is not an IPv4 CIDR: {e}")))
        };
        if !spec.contains('=') {
            let base = parse_net(spec)?;
            return Ok(SubnetPool {
                base: base.trunc(),
                size: base.prefix_len(),
            });
        }
        let (mut base, mut size) = (None, None);
        for field in spec.split(',') {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| invalid(format!("field {field:?} is not key=value")))?;
            match key.trim() {
                "base" => base = Some(parse_net(value)?),
                "size" => {
                    size = Some(value.trim().parse::<u8>().map_err(|e| {
                        invalid(format!("size {value:?} is not a prefix length: {e}"))
                    })?)
                }
                other => return Err(invalid(format!("unknown key {other:?}"))),
            }
        }
        let base = base.ok_or_else(|| invalid("missing base=".into()))?;
        let size = size.ok_or_else(|| invalid("missing size=".into()))?;
        SubnetPool::new(base, size).ok_or_else(|| {
            invalid(format!(
                "size {size} must lie between the base prefix /{} and /32",
                base.prefix_len()
            ))
        })
    }
}

/// Docker's default pools: 172.17.0.0/16 to 172.31.0.0/16 whole, then 192.168.0.0/16 as /20s.
pub fn default_pools() -> Vec<SubnetPool> {
    let mut pools: Vec<SubnetPool> = (17..=31)
        .map(|b| SubnetPool {
            base: Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).expect("valid /16"),
            size: 16,
        })
        .collect();
    pools.push(SubnetPool {
        base: Ipv4Net::new(Ipv4Addr::new(192, 168, 0, 0), 16).expect("valid /16"),
        size: 20,
    });
    pools
}

/// Every subnet the pools offer, pool by pool, lowest address first.
pub fn candidates(pools: &[SubnetPool]) -> impl Iterator<Item = Ipv4Net> + '_ {
    pools.iter().flat_map(|p| {
        p.base
            .subnets(p.size)
            .expect("SubnetPool guarantees size >= base prefix")
    })
}

/// Whether two networks share at least one address. Two CIDR blocks either nest or are
/// disjoint, so it is enough to ask whether either contains the other's first address.
pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first candidate that overlaps no host route. Default routes (`0.0.0.0/0`) are skipped,
/// as Docker does: they overlap everything and say nothing about what is on-link.
pub fn pick_subnet(pools: &[SubnetPool], host_routes: &[Ipv4Net]) -> Option<Ipv4Net> {
    let routes: Vec<&Ipv4Net> = host_routes.iter().filter(|r| r.prefix_len() > 0).collect();
    candidates(pools).find(|c| !routes.iter().any(|r| overlaps(c, r)))
}

/// The first usable host address of a subnet: Docker gives it to the bridge as the gateway.
pub fn first_host(subnet: &Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet.network()).saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn parses_docker_pool_form_and_plain_cidr() {
        let p: SubnetPool = "base=10.66.0.0/16,size=24".parse().unwrap();
        assert_eq!((p.base(), p.size()), (net("10.66.0.0/16"), 24));
        let p: SubnetPool = "size=24, base=10.66.0.0/16".parse().unwrap();
        assert_eq!((p.base(), p.size()), (net("10.66.0.0/16"), 24));
        let p: SubnetPool = "10.66.7.0/24".parse().unwrap();
        assert_eq!((p.base(), p.size()), (net("10.66.7.0/24"), 24));
        assert_eq!(p.to_string(), "base=10.66.7.0/24,size=24");
    }

    #[test]
    fn rejects_bad_pools() {
        for bad in [
            "base=10.66.0.0/16,size=8",
            "base=10.66.0.0/16,size=33",
            "base=10.66.0.0/16",
            "size=24",
            "base=nope,size=24",
            "base=10.0.0.0/8,size=24,colour=red",
            "10.0.0.0",
        ] {
            let err = bad.parse::<SubnetPool>().unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn default_pools_match_docker() {
        let pools = default_pools();
        assert_eq!(pools.len(), 16);
        assert_eq!(pools[0].to_string(), "base=172.17.0.0/16,size=16");
        assert_eq!(pools[14].to_string(), "base=172.31.0.0/16,size=16");
        assert_eq!(pools[15].to_string(), "base=192.168.0.0/16,size=20");
        let all: Vec<_> = candidates(&pools).collect();
        assert_eq!(all.len(), 15 + 16);
        assert_eq!(all[15], net("192.168.0.0/20"));
        assert_eq!(all[16], net("192.168.16.0/20"));
    }

    #[test]
    fn picks_first_unrouted_candidate_and_ignores_default_route() {
        let pools = default_pools();
        let routes = [net("0.0.0.0/0"), net("172.17.5.0/24"), net("172.18.0.0/15")];
        assert_eq!(pick_subnet(&pools, &routes), Some(net("172.20.0.0/16")));
        assert_eq!(
            pick_subnet(&pools, &[net("0.0.0.0/0")]),
            Some(net("172.17.0.0/16"))
        );
        let everything = [net("128.0.0.0/1")];
        assert_eq!(pick_subnet(&pools, &everything), None);
        assert_eq!(
            first_host(&net("10.213.7.0/24")),
            Ipv4Addr::new(10, 213, 7, 1)
        );
    }

    /// An oracle written differently: the inclusive u32 ranges, computed from the mask.
    fn range(n: &Ipv4Net) -> (u64, u64) {
        let mask: u64 = if n.prefix_len() == 0 {
            0
        } else {
            (u64::from(u32::MAX) << (32 - n.prefix_len())) & u64::from(u32::MAX)
        };
        let start = u64::from(u32::from(n.addr())) & mask;
        (start, start + (u64::from(u32::MAX) & !mask))
    }

    fn any_net() -> impl Strategy<Value = Ipv4Net> {
        // Bias addresses into a small space so that overlaps are common.
        (0u32..64, any::<u32>(), 0u8..=32, any::<bool>()).prop_map(|(small, big, p, bias)| {
            let a = if bias { small << 24 | small } else { big };
            Ipv4Net::new(Ipv4Addr::from(a), p).unwrap()
        })
    }

    proptest! {
        #[test]
        fn overlaps_agrees_with_range_oracle(a in any_net(), b in any_net()) {
            let (a0, a1) = range(&a);
            let (b0, b1) = range(&b);
            prop_assert_eq!(overlaps(&a, &b), a0 <= b1 && b0 <= a1);
            prop_assert_eq!(overlaps(&a, &b), overlaps(&b, &a));
        }

        #[test]
        fn overlaps_agrees_with_enumeration_for_small_nets(
            x in 0u32..256, px in 24u8..=32, y in 0u32..256, py in 24u8..=32
        ) {
            let a = Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 | x), px).unwrap();
            let b = Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 | y), py).unwrap();
            let shared = a.hosts().chain([a.network(), a.broadcast()]).any(|ip| b.contains(&ip));
            prop_assert_eq!(overlaps(&a, &b), shared);
        }

        #[test]
        fn picked_subnet_overlaps_no_route(routes in proptest::collection::vec(any_net(), 0..6)) {
            let pools = default_pools();
            match pick_subnet(&pools, &routes) {
                Some(s) => {
                    for r in routes.iter().filter(|r| r.prefix_len() > 0) {
                        prop_assert!(!overlaps(&s, r), "{} overlaps {}", s, r);
                    }
                    // Every earlier candidate must have been blocked by some route.
                    for c in candidates(&pools).take_while(|c| *c != s) {
                        prop_assert!(routes.iter().any(|r| r.prefix_len() > 0 && overlaps(&c, r)));
                    }
                }
                None => {
                    for c in candidates(&pools) {
                        prop_assert!(routes.iter().any(|r| r.prefix_len() > 0 && overlaps(&c, r)));
                    }
                }
            }
        }
    }
}
