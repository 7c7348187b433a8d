//! `.dockerignore` matching against an oracle written apart from it: patternmatcher's own
//! translation of a pattern into a regexp (here with the `regex` crate, on the patterns
//! where Go's and Rust's regexps agree), and the "last match wins, parents count" rule
//! written out naively.

use super::ignore::{read_dockerignore, Matcher};
use super::pattern::Pattern;
use proptest::prelude::*;

enum Oracle {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Re(regex::Regex),
}

/// patternmatcher's compile, step by step, building the regexp text.
fn oracle(p: &str) -> Oracle {
    let chars: Vec<char> = p.chars().collect();
    let mut re = String::from("^");
    #[derive(PartialEq)]
    enum T {
        Exact,
        Prefix,
        Suffix,
        Re,
    }
    let mut t = T::Exact;
    let mut i = 0;
    let mut step = 0;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        if ch == '*' {
            if chars.get(i) == Some(&'*') {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if t == T::Exact {
                        t = T::Prefix;
                    } else {
                        re.push_str(".*");
                        t = T::Re;
                    }
                } else {
                    re.push_str("(.*/)?");
                    t = T::Re;
                }
                if step == 0 {
                    t = T::Suffix;
                }
            } else {
                re.push_str("[^/]*");
                t = T::Re;
            }
        } else if ch == '?' {
            re.push_str("[^/]");
            t = T::Re;
        } else if ".+()|{}$".contains(ch) {
            re.push('\\');
            re.push(ch);
        } else if ch == '\\' {
            if i < chars.len() {
                re.push('\\');
                re.push(chars[i]);
                i += 1;
                t = T::Re;
            } else {
                re.push_str("\\\\");
            }
        } else if ch == '[' || ch == ']' {
            re.push(ch);
            t = T::Re;
        } else {
            re.push(ch);
        }
        step += 1;
    }
    match t {
        T::Exact => Oracle::Exact(p.into()),
        T::Prefix => Oracle::Prefix(p[..p.len() - 2].into()),
        T::Suffix => Oracle::Suffix(p[2..].into()),
        T::Re => Oracle::Re(regex::Regex::new(&format!("{re}$")).unwrap()),
    }
}

fn oracle_match(o: &Oracle, path: &str) -> bool {
    match o {
        Oracle::Exact(p) => path == p,
        Oracle::Prefix(p) => path.starts_with(p.as_str()),
        Oracle::Suffix(s) => path.ends_with(s.as_str()) || (s.starts_with('/') && path == &s[1..]),
        Oracle::Re(r) => r.is_match(path),
    }
}

/// (exclusion, oracle) per pattern, from patterns the library accepted.
fn oracles(m: &Matcher) -> Vec<(bool, Oracle)> {
    m.patterns()
        .iter()
        .map(|p| (p.exclusion, oracle(&p.text)))
        .collect()
}

fn naive_or_parents(os: &[(bool, Oracle)], path: &str) -> bool {
    let mut candidates = vec![path.to_string()];
    let parts: Vec<&str> = path.split('/').collect();
    for n in 1..parts.len() {
        candidates.push(parts[..n].join("/"));
    }
    let mut matched = false;
    for (excl, o) in os {
        if *excl != matched {
            continue;
        }
        if candidates.iter().any(|c| oracle_match(o, c)) {
            matched = !excl;
        }
    }
    matched
}

/// The walk's rule, recomputed from the root down for every prefix of the path.
fn naive_walk(os: &[(bool, Oracle)], path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let mut parent: Option<Vec<bool>> = None;
    let mut result = false;
    for n in 1..=parts.len() {
        let here = parts[..n].join("/");
        let mut info = vec![false; os.len()];
        let mut matched = false;
        for (i, (excl, o)) in os.iter().enumerate() {
            let mut m = parent.as_ref().is_some_and(|p| p[i]);
            if !m {
                if *excl != matched {
                    continue;
                }
                m = oracle_match(o, &here);
            }
            info[i] = m;
            if m {
                matched = !excl;
            }
        }
        parent = Some(info);
        result = matched;
    }
    result
}

fn segment() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "a", "b", "ab", ".", "*", "?", "**", "[ab]", "[^a]", "[a-c]", "\\*", "+", "c",
        ]),
        1..4,
    )
    .prop_map(|v| v.concat())
}

fn pattern() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["", "!", "/", "./", "!/"]),
        prop::collection::vec(segment(), 1..4),
    )
        .prop_map(|(lead, segs)| format!("{lead}{}", segs.join("/")))
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", "ab", "ba", "a.b", "c", "aa", "*", "a+"]),
        1..5,
    )
    .prop_map(|v| v.join("/"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn one_pattern_matches_as_the_regexp_translation(p in pattern(), path in path()) {
        let lines = read_dockerignore(p.as_bytes());
        for l in lines {
            let Ok(Some(pat)) = Pattern::new(&l) else { continue };
            let want = oracle_match(&oracle(&pat.text), &path);
            prop_assert_eq!(pat.matches(&path), want, "{} ({}) against {}", l, pat.text, path);
        }
    }

    #[test]
    fn lists_of_patterns_agree_with_the_naive_rules(
        ps in prop::collection::vec(pattern(), 1..6),
        path in path(),
    ) {
        let lines = read_dockerignore(ps.join("\n").as_bytes());
        let Ok(m) = Matcher::new(&lines) else { return Ok(()) };
        let os = oracles(&m);
        prop_assert_eq!(m.matches_or_parent_matches(&path), naive_or_parents(&os, &path));
        let mut info: Option<Vec<bool>> = None;
        let mut got = false;
        let parts: Vec<&str> = path.split('/').collect();
        for n in 1..=parts.len() {
            let (r, i) = m.matches_using_parent(&parts[..n].join("/"), info.as_deref());
            got = r;
            info = Some(i);
        }
        prop_assert_eq!(got, naive_walk(&os, &path), "{:?} against {}", lines, path);
    }

    #[test]
    fn nothing_panics_on_any_input(raw in prop::collection::vec(any::<u8>(), 0..200), path in ".{0,40}") {
        let lines = read_dockerignore(&raw);
        if let Ok(m) = Matcher::new(&lines) {
            let _ = m.matches_or_parent_matches(&path);
            let _ = m.matches_using_parent(&path, None);
            let _ = m.matches_legacy(&path);
        }
    }

    #[test]
    fn any_pattern_text_compiles_or_is_refused_without_panic(p in ".{0,30}", path in ".{0,30}") {
        if let Ok(Some(pat)) = Pattern::new(&p) {
            let _ = pat.matches(&path);
        }
    }
}
