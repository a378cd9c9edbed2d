/*
 * Assessments service: 考核 records, household visits (走访), and the pay
 * steps they lead to. The weights, bands and the visit minimum are the
 * district's policy (store/records.h); the rules are server/rules.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "rules.h"
#include "store/records.h"
#include "store/units.h"
#include "store/workers.h"
#include "svc/svc.h"

#define SG_ASSESSOR_MAX 64
#define SG_NOTE_MAX 512
#define SG_FIRST_YEAR 1990
#define SG_BULK_MAX 2000
#define SG_LIST_MAX 20000
#define SG_VISITS_MAX 100000
#define SG_PER_YEAR_MAX 40      /* 12 monthly, 4 quarterly, 1 year-end and some special */

static int two_decimals(double v) {
  return isfinite(v) && fabs(v * 100 - round(v * 100)) < 1e-6;
}

static void today_of(const sg_call_ctx *ctx, sg_date *d) { sg_validate_date(ctx->today, d, NULL, 0); }

static int is_left(const sg_worker *w) { return w->status == SHEGONG__V1__WORKER_STATUS__LEFT; }

/* The first and last day an assessment's period covers. */
static void period_of(const Shegong__V1__Assessment *a, sg_date *first, sg_date *last) {
  *first = (sg_date){(int)a->year, 1, 1};
  *last = (sg_date){(int)a->year, 12, 31};
  if (a->quarter) {
    first->month = (int)(a->quarter - 1) * 3 + 1;
    last->month = first->month + 2;
  } else if (a->month) {
    first->month = last->month = (int)a->month;
  }
  if (a->quarter || a->month) {
    /* the period's last day: the day before the next month's first */
    sg_date next = {last->month == 12 ? last->year + 1 : last->year,
                    last->month == 12 ? 1 : last->month + 1, 1};
    sg_date_from_days(sg_date_days(&next) - 1, last);
  }
}

/* field name under a prefix: "assessment.kind", "rows[3].assessment.kind" */
#define F(buf, prefix, name) (snprintf(buf, sizeof buf, "%s%s", prefix, name), buf)

/*
 * Checks a's own fields (kind, period, scores, grade, who and when) and
 * computes its combined score and grade under the policy. Violations are
 * named under prefix.
 */
static void check_assessment(sg_call_ctx *ctx, const char *prefix, Shegong__V1__Assessment *a,
                             const Shegong__V1__AssessmentPolicy *pol) {
  char f[192], why[SG_WHY_MAX];
  sg_date today, d;
  today_of(ctx, &today);
  if (!sg_enum_valid(&shegong__v1__assessment_kind__descriptor, a->kind) || !a->kind)
    sg_status_violation(ctx->st, F(f, prefix, "kind"),
                        a->kind ? "unknown kind %d" : "required: 平时, 年终, 专项 or 综合",
                        (int)a->kind);
  int period_ok = 1;
  if (a->year < SG_FIRST_YEAR || a->year > (uint32_t)today.year) {
    sg_status_violation(ctx->st, F(f, prefix, "year"), "%u is not a year from %d to %d", a->year,
                        SG_FIRST_YEAR, today.year);
    period_ok = 0;
  }
  if (a->kind == SHEGONG__V1__ASSESSMENT_KIND__REGULAR) {
    if ((a->quarter != 0) == (a->month != 0)) {
      sg_status_violation(ctx->st, F(f, prefix, "quarter"),
                          "a 平时 assessment is for a quarter (1-4) or a month (1-12): give one");
      period_ok = 0;
    } else if (a->quarter > 4 || a->month > 12) {
      sg_status_violation(ctx->st, F(f, prefix, a->quarter ? "quarter" : "month"), "out of range");
      period_ok = 0;
    }
  } else if (a->quarter || a->month) {
    sg_status_violation(ctx->st, F(f, prefix, a->quarter ? "quarter" : "month"),
                        "only a 平时 assessment has a quarter or month");
    period_ok = 0;
  }
  sg_date first, last;
  if (period_ok) {
    period_of(a, &first, &last);
    if (sg_date_cmp(&first, &today) > 0)
      sg_status_violation(ctx->st, F(f, prefix, a->month ? "month" : "quarter"),
                          "the period has not begun");
  }
  if (!two_decimals(a->superior_score) || a->superior_score < 0 || a->superior_score > 100)
    sg_status_violation(ctx->st, F(f, prefix, "superior_score"),
                        "a score from 0 to 100 with at most two decimals");
  if (!two_decimals(a->resident_score) || a->resident_score < 0 || a->resident_score > 100)
    sg_status_violation(ctx->st, F(f, prefix, "resident_score"),
                        "a score from 0 to 100 with at most two decimals");
  if (!sg_enum_valid(&shegong__v1__grade__descriptor, a->grade))
    sg_status_violation(ctx->st, F(f, prefix, "grade"), "unknown grade %d", (int)a->grade);
  if (!a->assessor[0]) sg_status_violation(ctx->st, F(f, prefix, "assessor"), "required");
  else if (sg_validate_text(a->assessor, SG_ASSESSOR_MAX, why, sizeof why))
    sg_status_violation(ctx->st, F(f, prefix, "assessor"), "%s", why);
  if (!a->assessed_on[0]) {
    sg_status_violation(ctx->st, F(f, prefix, "assessed_on"), "required");
  } else if (sg_validate_date(a->assessed_on, &d, why, sizeof why)) {
    sg_status_violation(ctx->st, F(f, prefix, "assessed_on"), "%s", why);
  } else if (sg_date_cmp(&d, &today) > 0) {
    sg_status_violation(ctx->st, F(f, prefix, "assessed_on"), "%s is in the future",
                        a->assessed_on);
  } else if (period_ok && sg_date_cmp(&d, &first) < 0) {
    sg_status_violation(ctx->st, F(f, prefix, "assessed_on"), "before the period it assesses");
  }
  if (a->note[0] && sg_validate_text(a->note, SG_NOTE_MAX, why, sizeof why))
    sg_status_violation(ctx->st, F(f, prefix, "note"), "%s", why);
  if (ctx->st->n_violations) return;

  a->combined_score = sg_rule_combine(pol, a->superior_score, a->resident_score);
  int band = sg_rule_grade(pol, a->combined_score);
  if (!a->grade) {
    a->grade = band;
  } else if (sg_grade_better(a->grade, band)) {
    const ProtobufCEnumValue *b = protobuf_c_enum_descriptor_get_value(&shegong__v1__grade__descriptor, band);
    sg_status_violation(ctx->st, F(f, prefix, "grade"),
                        "a combined score of %.2f allows %s at best under the policy", a->combined_score,
                        b ? b->name : "?");
  }
}

