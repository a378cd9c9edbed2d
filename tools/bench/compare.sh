#!/usr/bin/env bash
# Side by side, on this machine, in one run: shegong, PostgreSQL 15 and Redis
# with the same workload shapes, and the ratios shegong / PostgreSQL and
# shegong / Redis. It installs what is missing (apt), starts every server in
# a temporary directory on loopback, and stops them at the end.
#
#   tools/bench/compare.sh [SECONDS]        (default 10 per measurement)
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-10}
source tools/deps.sh
SG_PACKAGES+=(postgresql redis-server redis-tools)
sg_install_deps

source tools/bench/server.sh

TMP=$(mktemp -d /tmp/shegong-compare-XXXXXX)
chmod 755 "$TMP"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
cleanup() {
  [ -f "$TMP/sg.pid" ] && kill "$(cat "$TMP/sg.pid")" 2>/dev/null || true
  [ -d "$TMP/pg" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$TMP/pg" -m fast stop >/dev/null 2>&1 || true
  [ -f "$TMP/redis.pid" ] && kill "$(cat "$TMP/redis.pid")" 2>/dev/null || true
  sleep 0.5
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- shegong -------------------------------------------------------------------
echo "==> shegong: a demo district, then the workloads ($SECS s each)" >&2
sg_bench_server
sgb() { "$BUILD/shegong-bench" --seconds "$SECS" --server-pid "$(cat "$TMP/sg.pid")" --json "$@"; }
ops() { python3 -c 'import json,sys; print(round(json.load(sys.stdin)["ops_per_sec"]))'; }
p99() { python3 -c 'import json,sys; d=json.load(sys.stdin)["by_op"]; print(list(d.values())[0]["p99_ms"])'; }
SG_INSERT=$(sgb --connections 64 --depth 1 --mix create=100)
# reads from one event-loop thread (--loop), as redis-benchmark and pgbench drive their
# servers: a thread per connection would cost as much CPU as the server on 2 cores
SG_GET1=$(sgb --loop --connections 16 --depth 1)
SG_GET16=$(sgb --loop --connections 16 --depth 16)
# a demo worker packs to about 190 bytes (docs/PROTOCOL.md, Sizes)
SIZE=200

# ---- PostgreSQL ------------------------------------------------------------------
echo "==> PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'): synchronous_commit on, fsync on" >&2
mkdir -p "$TMP/pg" "$TMP/pgsock" && chown postgres "$TMP/pg" "$TMP/pgsock"
PGPORT=$(free_port)
runuser -u postgres -- "$PGBIN/initdb" -D "$TMP/pg" -A trust -E UTF8 >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$TMP/pg" -l "$TMP/pgsock/pg.log" -w \
  -o "-p $PGPORT -k $TMP/pgsock -c listen_addresses=127.0.0.1 -c max_connections=200 -c synchronous_commit=on -c fsync=on" start >/dev/null
PSQL=(runuser -u postgres -- psql -q -h 127.0.0.1 -p "$PGPORT" -d postgres -v ON_ERROR_STOP=1)
"${PSQL[@]}" <<'SQL'
CREATE TABLE workers (
  id bigserial PRIMARY KEY, version bigint NOT NULL DEFAULT 1, revision bigint NOT NULL DEFAULT 0,
  name text NOT NULL, gender int, birth_date date, id_number text UNIQUE NOT NULL, phone text,
  education int, party_member bool, category int, role int, source int, certification int,
  post text, level int, unit_id bigint, unit_code text, grid_code text, hire_date date,
  status int, leave_date date, leave_reason text, town_code text,
  created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now());
CREATE INDEX ON workers (unit_id, id);
CREATE INDEX ON workers (town_code, id);
CREATE SEQUENCE idn;
INSERT INTO workers (name, gender, birth_date, id_number, phone, education, party_member, category,
                     role, source, certification, post, level, unit_id, unit_code, hire_date,
                     status, town_code)
SELECT '测试' || g, 2, '1985-03-07', lpad(nextval('idn')::text, 18, '0'), '13812345678', 3, true,
       1, 3, 1, 1, 'C', 5, 4, '320602001001', '2019-06-01', 1, '320602001'
FROM generate_series(1, 3000) g;
SQL
cat >"$TMP/insert.sql" <<'SQL'
INSERT INTO workers (name, gender, birth_date, id_number, phone, education, party_member, category,
                     role, source, certification, post, level, unit_id, unit_code, hire_date,
                     status, town_code)
VALUES ('测试', 2, '1985-03-07', lpad(nextval('idn')::text, 18, '0'), '13812345678', 3, true, 1, 3,
        1, 1, 'C', 5, 4, '320602001001', '2019-06-01', 1, '320602001');
SQL
cat >"$TMP/select.sql" <<'SQL'
\set id random(1, 3000)
SELECT * FROM workers WHERE id = :id;
SQL
chmod 644 "$TMP"/*.sql
pgb() { runuser -u postgres -- pgbench -n -h 127.0.0.1 -p "$PGPORT" -T "$SECS" -j 2 "$@" postgres 2>/dev/null |
        awk '/^tps = /{print int($3)} /^latency average/{}'; }
PG_INSERT=$(pgb -c 64 -f "$TMP/insert.sql")
PG_GET1=$(pgb -c 16 -f "$TMP/select.sql")

# ---- Redis -------------------------------------------------------------------------
echo "==> Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2): SET/GET of a ${SIZE}-byte value (a packed worker)" >&2
RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
  --pidfile "$TMP/redis.pid" --dir "$TMP" --logfile "$TMP/redis.log"
for _ in $(seq 50); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
rb() { redis-benchmark -p "$RPORT" -d "$SIZE" -r 3000 -n "$1" -c 16 "${@:2}" --csv 2>/dev/null |
       awk -F'"' 'NR>1{print int($4)}'; }
RD_GET1=$(rb 200000 -t get -P 1)
RD_GET16=$(rb 1000000 -t get -P 16)
RD_SET1=$(rb 200000 -t set -P 1)

# ---- the table -------------------------------------------------------------------------
SG_I=$(echo "$SG_INSERT" | ops); SG_G1=$(echo "$SG_GET1" | ops); SG_G16=$(echo "$SG_GET16" | ops)
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b else '-')" "$1" "$2"; }
echo
printf "%-44s %10s %10s %10s %8s %8s\n" "operation (ops/s)" shegong PostgreSQL Redis "sg/PG" "sg/Redis"
printf "%-44s %10s %10s %10s %8s %8s\n" "durable insert, 64 connections" "$SG_I" "$PG_INSERT" "($RD_SET1)" "$(ratio "$SG_I" "$PG_INSERT")" "-"
printf "%-44s %10s %10s %10s %8s %8s\n" "point read, 16 connections, unpipelined" "$SG_G1" "$PG_GET1" "$RD_GET1" "$(ratio "$SG_G1" "$PG_GET1")" "$(ratio "$SG_G1" "$RD_GET1")"
printf "%-44s %10s %10s %10s %8s %8s\n" "point read, 16 connections, 16 in flight" "$SG_G16" "-" "$RD_GET16" "-" "$(ratio "$SG_G16" "$RD_GET16")"
echo
echo "shegong p99: insert $(echo "$SG_INSERT" | p99) ms, read $(echo "$SG_GET1" | p99) ms, pipelined read $(echo "$SG_GET16" | p99) ms"
echo "shegong server: $(echo "$SG_INSERT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["server_cpu_s"], "CPU s during the insert run; peak RSS", d["server_peak_rss_mib"], "MiB")')"
echo "(Redis SET is not durable here: --save \"\" --appendonly no; it is shown for scale only.)"
