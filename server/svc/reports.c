/*
 * Reports service: staffing against the policy's quota rules, and the
 * workforce figures the district publishes (turnover of a hiring cohort,
 * certification, structure, hires by channel). Read-only, on the loop
 * thread (or a replica's copy); workers are read one at a time.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "labels.h"
#include "shegong/v1/reports.pb-c.h"
#include "store/records.h"
#include "store/units.h"
#include "store/workers.h"
#include "svc/svc.h"

#define SG_FIRST_YEAR 1950

static const char *label(const ProtobufCEnumDescriptor *d, int v) {
  const char *l = sg_label_for(d, v);
  const ProtobufCEnumValue *e = protobuf_c_enum_descriptor_get_value(d, v);
  return l ? l : e ? e->name : "?";
}

/* ---- staffing ------------------------------------------------------------------------ */

enum { G_LEAD, G_GENERAL, G_NEIGHBOURHOOD, G_GRID, G_OTHER, G_N };

static int group_of_role(int role) {
  switch (role) {
  case SHEGONG__V1__ROLE__SECRETARY:
  case SHEGONG__V1__ROLE__DIRECTOR: return G_LEAD;
  case SHEGONG__V1__ROLE__GENERALIST: return G_GENERAL;
  case SHEGONG__V1__ROLE__NEIGHBOURHOOD: return G_NEIGHBOURHOOD;
  case SHEGONG__V1__ROLE__GRID_WORKER:
  case SHEGONG__V1__ROLE__FULL_TIME_GRID: return G_GRID;
  default: return G_OTHER;
  }
}

static int group_index(int group) {
  switch (group) {
  case SHEGONG__V1__ROLE_GROUP__LEAD: return G_LEAD;
  case SHEGONG__V1__ROLE_GROUP__GENERAL: return G_GENERAL;
  case SHEGONG__V1__ROLE_GROUP__NEIGHBOURHOOD_GROUP: return G_NEIGHBOURHOOD;
  case SHEGONG__V1__ROLE_GROUP__GRID_GROUP: return G_GRID;
  default: return G_OTHER;
  }
}

static const char *const group_word[G_N] = {"主责", "全科", "邻里", "网格", "其他"};

/* Active staff of a unit, by role group. */
typedef struct staff {
  uint32_t total;
  uint32_t by_group[G_N];
} staff;

typedef struct count_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  sg_arena *scratch;
  staff *s;
  int err;
} count_ctx;

static int count_one(void *arg, uint64_t id) {
  count_ctx *c = arg;
  sg_arena_mark m = sg_arena_get_mark(c->scratch);
  sg_worker *w;
  int rc = sg_workers_get(c->ctx->store, c->txn, id, &c->scratch->allocator, &w);
  if (rc) return c->err = (rc == SG_ENOTFOUND ? SG_EDATALOSS : rc);
  if (w->status != SHEGONG__V1__WORKER_STATUS__LEFT) {
    c->s->total++;
    c->s->by_group[group_of_role(w->role)]++;
  }
  sg_arena_rewind(c->scratch, m);
  return 0;
}

static int count_staff(sg_call_ctx *ctx, MDB_txn *txn, sg_arena *scratch, MDB_dbi index,
                       uint64_t key, staff *out) {
  memset(out, 0, sizeof *out);
  count_ctx c = {ctx, txn, scratch, out, 0};
  int rc = sg_index_pair_scan(txn, index, key, 0, count_one, &c);
  return c.err ? c.err : rc;
}

typedef struct kid_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  sg_arena *arena;
  sg_unit **units;
  size_t n, cap;
  int kind;  /* only children of this kind; 0: all but grids */
  uint32_t grids;
  int err;
} kid_ctx;

static int kid_one(void *arg, uint64_t id) {
  kid_ctx *k = arg;
  sg_arena_mark m = sg_arena_get_mark(k->arena);
  sg_unit *u;
  int rc = sg_units_get(k->ctx->store, k->txn, id, &k->arena->allocator, &u);
  if (rc) return k->err = (rc == SG_ENOTFOUND ? SG_EDATALOSS : rc);
  if (u->kind == SHEGONG__V1__UNIT_KIND__GRID) k->grids++;
  if ((k->kind && (int)u->kind != k->kind) || (!k->kind && u->kind == SHEGONG__V1__UNIT_KIND__GRID)) {
    sg_arena_rewind(k->arena, m);
    return 0;
  }
  if (sg_rows_grow(k->arena, (void ***)&k->units, k->n, &k->cap)) return k->err = SG_ENOMEM;
  k->units[k->n++] = u;
  return 0;
}

