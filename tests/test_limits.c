/*
 * Hostile and broken clients: a few hundred idle, garbage and half-frame
 * connections while a normal client keeps being answered in bounded time;
 * the connection limit; the partial-frame timeout; a peer that never reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "harness.h"
#include "shegong.h"
#include "shegong/v1/admin.pb-c.h"
#include "shegong/v1/auth.pb-c.h"
#include "shegong/v1/units.pb-c.h"

static int raw_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

/* True when the server has closed fd (EOF or reset) within ms. */
static int closed_within(int fd, int ms) {
  unsigned long long end = hs_now_ms() + (unsigned long long)ms;
  char buf[4096];
  while (hs_now_ms() < end) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 50) > 0) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return 1;
    }
  }
  return 0;
}

/* A frame with the admin token for method, as the library would send it. */
static size_t auth_frame(uint32_t call_id, const char *method, uint8_t *out, size_t cap) {
  char secret[160], auth[200];
  assert_int_equal(sg_read_token_file(getenv("SHEGONG_TOKEN_FILE"), secret, sizeof secret, NULL), 0);
  snprintf(auth, sizeof auth, "Bearer %s", secret);
  Shegong__V1__Metadata md = SHEGONG__V1__METADATA__INIT, *mdp = &md;
  md.key = "authorization";
  md.value = auth;
  sg_frame f = SHEGONG__V1__FRAME__INIT;
  f.call_id = call_id;
  f.method = (char *)method;
  f.flags = SG_FLAG_END_STREAM;
  f.n_metadata = 1;
  f.metadata = &mdp;
  size_t n = sg_frame_wire_size(&f);
  assert_true(n <= cap);
  sg_frame_write(&f, out);
  return n;
}

static void test_hostile_crowd(void **state) {
  (void)state;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  int crowd = rl.rlim_cur > 700 ? 300 : (int)rl.rlim_cur / 3;
  hs_server srv;
  assert_int_equal(hs_server_start(&srv, NULL, NULL), 0);
  int *fds = calloc((size_t)crowd, sizeof *fds);
  uint8_t garbage[64];
  for (size_t i = 0; i < sizeof garbage; i++) garbage[i] = (uint8_t)(i * 37 + 11);
  for (int i = 0; i < crowd; i++) {
    fds[i] = raw_connect(srv.port);
    if (i % 3 == 1) {
      /* nonsense: a length, then bytes that are no Frame */
      uint8_t hdr[4] = {0, 0, 0, 60};
      assert_int_equal(send(fds[i], hdr, 4, MSG_NOSIGNAL), 4);
      assert_int_equal(send(fds[i], garbage, 60, MSG_NOSIGNAL), 60);
    } else if (i % 3 == 2) {
      /* half a frame, then silence */
      uint8_t half[6] = {0, 0, 1, 0, 0x08, 0x01};
      assert_int_equal(send(fds[i], half, sizeof half, MSG_NOSIGNAL), (ssize_t)sizeof half);
    } /* i % 3 == 0: connected, and silent */
  }
  /* the normal client is answered promptly all the while */
  sg_client *c;
  sg_status st;
  assert_int_equal(sg_client_connect(&c, srv.addr, 5000, &st), 0);
  unsigned long long worst = 0;
  for (int i = 0; i < 200; i++) {
    Shegong__V1__WhoAmIRequest who = SHEGONG__V1__WHO_AM_IREQUEST__INIT;
    ProtobufCMessage *resp;
    unsigned long long t0 = hs_now_ms();
    assert_int_equal(sg_call(c, "Tokens/WhoAmI", &who.base, &resp, 5000, &st), 0);
    unsigned long long dt = hs_now_ms() - t0;
    if (dt > worst) worst = dt;
    protobuf_c_message_free_unpacked(resp, NULL);
  }
  print_message("%d hostile connections; the worst of 200 calls beside them took %llu ms\n", crowd,
                worst);
  assert_true(worst < 1000);
  /* garbage is cut off at once; the silent and the half-sent go at the pre-auth idle limit */
  for (int i = 1; i < crowd; i += 3) assert_true(closed_within(fds[i], 2000));
  for (int i = 0; i < crowd; i += 3) assert_true(closed_within(fds[i], 15000));
  for (int i = 2; i < crowd; i += 3) assert_true(closed_within(fds[i], 5000));
  for (int i = 0; i < crowd; i++) close(fds[i]);
  free(fds);
  sg_client_close(c);
  assert_int_equal(hs_server_stop(&srv), 0);
  hs_server_cleanup(&srv);
}

