//! HEALTHCHECK, the rules: which probe a container runs (its image's healthcheck, overridden
//! field by field at create, `NONE` for none), how long to wait between probes, and how a
//! result moves `State.Health` between `starting`, `healthy` and `unhealthy`, as Docker's
//! daemon decides. Pure, so every rule is a row of a table in the tests; the task that runs
//! the probes and keeps the time is `health_monitor`.

use crate::util::goduration;
use crate::wire::types::{Health, HealthConfig, HealthcheckResult};
use std::time::Duration;

pub const STARTING: &str = "starting";
pub const HEALTHY: &str = "healthy";
pub const UNHEALTHY: &str = "unhealthy";
/// The `health` filter's value for a container without a healthcheck.
pub const NONE: &str = "none";

/// Docker keeps this many results in `State.Health.Log`, and this much of each one's output.
pub const MAX_LOG_ENTRIES: usize = 5;
pub const MAX_OUTPUT_LEN: usize = 4096;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_PERIOD: Duration = Duration::ZERO;
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: i64 = 3;
/// The shortest duration the daemon accepts in a healthcheck (Docker's MinimumDuration).
const MINIMUM_NS: i64 = 1_000_000;

/// A container's healthcheck with its defaults filled in: what the monitor runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// The probe's argv; `CMD-SHELL` has been put behind the shell.
    pub args: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: i64,
}

fn or_default(ns: i64, default: Duration) -> Duration {
    if ns == 0 {
        default
    } else {
        Duration::from_nanos(ns.max(0) as u64)
    }
}

/// The probe a healthcheck asks for, or None: no healthcheck, `NONE`, an empty test, or a
/// type Docker does not know (which it ignores with a warning). `shell` is the container's
/// `Config.Shell`, which `CMD-SHELL` runs under instead of `/bin/sh -c` when set.
pub fn probe(hc: Option<&HealthConfig>, shell: Option<&[String]>) -> Option<Probe> {
    let hc = hc?;
    let test = hc.test.as_deref()?;
    let args = match test.split_first()? {
        (kind, cmd) if kind == "CMD" => cmd.to_vec(),
        (kind, cmd) if kind == "CMD-SHELL" => {
            let mut argv = match shell {
                Some(s) if !s.is_empty() => s.to_vec(),
                _ => vec!["/bin/sh".to_string(), "-c".to_string()],
            };
            argv.extend(cmd.iter().cloned());
            argv
        }
        _ => return None,
    };
    Some(Probe {
        args,
        interval: or_default(hc.interval, DEFAULT_INTERVAL),
        timeout: or_default(hc.timeout, DEFAULT_TIMEOUT),
        start_period: or_default(hc.start_period, DEFAULT_START_PERIOD),
        start_interval: or_default(hc.start_interval, DEFAULT_START_INTERVAL),
        retries: if hc.retries <= 0 {
            DEFAULT_RETRIES
        } else {
            hc.retries
        },
    })
}

/// The container's healthcheck: the request's, each field it leaves zero taken from the
/// image's; the image's whole when the request has none.
pub fn merge(user: Option<HealthConfig>, image: Option<HealthConfig>) -> Option<HealthConfig> {
    let Some(image) = image else {
        return user;
    };
    let Some(mut user) = user else {
        return Some(image);
    };
    if user.test.as_ref().is_none_or(|t| t.is_empty()) {
        user.test = image.test;
    }
    let fill = |mine: &mut i64, theirs: i64| {
        if *mine == 0 {
            *mine = theirs;
        }
    };
    fill(&mut user.interval, image.interval);
    fill(&mut user.timeout, image.timeout);
    fill(&mut user.start_period, image.start_period);
    fill(&mut user.start_interval, image.start_interval);
    fill(&mut user.retries, image.retries);
    Some(user)
}

/// What the daemon refuses at create, in Docker's words.
pub fn validate(hc: Option<&HealthConfig>) -> Result<(), String> {
    let Some(hc) = hc else {
        return Ok(());
    };
    let min = goduration::format(MINIMUM_NS);
    let too_short = |name: &str, ns: i64| {
        if ns != 0 && ns < MINIMUM_NS {
            Err(format!("{name} in Healthcheck cannot be less than {min}"))
        } else {
            Ok(())
        }
    };
    too_short("Interval", hc.interval)?;
    too_short("Timeout", hc.timeout)?;
    if hc.retries < 0 {
        return Err("Retries in Healthcheck cannot be negative".into());
    }
    too_short("StartPeriod", hc.start_period)?;
    too_short("StartInterval", hc.start_interval)
}

