/*
 * TLS end to end: a real shegongd with --tls-cert/--tls-key, certificates
 * made here with OpenSSL (a test CA, a server certificate for 127.0.0.1, an
 * expired one, one signed by another CA), the library and the CLI trusting
 * the test CA. Certificate problems must fail the connection with a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "harness.h"
#include "shegong.h"
#include "shegong/v1/admin.pb-c.h"
#include "shegong/v1/auth.pb-c.h"

typedef struct pki {
  char dir[PATH_MAX];
  char ca[PATH_MAX + 32], other_ca[PATH_MAX + 32];
  char cert[PATH_MAX + 32], key[PATH_MAX + 32];
  char expired_cert[PATH_MAX + 32], expired_key[PATH_MAX + 32];
  char rogue_cert[PATH_MAX + 32], rogue_key[PATH_MAX + 32];
  char ip_only_cert[PATH_MAX + 32], ip_only_key[PATH_MAX + 32];
} pki;

static EVP_PKEY *new_key(void) { return EVP_EC_gen("P-256"); }

/* A certificate for subject cn, signed by (ca, ca_key), or self-signed when ca is NULL. */
static X509 *new_cert(EVP_PKEY *key, const char *cn, X509 *ca, EVP_PKEY *ca_key, long from_s,
                      long until_s, const char *san) {
  X509 *x = X509_new();
  assert_non_null(x);
  X509_set_version(x, 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), from_s);
  X509_gmtime_adj(X509_getm_notAfter(x), until_s);
  X509_set_pubkey(x, key);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : name);
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, ca ? ca : x, x, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
                                            ca ? "critical,CA:FALSE" : "critical,CA:TRUE");
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  if (san) {
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  assert_true(X509_sign(x, ca_key ? ca_key : key, EVP_sha256()) > 0);
  return x;
}

static void write_pem(const char *path, X509 *x, EVP_PKEY *k) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  if (x) assert_int_equal(PEM_write_X509(f, x), 1);
  if (k) assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
  fclose(f);
}

static void make_pki(pki *p) {
  snprintf(p->dir, sizeof p->dir, "/tmp/shegong-tls-XXXXXX");
  assert_non_null(mkdtemp(p->dir));
#define PATH(field, name) snprintf(p->field, sizeof p->field, "%s/" name, p->dir)
  PATH(ca, "ca.pem");
  PATH(other_ca, "other-ca.pem");
  PATH(cert, "server.pem");
  PATH(key, "server.key");
  PATH(expired_cert, "expired.pem");
  PATH(expired_key, "expired.key");
  PATH(rogue_cert, "rogue.pem");
  PATH(rogue_key, "rogue.key");
  PATH(ip_only_cert, "ip-only.pem");
  PATH(ip_only_key, "ip-only.key");
#undef PATH
  EVP_PKEY *ca_key = new_key(), *other_key = new_key(), *k1 = new_key(), *k2 = new_key(),
           *k3 = new_key(), *k4 = new_key();
  X509 *ca = new_cert(ca_key, "shegong test CA", NULL, NULL, -3600, 86400, NULL);
  X509 *other = new_cert(other_key, "another CA", NULL, NULL, -3600, 86400, NULL);
  X509 *good = new_cert(k1, "shegongd", ca, ca_key, -3600, 86400, "IP:127.0.0.1,DNS:localhost");
  X509 *expired = new_cert(k2, "shegongd", ca, ca_key, -7200, -3600, "IP:127.0.0.1,DNS:localhost");
  X509 *rogue = new_cert(k3, "shegongd", other, other_key, -3600, 86400, "IP:127.0.0.1");
  X509 *ip_only = new_cert(k4, "shegongd", ca, ca_key, -3600, 86400, "IP:127.0.0.1");
  write_pem(p->ca, ca, NULL);
  write_pem(p->other_ca, other, NULL);
  write_pem(p->cert, good, NULL);
  write_pem(p->key, NULL, k1);
  write_pem(p->expired_cert, expired, NULL);
  write_pem(p->expired_key, NULL, k2);
  write_pem(p->rogue_cert, rogue, NULL);
  write_pem(p->rogue_key, NULL, k3);
  write_pem(p->ip_only_cert, ip_only, NULL);
  write_pem(p->ip_only_key, NULL, k4);
  X509 *xs[] = {ca, other, good, expired, rogue, ip_only};
  EVP_PKEY *ks[] = {ca_key, other_key, k1, k2, k3, k4};
  for (int i = 0; i < 6; i++) {
    X509_free(xs[i]);
    EVP_PKEY_free(ks[i]);
  }
}

