#!/usr/bin/env bash
# Fidelity: is every target as fast as the leanest idiomatic server of its own runtime? Each target
# runs against its minimal counterpart (crates/<x>/examples/minimal*.rs: the runtime's plainest
# echo server, 16 KiB buffer, TCP_NODELAY) under identical load: the server pinned to CPU 0 with
# one worker (--threads 1), the leanest client (loadgen's `pingpong` example: raw epoll, no
# checks) pinned to CPU 1, 100 clients, 64 B messages. Runs alternate target/minimal (and which
# goes first) round by round, because run-to-run noise here is large; the table shows medians,
# the ratio of the medians, and the range of the per-round ratios. It also shows the server's
# CPU time per round trip, which is steadier than throughput when other work shares the
# machine (a server that gets less of CPU 0 answers fewer messages at the same cost each). A
# target whose runtime cannot
# start here (io_uring disabled, say) is reported as skipped.
#
# The program targets are paired with their own languages' leanest servers (Go's io.Copy per
# connection, Node's socket.pipe(socket), gevent's StreamServer: go/minimal, node/minimal.js,
# python/gevent_minimal.py), once scripts/setup.sh has set them up.
#
# Ctrl-C stops the whole script, servers and client included, and exits 130.
set -euo pipefail
# For release_dir and need_binaries only: sourcing installs no traps.
source "$(dirname "$0")/lib.sh"
script=fidelity

usage() {
    echo "usage: scripts/fidelity.sh [--rounds N] [--duration SECONDS] [--clients N] [--size BYTES] [--targets \"NAME ...\"]"
}
rounds=5 duration=3 clients=100 size=64 only=""
while (($#)); do
    case $1 in
        --rounds) rounds=$2; shift ;;
        --duration) duration=$2; shift ;;
        --clients) clients=$2; shift ;;
        --size) size=$2; shift ;;
        --targets) only=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "fidelity.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
cd "$(dirname "$0")/.."

# Each target, its minimal counterpart (an example) and the package that holds that example.
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
    "go go-minimal program"
    "node node-minimal program"
    "python-gevent gevent-minimal program"
)
selected=()
for pair in "${pairs[@]}"; do
    read -r target _ _ <<<"$pair"
    if [[ -z $only || " $only " == *" $target "* ]]; then selected+=("$pair"); fi
done
((${#selected[@]})) || { echo "fidelity.sh: no target among '$only'" >&2; exit 2; }

work=$(mktemp -d)
server="" client=""
stop_children() {
    for pid in $client $server; do kill "$pid" 2>/dev/null || true; done
    for pid in $client $server; do wait "$pid" 2>/dev/null || true; done
    server="" client=""
}
trap 'stop_children; rm -rf "$work"' EXIT
trap 'echo "fidelity.sh: interrupted" >&2; stop_children; exit 130' INT TERM

packages=(-p echo-targets -p loadgen)
for pair in "${selected[@]}"; do
    read -r _ _ package <<<"$pair"
    [[ $package == program ]] || packages+=(-p "$package")
done
echo "building servers, their minimal counterparts and the client (release)..." >&2
cargo build --release --quiet "${packages[@]}" --bins --examples
bin=$(release_dir)
target_dir=${bin%/release}

# The command line of a minimal counterpart (its address included).
minimal_command() {
    case $1 in
        go-minimal) echo "$target_dir/programs/echo-go-minimal --threads 1 --addr 127.0.0.1:0" ;;
        node-minimal) echo "${ECHO_BENCH_NODE:-node} node/minimal.js --addr 127.0.0.1:0" ;;
        gevent-minimal) echo "${ECHO_BENCH_PYTHON:-.venv/bin/python} -E -s python/gevent_minimal.py --addr 127.0.0.1:0" ;;
        *) echo "$bin/examples/$1 127.0.0.1:0" ;;
    esac
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

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

# One run: sets `rate` to the round trips per second drawn from the server "$@", and `cpu` to
# the server's CPU time per round trip in ns (both after the client's 1 s warm-up); fails if the
# server did not start.
run_one() {
    start_server "$@"
    [[ -n $addr ]] || return 1
    taskset -c 1 "$bin/examples/pingpong" "$addr" "$clients" "$duration" "$size" 1 "$server" >"$work/client" 2>&1 &
    client=$!
    wait "$client"
    client=""
    rate=$(sed -E 's/.*: ([0-9]+) msgs\/s.*/\1/' "$work/client")
    if ! [[ $rate =~ ^[0-9]+$ ]]; then
        echo "fidelity.sh: the client failed against '$*': $(cat "$work/client")" >&2
        exit 1
    fi
    cpu=$(sed -E 's/.*, ([0-9]+) ns server CPU\/msg/\1/' "$work/client")
    stop_children
}

echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(date -u +%Y-%m-%dT%H:%MZ), $clients clients, ${size} B," \
    "$rounds rounds of ${duration} s; medians; ratio = target / minimal msgs/s (range over rounds);" \
    "CPU ratio = minimal / target server CPU per round trip (above 1: the target is cheaper)"
printf '%-14s %-22s %14s %14s %6s %13s %10s %10s %9s\n' target minimal "target msgs/s" \
    "minimal msgs/s" ratio "round range" "target ns" "minimal ns" "CPU ratio"
for pair in "${selected[@]}"; do
    read -r target example _ <<<"$pair"
    mine=() theirs=() mine_cpu=() their_cpu=() ratios=() skipped=""
    for round in $(seq "$rounds"); do
        order=(target minimal)
        ((round % 2)) || order=(minimal target)
        for who in "${order[@]}"; do
            if [[ $who == target ]]; then
                if ! run_one "$bin/echo-server" "$target" --threads 1 --addr 127.0.0.1:0; then
                    skipped=$(head -n 1 "$work/stderr")
                    break 2
                fi
                mine+=("$rate") mine_cpu+=("$cpu")
            else
                # shellcheck disable=SC2046 # a command line, split on purpose
                run_one $(minimal_command "$example") || {
                    echo "fidelity.sh: $example did not start: $(cat "$work/stderr")" >&2
                    exit 1
                }
                theirs+=("$rate") their_cpu+=("$cpu")
            fi
        done
        ratios+=("$(awk -v a="${mine[-1]}" -v b="${theirs[-1]}" 'BEGIN { printf "%.2f", a / b }')")
    done
    if [[ -n $skipped ]]; then
        printf '%-14s %-22s skipped: %s\n' "$target" "$example" "$skipped"
        continue
    fi
    m=$(printf '%s\n' "${mine[@]}" | median) t=$(printf '%s\n' "${theirs[@]}" | median)
    mc=$(printf '%s\n' "${mine_cpu[@]}" | median) tc=$(printf '%s\n' "${their_cpu[@]}" | median)
    lo=$(printf '%s\n' "${ratios[@]}" | sort -g | head -n 1)
    hi=$(printf '%s\n' "${ratios[@]}" | sort -g | tail -n 1)
    printf '%-14s %-22s %14.0f %14.0f %6.2f %13s %10.0f %10.0f %9.2f\n' "$target" "$example" \
        "$m" "$t" "$(awk -v a="$m" -v b="$t" 'BEGIN { print a / b }')" "$lo-$hi" "$mc" "$tc" \
        "$(awk -v a="$tc" -v b="$mc" 'BEGIN { print a / b }')"
done
