#!/usr/bin/env bash
# Draws the charts (SVG and PNG) and the Markdown table of a set of echo-bench result files.
#
#   scripts/charts.sh [RESULTS_DIR] [ECHO-CHARTS FLAGS...]
#
# RESULTS_DIR defaults to results/sweep/, where scripts/sweep.sh writes. Every *.json result file under
# it is read; the charts go to RESULTS_DIR/charts/ and the table to RESULTS_DIR/charts/table.md.
# Extra flags go to echo-charts, e.g. --msg-size 64, --at-clients 100, --only spectrum,pitfall,
# --timeline-file NAME; see `cargo run -p echo-charts -- --help`. Charts only read result files:
# nothing is measured again.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
    cat <<'USAGE'
usage: scripts/charts.sh [RESULTS_DIR] [ECHO-CHARTS FLAGS...]

Draws the charts (SVG and PNG) and the Markdown table of the result files under RESULTS_DIR
(default: results/sweep, where scripts/sweep.sh writes) into RESULTS_DIR/charts/, the table as
RESULTS_DIR/charts/table.md. Nothing is measured again. Extra flags go to echo-charts, e.g.
--msg-size 64, --at-clients 100, --only spectrum,pitfall; `cargo run -p echo-charts -- --help`
lists them.
USAGE
}
for arg in "$@"; do
    case $arg in
        -h|--help) usage; exit 0 ;;
    esac
done

results="results/sweep"
if [[ $# -gt 0 && $1 != -* ]]; then
    results="$1"
    shift
fi
if [[ ! -d $results ]]; then
    echo "charts.sh: no results directory '$results': run scripts/sweep.sh first, or pass one" >&2
    exit 1
fi
out="$results/charts"

cargo run --release --manifest-path "$root/Cargo.toml" -p echo-charts -- \
    "$results" --out "$out" --markdown "$out/table.md" "$@"
