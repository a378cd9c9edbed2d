#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "calls.h"
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