typedef struct find_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  const Shegong__V1__Assessment *a;
  uint64_t found;     /* another in the same one-per-period slot */
  uint32_t in_year;   /* the worker's assessments of the same year */
  int err;
} find_ctx;

static int find_same_period(void *arg, uint64_t id) {
  find_ctx *fc = arg;
  if (id == fc->a->id) return 0;
  /* each record read is dropped again: a worker's history may be long */
  sg_arena_mark m = sg_arena_get_mark(fc->ctx->arena);
  Shegong__V1__Assessment *o;
  int rc = sg_rec_get(fc->ctx->store, fc->txn, SG_REC_ASSESSMENT, id, &fc->ctx->arena->allocator,
                      (ProtobufCMessage **)&o);
  if (rc) return fc->err = rc;
  if (o->year == fc->a->year) fc->in_year++;
  if (o->kind == fc->a->kind && o->year == fc->a->year && o->quarter == fc->a->quarter &&
      o->month == fc->a->month && (o->kind == SHEGONG__V1__ASSESSMENT_KIND__YEAR_END ||
                                   o->kind == SHEGONG__V1__ASSESSMENT_KIND__REGULAR))
    fc->found = id;
  sg_arena_rewind(fc->ctx->arena, m);
  return 0;
}

/*
 * Checks the assessment against its worker: employed in the period, one per
 * slot for 年终 (a year) and 平时 (a quarter or month), and at most
 * SG_PER_YEAR_MAX of any kind in a year, which bounds what every later
 * check and report reads about one worker.
 */
static int check_against_worker(sg_call_ctx *ctx, MDB_txn *txn, const Shegong__V1__Assessment *a,
                                const sg_worker *w) {
  sg_date first, last, hire, leave;
  period_of(a, &first, &last);
  if (sg_validate_date(w->hire_date, &hire, NULL, 0) == 0 && sg_date_cmp(&hire, &last) > 0)
    return sg_status_set(ctx->st, SG_EPRECOND, "worker %llu was hired on %s, after the period",
                         (unsigned long long)w->id, w->hire_date);
  if (is_left(w) && sg_validate_date(w->leave_date, &leave, NULL, 0) == 0 &&
      sg_date_cmp(&leave, &first) < 0)
    return sg_status_set(ctx->st, SG_EPRECOND, "worker %llu left on %s, before the period",
                         (unsigned long long)w->id, w->leave_date);
  find_ctx fc = {ctx, txn, a, 0, 0, 0};
  int rc = sg_rec_scan_worker(ctx->store, txn, SG_REC_ASSESSMENT, w->id, find_same_period, &fc);
  if (fc.err) return fc.err;
  if (rc) return rc;
  if (fc.found)
    return sg_status_set(ctx->st, SG_EEXISTS, "worker %llu already has this %s (assessment %llu)",
                         (unsigned long long)w->id,
                         a->kind == SHEGONG__V1__ASSESSMENT_KIND__YEAR_END ? "year's 年终 result"
                                                                           : "period's 平时 result",
                         (unsigned long long)fc.found);
  if (fc.in_year >= SG_PER_YEAR_MAX)
    return sg_status_set(ctx->st, SG_EPRECOND, "worker %llu has %u assessments for %u already: "
                         "at most %d a year", (unsigned long long)w->id, fc.in_year, a->year,
                         SG_PER_YEAR_MAX);
  return 0;
}

typedef struct visits_find {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  sg_arena *arena;
  uint32_t year;
  Shegong__V1__HouseholdVisits *found;
  int err;
} visits_find;

static int find_visits_year(void *arg, uint64_t id) {
  visits_find *v = arg;
  sg_arena_mark m = sg_arena_get_mark(v->arena);
  Shegong__V1__HouseholdVisits *h;
  int rc = sg_rec_get(v->ctx->store, v->txn, SG_REC_VISITS, id, &v->arena->allocator,
                      (ProtobufCMessage **)&h);
  if (rc) return v->err = rc;
  if (h->year == v->year) {
    v->found = h;
    return 1;
  }
  sg_arena_rewind(v->arena, m);
  return 0;
}

