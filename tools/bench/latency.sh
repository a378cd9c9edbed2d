#!/usr/bin/env bash
# Latency at half the peak rate, as docs/PERFORMANCE.md reports it: for
# durable creates (64 connections) and point reads (16 connections), one
# closed-loop run finds the peak, then shegong-bench --rate sends half of it
# on a fixed schedule and times every call from when it was due.
#
#   tools/bench/latency.sh [SECONDS]        (default 5 per run)
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-5}
[[ $SECS =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [SECONDS] (a whole number of seconds, not '$SECS')" >&2; exit 2; }
source tools/deps.sh
sg_install_deps

source tools/bench/server.sh

sg_bench_tmp latency

sg_bench_server

sgb() { "$BUILD/shegong-bench" --seconds "$SECS" --server-pid "$(cat "$TMP/sg.pid")" --json "$@"; }
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); o=list(d["by_op"].values())[0]; print(round(d["ops_per_sec"]) if sys.argv[1]=="ops" else o[sys.argv[1]])' "$1"; }

printf '%-34s %9s %9s %8s %8s %9s\n' "workload" "peak/s" "rate/s" "p50 ms" "p99 ms" "p99.9 ms"
for shape in "create=100 64" "get=100 16"; do
  set -- $shape
  PEAK=$(sgb --connections "$2" --depth 1 --mix "$1" | field ops)
  HALF=$(sgb --connections "$2" --depth 1 --mix "$1" --rate $((PEAK / 2)) 2>/dev/null)
  printf '%-34s %9s %9s %8s %8s %9s\n' "${1%=*}, $2 connections x 1" "$PEAK" \
    "$(echo "$HALF" | field ops)" "$(echo "$HALF" | field p50_ms)" "$(echo "$HALF" | field p99_ms)" \
    "$(echo "$HALF" | field p999_ms)"
done
