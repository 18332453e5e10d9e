//! Charts of echo-bench result files, drawn with plotters in pure Rust: no system fonts or
//! libraries. The one font, DejaVu Sans (freely licensed, see `assets/DejaVuSans.LICENSE`), is
//! compiled in.

/// DejaVu Sans, embedded so that drawing never depends on what fonts a machine has.
pub const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Registers the embedded font with plotters as `sans-serif` (and the other generic families).
///
/// Call it before drawing anything, in any program that links plotters with its `ab_glyph`
/// feature, criterion's benchmarks included: that feature is unified across the workspace, and
/// without a registered font plotters fails with `FontUnavailable`. Safe to call more than once.
pub fn register_font() {
    use plotters::style::{FontStyle, register_font};
    for family in ["sans-serif", "serif", "monospace"] {
        for style in [FontStyle::Normal, FontStyle::Bold, FontStyle::Italic, FontStyle::Oblique] {
            // Only fails on a malformed font, and this one is fixed at compile time.
            let _ = register_font(family, style, FONT);
        }
    }
}
