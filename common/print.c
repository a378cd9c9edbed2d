#include "print.h"

#include "error.h"
#include "labels.h"
#include "msgparse.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Growable text buffer. Output is built whole and written once, so that a
 * failed print never leaves half a table and there is one place to see EIO.
 */
typedef struct sbuf {
  char *p;
  size_t len, cap;
  int oom;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

static void sb_putc(sbuf *b, char c) { sb_putn(b, &c, 1); }

static void sb_spaces(sbuf *b, size_t n) {
  while (n--) sb_putc(b, ' ');
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf *b, const char *fmt, ...) {
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) {
    sb_putn(b, tmp, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (!big) {
    b->oom = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sb_putn(b, big, (size_t)n);
  free(big);
}

static void sb_reset(sbuf *b) {
  b->len = 0;
  if (b->p) b->p[0] = '\0';
}

static const char *sb_str(const sbuf *b) { return b->p ? b->p : ""; }

/* Drops the trailing spaces padding left after a row's last cell. */
static void sb_trim_spaces(sbuf *b) {
  while (b->len > 0 && b->p[b->len - 1] == ' ') b->p[--b->len] = '\0';
}

/* ------------------------------------------------------------------------
 * UTF-8 and display width.
 */

/* Decodes one code point; returns the bytes it took, or 0 if s is not valid UTF-8 there. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp) {
  unsigned char c = s[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t n;
  uint32_t v;
  unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    v = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    v = c & 0x0F;
    if (c == 0xE0) lo = 0xA0; /* overlong */
    if (c == 0xED) hi = 0x9F; /* surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    v = c & 0x07;
    if (c == 0xF0) lo = 0x90; /* overlong */
    if (c == 0xF4) hi = 0x8F; /* past U+10FFFF */
  } else {
    return 0;
  }
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (s[i] & 0x3F);
  }
  *cp = v;
  return n;
}

typedef struct cp_range {
  uint32_t lo, hi;
} cp_range;

static const cp_range wide[] = {
  {0x1100, 0x115F},   {0x2E80, 0x303E},   {0x3041, 0x33FF},   {0x3400, 0x4DBF},
  {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},
  {0xFE30, 0xFE4F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x1F300, 0x1F64F},
  {0x1F680, 0x1F6FF}, {0x1F900, 0x1F9FF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
};

static const cp_range zero[] = {
  {0x0300, 0x036F}, {0x200B, 0x200F}, {0x20D0, 0x20FF}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F},
};

static int in_ranges(uint32_t cp, const cp_range *r, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (cp >= r[i].lo && cp <= r[i].hi) return 1;
  return 0;
}

static size_t cp_width(uint32_t cp) {
  if (in_ranges(cp, zero, sizeof zero / sizeof zero[0])) return 0;
  if (in_ranges(cp, wide, sizeof wide / sizeof wide[0])) return 2;
  return 1;
}

size_t sg_display_width(const char *s) {
  if (!s) return 0;
  const unsigned char *p = (const unsigned char *)s;
  size_t w = 0;
  while (*p) {
    uint32_t cp;
    size_t n = utf8_decode(p, &cp);
    if (n == 0) {
      w++;
      p++;
      continue;
    }
    w += cp_width(cp);
    p += n;
  }
  return w;
}

int sg_format_from_name(const char *name) {
  if (!name) return -1;
  if (strcmp(name, "table") == 0) return SG_FORMAT_TABLE;
  if (strcmp(name, "json") == 0) return SG_FORMAT_JSON;
  if (strcmp(name, "csv") == 0) return SG_FORMAT_CSV;
  return -1;
}

/* ------------------------------------------------------------------------
 * Generic field access.
 */

static const void *member(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  return (const char *)m + f->offset;
}

static size_t repeated_count(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  return *(const size_t *)((const char *)m + f->quantifier_offset);
}

static size_t type_size(ProtobufCType t) {
  switch (t) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32:
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32: return 4;
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: return 8;
  case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
  case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
  case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
  case PROTOBUF_C_TYPE_ENUM: return sizeof(int);
  case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
  case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
  case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
  }
  return 0;
}