/* The worker's visits record for year, or NULL. Memory: arena. */
static int visits_of(sg_call_ctx *ctx, MDB_txn *txn, sg_arena *arena, uint64_t worker,
                     uint32_t year, Shegong__V1__HouseholdVisits **out) {
  visits_find v = {ctx, txn, arena, year, NULL, 0};
  int rc = sg_rec_scan_worker(ctx->store, txn, SG_REC_VISITS, worker, find_visits_year, &v);
  *out = v.found;
  return v.err ? v.err : rc;
}

/* Sets worker w's visit count for year (validated by the caller). */
static int put_visits(sg_call_ctx *ctx, MDB_txn *txn, const sg_worker *w, uint64_t town,
                      uint32_t year, uint32_t count, Shegong__V1__HouseholdVisits **out) {
  Shegong__V1__HouseholdVisits *h;
  int rc = visits_of(ctx, txn, ctx->arena, w->id, year, &h);
  if (rc) return rc;
  int op = SHEGONG__V1__CHANGE_OP__CHANGE_UPDATE;
  if (!h) {
    if (!(h = sg_arena_alloc(ctx->arena, sizeof *h))) return SG_ENOMEM;
    shegong__v1__household_visits__init(h);
    if ((rc = sg_store_next_id(ctx->store, txn, SG_REC_VISITS->seq, &h->id))) return rc;
    h->worker_id = w->id;
    h->year = year;
    op = SHEGONG__V1__CHANGE_OP__CHANGE_CREATE;
  }
  h->count = count;
  h->version++;
  h->updated_at = sg_dup(ctx, ctx->now);
  if ((rc = sg_store_next_revision(ctx->store, txn, &h->revision)) ||
      (rc = sg_rec_put(ctx->store, txn, SG_REC_VISITS, &h->base)))
    return rc;
  sg_towns towns = {0};
  sg_towns_add(&towns, town, w->town_code);
  if ((rc = sg_log_change(ctx, txn, SHEGONG__V1__ENTITY__ENTITY_VISITS, op, h->revision, &h->base,
                          &towns)))
    return rc;
  if (out) *out = h;
  return 0;
}

static void check_visits(sg_call_ctx *ctx, const char *prefix, uint32_t year, uint32_t count,
                         const sg_worker *w) {
  char f[192];
  sg_date today, hire;
  today_of(ctx, &today);
  if (year < SG_FIRST_YEAR || year > (uint32_t)today.year)
    sg_status_violation(ctx->st, F(f, prefix, "year"), "%u is not a year from %d to %d", year,
                        SG_FIRST_YEAR, today.year);
  else if (w && sg_validate_date(w->hire_date, &hire, NULL, 0) == 0 && (uint32_t)hire.year > year)
    sg_status_violation(ctx->st, F(f, prefix, "year"), "the worker was hired in %d", hire.year);
  else if (w && is_left(w) && sg_validate_date(w->leave_date, &hire, NULL, 0) == 0 &&
           (uint32_t)hire.year < year)
    sg_status_violation(ctx->st, F(f, prefix, "year"), "the worker left in %d", hire.year);
  if (count > SG_VISITS_MAX)
    sg_status_violation(ctx->st, F(f, prefix, "household_visits"), "at most %d", SG_VISITS_MAX);
}

/*
 * Records one assessment (and its visits, when asked) for a worker the
 * caller may touch; unit, when set, is the unit (or town) the worker must be in.
 * prefix names the request's fields in violations.
 */
static int record_one(sg_call_ctx *ctx, MDB_txn *txn, const char *prefix,
                      const Shegong__V1__RecordAssessmentRequest *req, const sg_unit *unit,
                      const Shegong__V1__Policy *pol, Shegong__V1__Assessment **out) {
  char f[192];
  if (!req->assessment) {
    sg_status_violation(ctx->st, F(f, prefix, "assessment"), "required");
    return SG_EINVAL;
  }
  Shegong__V1__Assessment *a = sg_arena_alloc(ctx->arena, sizeof *a);
  if (!a) return SG_ENOMEM;
  *a = *req->assessment;
  a->id = 0;
  char ap[96];
  snprintf(ap, sizeof ap, "%sassessment.", prefix);
  sg_worker *w;
  uint64_t town;
  int rc = sg_worker_load_scoped(ctx, txn, a->worker_id, F(f, ap, "worker_id"), &w, &town);
  if (rc) return rc;
  /* a bulk for a town covers its communities and villages too */
  if (unit && w->unit_id != unit->id &&
      !(unit->kind == SHEGONG__V1__UNIT_KIND__TOWN && strcmp(w->town_code, unit->code) == 0))
    return sg_status_set(ctx->st, SG_EPRECOND, "worker %llu is in unit %s, not in %s",
                         (unsigned long long)w->id, w->unit_code, unit->code);
  check_assessment(ctx, ap, a, pol->assessment);
  if (req->set_visits) check_visits(ctx, prefix, a->year, req->household_visits, w);
  if (ctx->st->n_violations) return SG_EINVAL;
  if ((rc = check_against_worker(ctx, txn, a, w))) return rc;
  if ((rc = sg_store_next_id(ctx->store, txn, SG_REC_ASSESSMENT->seq, &a->id)) ||
      (rc = sg_store_next_revision(ctx->store, txn, &a->revision)))
    return rc;
  a->version = 1;
  a->policy_version = pol->version;
  a->created_at = a->updated_at = sg_dup(ctx, ctx->now);
  if ((rc = sg_rec_put(ctx->store, txn, SG_REC_ASSESSMENT, &a->base))) return rc;
  sg_towns towns = {0};
  sg_towns_add(&towns, town, w->town_code);
  if ((rc = sg_log_change(ctx, txn, SHEGONG__V1__ENTITY__ENTITY_ASSESSMENT,
                          SHEGONG__V1__CHANGE_OP__CHANGE_CREATE, a->revision, &a->base, &towns)))
    return rc;
  if (req->set_visits && (rc = put_visits(ctx, txn, w, town, a->year, req->household_visits, NULL)))
    return rc;
  *out = a;
  return 0;
}