/* The children of unit id (towns of the district, communities and villages of a town). */
static int children(sg_call_ctx *ctx, MDB_txn *txn, uint64_t id, kid_ctx *k) {
  k->ctx = ctx;
  k->txn = txn;
  k->arena = ctx->arena;
  int rc = sg_index_pair_scan(txn, ctx->store->units_by_parent, id, 0, kid_one, k);
  return k->err ? k->err : rc;
}

static uint32_t grids_of(sg_call_ctx *ctx, MDB_txn *txn, uint64_t id, int *err) {
  kid_ctx k = {.kind = SHEGONG__V1__UNIT_KIND__GRID};
  sg_arena_mark m = sg_arena_get_mark(ctx->arena);
  *err = children(ctx, txn, id, &k);
  sg_arena_rewind(ctx->arena, m);
  return k.grids;
}

/* The rule for unit u at scope: its own (by code) first, then its kind's. */
static const Shegong__V1__QuotaRule *rule_for(const Shegong__V1__Policy *p, const sg_unit *u,
                                              int whole) {
  const Shegong__V1__QuotaRule *by_kind = NULL;
  for (size_t i = 0; i < p->n_quotas; i++) {
    const Shegong__V1__QuotaRule *q = p->quotas[i];
    int q_whole = sg_quota_scope(q) == SHEGONG__V1__QUOTA_SCOPE__WHOLE;
    if (q_whole != whole) continue;
    if (q->unit_code[0] && strcmp(q->unit_code, u->code) == 0) return q;
    if (!q->unit_code[0] && (int)q->unit_kind == (int)u->kind && !by_kind) by_kind = q;
  }
  return by_kind;
}

/*
 * The quota rule q gives unit u (with `grids` grids): the total, per role
 * group, and how it was made, in words.
 */
uint32_t sg_quota_compute(const Shegong__V1__QuotaRule *q, const Shegong__V1__Unit *u,
                          uint32_t grids, uint32_t by_group[], char *detail, size_t n);

uint32_t sg_quota_compute(const Shegong__V1__QuotaRule *q, const Shegong__V1__Unit *u,
                          uint32_t grids, uint32_t by_group[], char *detail, size_t n) {
  uint64_t total = 0;
  size_t used = 0;
  detail[0] = '\0';
#define SAY(...)                                                              \
  do {                                                                        \
    int k_ = snprintf(detail + used, used < n ? n - used : 0, __VA_ARGS__);   \
    if (k_ > 0) used += (size_t)k_;                                           \
    if (used >= n) used = n ? n - 1 : 0;                                      \
  } while (0)
  if (by_group) memset(by_group, 0, G_N * sizeof *by_group);
  if (q->n_household_steps) {
    const Shegong__V1__HouseholdStep *st = q->household_steps[0];
    for (size_t i = 1; i < q->n_household_steps; i++)
      if (u->households >= q->household_steps[i]->min_households) st = q->household_steps[i];
    uint64_t band = st->workers;
    const Shegong__V1__HouseholdStep *last = q->household_steps[q->n_household_steps - 1];
    uint64_t extra = 0;
    if (q->households_per_extra && u->households > last->min_households && st == last)
      extra = (u->households - last->min_households) / q->households_per_extra;
    if (u->households < q->household_steps[0]->min_households)
      SAY("%u 户 (below the first step, %u): %llu", u->households,
          q->household_steps[0]->min_households, (unsigned long long)band);
    else
      SAY("%u 户 (step %u): %llu", u->households, st->min_households, (unsigned long long)band);
    if (extra) SAY(" + %llu (1 per %u 户 over %u)", (unsigned long long)extra, q->households_per_extra,
                   last->min_households);
    total += band + extra;
  }
  if (q->ageing_extra && q->ageing_threshold_percent > 0 &&
      u->aged_60_percent >= q->ageing_threshold_percent) {
    SAY("%s老龄 %.1f%% ≥ %.1f%%: +%u", used ? "; " : "", u->aged_60_percent,
        q->ageing_threshold_percent, q->ageing_extra);
    total += q->ageing_extra;
  }
  for (size_t i = 0; i < q->n_roles; i++) {
    const Shegong__V1__RoleQuota *r = q->roles[i];
    uint64_t k = (uint64_t)r->fixed + (uint64_t)r->per_grid * grids;
    int g = group_index(r->group);
    if (by_group) by_group[g] += (uint32_t)k;
    if (r->per_grid)
      SAY("%s%s %u+%u×%u网格", used ? "; " : "", group_word[g], r->fixed, r->per_grid, grids);
    else
      SAY("%s%s %u", used ? "; " : "", group_word[g], r->fixed);
    total += k;
  }
  if (q->per_10k_residents) {
    uint64_t k = ((uint64_t)u->residents * q->per_10k_residents + 9999) / 10000;
    SAY("%s%u 人 × %u/万: %llu", used ? "; " : "", u->residents, q->per_10k_residents,
        (unsigned long long)k);
    total += k;
  }
  if (q->n_centre_tiers) {
    const Shegong__V1__CentreTier *best = NULL;
    for (size_t i = 0; i < q->n_centre_tiers; i++) {
      const Shegong__V1__CentreTier *t = q->centre_tiers[i];
      int fits = (!t->min_residents && t->min_area_km2 <= 0) ||
                 (t->min_residents && u->residents >= t->min_residents) ||
                 (t->min_area_km2 > 0 && u->area_km2 >= t->min_area_km2);
      if (fits && (!best || t->workers > best->workers)) best = t;
    }
    if (best) {
      SAY("%s中心档 (%u 人 / %.1f km²): %u", used ? "; " : "", u->residents, u->area_km2,
          best->workers);
      total += best->workers;
    } else {
      SAY("%sno centre tier fits", used ? "; " : "");
    }
  }
#undef SAY
  return total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
}

