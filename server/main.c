/*
 * shegongd: the district server of the community-worker register.
 *
 *   shegongd --data DIR [--listen HOST:PORT] [--port-file F] [--log-level L]
 *            [--grpc-listen HOST:PORT] [--max-frame BYTES] [--map-size MIB] ...
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "metrics.h"
#include "net/server.h"
#include "net/reflect.h"
#include "net/tls.h"
#include "store/check.h"
#include "timeutil.h"

typedef struct app {
  uv_loop_t loop;
  sg_server srv;
  uv_signal_t sigint, sigterm;
  int writer_stopped;
} app;

static void usage(FILE *f) {
  fprintf(f,
          "usage: shegongd --data DIR [options]\n"
          "  --data DIR          data directory (created if missing)\n"
          "  --listen HOST:PORT  address to listen on (default 127.0.0.1:7420;\n"
          "                      port 0 picks a free port)\n"
          "  --port-file F       write the port listened on to F\n"
          "  --log-level L       debug, info, warn or error (default info)\n"
          "  --max-frame BYTES   largest frame accepted (default %u)\n"
          "  --map-size MIB      LMDB map size in MiB at start (default %zu); it doubles when full\n"
          "  --map-max MIB       the most the map may grow to (default 65536)\n"
          "  --watch-heartbeat-ms MS  progress message interval of idle watches (default 10000)\n"
          "  --tls-cert F --tls-key F  serve TLS (1.2+) with this PEM certificate chain and key\n"
          "  --check             check the database's integrity and exit (0: sound)\n"
          "  --metrics-listen HOST:PORT  serve Prometheus metrics at http://HOST:PORT/metrics\n"
          "  --grpc-listen HOST:PORT  serve the same methods as gRPC (HTTP/2; TLS with the\n"
          "                      --tls-* files, ALPN h2), with reflection\n"
          "  --grpc-port-file F  write the gRPC port listened on to F\n"
          "limits (docs/OPERATIONS.md):\n"
          "  --max-connections N       (default 1024)\n"
          "  --max-in-flight N         writes queued per connection (default 1024)\n"
          "  --max-output-mib N        unsent answers per connection before reading pauses (16)\n"
          "  --partial-frame-ms MS     a frame begun must be finished within this (30000)\n"
          "  --max-page-size N         largest list page (1000)\n"
          "  --default-timeout-ms MS   deadline of calls that set none (60000)\n"
          "  --output-stall-ms MS      a peer that leaves that much unread is cut off after (60000)\n"
          "  --days-ahead N      run as if today were N days later (drills and tests of\n"
          "                      dated changes, e.g. a transfer's effective day)\n"
          "  --version           print the version and exit\n",
          SG_FRAME_MAX_DEFAULT, SG_MAP_SIZE_DEFAULT >> 20);
}

/* "host:port", "[v6]:port" or ":port"; host defaults to 127.0.0.1. */
static int parse_listen(const char *s, char *host, size_t hostlen, int *port) {
  const char *colon;
  if (s[0] == '[') {
    const char *end = strchr(s, ']');
    if (!end || end[1] != ':') return -1;
    if ((size_t)(end - s - 1) >= hostlen) return -1;
    memcpy(host, s + 1, (size_t)(end - s - 1));
    host[end - s - 1] = '\0';
    colon = end + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon) return -1;
    size_t n = (size_t)(colon - s);
    if (n >= hostlen) return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    if (n == 0) snprintf(host, hostlen, "127.0.0.1");
  }
  char *end;
  errno = 0;
  long p = strtol(colon + 1, &end, 10);
  if (errno || *end || end == colon + 1 || p < 0 || p > 65535) return -1;
  *port = (int)p;
  return 0;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  char *end;
  errno = 0;
  if (!*s || *s == '-') return -1;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v < min || v > max) return -1;
  *out = v;
  return 0;
}

static void close_cb(uv_handle_t *h) { (void)h; }

static void on_writer_stopped(void *data) {
  app *a = data;
  a->writer_stopped = 1;
}

/*
 * Every connection is gone, and with it every call that could still queue
 * a write or an audit entry (a backup on a pool thread included): the
 * writer may finish its queue and stop.
 */
static void on_drained(sg_server *srv) { sg_writer_stop(srv->writer, on_writer_stopped); }

static void on_signal(uv_signal_t *sig, int signum) {
  app *a = sig->data;
  if (a->srv.stopping) return;
  sg_info("received %s: finishing in-flight writes and stopping",
          signum == SIGINT ? "SIGINT" : "SIGTERM");
  uv_close((uv_handle_t *)&a->sigint, close_cb);
  uv_close((uv_handle_t *)&a->sigterm, close_cb);
  sg_metrics_close();
  sg_server_stop(&a->srv);
}

