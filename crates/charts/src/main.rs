//! `echo-charts`: charts and a Markdown table from echo-bench result files.
//!
//! ```text
//! echo-charts [RESULTS...] [--out DIR] [--only CHART,...] [filters]   draw every chart
//! echo-charts table [RESULTS...] [--out FILE] [filters]              print the Markdown table
//! echo-charts report DIR                                               DIR/report.html: one page
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use echo_charts::{ChartKind, Filter, Loaded, Options, draw_charts, load};
use echo_report::{markdown_rows, write_atomic};

/// Where results are looked for when no path is given: where scripts/sweep.sh writes them.
const DEFAULT_RESULTS: &str = "results";

/// Charts go into this directory beside the results unless `--out` says otherwise.
const CHARTS_SUBDIR: &str = "charts";

#[derive(Parser)]
#[command(
    name = "echo-charts",
    version,
    about = "Charts (SVG and PNG) and a Markdown table from echo-bench result files",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    draw: DrawArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Draw the charts (what `echo-charts` does with no subcommand).
    Draw(DrawArgs),
    /// Print a Markdown table of the results: one row per target and point.
    Table(TableArgs),
    /// Write DIR/report.html: every chart of the folder inline, each with its numbers and
    /// intervals, the machine, dates, commits, noisy windows, failed and starved points; one
    /// self-contained file
    Report(ReportArgs),
}

#[derive(Args)]
struct ReportArgs {
    /// The results folder (searched with its subfolders; each subfolder is a section)
    dir: PathBuf,
}

#[derive(Args)]
struct Select {
    /// Result files, or directories searched for *.json [default: results]
    paths: Vec<PathBuf>,
    /// Only results with this message size (64, 1KiB, 16KiB, ...)
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    msg_size: Option<usize>,
    /// Only results with this server --work, as written in the result files (none, block:10.00ms, ...)
    #[arg(long, value_name = "WORK")]
    work: Option<String>,
    /// Only these targets (repeat, or separate with commas)
    #[arg(long = "target", value_name = "NAME", value_delimiter = ',')]
    targets: Vec<String>,
}

#[derive(Args)]
struct DrawArgs {
    #[command(flatten)]
    select: Select,
    /// Directory the charts are written to [default: RESULTS/charts]
    #[arg(long, short, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Draw only these charts (repeat, or separate with commas): throughput, p99, spectrum, memory, cpu, pitfall, timeline; and, only when named, capacity, ramp
    #[arg(long, value_name = "CHART", value_delimiter = ',', value_parser = parse_kind)]
    only: Vec<ChartKind>,
    /// Client count of the single-point charts (spectrum, pitfall) [default: the one most targets were measured at]
    #[arg(long, value_name = "N")]
    at_clients: Option<usize>,
    /// Result file of the timeline chart (path, file name or stem) [default: the run whose slowest second had the largest p99]
    #[arg(long, value_name = "FILE")]
    timeline_file: Option<PathBuf>,
    /// Target whose slowest second picks the timeline's run [default: any]
    #[arg(long, value_name = "NAME")]
    timeline_target: Option<String>,
    /// Also write the Markdown table to this file
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
}

#[derive(Args)]
struct TableArgs {
    #[command(flatten)]
    select: Select,
    /// Write the table to this file instead of standard output
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Table(args)) => table(args),
        Some(Command::Draw(args)) => draw(args),
        Some(Command::Report(args)) => report(&args.dir),
        None => draw(cli.draw),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo-charts: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn draw(args: DrawArgs) -> anyhow::Result<()> {
    let (paths, loaded) = read(&args.select)?;
    let out = args.out.unwrap_or_else(|| default_out(&paths[0]));
    let kinds = if args.only.is_empty() {
        ChartKind::ALL.to_vec()
    } else {
        args.only
    };
    let options = Options {
        at_clients: args.at_clients,
        timeline_file: args.timeline_file,
        timeline_target: args.timeline_target,
    };
    let outcomes = draw_charts(&loaded, &kinds, &options, &out)?;
    let mut written = 0;
    for o in outcomes {
        match o.result {
            Ok(files) => {
                for f in &files {
                    println!("{}: wrote {}", o.kind, f.display());
                }
                written += files.len();
            }
            Err(why) => eprintln!("{}: skipped: {why}", o.kind),
        }
    }
    if let Some(path) = args.markdown {
        write_table(&loaded, Some(&path))?;
        println!("table: wrote {}", path.display());
    }
    if written == 0 {
        bail!("no chart had data to draw (see the notes above)");
    }
    Ok(())
}

fn report(dir: &Path) -> anyhow::Result<()> {
    let path = echo_charts::report::write_report(dir)?;
    println!("report: wrote {}", path.display());
    Ok(())
}

fn table(args: TableArgs) -> anyhow::Result<()> {
    let (_, loaded) = read(&args.select)?;
    write_table(&loaded, args.out.as_deref())
}

/// The paths to read (the default if none), and what they hold; notes go to standard error.
fn read(select: &Select) -> anyhow::Result<(Vec<PathBuf>, Loaded)> {
    let paths = if select.paths.is_empty() {
        vec![PathBuf::from(DEFAULT_RESULTS)]
    } else {
        select.paths.clone()
    };
    let filter = Filter {
        msg_size: select.msg_size,
        work: select.work.clone(),
        targets: select.targets.clone(),
    };
    let loaded = load(&paths, &filter)?;
    for note in &loaded.notes {
        eprintln!("note: {note}");
    }
    Ok((paths, loaded))
}

fn write_table(loaded: &Loaded, out: Option<&Path>) -> anyhow::Result<()> {
    let text = markdown_rows(loaded.points.iter().map(|p| (p.run(), p.target())));
    match out {
        Some(path) => write_atomic(path, |w| w.write_all(text.as_bytes()))
            .with_context(|| format!("cannot write {}", path.display())),
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .context("cannot write to standard output"),
    }
}

/// `RESULTS/charts` for a results directory, or beside a result file.
fn default_out(first: &Path) -> PathBuf {
    let base = if fs::metadata(first).is_ok_and(|m| m.is_dir()) {
        first
    } else {
        first.parent().unwrap_or(Path::new("."))
    };
    base.join(CHARTS_SUBDIR)
}

fn parse_size(s: &str) -> Result<usize, String> {
    echo_proto::units::parse_bytes(s).map(|n| n as usize)
}

fn parse_kind(s: &str) -> Result<ChartKind, String> {
    s.parse()
}
