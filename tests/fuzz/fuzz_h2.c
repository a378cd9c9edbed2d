/*
 * Fuzz target: the gRPC transport's HTTP/2 input (net/h2.c), fed the input
 * in pieces whose sizes come from the input itself. Complete requests are
 * answered at once, as reads are, so that the answer paths run too; the
 * reflection method is answered by the real reflection code.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "error.h"
#include "net/h2.h"

typedef struct fuzz_conn {
  sg_h2 *h2;
  size_t out;
} fuzz_conn;

static void on_call(void *arg, const sg_h2_request *r) {
  fuzz_conn *c = arg;
  /* an echo, then a status with a message that needs percent-encoding */
  if (r->len & 1) sg_h2_message(c->h2, r->stream_id, r->msg, r->len);
  sg_h2_finish(c->h2, r->stream_id, (int)(r->len % 17), "答复 100%", r->msg, r->len > 64 ? 64 : r->len);
}

static void on_cancel(void *arg, uint32_t id) {
  (void)arg;
  (void)id;
}

static int on_output(void *arg, const uint8_t *data, size_t n) {
  (void)data;
  ((fuzz_conn *)arg)->out += n;
  return 0;
}

static int congested(void *arg) {
  fuzz_conn *c = arg;
  return sg_h2_buffered(c->h2) > (1u << 20);
}

static uint32_t max_message(void *arg) {
  (void)arg;
  return 1u << 16;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  fuzz_conn c = {0};
  sg_h2_hooks hooks = {&c, on_call, on_cancel, on_output, max_message, congested};
  if (sg_h2_new(&c.h2, &hooks, 64) != 0) return 0;
  size_t off = 1;
  unsigned step = data[0] ? data[0] : 1;
  char why[160];
  while (off < size) {
    size_t n = size - off < step ? size - off : step;
    if (sg_h2_feed(c.h2, data + off, n, why, sizeof why) != 0) break;
    if (sg_h2_flush(c.h2) != 0 || !sg_h2_alive(c.h2)) break;
    off += n;
  }
  sg_h2_flush(c.h2);
  sg_h2_free(c.h2);
  return 0;
}
