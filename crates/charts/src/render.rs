//! Drawing a [`Figure`] with plotters, once as SVG and once as PNG, and writing both atomically.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use echo_report::write_atomic;
use plotters::coord::Shift;
use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::figure::{Axis, Figure, LegendEntry, Mark, Panel, Swatch};

/// Everything is drawn with the embedded font, registered under this generic family.
const FONT: &str = "sans-serif";
const TITLE_PX: f64 = 24.0;
const SUBTITLE_PX: f64 = 16.0;
const PANEL_TITLE_PX: f64 = 17.0;
const AXIS_DESC_PX: f64 = 16.0;
const TICK_PX: f64 = 14.0;
const LEGEND_PX: f64 = 15.0;
const FOOTER_PX: f64 = 13.0;
const NOTE_PX: f64 = 12.0;
/// Space around everything, in pixels.
const MARGIN: i32 = 16;
/// Height of the footer band.
const FOOTER_H: u32 = 30;
/// Vertical distance between legend entries.
const LEGEND_ROW: i32 = 26;
/// Width of a legend entry's sample line.
const SWATCH_W: i32 = 28;
/// Line width of series.
const STROKE: u32 = 2;
/// Half the width of a whisker's caps, pixels: narrower than a line's dot spacing at any client
/// count, wide enough to find.
const WHISKER_CAP_PX: i32 = 5;
/// Height of one row of the `starved` strip below a plot, pixels: a cross and a little air.
const STRIP_ROW_PX: i32 = 18;
/// Between the x axis (or the strip) and the tick labels, pixels.
const TICK_GAP_PX: i32 = 6;
/// The least space between two neighbouring tick labels, pixels: closer, they read as one word.
const LABEL_GAP_PX: i32 = 6;
/// Room under the tick labels for the axis description, pixels.
const X_DESC_ROOM_PX: i32 = 30;
/// plotters' own space beside a plot: the chart's margin right of the plot and the y label area
/// left of it (see [`draw_on`]), for estimating the plot's width before it is built.
const PLOT_SIDES_PX: i32 = MARGIN + 10 + Y_LABEL_AREA_PX;
/// Width of the y axis' label area, pixels.
const Y_LABEL_AREA_PX: i32 = 78;

const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
/// Behind the `starved` strip, so it reads as apart from the plot.
const STRIP_FILL: RGBColor = RGBColor(0xf4, 0xf4, 0xf4);
use crate::figure::MUTED;
const GRID: RGBColor = RGBColor(0xd8, 0xd8, 0xd8);
const GRID_LIGHT: RGBColor = RGBColor(0xee, 0xee, 0xee);

/// Why a chart could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// plotters failed to draw it.
    #[error("cannot draw chart '{chart}' ({format}): {reason}")]
    Draw {
        /// The figure's name.
        chart: String,
        /// SVG or PNG.
        format: &'static str,
        /// plotters' message.
        reason: String,
    },
    /// The file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
}

/// Draws `figure` into `dir` as `NAME.svg` and `NAME.png`, each written atomically, and returns
/// their paths. Call [`crate::register_font`] first.
pub fn write_figure(figure: &Figure, dir: &Path) -> Result<Vec<PathBuf>, RenderError> {
    let (w, h) = figure.size;
    let failed = |format: &'static str| {
        move |e: String| RenderError::Draw {
            chart: figure.name.clone(),
            format,
            reason: e,
        }
    };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, figure.size).into_drawing_area();
        draw(figure, &root)
            .map(drop)
            .map_err(|e| e.to_string())
            .map_err(failed("SVG"))?;
        root.present()
            .map_err(|e| e.to_string())
            .map_err(failed("SVG"))?;
    }
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, figure.size).into_drawing_area();
        draw(figure, &root)
            .map(drop)
            .map_err(|e| e.to_string())
            .map_err(failed("PNG"))?;
        root.present()
            .map_err(|e| e.to_string())
            .map_err(failed("PNG"))?;
    }

    let svg_path = dir.join(format!("{}.svg", figure.name));
    let png_path = dir.join(format!("{}.png", figure.name));
    let wrote = |path: &PathBuf| {
        let path = path.clone();
        move |source| RenderError::Write { path, source }
    };
    write_atomic(&svg_path, |out| out.write_all(svg.as_bytes())).map_err(wrote(&svg_path))?;
    write_atomic(&png_path, |out| encode_png(out, &rgb, figure.size)).map_err(wrote(&png_path))?;
    Ok(vec![svg_path, png_path])
}

