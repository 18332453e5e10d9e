//! The order of `--work` spellings in tables and charts.

/// Work kinds in the order that tells the story: the plain echo, the right way to wait, the
/// pitfall (a blocking call on the loop), its fix (the call offloaded), then the others.
const STORY: [&str; 9] = [
    "none",
    "sleep",
    "block",
    "offload",
    "cpu",
    "file-block",
    "file-offload",
    "sqlite-block",
    "sqlite-offload",
];

/// Where `work` (a result file's `config.work`, e.g. `block:10.00ms`) sorts: by its kind in
/// story order; unknown kinds last.
pub fn work_rank(work: &str) -> usize {
    let kind = work.split(':').next().unwrap_or(work);
    STORY.iter().position(|k| *k == kind).unwrap_or(STORY.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_echo_comes_first_and_the_fix_after_the_pitfall() {
        let mut works = ["offload:1ms", "mystery", "block:1ms", "none", "sleep:1ms"];
        works.sort_by_key(|w| work_rank(w));
        assert_eq!(
            works,
            ["none", "sleep:1ms", "block:1ms", "offload:1ms", "mystery"]
        );
    }
}
