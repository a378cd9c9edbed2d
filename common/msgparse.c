#include "msgparse.h"

#include "error.h"
#include "labels.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longer than any field name in our protos; longer names cannot match. */
#define FIELD_NAME_MAX 128

/* One parsed value, before it is stored in place or appended. */
typedef union field_value {
  int32_t i32;
  uint32_t u32;
  int64_t i64;
  uint64_t u64;
  float f;
  double d;
  protobuf_c_boolean b;
  int e;
  char *s;
} field_value;

static int fail(char *why, size_t whylen, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *why, size_t whylen, int err, const char *fmt, ...) {
  if (why && whylen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
  }
  return err;
}

static void *pb_alloc(ProtobufCAllocator *a, size_t n) {
  return a ? a->alloc(a->allocator_data, n) : malloc(n);
}

static void pb_free(ProtobufCAllocator *a, void *p) {
  if (!p) return;
  if (a) a->free(a->allocator_data, p);
  else free(p);
}

const ProtobufCFieldDescriptor *sg_msg_find_field(const ProtobufCMessageDescriptor *d,
                                                  const char *name) {
  if (!d || !name) return NULL;
  char buf[FIELD_NAME_MAX];
  size_t n = strlen(name);
  if (n == 0 || n >= sizeof buf) return NULL;
  for (size_t i = 0; i <= n; i++) buf[i] = name[i] == '-' ? '_' : name[i];
  return protobuf_c_message_descriptor_get_field_by_name(d, buf);
}

/* strtoll/strtoull skip leading space and accept signs; a field value must be plain digits. */
static int starts_like_number(const char *s, int allow_minus) {
  if (*s == '-') {
    if (!allow_minus) return 0;
    s++;
  } else if (*s == '+') {
    s++;
  }
  return *s >= '0' && *s <= '9';
}

static int parse_signed(const char *s, int64_t lo, int64_t hi, int64_t *out, char *why,
                        size_t whylen) {
  if (!starts_like_number(s, 1)) return fail(why, whylen, SG_EINVAL, "\"%s\" is not a number", s);
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (*end) return fail(why, whylen, SG_EINVAL, "\"%s\" is not a number", s);
  if (errno == ERANGE || v < lo || v > hi)
    return fail(why, whylen, SG_EINVAL, "%s is out of range [%" PRId64 ", %" PRId64 "]", s, lo,
                hi);
  *out = (int64_t)v;
  return 0;
}

static int parse_unsigned(const char *s, uint64_t hi, uint64_t *out, char *why, size_t whylen) {
  if (*s == '-') return fail(why, whylen, SG_EINVAL, "%s: must not be negative", s);
  if (!starts_like_number(s, 0)) return fail(why, whylen, SG_EINVAL, "\"%s\" is not a number", s);
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end) return fail(why, whylen, SG_EINVAL, "\"%s\" is not a number", s);
  if (errno == ERANGE || v > hi)
    return fail(why, whylen, SG_EINVAL, "%s is out of range [0, %" PRIu64 "]", s, hi);
  *out = (uint64_t)v;
  return 0;
}

static int parse_double(const char *s, double max, double *out, char *why, size_t whylen) {
  /* strtod would accept leading space, "inf", "nan" and hex floats: all surprising here. */
  if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == '+' || *s == '.') ||
      strpbrk(s, "xX") != NULL)
    return fail(why, whylen, SG_EINVAL, "\"%s\" is not a number", s);
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end) return fail(why, whylen, SG_EINVAL, "\"%s\" is not a number", s);
  if (!isfinite(v) || fabs(v) > max) return fail(why, whylen, SG_EINVAL, "%s is out of range", s);
  *out = v;
  return 0;
}

static int ascii_caseeq(const char *a, const char *b) {
  for (; *a && *b; a++, b++) {
    char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a - 'A' + 'a') : *a;
    char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b - 'A' + 'a') : *b;
    if (x != y) return 0;
  }
  return *a == *b;
}

static int parse_bool(const char *s, protobuf_c_boolean *out, char *why, size_t whylen) {
  static const char *const yes[] = {"true", "yes", "1", "是"};
  static const char *const no[] = {"false", "no", "0", "否"};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
    if (ascii_caseeq(s, yes[i])) {
      *out = 1;
      return 0;
    }
    if (ascii_caseeq(s, no[i])) {
      *out = 0;
      return 0;
    }
  }
  return fail(why, whylen, SG_EINVAL, "\"%s\" is not a yes/no value (true/false/是/否)", s);
}

