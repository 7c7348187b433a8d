//! `.dockerignore`: its lines read as the docker CLI reads them (moby's ignorefile), and the
//! list of patterns matched as patternmatcher matches it: the last pattern that matches a
//! path decides, and a pattern that matches a parent directory matches everything under it.

use super::pattern::{clean, Pattern, PatternError};

/// The patterns of a `.dockerignore`: a UTF-8 BOM dropped, `#` lines (at column 0 only)
/// skipped, each line trimmed, cleaned and without a leading `/`, the `!` kept in front.
pub fn read_dockerignore(text: &[u8]) -> Vec<String> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let text = String::from_utf8_lossy(text);
    let mut out = Vec::new();
    for line in text.split('\n') {
        // bufio.ScanLines drops the `\r` of a CRLF ending.
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut p = String::new();
        if !pattern.is_empty() {
            p = clean(pattern);
            if p.len() > 1 && p.starts_with('/') {
                p.remove(0);
            }
        }
        out.push(if invert { format!("!{p}") } else { p });
    }
    out
}

/// A compiled list of patterns.
#[derive(Debug, Clone)]
pub struct Matcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

/// What a directory's match left for its children: which patterns matched it.
pub type ParentInfo = Vec<bool>;

impl Matcher {
    pub fn new<S: AsRef<str>>(lines: &[S]) -> Result<Matcher, PatternError> {
        let mut patterns = Vec::new();
        for l in lines {
            if let Some(p) = Pattern::new(l.as_ref())? {
                patterns.push(p);
            }
        }
        Ok(Matcher {
            exclusions: patterns.iter().any(|p| p.exclusion),
            patterns,
        })
    }

    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Whether any pattern is a `!` exception.
    pub fn exclusions(&self) -> bool {
        self.exclusions
    }

