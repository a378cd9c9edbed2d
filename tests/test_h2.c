/*
 * The gRPC transport's own pieces (grpc-timeout, grpc-message encoding,
 * reflection answers) and what a stock client would not do: HTTP/2 garbage,
 * and a peer that opens its flow-control window to nothing and keeps asking.
 * The stock-client behaviour is tests/grpc/test_grpc.py (python3-grpcio).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "error.h"
#include "grpc/reflection/v1alpha/reflection.pb-c.h"
#include "harness.h"
#include "net/h2.h"
#include "net/reflect.h"
#include "rawsock.h"
#include "shegong.h"
#include "shegong/v1/admin.pb-c.h"
#include "shegong/v1/workers.pb-c.h"

static void test_timeout_parse(void **state) {
  (void)state;
  uint32_t ms;
  assert_int_equal(sg_h2_parse_timeout("100m", &ms), 0);
  assert_int_equal(ms, 100);
  assert_int_equal(sg_h2_parse_timeout("5S", &ms), 0);
  assert_int_equal(ms, 5000);
  assert_int_equal(sg_h2_parse_timeout("2M", &ms), 0);
  assert_int_equal(ms, 120000);
  assert_int_equal(sg_h2_parse_timeout("1H", &ms), 0);
  assert_int_equal(ms, 3600000);
  /* sub-millisecond deadlines round up: they have not passed yet */
  assert_int_equal(sg_h2_parse_timeout("1500u", &ms), 0);
  assert_int_equal(ms, 2);
  assert_int_equal(sg_h2_parse_timeout("1n", &ms), 0);
  assert_int_equal(ms, 1);
  assert_int_equal(sg_h2_parse_timeout("0m", &ms), 0);
  assert_int_equal(ms, 1);
  /* eight digits of hours would overflow 32 bits of milliseconds: capped */
  assert_int_equal(sg_h2_parse_timeout("99999999H", &ms), 0);
  assert_int_equal(ms, UINT32_MAX);
  const char *bad[] = {"", "m", "10", "10s", "-1S", "123456789S", "1.5S", "10 S", NULL};
  for (size_t i = 0; bad[i]; i++) assert_int_equal(sg_h2_parse_timeout(bad[i], &ms), SG_EINVAL);
  assert_int_equal(sg_h2_parse_timeout(NULL, &ms), SG_EINVAL);
}

static void test_message_encoding(void **state) {
  (void)state;
  char out[128];
  sg_h2_encode_message("worker 5 not found", out, sizeof out);
  assert_string_equal(out, "worker 5 not found");
  sg_h2_encode_message("100% 王\n", out, sizeof out);
  assert_string_equal(out, "100%25 %E7%8E%8B%0A");
  /* truncation never splits an escape */
  sg_h2_encode_message("ab王", out, 7);
  assert_string_equal(out, "ab%E7");
}

static Grpc__Reflection__V1alpha__ServerReflectionResponse *reflect(
    Grpc__Reflection__V1alpha__ServerReflectionRequest *req) {
  uint8_t in[512], *out = NULL;
  size_t n = grpc__reflection__v1alpha__server_reflection_request__pack(req, in), outlen = 0;
  assert_int_equal(sg_reflect_answer(in, n, &out, &outlen), 0);
  Grpc__Reflection__V1alpha__ServerReflectionResponse *r =
      grpc__reflection__v1alpha__server_reflection_response__unpack(NULL, outlen, out);
  free(out);
  assert_non_null(r);
  return r;
}

