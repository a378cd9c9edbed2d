/* Units service: the district, its towns, communities, villages and grids. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "store/units.h"
#include "svc/svc.h"

#define SG_UNIT_NAME_MAX 64
#define SG_UNIT_COUNT_MAX 100000000u /* households or residents of one unit */

/* Code length of each kind, and the kind its parent must be. */
static size_t code_digits(int kind) {
  switch (kind) {
  case SHEGONG__V1__UNIT_KIND__DISTRICT: return 6;
  case SHEGONG__V1__UNIT_KIND__TOWN: return 9;
  case SHEGONG__V1__UNIT_KIND__COMMUNITY:
  case SHEGONG__V1__UNIT_KIND__VILLAGE: return 12;
  case SHEGONG__V1__UNIT_KIND__GRID: return 15;
  default: return 0;
  }
}

static int parent_kind_ok(int kind, int parent_kind) {
  switch (kind) {
  case SHEGONG__V1__UNIT_KIND__TOWN: return parent_kind == SHEGONG__V1__UNIT_KIND__DISTRICT;
  case SHEGONG__V1__UNIT_KIND__COMMUNITY:
  case SHEGONG__V1__UNIT_KIND__VILLAGE: return parent_kind == SHEGONG__V1__UNIT_KIND__TOWN;
  case SHEGONG__V1__UNIT_KIND__GRID:
    return parent_kind == SHEGONG__V1__UNIT_KIND__COMMUNITY ||
           parent_kind == SHEGONG__V1__UNIT_KIND__VILLAGE;
  default: return 0;
  }
}

static size_t parent_digits(int kind) {
  switch (kind) {
  case SHEGONG__V1__UNIT_KIND__TOWN: return 6;
  case SHEGONG__V1__UNIT_KIND__COMMUNITY:
  case SHEGONG__V1__UNIT_KIND__VILLAGE: return 9;
  case SHEGONG__V1__UNIT_KIND__GRID: return 12;
  default: return 0;
  }
}

static const char *kind_name(int kind) {
  const ProtobufCEnumValue *v =
      protobuf_c_enum_descriptor_get_value(&shegong__v1__unit_kind__descriptor, kind);
  return v ? v->name : "?";
}

/* Field checks that need no storage. */
static void validate_fields(sg_call_ctx *ctx, const sg_unit *u) {
  char why[SG_WHY_MAX];
  if (!sg_enum_valid(&shegong__v1__unit_kind__descriptor, u->kind) ||
      u->kind == SHEGONG__V1__UNIT_KIND__UNIT_KIND_UNSPECIFIED) {
    sg_status_violation(ctx->st, "unit.kind", "required: DISTRICT, TOWN, COMMUNITY, VILLAGE or GRID");
  } else if (sg_validate_division_code(u->code, code_digits(u->kind), why, sizeof why)) {
    sg_status_violation(ctx->st, "unit.code", "%s code: %s", kind_name(u->kind), why);
  }
  if (sg_validate_name(u->name, SG_UNIT_NAME_MAX, why, sizeof why))
    sg_status_violation(ctx->st, "unit.name", "%s", why);
  if (u->households > SG_UNIT_COUNT_MAX)
    sg_status_violation(ctx->st, "unit.households", "at most %u", SG_UNIT_COUNT_MAX);
  if (u->residents > SG_UNIT_COUNT_MAX)
    sg_status_violation(ctx->st, "unit.residents", "at most %u", SG_UNIT_COUNT_MAX);
  if (!isfinite(u->aged_60_percent) || u->aged_60_percent < 0 || u->aged_60_percent > 100)
    sg_status_violation(ctx->st, "unit.aged_60_percent", "a percentage from 0 to 100");
  if (!isfinite(u->area_km2) || u->area_km2 < 0 || u->area_km2 > 100000)
    sg_status_violation(ctx->st, "unit.area_km2", "square kilometres from 0 to 100000");
}