/// `rgb` (8-bit RGB, row by row) as a PNG.
fn encode_png(out: &mut dyn Write, rgb: &[u8], (w, h): (u32, u32)) -> io::Result<()> {
    let mut encoder = png::Encoder::new(out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(io::Error::other)?;
    writer.write_image_data(rgb).map_err(io::Error::other)?;
    writer.finish().map_err(io::Error::other)
}

/// `text` in lines no wider than `max` (by `width`), broken only between its ` · `-separated
/// parts: a subtitle that names several things keeps each one whole. A part wider than `max`
/// gets a line of its own.
fn wrap(text: &str, width: impl Fn(&str) -> u32, max: u32) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for part in text.split(" · ") {
        match lines.last_mut() {
            Some(line) if width(&format!("{line} · {part}")) <= max => {
                line.push_str(" · ");
                line.push_str(part);
            }
            _ => lines.push(part.to_owned()),
        }
    }
    lines
}

type DrawResult<DB, T = ()> = Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Where a tick label was drawn, in pixels of the whole canvas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelBox {
    /// What it says.
    pub text: String,
    /// Its left and right edges.
    pub x: Range<i32>,
    /// Its top and bottom edges.
    pub y: Range<i32>,
}

impl LabelBox {
    /// Whether the two boxes share any pixel.
    pub fn overlaps(&self, other: &LabelBox) -> bool {
        self.x.start < other.x.end
            && other.x.start < self.x.end
            && self.y.start < other.y.end
            && other.y.start < self.y.end
    }
}

/// A measured point as drawn, for a reader to hover over: where it is and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Spot {
    /// Its left and right edges, pixels of the whole canvas.
    pub x: Range<i32>,
    /// Its top and bottom edges.
    pub y: Range<i32>,
    /// Its series, category and value, with the interval when it has one.
    pub text: String,
    /// The colour it was drawn in: what ties a whisker to its point among several at one x.
    color: RGBColor,
}

/// What drawing a figure laid out, beside the picture itself.
#[derive(Debug, Default)]
pub struct Drawn {
    /// Each panel's x tick labels.
    pub labels: Vec<Vec<LabelBox>>,
    /// Every measured point.
    pub spots: Vec<Spot>,
}

/// Draws `figure` as an SVG document in memory, returning it and its layout.
fn draw_svg(figure: &Figure) -> Result<(String, Drawn), RenderError> {
    let mut svg = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut svg, figure.size).into_drawing_area();
        let drawn = draw(figure, &root).map_err(|e| e.to_string());
        let presented = root.present().map_err(|e| e.to_string());
        drawn
            .and_then(|d| presented.map(|()| d))
            .map_err(|reason| RenderError::Draw {
                chart: figure.name.clone(),
                format: "SVG",
                reason,
            })?
    };
    Ok((svg, drawn))
}

/// The x tick labels of each panel of `figure` as [`draw`] lays them out: what a test checks
/// for labels that run into each other. Call [`crate::register_font`] first.
pub fn x_label_boxes(figure: &Figure) -> Result<Vec<Vec<LabelBox>>, RenderError> {
    Ok(draw_svg(figure)?.1.labels)
}

