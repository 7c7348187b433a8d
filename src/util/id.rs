//! Docker's identifiers: 64 lowercase hex digits, shown truncated to 12.

use rand::RngCore;

/// A new random 256-bit id in hex, as Docker makes for containers.
/// Like Docker, it never returns an id made only of digits, because such a
/// short id could be mistaken for a number.
pub fn random_id() -> String {
    loop {
        let mut buf = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut buf);
        let id = hex::encode(buf);
        if !id[..12].bytes().all(|b| b.is_ascii_digit()) {
            return id;
        }
    }
}

/// The 12-digit short form shown by `ps` and used as a container's hostname.
pub fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_and_distinct() {
        let a = random_id();
        let b = random_id();
        assert_eq!(a.len(), 64);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
        assert_eq!(short(&a).len(), 12);
        assert_eq!(short("sha256:0123456789abcdef"), "0123456789ab");
    }
}