static int units_create(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                        ProtobufCMessage **resp) {
  const Shegong__V1__CreateUnitRequest *req = (const void *)req_msg;
  sg_store *s = ctx->store;
  if (!req->unit) {
    sg_status_violation(ctx->st, "unit", "required");
    return SG_EINVAL;
  }
  sg_unit *u = sg_arena_alloc(ctx->arena, sizeof *u);
  if (!u) return SG_ENOMEM;
  *u = *req->unit; /* shallow: strings stay in the request's arena memory */
  validate_fields(ctx, u);
  if (ctx->st->n_violations) return SG_EINVAL;

  const char *dcode = NULL;
  size_t dlen = 0;
  int rc = sg_meta_get_str(s, txn, "district_code", &dcode, &dlen);
  if (rc && rc != SG_ENOTFOUND) return rc;
  int have_district = rc == 0;
  sg_unit *parent = NULL;
  if (u->kind == SHEGONG__V1__UNIT_KIND__DISTRICT) {
    if (ctx->principal && ctx->principal->town_id)
      return sg_status_set(ctx->st, SG_EPERM, "a town token cannot create the district");
    if (have_district) {
      if (dlen == 6 && memcmp(dcode, u->code, 6) == 0)
        return sg_status_set(ctx->st, SG_EEXISTS, "district %s already exists", u->code);
      return sg_status_set(ctx->st, SG_EPRECOND, "this server keeps district %.*s, not %s",
                           (int)dlen, dcode, u->code);
    }
    if (u->parent_code[0]) {
      sg_status_violation(ctx->st, "unit.parent_code", "a district has no parent");
      return SG_EINVAL;
    }
    u->parent_id = 0;
  } else {
    if (!have_district)
      return sg_status_set(ctx->st, SG_EPRECOND, "create the district before its %ss",
                           kind_name(u->kind));
    if (dlen != 6 || strncmp(u->code, dcode, 6) != 0) {
      sg_status_violation(ctx->st, "unit.code", "must start with the district's code %.*s",
                          (int)dlen, dcode);
      return SG_EINVAL;
    }
    size_t pd = parent_digits(u->kind);
    char pcode[16];
    memcpy(pcode, u->code, pd);
    pcode[pd] = '\0';
    if (u->parent_code[0] && strcmp(u->parent_code, pcode) != 0) {
      sg_status_violation(ctx->st, "unit.parent_code", "%s does not match the code's prefix %s",
                          u->parent_code, pcode);
      return SG_EINVAL;
    }
    rc = sg_units_get_by_code(s, txn, pcode, &ctx->arena->allocator, &parent);
    if (rc == SG_ENOTFOUND)
      return sg_status_set(ctx->st, SG_EPRECOND, "parent unit %s does not exist", pcode);
    if (rc) return rc;
    if (!parent_kind_ok(u->kind, parent->kind))
      return sg_status_set(ctx->st, SG_EPRECOND, "a %s cannot belong to %s %s", kind_name(u->kind),
                           kind_name(parent->kind), pcode);
    /* a town's people add communities, villages and grids to their own town */
    uint64_t town = u->kind == SHEGONG__V1__UNIT_KIND__TOWN    ? 0
                    : u->kind == SHEGONG__V1__UNIT_KIND__GRID ? parent->parent_id
                                                               : parent->id;
    if (ctx->principal && ctx->principal->town_id && town == 0)
      return sg_status_set(ctx->st, SG_EPERM, "a town token cannot create a town");
    if ((rc = sg_authz_town(ctx, town, u->code))) return rc;
    u->parent_id = parent->id;
    u->parent_code = parent->code;
  }
  if ((rc = sg_store_next_id(s, txn, "seq:unit", &u->id)) ||
      (rc = sg_store_next_revision(s, txn, &u->revision)))
    return rc;
  u->version = 1;
  u->created_at = u->updated_at = sg_dup(ctx, ctx->now);
  rc = sg_units_insert(s, txn, u);
  if (rc == SG_EEXISTS) return sg_status_set(ctx->st, rc, "unit %s already exists", u->code);
  if (rc) return rc;
  if (u->kind == SHEGONG__V1__UNIT_KIND__DISTRICT &&
      (rc = sg_meta_put_str(s, txn, "district_code", u->code)))
    return rc;
  /* the towns a unit concerns: a town itself, else the town above it */
  sg_towns towns = {0};
  if (u->kind == SHEGONG__V1__UNIT_KIND__TOWN)
    sg_towns_add(&towns, u->id, u->code);
  else if (u->kind == SHEGONG__V1__UNIT_KIND__COMMUNITY || u->kind == SHEGONG__V1__UNIT_KIND__VILLAGE)
    sg_towns_add(&towns, parent->id, parent->code);
  else if (u->kind == SHEGONG__V1__UNIT_KIND__GRID)
    sg_towns_add(&towns, parent->parent_id, parent->parent_code);
  if ((rc = sg_log_change(ctx, txn, SHEGONG__V1__ENTITY__ENTITY_UNIT,
                          SHEGONG__V1__CHANGE_OP__CHANGE_CREATE, u->revision, &u->base, &towns)))
    return rc;
  sg_debug("unit %llu created: %s %s", (unsigned long long)u->id, kind_name(u->kind), u->code);
  *resp = &u->base;
  return 0;
}