/* Parses text into v for field f; *size gets the bytes one value takes in the message. */
static int parse_value(const ProtobufCFieldDescriptor *f, ProtobufCAllocator *alloc,
                       const char *s, field_value *v, size_t *size, char *why, size_t whylen) {
  int64_t i;
  uint64_t u;
  double d;
  int rc;
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32:
    rc = parse_signed(s, INT32_MIN, INT32_MAX, &i, why, whylen);
    v->i32 = (int32_t)i;
    *size = sizeof v->i32;
    return rc;
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
    rc = parse_signed(s, INT64_MIN, INT64_MAX, &i, why, whylen);
    v->i64 = i;
    *size = sizeof v->i64;
    return rc;
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32:
    rc = parse_unsigned(s, UINT32_MAX, &u, why, whylen);
    v->u32 = (uint32_t)u;
    *size = sizeof v->u32;
    return rc;
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64:
    rc = parse_unsigned(s, UINT64_MAX, &u, why, whylen);
    v->u64 = u;
    *size = sizeof v->u64;
    return rc;
  case PROTOBUF_C_TYPE_FLOAT:
    rc = parse_double(s, FLT_MAX, &d, why, whylen);
    v->f = (float)d;
    *size = sizeof v->f;
    return rc;
  case PROTOBUF_C_TYPE_DOUBLE:
    rc = parse_double(s, DBL_MAX, &d, why, whylen);
    v->d = d;
    *size = sizeof v->d;
    return rc;
  case PROTOBUF_C_TYPE_BOOL:
    *size = sizeof v->b;
    return parse_bool(s, &v->b, why, whylen);
  case PROTOBUF_C_TYPE_ENUM: {
    const ProtobufCEnumDescriptor *e = f->descriptor;
    *size = sizeof v->e;
    if (sg_label_parse(e, s, &v->e) != 0)
      return fail(why, whylen, SG_EINVAL, "\"%s\" is not a %s", s, e ? e->short_name : "value");
    return 0;
  }
  case PROTOBUF_C_TYPE_STRING: {
    size_t n = strlen(s);
    *size = sizeof v->s;
    v->s = pb_alloc(alloc, n + 1);
    if (!v->s) return fail(why, whylen, SG_ENOMEM, "out of memory");
    memcpy(v->s, s, n + 1);
    return 0;
  }
  default:
    return fail(why, whylen, SG_EINVAL, "%s cannot be set from text", f->name);
  }
}

/*
 * Grows the repeated field by one. The old array is assumed to come from
 * alloc, as protobuf_c_message_free_unpacked() assumes, so it is freed.
 */
static int append(ProtobufCMessage *msg, ProtobufCAllocator *alloc,
                  const ProtobufCFieldDescriptor *f, const field_value *v, size_t size) {
  size_t *n = (size_t *)((char *)msg + f->quantifier_offset);
  void **arr = (void **)((char *)msg + f->offset);
  if (*n > SIZE_MAX / size - 1) return SG_ENOMEM;
  char *grown = pb_alloc(alloc, (*n + 1) * size);
  if (!grown) return SG_ENOMEM;
  if (*n) memcpy(grown, *arr, *n * size);
  memcpy(grown + *n * size, v, size);
  pb_free(alloc, *arr);
  *arr = grown;
  (*n)++;
  return 0;
}

static void store(ProtobufCMessage *msg, ProtobufCAllocator *alloc,
                  const ProtobufCFieldDescriptor *f, const field_value *v, size_t size) {
  char *member = (char *)msg + f->offset;
  if (f->type == PROTOBUF_C_TYPE_STRING) {
    /* The old string belongs to the message's allocator unless it is a default. */
    char *old = *(char **)member;
    if (old && old != protobuf_c_empty_string && old != (const char *)f->default_value)
      pb_free(alloc, old);
  }
  memcpy(member, v, size);
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
    *(uint32_t *)((char *)msg + f->quantifier_offset) = f->id;
  else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING)
    *(protobuf_c_boolean *)((char *)msg + f->quantifier_offset) = 1;
}

int sg_msg_set_field(ProtobufCMessage *msg, ProtobufCAllocator *alloc, const char *name,
                     const char *value, char *why, size_t whylen) {
  if (why && whylen) why[0] = '\0';
  if (!msg || !msg->descriptor || !name || !value)
    return fail(why, whylen, SG_EINVAL, "missing message, field name or value");
  const ProtobufCFieldDescriptor *f = sg_msg_find_field(msg->descriptor, name);
  if (!f)
    return fail(why, whylen, SG_ENOTFOUND, "%s has no field %s", msg->descriptor->short_name,
                name);
  if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_BYTES)
    return fail(why, whylen, SG_EINVAL, "%s cannot be set from text", f->name);

  field_value v;
  size_t size = 0;
  memset(&v, 0, sizeof v);
  int rc = parse_value(f, alloc, value, &v, &size, why, whylen);
  if (rc != 0) return rc;

  if (f->label == PROTOBUF_C_LABEL_REPEATED) {
    rc = append(msg, alloc, f, &v, size);
    if (rc != 0) {
      if (f->type == PROTOBUF_C_TYPE_STRING) pb_free(alloc, v.s);
      return fail(why, whylen, rc, "out of memory");
    }
    return 0;
  }
  store(msg, alloc, f, &v, size);
  return 0;
}