/* The i-th element of a repeated field. */
static const void *element(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                           size_t i) {
  const char *arr = *(const char *const *)member(m, f);
  return arr + i * type_size(f->type);
}

/* proto3's "not set": the type's zero value. */
static int is_zero(ProtobufCType t, const void *p) {
  switch (t) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32:
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32: return *(const uint32_t *)p == 0;
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: return *(const uint64_t *)p == 0;
  case PROTOBUF_C_TYPE_FLOAT: return *(const float *)p == 0;
  case PROTOBUF_C_TYPE_DOUBLE: return *(const double *)p == 0;
  case PROTOBUF_C_TYPE_BOOL: return *(const protobuf_c_boolean *)p == 0;
  case PROTOBUF_C_TYPE_ENUM: return *(const int *)p == 0;
  case PROTOBUF_C_TYPE_STRING: {
    const char *s = *(const char *const *)p;
    return s == NULL || s[0] == '\0';
  }
  case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)p)->len == 0;
  case PROTOBUF_C_TYPE_MESSAGE: return *(const ProtobufCMessage *const *)p == NULL;
  }
  return 1;
}

/* Whether f has a value worth showing, by the rules of its label. */
static int field_is_set(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  const void *p = member(m, f);
  if (f->label == PROTOBUF_C_LABEL_REPEATED) return repeated_count(m, f) > 0;
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
    return *(const uint32_t *)((const char *)m + f->quantifier_offset) == f->id;
  if (f->type == PROTOBUF_C_TYPE_MESSAGE) return *(const ProtobufCMessage *const *)p != NULL;
  switch (f->label) {
  case PROTOBUF_C_LABEL_REQUIRED:
    return f->type != PROTOBUF_C_TYPE_STRING || *(const char *const *)p != NULL;
  case PROTOBUF_C_LABEL_OPTIONAL:
    /* protobuf-c gives optional strings no has_ flag: a default pointer means unset. */
    if (f->type == PROTOBUF_C_TYPE_STRING) {
      const char *s = *(const char *const *)p;
      return s != NULL && s != (const char *)f->default_value;
    }
    return *(const protobuf_c_boolean *)((const char *)m + f->quantifier_offset) != 0;
  default:
    return !is_zero(f->type, p);
  }
}

/* The one repeated message field of a List response, or NULL. */
static const ProtobufCFieldDescriptor *rows_field(const ProtobufCMessageDescriptor *d) {
  const ProtobufCFieldDescriptor *found = NULL;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
    if (found) return NULL;
    found = f;
  }
  return found;
}

/* Is name in the comma-separated list? '-' and '_' are the same, as on the command line. */
static int in_list(const char *list, const char *name) {
  if (!list || !name) return 0;
  const char *p = list;
  while (*p) {
    while (*p == ' ' || *p == ',') p++;
    const char *start = p;
    while (*p && *p != ',') p++;
    const char *end = p;
    while (end > start && end[-1] == ' ') end--;
    size_t n = (size_t)(end - start);
    if (n == 0 || strlen(name) != n) continue;
    size_t i = 0;
    while (i < n && (start[i] == '-' ? '_' : start[i]) == name[i]) i++;
    if (i == n) return 1;
  }
  return 0;
}

/* ------------------------------------------------------------------------
 * Values as text.
 */

/* The shortest %g text that reads back as the same value. */
static void put_double(sbuf *b, double v, int is_float) {
  char buf[40];
  int prec = is_float ? 6 : 15, max = is_float ? 9 : 17;
  for (; prec <= max; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (!isfinite(v)) break;
    if (is_float ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v) break;
  }
  sb_puts(b, buf);
}

