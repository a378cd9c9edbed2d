/*
 * Training service: courses, who attended them, and the compliance report
 * of 崇川's 三必训 (secretaries every year, new workers before taking up the
 * post, promoted workers before the new post).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "store/records.h"
#include "store/units.h"
#include "store/workers.h"
#include "svc/svc.h"

#define SG_COURSE_NAME_MAX 64   /* code points */
#define SG_PROVIDER_MAX 128     /* bytes */
#define SG_COURSE_HOURS_MAX 2000
#define SG_COURSE_DAYS_MAX 366
#define SG_ATTEND_MAX 1000
#define SG_LIST_MAX 20000
#define SG_FIRST_YEAR 1990

/* The town a course belongs to: 0 for a district course. */
static int course_town(sg_call_ctx *ctx, MDB_txn *txn, const char *code, uint64_t *town) {
  *town = 0;
  if (!code[0]) return 0;
  uint64_t id;
  int rc = sg_index_get_id(txn, ctx->store->units_by_code, code, strlen(code), &id);
  if (rc == SG_ENOTFOUND) return SG_EDATALOSS;
  *town = id;
  return rc;
}

static int training_create_course(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                                  ProtobufCMessage **resp) {
  const Shegong__V1__CreateCourseRequest *req = (const void *)req_msg;
  if (!req->course) {
    sg_status_violation(ctx->st, "course", "required");
    return SG_EINVAL;
  }
  Shegong__V1__Course *c = sg_arena_alloc(ctx->arena, sizeof *c);
  if (!c) return SG_ENOMEM;
  *c = *req->course;
  char why[SG_WHY_MAX];
  sg_date start, end;
  int dates = 1;
  if (!c->name[0]) sg_status_violation(ctx->st, "course.name", "required");
  else if (sg_validate_name(c->name, SG_COURSE_NAME_MAX, why, sizeof why) &&
           sg_validate_text(c->name, SG_COURSE_NAME_MAX * 4, why, sizeof why))
    sg_status_violation(ctx->st, "course.name", "%s", why);
  if (!c->kind || !sg_enum_valid(&shegong__v1__course_kind__descriptor, c->kind))
    sg_status_violation(ctx->st, "course.kind",
                        c->kind ? "unknown kind" : "required: 岗前, 年度, 升岗, 专业 or 脱产");
  if (c->hours < 1 || c->hours > SG_COURSE_HOURS_MAX)
    sg_status_violation(ctx->st, "course.hours", "1 to %d", SG_COURSE_HOURS_MAX);
  if (sg_validate_date(c->start_date, &start, why, sizeof why)) {
    sg_status_violation(ctx->st, "course.start_date", "%s", c->start_date[0] ? why : "required");
    dates = 0;
  }
  if (sg_validate_date(c->end_date, &end, why, sizeof why)) {
    sg_status_violation(ctx->st, "course.end_date", "%s", c->end_date[0] ? why : "required");
    dates = 0;
  }
  if (dates && sg_date_cmp(&end, &start) < 0)
    sg_status_violation(ctx->st, "course.end_date", "before the start date");
  else if (dates && sg_date_days(&end) - sg_date_days(&start) >= SG_COURSE_DAYS_MAX)
    sg_status_violation(ctx->st, "course.end_date", "a course lasts at most %d days",
                        SG_COURSE_DAYS_MAX);
  if (c->provider[0] && sg_validate_text(c->provider, SG_PROVIDER_MAX, why, sizeof why))
    sg_status_violation(ctx->st, "course.provider", "%s", why);
  if (ctx->st->n_violations) return SG_EINVAL;
  /* a town token runs its own town's courses */
  const sg_principal *p = ctx->principal;
  if (!c->town_code[0] && p && p->town_id) c->town_code = sg_dup(ctx, p->town_code);
  uint64_t town = 0;
  int rc;
  if (c->town_code[0]) {
    sg_unit *u;
    rc = sg_units_get_by_code(ctx->store, txn, c->town_code, &ctx->arena->allocator, &u);
    if (rc == SG_ENOTFOUND || (rc == 0 && u->kind != SHEGONG__V1__UNIT_KIND__TOWN)) {
      sg_status_violation(ctx->st, "course.town_code", "no town %s", c->town_code);
      return SG_EINVAL;
    }
    if (rc) return rc;
    town = u->id;
    if ((rc = sg_authz_town(ctx, town, c->town_code))) return rc;
  }
  if ((rc = sg_store_next_id(ctx->store, txn, SG_REC_COURSE->seq, &c->id)) ||
      (rc = sg_store_next_revision(ctx->store, txn, &c->revision)))
    return rc;
  c->version = 1;
  c->created_at = sg_dup(ctx, ctx->now);
  if ((rc = sg_rec_put(ctx->store, txn, SG_REC_COURSE, &c->base))) return rc;
  sg_towns towns = {0};
  if (town) sg_towns_add(&towns, town, c->town_code);
  if ((rc = sg_log_change(ctx, txn, SHEGONG__V1__ENTITY__ENTITY_COURSE,
                          SHEGONG__V1__CHANGE_OP__CHANGE_CREATE, c->revision, &c->base, &towns)))
    return rc;
  *resp = &c->base;
  return 0;
}

