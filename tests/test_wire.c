/*
 * Packed messages read field by field (common/wire.c) and masked without a
 * decode (sg_mask_pii_wire): the bytes must be those a decode, sg_mask_pii
 * and an encode give, and bad bytes must be refused without reading past
 * them.
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "auth.h"
#include "error.h"
#include "shegong/v1/workers.pb-c.h"
#include "wire.h"

static Shegong__V1__Worker worker(const char *idno, const char *phone) {
  Shegong__V1__Worker w = SHEGONG__V1__WORKER__INIT;
  w.id = 4000000001ull;
  w.version = 3;
  w.revision = 1ull << 40;
  w.name = "欧阳 娜仁其其格";
  w.gender = SHEGONG__V1__GENDER__FEMALE;
  w.birth_date = "1985-03-07";
  w.id_number = (char *)idno;
  w.phone = (char *)phone;
  w.level = 7;
  w.post = "主管";
  w.unit_id = 300;
  w.unit_code = "320602001001";
  w.town_code = "320602001";
  w.hire_date = "2019-06-01";
  w.status = SHEGONG__V1__WORKER_STATUS__ACTIVE;
  w.created_at = "2026-11-25T17:00:00Z";
  return w;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *n) {
  *n = protobuf_c_message_get_packed_size(m);
  uint8_t *b = malloc(*n ? *n : 1);
  assert_non_null(b);
  protobuf_c_message_pack(m, b);
  return b;
}

static void test_fields_in_order(void **state) {
  (void)state;
  Shegong__V1__Worker w = worker("32060219850307002X", "13812345678");
  size_t n;
  uint8_t *b = pack(&w.base, &n);
  const uint8_t *p = b;
  sg_wire_field f;
  uint32_t last = 0;
  int r, fields = 0;
  while ((r = sg_wire_next(&p, b + n, &f)) == 1) {
    assert_true(f.number > last);
    last = f.number;
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field(&shegong__v1__worker__descriptor, f.number);
    assert_non_null(fd);
    if (f.number == 7) {
      assert_int_equal(f.type, 2);
      assert_int_equal(f.len, 18);
      assert_memory_equal(f.value, "32060219850307002X", 18);
    }
    if (f.number == 17) assert_int_equal(f.type, 0);
    fields++;
  }
  assert_int_equal(r, 0);
  assert_ptr_equal(p, b + n);
  assert_int_equal(fields, 16); /* the fields worker() sets */
  free(b);
}

