#!/usr/bin/env bash
# Sweep every target x clients x message size with loadgen: one result file per point.
# Resumable: a point whose result file exists is skipped (unless --force), so an interrupted
# sweep picks up where it stopped. Charts: scripts/charts.sh afterwards.
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: scripts/sweep.sh [--quick] [--force] [--out DIR] [--targets LIST]
                        [--clients "N ..."] [--sizes "BYTES ..."] [--duration DUR] [--warmup DUR]

  --quick      a few minutes: clients 1 10 100 1000, sizes 64 1KiB, 2s windows
  --force      measure points again even if their result file exists
  --out DIR    where result files go (default: results/sweep)
  --targets    comma-separated targets (default: all; see `loadgen --list-targets`)
  --clients    client counts (default: 1 10 100 1000 10000)
  --sizes      message sizes (default: 64 1KiB 16KiB)
  --duration   measured window per point (default: 10s)
  --warmup     warm-up per point (default: 2s)
  --repeat N   runs per point, each with a fresh server; the result holds all of them and the
               tables their medians with confidence intervals (default: 3)
USAGE
}

out=results/sweep targets=all force=0
clients="1 10 100 1000 10000" sizes="64 1KiB 16KiB" duration=10s warmup=2s repeat=3
while (($#)); do
    case $1 in
        --quick) clients="1 10 100 1000" sizes="64 1KiB" duration=2s warmup=500ms ;;
        --force) force=1 ;;
        --out) out=$2; shift ;;
        --targets) targets=$2; shift ;;
        --clients) clients=$2; shift ;;
        --sizes) sizes=$2; shift ;;
        --duration) duration=$2; shift ;;
        --warmup) warmup=$2; shift ;;
        --repeat) repeat=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "sweep.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

cd "$(dirname "$0")/.."
cargo build --release --quiet -p loadgen
loadgen=target/release/loadgen
if [[ $targets == all ]]; then
    targets=$("$loadgen" --list-targets | awk '{print $1}' | paste -sd, -)
fi
IFS=, read -ra target_list <<<"$targets"
read -ra client_list <<<"$clients"
read -ra size_list <<<"$sizes"

seconds() { # 1.5s / 500ms / 2m -> whole seconds, rounded up
    awk -v d="$1" 'BEGIN { n = d + 0; u = substr(d, length(n "") + 1);
        m = (u == "ms") ? 0.001 : (u == "m") ? 60 : (u == "us") ? 1e-6 : 1; s = n * m;
        print (s == int(s)) ? s : int(s) + 1 }'
}
# Per point: warm-up + window + about 2 s to start and stop the server and connect.
per_point=$((($(seconds "$warmup") + $(seconds "$duration") + 2) * repeat))
total=$((${#target_list[@]} * ${#client_list[@]} * ${#size_list[@]}))
todo=0
for t in "${target_list[@]}"; do for c in "${client_list[@]}"; do for s in "${size_list[@]}"; do
    [[ $force == 1 || ! -e $out/$t-c$c-m$s.json ]] && todo=$((todo + 1))
done; done; done
echo "sweep: $total points ($todo to measure, $((total - todo)) already done) into $out/;" \
     "about $(((todo * per_point + 59) / 60)) min"

mkdir -p "$out"
i=0 failed=0 start=$SECONDS
for t in "${target_list[@]}"; do
    for c in "${client_list[@]}"; do
        for s in "${size_list[@]}"; do
            i=$((i + 1))
            file=$out/$t-c$c-m$s.json
            label=$(printf '[%d/%d] %-13s clients %-5s size %-5s' "$i" "$total" "$t" "$c" "$s")
            if [[ $force == 0 && -e $file ]]; then
                echo "$label skipped (already measured)"
                continue
            fi
            log=$out/.$t-c$c-m$s.log
            if "$loadgen" --target "$t" --clients "$c" --msg-size "$s" --duration "$duration" \
                --warmup "$warmup" --repeat "$repeat" --output "$file" >"$log" 2>&1; then
                row=$(grep -E "^$t( |$)" "$log" | tr -s ' ' | cut -d' ' -f3,7 || true)
                echo "$label ${row%% *} msgs/s, p99 ${row##* }  ($((SECONDS - start))s elapsed)"
                rm -f "$log"
            else
                failed=$((failed + 1))
                echo "$label FAILED: $(grep -m1 'error' "$log" || tail -n1 "$log") (log: $log)"
            fi
        done
    done
done
echo "sweep: done in $((SECONDS - start))s; $failed failed"
((failed == 0))
