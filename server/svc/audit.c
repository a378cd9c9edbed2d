/* Audit service: reading the log. Entries are written by the server itself. */
#include <string.h>

#include "auth.h"
#include "svc/svc.h"

typedef struct audit_filter {
  uint64_t token_id;
  const char *target;
  const char *event;
} audit_filter;

static int load_entry(sg_pager *p, uint64_t seq, void **out) {
  const audit_filter *f = p->arg;
  Shegong__V1__AuditEntry *e;
  int rc = sg_record_get(p->txn, p->ctx->store->audit, seq, &shegong__v1__audit_entry__descriptor,
                         &p->ctx->arena->allocator, (ProtobufCMessage **)&e);
  if (rc) return rc;
  int keep = (!f->token_id || e->token_id == f->token_id) &&
             (!f->target[0] || strncmp(e->target, f->target, strlen(f->target)) == 0) &&
             (!f->event[0] || strcmp(e->event, f->event) == 0);
  *out = keep ? e : NULL;
  return 0;
}

static int audit_list(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                      ProtobufCMessage **resp) {
  const Shegong__V1__ListAuditRequest *req = (const void *)req_msg;
  uint64_t after;
  if (sg_page_token_parse(ctx, "page_token", req->page_token, 'a', &after)) return SG_EINVAL;
  if (after < req->since) after = req->since;
  if (strlen(req->target) > 128) sg_status_violation(ctx->st, "target", "at most 128 bytes");
  if (strlen(req->event) > 32) sg_status_violation(ctx->st, "event", "at most 32 bytes");
  if (ctx->st->n_violations) return SG_EINVAL;
  Shegong__V1__ListAuditResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__list_audit_response__init(r);
  audit_filter f = {req->token_id, req->target, req->event};
  sg_pager pg;
  int rc = sg_pager_init(&pg, ctx, txn, req->page_size, load_entry, &f);
  if (rc || (rc = sg_record_scan(txn, ctx->store->audit, after, sg_pager_visit, &pg)) ||
      (rc = pg.err))
    return rc;
  r->entries = (Shegong__V1__AuditEntry **)pg.items;
  r->n_entries = pg.n;
  r->next_page_token = sg_pager_token(&pg, 'a');
  *resp = &r->base;
  return 0;
}

const sg_method_impl sg_svc_audit[] = {
    {"/shegong.v1.Audit/List", SG_METHOD_READ, audit_list},
    {NULL, 0, NULL},
};
