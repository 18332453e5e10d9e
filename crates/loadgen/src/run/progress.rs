//! Telling the user what is happening: a live bar on a terminal, plain lines otherwise (CI, logs).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Progress of one run, on stderr.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new() -> Self {
        Progress { bar: None }
    }

    /// A step, said once.
    pub fn say(&self, target: &str, msg: impl AsRef<str>) {
        let line = format!("[{target}] {}", msg.as_ref());
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// Starts a timed phase of `length`; on a terminal, a bar that [`Self::update`] moves.
    pub fn phase(&mut self, target: &str, what: &str, length: Duration) {
        self.finish();
        if !std::io::stderr().is_terminal() {
            self.say(
                target,
                format!("{what} for {}", humantime::format_duration(length)),
            );
            return;
        }
        let bar = ProgressBar::new(length.as_millis() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "[{prefix}] {msg:<10} {wide_bar} {elapsed:>4} / {len_secs}",
            )
            .expect("constant template")
            .with_key(
                "len_secs",
                |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0}s", s.len().unwrap_or(0) as f64 / 1000.0);
                },
            ),
        );
        bar.set_prefix(target.to_owned());
        bar.set_message(what.to_owned());
        self.bar = Some(bar);
    }

    /// Moves the bar to `elapsed`, with a live figure beside it.
    pub fn update(&self, elapsed: Duration, figure: Option<String>) {
        if let Some(bar) = &self.bar {
            bar.set_position(elapsed.as_millis() as u64);
            if let Some(figure) = figure {
                bar.set_message(figure);
            }
        }
    }

    /// Clears the bar.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
