/* Frame codec: every split offset, bad lengths, garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "error.h"
#include "frame.h"
#include "wire.h"

typedef struct collected {
  sg_frame *frames[16];
  size_t n;
  int stop_after; /* return 1 from the callback after this many; 0 = never */
} collected;

static int collect(void *ctx, sg_frame *f) {
  collected *c = ctx;
  assert_true(c->n < 16);
  c->frames[c->n++] = f;
  return c->stop_after && (int)c->n >= c->stop_after ? 1 : 0;
}

static void collected_free(collected *c) {
  for (size_t i = 0; i < c->n; i++) sg_frame_free(c->frames[i]);
  c->n = 0;
}

/* Three frames of different shapes, back to back. */
static uint8_t *three_frames(size_t *len) {
  static char payload_text[] = "payload bytes with 中文";
  Shegong__V1__Metadata md = SHEGONG__V1__METADATA__INIT, *mdp = &md;
  md.key = "Authorization";
  md.value = "Bearer abc";
  sg_frame f[3];
  for (int i = 0; i < 3; i++) shegong__v1__frame__init(&f[i]);
  f[0].call_id = 1;
  f[0].method = "/shegong.v1.Admin/Hello";
  f[0].flags = SG_FLAG_END_STREAM;
  f[1].call_id = 2;
  f[1].method = "/shegong.v1.Workers/Get";
  f[1].timeout_ms = 1500;
  f[1].n_metadata = 1;
  f[1].metadata = &mdp;
  f[1].payload.data = (uint8_t *)payload_text;
  f[1].payload.len = strlen(payload_text);
  f[2].call_id = 4000000000u;
  f[2].flags = SG_FLAG_CANCEL;
  size_t total = 0;
  for (int i = 0; i < 3; i++) total += sg_frame_wire_size(&f[i]);
  uint8_t *buf = malloc(total), *p = buf;
  for (int i = 0; i < 3; i++) {
    sg_frame_write(&f[i], p);
    p += sg_frame_wire_size(&f[i]);
  }
  *len = total;
  return buf;
}

static void check_three(const collected *c) {
  assert_int_equal(c->n, 3);
  assert_int_equal(c->frames[0]->call_id, 1);
  assert_string_equal(c->frames[0]->method, "/shegong.v1.Admin/Hello");
  assert_int_equal(c->frames[0]->flags, SG_FLAG_END_STREAM);
  assert_int_equal(c->frames[1]->call_id, 2);
  assert_int_equal(c->frames[1]->timeout_ms, 1500);
  assert_string_equal(sg_frame_metadata(c->frames[1], "authorization"), "Bearer abc");
  assert_null(sg_frame_metadata(c->frames[1], "client-id"));
  assert_int_equal(c->frames[1]->payload.len, strlen("payload bytes with 中文"));
  assert_memory_equal(c->frames[1]->payload.data, "payload bytes with 中文",
                      c->frames[1]->payload.len);
  assert_int_equal(c->frames[2]->call_id, 4000000000u);
  assert_int_equal(c->frames[2]->flags, SG_FLAG_CANCEL);
}

static void test_all_at_once(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = three_frames(&len);
  sg_frame_decoder d;
  sg_frame_decoder_init(&d, 0);
  collected c = {0};
  assert_int_equal(sg_frame_decoder_feed(&d, buf, len, collect, &c, NULL, 0), 0);
  check_three(&c);
  assert_false(sg_frame_decoder_pending(&d));
  collected_free(&c);
  sg_frame_decoder_free(&d);
  free(buf);
}

static void test_every_split_offset(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = three_frames(&len);
  for (size_t split = 0; split <= len; split++) {
    sg_frame_decoder d;
    sg_frame_decoder_init(&d, 0);
    collected c = {0};
    assert_int_equal(sg_frame_decoder_feed(&d, buf, split, collect, &c, NULL, 0), 0);
    assert_int_equal(sg_frame_decoder_feed(&d, buf + split, len - split, collect, &c, NULL, 0), 0);
    check_three(&c);
    assert_false(sg_frame_decoder_pending(&d));
    collected_free(&c);
    sg_frame_decoder_free(&d);
  }
  free(buf);
}