static int assess_record(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                         ProtobufCMessage **resp) {
  Shegong__V1__Policy *pol;
  int rc = sg_policy_current(ctx->store, txn, &ctx->arena->allocator, &pol);
  if (rc) return rc;
  Shegong__V1__Assessment *a;
  if ((rc = record_one(ctx, txn, "", (const void *)req_msg, NULL, pol, &a))) return rc;
  *resp = &a->base;
  return 0;
}

static int assess_amend(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                        ProtobufCMessage **resp) {
  static const char *const amendable[] = {"superior_score", "resident_score", "grade", "assessor",
                                          "assessed_on", "note", NULL};
  const Shegong__V1__AmendAssessmentRequest *req = (const void *)req_msg;
  if (!req->id) sg_status_violation(ctx->st, "id", "required");
  if (!req->expected_version) sg_status_violation(ctx->st, "expected_version", "required");
  if (!req->assessment) sg_status_violation(ctx->st, "assessment", "required");
  if (!req->n_update_mask) sg_status_violation(ctx->st, "update_mask", "name the fields to change");
  int grade_named = 0, score_named = 0;
  for (size_t i = 0; i < req->n_update_mask; i++) {
    int ok = 0;
    for (size_t k = 0; amendable[k]; k++) ok |= strcmp(req->update_mask[i], amendable[k]) == 0;
    if (!ok)
      sg_status_violation(ctx->st, "update_mask", "%.40s cannot be amended (record a new one)",
                          req->update_mask[i]);
    grade_named |= strcmp(req->update_mask[i], "grade") == 0;
    score_named |= strstr(req->update_mask[i], "_score") != NULL;
  }
  if (ctx->st->n_violations) return SG_EINVAL;
  Shegong__V1__Assessment *old;
  int rc = sg_rec_get(ctx->store, txn, SG_REC_ASSESSMENT, req->id, &ctx->arena->allocator,
                      (ProtobufCMessage **)&old);
  if (rc == SG_ENOTFOUND)
    return sg_status_set(ctx->st, rc, "assessment %llu not found", (unsigned long long)req->id);
  if (rc) return rc;
  sg_worker *w;
  uint64_t town;
  if ((rc = sg_worker_load_scoped(ctx, txn, old->worker_id, "id", &w, &town))) return rc;
  if (old->version != req->expected_version)
    return sg_status_set(ctx->st, SG_ECONFLICT,
                         "assessment %llu is at version %llu, not %llu: read it again",
                         (unsigned long long)old->id, (unsigned long long)old->version,
                         (unsigned long long)req->expected_version);
  Shegong__V1__Assessment *a = sg_arena_alloc(ctx->arena, sizeof *a);
  if (!a) return SG_ENOMEM;
  *a = *old;
  const ProtobufCMessageDescriptor *d = &shegong__v1__assessment__descriptor;
  for (size_t i = 0; i < req->n_update_mask; i++) {
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field_by_name(d, req->update_mask[i]);
    size_t size = fd->type == PROTOBUF_C_TYPE_STRING ? sizeof(char *)
                  : fd->type == PROTOBUF_C_TYPE_DOUBLE ? sizeof(double)
                                                       : sizeof(uint32_t);
    memcpy((char *)a + fd->offset, (const char *)req->assessment + fd->offset, size);
  }
  /*
   * New scores are weighed under the current policy and, unless a grade is
   * given, graded by its bands. Amending anything else keeps the result as
   * it was weighed and graded: a note must not undo an 优秀 quota decision
   * or re-weigh an old year under this year's weights.
   */
  if (score_named && !grade_named) a->grade = SHEGONG__V1__GRADE__GRADE_UNSPECIFIED;
  Shegong__V1__Policy *pol;
  if (score_named) {
    if ((rc = sg_policy_current(ctx->store, txn, &ctx->arena->allocator, &pol))) return rc;
  } else {
    rc = old->policy_version
             ? sg_rec_get(ctx->store, txn, SG_REC_POLICY, old->policy_version,
                          &ctx->arena->allocator, (ProtobufCMessage **)&pol)
             : sg_policy_current(ctx->store, txn, &ctx->arena->allocator, &pol);
    /* a record made under the defaults, before any policy: the defaults */
    if (rc == 0 && !old->policy_version && pol->version) pol = (Shegong__V1__Policy *)sg_policy_defaults();
    if (rc) return rc == SG_ENOTFOUND ? SG_EDATALOSS : rc;
  }
  check_assessment(ctx, "assessment.", a, pol->assessment);
  if (ctx->st->n_violations) return SG_EINVAL;
  a->version = old->version + 1;
  a->policy_version = pol->version;
  a->updated_at = sg_dup(ctx, ctx->now);
  if ((rc = sg_store_next_revision(ctx->store, txn, &a->revision)) ||
      (rc = sg_rec_put(ctx->store, txn, SG_REC_ASSESSMENT, &a->base)))
    return rc;
  sg_towns towns = {0};
  sg_towns_add(&towns, town, w->town_code);
  if ((rc = sg_log_change(ctx, txn, SHEGONG__V1__ENTITY__ENTITY_ASSESSMENT,
                          SHEGONG__V1__CHANGE_OP__CHANGE_UPDATE, a->revision, &a->base, &towns)))
    return rc;
  *resp = &a->base;
  return 0;
}

