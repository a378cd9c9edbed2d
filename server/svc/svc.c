#include "svc/svc.h"

#include "auth.h"
#include "store/changes.h"

#include <stdio.h>
#include <string.h>

int sg_enum_valid(const ProtobufCEnumDescriptor *d, int v) {
  return protobuf_c_enum_descriptor_get_value(d, v) != NULL;
}

int sg_page_token_parse(sg_call_ctx *ctx, const char *field, const char *tok, char kind,
                        uint64_t *after) {
  *after = 0;
  if (!tok || !tok[0]) return 0;
  uint64_t v = 0;
  if (strlen(tok) != 17 || tok[0] != kind) goto bad;
  for (int i = 1; i < 17; i++) {
    char c = tok[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) goto bad;
    v = v << 4 | (uint64_t)d;
  }
  *after = v;
  return 0;
bad:
  sg_status_violation(ctx->st, field, "not a page token from this list; start again without one");
  return SG_EINVAL;
}

char *sg_page_token_make(sg_call_ctx *ctx, char kind, uint64_t last) {
  return sg_arena_printf(ctx->arena, "%c%016llx", kind, (unsigned long long)last);
}

uint32_t sg_page_size(const sg_call_ctx *ctx, uint32_t asked) {
  if (asked == 0) return ctx->limits->default_page_size;
  return asked > ctx->limits->max_page_size ? ctx->limits->max_page_size : asked;
}

char *sg_dup(sg_call_ctx *ctx, const char *s) { return sg_arena_strdup(ctx->arena, s ? s : ""); }

int sg_pager_init(sg_pager *p, sg_call_ctx *ctx, MDB_txn *txn, uint32_t asked_page_size,
                  sg_pager_load_fn load, void *arg) {
  memset(p, 0, sizeof *p);
  p->ctx = ctx;
  p->txn = txn;
  p->load = load;
  p->arg = arg;
  p->limit = sg_page_size(ctx, asked_page_size);
  p->items = sg_arena_alloc(ctx->arena, p->limit * sizeof *p->items);
  return p->items ? 0 : SG_ENOMEM;
}

int sg_pager_visit(void *pager, uint64_t id) {
  sg_pager *p = pager;
  if (p->n == p->limit) {
    p->more = 1;
    return 1;
  }
  void *item = NULL;
  int rc = p->load(p, id, &item);
  /* an index entry without its record means the two disagree */
  if (rc) return p->err = (rc == SG_ENOTFOUND ? SG_EDATALOSS : rc);
  p->last = id;
  if (item) p->items[p->n++] = item;
  return 0;
}

char *sg_pager_token(sg_pager *p, char kind) {
  return p->more ? sg_page_token_make(p->ctx, kind, p->last) : sg_dup(p->ctx, "");
}

void sg_towns_add(sg_towns *t, uint64_t id, const char *code) {
  for (size_t i = 0; i < t->n; i++)
    if (t->ids[i] == id) return;
  if (t->n < 2) {
    t->ids[t->n] = id;
    t->codes[t->n++] = code;
  }
}

int sg_log_change(sg_call_ctx *ctx, MDB_txn *txn, int entity, int op, uint64_t revision,
                  ProtobufCMessage *record, const sg_towns *towns) {
  sg_change c = SHEGONG__V1__CHANGE__INIT;
  c.revision = revision;
  c.entity = entity;
  c.op = op;
  /* who: the token, where there is one (a replica's local calls have none) */
  c.actor = ctx->principal ? sg_arena_printf(ctx->arena, "token %llu (%s)",
                                             (unsigned long long)ctx->principal->token_id,
                                             sg_role_name(ctx->principal->role))
                           : sg_dup(ctx, ctx->peer);
  if (!c.actor) return SG_ENOMEM;
  c.method = sg_dup(ctx, ctx->method);
  c.time = sg_dup(ctx, ctx->now);
  c.n_towns = towns->n;
  c.towns = (char **)towns->codes;
  if (entity == SHEGONG__V1__ENTITY__ENTITY_UNIT) {
    c.record_case = SHEGONG__V1__CHANGE__RECORD_UNIT;
    c.unit = (Shegong__V1__Unit *)record;
    c.id = c.unit->id;
    c.version = c.unit->version;
  } else {
    c.record_case = SHEGONG__V1__CHANGE__RECORD_WORKER;
    c.worker = (Shegong__V1__Worker *)record;
    c.id = c.worker->id;
    c.version = c.worker->version;
  }
  return sg_changes_append(ctx->store, txn, &c, towns->ids, towns->n);
}

Shegong__V1__Status *sg_status_to_pb(sg_call_ctx *ctx, const sg_status *st) {
  Shegong__V1__Status *s = sg_arena_alloc(ctx->arena, sizeof *s);
  if (!s) return NULL;
  shegong__v1__status__init(s);
  s->code = (Shegong__V1__Code)st->code;
  s->message = sg_dup(ctx, st->message);
  size_t n = st->n_violations < SG_STATUS_VIOLATIONS_MAX ? st->n_violations
                                                         : SG_STATUS_VIOLATIONS_MAX;
  s->violations = sg_arena_alloc(ctx->arena, (n ? n : 1) * sizeof *s->violations);
  if (!s->violations) return NULL;
  for (size_t i = 0; i < n; i++) {
    Shegong__V1__FieldViolation *v = sg_arena_alloc(ctx->arena, sizeof *v);
    if (!v) return NULL;
    shegong__v1__field_violation__init(v);
    v->field = sg_dup(ctx, st->violations[i].field);
    v->description = sg_dup(ctx, st->violations[i].description);
    s->violations[i] = v;
  }
  s->n_violations = n;
  return s;
}