/// A status as Docker reads it: one never set counts as unhealthy.
pub fn status(h: &Health) -> &str {
    if h.status.is_empty() {
        UNHEALTHY
    } else {
        &h.status
    }
}

/// What `ps` adds after "Up 5 seconds": `healthy`, `unhealthy`, `health: starting`.
pub fn status_suffix(h: &Health) -> String {
    match status(h) {
        STARTING => "health: starting".into(),
        other => other.to_string(),
    }
}

/// The value the `health` filter compares with.
pub fn filter_value(h: Option<&Health>) -> &str {
    h.map_or(NONE, status)
}

pub fn validate_filter_value(v: &str) -> Result<(), String> {
    match v {
        NONE | STARTING | HEALTHY | UNHEALTHY => Ok(()),
        _ => Err(format!(
            "invalid filter 'health={v}': invalid value for health ({v}): must be one of {NONE}, {STARTING}, {HEALTHY}, {UNHEALTHY}"
        )),
    }
}

/// At each start (and when a restarted daemon takes a running container back): starting
/// again, the streak forgotten, the log kept.
pub fn restarted(previous: Option<Health>) -> Health {
    let mut h = previous.unwrap_or_default();
    h.status = STARTING.into();
    h.failing_streak = 0;
    h
}

/// The monitor stopped (the container stopped or was paused): Docker reports unhealthy from
/// then on, until a probe says otherwise.
pub fn monitor_stopped(h: &mut Health) {
    h.status = UNHEALTHY.into();
}

/// How long to wait before the next probe: the start interval while the start period runs
/// and no probe has succeeded yet, the interval otherwise.
pub fn next_wait(p: &Probe, since_start: Duration, h: &Health) -> Duration {
    if since_start >= p.start_period {
        return p.interval;
    }
    if h.status == STARTING {
        p.start_interval
    } else {
        p.interval
    }
}

/// Record one probe's result, begun `since_start` after the container started. Returns the
/// new status when it changed (which is when Docker emits `health_status: <status>`).
pub fn record(
    h: &mut Health,
    p: &Probe,
    result: HealthcheckResult,
    since_start: Duration,
) -> Option<String> {
    let before = status(h).to_string();
    if h.log.len() >= MAX_LOG_ENTRIES {
        h.log.drain(..=h.log.len() - MAX_LOG_ENTRIES);
    }
    let passed = result.exit_code == 0;
    h.log.push(result);
    if passed {
        h.failing_streak = 0;
        h.status = HEALTHY.into();
    } else if !(status(h) == STARTING && since_start < p.start_period) {
        // Failures while starting, within the start period, do not count.
        h.failing_streak += 1;
        if h.failing_streak >= p.retries {
            h.status = UNHEALTHY.into();
        }
    }
    let after = status(h);
    (after != before).then(|| after.to_string())
}

/// A probe's stdout and stderr together, up to MAX_OUTPUT_LEN bytes; "..." marks a cut.
#[derive(Debug, Default)]
pub struct ProbeOutput {
    buf: Vec<u8>,
    truncated: bool,
}

impl ProbeOutput {
    pub fn push(&mut self, data: &[u8]) {
        let keep = MAX_OUTPUT_LEN
            .saturating_sub(self.buf.len())
            .min(data.len());
        self.buf.extend_from_slice(&data[..keep]);
        if keep < data.len() {
            self.truncated = true;
        }
    }

    pub fn text(&self) -> String {
        let mut s = String::from_utf8_lossy(&self.buf).into_owned();
        if self.truncated {
            s.push_str("...");
        }
        s
    }
}