/* ---- list ------------------------------------------------------------------- */

typedef struct list_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  const Shegong__V1__ListAssessmentsRequest *req;
  Shegong__V1__ListAssessmentsResponse *r;
  size_t cap;
  int err;
} list_ctx;

static int list_one(void *arg, uint64_t id) {
  list_ctx *l = arg;
  sg_arena_mark m = sg_arena_get_mark(l->ctx->arena);
  Shegong__V1__Assessment *a;
  int rc = sg_rec_get(l->ctx->store, l->txn, SG_REC_ASSESSMENT, id, &l->ctx->arena->allocator,
                      (ProtobufCMessage **)&a);
  if (rc) return l->err = (rc == SG_ENOTFOUND ? SG_EDATALOSS : rc);
  if ((l->req->year && a->year != l->req->year) || (l->req->kind && a->kind != l->req->kind)) {
    sg_arena_rewind(l->ctx->arena, m);
    return 0;
  }
  if (l->r->n_assessments == SG_LIST_MAX) {
    l->err = sg_status_set(l->ctx->st, SG_ENOMEM,
                           "more than %d assessments: narrow the list by year, kind or unit",
                           SG_LIST_MAX);
    return l->err;
  }
  if (sg_rows_grow(l->ctx->arena, (void ***)&l->r->assessments, l->r->n_assessments, &l->cap))
    return l->err = SG_ENOMEM;
  l->r->assessments[l->r->n_assessments++] = a;
  return 0;
}

static int list_worker(void *arg, sg_worker *w, sg_arena *scratch) {
  (void)scratch;
  list_ctx *l = arg;
  int rc = sg_rec_scan_worker(l->ctx->store, l->txn, SG_REC_ASSESSMENT, w->id, list_one, l);
  return l->err ? l->err : rc;
}

static int assess_list(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                       ProtobufCMessage **resp) {
  const Shegong__V1__ListAssessmentsRequest *req = (const void *)req_msg;
  if (req->worker_id && (req->unit_code[0] || req->town_code[0])) {
    sg_status_violation(ctx->st, "worker_id", "give worker_id, unit_code or town_code: one");
    return SG_EINVAL;
  }
  if (!sg_enum_valid(&shegong__v1__assessment_kind__descriptor, req->kind)) {
    sg_status_violation(ctx->st, "kind", "unknown kind %d", (int)req->kind);
    return SG_EINVAL;
  }
  Shegong__V1__ListAssessmentsResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__list_assessments_response__init(r);
  list_ctx l = {ctx, txn, req, r, 0, 0};
  int rc;
  if (req->worker_id) {
    sg_worker *w;
    if ((rc = sg_worker_load_scoped(ctx, txn, req->worker_id, "worker_id", &w, NULL)) ||
        (rc = list_worker(&l, w, NULL)))
      return rc;
  } else {
    sg_scope sc;
    if ((rc = sg_scope_resolve(ctx, txn, req->town_code, req->unit_code, &sc)) ||
        (rc = sg_scope_workers(ctx, txn, &sc, list_worker, &l)))
      return rc;
  }
  *resp = &r->base;
  return 0;
}

/* ---- bulk ------------------------------------------------------------------- */

static int assess_bulk(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                       ProtobufCMessage **resp) {
  const Shegong__V1__BulkAssessmentRequest *req = (const void *)req_msg;
  if (!req->unit_code[0]) sg_status_violation(ctx->st, "unit_code", "required");
  if (req->n_rows == 0) sg_status_violation(ctx->st, "rows", "no rows");
  if (req->n_rows > SG_BULK_MAX) sg_status_violation(ctx->st, "rows", "at most %d", SG_BULK_MAX);
  if (ctx->st->n_violations) return SG_EINVAL;
  sg_unit *u;
  int rc = sg_units_get_by_code(ctx->store, txn, req->unit_code, &ctx->arena->allocator, &u);
  if (rc == SG_ENOTFOUND) return sg_status_set(ctx->st, rc, "unit %s not found", req->unit_code);
  if (rc) return rc;
  uint64_t town;
  if ((rc = sg_unit_town_id(ctx, txn, &u->base, &town)) ||
      (rc = sg_authz_town(ctx, town, req->unit_code)))
    return rc;
  Shegong__V1__Policy *pol;
  if ((rc = sg_policy_current(ctx->store, txn, &ctx->arena->allocator, &pol))) return rc;
  Shegong__V1__BulkAssessmentResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__bulk_assessment_response__init(r);
  r->assessments = sg_arena_alloc(ctx->arena, req->n_rows * sizeof *r->assessments);
  if (!r->assessments) return SG_ENOMEM;
  /* every row is tried, so that one answer names every bad row; any bad
   * row fails the call, and the writer rolls the whole call back */
  size_t bad = 0;
  for (size_t i = 0; i < req->n_rows; i++) {
    char prefix[32];
    snprintf(prefix, sizeof prefix, "rows[%zu].", i);
    sg_status row_st;
    sg_status_clear(&row_st);
    sg_call_ctx sub = *ctx;
    sub.st = &row_st;
    Shegong__V1__Assessment *a = NULL;
    rc = record_one(&sub, txn, prefix, req->rows[i], u, pol, &a);
    if (rc == 0) {
      r->assessments[r->n_assessments++] = a;
      continue;
    }
    if (rc != SG_EINVAL && rc != SG_EEXISTS && rc != SG_EPRECOND && rc != SG_ENOTFOUND) {
      /* a worker out of the caller's scope refuses the call, as a single
       * Record would; the server's own trouble stops it too */
      *ctx->st = row_st;
      return rc;
    }
    bad++;
    if (row_st.n_violations)
      for (size_t k = 0; k < row_st.n_violations && k < SG_STATUS_VIOLATIONS_MAX; k++)
        sg_status_violation(ctx->st, row_st.violations[k].field, "%s",
                            row_st.violations[k].description);
    else
      sg_status_violation(ctx->st, (snprintf(prefix, sizeof prefix, "rows[%zu]", i), prefix), "%s",
                          row_st.message);
  }
  if (bad) {
    sg_status_set(ctx->st, SG_EINVAL, "%zu of %zu rows are bad: nothing was recorded", bad,
                  req->n_rows);
    return SG_EINVAL;
  }
  *resp = &r->base;
  return 0;
}

