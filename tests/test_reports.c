/*
 * Reports end to end (Reports/Staffing, Turnover, Certification, Structure,
 * Hiring) and the quota rules of the policy they read: a real shegongd (a
 * fresh data directory per test), a small district built through the API in
 * each test, driven through libshegong.
 *
 * The figures are the ones the districts publish: 浦东's households band
 * (500 户 → 5, 2000 户 → 11, one more per 300 户 beyond, +1 where 30% of
 * residents are 60 or older), 崇川's "7+N" and 临淄's "1+6+N" structures,
 * 临淄's 18 workers per 10,000 residents (450,000 residents → 810 against
 * 494 in post), 崇川's turnover of the 2015-2017 hires (102 of 448 gone by
 * the end of 2017: 22.8%), and a certification rate (196 of 494: 39.7%).
 *
 * Staffing rows: "centre" (a town's own, town-centre staff), "unit" (a
 * community's or village's), "town" and "district" (sums), "town (whole)"
 * and "district (whole)" (rules for a whole area).
 *
 * Every status is checked by its exact code and every field violation by
 * its path. Dates of the present are computed at run time from today in
 * China time (UTC+8), as the server computes them: the current year is
 * never written into the tests (the years of the articles' cohorts are
 * history, and are).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "calls.h"
#include "harness.h"
#include "shegong.h"
#include "shegong/v1/auth.pb-c.h"
#include "shegong/v1/policy.pb-c.h"
#include "shegong/v1/reports.pb-c.h"
#include "shegong/v1/units.pb-c.h"
#include "shegong/v1/wire.pb-c.h"
#include "shegong/v1/workers.pb-c.h"
#include "timeutil.h"
#include "validate.h"

#define PIPELINE_WINDOW 64

#define C_OK SHEGONG__V1__CODE__OK
#define C_INVALID SHEGONG__V1__CODE__INVALID_ARGUMENT
#define C_NOT_FOUND SHEGONG__V1__CODE__NOT_FOUND
#define C_PERM SHEGONG__V1__CODE__PERMISSION_DENIED

#define K_DISTRICT SHEGONG__V1__UNIT_KIND__DISTRICT
#define K_TOWN SHEGONG__V1__UNIT_KIND__TOWN
#define K_COMMUNITY SHEGONG__V1__UNIT_KIND__COMMUNITY
#define K_VILLAGE SHEGONG__V1__UNIT_KIND__VILLAGE
#define K_GRID SHEGONG__V1__UNIT_KIND__GRID

#define R_SECRETARY SHEGONG__V1__ROLE__SECRETARY
#define R_DIRECTOR SHEGONG__V1__ROLE__DIRECTOR
#define R_GENERALIST SHEGONG__V1__ROLE__GENERALIST
#define R_NEIGHBOURHOOD SHEGONG__V1__ROLE__NEIGHBOURHOOD
#define R_GRID_WORKER SHEGONG__V1__ROLE__GRID_WORKER
#define R_FULL_TIME_GRID SHEGONG__V1__ROLE__FULL_TIME_GRID

#define CAT_COMMUNITY SHEGONG__V1__CATEGORY__COMMUNITY_BASED
#define CAT_TOWN_CENTRE SHEGONG__V1__CATEGORY__TOWN_CENTRE

#define ST_ACTIVE SHEGONG__V1__WORKER_STATUS__ACTIVE
#define ST_PLACEMENT SHEGONG__V1__WORKER_STATUS__PLACEMENT
#define ST_LEFT SHEGONG__V1__WORKER_STATUS__LEFT

#define G_LEAD SHEGONG__V1__ROLE_GROUP__LEAD
#define G_GENERAL SHEGONG__V1__ROLE_GROUP__GENERAL
#define G_NEIGHBOURHOOD SHEGONG__V1__ROLE_GROUP__NEIGHBOURHOOD_GROUP
#define G_GRID SHEGONG__V1__ROLE_GROUP__GRID_GROUP

#define SCOPE_DEFAULT SHEGONG__V1__QUOTA_SCOPE__QUOTA_SCOPE_UNSPECIFIED
#define SCOPE_OWN SHEGONG__V1__QUOTA_SCOPE__OWN_STAFF
#define SCOPE_WHOLE SHEGONG__V1__QUOTA_SCOPE__WHOLE

#define CERT_ASSISTANT SHEGONG__V1__CERTIFICATION__ASSISTANT_SOCIAL_WORKER
#define CERT_SW SHEGONG__V1__CERTIFICATION__SOCIAL_WORKER_CERT
#define CERT_SENIOR SHEGONG__V1__CERTIFICATION__SENIOR_SOCIAL_WORKER

#define ED_COLLEGE SHEGONG__V1__EDUCATION__COLLEGE
#define ED_BACHELOR SHEGONG__V1__EDUCATION__BACHELOR
#define ED_POSTGRADUATE SHEGONG__V1__EDUCATION__POSTGRADUATE

#define SRC_OPEN_EXAM SHEGONG__V1__SOURCE__OPEN_EXAM
#define SRC_GRADUATE SHEGONG__V1__SOURCE__GRADUATE
#define SRC_VETERAN SHEGONG__V1__SOURCE__VETERAN
#define SRC_SOCIAL_WORKER SHEGONG__V1__SOURCE__SOCIAL_WORKER

/* 崇川区 (南通) */
#define CC "320602"
#define CC_TOWN_A "320602001"
#define CC_A1 "320602001001"
#define CC_A2 "320602001002"
#define CC_A3 "320602001003"
#define CC_VA "320602001201"
#define CC_TOWN_B "320602002"
#define CC_B1 "320602002001"

/* 浦东新区 */
#define PD "310115"

/* 临淄区 (淄博) */
#define LZ "370305"
#define LZ_T1 "370305001"
#define LZ_C11 "370305001001"
#define LZ_C12 "370305001002"
#define LZ_T2 "370305002"
#define LZ_C21 "370305002001"

typedef Shegong__V1__Worker worker_t;
typedef Shegong__V1__Policy policy_t;
typedef Shegong__V1__QuotaRule rule_t;
typedef Shegong__V1__StaffingReport staffing_t;
typedef Shegong__V1__StaffingRow srow_t;

/* ------------------------------------------------------------------------ */
/* Dates: TODAY, Y, M, D, ymd and today_plus are calls.h's (dates_init). */

static char OLD_HIRE[11]; /* 1 June, eight years ago */

/* ------------------------------------------------------------------------ */
/* Fixture: one fresh server per test; each test builds its own district. */

#define TOWN_CLIENTS 2

typedef struct fx {
  hs_server srv;
  sg_client *c; /* the district admin */
  sg_client *town_c[TOWN_CLIENTS];
  size_t n_town_c;
  const char *area; /* the district's code: the ID numbers' area */
  unsigned seq;     /* ID-number sequence */
  int done;
} fx;

static fx *FX(void **state) { return *state; }

/*
 * n requests to one method, up to PIPELINE_WINDOW in flight at a time; each
 * must succeed. resps (may be NULL) receives the responses in request order.
 */
static void pipeline(sg_client *c, const char *method, ProtobufCMessage *const *reqs, size_t n,
                     ProtobufCMessage **resps) {
  uint32_t *ids = calloc(n + 1, sizeof *ids);
  assert_non_null(ids);
  size_t sent = 0, got = 0;
  sg_status st;
  while (got < n) {
    while (sent < n && sent - got < PIPELINE_WINDOW) {
      int rc = sg_call_send(c, method, reqs[sent], CALL_MS, &ids[sent], &st);
      if (rc) print_status(method, &st);
      assert_int_equal(rc, 0);
      sent++;
    }
    uint32_t id = 0;
    ProtobufCMessage *resp = NULL;
    int rc = sg_call_recv_any(c, &id, &resp, CALL_MS, &st);
    if (rc) print_status(method, &st);
    assert_int_equal(rc, 0);
    assert_non_null(resp);
    size_t k = 0;
    while (k < sent && ids[k] != id) k++;
    assert_true(k < sent);
    ids[k] = 0;
    if (resps) resps[k] = resp;
    else free_msg(resp);
    got++;
  }
  free(ids);
}

/* ---- units ------------------------------------------------------------------------ */

typedef struct unit_spec {
  int kind;
  const char *code;
  const char *name;
  uint32_t households, residents;
  double aged_60_percent, area_km2;
} unit_spec;

static void units_make(fx *f, const unit_spec *specs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const unit_spec *s = &specs[i];
    Shegong__V1__Unit u = SHEGONG__V1__UNIT__INIT;
    u.kind = (Shegong__V1__UnitKind)s->kind;
    u.code = (char *)s->code;
    u.name = (char *)s->name;
    u.households = s->households;
    u.residents = s->residents;
    u.aged_60_percent = s->aged_60_percent;
    u.area_km2 = s->area_km2;
    Shegong__V1__CreateUnitRequest req = SHEGONG__V1__CREATE_UNIT_REQUEST__INIT;
    req.unit = &u;
    Shegong__V1__Unit *r = call_ok(f->c, "Units/Create", &req.base);
    assert_true(r->id > 0);
    assert_string_equal(r->code, s->code);
    assert_int_equal(r->kind, s->kind);
    assert_int_equal(r->households, s->households);
    assert_int_equal(r->residents, s->residents);
    free_msg(r);
    if (s->kind == K_DISTRICT) f->area = s->code;
  }
}

#define UNITS(f, ...)                                                     \
  do {                                                                    \
    static const unit_spec us_[] = {__VA_ARGS__};                         \
    units_make(f, us_, sizeof us_ / sizeof us_[0]);                       \
  } while (0)

/* The 崇川 skeleton most tests use: towns A (communities A1, A2) and B (B1). */
static void chongchuan(fx *f) {
  UNITS(f, {K_DISTRICT, CC, "崇川区", 0, 700000, 0, 0},
        {K_TOWN, CC_TOWN_A, "和平桥街道", 0, 80000, 0, 0},
        {K_COMMUNITY, CC_A1, "桃园社区", 1000, 3000, 0, 0},
        {K_COMMUNITY, CC_A2, "青年社区", 2500, 7000, 0, 0},
        {K_TOWN, CC_TOWN_B, "任港街道", 0, 60000, 0, 0},
        {K_COMMUNITY, CC_B1, "北濠社区", 600, 1800, 0, 0});
}

/* ---- workers ---------------------------------------------------------------------- */

typedef struct wspec {
  const char *unit;
  int role;          /* 0: a generalist */
  int category;      /* 0: community-based */
  const char *hire;  /* NULL: OLD_HIRE */
  const char *birth; /* YYYY-MM-DD; NULL: one in the 1980s from the sequence */
  int female;
  int education, source, cert;
  int party;
  int status; /* 0: active */
} wspec;

/*
 * A fresh GB 11643 ID number for s: the district's area code, the birth
 * date, and a sequence number whose last digit is odd for a man and even
 * for a woman. Without a birth date, one from 1985 on, a day per 500.
 */
static void make_idno(fx *f, const wspec *s, char out[19]) {
  unsigned n = f->seq++;
  char birth[9];
  if (s->birth) {
    assert_int_equal(strlen(s->birth), 10);
    snprintf(birth, sizeof birth, "%.4s%.2s%.2s", s->birth, s->birth + 5, s->birth + 8);
  } else {
    sg_date b0 = {1985, 3, 1}, b;
    sg_date_from_days(sg_date_days(&b0) + (long)(n / 500), &b);
    snprintf(birth, sizeof birth, "%04d%02d%02d", b.year, b.month, b.day);
  }
  unsigned seq3 = (n % 500) * 2 + (s->female ? 0 : 1);
  char first17[18];
  snprintf(first17, sizeof first17, "%.6s%.8s%03u", f->area ? f->area : CC, birth, seq3 % 1000);
  assert_int_equal(strlen(first17), 17);
  snprintf(out, 19, "%s%c", first17, sg_idno_check_char(first17));
}

typedef struct wbuf {
  worker_t w;
  Shegong__V1__CreateWorkerRequest req;
  char idno[19];
} wbuf;

static const char *const NAMES[] = {"张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄丽"};