static void test_reflection_answers(void **state) {
  (void)state;
  assert_int_equal(sg_reflect_init(), 0);
  Grpc__Reflection__V1alpha__ServerReflectionRequest req =
      GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__INIT;
  req.host = "localhost";
  req.message_request_case =
      GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES;
  req.list_services = "";
  Grpc__Reflection__V1alpha__ServerReflectionResponse *r = reflect(&req);
  assert_string_equal(r->valid_host, "localhost");
  assert_int_equal(r->message_response_case,
                   GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE);
  /* every service of the method table, and reflection itself */
  int workers = 0, refl = 0;
  for (size_t i = 0; i < r->list_services_response->n_service; i++) {
    workers += strcmp(r->list_services_response->service[i]->name, "shegong.v1.Workers") == 0;
    refl += strcmp(r->list_services_response->service[i]->name,
                   "grpc.reflection.v1alpha.ServerReflection") == 0;
  }
  assert_int_equal(workers, 1);
  assert_int_equal(refl, 1);
  assert_int_equal(r->list_services_response->n_service, 12);
  grpc__reflection__v1alpha__server_reflection_response__free_unpacked(r, NULL);

  /* a method's file comes with the files it imports (sync.proto imports others) */
  req.message_request_case =
      GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL;
  req.file_containing_symbol = ".shegong.v1.Sync.Pull";
  r = reflect(&req);
  assert_int_equal(r->message_response_case,
                   GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE);
  assert_true(r->file_descriptor_response->n_file_descriptor_proto > 1);
  grpc__reflection__v1alpha__server_reflection_response__free_unpacked(r, NULL);

  req.file_containing_symbol = "shegong.v1.NoSuchThing";
  r = reflect(&req);
  assert_int_equal(r->message_response_case,
                   GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE);
  assert_int_equal(r->error_response->error_code, 5);
  grpc__reflection__v1alpha__server_reflection_response__free_unpacked(r, NULL);

  req.message_request_case =
      GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME;
  req.file_by_filename = "../../etc/passwd";
  r = reflect(&req);
  assert_int_equal(r->error_response->error_code, 5);
  grpc__reflection__v1alpha__server_reflection_response__free_unpacked(r, NULL);

  /* bytes that are not a request */
  uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f}, *out = NULL;
  size_t outlen;
  assert_int_equal(sg_reflect_answer(junk, sizeof junk, &out, &outlen), SG_EPROTO);
  sg_reflect_free();
}

static int grpc_start(hs_server *srv, int *gport, const char *const *more) {
  static char gfile[PATH_MAX + 16];
  const char *args[16] = {"--grpc-listen", "127.0.0.1:0", "--grpc-port-file", gfile};
  size_t n = 4;
  for (size_t i = 0; more && more[i] && n < 15; i++) args[n++] = more[i];
  args[n] = NULL;
  char tmpl[] = "/tmp/shegong-h2-XXXXXX";
  assert_non_null(mkdtemp(tmpl));
  snprintf(gfile, sizeof gfile, "%s/gport", tmpl);
  if (hs_server_start(srv, NULL, args) != 0) return -1;
  FILE *f = fopen(gfile, "r");
  assert_non_null(f);
  assert_int_equal(fscanf(f, "%d", gport), 1);
  fclose(f);
  unlink(gfile);
  rmdir(tmpl);
  return 0;
}


static void hello_still_answered(hs_server *srv) {
  sg_client *c;
  sg_status st;
  assert_int_equal(sg_client_connect(&c, srv->addr, 5000, &st), 0);
  Shegong__V1__HelloRequest h = SHEGONG__V1__HELLO_REQUEST__INIT;
  ProtobufCMessage *resp;
  assert_int_equal(sg_call(c, "Admin/Hello", &h.base, &resp, 5000, &st), 0);
  protobuf_c_message_free_unpacked(resp, NULL);
  sg_client_close(c);
}

/* Not HTTP/2 at all, or HTTP/2 broken mid-way: the connection ends, the server does not. */
static void test_garbage(void **state) {
  (void)state;
  hs_server srv;
  int gport;
  assert_int_equal(grpc_start(&srv, &gport, NULL), 0);
#define B(s) {s, sizeof(s) - 1}
  static const struct {
    const char *d;
    size_t n;
  } bad[] = {
      B("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
      /* the preface, then a frame header claiming 16 MiB of SETTINGS */
      B("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff\xff\x04\x00\x00\x00\x00\x00"),
      /* the preface, then a native shegong frame */
      B("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x05\x08\x01\x12\x01x"),
  };
#undef B
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    int fd = raw_socket(gport, 0);
    raw_send(fd, bad[i].d, bad[i].n);
    assert_true(raw_closed_within(fd, 5000));
    close(fd);
  }
  hello_still_answered(&srv);
  assert_int_equal(hs_server_stop(&srv), 0);
  hs_server_cleanup(&srv);
}