/* ---- visits ----------------------------------------------------------------- */

static int assess_set_visits(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                             ProtobufCMessage **resp) {
  const Shegong__V1__SetVisitsRequest *req = (const void *)req_msg;
  sg_worker *w;
  uint64_t town;
  int rc = sg_worker_load_scoped(ctx, txn, req->worker_id, "worker_id", &w, &town);
  if (rc) return rc;
  check_visits(ctx, "", req->year, req->count, w);
  if (ctx->st->n_violations) {
    /* SetVisits calls the count `count` */
    for (size_t i = 0; i < ctx->st->n_violations && i < SG_STATUS_VIOLATIONS_MAX; i++)
      if (strcmp(ctx->st->violations[i].field, "household_visits") == 0)
        strcpy(ctx->st->violations[i].field, "count");
    return SG_EINVAL;
  }
  Shegong__V1__HouseholdVisits *h;
  if ((rc = put_visits(ctx, txn, w, town, req->year, req->count, &h))) return rc;
  *resp = &h->base;
  return 0;
}

/* The year to report: given, or this year; INVALID_ARGUMENT out of range. */
static int report_year(sg_call_ctx *ctx, uint32_t asked, uint32_t dflt, uint32_t *out) {
  sg_date today;
  today_of(ctx, &today);
  *out = asked ? asked : dflt;
  if (*out < SG_FIRST_YEAR || *out > (uint32_t)today.year) {
    sg_status_violation(ctx->st, "year", "%u is not a year from %d to %d", *out, SG_FIRST_YEAR,
                        today.year);
    return SG_EINVAL;
  }
  return 0;
}

typedef struct visits_report_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  uint32_t year, minimum;
  sg_date start, end; /* the part of the year that counts: to today in the current year */
  Shegong__V1__VisitsReportResponse *r;
  size_t cap;
} visits_report_ctx;

static int visits_worker(void *arg, sg_worker *w, sg_arena *scratch) {
  visits_report_ctx *v = arg;
  sg_date hire, leave, from = v->start, to = v->end;
  if (sg_validate_date(w->hire_date, &hire, NULL, 0)) return 0;
  if (sg_date_cmp(&hire, &from) > 0) from = hire;
  if (is_left(w) && sg_validate_date(w->leave_date, &leave, NULL, 0) == 0 &&
      sg_date_cmp(&leave, &to) < 0)
    to = leave;
  if (sg_date_cmp(&from, &to) > 0) return 0; /* not working in the period */
  v->r->workers++;
  /* held to the share of the year served: a March hire owes about 10/12 */
  sg_date y0 = {(int)v->year, 1, 1}, y1 = {(int)v->year, 12, 31};
  long year_days = sg_date_days(&y1) - sg_date_days(&y0) + 1;
  long served = sg_date_days(&to) - sg_date_days(&from) + 1;
  uint32_t required = (uint32_t)((uint64_t)v->minimum * (uint64_t)served / (uint64_t)year_days);
  Shegong__V1__HouseholdVisits *h;
  int rc = visits_of(v->ctx, v->txn, scratch, w->id, v->year, &h);
  if (rc) return rc;
  uint32_t count = h ? h->count : 0;
  if (count >= required) return 0;
  Shegong__V1__VisitsRow *row = sg_arena_alloc(v->ctx->arena, sizeof *row);
  if (!row || sg_rows_grow(v->ctx->arena, (void ***)&v->r->rows, v->r->n_rows, &v->cap))
    return SG_ENOMEM;
  shegong__v1__visits_row__init(row);
  row->worker_id = w->id;
  row->name = sg_dup(v->ctx, w->name);
  row->unit_code = sg_dup(v->ctx, w->unit_code);
  row->visits = count;
  row->required = required;
  row->shortfall = required - count;
  v->r->rows[v->r->n_rows++] = row;
  return 0;
}

static int cmp_shortfall(const void *a, const void *b) {
  const Shegong__V1__VisitsRow *x = *(Shegong__V1__VisitsRow *const *)a,
                               *y = *(Shegong__V1__VisitsRow *const *)b;
  if (x->shortfall != y->shortfall) return x->shortfall < y->shortfall ? 1 : -1;
  return x->worker_id < y->worker_id ? -1 : x->worker_id > y->worker_id;
}