/// `figure` as an SVG document for a web page: every measured point carries an invisible
/// target whose `<title>` (what a browser shows on hover) gives its value and interval. Call
/// [`crate::register_font`] first.
pub fn svg_with_hover(figure: &Figure) -> Result<String, RenderError> {
    let (svg, drawn) = draw_svg(figure)?;
    let mut hover =
        String::from("<g class=\"hover\" fill=\"transparent\" pointer-events=\"all\">\n");
    for spot in &drawn.spots {
        hover.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}</title></rect>\n",
            spot.x.start,
            spot.y.start,
            (spot.x.end - spot.x.start).max(1),
            (spot.y.end - spot.y.start).max(1),
            xml_escape(&spot.text)
        ));
    }
    hover.push_str("</g>\n");
    let end = svg.rfind("</svg>").ok_or_else(|| RenderError::Draw {
        chart: figure.name.clone(),
        format: "SVG",
        reason: "plotters wrote no closing </svg>".into(),
    })?;
    Ok(format!("{}{hover}{}", &svg[..end], &svg[end..]))
}

/// `text` safe inside XML character data and attribute values.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Draws `figure` on `root`: heading, panels, legend to the right, footer. Returns where each
/// panel's x tick labels and measured points went.
pub fn draw<DB: DrawingBackend>(
    figure: &Figure,
    root: &DrawingArea<DB, Shift>,
) -> DrawResult<DB, Drawn> {
    root.fill(&WHITE)?;
    let (w, h) = root.dim_in_pixel();

    let title = (FONT, TITLE_PX)
        .into_font()
        .style(FontStyle::Bold)
        .color(&INK);
    root.draw_text(&figure.title, &title, (MARGIN, MARGIN))?;
    let mut top = MARGIN + TITLE_PX as i32 + 8;
    if !figure.subtitle.is_empty() {
        let sub = (FONT, SUBTITLE_PX).into_font().color(&MUTED);
        let width = |text: &str| root.estimate_text_size(text, &sub).map_or(0, |(w, _)| w);
        for line in wrap(&figure.subtitle, width, w.saturating_sub(2 * MARGIN as u32)) {
            root.draw_text(&line, &sub, (MARGIN, top))?;
            top += SUBTITLE_PX as i32 + 4;
        }
        top += 4;
    }
    let footer = (FONT, FOOTER_PX).into_font().color(&MUTED);
    root.draw_text(
        &figure.footer,
        &footer,
        (MARGIN, h as i32 - FOOTER_H as i32 + 8),
    )?;

    let body = root.margin(top as u32, FOOTER_H, 0, 0);
    let legend_w = legend_width(root, figure)?;
    let (plots, legend) = body.split_horizontally(w - legend_w);
    draw_legend(&legend, figure)?;

    let columns = figure.columns.max(1);
    let rows = figure.panels.len().div_ceil(columns);
    let areas = plots.split_evenly((rows.max(1), columns));
    let mut drawn = Drawn::default();
    for (panel, area) in figure.panels.iter().zip(&areas) {
        let (labels, spots) = draw_panel(area, panel, &figure.legend)?;
        drawn.labels.push(labels);
        drawn.spots.extend(spots);
    }
    Ok(drawn)
}