static void put_base64(sbuf *b, const ProtobufCBinaryData *d) {
  static const char digits[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 2 < d->len; i += 3) {
    uint32_t v = (uint32_t)d->data[i] << 16 | (uint32_t)d->data[i + 1] << 8 | d->data[i + 2];
    char q[4] = {digits[v >> 18], digits[(v >> 12) & 63], digits[(v >> 6) & 63], digits[v & 63]};
    sb_putn(b, q, 4);
  }
  if (i < d->len) {
    uint32_t v = (uint32_t)d->data[i] << 16;
    if (i + 1 < d->len) v |= (uint32_t)d->data[i + 1] << 8;
    char q[4] = {digits[v >> 18], digits[(v >> 12) & 63],
                 i + 1 < d->len ? digits[(v >> 6) & 63] : '=', '='};
    sb_putn(b, q, 4);
  }
}

/* Numbers in every format; returns 0 if t is not a number type. */
static int put_number(sbuf *b, ProtobufCType t, const void *p) {
  switch (t) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32: sb_printf(b, "%" PRId32, *(const int32_t *)p); return 1;
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32: sb_printf(b, "%" PRIu32, *(const uint32_t *)p); return 1;
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64: sb_printf(b, "%" PRId64, *(const int64_t *)p); return 1;
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: sb_printf(b, "%" PRIu64, *(const uint64_t *)p); return 1;
  case PROTOBUF_C_TYPE_FLOAT: put_double(b, *(const float *)p, 1); return 1;
  case PROTOBUF_C_TYPE_DOUBLE: put_double(b, *(const double *)p, 0); return 1;
  default: return 0;
  }
}

/* One scalar value for a table cell (csv = 0) or a CSV field (csv = 1). */
static void put_scalar_text(sbuf *b, const ProtobufCFieldDescriptor *f, const void *p, int csv) {
  if (put_number(b, f->type, p)) return;
  switch (f->type) {
  case PROTOBUF_C_TYPE_BOOL:
    if (csv) sb_puts(b, *(const protobuf_c_boolean *)p ? "true" : "false");
    else sb_puts(b, *(const protobuf_c_boolean *)p ? "是" : "否");
    return;
  case PROTOBUF_C_TYPE_ENUM: {
    int v = *(const int *)p;
    const char *label = sg_label_for(f->descriptor, v);
    const ProtobufCEnumValue *ev =
        f->descriptor ? protobuf_c_enum_descriptor_get_value(f->descriptor, v) : NULL;
    if (label) sb_puts(b, label);
    else if (ev) sb_puts(b, ev->name);
    else sb_printf(b, "%d", v);
    return;
  }
  case PROTOBUF_C_TYPE_STRING: {
    const char *s = *(const char *const *)p;
    sb_puts(b, s ? s : "");
    return;
  }
  case PROTOBUF_C_TYPE_BYTES: put_base64(b, p); return;
  default: return;
  }
}

/*
 * A cell: empty when unset, repeated values joined by ", ". In a table,
 * control characters become spaces: a newline would break the layout and
 * an escape sequence in stored data must not drive the terminal.
 */
static void cell_text(sbuf *b, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                      int csv) {
  sb_reset(b);
  if (!field_is_set(m, f)) return;
  if (f->label == PROTOBUF_C_LABEL_REPEATED) {
    size_t n = repeated_count(m, f);
    for (size_t i = 0; i < n; i++) {
      if (i) sb_puts(b, ", ");
      put_scalar_text(b, f, element(m, f, i), csv);
    }
  } else {
    put_scalar_text(b, f, member(m, f), csv);
  }
  if (!csv && b->p)
    for (size_t i = 0; i < b->len; i++)
      if ((unsigned char)b->p[i] < 0x20 || b->p[i] == 0x7F) b->p[i] = ' ';
}

/* ------------------------------------------------------------------------
 * Rows and columns, shared by TABLE and CSV.
 */
typedef struct rowset {
  const ProtobufCMessageDescriptor *desc;
  const ProtobufCMessage *const *rows;
  size_t n;
} rowset;

typedef struct columns {
  const ProtobufCFieldDescriptor **f;
  size_t n;
} columns;

