//! Helpers the chart tests share: where the fixtures are, and checks that a file really is an
//! SVG or a PNG.

// Each test file uses some of these helpers, not all.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

/// The committed result files (see `tests/fixtures.rs`).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results")
}

/// A copy of the fixtures in a fresh temporary directory, to add broken files to.
pub fn fixtures_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures(), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            fs::copy(&path, &target).unwrap();
        }
    }
}

/// Checks that `path` is a well-formed SVG document of the figure's size whose text includes
/// `expected`; returns all its text.
pub fn check_svg(path: &Path, expected: &[&str]) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg", "{}", path.display());
    assert!(
        root.attribute("width")
            .is_some_and(|w| w.parse::<u32>().unwrap() > 0),
        "{}",
        path.display()
    );
    let words: String = root
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("\n");
    for e in expected {
        assert!(
            words.contains(e),
            "{} has no text '{e}'; it has:\n{words}",
            path.display()
        );
    }
    words
}

/// Checks that `path` is a PNG that decodes to a picture of `size` with more than one colour;
/// returns its pixels' distinct colours count.
pub fn check_png(path: &Path, size: (u32, u32)) -> usize {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} has no PNG signature",
        path.display()
    );
    let decoder = png::Decoder::new(bytes.as_slice());
    let mut reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut pixels)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!((info.width, info.height), size, "{}", path.display());
    let mut colours: Vec<&[u8]> = pixels[..info.buffer_size()].chunks(3).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 10, "{} is nearly blank", path.display());
    colours.len()
}