/// Wide enough for the longest legend label.
fn legend_width<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figure: &Figure,
) -> Result<u32, DrawingAreaErrorKind<DB::ErrorType>> {
    if figure.legend.is_empty() {
        return Ok(MARGIN as u32);
    }
    let font: TextStyle = (FONT, LEGEND_PX).into_font().into();
    let bold: TextStyle = (FONT, LEGEND_PX).into_font().style(FontStyle::Bold).into();
    let mut widest = root.estimate_text_size(&figure.legend_title, &bold)?.0;
    for entry in &figure.legend {
        widest = widest.max(root.estimate_text_size(&entry.label, &font)?.0 + SWATCH_W as u32 + 10);
    }
    Ok(widest + 2 * MARGIN as u32)
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    figure: &Figure,
) -> DrawResult<DB> {
    if figure.legend.is_empty() {
        return Ok(());
    }
    let heading = (FONT, LEGEND_PX)
        .into_font()
        .style(FontStyle::Bold)
        .color(&INK);
    let font = (FONT, LEGEND_PX).into_font().color(&INK);
    // Level with the top of the first plot.
    let mut y = MARGIN + 6;
    area.draw_text(&figure.legend_title, &heading, (MARGIN / 2, y))?;
    y += LEGEND_ROW;
    for LegendEntry {
        label,
        color,
        swatch,
    } in &figure.legend
    {
        let mid = y + LEGEND_PX as i32 / 2;
        let x0 = MARGIN / 2;
        match swatch {
            Swatch::Block => {
                area.draw(&Rectangle::new(
                    [(x0 + 6, mid - 7), (x0 + 20, mid + 7)],
                    color.filled(),
                ))?;
            }
            Swatch::Cross => {
                area.draw(&Cross::new(
                    (x0 + 13, mid),
                    6,
                    color.stroke_width(STROKE + 1),
                ))?;
            }
            Swatch::Text => {}
            Swatch::Line | Swatch::Dashed => {
                let style = color.stroke_width(STROKE + 1);
                if *swatch == Swatch::Dashed {
                    for seg in 0..3 {
                        let a = x0 + seg * 10;
                        area.draw(&PathElement::new(vec![(a, mid), (a + 6, mid)], style))?;
                    }
                } else {
                    area.draw(&PathElement::new(
                        vec![(x0, mid), (x0 + SWATCH_W - 2, mid)],
                        style,
                    ))?;
                }
                area.draw(&Circle::new(
                    (x0 + SWATCH_W / 2 - 1, mid),
                    4,
                    color.filled(),
                ))?;
            }
        }
        let x = if *swatch == Swatch::Text {
            x0
        } else {
            x0 + SWATCH_W + 6
        };
        area.draw_text(label, &font, (x, y))?;
        y += LEGEND_ROW;
    }
    Ok(())
}

/// A plotters axis with exactly the figure's ticks: labelled ones (bold grid lines) and minor
/// ones (light grid lines). plotters' own `WithKeyPoints` does the same but keeps the inner
/// axis' number formatting, which a linear `f64` axis does not let a label formatter replace.
struct Ticked<R> {
    inner: R,
    ticks: Vec<f64>,
    minor: Vec<f64>,
}

impl<R: Ranged<ValueType = f64>> Ticked<R> {
    fn new(inner: R, axis: &Axis) -> Self {
        Ticked {
            inner,
            ticks: axis.ticks.iter().map(|t| t.at).collect(),
            minor: axis.minor.clone(),
        }
    }
}

impl<R: Ranged<ValueType = f64>> Ranged for Ticked<R> {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }

    fn axis_pixel_range(&self, limit: (i32, i32)) -> Range<i32> {
        self.inner.axis_pixel_range(limit)
    }
}

fn linear(axis: &Axis) -> Ticked<RangedCoordf64> {
    Ticked::new(axis.range.clone().into(), axis)
}

fn logarithmic(axis: &Axis) -> Ticked<LogCoord<f64>> {
    Ticked::new(axis.range.clone().log_scale().into(), axis)
}

type PanelLayout = (Vec<LabelBox>, Vec<Spot>);

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    legend: &[LegendEntry],
) -> DrawResult<DB, PanelLayout> {
    let (lx, ly) = (&panel.x, &panel.y);
    match (panel.x.log, panel.y.log) {
        (false, false) => draw_on(area, panel, legend, linear(lx), linear(ly)),
        (false, true) => draw_on(area, panel, legend, linear(lx), logarithmic(ly)),
        (true, false) => draw_on(area, panel, legend, logarithmic(lx), linear(ly)),
        (true, true) => draw_on(area, panel, legend, logarithmic(lx), logarithmic(ly)),
    }
}

/// How a panel's x tick labels are laid out: level, or turned to read upwards when level ones
/// would run into each other (many categories with long names).
struct XLabels {
    /// Each tick's label and its width and height as drawn level, pixels.
    sizes: Vec<(u32, u32)>,
    /// Turned a quarter to read upwards.
    upright: bool,
    /// Rows of the `starved` strip between the axis and the labels.
    strip_rows: i32,
}

