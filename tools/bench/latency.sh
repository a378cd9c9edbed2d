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
source tools/deps.sh
sg_install_deps

BUILD=build-bench
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSHEGONG_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null

TMP=$(mktemp -d /tmp/shegong-latency-XXXXXX)
cleanup() {
  [ -f "$TMP/sg.pid" ] && kill "$(cat "$TMP/sg.pid")" 2>/dev/null || true
  sleep 0.3
  rm -rf "$TMP"
}
trap cleanup EXIT

"$BUILD/shegongd" --data "$TMP/sg" --listen 127.0.0.1:0 --port-file "$TMP/sg.port" 2>"$TMP/sg.log" &
echo $! >"$TMP/sg.pid"
for _ in $(seq 100); do [ -s "$TMP/sg.port" ] && break; sleep 0.1; done
export SHEGONG_SERVER=127.0.0.1:$(cat "$TMP/sg.port") SHEGONG_TOKEN_FILE="$TMP/sg/admin.token"
"$BUILD/shegong-demo" --quiet
# a token without pii, as in compare.sh: reads are masked, not audited
SECRET=$("$BUILD/shegong" -o csv --columns secret token create --role district_admin --name bench | tail -1)
export SHEGONG_TOKEN=$SECRET
unset SHEGONG_TOKEN_FILE

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