/* A sum into a row's 32-bit fields: units' figures are bounded, but say so. */
static uint32_t clamp32(uint64_t v) { return v > INT32_MAX ? INT32_MAX : (uint32_t)v; }

typedef struct staffing_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  const Shegong__V1__Policy *pol;
  sg_arena scratch;
  Shegong__V1__StaffingReport *r;
  size_t cap;
} staffing_ctx;

static Shegong__V1__StaffingRow *add_row(staffing_ctx *s, const sg_unit *u, const char *level) {
  Shegong__V1__StaffingRow *row = sg_arena_alloc(s->ctx->arena, sizeof *row);
  if (!row || sg_rows_grow(s->ctx->arena, (void ***)&s->r->rows, s->r->n_rows, &s->cap)) return NULL;
  shegong__v1__staffing_row__init(row);
  row->unit_code = u->code;
  row->name = u->name;
  row->kind = u->kind;
  row->level = (char *)level;
  s->r->rows[s->r->n_rows++] = row;
  return row;
}

/* A unit's own staff against its rule; adds to *sum. */
static int staffing_unit(staffing_ctx *s, const sg_unit *u, uint64_t *quota_sum,
                         uint64_t *actual_sum) {
  sg_call_ctx *ctx = s->ctx;
  staff st;
  int rc = count_staff(ctx, s->txn, &s->scratch, ctx->store->workers_by_unit, u->id, &st);
  if (rc) return rc;
  /* a town's own staff are its centre's */
  Shegong__V1__StaffingRow *row =
      add_row(s, u, u->kind == SHEGONG__V1__UNIT_KIND__TOWN ? "centre" : "unit");
  if (!row) return SG_ENOMEM;
  row->actual = st.total;
  const Shegong__V1__QuotaRule *q = rule_for(s->pol, u, 0);
  if (!q) {
    row->problem = sg_arena_printf(ctx->arena, "no quota rule applies to this %s",
                                   label(&shegong__v1__unit_kind__descriptor, u->kind));
    s->r->units_without_rule++;
    row->gap = -(int32_t)st.total;
    *actual_sum += st.total;
    return row->problem ? 0 : SG_ENOMEM;
  }
  uint32_t grids = q->n_roles ? grids_of(ctx, s->txn, u->id, &rc) : 0;
  if (rc) return rc;
  uint32_t want[G_N];
  char detail[256];
  row->quota = clamp32(sg_quota_compute(q, u, grids, want, detail, sizeof detail));
  row->gap = (int32_t)row->quota - (int32_t)row->actual;
  row->rule = q->name;
  row->detail = sg_dup(ctx, detail);
  if (q->n_roles) {
    char roles[256] = "";
    size_t used = 0;
    for (int g = 0; g < G_N; g++) {
      if (!want[g] && !st.by_group[g]) continue;
      int k = snprintf(roles + used, sizeof roles - used, "%s%s %u/%u", used ? ", " : "",
                       group_word[g], st.by_group[g], want[g]);
      if (k > 0 && (size_t)k < sizeof roles - used) used += (size_t)k;
    }
    row->roles = sg_dup(ctx, roles);
  }
  *quota_sum += row->quota;
  *actual_sum += row->actual;
  return 0;
}

