#!/usr/bin/env bash
# The Python servers beside tokio's one-thread loop: the README's "Python" tables. Each run puts
# all four targets through the same load one after the other (server on CPU 0, loadgen on CPU 1,
# loadgen's defaults), in a rotated order each repeat; the tables give the median of the repeats
# with the range in brackets. Two parts:
#   echo     a plain echo at 100 and 10,000 clients: throughput, latency, server CPU and memory
#   pitfall  the article's lesson at 100 clients, work on 1 message in 10: time.sleep
#            (block:1ms) against asyncio.sleep (sleep:1ms) against asyncio.to_thread (offload:1ms)
# Needs scripts/python-setup.sh first. Run it alone on the machine: it measures.
set -euo pipefail
# For release_dir and need_binaries only: sourcing installs no traps.
source "$(dirname "$0")/lib.sh"
script=python-bench

usage() {
    cat <<'USAGE'
usage: scripts/python-bench.sh [--repeats N] [--duration DUR] [--out DIR] [--tables] [echo] [pitfall]

  --repeats N   runs of each measurement (default: 3)
  --duration    each target's measured window (default: 5s, after a 1s warm-up)
  --out DIR     where result files go (default: results/python)
  --tables      measure nothing: print the tables of the runs already in --out
  echo|pitfall  which part to run (default: both)
USAGE
}

repeats=3 duration=5s out=results/python parts=() tables_only=
while (($#)); do
    case $1 in
        --repeats) repeats=$2; shift ;;
        --duration) duration=$2; shift ;;
        --out) out=$2; shift ;;
        --tables) tables_only=1 ;;
        echo|pitfall) parts+=("$1") ;;
        -h|--help) usage; exit 0 ;;
        *) echo "python-bench.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
((${#parts[@]})) || parts=(echo pitfall)

cd "$(dirname "$0")/.."
if [[ -z $tables_only ]]; then
    cargo build --release --quiet -p loadgen
    loadgen=$(release_dir)/loadgen
    need_binaries "$loadgen"
fi
targets=(python-asyncio python-uvloop python-threads tokio-current)

# Runs one measurement REPEATS times, each time starting the target list one further along.
measure() { # NAME LOADGEN-ARGS...
    local name=$1 rep order
    shift
    [[ -z $tables_only ]] || return 0
    for ((rep = 0; rep < repeats; rep++)); do
        order=("${targets[@]:rep % 4}" "${targets[@]:0:rep % 4}")
        echo "== $name, run $((rep + 1)) of $repeats: ${order[*]}" >&2
        local status=0
        "$loadgen" --target "$(IFS=,; echo "${order[*]}")" --duration "$duration" --warmup 1s \
            --output "$out/$name/run$rep.json" "$@" >/dev/null || status=$?
        # A target that failed (a server that would not stop, say) is loadgen's exit 1, said
        # above; the other targets' figures of that run are in the file and are kept. Ctrl-C,
        # corrupt echoes or no file at all stop the script.
        if ((status != 0)); then
            if ((status != 1)) || [[ ! -s $out/$name/run$rep.json ]]; then
                exit "$status"
            fi
            echo "python-bench.sh: $name, run $((rep + 1)): a target failed (above); the run's other figures are kept" >&2
        fi
    done
}

# Prints the medians over a directory of runs, one row per target.
medians() { # DIR KIND
    # The standard library is enough: --tables needs no virtual environment.
    python3 - "$@" <<'PY'
import glob, json, statistics, sys
folder, kind = sys.argv[1], sys.argv[2]
rows = {}
for path in sorted(glob.glob(f"{folder}/*.json")):
    for t in json.load(open(path))["targets"]:
        rows.setdefault(t["target"], []).append(t)
def cell(runs, get, fmt):
    # A run cut before its window has no rate or cost per message: left out, not taken as 0.
    values = sorted(v for v in map(get, runs) if v is not None)
    if not values:
        return "—"
    return f"{fmt(statistics.median(values))} [{fmt(values[0])}–{fmt(values[-1])}]"
# No reply, no latency.
latency = lambda q: lambda r: r["latency_ns"][q] if r["latency_ns"]["count"] else None
us = lambda ns: f"{ns / 1e3:,.0f}" if ns >= 10e3 else f"{ns / 1e3:.1f}"
ms = lambda ns: f"{ns / 1e6:.2f}"
if kind == "echo":
    print("| target | msgs/s | p50 µs | p99 µs | server CPU µs/msg | RSS/conn KiB |")
    print("|---|---|---|---|---|---|")
    for name, runs in rows.items():
        print(f"| {name} | {cell(runs, lambda r: r.get('msgs_per_sec'), lambda v: f'{v:,.0f}')} "
              f"| {cell(runs, latency('p50'), us)} "
              f"| {cell(runs, latency('p99'), us)} "
              f"| {cell(runs, lambda r: r['server'].get('cpu_ns_per_msg'), us)} "
              f"| {cell(runs, lambda r: r['server']['rss_per_conn_bytes'], lambda v: f'{v / 1024:.1f}')} |")
else:
    lag = lambda r, q: (r["server_summary"] or {}).get("loop_lag_ns") or {q: float("nan")}
    print("| target | msgs/s | bystander p50 ms | bystander p99 ms | working p99 ms "
          "| loop lag p99 ms | loop lag max ms |")
    print("|---|---|---|---|---|---|---|")
    for name, runs in rows.items():
        by = lambda q: lambda r: (r["bystander_latency_ns"] or r["latency_ns"])[q]
        print(f"| {name} | {cell(runs, lambda r: r.get('msgs_per_sec'), lambda v: f'{v:,.0f}')} "
              f"| {cell(runs, by('p50'), ms)} | {cell(runs, by('p99'), ms)} "
              f"| {cell(runs, lambda r: r['working_latency_ns']['p99'], ms)} "
              f"| {cell(runs, lambda r: lag(r, 'p99')['p99'], ms)} "
              f"| {cell(runs, lambda r: lag(r, 'max')['max'], ms)} |")
PY
}

for part in "${parts[@]}"; do
    case $part in
        echo)
            for clients in 100 10000; do
                # A long timeout: at 10,000 clients a slow server's answers take seconds, and
                # a client that gave up would no longer be counted.
                measure "echo/c$clients" --clients "$clients" --timeout 30s
                echo "### plain echo, $clients clients"
                medians "$out/echo/c$clients" echo
            done
            ;;
        pitfall)
            for work in block:1ms sleep:1ms offload:1ms; do
                measure "pitfall/${work//[:.]/_}" --clients 100 --work "$work" --work-every 10
                echo "### --work $work on 1 message in 10, 100 clients"
                medians "$out/pitfall/${work//[:.]/_}" pitfall
            done
            ;;
    esac
done
