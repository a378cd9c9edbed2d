/*
 * libshegong: blocking calls over one TCP connection, with pipelining.
 * The socket is non-blocking and every wait is a poll() with the call's
 * deadline, so no call can hang past its timeout.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "frame.h"
#include "shegong/v1/auth.pb-c.h"
#include "shegong.h"
#include "timeutil.h"

#define SG_CLIENT_MAX_FRAME_DEFAULT (SG_FRAME_MAX_DEFAULT + 65536u)
#define SG_CLIENT_METADATA_MAX 16

typedef struct pending {
  uint32_t call_id;
  const sg_method_info *mi;
  sg_frame *answer;  /* the final frame, once it has come */
  sg_frame **queue;  /* a stream's messages not yet taken, oldest first */
  size_t q_head, q_len, q_cap;
} pending;

struct sg_client {
  int fd;
  uint32_t next_id;
  sg_frame_decoder dec;
  char *md_key[SG_CLIENT_METADATA_MAX], *md_value[SG_CLIENT_METADATA_MAX];
  size_t n_md;
  pending *calls;
  size_t n_calls, cap_calls;
  int broken;          /* the connection is unusable; broken_st says why */
  int drained;         /* after breaking, what the socket still held has been read */
  int authed;          /* the server has taken a call with our token: full frame limit */
  SSL_CTX *tls_ctx;    /* TLS, when connected with a CA file */
  SSL *tls;
  sg_status broken_st;
};

/* Frees what a call holds: its answer and the stream messages not yet taken. */
static void free_call(pending *p) {
  sg_frame_free(p->answer);
  for (size_t k = p->q_head; k < p->q_len; k++) sg_frame_free(p->queue[k]);
  free(p->queue);
}

static int fail(sg_status *st, int err, const char *fmt, const char *a, const char *b) {
  if (st) {
    sg_status_clear(st);
    st->code = sg_error_to_code(err);
    snprintf(st->message, sizeof st->message, fmt, a ? a : "", b ? b : "");
  }
  return err;
}

static int break_conn(sg_client *c, int err, const char *msg) {
  if (!c->broken) {
    c->broken = 1;
    sg_status_clear(&c->broken_st);
    sg_status_set(&c->broken_st, err, "%s", msg);
  }
  return err;
}

/* What every call answers once the connection is unusable. */
static int broken_err(const sg_client *c, sg_status *st) {
  if (st) *st = c->broken_st;
  return sg_error_from_code(c->broken_st.code);
}

static int remaining_ms(uint64_t deadline) {
  if (!deadline) return -1;
  uint64_t now = sg_now_ms();
  return now >= deadline ? 0 : (int)(deadline - now);
}

static int start_tls(sg_client *c, const char *host, const char *ca_file, uint64_t deadline,
                     sg_status *st);

