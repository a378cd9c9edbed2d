/*
 * Fuzz target: the frame decoder, fed the input in pieces whose sizes come
 * from the input itself, with a small limit so that oversize paths run too.
 */
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "frame.h"

static int take(void *ctx, sg_frame *f) {
  (*(size_t *)ctx)++;
  /* touch what a server reads */
  (void)sg_frame_metadata(f, "authorization");
  sg_frame_free(f);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  sg_frame_decoder d;
  sg_frame_decoder_init(&d, 1u << 16);
  size_t frames = 0, off = 1;
  unsigned step = data[0] ? data[0] : 1;
  char why[160];
  while (off < size) {
    size_t n = size - off < step ? size - off : step;
    if (sg_frame_decoder_feed(&d, data + off, n, take, &frames, why, sizeof why) != 0) break;
    off += n;
  }
  sg_frame_decoder_free(&d);
  return 0;
}
