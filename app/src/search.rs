//! What "search" means everywhere a person can type one (the list's prompt search, the task page's
//! event filter, the store's SQL): a substring match that ignores the case of ASCII letters and
//! compares every other character exactly. That is what SQLite's `LIKE` does, so the browser's
//! live filtering agrees with the server's answers; it also keeps Unicode case tables out of the
//! WASM bundle.

/// Whether `needle` occurs in `haystack`, ignoring ASCII case. An empty needle matches.
pub fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    let (haystack, needle) = (haystack.as_bytes(), needle.as_bytes());
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::contains_ignore_ascii_case as contains;

    #[test]
    fn ignores_ascii_case_only() {
        assert!(contains("Fix the Flaky TEST", "flaky test"));
        assert!(contains("fix", ""));
        assert!(!contains("fix", "fixes"));
        // Non-ASCII letters compare exactly, as in SQLite's LIKE.
        assert!(contains("Übersetzung prüfen", "Übersetzung"));
        assert!(!contains("Übersetzung", "übersetzung"));
        assert!(contains("naïve café", "NAïVE CAFé"));
        assert!(!contains("naïve café", "CAFÉ"));
    }

    #[test]
    fn multibyte_text_never_matches_a_partial_character() {
        // Byte windows are compared whole, so a needle only matches where its bytes all match.
        assert!(!contains("é", "\u{e9}\u{301}"));
        assert!(contains("a→b", "→"));
    }
}
