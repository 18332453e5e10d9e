#!/usr/bin/env bash
# Fidelity: is every target as fast as the leanest idiomatic server of its own runtime, at every
# scale, and does it serve every client that server serves? Each target runs against its minimal
# counterpart (crates/<x>/examples/minimal*.rs: the runtime's plainest echo server, 16 KiB buffer,
# TCP_NODELAY; python/*_minimal.py for the Python targets, in the same API as each) under
# identical load: the server pinned to CPU 0 with one worker (--threads 1), the leanest client
# (loadgen's `pingpong` example: raw epoll, no checks) pinned to CPU 1, 64 B messages, at each
# client count of --clients. Runs alternate target/minimal (and which goes first) round by
# round, because the machine's speed drifts from minute to minute: a round's two runs share
# their minute, so their ratio cancels the drift. Each pair and scale gets the median of those
# paired ratios with a 90% interval for it (scripts/lib.sh: ratio_ci) and a verdict against the
# goal: at least 0.95x the minimal server's msgs/s, and no more starved clients (clients that
# completed no round trip in the window: median over the rounds) than it. The table also shows
# the server's CPU time per round trip, which is steadier than throughput when other work shares
# the machine. A target whose runtime cannot start here (io_uring disabled, say) is reported as
# skipped.
#
# The program targets are paired with their own languages' leanest servers (Go's io.Copy per
# connection, Node's socket.pipe(socket), gevent's StreamServer: go/minimal, node/minimal.js,
# python/gevent_minimal.py), once scripts/setup.sh has set them up.
#
# Progress goes to stderr, the table to stdout at the end, the rows also to --out (rewritten
# whole after each row, so an interrupted run keeps every row it finished). Ctrl-C stops the
# whole script, servers and client included, prints the rows finished so far, and exits 130.
set -euo pipefail
# For release_dir, need_binaries, progress, estimate and ratio_ci only: sourcing installs no traps.
source "$(dirname "$0")/lib.sh"
script=fidelity

# The goal: a target draws at least this share of its minimal server's msgs/s.
GOAL=0.95
# The client's warm-up before each window, in seconds.
WARMUP_S=1
# Seconds each run takes beyond its warm-up and window, for the estimate (lib.sh's `estimate`):
# starting, connecting and stopping (well under 1 s up to 1000 clients; more at 10,000).
RUN_OVERHEAD_S=1

usage() {
    cat <<'EOF'
usage: scripts/fidelity.sh [--clients "N ..."] [--rounds N] [--duration SECONDS] [--size BYTES]
                           [--targets "NAME ..."] [--out FILE]

Runs each target against its runtime's minimal server (server on CPU 0, --threads 1; the
`pingpong` client on CPU 1), in alternated rounds at each client count, and prints per target
and scale: medians of msgs/s, the median of the rounds' paired ratios target/minimal with its
90% interval, starved clients (median and max over the rounds, target and minimal), server CPU
per round trip, and the verdict: met when the ratio is at least 0.95 and the target starves no
more clients than its minimal server (medians); "msgs/s within noise" when the interval holds
0.95 (more rounds would decide it).

  --clients "N ..."   client counts, one scale each, e.g. "100 1000 10000" (default: 100)
  --rounds N          alternated rounds per target and scale (default: 5; use 7 or more at
                      1000 clients and above, where runs vary most: with 7 rounds the
                      interval is min-max, with 9 the 2nd to 8th)
  --duration SECONDS  each run's window, after the client's 1 s warm-up (default: 3)
  --size BYTES        message size (default: 64)
  --targets "NAME ..."  only these targets (default: every target with a minimal server)
  --out FILE          also write the rows as tab-separated values, one per target and scale,
                      with a header row; rewritten whole (temp + rename) after each row

