#include "frame.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"

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

static int deliver(sg_frame_decoder *d, const uint8_t *body, size_t len, sg_frame_cb cb,
                   void *ctx, char *why, size_t whylen) {
  sg_frame *f = shegong__v1__frame__unpack(d->alloc, len, body);
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

static size_t varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) v >>= 7, n++;
  return n;
}

static size_t plain_size(const sg_frame *f) {
  return (f->call_id ? 1 + varint_len(f->call_id) : 0) + (f->flags ? 1 + varint_len(f->flags) : 0) +
         (f->payload.len ? 1 + varint_len(f->payload.len) + f->payload.len : 0) + (f->status ? 2 : 0);
}

static size_t put_varint(uint8_t *out, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) out[n++] = (uint8_t)(v | 0x80), v >>= 7;
  out[n++] = (uint8_t)v;
  return n;
}

static size_t plain_write(const sg_frame *f, uint8_t *out) {
  size_t n = 0;
  if (f->call_id) out[n++] = 1 << 3, n += put_varint(out + n, f->call_id);
  if (f->flags) out[n++] = 3 << 3, n += put_varint(out + n, f->flags);
  if (f->payload.len) {
    out[n++] = 6 << 3 | 2;
    n += put_varint(out + n, f->payload.len);
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
