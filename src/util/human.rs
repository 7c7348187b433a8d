//! Docker's human renderings (from its go-units library): durations such as "About a minute"
//! and decimal sizes such as "1.98MB", so berth's tables read exactly like docker's.

/// "Less than a second", "1 second", "About a minute", "3 hours", "2 weeks", …
pub fn human_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs_f64();
    let s = secs as u64;
    let minutes = (secs / 60.0) as u64;
    let hours = (secs / 3600.0 + 0.5) as u64;
    if secs < 1.0 {
        "Less than a second".into()
    } else if s == 1 {
        "1 second".into()
    } else if s < 60 {
        format!("{s} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", (secs / 3600.0 / 24.0 / 365.0) as u64)
    }
}

/// Decimal units with three significant digits: "5B", "4.1kB", "1.98MB", "123MB".
pub fn human_size(bytes: i64) -> String {
    human_size_with_precision(bytes, 3)
}

/// go-units' HumanSizeWithPrecision; `HumanSize` (what `docker build` prints the context's
/// size with) is precision 4: "2.048kB", "12.29MB".
pub fn human_size_with_precision(bytes: i64, significant: i32) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes.max(0) as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{}{}", format_g(value, significant), UNITS[unit])
}

/// Binary units with four significant digits, as docker's `stats`: "1.465MiB", "23.45GiB".
pub fn human_size_binary(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{}{}", format_g(value, 4), UNITS[unit])
}

/// Go's `%.Ng`: N significant digits, trailing zeros dropped.
fn format_g(v: f64, significant: i32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let digits = v.abs().log10().floor() as i32 + 1;
    let decimals = (significant - digits).max(0) as usize;
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    // Rounding can carry into a fourth digit (999.5 -> "1000"); Go prints 1e+03 there,
    // which never happens for sizes because the unit loop divides first.
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::time::Duration;

    #[rstest]
    #[case(0, "Less than a second")]
    #[case(1, "1 second")]
    #[case(59, "59 seconds")]
    #[case(60, "About a minute")]
    #[case(119, "About a minute")]
    #[case(120, "2 minutes")]
    #[case(3599, "59 minutes")]
    #[case(3600, "About an hour")]
    #[case(5400, "2 hours")]
    #[case(47 * 3600, "47 hours")]
    #[case(48 * 3600, "2 days")]
    #[case(14 * 24 * 3600, "2 weeks")]
    #[case(60 * 24 * 3600, "2 months")]
    #[case(800 * 24 * 3600, "2 years")]
    fn durations_read_like_docker(#[case] secs: u64, #[case] want: &str) {
        assert_eq!(human_duration(Duration::from_secs(secs)), want);
    }

    #[rstest]
    #[case(0, "0B")]
    #[case(1536, "1.5KiB")]
    #[case(1_536_000, "1.465MiB")]
    #[case(25_176_502_016, "23.45GiB")]
    fn binary_sizes_read_like_docker_stats(#[case] n: u64, #[case] want: &str) {
        assert_eq!(human_size_binary(n), want);
    }

    #[rstest]
    #[case(0, "0B")]
    #[case(5, "5B")]
    #[case(999, "999B")]
    #[case(1000, "1kB")]
    #[case(4096, "4.1kB")]
    #[case(1_980_000, "1.98MB")]
    #[case(1_234_567, "1.23MB")]
    #[case(123_400_000, "123MB")]
    #[case(12_340_000, "12.3MB")]
    fn sizes_read_like_docker(#[case] n: i64, #[case] want: &str) {
        assert_eq!(human_size(n), want);
    }
}