/* ---- a hand-driven nghttp2 client: a peer that never opens its window ---- */

typedef struct slow_peer {
  int fd;
  uint8_t body[64];
  size_t body_len;
  int exhausted;    /* streams answered RESOURCE_EXHAUSTED (grpc-status 8) */
  int closed;       /* streams closed in any way */
  int eof;
} slow_peer;

static ssize_t body_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *user) {
  (void)s;
  (void)id;
  (void)src;
  slow_peer *p = user;
  assert_true(len >= p->body_len);
  memcpy(buf, p->body, p->body_len);
  *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)p->body_len;
}

static int on_hdr(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                  const uint8_t *value, size_t vl, uint8_t flags, void *user) {
  (void)s;
  (void)f;
  (void)flags;
  slow_peer *p = user;
  if (nl == 11 && memcmp(name, "grpc-status", 11) == 0 && vl == 1 && value[0] == '8') p->exhausted++;
  return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t err, void *user) {
  (void)s;
  (void)id;
  (void)err;
  ((slow_peer *)user)->closed++;
  return 0;
}

static void pump(nghttp2_session *session, slow_peer *p, int ms) {
  const uint8_t *data;
  ssize_t n;
  while ((n = nghttp2_session_mem_send(session, &data)) > 0)
    if (send(p->fd, data, (size_t)n, MSG_NOSIGNAL) != n) {
      p->eof = 1;
      return;
    }
  struct pollfd pf = {p->fd, POLLIN, 0};
  uint8_t buf[65536];
  while (!p->eof && poll(&pf, 1, ms) > 0) {
    ssize_t r = recv(p->fd, buf, sizeof buf, 0);
    if (r <= 0) {
      p->eof = 1;
      break;
    }
    assert_true(nghttp2_session_mem_recv(session, buf, (size_t)r) >= 0);
    ms = 0;
  }
}

static nghttp2_session *client_session(slow_peer *p, int window_zero) {
  nghttp2_session_callbacks *cb;
  assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_hdr);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
  nghttp2_option *opt;
  assert_int_equal(nghttp2_option_new(&opt), 0);
  nghttp2_option_set_no_auto_window_update(opt, window_zero);
  nghttp2_session *session;
  assert_int_equal(nghttp2_session_client_new2(&session, cb, p, opt), 0);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0}};
  assert_int_equal(nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, iv, window_zero ? 1 : 0), 0);
  return session;
}

/* A server with the gRPC listener and a demo town of 100 workers; auth gets
 * the admin's "Bearer <secret>". */
static void grpc_start_loaded(hs_server *srv, int *gport, const char *const *more, char *auth,
                              size_t authlen) {
  assert_int_equal(grpc_start(srv, gport, more), 0);
  const char *demo[] = {SHEGONG_DEMO_PATH, "--towns", "1", "--workers", "100", "--quiet", NULL};
  assert_int_equal(hs_run(demo, srv->addr, NULL, NULL, 0), 0);
  char secret[160];
  assert_int_equal(sg_read_token_file(srv->token_file, secret, sizeof secret, NULL), 0);
  snprintf(auth, authlen, "Bearer %s", secret);
}

/* p's request body: a Workers/List page of 100 workers, some 20 KiB to answer. */
static void list_page_body(slow_peer *p) {
  Shegong__V1__ListWorkersRequest l = SHEGONG__V1__LIST_WORKERS_REQUEST__INIT;
  l.page_size = 100;
  size_t n = protobuf_c_message_pack(&l.base, p->body + 5);
  p->body[4] = (uint8_t)n;
  p->body_len = n + 5;
}

/*
 * A gRPC peer that asks for large answers with its stream windows at zero:
 * the answers wait in the server, new calls are refused with
 * RESOURCE_EXHAUSTED once --max-output-mib is waiting, and after
 * --output-stall-ms the connection is cut. Other clients are served meanwhile.
 */
