/*
 * Raw sockets for the tests that speak the wire protocol by hand (framing
 * errors, limits, pre-authentication rules), where the client library would
 * refuse to send what the test needs or hide what the server answered.
 * Failures are cmocka assertions, so only tests link this.
 */
#ifndef SG_TEST_RAWSOCK_H
#define SG_TEST_RAWSOCK_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

/* A loopback TCP connection to port, TCP_NODELAY; rcvbuf > 0 sets a small
 * receive buffer before connecting, so that the advertised window is small too. */
int raw_socket(int port, int rcvbuf);

/* True when the peer has closed fd (EOF or reset) within ms; what it sent first is discarded. */
int raw_closed_within(int fd, int ms);

/* Sends all of data (asserting). */
void raw_send(int fd, const void *data, size_t len);

#define RAW_KEEP 32
#define RAW_MAX_CALLS 4096

/* What the server sent on one raw connection. */
typedef struct raw_in {
  sg_frame_decoder dec;
  sg_frame *frames[RAW_KEEP]; /* the first frames, kept whole */
  size_t n;                   /* frames received */
  int eof;
  /* for every frame: its call's status code and how many answers the call got */
  int code[RAW_MAX_CALLS];
  unsigned answers[RAW_MAX_CALLS];
} raw_in;

void raw_in_init(raw_in *in);
void raw_in_free(raw_in *in);

/* Reads until `want` frames in total have come, or EOF (when until_eof), or
 * timeout. Bytes that do not decode fail the test. */
void raw_read(int fd, raw_in *in, size_t want, int until_eof, int timeout_ms);

#endif