/* Named columns, in the order given; hidden ones are left out. */
static int columns_named(const rowset *rs, const sg_print_opts *o, columns *c) {
  const char *p = o->columns;
  while (*p) {
    while (*p == ' ' || *p == ',') p++;
    const char *start = p;
    while (*p && *p != ',') p++;
    const char *end = p;
    while (end > start && end[-1] == ' ') end--;
    size_t n = (size_t)(end - start);
    if (n == 0) continue;
    char name[128];
    if (n >= sizeof name) return SG_EINVAL;
    memcpy(name, start, n);
    name[n] = '\0';
    const ProtobufCFieldDescriptor *f = sg_msg_find_field(rs->desc, name);
    if (!f || f->type == PROTOBUF_C_TYPE_MESSAGE) return SG_EINVAL;
    if (in_list(o->hide, f->name)) continue;
    c->f[c->n++] = f;
  }
  return 0;
}

/* Every singular scalar field that some row sets, in field order. */
static void columns_auto(const rowset *rs, const sg_print_opts *o, columns *c) {
  for (unsigned i = 0; i < rs->desc->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &rs->desc->fields[i];
    if (f->label == PROTOBUF_C_LABEL_REPEATED || f->type == PROTOBUF_C_TYPE_MESSAGE) continue;
    if (in_list(o->hide, f->name)) continue;
    for (size_t r = 0; r < rs->n; r++) {
      if (rs->rows[r] && field_is_set(rs->rows[r], f)) {
        c->f[c->n++] = f;
        break;
      }
    }
  }
}

static int columns_select(const rowset *rs, const sg_print_opts *o, columns *c) {
  size_t cap = rs->desc->n_fields;
  if (o->columns) {
    cap = 1;
    for (const char *p = o->columns; *p; p++) cap += *p == ',';
  }
  c->n = 0;
  c->f = calloc(cap ? cap : 1, sizeof *c->f);
  if (!c->f) return SG_ENOMEM;
  if (o->columns) return columns_named(rs, o, c);
  columns_auto(rs, o, c);
  return 0;
}

static void put_table(sbuf *out, const rowset *rs, const columns *c, size_t *width, sbuf *cell) {
  for (size_t j = 0; j < c->n; j++) width[j] = sg_display_width(c->f[j]->name);
  for (size_t r = 0; r < rs->n; r++) {
    for (size_t j = 0; j < c->n && rs->rows[r]; j++) {
      cell_text(cell, rs->rows[r], c->f[j], 0);
      size_t w = sg_display_width(sb_str(cell));
      if (w > width[j]) width[j] = w;
    }
  }
  for (size_t j = 0; j < c->n; j++) {
    if (j) sb_puts(out, "  ");
    sb_puts(out, c->f[j]->name);
    sb_spaces(out, width[j] - sg_display_width(c->f[j]->name));
  }
  sb_trim_spaces(out);
  sb_putc(out, '\n');
  for (size_t r = 0; r < rs->n; r++) {
    for (size_t j = 0; j < c->n; j++) {
      if (j) sb_puts(out, "  ");
      if (rs->rows[r]) cell_text(cell, rs->rows[r], c->f[j], 0);
      else sb_reset(cell);
      sb_puts(out, sb_str(cell));
      sb_spaces(out, width[j] - sg_display_width(sb_str(cell)));
    }
    sb_trim_spaces(out);
    sb_putc(out, '\n');
  }
}

static void put_csv_field(sbuf *out, const char *s) {
  if (!strpbrk(s, ",\"\r\n")) {
    sb_puts(out, s);
    return;
  }
  sb_putc(out, '"');
  for (; *s; s++) {
    if (*s == '"') sb_putc(out, '"');
    sb_putc(out, *s);
  }
  sb_putc(out, '"');
}

static void put_csv(sbuf *out, const rowset *rs, const columns *c, sbuf *cell) {
  if (c->n == 0) return;
  for (size_t j = 0; j < c->n; j++) {
    if (j) sb_putc(out, ',');
    put_csv_field(out, c->f[j]->name);
  }
  sb_putc(out, '\n');
  for (size_t r = 0; r < rs->n; r++) {
    for (size_t j = 0; j < c->n; j++) {
      if (j) sb_putc(out, ',');
      if (rs->rows[r]) cell_text(cell, rs->rows[r], c->f[j], 1);
      else sb_reset(cell);
      put_csv_field(out, sb_str(cell));
    }
    sb_putc(out, '\n');
  }
}

