# Sourced by the bench scripts (after tools/deps.sh): a release build in
# build-bench, sg_bench_tmp NAME for a temporary directory $TMP that goes (its
# server stopped) on exit, and sg_bench_server, which starts shegongd in $TMP with a demo
# district and leaves SHEGONG_SERVER and SHEGONG_TOKEN (a district admin
# without pii: reads are masked but not audited, as a database's reads are
# not logged) in the environment. Extra arguments go to shegongd.
BUILD=build-bench
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSHEGONG_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null

sg_bench_server() {
  "$BUILD/shegongd" --data "$TMP/sg" --listen 127.0.0.1:0 --port-file "$TMP/sg.port" "$@" \
    2>"$TMP/sg.log" &
  echo $! >"$TMP/sg.pid"
  for _ in $(seq 100); do [ -s "$TMP/sg.port" ] && break; sleep 0.1; done
  export SHEGONG_SERVER=127.0.0.1:$(cat "$TMP/sg.port") SHEGONG_TOKEN_FILE="$TMP/sg/admin.token"
  "$BUILD/shegong-demo" --quiet
  SHEGONG_TOKEN=$("$BUILD/shegong" -o csv --columns secret token create --role district_admin \
    --name bench | tail -1)
  export SHEGONG_TOKEN
  unset SHEGONG_TOKEN_FILE
}

# A temporary directory in $TMP (/tmp/shegong-NAME-XXXXXX), removed on exit
# with the server in it stopped.
sg_bench_tmp() {
  TMP=$(mktemp -d "/tmp/shegong-$1-XXXXXX")
  trap sg_bench_cleanup EXIT
}

sg_bench_cleanup() {
  [ -f "$TMP/sg.pid" ] && kill "$(cat "$TMP/sg.pid")" 2>/dev/null || true
  sleep 0.3
  rm -rf "$TMP"
}