/* Creates the workers of specs (pipelined); ids (may be NULL) receives their ids. */
static void workers_make(fx *f, const wspec *specs, size_t n, uint64_t *ids) {
  if (!n) return;
  wbuf *b = calloc(n, sizeof *b);
  ProtobufCMessage **reqs = calloc(n, sizeof *reqs), **resps = calloc(n, sizeof *resps);
  assert_non_null(b);
  assert_non_null(reqs);
  assert_non_null(resps);
  for (size_t i = 0; i < n; i++) {
    const wspec *s = &specs[i];
    make_idno(f, s, b[i].idno);
    shegong__v1__worker__init(&b[i].w);
    b[i].w.name = (char *)NAMES[i % 8];
    b[i].w.id_number = b[i].idno;
    b[i].w.unit_code = (char *)s->unit;
    b[i].w.role = (Shegong__V1__Role)(s->role ? s->role : R_GENERALIST);
    b[i].w.category = (Shegong__V1__Category)(s->category ? s->category : CAT_COMMUNITY);
    b[i].w.hire_date = (char *)(s->hire ? s->hire : OLD_HIRE);
    b[i].w.education = (Shegong__V1__Education)s->education;
    b[i].w.source = (Shegong__V1__Source)s->source;
    b[i].w.certification = (Shegong__V1__Certification)s->cert;
    b[i].w.party_member = s->party != 0;
    b[i].w.status = (Shegong__V1__WorkerStatus)s->status;
    shegong__v1__create_worker_request__init(&b[i].req);
    b[i].req.worker = &b[i].w;
    reqs[i] = &b[i].req.base;
  }
  pipeline(f->c, "Workers/Create", reqs, n, resps);
  for (size_t i = 0; i < n; i++) {
    worker_t *r = (worker_t *)resps[i];
    assert_true(r->id > 0);
    assert_string_equal(r->unit_code, specs[i].unit);
    assert_int_equal(r->gender, specs[i].female ? SHEGONG__V1__GENDER__FEMALE
                                                : SHEGONG__V1__GENDER__MALE);
    if (ids) ids[i] = r->id;
    free_msg(r);
  }
  free(resps);
  free(reqs);
  free(b);
}

static uint64_t worker_add(fx *f, wspec s) {
  uint64_t id;
  workers_make(f, &s, 1, &id);
  return id;
}

/* n plain generalists (or role) in unit, hired long ago; returns nothing. */
static void workers_plain(fx *f, const char *unit, int role, int category, size_t n) {
  wspec *s = calloc(n + 1, sizeof *s);
  assert_non_null(s);
  for (size_t i = 0; i < n; i++) {
    s[i].unit = unit;
    s[i].role = role;
    s[i].category = category;
    s[i].female = (int)(i % 2);
  }
  workers_make(f, s, n, NULL);
  free(s);
}

/* The workers ids[i] leave on dates[i] (pipelined). */
static void workers_leave(fx *f, const uint64_t *ids, const char *const *dates, size_t n) {
  if (!n) return;
  Shegong__V1__LeaveWorkerRequest *r = calloc(n, sizeof *r);
  ProtobufCMessage **reqs = calloc(n, sizeof *reqs), **resps = calloc(n, sizeof *resps);
  assert_non_null(r);
  assert_non_null(reqs);
  assert_non_null(resps);
  for (size_t i = 0; i < n; i++) {
    shegong__v1__leave_worker_request__init(&r[i]);
    r[i].id = ids[i];
    r[i].leave_date = (char *)dates[i];
    r[i].reason = (char *)"个人原因辞职";
    reqs[i] = &r[i].base;
  }
  pipeline(f->c, "Workers/Leave", reqs, n, resps);
  for (size_t i = 0; i < n; i++) {
    worker_t *w = (worker_t *)resps[i];
    assert_int_equal(w->status, ST_LEFT);
    assert_string_equal(w->leave_date, dates[i]);
    free_msg(w);
  }
  free(resps);
  free(reqs);
  free(r);
}

static void worker_leave(fx *f, uint64_t id, const char *date) {
  const char *dates[1] = {date};
  workers_leave(f, &id, dates, 1);
}

/* A town operator's client for town (closed by teardown). */
static sg_client *town_client(fx *f, const char *town) {
  assert_true(f->n_town_c < TOWN_CLIENTS);
  sg_client *c = operator_client(&f->srv, f->c, town, "街道办公室");
  f->town_c[f->n_town_c++] = c;
  return c;
}

/* ---- policy ----------------------------------------------------------------------- */

#define RULE_PARTS 8

typedef struct rule_buf {
  rule_t q;
  Shegong__V1__HouseholdStep steps[RULE_PARTS];
  Shegong__V1__HouseholdStep *sp[RULE_PARTS];
  Shegong__V1__RoleQuota roles[RULE_PARTS];
  Shegong__V1__RoleQuota *rp[RULE_PARTS];
  Shegong__V1__CentreTier tiers[RULE_PARTS];
  Shegong__V1__CentreTier *tp[RULE_PARTS];
} rule_buf;

static rule_t *rule_init(rule_buf *r, const char *name, int kind, const char *code, int scope) {
  memset(r, 0, sizeof *r);
  shegong__v1__quota_rule__init(&r->q);
  r->q.name = (char *)name;
  r->q.unit_kind = (Shegong__V1__UnitKind)kind;
  r->q.unit_code = (char *)(code ? code : "");
  r->q.scope = (Shegong__V1__QuotaScope)scope;
  r->q.household_steps = r->sp;
  r->q.roles = r->rp;
  r->q.centre_tiers = r->tp;
  return &r->q;
}

static void rule_step(rule_buf *r, uint32_t min_households, uint32_t workers) {
  size_t i = r->q.n_household_steps++;
  assert_true(i < RULE_PARTS);
  shegong__v1__household_step__init(&r->steps[i]);
  r->steps[i].min_households = min_households;
  r->steps[i].workers = workers;
  r->sp[i] = &r->steps[i];
}

static void rule_role(rule_buf *r, int group, uint32_t fixed, uint32_t per_grid) {
  size_t i = r->q.n_roles++;
  assert_true(i < RULE_PARTS);
  shegong__v1__role_quota__init(&r->roles[i]);
  r->roles[i].group = (Shegong__V1__RoleGroup)group;
  r->roles[i].fixed = fixed;
  r->roles[i].per_grid = per_grid;
  r->rp[i] = &r->roles[i];
}

static void rule_tier(rule_buf *r, uint32_t min_residents, double min_area, uint32_t workers) {
  size_t i = r->q.n_centre_tiers++;
  assert_true(i < RULE_PARTS);
  shegong__v1__centre_tier__init(&r->tiers[i]);
  r->tiers[i].min_residents = min_residents;
  r->tiers[i].min_area_km2 = min_area;
  r->tiers[i].workers = workers;
  r->tp[i] = &r->tiers[i];
}

/* 浦东's households band: 500 → 5, 800 → 6, 1100 → 7, 1400 → 8, 1700 → 9, 2000 → 11. */
static rule_t *rule_pudong_band(rule_buf *r, uint32_t per_extra) {
  rule_init(r, "浦东 户数档", K_COMMUNITY, NULL, SCOPE_DEFAULT);
  static const uint32_t steps[][2] = {{500, 5}, {800, 6}, {1100, 7}, {1400, 8}, {1700, 9}, {2000, 11}};
  for (size_t i = 0; i < 6; i++) rule_step(r, steps[i][0], steps[i][1]);
  r->q.households_per_extra = per_extra;
  r->q.ageing_threshold_percent = 30.0;
  r->q.ageing_extra = 1;
  return &r->q;
}

typedef struct policy_buf {
  policy_t p;
  Shegong__V1__AssessmentPolicy a;
  Shegong__V1__TrainingPolicy t;
  Shegong__V1__HiringPolicy h;
  rule_t *rules[16];
} policy_buf;

/* A valid policy named name (weights 70/30, bands 90/75/60) with the rules given. */
static void policy_fill(policy_buf *b, const char *name, rule_t *const *rules, size_t n) {
  memset(b, 0, sizeof *b);
  shegong__v1__policy__init(&b->p);
  shegong__v1__assessment_policy__init(&b->a);
  shegong__v1__training_policy__init(&b->t);
  shegong__v1__hiring_policy__init(&b->h);
  b->p.name = (char *)name;
  b->a.superior_weight = 70;
  b->a.resident_weight = 30;
  b->a.excellent_min = 90;
  b->a.qualified_min = 75;
  b->a.basic_min = 60;
  b->a.visit_minimum = 200;
  b->t.pre_service_grace_days = 30;
  b->t.promotion_grace_days = 30;
  b->p.assessment = &b->a;
  b->p.training = &b->t;
  assert_true(n <= 16);
  for (size_t i = 0; i < n; i++) b->rules[i] = rules[i];
  b->p.quotas = b->rules;
  b->p.n_quotas = n;
}

static policy_t *policy_get(sg_client *c, uint64_t version) {
  Shegong__V1__GetPolicyRequest req = SHEGONG__V1__GET_POLICY_REQUEST__INIT;
  req.version = version;
  return call_ok(c, "Policies/Get", &req.base);
}

static uint64_t policy_version(fx *f) {
  policy_t *p = policy_get(f->c, 0);
  uint64_t v = p->version;
  free_msg(p);
  return v;
}

/* Sets the policy on top of the current version; returns the new version. */
static uint64_t policy_put(fx *f, const char *name, rule_t *const *rules, size_t n) {
  policy_buf b;
  policy_fill(&b, name, rules, n);
  uint64_t v = policy_version(f);
  Shegong__V1__SetPolicyRequest req = SHEGONG__V1__SET_POLICY_REQUEST__INIT;
  req.expected_version = v;
  req.policy = &b.p;
  policy_t *s = call_ok(f->c, "Policies/Set", &req.base);
  assert_int_equal(s->version, v + 1);
  assert_int_equal(s->n_quotas, n);
  free_msg(s);
  return v + 1;
}

/* ---- reports ---------------------------------------------------------------------- */

static staffing_t *staffing(sg_client *c, const char *town, const char *unit, const char *sort) {
  Shegong__V1__StaffingRequest req = SHEGONG__V1__STAFFING_REQUEST__INIT;
  req.town_code = (char *)(town ? town : "");
  req.unit_code = (char *)(unit ? unit : "");
  req.sort = (char *)(sort ? sort : "");
  staffing_t *r = call_ok(c, "Reports/Staffing", &req.base);
  for (size_t i = 0; i < r->n_rows; i++) {
    /* every row: gap = quota - actual */
    const srow_t *w = r->rows[i];
    if (w->gap != (int32_t)w->quota - (int32_t)w->actual)
      print_message("row %zu (%s %s): quota %u actual %u gap %d\n", i, w->unit_code, w->level,
                    w->quota, w->actual, w->gap);
    assert_int_equal(w->gap, (int32_t)w->quota - (int32_t)w->actual);
  }
  return r;
}

static void print_staffing(const staffing_t *r) {
  print_message("staffing: policy \"%s\", %u units without a rule\n", r->policy,
                r->units_without_rule);
  for (size_t i = 0; i < r->n_rows; i++) {
    const srow_t *w = r->rows[i];
    print_message("  %2zu %-15s %-16s quota %4u actual %4u gap %4d rule \"%s\" detail \"%s\" "
                  "roles \"%s\" problem \"%s\"\n",
                  i, w->unit_code, w->level, w->quota, w->actual, w->gap, w->rule, w->detail,
                  w->roles, w->problem);
  }
}

static const srow_t *find_row(const staffing_t *r, const char *code, const char *level) {
  const srow_t *found = NULL;
  for (size_t i = 0; i < r->n_rows; i++)
    if (strcmp(r->rows[i]->unit_code, code) == 0 && strcmp(r->rows[i]->level, level) == 0) {
      if (found) {
        print_message("two rows for %s (%s)\n", code, level);
        print_staffing(r);
        fail();
      }
      found = r->rows[i];
    }
  return found;
}

/* The row of code at level must exist with this quota and actual. */
static const srow_t *expect_row(const staffing_t *r, const char *code, const char *level,
                                uint32_t quota, uint32_t actual) {
  const srow_t *w = find_row(r, code, level);
  if (!w || w->quota != quota || w->actual != actual) {
    print_message("row %s (%s): want quota %u actual %u, got %s\n", code, level, quota, actual,
                  w ? "" : "no row");
    print_staffing(r);
  }
  assert_non_null(w);
  assert_int_equal(w->quota, quota);
  assert_int_equal(w->actual, actual);
  assert_int_equal(w->gap, (int32_t)quota - (int32_t)actual);
  return w;
}

static void expect_contains(const char *what, const char *s, const char *part) {
  if (!strstr(s, part)) print_message("%s \"%s\" does not contain \"%s\"\n", what, s, part);
  assert_non_null(strstr(s, part));
}