/* ------------------------------------------------------------------------
 * "field  value" lines for a message that is not a list.
 */
typedef struct kv {
  char *key, *val;
} kv;

typedef struct kvlist {
  kv *v;
  size_t n, cap;
  int oom;
} kvlist;

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

static void kv_add(kvlist *l, const char *key, const char *val) {
  if (l->oom) return;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    kv *v = realloc(l->v, cap * sizeof *v);
    if (!v) {
      l->oom = 1;
      return;
    }
    l->v = v;
    l->cap = cap;
  }
  char *k = dup_str(key), *x = dup_str(val);
  if (!k || !x) {
    free(k);
    free(x);
    l->oom = 1;
    return;
  }
  l->v[l->n].key = k;
  l->v[l->n].val = x;
  l->n++;
}

static void kv_free(kvlist *l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->v[i].key);
    free(l->v[i].val);
  }
  free(l->v);
}

/* Collects the set fields of m, nested ones as "parent.child"; skip is left out. */
static void collect(kvlist *l, const ProtobufCMessage *m, const char *prefix, const char *hide,
                    const ProtobufCFieldDescriptor *skip, sbuf *cell) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f == skip || !field_is_set(m, f)) continue;
    char path[256];
    snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", f->name);
    if (in_list(hide, f->name) || in_list(hide, path)) continue;
    if (f->type != PROTOBUF_C_TYPE_MESSAGE) {
      cell_text(cell, m, f, 0);
      kv_add(l, path, sb_str(cell));
    } else if (f->label != PROTOBUF_C_LABEL_REPEATED) {
      collect(l, *(const ProtobufCMessage *const *)member(m, f), path, hide, NULL, cell);
    } else {
      for (size_t k = 0; k < repeated_count(m, f); k++) {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)element(m, f, k);
        char indexed[300];
        snprintf(indexed, sizeof indexed, "%s[%zu]", path, k);
        if (sub) collect(l, sub, indexed, hide, NULL, cell);
      }
    }
  }
}

static void put_fields(sbuf *out, const kvlist *l, int aligned) {
  size_t w = 0;
  for (size_t i = 0; i < l->n; i++) {
    size_t kw = sg_display_width(l->v[i].key);
    if (kw > w) w = kw;
  }
  for (size_t i = 0; i < l->n; i++) {
    sb_puts(out, l->v[i].key);
    if (aligned) {
      sb_spaces(out, w - sg_display_width(l->v[i].key) + 2);
    } else {
      sb_puts(out, ": ");
    }
    sb_puts(out, l->v[i].val);
    sb_trim_spaces(out);
    sb_putc(out, '\n');
  }
}

/* ------------------------------------------------------------------------
 * JSON.
 */
static void put_json_string(sbuf *b, const char *s) {
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  sb_putc(b, '"');
  while (*p) {
    uint32_t cp;
    size_t n = utf8_decode(p, &cp);
    if (n == 0) {
      sb_puts(b, "\\ufffd"); /* invalid UTF-8 would make the whole document invalid */
      p++;
      continue;
    }
    switch (cp) {
    case '"': sb_puts(b, "\\\""); break;
    case '\\': sb_puts(b, "\\\\"); break;
    case '\n': sb_puts(b, "\\n"); break;
    case '\r': sb_puts(b, "\\r"); break;
    case '\t': sb_puts(b, "\\t"); break;
    case '\b': sb_puts(b, "\\b"); break;
    case '\f': sb_puts(b, "\\f"); break;
    default:
      if (cp < 0x20) sb_printf(b, "\\u%04x", (unsigned)cp);
      else sb_putn(b, (const char *)p, n);
    }
    p += n;
  }
  sb_putc(b, '"');
}

