#!/usr/bin/env bash
# Is loadgen ever the bottleneck? Against one tokio server (one worker, pinned to CPU 0), with the
# clients on CPU 1, compare loadgen with the leanest event-driven client we could write
# (crates/loadgen/examples/pingpong.rs: raw epoll, no checks, no histogram) at 1, 100 and 1000
# clients: round trips per second drawn from the server, and CPU per message on each side.
# Runs alternate A/B/A/B... and the table shows medians, because run-to-run noise here is large.
set -euo pipefail

usage() {
    echo "usage: scripts/client-overhead.sh [--rounds N] [--duration SECONDS] [--clients \"N ...\"]"
}
rounds=3 duration=5 clients="1 100 1000"
while (($#)); do
    case $1 in
        --rounds) rounds=$2; shift ;;
        --duration) duration=$2; shift ;;
        --clients) clients=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "client-overhead.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
cd "$(dirname "$0")/.."
cargo build --release --quiet -p loadgen --example pingpong
loadgen=target/release/loadgen pingpong=target/release/examples/pingpong
ticks=$(getconf CLK_TCK)

cpu_ns() { awk -v t="$ticks" '{ sub(/.*\) /, ""); split($0, f, " "); printf "%.0f", (f[12] + f[13]) * 1e9 / t }' "/proc/$1/stat"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

log=$(mktemp)
trap 'kill "$server" 2>/dev/null || true; rm -f "$log"' EXIT
printf '%-8s %-9s %12s %16s %16s\n' clients client "msgs/s" "client ns/msg" "server ns/msg"
for n in $clients; do
    taskset -c 0 "$loadgen" server tokio --addr 127.0.0.1:0 --threads 1 --max-connections 20000 >"$log" &
    server=$!
    for _ in $(seq 50); do grep -q '^listening' "$log" 2>/dev/null && break; sleep 0.1; done
    addr=$(sed -n 's/^listening on //p' "$log")
    declare -a lg_rate=() lg_cli=() lg_srv=() pp_rate=() pp_cli=() pp_srv=()
    for _ in $(seq "$rounds"); do
        json=$("$loadgen" --addr "$addr" --server-pid "$server" --clients "$n" --server-cpus 0 \
            --client-cpus 1 --duration "${duration}s" --warmup 1s --no-save --json 2>/dev/null)
        read -r rate cli srv < <(python3 -c 'import json,sys; t=json.load(sys.stdin)["targets"][0]
print(t["msgs_per_sec"], t["client"]["cpu_ns_per_msg"], t["server"]["cpu_ns_per_msg"])' <<<"$json")
        lg_rate+=("$rate") lg_cli+=("$cli") lg_srv+=("$srv")

        before=$(cpu_ns "$server")
        out=$(taskset -c 1 "$pingpong" "$addr" "$n" "$duration")
        after=$(cpu_ns "$server")
        rate=$(sed -E 's/.*: ([0-9]+) msgs\/s.*/\1/' <<<"$out")
        cli=$(sed -E 's/.*, ([0-9]+) ns CPU\/msg/\1/' <<<"$out")
        trips=$(sed -E 's/.* ([0-9]+) round trips.*/\1/' <<<"$out")
        pp_rate+=("$rate") pp_cli+=("$cli") pp_srv+=("$(((after - before) / (trips > 0 ? trips : 1)))")
    done
    for who in loadgen pingpong; do
        if [[ $who == loadgen ]]; then r=("${lg_rate[@]}") c=("${lg_cli[@]}") s=("${lg_srv[@]}")
        else r=("${pp_rate[@]}") c=("${pp_cli[@]}") s=("${pp_srv[@]}"); fi
        printf '%-8s %-9s %12.0f %16.0f %16.0f\n' "$n" "$who" \
            "$(printf '%s\n' "${r[@]}" | median)" "$(printf '%s\n' "${c[@]}" | median)" \
            "$(printf '%s\n' "${s[@]}" | median)"
    done
    kill -TERM "$server"; wait "$server" 2>/dev/null || true
done
