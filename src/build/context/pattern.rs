//! One `.dockerignore` pattern, matched the way the docker CLI matches it (moby's
//! patternmatcher). Docker turns a pattern into a Go regexp; berth reads it into a few kinds
//! of token instead and runs them over the path as a set of positions, which needs no regexp
//! engine and cannot blow up on `*a*a*a…`. The kinds Docker answers without a regexp (a
//! plain name, `dir/**`, `**/name`) are answered the same way, by string comparison, because
//! their results differ from the regexp's in corner cases (`a**` is a plain prefix).
//!
//! Where the two readings part: inside `[...]` Docker's translation turns `*` and `?` into
//! regexp fragments that make a different class, and `\d`, `\w`, `\s` become Perl classes;
//! berth keeps them as the literal characters `filepath.Match` would see. Patterns like that
//! have no use in an ignore file.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// Go's `filepath.ErrBadPattern`, which is what the docker CLI prints.
    #[error("syntax error in pattern")]
    Syntax,
    #[error("illegal exclusion pattern: \"!\"")]
    LoneBang,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Lit(char),
    /// `*`: any run of characters but `/`.
    Star,
    /// `?`: one character but `/`.
    One,
    /// `**/` (or `**` before more pattern): nothing, or anything ending in `/`.
    AnyDirs,
    /// A trailing `**` after other wildcards: anything.
    Rest,
    /// `[...]`, as ranges; a negated class matches `/` too, as the regexp's does.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `^` where Docker's regexp reads it as "start of text".
    Start,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Exact,
    /// `prefix**`: the path starts with what comes before the `**`.
    Prefix,
    /// `**rest` with a plain rest.
    Suffix,
    Glob(Vec<Tok>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// Cleaned, without the `!`.
    pub text: String,
    pub exclusion: bool,
    /// How many `/`-separated parts the pattern has (the legacy matcher needs it).
    pub dirs: usize,
    pub kind: Kind,
}

/// Go's `filepath.Clean` for `/`-separated paths.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            p => out.push(p),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

impl Pattern {
    /// A pattern as patternmatcher.New takes it: trimmed, cleaned, then a leading `!` read.
    /// None for a blank one, which New skips.
    pub fn new(raw: &str) -> Result<Option<Pattern>, PatternError> {
        let p = raw.trim();
        if p.is_empty() {
            return Ok(None);
        }
        let p = clean(p);
        let (exclusion, text) = match p.strip_prefix('!') {
            Some("") => return Err(PatternError::LoneBang),
            Some(rest) => (true, rest.to_string()),
            None => (false, p),
        };
        validate(&text)?;
        let kind = compile(&text);
        Ok(Some(Pattern {
            dirs: text.split('/').count(),
            text,
            exclusion,
            kind,
        }))
    }

    pub fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.text,
            Kind::Prefix => path.starts_with(&self.text[..self.text.len() - 2]),
            Kind::Suffix => {
                let suffix = &self.text[2..];
                path.ends_with(suffix) || suffix.strip_prefix('/').is_some_and(|rest| path == rest)
            }
            Kind::Glob(toks) => glob_match(toks, path),
        }
    }
}

