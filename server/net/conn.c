#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "net/server.h"
#include "net/tls.h"
#include "net/h2.h"
#include "store/changes.h"
#include "svc/svc.h"
#include "timeutil.h"

typedef struct inflight {
  uint32_t call_id;
  sg_job *job;
} inflight;

/* An open Sync/Watch: the changes after `position` go out as they commit. */
typedef struct watch {
  uint32_t call_id;
  uint64_t town_id;
  int all;
  uint64_t position;
  const char *method;
  int mask;           /* the watcher may not see personal data */
  uint64_t token_id;  /* rechecked at each notification: revocation ends the watch */
} watch;

/*
 * How long a closing connection keeps reading (and discarding) after its
 * last answer: closing a socket with unread input makes the kernel send RST,
 * which can destroy answers still in flight to the peer.
 */
#define SG_LINGER_MS 2000
/* How long a closing connection may take to hand over its last answers. */
#define SG_CLOSE_GRACE_MS 5000

/*
 * Before its first authenticated call a connection may send only small
 * frames and must not idle: an unauthenticated peer cannot make the server
 * hold much memory or many sockets for long.
 */
#define SG_PREAUTH_MAX_FRAME SG_FRAME_PREAUTH_MAX
#define SG_PREAUTH_IDLE_MS 10000
/* "Bearer " and a secret of at most SG_TOKEN_SECRET_MAX bytes, with room */
#define SG_AUTH_CACHE_MAX 160

struct sg_conn {
  uv_tcp_t tcp;
  uv_timer_t linger;
  uv_timer_t stall;   /* runs while answers pile up unread: the peer gets so long */
  uv_shutdown_t shutdown_req;
  sg_server *srv;
  sg_conn *prev, *next;
  sg_frame_decoder dec;
  char peer[64];
  size_t out_bytes;   /* handed to uv_write, not yet written */
  int reading;
  int closing;        /* no more frames are read or answered */
  int draining;       /* answers sent, our side shut: reading only to discard */
  int authed;         /* has made an authenticated call: full limits apply */
  int handles_open;   /* tcp and the timers: the connection is freed after all close */
  int refs;           /* one for the handles + each job with the writer */
  inflight *calls;    /* writes queued with the writer */
  size_t n_calls, cap_calls;
  watch *watches;
  size_t n_watches, cap_watches;
  sg_tls_conn *tls;   /* NULL on a plain connection */
  sg_h2 *h2;          /* set on the gRPC listener's connections: HTTP/2, not frames */
  struct write_req *pending; /* answers of this loop turn, written together at its end */
  /*
   * The principal of the last authorization this connection sent, while no
   * token has changed since (sg_auth_generation) and it has not expired: a
   * client sends the same header on every call, and checking it again (a
   * keyed digest, two lookups, a decode) was a fifth of a pipelined read.
   */
  char auth_key[SG_AUTH_CACHE_MAX];
  size_t auth_len;   /* 0: nothing cached */
  uint64_t auth_gen;
  sg_principal auth_p;
};

/* One uv_write of many answers: the bytes a loop turn produced for a peer. */
typedef struct write_req {
  uv_write_t req;
  sg_conn *conn;
  size_t len, cap;
  uint8_t data[];
} write_req;

/* Answers made and not yet written: in the socket's queue, and on a gRPC
 * connection also in streams waiting for the peer's flow-control window. */
static size_t backlog(const sg_conn *c) {
  return c->out_bytes + (c->h2 ? sg_h2_buffered(c->h2) : 0);
}

static void server_drained(sg_server *srv) {
  if (srv->flush_started && !uv_is_closing((uv_handle_t *)&srv->flush))
    uv_close((uv_handle_t *)&srv->flush, NULL);
  if (srv->stop_timer_started && !uv_is_closing((uv_handle_t *)&srv->stop_timer))
    uv_close((uv_handle_t *)&srv->stop_timer, NULL);
  if (srv->on_drained) srv->on_drained(srv);
}

static void conn_unref(sg_conn *c) {
  if (--c->refs > 0) return;
  sg_server *srv = c->srv;
  if (c->prev) c->prev->next = c->next;
  else srv->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  srv->n_conns--;
  srv->n_watches -= c->n_watches;
  sg_frame_decoder_free(&c->dec);
  free(c->calls);
  free(c->watches);
  sg_tls_conn_free(c->tls);
  sg_h2_free(c->h2);
  free(c->pending);
  sodium_memzero(c->auth_key, sizeof c->auth_key); /* a bearer secret */
  free(c);
  if (srv->stopping && srv->n_conns == 0) server_drained(srv);
}

static void on_close(uv_handle_t *h) {
  sg_conn *c = h->data;
  if (--c->handles_open > 0) return;
  sg_debug("connection %s closed", c->peer);
  conn_unref(c);
}

/* Closes at once: pending writes are cancelled. For a peer that is gone. */
static void conn_close_now(sg_conn *c) {
  if (uv_is_closing((uv_handle_t *)&c->tcp)) return;
  c->closing = 1;
  uv_close((uv_handle_t *)&c->tcp, on_close);
  uv_close((uv_handle_t *)&c->linger, on_close);
  uv_close((uv_handle_t *)&c->stall, on_close);
}

static void on_linger_done(uv_timer_t *t) { conn_close_now(t->data); }

/* The same timer, before the first authenticated call: an idle stranger goes. */
static void on_preauth_idle(uv_timer_t *t) {
  sg_conn *c = t->data;
  if (c->authed || c->closing) return;
  sg_info("closing %s: no authenticated call within %d ms", c->peer, SG_PREAUTH_IDLE_MS);
  sg_conn_close(c);
}

__attribute__((format(printf, 4, 5))) static void send_error(sg_conn *c, uint32_t call_id, int err,
                                                             const char *fmt, ...);

/*
 * After authentication the same timer watches for a frame started and not
 * finished: a peer that sends half a frame and waits holds a buffer.
 */
/* A request begun and not finished: half a frame, or (HTTP/2) unfinished streams. */
static int partial_request(sg_conn *c) {
  return c->h2 ? sg_h2_pending(c->h2) : sg_frame_decoder_pending(&c->dec);
}

static void on_partial_frame(uv_timer_t *t) {
  sg_conn *c = t->data;
  if (c->closing || !partial_request(c)) return;
  const char *what = c->h2 ? "a request" : "a frame";
  sg_info("closing %s: %s was left unfinished for %u ms", c->peer, what,
          c->srv->limits.partial_frame_ms);
  send_error(c, 0, SG_ETIMEDOUT, "%s was left unfinished for %u ms", what,
             c->srv->limits.partial_frame_ms);
  sg_conn_close(c);
}

