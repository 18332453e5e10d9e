#!/usr/bin/env bash
# Is loadgen ever the bottleneck? Against one server (`--threads 1`, pinned to CPU 0; tokio unless
# --server names another target), with
# the client on CPU 1, compare loadgen with the leanest event-driven client we know how to write
# (crates/loadgen/examples/pingpong.rs: epoll, read until EAGAIN, write, nothing else) at each
# client count and message size: round trips per second drawn from the server, and CPU per
# message on each side. Runs alternate loadgen/yardstick within each round, and the table shows
# medians (min-max in brackets), because run-to-run noise here is large. Ctrl-C stops it all.
set -euo pipefail

usage() {
    echo "usage: scripts/client-overhead.sh [--rounds N] [--duration SECONDS] [--clients \"N ...\"] [--sizes \"BYTES ...\"] [--server TARGET]"
}
rounds=3 duration=5 clients="10 100 1000 10000" sizes="64 16384" target=tokio
while (($#)); do
    case $1 in
        --rounds) rounds=$2; shift ;;
        --duration) duration=$2; shift ;;
        --clients) clients=$2; shift ;;
        --sizes) sizes=$2; shift ;;
        --server) target=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "client-overhead.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
cd "$(dirname "$0")/.."
cargo build --release --quiet -p loadgen --example pingpong
loadgen=target/release/loadgen pingpong=target/release/examples/pingpong
ticks=$(getconf CLK_TCK)

server=""
log=$(mktemp)
stop_server() {
    if [[ -n $server ]]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    server=""
}
# Ctrl-C stops the whole script, not only the run in progress: every child goes with it.
trap 'trap - INT; stop_server; pkill -TERM -P $$ 2>/dev/null || true; rm -f "$log"; exit 130' INT TERM
trap 'stop_server; rm -f "$log"' EXIT

cpu_ns() { awk -v t="$ticks" '{ sub(/.*\) /, ""); split($0, f, " "); printf "%.0f", (f[12] + f[13]) * 1e9 / t }' "/proc/$1/stat"; }
# Median of the numbers on stdin, with their range: `median [min-max]`.
median() {
    sort -g | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.0f [%.0f-%.0f]", m, v[1], v[NR] }'
}
mid() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "# client overhead: $(lscpu | sed -n 's/^Model name: *//p'), $(date -u +%Y-%m-%dT%H:%MZ), server $target --threads 1 on CPU 0, clients on CPU 1, $rounds rounds of ${duration} s"
printf '| size | clients | client | msgs/s | client ns/msg | server ns/msg |\n|--:|--:|:--|--:|--:|--:|\n'
ratios=()
for size in $sizes; do
    for n in $clients; do
        taskset -c 0 "$loadgen" server "$target" --addr 127.0.0.1:0 --threads 1 --max-connections 20000 >"$log" &
        server=$!
        for _ in $(seq 50); do grep -q '^listening' "$log" 2>/dev/null && break; sleep 0.1; done
        addr=$(sed -n 's/^listening on //p' "$log")
        lg_rate=() lg_cli=() lg_srv=() pp_rate=() pp_cli=() pp_srv=()
        for _ in $(seq "$rounds"); do
            json=$("$loadgen" --addr "$addr" --server-pid "$server" --clients "$n" --msg-size "$size" \
                --server-cpus 0 --client-cpus 1 --duration "${duration}s" --warmup 1s --no-save --json 2>/dev/null)
            read -r rate cli srv < <(python3 -c 'import json,sys; t=json.load(sys.stdin)["targets"][0]
print(t["msgs_per_sec"], t["client"]["cpu_ns_per_msg"], t["server"]["cpu_ns_per_msg"])' <<<"$json")
            lg_rate+=("$rate") lg_cli+=("$cli") lg_srv+=("$srv")

            before=$(cpu_ns "$server")
            out=$(taskset -c 1 "$pingpong" "$addr" "$n" "$duration" "$size")
            after=$(cpu_ns "$server")
            rate=$(sed -E 's/.*: ([0-9]+) msgs\/s.*/\1/' <<<"$out")
            cli=$(sed -E 's/.*, ([0-9]+) ns CPU\/msg/\1/' <<<"$out")
            trips=$(sed -E 's/.* ([0-9]+) round trips.*/\1/' <<<"$out")
            pp_rate+=("$rate") pp_cli+=("$cli") pp_srv+=("$(((after - before) / (trips > 0 ? trips : 1)))")
        done
        for who in loadgen pingpong; do
            if [[ $who == loadgen ]]; then r=("${lg_rate[@]}") c=("${lg_cli[@]}") s=("${lg_srv[@]}")
            else r=("${pp_rate[@]}") c=("${pp_cli[@]}") s=("${pp_srv[@]}"); fi
            printf '| %s | %s | %s | %s | %s | %s |\n' "$size" "$n" "$who" \
                "$(printf '%s\n' "${r[@]}" | median)" "$(printf '%s\n' "${c[@]}" | median)" \
                "$(printf '%s\n' "${s[@]}" | median)"
        done
        rate_ratio=$(awk -v a="$(printf '%s\n' "${lg_rate[@]}" | mid)" -v b="$(printf '%s\n' "${pp_rate[@]}" | mid)" 'BEGIN { printf "%.2f", a / b }')
        cpu_ratio=$(awk -v a="$(printf '%s\n' "${lg_cli[@]}" | mid)" -v b="$(printf '%s\n' "${pp_cli[@]}" | mid)" 'BEGIN { printf "%.2f", a / b }')
        ratios+=("| $size | $n | $rate_ratio | $cpu_ratio |")
        stop_server
    done
done
printf '\nloadgen / yardstick (medians):\n\n| size | clients | msgs/s | client CPU/msg |\n|--:|--:|--:|--:|\n'
printf '%s\n' "${ratios[@]}"