typedef struct courses_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  const Shegong__V1__ListCoursesRequest *req;
  const char *town;          /* the town whose courses show, with the district's; NULL: all */
  Shegong__V1__ListCoursesResponse *r;
  size_t cap;
  int err;
} courses_ctx;

static int course_one(void *arg, uint64_t id) {
  courses_ctx *l = arg;
  sg_arena_mark m = sg_arena_get_mark(l->ctx->arena);
  Shegong__V1__Course *c;
  int rc = sg_rec_get(l->ctx->store, l->txn, SG_REC_COURSE, id, &l->ctx->arena->allocator,
                      (ProtobufCMessage **)&c);
  if (rc) return l->err = rc;
  char year[8];
  snprintf(year, sizeof year, "%04u", l->req->year);
  if ((l->req->year && strncmp(c->end_date, year, 4) != 0) ||
      (l->req->kind && c->kind != l->req->kind) ||
      (l->town && c->town_code[0] && strcmp(c->town_code, l->town) != 0)) {
    sg_arena_rewind(l->ctx->arena, m);
    return 0;
  }
  if (l->r->n_courses == SG_LIST_MAX) {
    l->err = sg_status_set(l->ctx->st, SG_ENOMEM, "more than %d courses: give a year", SG_LIST_MAX);
    return l->err;
  }
  if (sg_rows_grow(l->ctx->arena, (void ***)&l->r->courses, l->r->n_courses, &l->cap))
    return l->err = SG_ENOMEM;
  l->r->courses[l->r->n_courses++] = c;
  return 0;
}

static int training_list_courses(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                                 ProtobufCMessage **resp) {
  const Shegong__V1__ListCoursesRequest *req = (const void *)req_msg;
  if (!sg_enum_valid(&shegong__v1__course_kind__descriptor, req->kind))
    sg_status_violation(ctx->st, "kind", "unknown kind %d", (int)req->kind);
  if (req->year && (req->year < SG_FIRST_YEAR || req->year > 2199))
    sg_status_violation(ctx->st, "year", "out of range");
  if (ctx->st->n_violations) return SG_EINVAL;
  courses_ctx l = {.ctx = ctx, .txn = txn, .req = req};
  const sg_principal *p = ctx->principal;
  if (req->town_code[0]) {
    sg_unit *u;
    int rc = strlen(req->town_code) <= 15 ? sg_units_get_by_code(ctx->store, txn, req->town_code,
                                                                  &ctx->arena->allocator, &u)
                                          : SG_ENOTFOUND;
    if (rc == SG_ENOTFOUND) return sg_status_set(ctx->st, rc, "town %s not found", req->town_code);
    if (rc) return rc;
    if (u->kind != SHEGONG__V1__UNIT_KIND__TOWN) {
      sg_status_violation(ctx->st, "town_code", "%s is not a town", req->town_code);
      return SG_EINVAL;
    }
    if ((rc = sg_authz_town(ctx, u->id, req->town_code))) return rc;
    l.town = req->town_code;
  } else if (p && p->town_id) {
    l.town = p->town_code;
  }
  if (!(l.r = sg_arena_alloc(ctx->arena, sizeof *l.r))) return SG_ENOMEM;
  shegong__v1__list_courses_response__init(l.r);
  int rc = sg_record_scan(txn, ctx->store->courses, 0, course_one, &l);
  if (rc || (rc = l.err)) return rc;
  *resp = &l.r->base;
  return 0;
}

