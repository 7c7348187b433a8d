//! Which devices a container may open: Docker's default rules (the null, zero, full, random,
//! urandom, tty and console devices, the pseudo-terminals, and mknod of anything), in the text
//! form v1's `devices.allow` takes. Each version applies them its own way: v1 writes them into
//! its devices controller (v1/devices.rs), v2 compiles them into an eBPF program
//! (v2/devices.rs).

/// One rule, as Docker writes it in v1's `devices.allow`: `c 1:3 rwm`, `c 136:* rwm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// 'c' (character), 'b' (block) or 'a' (all).
    pub kind: char,
    /// None: any.
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// Some of 'r', 'w', 'm'.
    pub access: String,
}

impl Rule {
    pub fn parse(s: &str) -> Result<Rule, String> {
        let bad = || format!("invalid device rule {s:?}");
        let mut it = s.split_whitespace();
        let kind = it.next().and_then(|k| k.chars().next()).ok_or_else(bad)?;
        if !matches!(kind, 'a' | 'b' | 'c') {
            return Err(bad());
        }
        if kind == 'a' {
            return Ok(Rule {
                kind,
                major: None,
                minor: None,
                access: "rwm".into(),
            });
        }
        let (major, minor) = it.next().and_then(|n| n.split_once(':')).ok_or_else(bad)?;
        let num = |v: &str| -> Result<Option<u32>, String> {
            if v == "*" {
                Ok(None)
            } else {
                v.parse().map(Some).map_err(|_| bad())
            }
        };
        let access = it.next().ok_or_else(bad)?.to_string();
        if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
            return Err(bad());
        }
        Ok(Rule {
            kind,
            major: num(major)?,
            minor: num(minor)?,
            access,
        })
    }

    /// The rule as v1's `devices.allow` takes it.
    pub fn v1_line(&self) -> String {
        let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
        format!(
            "{} {}:{} {}",
            self.kind,
            n(self.major),
            n(self.minor),
            self.access
        )
    }
}

/// Docker's default allow list (everything else is denied).
pub const DEFAULT_ALLOW: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

pub fn default_rules() -> Vec<Rule> {
    DEFAULT_ALLOW
        .iter()
        .map(|r| Rule::parse(r).expect("built-in device rules parse"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_print_back() {
        for r in DEFAULT_ALLOW {
            assert_eq!(Rule::parse(r).unwrap().v1_line(), *r);
        }
        assert!(Rule::parse("x 1:3 rwm").is_err());
        assert!(Rule::parse("c 1:3 rwx").is_err());
        assert!(Rule::parse("c 1 rwm").is_err());
    }
}
