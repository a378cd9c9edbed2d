#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: install what is missing,
# build, start shegongd on a local data directory, load the demo district,
# and show the CLI listing a town's workers. The server keeps running;
# stop it with: kill $(cat demo-data/shegongd.pid)
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/deps.sh
sg_install_deps

BUILD=build
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHEGONG_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)"

DATA=${SHEGONG_DATA:-demo-data}
mkdir -p "$DATA"
if [ -f "$DATA/shegongd.pid" ] && kill -0 "$(cat "$DATA/shegongd.pid")" 2>/dev/null; then
  echo "==> stopping the shegongd started earlier"
  kill "$(cat "$DATA/shegongd.pid")"
  while kill -0 "$(cat "$DATA/shegongd.pid")" 2>/dev/null; do sleep 0.1; done
fi
rm -f "$DATA/port" "$DATA/grpc-port"
LISTEN=${SHEGONG_LISTEN:-127.0.0.1:7420}
GRPC_LISTEN=${SHEGONG_GRPC_LISTEN:-127.0.0.1:7421}
echo "==> starting shegongd on $LISTEN (gRPC on $GRPC_LISTEN), data in $DATA/ (log: $DATA/shegongd.log)"
nohup "$BUILD/shegongd" --data "$DATA/db" --listen "$LISTEN" --port-file "$DATA/port" \
  --grpc-listen "$GRPC_LISTEN" --grpc-port-file "$DATA/grpc-port" >"$DATA/shegongd.log" 2>&1 &
echo $! >"$DATA/shegongd.pid"
for _ in $(seq 100); do [ -s "$DATA/port" ] && break; sleep 0.1; done
if [ ! -s "$DATA/port" ]; then
  echo "shegongd did not start:" >&2
  cat "$DATA/shegongd.log" >&2
  exit 1
fi
export SHEGONG_SERVER="${LISTEN%:*}:$(cat "$DATA/port")"
# the first start wrote an admin token; every call but hello needs one
export SHEGONG_TOKEN_FILE="$DATA/db/admin.token"

echo "==> loading the demo district"
"$BUILD/shegong-demo" --seed 1
echo
echo "==> shegong hello"
"$BUILD/shegong" hello
echo
echo "==> shegong unit list 320602001   (communities and villages of 和平桥街道)"
"$BUILD/shegong" --columns code,name,kind,households,residents,aged_60_percent unit list 320602001 | head -8
echo "..."
echo
echo "==> shegong worker list --town 320602001"
"$BUILD/shegong" --columns id,name,gender,birth_date,education,role,unit_code,grid_code,hire_date,status \
  worker list --town 320602001
echo
echo "==> shegong report staffing --town 320602001   (quota, actual and gap: the demo's 7+N rules)"
"$BUILD/shegong" --columns unit_code,name,level,quota,actual,gap,rule report staffing --town 320602001 | head -8
echo "..."
echo
echo "==> shegong report eligibility --town 320602001 --as-of 2025-12-31   (pay steps due)"
"$BUILD/shegong" report eligibility --town 320602001 --as-of 2025-12-31 | head -6
echo "..."
echo
echo "shegongd is still running (pid $(cat "$DATA/shegongd.pid")) at $SHEGONG_SERVER,"
echo "and serves the same methods to stock gRPC clients at ${GRPC_LISTEN%:*}:$(cat "$DATA/grpc-port") (docs/PROTOCOL.md §13)."
echo "Try: export SHEGONG_SERVER=$SHEGONG_SERVER SHEGONG_TOKEN_FILE=$SHEGONG_TOKEN_FILE"
echo "     $BUILD/shegong -o json worker show 1"
echo "Stop it with: kill \$(cat $DATA/shegongd.pid)"