/* Loads course id, which the caller's town may use (its own or the district's). */
static int load_course(sg_call_ctx *ctx, MDB_txn *txn, uint64_t id, Shegong__V1__Course **out) {
  if (!id) {
    sg_status_violation(ctx->st, "course_id", "required");
    return SG_EINVAL;
  }
  int rc = sg_rec_get(ctx->store, txn, SG_REC_COURSE, id, &ctx->arena->allocator,
                      (ProtobufCMessage **)out);
  if (rc == SG_ENOTFOUND)
    return sg_status_set(ctx->st, rc, "course %llu not found", (unsigned long long)id);
  uint64_t town;
  if (rc || (rc = course_town(ctx, txn, (*out)->town_code, &town))) return rc;
  return town ? sg_authz_town(ctx, town, (*out)->town_code) : 0;
}

typedef struct dup_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  uint64_t course;
  int found;
  int err;
} dup_ctx;

static int find_course_attendance(void *arg, uint64_t id) {
  dup_ctx *d = arg;
  sg_arena_mark m = sg_arena_get_mark(d->ctx->arena);
  Shegong__V1__Attendance *a;
  int rc = sg_rec_get(d->ctx->store, d->txn, SG_REC_ATTENDANCE, id, &d->ctx->arena->allocator,
                      (ProtobufCMessage **)&a);
  if (rc) return d->err = rc;
  int same = a->course_id == d->course;
  sg_arena_rewind(d->ctx->arena, m);
  return same ? (d->found = 1) : 0;
}

static int training_attend(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                           ProtobufCMessage **resp) {
  const Shegong__V1__AttendRequest *req = (const void *)req_msg;
  if (!req->n_worker_ids) sg_status_violation(ctx->st, "worker_ids", "required");
  if (req->n_worker_ids > SG_ATTEND_MAX)
    sg_status_violation(ctx->st, "worker_ids", "at most %d per call", SG_ATTEND_MAX);
  if (ctx->st->n_violations) return SG_EINVAL;
  Shegong__V1__Course *c;
  int rc = load_course(ctx, txn, req->course_id, &c);
  if (rc) return rc;
  if (req->hours > c->hours) {
    sg_status_violation(ctx->st, "hours", "the course has %u hours", c->hours);
    return SG_EINVAL;
  }
  if (strcmp(c->end_date, ctx->today) > 0)
    return sg_status_set(ctx->st, SG_EPRECOND,
                         "course %llu ends on %s: record attendance once it has ended",
                         (unsigned long long)c->id, c->end_date);
  Shegong__V1__AttendResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__attend_response__init(r);
  r->attendance = sg_arena_alloc(ctx->arena, req->n_worker_ids * sizeof *r->attendance);
  if (!r->attendance) return SG_ENOMEM;
  size_t bad = 0;
  for (size_t i = 0; i < req->n_worker_ids; i++) {
    char field[48];
    snprintf(field, sizeof field, "worker_ids[%zu]", i);
    for (size_t k = 0; k < i; k++)
      if (req->worker_ids[k] == req->worker_ids[i]) {
        sg_status_violation(ctx->st, field, "worker %llu is listed twice",
                            (unsigned long long)req->worker_ids[i]);
        bad++;
        goto next;
      }
    {
      sg_status row_st;
      sg_status_clear(&row_st);
      sg_call_ctx sub = *ctx;
      sub.st = &row_st;
      sg_worker *w;
      uint64_t town;
      rc = sg_worker_load_scoped(&sub, txn, req->worker_ids[i], field, &w, &town);
      if (rc == 0 && c->town_code[0] && strcmp(c->town_code, w->town_code) != 0)
        rc = sg_status_set(&row_st, SG_EPRECOND,
                           "worker %llu is of town %s; course %llu is town %s's own",
                           (unsigned long long)w->id, w->town_code, (unsigned long long)c->id,
                           c->town_code);
      if (rc == 0 && w->status == SHEGONG__V1__WORKER_STATUS__LEFT &&
          strcmp(w->leave_date, c->start_date) < 0)
        rc = sg_status_set(&row_st, SG_EPRECOND, "worker %llu left on %s, before the course",
                           (unsigned long long)w->id, w->leave_date);
      dup_ctx d = {ctx, txn, c->id, 0, 0};
      if (rc == 0 &&
          (rc = sg_rec_scan_worker(ctx->store, txn, SG_REC_ATTENDANCE, w->id, find_course_attendance,
                                   &d)) == 0 &&
          (rc = d.err) == 0 && d.found)
        rc = sg_status_set(&row_st, SG_EEXISTS, "worker %llu already attended course %llu",
                           (unsigned long long)w->id, (unsigned long long)c->id);
      if (rc) {
        /* out of scope refuses the whole call (PERMISSION_DENIED), as Get would */
        if (rc != SG_EINVAL && rc != SG_EEXISTS && rc != SG_EPRECOND && rc != SG_ENOTFOUND) {
          *ctx->st = row_st;
          return rc;
        }
        sg_status_violation(ctx->st, field, "%s",
                            row_st.n_violations ? row_st.violations[0].description : row_st.message);
        bad++;
        goto next;
      }
      Shegong__V1__Attendance *a = sg_arena_alloc(ctx->arena, sizeof *a);
      if (!a) return SG_ENOMEM;
      shegong__v1__attendance__init(a);
      if ((rc = sg_store_next_id(ctx->store, txn, SG_REC_ATTENDANCE->seq, &a->id)) ||
          (rc = sg_store_next_revision(ctx->store, txn, &a->revision)))
        return rc;
      a->course_id = c->id;
      a->worker_id = w->id;
      a->hours = req->hours ? req->hours : c->hours;
      a->kind = c->kind;
      a->course_name = c->name;
      a->end_date = c->end_date;
      a->recorded_at = sg_dup(ctx, ctx->now);
      if ((rc = sg_rec_put(ctx->store, txn, SG_REC_ATTENDANCE, &a->base))) return rc;
      sg_towns towns = {0};
      sg_towns_add(&towns, town, w->town_code);
      if ((rc = sg_log_change(ctx, txn, SHEGONG__V1__ENTITY__ENTITY_ATTENDANCE,
                              SHEGONG__V1__CHANGE_OP__CHANGE_CREATE, a->revision, &a->base, &towns)))
        return rc;
      r->attendance[r->n_attendance++] = a;
    }
  next:;
  }
  if (bad)
    return sg_status_set(ctx->st, SG_EINVAL, "%zu of %zu workers cannot be recorded: none was",
                         bad, req->n_worker_ids);
  *resp = &r->base;
  return 0;
}

