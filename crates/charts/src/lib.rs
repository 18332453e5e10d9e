//! Charts of echo-bench result files, drawn with plotters in pure Rust: no system fonts or
//! libraries. The one font, DejaVu Sans (freely licensed, see `assets/DejaVuSans.LICENSE`), is
//! compiled in.
//!
//! Data flows one way: [`load()`] reads result files into [`Point`]s; each chart in [`charts`]
//! turns points into [`Figure`]s (plain data); [`render`] draws a figure as SVG and PNG and writes
//! both atomically; [`report`] puts a folder's charts and numbers on one HTML page. Charts only
//! read result files: nothing here runs a benchmark.

pub mod charts;
pub mod figure;
pub mod load;
pub mod render;
pub mod report;
pub mod scenario;
pub mod style;

use std::path::{Path, PathBuf};

pub use charts::{ChartKind, Context, NoData, Options, WHISKER_NOTE};
pub use figure::Figure;
pub use load::{Filter, LoadError, Loaded, Point, load};
pub use render::{RenderError, write_figure};

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
        for style in [
            FontStyle::Normal,
            FontStyle::Bold,
            FontStyle::Italic,
            FontStyle::Oblique,
        ] {
            // Only fails on a malformed font, and this one is fixed at compile time.
            let _ = register_font(family, style, FONT);
        }
    }
}

/// What became of one chart.
#[derive(Debug)]
pub struct Outcome {
    /// Which chart.
    pub kind: ChartKind,
    /// The files written (SVG and PNG of each figure), or why there was nothing to draw.
    pub result: Result<Vec<PathBuf>, NoData>,
}

/// Draws each chart of `kinds` from `loaded` into `out_dir` (created if needed), registering
/// the font first. A chart without data is skipped with a note; failing to draw or write one is
/// an error.
pub fn draw_charts(
    loaded: &Loaded,
    kinds: &[ChartKind],
    options: &Options,
    out_dir: &Path,
) -> Result<Vec<Outcome>, RenderError> {
    register_font();
    let ctx = Context::new(loaded, options.clone());
    let mut outcomes = Vec::new();
    for &kind in kinds {
        let result = match kind.build(&ctx) {
            Ok(figures) => {
                let mut files = Vec::new();
                for figure in &figures {
                    files.extend(write_figure(figure, out_dir)?);
                }
                Ok(files)
            }
            Err(no_data) => Err(no_data),
        };
        outcomes.push(Outcome { kind, result });
    }
    Ok(outcomes)
}