A run takes about targets x scales x rounds x 2 x (duration + 2 s), more at 10,000 clients
(connecting them, and stopping the thread-per-connection servers, take seconds per run): the
16 targets at 100 clients with 5 rounds of 3 s, about 13 min; at 100, 1000 and 10,000 clients
with 7 rounds, about 1 h by that formula. It prints its own estimate first.
EOF
}
rounds=5 duration=3 clients=100 size=64 only="" out=""
bad() { echo "fidelity.sh: $1" >&2; usage >&2; exit 2; }
while (($#)); do
    case $1 in
        --rounds|--duration|--clients|--size|--targets|--out) (($# > 1)) || bad "$1 needs a value" ;;&
        --rounds) rounds=$2; shift ;;
        --duration) duration=$2; shift ;;
        --clients) clients=$2; shift ;;
        --size) size=$2; shift ;;
        --targets) only=$2; shift ;;
        --out) out=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) bad "unknown option '$1'" ;;
    esac
    shift
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || bad "--rounds must be a whole number of rounds, at least 1 (got '$rounds')"
[[ $duration =~ ^[0-9]*[.]?[0-9]+$ && ! $duration =~ ^[0.]+$ ]] || bad "--duration must be a number of seconds above 0 (got '$duration')"
[[ $size =~ ^[1-9][0-9]*$ ]] || bad "--size must be a number of bytes, at least 1 (got '$size')"
read -ra scales <<<"$clients"
((${#scales[@]})) || bad "--clients needs at least one client count"
for n in "${scales[@]}"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || bad "--clients takes whole numbers of clients, at least 1 each (got '$n')"
done
if [[ -n $out ]]; then
    [[ -d $(dirname "$out") ]] || bad "--out: no directory $(dirname "$out") to write $out in"
    out=$(realpath "$out")
fi
cd "$(dirname "$0")/.."

# Each target, its minimal counterpart and the package that holds it (an example of that
# package, or `program` for a server in another language).
pairs=(
    "threads threads-minimal echo-threads"
    "blocking blocking-minimal echo-blocking"
    "thread-pool thread-pool-minimal echo-thread-pool"
    "tokio tokio-minimal echo-tokio"
    "tokio-current tokio-current-minimal echo-tokio"
    "async-std async-std-minimal echo-async-std"
    "smol smol-minimal echo-smol"
    "mio mio-minimal echo-mio"
    "monoio monoio-minimal echo-monoio"
    "compio compio-minimal echo-compio"
    "python-threads python-threads-minimal program"
    "python-asyncio asyncio-minimal program"
    "python-uvloop uvloop-minimal program"
    "go go-minimal program"
    "node node-minimal program"
    "python-gevent gevent-minimal program"
)
selected=() known=()
for pair in "${pairs[@]}"; do
    read -r target _ _ <<<"$pair"
    known+=("$target")
    if [[ -z $only || " $only " == *" $target "* ]]; then selected+=("$pair"); fi
done
read -ra names <<<"$only"
for name in "${names[@]}"; do
    [[ " ${known[*]} " == *" $name "* ]] || bad "--targets: no minimal server for '$name' (the targets with one: ${known[*]})"
done
((${#selected[@]})) || bad "--targets names no target"

# The servers, their minimal counterparts and the client, built in release mode, or taken from
# $ECHO_BENCH_BIN (a directory holding echo-server and, in examples/, pingpong and the minimal
# servers: what the scripts' own tests use).
bin=${ECHO_BENCH_BIN:-}
if [[ -z $bin ]]; then
    packages=(-p echo-targets -p loadgen)
    for pair in "${selected[@]}"; do
        read -r _ _ package <<<"$pair"
        [[ $package == program ]] || packages+=(-p "$package")
    done
    echo "fidelity: building servers, their minimal counterparts and the client (release)..." >&2
    cargo build --release --quiet "${packages[@]}" --bins --examples
    bin=$(release_dir)
fi
target_dir=${bin%/*}
need_binaries "$bin/echo-server" "$bin/examples/pingpong"

# The command line of a minimal counterpart (its address included).
minimal_command() {
    local python="${ECHO_BENCH_PYTHON:-.venv/bin/python} -E -s"
    case $1 in
        go-minimal) echo "$target_dir/programs/echo-go-minimal --threads 1 --addr 127.0.0.1:0" ;;
        node-minimal) echo "${ECHO_BENCH_NODE:-node} node/minimal.js --addr 127.0.0.1:0" ;;
        gevent-minimal) echo "$python python/gevent_minimal.py --addr 127.0.0.1:0" ;;
        python-threads-minimal) echo "$python python/threads_minimal.py --addr 127.0.0.1:0" ;;
        asyncio-minimal) echo "$python python/asyncio_minimal.py --addr 127.0.0.1:0" ;;
        uvloop-minimal) echo "$python python/uvloop_minimal.py --addr 127.0.0.1:0" ;;
        *) echo "$bin/examples/$1 127.0.0.1:0" ;;
    esac
}

work=$(mktemp -d)
server="" client="" rows=() tsv=()
stop_children() {
    for pid in $client $server; do kill "$pid" 2>/dev/null || true; done
    for pid in $client $server; do wait "$pid" 2>/dev/null || true; done
    server="" client=""
}
trap 'stop_children; rm -rf "$work"; [[ -z $out ]] || rm -f "$out.tmp.$$"' EXIT
trap 'echo "fidelity.sh: interrupted" >&2; stop_children; print_table; exit 130' INT TERM

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
largest() { sort -g | tail -n 1; }

# Starts a server (its command line, address included) on CPU 0 and sets `addr` to where it
# listens, or to nothing if it exited first (its stderr is kept in $work/stderr). No subshells
# here or below, so that the traps above always know the children's process ids.
start_server() {
    addr=""
    # Removed first: the shell truncates them only once the child runs, and a line left by the
    # previous server would send the client to an address nobody listens on.
    rm -f "$work/stdout" "$work/stderr"
    taskset -c 0 "$@" >"$work/stdout" 2>"$work/stderr" &
    server=$!
    for _ in $(seq 100); do
        if grep -qs '^listening on ' "$work/stdout"; then
            addr=$(sed -n 's/^listening on //p' "$work/stdout")
            return
        fi
        if ! kill -0 "$server" 2>/dev/null; then
            wait "$server" 2>/dev/null || true
            server=""
            return
        fi
        sleep 0.1
    done
    echo "fidelity.sh: '$*' did not start listening within 10 s" >&2
    exit 1
}

# One run of N clients against the server "$@": sets `rate` (round trips per second), `cpu`
# (the server's CPU time per round trip, ns) and `starved` (clients with no round trip), all
# over the window after the client's 1 s warm-up. Returns 1 if the server did not start
# (`failed` empty: its stderr is in $work/stderr), 2 if the client failed (`failed` says why).
run_one() {
    local n=$1
    shift
    failed="" starved="" rate="" cpu=""
    start_server "$@"
    [[ -n $addr ]] || return 1
    taskset -c 1 "$bin/examples/pingpong" "$addr" "$n" "$duration" "$size" "$WARMUP_S" "$server" >"$work/client" 2>&1 &
    client=$!
    wait "$client" || true
    client=""
    stop_children
    # pingpong: N clients, K starved, M round trips in S s: R msgs/s, C ns CPU/msg, X ns server CPU/msg
    read -r starved rate cpu < <(sed -nE \
        's/^pingpong: [0-9]+ clients, ([0-9]+) starved, .*: ([0-9]+) msgs\/s, .*, ([0-9]+) ns server CPU\/msg$/\1 \2 \3/p' \
        "$work/client") || true
    if ! [[ ${cpu:-} =~ ^[0-9]+$ ]]; then
        failed=$(tr '\t\n' '  ' <"$work/client" | sed 's/ *$//')
        return 2
    fi
}

# The table's heading and the TSV's header row.
heading="# fidelity: $(lscpu | sed -n 's/^Model name: *//p'), $(date -u +%Y-%m-%dT%H:%MZ), servers --threads 1 on CPU 0, pingpong on CPU 1, ${size} B; rounds: $rounds of ${duration} s (after ${WARMUP_S} s of warm-up) per target and scale"
tsv_header=$(printf '%s\t' clients target minimal rounds target_msgs_s minimal_msgs_s ratio ratio_lo \
    ratio_hi ratio_side target_cpu_ns minimal_cpu_ns cpu_ratio target_starved_median \
    target_starved_max minimal_starved_median minimal_starved_max goal)note

# Prints the rows finished so far as a Markdown table under its heading and key.
print_table() {
    ((${#rows[@]})) || return 0
    echo "$heading"
    echo "# ratio: median of the rounds' paired target/minimal msgs/s [90% interval of that median];" \
        "starved: median/max over the rounds; CPU ratio: minimal/target server ns per round trip (above 1: the target is cheaper);" \
        "goal: ratio >= $GOAL and no more starved (medians) than the minimal server"
    echo
    echo "| clients | target | minimal | target msgs/s | minimal msgs/s | ratio [90%] | starved target | starved minimal | target ns | minimal ns | CPU ratio | goal |"
    echo "|--:|:--|:--|--:|--:|--:|--:|--:|--:|--:|--:|:--|"
    printf '%s\n' "${rows[@]}"
}

# Adds a row to the table and to --out, which is rewritten whole through a temporary file and a
# rename, so that it is never seen half written.
add_row() {
    rows+=("$1")
    tsv+=("$2")
    [[ -n $out ]] || return 0
    printf '%s\n' "$tsv_header" "${tsv[@]}" >"$out.tmp.$$"
    mv -f "$out.tmp.$$" "$out"
}

# The verdict on one pair at one scale from its ratio line (ratio_ci's: median [lo-hi] side raw)
# and the two starved medians.
goal() {
    local raw=$1 side=$2 mine=$3 theirs=$4 missed=""
    awk -v r="$raw" -v g="$GOAL" 'BEGIN { exit !(r >= g) }' || missed="msgs/s"
    awk -v a="$mine" -v b="$theirs" 'BEGIN { exit !(a <= b) }' || missed+="${missed:+, }starved"
    local verdict="met"
    [[ -z $missed ]] || verdict="not met ($missed)"
    # Judged on the unrounded median; where the interval holds the line, more rounds could turn
    # the verdict.
    [[ $side != crosses ]] || verdict+="; msgs/s within noise"
    echo "$verdict"
}

# Rounds of one pair at one scale (N clients), then its row; a target that cannot start, or a
# client that fails, gives a row that says so instead.
measure_pair() {
    local target=$1 example=$2 n=$3
    local mine=() theirs=() mine_cpu=() their_cpu=() mine_starved=() their_starved=() ratios=()
    local round who order status reason=""
    for round in $(seq "$rounds"); do
        # Who goes first alternates, so a drift in the machine's speed favours neither.
        order=(target minimal)
        ((round % 2)) || order=(minimal target)
        for who in "${order[@]}"; do
            status=0
            if [[ $who == target ]]; then
                run_one "$n" "$bin/echo-server" "$target" --threads 1 --addr 127.0.0.1:0 || status=$?
                if ((status == 1)); then reason="skipped: $(head -n 1 "$work/stderr")"; break 2; fi
            else
                # shellcheck disable=SC2046 # a command line, split on purpose
                run_one "$n" $(minimal_command "$example") || status=$?
                if ((status == 1)); then
                    echo "fidelity.sh: $example did not start: $(cat "$work/stderr")" >&2
                    exit 1
                fi
            fi
            if ((status == 2)); then reason="failed: $who: $failed"; break 2; fi
            runs_done=$((runs_done + 1))
            if [[ $who == target ]]; then
                mine+=("$rate") mine_cpu+=("$cpu") mine_starved+=("$starved")
            else
                theirs+=("$rate") their_cpu+=("$cpu") their_starved+=("$starved")
            fi
        done
        if ((theirs[-1] == 0)); then
            reason="failed: the minimal server served no round trip in the window"
            break
        fi
        ratios+=("$(awk -v a="${mine[-1]}" -v b="${theirs[-1]}" 'BEGIN { printf "%.4f", a / b }')")
        echo "fidelity: $target at $n clients, round $round of $rounds: ${mine[-1]} vs ${theirs[-1]} msgs/s" \
            "(${ratios[-1]}), starved ${mine_starved[-1]} vs ${their_starved[-1]};" \
            "$(progress "$runs_done" "$runs_total" "$started")" >&2
    done
    if [[ -n $reason ]]; then
        echo "fidelity: $target at $n clients: $reason" >&2
        [[ $reason != failed* ]] || failures=$((failures + 1))
        add_row "| $n | $target | $example | | | | | | | | | $reason |" \
            "$(printf '%s\t' "$n" "$target" "$example" "$rounds" - - - - - - - - - - - - - "${reason%%:*}")${reason#*: }"
        return
    fi
    local m t mc tc ms_med ms_max ts_med ts_max ratio ci side raw cpu_ratio verdict lo hi
    m=$(printf '%s\n' "${mine[@]}" | median) t=$(printf '%s\n' "${theirs[@]}" | median)
    mc=$(printf '%s\n' "${mine_cpu[@]}" | median) tc=$(printf '%s\n' "${their_cpu[@]}" | median)
    ms_med=$(printf '%s\n' "${mine_starved[@]}" | median) ms_max=$(printf '%s\n' "${mine_starved[@]}" | largest)
    ts_med=$(printf '%s\n' "${their_starved[@]}" | median) ts_max=$(printf '%s\n' "${their_starved[@]}" | largest)
    read -r ratio ci side raw < <(printf '%s\n' "${ratios[@]}" | ratio_ci "$GOAL")
    IFS=- read -r lo hi <<<"${ci//[][]/}"
    # Below one clock tick (10 ms) of server CPU in every round, there is no ratio to give.
    cpu_ratio=$(awk -v a="$tc" -v b="$mc" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }')
    verdict=$(goal "$raw" "$side" "$ms_med" "$ts_med")
    add_row "$(printf '| %s | %s | %s | %.0f | %.0f | %s %s | %s / %s | %s / %s | %.0f | %.0f | %s | %s |' \
        "$n" "$target" "$example" "$m" "$t" "$ratio" "$ci" "$ms_med" "$ms_max" "$ts_med" "$ts_max" \
        "$mc" "$tc" "$cpu_ratio" "$verdict")" \
        "$(printf '%s\t' "$n" "$target" "$example" "$rounds" "$m" "$t" "$raw" "$lo" "$hi" "$side" \
            "$mc" "$tc" "$cpu_ratio" "$ms_med" "$ms_max" "$ts_med" "$ts_max" "$verdict")"
}

runs_total=$((${#selected[@]} * ${#scales[@]} * rounds * 2)) runs_done=0 started=$SECONDS failures=0
echo "fidelity: targets: ${#selected[@]}; clients: $clients; rounds: $rounds each; $runs_total runs of" \
    "${duration} s + about $((WARMUP_S + RUN_OVERHEAD_S)) s: $(estimate "$runs_total" "${WARMUP_S}s" "${duration}s")" >&2
for n in "${scales[@]}"; do
    for pair in "${selected[@]}"; do
        read -r target example _ <<<"$pair"
        measure_pair "$target" "$example" "$n"
    done
done
print_table
# A pair whose client failed has no verdict: the run as a whole did not do its job.
if ((failures)); then
    echo "fidelity.sh: $failures of the pairs' runs failed (their rows say why)" >&2
    exit 1
fi
