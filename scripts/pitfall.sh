#!/usr/bin/env bash
# Never block the event loop, in numbers. Runs every async runtime (and, for contrast, the
# thread-per-connection server) under the same load with each kind of per-message work: a plain
# echo, the right way to wait (sleep), the pitfall (block: a blocking sleep on the loop), its fix
# (offload to the blocking pool), CPU work, and the real-world forms of the mistake (reading a
# file, querying SQLite) blocking and offloaded. Then the synchronous server against several
# clients. Prints one table and draws the pitfall chart.
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: scripts/pitfall.sh [--quick] [--out DIR] [--clients N] [--every N] [--work-time DUR]
                          [--file-size BYTES]

  --quick       2s windows instead of 5s (per --repeat, about 3 minutes instead of 6)
  --out DIR     where result files and the chart go (default: results/pitfall)
  --clients N   concurrent clients (default: 100)
  --every N     work on every Nth message of each connection (default: 10)
  --work-time   how long sleep/block/offload/cpu work takes (default: 1ms)
  --file-size   bytes the file work reads per message (default: 1MiB)
  --repeat N    runs of each target per work, in rounds, each with a fresh server (default: 3)
USAGE
}

out=results/pitfall clients=100 every=10 work_time=1ms file_size=1MiB duration=5s warmup=1s
repeat=3
while (($#)); do
    case $1 in
        --quick) duration=2s warmup=500ms ;;
        --out) out=$2; shift ;;
        --clients) clients=$2; shift ;;
        --every) every=$2; shift ;;
        --work-time) work_time=$2; shift ;;
        --file-size) file_size=$2; shift ;;
        --repeat) repeat=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "pitfall.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

cd "$(dirname "$0")/.."
cargo build --release --quiet -p loadgen -p echo-charts
loadgen=target/release/loadgen
mkdir -p "$out"

targets=tokio,tokio-current,async-std,smol,threads
# Two groups, each drawn as its own chart: waiting (the article's time.sleep lesson, and CPU work
# for contrast), and the real-world forms of the mistake (a file read, a database query).
waits=(none "sleep:$work_time" "block:$work_time" "offload:$work_time" "cpu:$work_time")
io=(none "file-block:$file_size" "file-offload:$file_size" sqlite-block sqlite-offload)
echo "pitfall: $targets, $clients clients, work on 1 message in $every, $duration windows, $repeat runs each"
measure() { # GROUP WORK
    echo "== $1: --work $2"
    "$loadgen" --target "$targets" --clients "$clients" --work "$2" --work-every "$every" \
        --duration "$duration" --warmup "$warmup" --repeat "$repeat" \
        --output "$out/$1/${2//[:.]/_}.json" >/dev/null
}
for work in "${waits[@]}"; do measure wait "$work"; done
for work in "${io[@]}"; do measure io "$work"; done
# The synchronous server: one client is served, the others wait for a turn that never comes.
echo "== the blocking server, 10 clients"
"$loadgen" --target blocking --clients 10 --duration "$duration" --warmup "$warmup" \
    --timeout 1s --repeat "$repeat" --output "$out/blocking.json" >/dev/null

echo
"$loadgen" table "$out/wait" "$out/io" "$out/blocking.json"
for group in wait io; do
    target/release/echo-charts "$out/$group" --out "$out/charts/$group" --only pitfall
done