typedef struct fx {
  pki p;
  hs_server srv;
  int done;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  make_pki(&f->p);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  if (!f->done && f->srv.pid) hs_server_print_log(&f->srv, 30);
  hs_server_stop(&f->srv);
  hs_server_cleanup(&f->srv);
  hs_rmtree(f->p.dir);
  free(f);
  return 0;
}

static void start_tls_server(fx *f, const char *cert, const char *key) {
  const char *args[] = {"--tls-cert", cert, "--tls-key", key, NULL};
  assert_int_equal(hs_server_start(&f->srv, NULL, args), 0);
}

static void test_calls_over_tls(void **state) {
  fx *f = *state;
  start_tls_server(f, f->p.cert, f->p.key);
  sg_client *c;
  sg_status st;
  int rc = sg_client_connect_tls(&c, f->srv.addr, f->p.ca, 5000, &st);
  if (rc) fail_msg("connect: %s", st.message);
  Shegong__V1__WhoAmIRequest who = SHEGONG__V1__WHO_AM_IREQUEST__INIT;
  ProtobufCMessage *resp;
  assert_int_equal(sg_call(c, "Tokens/WhoAmI", &who.base, &resp, 5000, &st), 0);
  assert_int_equal(((Shegong__V1__Token *)resp)->role, SHEGONG__V1__PRINCIPAL_ROLE__DISTRICT_ADMIN);
  protobuf_c_message_free_unpacked(resp, NULL);
  /* a big request and a big answer cross the TLS records intact */
  Shegong__V1__HelloRequest h = SHEGONG__V1__HELLO_REQUEST__INIT;
  char *big = malloc(600000);
  memset(big, 'x', 599999);
  big[599999] = '\0';
  h.client = big;
  for (int i = 0; i < 20; i++) {
    assert_int_equal(sg_call(c, "Admin/Hello", &h.base, &resp, 5000, &st), 0);
    protobuf_c_message_free_unpacked(resp, NULL);
  }
  free(big);
  sg_client_close(c);

  /* the CLI and the demo loader, with --tls-ca and $SHEGONG_TLS_CA */
  const char *demo[] = {SHEGONG_DEMO_PATH, "--towns", "1", "--workers", "30", "--quiet", NULL};
  setenv("SHEGONG_TLS_CA", f->p.ca, 1);
  int code = hs_run(demo, f->srv.addr, NULL, NULL, 0);
  unsetenv("SHEGONG_TLS_CA");
  assert_int_equal(code, 0);
  const char *list[] = {SHEGONG_CLI_PATH, "--tls-ca", f->p.ca, "-o", "csv", "--columns", "id",
                        "worker", "list", NULL};
  char *out = NULL, *err = NULL;
  code = hs_run(list, f->srv.addr, &out, &err, 0);
  if (code) print_message("%s", err);
  assert_int_equal(code, 0);
  assert_int_equal(hs_count_lines(out), 31);
  free(out);
  free(err);
  f->done = 1;
}

