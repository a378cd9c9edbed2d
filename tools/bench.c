/*
 * shegong-bench: load a running shegongd and report throughput and latency.
 *
 *   shegong-bench [--server ADDR] [--connections N] [--depth D] [--seconds S]
 *                 [--mix get=80,list=10,create=10,update=0,pull=0,snapshot=0]
 *                 [--server-pid PID] [--json]
 *
 * update changes the phone of a worker this connection created (at its
 * known version, one update per worker in flight); pull takes a town's last
 * 100 changes; snapshot streams a whole town. With --server-pid the server's
 * CPU time over the run and its peak RSS are read from /proc.
 *
 * Each connection is a thread with its own client keeping D calls in flight.
 * Reads pick random existing workers; creates make new workers with valid,
 * unique ID numbers in the first community of the first town. Expects a
 * loaded district (shegong-demo). Speed is measured here, never asserted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "shegong.h"
#include "shegong/v1/sync.pb-c.h"
#include "shegong/v1/units.pb-c.h"
#include "shegong/v1/workers.pb-c.h"
#include "timeutil.h"
#include "validate.h"

enum { OP_GET, OP_LIST, OP_CREATE, OP_UPDATE, OP_PULL, OP_SNAPSHOT, OP_N };
static const char *const op_names[OP_N] = {"get", "list", "create", "update", "pull", "snapshot"};

typedef struct bench {
  const char *server;
  int connections, depth, seconds, json;
  double rate; /* --rate: calls per second in all, sent on a schedule; 0: as fast as answered */
  int loop;    /* --loop: one thread, non-blocking sockets, raw frames (reads only) */
  int mix[OP_N];
  uint64_t max_worker_id;
  char town[16], unit[16];
  uint64_t pull_since; /* a pull takes the town's last changes from here */
  long server_pid;
  atomic_uint_fast64_t next_seq;
  uint64_t start_us;
  /* every connection is made before the clock starts: a schedule (--rate)
   * must not charge the server for the clients' own connecting */
  pthread_barrier_t connected, started;
} bench;

typedef struct lat {
  uint32_t *us;
  size_t n, cap;
} lat;

typedef struct own_worker {
  uint64_t id, version;
  int busy; /* an update of it is in flight */
} own_worker;

typedef struct worker_thread {
  bench *b;
  own_worker *own;
  size_t n_own, cap_own;
  pthread_t thread;
  int index;
  uint64_t rng;
  lat lats[OP_N];
  uint64_t errors;
  uint64_t unsent; /* --rate: calls that fell due and were never sent */
  char first_error[320];
} worker_thread;