static void expect_percent(const char *what, double got, double want) {
  double d = got - want;
  if (d < 0) d = -d;
  if (d > 1e-9) print_message("%s: want %.4f, got %.4f\n", what, want, got);
  assert_true(d <= 1e-9);
}

static Shegong__V1__TurnoverReport *turnover(sg_client *c, const char *town, uint32_t from,
                                             uint32_t to, const char *gone_by) {
  Shegong__V1__TurnoverRequest req = SHEGONG__V1__TURNOVER_REQUEST__INIT;
  req.town_code = (char *)(town ? town : "");
  req.hired_from = from;
  req.hired_to = to;
  req.gone_by = (char *)(gone_by ? gone_by : "");
  Shegong__V1__TurnoverReport *r = call_ok(c, "Reports/Turnover", &req.base);
  assert_int_equal(r->hired_from, from);
  assert_int_equal(r->hired_to, to);
  return r;
}

static void expect_turnover(sg_client *c, const char *town, uint32_t from, uint32_t to,
                            const char *gone_by, uint32_t hired, uint32_t gone, double rate) {
  Shegong__V1__TurnoverReport *r = turnover(c, town, from, to, gone_by);
  if (r->hired != hired || r->gone != gone)
    print_message("turnover %s %u-%u gone by %s: want %u/%u, got %u/%u (%.1f%%)\n",
                  town ? town : "(district)", from, to, gone_by ? gone_by : "(today)", gone, hired,
                  r->gone, r->hired, r->rate_percent);
  assert_int_equal(r->hired, hired);
  assert_int_equal(r->gone, gone);
  expect_percent("turnover rate_percent", r->rate_percent, rate);
  assert_string_equal(r->gone_by, gone_by ? gone_by : TODAY);
  free_msg(r);
}

static Shegong__V1__CertificationReport *certification(sg_client *c, const char *town,
                                                       const char *unit) {
  Shegong__V1__CertificationRequest req = SHEGONG__V1__CERTIFICATION_REQUEST__INIT;
  req.town_code = (char *)(town ? town : "");
  req.unit_code = (char *)(unit ? unit : "");
  Shegong__V1__CertificationReport *r = call_ok(c, "Reports/Certification", &req.base);
  assert_int_equal(r->certified, r->assistant + r->social_worker + r->senior);
  return r;
}

static Shegong__V1__StructureReport *structure(sg_client *c, const char *town, const char *unit,
                                               const char *as_of) {
  Shegong__V1__StructureRequest req = SHEGONG__V1__STRUCTURE_REQUEST__INIT;
  req.town_code = (char *)(town ? town : "");
  req.unit_code = (char *)(unit ? unit : "");
  req.as_of = (char *)(as_of ? as_of : "");
  return call_ok(c, "Reports/Structure", &req.base);
}

static void print_structure(const Shegong__V1__StructureReport *r) {
  print_message("structure: %u workers, average age %.1f\n", r->workers, r->average_age);
  for (size_t i = 0; i < r->n_rows; i++)
    print_message("  %-10s %-14s %3u %5.1f%% avg %.1f\n", r->rows[i]->dimension,
                  r->rows[i]->value, r->rows[i]->count, r->rows[i]->share_percent,
                  r->rows[i]->average_age);
}

static const Shegong__V1__StructureRow *srow(const Shegong__V1__StructureReport *r,
                                             const char *dim, const char *value) {
  for (size_t i = 0; i < r->n_rows; i++)
    if (strcmp(r->rows[i]->dimension, dim) == 0 && strcmp(r->rows[i]->value, value) == 0)
      return r->rows[i];
  return NULL;
}

static void expect_srow(const Shegong__V1__StructureReport *r, const char *dim, const char *value,
                        uint32_t count, double share) {
  const Shegong__V1__StructureRow *w = srow(r, dim, value);
  if (!w || w->count != count) {
    print_message("structure %s %s: want %u, got %s%u\n", dim, value, count, w ? "" : "no row ",
                  w ? w->count : 0);
    print_structure(r);
  }
  assert_non_null(w);
  assert_int_equal(w->count, count);
  expect_percent("share_percent", w->share_percent, share);
}

static size_t dim_rows(const Shegong__V1__StructureReport *r, const char *dim, uint32_t *sum) {
  size_t n = 0;
  *sum = 0;
  for (size_t i = 0; i < r->n_rows; i++)
    if (strcmp(r->rows[i]->dimension, dim) == 0) {
      n++;
      *sum += r->rows[i]->count;
    }
  return n;
}

static Shegong__V1__HiringReport *hiring(sg_client *c, const char *town, uint32_t from,
                                         uint32_t to) {
  Shegong__V1__HiringRequest req = SHEGONG__V1__HIRING_REQUEST__INIT;
  req.town_code = (char *)(town ? town : "");
  req.from_year = from;
  req.to_year = to;
  return call_ok(c, "Reports/Hiring", &req.base);
}

static void print_hiring(const Shegong__V1__HiringReport *r) {
  print_message("hiring: total %u\n", r->total);
  for (size_t i = 0; i < r->n_rows; i++)
    print_message("  %u %-10s hired %u still %u\n", r->rows[i]->year, r->rows[i]->source,
                  r->rows[i]->hired, r->rows[i]->still_working);
}

/* ---- setup ------------------------------------------------------------------------ */

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (!f) return -1;
  dates_init();
  ymd(OLD_HIRE, Y - 8, 6, 1);
  if (start_test_server(&f->srv, &f->c) != 0) {
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  int rc = 0;
  for (size_t i = 0; i < f->n_town_c; i++) sg_client_close(f->town_c[i]);
  if (f->c) sg_client_close(f->c);
  if (stop_test_server(&f->srv, f->done, "reports")) rc = -1;
  hs_server_cleanup(&f->srv);
  free(f);
  return rc;
}

/* ======================================================================== */
/* 1. 浦东: the households band, the extra beyond its last step, ageing. */

#define PD_T "310115001"
#define PD_C(n) "310115001" n

static void test_band_pudong(void **state) {
  fx *f = FX(state);
  UNITS(f, {K_DISTRICT, PD, "浦东新区", 0, 0, 0, 0},
        {K_TOWN, PD_T, "潍坊新村街道", 0, 0, 0, 0},
        {K_COMMUNITY, PD_C("001"), "四百九十九户", 499, 0, 0, 0},
        {K_COMMUNITY, PD_C("002"), "五百户", 500, 0, 0, 0},
        {K_COMMUNITY, PD_C("003"), "两千户", 2000, 0, 0, 0},
        {K_COMMUNITY, PD_C("004"), "两千零一户", 2001, 0, 0, 0},
        {K_COMMUNITY, PD_C("005"), "两千二百九十九户", 2299, 0, 0, 0},
        {K_COMMUNITY, PD_C("006"), "两千三百零一户", 2301, 0, 0, 0},
        {K_COMMUNITY, PD_C("007"), "老龄三成", 1400, 0, 30.0, 0},
        {K_COMMUNITY, PD_C("008"), "老龄二成九", 1400, 0, 29.9, 0},
        {K_COMMUNITY, PD_C("009"), "七百九十九户", 799, 0, 0, 0},
        {K_COMMUNITY, PD_C("010"), "八百户", 800, 0, 0, 0},
        {K_COMMUNITY, PD_C("011"), "两千六百户", 2600, 0, 0, 0},
        {K_COMMUNITY, PD_C("012"), "两千五百九十九户", 2599, 0, 0, 0});
  /* staff in two of them: the gap is quota - actual */
  workers_plain(f, PD_C("002"), R_GENERALIST, CAT_COMMUNITY, 3);
  workers_plain(f, PD_C("003"), R_GENERALIST, CAT_COMMUNITY, 12);

  /* the band alone (no extra per households beyond 2000) */
  rule_buf band;
  rule_t *rules[1] = {rule_pudong_band(&band, 0)};
  uint64_t v = policy_put(f, "浦东新区 2025", rules, 1);
  staffing_t *r = staffing(f->c, NULL, NULL, "code");
  char want_policy[64];
  snprintf(want_policy, sizeof want_policy, "浦东新区 2025 (version %llu)", (unsigned long long)v);
  assert_string_equal(r->policy, want_policy);
  /* below the first step counts as the first */
  const srow_t *w = expect_row(r, PD_C("001"), "unit", 5, 0);
  assert_string_equal(w->rule, "浦东 户数档");
  expect_contains("detail", w->detail, "below the first step");
  assert_string_equal(w->problem, "");
  expect_row(r, PD_C("002"), "unit", 5, 3);
  expect_row(r, PD_C("009"), "unit", 5, 0);
  expect_row(r, PD_C("010"), "unit", 6, 0);
  w = expect_row(r, PD_C("003"), "unit", 11, 12);
  assert_int_equal(w->gap, -1);
  expect_row(r, PD_C("004"), "unit", 11, 0);
  expect_row(r, PD_C("005"), "unit", 11, 0);
  expect_row(r, PD_C("006"), "unit", 11, 0);
  expect_row(r, PD_C("011"), "unit", 11, 0);
  /* ageing: 30.0% of residents 60 or older reaches the threshold of 30%; 29.9% does not */
  w = expect_row(r, PD_C("007"), "unit", 9, 0);
  expect_contains("detail", w->detail, "老龄");
  w = expect_row(r, PD_C("008"), "unit", 8, 0);
  assert_null(strstr(w->detail, "老龄"));
  /* the town centre has no rule: the only unit without one */
  w = expect_row(r, PD_T, "centre", 0, 0);
  expect_contains("problem", w->problem, "no quota rule applies");
  assert_int_equal(r->units_without_rule, 1);
  free_msg(r);

  /* one more worker per 300 households beyond the last step */
  rules[0] = rule_pudong_band(&band, 300);
  v = policy_put(f, "浦东新区 2025", rules, 1);
  r = staffing(f->c, NULL, NULL, NULL);
  snprintf(want_policy, sizeof want_policy, "浦东新区 2025 (version %llu)", (unsigned long long)v);
  assert_string_equal(r->policy, want_policy);
  expect_row(r, PD_C("001"), "unit", 5, 0);
  expect_row(r, PD_C("002"), "unit", 5, 3);
  expect_row(r, PD_C("003"), "unit", 11, 12);
  expect_row(r, PD_C("004"), "unit", 11, 0);
  expect_row(r, PD_C("005"), "unit", 11, 0);
  w = expect_row(r, PD_C("006"), "unit", 12, 0);
  expect_contains("detail", w->detail, "300");
  expect_row(r, PD_C("012"), "unit", 12, 0);
  expect_row(r, PD_C("011"), "unit", 13, 0);
  expect_row(r, PD_C("007"), "unit", 9, 0);
  expect_row(r, PD_C("008"), "unit", 8, 0);
  /* the town: the sum of its rows (5+5+11+11+11+12+9+8+5+6+13+12 = 108; 15 staff) */
  expect_row(r, PD_T, "town", 108, 15);
  expect_row(r, PD, "district", 108, 15);
  free_msg(r);

  /* one unit asked for: its row alone */
  r = staffing(f->c, NULL, PD_C("006"), NULL);
  if (r->n_rows != 1) print_staffing(r);
  assert_int_equal(r->n_rows, 1);
  expect_row(r, PD_C("006"), "unit", 12, 0);
  free_msg(r);
  f->done = 1;
}

/* ======================================================================== */
/* 2. Structure rules: 崇川 "7+N" by kind, 临淄 "1+6+N" for one unit. */

