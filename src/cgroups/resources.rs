//! Resource limits (`-m`, `--memory-swap`, `--memory-reservation`, `--cpus`, `--cpu-shares`,
//! `--cpu-period`/`--cpu-quota`, `--cpuset-cpus`, `--pids-limit`, `--oom-kill-disable`) as the
//! files that enforce them, with Docker's validations in Docker's words. The plan is pure (and
//! snapshot-tested for both versions); applying it is writing each value into its file.

use super::CgroupVersion;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    /// Bytes; None = unlimited.
    pub memory: Option<i64>,
    /// Memory plus swap, bytes; -1 = unlimited swap.
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    /// CPUs × 10⁹ (`--cpus 1.5` = 1.5e9).
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub cpu_period: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub pids_limit: Option<i64>,
    pub oom_kill_disable: bool,
}

/// One knob: the controller (v1 hierarchy; ignored on v2), the file, the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Knob {
    pub controller: &'static str,
    pub file: &'static str,
    pub value: String,
}

pub(crate) fn knob(controller: &'static str, file: &'static str, value: impl ToString) -> Knob {
    Knob {
        controller,
        file,
        value: value.to_string(),
    }
}

const DEFAULT_CFS_PERIOD: i64 = 100_000;

impl Resources {
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }

    /// Docker's own checks, with its words; CPU counts and sets against `host`'s.
    pub fn validate(&self, host: &HostCpus) -> Result<(), String> {
        if let Some(m) = self.memory {
            if m < 6 * 1024 * 1024 {
                return Err("Minimum memory limit allowed is 6MB".into());
            }
            if let Some(s) = self.memory_swap {
                if s != -1 && s < m {
                    return Err(
                        "Minimum memoryswap limit should be larger than memory limit, see usage"
                            .into(),
                    );
                }
            }
        } else if self.memory_swap.is_some_and(|s| s > 0) {
            return Err(
                "You should always set the Memory limit when using Memoryswap limit, see usage"
                    .into(),
            );
        }
        if self.nano_cpus.is_some() && self.cpu_period.is_some() {
            return Err("Conflicting options: Nano CPUs and CPU Period cannot both be set".into());
        }
        if self.nano_cpus.is_some() && self.cpu_quota.is_some() {
            return Err("Conflicting options: Nano CPUs and CPU Quota cannot both be set".into());
        }
        if let Some(n) = self.nano_cpus {
            let cpus = host.count() as i64;
            if n < 0 || n > cpus * 1_000_000_000 {
                return Err(format!(
                    "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
                ));
            }
        }
        if self
            .cpu_period
            .is_some_and(|p| !(1000..=1_000_000).contains(&p))
        {
            return Err(
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                    .into(),
            );
        }
        if self.cpu_quota.is_some_and(|q| q > 0 && q < 1000) {
            return Err("CPU cfs quota can not be less than 1ms (i.e. 1000)".into());
        }
        if let Some(set) = &self.cpuset_cpus {
            let wanted = parse_cpuset(set)
                .map_err(|e| format!("Invalid value {set} for cpuset cpus: {e}"))?;
            let online = parse_cpuset(&host.online).unwrap_or_default();
            if !wanted.is_subset(&online) {
                return Err(format!(
                    "Requested CPUs are not available - requested {set}, available: {}",
                    host.online
                ));
            }
        }
        Ok(())
    }

    /// Memory plus swap: Docker gives a container as much swap as memory unless told.
    pub(crate) fn memsw(&self) -> Option<i64> {
        match (self.memory, self.memory_swap) {
            (Some(_), Some(-1)) => Some(-1),
            (Some(_), Some(s)) => Some(s),
            (Some(m), None) => Some(2 * m),
            _ => None,
        }
    }

    /// (period, quota) in microseconds; a quota of -1 is none.
    pub(crate) fn cfs(&self) -> Option<(i64, i64)> {
        if let Some(n) = self.nano_cpus {
            return Some((DEFAULT_CFS_PERIOD, n * DEFAULT_CFS_PERIOD / 1_000_000_000));
        }
        match (self.cpu_period, self.cpu_quota) {
            (None, None) => None,
            (p, q) => Some((p.unwrap_or(DEFAULT_CFS_PERIOD), q.unwrap_or(-1))),
        }
    }

    /// The files to write and their values, controller by controller; each version's
    /// controller files (under v1/ and v2/) own their part.
    pub fn plan(&self, version: CgroupVersion) -> Vec<Knob> {
        match version {
            CgroupVersion::V1 => super::v1::plan(self),
            CgroupVersion::V2 => super::v2::plan(self),
        }
    }
}

/// Docker's sizes (`-m 512m`): a number with an optional b, k, m, g, t or p (powers of 1024).
pub fn parse_size(s: &str) -> Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t
        .strip_suffix('b')
        .filter(|x| !x.is_empty() && x.ends_with(|c: char| c.is_ascii_alphabetic()))
        .unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        Some('p') => (&t[..t.len() - 1], 1 << 50),
        Some('b') => (&t[..t.len() - 1], 1),
        _ => (t, 1),
    };
    let n: f64 = num.parse().map_err(|_| format!("invalid size: '{s}'"))?;
    if n < 0.0 {
        return Err(format!("invalid size: '{s}'"));
    }
    Ok((n * mult as f64) as i64)
}