impl XLabels {
    fn plan<DB: DrawingBackend>(
        area: &DrawingArea<DB, Shift>,
        panel: &Panel,
        font: &TextStyle,
    ) -> DrawResult<DB, Self> {
        let mut sizes = Vec::new();
        for tick in &panel.x.ticks {
            sizes.push(area.estimate_text_size(&tick.label, font)?);
        }
        // The plot's width is fixed before it is built; only its height depends on the labels.
        let plot_w = area.dim_in_pixel().0 as f64 - f64::from(PLOT_SIDES_PX);
        let centres: Vec<f64> = panel
            .x
            .ticks
            .iter()
            .map(|t| panel.x.fraction_of(t.at) * plot_w)
            .collect();
        let crowded = sizes.windows(2).zip(centres.windows(2)).any(|(w, c)| {
            let half_widths = f64::from(w[0].0 + w[1].0) / 2.0;
            c[1] - c[0] < half_widths + f64::from(LABEL_GAP_PX)
        });
        let strip_rows = panel
            .marks
            .iter()
            .filter_map(|m| match m {
                Mark::Failed { row, .. } => Some(*row as i32 + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        Ok(XLabels {
            sizes,
            upright: crowded,
            strip_rows,
        })
    }

    /// Height of the strip of starved points, pixels (0 without any).
    fn strip_h(&self) -> i32 {
        if self.strip_rows == 0 {
            0
        } else {
            self.strip_rows * STRIP_ROW_PX + 4
        }
    }

    /// Height below the plot that the strip, the labels and the axis description need.
    fn area_h(&self) -> u32 {
        let along = |(w, h): &(u32, u32)| if self.upright { *w } else { *h };
        let labels = self.sizes.iter().map(along).max().unwrap_or(0) as i32;
        (self.strip_h() + TICK_GAP_PX + labels + X_DESC_ROOM_PX) as u32
    }
}

fn draw_on<DB, X, Y>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    legend: &[LegendEntry],
    x: X,
    y: Y,
) -> DrawResult<DB, PanelLayout>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let tick_font: TextStyle = (FONT, TICK_PX).into_font().color(&INK);
    let labels = XLabels::plan(area, panel, &tick_font)?;
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(10)
        .margin_left(MARGIN as u32)
        .x_label_area_size(labels.area_h())
        .y_label_area_size(Y_LABEL_AREA_PX as u32);
    if let Some(title) = &panel.title {
        builder.caption(
            title,
            (FONT, PANEL_TITLE_PX)
                .into_font()
                .style(FontStyle::Bold)
                .color(&INK),
        );
    }
    let mut chart = builder.build_cartesian_2d(x, y)?;

    // The x tick labels are drawn below, by hand, so that they can be turned upright and
    // measured; plotters draws the tick marks.
    let x_label = |_: &f64| String::new();
    let y_label = |v: &f64| panel.y.label_at(*v);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(panel.x.desc.as_str())
        .y_desc(panel.y.desc.as_str())
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .axis_desc_style((FONT, AXIS_DESC_PX).into_font().color(&INK))
        .label_style((FONT, TICK_PX).into_font().color(&INK))
        .bold_line_style(GRID)
        .light_line_style(GRID_LIGHT)
        .axis_style(MUTED);
    if !panel.x.grid {
        mesh.disable_x_mesh();
    }
    if !panel.y.grid {
        mesh.disable_y_mesh();
    }
    mesh.draw()?;

    let base = panel.y.range.start;
    for mark in &panel.marks {
        match mark {
            Mark::Line {
                points,
                color,
                dashed,
                dots,
            } => {
                let style = color.stroke_width(STROKE);
                if *dashed {
                    chart.draw_series(DashedLineSeries::new(
                        points.iter().copied(),
                        8,
                        5,
                        style,
                    ))?;
                } else {
                    chart.draw_series(LineSeries::new(points.iter().copied(), style))?;
                }
                if *dots {
                    let dot = color.filled();
                    chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, dot)))?;
                }
            }
            Mark::Bar { x, y, color } => {
                let top = y.max(base);
                chart.draw_series([Rectangle::new(
                    [(x.start, base), (x.end, top)],
                    color.filled(),
                )])?;
            }
            Mark::Whisker { x, y, color } => {
                let style = color.stroke_width(STROKE);
                let cap = |at: f64| {
                    EmptyElement::at((*x, at))
                        + PathElement::new(vec![(-WHISKER_CAP_PX, 0), (WHISKER_CAP_PX, 0)], style)
                };
                chart.draw_series([PathElement::new(vec![(*x, y.start), (*x, y.end)], style)])?;
                chart.draw_series([cap(y.start), cap(y.end)])?;
            }
            Mark::Note { at, text } => {
                let font = (FONT, NOTE_PX)
                    .into_font()
                    .color(&MUTED)
                    .pos(Pos::new(HPos::Center, VPos::Top));
                chart.draw_series([Text::new(text.clone(), *at, font)])?;
            }
            // Below the plot, in the strip drawn next.
            Mark::Failed { .. } => {}
        }
    }

    let origin = area.get_base_pixel();
    // The plot's bottom edge, in the area's pixels, at data x `at`.
    let bottom = |at: f64| {
        let (px, py) = chart.backend_coord(&(at, base));
        (px - origin.0, py - origin.1)
    };
    if labels.strip_rows > 0 {
        let (left, top) = bottom(panel.x.range.start);
        let (right, _) = bottom(panel.x.range.end);
        let strip = (top + 2, top + labels.strip_h());
        area.draw(&Rectangle::new(
            [(left, strip.0), (right, strip.1)],
            STRIP_FILL.filled(),
        ))?;
        let font = (FONT, NOTE_PX)
            .into_font()
            .color(&MUTED)
            .pos(Pos::new(HPos::Right, VPos::Center));
        area.draw_text("starved", &font, (left - 6, (strip.0 + strip.1) / 2))?;
    }
    for mark in &panel.marks {
        if let Mark::Failed { x, row, color } = mark {
            let (px, top) = bottom(*x);
            let mid = top + 4 + *row as i32 * STRIP_ROW_PX + STRIP_ROW_PX / 2;
            area.draw(&Cross::new((px, mid), 6, color.stroke_width(STROKE + 1)))?;
        }
    }

    let mut boxes = Vec::new();
    for (tick, &(w, h)) in panel.x.ticks.iter().zip(&labels.sizes) {
        if !panel.x.range.contains(&tick.at) && tick.at != panel.x.range.end {
            continue;
        }
        let (px, axis) = bottom(tick.at);
        let top = axis + labels.strip_h() + TICK_GAP_PX;
        let (w, h) = (w as i32, h as i32);
        let placed = if labels.upright {
            // Turned to read upwards, its end against the axis: the text starts at the bottom
            // of its box, level with the widest label's.
            let font = tick_font.transform(FontTransform::Rotate270);
            area.draw_text(&tick.label, &font, (px - h / 2, top + w))?;
            (px - h / 2..px + h - h / 2, top..top + w)
        } else {
            let font = tick_font.pos(Pos::new(HPos::Center, VPos::Top));
            area.draw_text(&tick.label, &font, (px, top))?;
            (px - w / 2..px + w - w / 2, top..top + h)
        };
        boxes.push(LabelBox {
            text: tick.label.clone(),
            x: placed.0.start + origin.0..placed.0.end + origin.0,
            y: placed.1.start + origin.1..placed.1.end + origin.1,
        });
    }

    let at = |x: f64, y: f64| chart.backend_coord(&(x, y));
    let strip_top = bottom(panel.x.range.start).1 + origin.1;
    let spots = spots(panel, legend, at, strip_top);
    Ok((boxes, spots))
}