typedef struct attendance_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  sg_arena *arena;
  Shegong__V1__Attendance **rows;
  size_t n, cap;
  uint64_t town_only; /* a town token listing a course: only its own workers */
  int err;
} attendance_ctx;

static int attendance_one(void *arg, uint64_t id) {
  attendance_ctx *l = arg;
  sg_arena_mark m = sg_arena_get_mark(l->arena);
  Shegong__V1__Attendance *a;
  int rc = sg_rec_get(l->ctx->store, l->txn, SG_REC_ATTENDANCE, id, &l->arena->allocator,
                      (ProtobufCMessage **)&a);
  if (rc) return l->err = (rc == SG_ENOTFOUND ? SG_EDATALOSS : rc);
  if (l->town_only) {
    sg_worker *w;
    uint64_t wtown;
    if ((rc = sg_workers_get(l->ctx->store, l->txn, a->worker_id, &l->arena->allocator, &w)) ||
        (rc = sg_index_get_id(l->txn, l->ctx->store->units_by_code, w->town_code,
                              strlen(w->town_code), &wtown)))
      return l->err = rc;
    if (wtown != l->town_only) {
      sg_arena_rewind(l->arena, m);
      return 0;
    }
  }
  if (l->n == SG_LIST_MAX) {
    l->err = sg_status_set(l->ctx->st, SG_ENOMEM, "more than %d rows", SG_LIST_MAX);
    return l->err;
  }
  if (sg_rows_grow(l->arena, (void ***)&l->rows, l->n, &l->cap)) return l->err = SG_ENOMEM;
  l->rows[l->n++] = a;
  return 0;
}

static int training_list_attendance(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                                    ProtobufCMessage **resp) {
  const Shegong__V1__ListAttendanceRequest *req = (const void *)req_msg;
  if ((req->worker_id != 0) == (req->course_id != 0)) {
    sg_status_violation(ctx->st, "worker_id", "give worker_id or course_id: one");
    return SG_EINVAL;
  }
  attendance_ctx l = {.ctx = ctx, .txn = txn, .arena = ctx->arena};
  int rc;
  if (req->worker_id) {
    sg_worker *w;
    if ((rc = sg_worker_load_scoped(ctx, txn, req->worker_id, "worker_id", &w, NULL)) ||
        (rc = sg_rec_scan_worker(ctx->store, txn, SG_REC_ATTENDANCE, w->id, attendance_one, &l)))
      return rc;
  } else {
    Shegong__V1__Course *c;
    if ((rc = load_course(ctx, txn, req->course_id, &c))) return rc;
    if (ctx->principal) l.town_only = ctx->principal->town_id;
    if ((rc = sg_index_pair_scan(txn, ctx->store->attendance_by_course, c->id, 0, attendance_one,
                                 &l)))
      return rc;
  }
  if (l.err) return l.err;
  Shegong__V1__ListAttendanceResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__list_attendance_response__init(r);
  r->attendance = l.rows;
  r->n_attendance = l.n;
  *resp = &r->base;
  return 0;
}

