//! Detach keys: the key sequence that, typed into an attached stdin, ends the attach and leaves
//! the container running. Docker's default is ctrl-p ctrl-q; `--detach-keys` (and the API's
//! `detachKeys`) take a comma-separated list of keys, each a single character or `ctrl-X`.
//! The daemon watches for them in the client's stdin, so they work for any client.

/// Docker's default: ctrl-p, ctrl-q.
pub const DEFAULT: &[u8] = &[0x10, 0x11];

/// `ctrl-p,ctrl-q` → `[0x10, 0x11]`. Each key is one character, `ctrl-` and one of `a`-`z`,
/// `@`, `[`, `\`, `]`, `^`, `_` (lower case, as Docker spells them), or `DEL`. Nothing is
/// trimmed, as in Docker, so `ctrl-p, ctrl-q` is refused.
pub fn parse(spec: &str) -> Result<Vec<u8>, String> {
    let invalid = || format!("Invalid detach keys ({spec}) provided");
    let mut keys = Vec::new();
    for key in spec.split(',') {
        let b = match key.as_bytes() {
            [c] if c.is_ascii() => *c,
            b"DEL" => 127,
            _ => match key.strip_prefix("ctrl-").map(str::as_bytes) {
                Some([c @ b'a'..=b'z']) => c - b'a' + 1,
                Some([b'@']) => 0,
                Some([b'[']) => 27,
                Some([b'\\']) => 28,
                Some([b']']) => 29,
                Some([b'^']) => 30,
                Some([b'_']) => 31,
                _ => return Err(invalid()),
            },
        };
        keys.push(b);
    }
    Ok(keys)
}

/// Finds the detach sequence in a stream of reads, even split across them. Bytes that start
/// the sequence are held back until it is clear whether the sequence follows; if it does not,
/// they are passed on.
pub struct DetachKeys {
    keys: Vec<u8>,
    matched: usize,
}

impl Default for DetachKeys {
    fn default() -> Self {
        DetachKeys::new(DEFAULT.to_vec())
    }
}

impl DetachKeys {
    pub fn new(keys: Vec<u8>) -> DetachKeys {
        DetachKeys { keys, matched: 0 }
    }

    /// The bytes to pass to the container, and whether the whole sequence was typed.
    pub fn scan(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len() + self.matched);
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return (out, false);
        }
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return (out, true);
                }
                continue;
            }
            // Not the sequence after all: release what was held, then look at `b` afresh.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return (out, true);
                }
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[rstest]
    #[case("ctrl-p,ctrl-q", Ok(vec![0x10, 0x11]))]
    #[case("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", Ok(vec![0, 27, 28, 29, 30, 31]))]
    #[case("a,b", Ok(vec![b'a', b'b']))]
    #[case("CTRL-A", Err("Invalid detach keys (CTRL-A) provided".to_string()))]
    #[case("ctrl-A", Err("Invalid detach keys (ctrl-A) provided".to_string()))]
    #[case("DEL,x", Ok(vec![127, b'x']))]
    #[case("ctrl-1", Err("Invalid detach keys (ctrl-1) provided".to_string()))]
    #[case("ab", Err("Invalid detach keys (ab) provided".to_string()))]
    #[case("", Err("Invalid detach keys () provided".to_string()))]
    #[case("ctrl-p, ctrl-q", Err("Invalid detach keys (ctrl-p, ctrl-q) provided".to_string()))]
    #[case(" ", Ok(vec![b' ']))]
    fn keys_parse_like_docker(#[case] spec: &str, #[case] want: Result<Vec<u8>, String>) {
        assert_eq!(parse(spec), want);
    }

    #[test]
    fn default_keys_are_found_across_reads() {
        let mut k = DetachKeys::default();
        assert_eq!(k.scan(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(k.scan(b"\x11rest"), (vec![], true));
        let mut k = DetachKeys::default();
        assert_eq!(k.scan(b"\x10x"), (b"\x10x".to_vec(), false));
        assert_eq!(k.scan(b"\x10\x10\x11"), (b"\x10".to_vec(), true));
    }

    proptest! {
        /// Without the sequence in it, input passes through unchanged however it is split;
        /// with it, everything before it passes and detach is reported.
        #[test]
        fn scanning_is_split_independent(data in proptest::collection::vec(0u8..20, 0..60), cut in 1usize..7, keys in proptest::collection::vec(0u8..20, 1..4)) {
            let whole = {
                let mut k = DetachKeys::new(keys.clone());
                let mut out = Vec::new();
                let mut hit = false;
                for &b in &data {
                    let (o, d) = k.scan(&[b]);
                    out.extend(o);
                    if d { hit = true; break; }
                }
                (out, hit)
            };
            let mut k = DetachKeys::new(keys.clone());
            let mut out = Vec::new();
            let mut hit = false;
            for chunk in data.chunks(cut) {
                let (o, d) = k.scan(chunk);
                out.extend(o);
                if d { hit = true; break; }
            }
            prop_assert_eq!(&(out.clone(), hit), &whole);
            let found = data.windows(keys.len()).any(|w| w == keys.as_slice());
            if hit {
                prop_assert!(found);
            } else {
                // Like Docker's matcher this one does not backtrack, so only a sequence of
                // distinct keys (the default, and every sensible one) is always found.
                let distinct = keys.iter().collect::<std::collections::HashSet<_>>().len() == keys.len();
                prop_assert!(!(found && distinct));
                // Everything but a held-back prefix of the sequence passed through.
                prop_assert!(data.starts_with(&out));
            }
        }
    }
}
