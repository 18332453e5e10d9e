#!/usr/bin/env bash
# Sweep every target x clients x message size with loadgen, plus connection churn (a new
# connection per message) at the first size: one result file per point.
# Resumable: a point whose result file is complete and was measured with the same settings is
# skipped (unless --force); one cut short or measured otherwise is measured again, and the script
# says why. Ctrl-C stops the sweep after the point being measured. Charts: scripts/charts.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

usage() {
    cat <<'USAGE'
usage: scripts/sweep.sh [--quick] [--force] [--out DIR] [--targets LIST]
                        [--clients "N ..."] [--sizes "BYTES ..."] [--duration DUR] [--warmup DUR]
                        [--repeat N] [--no-churn]

  --quick      clients 1 10 100 1000, sizes 64 1KiB, 2s windows, 500ms warm-up
  --force      measure every point again, even one already measured with these settings
  --out DIR    where result files go (default: results/sweep)
  --targets    comma-separated targets (default: all; see `loadgen --list-targets`)
  --clients    client counts (default: 1 10 100 1000 10000)
  --sizes      message sizes (default: 64 1KiB 16KiB)
  --duration   measured window per point (default: 10s)
  --warmup     warm-up per point (default: 2s)
  --repeat N   runs per point, each with a fresh server; the file keeps all of them and tables
               show their medians with confidence intervals (default: 3)
  --no-churn   leave out the churn points: by default every target x clients is also measured
               with --connection-mode per-message at the first size (64 B), files *-per-message.json

Ctrl-C stops the sweep and keeps every point measured in full; run the same command again to
resume. The estimate printed at the start counts warm-up + window + about 0.5 s per point.
USAGE
}

start_script sweep "$@"
out=results/sweep targets=all force=0
clients="1 10 100 1000 10000" sizes="64 1KiB 16KiB" duration=10s warmup=2s repeat=3 churn=1
while (($#)); do
    case $1 in
        --quick) clients="1 10 100 1000" sizes="64 1KiB" duration=2s warmup=500ms ;;
        --force) force=1 ;;
        --out) out=$2; shift ;;
        --targets) targets=$2; shift ;;
        --clients) clients=$2; shift ;;
        --sizes) sizes=$2; shift ;;
        --duration) duration=$2; shift ;;
        --warmup) warmup=$2; shift ;;
        --repeat) repeat=$2; shift ;;
        --no-churn) churn=0 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "sweep.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

build_tools
if [[ $targets == all ]]; then
    targets=$("$loadgen" --list-targets | awk '{print $1}' | paste -sd, -)
fi
IFS=, read -ra target_list <<<"$targets"
read -ra client_list <<<"$clients"
read -ra size_list <<<"$sizes"

# Every point as `TARGET CLIENTS SIZE MODE`: persistent connections at every size, and (unless
# --no-churn) a new connection per message at the first size, where the connection's cost shows.
points=()
for t in "${target_list[@]}"; do
    for c in "${client_list[@]}"; do
        for s in "${size_list[@]}"; do points+=("$t $c $s persistent"); done
        ((churn)) && points+=("$t $c ${size_list[0]} per-message")
    done
done

# file TARGET CLIENTS SIZE MODE: where that point's result goes.
file() {
    if [[ $4 == persistent ]]; then echo "$out/$1-c$2-m$3.json"; else echo "$out/$1-c$2-m$3-$4.json"; fi
}

# status TARGET CLIENTS SIZE MODE: `done: SUMMARY`, `missing` or `redo: WHY` for that point's
# file: it counts as done only if complete and measured with these settings (`loadgen status`).
status() {
    "$loadgen" status "$(file "$@")" --target "$1" --clients "$2" --msg-size "$3" \
        --connection-mode "$4" --duration "$duration" --warmup "$warmup" --repeat "$repeat"
}

# plan TARGET CLIENTS SIZE MODE: its status, unless --force measures everything again.
plan() {
    if ((force)); then echo "redo: --force"; else status "$@"; fi
}

total=${#points[@]}
todo=0
for p in "${points[@]}"; do
    read -r t c s m <<<"$p"
    [[ $(plan "$t" "$c" "$s" "$m") == done:* ]] || todo=$((todo + 1))
done
echo "sweep: $total points ($todo to measure, $((total - todo)) already done) into $out/;" \
     "$(estimate "$((todo * repeat))" "$warmup" "$duration")"

mkdir -p "$out"
i=0 failed=0 measured=0 start=$SECONDS
for p in "${points[@]}"; do
    read -r t c s m <<<"$p"
    stop_if_interrupted
    i=$((i + 1))
    result=$(file "$t" "$c" "$s" "$m")
    label=$(printf '[%d/%d] %-13s clients %-5s size %-5s' "$i" "$total" "$t" "$c" "$s")
    [[ $m == persistent ]] || label+=" $m"
    # (Empty if Ctrl-C stopped echo-charts: the next turn stops the sweep.)
    state=$(plan "$t" "$c" "$s" "$m") || true
    stop_if_interrupted
    case $state in
        done:*) echo "$label skipped (already measured: ${state#done: })"; continue ;;
        redo:*) echo "$label measuring again: ${state#redo: }" ;;
    esac
    log=${result%/*}/.${result##*/}
    log=${log%.json}.log
    if measure "$log" "$loadgen" --target "$t" --clients "$c" --msg-size "$s" \
        --connection-mode "$m" --duration "$duration" --warmup "$warmup" --repeat "$repeat" \
        --output "$result"; then
        state=$(status "$t" "$c" "$s" "$m") || true
        measured=$((measured + 1))
        echo "$label ${state#done: }  ($(progress "$measured" "$todo" "$start"))"
        rm -f "$log"
    elif ((interrupted)); then
        echo "$label interrupted"
    else
        failed=$((failed + 1))
        echo "$label FAILED: $(why_failed "$log") (log: $log)"
    fi
done
stop_if_interrupted
echo "sweep: done in $((SECONDS - start))s; $failed failed"
# One page with every chart and its numbers (a failed point is listed there, not hidden).
"$charts" report "$out" || echo "sweep: no report.html written (see above)" >&2
((failed == 0))
