//! Go's `url.QueryEscape`, which Docker uses both in the build API's query (`buildargs`,
//! `labels`) and in `logs --details` (`key=value` attributes): unreserved bytes stay, a space
//! is `+`, every other byte `%XX`.

pub fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_stay_space_is_plus_the_rest_percent() {
        assert_eq!(query_escape("a-Z_0.~"), "a-Z_0.~");
        assert_eq!(query_escape("a b=c,d"), "a+b%3Dc%2Cd");
        assert_eq!(query_escape("é"), "%C3%A9");
    }
}
