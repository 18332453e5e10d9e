#!/usr/bin/env bash
# Is loadgen ever the bottleneck? Against one server (`--threads 1`, pinned to CPU 0; tokio and
# mio unless --servers names others), with the client on CPU 1, compare loadgen with the leanest
# event-driven client we know how to write (crates/loadgen/examples/pingpong.rs: epoll, read
# until EAGAIN, write, nothing else) at each client count and message size: round trips per
# second drawn from the server, and CPU per message on each side. Each round runs both clients,
# one after the other (who goes first alternates); the first table shows each client's medians
# (min-max in brackets), the second the median of the rounds' paired ratios with a 90% interval
# for it, because the machine's speed drifts from minute to minute and a pair shares its minute;
# more rounds (--rounds) narrow the interval. Each run measures loadgen's default window (10 s,
# after 2 s of warm-up): at 10,000 clients the machine can switch between two speeds a few
# seconds into a run, and the shorter the window, the more that start-up transient weighs
# against the clients' own costs. Ctrl-C stops it all.
set -euo pipefail
# For release_dir, need_binaries and ratio_ci only: sourcing installs no traps.
source "$(dirname "$0")/lib.sh"
script=client-overhead

usage() {
    echo "usage: scripts/client-overhead.sh [--rounds N] [--duration SECONDS] [--warmup SECONDS] [--clients \"N ...\"] [--sizes \"BYTES ...\"] [--servers \"TARGET ...\"]"
}
rounds=5 duration=10 warmup=2 clients="10 100 1000 10000" sizes="64 16384" targets="tokio mio"
bad() { echo "client-overhead.sh: $1" >&2; usage >&2; exit 2; }
while (($#)); do
    case $1 in
        --rounds|--duration|--warmup|--clients|--sizes|--servers) (($# > 1)) || bad "$1 needs a value" ;;&
        --rounds) rounds=$2; shift ;;
        --duration) duration=$2; shift ;;
        --warmup) warmup=$2; shift ;;
        --clients) clients=$2; shift ;;
        --sizes) sizes=$2; shift ;;
        --servers) targets=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) bad "unknown option '$1'" ;;
    esac
    shift
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || bad "--rounds must be a whole number of rounds, at least 1 (got '$rounds')"
[[ $duration =~ ^[0-9]*[.]?[0-9]+$ && ! $duration =~ ^[0.]+$ ]] || bad "--duration must be a number of seconds above 0 (got '$duration')"
[[ $warmup =~ ^[0-9]*[.]?[0-9]+$ ]] || bad "--warmup must be a number of seconds (got '$warmup')"
cd "$(dirname "$0")/.."
# Both built in release mode, or taken from $ECHO_BENCH_BIN (a directory holding loadgen and
# examples/pingpong: what the scripts' own tests use).
bin=${ECHO_BENCH_BIN:-}
if [[ -z $bin ]]; then
    cargo build --release --quiet -p loadgen --bin loadgen --example pingpong
    bin=$(release_dir)
fi
loadgen=$bin/loadgen pingpong=$bin/examples/pingpong
need_binaries "$loadgen" "$pingpong"

server=""
log=$(mktemp)
stop_server() {
    if [[ -n $server ]]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    server=""
}
# Ctrl-C stops the whole script, not only the run in progress: every child goes with it.
trap 'trap - INT; stop_server; pkill -TERM -P $$ 2>/dev/null || true; rm -f "$log"; exit 130' INT TERM
trap 'stop_server; rm -f "$log"' EXIT