/// What `filepath.Match(pattern, ".")` rejects: an unclosed or empty class, a range with a
/// missing end, a trailing backslash.
fn validate(p: &str) -> Result<(), PatternError> {
    let c: Vec<char> = p.chars().collect();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '\\' => {
                if i + 1 >= c.len() {
                    return Err(PatternError::Syntax);
                }
                i += 2;
            }
            '[' => {
                i += 1;
                if c.get(i) == Some(&'^') {
                    i += 1;
                }
                let mut ranges = 0;
                loop {
                    if c.get(i) == Some(&']') && ranges > 0 {
                        i += 1;
                        break;
                    }
                    class_char(&c, &mut i).ok_or(PatternError::Syntax)?;
                    if c.get(i) == Some(&'-') {
                        i += 1;
                        class_char(&c, &mut i).ok_or(PatternError::Syntax)?;
                    }
                    ranges += 1;
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// One character of a class, escaped or not (Go's `getEsc`): never a bare `-` or `]`, and
/// never the last character of the pattern, since the class must still be closed.
fn class_char(c: &[char], i: &mut usize) -> Option<char> {
    let mut ch = *c.get(*i)?;
    if ch == '-' || ch == ']' {
        return None;
    }
    if ch == '\\' {
        *i += 1;
        ch = *c.get(*i)?;
    }
    *i += 1;
    if *i >= c.len() {
        return None;
    }
    Some(ch)
}

/// The kind of a (valid) pattern, decided as patternmatcher decides it.
fn compile(p: &str) -> Kind {
    let c: Vec<char> = p.chars().collect();
    let mut toks = Vec::new();
    let mut kind = Kind::Exact;
    let mut glob = false;
    let mut i = 0;
    let mut step = 0;
    while i < c.len() {
        let ch = c[i];
        i += 1;
        match ch {
            '*' if c.get(i) == Some(&'*') => {
                i += 1;
                if c.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == c.len() {
                    if !glob && kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        toks.push(Tok::Rest);
                        glob = true;
                    }
                } else {
                    toks.push(Tok::AnyDirs);
                    glob = true;
                }
                if step == 0 {
                    kind = Kind::Suffix;
                    glob = false;
                }
            }
            '*' => {
                toks.push(Tok::Star);
                glob = true;
            }
            '?' => {
                toks.push(Tok::One);
                glob = true;
            }
            '\\' => match c.get(i) {
                Some(&next) => {
                    toks.push(Tok::Lit(next));
                    i += 1;
                    glob = true;
                }
                None => toks.push(Tok::Lit('\\')),
            },
            '[' => {
                let negated = c.get(i) == Some(&'^');
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    if c.get(i) == Some(&']') && !ranges.is_empty() {
                        i += 1;
                        break;
                    }
                    // Validated already: these unwraps cannot fail.
                    let lo = class_char(&c, &mut i).unwrap_or('\0');
                    let mut hi = lo;
                    if c.get(i) == Some(&'-') {
                        i += 1;
                        hi = class_char(&c, &mut i).unwrap_or('\0');
                    }
                    ranges.push((lo, hi));
                }
                toks.push(Tok::Class { negated, ranges });
                glob = true;
            }
            ']' => {
                toks.push(Tok::Lit(']'));
                glob = true;
            }
            '^' => toks.push(Tok::Start),
            other => toks.push(Tok::Lit(other)),
        }
        step += 1;
    }
    if glob {
        Kind::Glob(toks)
    } else {
        kind
    }
}

/// Whole-path match of the tokens: the set of positions each token can end at.
fn glob_match(toks: &[Tok], path: &str) -> bool {
    let s: Vec<char> = path.chars().collect();
    let n = s.len();
    let mut cur = vec![false; n + 1];
    cur[0] = true;
    for t in toks {
        let mut next = vec![false; n + 1];
        for p in (0..=n).filter(|&p| cur[p]) {
            match t {
                Tok::Lit(c) => {
                    if p < n && s[p] == *c {
                        next[p + 1] = true;
                    }
                }
                Tok::One => {
                    if p < n && s[p] != '/' {
                        next[p + 1] = true;
                    }
                }
                Tok::Class { negated, ranges } => {
                    if p < n {
                        let inside = ranges.iter().any(|(lo, hi)| *lo <= s[p] && s[p] <= *hi);
                        if inside != *negated {
                            next[p + 1] = true;
                        }
                    }
                }
                Tok::Star => {
                    next[p] = true;
                    let mut q = p;
                    while q < n && s[q] != '/' {
                        q += 1;
                        next[q] = true;
                    }
                }
                // Go's `.` stops at a newline; so do `.*` and `(.*/)?`.
                Tok::Rest => {
                    next[p] = true;
                    let mut q = p;
                    while q < n && s[q] != '\n' {
                        q += 1;
                        next[q] = true;
                    }
                }
                Tok::AnyDirs => {
                    next[p] = true;
                    let mut q = p;
                    while q < n && s[q] != '\n' {
                        q += 1;
                        if s[q - 1] == '/' {
                            next[q] = true;
                        }
                    }
                }
                Tok::Start => {
                    if p == 0 {
                        next[0] = true;
                    }
                }
            }
        }
        if !next.iter().any(|b| *b) {
            return false;
        }
        cur = next;
    }
    cur[n]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("", ".")]
    #[case("./a/../b", "b")]
    #[case("a//b/", "a/b")]
    #[case("/../x", "/x")]
    #[case("../../x", "../../x")]
    #[case("a/..", ".")]
    #[case("/", "/")]
    fn paths_are_cleaned_as_go_cleans_them(#[case] raw: &str, #[case] want: &str) {
        assert_eq!(clean(raw), want);
    }

    #[rstest]
    #[case("Dockerfile", "Dockerfile", true)]
    #[case("Dockerfile", "sub/Dockerfile", false)]
    #[case("*.md", "README.md", true)]
    #[case("*.md", "docs/README.md", false)]
    #[case("*/*.md", "docs/README.md", true)]
    #[case("**/*.md", "README.md", true)]
    #[case("**/*.md", "a/b/c/README.md", true)]
    #[case("**/node_modules", "node_modules", true)]
    #[case("**/node_modules", "a/b/node_modules", true)]
    #[case("**/node_modules", "a/xnode_modules", false)]
    #[case("**modules", "a/xnode_modules", true)]
    #[case("**", "anything/at/all", true)]
    #[case("build/**", "build/x/y", true)]
    #[case("build/**", "build", false)]
    #[case("a**", "abc/def", true)]
    #[case("a/**/b", "a/b", true)]
    #[case("a/**/b", "a/x/y/b", true)]
    #[case("a/**/b", "a/xb", false)]
    #[case("?.txt", "a.txt", true)]
    #[case("?.txt", "ab.txt", false)]
    #[case("?", "/", false)]
    #[case("[a-c].txt", "b.txt", true)]
    #[case("[a-c].txt", "d.txt", false)]
    #[case("[^a].txt", "b.txt", true)]
    #[case("[^a].txt", "a.txt", false)]
    #[case("x[^a]y", "x/y", true)]
    #[case("\\*.txt", "*.txt", true)]
    #[case("\\*.txt", "a.txt", false)]
    #[case("a.b", "axb", false)]
    #[case("a+b(c)", "a+b(c)", true)]
    #[case("a^b*", "a^bc", false)]
    #[case("a^b", "a^b", true)]
    #[case("**/a/**", "x/a/y", true)]
    #[case("**/a/**", "a/y", true)]
    fn single_patterns_match_as_patternmatcher(
        #[case] pattern: &str,
        #[case] path: &str,
        #[case] want: bool,
    ) {
        let p = Pattern::new(pattern).unwrap().unwrap();
        assert_eq!(
            p.matches(path),
            want,
            "{pattern} against {path}: {:?}",
            p.kind
        );
    }

    #[rstest]
    #[case("[")]
    #[case("[]")]
    #[case("[a-]")]
    #[case("[-a]")]
    #[case("[^]")]
    #[case("abc\\")]
    #[case("[a")]
    fn malformed_patterns_are_syntax_errors(#[case] pattern: &str) {
        assert_eq!(Pattern::new(pattern), Err(PatternError::Syntax));
    }

    #[test]
    fn a_lone_bang_is_refused_and_blank_is_skipped() {
        assert_eq!(Pattern::new("!"), Err(PatternError::LoneBang));
        assert_eq!(Pattern::new("   "), Ok(None));
        let p = Pattern::new("!keep/../me").unwrap().unwrap();
        // New cleans the whole text, `!` included: `!keep` is an element that `..` takes
        // away with the `!` (read_dockerignore cleans after the `!`, so a file never hits it).
        assert_eq!((p.exclusion, p.text.as_str()), (false, "me"));
    }

    #[test]
    fn the_kinds_are_the_ones_docker_picks() {
        let kind = |p: &str| Pattern::new(p).unwrap().unwrap().kind;
        assert_eq!(kind("a/b"), Kind::Exact);
        assert_eq!(kind("a/**"), Kind::Prefix);
        assert_eq!(kind("**/a"), Kind::Suffix);
        assert_eq!(kind("**"), Kind::Suffix);
        assert!(matches!(kind("**/a*"), Kind::Glob(_)));
        assert!(matches!(kind("a/**/b"), Kind::Glob(_)));
    }

    #[test]
    fn many_stars_stay_fast() {
        let p = Pattern::new(&"*a".repeat(40)).unwrap().unwrap();
        let path = "a".repeat(2000) + "b";
        let t = std::time::Instant::now();
        assert!(!p.matches(&path));
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
    }
}
