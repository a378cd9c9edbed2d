/*
 * gRPC over HTTP/2 (libnghttp2) for one connection of the gRPC listener.
 *
 * This is a transport only: it turns a stream's HEADERS and DATA into one
 * request (method path, token, deadline, message) for the connection, which
 * answers it with the same dispatch, auth, limits and handlers as a native
 * frame; answers come back as length-prefixed messages and a grpc-status
 * trailer. A call's id is its HTTP/2 stream id (odd, never reused on a
 * connection), so the connection's bookkeeping of calls is the same for
 * both transports. Reflection is the one method answered here.
 *
 * No I/O happens here: bytes in through sg_h2_feed, bytes out through the
 * output hook, from sg_h2_flush.
 */
#ifndef SG_NET_H2_H
#define SG_NET_H2_H

#include <stddef.h>
#include <stdint.h>

typedef struct sg_h2 sg_h2;

/* A complete request: valid only during the call hook. */
typedef struct sg_h2_request {
  uint32_t stream_id;
  const char *path;          /* "/shegong.v1.Workers/Get" */
  const char *authorization; /* "Bearer …", or NULL */
  uint32_t timeout_ms;       /* from grpc-timeout; 0 = none given */
  const uint8_t *msg;        /* the request message, unprefixed */
  size_t len;
} sg_h2_request;

typedef struct sg_h2_hooks {
  void *arg;
  /* A request to answer (sg_h2_message, then sg_h2_finish), now or later. */
  void (*call)(void *arg, const sg_h2_request *req);
  /* The peer reset a stream (a cancelled call or an expired deadline). */
  void (*cancel)(void *arg, uint32_t stream_id);
  /* Bytes for the socket. Nonzero: the connection is gone. */
  int (*output)(void *arg, const uint8_t *data, size_t n);
  /* The largest request message taken now (lower before authentication). */
  uint32_t (*max_message)(void *arg);
  /* True while the connection's unread answers are over its limit: work
   * answered here (reflection) is then refused rather than queued. */
  int (*congested)(void *arg);
} sg_h2_hooks;

/* A server session; max_streams is announced as SETTINGS_MAX_CONCURRENT_STREAMS. */
int sg_h2_new(sg_h2 **out, const sg_h2_hooks *hooks, uint32_t max_streams);
void sg_h2_free(sg_h2 *h);

/*
 * Takes bytes from the peer; requests go to the call hook as they complete.
 * Returns 0, or SG_EPROTO when the peer broke HTTP/2 (why says how): the
 * connection then flushes what is queued (a GOAWAY) and closes.
 */
int sg_h2_feed(sg_h2 *h, const uint8_t *data, size_t n, char *why, size_t whylen);

/*
 * One response message on a stream (sent after the response headers, as
 * flow control allows). Returns 0, or SG_EUNAVAIL when the stream is gone
 * (reset by the peer, or already finished): a stream's work can stop.
 */
int sg_h2_message(sg_h2 *h, uint32_t stream_id, const uint8_t *msg, size_t n);

/*
 * Ends a stream with its status: grpc-status, grpc-message (percent-encoded)
 * and, when status_bin is given, shegong-status-bin (the packed
 * shegong.v1.Status with its field violations, base64). A stream gone is
 * not an error.
 */
int sg_h2_finish(sg_h2 *h, uint32_t stream_id, int code, const char *message,
                 const uint8_t *status_bin, size_t status_len);

/* Ends the session: one GOAWAY (code 0, or 2 INTERNAL_ERROR; a second call does
 * nothing), then no new stream is taken; answers already made still go out. */
void sg_h2_goaway(sg_h2 *h, int error, const char *why);

/* Hands what nghttp2 may send now to the output hook. 0, or nonzero when output failed. */
int sg_h2_flush(sg_h2 *h);

/* True while some request is begun and not complete (the partial-request timer). */
int sg_h2_pending(const sg_h2 *h);

/* Response bytes waiting in streams for the peer's flow-control window. */
size_t sg_h2_buffered(const sg_h2 *h);

/* False once the session wants neither to read nor to write: close. */
int sg_h2_alive(const sg_h2 *h);

/*
 * Parses a grpc-timeout value ("100m", "5S", "1H": at most 8 digits and a
 * unit of H, M, S, m, u or n) into milliseconds, rounded up and capped.
 * Returns 0, or SG_EINVAL.
 */
int sg_h2_parse_timeout(const char *v, uint32_t *ms);

/* Percent-encodes a grpc-message value into out (outlen bytes, NUL-terminated). */
void sg_h2_encode_message(const char *msg, char *out, size_t outlen);

#endif
