/*
 * Frames: a 4-byte big-endian length N, then N bytes of shegong.v1.Frame.
 *
 * The decoder is incremental: it takes bytes in any split (one at a time or
 * many frames per read) and hands each complete, decoded Frame to a
 * callback. The length is checked against the limit before anything is
 * allocated, and a frame whose body is already wholly in the input is
 * decoded in place without a copy.
 */
#ifndef SG_FRAME_H
#define SG_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "shegong/v1/wire.pb-c.h"

#define SG_FRAME_HEADER_BYTES 4
#define SG_FRAME_MAX_DEFAULT (4u * 1024u * 1024u)
/* Before a connection's first authenticated call, frames are capped lower:
 * a stranger cannot make the server hold much (docs/PROTOCOL.md, Limits). */
#define SG_FRAME_PREAUTH_MAX (256u * 1024u)
#define SG_FLAG_END_STREAM 1u
#define SG_FLAG_CANCEL 2u

typedef Shegong__V1__Frame sg_frame;

/*
 * Called once per decoded frame. The callback owns f and frees it with
 * sg_frame_free(). A nonzero return stops the decoder, which returns it.
 */
typedef int (*sg_frame_cb)(void *ctx, sg_frame *f);

typedef struct sg_frame_decoder {
  uint32_t max_frame;
  uint8_t hdr[SG_FRAME_HEADER_BYTES];
  size_t hdr_have;
  uint8_t *body; /* malloc'd once the length is known and checked */
  uint32_t body_len;
  size_t body_have;
  int error; /* sticky: once framing breaks, nothing more is decoded */
  /* where decoded frames live: NULL for malloc (free them with sg_frame_free);
   * the server gives an arena it resets after each frame */
  ProtobufCAllocator *alloc;
  uint64_t frames; /* decoded so far */
} sg_frame_decoder;

void sg_frame_decoder_init(sg_frame_decoder *d, uint32_t max_frame);
void sg_frame_decoder_free(sg_frame_decoder *d);

/*
 * Feeds len bytes. Returns 0 when all were consumed (a partial frame is kept
 * for the next call), the callback's nonzero return, or an error:
 *   SG_EPROTO  zero-length frame, or a body that is not a Frame
 *   SG_ETOOBIG the length exceeds max_frame
 *   SG_ENOMEM  allocation failed
 * On error, why (may be NULL) receives a message fit for the peer. After an
 * error every later call returns the same error.
 */
int sg_frame_decoder_feed(sg_frame_decoder *d, const uint8_t *data, size_t len, sg_frame_cb cb,
                          void *ctx, char *why, size_t whylen);

/* True when the decoder holds part of a frame. */
int sg_frame_decoder_pending(const sg_frame_decoder *d);

/* Bytes a frame takes on the wire, header included. */
size_t sg_frame_wire_size(const sg_frame *f);
/* Writes header and body into buf, which holds sg_frame_wire_size(f) bytes. */
void sg_frame_write(const sg_frame *f, uint8_t *buf);

void sg_frame_free(sg_frame *f);

/* Looks up a metadata value by key (ASCII case-insensitive); NULL if absent. */
const char *sg_frame_metadata(const sg_frame *f, const char *key);

#endif
