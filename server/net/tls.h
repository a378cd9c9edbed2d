/*
 * TLS for connections on libuv streams: OpenSSL runs over two memory BIOs,
 * ciphertext in from the socket, ciphertext out to uv_write, so the event
 * loop keeps doing all the I/O.
 */
#ifndef SG_NET_TLS_H
#define SG_NET_TLS_H

#include <stddef.h>
#include <stdint.h>

typedef struct sg_tls_ctx sg_tls_ctx;
typedef struct sg_tls_conn sg_tls_conn;

/*
 * A server context from PEM files (the certificate file may hold the chain).
 * TLS 1.2 and later; ALPN only where sg_tls_ctx_alpn_h2 asks for it. why receives OpenSSL's reason on failure.
 */
int sg_tls_server_ctx(sg_tls_ctx **out, const char *cert_file, const char *key_file, char *why,
                      size_t whylen);
void sg_tls_ctx_free(sg_tls_ctx *ctx);
/* Makes the context negotiate ALPN "h2" and refuse peers whose ALPN list lacks it. */
void sg_tls_ctx_alpn_h2(sg_tls_ctx *ctx);

int sg_tls_conn_new(sg_tls_conn **out, sg_tls_ctx *ctx);
void sg_tls_conn_free(sg_tls_conn *t);

/*
 * Takes ciphertext from the peer and calls plain(arg, data, len) with each
 * run of plaintext it yields. Returns 0, plain's nonzero return, or
 * SG_EPROTO when TLS fails (why says why: a bad certificate, a protocol
 * error), after which the connection must be closed.
 */
int sg_tls_conn_feed(sg_tls_conn *t, const uint8_t *in, size_t n,
                     int (*plain)(void *arg, const uint8_t *data, size_t len), void *arg, char *why,
                     size_t whylen);

/* Encrypts plaintext for the peer; the ciphertext waits in the connection. */
int sg_tls_conn_write(sg_tls_conn *t, const uint8_t *data, size_t n);
/* True once the handshake is done: before it, the server has nothing to send
 * but handshake messages (HTTP/2 would send its SETTINGS first: they wait). */
int sg_tls_conn_ready(sg_tls_conn *t);
/* Starts a clean close (close_notify); the alert waits like other output. */
void sg_tls_conn_shutdown(sg_tls_conn *t);
/* Ciphertext waiting to be sent, and taking it (up to n bytes; returns how many). */
size_t sg_tls_conn_pending(sg_tls_conn *t);
size_t sg_tls_conn_take(sg_tls_conn *t, uint8_t *out, size_t n);

#endif
