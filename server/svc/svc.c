#include "svc/svc.h"

#include "auth.h"
#include "store/changes.h"
#include "store/records.h"
#include "store/units.h"
#include "store/workers.h"

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
  /* the oneof member whose type is the record's: by descriptor, for every kind */
  const ProtobufCMessageDescriptor *cd = &shegong__v1__change__descriptor;
  const ProtobufCFieldDescriptor *member = NULL;
  for (unsigned i = 0; i < cd->n_fields && !member; i++)
    if (cd->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF &&
        cd->fields[i].descriptor == record->descriptor)
      member = &cd->fields[i];
  if (!member) return SG_EINTERNAL;
  c.record_case = (Shegong__V1__Change__RecordCase)member->id;
  *(ProtobufCMessage **)((char *)&c + member->offset) = record;
  const sg_rec_kind *k = sg_rec_kind_of(record->descriptor);
  c.id = k ? sg_rec_key(k, record) : sg_msg_u64(record, "id");
  c.version = sg_msg_u64(record, "version");
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

int sg_scope_resolve(sg_call_ctx *ctx, MDB_txn *txn, const char *town_code,
                     const char *unit_code, sg_scope *out) {
  sg_store *s = ctx->store;
  memset(out, 0, sizeof *out);
  if (unit_code[0] && town_code[0]) {
    sg_status_violation(ctx->st, "town_code", "give unit_code or town_code, not both");
    return SG_EINVAL;
  }
  const char *code = unit_code[0] ? unit_code : town_code;
  const char *field = unit_code[0] ? "unit_code" : "town_code";
  if (!code[0]) {
    /* the whole district, as a town token sees it: its town */
    if (ctx->principal && ctx->principal->town_id) {
      out->index = s->workers_by_town;
      out->key = ctx->principal->town_id;
    }
    return 0;
  }
  if (strlen(code) > 15) {
    sg_status_violation(ctx->st, field, "a division code has at most 15 digits");
    return SG_EINVAL;
  }
  sg_unit *u;
  int rc = sg_units_get_by_code(s, txn, code, &ctx->arena->allocator, &u);
  if (rc == SG_ENOTFOUND) return sg_status_set(ctx->st, rc, "unit %s not found", code);
  if (rc) return rc;
  if (!unit_code[0] && u->kind != SHEGONG__V1__UNIT_KIND__TOWN) {
    sg_status_violation(ctx->st, field, "%s is not a town", code);
    return SG_EINVAL;
  }
  uint64_t town;
  if ((rc = sg_unit_town_id(ctx, txn, &u->base, &town)) || (rc = sg_authz_town(ctx, town, code)))
    return rc;
  out->index = unit_code[0] ? s->workers_by_unit : s->workers_by_town;
  out->key = u->id;
  return 0;
}

int sg_scope_scan(sg_call_ctx *ctx, MDB_txn *txn, const sg_scope *sc, uint64_t after,
                  sg_pair_fn fn, void *arg) {
  return sc->key ? sg_index_pair_scan(txn, sc->index, sc->key, after, fn, arg)
                 : sg_record_scan(txn, ctx->store->workers, after, fn, arg);
}

typedef struct scope_walk {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  sg_arena scratch;
  sg_worker_fn fn;
  void *arg;
  int err;
} scope_walk;

static int scope_visit(void *arg, uint64_t id) {
  scope_walk *w = arg;
  sg_arena_reset(&w->scratch);
  sg_worker *wk;
  int rc = sg_workers_get(w->ctx->store, w->txn, id, &w->scratch.allocator, &wk);
  if (rc) return w->err = (rc == SG_ENOTFOUND ? SG_EDATALOSS : rc);
  if ((rc = w->fn(w->arg, wk, &w->scratch))) return w->err = rc;
  return 0;
}

int sg_scope_workers(sg_call_ctx *ctx, MDB_txn *txn, const sg_scope *sc, sg_worker_fn fn,
                     void *arg) {
  scope_walk w = {.ctx = ctx, .txn = txn, .fn = fn, .arg = arg};
  sg_arena_init(&w.scratch, ctx->limits->max_call_memory);
  int rc = sg_scope_scan(ctx, txn, sc, 0, scope_visit, &w);
  sg_arena_destroy(&w.scratch);
  return w.err ? w.err : rc;
}

int sg_rows_grow(sg_arena *a, void ***rows, size_t n, size_t *cap) {
  if (n < *cap) return 0;
  size_t c = *cap ? *cap * 2 : 64;
  void **g = sg_arena_alloc(a, c * sizeof *g);
  if (!g) return SG_ENOMEM;
  if (n) memcpy(g, *rows, n * sizeof *g);
  *rows = g;
  *cap = c;
  return 0;
}
