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
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "harness.h"
#include "rawsock.h"
#include "shegong.h"
#include "shegong/v1/admin.pb-c.h"
#include "shegong/v1/auth.pb-c.h"
#include "shegong/v1/units.pb-c.h"
#include "shegong/v1/workers.pb-c.h"


/* A frame with the admin token for method and payload, as the library would send it. */
static size_t auth_frame_with(uint32_t call_id, const char *method, const uint8_t *payload,
                              size_t plen, uint8_t *out, size_t cap) {
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
  f.payload.data = (uint8_t *)payload;
  f.payload.len = plen;
  size_t n = sg_frame_wire_size(&f);
  assert_true(n <= cap);
  sg_frame_write(&f, out);
  return n;
}

static size_t auth_frame(uint32_t call_id, const char *method, uint8_t *out, size_t cap) {
  return auth_frame_with(call_id, method, NULL, 0, out, cap);
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
    fds[i] = raw_socket(srv.port, 0);
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
  for (int i = 1; i < crowd; i += 3) assert_true(raw_closed_within(fds[i], 2000));
  for (int i = 0; i < crowd; i += 3) assert_true(raw_closed_within(fds[i], 15000));
  for (int i = 2; i < crowd; i += 3) assert_true(raw_closed_within(fds[i], 5000));
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
  int fd = raw_socket(srv.port, 0);
  uint8_t buf[512];
  size_t n = auth_frame(1, "/shegong.v1.Tokens/WhoAmI", buf, sizeof buf);
  assert_int_equal(send(fd, buf, n, MSG_NOSIGNAL), (ssize_t)n);
  /* then half of another, and nothing more */
  n = auth_frame(2, "/shegong.v1.Tokens/WhoAmI", buf, sizeof buf);
  assert_int_equal(send(fd, buf, n / 2, MSG_NOSIGNAL), (ssize_t)(n / 2));
  unsigned long long t0 = hs_now_ms();
  assert_true(raw_closed_within(fd, 5000));
  unsigned long long dt = hs_now_ms() - t0;
  assert_true(dt >= 200 && dt < 3000);
  close(fd);
  char *log = hs_server_read_log(&srv);
  assert_non_null(strstr(log, "left unfinished"));
  free(log);
  assert_int_equal(hs_server_stop(&srv), 0);
  hs_server_cleanup(&srv);
}

/*
 * A peer that asks and never reads: the server stops reading it once its
 * unread answers pass --max-output-mib, others are served meanwhile, and
 * after --output-stall-ms of that it is cut off.
 */
static void test_peer_that_never_reads(void **state) {
  (void)state;
  hs_server srv;
  const char *args[] = {"--max-output-mib", "1", "--output-stall-ms", "500", NULL};
  assert_int_equal(hs_server_start(&srv, NULL, args), 0);
  /* workers, so that a list answer is large */
  const char *demo[] = {SHEGONG_DEMO_PATH, "--towns", "1", "--workers", "100", "--quiet", NULL};
  assert_int_equal(hs_run(demo, srv.addr, NULL, NULL, 0), 0);
  sg_client *c;
  sg_status st;
  assert_int_equal(sg_client_connect(&c, srv.addr, 5000, &st), 0);
  int fd = raw_socket(srv.port, 0);
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  Shegong__V1__ListWorkersRequest l = SHEGONG__V1__LIST_WORKERS_REQUEST__INIT;
  l.page_size = 100;
  uint8_t payload[32], buf[512];
  size_t plen = protobuf_c_message_pack(&l.base, payload);
  size_t sent = 0;
  unsigned long long until = hs_now_ms() + 10000;
  int cut = 0;
  /* ask until the server stops taking requests, then until it hangs up */
  for (uint32_t i = 1; i < 1000000 && hs_now_ms() < until; i++) {
    size_t n = auth_frame_with(i, "/shegong.v1.Workers/List", payload, plen, buf, sizeof buf);
    ssize_t w = send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno != EAGAIN) {
      cut = 1; /* reset by the server */
      break;
    }
    if (w < (ssize_t)n) {
      /* blocked: the server has stopped reading us; is it still serving others? */
      if (sent) {
        Shegong__V1__HelloRequest h = SHEGONG__V1__HELLO_REQUEST__INIT;
        ProtobufCMessage *resp;
        assert_int_equal(sg_call(c, "Admin/Hello", &h.base, &resp, 5000, &st), 0);
        protobuf_c_message_free_unpacked(resp, NULL);
      }
      if (raw_closed_within(fd, 3000)) {
        cut = 1;
        break;
      }
      continue;
    }
    sent++;
  }
  print_message("%zu list calls sent, unread, before the server cut the peer off\n", sent);
  assert_true(cut);
  char *log = hs_server_read_log(&srv);
  assert_non_null(strstr(log, "unread for 500 ms"));
  free(log);
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
