#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net/server.h"

#define MAX_METHODS 128
#define MAX_TOWNS 256
#define REQUEST_MAX 8192

/* Latency buckets, in microseconds. */
static const uint64_t buckets[] = {100, 250, 500, 1000, 2500, 5000, 10000, 50000, 250000, 1000000};
#define N_BUCKETS (sizeof buckets / sizeof buckets[0])

static struct {
  uint64_t calls[MAX_METHODS][17];
  uint64_t hist[MAX_METHODS][N_BUCKETS + 1];
  uint64_t sum_usec[MAX_METHODS];
  struct {
    char town[16];
    uint64_t position, head;
  } towns[MAX_TOWNS];
  size_t n_towns;
} m;

static atomic_uint_fast64_t batches, batch_jobs, batch_max;

void sg_metrics_call(size_t method, int code, uint64_t usec) {
  if (method >= MAX_METHODS || code < 0 || code > 16) return;
  m.calls[method][code]++;
  size_t b = 0;
  while (b < N_BUCKETS && usec > buckets[b]) b++;
  m.hist[method][b]++;
  m.sum_usec[method] += usec;
}

void sg_metrics_pull(const char *town_code, uint64_t position, uint64_t head) {
  if (!town_code[0] || strlen(town_code) >= 16) return;
  size_t i = 0;
  while (i < m.n_towns && strcmp(m.towns[i].town, town_code) != 0) i++;
  if (i == m.n_towns) {
    if (m.n_towns == MAX_TOWNS) return;
    snprintf(m.towns[m.n_towns++].town, 16, "%s", town_code);
  }
  m.towns[i].position = position;
  m.towns[i].head = head;
}

void sg_metrics_batch(size_t n) {
  atomic_fetch_add(&batches, 1);
  atomic_fetch_add(&batch_jobs, n);
  uint64_t cur = atomic_load(&batch_max);
  while (n > cur && !atomic_compare_exchange_weak(&batch_max, &cur, n)) {
  }
}

/* ---- the text ---------------------------------------------------------------- */

typedef struct text {
  char *p;
  size_t len, cap;
} text;

__attribute__((format(printf, 2, 3))) static void put(text *t, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (t->p && (size_t)n < t->cap - t->len) {
      t->len += (size_t)n;
      return;
    }
    size_t cap = t->cap ? t->cap * 2 : 16384;
    while (cap - t->len <= (size_t)n) cap *= 2;
    char *g = realloc(t->p, cap);
    if (!g) return;
    t->p = g;
    t->cap = cap;
  }
}

static void render(sg_server *srv, text *t) {
  put(t, "# HELP shegong_calls_total Calls answered, by method and status code.\n");
  put(t, "# TYPE shegong_calls_total counter\n");
  size_t n = sg_dispatch_count();
  for (size_t i = 0; i < n && i < MAX_METHODS; i++)
    for (int code = 0; code <= 16; code++)
      if (m.calls[i][code])
        put(t, "shegong_calls_total{method=\"%s\",code=\"%s\"} %llu\n", sg_dispatch_at(i)->info->path,
            sg_code_name(code), (unsigned long long)m.calls[i][code]);
  put(t, "# HELP shegong_call_seconds Time from a call's frame to its answer.\n");
  put(t, "# TYPE shegong_call_seconds histogram\n");
  for (size_t i = 0; i < n && i < MAX_METHODS; i++) {
    uint64_t total = 0;
    for (size_t b = 0; b <= N_BUCKETS; b++) total += m.hist[i][b];
    if (!total) continue;
    const char *path = sg_dispatch_at(i)->info->path;
    uint64_t cum = 0;
    for (size_t b = 0; b < N_BUCKETS; b++) {
      cum += m.hist[i][b];
      put(t, "shegong_call_seconds_bucket{method=\"%s\",le=\"%g\"} %llu\n", path,
          (double)buckets[b] / 1e6, (unsigned long long)cum);
    }
    put(t, "shegong_call_seconds_bucket{method=\"%s\",le=\"+Inf\"} %llu\n", path,
        (unsigned long long)total);
    put(t, "shegong_call_seconds_sum{method=\"%s\"} %.6f\n", path, (double)m.sum_usec[i] / 1e6);
    put(t, "shegong_call_seconds_count{method=\"%s\"} %llu\n", path, (unsigned long long)total);
  }
  put(t, "# HELP shegong_connections Open client connections.\n# TYPE shegong_connections gauge\n");
  put(t, "shegong_connections %zu\n", srv->n_conns);
  put(t, "# HELP shegong_watches Open Sync/Watch streams.\n# TYPE shegong_watches gauge\n");
  put(t, "shegong_watches %zu\n", srv->n_watches);
  put(t, "# HELP shegong_writer_batches_total Committed write batches.\n"
         "# TYPE shegong_writer_batches_total counter\n");
  put(t, "shegong_writer_batches_total %llu\n", (unsigned long long)atomic_load(&batches));
  put(t, "# HELP shegong_writer_batch_jobs_total Writes in those batches (group commit).\n"
         "# TYPE shegong_writer_batch_jobs_total counter\n");
  put(t, "shegong_writer_batch_jobs_total %llu\n", (unsigned long long)atomic_load(&batch_jobs));
  put(t, "# HELP shegong_writer_batch_max Largest batch so far.\n# TYPE shegong_writer_batch_max gauge\n");
  put(t, "shegong_writer_batch_max %llu\n", (unsigned long long)atomic_load(&batch_max));
  MDB_envinfo info;
  MDB_stat st;
  if (mdb_env_info(srv->store->env, &info) == 0 && mdb_env_stat(srv->store->env, &st) == 0) {
    put(t, "# HELP shegong_db_used_bytes Pages in use in the database file.\n"
           "# TYPE shegong_db_used_bytes gauge\n");
    put(t, "shegong_db_used_bytes %llu\n",
        (unsigned long long)(info.me_last_pgno + 1) * st.ms_psize);
    put(t, "# HELP shegong_db_map_bytes The map size (grows when full).\n"
           "# TYPE shegong_db_map_bytes gauge\n");
    put(t, "shegong_db_map_bytes %zu\n", info.me_mapsize);
  }
  put(t, "# HELP shegong_replica_lag_revisions Head revision minus a town's last pull position, "
         "as of that pull.\n# TYPE shegong_replica_lag_revisions gauge\n");
  for (size_t i = 0; i < m.n_towns; i++)
    put(t, "shegong_replica_lag_revisions{town=\"%s\"} %llu\n", m.towns[i].town,
        (unsigned long long)(m.towns[i].head - m.towns[i].position));
}

