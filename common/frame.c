#include "frame.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "wire.h"

void sg_frame_decoder_init(sg_frame_decoder *d, uint32_t max_frame) {
  memset(d, 0, sizeof *d);
  d->max_frame = max_frame ? max_frame : SG_FRAME_MAX_DEFAULT;
}

void sg_frame_decoder_free(sg_frame_decoder *d) {
  free(d->body);
  d->body = NULL;
}

int sg_frame_decoder_pending(const sg_frame_decoder *d) {
  return d->hdr_have > 0 || d->body != NULL;
}

__attribute__((format(printf, 5, 6))) static int fail(sg_frame_decoder *d, int err, char *why,
                                                      size_t whylen, const char *fmt, ...) {
  d->error = err;
  if (why && whylen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
  }
  return err;
}

/* A uint32 field's varint of at most five bytes and 32 bits; -1 otherwise. */
static int u32_of(const sg_wire_field *w, uint32_t *out) {
  size_t n = (size_t)(w->end - w->start);
  const uint8_t *v = w->start + 1; /* one-byte tags only below */
  uint64_t x = 0;
  for (int shift = 0; v < w->end; shift += 7, v++) x |= (uint64_t)(*v & 0x7f) << shift;
  if (n > 6 || x > UINT32_MAX) return -1;
  *out = (uint32_t)x;
  return 0;
}

/* A string field's value, NUL-terminated, at *cur (which moves past it). */
static char *str_of(char **cur, const sg_wire_field *w) {
  char *s = *cur;
  memcpy(s, w->value, w->len);
  s[w->len] = 0;
  *cur += w->len + 1;
  return s;
}

/*
 * A request frame as clients send them (call id, method, flags, timeout,
 * metadata of key and value, payload), decoded without protobuf-c's general
 * walk, into arena memory. Anything else — a field given twice, a status, an
 * unknown field, a varint of more than 32 bits — returns NULL and the frame
 * goes to protobuf-c, which then also says whether it is valid at all:
 * this path never accepts what protobuf-c would refuse (test_frame compares
 * the two on generated and random frames).
 */
static sg_frame *decode_plain(ProtobufCAllocator *a, const uint8_t *body, size_t len) {
  const uint8_t *p = body, *end = body + len;
  sg_wire_field w;
  int r;
  size_t n_meta = 0, bytes = 0;
  unsigned seen = 0;
  /* first pass: the shape, how many metadata entries, and room for the values
   * (a metadata entry's strings and their two NULs fit in its length + 2) */
  while ((r = sg_wire_next(&p, end, &w)) == 1) {
    if (w.start[0] >= 0x80) return NULL; /* fields 1-15 have one-byte tags */
    /* protobuf-c refuses a length of more than five bytes (padded with 0x80s) */
    if (w.type == 2 && w.value - w.start > 6) return NULL;
    static const unsigned want_type[8] = {9, 0, 2, 0, 0, 2, 2, 9};
    if (w.number > 6 || w.type != want_type[w.number]) return NULL;
    if (w.type == 2) bytes += w.len + 2;
    if (w.number == 5) {
      n_meta++;
      continue;
    }
    if (seen & 1u << w.number) return NULL;
    seen |= 1u << w.number;
  }
  if (r != 0 || n_meta > 64) return NULL;
  _Static_assert(sizeof(sg_frame) % 8 == 0 && sizeof(Shegong__V1__Metadata) % 8 == 0,
                 "frame parts keep 8-byte alignment");
  /* one block: the frame, the entries, their pointers, then the bytes (all
   * three structs are multiples of 8 bytes, so each part stays aligned) */
  size_t head = sizeof(sg_frame) + n_meta * (sizeof(Shegong__V1__Metadata) + sizeof(void *));
  char *block = a->alloc(a->allocator_data, head + bytes);
  if (!block) return NULL;
  sg_frame *f = (sg_frame *)block;
  Shegong__V1__Metadata *meta = (Shegong__V1__Metadata *)(block + sizeof(sg_frame));
  Shegong__V1__Metadata **mp = (Shegong__V1__Metadata **)(meta + n_meta);
  char *cur = block + head;
  shegong__v1__frame__init(f);
  f->metadata = mp;
  for (p = body; sg_wire_next(&p, end, &w) == 1;) {
    switch (w.number) {
    case 1:
      if (u32_of(&w, &f->call_id)) return NULL;
      break;
    case 2:
      f->method = str_of(&cur, &w);
      break;
    case 3:
      if (u32_of(&w, &f->flags)) return NULL;
      break;
    case 4:
      if (u32_of(&w, &f->timeout_ms)) return NULL;
      break;
    case 5: {
      Shegong__V1__Metadata *m = &meta[f->n_metadata];
      shegong__v1__metadata__init(m);
      const uint8_t *q = w.value, *qend = w.value + w.len;
      sg_wire_field e;
      unsigned got = 0;
      while ((r = sg_wire_next(&q, qend, &e)) == 1) {
        if (e.start[0] >= 0x80 || e.type != 2 || e.number < 1 || e.number > 2 || got & e.number ||
            e.value - e.start > 6)
          return NULL;
        got |= e.number;
        char *v = str_of(&cur, &e);
        if (e.number == 1) m->key = v;
        else m->value = v;
      }
      if (r != 0) return NULL;
      mp[f->n_metadata++] = m;
      break;
    }
    case 6:
      if (w.len) {
        f->payload.data = (uint8_t *)cur;
        memcpy(cur, w.value, w.len);
        f->payload.len = w.len;
        cur += w.len;
      }
      break;
    }
  }
  assert(cur <= block + head + bytes); /* the first pass's budget held */
  return f;
}