/* A rule for the whole area of u (a town or the district). */
static int staffing_whole(staffing_ctx *s, const sg_unit *u, MDB_dbi index, uint64_t key,
                          const char *level) {
  const Shegong__V1__QuotaRule *q = rule_for(s->pol, u, 1);
  if (!q) return 0;
  staff st;
  int rc = key ? count_staff(s->ctx, s->txn, &s->scratch, index, key, &st) : 0;
  if (!key) {
    /* the district: every worker */
    memset(&st, 0, sizeof st);
    count_ctx c = {s->ctx, s->txn, &s->scratch, &st, 0};
    rc = sg_record_scan(s->txn, s->ctx->store->workers, 0, count_one, &c);
    if (c.err) rc = c.err;
  }
  if (rc) return rc;
  Shegong__V1__StaffingRow *row = add_row(s, u, level);
  if (!row) return SG_ENOMEM;
  char detail[256];
  row->quota = clamp32(sg_quota_compute(q, u, 0, NULL, detail, sizeof detail));
  row->actual = st.total;
  row->gap = (int32_t)row->quota - (int32_t)row->actual;
  row->rule = q->name;
  row->detail = sg_dup(s->ctx, detail);
  return 0;
}

/* A town: its centre, its communities and villages, the roll-up, the whole. */
static int staffing_town(staffing_ctx *s, const sg_unit *town, const char *only_unit,
                         uint64_t *quota_sum, uint64_t *actual_sum) {
  sg_call_ctx *ctx = s->ctx;
  uint64_t q = 0, a = 0;
  int rc;
  if (!only_unit || strcmp(only_unit, town->code) == 0)
    if ((rc = staffing_unit(s, town, &q, &a))) return rc;
  kid_ctx k = {.kind = 0};
  if ((rc = children(ctx, s->txn, town->id, &k))) return rc;
  for (size_t i = 0; i < k.n; i++)
    if (!only_unit || strcmp(only_unit, k.units[i]->code) == 0)
      if ((rc = staffing_unit(s, k.units[i], &q, &a))) return rc;
  if (only_unit) return 0;
  Shegong__V1__StaffingRow *row = add_row(s, town, "town");
  if (!row) return SG_ENOMEM;
  row->quota = clamp32(q);
  row->actual = clamp32(a);
  row->gap = (int32_t)row->quota - (int32_t)row->actual;
  row->detail = sg_arena_printf(ctx->arena, "the town centre and %zu communities and villages", k.n);
  *quota_sum += q;
  *actual_sum += a;
  return staffing_whole(s, town, ctx->store->workers_by_town, town->id, "town (whole)");
}

static int cmp_gap(const void *x, const void *y) {
  const Shegong__V1__StaffingRow *a = *(Shegong__V1__StaffingRow *const *)x,
                                 *b = *(Shegong__V1__StaffingRow *const *)y;
  if (a->gap != b->gap) return a->gap < b->gap ? 1 : -1;
  return strcmp(a->unit_code, b->unit_code);
}
static int cmp_quota(const void *x, const void *y) {
  const Shegong__V1__StaffingRow *a = *(Shegong__V1__StaffingRow *const *)x,
                                 *b = *(Shegong__V1__StaffingRow *const *)y;
  if (a->quota != b->quota) return a->quota < b->quota ? 1 : -1;
  return strcmp(a->unit_code, b->unit_code);
}
static int cmp_actual(const void *x, const void *y) {
  const Shegong__V1__StaffingRow *a = *(Shegong__V1__StaffingRow *const *)x,
                                 *b = *(Shegong__V1__StaffingRow *const *)y;
  if (a->actual != b->actual) return a->actual < b->actual ? 1 : -1;
  return strcmp(a->unit_code, b->unit_code);
}

