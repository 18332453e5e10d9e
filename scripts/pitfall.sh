#!/usr/bin/env bash
# Never block the event loop, in numbers. Runs every async runtime (and, for contrast, the
# thread-per-connection server) under the same load with each kind of per-message work: a plain
# echo, the right way to wait (sleep), the pitfall (block: a blocking sleep on the loop), its fix
# (offload to the blocking pool), CPU work, and the real-world forms of the mistake (reading a
# file, querying SQLite) blocking and offloaded. Then the synchronous server against several
# clients. Prints one table and draws the pitfall chart.
#
# Resumable like sweep.sh: a run already measured in full with the same settings is kept (unless
# --force); Ctrl-C stops after the run being measured.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

usage() {
    cat <<'USAGE'
usage: scripts/pitfall.sh [--quick] [--force] [--out DIR] [--clients N] [--every N]
                          [--work-time DUR] [--file-size BYTES] [--repeat N] [--targets LIST]

  --quick       2s windows and 500ms warm-ups instead of 5s and 1s
  --force       measure every run again, even one already measured with these settings
  --out DIR     where result files and the chart go (default: results/pitfall)
  --clients N   concurrent clients (default: 100)
  --every N     work on every Nth message of each connection (default: 10)
  --work-time   how long sleep/block/offload/cpu work takes (default: 1ms)
  --file-size   bytes the file work reads per message (default: 1MiB)
  --repeat N    runs of each target per work, in rounds, each with a fresh server (default: 3)
  --targets L   comma-separated targets instead of every event loop, the two std::net servers
                and every program target set up here

Ctrl-C stops it and keeps every run measured in full; run the same command again to resume.
The estimate printed at the start counts warm-up + window + about 0.5 s per target and run;
each run's line then says the time elapsed and, from the pace so far, the time left.
USAGE
}

start_script pitfall "$@"
out=results/pitfall clients=100 every=10 work_time=1ms file_size=1MiB duration=5s warmup=1s
force=0 repeat=3 only=""
while (($#)); do
    case $1 in
        --quick) duration=2s warmup=500ms ;;
        --force) force=1 ;;
        --out) out=$2; shift ;;
        --clients) clients=$2; shift ;;
        --every) every=$2; shift ;;
        --work-time) work_time=$2; shift ;;
        --file-size) file_size=$2; shift ;;
        --repeat) repeat=$2; shift ;;
        --targets) only=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "pitfall.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

build_tools
mkdir -p "$out"

# Every server with an event loop to block, and for contrast the two std::net designs whose
# blocking calls block only their own thread.
targets=tokio,tokio-current,async-std,smol,mio,monoio,compio,threads,thread-pool
# The article's own servers and the other languages' (Go, Node.js, gevent), each once
# scripts/setup.sh has set it up. A kind of work a runtime does not do is reported as skipped.
available=$("$loadgen" --list-targets 2>/dev/null | cut -d' ' -f1)
for program in python-asyncio python-uvloop python-threads python-gevent go node; do
    if grep -qx -- "$program" <<<"$available"; then targets+=,$program; fi
done
[[ -z $only ]] || targets=$only
# Two groups, each drawn as its own chart: waiting (the article's time.sleep lesson, and CPU work
# for contrast), and the real-world forms of the mistake (a file read, a database query).
waits=(none "sleep:$work_time" "block:$work_time" "offload:$work_time" "cpu:$work_time")
io=(none "file-block:$file_size" "file-offload:$file_size" sqlite-block sqlite-offload)
# The synchronous server: one client is served, the others wait for a turn that never comes.
blocking_clients=10 blocking_timeout=1s

n_targets=$(tr , '\n' <<<"$targets" | wc -l)

# each_run FUNCTION: calls FUNCTION NAME FILE TARGETS-IN-IT FLAGS... for every run, in order.
# FLAGS are loadgen's, and also what `loadgen status` checks the file against.
each_run() {
    local group work
    for group in wait io; do
        local -n works=${group/wait/waits}
        for work in "${works[@]}"; do
            "$1" "$group: --work $work" "$out/$group/${work//[:.]/_}.json" "$n_targets" \
                --target "$targets" --clients "$clients" --work "$work" --work-every "$every"
        done
    done
    "$1" "the blocking server, $blocking_clients clients" "$out/blocking.json" 1 \
        --target blocking --clients "$blocking_clients" --timeout "$blocking_timeout"
}

# state_of FILE FLAGS...: `done: SUMMARY`, `missing` or `redo: WHY` (see sweep.sh's status).
# Empty if Ctrl-C stopped echo-charts.
state_of() {
    local file=$1
    shift
    if ((force)); then
        echo "redo: --force"
    else
        "$loadgen" status "$file" --duration "$duration" --warmup "$warmup" "$@" || true
    fi
}

count() {
    [[ $(state_of "$2" "${@:4}") == done:* ]] || todo=$((todo + $3 * repeat))
}
todo=0
each_run count
echo "pitfall: $targets, $clients clients, work on 1 message in $every, $duration windows;" \
     "$todo target runs to measure, $(estimate "$todo" "$warmup" "$duration")"

# run NAME FILE TARGETS-IN-IT FLAGS...: measures one run unless FILE already holds it.
run() {
    local name=$1 file=$2 state
    stop_if_interrupted
    state=$(state_of "$file" "${@:4}")
    stop_if_interrupted
    # Where the whole run stands, in target runs: measured so far of those to measure.
    local stand
    stand="[$(progress "$measured" "$todo" "$start")]"
    case $state in
        done:*) echo "== $name: kept (already measured)"; return ;;
        redo:*) echo "== $name: measuring again: ${state#redo: } $stand" ;;
        *) echo "== $name $stand" ;;
    esac
    local log
    log=$out/.$(basename "$file" .json).log
    if measure "$log" "$loadgen" --duration "$duration" --warmup "$warmup" --repeat "$repeat" \
        --output "$file" "${@:4}"; then
        rm -f "$log"
        measured=$((measured + $3 * repeat))
    elif ((interrupted)); then
        stop_if_interrupted
    else
        echo "   FAILED: $(why_failed "$log") (log: $log)"
        failed=$((failed + 1))
    fi
}

failed=0 measured=0 start=$SECONDS
each_run run
stop_if_interrupted
echo "pitfall: measured in $((SECONDS - start))s; $failed failed"

echo
"$loadgen" table "$out/wait" "$out/io" "$out/blocking.json"
for group in wait io; do
    "$charts" "$out/$group" --out "$out/charts/$group" --only pitfall
done
"$charts" report "$out"
((failed == 0))
