#include "wire.h"

static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  uint64_t x = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    x |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return -1;
}

int sg_wire_next_slow(const uint8_t **p, const uint8_t *end, sg_wire_field *f) {
  if (*p >= end) return 0;
  const uint8_t *q = *p;
  uint64_t tag, n;
  f->start = q;
  f->value = NULL;
  f->len = 0;
  if (varint(&q, end, &tag) || tag >> 3 == 0 || tag >> 3 > 0x1fffffff) return -1;
  f->number = (uint32_t)(tag >> 3);
  f->type = (unsigned)(tag & 7);
  switch (f->type) {
  case 0:
    if (varint(&q, end, &n)) return -1;
    break;
  case 1:
    if (end - q < 8) return -1;
    q += 8;
    break;
  case 5:
    if (end - q < 4) return -1;
    q += 4;
    break;
  case 2:
    if (varint(&q, end, &n) || n > (uint64_t)(end - q)) return -1;
    f->value = q;
    f->len = (size_t)n;
    q += n;
    break;
  default:
    return -1; /* groups (3, 4) and the unused 6, 7 are not in our schemas */
  }
  f->end = q;
  *p = q;
  return 1;
}

size_t sg_wire_varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) v >>= 7, n++;
  return n;
}

size_t sg_wire_put_varint(uint8_t *out, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  out[n++] = (uint8_t)v;
  return n;
}