static int assess_visits_report(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                                ProtobufCMessage **resp) {
  const Shegong__V1__VisitsReportRequest *req = (const void *)req_msg;
  sg_date today;
  today_of(ctx, &today);
  visits_report_ctx v = {.ctx = ctx, .txn = txn};
  int rc = report_year(ctx, req->year, (uint32_t)today.year, &v.year);
  if (rc) return rc;
  if (req->below > SG_VISITS_MAX) {
    sg_status_violation(ctx->st, "below", "at most %d", SG_VISITS_MAX);
    return SG_EINVAL;
  }
  sg_scope sc;
  if ((rc = sg_scope_resolve(ctx, txn, req->town_code, req->unit_code, &sc))) return rc;
  Shegong__V1__Policy *pol;
  if ((rc = sg_policy_current(ctx->store, txn, &ctx->arena->allocator, &pol))) return rc;
  v.minimum = req->below ? req->below : pol->assessment->visit_minimum;
  v.start = (sg_date){(int)v.year, 1, 1};
  v.end = (sg_date){(int)v.year, 12, 31};
  if (sg_date_cmp(&v.end, &today) > 0) v.end = today;
  if (!(v.r = sg_arena_alloc(ctx->arena, sizeof *v.r))) return SG_ENOMEM;
  shegong__v1__visits_report_response__init(v.r);
  v.r->year = v.year;
  v.r->minimum = v.minimum;
  if ((rc = sg_scope_workers(ctx, txn, &sc, visits_worker, &v))) return rc;
  if (v.r->n_rows) qsort(v.r->rows, v.r->n_rows, sizeof *v.r->rows, cmp_shortfall);
  *resp = &v.r->base;
  return 0;
}

/* ---- eligibility ---------------------------------------------------------------- */

typedef struct facts_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  sg_arena *arena;
  sg_year_result *years;
  size_t n_years, cap_years;
  Shegong__V1__LevelChange **changes;
  size_t n_changes, cap_changes;
  int err;
} facts_ctx;

static int facts_assessment(void *arg, uint64_t id) {
  facts_ctx *f = arg;
  sg_arena_mark m = sg_arena_get_mark(f->arena);
  Shegong__V1__Assessment *a;
  int rc = sg_rec_get(f->ctx->store, f->txn, SG_REC_ASSESSMENT, id, &f->arena->allocator,
                      (ProtobufCMessage **)&a);
  if (rc) return f->err = rc;
  if (a->kind != SHEGONG__V1__ASSESSMENT_KIND__YEAR_END) {
    sg_arena_rewind(f->arena, m); /* only year-end results count for steps */
    return 0;
  }
  if (f->n_years == f->cap_years) {
    size_t c = f->cap_years ? f->cap_years * 2 : 16;
    sg_year_result *g = sg_arena_alloc(f->arena, c * sizeof *g);
    if (!g) return f->err = SG_ENOMEM;
    if (f->n_years) memcpy(g, f->years, f->n_years * sizeof *g);
    f->years = g;
    f->cap_years = c;
  }
  f->years[f->n_years++] = (sg_year_result){a->year, a->grade, a->combined_score};
  return 0;
}

static int facts_change(void *arg, uint64_t id) {
  facts_ctx *f = arg;
  Shegong__V1__LevelChange *c;
  int rc = sg_rec_get(f->ctx->store, f->txn, SG_REC_LEVEL_CHANGE, id, &f->arena->allocator,
                      (ProtobufCMessage **)&c);
  if (rc) return f->err = rc;
  if (sg_rows_grow(f->arena, (void ***)&f->changes, f->n_changes, &f->cap_changes))
    return f->err = SG_ENOMEM;
  f->changes[f->n_changes++] = c;
  return 0;
}

int sg_step_facts_load(sg_call_ctx *ctx, MDB_txn *txn, const sg_worker *w, sg_arena *arena,
                       sg_step_facts *out) {
  facts_ctx f = {.ctx = ctx, .txn = txn, .arena = arena};
  int rc = sg_rec_scan_worker(ctx->store, txn, SG_REC_ASSESSMENT, w->id, facts_assessment, &f);
  if (!rc && !f.err)
    rc = sg_rec_scan_worker(ctx->store, txn, SG_REC_LEVEL_CHANGE, w->id, facts_change, &f);
  if (f.err) rc = f.err;
  if (rc) return rc == SG_ENOTFOUND ? SG_EDATALOSS : rc;
  *out = (sg_step_facts){w->post, w->level, w->hire_date, is_left(w), f.years, f.n_years,
                         f.changes, f.n_changes};
  return 0;
}

typedef struct elig_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  const Shegong__V1__PayLadder *ladder;
  uint32_t year;
  sg_date as_of;
  Shegong__V1__EligibilityReport *r;
  size_t cap;
} elig_ctx;

static Shegong__V1__EligibilityRow *elig_row(elig_ctx *e, const sg_worker *w, int rule) {
  Shegong__V1__EligibilityRow *row = sg_arena_alloc(e->ctx->arena, sizeof *row);
  if (!row || sg_rows_grow(e->ctx->arena, (void ***)&e->r->rows, e->r->n_rows, &e->cap)) return NULL;
  shegong__v1__eligibility_row__init(row);
  row->worker_id = w->id;
  row->name = sg_dup(e->ctx, w->name);
  row->unit_code = sg_dup(e->ctx, w->unit_code);
  row->post = sg_dup(e->ctx, w->post);
  row->level = w->level;
  row->to_level = w->level + 1;
  row->rule = rule;
  e->r->rows[e->r->n_rows++] = row;
  return row;
}