# Median of the numbers on stdin, with their range, to DECIMALS places (0 unless given):
# `median [min-max]`, e.g. `281316 [280667-285753]` or, with 2, `0.98 [0.95-1.01]`.
median() {
    sort -g | awk -v d="${1:-0}" '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        f = "%." d "f"
        printf f " [" f "-" f "]", m, v[1], v[NR] }'
}
heading="# client overhead: $(lscpu | sed -n 's/^Model name: *//p'), $(date -u +%Y-%m-%dT%H:%MZ), servers ($targets) --threads 1 on CPU 0, clients on CPU 1, $rounds rounds of ${duration} s after ${warmup} s of warm-up"
# The tables are printed whole at the end, so that the progress on stderr never lands inside
# them on a terminal.
medians=() ratios=()
for size in $sizes; do
    for n in $clients; do
      for target in $targets; do
        taskset -c 0 "$loadgen" server "$target" --addr 127.0.0.1:0 --threads 1 --max-connections 20000 >"$log" &
        server=$!
        for _ in $(seq 50); do grep -q '^listening' "$log" 2>/dev/null && break; sleep 0.1; done
        addr=$(sed -n 's/^listening on //p' "$log")
        lg_rate=() lg_cli=() lg_srv=() pp_rate=() pp_cli=() pp_srv=() rate_ratio=() cpu_ratio=()
        for round in $(seq "$rounds"); do
            # Who goes first alternates, so a drift in the machine's speed during a round
            # (common here) favours neither client.
            if ((round % 2)); then order="loadgen pingpong"; else order="pingpong loadgen"; fi
            for who in $order; do
                if [[ $who == loadgen ]]; then
                    json=$("$loadgen" --addr "$addr" --server-pid "$server" --clients "$n" --msg-size "$size" \
                        --server-cpus 0 --client-cpus 1 --duration "${duration}s" --warmup "${warmup}s" --no-save --json 2>/dev/null)
                    read -r rate cli srv < <(python3 -c 'import json,sys; t=json.load(sys.stdin)["targets"][0]
print(t["msgs_per_sec"], t["client"]["cpu_ns_per_msg"], t["server"]["cpu_ns_per_msg"])' <<<"$json")
                    lg_rate+=("$rate") lg_cli+=("$cli") lg_srv+=("$srv")
                else
                    out=$(taskset -c 1 "$pingpong" "$addr" "$n" "$duration" "$size" "$warmup" "$server")
                    rate=$(sed -E 's/.*: ([0-9]+) msgs\/s.*/\1/' <<<"$out")
                    cli=$(sed -E 's/.*, ([0-9]+) ns CPU\/msg.*/\1/' <<<"$out")
                    srv=$(sed -E 's/.*, ([0-9]+) ns server CPU\/msg/\1/' <<<"$out")
                    pp_rate+=("$rate") pp_cli+=("$cli") pp_srv+=("$srv")
                fi
            done
            printf '%s, %s B, %s clients, round %s of %s: loadgen %.0f msgs/s at %.0f ns/msg, pingpong %.0f at %.0f\n' \
                "$target" "$size" "$n" "$round" "$rounds" "${lg_rate[-1]}" "${lg_cli[-1]}" "${pp_rate[-1]}" "${pp_cli[-1]}" >&2
            # Each round's two runs are a pair: their ratio cancels the drift between rounds.
            rate_ratio+=("$(awk -v a="${lg_rate[-1]}" -v b="${pp_rate[-1]}" 'BEGIN { printf "%.4f", a / b }')")
            cpu_ratio+=("$(awk -v a="${lg_cli[-1]}" -v b="${pp_cli[-1]}" 'BEGIN { printf "%.4f", a / b }')")
        done
        for who in loadgen pingpong; do
            if [[ $who == loadgen ]]; then r=("${lg_rate[@]}") c=("${lg_cli[@]}") s=("${lg_srv[@]}")
            else r=("${pp_rate[@]}") c=("${pp_cli[@]}") s=("${pp_srv[@]}"); fi
            medians+=("$(printf '| %s | %s | %s | %s | %s | %s | %s |' "$target" "$size" "$n" "$who" \
                "$(printf '%s\n' "${r[@]}" | median)" "$(printf '%s\n' "${c[@]}" | median)" \
                "$(printf '%s\n' "${s[@]}" | median)")")
        done
        read -r rr rr_ci rr_side rr_raw < <(printf '%s\n' "${rate_ratio[@]}" | ratio_ci 0.97)
        read -r cr cr_ci cr_side cr_raw < <(printf '%s\n' "${cpu_ratio[@]}" | ratio_ci 1.05)
        # Judged on the unrounded medians; where an interval holds its line, more rounds could
        # turn the verdict.
        goal=$(awk -v r="$rr_raw" -v c="$cr_raw" 'BEGIN { print (r >= 0.97 && c <= 1.05) ? "met" : "not met" }')
        if [[ $rr_side == crosses || $cr_side == crosses ]]; then goal+=", within noise"; fi
        ratios+=("| $target | $size | $n | $rr $rr_ci | $cr $cr_ci | $goal |")
        stop_server
      done
    done
done
echo "$heading"
printf '| server | size | clients | client | msgs/s | client ns/msg | server ns/msg |\n|:--|--:|--:|:--|--:|--:|--:|\n'
printf '%s\n' "${medians[@]}"
printf '\nloadgen / yardstick, median of the rounds'"'"' paired ratios [90%% interval of that median]; the goal is >= 0.97 the msgs/s and <= 1.05 the client CPU per message ("within noise": an interval holds its line):\n\n| server | size | clients | msgs/s | client CPU/msg | goal |\n|:--|--:|--:|--:|--:|:--|\n'
printf '%s\n' "${ratios[@]}"
