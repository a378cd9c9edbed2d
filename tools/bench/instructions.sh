#!/usr/bin/env bash
# Instructions per pipelined read, counted by callgrind: a figure that does not
# move with a shared machine's mood (rates there vary by ±30 % within minutes),
# for comparing two builds of the read path. The demo district is loaded by a
# plain server, which is then restarted under valgrind on the same data; the
# count covers the whole run of the second server (its start-up adds under 2 %
# to the figure a read: 26,634 against 26,179 counted from after the start).
#
#   tools/bench/instructions.sh [SECONDS] [TOP]     (default 6 s; TOP functions shown, 20)
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-6}
TOP=${2:-20}
[[ $SECS =~ ^[1-9][0-9]*$ && $TOP =~ ^[0-9]+$ ]] ||
  { echo "usage: $0 [SECONDS] [TOP] (whole numbers, not '$SECS' '$TOP')" >&2; exit 2; }
source tools/deps.sh
SG_PACKAGES+=(valgrind)
sg_install_deps
source tools/bench/server.sh

sg_bench_tmp instructions

sg_bench_server
kill "$(cat "$TMP/sg.pid")"
while kill -0 "$(cat "$TMP/sg.pid")" 2>/dev/null; do sleep 0.1; done
rm -f "$TMP/sg.port"
valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" "$BUILD/shegongd" --data "$TMP/sg" \
  --listen 127.0.0.1:0 --port-file "$TMP/sg.port" 2>"$TMP/vg.log" &
echo $! >"$TMP/sg.pid"
for _ in $(seq 600); do [ -s "$TMP/sg.port" ] && break; sleep 0.1; done
export SHEGONG_SERVER=127.0.0.1:$(cat "$TMP/sg.port")
READS=$("$BUILD/shegong-bench" --seconds "$SECS" --loop --connections 16 --depth 16 | awk '/^get/ {print $2}')
kill "$(cat "$TMP/sg.pid")"
while kill -0 "$(cat "$TMP/sg.pid")" 2>/dev/null; do sleep 0.1; done
TOTAL=$(callgrind_annotate "$TMP/cg.out" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "Workers/Get, 16 connections x 16 in flight under callgrind: $READS reads,"
echo "$((TOTAL / READS)) user-space instructions a read (the server's, all threads)"
callgrind_annotate "$TMP/cg.out" | sed -n '/file:function/,$p' | sed -n "3,$((TOP + 2))p" |
  sed -E 's/ \[[^]]*\]$//'
