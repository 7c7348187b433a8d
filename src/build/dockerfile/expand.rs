//! Variable expansion as Docker's shell lexer (`ProcessWord`) does it for the instructions the
//! builder expands: quotes are removed here, not by the parser, because Docker removes them
//! in the same pass that substitutes variables (`'$x'` stays literal, `"$x"` does not).

use std::collections::{BTreeMap, HashMap};

use super::ParseError;

/// Where expansion looks a variable up. Implemented for maps and for the `K=V` list of an
/// image config, because the builder holds its variables in both shapes.
pub trait Vars {
    fn lookup(&self, name: &str) -> Option<&str>;
}

impl Vars for HashMap<String, String> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl Vars for BTreeMap<String, String> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl Vars for [String] {
    fn lookup(&self, name: &str) -> Option<&str> {
        // Later entries win, as they do when an image config lists a name twice.
        self.iter()
            .rev()
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

impl Vars for Vec<String> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.as_slice().lookup(name)
    }
}

/// Expands `word` with the default escape character `\`.
pub fn expand<E: Vars + ?Sized>(word: &str, env: &E) -> Result<String, ParseError> {
    expand_with_escape(word, env, '\\')
}

/// Expands `word` with the Dockerfile's escape character (`# escape=`), which also escapes `$`.
/// Errors carry no line; the builder adds it with [`ParseError::at_line`].
pub fn expand_with_escape<E: Vars + ?Sized>(
    word: &str,
    env: &E,
    escape: char,
) -> Result<String, ParseError> {
    let mut lexer = Lexer {
        chars: word.chars().collect(),
        pos: 0,
        env,
        escape,
    };
    lexer
        .word(None)
        .map_err(|message| ParseError::Expansion { message })
}

struct Lexer<'a, E: ?Sized> {
    chars: Vec<char>,
    pos: usize,
    env: &'a E,
    escape: char,
}

const MISSING_BRACE: &str = "syntax error: missing '}'";
const BAD_SUBSTITUTION: &str = "syntax error: bad substitution";

impl<E: Vars + ?Sized> Lexer<'_, E> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Reads up to `stop` (consumed) or the end; `stop` is `}` inside `${v:-word}`, where
    /// the word may itself hold quotes and variables.
    fn word(&mut self, stop: Option<char>) -> Result<String, String> {
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return match stop {
                    Some(_) => Err(MISSING_BRACE.to_string()),
                    None => Ok(out),
                };
            };
            if Some(c) == stop {
                self.pos += 1;
                return Ok(out);
            }
            match c {
                '\'' => out.push_str(&self.single_quoted()?),
                '"' => out.push_str(&self.double_quoted()?),
                '$' => out.push_str(&self.dollar()?),
                _ => {
                    self.pos += 1;
                    if c == self.escape {
                        // A trailing escape has nothing to escape and is dropped, as Docker does.
                        match self.next() {
                            Some(n) => out.push(n),
                            None => return Ok(out),
                        }
                    } else {
                        out.push(c);
                    }
                }
            }
        }
    }

    fn single_quoted(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    )
                }
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    )
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) => {
                    self.pos += 1;
                    // Inside double quotes the escape only escapes what is special there;
                    // elsewhere it stays, so "C:\dir" keeps its backslash.
                    if c == self.escape {
                        match self.peek() {
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.pos += 1;
                                out.push(n);
                            }
                            _ => out.push(c),
                        }
                    } else {
                        out.push(c);
                    }
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            // Positional parameters are one run of digits, never followed by letters.
            while let Some(c) = self.peek().filter(char::is_ascii_digit) {
                name.push(c);
                self.pos += 1;
            }
            return name;
        }
        while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
            name.push(c);
            self.pos += 1;
        }
        name
    }

    fn lookup(&self, name: &str) -> Option<String> {
        self.env.lookup(name).map(str::to_string)
    }

    fn dollar(&mut self) -> Result<String, String> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(self.lookup(&name).unwrap_or_default());
        }
        self.pos += 1;
        match self.peek() {
            None => return Err(MISSING_BRACE.into()),
            Some('{' | '}' | ':') => return Err(BAD_SUBSTITUTION.into()),
            _ => {}
        }
        let name = self.name();
        if name.is_empty() {
            return Err(BAD_SUBSTITUTION.into());
        }
        let value = self.lookup(&name);
        match self.next() {
            None => Err(MISSING_BRACE.into()),
            Some('}') => Ok(value.unwrap_or_default()),
            Some(':') => {
                let Some(modifier) = self.next() else {
                    return Err(MISSING_BRACE.into());
                };
                let word = self.word(Some('}'))?;
                let value = value.filter(|v| !v.is_empty());
                match modifier {
                    '-' => Ok(value.unwrap_or(word)),
                    '+' => Ok(value.map(|_| word).unwrap_or_default()),
                    '?' => value.ok_or_else(|| {
                        if word.is_empty() {
                            format!("{name}: is not allowed to be unset or empty")
                        } else {
                            format!("{name}: {word}")
                        }
                    }),
                    m => Err(format!("unsupported modifier ({m}) in substitution")),
                }
            }
            // Without the colon the test is "unset", not "unset or empty", as in sh.
            Some(modifier @ ('-' | '+' | '?')) => {
                let word = self.word(Some('}'))?;
                match modifier {
                    '-' => Ok(value.unwrap_or(word)),
                    '+' => Ok(value.map(|_| word).unwrap_or_default()),
                    _ => value.ok_or_else(|| {
                        if word.is_empty() {
                            format!("{name}: is not allowed to be unset")
                        } else {
                            format!("{name}: {word}")
                        }
                    }),
                }
            }
            Some(m) => Err(format!("unsupported modifier ({m}) in substitution")),
        }
    }
}