/* Connects with ca, expecting failure whose message contains want. */
static void expect_refused(const char *addr, const char *ca, const char *want) {
  sg_client *c = NULL;
  sg_status st;
  int rc = sg_client_connect_tls(&c, addr, ca, 5000, &st);
  if (rc == 0) {
    /* some failures show only at the first call */
    Shegong__V1__HelloRequest h = SHEGONG__V1__HELLO_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    rc = sg_call(c, "Admin/Hello", &h.base, &resp, 5000, &st);
    if (resp) protobuf_c_message_free_unpacked(resp, NULL);
    sg_client_close(c);
  }
  assert_int_not_equal(rc, 0);
  if (!strstr(st.message, want)) fail_msg("expected \"%s\" in \"%s\"", want, st.message);
}

static void test_untrusted_certificates_are_refused(void **state) {
  fx *f = *state;
  start_tls_server(f, f->p.cert, f->p.key);
  /* trusting the wrong CA */
  expect_refused(f->srv.addr, f->p.other_ca, "not trusted");
  /* a CA file that is not there */
  expect_refused(f->srv.addr, "/nonexistent/ca.pem", "cannot load");
  /* TLS to a plain server, plain to a TLS server: both fail, the server stays up */
  hs_server plain;
  assert_int_equal(hs_server_start(&plain, NULL, NULL), 0);
  expect_refused(plain.addr, f->p.ca, "TLS handshake failed");
  assert_int_equal(hs_server_stop(&plain), 0);
  hs_server_cleanup(&plain);
  hs_use_token_file(f->srv.token_file);
  sg_client *c;
  sg_status st;
  assert_int_equal(sg_client_connect(&c, f->srv.addr, 5000, &st), 0);
  Shegong__V1__HelloRequest h = SHEGONG__V1__HELLO_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  assert_int_equal(sg_call(c, "Admin/Hello", &h.base, &resp, 5000, &st), SG_EUNAVAIL);
  sg_client_close(c);
  assert_int_equal(sg_client_connect_tls(&c, f->srv.addr, f->p.ca, 5000, &st), 0);
  assert_int_equal(sg_call(c, "Admin/Hello", &h.base, &resp, 5000, &st), 0);
  protobuf_c_message_free_unpacked(resp, NULL);
  sg_client_close(c);
  f->done = 1;
}

static void test_expired_certificate(void **state) {
  fx *f = *state;
  start_tls_server(f, f->p.expired_cert, f->p.expired_key);
  expect_refused(f->srv.addr, f->p.ca, "expired");
  f->done = 1;
}

static void test_certificate_of_another_ca(void **state) {
  fx *f = *state;
  start_tls_server(f, f->p.rogue_cert, f->p.rogue_key);
  expect_refused(f->srv.addr, f->p.ca, "not trusted");
  f->done = 1;
}

static void test_name_must_match(void **state) {
  fx *f = *state;
  start_tls_server(f, f->p.ip_only_cert, f->p.ip_only_key);
  char by_name[64];
  snprintf(by_name, sizeof by_name, "localhost:%d", f->srv.port);
  expect_refused(by_name, f->p.ca, "not trusted"); /* the certificate names 127.0.0.1 only */
  sg_client *c;
  sg_status st;
  assert_int_equal(sg_client_connect_tls(&c, f->srv.addr, f->p.ca, 5000, &st), 0);
  sg_client_close(c);
  f->done = 1;
}

static void test_bad_server_flags(void **state) {
  fx *f = *state;
  /* a key that does not match, a missing file: the server refuses to start */
  const char *args[] = {"--tls-cert", f->p.cert, "--tls-key", f->p.expired_key, NULL};
  hs_server s;
  assert_int_not_equal(hs_server_start(&s, NULL, args), 0);
  hs_server_cleanup(&s);
  const char *args2[] = {"--tls-cert", f->p.cert, NULL};
  assert_int_not_equal(hs_server_start(&s, NULL, args2), 0);
  hs_server_cleanup(&s);
  f->done = 1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_calls_over_tls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_untrusted_certificates_are_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expired_certificate, setup, teardown),
      cmocka_unit_test_setup_teardown(test_certificate_of_another_ca, setup, teardown),
      cmocka_unit_test_setup_teardown(test_name_must_match, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_server_flags, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
