#!/usr/bin/env bash
# The questions people ask of a server, for every target: how much load it carries while keeping
# its latency promise (capacity under an SLO, beside the closed-loop maximum that ignores
# latency), what a new connection costs (connection churn), and where its latency turns up as
# the rate rises (a ramp, threads against tokio). Writes one result file per question into the
# output directory, prints the capacity and churn tables with their verdicts against the
# baseline, and draws the capacity and ramp charts. Every question is asked --repeat times (3 by
# default), the targets interleaved in rounds, so each comparison carries its interval.
#
# Ctrl-C stops the whole script: the running loadgen stops its server and keeps what it measured
# (marked partial), and the script exits 130.
set -euo pipefail
# For release_dir and need_binaries only: sourcing installs no traps.
source "$(dirname "$0")/lib.sh"
script=capacity

usage() {
    cat <<'USAGE'
usage: scripts/capacity.sh [--quick] [--out DIR] [--clients N] [--targets LIST] [--repeat N]
                           [--baseline TARGET] [--slos LIST]

  --quick           short windows: about half the time
  --out DIR         where result files and charts go (default: results/capacity)
  --clients N       concurrent connections of every run (default: 100)
  --targets LIST    targets of the capacity search and the churn table (default: all)
  --repeat N        runs of every target, interleaved in rounds (default: 3; 1 gives no intervals)
  --baseline TARGET the target the verdicts compare every other with (default: threads)
  --slos LIST       the p99 promises searched, in the order given (default: "1ms 10ms")

A full run of the 10 Rust targets with --repeat 3 takes about an hour; --quick about half.
USAGE
}

out=results/capacity clients=100 targets=all repeat=3 baseline=threads slos="1ms 10ms"
# Each capacity step is a fresh server, a warm-up and a short open-loop window.
warmup=1s duration=2s start=20000
ramp=10k..160k/1s ramp_duration=16s
churn_duration=5s
while (($#)); do
    case $1 in
        --quick)
            warmup=500ms duration=1s
            ramp=10k..160k/500ms ramp_duration=8s
            churn_duration=2s
            ;;
        --out) out=$2; shift ;;
        --clients) clients=$2; shift ;;
        --targets) targets=$2; shift ;;
        --repeat) repeat=$2; shift ;;
        --baseline) baseline=$2; shift ;;
        --slos) slos=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "capacity.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

# Background jobs of a script ignore the terminal's Ctrl-C, so the trap passes it on to the
# loadgen running (which stops its server and writes what it has), then stops the script.
child=
interrupted() {
    trap - INT TERM
    if [[ -n $child ]]; then
        kill -INT "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    echo "capacity.sh: interrupted" >&2
    exit 130
}
trap interrupted INT TERM
# Runs a command in the background and waits for it, so that Ctrl-C reaches the trap at once.
run() {
    "$@" &
    child=$!
    local status=0
    wait "$child" || status=$?
    child=
    return "$status"
}

cd "$(dirname "$0")/.."
run cargo build --release --quiet -p loadgen -p echo-charts
bin=$(release_dir)
loadgen=$bin/loadgen
need_binaries "$loadgen" "$bin/echo-charts"
mkdir -p "$out"
common=(--clients "$clients" --warmup "$warmup" --repeat "$repeat")
# The verdicts need the baseline among the targets and more than one run of each.
verdicts=()
if ((repeat > 1)) && [[ $targets == all || ,$targets, == *,$baseline,* ]]; then
    verdicts=(--baseline "$baseline")
fi

echo "== closed loop: the maximum each target serves, whatever the latency"
run "$loadgen" --target "$targets" "${common[@]}" "${verdicts[@]}" --duration "$duration" \
    --output "$out/closed.json" >"$out/closed.txt"
for slo in $slos; do
    echo "== capacity: the highest rate whose p99 stays within $slo"
    run "$loadgen" --target "$targets" "${common[@]}" "${verdicts[@]}" --duration "$duration" \
        --find-capacity --slo "p99=$slo" --rate "$start" --output "$out/capacity-p99-$slo.json" \
        >"$out/capacity-p99-$slo.txt"
    cat "$out/capacity-p99-$slo.txt"
done
echo "== ramp: $ramp over $ramp_duration, threads and tokio"
run "$loadgen" --target threads,tokio "${common[@]}" --duration "$ramp_duration" \
    --rate-ramp "$ramp" --output "$out/ramp.json" >/dev/null
echo "== churn: a new connection for every message"
run "$loadgen" --target "$targets" "${common[@]}" "${verdicts[@]}" --duration "$churn_duration" \
    --connection-mode per-message --output "$out/churn.json" >"$out/churn.txt"

echo
cat "$out/churn.txt"
run "$bin/echo-charts" "$out" --out "$out/charts" --only capacity,ramp
run "$bin/echo-charts" report "$out"
