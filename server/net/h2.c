#include "net/h2.h"

#include <nghttp2/nghttp2.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "log.h"
#include "net/reflect.h"

/* Headers a request may carry in all: path, token, deadline and the usual few. */
#define H2_MAX_HEADER_BYTES (16u * 1024u)
#define H2_PATH_MAX 128
#define H2_AUTH_MAX 256
/* the gRPC message prefix: a compressed flag and a 4-byte big-endian length */
#define GRPC_PREFIX 5

typedef struct h2_stream {
  int32_t id;
  struct h2_stream *prev, *next;
  char path[H2_PATH_MAX];
  char auth[H2_AUTH_MAX];
  int has_auth;
  uint32_t timeout_ms;
  size_t header_bytes;
  int bad_header;     /* a header too long or malformed: answered at END_HEADERS */
  int is_post, is_grpc;
  int reflection;
  int rejected;       /* answered already (a bad request): later data is dropped */
  int dispatched;     /* handed to the connection */
  /* request body: messages are cut out as their bytes arrive */
  uint8_t *in;
  size_t in_len, in_cap;
  uint8_t *msg;       /* the one request message of a unary/server-streaming call */
  size_t msg_len;
  size_t held;        /* in + msg: this stream's share of sg_h2.in_bytes */
  int n_msgs;
  /* response */
  uint8_t *out;
  size_t out_off, out_len, out_cap;
  int headers_sent, finished, deferred, trailers_sent;
  char status[12];
  char *message;      /* percent-encoded */
  char *status_bin;   /* base64 */
} h2_stream;

struct sg_h2 {
  nghttp2_session *session;
  sg_h2_hooks hooks;
  h2_stream *streams; /* every stream not yet closed */
  size_t buffered;
  size_t in_bytes;    /* request bytes held by streams not yet handed over */
  int failed;         /* the output hook failed: the connection is gone */
  int goaway;         /* sent: the first one says why */
};

/* ------------------------------------------------------------------ helpers */

int sg_h2_parse_timeout(const char *v, uint32_t *ms) {
  size_t n = v ? strlen(v) : 0;
  if (n < 2 || n > 9) return SG_EINVAL;
  uint64_t x = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    if (v[i] < '0' || v[i] > '9') return SG_EINVAL;
    x = x * 10 + (uint64_t)(v[i] - '0');
  }
  uint64_t r;
  switch (v[n - 1]) {
  case 'H': r = x * 3600000u; break;
  case 'M': r = x * 60000u; break;
  case 'S': r = x * 1000u; break;
  case 'm': r = x; break;
  case 'u': r = (x + 999) / 1000; break;
  case 'n': r = (x + 999999) / 1000000; break;
  default: return SG_EINVAL;
  }
  if (x > 0 && r == 0) r = 1;
  *ms = r > UINT32_MAX ? UINT32_MAX : (uint32_t)r;
  /* 0 would mean "none given": a zero deadline has passed already */
  if (*ms == 0) *ms = 1;
  return 0;
}

void sg_h2_encode_message(const char *msg, char *out, size_t outlen) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  if (!outlen) return;
  for (const unsigned char *p = (const unsigned char *)(msg ? msg : ""); *p; p++) {
    if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
      if (o + 1 >= outlen) break;
      out[o++] = (char)*p;
    } else {
      if (o + 3 >= outlen) break;
      out[o++] = '%';
      out[o++] = hex[*p >> 4];
      out[o++] = hex[*p & 15];
    }
  }
  out[o] = 0;
}

/* Keeps in_bytes up to date after a stream's request buffers changed. */
static void recount(sg_h2 *h, h2_stream *s) {
  h->in_bytes -= s->held;
  s->held = (s->in ? s->in_len : 0) + (s->msg ? s->msg_len : 0);
  h->in_bytes += s->held;
}

static void stream_free(sg_h2 *h, h2_stream *s) {
  h->in_bytes -= s->held;
  if (s->prev) s->prev->next = s->next;
  else h->streams = s->next;
  if (s->next) s->next->prev = s->prev;
  h->buffered -= s->out_len - s->out_off;
  free(s->in);
  free(s->msg);
  free(s->out);
  free(s->message);
  free(s->status_bin);
  free(s);
}

static h2_stream *get_stream(sg_h2 *h, uint32_t id) {
  if (id == 0 || id > INT32_MAX) return NULL;
  return nghttp2_session_get_stream_user_data(h->session, (int32_t)id);
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}

