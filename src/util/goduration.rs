//! Go's `time.Duration` as text, both ways: `parse` reads what Docker's duration flags take
//! (`100ms`, `1m30s`, `1.5h`), `format` writes what Docker prints (`30s`, `1m0s`, `100ms`),
//! as in "Health check exceeded timeout (30s)". Durations are signed nanoseconds, as Go's.

/// `time.ParseDuration`: a sign, then one or more decimal numbers each with a unit.
pub fn parse(s: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (int, tail) = rest.split_at(int_len);
        let (frac, tail) = match tail.strip_prefix('.') {
            Some(t) => {
                let n = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
                t.split_at(n)
            }
            None => ("", tail),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(invalid());
        }
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            u => return Err(format!("time: unknown unit {u:?} in duration {s:?}")),
        };
        let whole: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| invalid())?
        };
        let mut part = whole.checked_mul(scale).ok_or_else(invalid)?;
        // The fraction in exact integer steps, dropping what is below a nanosecond.
        let mut place = scale;
        for d in frac.bytes() {
            place /= 10;
            if place == 0 {
                break;
            }
            part += u128::from(d - b'0') * place;
        }
        total = total.checked_add(part).ok_or_else(invalid)?;
        rest = tail;
    }
    let limit = if negative {
        i64::MAX as u128 + 1
    } else {
        i64::MAX as u128
    };
    if total > limit {
        return Err(invalid());
    }
    Ok(if negative {
        (total as i128).wrapping_neg() as i64
    } else {
        total as i64
    })
}

/// `Duration.String()`: `0s`, `1.5µs`, `100ms`, `30s`, `1m30s`, `1h0m0s`.
pub fn format(d: i64) -> String {
    let sign = if d < 0 { "-" } else { "" };
    let u = d.unsigned_abs();
    if u == 0 {
        return "0s".into();
    }
    if u < 1_000_000_000 {
        let (div, unit) = match u {
            0..1_000 => (1, "ns"),
            1_000..1_000_000 => (1_000, "µs"),
            _ => (1_000_000, "ms"),
        };
        return format!("{sign}{}{unit}", decimal(u, div));
    }
    let hours = u / 3_600_000_000_000;
    let minutes = u / 60_000_000_000 % 60;
    let secs = decimal(u % 60_000_000_000, 1_000_000_000);
    match (hours, minutes) {
        (0, 0) => format!("{sign}{secs}s"),
        (0, m) => format!("{sign}{m}m{secs}s"),
        (h, m) => format!("{sign}{h}h{m}m{secs}s"),
    }
}

/// `v / div` with its fraction, trailing zeros dropped.
fn decimal(v: u64, div: u64) -> String {
    let (int, rem) = (v / div, v % div);
    if rem == 0 {
        return int.to_string();
    }
    let width = div.ilog10() as usize;
    let frac = format!("{rem:0width$}");
    format!("{int}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[rstest]
    #[case("0", 0)]
    #[case("100ms", 100_000_000)]
    #[case("1.5s", 1_500_000_000)]
    #[case("1m30s", 90_000_000_000)]
    #[case("-2h", -7_200_000_000_000)]
    #[case(".5us", 500)]
    #[case("1.0000000001s", 1_000_000_000)]
    #[case("+3ns", 3)]
    fn parses_like_go(#[case] s: &str, #[case] want: i64) {
        assert_eq!(parse(s), Ok(want));
    }

    #[rstest]
    #[case("", "time: invalid duration \"\"")]
    #[case("10", "time: missing unit in duration \"10\"")]
    #[case("3x", "time: unknown unit \"x\" in duration \"3x\"")]
    #[case(".s", "time: invalid duration \".s\"")]
    #[case("9999999999h", "time: invalid duration \"9999999999h\"")]
    fn refuses_like_go(#[case] s: &str, #[case] err: &str) {
        assert_eq!(parse(s).unwrap_err(), err);
    }

    #[rstest]
    #[case(0, "0s")]
    #[case(999, "999ns")]
    #[case(1_500, "1.5µs")]
    #[case(100_000_000, "100ms")]
    #[case(30_000_000_000, "30s")]
    #[case(60_000_000_000, "1m0s")]
    #[case(90_500_000_000, "1m30.5s")]
    #[case(3_600_000_000_000, "1h0m0s")]
    #[case(-1_000_000, "-1ms")]
    fn formats_like_go(#[case] d: i64, #[case] want: &str) {
        assert_eq!(format(d), want);
    }

    proptest! {
        #[test]
        fn format_then_parse_is_the_identity(d in -1_000_000_000_000_000i64..1_000_000_000_000_000) {
            prop_assert_eq!(parse(&format(d)), Ok(d));
        }
    }
}