/* ---- compliance ------------------------------------------------------------------ */

typedef struct compliance_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  const Shegong__V1__TrainingPolicy *pol;
  uint32_t year;
  int upcoming; /* list what is not yet due as well */
  Shegong__V1__ComplianceReport *r;
  size_t cap;
} compliance_ctx;

static int add_row(compliance_ctx *cc, const sg_worker *w, int rule, const char *due,
                   const char *missing) {
  Shegong__V1__ComplianceRow *row = sg_arena_alloc(cc->ctx->arena, sizeof *row);
  if (!row || sg_rows_grow(cc->ctx->arena, (void ***)&cc->r->rows, cc->r->n_rows, &cc->cap))
    return SG_ENOMEM;
  shegong__v1__compliance_row__init(row);
  row->worker_id = w->id;
  row->name = sg_dup(cc->ctx, w->name);
  row->unit_code = sg_dup(cc->ctx, w->unit_code);
  row->role = w->role;
  row->rule = rule;
  row->due = sg_dup(cc->ctx, due);
  row->missing = sg_dup(cc->ctx, missing);
  if (!row->name || !row->due || !row->missing) return SG_ENOMEM;
  cc->r->rows[cc->r->n_rows++] = row;
  return 0;
}

/* A course of kind ending on or before `by` (YYYY-MM-DD), or any kind when kind is 0. */
static int has_course_by(const attendance_ctx *att, int kind, const char *by) {
  for (size_t i = 0; i < att->n; i++)
    if ((!kind || (int)att->rows[i]->kind == kind) && strcmp(att->rows[i]->end_date, by) <= 0)
      return 1;
  return 0;
}

static void date_plus(const char *date, uint32_t days, char out[11]) {
  sg_date d;
  if (sg_validate_date(date, &d, NULL, 0)) {
    snprintf(out, 11, "%s", date);
    return;
  }
  sg_date_from_days(sg_date_days(&d) + days, &d);
  sg_date_format(&d, out, 11);
}

typedef struct promo_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  sg_arena *arena;
  uint32_t year;
  Shegong__V1__LevelChange **found;
  size_t n, cap;
  int err;
} promo_ctx;

static int promo_one(void *arg, uint64_t id) {
  promo_ctx *p = arg;
  sg_arena_mark m = sg_arena_get_mark(p->arena);
  Shegong__V1__LevelChange *c;
  int rc = sg_rec_get(p->ctx->store, p->txn, SG_REC_LEVEL_CHANGE, id, &p->arena->allocator,
                      (ProtobufCMessage **)&c);
  if (rc) return p->err = rc;
  char y[8];
  snprintf(y, sizeof y, "%04u", p->year);
  if (c->kind != SHEGONG__V1__LEVEL_CHANGE_KIND__PROMOTION || strncmp(c->effective_date, y, 4) != 0) {
    sg_arena_rewind(p->arena, m);
    return 0;
  }
  if (sg_rows_grow(p->arena, (void ***)&p->found, p->n, &p->cap)) return p->err = SG_ENOMEM;
  p->found[p->n++] = c;
  return 0;
}