static void test_structure_rules(void **state) {
  fx *f = FX(state);
  UNITS(f, {K_DISTRICT, CC, "崇川区", 0, 0, 0, 0},
        {K_TOWN, CC_TOWN_A, "和平桥街道", 0, 0, 0, 0},
        {K_COMMUNITY, CC_A1, "桃园社区", 1200, 0, 0, 0},
        {K_GRID, CC_A1 "001", "桃园一网格", 0, 0, 0, 0},
        {K_GRID, CC_A1 "002", "桃园二网格", 0, 0, 0, 0},
        {K_GRID, CC_A1 "003", "桃园三网格", 0, 0, 0, 0},
        {K_COMMUNITY, CC_A2, "青年社区", 800, 0, 0, 0},
        {K_COMMUNITY, CC_A3, "虹桥社区", 1500, 0, 0, 0},
        {K_GRID, CC_A3 "001", "虹桥一网格", 0, 0, 0, 0},
        {K_GRID, CC_A3 "002", "虹桥二网格", 0, 0, 0, 0},
        {K_GRID, CC_A3 "003", "虹桥三网格", 0, 0, 0, 0},
        {K_GRID, CC_A3 "004", "虹桥四网格", 0, 0, 0, 0});
  const wspec staff[] = {
      {.unit = CC_A1, .role = R_SECRETARY},
      {.unit = CC_A1, .role = R_GENERALIST, .female = 1},
      {.unit = CC_A1, .role = R_GENERALIST},
      {.unit = CC_A1, .role = R_NEIGHBOURHOOD, .female = 1},
      {.unit = CC_A1, .role = R_NEIGHBOURHOOD},
      {.unit = CC_A1, .role = R_GRID_WORKER, .female = 1},
      {.unit = CC_A2, .role = R_DIRECTOR},
      {.unit = CC_A3, .role = R_SECRETARY},
      {.unit = CC_A3, .role = R_DIRECTOR, .female = 1},
      {.unit = CC_A3, .role = R_GENERALIST},
      {.unit = CC_A3, .role = R_GENERALIST, .female = 1},
      {.unit = CC_A3, .role = R_GENERALIST},
      {.unit = CC_A3, .role = R_GRID_WORKER, .female = 1},
      {.unit = CC_A3, .role = R_GRID_WORKER},
      {.unit = CC_A3, .role = R_FULL_TIME_GRID, .female = 1},
  };
  workers_make(f, staff, sizeof staff / sizeof staff[0], NULL);

  /* "7+N": 主责 4, 全科 3, 邻里 one per grid */
  rule_buf cc, lz;
  rule_init(&cc, "崇川 7+N", K_COMMUNITY, NULL, SCOPE_DEFAULT);
  rule_role(&cc, G_LEAD, 4, 0);
  rule_role(&cc, G_GENERAL, 3, 0);
  rule_role(&cc, G_NEIGHBOURHOOD, 0, 1);
  rule_t *rules[2] = {&cc.q, &lz.q};
  policy_put(f, "崇川区 2025", rules, 1);
  staffing_t *r = staffing(f->c, CC_TOWN_A, NULL, "code");
  const srow_t *w = expect_row(r, CC_A1, "unit", 10, 6);
  assert_string_equal(w->rule, "崇川 7+N");
  assert_string_equal(w->roles, "主责 1/4, 全科 2/3, 邻里 2/3, 网格 1/0");
  expect_contains("detail", w->detail, "×3网格");
  /* no grids: 7 */
  w = expect_row(r, CC_A2, "unit", 7, 1);
  assert_string_equal(w->roles, "主责 1/4, 全科 0/3");
  w = expect_row(r, CC_A3, "unit", 11, 8);
  assert_string_equal(w->rule, "崇川 7+N");
  free_msg(r);

  /* "1+6+N" for 虹桥社区 alone: 主责 1, 全科 6, 网格 one per grid; it wins over the kind's */
  rule_init(&lz, "临淄 1+6+N", 0, CC_A3, SCOPE_DEFAULT);
  rule_role(&lz, G_LEAD, 1, 0);
  rule_role(&lz, G_GENERAL, 6, 0);
  rule_role(&lz, G_GRID, 0, 1);
  policy_put(f, "崇川区 2025", rules, 2);
  r = staffing(f->c, CC_TOWN_A, NULL, "code");
  w = expect_row(r, CC_A3, "unit", 11, 8);
  assert_string_equal(w->rule, "临淄 1+6+N");
  assert_string_equal(w->roles, "主责 2/1, 全科 3/6, 网格 3/4");
  /* the others keep the kind's rule */
  w = expect_row(r, CC_A1, "unit", 10, 6);
  assert_string_equal(w->rule, "崇川 7+N");
  w = expect_row(r, CC_A2, "unit", 7, 1);
  assert_string_equal(w->rule, "崇川 7+N");
  /* the unit-code rule listed first wins just the same */
  free_msg(r);
  rules[0] = &lz.q;
  rules[1] = &cc.q;
  policy_put(f, "崇川区 2025", rules, 2);
  r = staffing(f->c, CC_TOWN_A, NULL, "code");
  w = expect_row(r, CC_A3, "unit", 11, 8);
  assert_string_equal(w->rule, "临淄 1+6+N");
  w = expect_row(r, CC_A1, "unit", 10, 6);
  assert_string_equal(w->rule, "崇川 7+N");
  /* grids are no rows of their own */
  for (size_t i = 0; i < r->n_rows; i++) assert_int_not_equal(r->rows[i]->kind, K_GRID);
  free_msg(r);
  f->done = 1;
}

/* ======================================================================== */
/* 3. A unit no rule applies to. */

static void test_no_rule(void **state) {
  fx *f = FX(state);
  UNITS(f, {K_DISTRICT, CC, "崇川区", 0, 0, 0, 0},
        {K_TOWN, CC_TOWN_A, "和平桥街道", 0, 0, 0, 0},
        {K_COMMUNITY, CC_A1, "桃园社区", 800, 0, 0, 0},
        {K_VILLAGE, CC_VA, "五一村", 300, 0, 0, 0});
  workers_plain(f, CC_VA, R_GENERALIST, CAT_COMMUNITY, 2);
  workers_plain(f, CC_A1, R_GENERALIST, CAT_COMMUNITY, 4);

  /* the policy before any Set has no quota rules: no unit has one */
  staffing_t *r = staffing(f->c, NULL, NULL, NULL);
  assert_int_equal(r->units_without_rule, 3);
  const srow_t *w = expect_row(r, CC_VA, "unit", 0, 2);
  expect_contains("problem", w->problem, "no quota rule applies");
  assert_string_equal(w->rule, "");
  assert_int_equal(w->gap, -2);
  w = expect_row(r, CC_A1, "unit", 0, 4);
  expect_contains("problem", w->problem, "no quota rule applies");
  w = expect_row(r, CC_TOWN_A, "centre", 0, 0);
  expect_contains("problem", w->problem, "no quota rule applies");
  expect_row(r, CC_TOWN_A, "town", 0, 6);
  expect_row(r, CC, "district", 0, 6);
  free_msg(r);

  /* a rule for communities: the village and the town centre are still without */
  rule_buf band;
  rule_t *rules[1] = {rule_pudong_band(&band, 0)};
  policy_put(f, "崇川区 2025", rules, 1);
  r = staffing(f->c, NULL, NULL, NULL);
  assert_int_equal(r->units_without_rule, 2);
  w = expect_row(r, CC_A1, "unit", 6, 4);
  assert_string_equal(w->problem, "");
  assert_string_equal(w->rule, "浦东 户数档");
  w = expect_row(r, CC_VA, "unit", 0, 2);
  expect_contains("problem", w->problem, "no quota rule applies");
  assert_string_equal(w->rule, "");
  assert_string_equal(w->detail, "");
  assert_int_equal(w->gap, -2);
  expect_row(r, CC_TOWN_A, "town", 6, 6);
  free_msg(r);

  /* the village's own report counts it alone */
  r = staffing(f->c, NULL, CC_VA, NULL);
  assert_int_equal(r->n_rows, 1);
  assert_int_equal(r->units_without_rule, 1);
  free_msg(r);
  f->done = 1;
}

/* ======================================================================== */
/* 4. Roll-up and sort. */

/*
 * Town A: centre (tier 4, 2 staff), A1 (1000 户 → 6, 7 staff), A2 (2500 户
 * → 8, 3 staff), village VA (no rule, 2 staff). Town B: centre (4, 4
 * staff), B1 (600 户 → 5, none).
 */
static void rollup_district(fx *f) {
  UNITS(f, {K_DISTRICT, CC, "崇川区", 0, 0, 0, 0},
        {K_TOWN, CC_TOWN_A, "和平桥街道", 0, 50000, 0, 3.2},
        {K_COMMUNITY, CC_A1, "桃园社区", 1000, 0, 0, 0},
        {K_COMMUNITY, CC_A2, "青年社区", 2500, 0, 0, 0},
        {K_VILLAGE, CC_VA, "五一村", 400, 0, 0, 0},
        {K_TOWN, CC_TOWN_B, "任港街道", 0, 40000, 0, 2.5},
        {K_COMMUNITY, CC_B1, "北濠社区", 600, 0, 0, 0});
  workers_plain(f, CC_TOWN_A, R_GENERALIST, CAT_TOWN_CENTRE, 2);
  workers_plain(f, CC_A1, R_GENERALIST, CAT_COMMUNITY, 7);
  workers_plain(f, CC_A2, R_GENERALIST, CAT_COMMUNITY, 3);
  workers_plain(f, CC_VA, R_GENERALIST, CAT_COMMUNITY, 2);
  workers_plain(f, CC_TOWN_B, R_GENERALIST, CAT_TOWN_CENTRE, 4);
  /* a leaver counts nowhere */
  uint64_t gone = worker_add(f, (wspec){.unit = CC_B1});
  worker_leave(f, gone, TODAY);
  static rule_buf band, centre;
  rule_init(&band, "社区户数档", K_COMMUNITY, NULL, SCOPE_DEFAULT);
  rule_step(&band, 500, 5);
  rule_step(&band, 1000, 6);
  rule_step(&band, 2000, 8);
  rule_init(&centre, "街镇中心", K_TOWN, NULL, SCOPE_OWN);
  rule_tier(&centre, 0, 0, 4);
  rule_t *rules[2] = {&band.q, &centre.q};
  policy_put(f, "崇川区 2025", rules, 2);
}

static void expect_order(const staffing_t *r, const char *const *codes, const char *const *levels,
                         size_t n, const char *sort) {
  int ok = r->n_rows == n;
  for (size_t i = 0; ok && i < n; i++)
    ok = strcmp(r->rows[i]->unit_code, codes[i]) == 0 && strcmp(r->rows[i]->level, levels[i]) == 0;
  if (!ok) {
    print_message("sort \"%s\": want the rows\n", sort);
    for (size_t i = 0; i < n; i++) print_message("  %2zu %s (%s)\n", i, codes[i], levels[i]);
    print_staffing(r);
  }
  assert_true(ok);
}

static void test_rollup(void **state) {
  fx *f = FX(state);
  rollup_district(f);

  staffing_t *r = staffing(f->c, NULL, NULL, "code");
  expect_row(r, CC_TOWN_A, "centre", 4, 2);
  expect_row(r, CC_A1, "unit", 6, 7);
  expect_row(r, CC_A2, "unit", 8, 3);
  expect_row(r, CC_VA, "unit", 0, 2);
  expect_row(r, CC_TOWN_B, "centre", 4, 4);
  expect_row(r, CC_B1, "unit", 5, 0);
  assert_int_equal(r->units_without_rule, 1);
  /* each town the sum of its unit rows (its centre's included); the district the towns' */
  for (int t = 0; t < 2; t++) {
    const char *town = t ? CC_TOWN_B : CC_TOWN_A;
    uint32_t q = 0, a = 0;
    for (size_t i = 0; i < r->n_rows; i++)
      if ((strcmp(r->rows[i]->level, "unit") == 0 || strcmp(r->rows[i]->level, "centre") == 0) &&
          strncmp(r->rows[i]->unit_code, town, 9) == 0) {
        q += r->rows[i]->quota;
        a += r->rows[i]->actual;
      }
    expect_row(r, town, "town", q, a);
  }
  expect_row(r, CC_TOWN_A, "town", 18, 14);
  expect_row(r, CC_TOWN_B, "town", 9, 4);
  const srow_t *w = expect_row(r, CC, "district", 27, 18);
  assert_int_equal(w->gap, 9);
  assert_int_equal(w->kind, K_DISTRICT);
  /* no rule for a whole area: no "(whole)" rows */
  assert_null(find_row(r, CC_TOWN_A, "town (whole)"));
  assert_null(find_row(r, CC, "district (whole)"));
  /* "code": the tree in code order, each town's roll-up after its units, the district last */
  {
    const char *codes[] = {CC_TOWN_A, CC_A1, CC_A2, CC_VA, CC_TOWN_A,
                           CC_TOWN_B, CC_B1, CC_TOWN_B, CC};
    const char *levels[] = {"centre", "unit", "unit", "unit", "town", "centre", "unit", "town",
                            "district"};
    expect_order(r, codes, levels, 9, "code");
  }
  free_msg(r);

  /* "gap": the units by gap, largest first (ties by code), then the roll-ups in order */
  r = staffing(f->c, NULL, NULL, "gap");
  {
    const char *codes[] = {CC_A2, CC_B1, CC_TOWN_A, CC_TOWN_B, CC_A1, CC_VA,
                           CC_TOWN_A, CC_TOWN_B, CC};
    const char *levels[] = {"unit", "unit", "centre", "centre", "unit", "unit", "town", "town",
                            "district"};
    expect_order(r, codes, levels, 9, "gap");
  }
  for (size_t i = 1; i < 6; i++) assert_true(r->rows[i - 1]->gap >= r->rows[i]->gap);
  free_msg(r);

  /* "quota" and "actual": the same, largest first, ties by code */
  r = staffing(f->c, NULL, NULL, "quota");
  {
    const char *codes[] = {CC_A2, CC_A1, CC_B1, CC_TOWN_A, CC_TOWN_B, CC_VA,
                           CC_TOWN_A, CC_TOWN_B, CC};
    const char *levels[] = {"unit", "unit", "unit", "centre", "centre", "unit", "town", "town",
                            "district"};
    expect_order(r, codes, levels, 9, "quota");
  }
  free_msg(r);
  r = staffing(f->c, NULL, NULL, "actual");
  {
    const char *codes[] = {CC_A1, CC_TOWN_B, CC_A2, CC_TOWN_A, CC_VA, CC_B1,
                           CC_TOWN_A, CC_TOWN_B, CC};
    const char *levels[] = {"unit", "centre", "unit", "centre", "unit", "unit", "town", "town",
                            "district"};
    expect_order(r, codes, levels, 9, "actual");
  }
  free_msg(r);

  /* one town: its rows and its roll-up, no district row */
  r = staffing(f->c, CC_TOWN_A, NULL, "gap");
  {
    const char *codes[] = {CC_A2, CC_TOWN_A, CC_A1, CC_VA, CC_TOWN_A};
    const char *levels[] = {"unit", "centre", "unit", "unit", "town"};
    expect_order(r, codes, levels, 5, "gap, town A");
  }
  free_msg(r);

  /* refusals */
  sg_status st;
  Shegong__V1__StaffingRequest req = SHEGONG__V1__STAFFING_REQUEST__INIT;
  req.sort = (char *)"nonsense";
  call_violates(f->c, "Reports/Staffing", &req.base, "sort");
  req.sort = (char *)"";
  req.town_code = (char *)CC_A1; /* a community, not a town */
  call_violates(f->c, "Reports/Staffing", &req.base, "town_code");
  req.town_code = (char *)CC_TOWN_A;
  req.unit_code = (char *)CC_A1;
  call_violates(f->c, "Reports/Staffing", &req.base, "town_code");
  req.town_code = (char *)"";
  req.unit_code = (char *)"320602009009";
  call_fails(f->c, "Reports/Staffing", &req.base, C_NOT_FOUND, &st);
  f->done = 1;
}