static int write_port_file(const char *path, int port) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return -1;
  FILE *f = fopen(tmp, "w");
  if (!f) return -1;
  fprintf(f, "%d\n", port);
  if (fclose(f) != 0) return -1;
  /* rename: a reader never sees a half-written port */
  return rename(tmp, path);
}

int main(int argc, char **argv) {
  const char *data_dir = NULL, *listen = "127.0.0.1:7420", *port_file = NULL;
  const char *tls_cert = NULL, *tls_key = NULL;
  int check_only = 0;
  const char *metrics_listen = NULL, *grpc_listen = NULL, *grpc_port_file = NULL;
  uint64_t map_mib = SG_MAP_SIZE_DEFAULT >> 20, map_max_mib = 64u << 10;
  app a;
  memset(&a, 0, sizeof a);
  sg_limits_default(&a.srv.limits);
  static const struct option opts[] = {
      {"data", required_argument, 0, 'd'},      {"listen", required_argument, 0, 'l'},
      {"port-file", required_argument, 0, 'p'}, {"log-level", required_argument, 0, 'L'},
      {"max-frame", required_argument, 0, 'F'}, {"map-size", required_argument, 0, 'M'},
      {"watch-heartbeat-ms", required_argument, 0, 'W'},
      {"tls-cert", required_argument, 0, 'C'},  {"tls-key", required_argument, 0, 'K'},
      {"check", no_argument, 0, 'X'},          {"map-max", required_argument, 0, 'G'},
      {"max-connections", required_argument, 0, 1001},
      {"max-in-flight", required_argument, 0, 1002},
      {"max-output-mib", required_argument, 0, 1003},
      {"partial-frame-ms", required_argument, 0, 1004},
      {"max-page-size", required_argument, 0, 1005},
      {"default-timeout-ms", required_argument, 0, 1006},
      {"output-stall-ms", required_argument, 0, 1007},
      {"metrics-listen", required_argument, 0, 1010},
      {"days-ahead", required_argument, 0, 1011},
      {"grpc-listen", required_argument, 0, 1012},
      {"grpc-port-file", required_argument, 0, 1013},
      {"help", no_argument, 0, 'h'},            {"version", no_argument, 0, 'V'},
      {0, 0, 0, 0}};
  int ch;
  uint64_t v;
  while ((ch = getopt_long(argc, argv, "d:l:h", opts, NULL)) != -1) {
    switch (ch) {
    case 'd': data_dir = optarg; break;
    case 'l': listen = optarg; break;
    case 'p': port_file = optarg; break;
    case 'L': {
      int lvl = sg_log_level_from_name(optarg);
      if (lvl < 0) {
        fprintf(stderr, "shegongd: --log-level must be debug, info, warn or error\n");
        return 2;
      }
      sg_log_set_level(lvl);
      break;
    }
    case 'F':
      if (parse_u64(optarg, 1024, 256u << 20, &v)) {
        fprintf(stderr, "shegongd: --max-frame must be 1024 to %u bytes\n", 256u << 20);
        return 2;
      }
      a.srv.limits.max_frame = (uint32_t)v;
      break;
    case 'M':
      if (parse_u64(optarg, 1, 1u << 24, &map_mib)) {
        fprintf(stderr, "shegongd: --map-size must be 1 to %u MiB\n", 1u << 24);
        return 2;
      }
      break;
    case 'G':
      if (parse_u64(optarg, 1, 1u << 24, &map_max_mib)) {
        fprintf(stderr, "shegongd: --map-max must be 1 to %u MiB\n", 1u << 24);
        return 2;
      }
      break;
    case 'W':
      if (parse_u64(optarg, 10, 3600000, &v)) {
        fprintf(stderr, "shegongd: --watch-heartbeat-ms must be 10 to 3600000\n");
        return 2;
      }
      a.srv.heartbeat_ms = (uint32_t)v;
      break;
    case 'X': check_only = 1; break;
    case 1010: metrics_listen = optarg; break;
    case 1012: grpc_listen = optarg; break;
    case 1013: grpc_port_file = optarg; break;
    case 1011:
      if (parse_u64(optarg, 0, 3660, &v)) {
        fprintf(stderr, "shegongd: --days-ahead must be 0 to 3660\n");
        return 2;
      }
      sg_set_days_ahead((int)v);
      if (v) sg_warn("--days-ahead %llu: today is taken to be %llu days after the calendar's",
                     (unsigned long long)v, (unsigned long long)v);
      break;
    case 1001: case 1002: case 1003: case 1004: case 1005: case 1006: case 1007: {
      static const struct {
        int opt;
        const char *name;
        uint64_t min, max;
      } lim[] = {{1001, "--max-connections", 1, 100000},   {1002, "--max-in-flight", 1, 100000},
                 {1003, "--max-output-mib", 1, 4096},      {1004, "--partial-frame-ms", 100, 3600000},
                 {1005, "--max-page-size", 1, 100000},     {1006, "--default-timeout-ms", 10, 3600000},
                 {1007, "--output-stall-ms", 100, 3600000}};
      size_t i = 0;
      while (lim[i].opt != ch) i++;
      if (parse_u64(optarg, lim[i].min, lim[i].max, &v)) {
        fprintf(stderr, "shegongd: %s must be %llu to %llu\n", lim[i].name,
                (unsigned long long)lim[i].min, (unsigned long long)lim[i].max);
        return 2;
      }
      sg_limits *l = &a.srv.limits;
      if (ch == 1001) l->max_connections = (uint32_t)v;
      else if (ch == 1002) l->max_in_flight = (uint32_t)v;
      else if (ch == 1003) l->max_output_bytes = (size_t)v << 20;
      else if (ch == 1004) l->partial_frame_ms = (uint32_t)v;
      else if (ch == 1005) l->max_page_size = (uint32_t)v;
      else if (ch == 1006) l->default_timeout_ms = (uint32_t)v;
      else l->output_stall_ms = (uint32_t)v;
      if (l->default_page_size > l->max_page_size) l->default_page_size = l->max_page_size;
      break;
    }
    case 'C': tls_cert = optarg; break;
    case 'K': tls_key = optarg; break;
    case 'h': usage(stdout); return 0;
    case 'V': printf("shegongd %s\n", SHEGONG_VERSION); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind < argc || !data_dir) {
    usage(stderr);
    return 2;
  }
  char host[64];
  int port;
  if (parse_listen(listen, host, sizeof host, &port)) {
    fprintf(stderr, "shegongd: --listen wants HOST:PORT, got \"%s\"\n", listen);
    return 2;
  }
  char ghost[64];
  int gport = 0;
  if (grpc_listen && parse_listen(grpc_listen, ghost, sizeof ghost, &gport)) {
    fprintf(stderr, "shegongd: --grpc-listen wants HOST:PORT, got \"%s\"\n", grpc_listen);
    return 2;
  }
  if (grpc_port_file && !grpc_listen) {
    fprintf(stderr, "shegongd: --grpc-port-file needs --grpc-listen\n");
    return 2;
  }
  if (!tls_cert != !tls_key) {
    fprintf(stderr, "shegongd: --tls-cert and --tls-key go together\n");
    return 2;
  }
  if (tls_cert) {
    char why[300];
    if (sg_tls_server_ctx(&a.srv.tls, tls_cert, tls_key, why, sizeof why) != 0) {
      fprintf(stderr, "shegongd: TLS: %s\n", why);
      return 1;
    }
    if (grpc_listen) {
      if (sg_tls_server_ctx(&a.srv.grpc_tls, tls_cert, tls_key, why, sizeof why) != 0) {
        fprintf(stderr, "shegongd: TLS: %s\n", why);
        sg_tls_ctx_free(a.srv.tls);
        return 1;
      }
      sg_tls_ctx_alpn_h2(a.srv.grpc_tls);
    }
  }
  if (sg_dispatch_init() != 0) return 1;

  if (check_only) {
    /* a check of a mistyped path must not report an empty, sound database */
    char db[4200];
    snprintf(db, sizeof db, "%s/data.mdb", data_dir);
    if (access(db, R_OK) != 0) {
      fprintf(stderr, "shegongd: no database in %s\n", data_dir);
      return 1;
    }
  }
  int rc = sg_store_open(&a.srv.store, data_dir, (size_t)map_mib << 20);
  if (rc) {
    sg_error("cannot open the data directory %s: %s", data_dir, sg_strerror(rc));
    return 1;
  }
  sg_store_set_map_max(a.srv.store, (size_t)map_max_mib << 20);
  if (check_only) {
    sg_check_stats cs;
    rc = sg_store_check(a.srv.store, stdout, &cs);
    printf("checked %llu units, %llu workers, %llu other records, %llu changes (revisions "
           "%llu..%llu), %llu tokens, %llu audit entries: %llu problems\n",
           (unsigned long long)cs.units, (unsigned long long)cs.workers,
           (unsigned long long)cs.records,
           (unsigned long long)cs.changes, (unsigned long long)cs.compacted_revision + 1,
           (unsigned long long)cs.head_revision, (unsigned long long)cs.tokens,
           (unsigned long long)cs.audit, (unsigned long long)cs.problems);
    sg_store_close(a.srv.store);
    return rc || cs.problems ? 1 : 0;
  }
  char token_path[4096];
  if (snprintf(token_path, sizeof token_path, "%s/admin.token", data_dir) >= (int)sizeof token_path ||
      sg_auth_bootstrap(a.srv.store, token_path) != 0) {
    sg_error("cannot create the first admin token");
    sg_store_close(a.srv.store);
    return 1;
  }
  if ((rc = mdb_txn_begin(a.srv.store->env, NULL, MDB_RDONLY, &a.srv.read_txn))) {
    sg_store_err(rc, "begin read transaction");
    sg_store_close(a.srv.store);
    return 1;
  }
  mdb_txn_reset(a.srv.read_txn);
  sg_arena_init(&a.srv.read_arena, a.srv.limits.max_call_memory);
  /* no cap: a frame is bounded by the frame limit before it is decoded */
  sg_arena_init(&a.srv.frame_arena, 0);

  uv_loop_init(&a.loop);
  a.srv.loop = &a.loop;
  int exit_code = 1;
  if (sg_writer_start(&a.srv.writer, &a.loop, a.srv.store, &a.srv.limits, sg_server_job_done,
                      &a) != 0) {
    sg_error("cannot start the writer thread");
    uv_run(&a.loop, UV_RUN_DEFAULT); /* let its handle close */
    goto out;
  }
  sg_writer_on_batch(a.srv.writer, sg_server_after_batch, &a.srv);
  a.srv.on_drained = on_drained;
  if (sg_server_listen(&a.srv, host, port) != 0) {
    sg_server_stop(&a.srv);
    uv_run(&a.loop, UV_RUN_DEFAULT);
    goto out;
  }
  /* before the port file: whoever waits for it may use every listener */
  if (grpc_listen && (sg_server_listen_grpc(&a.srv, ghost, gport) != 0 ||
                      (grpc_port_file && write_port_file(grpc_port_file, a.srv.grpc_bound_port)))) {
    sg_error("cannot serve gRPC on %s", grpc_listen);
    sg_server_stop(&a.srv);
    uv_run(&a.loop, UV_RUN_DEFAULT);
    goto out;
  }
  if (port_file && write_port_file(port_file, a.srv.bound_port) != 0) {
    sg_error("cannot write port file %s: %s", port_file, strerror(errno));
    sg_server_stop(&a.srv);
    uv_run(&a.loop, UV_RUN_DEFAULT);
    goto out;
  }
  if (metrics_listen) {
    char mhost[64];
    int mport;
    if (parse_listen(metrics_listen, mhost, sizeof mhost, &mport) ||
        sg_metrics_listen(&a.srv, mhost, mport) != 0) {
      sg_error("cannot serve metrics on %s", metrics_listen);
      sg_metrics_close();
      sg_server_stop(&a.srv);
      uv_run(&a.loop, UV_RUN_DEFAULT);
      goto out;
    }
  }
  sg_schedule_start(&a.srv);
  uv_signal_init(&a.loop, &a.sigint);
  uv_signal_init(&a.loop, &a.sigterm);
  a.sigint.data = a.sigterm.data = &a;
  uv_signal_start(&a.sigint, on_signal, SIGINT);
  uv_signal_start(&a.sigterm, on_signal, SIGTERM);
  signal(SIGPIPE, SIG_IGN);
  sg_info("shegongd %s listening on %s%s, data in %s", SHEGONG_VERSION, a.srv.bound,
          a.srv.tls ? " (TLS)" : "", data_dir);
  if (grpc_listen)
    sg_info("gRPC on %s%s", a.srv.grpc_bound, a.srv.grpc_tls ? " (TLS, ALPN h2)" : "");

  uv_run(&a.loop, UV_RUN_DEFAULT);
  exit_code = a.writer_stopped ? 0 : 1;
  sg_info("stopped after %llu calls", (unsigned long long)a.srv.calls);
out:
  if (uv_loop_close(&a.loop) != 0) sg_warn("event loop closed with handles still open");
  sg_writer_free(a.srv.writer);
  sg_arena_destroy(&a.srv.read_arena);
  sg_arena_destroy(&a.srv.frame_arena);
  sg_server_read_done(&a.srv);
  mdb_txn_abort(a.srv.read_txn);
  sg_store_close(a.srv.store);
  sg_tls_ctx_free(a.srv.tls);
  sg_tls_ctx_free(a.srv.grpc_tls);
  sg_reflect_free();
  return exit_code;
}