static uint64_t next_rand(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static void lat_add(lat *l, uint64_t us) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 4096;
    uint32_t *n = realloc(l->us, cap * sizeof *n);
    if (!n) return;
    l->us = n;
    l->cap = cap;
  }
  l->us[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/*
 * A valid ID number for sequence number seq: the sequence is spread over
 * area codes 32xxyy with xx from 50 (the demo districts are 3206yy, and a
 * run that met one of their workers failed on ALREADY_EXISTS), birth dates
 * 1970-2001 and the 3-digit sequence, about 5e10 numbers, so a run starting
 * at a random point meets no earlier run.
 */
#define SEQ_SPACE (50ull * 99 * 10752 * 1000)
static void make_idno(uint64_t seq, char out[19]) {
  seq %= SEQ_SPACE;
  unsigned s3 = (unsigned)(seq % 1000);
  seq /= 1000;
  int year = 1970 + (int)(seq % 32), month = 1 + (int)(seq / 32 % 12), day = 1 + (int)(seq / 384 % 28);
  seq /= 10752;
  unsigned pref = 1 + (unsigned)(seq % 99), city = 50 + (unsigned)(seq / 99 % 50);
  char first[18];
  snprintf(first, sizeof first, "32%02u%02u%04d%02d%02d%03u", city, pref, year, month, day, s3);
  memcpy(out, first, 17);
  out[17] = sg_idno_check_char(first);
  out[18] = '\0';
}

typedef struct inflight {
  uint32_t id;
  int op;
  uint64_t t0;
  size_t own; /* OP_UPDATE: which own worker */
} inflight;

static int send_op(worker_thread *w, sg_client *c, int *op_io, uint32_t *id, size_t *own) {
  bench *b = w->b;
  sg_status st;
  int rc, op = *op_io;
  if (op == OP_UPDATE) {
    /* an own worker with no update in flight, else a create to make one */
    size_t pick = w->n_own ? (size_t)(next_rand(&w->rng) % w->n_own) : 0;
    size_t k = 0;
    while (k < w->n_own && w->own[(pick + k) % w->n_own].busy) k++;
    if (k == w->n_own) op = *op_io = OP_CREATE;
    else *own = (pick + k) % w->n_own;
  }
  if (op == OP_UPDATE) {
    own_worker *o = &w->own[*own];
    char phone[16];
    snprintf(phone, sizeof phone, "139%08u", (unsigned)(next_rand(&w->rng) % 100000000));
    Shegong__V1__Worker p = SHEGONG__V1__WORKER__INIT;
    p.phone = phone;
    char *mask[] = {"phone"};
    Shegong__V1__UpdateWorkerRequest r = SHEGONG__V1__UPDATE_WORKER_REQUEST__INIT;
    r.id = o->id;
    r.expected_version = o->version;
    r.worker = &p;
    r.n_update_mask = 1;
    r.update_mask = mask;
    rc = sg_call_send(c, "Workers/Update", &r.base, 30000, id, &st);
    if (!rc) o->busy = 1;
  } else if (op == OP_PULL) {
    Shegong__V1__PullRequest r = SHEGONG__V1__PULL_REQUEST__INIT;
    r.town_code = b->town;
    r.since = b->pull_since;
    r.limit = 100;
    rc = sg_call_send(c, "Sync/Pull", &r.base, 30000, id, &st);
  } else if (op == OP_SNAPSHOT) {
    Shegong__V1__SnapshotRequest r = SHEGONG__V1__SNAPSHOT_REQUEST__INIT;
    r.town_code = b->town;
    rc = sg_call_send(c, "Sync/Snapshot", &r.base, 30000, id, &st);
  } else if (op == OP_GET) {
    Shegong__V1__GetWorkerRequest r = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
    r.id = 1 + next_rand(&w->rng) % b->max_worker_id;
    rc = sg_call_send(c, "Workers/Get", &r.base, 30000, id, &st);
  } else if (op == OP_LIST) {
    Shegong__V1__ListWorkersRequest r = SHEGONG__V1__LIST_WORKERS_REQUEST__INIT;
    r.town_code = b->town;
    r.page_size = 100;
    rc = sg_call_send(c, "Workers/List", &r.base, 30000, id, &st);
  } else {
    uint64_t seq = atomic_fetch_add(&b->next_seq, 1);
    char idno[19], name[32];
    make_idno(seq, idno);
    snprintf(name, sizeof name, "测试%llu", (unsigned long long)seq % 100000);
    Shegong__V1__Worker wk = SHEGONG__V1__WORKER__INIT;
    wk.name = name;
    wk.id_number = idno;
    wk.unit_code = b->unit;
    wk.category = SHEGONG__V1__CATEGORY__COMMUNITY_BASED;
    wk.role = SHEGONG__V1__ROLE__GENERALIST;
    wk.hire_date = "2024-03-01";
    Shegong__V1__CreateWorkerRequest r = SHEGONG__V1__CREATE_WORKER_REQUEST__INIT;
    r.worker = &wk;
    rc = sg_call_send(c, "Workers/Create", &r.base, 30000, id, &st);
  }
  if (rc && !w->first_error[0])
    snprintf(w->first_error, sizeof w->first_error, "%s: %s", sg_code_name(st.code), st.message);
  return rc;
}

static int pick_op(worker_thread *w) {
  int total = 0;
  for (int i = 0; i < OP_N; i++) total += w->b->mix[i];
  int r = (int)(next_rand(&w->rng) % (uint64_t)total);
  for (int i = 0; i < OP_N; i++) {
    if (r < w->b->mix[i]) return i;
    r -= w->b->mix[i];
  }
  return OP_GET;
}

/*
 * One answer back: its latency, and the bookkeeping of the workers this
 * connection made (creates give workers to update; updates move their
 * version on). Returns nonzero when the connection is gone.
 */
static int take_answer(worker_thread *w, inflight *fl, int *n, uint32_t got, int rc,
                       ProtobufCMessage *resp, const sg_status *st) {
  uint64_t t1 = sg_now_us();
  for (int i = 0; i < *n; i++)
    if (fl[i].id == got) {
      if (rc == 0) lat_add(&w->lats[fl[i].op], t1 - fl[i].t0);
      if (fl[i].op == OP_UPDATE) {
        w->own[fl[i].own].busy = 0;
        if (rc == 0) w->own[fl[i].own].version = ((Shegong__V1__Worker *)resp)->version;
      } else if (fl[i].op == OP_CREATE && rc == 0) {
        if (w->n_own == w->cap_own) {
          size_t cap = w->cap_own ? w->cap_own * 2 : 64;
          own_worker *g = realloc(w->own, cap * sizeof *g);
          if (g) {
            w->own = g;
            w->cap_own = cap;
          }
        }
        if (w->n_own < w->cap_own)
          w->own[w->n_own++] = (own_worker){((Shegong__V1__Worker *)resp)->id,
                                            ((Shegong__V1__Worker *)resp)->version, 0};
      }
      fl[i] = fl[--*n];
      break;
    }
  if (rc) {
    w->errors++;
    if (!w->first_error[0])
      snprintf(w->first_error, sizeof w->first_error, "%s: %s", sg_code_name(st->code), st->message);
    return rc == SG_EUNAVAIL;
  }
  protobuf_c_message_free_unpacked(resp, NULL);
  return 0;
}

static void *thread_main(void *arg) {
  worker_thread *w = arg;
  bench *b = w->b;
  sg_client *c;
  sg_status st;
  int connected = sg_client_connect(&c, b->server, 5000, &st) == 0;
  if (!connected) {
    snprintf(w->first_error, sizeof w->first_error, "connect: %s", st.message);
    w->errors++;
  }
  if (pthread_barrier_wait(&b->connected) == PTHREAD_BARRIER_SERIAL_THREAD) b->start_us = sg_now_us();
  pthread_barrier_wait(&b->started);
  if (!connected) return NULL;
  inflight *fl = calloc((size_t)b->depth, sizeof *fl);
  int n = 0;
  uint64_t end = b->start_us + (uint64_t)b->seconds * 1000000u;
  /*
   * With --rate, each connection sends on its own schedule, the connections
   * staggered; a call's latency counts from when it was due, not from when
   * it went out, so that a server that falls behind is charged for the wait
   * (no coordinated omission).
   */
  double interval = b->rate > 0 ? 1e6 * b->connections / b->rate : 0;
  double due = (double)b->start_us + interval * w->index / b->connections;
  for (;;) {
    uint64_t now = sg_now_us();
    while (n < b->depth && now < end && (interval == 0 || (double)now >= due)) {
      int op = pick_op(w);
      uint32_t id;
      size_t own = 0;
      if (send_op(w, c, &op, &id, &own) != 0) {
        w->errors++;
        goto out;
      }
      fl[n++] = (inflight){id, op, interval > 0 ? (uint64_t)due : sg_now_us(), own};
      due += interval;
      now = sg_now_us();
    }
    int wait_ms = 30000;
    if (interval > 0 && now < end && n < b->depth) {
      double left = due - (double)now;
      if (n == 0 || left < 1000) {
        /* nothing in flight: sleep until the next send; answers pending and under
         * a millisecond to it: look for one, else sleep at most 100 µs, then again */
        if (n) {
          uint32_t got0;
          ProtobufCMessage *r0 = NULL;
          int rc0 = sg_call_recv_any(c, &got0, &r0, -1, &st); /* -1: no waiting */
          if (rc0 == SG_ETIMEDOUT && got0 == 0) {
            struct timespec ts = {0, (long)(left < 100 ? (left > 0 ? left : 0) : 100) * 1000};
            nanosleep(&ts, NULL);
            continue;
          }
          if (take_answer(w, fl, &n, got0, rc0, r0, &st)) goto out;
          continue;
        }
        uint64_t until = (uint64_t)due < end ? (uint64_t)due : end;
        if (until > now) {
          struct timespec ts = {(time_t)((until - now) / 1000000), (long)((until - now) % 1000000) * 1000};
          nanosleep(&ts, NULL);
        }
        continue;
      }
      double cap = (double)(end - now) / 1000 + 1;
      wait_ms = (int)(left / 1000 < cap ? left / 1000 : cap);
      if (wait_ms > 29999) wait_ms = 29999;
    }
    if (n == 0) break;
    uint32_t got;
    ProtobufCMessage *resp;
    int rc = sg_call_recv_any(c, &got, &resp, wait_ms, &st);
    if (rc == SG_ETIMEDOUT && got == 0 && wait_ms < 30000) continue; /* time to send again */
    if (take_answer(w, fl, &n, got, rc, resp, &st)) break;
  }
out:
  if (interval > 0 && due < (double)end) w->unsent += (uint64_t)(((double)end - due) / interval) + 1;
  free(fl);
  free(w->own);
  sg_client_close(c);
  return NULL;
}

/* ---- --loop: every connection on one thread, as redis-benchmark does ----
 *
 * The default client is a thread per connection over libshegong, which on a
 * small machine costs as much CPU as the server it measures. This one keeps
 * every connection in one epoll loop, sends pre-built frames and decodes
 * only the answers' headers, so that pipelined reads measure the server. */

typedef struct lcall {
  uint32_t id;
  uint64_t t0;
} lcall;

typedef struct lconn {
  int fd;
  sg_frame_decoder dec;
  uint8_t *out;
  size_t out_len, out_off, out_cap;
  uint32_t next_id;
  lcall *fl;
  int n;
  int want_out;
  struct loop_ctx *lc;
} lconn;

typedef struct loop_ctx {
  bench *b;
  worker_thread *w;
  const char *auth;
  uint64_t end;
  int ep;
} loop_ctx;

static int lconn_queue_get(lconn *c) {
  loop_ctx *lc = c->lc;
  Shegong__V1__GetWorkerRequest r = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
  r.id = 1 + next_rand(&lc->w->rng) % lc->b->max_worker_id;
  uint8_t payload[16];
  size_t plen = protobuf_c_message_pack(&r.base, payload);
  Shegong__V1__Metadata md = SHEGONG__V1__METADATA__INIT, *mdp = &md;
  md.key = "authorization";
  md.value = (char *)lc->auth;
  sg_frame f = SHEGONG__V1__FRAME__INIT;
  f.call_id = c->next_id++;
  if (c->next_id == 0) c->next_id = 1;
  f.method = "/shegong.v1.Workers/Get";
  f.flags = SG_FLAG_END_STREAM;
  f.n_metadata = 1;
  f.metadata = &mdp;
  f.payload.data = payload;
  f.payload.len = plen;
  size_t n = sg_frame_wire_size(&f);
  if (c->out_len + n > c->out_cap) {
    size_t cap = c->out_cap ? c->out_cap * 2 : 65536;
    while (cap < c->out_len + n) cap *= 2;
    uint8_t *o = realloc(c->out, cap);
    if (!o) return -1;
    c->out = o;
    c->out_cap = cap;
  }
  sg_frame_write(&f, c->out + c->out_len);
  c->out_len += n;
  c->fl[c->n++] = (lcall){f.call_id, sg_now_us()};
  return 0;
}

static int lconn_flush(lconn *c) {
  while (c->out_off < c->out_len) {
    ssize_t k = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (k <= 0) return -1;
    c->out_off += (size_t)k;
  }
  if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
  int want = c->out_len > 0;
  if (want != c->want_out) {
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(c->lc->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
  }
  return 0;
}

static int lconn_answer(void *arg, sg_frame *f) {
  lconn *c = arg;
  worker_thread *w = c->lc->w;
  uint64_t t1 = sg_now_us();
  int matched = 0;
  for (int i = 0; (f->flags & SG_FLAG_END_STREAM) && i < c->n; i++)
    if (c->fl[i].id == f->call_id) {
      matched = 1;
      if (f->status && f->status->code == 0) lat_add(&w->lats[OP_GET], t1 - c->fl[i].t0);
      else w->errors++;
      c->fl[i] = c->fl[--c->n];
      break;
    }
  if (!matched || !f->status || f->status->code != 0) {
    /* an error, or a frame for no call of ours (call 0: the connection's end) */
    if (!matched) w->errors++;
    if (!w->first_error[0])
      snprintf(w->first_error, sizeof w->first_error, "call %u: code %d: %s", f->call_id,
               f->status ? (int)f->status->code : -1,
               f->status && f->status->message ? f->status->message : "");
  }
  sg_frame_free(f);
  /* one answer out, one call in: never more than --depth in flight */
  if (matched && t1 < c->lc->end && lconn_queue_get(c) != 0) return -1;
  return 0;
}

static int run_loop(bench *b, worker_thread *w) {
  const char *server = b->server ? b->server : SG_DEFAULT_SERVER;
  char host[64];
  const char *colon = strrchr(server, ':');
  if (!colon || (size_t)(colon - server) >= sizeof host || getenv("SHEGONG_TLS_CA")) {
    snprintf(w->first_error, sizeof w->first_error, "--loop wants a plain HOST:PORT server");
    w->errors++;
    return -1;
  }
  memcpy(host, server, (size_t)(colon - server));
  host[colon - server] = 0;
  char secret[160] = "", auth[200];
  const char *env = getenv("SHEGONG_TOKEN"), *file = getenv("SHEGONG_TOKEN_FILE");
  if (env) snprintf(secret, sizeof secret, "%s", env);
  else if (file && sg_read_token_file(file, secret, sizeof secret, NULL) != 0) secret[0] = 0;
  snprintf(auth, sizeof auth, "Bearer %s", secret);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
    snprintf(w->first_error, sizeof w->first_error, "--loop wants an IPv4 address, not %s", host);
    w->errors++;
    return -1;
  }
  loop_ctx lc = {b, w, auth, b->start_us + (uint64_t)b->seconds * 1000000u, epoll_create1(0)};
  lconn *cs = calloc((size_t)b->connections, sizeof *cs);
  int rc = -1;
  if (!cs || lc.ep < 0) goto out;
  for (int i = 0; i < b->connections; i++) {
    lconn *c = &cs[i];
    c->lc = &lc;
    c->next_id = 1;
    c->fl = calloc((size_t)b->depth, sizeof *c->fl);
    sg_frame_decoder_init(&c->dec, SG_FRAME_MAX_DEFAULT);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (!c->fl || c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
      snprintf(w->first_error, sizeof w->first_error, "connect: %s", strerror(errno));
      w->errors++;
      goto out;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(lc.ep, EPOLL_CTL_ADD, c->fd, &ev);
    for (int k = 0; k < b->depth; k++)
      if (lconn_queue_get(c) != 0) goto out;
    if (lconn_flush(c) != 0) goto out;
  }
  /* the clock starts once every connection is made */
  b->start_us = sg_now_us();
  lc.end = b->start_us + (uint64_t)b->seconds * 1000000u;
  static uint8_t buf[1 << 16];
  for (;;) {
    int open_calls = 0;
    for (int i = 0; i < b->connections; i++) open_calls += cs[i].n;
    if (open_calls == 0 || sg_now_us() > lc.end + 30000000u) break;
    struct epoll_event evs[64];
    int k = epoll_wait(lc.ep, evs, 64, 100);
    for (int e = 0; e < k; e++) {
      lconn *c = evs[e].data.ptr;
      if (evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        for (;;) {
          ssize_t r = recv(c->fd, buf, sizeof buf, 0);
          if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          if (r <= 0) {
            snprintf(w->first_error, sizeof w->first_error, "the server closed a connection");
            w->errors++;
            goto out;
          }
          char why[160];
          if (sg_frame_decoder_feed(&c->dec, buf, (size_t)r, lconn_answer, c, why, sizeof why) != 0) {
            snprintf(w->first_error, sizeof w->first_error, "bad answer: %s", why);
            w->errors++;
            goto out;
          }
        }
      }
      if (lconn_flush(c) != 0) goto out;
    }
  }
  rc = 0;
  for (int i = 0; i < b->connections; i++) w->errors += (uint64_t)cs[i].n; /* never answered */
out:
  for (int i = 0; cs && i < b->connections; i++) {
    if (cs[i].fd > 0) close(cs[i].fd);
    sg_frame_decoder_free(&cs[i].dec);
    free(cs[i].out);
    free(cs[i].fl);
  }
  free(cs);
  if (lc.ep >= 0) close(lc.ep);
  return rc;
}

/* The server's user+system CPU seconds, from /proc; -1 if unknown. */
static double server_cpu(long pid) {
  if (pid <= 0) return -1;
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')'); /* the command name may hold spaces */
  unsigned long utime = 0, stime = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
    return -1;
  return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* The server's peak resident set in MiB (VmHWM); -1 if unknown. */
static double server_peak_rss(long pid) {
  if (pid <= 0) return -1;
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  double mib = -1;
  while (fgets(line, sizeof line, f)) {
    unsigned long kb;
    if (sscanf(line, "VmHWM: %lu kB", &kb) == 1) mib = kb / 1024.0;
  }
  fclose(f);
  return mib;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static double pct(const lat *l, double p) {
  if (!l->n) return 0;
  size_t i = (size_t)(p / 100.0 * (double)(l->n - 1) + 0.5);
  return l->us[i] / 1000.0;
}

static int parse_mix(const char *s, int mix[OP_N]) {
  memset(mix, 0, sizeof(int) * OP_N);
  char buf[128];
  snprintf(buf, sizeof buf, "%s", s);
  for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
    char *eq = strchr(tok, '=');
    if (!eq) return -1;
    *eq = '\0';
    int found = 0;
    for (int i = 0; i < OP_N; i++)
      if (strcmp(tok, op_names[i]) == 0) {
        mix[i] = atoi(eq + 1);
        found = mix[i] >= 0;
      }
    if (!found) return -1;
  }
  int total = 0;
  for (int i = 0; i < OP_N; i++) total += mix[i];
  return total > 0 ? 0 : -1;
}

/* Finds the district's first town and its first community, and the worker id range. */
static int discover(bench *b) {
  sg_client *c;
  sg_status st;
  if (sg_client_connect(&c, b->server, 5000, &st) != 0) {
    fprintf(stderr, "shegong-bench: connect: %s\n", st.message);
    return -1;
  }
  int rc = -1;
  ProtobufCMessage *resp = NULL;
  Shegong__V1__ListUnitsRequest lu = SHEGONG__V1__LIST_UNITS_REQUEST__INIT;
  lu.page_size = 1;
  if (sg_call(c, "Units/List", &lu.base, &resp, 5000, &st) != 0 ||
      ((Shegong__V1__ListUnitsResponse *)resp)->n_units == 0) {
    fprintf(stderr, "shegong-bench: no towns: load a district first (shegong-demo)\n");
    goto done;
  }
  snprintf(b->town, sizeof b->town, "%s", ((Shegong__V1__ListUnitsResponse *)resp)->units[0]->code);
  protobuf_c_message_free_unpacked(resp, NULL);
  lu.parent_code = b->town;
  lu.kind = SHEGONG__V1__UNIT_KIND__COMMUNITY;
  lu.page_size = 1000;
  resp = NULL;
  if (sg_call(c, "Units/List", &lu.base, &resp, 5000, &st) != 0 ||
      ((Shegong__V1__ListUnitsResponse *)resp)->n_units == 0) {
    fprintf(stderr, "shegong-bench: town %s has no community\n", b->town);
    goto done;
  }
  snprintf(b->unit, sizeof b->unit, "%s", ((Shegong__V1__ListUnitsResponse *)resp)->units[0]->code);
  protobuf_c_message_free_unpacked(resp, NULL);
  resp = NULL;
  /* the highest worker id: probe upwards, then bisect */
  uint64_t lo = 0, hi = 1;
  for (;;) {
    Shegong__V1__GetWorkerRequest g = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
    g.id = hi;
    int r = sg_call(c, "Workers/Get", &g.base, &resp, 5000, &st);
    if (resp) protobuf_c_message_free_unpacked(resp, NULL);
    resp = NULL;
    if (r != 0) break;
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    Shegong__V1__GetWorkerRequest g = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
    g.id = mid;
    int r = sg_call(c, "Workers/Get", &g.base, &resp, 5000, &st);
    if (resp) protobuf_c_message_free_unpacked(resp, NULL);
    resp = NULL;
    if (r == 0) lo = mid;
    else hi = mid;
  }
  if (lo == 0) {
    fprintf(stderr, "shegong-bench: no workers: load a district first (shegong-demo)\n");
    goto done;
  }
  b->max_worker_id = lo;
  /* where a pull starts: the last thousand revisions */
  Shegong__V1__PullRequest pr = SHEGONG__V1__PULL_REQUEST__INIT;
  pr.town_code = b->town;
  pr.limit = 1;
  uint32_t pid;
  if (sg_call_send(c, "Sync/Pull", &pr.base, 5000, &pid, &st) == 0) {
    ProtobufCMessage *m;
    while (sg_stream_next(c, pid, &m, 5000, &st) == 0) {
      uint64_t head = ((Shegong__V1__PullResponse *)m)->head_revision;
      if (head) b->pull_since = head > 1000 ? head - 1000 : 0;
      protobuf_c_message_free_unpacked(m, NULL);
    }
  }
  rc = 0;
done:
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  sg_client_close(c);
  return rc;
}

/* Bytes a message takes on the wire (its payload). */
static size_t packed(const ProtobufCMessage *m) { return protobuf_c_message_get_packed_size(m); }

/*
 * --sync-sizes: the scale run's sync figures. Times one Sync/Snapshot of
 * each town (records and bytes; the largest town's is the one to watch)
 * and one full district Sync/Pull from revision 0, looping while `more`.
 */
static int measure_sync(const char *server) {
  sg_client *c = NULL;
  sg_status st;
  if (sg_client_connect(&c, server, 10000, &st) != 0) {
    fprintf(stderr, "shegong-bench: connect: %s\n", st.message);
    return 1;
  }
  Shegong__V1__ListUnitsRequest lr = SHEGONG__V1__LIST_UNITS_REQUEST__INIT;
  lr.page_size = 1000;
  ProtobufCMessage *resp = NULL;
  if (sg_call(c, "Units/List", &lr.base, &resp, 30000, &st) != 0) {
    fprintf(stderr, "shegong-bench: Units/List: %s\n", st.message);
    sg_client_close(c);
    return 1;
  }
  Shegong__V1__ListUnitsResponse *towns = (Shegong__V1__ListUnitsResponse *)resp;
  double worst_ms = 0;
  const char *worst = "";
  size_t worst_records = 0, worst_bytes = 0;
  int rc = 0;
  for (size_t t = 0; t < towns->n_units && !rc; t++) {
    Shegong__V1__SnapshotRequest sr = SHEGONG__V1__SNAPSHOT_REQUEST__INIT;
    sr.town_code = towns->units[t]->code;
    uint64_t t0 = sg_now_us();
    uint32_t id;
    size_t records = 0, bytes = 0;
    if (sg_call_send(c, "Sync/Snapshot", &sr.base, 120000, &id, &st)) {
      rc = 1;
      break;
    }
    ProtobufCMessage *m;
    int r;
    while ((r = sg_stream_next(c, id, &m, 120000, &st)) == 0) {
      Shegong__V1__SnapshotResponse *s = (Shegong__V1__SnapshotResponse *)m;
      records += s->n_units + s->n_workers + s->n_assessments + s->n_visits + s->n_courses +
                 s->n_attendance + s->n_level_changes + s->n_transfers + s->n_history;
      bytes += packed(m);
      protobuf_c_message_free_unpacked(m, NULL);
    }
    if (r < 0) {
      fprintf(stderr, "shegong-bench: snapshot of %s: %s\n", sr.town_code, st.message);
      rc = 1;
      break;
    }
    double ms = (double)(sg_now_us() - t0) / 1000.0;
    if (records > worst_records) {
      worst_records = records;
      worst_bytes = bytes;
      worst_ms = ms;
      worst = towns->units[t]->code;
    }
  }
  if (!rc)
    printf("largest town's snapshot: %s, %zu records, %.1f MiB, %.1f ms\n", worst, worst_records,
           worst_bytes / 1048576.0, worst_ms);
  /* the whole district's changelog, from the beginning */
  uint64_t since = 0, t0 = sg_now_us();
  size_t changes = 0, bytes = 0;
  for (int more = 1; more && !rc;) {
    Shegong__V1__PullRequest pr = SHEGONG__V1__PULL_REQUEST__INIT;
    pr.since = since;
    pr.limit = 10000;
    uint32_t id;
    if (sg_call_send(c, "Sync/Pull", &pr.base, 120000, &id, &st)) {
      rc = 1;
      break;
    }
    more = 0;
    ProtobufCMessage *m;
    int r;
    while ((r = sg_stream_next(c, id, &m, 120000, &st)) == 0) {
      Shegong__V1__PullResponse *p = (Shegong__V1__PullResponse *)m;
      changes += p->n_changes;
      bytes += packed(m);
      if (p->n_changes) since = p->changes[p->n_changes - 1]->revision;
      if (p->head_revision) more = p->more;
      protobuf_c_message_free_unpacked(m, NULL);
    }
    if (r < 0) {
      fprintf(stderr, "shegong-bench: pull: %s\n", st.message);
      rc = 1;
    }
  }
  double secs = (double)(sg_now_us() - t0) / 1e6;
  if (!rc)
    printf("full district pull: %zu changes, %.1f MiB, %.2f s (%.0f changes/s)\n", changes,
           bytes / 1048576.0, secs, changes / (secs > 0 ? secs : 1));
  protobuf_c_message_free_unpacked(resp, NULL);
  sg_client_close(c);
  return rc;
}

int main(int argc, char **argv) {
  bench b;
  memset(&b, 0, sizeof b);
  b.server = getenv("SHEGONG_SERVER");
  b.connections = 4;
  b.depth = 16;
  b.seconds = 10;
  parse_mix("get=80,list=10,create=10", b.mix);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--json") == 0) { b.json = 1; continue; }
    if (strcmp(a, "--loop") == 0) { b.loop = 1; continue; }
    if (strcmp(a, "--sync-sizes") == 0) return measure_sync(b.server ? b.server : SG_DEFAULT_SERVER);
    if (strcmp(a, "--help") == 0 || !v) {
      fprintf(a[0] && strcmp(a, "--help") == 0 ? stdout : stderr,
              "usage: shegong-bench [--server ADDR] [--connections N] [--depth D] [--seconds S]\n"
              "                     [--mix get=80,list=10,create=10,update=0,pull=0,snapshot=0]\n"
              "                     [--server-pid PID] [--json] [--rate OPS_PER_SEC] [--loop]\n"
              "  --loop     one thread drives every connection (non-blocking, raw frames), as\n"
              "             redis-benchmark does: Workers/Get only, plain TCP, no --rate\n"
              "  --rate R   send R calls/s in all on a fixed schedule (at most --depth in flight\n"
              "             per connection) and time each from when it was due\n"
              "       shegong-bench [--server ADDR] --sync-sizes   (snapshots of every town, a full\n"
              "                     district pull: the scale run's figures)\n");
      return strcmp(a, "--help") == 0 ? 0 : 2;
    }
    i++;
    if (strcmp(a, "--server") == 0) b.server = v;
    else if (strcmp(a, "--server-pid") == 0) b.server_pid = atol(v);
    else if (strcmp(a, "--connections") == 0) b.connections = atoi(v);
    else if (strcmp(a, "--depth") == 0) b.depth = atoi(v);
    else if (strcmp(a, "--seconds") == 0) b.seconds = atoi(v);
    else if (strcmp(a, "--rate") == 0) b.rate = atof(v);
    else if (strcmp(a, "--mix") == 0) {
      if (parse_mix(v, b.mix)) {
        fprintf(stderr, "shegong-bench: --mix wants op=N,... with ops get, list, create, update, pull, snapshot\n");
        return 2;
      }
    } else {
      fprintf(stderr, "shegong-bench: unknown option %s\n", a);
      return 2;
    }
  }
  if (b.connections < 1 || b.connections > 256 || b.depth < 1 || b.depth > 1024 || b.seconds < 1 ||
      b.seconds > 3600 || !(b.rate == 0 || (b.rate >= 0.01 && b.rate <= 1e7))) {
    fprintf(stderr, "shegong-bench: connections 1-256, depth 1-1024, seconds 1-3600, rate 0 or 0.01-10000000\n");
    return 2;
  }
  if (b.loop) {
    for (int op = 0; op < OP_N; op++)
      if (op != OP_GET && b.mix[op]) b.mix[op] = 0;
    if (b.rate > 0) {
      fprintf(stderr, "shegong-bench: --loop does not take --rate\n");
      return 2;
    }
    b.mix[OP_GET] = 100;
  }
  if (discover(&b)) return 1;
  /* a random start in the ID-number space, so that runs do not collide */
  uint64_t seed = sg_now_us() ^ (uint64_t)getpid() << 32;
  atomic_init(&b.next_seq, next_rand(&seed) % SEQ_SPACE);
  worker_thread *w = calloc((size_t)b.connections, sizeof *w);
  double cpu0 = server_cpu(b.server_pid);
  b.start_us = sg_now_us();
  pthread_barrier_init(&b.connected, NULL, b.loop ? 1 : (unsigned)b.connections);
  pthread_barrier_init(&b.started, NULL, b.loop ? 1 : (unsigned)b.connections);
  for (int i = 0; i < b.connections; i++) {
    w[i].b = &b;
    w[i].index = i;
    w[i].rng = (uint64_t)i * 7919 + 1;
    if (!b.loop) pthread_create(&w[i].thread, NULL, thread_main, &w[i]);
  }
  if (b.loop) run_loop(&b, &w[0]);
  else
    for (int i = 0; i < b.connections; i++) pthread_join(w[i].thread, NULL);
  double secs = (double)(sg_now_us() - b.start_us) / 1e6;
  double cpu1 = server_cpu(b.server_pid), rss = server_peak_rss(b.server_pid);
  double cpu = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
  lat all[OP_N] = {{0}};
  uint64_t errors = 0, unsent = 0;
  const char *first_error = NULL;
  pthread_barrier_destroy(&b.connected);
  pthread_barrier_destroy(&b.started);
  for (int i = 0; i < b.connections; i++) {
    errors += w[i].errors;
    unsent += w[i].unsent;
    if (!first_error && w[i].first_error[0]) first_error = w[i].first_error;
    for (int op = 0; op < OP_N; op++)
      for (size_t k = 0; k < w[i].lats[op].n; k++) lat_add(&all[op], w[i].lats[op].us[k]);
  }
  size_t total = 0;
  for (int op = 0; op < OP_N; op++) {
    if (all[op].n) qsort(all[op].us, all[op].n, sizeof *all[op].us, cmp_u32);
    total += all[op].n;
  }
  if (b.json) {
    printf("{\"connections\":%d,\"depth\":%d,\"seconds\":%.2f,\"ops\":%zu,\"ops_per_sec\":%.0f,"
           "\"errors\":%llu,\"by_op\":{",
           b.connections, b.depth, secs, total, total / secs, (unsigned long long)errors);
    int first = 1;
    for (int op = 0; op < OP_N; op++) {
      if (!all[op].n) continue;
      printf("%s\"%s\":{\"ops\":%zu,\"ops_per_sec\":%.0f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
             "\"p99_ms\":%.3f,\"p999_ms\":%.3f}",
             first ? "" : ",", op_names[op], all[op].n, all[op].n / secs, pct(&all[op], 50),
             pct(&all[op], 90), pct(&all[op], 99), pct(&all[op], 99.9));
      first = 0;
    }
    printf("},\"server_cpu_s\":%.2f,\"server_peak_rss_mib\":%.1f}\n", cpu, rss);
  } else {
    printf("%d connections x depth %d for %.1f s against %s: %zu ops, %.0f ops/s, %llu errors\n",
           b.connections, b.depth, secs, b.server ? b.server : SG_DEFAULT_SERVER, total,
           total / secs, (unsigned long long)errors);
    printf("%-8s %10s %10s %9s %9s %9s %9s\n", "op", "ops", "ops/s", "p50 ms", "p90 ms", "p99 ms",
           "p99.9 ms");
    for (int op = 0; op < OP_N; op++)
      if (all[op].n)
        printf("%-8s %10zu %10.0f %9.3f %9.3f %9.3f %9.3f\n", op_names[op], all[op].n,
               all[op].n / secs, pct(&all[op], 50), pct(&all[op], 90), pct(&all[op], 99),
               pct(&all[op], 99.9));
  }
  if (!b.json && cpu >= 0)
    printf("server: %.2f CPU seconds (%.0f%% of one core), peak RSS %.1f MiB\n", cpu,
           100.0 * cpu / secs, rss);
  if (first_error) fprintf(stderr, "first error: %s\n", first_error);
  if (unsent)
    fprintf(stderr, "%llu calls fell due and were never sent: the rate was more than the server "
                    "answered with --depth %d in flight\n", (unsigned long long)unsent, b.depth);
  for (int i = 0; i < b.connections; i++)
    for (int op = 0; op < OP_N; op++) free(w[i].lats[op].us);
  for (int op = 0; op < OP_N; op++) free(all[op].us);
  free(w);
  return errors ? 1 : 0;
}
