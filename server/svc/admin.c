/* Admin service: Hello. */
#include <string.h>

#include "log.h"
#include "shegong/v1/admin.pb-c.h"
#include "store/changes.h"
#include "store/units.h"
#include "svc/svc.h"

static int admin_hello(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                       ProtobufCMessage **resp) {
  const Shegong__V1__HelloRequest *req = (const void *)req_msg;
  sg_debug("hello from %s: %.64s, protocol %u", ctx->peer, req->client, req->protocol_version);
  Shegong__V1__HelloResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__hello_response__init(r);
  r->server_version = SHEGONG_VERSION;
  r->protocol_version = SG_PROTOCOL_VERSION;
  r->max_frame_bytes = ctx->limits->max_frame;
  r->max_page_size = ctx->limits->max_page_size;
  const char *code;
  size_t len;
  int rc = sg_meta_get_str(ctx->store, txn, "district_code", &code, &len);
  if (rc == 0) {
    r->district_code = sg_arena_strndup(ctx->arena, code, len);
    sg_unit *d;
    if (r->district_code && sg_units_get_by_code(ctx->store, txn, r->district_code,
                                                 &ctx->arena->allocator, &d) == 0)
      r->district_name = d->name;
  } else if (rc != SG_ENOTFOUND) {
    return sg_status_set(ctx->st, rc, "cannot read the district");
  }
  *resp = &r->base;
  return 0;
}

static int admin_compact(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                         ProtobufCMessage **resp) {
  const Shegong__V1__CompactRequest *req = (const void *)req_msg;
  if (req->keep == 0) {
    sg_status_violation(ctx->st, "keep", "how many of the newest revisions to keep (at least 1)");
    return SG_EINVAL;
  }
  Shegong__V1__CompactResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__compact_response__init(r);
  int rc = sg_store_head_revision(ctx->store, txn, &r->head_revision);
  if (rc) return rc;
  uint64_t through = r->head_revision > req->keep ? r->head_revision - req->keep : 0;
  if ((rc = sg_changes_compact(ctx->store, txn, through, &r->dropped)) ||
      (rc = sg_changes_compacted(ctx->store, txn, &r->compacted_revision)))
    return rc;
  sg_info("changelog compacted through revision %llu: %llu changes dropped",
          (unsigned long long)r->compacted_revision, (unsigned long long)r->dropped);
  *resp = &r->base;
  return 0;
}

const sg_method_impl sg_svc_admin[] = {
    {"/shegong.v1.Admin/Hello", SG_METHOD_READ, admin_hello},
    {"/shegong.v1.Admin/Compact", SG_METHOD_WRITE, admin_compact},
    {NULL, 0, NULL},
};
