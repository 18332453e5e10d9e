//! `loadgen`: see the library's documentation, or `loadgen --help`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    // `loadgen server TARGET ...` runs a server: this is how loadgen starts one as a child.
    if args.get(1).is_some_and(|a| a == "server") {
        return echo_targets::server_main(args.into_iter().skip(2));
    }
    // `loadgen table FILE...` prints the results of earlier runs side by side.
    if args.get(1).is_some_and(|a| a == "table") {
        return report(loadgen::table(args.into_iter().skip(2).map(Into::into)));
    }
    // `loadgen merge FILE...` merges the result files of several load hosts.
    if args.get(1).is_some_and(|a| a == "merge") {
        return report(loadgen::merge(args.into_iter().skip(2)));
    }
    report(loadgen::main(loadgen::Cli::parse_from(args)))
}

fn report(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("loadgen: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