static void test_bad_bytes(void **state) {
  (void)state;
  sg_wire_field f;
  static const struct {
    const char *why;
    uint8_t b[16];
    size_t n;
  } bad[] = {
      {"a varint of eleven bytes", {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 12},
      {"a varint that runs off", {0x08, 0x80}, 2},
      {"field number 0", {0x00, 0x01}, 2},
      {"a group", {0x0b, 0x0c}, 2},
      {"wire type 7", {0x0f, 0x00}, 2},
      {"a length past the end", {0x22, 0x05, 'a', 'b'}, 4},
      {"a fixed64 cut short", {0x09, 1, 2, 3}, 4},
      {"a fixed32 cut short", {0x0d, 1, 2}, 3},
      {"a tag that runs off", {0x80}, 1},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    /* a heap copy of exactly n bytes: ASan catches a read past them */
    uint8_t *b = malloc(bad[i].n);
    memcpy(b, bad[i].b, bad[i].n);
    const uint8_t *p = b;
    int r;
    while ((r = sg_wire_next(&p, b + bad[i].n, &f)) == 1) {}
    if (r != -1) fail_msg("%s: parsed", bad[i].why);
    free(b);
  }
  /* every prefix of a real record: a clean end at a field boundary, -1 anywhere else */
  Shegong__V1__Worker w = worker("32060219850307002X", "13812345678");
  size_t n;
  uint8_t *full = pack(&w.base, &n);
  for (size_t cut = 0; cut < n; cut++) {
    uint8_t *b = malloc(cut ? cut : 1);
    memcpy(b, full, cut);
    const uint8_t *p = b;
    int r;
    while ((r = sg_wire_next(&p, b + cut, &f)) == 1) {}
    assert_true(r == 0 || r == -1);
    if (r == 0) assert_ptr_equal(p, b + cut);
    free(b);
  }
  free(full);
}

/*
 * The wire masker against decode + sg_mask_pii + encode, byte for byte; with
 * leaks set, also that the clear values appear nowhere in the answer (for
 * workers whose other fields cannot hold them).
 */
static void check_same(const Shegong__V1__Worker *w, int leaks) {
  const char *idno = w->id_number, *phone = w->phone;
  size_t n;
  uint8_t *b = pack(&w->base, &n);
  sg_arena a;
  sg_arena_init(&a, 1 << 16);
  uint8_t *out;
  size_t out_len;
  assert_int_equal(sg_mask_pii_wire(&shegong__v1__worker__descriptor, b, n, &a, &out, &out_len), 0);
  ProtobufCMessage *d = protobuf_c_message_unpack(&shegong__v1__worker__descriptor, &a.allocator, n, b);
  assert_non_null(d);
  assert_int_equal(sg_mask_pii(d, &a), 0);
  size_t want_len;
  uint8_t *want = pack(d, &want_len);
  if (out_len != want_len || memcmp(out, want, want_len) != 0)
    fail_msg("id_number \"%s\", phone \"%s\": the wire masker's %zu bytes differ from the decoder's %zu",
             idno, phone, out_len, want_len);
  if (leaks && idno[0]) assert_null(memmem(out, out_len, idno, strlen(idno)));
  if (leaks && strlen(phone) >= 8) assert_null(memmem(out, out_len, phone, strlen(phone)));
  free(want);
  free(b);
  sg_arena_destroy(&a);
}

static void test_mask_matches_decoder(void **state) {
  (void)state;
  static const char *const cases[][2] = {
      {"32060219850307002X", "13812345678"},
      {"32060219850307002X", ""},
      {"", "13812345678"},
      {"", ""},
      {"32060219850307002X", "0513-85123456"},
      {"32060219850307002X", "1234567"},            /* short: "****" */
      {"3206021985030700", "+86 138 1234 5678"},    /* stored before validation tightened */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    Shegong__V1__Worker w = worker(cases[i][0], cases[i][1]);
    check_same(&w, 1);
  }
}

/* Random workers, every field set or not: the wire masker and the decoder agree byte for byte. */
static void test_mask_matches_decoder_random(void **state) {
  (void)state;
  srand(7421);
  static const char *const strs[] = {"", "32060219850307002X", "13812345678", "0513-85123456",
                                     "主管", "320602001001", "1234567", "欧阳 娜仁其其格",
                                     "2026-11-25T17:00:00Z", "3206021985030700"};
#define PICK() (rand() % 3 ? strs[rand() % 10] : "")
  for (int i = 0; i < 5000; i++) {
    Shegong__V1__Worker w = SHEGONG__V1__WORKER__INIT;
    w.id = rand() % 2 ? (uint64_t)rand() << 20 : 0;
    w.version = (uint64_t)(rand() % 5);
    w.revision = rand() % 2 ? (uint64_t)rand() << 33 : 0;
    w.name = (char *)PICK();
    w.gender = rand() % 3;
    w.birth_date = (char *)PICK();
    w.id_number = (char *)PICK();
    w.phone = (char *)PICK();
    w.education = rand() % 8;
    w.party_member = rand() % 2;
    w.level = (uint32_t)(rand() % 20);
    w.post = (char *)PICK();
    w.unit_id = (uint64_t)rand();
    w.unit_code = (char *)PICK();
    w.grid_code = (char *)PICK();
    w.hire_date = (char *)PICK();
    w.status = rand() % 4;
    w.leave_date = (char *)PICK();
    w.leave_reason = (char *)PICK();
    w.town_code = (char *)PICK();
    w.created_at = (char *)PICK();
    w.updated_at = (char *)PICK();
    check_same(&w, 0); /* a value may stand in another field too */
  }
#undef PICK
}

static void test_mask_refuses(void **state) {
  (void)state;
  sg_arena a;
  sg_arena_init(&a, 1 << 16);
  uint8_t *out;
  size_t out_len;
  /* personal data one level down: the caller must decode */
  Shegong__V1__Worker w = worker("32060219850307002X", "13812345678");
  Shegong__V1__CreateWorkerRequest req = SHEGONG__V1__CREATE_WORKER_REQUEST__INIT;
  req.worker = &w;
  size_t n;
  uint8_t *b = pack(&req.base, &n);
  assert_int_equal(
      sg_mask_pii_wire(&shegong__v1__create_worker_request__descriptor, b, n, &a, &out, &out_len),
      SG_EINVAL);
  free(b);
  /* a value too long to mask in place */
  char longp[80];
  memset(longp, '1', sizeof longp - 1);
  longp[sizeof longp - 1] = 0;
  w = worker("32060219850307002X", longp);
  b = pack(&w.base, &n);
  assert_int_equal(sg_mask_pii_wire(&shegong__v1__worker__descriptor, b, n, &a, &out, &out_len),
                   SG_EINVAL);
  free(b);
  /* bytes that do not parse: a record cut short */
  w = worker("32060219850307002X", "13812345678");
  b = pack(&w.base, &n);
  assert_int_equal(sg_mask_pii_wire(&shegong__v1__worker__descriptor, b, n - 1, &a, &out, &out_len),
                   SG_EDATALOSS);
  free(b);
  sg_arena_destroy(&a);
  /* an arena too small for the copy */
  sg_arena_init(&a, 64);
  w = worker("32060219850307002X", "13812345678");
  b = pack(&w.base, &n);
  assert_int_equal(sg_mask_pii_wire(&shegong__v1__worker__descriptor, b, n, &a, &out, &out_len),
                   SG_ENOMEM);
  free(b);
  sg_arena_destroy(&a);
}

/* Random bytes and randomly damaged records: refused or masked, never read past. */
static void test_random_bytes(void **state) {
  (void)state;
  srand(20261125);
  Shegong__V1__Worker w = worker("32060219850307002X", "13812345678");
  size_t rn;
  uint8_t *record = pack(&w.base, &rn);
  sg_arena a;
  sg_arena_init(&a, 1 << 20);
  for (int i = 0; i < 20000; i++) {
    size_t n = (size_t)(rand() % 300);
    uint8_t *b = malloc(n ? n : 1);
    if (i % 2 && n <= rn) {
      memcpy(b, record, n);
      if (n) b[rand() % n] ^= (uint8_t)(1u << (rand() % 8)); /* one bit flipped */
    } else {
      for (size_t k = 0; k < n; k++) b[k] = (uint8_t)rand();
    }
    uint8_t *out;
    size_t out_len;
    int rc = sg_mask_pii_wire(&shegong__v1__worker__descriptor, b, n, &a, &out, &out_len);
    assert_true(rc == 0 || rc == SG_EINVAL || rc == SG_EDATALOSS);
    if (rc == 0) assert_true(out_len <= n + 2 * 80);
    /* the inline fast path and the general one read the same fields */
    const uint8_t *p = b, *q = b;
    sg_wire_field f, g;
    int r1, r2;
    do {
      r1 = sg_wire_next(&p, b + n, &f);
      r2 = sg_wire_next_slow(&q, b + n, &g);
      assert_int_equal(r1, r2);
      if (r1 != 1) break;
      assert_true(f.end <= b + n && f.start < f.end);
      assert_ptr_equal(f.start, g.start);
      assert_ptr_equal(f.end, g.end);
      assert_ptr_equal(f.value, g.value);
      assert_int_equal(f.number, g.number);
      assert_int_equal(f.type, g.type);
      assert_int_equal(f.len, g.len);
      assert_ptr_equal(p, q);
    } while (1);
    free(b);
    sg_arena_reset(&a);
  }
  sg_arena_destroy(&a);
  free(record);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fields_in_order),
      cmocka_unit_test(test_bad_bytes),
      cmocka_unit_test(test_mask_matches_decoder),
      cmocka_unit_test(test_mask_matches_decoder_random),
      cmocka_unit_test(test_mask_refuses),
      cmocka_unit_test(test_random_bytes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
