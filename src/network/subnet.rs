//! Choosing the bridge's subnet: address pools, the candidates they yield, and the overlap
//! test against host routes. Reproduces Docker's `CreateBridgeIface`, which walks a list of
//! candidate ranges and takes the first one that `checkRouteOverlaps` finds unrouted, and its
//! later `--default-address-pool` flag (`base=10.66.0.0/16,size=24`). Like Docker's
//! `checkNameserverOverlaps`, a candidate holding one of the host's nameservers is skipped
//! too: the bridge would capture the route to that server and name resolution would break.

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

/// What a new subnet must keep clear of. Passed in, never read here, so the choice is pure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InUse {
    /// The host's IPv4 routes; default routes (`0.0.0.0/0`) are ignored.
    pub routes: Vec<Ipv4Net>,
    /// The host's nameservers (see `dns::resolv::host_nameservers`).
    pub nameservers: Vec<Ipv4Addr>,
    /// The subnets of the daemon's other networks, routed or not (a bridge that is down has
    /// no route, but its subnet is still taken).
    pub networks: Vec<Ipv4Net>,
}

/// Every candidate in the pools was taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("no free subnet in the pools [{pools}]")]
pub struct Exhausted {
    /// The pools, as `--default-address-pool` spells them, space-separated.
    pub pools: String,
}

impl InUse {
    /// Whether `c` overlaps a route (other than a default route) or another network, or
    /// holds a nameserver. Default routes are skipped, as Docker does: they overlap
    /// everything and say nothing about what is on-link.
    pub fn blocks(&self, c: &Ipv4Net) -> bool {
        self.routes
            .iter()
            .filter(|r| r.prefix_len() > 0)
            .chain(&self.networks)
            .any(|r| overlaps(c, r))
            || self.nameservers.iter().any(|ns| c.contains(ns))
    }
}

