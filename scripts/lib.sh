# What the measuring scripts share: their binaries, stopping cleanly on Ctrl-C, resuming from the
# result files already written, estimating how long a run takes, and judging paired ratios
# against a goal. Sourced, never run:
#
#   source "$(dirname "$0")/lib.sh"; start_script NAME "$@"
#
# Sourcing defines functions only; start_script installs the Ctrl-C handling. Ctrl-C in a
# terminal sends SIGINT to the script and to the loadgen it is running. loadgen stops its point
# and writes what it measured (marked partial); the script then stops too, instead of going on
# to the next point, and says how to resume.

# Seconds a loadgen run of one target takes beyond its warm-up and window: building the plan,
# starting and stopping the server (a pitfall server builds its file or database first),
# connecting, writing the result. The largest overhead timed for the scripts, so that estimates
# err long; connecting 10,000 clients adds seconds more. (The timings are in the commit that
# set it.)
RUN_OVERHEAD_S=0.5

interrupted=0
finish() {
    local status=$?
    if ((interrupted)); then
        echo "${script:-script}: interrupted. Every point measured in full is kept in" \
            "${out:-its output directory}/; to resume, run the same command again:" \
            "${invocation:-}" >&2
        echo "${script:-script}: points cut short or measured with other settings are" \
            "measured again." >&2
        exit 130
    fi
    exit "$status"
}

# start_script NAME ARGS...: names the script in messages, remembers how it was called (to say how
# to resume), moves to the repository's root, and installs the Ctrl-C handling: however the
# script ends after Ctrl-C (at a check, or because a command it was running was killed), it ends
# with status 130 and says how to resume.
start_script() {
    script=$1
    shift
    invocation="scripts/$script.sh${*:+ $(shell_words "$@")}"
    cd "$(dirname "${BASH_SOURCE[0]}")/.."
    trap 'interrupted=1' INT TERM
    trap 'finish' EXIT
}

# shell_words ARGS...: the arguments as one line a shell reads back as the same words, quoted
# only where a shell would otherwise split or expand them (printf %q also escapes the commas of
# `--targets tokio,threads`, which is correct but hard to read and to edit).
shell_words() {
    local arg words=()
    for arg in "$@"; do
        if [[ $arg =~ ^[A-Za-z0-9_,./:=@%+-]+$ ]]; then
            words+=("$arg")
        else
            words+=("'${arg//\'/\'\\\'\'}'")
        fi
    done
    echo "${words[*]}"
}

# release_dir: where `cargo build --release` puts its binaries, as cargo itself says (so that
# CARGO_TARGET_DIR, or a build.target-dir in a cargo config, is honoured).
release_dir() {
    local dir
    dir=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])') ||
        { echo "${script:-script}: cannot ask cargo where it builds (cargo metadata failed)" >&2; return 1; }
    echo "$dir/release"
}

# need_binaries FILE...: stops the script, with one line, unless every FILE is an executable.
need_binaries() {
    local f
    for f in "$@"; do
        [[ -x $f ]] || { echo "${script:-script}: no executable $f: nothing can run; stopping" >&2; exit 1; }
    done
}

# build_tools: loadgen and echo-charts, built in release mode, or taken from $ECHO_BENCH_BIN (a
# directory that already holds both: what the scripts' own tests use). Stops the script at once
# if either is missing, rather than failing every point.
build_tools() {
    local dir=${ECHO_BENCH_BIN:-}
    if [[ -z $dir ]]; then
        cargo build --release --quiet -p loadgen -p echo-charts
        dir=$(release_dir) || exit 1
    fi
    loadgen=$dir/loadgen charts=$dir/echo-charts
    need_binaries "$loadgen" "$charts"
}

# progress DONE TOTAL START: `DONE/TOTAL, N s elapsed, about M left` since START (a $SECONDS
# value), the time left estimated from the pace so far; without a finished step, no estimate.
progress() {
    awk -v done="$1" -v total="$2" -v took="$((SECONDS - $3))" 'function span(s) {
            return (s < 90) ? sprintf("%d s", s + 0.5) : sprintf("%d min", s / 60 + 0.5) }
        BEGIN { printf "%d/%d, %s elapsed", done, total, span(took)
            if (done > 0 && done < total) printf ", about %s left", span(took / done * (total - done)) }'
}

# seconds DUR: a loadgen duration (1.5s, 500ms, 2m, 250us) in seconds.
seconds() {
    awk -v d="$1" 'BEGIN { n = d + 0; u = substr(d, length(n "") + 1);
        m = (u == "ms") ? 0.001 : (u == "m") ? 60 : (u == "us") ? 1e-6 : 1; print n * m }'
}

# estimate RUNS WARMUP DURATION: "about N min" (or s) for RUNS target runs of that warm-up and
# window, each with RUN_OVERHEAD_S on top.
estimate() {
    awk -v n="$1" -v w="$(seconds "$2")" -v d="$(seconds "$3")" -v o="$RUN_OVERHEAD_S" 'BEGIN {
        s = n * (w + d + o);
        if (s < 90) printf "about %d s", s + 0.5; else printf "about %d min", s / 60 + 0.5 }'
}

# ratio_ci LINE: the median of the paired ratios on stdin (one a line) with a 90% confidence
# interval for it, to 2 places, where it lies against LINE (`below` or `above`, `crosses` when
# the interval holds the line), and the median unrounded, for a verdict: `0.98 [0.95-1.00] below
# 0.9812`. A round's two runs share their minute of the machine, whose speed drifts, so their
# ratio cancels the drift; client-overhead.sh and fidelity.sh judge their goals on these. The
# interval needs no assumption about the ratios' spread (at 1000 and 10,000 clients a round can
# land in either of two states of the machine, so they need not form one bell curve): it runs
# from the k-th smallest to the k-th largest ratio, the largest k for which the binomial chance
# that the true median lies outside is at most 10% (min-max up to 7 rounds, 2nd to 8th of 9, 3rd
# to 9th of 11; with fewer than 5 rounds even min-max covers less).
ratio_ci() {
    sort -g | awk -v line="$1" '{ v[NR] = $1 } END {
        n = NR; m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        k = 1; tail = 0; term = 1 / 2 ^ n  # P(Bin(n, 1/2) = j), from j = 0
        for (j = 0; j < n / 2; j++) {
            tail += term; if (2 * tail > 0.10) break
            k = j + 1; term = term * (n - j) / (j + 1)
        }
        lo = v[k]; hi = v[n + 1 - k]
        side = (hi < line) ? "below" : (lo > line) ? "above" : "crosses"
        printf "%.2f [%.2f-%.2f] %s %.4f\n", m, lo, hi, side, m }'
}

# measure LOG COMMAND...: runs a loadgen command with its stderr in LOG; returns its exit status.
# An exit by Ctrl-C (status 130, or death by SIGINT) marks the script interrupted.
measure() {
    local log=$1 status=0
    shift
    "$@" >/dev/null 2>"$log" || status=$?
    if ((status == 130)); then
        interrupted=1
    elif ((status == 126 || status == 127)); then
        # The command itself could not start: every later point would fail the same way.
        echo "${script:-script}: cannot run $1: $(tail -n1 "$log"); stopping" >&2
        exit 1
    fi
    return "$status"
}

# why_failed LOG: the error loadgen gave, not a table header that happens to contain "error".
why_failed() {
    grep -m1 -iE '(^|: )error: ' "$1" || tail -n1 "$1"
}

# stop_if_interrupted: after Ctrl-C, stops the script (see finish).
stop_if_interrupted() {
    if ((interrupted)); then
        exit 130
    fi
}