static int connect_impl(sg_client **out, const char *server, int timeout_ms, const char *ca_file,
                        sg_status *st) {
  char host[256], port[16];
  const char *colon;
  if (!server || !*server) server = SG_DEFAULT_SERVER;
  if (server[0] == '[') {
    const char *end = strchr(server, ']');
    if (!end || (size_t)(end - server) >= sizeof host)
      return fail(st, SG_EINVAL, "bad server address %s%s", server, NULL);
    snprintf(host, sizeof host, "%.*s", (int)(end - server - 1), server + 1);
    colon = end[1] == ':' ? end + 1 : NULL;
  } else {
    colon = strrchr(server, ':');
    size_t n = colon ? (size_t)(colon - server) : strlen(server);
    if (n >= sizeof host || n == 0) return fail(st, SG_EINVAL, "bad server address %s%s", server, NULL);
    snprintf(host, sizeof host, "%.*s", (int)n, server);
  }
  if (colon) {
    if (strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof port ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1))
      return fail(st, SG_EINVAL, "bad port in server address %s%s", server, NULL);
    snprintf(port, sizeof port, "%s", colon + 1);
  } else {
    snprintf(port, sizeof port, "%d", SG_DEFAULT_PORT);
  }
  uint64_t deadline = sg_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 10000);

  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  int gai = getaddrinfo(host, port, &hints, &res);
  if (gai) return fail(st, SG_EUNAVAIL, "cannot resolve %.100s: %.100s", host, gai_strerror(gai));
  int fd = -1, err = 0;
  char errbuf[128] = "";
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      struct pollfd p = {fd, POLLOUT, 0};
      rc = poll(&p, 1, remaining_ms(deadline));
      if (rc == 0) {
        errno = ETIMEDOUT;
        rc = -1;
      } else if (rc > 0) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        errno = soerr;
        rc = soerr ? -1 : 0;
      }
    }
    if (rc == 0) break;
    snprintf(errbuf, sizeof errbuf, "%s", strerror(errno));
    err = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0)
    return fail(st, err == ETIMEDOUT ? SG_ETIMEDOUT : SG_EUNAVAIL, "cannot connect to %s: %s",
                server, errbuf[0] ? errbuf : "no address");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sg_client *c = calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    return fail(st, SG_ENOMEM, "out of memory%s%s", NULL, NULL);
  }
  c->fd = fd;
  c->next_id = 1;
  sg_frame_decoder_init(&c->dec, SG_CLIENT_MAX_FRAME_DEFAULT);
  if (ca_file && *ca_file) {
    int trc = start_tls(c, host, ca_file, deadline, st);
    if (trc) {
      sg_client_close(c);
      return trc;
    }
  }
  const char *tok = getenv("SHEGONG_TOKEN"), *file = getenv("SHEGONG_TOKEN_FILE");
  char secret[160];
  int rc = 0;
  if (tok && *tok) {
    rc = sg_client_set_token(c, tok);
  } else if (file && *file) {
    rc = sg_read_token_file(file, secret, sizeof secret, st);
    if (!rc) rc = sg_client_set_token(c, secret);
    memset(secret, 0, sizeof secret);
  }
  if (rc) {
    if (st && st->code == 0) fail(st, rc, "cannot use the token%s%s", NULL, NULL);
    sg_client_close(c);
    return rc;
  }
  if (st) sg_status_clear(st);
  *out = c;
  return 0;
}

/*
 * The TLS handshake, verifying the server's certificate against ca_file and
 * its name (or IP address) against host. Certificate problems come back as
 * UNAVAILABLE with OpenSSL's reason ("certificate has expired").
 */