static int compliance_worker(void *arg, sg_worker *w, sg_arena *scratch) {
  compliance_ctx *cc = arg;
  if (w->status == SHEGONG__V1__WORKER_STATUS__LEFT) return 0;
  cc->r->workers++;
  attendance_ctx att = {.ctx = cc->ctx, .txn = cc->txn, .arena = scratch};
  int rc = sg_rec_scan_worker(cc->ctx->store, cc->txn, SG_REC_ATTENDANCE, w->id, attendance_one,
                              &att);
  if (rc || (rc = att.err)) return rc;
  char year_end[11], text[160], due[11];
  snprintf(year_end, sizeof year_end, "%04u-12-31", cc->year);
  /* 书记每年必训 */
  if (w->role == SHEGONG__V1__ROLE__SECRETARY && strcmp(w->hire_date, year_end) <= 0) {
    cc->r->secretaries++;
    uint32_t hours = 0, courses = 0;
    for (size_t i = 0; i < att.n; i++)
      if (strncmp(att.rows[i]->end_date, year_end, 4) == 0) {
        hours += att.rows[i]->hours;
        courses++;
      }
    uint32_t need = cc->pol->secretary_annual_hours;
    if (!courses || hours < need) {
      if (need) snprintf(text, sizeof text, "%u of the %u course hours a secretary needs in %u",
                         hours, need, cc->year);
      else snprintf(text, sizeof text, "no course in %u", cc->year);
      if ((rc = add_row(cc, w, SHEGONG__V1__TRAINING_RULE__SECRETARY_ANNUAL, year_end, text)))
        return rc;
    }
  }
  /* 新进必训 */
  if (strncmp(w->hire_date, year_end, 4) == 0) {
    cc->r->new_hires++;
    date_plus(w->hire_date, cc->pol->pre_service_grace_days, due);
    /* not missing before it is due: a hire of last week still has time */
    if ((cc->upcoming || strcmp(due, cc->ctx->today) <= 0) &&
        !has_course_by(&att, SHEGONG__V1__COURSE_KIND__PRE_SERVICE, due)) {
      snprintf(text, sizeof text, "no 岗前 (pre-service) course by %s (hired %s)", due,
               w->hire_date);
      if ((rc = add_row(cc, w, SHEGONG__V1__TRAINING_RULE__PRE_SERVICE_RULE, due, text))) return rc;
    }
  }
  /* 升岗必训 */
  promo_ctx p = {.ctx = cc->ctx, .txn = cc->txn, .arena = scratch, .year = cc->year};
  if ((rc = sg_rec_scan_worker(cc->ctx->store, cc->txn, SG_REC_LEVEL_CHANGE, w->id, promo_one, &p)) ||
      (rc = p.err))
    return rc;
  for (size_t i = 0; i < p.n; i++) {
    cc->r->promotions++;
    date_plus(p.found[i]->effective_date, cc->pol->promotion_grace_days, due);
    if ((cc->upcoming || strcmp(due, cc->ctx->today) <= 0) &&
        !has_course_by(&att, SHEGONG__V1__COURSE_KIND__PROMOTION_COURSE, due)) {
      snprintf(text, sizeof text, "no 升岗 (promotion) course by %s for the post %s", due,
               p.found[i]->to_post);
      if ((rc = add_row(cc, w, SHEGONG__V1__TRAINING_RULE__PROMOTION_RULE, due, text))) return rc;
    }
  }
  return 0;
}

static int training_compliance(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                               ProtobufCMessage **resp) {
  const Shegong__V1__ComplianceRequest *req = (const void *)req_msg;
  sg_date today;
  sg_validate_date(ctx->today, &today, NULL, 0);
  compliance_ctx cc = {.ctx = ctx, .txn = txn, .year = req->year ? req->year : (uint32_t)today.year,
                       .upcoming = req->include_upcoming};
  if (cc.year < SG_FIRST_YEAR || cc.year > (uint32_t)today.year) {
    sg_status_violation(ctx->st, "year", "%u is not a year from %d to %d", cc.year, SG_FIRST_YEAR,
                        today.year);
    return SG_EINVAL;
  }
  sg_scope sc;
  int rc = sg_scope_resolve(ctx, txn, req->town_code, req->unit_code, &sc);
  if (rc) return rc;
  Shegong__V1__Policy *pol;
  if ((rc = sg_policy_current(ctx->store, txn, &ctx->arena->allocator, &pol))) return rc;
  cc.pol = pol->training;
  if (!(cc.r = sg_arena_alloc(ctx->arena, sizeof *cc.r))) return SG_ENOMEM;
  shegong__v1__compliance_report__init(cc.r);
  cc.r->year = cc.year;
  if ((rc = sg_scope_workers(ctx, txn, &sc, compliance_worker, &cc))) return rc;
  *resp = &cc.r->base;
  return 0;
}

const sg_method_impl sg_svc_training[] = {
    {"/shegong.v1.Training/Attend", SG_METHOD_WRITE, training_attend},
    {"/shegong.v1.Training/Compliance", SG_METHOD_REPORT, training_compliance},
    {"/shegong.v1.Training/CreateCourse", SG_METHOD_WRITE, training_create_course},
    {"/shegong.v1.Training/ListAttendance", SG_METHOD_READ, training_list_attendance},
    {"/shegong.v1.Training/ListCourses", SG_METHOD_READ, training_list_courses},
    {NULL, 0, NULL},
};
