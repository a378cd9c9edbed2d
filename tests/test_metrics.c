/* Prometheus metrics: a scrape over HTTP shows calls, latency, connections, batches, size, lag. */
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
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "shegong.h"
#include "shegong/v1/admin.pb-c.h"
#include "shegong/v1/sync.pb-c.h"

/* GET path from 127.0.0.1:port; the whole answer, malloc'd. */
static char *http_get(int port, const char *path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  char req[256];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
  assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
  size_t cap = 1 << 20, len = 0;
  char *out = malloc(cap);
  ssize_t r;
  while ((r = recv(fd, out + len, cap - 1 - len, 0)) > 0) len += (size_t)r;
  out[len] = '\0';
  close(fd);
  return out;
}

/* The value of the first sample line starting with prefix; -1 if none. */
static double sample(const char *text, const char *prefix) {
  for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
    if (strncmp(p, prefix, strlen(prefix)) == 0) return atof(p + strlen(prefix));
  return -1;
}

static void test_scrape(void **state) {
  (void)state;
  int mport = hs_free_port();
  char listen[64];
  snprintf(listen, sizeof listen, "127.0.0.1:%d", mport);
  const char *args[] = {"--metrics-listen", listen, NULL};
  hs_server srv;
  assert_int_equal(hs_server_start(&srv, NULL, args), 0);
  const char *demo[] = {SHEGONG_DEMO_PATH, "--towns", "2", "--workers", "50", "--quiet", NULL};
  assert_int_equal(hs_run(demo, srv.addr, NULL, NULL, 0), 0);
  sg_client *c;
  sg_status st;
  assert_int_equal(sg_client_connect(&c, srv.addr, 5000, &st), 0);
  Shegong__V1__HelloRequest h = SHEGONG__V1__HELLO_REQUEST__INIT;
  ProtobufCMessage *resp;
  for (int i = 0; i < 3; i++) {
    assert_int_equal(sg_call(c, "Admin/Hello", &h.base, &resp, 5000, &st), 0);
    protobuf_c_message_free_unpacked(resp, NULL);
  }
  /* a town pulls from revision 10: it is that far behind the head */
  Shegong__V1__PullRequest pr = SHEGONG__V1__PULL_REQUEST__INIT;
  pr.town_code = "320602001";
  pr.since = 10;
  pr.limit = 5;
  uint32_t id;
  assert_int_equal(sg_call_send(c, "Sync/Pull", &pr.base, 5000, &id, &st), 0);
  ProtobufCMessage *m;
  while (sg_stream_next(c, id, &m, 5000, &st) == 0) protobuf_c_message_free_unpacked(m, NULL);

  char *text = http_get(mport, "/metrics");
  assert_non_null(strstr(text, "HTTP/1.1 200 OK"));
  assert_non_null(strstr(text, "text/plain; version=0.0.4"));
  assert_true(sample(text, "shegong_calls_total{method=\"/shegong.v1.Admin/Hello\",code=\"OK\"} ") >= 3);
  assert_true(sample(text, "shegong_calls_total{method=\"/shegong.v1.Workers/Create\",code=\"OK\"} ") == 50);
  assert_true(sample(text, "shegong_call_seconds_count{method=\"/shegong.v1.Workers/Create\"} ") == 50);
  assert_true(sample(text, "shegong_connections ") >= 1);
  assert_true(sample(text, "shegong_writer_batch_jobs_total ") >= 50);
  assert_true(sample(text, "shegong_writer_batches_total ") >= 1);
  assert_true(sample(text, "shegong_db_used_bytes ") > 0);
  assert_true(sample(text, "shegong_db_map_bytes ") > 0);
  /* the pull was cut at 5 changes after 10: its lag is the head minus that position */
  double lag = sample(text, "shegong_replica_lag_revisions{town=\"320602001\"} ");
  assert_true(lag > 0);
  free(text);
  /* a refused call is counted with its code */
  sg_client *anon;
  hs_use_token_file(NULL);
  assert_int_equal(sg_client_connect(&anon, srv.addr, 5000, &st), 0);
  Shegong__V1__PullRequest pr2 = SHEGONG__V1__PULL_REQUEST__INIT;
  assert_int_equal(sg_call_send(anon, "Sync/Pull", &pr2.base, 5000, &id, &st), 0);
  assert_int_equal(sg_stream_next(anon, id, &m, 5000, &st), SG_EUNAUTH);
  sg_client_close(anon);
  hs_use_token_file(srv.token_file);
  text = http_get(mport, "/metrics");
  assert_true(sample(text, "shegong_calls_total{method=\"/shegong.v1.Sync/Pull\",code=\"UNAUTHENTICATED\"} ") == 1);
  free(text);
  text = http_get(mport, "/elsewhere");
  assert_non_null(strstr(text, "404"));
  free(text);
  sg_client_close(c);
  assert_int_equal(hs_server_stop(&srv), 0);
  hs_server_cleanup(&srv);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_scrape)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