/*
 * Staffing's sort defaults to "gap": reports.proto says `"gap" (largest
 * first, default)`. (docs/PROTOCOL.md §8.29 and the handler instead keep
 * the tree order when no sort is given: one of the two is wrong.)
 */
static void test_staffing_default_sort(void **state) {
  fx *f = FX(state);
  rollup_district(f);
  /* reports.proto: the default is "code", the tree order a briefing reads */
  staffing_t *by_gap = staffing(f->c, NULL, NULL, "code");
  staffing_t *r = staffing(f->c, NULL, NULL, NULL);
  int same = r->n_rows == by_gap->n_rows;
  for (size_t i = 0; same && i < r->n_rows; i++)
    same = strcmp(r->rows[i]->unit_code, by_gap->rows[i]->unit_code) == 0 &&
           strcmp(r->rows[i]->level, by_gap->rows[i]->level) == 0;
  if (!same) {
    print_message("sort \"\" (the default, documented as \"code\") gave:\n");
    print_staffing(r);
    print_message("while sort \"code\" gave:\n");
    print_staffing(by_gap);
  }
  free_msg(by_gap);
  free_msg(r);
  assert_true(same);
  f->done = 1;
}

/* ======================================================================== */
/* 5a. 临淄: 18 workers per 10,000 residents for the whole district; certification. */

#define LZ_WORKERS 494
#define LZ_CERTIFIED 196

static void test_linzi_whole(void **state) {
  fx *f = FX(state);
  UNITS(f, {K_DISTRICT, LZ, "临淄区", 0, 450000, 0, 0},
        {K_TOWN, LZ_T1, "闻韶街道", 0, 200000, 0, 0},
        {K_COMMUNITY, LZ_C11, "晏婴社区", 3000, 0, 0, 0},
        {K_COMMUNITY, LZ_C12, "雪宫社区", 2000, 0, 0, 0},
        {K_TOWN, LZ_T2, "稷下街道", 0, 70001, 0, 0},
        {K_COMMUNITY, LZ_C21, "齐园社区", 1500, 0, 0, 0});
  /* 494 in post: 20 in 闻韶's centre, 200 + 150 in its communities, 124 in 齐园 */
  wspec *s = calloc(LZ_WORKERS + 6, sizeof *s);
  assert_non_null(s);
  uint32_t cert_in[3][4] = {{0}}; /* T1, T2, C12: workers, assistant, social worker, senior */
  for (size_t i = 0; i < LZ_WORKERS; i++) {
    s[i].unit = i < 20 ? LZ_T1 : i < 220 ? LZ_C11 : i < 370 ? LZ_C12 : LZ_C21;
    s[i].category = i < 20 ? CAT_TOWN_CENTRE : CAT_COMMUNITY;
    s[i].female = (int)(i % 3 != 0);
  }
  /* 196 certified, spread evenly: 120 助理社会工作师, 70 社会工作师, 6 高级 */
  for (size_t k = 0; k < LZ_CERTIFIED; k++) {
    size_t i = k * LZ_WORKERS / LZ_CERTIFIED;
    s[i].cert = k < 120 ? CERT_ASSISTANT : k < 190 ? CERT_SW : CERT_SENIOR;
  }
  for (size_t i = 0; i < LZ_WORKERS; i++) {
    int t = strncmp(s[i].unit, LZ_T2, 9) == 0;
    int rows[2] = {t, strcmp(s[i].unit, LZ_C12) == 0 ? 2 : -1};
    for (int j = 0; j < 2; j++) {
      if (rows[j] < 0) continue;
      cert_in[rows[j]][0]++;
      if (s[i].cert) cert_in[rows[j]][s[i].cert]++;
    }
  }
  /* and six who left, all certified: counted nowhere */
  for (size_t i = LZ_WORKERS; i < LZ_WORKERS + 6; i++) {
    s[i].unit = LZ_C21;
    s[i].cert = CERT_SENIOR;
  }
  uint64_t *ids = calloc(LZ_WORKERS + 6, sizeof *ids);
  assert_non_null(ids);
  unsigned long long t0 = hs_now_ms();
  workers_make(f, s, LZ_WORKERS + 6, ids);
  const char *dates[6] = {TODAY, TODAY, TODAY, TODAY, TODAY, TODAY};
  workers_leave(f, ids + LZ_WORKERS, dates, 6);
  print_message("[reports] 500 workers created and 6 left in %llu ms\n", hs_now_ms() - t0);
  free(ids);
  free(s);

  /* the national 18 per 10,000 residents: for the district as a whole, and for each town */
  rule_buf whole, towns;
  rule_init(&whole, "全国 18/万人", K_DISTRICT, NULL, SCOPE_WHOLE);
  whole.q.per_10k_residents = 18;
  rule_init(&towns, "街镇 18/万人", K_TOWN, NULL, SCOPE_WHOLE);
  towns.q.per_10k_residents = 18;
  rule_t *rules[2] = {&whole.q, &towns.q};
  policy_put(f, "临淄区 2025", rules, 1);
  staffing_t *r = staffing(f->c, NULL, NULL, NULL);
  const srow_t *w = expect_row(r, LZ, "district (whole)", 810, 494);
  assert_int_equal(w->gap, 316);
  assert_string_equal(w->rule, "全国 18/万人");
  expect_contains("detail", w->detail, "450000");
  assert_int_equal(w->kind, K_DISTRICT);
  /* no rule for the units themselves: every unit row is without one, the roll-up quota 0 */
  assert_int_equal(r->units_without_rule, 5);
  expect_row(r, LZ, "district", 0, 494);
  expect_row(r, LZ_T1, "town", 0, 370);
  expect_row(r, LZ_T2, "town", 0, 124);
  expect_row(r, LZ_T1, "centre", 0, 20);
  assert_null(find_row(r, LZ_T1, "town (whole)"));
  free_msg(r);

  /* with the towns' rule too; a per-population rule without a scope is for the whole area */
  whole.q.scope = SCOPE_DEFAULT;
  policy_put(f, "临淄区 2025", rules, 2);
  r = staffing(f->c, NULL, NULL, "gap");
  w = expect_row(r, LZ, "district (whole)", 810, 494);
  assert_int_equal(w->gap, 316);
  /* 200,000 → 360; 70,001 → 126.0018, rounded up: 127 */
  w = expect_row(r, LZ_T1, "town (whole)", 360, 370);
  assert_int_equal(w->gap, -10);
  assert_string_equal(w->rule, "街镇 18/万人");
  expect_row(r, LZ_T2, "town (whole)", 127, 124);
  /* the whole-area rows are roll-ups: after the unit rows */
  size_t first_other = 0;
  while (first_other < r->n_rows && (strcmp(r->rows[first_other]->level, "unit") == 0 ||
                                     strcmp(r->rows[first_other]->level, "centre") == 0))
    first_other++;
  assert_int_equal(first_other, 5);
  for (size_t i = first_other; i < r->n_rows; i++) {
    assert_string_not_equal(r->rows[i]->level, "unit");
    assert_string_not_equal(r->rows[i]->level, "centre");
  }
  free_msg(r);
  /* one town's report: its whole row, no district row */
  r = staffing(f->c, LZ_T2, NULL, NULL);
  expect_row(r, LZ_T2, "town (whole)", 127, 124);
  assert_null(find_row(r, LZ, "district (whole)"));
  assert_null(find_row(r, LZ, "district"));
  free_msg(r);

  /* certification: 196 of 494 in post (the six leavers' certificates do not count) */
  Shegong__V1__CertificationReport *c = certification(f->c, NULL, NULL);
  assert_int_equal(c->workers, 494);
  assert_int_equal(c->certified, 196);
  assert_int_equal(c->assistant, 120);
  assert_int_equal(c->social_worker, 70);
  assert_int_equal(c->senior, 6);
  expect_percent("certification rate_percent", c->rate_percent, 39.7);
  free_msg(c);
  for (int t = 0; t < 3; t++) {
    c = certification(f->c, t == 0 ? LZ_T1 : t == 1 ? LZ_T2 : NULL, t == 2 ? LZ_C12 : NULL);
    uint32_t *want = cert_in[t];
    uint32_t certified = want[1] + want[2] + want[3];
    assert_int_equal(c->workers, want[0]);
    assert_int_equal(c->assistant, want[1]);
    assert_int_equal(c->social_worker, want[2]);
    assert_int_equal(c->senior, want[3]);
    assert_int_equal(c->certified, certified);
    double rate = (double)(((uint64_t)certified * 1000 + want[0] / 2) / want[0]) / 10.0;
    expect_percent("certification rate_percent", c->rate_percent, rate);
    free_msg(c);
  }
  f->done = 1;
}

/* ======================================================================== */
/* 5b. 崇川: turnover of the 2015-2017 hires. */

