/*
 * Fuzz target: every method's request decoder and handler (validation and
 * all) on a small district in a scratch database. The first byte picks the
 * method, the rest is the request message. Writes run in a transaction that
 * is aborted, so each input meets the same database.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "auth.h"
#include "dispatch.h"
#include "log.h"
#include "net/server.h"
#include "store/units.h"
#include "store/workers.h"

static sg_store *store;
static sg_limits limits;

/* A stream's messages are packed, as the connection would. */
static int emit_pack(sg_call_ctx *ctx, const ProtobufCMessage *msg) {
  (void)ctx;
  size_t n = protobuf_c_message_get_packed_size(msg);
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) return SG_ENOMEM;
  protobuf_c_message_pack(msg, buf);
  free(buf);
  return 0;
}

static int keep_open(sg_call_ctx *ctx, uint64_t town, int all, uint64_t pos) {
  (void)ctx, (void)town, (void)all, (void)pos;
  return 0;
}

/* Runs method e on req, in a transaction of its kind that is then abandoned. */
static void run(const sg_dispatch_entry *e, const ProtobufCMessage *req, const sg_principal *p) {
  sg_arena a;
  sg_arena_init(&a, 16u << 20);
  sg_status st;
  sg_status_clear(&st);
  sg_call_ctx ctx = {.store = store, .limits = &limits, .arena = &a, .st = &st, .peer = "fuzz",
                     .method = e->info->path, .principal = p, .emit = emit_pack,
                     .keep_open = keep_open};
  sg_call_ctx_stamp(&ctx);
  MDB_txn *txn;
  if (mdb_txn_begin(store->env, NULL, e->impl->kind == SG_METHOD_WRITE ? 0 : MDB_RDONLY, &txn) == 0) {
    ProtobufCMessage *resp = NULL;
    int rc = e->impl->handler(&ctx, txn, req, &resp);
    if (rc == 0 && resp) {
      /* the answer must pack, masked or not */
      emit_pack(&ctx, resp);
      sg_mask_pii(resp, &a);
      emit_pack(&ctx, resp);
    }
    mdb_txn_abort(txn);
  }
  sg_arena_destroy(&a);
}

static void setup(void) {
  sg_log_set_level(SG_LOG_ERROR + 1);
  sg_limits_default(&limits);
  sg_dispatch_init();
  char dir[] = "/tmp/shegong-fuzz-XXXXXX";
  if (!mkdtemp(dir) || sg_store_open(&store, dir, 64u << 20) != 0) abort();
  /* a district, a town, a community and a grid, written for real */
  const char *units[][3] = {{"1", "320602", "崇川区"}, {"2", "320602001", "和平桥街道"},
                            {"3", "320602001001", "桃坞社区"}, {"5", "320602001001001", "第一网格"}};
  for (size_t i = 0; i < 4; i++) {
    Shegong__V1__Unit u = SHEGONG__V1__UNIT__INIT;
    u.kind = atoi(units[i][0]);
    u.code = (char *)units[i][1];
    u.name = (char *)units[i][2];
    Shegong__V1__CreateUnitRequest r = SHEGONG__V1__CREATE_UNIT_REQUEST__INIT;
    r.unit = &u;
    const sg_dispatch_entry *e = sg_dispatch_lookup("/shegong.v1.Units/Create");
    sg_arena a;
    sg_arena_init(&a, 0);
    sg_status st;
    sg_status_clear(&st);
    sg_call_ctx ctx = {.store = store, .limits = &limits, .arena = &a, .st = &st, .peer = "fuzz",
                       .method = e->info->path};
    sg_call_ctx_stamp(&ctx);
    MDB_txn *txn;
    ProtobufCMessage *resp;
    if (mdb_txn_begin(store->env, NULL, 0, &txn) || e->impl->handler(&ctx, txn, &r.base, &resp) ||
        mdb_txn_commit(txn))
      abort();
    sg_arena_destroy(&a);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!store) setup();
  if (size < 2) return 0;
  size_t n = sg_dispatch_count();
  const sg_dispatch_entry *e = sg_dispatch_at(data[0] % n);
  if (!e->impl || e->impl->kind == SG_METHOD_BLOCKING) return 0;
  sg_arena a;
  sg_arena_init(&a, 16u << 20);
  ProtobufCMessage *req =
      protobuf_c_message_unpack(e->info->method->input, &a.allocator, size - 2, data + 2);
  if (req) {
    /* the second byte picks who asks: none (local), an admin, a town operator */
    sg_principal p = {.token_id = 1, .role = SHEGONG__V1__PRINCIPAL_ROLE__DISTRICT_ADMIN, .pii = 1};
    if (data[1] % 3 == 2) {
      p.role = SHEGONG__V1__PRINCIPAL_ROLE__TOWN_OPERATOR;
      p.town_id = 2;
      snprintf(p.town_code, sizeof p.town_code, "320602001");
      p.pii = 0;
    }
    run(e, req, data[1] % 3 ? &p : NULL);
  }
  sg_arena_destroy(&a);
  return 0;
}