static int deliver(sg_frame_decoder *d, const uint8_t *body, size_t len, sg_frame_cb cb,
                   void *ctx, char *why, size_t whylen) {
  /* the plain path builds one arena block, not protobuf-c's allocations: arena only */
  sg_frame *f = d->alloc ? decode_plain(d->alloc, body, len) : NULL;
  if (!f) f = shegong__v1__frame__unpack(d->alloc, len, body);
  if (!f)
    return fail(d, SG_EPROTO, why, whylen,
                "frame %lu (%lu bytes) is not a valid shegong.v1.Frame",
                (unsigned long)d->frames + 1, (unsigned long)len);
  d->frames++;
  return cb(ctx, f);
}

int sg_frame_decoder_feed(sg_frame_decoder *d, const uint8_t *data, size_t len, sg_frame_cb cb,
                          void *ctx, char *why, size_t whylen) {
  if (d->error) {
    if (why && whylen) snprintf(why, whylen, "%s", sg_strerror(d->error));
    return d->error;
  }
  while (len > 0) {
    if (d->hdr_have < SG_FRAME_HEADER_BYTES) {
      size_t take = SG_FRAME_HEADER_BYTES - d->hdr_have;
      if (take > len) take = len;
      memcpy(d->hdr + d->hdr_have, data, take);
      d->hdr_have += take;
      data += take;
      len -= take;
      if (d->hdr_have < SG_FRAME_HEADER_BYTES) return 0;
      uint32_t n = (uint32_t)d->hdr[0] << 24 | (uint32_t)d->hdr[1] << 16 |
                   (uint32_t)d->hdr[2] << 8 | (uint32_t)d->hdr[3];
      if (n == 0)
        return fail(d, SG_EPROTO, why, whylen, "zero-length frame after %lu frames",
                    (unsigned long)d->frames);
      if (n > d->max_frame)
        return fail(d, SG_ETOOBIG, why, whylen, "frame of %lu bytes exceeds the limit of %lu",
                    (unsigned long)n, (unsigned long)d->max_frame);
      d->body_len = n;
      d->body_have = 0;
      if (len >= n) {
        /* The whole body is here: decode it in place, no copy. */
        int rc = deliver(d, data, n, cb, ctx, why, whylen);
        d->hdr_have = 0;
        data += n;
        len -= n;
        if (rc) return rc;
        continue;
      }
      d->body = malloc(n);
      if (!d->body) return fail(d, SG_ENOMEM, why, whylen, "out of memory for %lu bytes",
                                      (unsigned long)n);
    }
    size_t take = d->body_len - d->body_have;
    if (take > len) take = len;
    memcpy(d->body + d->body_have, data, take);
    d->body_have += take;
    data += take;
    len -= take;
    if (d->body_have < d->body_len) return 0;
    uint8_t *body = d->body;
    d->body = NULL;
    d->hdr_have = 0;
    int rc = deliver(d, body, d->body_len, cb, ctx, why, whylen);
    free(body);
    if (rc) return rc;
  }
  return 0;
}

/*
 * Most frames a server sends are an answer: call id, flags, payload, and an
 * OK status (an empty message). Those are encoded here without protobuf-c's
 * walk of the descriptors, byte for byte as it would (test_frame checks);
 * every other frame goes through protobuf-c.
 */
static int plain_answer(const sg_frame *f) {
  const Shegong__V1__Status *st = f->status;
  return (!f->method || !f->method[0]) && f->timeout_ms == 0 && f->n_metadata == 0 &&
         f->base.n_unknown_fields == 0 &&
         (!st || (st->code == 0 && (!st->message || !st->message[0]) && st->n_violations == 0 &&
                  st->base.n_unknown_fields == 0));
}

static size_t plain_size(const sg_frame *f) {
  return (f->call_id ? 1 + sg_wire_varint_len(f->call_id) : 0) +
         (f->flags ? 1 + sg_wire_varint_len(f->flags) : 0) +
         (f->payload.len ? 1 + sg_wire_varint_len(f->payload.len) + f->payload.len : 0) +
         (f->status ? 2 : 0);
}

static size_t plain_write(const sg_frame *f, uint8_t *out) {
  size_t n = 0;
  if (f->call_id) out[n++] = 1 << 3, n += sg_wire_put_varint(out + n, f->call_id);
  if (f->flags) out[n++] = 3 << 3, n += sg_wire_put_varint(out + n, f->flags);
  if (f->payload.len) {
    out[n++] = 6 << 3 | 2;
    n += sg_wire_put_varint(out + n, f->payload.len);
    memcpy(out + n, f->payload.data, f->payload.len);
    n += f->payload.len;
  }
  if (f->status) out[n++] = 7 << 3 | 2, out[n++] = 0;
  return n;
}

size_t sg_frame_wire_size(const sg_frame *f) {
  return SG_FRAME_HEADER_BYTES +
         (plain_answer(f) ? plain_size(f) : shegong__v1__frame__get_packed_size(f));
}

void sg_frame_write(const sg_frame *f, uint8_t *buf) {
  size_t n = plain_answer(f) ? plain_write(f, buf + SG_FRAME_HEADER_BYTES)
                             : shegong__v1__frame__pack(f, buf + SG_FRAME_HEADER_BYTES);
  buf[0] = (uint8_t)(n >> 24);
  buf[1] = (uint8_t)(n >> 16);
  buf[2] = (uint8_t)(n >> 8);
  buf[3] = (uint8_t)n;
}

void sg_frame_free(sg_frame *f) {
  if (f) shegong__v1__frame__free_unpacked(f, NULL);
}

const char *sg_frame_metadata(const sg_frame *f, const char *key) {
  for (size_t i = 0; i < f->n_metadata; i++)
    if (f->metadata[i]->key && strcasecmp(f->metadata[i]->key, key) == 0)
      return f->metadata[i]->value;
  return NULL;
}
