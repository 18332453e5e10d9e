#!/usr/bin/env bash
# Several load hosts against one server, over ssh: loadgen on every host with the same
# --start-at, the result files copied back with scp, merged with `loadgen merge`.
# Nothing to install on the hosts but loadgen itself (and sshd); no agent, no protocol of ours.
set -euo pipefail
# For release_dir and need_binaries only: sourcing installs no traps.
source "$(dirname "$0")/lib.sh"
script=multi-host

usage() {
    cat <<'USAGE'
usage: scripts/multi-host.sh --server HOST:PORT [options] DEST... [-- LOADGEN_FLAGS...]

  DEST               ssh destinations ([user@]host), one loadgen on each
  --server HOST:PORT the echo server, as every load host reaches it
  --clients N        connections per host (default: 100)
  --duration DUR     measured window (default: 10s)
  --warmup DUR       warm-up before it (default: 2s)
  --msg-size BYTES   message size (default: 64)
  --start-in SECS    how far ahead the common start is set (default: 15): time enough to reach
                     every host and connect
  --server-pid PID   given to the first host, if the server runs there, to account its CPU
  --loadgen PATH     loadgen on the hosts (default: loadgen, found on their PATH)
  --out DIR          where the result files go (default: results/multi-<time>)
  --ssh CMD          instead of ssh (called as CMD DEST COMMAND); --scp CMD instead of scp
                     (called as CMD DEST:FILE LOCAL)
  LOADGEN_FLAGS      passed to every host's loadgen, e.g. -- --rate 20000 --timeout 5s

Each host's loadgen runs unpinned (--no-pin: the server is elsewhere, so every CPU is the
client's) unless LOADGEN_FLAGS has --client-cpus. Result files are written on each host under
/tmp/echo-bench-<time>-hostN.json, then copied to DIR/hostN.json. The hosts' clocks must agree: the script prints each host's offset from this one,
estimated over ssh, and `loadgen merge` warns if the windows overlap by less than 95%.
USAGE
}

server='' clients=100 duration=10s warmup=2s size=64 start_in=15 server_pid=''
remote_loadgen=loadgen out='' ssh_cmd=ssh scp_cmd=scp
dests=() extra=()
while (($#)); do
    case $1 in
        --server) server=$2; shift ;;
        --clients) clients=$2; shift ;;
        --duration) duration=$2; shift ;;
        --warmup) warmup=$2; shift ;;
        --msg-size) size=$2; shift ;;
        --start-in) start_in=$2; shift ;;
        --server-pid) server_pid=$2; shift ;;
        --loadgen) remote_loadgen=$2; shift ;;
        --out) out=$2; shift ;;
        --ssh) ssh_cmd=$2; shift ;;
        --scp) scp_cmd=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; extra=("$@"); break ;;
        -*) echo "multi-host.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
        *) dests+=("$1") ;;
    esac
    shift
done
if [[ -z $server || ${#dests[@]} -eq 0 ]]; then
    echo "multi-host.sh: give --server HOST:PORT and at least one ssh destination" >&2
    usage >&2
    exit 2
fi
[[ $start_in =~ ^[0-9]+$ ]] || { echo "multi-host.sh: --start-in takes whole seconds" >&2; exit 2; }

cd "$(dirname "$0")/.."
# This host's loadgen (for the merge): built in release mode, or taken from $ECHO_BENCH_BIN (a
# directory holding it: what the scripts' own tests use).
if [[ -n ${ECHO_BENCH_BIN:-} ]]; then
    loadgen=$ECHO_BENCH_BIN/loadgen
else
    cargo build --release --quiet -p loadgen
    loadgen=$(release_dir)/loadgen
fi
need_binaries "$loadgen"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=${out:-results/multi-$stamp}
mkdir -p "$out"
read -ra ssh <<<"$ssh_cmd"
read -ra scp <<<"$scp_cmd"

# Each host's clock against this one's: the remote reading lies between the two local ones,
# so the offset is known to within half the round trip.
echo "clocks (offset from this host, +/- half an ssh round trip):"
for dest in "${dests[@]}"; do
    before=$(date +%s%N)
    remote=$("${ssh[@]}" "$dest" date +%s%N) || { echo "multi-host.sh: cannot reach $dest" >&2; exit 1; }
    after=$(date +%s%N)
    awk -v d="$dest" -v r="$remote" -v b="$before" -v a="$after" 'BEGIN {
        printf "  %-24s %+9.3f ms  +/- %.3f ms\n", d, (r - (a + b) / 2) / 1e6, (a - b) / 2e6 }'
done | tee "$out/clocks.txt"

start_at=$(date -u -d "@$(($(date +%s) + start_in))" +%Y-%m-%dT%H:%M:%SZ)
echo "starting ${#dests[@]} hosts x $clients clients against $server; the window opens at $start_at"
pids=()
for i in "${!dests[@]}"; do
    dest=${dests[$i]}
    flags=(--addr "$server" --clients "$clients" --duration "$duration" --warmup "$warmup"
        --msg-size "$size" --start-at "$start_at"
        --output "/tmp/echo-bench-$stamp-host$((i + 1)).json")
    [[ " ${extra[*]} " == *" --client-cpus "* ]] || flags+=(--no-pin)
    if [[ $i == 0 && -n $server_pid ]]; then
        flags+=(--server-pid "$server_pid")
    fi
    # ssh joins its arguments into one command line for the remote shell: quote each.
    command=$(printf '%q ' "$remote_loadgen" "${flags[@]}" "${extra[@]}")
    "${ssh[@]}" "$dest" "$command" >"$out/host$((i + 1)).log" 2>&1 &
    pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
        echo "host$((i + 1)) (${dests[$i]}) failed: see $out/host$((i + 1)).log" >&2
        failed=1
    fi
done

files=()
for i in "${!dests[@]}"; do
    remote=/tmp/echo-bench-$stamp-host$((i + 1))
    local_file=$out/host$((i + 1)).json
    if "${scp[@]}" "${dests[$i]}:$remote.json" "$local_file" >/dev/null; then
        files+=("$local_file")
    else
        echo "could not copy the result from ${dests[$i]}: $remote.json" >&2
        failed=1
    fi
done
((${#files[@]})) || { echo "multi-host.sh: no result came back" >&2; exit 1; }
"$loadgen" merge "${files[@]}" --output "$out/merged.json" | tee "$out/merged.txt"
exit "$failed"
