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

/*
 * The field at *p, which must end by end; advances *p past it. Returns 1 for
 * a field, 0 at the end, -1 for bytes that do not parse (a varint that runs
 * off or past ten bytes, a length past the end, field number 0, a group).
 */
int sg_wire_next(const uint8_t **p, const uint8_t *end, sg_wire_field *f);

/* Writes v as a varint to out (room for 10 bytes); returns the bytes written. */
size_t sg_wire_put_varint(uint8_t *out, uint64_t v);

#endif
