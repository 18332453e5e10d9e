#!/usr/bin/env bash
# Several load hosts on one machine, for real: network namespaces for a server and N load
# hosts, joined by a bridge on 192.0.2.0/24 (a documentation range, routed nowhere), with the
# echo server in one and scripts/multi-host.sh driving loadgen in the others, as it would over
# ssh. Needs root and iproute2. The namespaces are deleted on exit, on failure too.
set -euo pipefail
# For release_dir and need_binaries only: sourcing installs no traps.
source "$(dirname "$0")/lib.sh"
script=netns-hosts

usage() {
    cat <<'USAGE'
usage: sudo scripts/netns-hosts.sh [--hosts N] [--target NAME] [--server-cpus CPUS]
                                   [multi-host.sh options] [-- LOADGEN_FLAGS...]

  --hosts N          load hosts, each in its own namespace (default: 3, at most 20)
  --target NAME      the server to run (default: tokio; see `loadgen --list-targets`)
  --server-cpus CPUS pin the server with taskset (default: 0; `none` to leave it unpinned)
  everything else goes to scripts/multi-host.sh (--clients, --duration, --out, -- FLAGS...)

Example: sudo scripts/netns-hosts.sh --hosts 3 --clients 50 --duration 5s -- --client-cpus 1
USAGE
}

# multi-host.sh reaches a "host" through these two, in place of ssh and scp: the namespaces
# share this machine's files, so a copy is a cp.
case ${1:-} in
    _exec) ns=$2; shift 2; exec ip netns exec "$ns" sh -c "$*" ;;
    _copy) exec cp "${2#*:}" "$3" ;;
esac

hosts=3 target=tokio server_cpus=0 pass=()
while (($#)); do
    case $1 in
        --hosts) hosts=$2; shift ;;
        --target) target=$2; shift ;;
        --server-cpus) server_cpus=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) pass+=("$1") ;;
    esac
    shift
done
[[ $hosts =~ ^[0-9]+$ ]] && ((hosts >= 1 && hosts <= 20)) ||
    { echo "netns-hosts.sh: --hosts takes 1 to 20" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "netns-hosts.sh: needs root (network namespaces)" >&2; exit 2; }
command -v ip >/dev/null || { echo "netns-hosts.sh: needs ip (apt-get install iproute2)" >&2; exit 2; }

cd "$(dirname "$0")/.."
cargo build --release --quiet -p loadgen
loadgen=$(release_dir)/loadgen
need_binaries "$loadgen"
net=192.0.2
tag=ebh$$
made=() server_pid=''
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    for ((i = ${#made[@]} - 1; i >= 0; i--)); do ip netns del "${made[$i]}" || true; done
}
trap cleanup EXIT
add() {
    ip netns add "$1"
    made+=("$1")
    ip -n "$1" link set lo up
}

add "$tag-br"
ip -n "$tag-br" link add br0 type bridge
ip -n "$tag-br" link set br0 up
roles=(srv) addrs=(1)
for ((i = 1; i <= hosts; i++)); do roles+=("l$i"); addrs+=($((10 + i))); done
for i in "${!roles[@]}"; do
    ns=$tag-${roles[$i]}
    add "$ns"
    ip -n "$tag-br" link add "p$i" type veth peer name eth0 netns "$ns"
    ip -n "$tag-br" link set "p$i" master br0 up
    ip -n "$ns" addr add "$net.${addrs[$i]}/24" dev eth0
    ip -n "$ns" link set eth0 up
done

pin=()
[[ $server_cpus == none ]] || pin=(taskset -c "$server_cpus")
ip netns exec "$tag-srv" "${pin[@]}" "$loadgen" server "$target" --addr "$net.1:7000" \
    --threads 1 --max-connections 100000 >"/tmp/$tag-server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    grep -q '^listening on' "/tmp/$tag-server.log" 2>/dev/null && break
    sleep 0.1
done
grep -q '^listening on' "/tmp/$tag-server.log" ||
    { echo "netns-hosts.sh: the server did not start:" >&2; cat "/tmp/$tag-server.log" >&2; exit 1; }
echo "server: $target, pid $server_pid, at $net.1:7000 in namespace $tag-srv"

dests=()
for ((i = 1; i <= hosts; i++)); do dests+=("$tag-l$i"); done
# --server-pid: the first "host" shares this machine's /proc, so it can account the server.
self=$PWD/scripts/netns-hosts.sh
scripts/multi-host.sh --server "$net.1:7000" --server-pid "$server_pid" --start-in 5 \
    --loadgen "$loadgen" --ssh "$self _exec" --scp "$self _copy" "${dests[@]}" "${pass[@]}"
