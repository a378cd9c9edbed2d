#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "calls.h"
#include "shegong/v1/auth.pb-c.h"
#include "timeutil.h"
#include "validate.h"
#include "shegong/v1/types.pb-c.h"

void print_status(const char *what, const sg_status *st) {
  print_message("%s: %s (%d): %s\n", what, sg_code_name(st->code), st->code, st->message);
  for (size_t i = 0; i < st->n_violations && i < SG_STATUS_VIOLATIONS_MAX; i++)
    print_message("  violation %s: %s\n", st->violations[i].field, st->violations[i].description);
}

int has_violation(const sg_status *st, const char *field) {
  for (size_t i = 0; i < st->n_violations && i < SG_STATUS_VIOLATIONS_MAX; i++)
    if (strcmp(st->violations[i].field, field) == 0) return 1;
  return 0;
}

void free_msg(void *m) {
  if (m) protobuf_c_message_free_unpacked((ProtobufCMessage *)m, NULL);
}

void *call_ok(sg_client *c, const char *method, const ProtobufCMessage *req) {
  sg_status st;
  ProtobufCMessage *resp = NULL;
  int rc = sg_call(c, method, req, &resp, CALL_MS, &st);
  if (rc != 0) print_status(method, &st);
  assert_int_equal(rc, 0);
  assert_int_equal(st.code, SHEGONG__V1__CODE__OK);
  assert_non_null(resp);
  return resp;
}

void call_fails(sg_client *c, const char *method, const ProtobufCMessage *req, int code,
                sg_status *st) {
  ProtobufCMessage *resp = NULL;
  int rc = sg_call(c, method, req, &resp, CALL_MS, st);
  if (st->code != code) {
    print_message("%s: wanted %s, got:\n", method, sg_code_name(code));
    print_status(method, st);
  }
  free_msg(resp);
  assert_int_equal(st->code, code);
  assert_int_equal(rc, sg_error_from_code(code));
  assert_null(resp);
}

void call_violates(sg_client *c, const char *method, const ProtobufCMessage *req,
                   const char *field) {
  sg_status st;
  call_fails(c, method, req, SHEGONG__V1__CODE__INVALID_ARGUMENT, &st);
  if (!has_violation(&st, field)) {
    print_message("%s: no violation on %s\n", method, field);
    print_status(method, &st);
  }
  assert_true(has_violation(&st, field));
}

void pulled_free(pulled *p) {
  for (size_t i = 0; i < p->n_msgs; i++) free_msg(p->msgs[i]);
  free(p->msgs);
  free(p->changes);
  memset(p, 0, sizeof *p);
}

void pull(sg_client *c, const char *town, uint64_t since, pulled *out) {
  memset(out, 0, sizeof *out);
  Shegong__V1__PullRequest req = SHEGONG__V1__PULL_REQUEST__INIT;
  req.town_code = (char *)town;
  req.since = since;
  req.limit = 10000;
  uint32_t id;
  sg_status st;
  int rc = sg_call_send(c, "Sync/Pull", &req.base, CALL_MS, &id, &st);
  if (rc) print_status("Sync/Pull", &st);
  assert_int_equal(rc, 0);
  for (;;) {
    ProtobufCMessage *m = NULL;
    rc = sg_stream_next(c, id, &m, CALL_MS, &st);
    if (rc == 1) break;
    if (rc < 0) print_status("Sync/Pull", &st);
    assert_int_equal(rc, 0);
    Shegong__V1__PullResponse *r = (Shegong__V1__PullResponse *)m;
    out->msgs = realloc(out->msgs, (out->n_msgs + 1) * sizeof *out->msgs);
    assert_non_null(out->msgs);
    out->msgs[out->n_msgs++] = r;
    out->changes = realloc(out->changes, (out->n + r->n_changes + 1) * sizeof *out->changes);
    assert_non_null(out->changes);
    for (size_t i = 0; i < r->n_changes; i++) out->changes[out->n++] = r->changes[i];
    if (r->head_revision) {
      out->head = r->head_revision;
      assert_false(r->more);
    }
  }
}

char TODAY[11];
int Y, M, D;

void dates_init(void) {
  sg_today(TODAY, sizeof TODAY);
  sg_date t;
  assert_int_equal(sg_validate_date(TODAY, &t, NULL, 0), 0);
  Y = t.year;
  M = t.month;
  D = t.day;
}

char *ymd(char *out, int y, int m, int d) {
  snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u, (unsigned)d % 100u);
  return out;
}

char *today_plus(char *out, long days) {
  sg_date t = {Y, M, D}, r;
  sg_date_from_days(sg_date_days(&t) + days, &r);
  sg_date_format(&r, out, 11);
  return out;
}

sg_client *operator_client(const hs_server *srv, sg_client *admin, const char *town,
                           const char *name) {
  Shegong__V1__Token t = SHEGONG__V1__TOKEN__INIT;
  t.role = SHEGONG__V1__PRINCIPAL_ROLE__TOWN_OPERATOR;
  t.town_code = (char *)town;
  t.name = (char *)name;
  Shegong__V1__CreateTokenRequest req = SHEGONG__V1__CREATE_TOKEN_REQUEST__INIT;
  req.token = &t;
  Shegong__V1__CreateTokenResponse *r = call_ok(admin, "Tokens/Create", &req.base);
  assert_true(r->secret[0] != 0);
  sg_client *c = NULL;
  sg_status st;
  /* the library takes $SHEGONG_TOKEN_FILE at connect: leave the admin's out */
  hs_use_token_file(NULL);
  int rc = sg_client_connect(&c, srv->addr, 5000, &st);
  hs_use_token_file(srv->token_file);
  if (rc) print_status("connect", &st);
  assert_int_equal(rc, 0);
  assert_int_equal(sg_client_set_token(c, r->secret), 0);
  free_msg(r);
  return c;
}

int start_test_server(hs_server *s, sg_client **c) {
  if (hs_server_start(s, NULL, NULL) != 0) {
    hs_server_cleanup(s);
    return -1;
  }
  sg_status st;
  if (sg_client_connect(c, s->addr, 5000, &st) != 0) {
    fprintf(stderr, "connect %s: %s: %s\n", s->addr, sg_code_name(st.code), st.message);
    hs_server_print_log(s, 40);
    hs_server_cleanup(s);
    return -1;
  }
  return 0;
}

int stop_test_server(hs_server *s, int done, const char *tag) {
  if (s->pid <= 0) return 0;
  if (!hs_server_alive(s)) {
    fprintf(stderr, "[%s] the server died during the test\n", tag);
    hs_server_print_log(s, 60);
    return -1;
  }
  int code = hs_server_stop(s);
  if (code != 0) fprintf(stderr, "[%s] the server exited with %d on SIGTERM, not 0\n", tag, code);
  if (code != 0 || !done) hs_server_print_log(s, 60);
  return code != 0 ? -1 : 0;
}