static void put_json_message(sbuf *b, const ProtobufCMessage *m, size_t indent);

static void put_json_value(sbuf *b, const ProtobufCFieldDescriptor *f, const void *p,
                           size_t indent) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64:
    /* JSON readers often hold numbers as doubles, which lose 64-bit ids. */
    sb_putc(b, '"');
    put_number(b, f->type, p);
    sb_putc(b, '"');
    return;
  case PROTOBUF_C_TYPE_FLOAT:
  case PROTOBUF_C_TYPE_DOUBLE: {
    double v = f->type == PROTOBUF_C_TYPE_FLOAT ? *(const float *)p : *(const double *)p;
    if (isnan(v)) sb_puts(b, "\"NaN\"");
    else if (isinf(v)) sb_puts(b, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    else put_number(b, f->type, p);
    return;
  }
  case PROTOBUF_C_TYPE_BOOL: sb_puts(b, *(const protobuf_c_boolean *)p ? "true" : "false"); return;
  case PROTOBUF_C_TYPE_ENUM: {
    int v = *(const int *)p;
    const ProtobufCEnumValue *ev =
        f->descriptor ? protobuf_c_enum_descriptor_get_value(f->descriptor, v) : NULL;
    if (ev) put_json_string(b, ev->name);
    else sb_printf(b, "%d", v);
    return;
  }
  case PROTOBUF_C_TYPE_STRING: put_json_string(b, *(const char *const *)p); return;
  case PROTOBUF_C_TYPE_BYTES:
    sb_putc(b, '"');
    put_base64(b, p);
    sb_putc(b, '"');
    return;
  case PROTOBUF_C_TYPE_MESSAGE: {
    const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)p;
    if (sub) put_json_message(b, sub, indent);
    else sb_puts(b, "{}");
    return;
  }
  default: put_number(b, f->type, p); return;
  }
}

static void put_json_message(sbuf *b, const ProtobufCMessage *m, size_t indent) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  int any = 0;
  sb_putc(b, '{');
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (!field_is_set(m, f)) continue;
    sb_puts(b, any ? ",\n" : "\n");
    any = 1;
    sb_spaces(b, indent + 2);
    put_json_string(b, f->name);
    sb_puts(b, ": ");
    if (f->label != PROTOBUF_C_LABEL_REPEATED) {
      put_json_value(b, f, member(m, f), indent + 2);
      continue;
    }
    sb_putc(b, '[');
    size_t n = repeated_count(m, f);
    for (size_t k = 0; k < n; k++) {
      sb_puts(b, k ? ",\n" : "\n");
      sb_spaces(b, indent + 4);
      put_json_value(b, f, element(m, f, k), indent + 4);
    }
    sb_putc(b, '\n');
    sb_spaces(b, indent + 2);
    sb_putc(b, ']');
  }
  if (any) {
    sb_putc(b, '\n');
    sb_spaces(b, indent);
  }
  sb_putc(b, '}');
}

/* ------------------------------------------------------------------------
 * Entry point.
 */

/* A List response's rows; any other message is one row of itself. */
static rowset rows_of(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *rf) {
  rowset rs;
  if (rf) {
    rs.desc = rf->descriptor;
    rs.rows = *(const ProtobufCMessage *const *const *)member(msg, rf);
    rs.n = repeated_count(msg, rf);
  } else {
    rs.desc = msg->descriptor;
    rs.rows = NULL;
    rs.n = 1;
  }
  return rs;
}

/*
 * Keeps the entries of l that columns names, in that order (a field not set
 * is shown empty). SG_EINVAL when a name is not a field of d.
 */