/* ---- the HTTP side: one request, one answer, close -------------------------------- */

typedef struct scrape {
  uv_tcp_t tcp;
  sg_server *srv;
  char req[REQUEST_MAX];
  size_t len;
  int answered;
} scrape;

static uv_tcp_t listener;
static int listening;
static sg_server *server;

static void scrape_closed(uv_handle_t *h) { free(h->data); }

typedef struct http_write {
  uv_write_t req;
  scrape *s;
  char *body;
} http_write;

static void written(uv_write_t *w, int status) {
  (void)status;
  http_write *hw = (http_write *)w;
  free(hw->body);
  if (!uv_is_closing((uv_handle_t *)&hw->s->tcp)) uv_close((uv_handle_t *)&hw->s->tcp, scrape_closed);
  free(hw);
}

static void answer(scrape *s, int status, const char *reason, text *body) {
  s->answered = 1;
  uv_read_stop((uv_stream_t *)&s->tcp);
  text all = {0};
  put(&all,
      "HTTP/1.1 %d %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
      status, reason, body->len);
  if (body->len) put(&all, "%.*s", (int)body->len, body->p);
  http_write *hw = calloc(1, sizeof *hw);
  if (!hw || !all.p) {
    free(hw);
    free(all.p);
    uv_close((uv_handle_t *)&s->tcp, scrape_closed);
    return;
  }
  hw->s = s;
  hw->body = all.p;
  uv_buf_t b = uv_buf_init(all.p, (unsigned)all.len);
  if (uv_write(&hw->req, (uv_stream_t *)&s->tcp, &b, 1, written) != 0) {
    free(hw->body);
    free(hw);
    uv_close((uv_handle_t *)&s->tcp, scrape_closed);
  }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  scrape *s = h->data;
  buf->base = s->req + s->len;
  buf->len = sizeof s->req - 1 - s->len;
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  scrape *s = st->data;
  if (s->answered) return;
  if (n < 0) {
    uv_close((uv_handle_t *)&s->tcp, scrape_closed);
    return;
  }
  s->len += (size_t)n;
  s->req[s->len] = '\0';
  if (!strstr(s->req, "\r\n\r\n")) {
    if (s->len >= sizeof s->req - 1) {
      text none = {0};
      answer(s, 431, "Request Header Fields Too Large", &none);
    }
    return;
  }
  text body = {0};
  if (strncmp(s->req, "GET /metrics ", 13) == 0 || strncmp(s->req, "GET / ", 6) == 0) {
    render(s->srv, &body);
    answer(s, 200, "OK", &body);
  } else {
    put(&body, "GET /metrics\n");
    answer(s, 404, "Not Found", &body);
  }
  free(body.p);
}

static void on_conn(uv_stream_t *l, int status) {
  if (status < 0) return;
  scrape *s = calloc(1, sizeof *s);
  if (!s) return;
  s->srv = server;
  uv_tcp_init(l->loop, &s->tcp);
  s->tcp.data = s;
  if (uv_accept(l, (uv_stream_t *)&s->tcp) != 0 ||
      uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb) != 0)
    uv_close((uv_handle_t *)&s->tcp, scrape_closed);
}

int sg_metrics_listen(sg_server *srv, const char *host, int port) {
  struct sockaddr_storage addr;
  int rc = strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr)
                             : uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
  if (rc) return SG_EINVAL;
  server = srv;
  uv_tcp_init(srv->loop, &listener);
  listening = 1;
  if ((rc = uv_tcp_bind(&listener, (struct sockaddr *)&addr, 0)) ||
      (rc = uv_listen((uv_stream_t *)&listener, 64, on_conn))) {
    sg_error("cannot serve metrics on %s:%d: %s", host, port, uv_strerror(rc));
    return SG_EIO;
  }
  sg_info("metrics on http://%s:%d/metrics", host, port);
  return 0;
}

void sg_metrics_close(void) {
  if (listening && !uv_is_closing((uv_handle_t *)&listener)) uv_close((uv_handle_t *)&listener, NULL);
  listening = 0;
}