    /// patternmatcher's MatchesOrParentMatches: `path` or one of its parents matches.
    pub fn matches_or_parent_matches(&self, path: &str) -> bool {
        let parents = parents(path);
        let mut matched = false;
        for p in &self.patterns {
            // An inclusion cannot change a match, nor an exclusion a non-match.
            if p.exclusion != matched {
                continue;
            }
            if p.matches(path) || parents.iter().any(|d| p.matches(d)) {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// patternmatcher's MatchesUsingParentResults, which the docker CLI's archive walk uses:
    /// a pattern that matched the parent counts as matching without being tried, one that
    /// did not is tried on the path alone. Without a parent's results it falls back to
    /// trying every parent. The result for `path`, and what its children need.
    pub fn matches_using_parent(&self, path: &str, parent: Option<&[bool]>) -> (bool, ParentInfo) {
        let mut info = vec![false; self.patterns.len()];
        let mut matched = false;
        let parents = if parent.is_none() {
            parents(path)
        } else {
            Vec::new()
        };
        for (i, p) in self.patterns.iter().enumerate() {
            let mut m = parent.is_some_and(|pm| pm[i]);
            if !m {
                if p.exclusion != matched {
                    continue;
                }
                m = p.matches(path) || parents.iter().any(|d| p.matches(d));
            }
            info[i] = m;
            if m {
                matched = !p.exclusion;
            }
        }
        (matched, info)
    }

    /// patternmatcher's deprecated Matches, which the CLI still uses to decide whether the
    /// Dockerfile and `.dockerignore` need an exception: only the parent at the pattern's own
    /// depth is tried.
    pub fn matches_legacy(&self, path: &str) -> bool {
        let parent_dirs: Vec<&str> = match path.rsplit_once('/') {
            Some((dir, _)) => dir.split('/').collect(),
            None => Vec::new(),
        };
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let mut m = p.matches(path);
            if !m && !parent_dirs.is_empty() && p.dirs <= parent_dirs.len() {
                m = p.matches(&parent_dirs[..p.dirs].join("/"));
            }
            if m {
                matched = !p.exclusion;
            }
        }
        matched
    }
}

/// patternmatcher.Matches, the package function: the path cleaned, `.` never excluded, and a
/// bad pattern read as "no match" (the CLI ignores that error there).
pub fn legacy_matches<S: AsRef<str>>(path: &str, lines: &[S]) -> bool {
    let path = clean(path);
    if path == "." {
        return false;
    }
    Matcher::new(lines).is_ok_and(|m| m.matches_legacy(&path))
}

/// `a`, `a/b` for `a/b/c`.
fn parents(path: &str) -> Vec<&str> {
    path.match_indices('/').map(|(i, _)| &path[..i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const SAMPLE: &str = "\u{feff}# build output\n\
        target\n\
        /dist/\n\
        \n\
        *.log\r\n\
        !important.log\n\
        **/node_modules\n\
        docs/**/*.md\n\
        ! docs/keep.md\n\
        \x20 # not a comment: it is indented\n\
        ./a/../b/./c\n\
        !\n\
        [a-c]?.tmp\n";

    #[test]
    fn a_sample_dockerignore_reads_like_dockers() {
        let lines = read_dockerignore(SAMPLE.as_bytes());
        let compiled: Vec<String> = lines
            .iter()
            .map(|l| match Pattern::new(l) {
                Ok(Some(p)) => format!("{l:?} => {} {}", p.exclusion, describe(&p.kind)),
                Ok(None) => format!("{l:?} => skipped"),
                Err(e) => format!("{l:?} => error: {e}"),
            })
            .collect();
        insta::assert_debug_snapshot!(compiled);
    }

    fn describe(k: &crate::build::context::pattern::Kind) -> String {
        use crate::build::context::pattern::{Kind, Tok};
        match k {
            Kind::Exact => "exact".into(),
            Kind::Prefix => "prefix".into(),
            Kind::Suffix => "suffix".into(),
            Kind::Glob(toks) => {
                let t: String = toks
                    .iter()
                    .map(|t| match t {
                        Tok::Lit(c) => c.to_string(),
                        Tok::Star => "<*>".into(),
                        Tok::One => "<?>".into(),
                        Tok::AnyDirs => "<**/>".into(),
                        Tok::Rest => "<**>".into(),
                        Tok::Start => "<^>".into(),
                        Tok::Class { negated, ranges } => {
                            let r: String =
                                ranges.iter().map(|(a, b)| format!("{a}-{b}")).collect();
                            format!("<[{}{r}]>", if *negated { "^" } else { "" })
                        }
                    })
                    .collect();
                format!("glob {t}")
            }
        }
    }

    fn m(lines: &[&str]) -> Matcher {
        Matcher::new(lines).unwrap()
    }

    #[rstest]
    #[case(&["*.log", "!important.log"], "important.log", false)]
    #[case(&["*.log", "!important.log"], "debug.log", true)]
    #[case(&["!important.log", "*.log"], "important.log", true)]
    #[case(&["docs"], "docs/a/b.md", true)]
    #[case(&["docs", "!docs/keep"], "docs/keep/x", false)]
    #[case(&["docs", "!docs/keep"], "docs/other", true)]
    #[case(&["*", "!src"], "src/main.rs", false)]
    #[case(&["**/*.o"], "a/b/c.o", true)]
    #[case(&["a/*/c"], "a/b/c/d", true)]
    #[case(&["a/*/c"], "a/b/x/c", false)]
    fn the_last_matching_pattern_decides(
        #[case] lines: &[&str],
        #[case] path: &str,
        #[case] want: bool,
    ) {
        assert_eq!(m(lines).matches_or_parent_matches(path), want);
        let mut info: Option<Vec<bool>> = None;
        let mut prefix = String::new();
        let mut last = false;
        for part in path.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            let (r, i) = m(lines).matches_using_parent(&prefix, info.as_deref());
            last = r;
            info = Some(i);
        }
        assert_eq!(last, want, "walking down to {path}");
    }

    #[test]
    fn parent_results_differ_from_trying_every_parent_as_in_docker() {
        // "d" matches again at the end, but for d/x the third pattern was never tried on
        // "d" (it was skipped there), so under the walk d/x stays included.
        let pm = m(&["d", "!d/x", "d"]);
        assert!(pm.matches_or_parent_matches("d/x"));
        let (_, d) = pm.matches_using_parent("d", None);
        assert!(!pm.matches_using_parent("d/x", Some(&d)).0);
    }

    #[test]
    fn the_legacy_matcher_looks_at_one_parent_only() {
        assert!(legacy_matches("a/b/Dockerfile", &["a"]));
        assert!(!legacy_matches("a/b/Dockerfile", &["a/b/c/d"]));
        assert!(!legacy_matches("x/a/f", &["a"]));
        assert!(!legacy_matches(".", &["*"]));
        assert!(!legacy_matches("f", &["["]));
    }
}
