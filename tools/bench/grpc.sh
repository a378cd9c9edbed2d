#!/usr/bin/env bash
# Native frames against gRPC on the same server and the same read workload:
# Workers/Get by id from a demo district, N connections, unpipelined and
# pipelined (D calls in flight per connection; on gRPC, D concurrent streams).
# shegong-bench --loop drives the native listener and h2load (nghttp2-client)
# the gRPC one with a fixed request: both are one event-loop thread. Both
# print calls/s, and the latency percentiles come from each tool's timings.
#
#   tools/bench/grpc.sh [SECONDS] [CONNECTIONS]     (default 10 s, 16 connections)
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-10}
CONNS=${2:-16}
source tools/deps.sh
SG_PACKAGES+=(nghttp2-client)
sg_install_deps

source tools/bench/server.sh

sg_bench_tmp grpc-bench

sg_bench_server --grpc-listen 127.0.0.1:0 --grpc-port-file "$TMP/grpc.port"
GPORT=$(cat "$TMP/grpc.port")
ID=$("$BUILD/shegong" -o csv --columns id worker list --page-size 1 | tail -1)

# GetWorkerRequest{id}: field 1, varint; then gRPC's 5-byte prefix
python3 - "$ID" "$TMP/get.bin" <<'PY'
import sys
n, out = int(sys.argv[1]), sys.argv[2]
v = bytearray([0x08])
while True:
    b = n & 0x7f
    n >>= 7
    v.append(b | (0x80 if n else 0))
    if not n:
        break
open(out, "wb").write(bytes([0]) + len(v).to_bytes(4, "big") + bytes(v))
PY

native() {
  "$BUILD/shegong-bench" --loop --seconds "$SECS" --connections "$CONNS" --depth "$1" \
    --server-pid "$(cat "$TMP/sg.pid")" --json |
    python3 -c 'import json,sys; d=json.load(sys.stdin); o=list(d["by_op"].values())[0]
print("%d %s %s %s" % (d["ops_per_sec"], o["p50_ms"], o["p99_ms"], o["p999_ms"]))'
}

grpc() {
  h2load -D "$SECS" --warm-up-time 1 -c "$CONNS" -m "$1" -d "$TMP/get.bin" \
    -H 'content-type: application/grpc' -H 'te: trailers' -H "authorization: Bearer $SHEGONG_TOKEN" \
    --log-file "$TMP/h2load.log" "http://127.0.0.1:$GPORT/shegong.v1.Workers/Get" >"$TMP/h2load.out"
  # the log has one line per request: start, status, microseconds
  python3 - "$TMP/h2load.out" "$TMP/h2load.log" <<'PY'
import re, sys
out = open(sys.argv[1]).read()
m = re.search(r"finished in [^,]+, ([0-9.]+) req/s", out)
ok = re.search(r"(\d+) succeeded, (\d+) failed, (\d+) errored", out)
if not m or not ok or int(ok.group(2)) or int(ok.group(3)):
    sys.exit("h2load did not succeed:\n" + out)
lat = sorted(int(l.split()[2]) for l in open(sys.argv[2]) if l.strip())
pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] / 1000
print("%d %.3f %.3f %.3f" % (float(m.group(1)), pct(0.5), pct(0.99), pct(0.999)))
PY
}

# gRPC's answers must be OK, not an error in trailers that h2load would count as 200
/usr/bin/python3 - "$GPORT" "$SHEGONG_TOKEN" "$TMP/get.bin" <<'PY' || { echo "gRPC Workers/Get failed" >&2; exit 1; }
import sys
try:
    import grpc
except ImportError:
    print("python3-grpcio is not installed: the answers are not checked", file=sys.stderr)
    sys.exit(0)
port, secret, body = sys.argv[1], sys.argv[2], open(sys.argv[3], "rb").read()[5:]
call = grpc.insecure_channel("127.0.0.1:" + port).unary_unary("/shegong.v1.Workers/Get")
call(body, metadata=[("authorization", "Bearer " + secret)], timeout=5)
PY

# the server's CPU seconds so far (user + system), to charge each run its share
TCK=$(getconf CLK_TCK)
cpu() { awk -v t="$TCK" '{printf "%.2f", ($14 + $15) / t}' "/proc/$(cat "$TMP/sg.pid")/stat"; }
row() { # label, calls/s, p50, p99, p99.9, cpu seconds used
  python3 -c "import sys; a=sys.argv; n=float(a[2]); print('%-18s %10d %8s %8s %8s %14.1f' % (a[1], n, a[3], a[4], a[5], float(a[6]) * 1e6 / (n * $SECS)))" "$@"
}

echo "==> Workers/Get, $CONNS connections, $SECS s each (native: shegong-bench; gRPC: h2load)"
printf '%-18s %10s %8s %8s %8s %14s\n' "transport, depth" "calls/s" "p50 ms" "p99 ms" "p99.9 ms" "server µs/call"
for d in 1 16; do
  c0=$(cpu); read -r n a b c <<<"$(native "$d")"; c1=$(cpu)
  row "native, depth $d" "$n" "$a" "$b" "$c" "$(python3 -c "print($c1 - $c0)")"
  # h2load's warm-up second is not counted in its rate: leave it out of the CPU too
  c0=$(cpu); read -r g a b c <<<"$(grpc "$d")"; c1=$(cpu)
  row "gRPC, depth $d" "$g" "$a" "$b" "$c" "$(python3 -c "print(($c1 - $c0) * $SECS / ($SECS + 1))")"
  python3 -c "print('%-18s %10.2f' % ('gRPC / native', $g / $n))"
done
