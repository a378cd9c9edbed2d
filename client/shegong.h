/*
 * libshegong: the client library for shegongd.
 *
 * One connection (sg_client) carries many calls at once. A call is a request
 * message sent to a method by name ("Workers/Get" or the full path
 * "/shegong.v1.Workers/Get"); its response type comes from the method table
 * built from the .proto service blocks, so there is one generic call and no
 * per-method code.
 *
 *   sg_client *c;
 *   if (sg_client_connect(&c, "127.0.0.1:7420", 5000, &st) != 0) ...
 *   Shegong__V1__GetWorkerRequest req = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
 *   req.id = 42;
 *   ProtobufCMessage *resp;
 *   int rc = sg_call(c, "Workers/Get", &req.base, &resp, 3000, &st);
 *   if (rc == 0) { ... use (Shegong__V1__Worker *)resp ...;
 *                  protobuf_c_message_free_unpacked(resp, NULL); }
 *   else fprintf(stderr, "%s: %s\n", sg_code_name(st.code), st.message);
 *
 * Return values follow common/error.h: 0 when the call's status is OK, else
 * the negative SG_E* code that stands for the status (SG_ENOTFOUND for
 * NOT_FOUND, SG_ECONFLICT for ABORTED, ...). `st` (may be NULL) always
 * receives the status, including for local failures: a connection that
 * cannot be made or breaks is UNAVAILABLE, a deadline that passes is
 * DEADLINE_EXCEEDED.
 *
 * Threads: an sg_client is not thread-safe; use one per thread.
 * Memory: responses are allocated with malloc (protobuf-c's default
 * allocator); the caller frees them with protobuf_c_message_free_unpacked(resp,
 * NULL).
 */
#ifndef SHEGONG_H
#define SHEGONG_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"   /* sg_status, SG_E* codes, sg_code_name() */
#include "methods.h" /* sg_methods_find() */

#define SG_DEFAULT_PORT 7420
#define SG_DEFAULT_SERVER "127.0.0.1:7420"

typedef struct sg_client sg_client;

/*
 * Connects to "HOST:PORT", "[IPv6]:PORT", or "HOST" (port 7420), within
 * timeout_ms (0 = 10 s). On success *out is a new client, to be closed with
 * sg_client_close().
 *
 * Like libpq with PGPASSWORD, the token comes from the environment unless
 * the caller sets one: $SHEGONG_TOKEN (the secret), else the first line of
 * the file $SHEGONG_TOKEN_FILE. A file that cannot be read is UNAUTHENTICATED.
 */
int sg_client_connect(sg_client **out, const char *server, int timeout_ms, sg_status *st);

/*
 * Like sg_client_connect, over TLS (1.2 or later): the server's certificate
 * must chain to a CA in ca_file (PEM) and name the host connected to (its
 * DNS name, or its IP address). sg_client_connect itself uses TLS when
 * $SHEGONG_TLS_CA names a CA file. Certificate problems are UNAVAILABLE
 * with the reason ("certificate has expired").
 */
int sg_client_connect_tls(sg_client **out, const char *server, const char *ca_file,
                          int timeout_ms, sg_status *st);
void sg_client_close(sg_client *c);

/*
 * Adds a metadata entry sent with every call from now on ("authorization",
 * "Bearer …"; "client-id", …). Copies key and value. Setting a key again
 * replaces its value.
 */
int sg_client_set_metadata(sg_client *c, const char *key, const char *value);

/* Sends `authorization: Bearer <secret>` with every call from now on. */
int sg_client_set_token(sg_client *c, const char *secret);

/* Reads a token secret from the first line of path into out (n >= 130). */
int sg_read_token_file(const char *path, char *out, size_t n, sg_status *st);

/* Largest frame the client will accept (default 4 MiB + 64 KiB). */
void sg_client_set_max_frame(sg_client *c, uint32_t max_bytes);

/*
 * A unary call: sends req to method, waits up to timeout_ms (0 = no
 * client-side limit; the server applies its default) for the answer.
 * On 0, *resp is the response (caller frees). On failure *resp is NULL.
 */
int sg_call(sg_client *c, const char *method, const ProtobufCMessage *req,
            ProtobufCMessage **resp, int timeout_ms, sg_status *st);

/*
 * Pipelining: sg_call_send() sends a request and returns at once with its
 * call id; sg_call_recv() waits for the answer to one call id (answers to
 * other calls that arrive meanwhile are kept for their own recv). Many calls
 * may be in flight; the server answers them in any order.
 */
int sg_call_send(sg_client *c, const char *method, const ProtobufCMessage *req,
                 int timeout_ms, uint32_t *call_id, sg_status *st);
int sg_call_recv(sg_client *c, uint32_t call_id, ProtobufCMessage **resp, int timeout_ms,
                 sg_status *st);
/*
 * Waits for whichever in-flight call ends first; sets *call_id to it.
 * Returns as sg_call_recv(). A stream that ends here is over: messages of
 * it not yet taken with sg_stream_next are dropped. On SG_ETIMEDOUT,
 * *call_id is 0 and every call stays in flight. SG_ENOTFOUND when no call
 * is in flight. timeout_ms < 0 does not wait: an answer already received,
 * or one the socket holds now, else SG_ETIMEDOUT at once.
 */
int sg_call_recv_any(sg_client *c, uint32_t *call_id, ProtobufCMessage **resp, int timeout_ms,
                     sg_status *st);
/* Number of calls sent and not yet received. */
size_t sg_client_in_flight(const sg_client *c);

/*
 * Server streaming (Sync/Pull, Sync/Snapshot): start the call with
 * sg_call_send(), then take its messages one by one. sg_stream_next()
 * returns 0 with *msg set (caller frees), 1 when the stream has ended with
 * OK (*msg NULL), or a negative SG_E* code when it ended with an error
 * status, the deadline passed (timeout_ms per message; 0 = none) or the
 * connection broke; after 1 or an error the call is over.
 */
int sg_stream_next(sg_client *c, uint32_t call_id, ProtobufCMessage **msg, int timeout_ms,
                   sg_status *st);

/*
 * Asks the server to stop call_id (a watch, or a write not yet applied).
 * The call stays in flight until its final frame comes (CANCELLED, or the
 * outcome if it was too late): keep reading it with sg_stream_next() or
 * sg_call_recv().
 */
int sg_call_cancel(sg_client *c, uint32_t call_id, sg_status *st);

/*
 * Sends raw bytes on the connection, for tests of the server's framing
 * checks. Not for normal use.
 */
int sg_client_send_raw(sg_client *c, const void *data, size_t len, sg_status *st);

#endif
