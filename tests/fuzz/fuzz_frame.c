/*
 * Fuzz target: the frame decoder, fed the input in pieces whose sizes come
 * from the input itself, with a small limit so that oversize paths run too.
 * An odd first byte decodes into an arena, as the server does, which takes
 * the decoder's own path for plain request frames before protobuf-c's.
 */
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "error.h"
#include "frame.h"

typedef struct taken {
  size_t frames;
  sg_arena *arena; /* set: frames live there, reset after each as the server does */
} taken;

static int take(void *ctx, sg_frame *f) {
  taken *t = ctx;
  t->frames++;
  /* touch what a server reads */
  (void)sg_frame_metadata(f, "authorization");
  if (f->payload.len) (void)((volatile uint8_t *)f->payload.data)[f->payload.len - 1];
  if (t->arena) sg_arena_reset(t->arena);
  else sg_frame_free(f);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  sg_frame_decoder d;
  sg_frame_decoder_init(&d, 1u << 16);
  sg_arena arena;
  sg_arena_init(&arena, 1u << 20);
  taken t = {0, NULL};
  if (data[0] & 1) d.alloc = &arena.allocator, t.arena = &arena;
  size_t off = 1;
  unsigned step = data[0] ? data[0] : 1;
  char why[160];
  while (off < size) {
    size_t n = size - off < step ? size - off : step;
    if (sg_frame_decoder_feed(&d, data + off, n, take, &t, why, sizeof why) != 0) break;
    off += n;
  }
  sg_frame_decoder_free(&d);
  sg_arena_destroy(&arena);
  return 0;
}
