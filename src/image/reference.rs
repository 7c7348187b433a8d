//! Image references as Docker reads them: `busybox` means `docker.io/library/busybox:latest`;
//! a first component with a dot, a colon or `localhost` is a registry; `:tag` and `@sha256:…`
//! are optional. `familiar()` gives back the short form Docker prints.

use thiserror::Error;

pub const DEFAULT_DOMAIN: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";

#[derive(Debug, Error, PartialEq)]
pub enum ReferenceError {
    #[error("invalid reference format")]
    Invalid,
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

fn is_path_component(s: &str) -> bool {
    // [a-z0-9]+ joined by one '.', one or two '_', or any number of '-'.
    let b = s.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn is_domain(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn is_tag(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-')
}

fn is_digest(s: &str) -> bool {
    let hex_len = match s.split_once(':') {
        Some(("sha256", hex)) => (hex, 64),
        Some(("sha384", hex)) => (hex, 96),
        Some(("sha512", hex)) => (hex, 128),
        _ => return false,
    };
    let (hex, len) = hex_len;
    hex.len() == len
        && hex
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

impl Reference {
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        if input.is_empty() || input.len() > 255 + 128 + 72 {
            return Err(ReferenceError::Invalid);
        }
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => {
                if !is_digest(d) {
                    return Err(ReferenceError::Invalid);
                }
                (r, Some(d.to_string()))
            }
            None => (input, None),
        };
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &rest[last_slash + i + 1..];
                if !is_tag(tag) {
                    return Err(ReferenceError::Invalid);
                }
                (&rest[..last_slash + i], Some(tag.to_string()))
            }
            None => (rest, None),
        };
        let mut parts: Vec<&str> = name.split('/').collect();
        // Docker's rule: a first component is a registry when it has a dot, a port or is
        // `localhost`, and also when it has an uppercase letter (no repository may).
        let domain = if parts.len() > 1
            && (parts[0].contains('.')
                || parts[0].contains(':')
                || parts[0] == "localhost"
                || parts[0].bytes().any(|c| c.is_ascii_uppercase()))
        {
            let d = parts.remove(0);
            if !is_domain(d) {
                return Err(ReferenceError::Invalid);
            }
            d.to_string()
        } else {
            DEFAULT_DOMAIN.to_string()
        };
        let mut path = parts.join("/");
        if domain == DEFAULT_DOMAIN && parts.len() == 1 {
            path = format!("library/{path}");
        }
        if path.bytes().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase(path));
        }
        if !path.split('/').all(is_path_component) {
            return Err(ReferenceError::Invalid);
        }
        if domain.len() + 1 + path.len() > 255 {
            return Err(ReferenceError::NameTooLong);
        }
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }
    pub fn path(&self) -> &str {
        &self.path
    }
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The repository as Docker prints it: `busybox`, `localhost:5000/a/b`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            self.path
                .strip_prefix("library/")
                .unwrap_or(&self.path)
                .to_string()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// `name:tag` (the tag defaulting to latest) or `name@digest`, as Docker prints it.
    pub fn familiar(&self) -> String {
        match (&self.tag, &self.digest) {
            (None, Some(d)) => format!("{}@{d}", self.familiar_name()),
            (Some(t), Some(d)) => format!("{}:{t}@{d}", self.familiar_name()),
            (Some(t), None) => format!("{}:{t}", self.familiar_name()),
            (None, None) => format!("{}:{DEFAULT_TAG}", self.familiar_name()),
        }
    }

    /// The key under which a tag is stored: familiar `name:tag` with the default tag filled in.
    pub fn tagged(&self) -> String {
        format!(
            "{}:{}",
            self.familiar_name(),
            self.tag.as_deref().unwrap_or(DEFAULT_TAG)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[rstest]
    #[case("busybox", "busybox:latest")]
    #[case("busybox:1.36", "busybox:1.36")]
    #[case("library/busybox", "busybox:latest")]
    #[case("docker.io/library/busybox:latest", "busybox:latest")]
    #[case("user/app:v1", "user/app:v1")]
    #[case("localhost:5000/a/b:tag", "localhost:5000/a/b:tag")]
    #[case("localhost/app", "localhost/app:latest")]
    #[case(
        "registry.example.com/team/app",
        "registry.example.com/team/app:latest"
    )]
    #[case("a-b__c/d.e", "a-b__c/d.e:latest")]
    #[case("Registry.Example/app", "Registry.Example/app:latest")]
    #[case("MyHost/app", "MyHost/app:latest")]
    #[case(
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    )]
    fn familiar_forms(#[case] input: &str, #[case] want: &str) {
        assert_eq!(Reference::parse(input).unwrap().familiar(), want);
    }

    #[rstest]
    #[case("")]
    #[case("busybox:")]
    #[case(":tag")]
    #[case("a//b")]
    #[case("-a")]
    #[case("a:b:c")]
    #[case("busybox@sha256:123")]
    #[case("bad host:5000/x")]
    fn invalid(#[case] input: &str) {
        assert_eq!(Reference::parse(input), Err(ReferenceError::Invalid));
    }

    #[test]
    fn names_past_255_characters_are_refused() {
        let long = format!("a/{}", "b".repeat(250));
        assert_eq!(Reference::parse(&long), Err(ReferenceError::NameTooLong));
        assert_eq!(
            ReferenceError::NameTooLong.to_string(),
            "repository name must not be more than 255 characters"
        );
    }

    #[test]
    fn uppercase_names_are_refused_with_dockers_message() {
        assert_eq!(
            Reference::parse("Busybox").unwrap_err().to_string(),
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
    }

    #[test]
    fn parse_table_snapshot() {
        let inputs = [
            "busybox",
            "busybox:1.36",
            "localhost:5000/a/b:tag",
            "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "Busybox",
            "a:b:c",
        ];
        let table: Vec<String> = inputs
            .iter()
            .map(|i| match Reference::parse(i) {
                Ok(r) => format!(
                    "{i} => domain={} path={} tag={:?} digest={:?}",
                    r.domain(),
                    r.path(),
                    r.tag(),
                    r.digest()
                ),
                Err(e) => format!("{i} => error: {e}"),
            })
            .collect();
        insta::assert_snapshot!(table.join("\n"));
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,80}") {
            let _ = Reference::parse(&s);
        }

        #[test]
        fn familiar_round_trips(
            domain in proptest::option::of("[a-z]{1,8}\\.[a-z]{2,3}(:[0-9]{2,5})?"),
            comps in proptest::collection::vec("[a-z0-9]{1,6}([._-][a-z0-9]{1,6})?", 1..4),
            tag in proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}"),
        ) {
            let mut s = comps.join("/");
            if let Some(d) = &domain { s = format!("{d}/{s}"); }
            if let Some(t) = &tag { s = format!("{s}:{t}"); }
            let r = Reference::parse(&s).unwrap();
            let again = Reference::parse(&r.familiar()).unwrap();
            prop_assert_eq!(again.familiar(), r.familiar());
            prop_assert_eq!(again.tagged(), r.tagged());
        }
    }
}