static void test_one_byte_at_a_time(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = three_frames(&len);
  sg_frame_decoder d;
  sg_frame_decoder_init(&d, 0);
  collected c = {0};
  for (size_t i = 0; i < len; i++) {
    assert_int_equal(sg_frame_decoder_feed(&d, buf + i, 1, collect, &c, NULL, 0), 0);
    /* between frames nothing is held; inside one, something is */
    if (i == 0) assert_true(sg_frame_decoder_pending(&d));
  }
  check_three(&c);
  assert_false(sg_frame_decoder_pending(&d));
  collected_free(&c);
  sg_frame_decoder_free(&d);
  free(buf);
}

static void test_zero_length(void **state) {
  (void)state;
  uint8_t zero[8] = {0, 0, 0, 0, 1, 2, 3, 4};
  sg_frame_decoder d;
  sg_frame_decoder_init(&d, 0);
  collected c = {0};
  char why[128];
  assert_int_equal(sg_frame_decoder_feed(&d, zero, sizeof zero, collect, &c, why, sizeof why),
                   SG_EPROTO);
  assert_non_null(strstr(why, "zero-length"));
  assert_int_equal(c.n, 0);
  /* sticky: a broken stream is never resynchronised */
  size_t len;
  uint8_t *buf = three_frames(&len);
  assert_int_equal(sg_frame_decoder_feed(&d, buf, len, collect, &c, why, sizeof why), SG_EPROTO);
  assert_int_equal(c.n, 0);
  free(buf);
  sg_frame_decoder_free(&d);
}

static void test_oversize_rejected_before_allocation(void **state) {
  (void)state;
  sg_frame_decoder d;
  sg_frame_decoder_init(&d, 1024);
  collected c = {0};
  char why[128];
  uint8_t hdr[4] = {0, 0, 4, 1}; /* 1025 */
  assert_int_equal(sg_frame_decoder_feed(&d, hdr, 3, collect, &c, why, sizeof why), 0);
  assert_int_equal(sg_frame_decoder_feed(&d, hdr + 3, 1, collect, &c, why, sizeof why),
                   SG_ETOOBIG);
  assert_null(d.body);
  assert_non_null(strstr(why, "1025"));
  assert_non_null(strstr(why, "1024"));
  sg_frame_decoder_free(&d);

  /* the largest length is read as unsigned, not as a negative size */
  uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
  sg_frame_decoder_init(&d, 0);
  assert_int_equal(sg_frame_decoder_feed(&d, huge, 4, collect, &c, why, sizeof why), SG_ETOOBIG);
  assert_null(d.body);
  assert_non_null(strstr(why, "4294967295"));
  sg_frame_decoder_free(&d);
}

static void test_exact_limit_accepted(void **state) {
  (void)state;
  uint8_t payload[300];
  memset(payload, 'x', sizeof payload);
  sg_frame f = SHEGONG__V1__FRAME__INIT;
  f.call_id = 9;
  f.payload.data = payload;
  f.payload.len = sizeof payload;
  size_t n = sg_frame_wire_size(&f);
  uint8_t *buf = malloc(n);
  sg_frame_write(&f, buf);
  sg_frame_decoder d;
  collected c = {0};
  sg_frame_decoder_init(&d, (uint32_t)(n - 4));
  assert_int_equal(sg_frame_decoder_feed(&d, buf, n, collect, &c, NULL, 0), 0);
  assert_int_equal(c.n, 1);
  collected_free(&c);
  sg_frame_decoder_free(&d);
  sg_frame_decoder_init(&d, (uint32_t)(n - 5));
  assert_int_equal(sg_frame_decoder_feed(&d, buf, n, collect, &c, NULL, 0), SG_ETOOBIG);
  assert_int_equal(c.n, 0);
  sg_frame_decoder_free(&d);
  free(buf);
}

