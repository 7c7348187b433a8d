//! Container names: validation with Docker's rule, and generated `adjective_noun` names
//! for containers created without `--name`. The word lists are berth's own.

use rand::seq::SliceRandom;

const ADJECTIVES: &[&str] = &[
    "able", "brave", "bright", "calm", "clever", "crisp", "daring", "eager", "fair", "fond",
    "gentle", "glad", "golden", "happy", "hardy", "honest", "humble", "keen", "kind", "lively",
    "loyal", "lucid", "merry", "modest", "nimble", "noble", "patient", "plucky", "polite", "proud",
    "quick", "quiet", "rapid", "ready", "sharp", "shy", "sincere", "smooth", "snappy", "solid",
    "steady", "stoic", "sturdy", "sunny", "swift", "tender", "tidy", "upbeat", "vivid", "witty",
];

/// Harbour and ship words, for an engine named after a mooring place.
const NOUNS: &[&str] = &[
    "anchor",
    "barge",
    "beacon",
    "bollard",
    "bow",
    "buoy",
    "cabin",
    "canal",
    "cargo",
    "compass",
    "crane",
    "current",
    "deck",
    "dock",
    "ferry",
    "galley",
    "gangway",
    "harbor",
    "hatch",
    "helm",
    "hull",
    "jetty",
    "keel",
    "lantern",
    "lighthouse",
    "lock",
    "mast",
    "mooring",
    "oar",
    "pier",
    "pilot",
    "port",
    "quay",
    "raft",
    "rigging",
    "rudder",
    "sail",
    "schooner",
    "slip",
    "stern",
    "tide",
    "tug",
    "vessel",
    "wake",
    "wharf",
    "winch",
    "yard",
    "yawl",
    "rope",
    "pontoon",
];

/// A random `adjective_noun` name.
pub fn generate() -> String {
    let mut rng = rand::thread_rng();
    format!(
        "{}_{}",
        ADJECTIVES.choose(&mut rng).unwrap(),
        NOUNS.choose(&mut rng).unwrap()
    )
}

/// Docker's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, an optional leading `/` aside.
pub fn validate(name: &str) -> Result<String, String> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let mut chars = bare.chars();
    let ok = match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {
            bare.len() >= 2 && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        }
        _ => false,
    };
    if ok {
        Ok(format!("/{bare}"))
    } else {
        Err(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("web", Ok("/web".to_string()))]
    #[case("/web", Ok("/web".to_string()))]
    #[case("a.b_c-d9", Ok("/a.b_c-d9".to_string()))]
    #[case("x", Err(()))]
    #[case("_x", Err(()))]
    #[case("we b", Err(()))]
    #[case("", Err(()))]
    fn names(#[case] input: &str, #[case] want: Result<String, ()>) {
        assert_eq!(validate(input).map_err(|_| ()), want);
    }

    #[test]
    fn generated_names_are_valid() {
        for _ in 0..100 {
            assert!(validate(&generate()).is_ok());
        }
    }
}
