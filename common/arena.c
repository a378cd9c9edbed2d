#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SG_ARENA_CHUNK 16384

struct sg_arena_chunk {
  sg_arena_chunk *next;
  size_t size; /* usable bytes in data */
  size_t off;
  max_align_t data[];
};

static void *arena_pb_alloc(void *data, size_t n) { return sg_arena_alloc(data, n); }
static void arena_pb_free(void *data, void *p) { (void)data; (void)p; }

void sg_arena_init(sg_arena *a, size_t cap) {
  memset(a, 0, sizeof *a);
  a->cap = cap;
  a->allocator.alloc = arena_pb_alloc;
  a->allocator.free = arena_pb_free;
  a->allocator.allocator_data = a;
}

void *sg_arena_alloc(sg_arena *a, size_t n) {
  if (n == 0) n = 1;
  size_t need = (n + 15) & ~(size_t)15;
  if (need < n || (a->cap && a->used + need > a->cap)) {
    a->failed = 1;
    return NULL;
  }
  sg_arena_chunk *c = a->head;
  if (!c || c->size - c->off < need) {
    size_t size = need > SG_ARENA_CHUNK ? need : SG_ARENA_CHUNK;
    c = malloc(sizeof *c + size);
    if (!c) {
      a->failed = 1;
      return NULL;
    }
    c->size = size;
    c->off = 0;
    c->next = a->head;
    a->head = c;
  }
  void *p = (char *)c->data + c->off;
  c->off += need;
  a->used += need;
  return p;
}

void *sg_arena_calloc(sg_arena *a, size_t n) {
  void *p = sg_arena_alloc(a, n);
  if (p) memset(p, 0, n);
  return p;
}

char *sg_arena_strndup(sg_arena *a, const char *s, size_t n) {
  char *p = sg_arena_alloc(a, n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *sg_arena_strdup(sg_arena *a, const char *s) {
  return sg_arena_strndup(a, s, strlen(s));
}

char *sg_arena_printf(sg_arena *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *p = sg_arena_alloc(a, (size_t)n + 1);
  if (!p) return NULL;
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

sg_arena_mark sg_arena_get_mark(const sg_arena *a) {
  sg_arena_mark m = {a->head, a->head ? a->head->off : 0, a->used};
  return m;
}

void sg_arena_rewind(sg_arena *a, sg_arena_mark m) {
  while (a->head && a->head != m.chunk) {
    sg_arena_chunk *n = a->head->next;
    free(a->head);
    a->head = n;
  }
  if (a->head) a->head->off = m.off;
  a->used = m.used;
  a->failed = 0;
}

void sg_arena_reset(sg_arena *a) {
  sg_arena_chunk *c = a->head;
  if (!c) return;
  /* keep the oldest chunk (last in the list): it is the common-case size */
  while (c->next) {
    sg_arena_chunk *n = c->next;
    free(c);
    c = n;
  }
  c->off = 0;
  a->head = c;
  a->used = 0;
  a->failed = 0;
}

void sg_arena_destroy(sg_arena *a) {
  sg_arena_chunk *c = a->head;
  while (c) {
    sg_arena_chunk *n = c->next;
    free(c);
    c = n;
  }
  a->head = NULL;
  a->used = 0;
}
