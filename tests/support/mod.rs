//! What the repository-level tests share: where the checkout is, and which pages are its docs.

use std::path::PathBuf;

/// The checkout's root (the `echo-bench` package's directory).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md, then every page in docs/ in name order.
#[allow(dead_code)] // Not every test binary reads the docs.
pub fn documents() -> Vec<PathBuf> {
    let mut docs = vec![root().join("README.md")];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    docs.extend(pages);
    docs
}