static void test_connection_limit(void **state) {
  (void)state;
  hs_server srv;
  const char *args[] = {"--max-connections", "5", NULL};
  assert_int_equal(hs_server_start(&srv, NULL, args), 0);
  sg_client *cs[5];
  sg_status st;
  for (int i = 0; i < 5; i++) assert_int_equal(sg_client_connect(&cs[i], srv.addr, 5000, &st), 0);
  Shegong__V1__HelloRequest h = SHEGONG__V1__HELLO_REQUEST__INIT;
  ProtobufCMessage *resp;
  /* a sixth is told and closed; the five go on */
  sg_client *extra;
  assert_int_equal(sg_client_connect(&extra, srv.addr, 5000, &st), 0);
  assert_int_equal(sg_call(extra, "Admin/Hello", &h.base, &resp, 5000, &st), SG_EUNAVAIL);
  assert_non_null(strstr(st.message, "too many connections"));
  sg_client_close(extra);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(sg_call(cs[i], "Admin/Hello", &h.base, &resp, 5000, &st), 0);
    protobuf_c_message_free_unpacked(resp, NULL);
    sg_client_close(cs[i]);
  }
  assert_int_equal(hs_server_stop(&srv), 0);
  hs_server_cleanup(&srv);
}

static void test_partial_frame_after_auth(void **state) {
  (void)state;
  hs_server srv;
  const char *args[] = {"--partial-frame-ms", "300", NULL};
  assert_int_equal(hs_server_start(&srv, NULL, args), 0);
  int fd = raw_connect(srv.port);
  uint8_t buf[512];
  size_t n = auth_frame(1, "/shegong.v1.Tokens/WhoAmI", buf, sizeof buf);
  assert_int_equal(send(fd, buf, n, MSG_NOSIGNAL), (ssize_t)n);
  /* then half of another, and nothing more */
  n = auth_frame(2, "/shegong.v1.Tokens/WhoAmI", buf, sizeof buf);
  assert_int_equal(send(fd, buf, n / 2, MSG_NOSIGNAL), (ssize_t)(n / 2));
  unsigned long long t0 = hs_now_ms();
  assert_true(closed_within(fd, 5000));
  unsigned long long dt = hs_now_ms() - t0;
  assert_true(dt >= 200 && dt < 3000);
  close(fd);
  char *log = hs_server_read_log(&srv);
  assert_non_null(strstr(log, "left unfinished"));
  free(log);
  assert_int_equal(hs_server_stop(&srv), 0);
  hs_server_cleanup(&srv);
}

/* A peer that asks and never reads: the server stops reading it, and stays bounded. */
static void test_peer_that_never_reads(void **state) {
  (void)state;
  hs_server srv;
  const char *args[] = {"--max-output-mib", "1", NULL};
  assert_int_equal(hs_server_start(&srv, NULL, args), 0);
  sg_client *c;
  sg_status st;
  assert_int_equal(sg_client_connect(&c, srv.addr, 5000, &st), 0);
  /* a district, so that a list has something to say */
  Shegong__V1__Unit u = SHEGONG__V1__UNIT__INIT;
  u.kind = SHEGONG__V1__UNIT_KIND__DISTRICT;
  u.code = "320602";
  u.name = "崇川区";
  Shegong__V1__CreateUnitRequest cr = SHEGONG__V1__CREATE_UNIT_REQUEST__INIT;
  cr.unit = &u;
  ProtobufCMessage *resp;
  assert_int_equal(sg_call(c, "Units/Create", &cr.base, &resp, 5000, &st), 0);
  protobuf_c_message_free_unpacked(resp, NULL);
  int fd = raw_connect(srv.port);
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  uint8_t buf[512];
  size_t n = auth_frame(1, "/shegong.v1.Tokens/WhoAmI", buf, sizeof buf);
  assert_int_equal(send(fd, buf, n, MSG_NOSIGNAL), (ssize_t)n);
  /* thousands of Hellos, never reading an answer: sending stalls, the server does not grow */
  size_t sent = 0;
  for (uint32_t i = 2; i < 200000; i++) {
    n = auth_frame(i, "/shegong.v1.Admin/Hello", buf, sizeof buf);
    ssize_t w = send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < (ssize_t)n) break;
    sent++;
  }
  print_message("%zu calls sent before the server stopped reading\n", sent);
  assert_true(sent < 199998);
  /* others are served meanwhile */
  Shegong__V1__HelloRequest h = SHEGONG__V1__HELLO_REQUEST__INIT;
  assert_int_equal(sg_call(c, "Admin/Hello", &h.base, &resp, 5000, &st), 0);
  protobuf_c_message_free_unpacked(resp, NULL);
  close(fd);
  sg_client_close(c);
  assert_int_equal(hs_server_stop(&srv), 0);
  hs_server_cleanup(&srv);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hostile_crowd),
      cmocka_unit_test(test_connection_limit),
      cmocka_unit_test(test_partial_frame_after_auth),
      cmocka_unit_test(test_peer_that_never_reads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