static void test_turnover(void **state) {
  fx *f = FX(state);
  chongchuan(f);
  /*
   * The cohort: 150 hired in 2015 (one on 1 January), 150 in 2016, 148 in
   * 2017 (two on 31 December). Gone by the end of 2017: 40 + 2 of 2015, 30
   * of 2016, 30 of 2017 (on 31 December itself) = 102. Four of 2016 left
   * on 1 January 2018. Outside it: three hired on 31 December 2014 (one
   * left in 2016) and three on 1 January 2018.
   */
  enum { N_COHORT = 448, N_ALL = 454 };
  static const char *const units[3] = {CC_A1, CC_A2, CC_B1};
  wspec *s = calloc(N_ALL, sizeof *s);
  const char **leave = calloc(N_ALL, sizeof *leave);
  assert_non_null(s);
  assert_non_null(leave);
  uint32_t in_b[2] = {0, 0}; /* town B's cohort: hired, gone by 2017 */
  for (size_t i = 0; i < N_ALL; i++) {
    s[i].unit = units[i % 3];
    s[i].female = (int)(i % 2);
    if (i < 150) {
      s[i].hire = i == 0 ? "2015-01-01" : "2015-03-01";
      leave[i] = i < 40 ? "2016-06-30" : i < 42 ? "2017-01-15" : NULL;
    } else if (i < 300) {
      s[i].hire = "2016-03-01";
      leave[i] = i < 180 ? "2017-06-30" : i < 184 ? "2018-01-01" : NULL;
    } else if (i < N_COHORT) {
      s[i].hire = i >= N_COHORT - 2 ? "2017-12-31" : "2017-03-01";
      leave[i] = i >= N_COHORT - 30 ? "2017-12-31" : NULL;
    } else if (i < N_COHORT + 3) {
      s[i].hire = "2014-12-31";
      leave[i] = i == N_COHORT ? "2016-05-01" : NULL;
    } else {
      s[i].hire = "2018-01-01";
    }
    if (i < N_COHORT && i % 3 == 2) {
      in_b[0]++;
      if (leave[i] && strcmp(leave[i], "2017-12-31") <= 0) in_b[1]++;
    }
  }
  uint64_t *ids = calloc(N_ALL, sizeof *ids), *gone = calloc(N_ALL, sizeof *gone);
  const char **gone_on = calloc(N_ALL, sizeof *gone_on);
  assert_non_null(ids);
  assert_non_null(gone);
  assert_non_null(gone_on);
  unsigned long long t0 = hs_now_ms();
  workers_make(f, s, N_ALL, ids);
  size_t n_gone = 0;
  for (size_t i = 0; i < N_ALL; i++)
    if (leave[i]) {
      gone[n_gone] = ids[i];
      gone_on[n_gone++] = leave[i];
    }
  assert_int_equal(n_gone, 102 + 4 + 1);
  workers_leave(f, gone, gone_on, n_gone);
  print_message("[reports] %d workers created and %zu left in %llu ms\n", N_ALL, n_gone,
                hs_now_ms() - t0);
  free(gone_on);
  free(gone);
  free(ids);
  free(leave);
  free(s);

  /* the article's figure: 102 of 448 = 22.8% */
  expect_turnover(f->c, NULL, 2015, 2017, "2017-12-31", 448, 102, 22.8);
  /* the day before: the 30 who left on 31 December are not gone yet (72/448 = 16.07) */
  expect_turnover(f->c, NULL, 2015, 2017, "2017-12-30", 448, 72, 16.1);
  /* a day later the four of 1 January 2018 are (106/448 = 23.66) */
  expect_turnover(f->c, NULL, 2015, 2017, "2018-01-01", 448, 106, 23.7);
  /* by default, gone by today */
  expect_turnover(f->c, NULL, 2015, 2017, NULL, 448, 106, 23.7);
  /* one year's cohort: 2017's 148, 30 gone (20.27) */
  expect_turnover(f->c, NULL, 2017, 2017, "2017-12-31", 148, 30, 20.3);
  /* 2014's three, one gone; 2018's three, none */
  expect_turnover(f->c, NULL, 2014, 2014, NULL, 3, 1, 33.3);
  expect_turnover(f->c, NULL, 2018, 2018, NULL, 3, 0, 0.0);
  /* one town */
  {
    double rate = (double)(((uint64_t)in_b[1] * 1000 + in_b[0] / 2) / in_b[0]) / 10.0;
    expect_turnover(f->c, CC_TOWN_B, 2015, 2017, "2017-12-31", in_b[0], in_b[1], rate);
  }

  /* refusals */
  Shegong__V1__TurnoverRequest req = SHEGONG__V1__TURNOVER_REQUEST__INIT;
  req.hired_from = 1949;
  req.hired_to = 2017;
  call_violates(f->c, "Reports/Turnover", &req.base, "hired_from");
  req.hired_from = 2016;
  req.hired_to = 2015;
  call_violates(f->c, "Reports/Turnover", &req.base, "hired_to");
  req.hired_from = 2015;
  req.hired_to = (uint32_t)Y + 1;
  call_violates(f->c, "Reports/Turnover", &req.base, "hired_to");
  req.hired_to = 2017;
  req.gone_by = (char *)"2017-02-30";
  call_violates(f->c, "Reports/Turnover", &req.base, "gone_by");
  req.gone_by = (char *)"";
  req.town_code = (char *)CC_A1;
  call_violates(f->c, "Reports/Turnover", &req.base, "town_code");
  f->done = 1;
}

/* ======================================================================== */
/* 6. Structure and hires. */

static void test_structure(void **state) {
  fx *f = FX(state);
  chongchuan(f);
  /* ages on as_of, 30 June last year: born on that day N years before, N exactly */
  char as_of[11], b45[11], b40[11], b30[11], b29[11], b35[11], b55[11], b54[11], b29b[11],
      b60[11], hire[11];
  int y0 = Y - 1;
  ymd(as_of, y0, 6, 30);
  ymd(b45, y0 - 45, 6, 30);
  ymd(b40, y0 - 40, 1, 15);
  ymd(b30, y0 - 30, 6, 30);
  ymd(b29, y0 - 30, 7, 1); /* 30 the day after: 29 on as_of */
  ymd(b35, y0 - 35, 3, 3);
  ymd(b55, y0 - 55, 2, 2);
  ymd(b54, y0 - 55, 12, 1);
  ymd(b29b, y0 - 29, 5, 5);
  ymd(b60, y0 - 60, 4, 4);
  ymd(hire, Y - 2, 3, 1);
  const wspec staff[] = {
      {.unit = CC_A1, .role = R_SECRETARY, .birth = b45, .female = 1, .education = ED_BACHELOR,
       .party = 1, .source = SRC_OPEN_EXAM, .hire = hire},
      {.unit = CC_A1, .role = R_DIRECTOR, .birth = b40, .education = ED_POSTGRADUATE, .party = 1,
       .source = SRC_OPEN_EXAM, .hire = hire},
      {.unit = CC_A1, .role = R_GENERALIST, .birth = b30, .female = 1, .education = ED_BACHELOR,
       .source = SRC_GRADUATE, .hire = hire},
      {.unit = CC_A2, .role = R_GENERALIST, .birth = b29, .female = 1, .education = ED_COLLEGE,
       .source = SRC_GRADUATE, .hire = hire},
      {.unit = CC_A2, .role = R_GENERALIST, .birth = b35, .education = ED_BACHELOR, .party = 1,
       .source = SRC_VETERAN, .hire = hire},
      {.unit = CC_B1, .role = R_GRID_WORKER, .birth = b55, .female = 1, .education = ED_COLLEGE,
       .source = SRC_OPEN_EXAM, .hire = hire},
      {.unit = CC_B1, .role = R_GRID_WORKER, .birth = b54, .source = SRC_OPEN_EXAM, .hire = hire},
      {.unit = CC_TOWN_B, .role = R_NEIGHBOURHOOD, .category = CAT_TOWN_CENTRE, .birth = b29b,
       .female = 1, .education = ED_BACHELOR, .party = 1, .source = SRC_GRADUATE, .hire = hire},
      /* a leaver: in no row */
      {.unit = CC_B1, .role = R_SECRETARY, .birth = b60, .education = ED_POSTGRADUATE, .party = 1,
       .source = SRC_VETERAN, .hire = hire},
  };
  uint64_t ids[9];
  workers_make(f, staff, 9, ids);
  worker_leave(f, ids[8], TODAY);

  Shegong__V1__StructureReport *r = structure(f->c, NULL, NULL, as_of);
  if (r->workers != 8) print_structure(r);
  assert_int_equal(r->workers, 8);
  /* (45 + 40 + 30 + 29 + 35 + 55 + 54 + 29) / 8 = 39.625 */
  expect_percent("average_age", r->average_age, 39.6);
  expect_srow(r, "gender", "女", 5, 62.5);
  expect_srow(r, "gender", "男", 3, 37.5);
  expect_srow(r, "education", "本科", 4, 50.0);
  expect_srow(r, "education", "大专", 2, 25.0);
  expect_srow(r, "education", "研究生", 1, 12.5);
  expect_srow(r, "education", "未填", 1, 12.5);
  expect_srow(r, "party", "党员", 4, 50.0);
  expect_srow(r, "party", "非党员", 4, 50.0);
  expect_srow(r, "source", "公开招考", 4, 50.0);
  expect_srow(r, "source", "高校毕业生", 3, 37.5);
  expect_srow(r, "source", "退役军人", 1, 12.5);
  expect_srow(r, "category", "居民区社工", 7, 87.5);
  expect_srow(r, "category", "街镇中心社工", 1, 12.5);
  expect_srow(r, "role", "全科社工", 3, 37.5);
  expect_srow(r, "role", "网格社工", 2, 25.0);
  expect_srow(r, "role", "书记", 1, 12.5);
  expect_srow(r, "role", "主任", 1, 12.5);
  expect_srow(r, "role", "邻里社工", 1, 12.5);
  /* the average age of each role: (30 + 29 + 35) / 3 = 31.33 */
  expect_percent("全科社工 average_age", srow(r, "role", "全科社工")->average_age, 31.3);
  expect_percent("网格社工 average_age", srow(r, "role", "网格社工")->average_age, 54.5);
  expect_percent("书记 average_age", srow(r, "role", "书记")->average_age, 45.0);
  expect_percent("主任 average_age", srow(r, "role", "主任")->average_age, 40.0);
  /* the age bands, at their edges: 30 on the day is 30-34, the day after's 29 is under 30 */
  expect_srow(r, "age", "30岁以下", 2, 25.0);
  expect_srow(r, "age", "30-34岁", 1, 12.5);
  expect_srow(r, "age", "35-39岁", 1, 12.5);
  expect_srow(r, "age", "40-44岁", 1, 12.5);
  expect_srow(r, "age", "45-49岁", 1, 12.5);
  expect_srow(r, "age", "50-54岁", 1, 12.5);
  expect_srow(r, "age", "55岁及以上", 1, 12.5);
  /* every dimension counts every worker once */
  static const char *const dims[] = {"age", "gender", "education", "party", "source", "category",
                                     "role"};
  static const size_t n_values[] = {7, 2, 4, 2, 3, 2, 5};
  for (size_t d = 0; d < 7; d++) {
    uint32_t sum;
    size_t n = dim_rows(r, dims[d], &sum);
    if (n != n_values[d] || sum != 8) print_structure(r);
    assert_int_equal(n, n_values[d]);
    assert_int_equal(sum, 8);
  }
  /* the others by count, largest first */
  for (size_t i = 1; i < r->n_rows; i++)
    if (strcmp(r->rows[i]->dimension, "age") != 0 &&
        strcmp(r->rows[i]->dimension, r->rows[i - 1]->dimension) == 0)
      assert_true(r->rows[i - 1]->count >= r->rows[i]->count);
  Shegong__V1__StructureReport *full = r;

  /* a year on (today, the default as_of), everyone is a year or so older */
  r = structure(f->c, NULL, NULL, NULL);
  assert_int_equal(r->workers, 8);
  assert_true(r->average_age > 39.6);
  free_msg(r);
  /* one town; one unit */
  r = structure(f->c, CC_TOWN_B, NULL, as_of);
  assert_int_equal(r->workers, 3);
  expect_srow(r, "gender", "女", 2, 66.7);
  expect_srow(r, "role", "网格社工", 2, 66.7);
  expect_percent("average_age", r->average_age, 46.0); /* (55 + 54 + 29) / 3 */
  free_msg(r);
  r = structure(f->c, NULL, CC_A1, as_of);
  assert_int_equal(r->workers, 3);
  expect_srow(r, "party", "党员", 2, 66.7);
  expect_srow(r, "party", "非党员", 1, 33.3);
  free_msg(r);
  Shegong__V1__StructureRequest req = SHEGONG__V1__STRUCTURE_REQUEST__INIT;
  req.as_of = (char *)"2023-02-29";
  call_violates(f->c, "Reports/Structure", &req.base, "as_of");

  /* last: the age bands in band order, youngest first ("ages in band order") */
  r = full;
  static const char *const bands[] = {"30岁以下", "30-34岁", "35-39岁", "40-44岁",
                                      "45-49岁", "50-54岁", "55岁及以上"};
  size_t k = 0;
  int in_order = 1;
  for (size_t i = 0; i < r->n_rows; i++)
    if (strcmp(r->rows[i]->dimension, "age") == 0)
      in_order &= k < 7 && strcmp(r->rows[i]->value, bands[k++]) == 0;
  if (!in_order) {
    print_message("the age rows are not in band order (youngest first):\n");
    print_structure(r);
  }
  free_msg(full);
  assert_true(in_order);
  f->done = 1;
}