static int reports_staffing(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                            ProtobufCMessage **resp) {
  const Shegong__V1__StaffingRequest *req = (const void *)req_msg;
  int (*cmp)(const void *, const void *) = NULL;
  if (!req->sort[0] || strcmp(req->sort, "code") == 0) cmp = NULL;
  else if (strcmp(req->sort, "gap") == 0) cmp = cmp_gap;
  else if (strcmp(req->sort, "quota") == 0) cmp = cmp_quota;
  else if (strcmp(req->sort, "actual") == 0) cmp = cmp_actual;
  else {
    sg_status_violation(ctx->st, "sort", "code, gap, quota or actual");
    return SG_EINVAL;
  }
  sg_scope sc;
  int rc = sg_scope_resolve(ctx, txn, req->town_code, req->unit_code, &sc);
  if (rc) return rc;
  staffing_ctx s = {.ctx = ctx, .txn = txn};
  Shegong__V1__Policy *pol;
  if ((rc = sg_policy_current(ctx->store, txn, &ctx->arena->allocator, &pol))) return rc;
  s.pol = pol;
  if (!(s.r = sg_arena_alloc(ctx->arena, sizeof *s.r))) return SG_ENOMEM;
  shegong__v1__staffing_report__init(s.r);
  s.r->policy = sg_arena_printf(ctx->arena, "%s (version %llu)", pol->name,
                                (unsigned long long)pol->version);
  sg_arena_init(&s.scratch, ctx->limits->max_call_memory);
  uint64_t q = 0, a = 0;
  const char *code = req->unit_code[0] ? req->unit_code : req->town_code;
  if (!code[0] && ctx->principal && ctx->principal->town_id) code = ctx->principal->town_code;
  sg_unit *named = NULL;
  int named_rc = code[0] ? sg_units_get_by_code(ctx->store, txn, code, &ctx->arena->allocator, &named)
                         : SG_ENOTFOUND;
  if (named_rc == 0) {
    if (named->kind == SHEGONG__V1__UNIT_KIND__GRID) {
      sg_arena_destroy(&s.scratch);
      sg_status_violation(ctx->st, "unit_code", "%s is a grid: quotas are for units", code);
      return SG_EINVAL;
    }
    if (named->kind == SHEGONG__V1__UNIT_KIND__DISTRICT) code = ""; /* the district's report */
  }
  if (code[0]) {
    /* one town, or one unit of it */
    sg_unit *u = named, *town;
    rc = named_rc;
    if (rc == 0 && u->kind == SHEGONG__V1__UNIT_KIND__TOWN) {
      town = u;
    } else if (rc == 0) {
      uint64_t tid;
      if ((rc = sg_unit_town_id(ctx, txn, &u->base, &tid)) == 0)
        rc = sg_units_get(ctx->store, txn, tid, &ctx->arena->allocator, &town);
    }
    if (rc == 0)
      rc = staffing_town(&s, town, req->unit_code[0] ? req->unit_code : NULL, &q, &a);
  } else {
    /* the district: every town, the roll-up, the whole */
    const char *dcode;
    size_t dlen;
    uint64_t did;
    sg_unit *d = named; /* the district, when it was named */
    rc = 0;
    if (!d && (rc = sg_meta_get_str(ctx->store, txn, "district_code", &dcode, &dlen)) == 0 &&
        (rc = sg_index_get_id(txn, ctx->store->units_by_code, dcode, dlen, &did)) == 0)
      rc = sg_units_get(ctx->store, txn, did, &ctx->arena->allocator, &d);
    if (rc == 0) {
      kid_ctx k = {.kind = SHEGONG__V1__UNIT_KIND__TOWN};
      rc = children(ctx, txn, d->id, &k);
      for (size_t i = 0; !rc && i < k.n; i++) rc = staffing_town(&s, k.units[i], NULL, &q, &a);
      Shegong__V1__StaffingRow *row = rc ? NULL : add_row(&s, d, "district");
      if (!rc && !row) rc = SG_ENOMEM;
      if (!rc) {
        row->quota = clamp32(q);
        row->actual = clamp32(a);
        row->gap = (int32_t)row->quota - (int32_t)row->actual;
        row->detail = sg_arena_printf(ctx->arena, "%zu towns", k.n);
        rc = staffing_whole(&s, d, 0, 0, "district (whole)");
      }
    } else if (rc == SG_ENOTFOUND) {
      rc = sg_status_set(ctx->st, SG_EPRECOND, "the district has no units yet");
    }
  }
  sg_arena_destroy(&s.scratch);
  if (rc) return rc == SG_ENOTFOUND ? SG_EDATALOSS : rc;
  if (cmp) {
    /* the units sorted; the roll-ups after them, in order */
    size_t n_units = 0;
    Shegong__V1__StaffingRow **units = sg_arena_alloc(ctx->arena, (s.r->n_rows + 1) * sizeof *units);
    Shegong__V1__StaffingRow **rest = sg_arena_alloc(ctx->arena, (s.r->n_rows + 1) * sizeof *rest);
    if (!units || !rest) return SG_ENOMEM;
    size_t n_rest = 0;
    for (size_t i = 0; i < s.r->n_rows; i++)
      if (strcmp(s.r->rows[i]->level, "unit") == 0 || strcmp(s.r->rows[i]->level, "centre") == 0)
        units[n_units++] = s.r->rows[i];
      else rest[n_rest++] = s.r->rows[i];
    if (n_units) qsort(units, n_units, sizeof *units, cmp);
    memcpy(s.r->rows, units, n_units * sizeof *units);
    if (n_rest) memcpy(s.r->rows + n_units, rest, n_rest * sizeof *rest);
  }
  *resp = &s.r->base;
  return 0;
}

