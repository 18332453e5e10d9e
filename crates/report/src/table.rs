//! The one table renderer: a caption, columns, rows and notes, drawn as aligned plain text for a
//! terminal or as Markdown. What goes into the cells is the caller's business; this module only
//! lays them out, and drops the columns that hold no data in any row.

use std::fmt::Write;

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Flush left: names and settings.
    Left,
    /// Flush right: figures.
    Right,
}

/// A table being built: add columns, then rows with one cell per column.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Lines above the table: where and how it was measured.
    pub caption: Vec<String>,
    columns: Vec<(String, Align)>,
    rows: Vec<Vec<Option<String>>>,
    /// Lines below the table: footnotes and warnings.
    pub notes: Vec<String>,
}

/// What an empty cell shows in plain text: a dash reads as "nothing here" in a column of figures.
const EMPTY_TEXT: &str = "-";

/// What an empty cell shows in Markdown.
const EMPTY_MARKDOWN: &str = "—";

impl Table {
    /// A table with these columns.
    pub fn new<'a>(columns: impl IntoIterator<Item = (&'a str, Align)>) -> Self {
        Table {
            columns: columns
                .into_iter()
                .map(|(t, a)| (t.to_owned(), a))
                .collect(),
            ..Table::default()
        }
    }

    /// Adds a row: one cell per column, `None` where the row has no figure. A column that is
    /// `None` in every row is left out when the table is drawn.
    pub fn row(&mut self, cells: Vec<Option<String>>) {
        assert_eq!(
            cells.len(),
            self.columns.len(),
            "a row has one cell per column"
        );
        self.rows.push(cells);
    }

    /// How many rows it has.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True if it has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The columns that hold data in some row.
    fn shown(&self) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|&c| self.rows.iter().any(|r| r[c].is_some()))
            .collect()
    }

    fn cells(&self, row: &[Option<String>], shown: &[usize], empty: &str) -> Vec<String> {
        shown
            .iter()
            .map(|&c| row[c].clone().unwrap_or_else(|| empty.to_owned()))
            .collect()
    }

    /// Aligned plain text: caption, header, a rule, the rows, then the notes.
    pub fn text(&self) -> String {
        let shown = self.shown();
        let header: Vec<String> = shown.iter().map(|&c| self.columns[c].0.clone()).collect();
        let body: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| self.cells(r, &shown, EMPTY_TEXT))
            .collect();
        let widths: Vec<usize> = (0..shown.len())
            .map(|i| {
                std::iter::once(&header)
                    .chain(&body)
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .zip(&shown)
                .map(|((cell, &w), &c)| match self.columns[c].1 {
                    Align::Left => format!("{cell:<w$}"),
                    Align::Right => format!("{cell:>w$}"),
                })
                .collect();
            padded.join("  ").trim_end().to_owned()
        };
        let mut out = String::new();
        for c in &self.caption {
            let _ = writeln!(out, "{c}");
        }
        let _ = writeln!(out, "{}", line(&header));
        let rule = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
        let _ = writeln!(out, "{}", "-".repeat(rule));
        for row in &body {
            let _ = writeln!(out, "{}", line(row));
        }
        for n in &self.notes {
            let _ = writeln!(out, "{n}");
        }
        out
    }

    /// A Markdown table: caption and notes as paragraphs around it.
    pub fn markdown(&self) -> String {
        let shown = self.shown();
        let mut out = String::new();
        for c in &self.caption {
            let _ = writeln!(out, "{c}\n");
        }
        let header: Vec<String> = shown.iter().map(|&c| escape(&self.columns[c].0)).collect();
        push_markdown_line(&mut out, &header);
        let align: Vec<String> = shown
            .iter()
            .map(|&c| match self.columns[c].1 {
                Align::Left => ":--".to_owned(),
                Align::Right => "--:".to_owned(),
            })
            .collect();
        push_markdown_line(&mut out, &align);
        for row in &self.rows {
            let cells: Vec<String> = self
                .cells(row, &shown, EMPTY_MARKDOWN)
                .iter()
                .map(|c| escape(c))
                .collect();
            push_markdown_line(&mut out, &cells);
        }
        for n in &self.notes {
            let _ = write!(out, "\n{n}\n");
        }
        out
    }
}

fn push_markdown_line(out: &mut String, cells: &[String]) {
    out.push('|');
    for cell in cells {
        let _ = write!(out, " {cell} |");
    }
    out.push('\n');
}

/// A cell's text with the characters that would end a cell or a line made harmless.
fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new([
            ("name", Align::Left),
            ("rate", Align::Right),
            ("never", Align::Right),
            ("some", Align::Right),
        ]);
        t.caption.push("Measured on a test box.".into());
        t.row(vec![
            Some("tokio".into()),
            Some("1000".into()),
            None,
            Some("7".into()),
        ]);
        t.row(vec![Some("a|b".into()), Some("5".into()), None, None]);
        t.notes.push("a note".into());
        t
    }

    #[test]
    fn text_aligns_names_left_and_figures_right_and_drops_empty_columns() {
        assert_eq!(
            sample().text(),
            "Measured on a test box.\n\
             name   rate  some\n\
             -----------------\n\
             tokio  1000     7\n\
             a|b       5     -\n\
             a note\n"
        );
    }

    #[test]
    fn markdown_escapes_cells_and_marks_alignment() {
        assert_eq!(
            sample().markdown(),
            "Measured on a test box.\n\n\
             | name | rate | some |\n\
             | :-- | --: | --: |\n\
             | tokio | 1000 | 7 |\n\
             | a\\|b | 5 | — |\n\
             \na note\n"
        );
    }

    #[test]
    fn the_rule_is_as_wide_as_the_header_with_two_columns_or_four() {
        for columns in [2, 4] {
            let names = ["a", "bb", "ccc", "dddd"];
            let mut t = Table::new(names[..columns].iter().map(|n| (*n, Align::Right)));
            t.row(vec![Some("1".into()); columns]);
            let text = t.text();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines[1], "-".repeat(lines[0].len()), "{text}");
        }
    }

    #[test]
    fn a_table_counts_its_rows() {
        let mut t = Table::new([("name", Align::Left)]);
        assert_eq!((t.len(), t.is_empty()), (0, true));
        t.row(vec![Some("a".into())]);
        t.row(vec![None]);
        assert_eq!((t.len(), t.is_empty()), (2, false));
    }

    #[test]
    #[should_panic(expected = "one cell per column")]
    fn a_row_of_the_wrong_width_is_a_bug() {
        sample().row(vec![None]);
    }
}