/// The host's CPUs, which `--cpus` and `--cpuset-cpus` are checked against.
#[derive(Debug, Clone)]
pub struct HostCpus {
    /// The kernel's list of online CPUs ("0-1").
    pub online: String,
}

impl HostCpus {
    pub fn read() -> HostCpus {
        let online = std::fs::read_to_string("/sys/devices/system/cpu/online")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "0".into());
        HostCpus { online }
    }

    fn count(&self) -> usize {
        parse_cpuset(&self.online).map_or(1, |s| s.len().max(1))
    }
}

/// A CPU list as the kernel writes it and `--cpuset-cpus` takes it ("0-3,5"): the CPUs it
/// names, or Docker's "invalid format" error.
pub fn parse_cpuset(list: &str) -> Result<std::collections::BTreeSet<u32>, String> {
    let bad = || format!("invalid format: {list}");
    let mut cpus = std::collections::BTreeSet::new();
    for part in list.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (lo, hi),
            None => (part, part),
        };
        let lo: u32 = lo.parse().map_err(|_| bad())?;
        let hi: u32 = hi.parse().map_err(|_| bad())?;
        // A range of more CPUs than any machine has is a typo, not a request.
        if lo > hi || hi - lo > 65_536 {
            return Err(bad());
        }
        cpus.extend(lo..=hi);
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn sample() -> Resources {
        Resources {
            memory: Some(64 << 20),
            memory_reservation: Some(32 << 20),
            nano_cpus: Some(1_500_000_000),
            cpu_shares: Some(512),
            cpuset_cpus: Some("0".into()),
            pids_limit: Some(20),
            ..Default::default()
        }
    }

    fn render(k: &[Knob]) -> String {
        k.iter()
            .map(|k| format!("{}/{} = {}", k.controller, k.file, k.value))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn plans_for_both_versions() {
        insta::assert_snapshot!("v1", render(&sample().plan(CgroupVersion::V1)));
        insta::assert_snapshot!("v2", render(&sample().plan(CgroupVersion::V2)));
    }

    #[rstest]
    #[case("512", 512)]
    #[case("1k", 1024)]
    #[case("16m", 16 << 20)]
    #[case("16MB", 16 << 20)]
    #[case("1.5g", 3 << 29)]
    #[case("2b", 2)]
    fn sizes(#[case] s: &str, #[case] want: i64) {
        assert_eq!(parse_size(s).unwrap(), want);
    }

    #[test]
    fn docker_checks() {
        let r = |m: Option<i64>, s: Option<i64>| {
            Resources {
                memory: m,
                memory_swap: s,
                ..Default::default()
            }
            .validate(&two_cpus())
        };
        assert_eq!(
            r(Some(1 << 20), None).unwrap_err(),
            "Minimum memory limit allowed is 6MB"
        );
        assert!(r(Some(16 << 20), Some(8 << 20)).is_err());
        assert!(r(Some(16 << 20), Some(-1)).is_ok());
        assert!(r(None, Some(16 << 20)).is_err());
        assert!(parse_size("lots").is_err());
    }

    fn two_cpus() -> HostCpus {
        HostCpus {
            online: "0-1".into(),
        }
    }

    #[rstest]
    #[case(Resources { nano_cpus: Some(-5), ..Default::default() },
        "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available")]
    #[case(Resources { nano_cpus: Some(3_000_000_000), ..Default::default() },
        "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available")]
    #[case(Resources { nano_cpus: Some(1), cpu_quota: Some(5000), ..Default::default() },
        "Conflicting options: Nano CPUs and CPU Quota cannot both be set")]
    #[case(Resources { cpu_period: Some(5), ..Default::default() },
        "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")]
    #[case(Resources { memory: Some(-5), ..Default::default() },
        "Minimum memory limit allowed is 6MB")]
    #[case(Resources { cpuset_cpus: Some("0-99".into()), ..Default::default() },
        "Requested CPUs are not available - requested 0-99, available: 0-1")]
    #[case(Resources { cpuset_cpus: Some("x".into()), ..Default::default() },
        "Invalid value x for cpuset cpus: invalid format: x")]
    fn out_of_range_values_are_refused_in_dockers_words(#[case] r: Resources, #[case] want: &str) {
        assert_eq!(r.validate(&two_cpus()).unwrap_err(), want);
    }

    #[test]
    fn values_in_range_pass() {
        let r = Resources {
            nano_cpus: Some(2_000_000_000),
            cpuset_cpus: Some("0,1".into()),
            cpu_quota: None,
            ..Default::default()
        };
        assert_eq!(r.validate(&two_cpus()), Ok(()));
    }

    proptest::proptest! {
        /// A list written from a set of CPUs reads back as that set.
        #[test]
        fn cpusets_round_trip(cpus in proptest::collection::btree_set(0u32..256, 1..20)) {
            let list = cpus.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            proptest::prop_assert_eq!(parse_cpuset(&list).unwrap(), cpus);
        }

        #[test]
        fn cpuset_parsing_never_panics(s in "\\PC*") {
            let _ = parse_cpuset(&s);
        }
    }
}