/// The first candidate that nothing in `in_use` blocks.
pub fn pick_subnet(pools: &[SubnetPool], in_use: &InUse) -> Result<Ipv4Net, Exhausted> {
    candidates(pools)
        .find(|c| !in_use.blocks(c))
        .ok_or_else(|| Exhausted {
            pools: pools
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(" "),
        })
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

    fn routes(routes: &[&str]) -> InUse {
        InUse {
            routes: routes.iter().map(|r| net(r)).collect(),
            ..InUse::default()
        }
    }

    #[test]
    fn picks_first_unrouted_candidate_and_ignores_default_route() {
        let pools = default_pools();
        let routed = routes(&["0.0.0.0/0", "172.17.5.0/24", "172.18.0.0/15"]);
        assert_eq!(pick_subnet(&pools, &routed), Ok(net("172.20.0.0/16")));
        assert_eq!(
            pick_subnet(&pools, &routes(&["0.0.0.0/0"])),
            Ok(net("172.17.0.0/16"))
        );
        let everything = routes(&["128.0.0.0/1"]);
        assert_eq!(
            pick_subnet(&pools, &everything).unwrap_err().to_string(),
            "no free subnet in the pools [base=172.17.0.0/16,size=16 base=172.18.0.0/16,size=16 \
             base=172.19.0.0/16,size=16 base=172.20.0.0/16,size=16 base=172.21.0.0/16,size=16 \
             base=172.22.0.0/16,size=16 base=172.23.0.0/16,size=16 base=172.24.0.0/16,size=16 \
             base=172.25.0.0/16,size=16 base=172.26.0.0/16,size=16 base=172.27.0.0/16,size=16 \
             base=172.28.0.0/16,size=16 base=172.29.0.0/16,size=16 base=172.30.0.0/16,size=16 \
             base=172.31.0.0/16,size=16 base=192.168.0.0/16,size=20]"
        );
        assert_eq!(
            first_host(&net("10.213.7.0/24")),
            Ipv4Addr::new(10, 213, 7, 1)
        );
    }

    /// One pool of four /24s; each row says what is in use and which subnet is picked.
    #[rstest::rstest]
    #[case::nothing_in_use(&[], &[], &[], Some("10.9.0.0/24"))]
    #[case::nameserver_in_first(&[], &["10.9.0.53"], &[], Some("10.9.1.0/24"))]
    #[case::nameserver_at_network_address(&[], &["10.9.1.0"], &[], Some("10.9.0.0/24"))]
    #[case::nameserver_at_broadcast(&[], &["10.9.0.255"], &[], Some("10.9.1.0/24"))]
    #[case::nameserver_elsewhere(&[], &["8.8.8.8", "10.8.255.255"], &[], Some("10.9.0.0/24"))]
    #[case::route_nameserver_and_network(&["10.9.0.0/25"], &["10.9.1.1"], &["10.9.2.0/24"], Some("10.9.3.0/24"))]
    #[case::default_route_blocks_nothing(&["0.0.0.0/0"], &[], &[], Some("10.9.0.0/24"))]
    #[case::network_wider_than_candidate(&[], &[], &["10.9.0.0/23"], Some("10.9.2.0/24"))]
    #[case::all_taken(&["10.9.0.0/24"], &["10.9.1.9", "10.9.2.9"], &["10.9.3.0/24"], None)]
    fn nameservers_routes_and_networks_block_candidates(
        #[case] routes: &[&str],
        #[case] nameservers: &[&str],
        #[case] networks: &[&str],
        #[case] picked: Option<&str>,
    ) {
        let pools: Vec<SubnetPool> = vec!["base=10.9.0.0/22,size=24".parse().unwrap()];
        let in_use = InUse {
            routes: routes.iter().map(|r| net(r)).collect(),
            nameservers: nameservers.iter().map(|n| n.parse().unwrap()).collect(),
            networks: networks.iter().map(|n| net(n)).collect(),
        };
        assert_eq!(pick_subnet(&pools, &in_use).ok(), picked.map(net));
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

    fn any_addr() -> impl Strategy<Value = Ipv4Addr> {
        (0u32..64, 0u32..0x10_0000, any::<u32>(), 0u8..3).prop_map(|(small, low, big, how)| {
            Ipv4Addr::from(match how {
                0 => small << 24 | small,
                1 => 0x0a00_0000 | low, // inside the small pool's reach
                _ => big,
            })
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
        fn picked_subnet_is_clear_of_everything_in_use(
            routes in proptest::collection::vec(any_net(), 0..6),
            nameservers in proptest::collection::vec(any_addr(), 0..6),
            networks in proptest::collection::vec(any_net(), 0..4),
            small_pool in any::<bool>(),
        ) {
            // The small pool (sixteen /24s in 10.0.0.0/20) is where the biased addresses fall,
            // so nameservers and networks often block it and exhaustion is reached too.
            let pools = if small_pool {
                vec!["base=10.0.0.0/20,size=24".parse().unwrap()]
            } else {
                default_pools()
            };
            let in_use = InUse { routes, nameservers, networks };
            // Written out again, not through `blocks`, so the test checks that as well.
            let blocked = |c: &Ipv4Net| {
                in_use.routes.iter().any(|r| r.prefix_len() > 0 && overlaps(c, r))
                    || in_use.networks.iter().any(|n| overlaps(c, n))
                    || in_use.nameservers.iter().any(|ns| {
                        let (lo, hi) = range(c);
                        (lo..=hi).contains(&u64::from(u32::from(*ns)))
                    })
            };
            match pick_subnet(&pools, &in_use) {
                Ok(s) => {
                    prop_assert!(!blocked(&s), "{} is in use", s);
                    // Every earlier candidate must have been blocked: first fit.
                    for c in candidates(&pools).take_while(|c| *c != s) {
                        prop_assert!(blocked(&c), "{} was free before {}", c, s);
                    }
                }
                Err(e) => {
                    for c in candidates(&pools) {
                        prop_assert!(blocked(&c), "{} was free, yet: {}", c, e);
                    }
                }
            }
        }
    }
}