static void test_garbage_body(void **state) {
  (void)state;
  /* a length-delimited field whose length runs past the body */
  uint8_t bad[] = {0, 0, 0, 6, 0x12, 0x7f, 'a', 'b', 'c', 'd'};
  sg_frame_decoder d;
  sg_frame_decoder_init(&d, 0);
  collected c = {0};
  char why[128];
  assert_int_equal(sg_frame_decoder_feed(&d, bad, sizeof bad, collect, &c, why, sizeof why),
                   SG_EPROTO);
  assert_non_null(strstr(why, "not a valid"));
  assert_int_equal(c.n, 0);
  sg_frame_decoder_free(&d);

  /* the same garbage split so that the body is buffered first */
  sg_frame_decoder_init(&d, 0);
  assert_int_equal(sg_frame_decoder_feed(&d, bad, 5, collect, &c, why, sizeof why), 0);
  assert_int_equal(sg_frame_decoder_feed(&d, bad + 5, sizeof bad - 5, collect, &c, why, sizeof why),
                   SG_EPROTO);
  sg_frame_decoder_free(&d);
}

static void test_random_bytes_never_crash(void **state) {
  (void)state;
  uint64_t x = 0x9e3779b97f4a7c15u;
  uint8_t buf[512];
  for (int round = 0; round < 2000; round++) {
    for (size_t i = 0; i < sizeof buf; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      buf[i] = (uint8_t)x;
    }
    /* small lengths so that bodies get decoded, not just rejected as too big */
    buf[0] = 0;
    buf[1] = 0;
    buf[2] = 0;
    sg_frame_decoder d;
    sg_frame_decoder_init(&d, 4096);
    collected c = {0};
    size_t off = 0;
    while (off < sizeof buf) {
      size_t n = 1 + (x >> 3) % 64;
      if (n > sizeof buf - off) n = sizeof buf - off;
      int rc = sg_frame_decoder_feed(&d, buf + off, n, collect, &c, NULL, 0);
      if (rc) {
        assert_true(rc == SG_EPROTO || rc == SG_ETOOBIG);
        break;
      }
      if (c.n > 8) collected_free(&c);
      off += n;
    }
    collected_free(&c);
    sg_frame_decoder_free(&d);
  }
}

static void test_callback_stop(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = three_frames(&len);
  sg_frame_decoder d;
  sg_frame_decoder_init(&d, 0);
  collected c = {.stop_after = 1};
  assert_int_equal(sg_frame_decoder_feed(&d, buf, len, collect, &c, NULL, 0), 1);
  assert_int_equal(c.n, 1);
  collected_free(&c);
  sg_frame_decoder_free(&d);
  free(buf);
}

/* Answers encoded without protobuf-c: the bytes protobuf-c gives, shape by shape. */
static void check_encoding(const sg_frame *f) {
  size_t n = sg_frame_wire_size(f);
  uint8_t *mine = malloc(n);
  assert_non_null(mine);
  sg_frame_write(f, mine);
  size_t want = shegong__v1__frame__get_packed_size(f);
  uint8_t *theirs = malloc(want ? want : 1);
  assert_non_null(theirs);
  shegong__v1__frame__pack(f, theirs);
  assert_int_equal(n, SG_FRAME_HEADER_BYTES + want);
  assert_memory_equal(mine + SG_FRAME_HEADER_BYTES, theirs, want);
  assert_int_equal(((size_t)mine[0] << 24 | (size_t)mine[1] << 16 | (size_t)mine[2] << 8 | mine[3]), want);
  free(mine);
  free(theirs);
}