static int start_tls(sg_client *c, const char *host, const char *ca_file, uint64_t deadline,
                     sg_status *st) {
  c->tls_ctx = SSL_CTX_new(TLS_client_method());
  if (!c->tls_ctx) return fail(st, SG_EINTERNAL, "cannot create a TLS context%s%s", NULL, NULL);
  SSL_CTX_set_min_proto_version(c->tls_ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(c->tls_ctx, SSL_VERIFY_PEER, NULL);
  if (SSL_CTX_load_verify_locations(c->tls_ctx, ca_file, NULL) != 1) {
    ERR_clear_error();
    return fail(st, SG_EINVAL, "cannot load the CA certificates in %.160s%s", ca_file, NULL);
  }
  c->tls = SSL_new(c->tls_ctx);
  if (!c->tls || SSL_set_fd(c->tls, c->fd) != 1)
    return fail(st, SG_EINTERNAL, "cannot set up TLS%s%s", NULL, NULL);
  SSL_set_mode(c->tls, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  /* an address is checked against the certificate's IP entries, a name against its DNS names */
  X509_VERIFY_PARAM *param = SSL_get0_param(c->tls);
  if (X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1) {
    SSL_set_tlsext_host_name(c->tls, host);
    if (SSL_set1_host(c->tls, host) != 1)
      return fail(st, SG_EINTERNAL, "cannot check the server name %.100s%s", host, NULL);
  }
  SSL_set_connect_state(c->tls);
  for (;;) {
    int r = SSL_do_handshake(c->tls);
    if (r == 1) return 0;
    int e = SSL_get_error(c->tls, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      struct pollfd p = {c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, 0};
      int pr = poll(&p, 1, remaining_ms(deadline));
      if (pr == 0) return fail(st, SG_ETIMEDOUT, "TLS handshake timed out%s%s", NULL, NULL);
      continue;
    }
    long v = SSL_get_verify_result(c->tls);
    char reason[256] = "";
    unsigned long err = ERR_get_error();
    if (err) ERR_error_string_n(err, reason, sizeof reason);
    ERR_clear_error();
    if (v != X509_V_OK)
      return fail(st, SG_EUNAVAIL, "the server's certificate is not trusted: %s%s",
                  X509_verify_cert_error_string(v), NULL);
    return fail(st, SG_EUNAVAIL, "TLS handshake failed: %s%s",
                reason[0] ? reason : "the server does not speak TLS", NULL);
  }
}

int sg_client_connect(sg_client **out, const char *server, int timeout_ms, sg_status *st) {
  /* like libpq's PGSSLROOTCERT: a CA file in the environment asks for TLS */
  return connect_impl(out, server, timeout_ms, getenv("SHEGONG_TLS_CA"), st);
}

int sg_client_connect_tls(sg_client **out, const char *server, const char *ca_file,
                          int timeout_ms, sg_status *st) {
  if (!ca_file || !*ca_file) return fail(st, SG_EINVAL, "TLS needs a CA file%s%s", NULL, NULL);
  return connect_impl(out, server, timeout_ms, ca_file, st);
}

int sg_read_token_file(const char *path, char *out, size_t n, sg_status *st) {
  FILE *f = fopen(path, "r");
  if (!f) return fail(st, SG_EUNAUTH, "cannot read token file %s: %s", path, strerror(errno));
  size_t got = fread(out, 1, n - 1, f);
  fclose(f);
  out[got] = '\0';
  out[strcspn(out, "\r\n")] = '\0';
  size_t len = strlen(out);
  while (len && (out[len - 1] == ' ' || out[len - 1] == '\t')) out[--len] = '\0';
  if (len == 0 || len > 128) return fail(st, SG_EUNAUTH, "token file %s holds no token%s", path, NULL);
  return 0;
}

int sg_client_set_token(sg_client *c, const char *secret) {
  char hdr[200];
  if (snprintf(hdr, sizeof hdr, "Bearer %s", secret) >= (int)sizeof hdr) return SG_EINVAL;
  int rc = sg_client_set_metadata(c, "authorization", hdr);
  memset(hdr, 0, sizeof hdr);
  return rc;
}

void sg_client_close(sg_client *c) {
  if (!c) return;
  if (c->tls) {
    SSL_shutdown(c->tls); /* close_notify, best effort: the socket is non-blocking */
    SSL_free(c->tls);
  }
  SSL_CTX_free(c->tls_ctx);
  ERR_clear_error();
  if (c->fd >= 0) close(c->fd);
  for (size_t i = 0; i < c->n_calls; i++) free_call(&c->calls[i]);
  free(c->calls);
  for (size_t i = 0; i < c->n_md; i++) {
    free(c->md_key[i]);
    free(c->md_value[i]);
  }
  sg_frame_decoder_free(&c->dec);
  free(c);
}

int sg_client_set_metadata(sg_client *c, const char *key, const char *value) {
  for (size_t i = 0; i < c->n_md; i++)
    if (strcasecmp(c->md_key[i], key) == 0) {
      char *v = strdup(value);
      if (!v) return SG_ENOMEM;
      free(c->md_value[i]);
      c->md_value[i] = v;
      return 0;
    }
  if (c->n_md == SG_CLIENT_METADATA_MAX) return SG_ENOMEM;
  char *k = strdup(key), *v = strdup(value);
  if (!k || !v) {
    free(k);
    free(v);
    return SG_ENOMEM;
  }
  c->md_key[c->n_md] = k;
  c->md_value[c->n_md++] = v;
  return 0;
}

void sg_client_set_max_frame(sg_client *c, uint32_t max_bytes) { c->dec.max_frame = max_bytes; }

size_t sg_client_in_flight(const sg_client *c) {
  size_t n = 0;
  for (size_t i = 0; i < c->n_calls; i++) n += c->calls[i].answer == NULL;
  return n;
}

/*
 * The transport: plain socket or TLS. tx/rx return bytes moved (rx: 0 at
 * end of stream), RX_AGAIN when the socket would block (*want says for
 * what: TLS may need to write to read), or -1 on an error.
 */
#define RX_AGAIN (-2)

static ssize_t tls_result(sg_client *c, int r, short *want) {
  int e = SSL_get_error(c->tls, r);
  ERR_clear_error();
  if (e == SSL_ERROR_WANT_READ) {
    *want = POLLIN;
    return RX_AGAIN;
  }
  if (e == SSL_ERROR_WANT_WRITE) {
    *want = POLLOUT;
    return RX_AGAIN;
  }
  if (e == SSL_ERROR_ZERO_RETURN) return 0;
  return -1;
}

static ssize_t tx(sg_client *c, const uint8_t *buf, size_t len, short *want) {
  *want = POLLOUT;
  if (c->tls) {
    int r = SSL_write(c->tls, buf, len > (1u << 30) ? 1 << 30 : (int)len);
    return r > 0 ? r : tls_result(c, r, want);
  }
  ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return RX_AGAIN;
  return n;
}

static ssize_t rx(sg_client *c, uint8_t *buf, size_t len, short *want) {
  *want = POLLIN;
  if (c->tls) {
    int r = SSL_read(c->tls, buf, (int)len);
    return r > 0 ? r : tls_result(c, r, want);
  }
  ssize_t n = recv(c->fd, buf, len, 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return RX_AGAIN;
  return n;
}

/* Writes all of buf before the deadline (0 = none). */
static int write_all(sg_client *c, const uint8_t *buf, size_t len, uint64_t deadline,
                     sg_status *st) {
  size_t total = len;
  while (len > 0) {
    short want;
    ssize_t n = tx(c, buf, len, &want);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
      continue;
    }
    if (n == RX_AGAIN) {
      struct pollfd p = {c->fd, want, 0};
      int rc = poll(&p, 1, remaining_ms(deadline));
      if (rc == 0) {
        /* half a frame on the wire would corrupt every later frame */
        if (len < total) break_conn(c, SG_EUNAVAIL, "connection abandoned mid-frame after a deadline");
        return fail(st, SG_ETIMEDOUT, "deadline passed while sending%s%s", NULL, NULL);
      }
      if (rc < 0 && errno != EINTR)
        return fail(st, SG_EUNAVAIL, "poll: %s%s", strerror(errno), NULL);
      continue;
    }
    break_conn(c, SG_EUNAVAIL, "connection lost while sending");
    return fail(st, SG_EUNAVAIL, "connection lost while sending: %s%s",
                n < 0 ? strerror(errno) : "closed", NULL);
  }
  return 0;
}

int sg_client_send_raw(sg_client *c, const void *data, size_t len, sg_status *st) {
  return write_all(c, data, len, sg_now_ms() + 10000, st);
}

static pending *find_call(sg_client *c, uint32_t id) {
  for (size_t i = 0; i < c->n_calls; i++)
    if (c->calls[i].call_id == id) return &c->calls[i];
  return NULL;
}

static void drop_call(sg_client *c, pending *p) {
  free_call(p);
  *p = c->calls[--c->n_calls];
}

int sg_call_send(sg_client *c, const char *method, const ProtobufCMessage *req, int timeout_ms,
                 uint32_t *call_id, sg_status *st) {
  if (c->broken) return broken_err(c, st);
  const sg_method_info *mi = sg_methods_find(method);
  if (!mi) return fail(st, SG_EUNIMPL, "unknown method %s%s", method, NULL);
  if (req->descriptor != mi->method->input)
    return fail(st, SG_EINVAL, "%s takes a %s", mi->path, mi->method->input->name);
  if (c->n_calls == c->cap_calls) {
    size_t cap = c->cap_calls ? c->cap_calls * 2 : 16;
    pending *n = realloc(c->calls, cap * sizeof *n);
    if (!n) return fail(st, SG_ENOMEM, "out of memory%s%s", NULL, NULL);
    c->calls = n;
    c->cap_calls = cap;
  }
  /* After 2^32 calls the ids wrap; a watch opened long ago may still hold a
   * low one, and two calls under one id would steal each other's answers. */
  uint32_t id;
  do {
    id = c->next_id++;
    if (c->next_id == 0) c->next_id = 1; /* 0 is the server's */
  } while (find_call(c, id));

  size_t plen = protobuf_c_message_get_packed_size(req);
  uint8_t *payload = plen ? malloc(plen) : NULL;
  if (plen && !payload) return fail(st, SG_ENOMEM, "out of memory%s%s", NULL, NULL);
  if (plen) protobuf_c_message_pack(req, payload);
  Shegong__V1__Metadata md[SG_CLIENT_METADATA_MAX], *mdp[SG_CLIENT_METADATA_MAX];
  for (size_t i = 0; i < c->n_md; i++) {
    shegong__v1__metadata__init(&md[i]);
    md[i].key = c->md_key[i];
    md[i].value = c->md_value[i];
    mdp[i] = &md[i];
  }
  sg_frame f = SHEGONG__V1__FRAME__INIT;
  f.call_id = id;
  f.method = (char *)mi->path;
  f.flags = SG_FLAG_END_STREAM;
  f.timeout_ms = timeout_ms > 0 ? (uint32_t)timeout_ms : 0;
  f.n_metadata = c->n_md;
  f.metadata = mdp;
  f.payload.data = payload;
  f.payload.len = plen;
  size_t n = sg_frame_wire_size(&f);
  if (!c->authed && n > SG_FRAME_PREAUTH_MAX && strcmp(mi->path, "/shegong.v1.Tokens/WhoAmI") != 0) {
    /* a big first frame would meet the server's pre-authentication limit:
     * make a small authenticated call first */
    Shegong__V1__WhoAmIRequest who = SHEGONG__V1__WHO_AM_IREQUEST__INIT;
    ProtobufCMessage *me = NULL;
    int rc = sg_call(c, "Tokens/WhoAmI", &who.base, &me, timeout_ms, st);
    if (me) protobuf_c_message_free_unpacked(me, NULL);
    if (rc) {
      free(payload);
      return rc;
    }
  }
  uint8_t *buf = malloc(n);
  if (!buf) {
    free(payload);
    return fail(st, SG_ENOMEM, "out of memory%s%s", NULL, NULL);
  }
  sg_frame_write(&f, buf);
  free(payload);
  int rc = write_all(c, buf, n, timeout_ms > 0 ? sg_now_ms() + (uint64_t)timeout_ms : 0, st);
  free(buf);
  if (rc) return rc;
  c->calls[c->n_calls++] = (pending){.call_id = id, .mi = mi};
  if (call_id) *call_id = id;
  if (st) sg_status_clear(st);
  return 0;
}

static int on_frame(void *arg, sg_frame *f) {
  sg_client *c = arg;
  if (f->call_id == 0) {
    /* a connection-level error: the server closes after it */
    const char *msg = f->status && f->status->message ? f->status->message : "connection error";
    break_conn(c, f->status ? sg_error_from_code(f->status->code) : SG_EUNAVAIL, msg);
    sg_frame_free(f);
    return 0;
  }
  pending *p = find_call(c, f->call_id);
  /* frames of calls we gave up on (deadline passed) are dropped */
  if (!p || p->answer) {
    sg_frame_free(f);
    return 0;
  }
  if (f->flags & SG_FLAG_END_STREAM) {
    p->answer = f;
    return 0;
  }
  if (!p->mi->server_streaming) {
    sg_frame_free(f);
    return 0;
  }
  if (p->q_len == p->q_cap) {
    if (p->q_head > 0) {
      /* reuse the taken slots before growing */
      memmove(p->queue, p->queue + p->q_head, (p->q_len - p->q_head) * sizeof *p->queue);
      p->q_len -= p->q_head;
      p->q_head = 0;
    } else {
      size_t cap = p->q_cap ? p->q_cap * 2 : 8;
      sg_frame **q = realloc(p->queue, cap * sizeof *q);
      if (!q) {
        sg_frame_free(f);
        return break_conn(c, SG_ENOMEM, "out of memory for a stream");
      }
      p->queue = q;
      p->q_cap = cap;
    }
  }
  p->queue[p->q_len++] = f;
  return 0;
}

/* Reads what is available (waiting up to wait_ms) and feeds the decoder. */
static int pump(sg_client *c, int wait_ms) {
  int rc;
  /* TLS may hold decrypted bytes the socket no longer shows */
  if (!c->tls || SSL_pending(c->tls) == 0) {
    struct pollfd p = {c->fd, POLLIN, 0};
    rc = poll(&p, 1, wait_ms);
    if (rc < 0) return errno == EINTR ? 0 : break_conn(c, SG_EUNAVAIL, "poll failed");
    if (rc == 0) return SG_ETIMEDOUT;
  }
  uint8_t buf[65536];
  short want;
  ssize_t n = rx(c, buf, sizeof buf, &want);
  if (n == RX_AGAIN) return 0;
  if (n < 0) return break_conn(c, SG_EUNAVAIL, "connection lost");
  if (n == 0) return break_conn(c, SG_EUNAVAIL, "connection closed by the server");
  char why[160];
  rc = sg_frame_decoder_feed(&c->dec, buf, (size_t)n, on_frame, c, why, sizeof why);
  if (rc < 0) return break_conn(c, SG_EUNAVAIL, why);
  return 0;
}

/*
 * After the connection broke (a send failed, say), answers the server sent
 * before it went may still sit in the socket: read them all, so that a
 * write that was applied is not reported as failed.
 */
static void drain(sg_client *c) {
  c->drained = 1;
  for (;;) {
    struct pollfd p = {c->fd, POLLIN, 0};
    if ((!c->tls || SSL_pending(c->tls) == 0) && poll(&p, 1, 0) <= 0) return;
    uint8_t buf[65536];
    short want;
    ssize_t n = rx(c, buf, sizeof buf, &want);
    if (n <= 0) return;
    if (sg_frame_decoder_feed(&c->dec, buf, (size_t)n, on_frame, c, NULL, 0) < 0) return;
  }
}

static int finish(sg_client *c, pending *p, ProtobufCMessage **resp, sg_status *st) {
  sg_frame *f = p->answer;
  const ProtobufCMessageDescriptor *out = p->mi->method->output;
  sg_status local;
  if (!st) st = &local;
  sg_status_clear(st);
  int rc = 0;
  /* only answers given after the server's token check prove the token:
   * Hello needs none, and unknown methods are refused before the check */
  int code = f->status ? (int)f->status->code : 0;
  if (strcmp(p->mi->path, "/shegong.v1.Admin/Hello") != 0 &&
      (code == SHEGONG__V1__CODE__OK || code == SHEGONG__V1__CODE__PERMISSION_DENIED ||
       code == SHEGONG__V1__CODE__NOT_FOUND || code == SHEGONG__V1__CODE__ALREADY_EXISTS ||
       code == SHEGONG__V1__CODE__ABORTED || code == SHEGONG__V1__CODE__FAILED_PRECONDITION ||
       code == SHEGONG__V1__CODE__OUT_OF_RANGE))
    c->authed = 1;
  if (f->status && f->status->code != 0) {
    st->code = f->status->code;
    snprintf(st->message, sizeof st->message, "%s", f->status->message ? f->status->message : "");
    for (size_t i = 0; i < f->status->n_violations && i < SG_STATUS_VIOLATIONS_MAX; i++) {
      snprintf(st->violations[i].field, sizeof st->violations[i].field, "%s",
               f->status->violations[i]->field);
      snprintf(st->violations[i].description, sizeof st->violations[i].description, "%s",
               f->status->violations[i]->description);
      st->n_violations++;
    }
    rc = sg_error_from_code(st->code);
  } else {
    *resp = protobuf_c_message_unpack(out, NULL, f->payload.len, f->payload.data);
    if (!*resp)
      rc = sg_status_set(st, SG_EINTERNAL, "the server's answer is not a valid %s", out->name);
  }
  drop_call(c, p);
  return rc;
}

static int send_cancel(sg_client *c, uint32_t id, sg_status *st) {
  sg_frame f = SHEGONG__V1__FRAME__INIT;
  f.call_id = id;
  f.flags = SG_FLAG_CANCEL;
  uint8_t buf[32];
  sg_frame_write(&f, buf); /* a call id and a flag: a dozen bytes */
  return write_all(c, buf, sg_frame_wire_size(&f), sg_now_ms() + 1000, st);
}

int sg_call_cancel(sg_client *c, uint32_t call_id, sg_status *st) {
  if (!find_call(c, call_id)) return fail(st, SG_ENOTFOUND, "no call %s in flight%s", "with that id", NULL);
  if (c->broken) return broken_err(c, st);
  return send_cancel(c, call_id, st);
}

static int wait_for(sg_client *c, uint32_t want, uint32_t *got, ProtobufCMessage **resp,
                    int timeout_ms, sg_status *st) {
  *resp = NULL;
  if (got) *got = 0;
  uint64_t deadline = timeout_ms > 0 ? sg_now_ms() + (uint64_t)timeout_ms : 0;
  /* any call, timeout < 0: what has arrived, after one read that does not wait */
  int nowait = !want && timeout_ms < 0, looked = 0;
  for (;;) {
    for (size_t i = 0; i < c->n_calls; i++) {
      pending *p = &c->calls[i];
      if (p->answer && (want == 0 || p->call_id == want)) {
        if (got) *got = p->call_id;
        return finish(c, p, resp, st);
      }
    }
    if (want && !find_call(c, want))
      return fail(st, SG_ENOTFOUND, "no call %s in flight%s", "with that id", NULL);
    if (!want && c->n_calls == 0) return fail(st, SG_ENOTFOUND, "no call in flight%s%s", NULL, NULL);
    if (c->broken && !c->drained) {
      drain(c);
      continue;
    }
    if (c->broken) {
      pending *p = want ? find_call(c, want) : &c->calls[0];
      if (got) *got = p->call_id;
      drop_call(c, p);
      return broken_err(c, st);
    }
    int wait = remaining_ms(deadline);
    if (nowait) wait = looked++ ? 0 : -2;
    if (wait == -2) {
      int rc = pump(c, 0);
      if (rc && rc != SG_ETIMEDOUT && !c->broken) return fail(st, rc, "%s%s", sg_strerror(rc), NULL);
      continue;
    }
    if (wait == 0) {
      /* waiting for any answer gives up on none: the calls stay in flight */
      if (!want) return fail(st, SG_ETIMEDOUT, "no answer within %s ms%s", "the wait's", NULL);
      pending *p = find_call(c, want);
      uint32_t id = p->call_id;
      if (got) *got = id;
      drop_call(c, p);
      /* tell the server we gave up, so it can skip the work */
      send_cancel(c, id, NULL);
      return fail(st, SG_ETIMEDOUT, "no answer within %s ms%s", "the call's", NULL);
    }
    int rc = pump(c, wait);
    if (rc && rc != SG_ETIMEDOUT && !c->broken) return fail(st, rc, "%s%s", sg_strerror(rc), NULL);
  }
}

int sg_call_recv(sg_client *c, uint32_t call_id, ProtobufCMessage **resp, int timeout_ms,
                 sg_status *st) {
  if (call_id == 0) return fail(st, SG_EINVAL, "call id 0 is never a call%s%s", NULL, NULL);
  return wait_for(c, call_id, NULL, resp, timeout_ms, st);
}

int sg_call_recv_any(sg_client *c, uint32_t *call_id, ProtobufCMessage **resp, int timeout_ms,
                     sg_status *st) {
  return wait_for(c, 0, call_id, resp, timeout_ms, st);
}

int sg_call(sg_client *c, const char *method, const ProtobufCMessage *req,
            ProtobufCMessage **resp, int timeout_ms, sg_status *st) {
  uint32_t id;
  *resp = NULL;
  int rc = sg_call_send(c, method, req, timeout_ms, &id, st);
  if (rc) return rc;
  return sg_call_recv(c, id, resp, timeout_ms, st);
}

int sg_stream_next(sg_client *c, uint32_t call_id, ProtobufCMessage **msg, int timeout_ms,
                   sg_status *st) {
  *msg = NULL;
  uint64_t deadline = timeout_ms > 0 ? sg_now_ms() + (uint64_t)timeout_ms : 0;
  for (;;) {
    pending *p = find_call(c, call_id);
    if (!p) return fail(st, SG_ENOTFOUND, "no stream %s in flight%s", "with that id", NULL);
    if (p->q_head < p->q_len) {
      sg_frame *f = p->queue[p->q_head++];
      *msg = protobuf_c_message_unpack(p->mi->method->output, NULL, f->payload.len, f->payload.data);
      sg_frame_free(f);
      if (!*msg)
        return sg_status_set(st, SG_EINTERNAL, "the server sent a message that is not a valid %s",
                             p->mi->method->output->name);
      if (st) sg_status_clear(st);
      return 0;
    }
    if (p->answer) {
      ProtobufCMessage *last = NULL;
      int rc = finish(c, p, &last, st);
      /* a stream's final frame carries only the status */
      if (last) protobuf_c_message_free_unpacked(last, NULL);
      return rc == 0 ? 1 : rc;
    }
    if (c->broken && !c->drained) {
      drain(c);
      continue;
    }
    if (c->broken) {
      drop_call(c, p);
      return broken_err(c, st);
    }
    int wait = remaining_ms(deadline);
    if (wait == 0) {
      /* tell the server, so that a watch stops sending into the void */
      drop_call(c, p);
      send_cancel(c, call_id, NULL);
      return fail(st, SG_ETIMEDOUT, "no message within %s ms%s", "the call's", NULL);
    }
    int rc = pump(c, wait);
    if (rc && rc != SG_ETIMEDOUT && !c->broken) return fail(st, rc, "%s%s", sg_strerror(rc), NULL);
  }
}
