/*
 * Reading packed protobuf messages field by field, without decoding them:
 * for answers made from stored bytes (a record copied as it is, masked in
 * place of a decode and an encode).
 */
#ifndef SG_WIRE_H
#define SG_WIRE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sg_wire_field {
  uint32_t number;      /* the field number */
  unsigned type;        /* wire type: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 */
  const uint8_t *start; /* the field's first byte (its tag) */
  const uint8_t *value; /* type 2: the value's first byte (after its length) */
  size_t len;           /* type 2: the value's length */
  const uint8_t *end;   /* one past the field's last byte */
} sg_wire_field;

/* sg_wire_next's general case (tags or lengths of more than one byte). */
int sg_wire_next_slow(const uint8_t **p, const uint8_t *end, sg_wire_field *f);

/*
 * The field at *p, which must end by end; advances *p past it. Returns 1 for
 * a field, 0 at the end, -1 for bytes that do not parse (a varint that runs
 * off or past ten bytes, a length past the end, field number 0, a group).
 * Inline for the common shapes, which the answers' fields all have: a tag of
 * one or two bytes (fields 1-2047), then a varint, or a length of one byte
 * (under 128) and the value. Anything else, valid or not, goes to
 * sg_wire_next_slow, which gives the same answers for these (test_wire).
 */
static inline int sg_wire_next(const uint8_t **p, const uint8_t *end, sg_wire_field *f) {
  const uint8_t *q = *p;
  if (q >= end) return 0;
  uint32_t tag;
  if (q[0] < 0x80) {
    tag = q[0];
    q += 1;
  } else if (end - q >= 2 && q[1] < 0x80) {
    tag = (uint32_t)(q[0] & 0x7f) | (uint32_t)q[1] << 7;
    q += 2;
  } else {
    return sg_wire_next_slow(p, end, f);
  }
  unsigned type = tag & 7;
  if (tag >> 3 == 0 || (type != 0 && type != 2)) return sg_wire_next_slow(p, end, f);
  const uint8_t *value = NULL;
  size_t len = 0;
  if (type == 0) {
    size_t i = 0;
    while (i < 10 && q + i < end && (q[i] & 0x80)) i++;
    if (i == 10 || q + i >= end) return sg_wire_next_slow(p, end, f);
    q += i + 1;
  } else {
    if (q >= end || q[0] >= 0x80 || (size_t)(end - q - 1) < q[0]) return sg_wire_next_slow(p, end, f);
    len = q[0];
    value = q + 1;
    q = value + len;
  }
  f->start = *p;
  f->number = tag >> 3;
  f->type = type;
  f->value = value;
  f->len = len;
  f->end = q;
  *p = q;
  return 1;
}

/* Writes v as a varint to out (room for 10 bytes); returns the bytes written. */
size_t sg_wire_put_varint(uint8_t *out, uint64_t v);
/* The bytes sg_wire_put_varint writes for v. */
size_t sg_wire_varint_len(uint64_t v);

#endif