static void test_peer_that_never_opens_its_window(void **state) {
  (void)state;
  hs_server srv;
  int gport;
  const char *more[] = {"--max-output-mib", "1", "--output-stall-ms", "800", NULL};
  char auth[200];
  grpc_start_loaded(&srv, &gport, more, auth, sizeof auth);
  slow_peer p = {.fd = raw_socket(gport, 0)};
  list_page_body(&p);
  nghttp2_session *session = client_session(&p, 1);
#define H(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}
  nghttp2_nv nva[] = {H(":method", "POST"), H(":scheme", "http"),
                      H(":path", "/shegong.v1.Workers/List"), H(":authority", "127.0.0.1"),
                      H("content-type", "application/grpc"), H("te", "trailers"),
                      H("authorization", auth)};
#undef H
  nghttp2_data_provider prd = {.read_callback = body_read};
  /* 100 workers a page is some 20 KiB: 200 pages are well over 1 MiB */
  int asked = 0;
  for (; asked < 200; asked++)
    assert_true(nghttp2_submit_request(session, NULL, nva, sizeof nva / sizeof *nva, &prd, NULL) > 0);
  unsigned long long until = hs_now_ms() + 10000;
  while (!p.eof && hs_now_ms() < until) {
    pump(session, &p, 50);
    if (p.exhausted && p.closed < asked) hello_still_answered(&srv);
  }
  print_message("%d calls, %d refused as RESOURCE_EXHAUSTED, %d streams closed before the cut\n",
                asked, p.exhausted, p.closed);
  assert_true(p.exhausted > 0);
  assert_true(p.eof); /* cut off after the stall */
  char *log = hs_server_read_log(&srv);
  assert_non_null(strstr(log, "unread for 800 ms"));
  free(log);
  nghttp2_session_del(session);
  close(p.fd);
  hello_still_answered(&srv);
  assert_int_equal(hs_server_stop(&srv), 0);
  hs_server_cleanup(&srv);
}

/* Body of a request that never ends: 200 KB of a message said to be 250 KB. */
typedef struct half_body {
  size_t sent;
} half_body;

static ssize_t half_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *user) {
  (void)s;
  (void)id;
  (void)flags;
  (void)user;
  half_body *b = src->ptr;
  const size_t total = 5 + 200000;
  if (b->sent == total) return NGHTTP2_ERR_DEFERRED;
  size_t n = total - b->sent < len ? total - b->sent : len;
  memset(buf, 'x', n);
  if (b->sent == 0 && n >= 5) {
    uint32_t claim = 250000;
    buf[0] = 0;
    buf[1] = (uint8_t)(claim >> 24);
    buf[2] = (uint8_t)(claim >> 16);
    buf[3] = (uint8_t)(claim >> 8);
    buf[4] = (uint8_t)claim;
  }
  b->sent += n;
  return (ssize_t)n;
}

/*
 * Before its first authenticated call a connection may hold at most twice the
 * pre-authentication message limit (256 KiB) in unfinished requests, however
 * many streams it spreads them over: HTTP/2 interleaves what frames cannot.
 */
static void test_unfinished_requests_are_bounded(void **state) {
  (void)state;
  hs_server srv;
  int gport;
  assert_int_equal(grpc_start(&srv, &gport, NULL), 0);
  slow_peer p = {.fd = raw_socket(gport, 0)};
  nghttp2_session *session = client_session(&p, 0);
#define H(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}
  nghttp2_nv nva[] = {H(":method", "POST"), H(":scheme", "http"),
                      H(":path", "/shegong.v1.Workers/Create"), H(":authority", "127.0.0.1"),
                      H("content-type", "application/grpc"), H("te", "trailers")};
#undef H
  half_body bodies[4] = {{0}};
  for (int i = 0; i < 4; i++) {
    nghttp2_data_provider prd = {.source.ptr = &bodies[i], .read_callback = half_read};
    assert_true(nghttp2_submit_request(session, NULL, nva, sizeof nva / sizeof *nva, &prd, NULL) > 0);
  }
  unsigned long long until = hs_now_ms() + 5000;
  while (!p.eof && hs_now_ms() < until && p.exhausted < 2) pump(session, &p, 50);
  pump(session, &p, 300); /* and no more than that */
  print_message("%d of 4 half-sent 200 KB requests refused\n", p.exhausted);
  assert_true(p.exhausted >= 2); /* 2 fit within 512 KiB, the 3rd and 4th do not */
  assert_true(p.exhausted <= 3);
  nghttp2_session_del(session);
  close(p.fd);
  hello_still_answered(&srv);
  assert_int_equal(hs_server_stop(&srv), 0);
  hs_server_cleanup(&srv);
}

