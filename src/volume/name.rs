//! Volume names: the local driver keeps a volume in a directory of that name, so a name
//! must be one path component that cannot climb out (`/`, `..`), as Docker's rule says.

/// Docker's allowed characters for a local volume name (the first, then the rest).
pub const RESTRICTED_NAME_CHARS: &str = "[a-zA-Z0-9][a-zA-Z0-9_.-]";

/// Refuse a name the local driver cannot hold, with Docker's message.
pub fn validate(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    // Docker's pattern wants at least two characters.
    if first_ok && rest_ok && name.len() >= 2 {
        Ok(())
    } else {
        Err(format!(
            "{name:?} includes invalid characters for a local volume name, only {RESTRICTED_NAME_CHARS:?} are allowed. If you intended to pass a host directory, use absolute path"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("data", true)]
    #[case("my_vol-1.2", true)]
    #[case("0abc", true)]
    #[case("a", false)]
    #[case("", false)]
    #[case("..", false)]
    #[case(".hidden", false)]
    #[case("a/b", false)]
    #[case("_x", false)]
    #[case("-x", false)]
    #[case("with space", false)]
    #[case("ünï", false)]
    fn names(#[case] name: &str, #[case] ok: bool) {
        assert_eq!(validate(name).is_ok(), ok, "{name}");
    }

    #[test]
    fn the_message_is_dockers() {
        assert_eq!(
            validate("a/b").unwrap_err(),
            r#""a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path"#
        );
    }
}