static int pick_columns(kvlist *l, const ProtobufCMessageDescriptor *d, const char *names) {
  kvlist picked = {0};
  const char *p = names;
  while (*p) {
    while (*p == ' ' || *p == ',') p++;
    const char *start = p;
    while (*p && *p != ',') p++;
    size_t n = (size_t)(p - start);
    while (n && start[n - 1] == ' ') n--;
    if (n == 0) continue;
    char name[128];
    if (n >= sizeof name) goto bad;
    for (size_t i = 0; i < n; i++) name[i] = start[i] == '-' ? '_' : start[i];
    name[n] = '\0';
    if (!protobuf_c_message_descriptor_get_field_by_name(d, name)) goto bad;
    const char *val = "";
    for (size_t i = 0; i < l->n; i++)
      if (strcmp(l->v[i].key, name) == 0) val = l->v[i].val;
    kv_add(&picked, name, val);
  }
  kv_free(l);
  *l = picked;
  return 0;
bad:
  kv_free(&picked);
  return SG_EINVAL;
}

static int print_table(sbuf *out, const ProtobufCMessage *msg, const sg_print_opts *o,
                       sbuf *cell) {
  const ProtobufCFieldDescriptor *rf = rows_field(msg->descriptor);
  kvlist extra = {0};
  if (!rf) {
    collect(&extra, msg, "", o->hide, NULL, cell);
    if (o->columns && pick_columns(&extra, msg->descriptor, o->columns)) {
      kv_free(&extra);
      return SG_EINVAL;
    }
    if (extra.n == 0) sb_puts(out, "(empty)\n");
    put_fields(out, &extra, 1);
    int oom = extra.oom;
    kv_free(&extra);
    return oom ? SG_ENOMEM : 0;
  }

  rowset rs = rows_of(msg, rf);
  columns c = {0};
  int rc = columns_select(&rs, o, &c);
  if (rc == 0) {
    if (rs.n == 0) {
      sb_puts(out, "(no rows)\n");
    } else if (c.n == 0) {
      sb_printf(out, "(%zu rows, no fields set)\n", rs.n);
    } else {
      size_t *width = calloc(c.n, sizeof *width);
      if (!width) rc = SG_ENOMEM;
      else put_table(out, &rs, &c, width, cell);
      free(width);
    }
  }
  free(c.f);
  if (rc != 0) return rc;

  /* The rest of the response, such as next_page_token, below the table. */
  collect(&extra, msg, "", o->hide, rf, cell);
  if (extra.n) {
    sb_putc(out, '\n');
    put_fields(out, &extra, 0);
  }
  rc = extra.oom ? SG_ENOMEM : 0;
  kv_free(&extra);
  return rc;
}

/* CSV is data only: a List response's other fields (next_page_token) are not rows. */
static int print_csv(sbuf *out, const ProtobufCMessage *msg, const sg_print_opts *o,
                     sbuf *cell) {
  const ProtobufCFieldDescriptor *rf = rows_field(msg->descriptor);
  rowset rs = rows_of(msg, rf);
  const ProtobufCMessage *self = msg;
  if (!rf) rs.rows = &self;
  columns c = {0};
  int rc = columns_select(&rs, o, &c);
  if (rc == 0) put_csv(out, &rs, &c, cell);
  free(c.f);
  return rc;
}

int sg_print_message(FILE *out, const ProtobufCMessage *msg, const sg_print_opts *opts) {
  if (!out || !msg || !msg->descriptor) return SG_EINVAL;
  static const sg_print_opts defaults = {SG_FORMAT_TABLE, NULL, NULL};
  if (!opts) opts = &defaults;

  sbuf text = {0}, cell = {0};
  int rc;
  switch (opts->format) {
  case SG_FORMAT_TABLE: rc = print_table(&text, msg, opts, &cell); break;
  case SG_FORMAT_CSV: rc = print_csv(&text, msg, opts, &cell); break;
  case SG_FORMAT_JSON:
    put_json_message(&text, msg, 0);
    sb_putc(&text, '\n');
    rc = 0;
    break;
  default: rc = SG_EINVAL; break;
  }
  if (rc == 0 && (text.oom || cell.oom)) rc = SG_ENOMEM;
  if (rc == 0 && text.len > 0 && fwrite(text.p, 1, text.len, out) != text.len) rc = SG_EIO;
  if (rc == 0 && fflush(out) != 0) rc = SG_EIO;
  free(text.p);
  free(cell.p);
  return rc;
}