/* A finished stream's status headers (trailers, or in a Trailers-Only answer); returns how many (2 or 3). */
static size_t status_nv(const h2_stream *s, nghttp2_nv nva[3]) {
  nva[0] = (nghttp2_nv)NV("grpc-status", s->status);
  nva[1] = (nghttp2_nv)NV("grpc-message", s->message);
  if (!s->status_bin) return 2;
  nva[2] = (nghttp2_nv)NV("shegong-status-bin", s->status_bin);
  return 3;
}

/* The message length of a gRPC prefix (a flag byte, then 4 bytes big-endian). */
static uint32_t prefix_len(const uint8_t *p) {
  return (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
}

/* ------------------------------------------------------------------ output */

static ssize_t read_body(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *source, void *user) {
  h2_stream *s = source->ptr;
  sg_h2 *h = user;
  size_t n = s->out_len - s->out_off;
  if (n > length) n = length;
  memcpy(buf, s->out + s->out_off, n);
  s->out_off += n;
  h->buffered -= n;
  if (s->out_off == s->out_len) {
    s->out_off = s->out_len = 0;
    if (s->out_cap > (1u << 20)) { /* a big answer's buffer is not kept for the next */
      free(s->out);
      s->out = NULL;
      s->out_cap = 0;
    }
    if (s->finished) {
      /* the status goes in trailers, which end the stream */
      *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
      nghttp2_nv nva[3];
      size_t nn = status_nv(s, nva);
      if (nghttp2_submit_trailer(session, id, nva, nn) != 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      s->trailers_sent = 1;
    } else if (n == 0) {
      s->deferred = 1;
      return NGHTTP2_ERR_DEFERRED;
    }
  }
  return (ssize_t)n;
}

/* Response headers (once), then the body as it comes. */
static int start_response(sg_h2 *h, h2_stream *s) {
  if (s->headers_sent) {
    if (s->deferred) {
      s->deferred = 0;
      return nghttp2_session_resume_data(h->session, s->id) == 0 ? 0 : SG_EINTERNAL;
    }
    return 0;
  }
  s->headers_sent = 1;
  nghttp2_nv nva[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
  nghttp2_data_provider prd = {.source.ptr = s, .read_callback = read_body};
  return nghttp2_submit_response(h->session, s->id, nva, 2, &prd) == 0 ? 0 : SG_EINTERNAL;
}

int sg_h2_message(sg_h2 *h, uint32_t stream_id, const uint8_t *msg, size_t n) {
  h2_stream *s = get_stream(h, stream_id);
  if (!s || s->finished || h->failed) return SG_EUNAVAIL;
  if (n > UINT32_MAX - GRPC_PREFIX) return SG_ETOOBIG;
  size_t need = s->out_len + GRPC_PREFIX + n;
  if (need > s->out_cap) {
    size_t cap = s->out_cap ? s->out_cap : 4096;
    while (cap < need) cap *= 2;
    uint8_t *o = realloc(s->out, cap);
    if (!o) return SG_ENOMEM;
    s->out = o;
    s->out_cap = cap;
  }
  uint8_t *p = s->out + s->out_len;
  p[0] = 0;
  p[1] = (uint8_t)(n >> 24);
  p[2] = (uint8_t)(n >> 16);
  p[3] = (uint8_t)(n >> 8);
  p[4] = (uint8_t)n;
  if (n) memcpy(p + GRPC_PREFIX, msg, n);
  s->out_len = need;
  h->buffered += GRPC_PREFIX + n;
  return start_response(h, s);
}

int sg_h2_finish(sg_h2 *h, uint32_t stream_id, int code, const char *message,
                 const uint8_t *status_bin, size_t status_len) {
  h2_stream *s = get_stream(h, stream_id);
  if (!s || s->finished) return 0;
  s->finished = 1;
  snprintf(s->status, sizeof s->status, "%d", code);
  size_t ml = message ? strlen(message) * 3 + 1 : 1;
  s->message = malloc(ml);
  if (s->message) sg_h2_encode_message(message, s->message, ml);
  if (status_bin && status_len) {
    size_t bl = sodium_base64_ENCODED_LEN(status_len, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    s->status_bin = malloc(bl);
    if (s->status_bin)
      sodium_bin2base64(s->status_bin, bl, status_bin, status_len,
                        sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
  }
  if (!s->message) {
    nghttp2_submit_rst_stream(h->session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
    return SG_ENOMEM;
  }
  if (s->headers_sent) return start_response(h, s);
  /* nothing was sent: a Trailers-Only answer, one HEADERS frame that ends the stream */
  s->headers_sent = s->trailers_sent = 1;
  nghttp2_nv nva[5] = {NV(":status", "200"), NV("content-type", "application/grpc")};
  size_t nn = 2 + status_nv(s, nva + 2);
  return nghttp2_submit_response(h->session, s->id, nva, nn, NULL) == 0 ? 0 : SG_EINTERNAL;
}

/* A request refused by HTTP rules, before gRPC: a plain status, no body. */
static void http_refuse(sg_h2 *h, h2_stream *s, const char *status) {
  s->rejected = s->finished = s->headers_sent = s->trailers_sent = 1;
  nghttp2_nv nva[] = {NV(":status", status)};
  nghttp2_submit_response(h->session, s->id, nva, 1, NULL);
}

/* A gRPC error on a request not handed over (bad headers, body, size). */
static void grpc_refuse(sg_h2 *h, h2_stream *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void grpc_refuse(sg_h2 *h, h2_stream *s, int err, const char *fmt, ...) {
  char msg[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  s->rejected = 1;
  free(s->in);
  s->in = NULL;
  s->in_len = s->in_cap = 0;
  recount(h, s);
  sg_h2_finish(h, (uint32_t)s->id, sg_error_to_code(err), msg, NULL, 0);
}

int sg_h2_flush(sg_h2 *h) {
  if (h->failed) return SG_EUNAVAIL;
  for (;;) {
    const uint8_t *data;
    ssize_t n = nghttp2_session_mem_send(h->session, &data);
    if (n < 0) {
      sg_warn("HTTP/2 send: %s", nghttp2_strerror((int)n));
      h->failed = 1;
      return SG_EPROTO;
    }
    if (n == 0) return 0;
    if (h->hooks.output(h->hooks.arg, data, (size_t)n) != 0) {
      h->failed = 1;
      return SG_EUNAVAIL;
    }
  }
}

void sg_h2_goaway(sg_h2 *h, int error, const char *why) {
  if (h->goaway) return;
  h->goaway = 1;
  const char *w = why ? why : "";
  nghttp2_submit_goaway(h->session, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(h->session),
                        error ? NGHTTP2_INTERNAL_ERROR : NGHTTP2_NO_ERROR, (const uint8_t *)w,
                        strlen(w));
}

size_t sg_h2_buffered(const sg_h2 *h) { return h->buffered; }

int sg_h2_pending(const sg_h2 *h) { return h->in_bytes > 0; }

int sg_h2_alive(const sg_h2 *h) {
  return !h->failed &&
         (nghttp2_session_want_read(h->session) || nghttp2_session_want_write(h->session));
}

/* ------------------------------------------------------------------ input */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user) {
  sg_h2 *h = user;
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  h2_stream *s = calloc(1, sizeof *s);
  if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* the stream is reset */
  s->id = frame->hd.stream_id;
  s->next = h->streams;
  if (h->streams) h->streams->prev = s;
  h->streams = s;
  nghttp2_session_set_stream_user_data(session, s->id, s);
  return 0;
}

static int copy_value(char *dst, size_t cap, const uint8_t *v, size_t n) {
  if (n >= cap || memchr(v, 0, n)) return -1;
  memcpy(dst, v, n);
  dst[n] = 0;
  return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user) {
  (void)flags;
  (void)user;
  h2_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (!s || frame->hd.type != NGHTTP2_HEADERS) return 0;
  if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0; /* request trailers: nothing we use */
  s->header_bytes += namelen + valuelen + 32;
  if (s->header_bytes > H2_MAX_HEADER_BYTES) {
    /* a bounded stranger: too many or too long headers reset the stream */
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
#define IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, namelen) == 0)
  if (IS(":path")) {
    if (copy_value(s->path, sizeof s->path, value, valuelen)) s->bad_header = 1;
  } else if (IS(":method")) {
    s->is_post = valuelen == 4 && memcmp(value, "POST", 4) == 0;
  } else if (IS("content-type")) {
    s->is_grpc = valuelen >= 16 && memcmp(value, "application/grpc", 16) == 0 &&
                 (valuelen == 16 || value[16] == '+' || value[16] == ';');
  } else if (IS("authorization")) {
    if (copy_value(s->auth, sizeof s->auth, value, valuelen)) s->bad_header = 1;
    else s->has_auth = 1;
  } else if (IS("grpc-timeout")) {
    char v[16];
    if (copy_value(v, sizeof v, value, valuelen) || sg_h2_parse_timeout(v, &s->timeout_ms))
      s->bad_header = 2;
  }
#undef IS
  return 0;
}

/* Cuts complete messages out of the stream's body. */
static void take_messages(sg_h2 *h, h2_stream *s) {
  size_t off = 0;
  while (!s->rejected && s->in_len - off >= GRPC_PREFIX) {
    const uint8_t *p = s->in + off;
    uint32_t len = prefix_len(p);
    uint32_t max = h->hooks.max_message(h->hooks.arg);
    if (p[0] != 0) {
      grpc_refuse(h, s, SG_EUNIMPL, "compressed messages are not supported: send grpc-encoding identity");
      return;
    }
    if (len > max) {
      grpc_refuse(h, s, SG_ETOOBIG, "request message of %u bytes exceeds the limit of %u bytes", len, max);
      return;
    }
    if (s->in_len - off - GRPC_PREFIX < len) break;
    const uint8_t *m = p + GRPC_PREFIX;
    off += GRPC_PREFIX + len;
    s->n_msgs++;
    if (s->reflection) {
      /* answered here, not through the connection: the same backpressure */
      if (h->hooks.congested(h->hooks.arg)) {
        grpc_refuse(h, s, SG_ENOMEM, "answers are waiting for this connection to read them");
        return;
      }
      uint8_t *ans = NULL;
      size_t alen = 0;
      int rc = sg_reflect_answer(m, len, &ans, &alen);
      if (rc) {
        grpc_refuse(h, s, rc, rc == SG_EPROTO ? "not a ServerReflectionRequest" : "reflection failed");
        return;
      }
      sg_h2_message(h, (uint32_t)s->id, ans, alen);
      free(ans);
      continue;
    }
    if (s->n_msgs > 1) {
      grpc_refuse(h, s, SG_EPROTO, "%s takes one request message", s->path);
      return;
    }
    s->msg = malloc(len ? len : 1);
    if (!s->msg) {
      grpc_refuse(h, s, SG_ENOMEM, "out of memory");
      return;
    }
    memcpy(s->msg, m, len);
    s->msg_len = len;
  }
  if (s->rejected) return;
  memmove(s->in, s->in + off, s->in_len - off);
  s->in_len -= off;
  recount(h, s);
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user) {
  (void)flags;
  sg_h2 *h = user;
  h2_stream *s = nghttp2_session_get_stream_user_data(session, id);
  if (!s || s->rejected || s->dispatched) return 0;
  /* the buffer never holds more than one message and its prefix, which is
   * checked against the limit as soon as its 5 bytes are in */
  while (len) {
    size_t room = GRPC_PREFIX;
    if (s->in_len >= GRPC_PREFIX) {
      const uint8_t *p = s->in;
      room = GRPC_PREFIX + (size_t)prefix_len(p);
    }
    size_t take = room > s->in_len ? room - s->in_len : 0;
    if (take > len) take = len;
    if (take == 0) take = len < GRPC_PREFIX ? len : GRPC_PREFIX;
    /* HTTP/2 interleaves streams, so unlike frames many requests can be half
     * sent at once: together they may hold twice the message limit */
    size_t limit = 2 * (size_t)h->hooks.max_message(h->hooks.arg);
    if (h->in_bytes + take > limit) {
      grpc_refuse(h, s, SG_ETOOBIG,
                  "requests not yet complete on this connection exceed %zu bytes", limit);
      return 0;
    }
    if (s->in_len + take > s->in_cap) {
      size_t cap = s->in_cap ? s->in_cap : 256;
      while (cap < s->in_len + take) cap *= 2;
      uint8_t *n = realloc(s->in, cap);
      if (!n) {
        grpc_refuse(h, s, SG_ENOMEM, "out of memory");
        return 0;
      }
      s->in = n;
      s->in_cap = cap;
    }
    memcpy(s->in + s->in_len, data, take);
    s->in_len += take;
    recount(h, s);
    data += take;
    len -= take;
    take_messages(h, s);
    if (s->rejected) return 0;
  }
  return 0;
}

/* The request's headers are in: refuse what is not a gRPC call. */
static void check_headers(sg_h2 *h, h2_stream *s) {
  if (!s->is_post) {
    http_refuse(h, s, "405");
  } else if (!s->is_grpc) {
    http_refuse(h, s, "415");
  } else if (s->bad_header == 2) {
    grpc_refuse(h, s, SG_EINVAL, "grpc-timeout is not a gRPC timeout (digits and one of HMSmun)");
  } else if (s->bad_header || s->path[0] != '/') {
    grpc_refuse(h, s, SG_EINVAL, "the :path or authorization header is malformed or too long");
  } else {
    s->reflection = sg_reflect_is_path(s->path);
  }
}

/* The client's side is complete: hand the call over. */
static void end_request(sg_h2 *h, h2_stream *s) {
  if (s->rejected || s->dispatched) return;
  if (s->reflection) {
    if (s->in_len) grpc_refuse(h, s, SG_EPROTO, "the last request message is incomplete");
    else sg_h2_finish(h, (uint32_t)s->id, 0, "", NULL, 0);
    return;
  }
  if (s->in_len || s->n_msgs != 1) {
    grpc_refuse(h, s, SG_EPROTO, s->in_len ? "the request message is incomplete"
                                           : "%s takes one request message",
                s->path);
    return;
  }
  s->dispatched = 1;
  free(s->in);
  s->in = NULL;
  s->in_cap = s->in_len = 0;
  recount(h, s);
  sg_h2_request req = {(uint32_t)s->id, s->path, s->has_auth ? s->auth : NULL, s->timeout_ms,
                       s->msg, s->msg_len};
  h->hooks.call(h->hooks.arg, &req);
  /* the message was unpacked (copied) by the call: its bytes can go */
  s = get_stream(h, req.stream_id);
  if (s) {
    free(s->msg);
    s->msg = NULL;
    recount(h, s);
  }
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user) {
  sg_h2 *h = user;
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  h2_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (!s) return 0;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
    check_headers(h, s);
  if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) end_request(h, s);
  return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t id, uint32_t error_code, void *user) {
  sg_h2 *h = user;
  h2_stream *s = nghttp2_session_get_stream_user_data(session, id);
  if (!s) return 0;
  int running = s->dispatched && !s->finished;
  stream_free(h, s);
  nghttp2_session_set_stream_user_data(session, id, NULL);
  /* closed before we finished it: a reset (the client's cancel or deadline,
   * whatever its code) stops the call's work */
  (void)error_code;
  if (running) h->hooks.cancel(h->hooks.arg, (uint32_t)id);
  return 0;
}

/* ------------------------------------------------------------------ session */

int sg_h2_new(sg_h2 **out, const sg_h2_hooks *hooks, uint32_t max_streams) {
  sg_h2 *h = calloc(1, sizeof *h);
  if (!h) return SG_ENOMEM;
  h->hooks = *hooks;
  nghttp2_session_callbacks *cb;
  if (nghttp2_session_callbacks_new(&cb) != 0) {
    free(h);
    return SG_ENOMEM;
  }
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_option *opt;
  int rc = nghttp2_option_new(&opt);
  if (rc == 0) {
    /* a peer that floods SETTINGS or PINGs without reading the acks is cut off */
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    rc = nghttp2_session_server_new2(&h->session, cb, h, opt);
    nghttp2_option_del(opt);
  }
  nghttp2_session_callbacks_del(cb);
  if (rc != 0) {
    free(h);
    return SG_ENOMEM;
  }
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_streams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_MAX_HEADER_BYTES},
  };
  if (nghttp2_submit_settings(h->session, NGHTTP2_FLAG_NONE, iv, 2) != 0) {
    sg_h2_free(h);
    return SG_ENOMEM;
  }
  *out = h;
  return 0;
}

void sg_h2_free(sg_h2 *h) {
  if (!h) return;
  nghttp2_session_del(h->session);
  while (h->streams) stream_free(h, h->streams);
  free(h);
}

int sg_h2_feed(sg_h2 *h, const uint8_t *data, size_t n, char *why, size_t whylen) {
  ssize_t rc = nghttp2_session_mem_recv(h->session, data, n);
  if (rc < 0) {
    snprintf(why, whylen, "HTTP/2: %s", nghttp2_strerror((int)rc));
    return SG_EPROTO;
  }
  return 0;
}