static int elig_worker(void *arg, sg_worker *w, sg_arena *scratch) {
  elig_ctx *e = arg;
  if (is_left(w)) return 0;
  e->r->workers++;
  sg_step_facts f;
  int rc = sg_step_facts_load(e->ctx, e->txn, w, scratch, &f);
  if (rc) return rc;
  uint32_t first;
  if (sg_rule_early_step(e->ladder, &f, e->year, &first)) {
    Shegong__V1__EligibilityRow *row = elig_row(e, w, SHEGONG__V1__STEP_RULE__EARLY_STEP_RULE);
    if (!row) return SG_ENOMEM;
    row->n_evidence = e->year - first + 1;
    row->evidence = sg_arena_alloc(e->ctx->arena, row->n_evidence * sizeof *row->evidence);
    if (!row->evidence) return SG_ENOMEM;
    for (uint32_t y = first, i = 0; y <= e->year; y++, i++) {
      Shegong__V1__YearGrade *g = sg_arena_alloc(e->ctx->arena, sizeof *g);
      if (!g) return SG_ENOMEM;
      shegong__v1__year_grade__init(g);
      g->year = y;
      for (size_t k = 0; k < f.n_year_end; k++)
        if (f.year_end[k].year == y) {
          g->grade = f.year_end[k].grade;
          g->combined_score = f.year_end[k].score;
        }
      row->evidence[i] = g;
      const ProtobufCEnumValue *gv =
          protobuf_c_enum_descriptor_get_value(&shegong__v1__grade__descriptor, g->grade);
      const char *label = g->grade == SHEGONG__V1__GRADE__EXCELLENT ? "优秀" : gv ? gv->name : "?";
      row->evidence_summary = sg_arena_printf(e->ctx->arena, "%s%s%u %s %.2f",
                                              row->evidence_summary ? row->evidence_summary : "",
                                              i ? "; " : "", y, label, g->combined_score);
      if (!row->evidence_summary) return SG_ENOMEM;
    }
  }
  sg_date since;
  int years;
  if (sg_rule_periodic_step(e->ladder, &f, &e->as_of, &since, &years)) {
    Shegong__V1__EligibilityRow *row = elig_row(e, w, SHEGONG__V1__STEP_RULE__PERIODIC_STEP_RULE);
    if (!row || !(row->level_since = sg_arena_alloc(e->ctx->arena, 11))) return SG_ENOMEM;
    sg_date_format(&since, row->level_since, 11);
    row->years_at_level = (uint32_t)years;
    row->evidence_summary = sg_arena_printf(e->ctx->arena, "%s %u since %s (%d years)", w->post,
                                            w->level, row->level_since, years);
    if (!row->evidence_summary) return SG_ENOMEM;
  }
  return 0;
}

static int assess_eligibility(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                              ProtobufCMessage **resp) {
  const Shegong__V1__EligibilityRequest *req = (const void *)req_msg;
  sg_date today;
  today_of(ctx, &today);
  elig_ctx e = {.ctx = ctx, .txn = txn};
  int rc = report_year(ctx, req->year, (uint32_t)today.year - 1, &e.year);
  char why[SG_WHY_MAX];
  e.as_of = today;
  if (req->as_of[0] && sg_validate_date(req->as_of, &e.as_of, why, sizeof why)) {
    sg_status_violation(ctx->st, "as_of", "%s", why);
    rc = SG_EINVAL;
  }
  if (rc) return rc;
  sg_scope sc;
  if ((rc = sg_scope_resolve(ctx, txn, req->town_code, req->unit_code, &sc))) return rc;
  Shegong__V1__Policy *pol;
  if ((rc = sg_policy_current(ctx->store, txn, &ctx->arena->allocator, &pol))) return rc;
  if (!pol->ladder)
    return sg_status_set(ctx->st, SG_EPRECOND,
                         "policy version %llu has no pay ladder: load one (shegong policy load)",
                         (unsigned long long)pol->version);
  e.ladder = pol->ladder;
  if (!(e.r = sg_arena_alloc(ctx->arena, sizeof *e.r))) return SG_ENOMEM;
  shegong__v1__eligibility_report__init(e.r);
  e.r->year = e.year;
  e.r->ladder = pol->ladder->name;
  if (!(e.r->as_of = sg_arena_alloc(ctx->arena, 11))) return SG_ENOMEM;
  sg_date_format(&e.as_of, e.r->as_of, 11);
  if ((rc = sg_scope_workers(ctx, txn, &sc, elig_worker, &e))) return rc;
  *resp = &e.r->base;
  return 0;
}

const sg_method_impl sg_svc_assessments[] = {
    {"/shegong.v1.Assessments/Amend", SG_METHOD_WRITE, assess_amend},
    {"/shegong.v1.Assessments/Bulk", SG_METHOD_WRITE, assess_bulk},
    {"/shegong.v1.Assessments/Eligibility", SG_METHOD_REPORT, assess_eligibility},
    {"/shegong.v1.Assessments/List", SG_METHOD_READ, assess_list},
    {"/shegong.v1.Assessments/Record", SG_METHOD_WRITE, assess_record},
    {"/shegong.v1.Assessments/SetVisits", SG_METHOD_WRITE, assess_set_visits},
    {"/shegong.v1.Assessments/VisitsReport", SG_METHOD_REPORT, assess_visits_report},
    {NULL, 0, NULL},
};
