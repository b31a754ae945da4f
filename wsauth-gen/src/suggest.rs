//! "Did you mean" for names: the one place that decides what counts as close.

/// The candidate closest to `wrong`, if any is close enough to be a likely typo.
///
/// Closeness is Jaro-Winkler similarity (which favours a shared prefix, the
/// usual shape of a typo in dotted names like `conversation.raed`) with a
/// floor, so that a wholly different name gets no suggestion at all rather
/// than a misleading one.
pub fn closest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(wrong, c), c))
        .filter(|(score, c)| *score >= 0.8 && *c != wrong)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn suggests_a_transposition() {
        let perms = ["conversation.read", "conversation.write", "system.monitor"];
        assert_eq!(
            closest("conversation.raed", perms),
            Some("conversation.read")
        );
    }

    #[test]
    fn stays_quiet_for_unrelated_names() {
        assert_eq!(closest("zzz", ["conversation.read", "endpoints"]), None);
    }
}
