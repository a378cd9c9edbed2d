/*
 * A bump allocator for one call's messages.
 *
 * Requests are unpacked into it, responses are built in it, and everything is
 * released at once by sg_arena_reset() when the reply has been packed. Its
 * ProtobufCAllocator has a no-op free, so protobuf_c_message_free_unpacked()
 * is never needed (nor harmful) on arena memory. A cap bounds what one call
 * may take: past it allocation fails and the call ends RESOURCE_EXHAUSTED.
 */
#ifndef SG_ARENA_H
#define SG_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

typedef struct sg_arena_chunk sg_arena_chunk;

typedef struct sg_arena {
  sg_arena_chunk *head;
  size_t used;   /* bytes handed out since the last reset */
  size_t cap;    /* 0 = no cap */
  int failed;    /* set when an allocation was refused */
  ProtobufCAllocator allocator; /* allocator_data points back here */
} sg_arena;

void sg_arena_init(sg_arena *a, size_t cap);
/* Memory valid until the next reset or destroy; 8-byte aligned; NULL on cap. */
void *sg_arena_alloc(sg_arena *a, size_t n);
/* Zeroed memory. */
void *sg_arena_calloc(sg_arena *a, size_t n);
char *sg_arena_strdup(sg_arena *a, const char *s);
char *sg_arena_strndup(sg_arena *a, const char *s, size_t n);
char *sg_arena_printf(sg_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * A point in the arena to come back to: everything allocated after it is
 * released by sg_arena_rewind (and a refused allocation forgotten).
 */
typedef struct sg_arena_mark {
  sg_arena_chunk *chunk;
  size_t off, used;
} sg_arena_mark;
sg_arena_mark sg_arena_get_mark(const sg_arena *a);
void sg_arena_rewind(sg_arena *a, sg_arena_mark m);

/* Frees every chunk but the first, keeps that for reuse. */
void sg_arena_reset(sg_arena *a);
void sg_arena_destroy(sg_arena *a);

#endif