/* A body that is a run of reflection requests, sent as the window allows, never ended. */
typedef struct run_body {
  uint8_t *data;
  size_t len, sent;
} run_body;

static ssize_t run_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                        nghttp2_data_source *src, void *user) {
  (void)s;
  (void)id;
  (void)flags;
  (void)user;
  run_body *b = src->ptr;
  if (b->sent == b->len) return NGHTTP2_ERR_DEFERRED;
  size_t n = b->len - b->sent < len ? b->len - b->sent : len;
  memcpy(buf, b->data + b->sent, n);
  b->sent += n;
  return (ssize_t)n;
}


static long server_rss_kib(const hs_server *srv) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)srv->pid);
  FILE *f = fopen(path, "r");
  long kib = -1;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) kib = atol(line + 6);
  if (f) fclose(f);
  return kib;
}

/*
 * Reflection needs no token and each small request has a large answer: a
 * stranger with its window shut who keeps asking must meet the same limit
 * on unread answers as any call (found by review: 2 GB in 8 s before).
 */
static void test_reflection_flood_is_bounded(void **state) {
  (void)state;
  hs_server srv;
  int gport;
  const char *more[] = {"--max-output-mib", "1", NULL};
  assert_int_equal(grpc_start(&srv, &gport, more), 0);
  long rss0 = server_rss_kib(&srv);
  /* 4000 × file_containing_symbol "shegong.v1.Sync": some 80 MB of answers if unbounded */
  static const uint8_t one[] = {0, 0, 0, 0, 17, 0x22, 15, 's', 'h', 'e', 'g', 'o', 'n', 'g',
                                '.', 'v', '1', '.', 'S', 'y', 'n', 'c'};
  run_body body = {malloc(4000 * sizeof one), 4000 * sizeof one, 0};
  assert_non_null(body.data);
  for (size_t i = 0; i < 4000; i++) memcpy(body.data + i * sizeof one, one, sizeof one);
  slow_peer p = {.fd = raw_socket(gport, 0)};
  nghttp2_session *session = client_session(&p, 1);
#define H(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}
  nghttp2_nv nva[] = {H(":method", "POST"), H(":scheme", "http"),
                      H(":path", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"),
                      H(":authority", "127.0.0.1"), H("content-type", "application/grpc")};
#undef H
  nghttp2_data_provider prd = {.source.ptr = &body, .read_callback = run_read};
  assert_true(nghttp2_submit_request(session, NULL, nva, sizeof nva / sizeof *nva, &prd, NULL) > 0);
  unsigned long long until = hs_now_ms() + 5000;
  while (!p.eof && hs_now_ms() < until && body.sent < body.len) {
    pump(session, &p, 20);
    nghttp2_session_resume_data(session, 1);
  }
  pump(session, &p, 500); /* and let the server take it all in */
  long rss1 = server_rss_kib(&srv);
  /* the refusal is in trailers, behind answers the shut window holds back:
   * the client never sees it; what shows is that the server stopped */
  print_message("sent %zu of %zu bytes of requests; server RSS %ld -> %ld KiB\n", body.sent,
                body.len, rss0, rss1);
  assert_int_equal(body.sent, body.len);
  assert_true(rss1 - rss0 < 40 * 1024); /* far from the 88 MB the answers would take */
  nghttp2_session_del(session);
  close(p.fd);
  free(body.data);
  hello_still_answered(&srv);
  assert_int_equal(hs_server_stop(&srv), 0);
  hs_server_cleanup(&srv);
}

/* An authenticated gRPC connection that leaves a request half sent is closed
 * after --partial-frame-ms, as a native one with half a frame is. */
static void test_unfinished_request_times_out(void **state) {
  (void)state;
  hs_server srv;
  int gport;
  const char *more[] = {"--partial-frame-ms", "500", NULL};
  assert_int_equal(grpc_start(&srv, &gport, more), 0);
  char secret[160], auth[200];
  assert_int_equal(sg_read_token_file(srv.token_file, secret, sizeof secret, NULL), 0);
  snprintf(auth, sizeof auth, "Bearer %s", secret);
  slow_peer p = {.fd = raw_socket(gport, 0)};
  nghttp2_session *session = client_session(&p, 0);
#define H(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}
  nghttp2_nv who[] = {H(":method", "POST"), H(":scheme", "http"),
                      H(":path", "/shegong.v1.Tokens/WhoAmI"), H(":authority", "127.0.0.1"),
                      H("content-type", "application/grpc"), H("authorization", auth)};
#undef H
  slow_peer *pp = &p;
  pp->body_len = 5; /* an empty WhoAmIRequest */
  nghttp2_data_provider prd = {.read_callback = body_read};
  assert_true(nghttp2_submit_request(session, NULL, who, sizeof who / sizeof *who, &prd, NULL) > 0);
  unsigned long long until = hs_now_ms() + 3000;
  while (!p.eof && hs_now_ms() < until && p.closed < 1) pump(session, &p, 20);
  assert_int_equal(p.closed, 1); /* answered: the connection is authenticated now */
  half_body half = {0};
  nghttp2_data_provider hp = {.source.ptr = &half, .read_callback = half_read};
  assert_true(nghttp2_submit_request(session, NULL, who, sizeof who / sizeof *who, &hp, NULL) > 0);
  unsigned long long t0 = hs_now_ms();
  until = t0 + 5000;
  while (!p.eof && hs_now_ms() < until) pump(session, &p, 20);
  print_message("closed %llu ms after the half request\n", hs_now_ms() - t0);
  assert_true(p.eof);
  char *log = hs_server_read_log(&srv);
  assert_non_null(strstr(log, "a request was left unfinished for 500 ms"));
  free(log);
  nghttp2_session_del(session);
  close(p.fd);
  assert_int_equal(hs_server_stop(&srv), 0);
  hs_server_cleanup(&srv);
}

/*
 * The stall clock stops once a gRPC peer catches up (found by review: it ran
 * on, and a healthy client that later had some answers waiting was cut off).
 * Phase 1 leaves ~1.5 MiB waiting (over --max-output-mib 1: the clock
 * starts); phase 2 opens the windows and reads it all; phase 3 leaves
 * ~0.8 MiB waiting (over half the limit, under the limit) past the moment the
 * first clock would have fired. The connection must still be open.
 */
static void test_stall_clock_stops_when_the_peer_catches_up(void **state) {
  (void)state;
  hs_server srv;
  int gport;
  const char *more[] = {"--max-output-mib", "1", "--output-stall-ms", "1500", NULL};
  char auth[200];
  grpc_start_loaded(&srv, &gport, more, auth, sizeof auth);
  slow_peer p = {.fd = raw_socket(gport, 0)};
  list_page_body(&p);
  nghttp2_session *session = client_session(&p, 1);
  /* the connection's own window is never what holds answers back here */
  assert_int_equal(nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE, 0, 1 << 30), 0);
#define H(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}
  nghttp2_nv nva[] = {H(":method", "POST"), H(":scheme", "http"),
                      H(":path", "/shegong.v1.Workers/List"), H(":authority", "127.0.0.1"),
                      H("content-type", "application/grpc"), H("authorization", auth)};
#undef H
  nghttp2_data_provider prd = {.read_callback = body_read};
  int32_t ids[80];
  /* phase 1: 70 pages of ~20 KiB wait behind shut windows */
  for (int i = 0; i < 70; i++) {
    ids[i] = nghttp2_submit_request(session, NULL, nva, sizeof nva / sizeof *nva, &prd, NULL);
    assert_true(ids[i] > 0);
  }
  unsigned long long t0 = hs_now_ms();
  while (hs_now_ms() < t0 + 300) pump(session, &p, 20);
  assert_false(p.eof);
  /* phase 2: open every window and read it all */
  for (int i = 0; i < 70; i++)
    assert_int_equal(nghttp2_submit_window_update(session, NGHTTP2_FLAG_NONE, ids[i], 1 << 24), 0);
  while (hs_now_ms() < t0 + 700 && p.closed < 70) pump(session, &p, 20);
  assert_int_equal(p.closed, 70);
  /* phase 3: 40 pages (~0.8 MiB) wait, past t0 + 1500 ms */
  for (int i = 0; i < 40; i++)
    assert_true(nghttp2_submit_request(session, NULL, nva, sizeof nva / sizeof *nva, &prd, NULL) > 0);
  while (!p.eof && hs_now_ms() < t0 + 2500) pump(session, &p, 20);
  print_message("open %llu ms after the first stall began; %d streams done\n",
                hs_now_ms() - t0, p.closed);
  assert_false(p.eof);
  char *log = hs_server_read_log(&srv);
  assert_null(strstr(log, "unread for 1500 ms"));
  free(log);
  nghttp2_session_del(session);
  close(p.fd);
  assert_int_equal(hs_server_stop(&srv), 0);
  hs_server_cleanup(&srv);
}

