#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>

#include "error.h"

struct sg_tls_ctx {
  SSL_CTX *ssl;
};

struct sg_tls_conn {
  SSL *ssl;
  BIO *in;  /* ciphertext from the peer, written by us, read by OpenSSL */
  BIO *out; /* ciphertext for the peer, written by OpenSSL, read by us */
};

static void openssl_reason(char *why, size_t whylen, const char *what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  if (why && whylen) snprintf(why, whylen, "%s: %s", what, buf);
}

int sg_tls_server_ctx(sg_tls_ctx **out, const char *cert_file, const char *key_file, char *why,
                      size_t whylen) {
  sg_tls_ctx *c = calloc(1, sizeof *c);
  if (!c) return SG_ENOMEM;
  c->ssl = SSL_CTX_new(TLS_server_method());
  if (!c->ssl) {
    openssl_reason(why, whylen, "cannot create a TLS context");
    free(c);
    return SG_EINTERNAL;
  }
  SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION);
  SSL_CTX_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(c->ssl, cert_file) != 1) {
    openssl_reason(why, whylen, "cannot load the certificate");
    goto fail;
  }
  if (SSL_CTX_use_PrivateKey_file(c->ssl, key_file, SSL_FILETYPE_PEM) != 1) {
    openssl_reason(why, whylen, "cannot load the private key");
    goto fail;
  }
  if (SSL_CTX_check_private_key(c->ssl) != 1) {
    openssl_reason(why, whylen, "the key does not match the certificate");
    goto fail;
  }
  *out = c;
  return 0;
fail:
  SSL_CTX_free(c->ssl);
  free(c);
  return SG_EINVAL;
}

/* gRPC clients offer h2 and nothing else will do: a peer that offers ALPN without
 * h2 is refused. A peer that sends no ALPN at all is let through (OpenSSL does
 * not call this) and then fails at the HTTP/2 preface. */
static int select_h2(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                     const unsigned char *in, unsigned int inlen, void *arg) {
  (void)ssl;
  (void)arg;
  static const unsigned char h2[] = "\x02h2";
  unsigned char *sel;
  if (SSL_select_next_proto(&sel, outlen, h2, sizeof h2 - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

void sg_tls_ctx_alpn_h2(sg_tls_ctx *ctx) { SSL_CTX_set_alpn_select_cb(ctx->ssl, select_h2, NULL); }

void sg_tls_ctx_free(sg_tls_ctx *ctx) {
  if (!ctx) return;
  SSL_CTX_free(ctx->ssl);
  free(ctx);
}

int sg_tls_conn_new(sg_tls_conn **out, sg_tls_ctx *ctx) {
  sg_tls_conn *t = calloc(1, sizeof *t);
  if (!t) return SG_ENOMEM;
  t->ssl = SSL_new(ctx->ssl);
  t->in = BIO_new(BIO_s_mem());
  t->out = BIO_new(BIO_s_mem());
  if (!t->ssl || !t->in || !t->out) {
    SSL_free(t->ssl);
    BIO_free(t->in);
    BIO_free(t->out);
    free(t);
    return SG_ENOMEM;
  }
  /* an empty memory BIO means "no data yet", not end of file */
  BIO_set_mem_eof_return(t->in, -1);
  BIO_set_mem_eof_return(t->out, -1);
  SSL_set_bio(t->ssl, t->in, t->out); /* the SSL owns both now */
  SSL_set_accept_state(t->ssl);
  *out = t;
  return 0;
}

void sg_tls_conn_free(sg_tls_conn *t) {
  if (!t) return;
  SSL_free(t->ssl);
  free(t);
}

int sg_tls_conn_feed(sg_tls_conn *t, const uint8_t *in, size_t n,
                     int (*plain)(void *arg, const uint8_t *data, size_t len), void *arg, char *why,
                     size_t whylen) {
  if (n && BIO_write(t->in, in, (int)n) != (int)n) {
    if (why) snprintf(why, whylen, "out of memory for TLS input");
    return SG_ENOMEM;
  }
  uint8_t buf[16384];
  for (;;) {
    int r = SSL_read(t->ssl, buf, sizeof buf);
    if (r > 0) {
      int rc = plain(arg, buf, (size_t)r);
      if (rc) return rc;
      continue;
    }
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0; /* needs more input */
    if (e == SSL_ERROR_ZERO_RETURN) return SG_EEOF; /* the peer closed TLS cleanly */
    openssl_reason(why, whylen, "TLS failed");
    return SG_EPROTO;
  }
}

int sg_tls_conn_write(sg_tls_conn *t, const uint8_t *data, size_t n) {
  while (n > 0) {
    int r = SSL_write(t->ssl, data, n > 1u << 30 ? 1 << 30 : (int)n);
    if (r <= 0) {
      ERR_clear_error();
      return SG_EPROTO;
    }
    data += r;
    n -= (size_t)r;
  }
  return 0;
}

void sg_tls_conn_shutdown(sg_tls_conn *t) {
  SSL_shutdown(t->ssl);
  ERR_clear_error();
}

int sg_tls_conn_ready(sg_tls_conn *t) { return SSL_is_init_finished(t->ssl); }

size_t sg_tls_conn_pending(sg_tls_conn *t) { return BIO_ctrl_pending(t->out); }

size_t sg_tls_conn_take(sg_tls_conn *t, uint8_t *out, size_t n) {
  int r = BIO_read(t->out, out, n > 1u << 30 ? 1 << 30 : (int)n);
  return r > 0 ? (size_t)r : 0;
}