/* ---- workforce ------------------------------------------------------------------------- */

typedef struct turn_ctx {
  const Shegong__V1__TurnoverRequest *req;
  const char *gone_by;
  Shegong__V1__TurnoverReport *r;
} turn_ctx;

static int turnover_worker(void *arg, sg_worker *w, sg_arena *scratch) {
  (void)scratch;
  turn_ctx *t = arg;
  int year = atoi(w->hire_date); /* "YYYY-..." */
  if (year < (int)t->req->hired_from || year > (int)t->req->hired_to) return 0;
  t->r->hired++;
  if (w->status == SHEGONG__V1__WORKER_STATUS__LEFT && strcmp(w->leave_date, t->gone_by) <= 0)
    t->r->gone++;
  return 0;
}

/* One decimal, rounded half up: 102 of 448 is 22.8. */
static double percent(uint32_t part, uint32_t whole) {
  if (!whole) return 0;
  return (double)(((uint64_t)part * 1000 + whole / 2) / whole) / 10.0;
}

static int reports_turnover(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                            ProtobufCMessage **resp) {
  const Shegong__V1__TurnoverRequest *req = (const void *)req_msg;
  sg_date today, d;
  sg_validate_date(ctx->today, &today, NULL, 0);
  char why[SG_WHY_MAX];
  if (req->hired_from < SG_FIRST_YEAR || req->hired_from > (uint32_t)today.year)
    sg_status_violation(ctx->st, "hired_from", "a year from %d to %d", SG_FIRST_YEAR, today.year);
  if (req->hired_to < req->hired_from || req->hired_to > (uint32_t)today.year)
    sg_status_violation(ctx->st, "hired_to", "a year from hired_from to %d", today.year);
  if (req->gone_by[0] && sg_validate_date(req->gone_by, &d, why, sizeof why))
    sg_status_violation(ctx->st, "gone_by", "%s", why);
  if (ctx->st->n_violations) return SG_EINVAL;
  sg_scope sc;
  int rc = sg_scope_resolve(ctx, txn, req->town_code, req->unit_code, &sc);
  if (rc) return rc;
  Shegong__V1__TurnoverReport *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__turnover_report__init(r);
  turn_ctx t = {req, req->gone_by[0] ? req->gone_by : ctx->today, r};
  if ((rc = sg_scope_workers(ctx, txn, &sc, turnover_worker, &t))) return rc;
  r->hired_from = req->hired_from;
  r->hired_to = req->hired_to;
  r->gone_by = sg_dup(ctx, t.gone_by);
  r->rate_percent = percent(r->gone, r->hired);
  *resp = &r->base;
  return 0;
}

static int cert_worker(void *arg, sg_worker *w, sg_arena *scratch) {
  (void)scratch;
  Shegong__V1__CertificationReport *r = arg;
  if (w->status == SHEGONG__V1__WORKER_STATUS__LEFT) return 0;
  r->workers++;
  switch (w->certification) {
  case SHEGONG__V1__CERTIFICATION__ASSISTANT_SOCIAL_WORKER: r->assistant++; break;
  case SHEGONG__V1__CERTIFICATION__SOCIAL_WORKER_CERT: r->social_worker++; break;
  case SHEGONG__V1__CERTIFICATION__SENIOR_SOCIAL_WORKER: r->senior++; break;
  default: break;
  }
  return 0;
}

static int reports_certification(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                                 ProtobufCMessage **resp) {
  const Shegong__V1__CertificationRequest *req = (const void *)req_msg;
  sg_scope sc;
  int rc = sg_scope_resolve(ctx, txn, req->town_code, req->unit_code, &sc);
  if (rc) return rc;
  Shegong__V1__CertificationReport *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__certification_report__init(r);
  if ((rc = sg_scope_workers(ctx, txn, &sc, cert_worker, r))) return rc;
  r->certified = r->assistant + r->social_worker + r->senior;
  r->rate_percent = percent(r->certified, r->workers);
  *resp = &r->base;
  return 0;
}

