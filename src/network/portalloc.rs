//! The host-port allocator for published ports without a host port (`-p 80`, `-p
//! 127.0.0.1::80`, `-P`), as libnetwork's `portallocator`: ports come from the kernel's
//! ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`), one set per protocol, and the
//! search resumes after the last port handed out, so a port just released is not given to the
//! next container at once (its clients' connections may still be around). Unlike Docker's, the
//! sets are not per host address: a port out on 127.0.0.1 is not offered on 0.0.0.0 either,
//! where binding it would fail anyway.
//! Pure: it only counts; [`super::ports::bind`] asks it for a port and tries the next one when
//! the kernel says that port is in use by someone else.
//!
//! One allocator per daemon ([`host_ports`]): host ports belong to the host, not to a bridge,
//! so every network publishes from the same one.

use std::collections::{BTreeSet, HashMap};
use std::sync::{LazyLock, Mutex};

/// Docker's range when the kernel's cannot be read.
pub const FALLBACK_RANGE: (u16, u16) = (49153, 65535);

/// The kernel's ephemeral port range, from the text of `ip_local_port_range` ("32768\t60999").
pub fn parse_range(text: &str) -> Option<(u16, u16)> {
    let mut it = text.split_whitespace().map(|s| s.parse::<u16>().ok());
    match (it.next()??, it.next()??) {
        (a, b) if a > 0 && a <= b => Some((a, b)),
        _ => None,
    }
}

/// The range this host hands out ephemeral ports from.
pub fn host_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| parse_range(&t))
        .unwrap_or(FALLBACK_RANGE)
}

/// Every port of the range is taken, for this protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no free host port in {begin}-{end} for {proto}: all ports are allocated")]
pub struct Exhausted {
    pub proto: String,
    pub begin: u16,
    pub end: u16,
}

#[derive(Debug, Default)]
struct PortSet {
    used: BTreeSet<u16>,
    /// The last port handed out; the next search starts after it.
    last: Option<u16>,
}

/// Ephemeral host ports in `begin..=end`, per protocol.
#[derive(Debug)]
pub struct PortAllocator {
    begin: u16,
    end: u16,
    sets: HashMap<String, PortSet>,
}

impl PortAllocator {
    /// `begin..=end`; panics on an empty range (callers pass [`host_range`] or a constant).
    pub fn new(begin: u16, end: u16) -> Self {
        assert!(begin > 0 && begin <= end, "bad port range {begin}-{end}");
        PortAllocator {
            begin,
            end,
            sets: HashMap::new(),
        }
    }

    pub fn range(&self) -> (u16, u16) {
        (self.begin, self.end)
    }

    fn len(&self) -> u32 {
        u32::from(self.end - self.begin) + 1
    }

    /// A free port of the range, the first after the last one given, wrapping around.
    pub fn allocate(&mut self, proto: &str) -> Result<u16, Exhausted> {
        let (begin, end, len) = (self.begin, self.end, self.len());
        let set = self.sets.entry(proto.to_string()).or_default();
        let mut port = set.last.unwrap_or(end);
        for _ in 0..len {
            port = if port >= end { begin } else { port + 1 };
            if set.used.insert(port) {
                set.last = Some(port);
                return Ok(port);
            }
        }
        Err(Exhausted {
            proto: proto.to_string(),
            begin,
            end,
        })
    }

    /// Mark a port as taken without handing it out (one a running container already holds,
    /// found after a daemon restart). Ports outside the range are not the allocator's.
    pub fn reserve(&mut self, proto: &str, port: u16) {
        if (self.begin..=self.end).contains(&port) {
            self.sets
                .entry(proto.to_string())
                .or_default()
                .used
                .insert(port);
        }
    }

    /// Give a port back. Releasing one never given is harmless.
    pub fn release(&mut self, proto: &str, port: u16) {
        if let Some(set) = self.sets.get_mut(proto) {
            set.used.remove(&port);
        }
    }

    /// How many ports are out for this protocol.
    pub fn in_use(&self, proto: &str) -> usize {
        self.sets.get(proto).map_or(0, |s| s.used.len())
    }
}

