/* Raw sockets for tests: see rawsock.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "rawsock.h"

int raw_socket(int port, int rcvbuf) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  if (rcvbuf > 0) assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void raw_send(int fd, const void *data, size_t len) {
  const uint8_t *p = data;
  while (len) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    assert_true(n > 0);
    p += n;
    len -= (size_t)n;
  }
}

static int collect_frame(void *ctx, sg_frame *fr) {
  raw_in *in = ctx;
  if (fr->call_id < RAW_MAX_CALLS) {
    in->code[fr->call_id] = fr->status ? (int)fr->status->code : 0;
    in->answers[fr->call_id]++;
  }
  if (in->n < RAW_KEEP) in->frames[in->n] = fr;
  else sg_frame_free(fr);
  in->n++;
  return 0;
}

void raw_in_init(raw_in *in) {
  memset(in, 0, sizeof *in);
  sg_frame_decoder_init(&in->dec, 8u << 20);
}

void raw_in_free(raw_in *in) {
  for (size_t i = 0; i < in->n && i < RAW_KEEP; i++) sg_frame_free(in->frames[i]);
  in->n = 0;
  sg_frame_decoder_free(&in->dec);
}

void raw_read(int fd, raw_in *in, size_t want, int until_eof, int timeout_ms) {
  unsigned long long deadline = hs_now_ms() + (unsigned long long)timeout_ms;
  while (!in->eof && (until_eof || in->n < want)) {
    unsigned long long now = hs_now_ms();
    if (now >= deadline) break;
    struct pollfd p = {fd, POLLIN, 0};
    int rc = poll(&p, 1, (int)(deadline - now));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) break;
    uint8_t buf[65536];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      in->eof = 1; /* closed (0) or reset (<0): either way the server is done with us */
      break;
    }
    char why[160];
    int frc = sg_frame_decoder_feed(&in->dec, buf, (size_t)n, collect_frame, in, why, sizeof why);
    if (frc) print_message("the server's bytes do not decode: %s\n", why);
    assert_int_equal(frc, 0);
  }
}

int raw_closed_within(int fd, int ms) {
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