/* The structure: counts per value of each dimension. */
#define DIM_MAX 64
typedef struct tally {
  const char *dimension;
  const char *value[DIM_MAX];
  uint32_t count[DIM_MAX];
  uint64_t age_sum[DIM_MAX];
  size_t n;
} tally;

static void tally_add(tally *t, const char *value, int age) {
  for (size_t i = 0; i < t->n; i++)
    if (strcmp(t->value[i], value) == 0) {
      t->count[i]++;
      t->age_sum[i] += (uint64_t)age;
      return;
    }
  if (t->n == DIM_MAX) return;
  t->value[t->n] = value; /* static strings: labels and bands */
  t->count[t->n] = 1;
  t->age_sum[t->n++] = (uint64_t)age;
}

enum { D_AGE, D_GENDER, D_EDUCATION, D_PARTY, D_SOURCE, D_CATEGORY, D_ROLE, D_N };

typedef struct struct_ctx {
  sg_date as_of;
  tally t[D_N];
  uint32_t workers;
  uint64_t age_sum;
} struct_ctx;

static const char *const age_bands[] = {"30岁以下", "30-34岁", "35-39岁", "40-44岁",
                                         "45-49岁", "50-54岁", "55岁及以上"};

static const char *age_band(int age) {
  int i = age < 30 ? 0 : age >= 55 ? 6 : (age - 30) / 5 + 1;
  return age_bands[i];
}

static int age_rank(const char *band) {
  for (int i = 0; i < 7; i++)
    if (band == age_bands[i]) return i;
  return 7;
}

static const char *labelled(const ProtobufCEnumDescriptor *d, int v) {
  const char *l = sg_label_for(d, v);
  return l ? l : "未填";
}

static int struct_worker(void *arg, sg_worker *w, sg_arena *scratch) {
  (void)scratch;
  struct_ctx *s = arg;
  sg_date birth;
  if (w->status == SHEGONG__V1__WORKER_STATUS__LEFT ||
      sg_validate_date(w->birth_date, &birth, NULL, 0))
    return 0;
  int age = sg_date_years_between(&birth, &s->as_of);
  if (age < 0) return 0; /* as_of before the worker was born: not in that picture */
  s->workers++;
  s->age_sum += (uint64_t)age;
  tally_add(&s->t[D_AGE], age_band(age), age);
  tally_add(&s->t[D_GENDER], labelled(&shegong__v1__gender__descriptor, w->gender), age);
  tally_add(&s->t[D_EDUCATION], labelled(&shegong__v1__education__descriptor, w->education), age);
  tally_add(&s->t[D_PARTY], w->party_member ? "党员" : "非党员", age);
  tally_add(&s->t[D_SOURCE], labelled(&shegong__v1__source__descriptor, w->source), age);
  tally_add(&s->t[D_CATEGORY], labelled(&shegong__v1__category__descriptor, w->category), age);
  tally_add(&s->t[D_ROLE], labelled(&shegong__v1__role__descriptor, w->role), age);
  return 0;
}

static int reports_structure(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                             ProtobufCMessage **resp) {
  const Shegong__V1__StructureRequest *req = (const void *)req_msg;
  struct_ctx s;
  memset(&s, 0, sizeof s);
  char why[SG_WHY_MAX];
  if (sg_validate_date(req->as_of[0] ? req->as_of : ctx->today, &s.as_of, why, sizeof why)) {
    sg_status_violation(ctx->st, "as_of", "%s", why);
    return SG_EINVAL;
  }
  static const char *const dims[D_N] = {"age", "gender", "education", "party", "source",
                                        "category", "role"};
  for (int d = 0; d < D_N; d++) s.t[d].dimension = dims[d];
  sg_scope sc;
  int rc = sg_scope_resolve(ctx, txn, req->town_code, req->unit_code, &sc);
  if (rc || (rc = sg_scope_workers(ctx, txn, &sc, struct_worker, &s))) return rc;
  Shegong__V1__StructureReport *r = sg_arena_alloc(ctx->arena, sizeof *r);
  size_t total = 0;
  for (int d = 0; d < D_N; d++) total += s.t[d].n;
  if (!r) return SG_ENOMEM;
  shegong__v1__structure_report__init(r);
  r->rows = sg_arena_alloc(ctx->arena, (total + 1) * sizeof *r->rows);
  if (!r->rows) return SG_ENOMEM;
  r->workers = s.workers;
  r->average_age = s.workers ? round(s.age_sum * 10.0 / s.workers) / 10.0 : 0;
  for (int d = 0; d < D_N; d++) {
    /* ages in band order; the others by count */
    tally *t = &s.t[d];
    size_t order[DIM_MAX];
    for (size_t i = 0; i < t->n; i++) order[i] = i;
    for (size_t i = 1; i < t->n; i++)
      for (size_t j = i; j > 0; j--) {
        size_t a = order[j - 1], b = order[j];
        int swap = d == D_AGE ? age_rank(t->value[a]) > age_rank(t->value[b])
                              : t->count[a] < t->count[b];
        if (!swap) break;
        order[j - 1] = b;
        order[j] = a;
      }
    for (size_t k = 0; k < t->n; k++) {
      size_t i = order[k];
      Shegong__V1__StructureRow *row = sg_arena_alloc(ctx->arena, sizeof *row);
      if (!row) return SG_ENOMEM;
      shegong__v1__structure_row__init(row);
      row->dimension = (char *)t->dimension;
      row->value = (char *)t->value[i];
      row->count = t->count[i];
      row->share_percent = percent(t->count[i], s.workers);
      if (d == D_ROLE) row->average_age = round(t->age_sum[i] * 10.0 / t->count[i]) / 10.0;
      r->rows[r->n_rows++] = row;
    }
  }
  *resp = &r->base;
  return 0;
}