/// The output recorded for a probe that ran past its timeout.
pub fn timeout_output(timeout: Duration, output: &str) -> String {
    let t = goduration::format(timeout.as_nanos().min(i64::MAX as u128) as i64);
    if output.is_empty() {
        format!("Health check exceeded timeout ({t})")
    } else {
        format!("Health check exceeded timeout ({t}): {output}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const MS: i64 = 1_000_000;

    fn hc(test: &[&str]) -> HealthConfig {
        HealthConfig {
            test: Some(test.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    fn result(code: i64) -> HealthcheckResult {
        HealthcheckResult {
            exit_code: code,
            output: format!("exit {code}"),
            ..Default::default()
        }
    }

    fn probe_with(retries: i64, start_period: Duration) -> Probe {
        Probe {
            args: vec!["true".into()],
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
            start_period,
            start_interval: Duration::from_secs(5),
            retries,
        }
    }

    #[rstest]
    #[case(&["CMD", "curl", "-f", "x"], None, Some(vec!["curl", "-f", "x"]))]
    #[case(&["CMD-SHELL", "test -f /ok"], None, Some(vec!["/bin/sh", "-c", "test -f /ok"]))]
    #[case(&["CMD-SHELL", "echo"], Some(vec!["/bin/bash", "-ec"]), Some(vec!["/bin/bash", "-ec", "echo"]))]
    #[case(&["NONE"], None, None)]
    #[case(&[], None, None)]
    #[case(&["WHATEVER", "x"], None, None)]
    fn the_test_chooses_the_probe(
        #[case] test: &[&str],
        #[case] shell: Option<Vec<&str>>,
        #[case] want: Option<Vec<&str>>,
    ) {
        let shell: Option<Vec<String>> = shell.map(|s| s.iter().map(|x| x.to_string()).collect());
        let got = probe(Some(&hc(test)), shell.as_deref()).map(|p| p.args);
        let want = want.map(|w| w.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(got, want);
    }

    #[test]
    fn zero_fields_take_dockers_defaults() {
        let p = probe(Some(&hc(&["CMD", "true"])), None).unwrap();
        assert_eq!(p.interval, Duration::from_secs(30));
        assert_eq!(p.timeout, Duration::from_secs(30));
        assert_eq!(p.start_period, Duration::ZERO);
        assert_eq!(p.start_interval, Duration::from_secs(5));
        assert_eq!(p.retries, 3);
        assert_eq!(probe(None, None), None);
    }

    #[test]
    fn the_request_overrides_the_image_field_by_field() {
        let image = HealthConfig {
            test: Some(vec!["CMD".into(), "img".into()]),
            interval: 5_000 * MS,
            timeout: 2_000 * MS,
            retries: 7,
            ..Default::default()
        };
        let user = HealthConfig {
            interval: 100 * MS,
            start_period: 50 * MS,
            ..Default::default()
        };
        let got = merge(Some(user), Some(image.clone())).unwrap();
        assert_eq!(got.test, image.test);
        assert_eq!(got.interval, 100 * MS);
        assert_eq!(got.timeout, 2_000 * MS);
        assert_eq!(got.start_period, 50 * MS);
        assert_eq!(got.retries, 7);
        let none = merge(Some(hc(&["NONE"])), Some(image.clone())).unwrap();
        assert_eq!(none.test, Some(vec!["NONE".to_string()]));
        assert_eq!(merge(None, Some(image.clone())), Some(image));
        assert_eq!(merge(None, None), None);
    }

    #[rstest]
    #[case(HealthConfig { interval: MS - 1, ..Default::default() }, Some("Interval in Healthcheck cannot be less than 1ms"))]
    #[case(HealthConfig { timeout: 1, ..Default::default() }, Some("Timeout in Healthcheck cannot be less than 1ms"))]
    #[case(HealthConfig { retries: -1, ..Default::default() }, Some("Retries in Healthcheck cannot be negative"))]
    #[case(HealthConfig { start_period: -5, ..Default::default() }, Some("StartPeriod in Healthcheck cannot be less than 1ms"))]
    #[case(HealthConfig { start_interval: 10, ..Default::default() }, Some("StartInterval in Healthcheck cannot be less than 1ms"))]
    #[case(HealthConfig { interval: MS, timeout: MS, ..Default::default() }, None)]
    #[case(HealthConfig::default(), None)]
    fn create_refuses_what_docker_refuses(#[case] c: HealthConfig, #[case] err: Option<&str>) {
        assert_eq!(validate(Some(&c)).err().as_deref(), err);
    }

    /// (exit codes in order, retries, whether each probe is within the start period)
    /// → the status and streak after each one, and the events.
    #[rstest]
    #[case::first_success(&[0], 3, false, &["healthy"], &[0], &["healthy"])]
    #[case::unhealthy_after_retries(&[1, 1, 1], 3, false, &["starting", "starting", "unhealthy"], &[1, 2, 3], &["unhealthy"])]
    #[case::any_nonzero_fails(&[2, 127, -1], 3, false, &["starting", "starting", "unhealthy"], &[1, 2, 3], &["unhealthy"])]
    #[case::success_resets_the_streak(&[1, 0, 1, 1], 2, false, &["starting", "healthy", "healthy", "unhealthy"], &[1, 0, 1, 2], &["healthy", "unhealthy"])]
    #[case::recovers(&[1, 1, 0], 2, false, &["starting", "unhealthy", "healthy"], &[1, 2, 0], &["unhealthy", "healthy"])]
    #[case::start_period_forgives(&[1, 1, 1, 1], 1, true, &["starting", "starting", "starting", "starting"], &[0, 0, 0, 0], &[])]
    #[case::start_period_ends_with_a_success(&[1, 0, 1], 1, true, &["starting", "healthy", "unhealthy"], &[0, 0, 1], &["healthy", "unhealthy"])]
    fn results_move_the_status(
        #[case] codes: &[i64],
        #[case] retries: i64,
        #[case] in_start_period: bool,
        #[case] statuses: &[&str],
        #[case] streaks: &[i64],
        #[case] events: &[&str],
    ) {
        let p = probe_with(retries, Duration::from_secs(60));
        let since = if in_start_period {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(61)
        };
        let mut h = restarted(None);
        let mut seen = vec![];
        for (i, code) in codes.iter().enumerate() {
            if let Some(s) = record(&mut h, &p, result(*code), since) {
                seen.push(s);
            }
            assert_eq!(status(&h), statuses[i], "after probe {i}");
            assert_eq!(h.failing_streak, streaks[i], "streak after probe {i}");
        }
        assert_eq!(seen, events);
    }

    #[test]
    fn the_log_keeps_the_last_five() {
        let p = probe_with(3, Duration::ZERO);
        let mut h = restarted(None);
        for code in 0..8 {
            record(&mut h, &p, result(code), Duration::from_secs(1));
        }
        let codes: Vec<i64> = h.log.iter().map(|r| r.exit_code).collect();
        assert_eq!(codes, vec![3, 4, 5, 6, 7]);
    }

    #[test]
    fn a_restart_starts_over_but_keeps_the_log() {
        let p = probe_with(1, Duration::ZERO);
        let mut h = restarted(None);
        record(&mut h, &p, result(1), Duration::from_secs(1));
        assert_eq!(status(&h), UNHEALTHY);
        monitor_stopped(&mut h);
        let h = restarted(Some(h));
        assert_eq!(
            (status(&h), h.failing_streak, h.log.len()),
            (STARTING, 0, 1)
        );
        assert_eq!(status(&Health::default()), UNHEALTHY);
    }

    #[rstest]
    #[case::in_start_period_starting(Duration::from_secs(1), STARTING, Duration::from_secs(5))]
    #[case::in_start_period_healthy(Duration::from_secs(1), HEALTHY, Duration::from_secs(30))]
    #[case::after_start_period(Duration::from_secs(61), STARTING, Duration::from_secs(30))]
    fn the_wait_between_probes(#[case] since: Duration, #[case] st: &str, #[case] want: Duration) {
        let p = probe_with(3, Duration::from_secs(60));
        let h = Health {
            status: st.into(),
            ..Default::default()
        };
        assert_eq!(next_wait(&p, since, &h), want);
    }

    #[test]
    fn output_is_capped_as_dockers() {
        let mut out = ProbeOutput::default();
        out.push(b"ok\n");
        assert_eq!(out.text(), "ok\n");
        out.push(&vec![b'x'; MAX_OUTPUT_LEN]);
        let t = out.text();
        assert_eq!(t.len(), MAX_OUTPUT_LEN + 3);
        assert!(t.ends_with("xxx..."));
        assert_eq!(
            timeout_output(Duration::from_secs(30), ""),
            "Health check exceeded timeout (30s)"
        );
        assert_eq!(
            timeout_output(Duration::from_millis(100), "partial"),
            "Health check exceeded timeout (100ms): partial"
        );
    }

    #[test]
    fn filter_values_and_ps_suffixes() {
        assert_eq!(filter_value(None), "none");
        let h = restarted(None);
        assert_eq!(filter_value(Some(&h)), "starting");
        assert_eq!(status_suffix(&h), "health: starting");
        assert!(validate_filter_value("healthy").is_ok());
        assert_eq!(
            validate_filter_value("sick").unwrap_err(),
            "invalid filter 'health=sick': invalid value for health (sick): must be one of none, starting, healthy, unhealthy"
        );
    }
}