static void test_hiring(void **state) {
  fx *f = FX(state);
  chongchuan(f);
  char h3[11], h1[11], h0[11], h6[11], left1[11], left3[11];
  ymd(h3, Y - 3, 4, 1);
  ymd(h1, Y - 1, 3, 1);
  ymd(h0, Y, 1, 1);
  ymd(h6, Y - 6, 9, 1);
  ymd(left1, Y - 1, 9, 1);
  ymd(left3, Y - 2, 1, 10);
  const wspec staff[] = {
      {.unit = CC_A1, .hire = h3, .source = SRC_OPEN_EXAM},
      {.unit = CC_A1, .hire = h3, .source = SRC_OPEN_EXAM, .female = 1},
      {.unit = CC_B1, .hire = h3, .source = SRC_OPEN_EXAM}, /* leaves */
      {.unit = CC_B1, .hire = h3, .source = SRC_VETERAN},
      {.unit = CC_A2, .hire = h1, .source = SRC_OPEN_EXAM, .female = 1},
      {.unit = CC_B1, .hire = h1, .source = SRC_OPEN_EXAM},
      {.unit = CC_A2, .hire = h1, .source = SRC_GRADUATE, .female = 1}, /* leaves */
      {.unit = CC_A2, .hire = h1, .source = SRC_GRADUATE},              /* leaves */
      {.unit = CC_A1, .hire = h0, .source = SRC_SOCIAL_WORKER},
      {.unit = CC_A1, .hire = h6, .source = SRC_OPEN_EXAM},
  };
  uint64_t ids[10];
  workers_make(f, staff, 10, ids);
  uint64_t gone[3] = {ids[2], ids[6], ids[7]};
  const char *on[3] = {left3, left1, left1};
  workers_leave(f, gone, on, 3);

  /* the default: the last five years, this one included */
  Shegong__V1__HiringReport *r = hiring(f->c, NULL, 0, 0);
  struct {
    uint32_t year;
    const char *source;
    uint32_t hired, still;
  } want[] = {
      {(uint32_t)Y - 3, "公开招考", 3, 2}, {(uint32_t)Y - 3, "退役军人", 1, 1},
      {(uint32_t)Y - 1, "公开招考", 2, 2}, {(uint32_t)Y - 1, "高校毕业生", 2, 0},
      {(uint32_t)Y, "持证社工", 1, 1},
  };
  int ok = r->n_rows == 5 && r->total == 9;
  for (size_t i = 0; ok && i < 5; i++)
    ok = r->rows[i]->year == want[i].year && strcmp(r->rows[i]->source, want[i].source) == 0 &&
         r->rows[i]->hired == want[i].hired && r->rows[i]->still_working == want[i].still;
  if (!ok) {
    print_message("want (total 9):\n");
    for (size_t i = 0; i < 5; i++)
      print_message("  %u %s hired %u still %u\n", want[i].year, want[i].source, want[i].hired,
                    want[i].still);
    print_hiring(r);
  }
  assert_true(ok);
  free_msg(r);

  /* six years back, alone */
  r = hiring(f->c, NULL, (uint32_t)Y - 6, (uint32_t)Y - 6);
  if (r->n_rows != 1) print_hiring(r);
  assert_int_equal(r->n_rows, 1);
  assert_int_equal(r->total, 1);
  assert_int_equal(r->rows[0]->year, Y - 6);
  assert_string_equal(r->rows[0]->source, "公开招考");
  assert_int_equal(r->rows[0]->still_working, 1);
  free_msg(r);
  /* town B: Y-3 公开招考 1 (gone), 退役军人 1; Y-1 公开招考 1 */
  r = hiring(f->c, CC_TOWN_B, (uint32_t)Y - 6, (uint32_t)Y);
  if (r->n_rows != 3 || r->total != 3) print_hiring(r);
  assert_int_equal(r->n_rows, 3);
  assert_int_equal(r->total, 3);
  assert_int_equal(r->rows[0]->year, Y - 3);
  assert_string_equal(r->rows[0]->source, "公开招考");
  assert_int_equal(r->rows[0]->hired, 1);
  assert_int_equal(r->rows[0]->still_working, 0);
  free_msg(r);
  /* no hires in a year: no rows */
  r = hiring(f->c, NULL, (uint32_t)Y - 2, (uint32_t)Y - 2);
  assert_int_equal(r->n_rows, 0);
  assert_int_equal(r->total, 0);
  free_msg(r);

  Shegong__V1__HiringRequest req = SHEGONG__V1__HIRING_REQUEST__INIT;
  req.to_year = (uint32_t)Y + 1;
  call_violates(f->c, "Reports/Hiring", &req.base, "to_year");
  req.to_year = (uint32_t)Y - 3;
  req.from_year = (uint32_t)Y - 2;
  call_violates(f->c, "Reports/Hiring", &req.base, "from_year");
  req.to_year = (uint32_t)Y;
  req.from_year = (uint32_t)Y - 64;
  call_violates(f->c, "Reports/Hiring", &req.base, "from_year");
  f->done = 1;
}

/* ======================================================================== */
/* 7. Town-centre tiers. */

#define PD_T1 "310115001"
#define PD_T2 "310115002"
#define PD_T3 "310115003"
#define PD_T4 "310115004"

static void test_centre_tiers(void **state) {
  fx *f = FX(state);
  UNITS(f, {K_DISTRICT, PD, "浦东新区", 0, 0, 0, 0},
        {K_TOWN, PD_T1, "潍坊新村街道", 0, 120000, 0, 10.0},
        {K_COMMUNITY, PD_T1 "001", "潍坊一村", 600, 0, 0, 0},
        {K_TOWN, PD_T2, "川沙新镇", 0, 30000, 0, 65.0},
        {K_TOWN, PD_T3, "小镇", 0, 10000, 0, 5.0},
        {K_TOWN, PD_T4, "大镇", 0, 150000, 0, 1.0});
  /* 潍坊: three in its centre; its community five, one of them a centre hire placed there */
  workers_plain(f, PD_T1, R_GENERALIST, CAT_TOWN_CENTRE, 3);
  workers_plain(f, PD_T1 "001", R_GENERALIST, CAT_COMMUNITY, 4);
  worker_add(f, (wspec){.unit = PD_T1 "001", .category = CAT_TOWN_CENTRE, .status = ST_PLACEMENT,
                        .hire = TODAY});
  workers_plain(f, PD_T2, R_GENERALIST, CAT_TOWN_CENTRE, 13);

  /* at least 50,000 residents or 20 km²: 5; 100,000 or 40: 8; 150,000 or 60: 12 */
  rule_buf centre, band;
  rule_init(&centre, "浦东 中心档", K_TOWN, NULL, SCOPE_OWN);
  rule_tier(&centre, 50000, 20, 5);
  rule_tier(&centre, 100000, 40, 8);
  rule_tier(&centre, 150000, 60, 12);
  rule_init(&band, "社区", K_COMMUNITY, NULL, SCOPE_DEFAULT);
  rule_step(&band, 0, 5);
  rule_t *rules[2] = {&centre.q, &band.q};
  policy_put(f, "浦东新区 2025", rules, 2);
  staffing_t *r = staffing(f->c, NULL, NULL, "code");
  /* by residents: 120,000 ≥ 100,000 (area 10 fits no tier) */
  const srow_t *w = expect_row(r, PD_T1, "centre", 8, 3);
  assert_string_equal(w->rule, "浦东 中心档");
  expect_contains("detail", w->detail, "中心档");
  assert_int_equal(w->kind, K_TOWN);
  /* the placed worker counts where she serves */
  expect_row(r, PD_T1 "001", "unit", 5, 5);
  expect_row(r, PD_T1, "town", 13, 8);
  /* by area: 65 km² ≥ 60 */
  expect_row(r, PD_T2, "centre", 12, 13);
  /* 150,000 exactly */
  expect_row(r, PD_T4, "centre", 12, 0);
  /* none fits: quota 0 under the rule */
  w = expect_row(r, PD_T3, "centre", 0, 0);
  assert_string_equal(w->rule, "浦东 中心档");
  expect_contains("detail", w->detail, "no centre tier fits");
  assert_int_equal(r->units_without_rule, 0);
  /* an own-staff rule makes no "(whole)" row */
  assert_null(find_row(r, PD_T1, "town (whole)"));
  expect_row(r, PD, "district", 8 + 5 + 12 + 0 + 12, 3 + 5 + 13);
  free_msg(r);

  /* a tier with no threshold fits every town: the highest tier that fits counts */
  rule_tier(&centre, 0, 0, 3);
  policy_put(f, "浦东新区 2025", rules, 2);
  r = staffing(f->c, NULL, NULL, NULL);
  expect_row(r, PD_T3, "centre", 3, 0);
  expect_row(r, PD_T1, "centre", 8, 3);
  expect_row(r, PD_T2, "centre", 12, 13);
  free_msg(r);
  /* one town's report counts only its centre in its own row */
  r = staffing(f->c, NULL, PD_T1, NULL);
  assert_int_equal(r->n_rows, 1);
  expect_row(r, PD_T1, "centre", 8, 3);
  free_msg(r);
  f->done = 1;
}

/* ======================================================================== */
/* 8. Validation of quota rules and of the hiring policy (and the limits applied). */

static void set_violates(fx *f, uint64_t expected, rule_t *const *rules, size_t n,
                         const char *field) {
  policy_buf b;
  policy_fill(&b, "崇川区 2025", rules, n);
  Shegong__V1__SetPolicyRequest req = SHEGONG__V1__SET_POLICY_REQUEST__INIT;
  req.expected_version = expected;
  req.policy = &b.p;
  call_violates(f->c, "Policies/Set", &req.base, field);
  /* nothing changed */
  policy_t *p = policy_get(f->c, 0);
  assert_int_equal(p->version, expected);
  assert_int_equal(p->n_quotas, 1);
  assert_string_equal(p->quotas[0]->name, "浦东 户数档");
  assert_null(p->hiring);
  free_msg(p);
}