typedef struct hire_ctx {
  uint32_t from, to;
  uint32_t hired[64][16]; /* year offset, source */
  uint32_t still[64][16];
} hire_ctx;

static int hire_worker(void *arg, sg_worker *w, sg_arena *scratch) {
  (void)scratch;
  hire_ctx *h = arg;
  int year = atoi(w->hire_date);
  if (year < (int)h->from || year > (int)h->to || w->source >= 16) return 0;
  h->hired[year - h->from][w->source]++;
  if (w->status != SHEGONG__V1__WORKER_STATUS__LEFT) h->still[year - h->from][w->source]++;
  return 0;
}

static int reports_hiring(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                          ProtobufCMessage **resp) {
  const Shegong__V1__HiringRequest *req = (const void *)req_msg;
  sg_date today;
  sg_validate_date(ctx->today, &today, NULL, 0);
  hire_ctx *h = sg_arena_calloc(ctx->arena, sizeof *h);
  if (!h) return SG_ENOMEM;
  h->to = req->to_year ? req->to_year : (uint32_t)today.year;
  h->from = req->from_year ? req->from_year : h->to - 4;
  if (h->to > (uint32_t)today.year || h->to < SG_FIRST_YEAR)
    sg_status_violation(ctx->st, "to_year", "a year from %d to %d", SG_FIRST_YEAR, today.year);
  if (h->from > h->to || h->to - h->from >= 64)
    sg_status_violation(ctx->st, "from_year", "at most 64 years up to to_year");
  if (ctx->st->n_violations) return SG_EINVAL;
  sg_scope sc;
  int rc = sg_scope_resolve(ctx, txn, req->town_code, req->unit_code, &sc);
  if (rc || (rc = sg_scope_workers(ctx, txn, &sc, hire_worker, h))) return rc;
  Shegong__V1__HiringReport *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__hiring_report__init(r);
  size_t cap = 0;
  for (uint32_t y = h->from; y <= h->to; y++)
    for (int src = 0; src < 16; src++) {
      uint32_t n = h->hired[y - h->from][src];
      if (!n) continue;
      Shegong__V1__HiringRow *row = sg_arena_alloc(ctx->arena, sizeof *row);
      if (!row || sg_rows_grow(ctx->arena, (void ***)&r->rows, r->n_rows, &cap)) return SG_ENOMEM;
      shegong__v1__hiring_row__init(row);
      row->year = y;
      row->source = (char *)labelled(&shegong__v1__source__descriptor, src);
      row->hired = n;
      row->still_working = h->still[y - h->from][src];
      r->rows[r->n_rows++] = row;
      r->total += n;
    }
  *resp = &r->base;
  return 0;
}

const sg_method_impl sg_svc_reports[] = {
    {"/shegong.v1.Reports/Certification", SG_METHOD_REPORT, reports_certification},
    {"/shegong.v1.Reports/Hiring", SG_METHOD_REPORT, reports_hiring},
    {"/shegong.v1.Reports/Staffing", SG_METHOD_REPORT, reports_staffing},
    {"/shegong.v1.Reports/Structure", SG_METHOD_REPORT, reports_structure},
    {"/shegong.v1.Reports/Turnover", SG_METHOD_REPORT, reports_turnover},
    {NULL, 0, NULL},
};