static void test_answer_encoding(void **state) {
  (void)state;
  static uint8_t payload[70000];
  for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i * 7);
  const uint32_t ids[] = {0, 1, 127, 128, 16383, 16384, 4000000000u};
  const uint32_t flags[] = {0, 1, 2, 3, 200};
  const size_t lens[] = {0, 1, 127, 128, 300, 16384, 70000};
  Shegong__V1__Status ok = SHEGONG__V1__STATUS__INIT, bad = SHEGONG__V1__STATUS__INIT;
  bad.code = SHEGONG__V1__CODE__NOT_FOUND;
  bad.message = "no worker 7";
  Shegong__V1__Status *statuses[] = {NULL, &ok, &bad};
  for (size_t a = 0; a < sizeof ids / sizeof ids[0]; a++)
    for (size_t b = 0; b < sizeof flags / sizeof flags[0]; b++)
      for (size_t c = 0; c < sizeof lens / sizeof lens[0]; c++)
        for (size_t d = 0; d < 3; d++) {
          sg_frame f = SHEGONG__V1__FRAME__INIT;
          f.call_id = ids[a];
          f.flags = flags[b];
          f.payload.data = payload;
          f.payload.len = lens[c];
          f.status = statuses[d];
          check_encoding(&f);
        }
  /* shapes that go through protobuf-c: a method, metadata, a timeout */
  sg_frame f = SHEGONG__V1__FRAME__INIT;
  f.call_id = 9;
  f.method = "/shegong.v1.Workers/Get";
  f.timeout_ms = 5000;
  Shegong__V1__Metadata m = SHEGONG__V1__METADATA__INIT, *mp = &m;
  m.key = "authorization";
  m.value = "Bearer x";
  f.metadata = &mp;
  f.n_metadata = 1;
  check_encoding(&f);
  ok.message = "";
  f = (sg_frame)SHEGONG__V1__FRAME__INIT;
  f.status = &ok;
  check_encoding(&f);
}

/* ---- the plain decoder against protobuf-c ---- */

typedef struct body {
  uint8_t b[4096];
  size_t n;
} body;

static unsigned rnd(unsigned n) { return (unsigned)rand() % n; }

static void put_tag(body *o, uint32_t number, unsigned type, int two_bytes) {
  uint32_t tag = number << 3 | type;
  if (two_bytes && tag < 0x80) {
    o->b[o->n++] = (uint8_t)(tag | 0x80); /* the same tag, padded to two bytes */
    o->b[o->n++] = 0;
  } else {
    o->n += sg_wire_put_varint(o->b + o->n, tag);
  }
}

/* A length, sometimes padded to up to seven bytes (0x80 continuations): valid
 * varints that protobuf-c still refuses past five bytes. */
static void put_len(body *o, size_t len) {
  if (rnd(15) == 0 && len < 0x80) {
    int pad = 1 + (int)rnd(6);
    o->b[o->n++] = (uint8_t)(len | 0x80);
    for (int i = 1; i < pad; i++) o->b[o->n++] = 0x80;
    o->b[o->n++] = 0;
  } else {
    o->n += sg_wire_put_varint(o->b + o->n, len);
  }
}

static void put_str(body *o, uint32_t number, const char *v, size_t len) {
  put_tag(o, number, 2, rnd(20) == 0);
  put_len(o, len);
  memcpy(o->b + o->n, v, len);
  o->n += len;
}

static void put_u(body *o, uint32_t number, uint64_t v) {
  put_tag(o, number, 0, rnd(20) == 0);
  o->n += sg_wire_put_varint(o->b + o->n, v);
}

