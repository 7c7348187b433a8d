//! From text to logical lines: parser directives, comments, continuations and heredoc bodies.
//! Docker joins continued lines without a separator and keeps the continuation's leading
//! blanks, so `RUN a \` + `  b` is `RUN a   b`; we do the same so `original` matches Docker's.

use super::{Heredoc, ParseError};

pub(super) struct Directives {
    pub escape: char,
    pub syntax: Option<String>,
}

/// One instruction's text, joined across continuations, with the heredoc bodies that follow it.
pub(super) struct LogicalLine {
    pub line: usize,
    pub text: String,
    pub heredocs: Vec<Heredoc>,
}

fn error(line: usize, message: impl Into<String>) -> ParseError {
    ParseError::Line {
        line,
        message: message.into(),
    }
}

/// `# name = value`, Docker's directive shape; a line of any other shape ends the directives.
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('#')?.trim_start();
    let end = rest
        .char_indices()
        .find(|(_, c)| !c.is_ascii_alphanumeric())
        .map_or(rest.len(), |(i, _)| i);
    let (name, rest) = rest.split_at(end);
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let value = rest.trim_start().strip_prefix('=')?.trim();
    (!value.is_empty()).then(|| (name.to_ascii_lowercase(), value.to_string()))
}

fn directives(lines: &[&str]) -> Result<Directives, ParseError> {
    let mut d = Directives {
        escape: '\\',
        syntax: None,
    };
    let mut seen: Vec<String> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((name, value)) = directive(line) else {
            break;
        };
        // An unknown directive is a comment and, being a comment, ends the directives.
        if !matches!(name.as_str(), "escape" | "syntax" | "check") {
            break;
        }
        if seen.contains(&name) {
            return Err(error(
                i + 1,
                format!("only one {name} parser directive can be used"),
            ));
        }
        match name.as_str() {
            "escape" => {
                d.escape = match value.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    other => {
                        return Err(error(
                            i + 1,
                            format!("invalid escape token '{other}' does not match ` or \\"),
                        ))
                    }
                }
            }
            "syntax" => d.syntax = Some(value),
            _ => {}
        }
        seen.push(name);
    }
    Ok(d)
}

/// Strips a trailing escape (blanks after it allowed); `false` means the line continues.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    match trimmed.strip_suffix(escape) {
        Some(rest) => (rest, false),
        None => (line, true),
    }
}

pub(super) fn lex(src: &str) -> Result<(Directives, Vec<LogicalLine>), ParseError> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let lines: Vec<&str> = src
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let d = directives(&lines)?;
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let start = i + 1;
        let first = lines[i].trim_start();
        i += 1;
        if first.starts_with('#') {
            continue;
        }
        let (head, mut done) = trim_continuation(first, d.escape);
        let mut text = head.to_string();
        while !done && i < lines.len() {
            let line = lines[i];
            i += 1;
            let t = line.trim_start();
            // Docker skips both inside a continuation (an empty one only earns a warning).
            if t.starts_with('#') || t.is_empty() {
                continue;
            }
            let (part, d_) = trim_continuation(line, d.escape);
            text.push_str(part);
            done = d_;
        }
        let text = text.trim().to_string();
        if text.is_empty() {
            continue;
        }
        let mut heredocs = Vec::new();
        for marker in heredoc_markers(&text, d.escape) {
            let mut body = String::new();
            let mut closed = false;
            while i < lines.len() {
                let raw = lines[i];
                i += 1;
                let line = if marker.chomp {
                    raw.trim_start_matches('\t')
                } else {
                    raw
                };
                if line == marker.name {
                    closed = true;
                    break;
                }
                body.push_str(line);
                body.push('\n');
            }
            if !closed {
                return Err(error(
                    start,
                    format!("unterminated heredoc {}", marker.name),
                ));
            }
            heredocs.push(Heredoc { body, ..marker });
        }
        out.push(LogicalLine {
            line: start,
            text,
            heredocs,
        });
    }
    Ok((d, out))
}

/// The instructions whose text may open heredocs, as in BuildKit; ONBUILD counts when its
/// trigger is one of them.
fn heredoc_markers(text: &str, escape: char) -> Vec<Heredoc> {
    let (name, rest) = split_instruction(text);
    let (name, rest) = if name.eq_ignore_ascii_case("onbuild") {
        split_instruction(rest)
    } else {
        (name, rest)
    };
    if !["run", "copy", "add"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
    {
        return Vec::new();
    }
    let Ok((_, rest)) = super::instruction::extract_flags(rest) else {
        return Vec::new();
    };
    if rest.trim_start().starts_with('[') {
        return Vec::new();
    }
    super::instruction::split_words(rest, escape)
        .iter()
        .filter_map(|w| heredoc_marker(w))
        .collect()
}

/// `[fd]<<[-]NAME`, NAME possibly quoted (which turns expansion of the body off).
pub(super) fn heredoc_marker(word: &str) -> Option<Heredoc> {
    let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (fd, rest) = word.split_at(digits);
    let rest = rest.strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let quoted = rest.contains(['"', '\'']);
    let name: String = rest.chars().filter(|c| !matches!(c, '"' | '\'')).collect();
    if name.is_empty() {
        return None;
    }
    Some(Heredoc {
        name,
        body: String::new(),
        expand: !quoted,
        chomp,
        fd: fd.parse().ok(),
    })
}

/// The instruction word and the rest, split at the first run of whitespace.
pub(super) fn split_instruction(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim_start()),
        None => (text, ""),
    }
}