/* Runs argv and checks its exit code and that stderr says `want`. */
static void expect_refusal(const char *const *argv, int code, const char *want) {
  char *err = NULL;
  int rc = hs_run(argv, NULL, NULL, &err, 10000);
  if (rc != code || !err || !strstr(err, want))
    print_message("%s %s: exit %d, stderr: %s\n", argv[0], argv[1], rc, err ? err : "");
  assert_int_equal(rc, code);
  assert_non_null(err);
  assert_non_null(strstr(err, want));
  free(err);
}

/* The flags this transport and its benchmarks added, given nonsense. */
static void test_bad_flags(void **state) {
  (void)state;
  char dir[] = "/tmp/shegong-h2flags-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char data[PATH_MAX];
  snprintf(data, sizeof data, "%s/db", dir);
  const char *no_port[] = {SHEGONGD_PATH, "--data", data, "--grpc-listen", "localhost", NULL};
  expect_refusal(no_port, 2, "--grpc-listen wants HOST:PORT");
  const char *file_only[] = {SHEGONGD_PATH, "--data", data, "--grpc-port-file", "/tmp/x", NULL};
  expect_refusal(file_only, 2, "--grpc-port-file needs --grpc-listen");
  /* a port already taken: the server says so and does not start */
  hs_server srv;
  assert_int_equal(hs_server_start(&srv, NULL, NULL), 0);
  const char *taken[] = {SHEGONGD_PATH, "--data", data, "--listen", "127.0.0.1:0",
                         "--grpc-listen", srv.addr, NULL};
  expect_refusal(taken, 1, "cannot serve gRPC");
  assert_int_equal(hs_server_stop(&srv), 0);
  hs_server_cleanup(&srv);
  const char *rate[] = {SHEGONG_BENCH_PATH, "--rate", "0.001", NULL};
  expect_refusal(rate, 2, "rate 0 or 0.01-10000000");
  const char *nan_rate[] = {SHEGONG_BENCH_PATH, "--rate", "nan", NULL};
  expect_refusal(nan_rate, 2, "rate 0 or 0.01-10000000");
  assert_int_equal(hs_rmtree(dir), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_timeout_parse),
      cmocka_unit_test(test_message_encoding),
      cmocka_unit_test(test_reflection_answers),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_peer_that_never_opens_its_window),
      cmocka_unit_test(test_unfinished_requests_are_bounded),
      cmocka_unit_test(test_reflection_flood_is_bounded),
      cmocka_unit_test(test_unfinished_request_times_out),
      cmocka_unit_test(test_stall_clock_stops_when_the_peer_catches_up),
      cmocka_unit_test(test_bad_flags),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