/// The daemon's allocator, over this host's ephemeral range (read once).
pub fn host_ports() -> &'static Mutex<PortAllocator> {
    static PORTS: LazyLock<Mutex<PortAllocator>> = LazyLock::new(|| {
        let (begin, end) = host_range();
        Mutex::new(PortAllocator::new(begin, end))
    });
    &PORTS
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[rstest]
    #[case("32768\t60999\n", Some((32768, 60999)))]
    #[case("1024 1024", Some((1024, 1024)))]
    #[case("60999\t32768", None)]
    #[case("0 10", None)]
    #[case("", None)]
    #[case("x y", None)]
    fn the_kernels_range_parses(#[case] text: &str, #[case] want: Option<(u16, u16)>) {
        assert_eq!(parse_range(text), want);
    }

    #[test]
    fn resumes_after_the_last_port_and_wraps_around() {
        let mut a = PortAllocator::new(100, 102);
        assert_eq!(a.allocate("tcp"), Ok(100));
        assert_eq!(a.allocate("tcp"), Ok(101));
        a.release("tcp", 100);
        // 100 was just released: 102 comes first, then the search wraps to 100.
        assert_eq!(a.allocate("tcp"), Ok(102));
        assert_eq!(a.allocate("tcp"), Ok(100));
        let err = a.allocate("tcp").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no free host port in 100-102 for tcp: all ports are allocated"
        );
        // Another protocol is another set of ports.
        assert_eq!(a.allocate("udp"), Ok(100));
    }

    #[test]
    fn reserved_ports_are_skipped_and_outside_ones_ignored() {
        let mut a = PortAllocator::new(100, 102);
        a.reserve("tcp", 100);
        a.reserve("tcp", 8080);
        assert_eq!(a.in_use("tcp"), 1);
        assert_eq!(a.allocate("tcp"), Ok(101));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Allocate(bool),
        Release(usize, bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => any::<bool>().prop_map(Op::Allocate),
            1 => (any::<usize>(), any::<bool>()).prop_map(|(i, u)| Op::Release(i, u)),
        ]
    }

    proptest! {
        /// Against a model: every port is in the range, none is out twice, the search resumes
        /// after the last port given (wrapping), and exhaustion is reported exactly when the
        /// range is full.
        #[test]
        fn behaves_like_the_model(
            begin in 1u16..65000,
            span in 0u16..20,
            ops in proptest::collection::vec(op(), 0..200),
        ) {
            let end = begin.saturating_add(span);
            let mut a = PortAllocator::new(begin, end);
            let len = usize::from(end - begin) + 1;
            let mut out: [Vec<u16>; 2] = [vec![], vec![]];
            let mut last: [Option<u16>; 2] = [None, None];
            for op in ops {
                match op {
                    Op::Allocate(udp) => {
                        let (k, proto) = if udp { (1, "udp") } else { (0, "tcp") };
                        match a.allocate(proto) {
                            Ok(p) => {
                                prop_assert!((begin..=end).contains(&p));
                                prop_assert!(!out[k].contains(&p), "{p} handed out twice");
                                // The first free port after the last one given, cyclically.
                                let mut want = last[k].unwrap_or(end);
                                loop {
                                    want = if want >= end { begin } else { want + 1 };
                                    if !out[k].contains(&want) { break; }
                                }
                                prop_assert_eq!(p, want);
                                out[k].push(p);
                                last[k] = Some(p);
                            }
                            Err(e) => {
                                prop_assert_eq!(out[k].len(), len);
                                prop_assert_eq!((e.begin, e.end), (begin, end));
                            }
                        }
                    }
                    Op::Release(i, udp) => {
                        let (k, proto) = if udp { (1, "udp") } else { (0, "tcp") };
                        if !out[k].is_empty() {
                            let p = out[k].remove(i % out[k].len());
                            a.release(proto, p);
                        }
                    }
                }
                prop_assert_eq!(a.in_use("tcp"), out[0].len());
                prop_assert_eq!(a.in_use("udp"), out[1].len());
            }
        }
    }
}