static void test_policy_validation(void **state) {
  fx *f = FX(state);
  chongchuan(f);
  rule_buf good, bad, other;
  rule_t *rules[2] = {rule_pudong_band(&good, 300), &bad.q};
  uint64_t v = policy_put(f, "崇川区 2025", rules, 1);
  assert_int_equal(v, 1);
  /* it reads back as set */
  policy_t *p = policy_get(f->c, 0);
  assert_int_equal(p->n_quotas, 1);
  assert_int_equal(p->quotas[0]->n_household_steps, 6);
  assert_int_equal(p->quotas[0]->household_steps[5]->min_households, 2000);
  assert_int_equal(p->quotas[0]->household_steps[5]->workers, 11);
  assert_int_equal(p->quotas[0]->households_per_extra, 300);
  assert_int_equal(p->quotas[0]->ageing_extra, 1);
  free_msg(p);

  /* unit_kind and unit_code both */
  rule_init(&bad, "两者", K_COMMUNITY, CC_A1, SCOPE_DEFAULT);
  rule_step(&bad, 0, 5);
  set_violates(f, v, rules, 2, "policy.quotas[1].unit_kind");
  /* neither */
  rule_init(&bad, "皆无", 0, NULL, SCOPE_DEFAULT);
  rule_step(&bad, 0, 5);
  set_violates(f, v, rules, 2, "policy.quotas[1].unit_kind");
  /* steps that do not go up */
  rule_init(&bad, "台阶", K_VILLAGE, NULL, SCOPE_DEFAULT);
  rule_step(&bad, 500, 5);
  rule_step(&bad, 500, 6);
  set_violates(f, v, rules, 2, "policy.quotas[1].household_steps[1]");
  rule_init(&bad, "台阶", K_VILLAGE, NULL, SCOPE_DEFAULT);
  rule_step(&bad, 500, 5);
  rule_step(&bad, 800, 6);
  rule_step(&bad, 700, 7);
  set_violates(f, v, rules, 2, "policy.quotas[1].household_steps[2]");
  /* a role group twice */
  rule_init(&bad, "结构", K_VILLAGE, NULL, SCOPE_DEFAULT);
  rule_role(&bad, G_LEAD, 4, 0);
  rule_role(&bad, G_GENERAL, 3, 0);
  rule_role(&bad, G_LEAD, 1, 0);
  set_violates(f, v, rules, 2, "policy.quotas[1].roles[2]");
  /* a role with neither a fixed count nor one per grid */
  rule_init(&bad, "结构", K_VILLAGE, NULL, SCOPE_DEFAULT);
  rule_role(&bad, G_LEAD, 0, 0);
  set_violates(f, v, rules, 2, "policy.quotas[1].roles[0]");
  /* centre tiers on a community rule */
  rule_init(&bad, "中心档", K_COMMUNITY, NULL, SCOPE_WHOLE);
  rule_tier(&bad, 50000, 20, 5);
  set_violates(f, v, rules, 2, "policy.quotas[1].unit_kind");
  /* two rules for the same kind and scope */
  rule_init(&bad, "又一户数档", K_COMMUNITY, NULL, SCOPE_DEFAULT);
  rule_step(&bad, 0, 5);
  set_violates(f, v, rules, 2, "policy.quotas[1].name");
  /* two for the same unit and scope */
  {
    rule_t *three[3] = {&good.q, &other.q, &bad.q};
    rule_init(&other, "虹桥", 0, CC_A1, SCOPE_DEFAULT);
    rule_step(&other, 0, 5);
    rule_init(&bad, "虹桥又一", 0, CC_A1, SCOPE_DEFAULT);
    rule_role(&bad, G_LEAD, 1, 0);
    set_violates(f, v, three, 3, "policy.quotas[2].name");
  }
  /* no part at all */
  rule_init(&bad, "空", K_VILLAGE, NULL, SCOPE_DEFAULT);
  set_violates(f, v, rules, 2, "policy.quotas[1].name");
  /* an extra per households without a band; an ageing extra without its threshold */
  rule_init(&bad, "零散", K_VILLAGE, NULL, SCOPE_DEFAULT);
  bad.q.per_10k_residents = 18;
  bad.q.households_per_extra = 300;
  set_violates(f, v, rules, 2, "policy.quotas[1].households_per_extra");
  rule_init(&bad, "零散", K_VILLAGE, NULL, SCOPE_DEFAULT);
  rule_step(&bad, 0, 3);
  bad.q.ageing_extra = 1;
  set_violates(f, v, rules, 2, "policy.quotas[1].ageing_threshold_percent");
  /* grids have no quota of their own */
  rule_init(&bad, "网格", K_GRID, NULL, SCOPE_DEFAULT);
  rule_step(&bad, 0, 1);
  set_violates(f, v, rules, 2, "policy.quotas[1].unit_kind");
  /* a rule at index 0 is named as such */
  {
    rule_t *first[1] = {&bad.q};
    rule_init(&bad, "空", K_VILLAGE, NULL, SCOPE_DEFAULT);
    set_violates(f, v, first, 1, "policy.quotas[0].name");
  }

  /* the hiring policy: 18 to 65, or 0 */
  {
    policy_buf b;
    rule_t *one[1] = {&good.q};
    policy_fill(&b, "崇川区 2025", one, 1);
    b.h.max_age = 10;
    b.h.min_education = ED_COLLEGE;
    b.p.hiring = &b.h;
    Shegong__V1__SetPolicyRequest req = SHEGONG__V1__SET_POLICY_REQUEST__INIT;
    req.expected_version = v;
    req.policy = &b.p;
    call_violates(f->c, "Policies/Set", &req.base, "policy.hiring.max_age");
    b.h.max_age = 66;
    call_violates(f->c, "Policies/Set", &req.base, "policy.hiring.max_age");
    p = policy_get(f->c, 0);
    assert_int_equal(p->version, v);
    assert_null(p->hiring);
    free_msg(p);
    /* 凡进必考: 40 and 大专 */
    b.h.max_age = 40;
    policy_t *s = call_ok(f->c, "Policies/Set", &req.base);
    assert_int_equal(s->version, v + 1);
    free_msg(s);
    p = policy_get(f->c, 0);
    assert_int_equal(p->version, v + 1);
    assert_non_null(p->hiring);
    assert_int_equal(p->hiring->max_age, 40);
    assert_int_equal(p->hiring->min_education, ED_COLLEGE);
    free_msg(p);
    v++;
    /* and Workers/Create applies it: 50 on the hire date, or no education given */
    char birth[11];
    ymd(birth, Y - 50, 1, 1);
    char idno[19];
    wspec old = {.unit = CC_A1, .birth = birth, .education = ED_BACHELOR};
    make_idno(f, &old, idno);
    worker_t w = SHEGONG__V1__WORKER__INIT;
    w.name = (char *)"老张";
    w.id_number = idno;
    w.unit_code = (char *)CC_A1;
    w.category = CAT_COMMUNITY;
    w.role = R_GENERALIST;
    w.education = ED_BACHELOR;
    w.hire_date = TODAY;
    Shegong__V1__CreateWorkerRequest creq = SHEGONG__V1__CREATE_WORKER_REQUEST__INIT;
    creq.worker = &w;
    call_violates(f->c, "Workers/Create", &creq.base, "worker.hire_date");
    w.hire_date = OLD_HIRE;
    ymd(birth, Y - 30, 1, 1);
    make_idno(f, &old, idno);
    w.education = 0;
    call_violates(f->c, "Workers/Create", &creq.base, "worker.education");
    w.education = ED_COLLEGE;
    worker_t *ok = call_ok(f->c, "Workers/Create", &creq.base);
    free_msg(ok);
  }

  /* `whole` is for an area: a town or the district, not a community */
  rule_init(&bad, "社区整体", K_COMMUNITY, NULL, SCOPE_WHOLE);
  bad.q.per_10k_residents = 18;
  {
    policy_buf wb;
    policy_fill(&wb, "崇川区 2025", rules, 2);
    Shegong__V1__SetPolicyRequest wreq = SHEGONG__V1__SET_POLICY_REQUEST__INIT;
    wreq.expected_version = v + 1;
    wreq.policy = &wb.p;
    call_violates(f->c, "Policies/Set", &wreq.base, "policy.quotas[1].scope");
  }
  /* another scope for the same kind is another rule; a unit's own rule beside its kind's */
  rule_init(&bad, "街镇整体", K_TOWN, NULL, SCOPE_WHOLE);
  bad.q.per_10k_residents = 18;
  rule_init(&other, "桃园", 0, CC_A1, SCOPE_DEFAULT);
  rule_role(&other, G_LEAD, 1, 0);
  {
    rule_t *three[3] = {&good.q, &bad.q, &other.q};
    assert_int_equal(policy_put(f, "崇川区 2025", three, 3), v + 1);
  }
  f->done = 1;
}

/*
 * A rule without a scope is an own-staff rule unless it is a per-population
 * one (policy.proto: "default OWN_STAFF"): beside an OWN_STAFF rule for the
 * same kind it is a second rule for the same kind and scope, which Set
 * refuses ("two for the same kind or unit would leave the answer to order").
 */
static void test_policy_scope_default(void **state) {
  fx *f = FX(state);
  chongchuan(f);
  rule_buf a, b;
  rule_init(&a, "户数档", K_COMMUNITY, NULL, SCOPE_DEFAULT);
  rule_step(&a, 0, 5);
  rule_init(&b, "7+N", K_COMMUNITY, NULL, SCOPE_OWN);
  rule_role(&b, G_LEAD, 4, 0);
  rule_t *rules[2] = {&a.q, &b.q};
  policy_buf pb;
  policy_fill(&pb, "崇川区 2025", rules, 2);
  Shegong__V1__SetPolicyRequest req = SHEGONG__V1__SET_POLICY_REQUEST__INIT;
  req.expected_version = 0;
  req.policy = &pb.p;
  call_violates(f->c, "Policies/Set", &req.base, "policy.quotas[1].name");
  assert_int_equal(policy_version(f), 0);
  f->done = 1;
}

/* ======================================================================== */
/* 9. A town's token sees its town. */

static void test_town_scope(void **state) {
  fx *f = FX(state);
  rollup_district(f);
  sg_client *tc = town_client(f, CC_TOWN_A);

  /* no town asked for: the token's town, as the district's admin sees it */
  staffing_t *mine = staffing(tc, NULL, NULL, "code");
  staffing_t *admin = staffing(f->c, CC_TOWN_A, NULL, "code");
  assert_int_equal(mine->n_rows, admin->n_rows);
  assert_int_equal(mine->n_rows, 5);
  for (size_t i = 0; i < mine->n_rows; i++) {
    assert_string_equal(mine->rows[i]->unit_code, admin->rows[i]->unit_code);
    assert_string_equal(mine->rows[i]->level, admin->rows[i]->level);
    assert_int_equal(mine->rows[i]->quota, admin->rows[i]->quota);
    assert_int_equal(mine->rows[i]->actual, admin->rows[i]->actual);
    assert_int_equal(strncmp(mine->rows[i]->unit_code, CC_TOWN_A, 9), 0);
  }
  expect_row(mine, CC_TOWN_A, "town", 18, 14);
  assert_null(find_row(mine, CC, "district"));
  assert_null(find_row(mine, CC_TOWN_B, "centre"));
  free_msg(admin);
  free_msg(mine);
  /* its own town or unit by name */
  mine = staffing(tc, CC_TOWN_A, NULL, NULL);
  expect_row(mine, CC_TOWN_A, "town", 18, 14);
  free_msg(mine);
  mine = staffing(tc, NULL, CC_A2, NULL);
  expect_row(mine, CC_A2, "unit", 8, 3);
  free_msg(mine);

  /* another town, or a unit of it: PERMISSION_DENIED */
  sg_status st;
  Shegong__V1__StaffingRequest sreq = SHEGONG__V1__STAFFING_REQUEST__INIT;
  sreq.town_code = (char *)CC_TOWN_B;
  call_fails(tc, "Reports/Staffing", &sreq.base, C_PERM, &st);
  sreq.town_code = (char *)"";
  sreq.unit_code = (char *)CC_B1;
  call_fails(tc, "Reports/Staffing", &sreq.base, C_PERM, &st);
  sreq.unit_code = (char *)CC;
  call_fails(tc, "Reports/Staffing", &sreq.base, C_PERM, &st);

  /* the other reports likewise: its town by default (14 in post), never town B */
  Shegong__V1__CertificationReport *c = certification(tc, NULL, NULL);
  assert_int_equal(c->workers, 14);
  free_msg(c);
  Shegong__V1__StructureReport *s = structure(tc, NULL, NULL, NULL);
  assert_int_equal(s->workers, 14);
  free_msg(s);
  Shegong__V1__TurnoverReport *t = turnover(tc, NULL, (uint32_t)Y - 8, (uint32_t)Y, NULL);
  assert_int_equal(t->hired, 14);
  assert_int_equal(t->gone, 0);
  free_msg(t);
  Shegong__V1__HiringReport *h = hiring(tc, NULL, (uint32_t)Y - 8, (uint32_t)Y);
  assert_int_equal(h->total, 14);
  free_msg(h);
  /* the admin sees both towns: 18 in post, and the leaver of town B */
  t = turnover(f->c, NULL, (uint32_t)Y - 8, (uint32_t)Y, NULL);
  assert_int_equal(t->hired, 19);
  assert_int_equal(t->gone, 1);
  free_msg(t);

  Shegong__V1__CertificationRequest creq = SHEGONG__V1__CERTIFICATION_REQUEST__INIT;
  creq.town_code = (char *)CC_TOWN_B;
  call_fails(tc, "Reports/Certification", &creq.base, C_PERM, &st);
  Shegong__V1__StructureRequest streq = SHEGONG__V1__STRUCTURE_REQUEST__INIT;
  streq.unit_code = (char *)CC_B1;
  call_fails(tc, "Reports/Structure", &streq.base, C_PERM, &st);
  Shegong__V1__TurnoverRequest treq = SHEGONG__V1__TURNOVER_REQUEST__INIT;
  treq.town_code = (char *)CC_TOWN_B;
  treq.hired_from = 2015;
  treq.hired_to = 2017;
  call_fails(tc, "Reports/Turnover", &treq.base, C_PERM, &st);
  Shegong__V1__HiringRequest hreq = SHEGONG__V1__HIRING_REQUEST__INIT;
  hreq.town_code = (char *)CC_TOWN_B;
  call_fails(tc, "Reports/Hiring", &hreq.base, C_PERM, &st);
  f->done = 1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_band_pudong, setup, teardown),
      cmocka_unit_test_setup_teardown(test_structure_rules, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_rule, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rollup, setup, teardown),
      cmocka_unit_test_setup_teardown(test_staffing_default_sort, setup, teardown),
      cmocka_unit_test_setup_teardown(test_linzi_whole, setup, teardown),
      cmocka_unit_test_setup_teardown(test_turnover, setup, teardown),
      cmocka_unit_test_setup_teardown(test_structure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hiring, setup, teardown),
      cmocka_unit_test_setup_teardown(test_centre_tiers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_policy_validation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_policy_scope_default, setup, teardown),
      cmocka_unit_test_setup_teardown(test_town_scope, setup, teardown),
  };
  return cmocka_run_group_tests_name("reports", tests, NULL, NULL);
}