/* A frame body: mostly the shapes clients send, sometimes not. */
static void random_frame(body *o) {
  static const char *const strs[] = {"", "/shegong.v1.Workers/Get", "authorization",
                                     "Bearer abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "x\0y"};
  o->n = 0;
  int fields = (int)rnd(9);
  for (int i = 0; i < fields; i++) {
    switch (rnd(12)) {
    case 0: case 1: put_u(o, 1, rnd(4) ? rnd(100000) : ((uint64_t)rand() << 31 | (uint64_t)rand())); break;
    case 2: case 3: { const char *v = strs[rnd(5)]; put_str(o, 2, v, strlen(v) + (rnd(10) == 0)); break; }
    case 4: put_u(o, 3, rnd(4)); break;
    case 5: put_u(o, 4, rnd(3) ? rnd(70000) : 1ull << 33); break;
    case 6: case 7: {
      body m = {.n = 0};
      int k = (int)rnd(4);
      for (int j = 0; j < k; j++) {
        const char *v = strs[rnd(5)];
        if (rnd(15) == 0) put_u(&m, 1, 5); /* a varint where a string goes */
        else put_str(&m, 1 + rnd(rnd(10) ? 2 : 4), v, strlen(v));
      }
      put_tag(o, 5, 2, 0);
      put_len(o, m.n);
      memcpy(o->b + o->n, m.b, m.n);
      o->n += m.n;
      break;
    }
    case 8: case 9: { uint8_t pl[40]; size_t n = rnd(40); for (size_t k = 0; k < n; k++) pl[k] = (uint8_t)rand(); put_str(o, 6, (const char *)pl, n); break; }
    case 10: put_str(o, 7, "\x08\x05", 2); break; /* a status */
    default: put_u(o, 9 + rnd(30), rnd(1000)); break; /* an unknown field */
    }
  }
  if (rnd(25) == 0 && o->n) o->n -= 1 + rnd((unsigned)o->n); /* cut short */
  if (rnd(25) == 0 && o->n) o->b[rnd((unsigned)o->n)] ^= (uint8_t)(1u << rnd(8));
}

static int keep_one(void *ctx, sg_frame *f) {
  *(sg_frame **)ctx = f;
  return 0;
}

static void same_str(const char *a, const char *b) { assert_string_equal(a ? a : "", b ? b : ""); }

static void test_plain_decoder_matches_protobuf_c(void **state) {
  (void)state;
  srand(7420);
  sg_arena arena;
  sg_arena_init(&arena, 1 << 20);
  body o;
  for (int i = 0; i < 30000; i++) {
    random_frame(&o);
    if (o.n == 0) continue;
    uint8_t wire[4100];
    wire[0] = (uint8_t)(o.n >> 24), wire[1] = (uint8_t)(o.n >> 16), wire[2] = (uint8_t)(o.n >> 8),
    wire[3] = (uint8_t)o.n;
    memcpy(wire + 4, o.b, o.n);
    sg_frame_decoder d;
    sg_frame_decoder_init(&d, 1 << 20);
    d.alloc = &arena.allocator;
    sg_frame *mine = NULL;
    int rc = sg_frame_decoder_feed(&d, wire, o.n + 4, keep_one, &mine, NULL, 0);
    sg_frame *ref = shegong__v1__frame__unpack(NULL, o.n, o.b);
    if (!ref) {
      assert_int_equal(rc, SG_EPROTO);
    } else {
      assert_int_equal(rc, 0);
      assert_non_null(mine);
      assert_int_equal(mine->call_id, ref->call_id);
      same_str(mine->method, ref->method);
      assert_int_equal(mine->flags, ref->flags);
      assert_int_equal(mine->timeout_ms, ref->timeout_ms);
      assert_int_equal(mine->n_metadata, ref->n_metadata);
      for (size_t k = 0; k < ref->n_metadata; k++) {
        same_str(mine->metadata[k]->key, ref->metadata[k]->key);
        same_str(mine->metadata[k]->value, ref->metadata[k]->value);
      }
      assert_int_equal(mine->payload.len, ref->payload.len);
      if (ref->payload.len) assert_memory_equal(mine->payload.data, ref->payload.data, ref->payload.len);
      assert_int_equal(mine->status != NULL, ref->status != NULL);
      shegong__v1__frame__free_unpacked(ref, NULL);
    }
    sg_frame_decoder_free(&d);
    sg_arena_reset(&arena);
  }
  sg_arena_destroy(&arena);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_all_at_once),
      cmocka_unit_test(test_every_split_offset),
      cmocka_unit_test(test_one_byte_at_a_time),
      cmocka_unit_test(test_zero_length),
      cmocka_unit_test(test_oversize_rejected_before_allocation),
      cmocka_unit_test(test_exact_limit_accepted),
      cmocka_unit_test(test_garbage_body),
      cmocka_unit_test(test_random_bytes_never_crash),
      cmocka_unit_test(test_callback_stop),
      cmocka_unit_test(test_answer_encoding),
      cmocka_unit_test(test_plain_decoder_matches_protobuf_c),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
