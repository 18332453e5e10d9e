//! Server memory per connection against clients: threads against tasks, the classic reason for
//! async.

use super::clients::{Series, nothing, series_sets};
use super::{ChartKind, Context, NoData};
use crate::figure::{Axis, Figure, Panel};
use crate::style::plain;

/// Bytes in a KiB.
const KIB: f64 = 1024.0;

/// A server is taken to run a thread per connection when, at its largest measured point with at
/// least this many connections, its thread count reaches [`THREADS_PER_CONN`] of them.
const MIN_CONNS_TO_JUDGE: usize = 10;
const THREADS_PER_CONN: f64 = 0.9;

/// The server's resident memory per connected client (`server.rss_per_conn_bytes`) against
/// clients, a line per target; dashed for servers that run a thread per connection (judged from
/// `server.threads`); one figure per scenario.
pub fn memory(ctx: &Context) -> Result<Vec<Figure>, NoData> {
    // Nothing to draw on a log axis for a server that did not grow at all.
    let sets = series_sets(&ctx.points, |p| {
        p.target()
            .server
            .map(|s| s.rss_per_conn_bytes)
            .filter(|b| *b > 0.0)
    });
    if sets.is_empty() {
        return Err(nothing("server memory figures (server.rss_per_conn_bytes)"));
    }
    let figures = sets
        .iter()
        .map(|set| {
            // A log axis: per connection, the fixed start-up cost makes 1 and 10 clients tens
            // of KiB, and a linear axis would flatten the 1,000 and 10,000 points worth reading.
            let positive = || set.values().filter(|v| *v > 0.0).map(|v| v / KIB);
            let max = positive().fold(0.0, f64::max);
            let min = positive().fold(f64::INFINITY, f64::min).min(max);
            let y = Axis::decades(
                "server resident memory per connection (KiB, log scale)",
                min,
                max,
                plain,
            );
            let (marks, legend) = set.lines(&ctx.palette, |v| v / KIB, thread_per_connection, &y);
            let panel = Panel {
                title: None,
                x: set.clients_axis(),
                y,
                marks,
            };
            let mut subtitle = set.scenario.label();
            if set.series.iter().any(thread_per_connection) {
                subtitle += " · dashed: a thread per connection (server threads ≈ clients)";
            }
            set.figure(
                ChartKind::Memory,
                "Server memory per connection: threads against tasks",
                subtitle,
                panel,
                legend,
            )
        })
        .collect();
    Ok(figures)
}

/// Whether `s`'s server ran about one thread per connection at its largest measured point where
/// no client starved (a starved client may never have had its thread).
fn thread_per_connection(s: &Series) -> bool {
    s.points
        .iter()
        .filter(|p| p.target().connected >= MIN_CONNS_TO_JUDGE && !p.starved())
        .max_by_key(|p| p.target().connected)
        .and_then(|p| Some((p.target().server?.threads, p.target().connected)))
        .is_some_and(|(threads, conns)| threads as f64 >= THREADS_PER_CONN * conns as f64)
}