/* Arms or disarms the partial-frame timer after a read (authenticated connections). */
static void watch_partial(sg_conn *c) {
  if (!c->authed || c->closing) return;
  if (!partial_request(c)) {
    uv_timer_stop(&c->linger);
  } else if (!uv_is_active((uv_handle_t *)&c->linger)) {
    uv_timer_start(&c->linger, on_partial_frame, c->srv->limits.partial_frame_ms, 0);
  }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static int flush_tls(sg_conn *c);
static void on_stalled(uv_timer_t *t);
static void flush_conn(sg_conn *c);

static void on_shutdown(uv_shutdown_t *req, int status) {
  sg_conn *c = req->data;
  if (status < 0 || uv_is_closing((uv_handle_t *)&c->tcp)) {
    conn_close_now(c);
    return;
  }
  /* every answer is out and our side is shut: read until the peer closes
   * (or the linger ends), so that closing sends FIN, not RST */
  c->draining = 1;
  if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
  uv_timer_start(&c->linger, on_linger_done, SG_LINGER_MS, 0);
}

void sg_conn_stop_reading(sg_conn *c) {
  if (c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = 0;
}

void sg_conn_close(sg_conn *c) {
  if (c->closing) return;
  c->closing = 1;
  sg_conn_stop_reading(c);
  c->shutdown_req.data = c;
  /* a gRPC peer is told that no more streams will be answered (the answers
   * made so far go out first, as far as its flow-control window allows) */
  if (c->h2) sg_h2_goaway(c->h2, 0, NULL);
  flush_conn(c); /* shutdown waits for the writes already queued: queue ours */
  if (c->tls) {
    /* close_notify first, so the peer knows the end is the end */
    sg_tls_conn_shutdown(c->tls);
    flush_tls(c);
    flush_conn(c);
    if (uv_is_closing((uv_handle_t *)&c->tcp)) return;
  }
  /* shutdown waits for queued writes, so a final status frame is delivered;
   * a peer that never reads them is cut off after the close grace */
  if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
    conn_close_now(c);
    return;
  }
  uv_timer_start(&c->stall, on_stalled, SG_CLOSE_GRACE_MS, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  /* defined here, declared above for on_shutdown */
  (void)suggested;
  sg_conn *c = h->data;
  buf->base = c->srv->read_buf;
  buf->len = sizeof c->srv->read_buf;
}

static void maybe_resume(sg_conn *c) {
  sg_server *srv = c->srv;
  /* a gRPC connection is never paused: its stall clock stops here instead */
  if (c->h2 && !c->closing && backlog(c) <= srv->limits.max_output_bytes / 2)
    uv_timer_stop(&c->stall);
  if (c->reading || c->closing || srv->stopping) return;
  if (c->out_bytes > srv->limits.max_output_bytes / 2) return;
  uv_timer_stop(&c->stall);
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
}

static void on_write(uv_write_t *req, int status) {
  write_req *w = (write_req *)req;
  sg_conn *c = w->conn;
  c->out_bytes -= w->len;
  free(w);
  if (status < 0) {
    if (status != UV_ECANCELED) sg_debug("write to %s failed: %s", c->peer, uv_strerror(status));
    conn_close_now(c);
    return;
  }
  maybe_resume(c);
}

static void on_stalled(uv_timer_t *t) {
  sg_conn *c = t->data;
  if (c->closing) {
    /* a close waiting for a peer that does not read its last answers */
    conn_close_now(c);
    return;
  }
  if (backlog(c) <= c->srv->limits.max_output_bytes / 2) return;
  sg_info("closing %s: %zu bytes of answers unread for %u ms", c->peer, backlog(c),
          c->srv->limits.output_stall_ms);
  conn_close_now(c); /* its answers would never go: no final frame either */
}

/*
 * Whether a gRPC connection's unsent answers are over the limit; if so, its
 * stall clock starts (it is never paused: HTTP/2 must keep being read, as
 * window updates come that way, so a peer that does not read gets new calls
 * refused, and output_stall_ms to catch up).
 */
static int note_backlog(sg_conn *c) {
  if (backlog(c) <= c->srv->limits.max_output_bytes) return 0;
  if (!uv_is_active((uv_handle_t *)&c->stall))
    uv_timer_start(&c->stall, on_stalled, c->srv->limits.output_stall_ms, 0);
  return 1;
}

/*
 * Queuing bytes for the socket (ciphertext on a TLS connection): they join
 * the connection's pending buffer; sg_server_flush, at the end of the loop
 * turn, hands each buffer to one uv_write: one system call for all the
 * answers a turn made, however many were pipelined.
 *
 * Room for n more bytes after the pending answers; NULL (and the connection
 * closed) without memory.
 */
static uint8_t *out_reserve(sg_conn *c, size_t n) {
  write_req *w = c->pending;
  if (!w || w->cap - w->len < n) {
    size_t have = w ? w->len : 0, cap = w ? w->cap * 2 : 16384;
    while (cap - have < n) cap *= 2;
    write_req *g = realloc(w, sizeof *g + cap);
    if (!g) {
      sg_error("out of memory for %zu bytes to %s", n, c->peer);
      conn_close_now(c);
      return NULL;
    }
    if (!w) g->len = 0;
    g->cap = cap;
    g->conn = c;
    c->pending = w = g;
  }
  return w->data + w->len;
}

/* Adds the n bytes written at out_reserve's pointer to the pending answers. */
static void out_commit(sg_conn *c, size_t n) {
  c->pending->len += n;
  c->out_bytes += n;
  if (c->h2) {
    note_backlog(c);
  } else if (c->out_bytes > c->srv->limits.max_output_bytes && c->reading) {
    /* the peer is not reading its answers: stop taking its requests, and
     * give it output_stall_ms to catch up before it is cut off */
    sg_conn_stop_reading(c);
    if (!uv_is_active((uv_handle_t *)&c->stall))
      uv_timer_start(&c->stall, on_stalled, c->srv->limits.output_stall_ms, 0);
  }
}

static int write_out(sg_conn *c, const uint8_t *data, size_t n) {
  uint8_t *dst = out_reserve(c, n);
  if (!dst) return SG_EUNAVAIL;
  memcpy(dst, data, n);
  out_commit(c, n);
  return 0;
}

/* Hands a connection's pending answers to the socket. */
static void flush_conn(sg_conn *c) {
  if (c->h2 && !uv_is_closing((uv_handle_t *)&c->tcp) && (!c->tls || sg_tls_conn_ready(c->tls)) &&
      sg_h2_flush(c->h2) != 0) {
    conn_close_now(c);
    return;
  }
  write_req *w = c->pending;
  if (!w || w->len == 0 || uv_is_closing((uv_handle_t *)&c->tcp)) return;
  c->pending = NULL;
  uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
    c->out_bytes -= w->len;
    free(w);
    conn_close_now(c);
  }
}

int sg_server_read(sg_server *srv) {
  if (srv->read_open) return 0;
  /* before the renew: a snapshot holds every token change up to read_gen */
  srv->read_gen = sg_auth_generation();
  int rc = sg_store_read_begin(srv->store, srv->read_txn);
  srv->read_open = rc == 0;
  return rc;
}

void sg_server_read_done(sg_server *srv) {
  if (!srv->read_open) return;
  sg_store_read_end(srv->store, srv->read_txn);
  srv->read_open = 0;
}

void sg_server_flush(sg_server *srv) {
  sg_server_read_done(srv);
  for (sg_conn *c = srv->conns; c; c = c->next) {
    flush_conn(c);
    /* an HTTP/2 session that is over (its GOAWAY sent) ends its connection;
     * closing frees nothing before the loop's close callbacks */
    if (c->h2 && !c->closing && !sg_h2_alive(c->h2)) sg_conn_close(c);
  }
}

/* Sends what TLS has made ready (handshake messages, records, alerts). */
static int flush_tls(sg_conn *c) {
  size_t n;
  while (c->tls && (n = sg_tls_conn_pending(c->tls)) > 0) {
    uint8_t *buf = malloc(n);
    if (!buf) return SG_ENOMEM;
    size_t got = sg_tls_conn_take(c->tls, buf, n);
    int rc = got ? write_out(c, buf, got) : 0;
    free(buf);
    if (rc || !got) return rc;
  }
  return 0;
}

/* Queues bytes for the peer: encrypted first on a TLS connection. */
static int conn_send(sg_conn *c, const uint8_t *data, size_t n) {
  if (!c->tls) return write_out(c, data, n);
  int rc = sg_tls_conn_write(c->tls, data, n);
  return rc ? rc : flush_tls(c);
}


/*
 * send_frame's gRPC half: the message (if any) on the call's stream, and on
 * the final answer the status as trailers; call 0 (the connection) becomes
 * a GOAWAY. The message is copied (into the stream's buffer).
 */
static int send_grpc(sg_conn *c, uint32_t call_id, int final, int has_msg, const uint8_t *payload,
                     size_t plen, const Shegong__V1__Status *status) {
  int rc = 0;
  if (call_id == 0) {
    if (final) sg_h2_goaway(c->h2, status->code != 0, status->message);
  } else {
    /* a unary answer is one message even when it packs to no bytes */
    if (has_msg) rc = sg_h2_message(c->h2, call_id, payload ? payload : (const uint8_t *)"", plen);
    if (final) {
      /* the violations ride along as the packed Status, for clients that want them */
      uint8_t *bin = NULL;
      size_t blen = 0;
      if (status->code != 0 && (blen = shegong__v1__status__get_packed_size(status)) > 0 &&
          (bin = malloc(blen)))
        shegong__v1__status__pack(status, bin);
      sg_h2_finish(c->h2, call_id, (int)status->code, status->message, bin, bin ? blen : 0);
      free(bin);
      rc = 0;
      c->srv->calls++;
    }
  }
  note_backlog(c);
  return rc;
}

/*
 * Sends one frame of a call: a message of a stream (st NULL), or the final
 * frame with the response (may be NULL) and the status. A response that
 * would exceed the frame limit is replaced by RESOURCE_EXHAUSTED rather
 * than sent. Returns 0, or SG_ETOOBIG/SG_ENOMEM/SG_EUNAVAIL for a stream
 * message that could not be sent.
 */
static int send_frame_raw(sg_conn *c, uint32_t call_id, const ProtobufCMessage *resp,
                          const uint8_t *raw, size_t raw_len, sg_status *st, sg_arena *mask_arena) {
  if (c->closing && call_id != 0) return SG_EUNAVAIL;
  /* personal data leaves masked unless the principal may see it */
  if (resp && mask_arena && sg_mask_pii((ProtobufCMessage *)resp, mask_arena) != 0) {
    if (!st) return SG_ENOMEM;
    sg_status_set(st, SG_ENOMEM, "out of memory");
    resp = NULL;
  }
  sg_status ok;
  int final = st != NULL;
  if (!final) {
    sg_status_clear(&ok);
    st = &ok;
  }
  sg_server *srv = c->srv;
  uint8_t *payload = NULL;
  size_t plen = 0;
  int has_msg = (resp || raw) && st->code == 0;
  const uint8_t *borrowed = NULL; /* raw bytes framed (or copied to the stream) where they are */
  if (raw && st->code == 0) {
    if (raw_len + 64 > srv->limits.max_frame) {
      sg_status_set(st, SG_ETOOBIG, "response of %zu bytes exceeds the frame limit", raw_len);
      has_msg = 0;
    } else {
      borrowed = raw;
      plen = raw_len;
    }
  } else if (resp && st->code == 0) {
    plen = protobuf_c_message_get_packed_size(resp);
    if (plen + 64 > srv->limits.max_frame) {
      if (!final) return SG_ETOOBIG;
      sg_status_set(st, SG_ETOOBIG, "response of %zu bytes exceeds the frame limit; ask for a smaller page",
                    plen);
      plen = 0;
    } else if (plen && !(payload = malloc(plen))) {
      if (!final) return SG_ENOMEM;
      sg_status_set(st, SG_ENOMEM, "out of memory");
      plen = 0;
    } else if (plen) {
      protobuf_c_message_pack(resp, payload);
    }
  }
  sg_status_finish_violations(st);
  Shegong__V1__Status status = SHEGONG__V1__STATUS__INIT;
  Shegong__V1__FieldViolation viols[SG_STATUS_VIOLATIONS_MAX];
  Shegong__V1__FieldViolation *vptrs[SG_STATUS_VIOLATIONS_MAX];
  status.code = (Shegong__V1__Code)st->code;
  status.message = st->message;
  size_t nv = st->n_violations < SG_STATUS_VIOLATIONS_MAX ? st->n_violations
                                                          : SG_STATUS_VIOLATIONS_MAX;
  for (size_t i = 0; i < nv; i++) {
    shegong__v1__field_violation__init(&viols[i]);
    viols[i].field = st->violations[i].field;
    viols[i].description = st->violations[i].description;
    vptrs[i] = &viols[i];
  }
  status.n_violations = nv;
  status.violations = vptrs;

  if (c->h2) {
    int rc = send_grpc(c, call_id, final, has_msg && st->code == 0, borrowed ? borrowed : payload,
                       plen, &status);
    free(payload);
    return rc;
  }

  sg_frame f = SHEGONG__V1__FRAME__INIT;
  f.call_id = call_id;
  f.flags = final ? SG_FLAG_END_STREAM : 0;
  f.payload.data = borrowed ? (uint8_t *)borrowed : payload;
  f.payload.len = plen;
  f.status = final ? &status : NULL;
  size_t n = sg_frame_wire_size(&f);
  if (!c->tls) {
    /* packed straight into the connection's pending answers */
    uint8_t *dst = out_reserve(c, n);
    if (dst) {
      sg_frame_write(&f, dst);
      out_commit(c, n);
    }
    free(payload);
    if (!dst) return SG_EUNAVAIL;
    if (final) srv->calls++;
    return 0;
  }
  uint8_t *wire = malloc(n);
  if (!wire) {
    free(payload);
    sg_error("out of memory for a %zu-byte reply to %s", n, c->peer);
    conn_close_now(c);
    return SG_EUNAVAIL;
  }
  sg_frame_write(&f, wire);
  free(payload);
  int rc = conn_send(c, wire, n);
  if (rc) conn_close_now(c);
  free(wire);
  if (rc) return SG_EUNAVAIL;
  if (final) srv->calls++;
  return 0;
}

static int send_frame(sg_conn *c, uint32_t call_id, const ProtobufCMessage *resp, sg_status *st,
                      sg_arena *mask_arena) {
  return send_frame_raw(c, call_id, resp, NULL, 0, st, mask_arena);
}

static void send_reply(sg_conn *c, uint32_t call_id, const ProtobufCMessage *resp,
                       sg_status *st) {
  send_frame(c, call_id, resp, st, NULL);
}

typedef struct stream_target {
  sg_conn *conn;
  uint32_t call_id;
  sg_arena *mask_arena; /* set when the stream's messages are to be masked */
} stream_target;

/* A streaming read's intermediate messages go out as they are made. */
static int emit_frame(sg_call_ctx *ctx, const ProtobufCMessage *msg) {
  stream_target *t = ctx->emit_data;
  return send_frame(t->conn, t->call_id, msg, NULL, t->mask_arena);
}

__attribute__((format(printf, 4, 5))) static void send_error(sg_conn *c, uint32_t call_id, int err,
                                                             const char *fmt, ...) {
  sg_status st;
  sg_status_clear(&st);
  st.code = sg_error_to_code(err);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(st.message, sizeof st.message, fmt, ap);
  va_end(ap);
  send_reply(c, call_id, NULL, &st);
}

static watch *find_watch(sg_conn *c, uint32_t call_id) {
  for (size_t i = 0; i < c->n_watches; i++)
    if (c->watches[i].call_id == call_id) return &c->watches[i];
  return NULL;
}

/* Ends a watch with its final frame. */
static void end_watch(sg_conn *c, watch *w, int err, const char *why) {
  sg_status st;
  sg_status_clear(&st);
  if (err) sg_status_set(&st, err, "%s", why);
  send_reply(c, w->call_id, NULL, &st);
  *w = c->watches[--c->n_watches];
  c->srv->n_watches--;
}

static void on_heartbeat(uv_timer_t *t);

static int keep_open(sg_call_ctx *ctx, uint64_t town_id, int all, uint64_t position) {
  stream_target *t = ctx->emit_data;
  sg_conn *c = t->conn;
  sg_server *srv = c->srv;
  if (c->n_watches == c->cap_watches) {
    size_t cap = c->cap_watches ? c->cap_watches * 2 : 4;
    watch *n = realloc(c->watches, cap * sizeof *n);
    if (!n) return sg_status_set(ctx->st, SG_ENOMEM, "out of memory for a watch");
    c->watches = n;
    c->cap_watches = cap;
  }
  c->watches[c->n_watches++] = (watch){t->call_id, town_id, all, position, ctx->method,
                                       t->mask_arena != NULL,
                                       ctx->principal ? ctx->principal->token_id : 0};
  srv->n_watches++;
  if (!srv->heartbeat_started) {
    uv_timer_init(srv->loop, &srv->heartbeat);
    srv->heartbeat.data = srv;
    srv->heartbeat_started = 1;
    uint32_t ms = srv->heartbeat_ms ? srv->heartbeat_ms : 10000;
    uv_timer_start(&srv->heartbeat, on_heartbeat, ms, ms);
  }
  return 0;
}

/*
 * Sends each open watch what it has not seen (heartbeat: and an empty
 * progress message when there is nothing). A connection whose peer is not
 * reading is skipped: it catches up at a later commit or heartbeat, once its
 * output has drained.
 */
static void notify_watches(sg_server *srv, int heartbeat) {
  if (srv->n_watches == 0 || srv->stopping) return;
  /* the batch just committed must be seen: not the turn's earlier snapshot */
  sg_server_read_done(srv);
  int rc = sg_server_read(srv);
  if (rc) return;
  uint64_t head = 0, compacted = 0;
  char now[32];
  sg_now_rfc3339(now, sizeof now);
  if (sg_store_head_revision(srv->store, srv->read_txn, &head) ||
      sg_changes_compacted(srv->store, srv->read_txn, &compacted)) {
    sg_server_read_done(srv);
    return;
  }
  for (sg_conn *c = srv->conns; c; c = c->next) {
    for (size_t i = 0; i < c->n_watches && !c->closing;) {
      watch *w = &c->watches[i];
      /* a revocation commits no change: check the token before skipping idle watches */
      if (w->token_id && sg_auth_still_valid(srv->store, srv->read_txn, w->token_id, now) != 0) {
        end_watch(c, w, SG_EUNAUTH, "the watch's token was revoked or has expired");
        continue;
      }
      if ((!heartbeat && w->position >= head) || backlog(c) > srv->limits.max_output_bytes) {
        i++;
        continue;
      }
      if (w->position < compacted) {
        end_watch(c, w, SG_ERANGE, "the changes this watch had not sent were compacted; take a snapshot");
        continue;
      }
      sg_status st;
      sg_status_clear(&st);
      stream_target target = {c, w->call_id, w->mask ? &srv->read_arena : NULL};
      sg_call_ctx ctx = {.store = srv->store, .limits = &srv->limits, .arena = &srv->read_arena,
                         .st = &st, .peer = c->peer, .method = w->method, .emit = emit_frame,
                         .emit_data = &target, .raw_ok = !w->mask};
      sg_call_ctx_stamp(&ctx);
      uint64_t through;
      int more;
      rc = sg_sync_emit_changes(&ctx, srv->read_txn, w->town_id, w->all, w->position, 10000, head,
                                &through, &more, !heartbeat);
      sg_arena_reset(&srv->read_arena);
      if (rc) {
        if (st.code == 0) sg_status_set(&st, rc, NULL);
        end_watch(c, w, rc, st.message);
        continue;
      }
      w->position = through;
      i++;
    }
  }
  /* from a timer, no poll phase follows before the next tick: send now (and reset the txn) */
  sg_server_flush(srv);
}

static void on_heartbeat(uv_timer_t *t) { notify_watches(t->data, 1); }

void sg_server_after_batch(void *srv) {
  /* reads later in this turn see the batch just committed (a token revoked, a worker moved) */
  sg_server_read_done(srv);
  notify_watches(srv, 0);
}

static inflight *find_call(sg_conn *c, uint32_t call_id) {
  for (size_t i = 0; i < c->n_calls; i++)
    if (c->calls[i].call_id == call_id) return &c->calls[i];
  return NULL;
}

static int add_call(sg_conn *c, uint32_t call_id, sg_job *job) {
  if (c->n_calls == c->cap_calls) {
    size_t cap = c->cap_calls ? c->cap_calls * 2 : 8;
    inflight *n = realloc(c->calls, cap * sizeof *n);
    if (!n) return SG_ENOMEM;
    c->calls = n;
    c->cap_calls = cap;
  }
  c->calls[c->n_calls++] = (inflight){call_id, job};
  return 0;
}

static void remove_call(sg_conn *c, sg_job *job) {
  for (size_t i = 0; i < c->n_calls; i++)
    if (c->calls[i].job == job) {
      c->calls[i] = c->calls[--c->n_calls];
      return;
    }
}

/*
 * Queues an audit entry on its own (a refused call, a read of personal
 * data): the writer records it with the next batch. Nobody waits for it.
 */
static void audit_event(sg_conn *c, const sg_principal *p, const char *method,
                        const ProtobufCMessage *req, const sg_status *st, const char *event) {
  sg_job *job = sg_job_new(64 * 1024);
  if (!job) return;
  char target[160], now[32];
  sg_audit_target(req, target, sizeof target);
  sg_now_rfc3339(now, sizeof now);
  sg_audit_fill(&job->audit, p, sg_arena_strdup(&job->arena, c->peer),
                sg_arena_strdup(&job->arena, method ? method : ""),
                sg_arena_strdup(&job->arena, target), NULL, sg_arena_strdup(&job->arena, event),
                sg_arena_strdup(&job->arena, now));
  if (st) {
    job->audit.code = (Shegong__V1__Code)st->code;
    job->audit.message = sg_arena_strdup(&job->arena, st->message);
  }
  if (!job->audit.peer || !job->audit.method || !job->audit.target || !job->audit.event ||
      !job->audit.time || !job->audit.message) {
    sg_job_free(job);
    return;
  }
  sg_writer_submit(c->srv->writer, job);
}


static void run_read(sg_conn *c, uint32_t call_id, const sg_dispatch_entry *e,
                     const ProtobufCMessage *req, const sg_principal *p) {
  sg_server *srv = c->srv;
  uint64_t t0 = sg_now_us();
  sg_status st;
  sg_status_clear(&st);
  int mask = p && !p->pii;
  stream_target target = {c, call_id, mask ? &srv->read_arena : NULL};
  sg_call_ctx ctx = {.store = srv->store, .limits = &srv->limits, .arena = &srv->read_arena,
                     .st = &st, .peer = c->peer, .method = e->info->path, .principal = p};
  if (e->info->server_streaming) {
    ctx.emit = emit_frame;
    ctx.emit_data = &target;
    ctx.keep_open = keep_open;
    ctx.raw_ok = !mask;
  } else {
    ctx.raw_reply_ok = 1;
  }
  sg_call_ctx_stamp(&ctx);
  ProtobufCMessage *resp = NULL;
  int rc = sg_server_read(srv);
  if (rc) {
    sg_status_set(&st, rc, NULL);
  } else {
    /* the answer is framed below, before the turn's transaction is reset: a raw one
     * may point into the map (a decoded one is in the arena) */
    rc = e->impl->handler(&ctx, srv->read_txn, req, &resp);
    if (rc == 0 && !resp && ctx.raw_reply && mask) {
      /* masked on the way out of the map, the answer's one copy */
      uint8_t *m;
      size_t n;
      if (sg_mask_pii_wire(e->info->method->output, ctx.raw_reply, ctx.raw_len, &srv->read_arena,
                           &m, &n) == 0) {
        ctx.raw_reply = m;
        ctx.raw_len = n;
      } else {
        /* what the wire masker leaves to the decoder (or bytes it refuses): decoded */
        ctx.raw_reply_ok = 0;
        ctx.raw_reply = NULL;
        rc = e->impl->handler(&ctx, srv->read_txn, req, &resp);
      }
    }
  }
  if ((rc == 0 || rc == SG_CALL_OPEN) && p && p->pii &&
      sg_message_has_pii(e->info->method->output))
    audit_event(c, p, e->info->path, req, NULL, "pii-read");
  if (rc == SG_CALL_OPEN) return; /* a watch: its final frame comes when it ends */
  if (rc == 0 && srv->read_arena.failed) rc = sg_status_set(&st, SG_ENOMEM, "call needs too much memory");
  if (rc && st.code == 0) sg_status_set(&st, rc, NULL);
  if (rc == SG_EPERM) audit_event(c, p, e->info->path, req, &st, "denied");
  send_frame_raw(c, call_id, rc ? NULL : resp, rc || resp ? NULL : ctx.raw_reply, ctx.raw_len, &st,
                 mask ? &srv->read_arena : NULL);
  sg_metrics_call(sg_dispatch_index(e), st.code, sg_now_us() - t0);
}

/*
 * Authenticates a call and checks the method table; on refusal answers it,
 * audits it, and returns nonzero.
 */
static int admit(sg_conn *c, sg_frame *f, const sg_dispatch_entry *e, sg_principal *p) {
  sg_server *srv = c->srv;
  sg_status st;
  sg_status_clear(&st);
  char now[32];
  sg_now_rfc3339(now, sizeof now);
  const char *authz = sg_frame_metadata(f, "authorization");
  size_t alen = authz ? strlen(authz) : 0;
  int rc;
  /* read before authenticating: a change while we check makes the cache stale */
  uint64_t gen = sg_auth_generation();
  if (alen && alen == c->auth_len && c->auth_gen == gen &&
      /* a plain compare: the cache holds only values sent on this connection */
      memcmp(authz, c->auth_key, alen) == 0 &&
      (!c->auth_p.expires_at[0] || strcmp(c->auth_p.expires_at, now) > 0)) {
    *p = c->auth_p; /* the same token as the last call, nothing changed since */
    rc = 0;
  } else {
    /*
     * The turn's snapshot may predate a token change the writer has committed
     * (the loop hears of the batch later): then the token is checked in a
     * fresh one, and the cache keyed by what that snapshot holds.
     */
    if (srv->read_open && srv->read_gen != gen) sg_server_read_done(srv);
    if ((rc = sg_server_read(srv))) {
      sg_status_set(&st, rc, "cannot check the token");
    } else {
      rc = sg_auth_authenticate(srv->store, srv->read_txn, authz, now, p, &st);
      c->auth_len = 0;
      if (rc == 0 && alen < sizeof c->auth_key) {
        memcpy(c->auth_key, authz, alen);
        c->auth_len = alen;
        c->auth_gen = srv->read_gen;
        c->auth_p = *p;
      }
    }
  }
  if (rc == 0 && !c->authed) {
    /* a known principal, allowed this call or not, is no stranger */
    c->authed = 1;
    c->dec.max_frame = srv->limits.max_frame;
    uv_timer_stop(&c->linger);
  }
  if (rc == 0 && !sg_auth_allowed(p, e))
    rc = sg_status_set(&st, SG_EPERM, "a %s token may not call %s", sg_role_name(p->role),
                       e->info->path);
  if (rc == 0) return 0;
  send_reply(c, f->call_id, NULL, &st);
  sg_metrics_call(sg_dispatch_index(e), st.code, 0);
  audit_event(c, rc == SG_EUNAUTH ? NULL : p, e->info->path, NULL, &st, "denied");
  sg_info("refused %s from %s: %s", e->info->path, c->peer, st.message);
  return rc;
}

/* A long read-only call (a backup) on a pool thread: the loop keeps serving. */
static void blocking_work(uv_work_t *w) {
  sg_job *job = w->data;
  sg_conn *c = job->owner;
  sg_status_clear(&job->st);
  sg_call_ctx ctx = {.store = c->srv->store, .limits = &c->srv->limits, .arena = &job->arena,
                     .st = &job->st, .peer = job->peer, .method = job->entry->info->path,
                     .principal = job->has_principal ? &job->principal : NULL};
  sg_call_ctx_stamp(&ctx);
  if (job->entry->impl->kind == SG_METHOD_REPORT) {
    /* a report reads in a transaction of its own, off the loop */
    MDB_txn *txn;
    job->rc = sg_store_read_open(c->srv->store, &txn);
    if (!job->rc) {
      job->rc = job->entry->impl->handler(&ctx, txn, job->req, &job->resp);
      sg_store_read_close(c->srv->store, txn);
    }
  } else {
    job->rc = job->entry->impl->handler(&ctx, NULL, job->req, &job->resp);
  }
  if (job->rc && job->st.code == 0) sg_status_set(&job->st, job->rc, NULL);
  sg_status_finish_violations(&job->st);
}

static void blocking_done(uv_work_t *w, int status) {
  sg_job *job = w->data;
  if (status == UV_ECANCELED && job->rc == 0) job->rc = sg_status_set(&job->st, SG_ECANCELED, NULL);
  sg_conn *c = job->owner;
  /* a backup is an administrative act; a report is a read like any other */
  if (job->entry->impl->kind == SG_METHOD_BLOCKING)
    audit_event(c, job->has_principal ? &job->principal : NULL, job->entry->info->path, job->req,
                &job->st, "admin");
  sg_server_job_done(job, NULL);
}

/* Decodes a request's payload into arena; NULL once the call has been answered
 * with why not (the call's memory limit, or bytes that are not the message). */
static ProtobufCMessage *unpack_request(sg_conn *c, uint32_t id, const ProtobufCMessageDescriptor *in,
                                        sg_arena *arena, const sg_frame *f) {
  ProtobufCMessage *req = protobuf_c_message_unpack(in, &arena->allocator, f->payload.len, f->payload.data);
  if (!req) {
    if (arena->failed) send_error(c, id, SG_ENOMEM, "request needs more memory than a call may use");
    else send_error(c, id, SG_EPROTO, "payload is not a valid %s", in->name);
  }
  return req;
}

static int handle_frame(sg_conn *c, sg_frame *f) {
  sg_server *srv = c->srv;
  if (c->closing) {
    return 1;
  }
  uint32_t id = f->call_id;
  if (id == 0) {
    /* the client library treats call 0 as the connection's end: so do we */
    send_error(c, 0, SG_EPROTO, "call_id 0 is reserved for the server");
    sg_conn_close(c);
    return 1;
  }
  if (f->flags & SG_FLAG_CANCEL) {
    watch *w = find_watch(c, id);
    if (w) {
      end_watch(c, w, SG_ECANCELED, "cancelled by the client");
      goto done;
    }
    inflight *call = find_call(c, id);
    /* the writer skips a cancelled job it has not applied yet; its answer says which */
    if (call) atomic_store(&call->job->canceled, 1);
    goto done;
  }
  if (find_call(c, id) || find_watch(c, id)) {
    /* an answer on that id could be taken for the first call's: end the connection */
    send_error(c, 0, SG_EPROTO, "call_id %u is already in use on this connection", id);
    sg_conn_close(c);
    return 1;
  }
  if (!f->method || !f->method[0]) {
    send_error(c, id, SG_EPROTO, "the first frame of call %u names no method", id);
    goto done;
  }
  const sg_dispatch_entry *e = sg_dispatch_lookup(f->method);
  if (!e) {
    send_error(c, id, SG_EUNIMPL, "unknown method %.100s", f->method);
    goto done;
  }
  if (!e->impl) {
    send_error(c, id, SG_EUNIMPL, "method %s is not implemented by this server", e->info->path);
    goto done;
  }
  /* everything but Hello needs a token, and the token needs the right */
  sg_principal principal, *p = NULL;
  if (strcmp(e->info->path, "/shegong.v1.Admin/Hello") != 0) {
    if (admit(c, f, e, &principal)) goto done;
    p = &principal;
  }
  const ProtobufCMessageDescriptor *in = e->info->method->input;
  if (e->impl->kind == SG_METHOD_READ) {
    sg_arena_reset(&srv->read_arena);
    ProtobufCMessage *req = unpack_request(c, id, in, &srv->read_arena, f);
    if (req) run_read(c, id, e, req, p);
    sg_arena_reset(&srv->read_arena);
    goto done;
  }
  if (c->n_calls >= srv->limits.max_in_flight) {
    send_error(c, id, SG_ENOMEM, "more than %u writes in flight on this connection",
               srv->limits.max_in_flight);
    goto done;
  }
  sg_job *job = sg_job_new(srv->limits.max_call_memory);
  if (!job) {
    send_error(c, id, SG_ENOMEM, "out of memory");
    goto done;
  }
  job->req = unpack_request(c, id, in, &job->arena, f);
  if (!job->req) {
    sg_job_free(job);
    goto done;
  }
  job->after_request = sg_arena_get_mark(&job->arena);
  if (add_call(c, id, job) != 0) {
    send_error(c, id, SG_ENOMEM, "out of memory");
    sg_job_free(job);
    goto done;
  }
  job->entry = e;
  job->owner = c;
  if (p) {
    job->principal = *p;
    job->has_principal = 1;
  }
  job->call_id = id;
  job->t0_us = sg_now_us();
  job->deadline_ms = sg_now_ms() + (f->timeout_ms ? f->timeout_ms : srv->limits.default_timeout_ms);
  snprintf(job->peer, sizeof job->peer, "%s", c->peer);
  c->refs++;
  if (e->impl->kind == SG_METHOD_BLOCKING || e->impl->kind == SG_METHOD_REPORT) {
    job->work.data = job;
    if (uv_queue_work(srv->loop, &job->work, blocking_work, blocking_done) != 0) {
      remove_call(c, job);
      c->refs--;
      send_error(c, id, SG_EINTERNAL, "cannot start the work");
      sg_job_free(job);
    }
    goto done;
  }
  sg_writer_submit(srv->writer, job);
done:
  return 0;
}

static int on_frame(void *arg, sg_frame *f) {
  sg_conn *c = arg;
  int rc = handle_frame(c, f);
  /* nothing keeps a pointer into the frame: requests are decoded (copied)
   * into their call's memory, and admit copies what it caches */
  if (c->dec.alloc) sg_arena_reset(&c->srv->frame_arena);
  else sg_frame_free(f);
  return rc;
}

/* ---- the gRPC transport's hooks (net/h2.h) ---- */

/* A gRPC request becomes the frame a native client would have sent. */
static void h2_call(void *arg, const sg_h2_request *r) {
  sg_conn *c = arg;
  if (c->closing) return;
  if (note_backlog(c)) {
    /* native connections stop reading instead; HTTP/2 must read on */
    sg_status st;
    sg_status_clear(&st);
    sg_status_set(&st, SG_ENOMEM, "%zu bytes of answers are waiting for this connection to read them",
                  backlog(c));
    send_reply(c, r->stream_id, NULL, &st);
    return;
  }
  Shegong__V1__Metadata md = SHEGONG__V1__METADATA__INIT, *mdp = &md;
  md.key = "authorization";
  md.value = (char *)r->authorization;
  sg_frame f = SHEGONG__V1__FRAME__INIT;
  f.call_id = r->stream_id;
  f.method = (char *)r->path;
  f.flags = SG_FLAG_END_STREAM;
  f.timeout_ms = r->timeout_ms;
  f.n_metadata = r->authorization ? 1 : 0;
  f.metadata = &mdp;
  f.payload.data = (uint8_t *)r->msg;
  f.payload.len = r->len;
  handle_frame(c, &f);
}

/* RST_STREAM from the peer: what a native CANCEL frame does. */
static void h2_cancel(void *arg, uint32_t id) {
  sg_conn *c = arg;
  watch *w = find_watch(c, id);
  if (w) {
    end_watch(c, w, SG_ECANCELED, "cancelled by the client");
    return;
  }
  inflight *call = find_call(c, id);
  if (call) atomic_store(&call->job->canceled, 1);
}

static int h2_output(void *arg, const uint8_t *data, size_t n) { return conn_send(arg, data, n); }

/* Whether new work on this connection must wait for the peer to read (reflection asks). */
static int h2_congested(void *arg) { return note_backlog(arg); }

static uint32_t h2_max_message(void *arg) {
  sg_conn *c = arg;
  uint32_t m = c->srv->limits.max_frame;
  return c->authed || m < SG_PREAUTH_MAX_FRAME ? m : SG_PREAUTH_MAX_FRAME;
}

/* Plaintext from the peer: frames. Returns nonzero once the connection is closing. */
static int feed_plain(void *arg, const uint8_t *data, size_t len) {
  sg_conn *c = arg;
  char why[160];
  if (c->h2) {
    if (sg_h2_feed(c->h2, data, len, why, sizeof why) != 0) {
      sg_info("closing %s: %s", c->peer, why);
      sg_conn_close(c); /* nghttp2 has queued the GOAWAY that says why */
      return 1;
    }
    return c->closing ? 1 : 0;
  }
  int rc = sg_frame_decoder_feed(&c->dec, data, len, on_frame, c, why, sizeof why);
  if (rc < 0) {
    /* framing is broken: nothing after this point can be trusted */
    sg_info("closing %s: %s", c->peer, why);
    send_error(c, 0, rc, "%s", why);
    sg_conn_close(c);
    return 1;
  }
  return c->closing ? 1 : 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  sg_conn *c = s->data;
  if (nread < 0) {
    if (nread != UV_EOF) sg_debug("read from %s: %s", c->peer, uv_strerror((int)nread));
    conn_close_now(c);
    return;
  }
  if (nread == 0 || c->closing) return; /* draining discards */
  if (!c->tls) {
    feed_plain(c, (const uint8_t *)buf->base, (size_t)nread);
    watch_partial(c);
    return;
  }
  char why[256];
  int rc = sg_tls_conn_feed(c->tls, (const uint8_t *)buf->base, (size_t)nread, feed_plain, c, why,
                            sizeof why);
  /* the handshake and alerts make output of their own */
  if (!c->closing && flush_tls(c) != 0) rc = SG_ENOMEM;
  watch_partial(c);
  if (rc == SG_EEOF) {
    sg_conn_close(c);
  } else if (rc < 0 && !c->closing) {
    sg_info("closing %s: %s", c->peer, why);
    flush_tls(c); /* the alert that says why, if OpenSSL made one */
    conn_close_now(c);
  }
}

void sg_server_job_done(sg_job *job, void *data) {
  (void)data;
  sg_conn *c = job->owner;
  if (!job->entry) { /* an audit entry: nobody waits for it */
    sg_job_free(job);
    return;
  }
  if (!c) { /* the server's own (the transfer scheduler) */
    sg_schedule_job_done(job);
    return;
  }
  remove_call(c, job);
  sg_metrics_call(sg_dispatch_index(job->entry), job->st.code, sg_now_us() - job->t0_us);
  if (!c->closing)
    send_frame(c, job->call_id, job->rc ? NULL : job->resp, &job->st,
               job->has_principal && !job->principal.pii ? &job->arena : NULL);
  sg_job_free(job);
  if (c->srv->stopping && c->n_calls == 0) sg_conn_close(c);
  conn_unref(c);
}

void sg_conn_accept(sg_server *srv, int grpc) {
  sg_conn *c = calloc(1, sizeof *c);
  if (!c) {
    sg_error("out of memory for a connection");
    return;
  }
  c->srv = srv;
  c->refs = 1;
  c->handles_open = 3;
  uv_tcp_init(srv->loop, &c->tcp);
  c->tcp.data = c;
  uv_timer_init(srv->loop, &c->linger);
  c->linger.data = c;
  uv_timer_init(srv->loop, &c->stall);
  c->stall.data = c;
  c->next = srv->conns;
  if (srv->conns) srv->conns->prev = c;
  srv->conns = c;
  srv->n_conns++;
  sg_frame_decoder_init(&c->dec, srv->limits.max_frame < SG_PREAUTH_MAX_FRAME
                                     ? srv->limits.max_frame
                                     : SG_PREAUTH_MAX_FRAME);
  c->dec.alloc = &srv->frame_arena.allocator;
  if (grpc) {
    sg_h2_hooks hooks = {c, h2_call, h2_cancel, h2_output, h2_max_message, h2_congested};
    if (sg_h2_new(&c->h2, &hooks, srv->limits.max_in_flight < 256 ? srv->limits.max_in_flight : 256)) {
      sg_error("out of memory for an HTTP/2 session");
      c->h2 = NULL;
    }
  }
  if (uv_accept((uv_stream_t *)(grpc ? &srv->grpc_listener : &srv->listener),
                (uv_stream_t *)&c->tcp) != 0 || (grpc && !c->h2)) {
    conn_close_now(c);
    return;
  }
  struct sockaddr_storage ss;
  int len = sizeof ss;
  snprintf(c->peer, sizeof c->peer, "?");
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
    char ip[48] = "?";
    int port = 0;
    if (ss.ss_family == AF_INET) {
      uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
      snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
    } else if (ss.ss_family == AF_INET6) {
      uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
      snprintf(c->peer, sizeof c->peer, "[%s]:%d", ip, port);
    }
  }
  if (srv->n_conns > srv->limits.max_connections) {
    sg_warn("refusing %s: %zu connections is the limit", c->peer, srv->n_conns - 1);
    /* a TLS peer could not read a plain frame (or HTTP/2 GOAWAY): it only sees the close */
    if (!(grpc ? srv->grpc_tls : srv->tls)) {
      send_error(c, 0, SG_EUNAVAIL, "server has too many connections");
    } else if (c->h2) {
      sg_h2_free(c->h2);
      c->h2 = NULL;
    }
    sg_conn_close(c);
    return;
  }
  sg_tls_ctx *tls = grpc ? srv->grpc_tls : srv->tls;
  if (tls && sg_tls_conn_new(&c->tls, tls) != 0) {
    sg_error("out of memory for TLS on %s", c->peer);
    conn_close_now(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_timer_start(&c->linger, on_preauth_idle, SG_PREAUTH_IDLE_MS, 0);
  sg_debug("connection from %s", c->peer);
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
  else conn_close_now(c);
}

static void on_stop_timeout(uv_timer_t *t) {
  sg_server *srv = t->data;
  sg_warn("closing %zu connections that did not finish within %u ms", srv->n_conns,
          srv->stop_grace_ms);
  for (sg_conn *c = srv->conns; c; c = c->next) conn_close_now(c);
}

void sg_server_stop(sg_server *srv) {
  if (srv->stopping) return;
  srv->stopping = 1;
  if (srv->n_conns) {
    uv_timer_init(srv->loop, &srv->stop_timer);
    srv->stop_timer.data = srv;
    srv->stop_timer_started = 1;
    uv_timer_start(&srv->stop_timer, on_stop_timeout, srv->stop_grace_ms ? srv->stop_grace_ms : 5000, 0);
  }
  if (srv->listening) {
    uv_close((uv_handle_t *)&srv->listener, NULL);
    srv->listening = 0;
  }
  if (srv->grpc_listening) {
    uv_close((uv_handle_t *)&srv->grpc_listener, NULL);
    srv->grpc_listening = 0;
  }
  if (srv->heartbeat_started) uv_close((uv_handle_t *)&srv->heartbeat, NULL);
  if (srv->schedule_started) uv_close((uv_handle_t *)&srv->schedule, NULL);
  srv->schedule_started = 0;
  for (sg_conn *c = srv->conns; c; c = c->next) {
    sg_conn_stop_reading(c);
    while (c->n_watches) end_watch(c, &c->watches[0], SG_EUNAVAIL, "the server is stopping");
    if (c->n_calls == 0) sg_conn_close(c);
  }
  if (srv->n_conns == 0) server_drained(srv);
}