static int units_get(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                     ProtobufCMessage **resp) {
  const Shegong__V1__GetUnitRequest *req = (const void *)req_msg;
  sg_unit *u;
  int rc;
  if (req->id && req->code[0]) {
    sg_status_violation(ctx->st, "code", "give id or code, not both");
    return SG_EINVAL;
  }
  if (req->id) {
    rc = sg_units_get(ctx->store, txn, req->id, &ctx->arena->allocator, &u);
    if (rc == SG_ENOTFOUND)
      return sg_status_set(ctx->st, rc, "unit %llu not found", (unsigned long long)req->id);
  } else if (req->code[0]) {
    if (strlen(req->code) > 15) {
      sg_status_violation(ctx->st, "code", "a division code has at most 15 digits");
      return SG_EINVAL;
    }
    rc = sg_units_get_by_code(ctx->store, txn, req->code, &ctx->arena->allocator, &u);
    if (rc == SG_ENOTFOUND) return sg_status_set(ctx->st, rc, "unit %s not found", req->code);
  } else {
    sg_status_violation(ctx->st, "id", "give id or code");
    return SG_EINVAL;
  }
  if (rc) return rc;
  uint64_t town;
  if ((rc = sg_unit_town_id(ctx, txn, &u->base, &town))) return rc;
  /* the district (town 0) is every town's context; a town is its own people's */
  if (town && (rc = sg_authz_town(ctx, town, u->code))) return rc;
  *resp = &u->base;
  return 0;
}

typedef struct unit_filter {
  int kind;
  uint64_t only_id; /* a scoped principal listing the district's towns sees its own */
} unit_filter;

static int load_unit(sg_pager *p, uint64_t id, void **out) {
  sg_unit *u;
  int rc = sg_units_get(p->ctx->store, p->txn, id, &p->ctx->arena->allocator, &u);
  if (rc) return rc;
  const unit_filter *f = p->arg;
  *out = (f->kind && (int)u->kind != f->kind) || (f->only_id && u->id != f->only_id) ? NULL : u;
  return 0;
}

static int units_list(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                      ProtobufCMessage **resp) {
  const Shegong__V1__ListUnitsRequest *req = (const void *)req_msg;
  sg_store *s = ctx->store;
  uint64_t after;
  if (req->kind && !sg_enum_valid(&shegong__v1__unit_kind__descriptor, req->kind))
    sg_status_violation(ctx->st, "kind", "unknown unit kind %d", req->kind);
  if (sg_page_token_parse(ctx, "page_token", req->page_token, 'u', &after) ||
      ctx->st->n_violations)
    return SG_EINVAL;
  Shegong__V1__ListUnitsResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__list_units_response__init(r);
  *resp = &r->base;

  const char *parent_code = req->parent_code;
  char dcode[16];
  if (!parent_code[0]) {
    const char *d;
    size_t dlen;
    int rc = sg_meta_get_str(s, txn, "district_code", &d, &dlen);
    if (rc == SG_ENOTFOUND) return 0; /* no district yet: nothing under it */
    if (rc) return rc;
    snprintf(dcode, sizeof dcode, "%.*s", (int)dlen, d);
    parent_code = dcode;
  }
  if (strlen(parent_code) > 15) {
    sg_status_violation(ctx->st, "parent_code", "a division code has at most 15 digits");
    return SG_EINVAL;
  }
  sg_unit *parent;
  int rc = sg_units_get_by_code(s, txn, parent_code, &ctx->arena->allocator, &parent);
  if (rc == SG_ENOTFOUND) return sg_status_set(ctx->st, rc, "unit %s not found", parent_code);
  if (rc) return rc;

  unit_filter filter = {req->kind, 0};
  uint64_t town;
  if ((rc = sg_unit_town_id(ctx, txn, &parent->base, &town))) return rc;
  if (town == 0 && ctx->principal) filter.only_id = ctx->principal->town_id;
  else if ((rc = sg_authz_town(ctx, town, parent->code))) return rc;
  sg_pager pg;
  if ((rc = sg_pager_init(&pg, ctx, txn, req->page_size, load_unit, &filter))) return rc;
  rc = sg_index_pair_scan(txn, s->units_by_parent, parent->id, after, sg_pager_visit, &pg);
  if (rc || (rc = pg.err)) return rc;
  r->units = (sg_unit **)pg.items;
  r->n_units = pg.n;
  r->next_page_token = sg_pager_token(&pg, 'u');
  return 0;
}

const sg_method_impl sg_svc_units[] = {
    {"/shegong.v1.Units/Create", SG_METHOD_WRITE, units_create},
    {"/shegong.v1.Units/Get", SG_METHOD_READ, units_get},
    {"/shegong.v1.Units/List", SG_METHOD_READ, units_list},
    {NULL, 0, NULL},
};