/// Half the size of the hover target around a point of a line, pixels.
const SPOT_RADIUS_PX: i32 = 6;

/// A hover target per measured point of `panel`: bars, points of lines, failed points; a
/// whisker adds its interval to the point it belongs to. `at` maps data to canvas pixels.
fn spots(
    panel: &Panel,
    legend: &[LegendEntry],
    at: impl Fn(f64, f64) -> (i32, i32),
    strip_top: i32,
) -> Vec<Spot> {
    let series = |color: &RGBColor| {
        legend
            .iter()
            .find(|e| {
                e.color == *color
                    && matches!(e.swatch, Swatch::Line | Swatch::Dashed | Swatch::Block)
            })
            .map_or(String::new(), |e| format!("{} · ", e.label))
    };
    // The category a bar stands in (its nearest tick), or the x value of a point.
    let category = |x: f64| {
        let nearest = panel
            .x
            .ticks
            .iter()
            .min_by(|a, b| (a.at - x).abs().total_cmp(&(b.at - x).abs()));
        match nearest {
            Some(t) if panel.x.log || (t.at - x).abs() <= 0.5 => t.label.clone(),
            _ => format!("{x:.3}"),
        }
    };
    let value = |y: f64| format!("{} {}", significant(y), panel.y.desc);
    let around = |(px, py): (i32, i32), r: i32| (px - r..px + r, py - r..py + r);
    let mut spots: Vec<Spot> = Vec::new();
    for mark in &panel.marks {
        match mark {
            Mark::Bar { x, y, color } => {
                let (left, top) = at(x.start, *y);
                let (right, base) = at(x.end, panel.y.range.start);
                let centre = (x.start + x.end) / 2.0;
                spots.push(Spot {
                    x: left..right,
                    y: top.min(base)..base.max(top),
                    text: format!("{}{}: {}", series(color), category(centre), value(*y)),
                    color: *color,
                });
            }
            // A dense curve (no dots) is not a set of measured points.
            Mark::Line {
                points,
                color,
                dots: true,
                ..
            } => {
                for &(x, y) in points {
                    let (xs, ys) = around(at(x, y), SPOT_RADIUS_PX);
                    spots.push(Spot {
                        x: xs,
                        y: ys,
                        text: format!("{}{}: {}", series(color), category(x), value(y)),
                        color: *color,
                    });
                }
            }
            Mark::Failed { x, row, color } => {
                let px = at(*x, panel.y.range.start).0;
                let mid = strip_top + 4 + *row as i32 * STRIP_ROW_PX + STRIP_ROW_PX / 2;
                let (xs, ys) = around((px, mid), SPOT_RADIUS_PX);
                spots.push(Spot {
                    x: xs,
                    y: ys,
                    text: format!("{}{}: starved, no value", series(color), category(*x)),
                    color: *color,
                });
            }
            Mark::Line { .. } | Mark::Whisker { .. } | Mark::Note { .. } => {}
        }
    }
    // A whisker adds its interval to the point it belongs to: the one at its x (in its colour,
    // if any is) whose middle is nearest its span; whiskers may be drawn before their points.
    for mark in &panel.marks {
        let Mark::Whisker { x, y, color } = mark else {
            continue;
        };
        let (px, lo) = at(*x, y.start);
        let hi = at(*x, y.end).1;
        let span = lo.min(hi)..lo.max(hi);
        let off = |s: &Spot| {
            let mid = (s.y.start + s.y.end) / 2;
            (span.start - mid).max(mid - span.end).max(0)
        };
        // A whisker in its series' colour belongs to that series' point; one in ink (over a
        // bar) to the bar at its x.
        let same_color = spots.iter().any(|s| s.x.contains(&px) && s.color == *color);
        if let Some(spot) = spots
            .iter_mut()
            .filter(|s| s.x.contains(&px) && (!same_color || s.color == *color))
            .min_by_key(|s| off(s))
        {
            let interval = format!(" [{}–{}]", significant(y.start), significant(y.end));
            spot.text.push_str(&interval);
        }
    }
    spots
}

/// `v` to three significant figures, without a trailing `.0`.
fn significant(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (2 - v.abs().log10().floor() as i32).max(0) as usize;
    format!("{v:.digits$}")
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn a_long_subtitle_breaks_between_its_parts_and_nowhere_else() {
        let width = |s: &str| s.chars().count() as u32;
        assert_eq!(wrap("a · bb · ccc", width, 100), ["a · bb · ccc"]);
        assert_eq!(wrap("a · bb · ccc", width, 6), ["a · bb", "ccc"]);
        assert_eq!(
            wrap("a long part · b", width, 3),
            ["a long part", "b"],
            "a part wider than the line is kept whole"
        );
    }
}
