/*
 * Assessments, visits, training, level history and policy, end to end: a
 * real shegongd (fresh data directory per test) with a small district built
 * through the API in setup, driven through libshegong. Every status is
 * checked by its exact code and every field violation by its path. Dates
 * are computed at run time from today in China time (UTC+8), as the server
 * computes them: no year is written into the tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "calls.h"
#include "harness.h"
#include "shegong.h"
#include "shegong/v1/assessments.pb-c.h"
#include "shegong/v1/auth.pb-c.h"
#include "shegong/v1/policy.pb-c.h"
#include "shegong/v1/sync.pb-c.h"
#include "shegong/v1/training.pb-c.h"
#include "shegong/v1/units.pb-c.h"
#include "shegong/v1/workers.pb-c.h"
#include "timeutil.h"
#include "validate.h"

#define C_OK SHEGONG__V1__CODE__OK
#define C_INVALID SHEGONG__V1__CODE__INVALID_ARGUMENT
#define C_NOT_FOUND SHEGONG__V1__CODE__NOT_FOUND
#define C_EXISTS SHEGONG__V1__CODE__ALREADY_EXISTS
#define C_PERM SHEGONG__V1__CODE__PERMISSION_DENIED
#define C_PRECOND SHEGONG__V1__CODE__FAILED_PRECONDITION
#define C_ABORTED SHEGONG__V1__CODE__ABORTED

#define K_REGULAR SHEGONG__V1__ASSESSMENT_KIND__REGULAR
#define K_YEAR_END SHEGONG__V1__ASSESSMENT_KIND__YEAR_END
#define K_SPECIAL SHEGONG__V1__ASSESSMENT_KIND__SPECIAL

#define G_EXCELLENT SHEGONG__V1__GRADE__EXCELLENT
#define G_QUALIFIED SHEGONG__V1__GRADE__QUALIFIED
#define G_BASIC SHEGONG__V1__GRADE__BASICALLY_QUALIFIED
#define G_UNQUALIFIED SHEGONG__V1__GRADE__UNQUALIFIED

#define R_SECRETARY SHEGONG__V1__ROLE__SECRETARY
#define R_GENERALIST SHEGONG__V1__ROLE__GENERALIST

#define DISTRICT "320602"
#define TOWN_A "320602001"
#define COMM_A1 "320602001001"
#define COMM_A2 "320602001002"
#define TOWN_B "320602002"
#define COMM_B1 "320602002001"

#define OLD_HIRE "2015-06-01"

typedef Shegong__V1__Assessment assess_t;
typedef Shegong__V1__Worker worker_t;
typedef Shegong__V1__Policy policy_t;

/* ------------------------------------------------------------------------ */
/* Dates: TODAY, Y, M, D, ymd and today_plus are calls.h's (dates_init). */

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* ------------------------------------------------------------------------ */
/* Fixture: one fresh server per test, with a small district built by API. */

typedef struct fx {
  hs_server srv;
  sg_client *c;
  unsigned seq; /* ID-number sequence */
  /* workers made by setup, all hired OLD_HIRE, without a post */
  uint64_t w_a, w_b; /* COMM_A1, generalists */
  uint64_t w_c;      /* COMM_A2, generalist */
  uint64_t w_sec;    /* COMM_A2, secretary (书记) */
  uint64_t w_tb;     /* COMM_B1, generalist: the other town */
  int done;
} fx;

static fx *FX(void **state) { return *state; }

#define assert_score(got, want)                                                        \
  do {                                                                                 \
    double got_ = (got), want_ = (want);                                               \
    if (fabs(got_ - want_) > 1e-9) print_message("score %.6f, want %.6f\n", got_, want_); \
    assert_true(fabs(got_ - want_) <= 1e-9);                                           \
  } while (0)

/* ---- units and workers ---------------------------------------------------- */

static uint64_t unit_make(sg_client *c, int kind, const char *code, const char *name) {
  Shegong__V1__Unit u = SHEGONG__V1__UNIT__INIT;
  u.kind = (Shegong__V1__UnitKind)kind;
  u.code = (char *)code;
  u.name = (char *)name;
  Shegong__V1__CreateUnitRequest req = SHEGONG__V1__CREATE_UNIT_REQUEST__INIT;
  req.unit = &u;
  Shegong__V1__Unit *r = call_ok(c, "Units/Create", &req.base);
  uint64_t id = r->id;
  assert_true(id > 0);
  assert_string_equal(r->code, code);
  free_msg(r);
  return id;
}

static char check_char(const char *first17) {
  static const int weight[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (int i = 0; i < 17; i++) sum += (first17[i] - '0') * weight[i];
  return "10X98765432"[sum % 11];
}

/* An 18-character GB 11643 ID number: area (6 digits), birth YYYYMMDD, sequence 0-999. */
static void make_idno(char out[19], const char *area, const char *birth, unsigned seq) {
  char first17[18];
  snprintf(first17, sizeof first17, "%.6s%.8s%03u", area, birth, seq % 1000);
  assert_int_equal(strlen(first17), 17);
  snprintf(out, 19, "%s%c", first17, check_char(first17));
}

/* A worker in unit (a community), born 1986, with a fresh ID number. */
static uint64_t worker_new(fx *f, const char *name, const char *unit, int role, const char *hire,
                           const char *post, uint32_t level) {
  char idno[19];
  make_idno(idno, DISTRICT, "19860412", 100 + f->seq++);
  worker_t w = SHEGONG__V1__WORKER__INIT;
  w.name = (char *)name;
  w.id_number = idno;
  w.unit_code = (char *)unit;
  w.category = SHEGONG__V1__CATEGORY__COMMUNITY_BASED;
  w.role = (Shegong__V1__Role)role;
  w.hire_date = (char *)hire;
  w.post = (char *)(post ? post : "");
  w.level = level;
  Shegong__V1__CreateWorkerRequest req = SHEGONG__V1__CREATE_WORKER_REQUEST__INIT;
  req.worker = &w;
  worker_t *r = call_ok(f->c, "Workers/Create", &req.base);
  uint64_t id = r->id;
  assert_true(id > 0);
  assert_string_equal(r->hire_date, hire);
  free_msg(r);
  return id;
}

static worker_t *worker_get(sg_client *c, uint64_t id) {
  Shegong__V1__GetWorkerRequest req = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
  req.id = id;
  return call_ok(c, "Workers/Get", &req.base);
}

static void worker_leave(sg_client *c, uint64_t id, const char *date) {
  Shegong__V1__LeaveWorkerRequest req = SHEGONG__V1__LEAVE_WORKER_REQUEST__INIT;
  req.id = id;
  req.leave_date = (char *)date;
  req.reason = (char *)"个人原因辞职";
  worker_t *w = call_ok(c, "Workers/Leave", &req.base);
  assert_int_equal(w->status, SHEGONG__V1__WORKER_STATUS__LEFT);
  free_msg(w);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (!f) return -1;
  dates_init();
  if (start_test_server(&f->srv, &f->c) != 0) {
    free(f);
    return -1;
  }
  *state = f;
  /* the district: two towns, three communities, five workers */
  unit_make(f->c, SHEGONG__V1__UNIT_KIND__DISTRICT, DISTRICT, "崇川区");
  unit_make(f->c, SHEGONG__V1__UNIT_KIND__TOWN, TOWN_A, "和平桥街道");
  unit_make(f->c, SHEGONG__V1__UNIT_KIND__COMMUNITY, COMM_A1, "桃园社区");
  unit_make(f->c, SHEGONG__V1__UNIT_KIND__COMMUNITY, COMM_A2, "青年社区");
  unit_make(f->c, SHEGONG__V1__UNIT_KIND__TOWN, TOWN_B, "任港街道");
  unit_make(f->c, SHEGONG__V1__UNIT_KIND__COMMUNITY, COMM_B1, "北濠社区");
  f->w_a = worker_new(f, "张伟", COMM_A1, R_GENERALIST, OLD_HIRE, NULL, 0);
  f->w_b = worker_new(f, "李娜", COMM_A1, R_GENERALIST, OLD_HIRE, NULL, 0);
  f->w_c = worker_new(f, "王芳", COMM_A2, R_GENERALIST, OLD_HIRE, NULL, 0);
  f->w_sec = worker_new(f, "刘洋", COMM_A2, R_SECRETARY, OLD_HIRE, NULL, 0);
  f->w_tb = worker_new(f, "陈静", COMM_B1, R_GENERALIST, OLD_HIRE, NULL, 0);
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  int rc = 0;
  if (f->c) sg_client_close(f->c);
  if (stop_test_server(&f->srv, f->done, "assess")) rc = -1;
  hs_server_cleanup(&f->srv);
  free(f);
  return rc;
}

/* ---- policy ------------------------------------------------------------------ */

typedef struct policy_buf {
  policy_t p;
  Shegong__V1__AssessmentPolicy a;
  Shegong__V1__TrainingPolicy t;
  Shegong__V1__PayLadder l;
  Shegong__V1__PayPost posts[4];
  Shegong__V1__PayPost *pp[4];
} policy_buf;

/*
 * A valid policy: weights 70/30, bands 90/75/60, 200 visits, 30 days' grace
 * for both courses, and (with_ladder) the ladder A, B, C, D, levels 1-12,
 * a step every 4 years and an early step for 2 years of 优秀.
 */
static void policy_fill(policy_buf *b, int with_ladder) {
  static const char *const names[4] = {"A", "B", "C", "D"};
  memset(b, 0, sizeof *b);
  shegong__v1__policy__init(&b->p);
  shegong__v1__assessment_policy__init(&b->a);
  shegong__v1__training_policy__init(&b->t);
  shegong__v1__pay_ladder__init(&b->l);
  b->p.name = (char *)"崇川区 考核办法";
  b->a.superior_weight = 70;
  b->a.resident_weight = 30;
  b->a.excellent_min = 90;
  b->a.qualified_min = 75;
  b->a.basic_min = 60;
  b->a.visit_minimum = 200;
  b->t.pre_service_grace_days = 30;
  b->t.promotion_grace_days = 30;
  b->t.secretary_annual_hours = 0;
  b->p.assessment = &b->a;
  b->p.training = &b->t;
  if (with_ladder) {
    b->l.name = (char *)"四岗十二档";
    for (int i = 0; i < 4; i++) {
      shegong__v1__pay_post__init(&b->posts[i]);
      b->posts[i].name = (char *)names[i];
      b->posts[i].min_level = 1;
      b->posts[i].max_level = 12;
      b->pp[i] = &b->posts[i];
    }
    b->l.n_posts = 4;
    b->l.posts = b->pp;
    b->l.periodic_step_years = 4;
    b->l.early_step_excellent_years = 2;
    b->p.ladder = &b->l;
  }
}

static policy_t *policy_set(sg_client *c, uint64_t expected, policy_buf *b) {
  Shegong__V1__SetPolicyRequest req = SHEGONG__V1__SET_POLICY_REQUEST__INIT;
  req.expected_version = expected;
  req.policy = &b->p;
  return call_ok(c, "Policies/Set", &req.base);
}

static void policy_set_violates(sg_client *c, uint64_t expected, policy_buf *b, const char *field) {
  Shegong__V1__SetPolicyRequest req = SHEGONG__V1__SET_POLICY_REQUEST__INIT;
  req.expected_version = expected;
  req.policy = &b->p;
  call_violates(c, "Policies/Set", &req.base, field);
}

static policy_t *policy_get(sg_client *c, uint64_t version) {
  Shegong__V1__GetPolicyRequest req = SHEGONG__V1__GET_POLICY_REQUEST__INIT;
  req.version = version;
  return call_ok(c, "Policies/Get", &req.base);
}

/* ---- assessments --------------------------------------------------------------- */

static void assess_fill(assess_t *a, uint64_t worker, int kind, uint32_t year, double superior,
                        double resident) {
  shegong__v1__assessment__init(a);
  a->worker_id = worker;
  a->kind = (Shegong__V1__AssessmentKind)kind;
  a->year = year;
  a->superior_score = superior;
  a->resident_score = resident;
  a->assessor = (char *)"和平桥街道考核小组";
  a->assessed_on = TODAY;
}

static assess_t *record(sg_client *c, const assess_t *a) {
  Shegong__V1__RecordAssessmentRequest req = SHEGONG__V1__RECORD_ASSESSMENT_REQUEST__INIT;
  req.assessment = (assess_t *)a;
  return call_ok(c, "Assessments/Record", &req.base);
}

static void record_fails(sg_client *c, const assess_t *a, int code, sg_status *st) {
  Shegong__V1__RecordAssessmentRequest req = SHEGONG__V1__RECORD_ASSESSMENT_REQUEST__INIT;
  req.assessment = (assess_t *)a;
  call_fails(c, "Assessments/Record", &req.base, code, st);
}

static void record_violates(sg_client *c, const assess_t *a, const char *field) {
  Shegong__V1__RecordAssessmentRequest req = SHEGONG__V1__RECORD_ASSESSMENT_REQUEST__INIT;
  req.assessment = (assess_t *)a;
  call_violates(c, "Assessments/Record", &req.base, field);
}

/* Records a year-end result and returns its id. */
static uint64_t year_end(sg_client *c, uint64_t worker, uint32_t year, double superior,
                         double resident, int grade) {
  assess_t a;
  assess_fill(&a, worker, K_YEAR_END, year, superior, resident);
  a.grade = (Shegong__V1__Grade)grade;
  assess_t *r = record(c, &a);
  uint64_t id = r->id;
  if (grade) assert_int_equal(r->grade, grade);
  free_msg(r);
  return id;
}

static Shegong__V1__ListAssessmentsResponse *list_assess(sg_client *c, uint64_t worker,
                                                         const char *unit, const char *town,
                                                         uint32_t year, int kind) {
  Shegong__V1__ListAssessmentsRequest req = SHEGONG__V1__LIST_ASSESSMENTS_REQUEST__INIT;
  req.worker_id = worker;
  req.unit_code = (char *)(unit ? unit : "");
  req.town_code = (char *)(town ? town : "");
  req.year = year;
  req.kind = (Shegong__V1__AssessmentKind)kind;
  return call_ok(c, "Assessments/List", &req.base);
}

static size_t count_assess(sg_client *c, uint64_t worker, const char *unit, uint32_t year, int kind) {
  Shegong__V1__ListAssessmentsResponse *l = list_assess(c, worker, unit, NULL, year, kind);
  size_t n = l->n_assessments;
  free_msg(l);
  return n;
}

/* ---- visits --------------------------------------------------------------------- */

static Shegong__V1__HouseholdVisits *set_visits(sg_client *c, uint64_t worker, uint32_t year,
                                                uint32_t count) {
  Shegong__V1__SetVisitsRequest req = SHEGONG__V1__SET_VISITS_REQUEST__INIT;
  req.worker_id = worker;
  req.year = year;
  req.count = count;
  Shegong__V1__HouseholdVisits *h = call_ok(c, "Assessments/SetVisits", &req.base);
  assert_int_equal(h->worker_id, worker);
  assert_int_equal(h->year, year);
  assert_int_equal(h->count, count);
  return h;
}

static Shegong__V1__VisitsReportResponse *visits_report(sg_client *c, const char *town,
                                                        const char *unit, uint32_t year,
                                                        uint32_t below) {
  Shegong__V1__VisitsReportRequest req = SHEGONG__V1__VISITS_REPORT_REQUEST__INIT;
  req.town_code = (char *)(town ? town : "");
  req.unit_code = (char *)(unit ? unit : "");
  req.year = year;
  req.below = below;
  return call_ok(c, "Assessments/VisitsReport", &req.base);
}

static const Shegong__V1__VisitsRow *visits_row(const Shegong__V1__VisitsReportResponse *r,
                                                uint64_t worker) {
  for (size_t i = 0; i < r->n_rows; i++)
    if (r->rows[i]->worker_id == worker) return r->rows[i];
  return NULL;
}

/* The row of worker must be there with these numbers. */
static void expect_visits_row(const Shegong__V1__VisitsReportResponse *r, uint64_t worker,
                              uint32_t visits, uint32_t required) {
  const Shegong__V1__VisitsRow *row = visits_row(r, worker);
  if (!row) print_message("worker %llu is not in the visits report\n", (unsigned long long)worker);
  assert_non_null(row);
  if (row->visits != visits || row->required != required)
    print_message("worker %llu: visits %u required %u, want %u and %u\n",
                  (unsigned long long)worker, row->visits, row->required, visits, required);
  assert_int_equal(row->visits, visits);
  assert_int_equal(row->required, required);
  assert_int_equal(row->shortfall, required - visits);
  assert_true(row->name[0] != 0);
  assert_true(row->unit_code[0] != 0);
}

static void expect_sorted_by_shortfall(const Shegong__V1__VisitsReportResponse *r) {
  for (size_t i = 1; i < r->n_rows; i++) {
    if (r->rows[i - 1]->shortfall < r->rows[i]->shortfall)
      print_message("rows %zu and %zu out of order: shortfall %u before %u\n", i - 1, i,
                    r->rows[i - 1]->shortfall, r->rows[i]->shortfall);
    assert_true(r->rows[i - 1]->shortfall >= r->rows[i]->shortfall);
  }
}

/* ---- eligibility, levels --------------------------------------------------------- */

static Shegong__V1__EligibilityReport *eligibility(sg_client *c, const char *town, uint32_t year) {
  Shegong__V1__EligibilityRequest req = SHEGONG__V1__ELIGIBILITY_REQUEST__INIT;
  req.town_code = (char *)(town ? town : "");
  req.year = year;
  return call_ok(c, "Assessments/Eligibility", &req.base);
}

static const Shegong__V1__EligibilityRow *elig_row(const Shegong__V1__EligibilityReport *r,
                                                   uint64_t worker, int rule) {
  for (size_t i = 0; i < r->n_rows; i++)
    if (r->rows[i]->worker_id == worker && (!rule || (int)r->rows[i]->rule == rule))
      return r->rows[i];
  return NULL;
}

static uint64_t worker_version(sg_client *c, uint64_t id) {
  worker_t *w = worker_get(c, id);
  uint64_t v = w->version;
  free_msg(w);
  return v;
}

static void change_level_fill(Shegong__V1__ChangeLevelRequest *req, uint64_t id, uint64_t version,
                              int kind, const char *post, uint32_t level) {
  shegong__v1__change_level_request__init(req);
  req->id = id;
  req->expected_version = version;
  req->kind = (Shegong__V1__LevelChangeKind)kind;
  req->post = (char *)(post ? post : "");
  req->level = level;
  req->reason = (char *)"考核结果";
}

/* ---- training ------------------------------------------------------------------- */

static void course_fill(Shegong__V1__Course *c, const char *name, int kind, uint32_t hours,
                        const char *start, const char *end) {
  shegong__v1__course__init(c);
  c->name = (char *)name;
  c->kind = (Shegong__V1__CourseKind)kind;
  c->hours = hours;
  c->start_date = (char *)start;
  c->end_date = (char *)end;
  c->provider = (char *)"崇川区民政局";
}

static uint64_t course_make(sg_client *cl, const char *name, int kind, uint32_t hours,
                            const char *start, const char *end) {
  Shegong__V1__Course c;
  course_fill(&c, name, kind, hours, start, end);
  Shegong__V1__CreateCourseRequest req = SHEGONG__V1__CREATE_COURSE_REQUEST__INIT;
  req.course = &c;
  Shegong__V1__Course *r = call_ok(cl, "Training/CreateCourse", &req.base);
  uint64_t id = r->id;
  assert_true(id > 0);
  assert_int_equal(r->kind, kind);
  assert_string_equal(r->end_date, end);
  free_msg(r);
  return id;
}

static void course_violates(sg_client *cl, const Shegong__V1__Course *c, const char *field) {
  Shegong__V1__CreateCourseRequest req = SHEGONG__V1__CREATE_COURSE_REQUEST__INIT;
  req.course = (Shegong__V1__Course *)c;
  call_violates(cl, "Training/CreateCourse", &req.base, field);
}

static void attend_fill(Shegong__V1__AttendRequest *req, uint64_t course, uint64_t *ids, size_t n) {
  shegong__v1__attend_request__init(req);
  req->course_id = course;
  req->worker_ids = ids;
  req->n_worker_ids = n;
}

static void attend_ok(sg_client *c, uint64_t course, uint64_t *ids, size_t n) {
  Shegong__V1__AttendRequest req;
  attend_fill(&req, course, ids, n);
  Shegong__V1__AttendResponse *r = call_ok(c, "Training/Attend", &req.base);
  assert_int_equal(r->n_attendance, n);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(r->attendance[i]->worker_id, ids[i]);
    assert_int_equal(r->attendance[i]->course_id, course);
  }
  free_msg(r);
}

/* The workers recorded for a course. */
static size_t course_attendees(sg_client *c, uint64_t course, uint64_t *out, size_t cap) {
  Shegong__V1__ListAttendanceRequest req = SHEGONG__V1__LIST_ATTENDANCE_REQUEST__INIT;
  req.course_id = course;
  Shegong__V1__ListAttendanceResponse *r = call_ok(c, "Training/ListAttendance", &req.base);
  size_t n = r->n_attendance;
  for (size_t i = 0; i < n && i < cap; i++) out[i] = r->attendance[i]->worker_id;
  free_msg(r);
  return n;
}

/* With what is not yet due: the tests check due dates in the future too. */
static Shegong__V1__ComplianceReport *compliance_as(sg_client *c, const char *town, uint32_t year,
                                                   int upcoming) {
  Shegong__V1__ComplianceRequest req = SHEGONG__V1__COMPLIANCE_REQUEST__INIT;
  req.town_code = (char *)(town ? town : "");
  req.year = year;
  req.include_upcoming = upcoming;
  return call_ok(c, "Training/Compliance", &req.base);
}

static Shegong__V1__ComplianceReport *compliance(sg_client *c, const char *town, uint32_t year) {
  return compliance_as(c, town, year, 1);
}

static const Shegong__V1__ComplianceRow *compliance_row(const Shegong__V1__ComplianceReport *r,
                                                        uint64_t worker, int rule) {
  for (size_t i = 0; i < r->n_rows; i++)
    if (r->rows[i]->worker_id == worker && (int)r->rows[i]->rule == rule) return r->rows[i];
  return NULL;
}

static void print_compliance(const Shegong__V1__ComplianceReport *r) {
  for (size_t i = 0; i < r->n_rows; i++)
    print_message("  compliance row: worker %llu rule %d due %s: %s\n",
                  (unsigned long long)r->rows[i]->worker_id, (int)r->rows[i]->rule, r->rows[i]->due,
                  r->rows[i]->missing);
}

/* ---- tokens and sync ---------------------------------------------------------------- */

/* A town operator's client for town. */
static sg_client *town_client(fx *f, const char *town) {
  return operator_client(&f->srv, f->c, town, "和平桥街道办公室");
}

static const Shegong__V1__Change *find_change(const pulled *p, int record_case, uint64_t id) {
  for (size_t i = 0; i < p->n; i++)
    if ((int)p->changes[i]->record_case == record_case && p->changes[i]->id == id)
      return p->changes[i];
  return NULL;
}

static int concerns(const Shegong__V1__Change *ch, const char *town) {
  for (size_t i = 0; i < ch->n_towns; i++)
    if (strcmp(ch->towns[i], town) == 0) return 1;
  return 0;
}

/* ======================================================================== */
/* 1. Policies. */

static void test_policy_versions(void **state) {
  fx *f = FX(state);
  sg_status st;

  /* before any Set: the defaults, version 0 */
  policy_t *p = policy_get(f->c, 0);
  assert_int_equal(p->version, 0);
  assert_non_null(p->assessment);
  assert_int_equal(p->assessment->superior_weight, 70);
  assert_int_equal(p->assessment->resident_weight, 30);
  assert_int_equal(p->assessment->visit_minimum, 200);
  assert_score(p->assessment->excellent_min, 90);
  assert_score(p->assessment->qualified_min, 75);
  assert_score(p->assessment->basic_min, 60);
  assert_non_null(p->training);
  assert_int_equal(p->training->pre_service_grace_days, 30);
  assert_null(p->ladder);
  free_msg(p);

  /* the first Set reads version 0 and makes version 1 */
  policy_buf b;
  policy_fill(&b, 1);
  b.a.superior_weight = 60;
  b.a.resident_weight = 40;
  b.a.visit_minimum = 180;
  policy_t *s = policy_set(f->c, 0, &b);
  assert_int_equal(s->version, 1);
  assert_true(s->revision > 0);
  assert_true(s->updated_at[0] != 0);
  assert_true(s->updated_by[0] != 0);
  assert_string_equal(s->name, "崇川区 考核办法");
  free_msg(s);

  p = policy_get(f->c, 0);
  assert_int_equal(p->version, 1);
  assert_int_equal(p->assessment->superior_weight, 60);
  assert_int_equal(p->assessment->resident_weight, 40);
  assert_int_equal(p->assessment->visit_minimum, 180);
  assert_non_null(p->ladder);
  assert_string_equal(p->ladder->name, "四岗十二档");
  assert_int_equal(p->ladder->n_posts, 4);
  assert_string_equal(p->ladder->posts[2]->name, "C");
  assert_int_equal(p->ladder->periodic_step_years, 4);
  assert_int_equal(p->ladder->early_step_excellent_years, 2);
  free_msg(p);

  /* a stale or made-up expected_version: ABORTED, nothing changes */
  Shegong__V1__SetPolicyRequest req = SHEGONG__V1__SET_POLICY_REQUEST__INIT;
  policy_fill(&b, 0);
  req.policy = &b.p;
  req.expected_version = 0;
  call_fails(f->c, "Policies/Set", &req.base, C_ABORTED, &st);
  req.expected_version = 2;
  call_fails(f->c, "Policies/Set", &req.base, C_ABORTED, &st);

  /* bad policies, each on its own and all at once: INVALID_ARGUMENT naming the field */
  policy_fill(&b, 1);
  b.a.superior_weight = 60; /* 60 + 30 = 90 */
  policy_set_violates(f->c, 1, &b, "policy.assessment.resident_weight");

  policy_fill(&b, 1);
  b.a.excellent_min = 70; /* below qualified_min 75 */
  policy_set_violates(f->c, 1, &b, "policy.assessment.qualified_min");

  policy_fill(&b, 1);
  b.posts[1].name = (char *)"A"; /* A twice */
  policy_set_violates(f->c, 1, &b, "policy.ladder.posts[1].name");

  policy_fill(&b, 1);
  b.posts[2].min_level = 8;
  b.posts[2].max_level = 3;
  policy_set_violates(f->c, 1, &b, "policy.ladder.posts[2].max_level");

  policy_fill(&b, 1);
  b.a.superior_weight = 60;
  b.a.excellent_min = 70;
  b.posts[1].name = (char *)"A";
  b.posts[2].min_level = 8;
  b.posts[2].max_level = 3;
  req.policy = &b.p;
  req.expected_version = 1;
  call_fails(f->c, "Policies/Set", &req.base, C_INVALID, &st);
  static const char *const fields[] = {"policy.assessment.resident_weight",
                                       "policy.assessment.qualified_min",
                                       "policy.ladder.posts[1].name",
                                       "policy.ladder.posts[2].max_level"};
  for (size_t i = 0; i < 4; i++) {
    if (!has_violation(&st, fields[i])) {
      print_message("no violation on %s\n", fields[i]);
      print_status("Policies/Set", &st);
    }
    assert_true(has_violation(&st, fields[i]));
  }

  /* nothing of that was stored: version 1 as it was */
  p = policy_get(f->c, 0);
  assert_int_equal(p->version, 1);
  assert_int_equal(p->assessment->superior_weight, 60);
  assert_int_equal(p->assessment->resident_weight, 40);
  assert_score(p->assessment->excellent_min, 90);
  assert_int_equal(p->ladder->n_posts, 4);
  assert_string_equal(p->ladder->posts[1]->name, "B");
  assert_int_equal(p->ladder->posts[2]->max_level, 12);
  free_msg(p);
  p = policy_get(f->c, 1);
  assert_int_equal(p->version, 1);
  free_msg(p);
  Shegong__V1__GetPolicyRequest g = SHEGONG__V1__GET_POLICY_REQUEST__INIT;
  g.version = 2;
  call_fails(f->c, "Policies/Get", &g.base, C_NOT_FOUND, &st);

  /* the next Set reads version 1 and makes version 2; version 1 stays readable */
  policy_fill(&b, 0);
  s = policy_set(f->c, 1, &b);
  assert_int_equal(s->version, 2);
  assert_null(s->ladder);
  free_msg(s);
  p = policy_get(f->c, 1);
  assert_int_equal(p->assessment->superior_weight, 60);
  assert_non_null(p->ladder);
  free_msg(p);
  f->done = 1;
}

/* ======================================================================== */
/* 2. Record. */

static void test_record(void **state) {
  fx *f = FX(state);
  sg_status st;
  uint32_t last = (uint32_t)Y - 1;

  /* 85 and 92 under 70/30: 87.10, which the bands (90/75/60) make 合格 */
  assess_t a;
  assess_fill(&a, f->w_a, K_YEAR_END, last, 85, 92);
  assess_t *r = record(f->c, &a);
  assert_true(r->id > 0);
  assert_int_equal(r->version, 1);
  assert_int_equal(r->worker_id, f->w_a);
  assert_int_equal(r->kind, K_YEAR_END);
  assert_int_equal(r->year, last);
  assert_score(r->combined_score, 87.10);
  assert_int_equal(r->grade, G_QUALIFIED);
  assert_int_equal(r->policy_version, 0);
  assert_true(r->created_at[0] != 0);
  uint64_t first_id = r->id;
  free_msg(r);

  /* half a hundredth rounds away from zero: 85.55 × 0.7 = 59.885 → 59.89, 不合格 */
  assess_fill(&a, f->w_a, K_SPECIAL, last, 85.55, 0);
  r = record(f->c, &a);
  assert_score(r->combined_score, 59.89);
  assert_int_equal(r->grade, G_UNQUALIFIED);
  free_msg(r);
  /* 70 and 60: 67.00, 基本合格 */
  assess_fill(&a, f->w_a, K_SPECIAL, last, 70, 60);
  r = record(f->c, &a);
  assert_score(r->combined_score, 67.00);
  assert_int_equal(r->grade, G_BASIC);
  free_msg(r);

  /* a grade better than the band: refused; a lower one (the 优秀 quota): kept */
  assess_fill(&a, f->w_b, K_YEAR_END, last, 85, 92);
  a.grade = G_EXCELLENT;
  record_violates(f->c, &a, "assessment.grade");
  assess_fill(&a, f->w_b, K_YEAR_END, last, 95, 95);
  a.grade = G_QUALIFIED;
  r = record(f->c, &a);
  assert_score(r->combined_score, 95.00);
  assert_int_equal(r->grade, G_QUALIFIED);
  free_msg(r);

  /* one year-end result per worker and year */
  assess_fill(&a, f->w_a, K_YEAR_END, last, 60, 60);
  record_fails(f->c, &a, C_EXISTS, &st);
  /* another year is another slot */
  assess_fill(&a, f->w_a, K_YEAR_END, last - 1, 60, 60);
  r = record(f->c, &a);
  free_msg(r);

  /* 平时: exactly one of quarter and month */
  int quarter = (M - 1) / 3 + 1;
  assess_fill(&a, f->w_c, K_REGULAR, (uint32_t)Y, 80, 80);
  record_violates(f->c, &a, "assessment.quarter");
  a.quarter = (uint32_t)quarter;
  a.month = (uint32_t)M;
  record_violates(f->c, &a, "assessment.quarter");
  a.month = 0;
  a.quarter = 5;
  record_violates(f->c, &a, "assessment.quarter");
  a.quarter = 0;
  a.month = 13;
  record_violates(f->c, &a, "assessment.month");
  /* the current quarter and month have begun */
  a.month = 0;
  a.quarter = (uint32_t)quarter;
  r = record(f->c, &a);
  assert_int_equal(r->quarter, quarter);
  assert_int_equal(r->month, 0);
  free_msg(r);
  record_fails(f->c, &a, C_EXISTS, &st); /* that quarter again */
  a.quarter = 0;
  a.month = (uint32_t)M;
  r = record(f->c, &a);
  assert_int_equal(r->month, M);
  free_msg(r);
  /* a year-end result has no quarter */
  assess_fill(&a, f->w_c, K_YEAR_END, last, 80, 80);
  a.quarter = 1;
  record_violates(f->c, &a, "assessment.quarter");

  /* scores: 0 to 100, two decimals at most */
  assess_fill(&a, f->w_c, K_SPECIAL, last, 100.5, 80);
  record_violates(f->c, &a, "assessment.superior_score");
  assess_fill(&a, f->w_c, K_SPECIAL, last, 80, -1);
  record_violates(f->c, &a, "assessment.resident_score");
  assess_fill(&a, f->w_c, K_SPECIAL, last, 80.123, 80);
  record_violates(f->c, &a, "assessment.superior_score");
  /* the edges are scores */
  assess_fill(&a, f->w_c, K_SPECIAL, last, 100, 0);
  r = record(f->c, &a);
  assert_score(r->combined_score, 70.00);
  free_msg(r);

  /* kind: required, and one of the four */
  assess_fill(&a, f->w_c, 9, last, 80, 80);
  record_violates(f->c, &a, "assessment.kind");
  assess_fill(&a, f->w_c, 0, last, 80, 80);
  record_violates(f->c, &a, "assessment.kind");
  /* unknown grade */
  assess_fill(&a, f->w_c, K_SPECIAL, last, 80, 80);
  a.grade = 7;
  record_violates(f->c, &a, "assessment.grade");
  /* who and when */
  assess_fill(&a, f->w_c, K_SPECIAL, last, 80, 80);
  a.assessor = (char *)"";
  record_violates(f->c, &a, "assessment.assessor");
  char tomorrow[11];
  assess_fill(&a, f->w_c, K_SPECIAL, last, 80, 80);
  a.assessed_on = today_plus(tomorrow, 1);
  record_violates(f->c, &a, "assessment.assessed_on");

  /* periods in the future: next year; a month or quarter not yet begun */
  assess_fill(&a, f->w_c, K_YEAR_END, (uint32_t)Y + 1, 80, 80);
  record_violates(f->c, &a, "assessment.year");
  if (M < 12) {
    assess_fill(&a, f->w_c, K_REGULAR, (uint32_t)Y, 80, 80);
    a.month = (uint32_t)M + 1;
    record_violates(f->c, &a, "assessment.month");
  }
  if (quarter < 4) {
    assess_fill(&a, f->w_c, K_REGULAR, (uint32_t)Y, 80, 80);
    a.quarter = (uint32_t)quarter + 1;
    record_violates(f->c, &a, "assessment.quarter");
  }

  /* a worker who left before the period; one who left during it may be assessed */
  char leave[11];
  uint64_t leaver = worker_new(f, "赵磊", COMM_A1, R_GENERALIST, OLD_HIRE, NULL, 0);
  worker_leave(f->c, leaver, ymd(leave, Y - 1, 3, 1));
  assess_fill(&a, leaver, K_YEAR_END, (uint32_t)Y, 80, 80);
  record_fails(f->c, &a, C_PRECOND, &st);
  assess_fill(&a, leaver, K_REGULAR, last, 80, 80);
  a.quarter = 2; /* from April 1: after he left */
  record_fails(f->c, &a, C_PRECOND, &st);
  a.quarter = 1;
  r = record(f->c, &a);
  free_msg(r);
  assess_fill(&a, leaver, K_YEAR_END, last, 80, 80);
  r = record(f->c, &a);
  free_msg(r);

  /* a worker hired after the period */
  char hire[11];
  uint64_t newcomer = worker_new(f, "孙丽", COMM_A1, R_GENERALIST, ymd(hire, Y, 1, 1), NULL, 0);
  assess_fill(&a, newcomer, K_YEAR_END, last, 80, 80);
  record_fails(f->c, &a, C_PRECOND, &st);

  /* no such worker; no worker at all */
  assess_fill(&a, 999999, K_YEAR_END, last, 80, 80);
  record_fails(f->c, &a, C_NOT_FOUND, &st);
  assess_fill(&a, 0, K_YEAR_END, last, 80, 80);
  record_violates(f->c, &a, "assessment.worker_id");
  /* no assessment at all */
  Shegong__V1__RecordAssessmentRequest empty = SHEGONG__V1__RECORD_ASSESSMENT_REQUEST__INIT;
  call_violates(f->c, "Assessments/Record", &empty.base, "assessment");

  /* set_visits: the year's visits in the same call */
  Shegong__V1__RecordAssessmentRequest req = SHEGONG__V1__RECORD_ASSESSMENT_REQUEST__INIT;
  assess_fill(&a, f->w_c, K_YEAR_END, last, 88, 90);
  req.assessment = &a;
  req.set_visits = 1;
  req.household_visits = 150;
  r = call_ok(f->c, "Assessments/Record", &req.base);
  assert_score(r->combined_score, 88.60);
  free_msg(r);
  Shegong__V1__VisitsReportResponse *vr = visits_report(f->c, NULL, COMM_A2, last, 0);
  expect_visits_row(vr, f->w_c, 150, 200);
  free_msg(vr);
  /* a refused Record changes no visits either */
  req.household_visits = 10;
  call_fails(f->c, "Assessments/Record", &req.base, C_EXISTS, &st);
  vr = visits_report(f->c, NULL, COMM_A2, last, 0);
  expect_visits_row(vr, f->w_c, 150, 200);
  free_msg(vr);
  /* a bad count is named */
  assess_fill(&a, f->w_sec, K_YEAR_END, last, 88, 90);
  req.household_visits = 100001;
  call_violates(f->c, "Assessments/Record", &req.base, "household_visits");
  assert_int_equal(count_assess(f->c, f->w_sec, NULL, 0, 0), 0);

  /* List: by worker, by year and kind; one of worker, unit and town */
  Shegong__V1__ListAssessmentsResponse *l = list_assess(f->c, f->w_a, NULL, NULL, 0, 0);
  assert_int_equal(l->n_assessments, 4);
  int seen_first = 0;
  for (size_t i = 0; i < l->n_assessments; i++) {
    assert_int_equal(l->assessments[i]->worker_id, f->w_a);
    if (l->assessments[i]->id == first_id) {
      seen_first = 1;
      assert_score(l->assessments[i]->combined_score, 87.10);
      assert_int_equal(l->assessments[i]->grade, G_QUALIFIED);
    }
  }
  assert_true(seen_first);
  free_msg(l);
  assert_int_equal(count_assess(f->c, f->w_a, NULL, last, K_YEAR_END), 1);
  assert_int_equal(count_assess(f->c, f->w_a, NULL, last, K_SPECIAL), 2);
  assert_int_equal(count_assess(f->c, 0, COMM_A1, last, K_YEAR_END), 3); /* w_a, w_b, the leaver */
  Shegong__V1__ListAssessmentsRequest lreq = SHEGONG__V1__LIST_ASSESSMENTS_REQUEST__INIT;
  lreq.worker_id = f->w_a;
  lreq.unit_code = (char *)COMM_A1;
  call_violates(f->c, "Assessments/List", &lreq.base, "worker_id");
  lreq.unit_code = (char *)"";
  lreq.kind = 9;
  call_violates(f->c, "Assessments/List", &lreq.base, "kind");
  lreq.kind = 0;
  lreq.worker_id = 999999;
  call_fails(f->c, "Assessments/List", &lreq.base, C_NOT_FOUND, &st);
  f->done = 1;
}

/* ======================================================================== */
/* 3. Amend. */

static void test_amend(void **state) {
  fx *f = FX(state);
  sg_status st;
  uint32_t last = (uint32_t)Y - 1;
  assess_t a;
  assess_fill(&a, f->w_a, K_YEAR_END, last, 85, 92);
  assess_t *r = record(f->c, &a);
  uint64_t id = r->id;
  assert_score(r->combined_score, 87.10);
  assert_int_equal(r->grade, G_QUALIFIED);
  free_msg(r);

  Shegong__V1__AmendAssessmentRequest req = SHEGONG__V1__AMEND_ASSESSMENT_REQUEST__INIT;
  assess_t change;
  shegong__v1__assessment__init(&change);
  char *mask[2] = {(char *)"superior_score", NULL};
  req.id = id;
  req.assessment = &change;
  req.update_mask = mask;
  req.n_update_mask = 1;
  change.superior_score = 98;

  /* the wrong version: ABORTED */
  req.expected_version = 2;
  call_fails(f->c, "Assessments/Amend", &req.base, C_ABORTED, &st);
  /* no version: INVALID_ARGUMENT */
  req.expected_version = 0;
  call_violates(f->c, "Assessments/Amend", &req.base, "expected_version");
  /* a field that cannot be amended */
  req.expected_version = 1;
  mask[0] = (char *)"year";
  change.year = last - 1;
  call_violates(f->c, "Assessments/Amend", &req.base, "update_mask");
  mask[0] = (char *)"worker_id";
  change.worker_id = f->w_b;
  call_violates(f->c, "Assessments/Amend", &req.base, "update_mask");
  mask[0] = (char *)"combined_score";
  change.combined_score = 99;
  call_violates(f->c, "Assessments/Amend", &req.base, "update_mask");
  /* an empty mask */
  req.n_update_mask = 0;
  call_violates(f->c, "Assessments/Amend", &req.base, "update_mask");
  req.n_update_mask = 1;
  /* no such assessment */
  mask[0] = (char *)"superior_score";
  req.id = 999999;
  call_fails(f->c, "Assessments/Amend", &req.base, C_NOT_FOUND, &st);
  req.id = id;
  /* a bad new score */
  change.superior_score = 100.5;
  call_violates(f->c, "Assessments/Amend", &req.base, "assessment.superior_score");

  /* nothing changed so far */
  Shegong__V1__ListAssessmentsResponse *l = list_assess(f->c, f->w_a, NULL, NULL, 0, 0);
  assert_int_equal(l->n_assessments, 1);
  assert_int_equal(l->assessments[0]->version, 1);
  assert_score(l->assessments[0]->superior_score, 85);
  assert_int_equal(l->assessments[0]->year, last);
  assert_int_equal(l->assessments[0]->worker_id, f->w_a);
  free_msg(l);

  /* a new superior score: 98 × 0.7 + 92 × 0.3 = 96.20, now 优秀 */
  change.superior_score = 98;
  r = call_ok(f->c, "Assessments/Amend", &req.base);
  assert_int_equal(r->id, id);
  assert_int_equal(r->version, 2);
  assert_score(r->superior_score, 98);
  assert_score(r->resident_score, 92);
  assert_score(r->combined_score, 96.20);
  assert_int_equal(r->grade, G_EXCELLENT);
  assert_int_equal(r->year, last);
  free_msg(r);
  /* the old version again: ABORTED */
  req.expected_version = 1;
  call_fails(f->c, "Assessments/Amend", &req.base, C_ABORTED, &st);

  /* a grade above the band: refused; at or below: kept */
  req.expected_version = 2;
  mask[0] = (char *)"resident_score";
  change.resident_score = 50; /* 98 × 0.7 + 50 × 0.3 = 83.60: 合格 */
  mask[1] = (char *)"grade";
  req.n_update_mask = 2;
  change.grade = G_EXCELLENT;
  call_violates(f->c, "Assessments/Amend", &req.base, "assessment.grade");
  change.grade = G_BASIC;
  r = call_ok(f->c, "Assessments/Amend", &req.base);
  assert_int_equal(r->version, 3);
  assert_score(r->combined_score, 83.60);
  assert_int_equal(r->grade, G_BASIC);
  free_msg(r);

  /* a new score without a grade: the grade follows the band */
  req.expected_version = 3;
  req.n_update_mask = 1;
  mask[0] = (char *)"resident_score";
  change.resident_score = 100; /* 68.6 + 30 = 98.60: 优秀 */
  r = call_ok(f->c, "Assessments/Amend", &req.base);
  assert_int_equal(r->version, 4);
  assert_score(r->combined_score, 98.60);
  assert_int_equal(r->grade, G_EXCELLENT);
  free_msg(r);

  /* List shows the amended record */
  l = list_assess(f->c, f->w_a, NULL, NULL, 0, 0);
  assert_int_equal(l->n_assessments, 1);
  assert_int_equal(l->assessments[0]->version, 4);
  assert_score(l->assessments[0]->combined_score, 98.60);
  free_msg(l);

  /*
   * PROTOCOL.md §8.24: new scores regrade (unless grade is named); amending
   * anything else keeps the grade. So a grade lowered for the 优秀 quota
   * stays when only the note is amended.
   */
  assess_fill(&a, f->w_b, K_YEAR_END, last, 95, 95);
  a.grade = G_QUALIFIED;
  r = record(f->c, &a);
  uint64_t quota_id = r->id;
  assert_int_equal(r->grade, G_QUALIFIED);
  free_msg(r);
  Shegong__V1__AmendAssessmentRequest nreq = SHEGONG__V1__AMEND_ASSESSMENT_REQUEST__INIT;
  assess_t note;
  shegong__v1__assessment__init(&note);
  note.note = (char *)"考核组复核无误";
  note.grade = G_QUALIFIED;
  char *nmask[2] = {(char *)"note", (char *)"grade"};
  nreq.id = quota_id;
  nreq.expected_version = 1;
  nreq.assessment = &note;
  nreq.update_mask = nmask;
  nreq.n_update_mask = 2;
  r = call_ok(f->c, "Assessments/Amend", &nreq.base);
  assert_string_equal(r->note, "考核组复核无误");
  assert_int_equal(r->version, 2);
  assert_score(r->combined_score, 95.00);
  assert_int_equal(r->grade, G_QUALIFIED);
  free_msg(r);
  nreq.expected_version = 2;
  nreq.n_update_mask = 1; /* the note alone */
  note.note = (char *)"考核组复核无误（二）";
  r = call_ok(f->c, "Assessments/Amend", &nreq.base);
  assert_int_equal(r->version, 3);
  int grade = r->grade;
  double combined = r->combined_score;
  free_msg(r);
  assert_int_equal(grade, G_QUALIFIED);
  assert_score(combined, 95.00);
  f->done = 1;
}

/* ======================================================================== */
/* 4. Bulk. */

#define BULK_MAX 4

typedef struct bulk_buf {
  Shegong__V1__BulkAssessmentRequest req;
  Shegong__V1__RecordAssessmentRequest rows[BULK_MAX];
  Shegong__V1__RecordAssessmentRequest *rowp[BULK_MAX];
  assess_t a[BULK_MAX];
} bulk_buf;

static void bulk_init(bulk_buf *b, const char *unit) {
  memset(b, 0, sizeof *b);
  shegong__v1__bulk_assessment_request__init(&b->req);
  b->req.unit_code = (char *)unit;
  b->req.rows = b->rowp;
}

static assess_t *bulk_add(bulk_buf *b, uint64_t worker, int kind, uint32_t year, double superior,
                          double resident) {
  size_t i = b->req.n_rows++;
  assert_true(i < BULK_MAX);
  shegong__v1__record_assessment_request__init(&b->rows[i]);
  assess_fill(&b->a[i], worker, kind, year, superior, resident);
  b->rows[i].assessment = &b->a[i];
  b->rowp[i] = &b->rows[i];
  return &b->a[i];
}

static void test_bulk(void **state) {
  fx *f = FX(state);
  sg_status st;
  uint32_t last = (uint32_t)Y - 1;
  bulk_buf b;

  /* every row good: every row recorded, in order */
  bulk_init(&b, COMM_A1);
  bulk_add(&b, f->w_a, K_YEAR_END, last, 85, 92);
  bulk_add(&b, f->w_b, K_YEAR_END, last, 95, 95);
  b.rows[1].set_visits = 1;
  b.rows[1].household_visits = 230;
  Shegong__V1__BulkAssessmentResponse *r = call_ok(f->c, "Assessments/Bulk", &b.req.base);
  assert_int_equal(r->n_assessments, 2);
  assert_int_equal(r->assessments[0]->worker_id, f->w_a);
  assert_score(r->assessments[0]->combined_score, 87.10);
  assert_int_equal(r->assessments[0]->grade, G_QUALIFIED);
  assert_int_equal(r->assessments[1]->worker_id, f->w_b);
  assert_score(r->assessments[1]->combined_score, 95.00);
  assert_int_equal(r->assessments[1]->grade, G_EXCELLENT);
  assert_true(r->assessments[0]->id > 0 && r->assessments[1]->id > r->assessments[0]->id);
  free_msg(r);
  assert_int_equal(count_assess(f->c, 0, COMM_A1, last, K_YEAR_END), 2);
  Shegong__V1__VisitsReportResponse *vr = visits_report(f->c, NULL, COMM_A1, last, 0);
  assert_null(visits_row(vr, f->w_b)); /* 230 visits: above the minimum */
  expect_visits_row(vr, f->w_a, 0, 200);
  free_msg(vr);

  /* one bad row among good ones: nothing is recorded, and the row is named */
  bulk_init(&b, COMM_A1);
  bulk_add(&b, f->w_a, K_SPECIAL, last, 80, 80);
  bulk_add(&b, f->w_b, K_SPECIAL, last, 100.5, 80);
  assess_t *q = bulk_add(&b, f->w_b, K_REGULAR, last, 80, 80);
  q->quarter = 1;
  call_fails(f->c, "Assessments/Bulk", &b.req.base, C_INVALID, &st);
  if (!has_violation(&st, "rows[1].assessment.superior_score")) print_status("Bulk", &st);
  assert_true(has_violation(&st, "rows[1].assessment.superior_score"));
  assert_false(has_violation(&st, "rows[0].assessment.superior_score"));
  assert_int_equal(st.n_violations, 1);
  assert_int_equal(count_assess(f->c, 0, COMM_A1, 0, K_SPECIAL), 0);
  assert_int_equal(count_assess(f->c, 0, COMM_A1, 0, K_REGULAR), 0);

  /* several bad rows: each named */
  bulk_init(&b, COMM_A1);
  bulk_add(&b, f->w_a, K_SPECIAL, last, 80, -1);
  bulk_add(&b, f->w_b, K_SPECIAL, last, 80, 80);
  bulk_add(&b, f->w_b, 9, last, 80, 80);
  call_fails(f->c, "Assessments/Bulk", &b.req.base, C_INVALID, &st);
  assert_true(has_violation(&st, "rows[0].assessment.resident_score"));
  assert_true(has_violation(&st, "rows[2].assessment.kind"));
  assert_int_equal(count_assess(f->c, 0, COMM_A1, 0, K_SPECIAL), 0);

  /* a worker of another unit (same town), and of another town: errors on those rows */
  bulk_init(&b, COMM_A1);
  bulk_add(&b, f->w_a, K_SPECIAL, last, 80, 80);
  bulk_add(&b, f->w_c, K_SPECIAL, last, 80, 80);  /* COMM_A2 */
  bulk_add(&b, f->w_tb, K_SPECIAL, last, 80, 80); /* COMM_B1 */
  call_fails(f->c, "Assessments/Bulk", &b.req.base, C_INVALID, &st);
  if (!has_violation(&st, "rows[1]") || !has_violation(&st, "rows[2]")) print_status("Bulk", &st);
  assert_true(has_violation(&st, "rows[1]"));
  assert_true(has_violation(&st, "rows[2]"));
  assert_false(has_violation(&st, "rows[0]"));
  assert_int_equal(count_assess(f->c, f->w_a, NULL, 0, K_SPECIAL), 0);
  assert_int_equal(count_assess(f->c, f->w_c, NULL, 0, 0), 0);
  assert_int_equal(count_assess(f->c, f->w_tb, NULL, 0, 0), 0);

  /* a year-end result already recorded, and two for the same year in one call */
  bulk_init(&b, COMM_A1);
  bulk_add(&b, f->w_a, K_YEAR_END, last, 80, 80);     /* recorded above */
  bulk_add(&b, f->w_b, K_YEAR_END, last - 1, 80, 80); /* new */
  bulk_add(&b, f->w_b, K_YEAR_END, last - 1, 82, 80); /* the same slot again */
  call_fails(f->c, "Assessments/Bulk", &b.req.base, C_INVALID, &st);
  assert_true(has_violation(&st, "rows[0]"));
  assert_false(has_violation(&st, "rows[1]"));
  assert_true(has_violation(&st, "rows[2]"));
  assert_int_equal(count_assess(f->c, f->w_b, NULL, last - 1, 0), 0);
  /* a bad visit count in a row */
  bulk_init(&b, COMM_A1);
  bulk_add(&b, f->w_a, K_SPECIAL, last, 80, 80);
  b.rows[0].set_visits = 1;
  b.rows[0].household_visits = 100001;
  call_fails(f->c, "Assessments/Bulk", &b.req.base, C_INVALID, &st);
  assert_true(has_violation(&st, "rows[0].household_visits"));

  /* the year-end results of the first call are untouched */
  Shegong__V1__ListAssessmentsResponse *l = list_assess(f->c, 0, COMM_A1, NULL, 0, 0);
  assert_int_equal(l->n_assessments, 2);
  for (size_t i = 0; i < l->n_assessments; i++) {
    assert_int_equal(l->assessments[i]->kind, K_YEAR_END);
    assert_int_equal(l->assessments[i]->version, 1);
  }
  free_msg(l);
  vr = visits_report(f->c, NULL, COMM_A1, last, 0);
  expect_visits_row(vr, f->w_a, 0, 200);
  free_msg(vr);

  /* the request itself */
  bulk_init(&b, COMM_A1);
  call_violates(f->c, "Assessments/Bulk", &b.req.base, "rows");
  bulk_init(&b, "");
  bulk_add(&b, f->w_a, K_SPECIAL, last, 80, 80);
  call_violates(f->c, "Assessments/Bulk", &b.req.base, "unit_code");
  bulk_init(&b, "320602001099");
  bulk_add(&b, f->w_a, K_SPECIAL, last, 80, 80);
  call_fails(f->c, "Assessments/Bulk", &b.req.base, C_NOT_FOUND, &st);

  /* a bulk for a town covers its communities' workers, not another town's */
  bulk_init(&b, TOWN_A);
  bulk_add(&b, f->w_a, K_SPECIAL, last, 80, 80);
  bulk_add(&b, f->w_tb, K_SPECIAL, last, 80, 80);
  call_fails(f->c, "Assessments/Bulk", &b.req.base, C_INVALID, &st);
  assert_true(has_violation(&st, "rows[1]"));
  assert_false(has_violation(&st, "rows[0]"));
  assert_int_equal(count_assess(f->c, 0, COMM_A1, 0, K_SPECIAL), 0);
  bulk_init(&b, TOWN_A);
  bulk_add(&b, f->w_a, K_SPECIAL, last, 80, 80);
  bulk_add(&b, f->w_c, K_SPECIAL, last, 70, 70);
  r = call_ok(f->c, "Assessments/Bulk", &b.req.base);
  assert_int_equal(r->n_assessments, 2);
  assert_int_equal(r->assessments[1]->worker_id, f->w_c);
  assert_score(r->assessments[1]->combined_score, 70.00);
  free_msg(r);
  assert_int_equal(count_assess(f->c, 0, COMM_A1, 0, K_SPECIAL), 1);
  assert_int_equal(count_assess(f->c, 0, COMM_A2, 0, K_SPECIAL), 1);
  f->done = 1;
}

/* ======================================================================== */
/* 5. SetVisits and VisitsReport. */

static void test_visits(void **state) {
  fx *f = FX(state);
  sg_status st;
  uint32_t last = (uint32_t)Y - 1;
  char hire[11];
  /* hired July 1 of last year: served 184 of the year's days */
  uint64_t w_mid = worker_new(f, "周敏", COMM_A1, R_GENERALIST, ymd(hire, Y - 1, 7, 1), NULL, 0);
  long year_days = is_leap(Y - 1) ? 366 : 365;
  uint32_t mid_200 = (uint32_t)(200L * 184 / year_days);
  uint32_t mid_100 = (uint32_t)(100L * 184 / year_days);
  uint32_t mid_160 = (uint32_t)(160L * 184 / year_days);
  assert_true(mid_200 >= 99 && mid_200 <= 101); /* about half */

  Shegong__V1__HouseholdVisits *h = set_visits(f->c, f->w_a, last, 250);
  assert_int_equal(h->version, 1);
  free_msg(h);
  free_msg(set_visits(f->c, f->w_b, last, 150));
  free_msg(set_visits(f->c, f->w_c, last, 20));
  free_msg(set_visits(f->c, w_mid, last, 40));
  free_msg(set_visits(f->c, f->w_tb, last, 10));
  /* w_sec: none recorded, which is 0 */

  Shegong__V1__VisitsReportResponse *r = visits_report(f->c, TOWN_A, NULL, last, 0);
  assert_int_equal(r->year, last);
  assert_int_equal(r->minimum, 200);
  assert_int_equal(r->workers, 5);
  assert_int_equal(r->n_rows, 4);
  expect_visits_row(r, f->w_sec, 0, 200);
  expect_visits_row(r, f->w_c, 20, 200);
  expect_visits_row(r, w_mid, 40, mid_200);
  expect_visits_row(r, f->w_b, 150, 200);
  assert_null(visits_row(r, f->w_a));
  assert_null(visits_row(r, f->w_tb)); /* another town */
  expect_sorted_by_shortfall(r);
  assert_int_equal(r->rows[0]->worker_id, f->w_sec);
  assert_int_equal(r->rows[1]->worker_id, f->w_c);
  assert_int_equal(r->rows[2]->worker_id, w_mid);
  assert_int_equal(r->rows[3]->worker_id, f->w_b);
  free_msg(r);

  /*
   * The whole district takes in town B, where one worker left on June 30 of
   * last year (held to the half year he served) and one left the year
   * before (not considered).
   */
  char left_on[11], jan1[11];
  uint64_t w_left_mid = worker_new(f, "韩冰", COMM_B1, R_GENERALIST, OLD_HIRE, NULL, 0);
  uint64_t w_left_early = worker_new(f, "杨帆", COMM_B1, R_GENERALIST, OLD_HIRE, NULL, 0);
  free_msg(set_visits(f->c, w_left_mid, last, 30));
  worker_leave(f->c, w_left_mid, ymd(left_on, Y - 1, 6, 30));
  worker_leave(f->c, w_left_early, ymd(left_on, Y - 2, 5, 1));
  sg_date d0, d1;
  sg_validate_date(ymd(jan1, Y - 1, 1, 1), &d0, NULL, 0);
  sg_validate_date(ymd(left_on, Y - 1, 6, 30), &d1, NULL, 0);
  long served = sg_date_days(&d1) - sg_date_days(&d0) + 1; /* 181 or 182 */
  assert_true(served == 181 || served == 182);
  uint32_t left_200 = (uint32_t)(200L * served / year_days);
  r = visits_report(f->c, NULL, NULL, last, 0);
  assert_int_equal(r->workers, 7);
  expect_visits_row(r, f->w_tb, 10, 200);
  expect_visits_row(r, w_left_mid, 30, left_200);
  assert_null(visits_row(r, w_left_early));
  expect_sorted_by_shortfall(r);
  free_msg(r);
  /* one unit */
  r = visits_report(f->c, NULL, COMM_A2, last, 0);
  assert_int_equal(r->workers, 2);
  assert_int_equal(r->n_rows, 2);
  free_msg(r);

  /* below overrides the policy */
  r = visits_report(f->c, TOWN_A, NULL, last, 100);
  assert_int_equal(r->minimum, 100);
  expect_visits_row(r, f->w_sec, 0, 100);
  expect_visits_row(r, f->w_c, 20, 100);
  assert_null(visits_row(r, f->w_b));
  if (40 < mid_100) expect_visits_row(r, w_mid, 40, mid_100);
  else assert_null(visits_row(r, w_mid));
  expect_sorted_by_shortfall(r);
  free_msg(r);

  /* the policy's minimum */
  policy_buf b;
  policy_fill(&b, 0);
  b.a.visit_minimum = 160;
  free_msg(policy_set(f->c, 0, &b));
  r = visits_report(f->c, TOWN_A, NULL, last, 0);
  assert_int_equal(r->minimum, 160);
  assert_int_equal(r->n_rows, 4);
  expect_visits_row(r, f->w_sec, 0, 160);
  expect_visits_row(r, f->w_c, 20, 160);
  expect_visits_row(r, w_mid, 40, mid_160);
  expect_visits_row(r, f->w_b, 150, 160);
  expect_sorted_by_shortfall(r);
  free_msg(r);

  /* SetVisits again replaces the count */
  h = set_visits(f->c, f->w_b, last, 300);
  assert_int_equal(h->version, 2);
  free_msg(h);
  r = visits_report(f->c, TOWN_A, NULL, last, 0);
  assert_null(visits_row(r, f->w_b));
  assert_int_equal(r->n_rows, 3);
  free_msg(r);

  /* this year by default; the report holds workers to the days so far */
  r = visits_report(f->c, TOWN_A, NULL, 0, 0);
  assert_int_equal(r->year, (uint32_t)Y);
  for (size_t i = 0; i < r->n_rows; i++) assert_true(r->rows[i]->required <= 160);
  free_msg(r);

  /* SetVisits checks */
  Shegong__V1__SetVisitsRequest sv = SHEGONG__V1__SET_VISITS_REQUEST__INIT;
  sv.worker_id = f->w_a;
  sv.year = (uint32_t)Y + 1;
  sv.count = 10;
  call_violates(f->c, "Assessments/SetVisits", &sv.base, "year");
  sv.year = last;
  sv.count = 100001;
  call_violates(f->c, "Assessments/SetVisits", &sv.base, "count");
  sv.worker_id = w_mid;
  sv.year = last - 1; /* before the hire */
  sv.count = 10;
  call_violates(f->c, "Assessments/SetVisits", &sv.base, "year");
  /* a year after the worker left: no visits to count, as Record refuses it too */
  sv.worker_id = w_left_early;
  sv.year = last;
  call_violates(f->c, "Assessments/SetVisits", &sv.base, "year");
  sv.year = last - 1; /* the year he left in still counts */
  free_msg(call_ok(f->c, "Assessments/SetVisits", &sv.base));
  sv.worker_id = 999999;
  sv.year = last;
  call_fails(f->c, "Assessments/SetVisits", &sv.base, C_NOT_FOUND, &st);
  /* VisitsReport checks */
  Shegong__V1__VisitsReportRequest vq = SHEGONG__V1__VISITS_REPORT_REQUEST__INIT;
  vq.year = (uint32_t)Y + 1;
  call_violates(f->c, "Assessments/VisitsReport", &vq.base, "year");
  vq.year = last;
  vq.below = 100001;
  call_violates(f->c, "Assessments/VisitsReport", &vq.base, "below");
  vq.below = 0;
  vq.town_code = (char *)TOWN_A;
  vq.unit_code = (char *)COMM_A1;
  call_violates(f->c, "Assessments/VisitsReport", &vq.base, "town_code");
  vq.unit_code = (char *)"";
  vq.town_code = (char *)COMM_A1; /* not a town */
  call_violates(f->c, "Assessments/VisitsReport", &vq.base, "town_code");
  vq.town_code = (char *)"320602009";
  call_fails(f->c, "Assessments/VisitsReport", &vq.base, C_NOT_FOUND, &st);
  f->done = 1;
}

/* ======================================================================== */
/* 6. Eligibility for pay steps, ChangeLevel and LevelHistory. */

static void test_eligibility(void **state) {
  fx *f = FX(state);
  sg_status st;
  uint32_t y1 = (uint32_t)Y - 1, y2 = (uint32_t)Y - 2;
  char hire3[11];
  ymd(hire3, Y - 3, 3, 1); /* under four years ago */

  /* no ladder in the policy: nothing to be eligible for */
  Shegong__V1__EligibilityRequest er = SHEGONG__V1__ELIGIBILITY_REQUEST__INIT;
  call_fails(f->c, "Assessments/Eligibility", &er.base, C_PRECOND, &st);

  uint64_t w_early = worker_new(f, "吴刚", COMM_A1, R_GENERALIST, hire3, "C", 5);
  uint64_t w_mixed = worker_new(f, "郑洁", COMM_A1, R_GENERALIST, hire3, "C", 5);
  uint64_t w_top = worker_new(f, "冯军", COMM_A2, R_GENERALIST, hire3, "C", 12);
  uint64_t w_leaver = worker_new(f, "褚红", COMM_A2, R_GENERALIST, hire3, "C", 5);
  uint64_t w_periodic = worker_new(f, "卫东", COMM_A2, R_GENERALIST, OLD_HIRE, "B", 3);
  year_end(f->c, w_early, y2, 95, 95, 0);
  year_end(f->c, w_early, y1, 96, 90, 0);
  year_end(f->c, w_mixed, y2, 95, 95, 0);
  year_end(f->c, w_mixed, y1, 85, 85, 0);
  year_end(f->c, w_top, y2, 95, 95, 0);
  year_end(f->c, w_top, y1, 95, 95, 0);
  year_end(f->c, w_leaver, y2, 95, 95, 0);
  year_end(f->c, w_leaver, y1, 95, 95, 0);
  worker_leave(f->c, w_leaver, TODAY);

  /* ChangeLevel without a ladder: only an ADJUSTMENT */
  Shegong__V1__ChangeLevelRequest cl;
  change_level_fill(&cl, w_early, worker_version(f->c, w_early),
                    SHEGONG__V1__LEVEL_CHANGE_KIND__EARLY_STEP, NULL, 6);
  call_fails(f->c, "Workers/ChangeLevel", &cl.base, C_PRECOND, &st);

  policy_buf b;
  policy_fill(&b, 1);
  free_msg(policy_set(f->c, 0, &b));

  Shegong__V1__EligibilityReport *r = eligibility(f->c, TOWN_A, 0);
  assert_int_equal(r->year, y1); /* last year by default */
  assert_string_equal(r->as_of, TODAY);
  assert_string_equal(r->ladder, "四岗十二档");
  assert_int_equal(r->workers, 8); /* four of setup, four made here; not the leaver */
  for (size_t i = 0; i < r->n_rows; i++)
    print_message("  eligible: worker %llu rule %d %s %u → %u\n",
                  (unsigned long long)r->rows[i]->worker_id, (int)r->rows[i]->rule,
                  r->rows[i]->post, r->rows[i]->level, r->rows[i]->to_level);
  const Shegong__V1__EligibilityRow *row =
      elig_row(r, w_early, SHEGONG__V1__STEP_RULE__EARLY_STEP_RULE);
  assert_non_null(row);
  assert_string_equal(row->post, "C");
  assert_int_equal(row->level, 5);
  assert_int_equal(row->to_level, 6);
  assert_string_equal(row->unit_code, COMM_A1);
  assert_int_equal(row->n_evidence, 2);
  assert_int_equal(row->evidence[0]->year, y2);
  assert_int_equal(row->evidence[0]->grade, G_EXCELLENT);
  assert_score(row->evidence[0]->combined_score, 95.00);
  assert_int_equal(row->evidence[1]->year, y1);
  assert_int_equal(row->evidence[1]->grade, G_EXCELLENT);
  assert_score(row->evidence[1]->combined_score, 94.20);
  char summary[64];
  snprintf(summary, sizeof summary, "%u 优秀 95.00; %u 优秀 94.20", y2, y1);
  assert_string_equal(row->evidence_summary, summary);
  assert_null(elig_row(r, w_early, SHEGONG__V1__STEP_RULE__PERIODIC_STEP_RULE));
  assert_null(elig_row(r, w_mixed, 0));
  assert_null(elig_row(r, w_top, 0));
  assert_null(elig_row(r, w_leaver, 0));
  row = elig_row(r, w_periodic, SHEGONG__V1__STEP_RULE__PERIODIC_STEP_RULE);
  assert_non_null(row);
  assert_string_equal(row->level_since, OLD_HIRE);
  assert_int_equal(row->years_at_level, (uint32_t)(Y - 2015 - (M < 6 ? 1 : 0)));
  assert_string_equal(row->post, "B");
  assert_int_equal(row->level, 3);
  assert_int_equal(row->to_level, 4);
  assert_null(elig_row(r, w_periodic, SHEGONG__V1__STEP_RULE__EARLY_STEP_RULE));
  /* workers without a post of the ladder are not listed */
  assert_null(elig_row(r, f->w_a, 0));
  assert_int_equal(r->n_rows, 2);
  free_msg(r);

  /* the early step for the eligible worker */
  uint64_t v = worker_version(f->c, w_early);
  change_level_fill(&cl, w_early, v, SHEGONG__V1__LEVEL_CHANGE_KIND__EARLY_STEP, NULL, 6);
  cl.reason = (char *)"连续两年优秀 提前升一级";
  worker_t *w = call_ok(f->c, "Workers/ChangeLevel", &cl.base);
  assert_string_equal(w->post, "C");
  assert_int_equal(w->level, 6);
  assert_int_equal(w->version, v + 1);
  free_msg(w);
  /* the same years cannot earn a second early step */
  change_level_fill(&cl, w_early, v + 1, SHEGONG__V1__LEVEL_CHANGE_KIND__EARLY_STEP, NULL, 7);
  call_fails(f->c, "Workers/ChangeLevel", &cl.base, C_PRECOND, &st);

  Shegong__V1__LevelHistoryRequest hr = SHEGONG__V1__LEVEL_HISTORY_REQUEST__INIT;
  hr.id = w_early;
  Shegong__V1__LevelHistoryResponse *hist = call_ok(f->c, "Workers/LevelHistory", &hr.base);
  assert_int_equal(hist->n_changes, 1);
  assert_int_equal(hist->changes[0]->worker_id, w_early);
  assert_int_equal(hist->changes[0]->kind, SHEGONG__V1__LEVEL_CHANGE_KIND__EARLY_STEP);
  assert_string_equal(hist->changes[0]->from_post, "C");
  assert_int_equal(hist->changes[0]->from_level, 5);
  assert_string_equal(hist->changes[0]->to_post, "C");
  assert_int_equal(hist->changes[0]->to_level, 6);
  assert_string_equal(hist->changes[0]->effective_date, TODAY);
  assert_string_equal(hist->changes[0]->reason, "连续两年优秀 提前升一级");
  assert_true(hist->changes[0]->recorded_by[0] != 0);
  free_msg(hist);

  /* the ineligible: 优秀 then 合格; at the top of the post */
  change_level_fill(&cl, w_mixed, worker_version(f->c, w_mixed),
                    SHEGONG__V1__LEVEL_CHANGE_KIND__EARLY_STEP, NULL, 6);
  call_fails(f->c, "Workers/ChangeLevel", &cl.base, C_PRECOND, &st);
  change_level_fill(&cl, w_top, worker_version(f->c, w_top),
                    SHEGONG__V1__LEVEL_CHANGE_KIND__EARLY_STEP, NULL, 13);
  call_violates(f->c, "Workers/ChangeLevel", &cl.base, "level");
  /* a step is one level up */
  change_level_fill(&cl, w_periodic, worker_version(f->c, w_periodic),
                    SHEGONG__V1__LEVEL_CHANGE_KIND__PERIODIC_STEP, NULL, 5);
  call_fails(f->c, "Workers/ChangeLevel", &cl.base, C_PRECOND, &st);
  /* the leaver's record is closed */
  change_level_fill(&cl, w_leaver, worker_version(f->c, w_leaver),
                    SHEGONG__V1__LEVEL_CHANGE_KIND__EARLY_STEP, NULL, 6);
  call_fails(f->c, "Workers/ChangeLevel", &cl.base, C_PRECOND, &st);
  /* hist of the refused: empty */
  hr.id = w_mixed;
  hist = call_ok(f->c, "Workers/LevelHistory", &hr.base);
  assert_int_equal(hist->n_changes, 0);
  free_msg(hist);

  r = eligibility(f->c, TOWN_A, 0);
  assert_null(elig_row(r, w_early, SHEGONG__V1__STEP_RULE__EARLY_STEP_RULE));
  assert_null(elig_row(r, w_early, 0)); /* at level 6 since today */
  assert_non_null(elig_row(r, w_periodic, SHEGONG__V1__STEP_RULE__PERIODIC_STEP_RULE));
  free_msg(r);

  /* the periodic step, then the worker is at the new level since today */
  v = worker_version(f->c, w_periodic);
  change_level_fill(&cl, w_periodic, v, SHEGONG__V1__LEVEL_CHANGE_KIND__PERIODIC_STEP, NULL, 4);
  w = call_ok(f->c, "Workers/ChangeLevel", &cl.base);
  assert_int_equal(w->level, 4);
  free_msg(w);
  hr.id = w_periodic;
  hist = call_ok(f->c, "Workers/LevelHistory", &hr.base);
  assert_int_equal(hist->n_changes, 1);
  assert_int_equal(hist->changes[0]->kind, SHEGONG__V1__LEVEL_CHANGE_KIND__PERIODIC_STEP);
  assert_string_equal(hist->changes[0]->from_post, "B");
  assert_int_equal(hist->changes[0]->from_level, 3);
  assert_string_equal(hist->changes[0]->to_post, "B");
  assert_int_equal(hist->changes[0]->to_level, 4);
  free_msg(hist);
  r = eligibility(f->c, TOWN_A, 0);
  assert_int_equal(r->n_rows, 0);
  free_msg(r);

  /* the leaver, by the district-wide report too */
  r = eligibility(f->c, NULL, 0);
  assert_null(elig_row(r, w_leaver, 0));
  assert_int_equal(r->workers, 9);
  free_msg(r);

  /* a year not yet over; a policy that drops the ladder */
  er.year = (uint32_t)Y + 1;
  call_violates(f->c, "Assessments/Eligibility", &er.base, "year");
  policy_fill(&b, 0);
  free_msg(policy_set(f->c, 1, &b));
  er.year = 0;
  call_fails(f->c, "Assessments/Eligibility", &er.base, C_PRECOND, &st);
  f->done = 1;
}

/* ======================================================================== */
/* 7. Training. */

static void test_training(void **state) {
  fx *f = FX(state);
  sg_status st;
  char jan1[11], yearend[11], due_pre[11], due_promo[11], in10[11];
  ymd(jan1, Y, 1, 1);
  ymd(yearend, Y, 12, 31);
  ymd(due_pre, Y, 1, 31); /* January 1 plus 30 days */
  today_plus(due_promo, 30);
  today_plus(in10, 10);

  policy_buf b;
  policy_fill(&b, 1);
  free_msg(policy_set(f->c, 0, &b));

  /* CreateCourse checks */
  Shegong__V1__Course c;
  course_fill(&c, "岗前培训", SHEGONG__V1__COURSE_KIND__PRE_SERVICE, 40, TODAY, TODAY);
  c.start_date = in10; /* ends before it starts */
  course_violates(f->c, &c, "course.end_date");
  course_fill(&c, "岗前培训", SHEGONG__V1__COURSE_KIND__PRE_SERVICE, 0, TODAY, TODAY);
  course_violates(f->c, &c, "course.hours");
  course_fill(&c, "岗前培训", 9, 40, TODAY, TODAY);
  course_violates(f->c, &c, "course.kind");
  course_fill(&c, "岗前培训", 0, 40, TODAY, TODAY);
  course_violates(f->c, &c, "course.kind");
  course_fill(&c, "", SHEGONG__V1__COURSE_KIND__PRE_SERVICE, 40, TODAY, TODAY);
  course_violates(f->c, &c, "course.name");
  char feb30[11];
  course_fill(&c, "岗前培训", SHEGONG__V1__COURSE_KIND__PRE_SERVICE, 40, ymd(feb30, Y, 2, 30), TODAY);
  course_violates(f->c, &c, "course.start_date");
  course_fill(&c, "岗前培训", SHEGONG__V1__COURSE_KIND__PRE_SERVICE, 40, TODAY, TODAY);
  c.town_code = (char *)"320602009";
  course_violates(f->c, &c, "course.town_code");

  uint64_t c_future = course_make(f->c, "新进社工岗前培训（下期）", SHEGONG__V1__COURSE_KIND__PRE_SERVICE,
                                  40, TODAY, in10);
  uint64_t c_pre = course_make(f->c, "新进社工岗前培训", SHEGONG__V1__COURSE_KIND__PRE_SERVICE, 40,
                               jan1, jan1);
  uint64_t c_annual = course_make(f->c, "书记年度轮训", SHEGONG__V1__COURSE_KIND__ANNUAL, 8, TODAY, TODAY);
  uint64_t c_promo = course_make(f->c, "升岗培训", SHEGONG__V1__COURSE_KIND__PROMOTION_COURSE, 16,
                                 TODAY, TODAY);

  uint64_t w_new = worker_new(f, "蒋文", COMM_A1, R_GENERALIST, jan1, NULL, 0);
  uint64_t w_promo = worker_new(f, "沈梅", COMM_A1, R_GENERALIST, OLD_HIRE, "B", 3);

  /* a course still running cannot be attended */
  uint64_t ids[3] = {w_new, 0, 0};
  Shegong__V1__AttendRequest ar;
  attend_fill(&ar, c_future, ids, 1);
  call_fails(f->c, "Training/Attend", &ar.base, C_PRECOND, &st);
  /* no such course; more hours than the course has */
  attend_fill(&ar, 999999, ids, 1);
  call_fails(f->c, "Training/Attend", &ar.base, C_NOT_FOUND, &st);
  attend_fill(&ar, c_pre, ids, 1);
  ar.hours = 41;
  call_violates(f->c, "Training/Attend", &ar.base, "hours");

  /* compliance before any attendance */
  Shegong__V1__ComplianceReport *r = compliance(f->c, NULL, 0);
  print_compliance(r);
  assert_int_equal(r->year, (uint32_t)Y);
  assert_int_equal(r->workers, 7);
  assert_int_equal(r->secretaries, 1);
  assert_int_equal(r->new_hires, 1);
  assert_int_equal(r->promotions, 0);
  const Shegong__V1__ComplianceRow *row =
      compliance_row(r, f->w_sec, SHEGONG__V1__TRAINING_RULE__SECRETARY_ANNUAL);
  assert_non_null(row);
  assert_string_equal(row->due, yearend);
  assert_int_equal(row->role, R_SECRETARY);
  assert_true(row->missing[0] != 0);
  row = compliance_row(r, w_new, SHEGONG__V1__TRAINING_RULE__PRE_SERVICE_RULE);
  assert_non_null(row);
  assert_string_equal(row->due, due_pre);
  assert_int_equal(r->n_rows, 2);
  free_msg(r);

  /* a promotion this year */
  Shegong__V1__ChangeLevelRequest cl;
  change_level_fill(&cl, w_promo, worker_version(f->c, w_promo),
                    SHEGONG__V1__LEVEL_CHANGE_KIND__PROMOTION, "A", 3);
  cl.reason = (char *)"竞聘上岗";
  worker_t *w = call_ok(f->c, "Workers/ChangeLevel", &cl.base);
  assert_string_equal(w->post, "A");
  free_msg(w);
  Shegong__V1__LevelHistoryRequest hr = SHEGONG__V1__LEVEL_HISTORY_REQUEST__INIT;
  hr.id = w_promo;
  Shegong__V1__LevelHistoryResponse *hist = call_ok(f->c, "Workers/LevelHistory", &hr.base);
  assert_int_equal(hist->n_changes, 1);
  assert_int_equal(hist->changes[0]->kind, SHEGONG__V1__LEVEL_CHANGE_KIND__PROMOTION);
  assert_string_equal(hist->changes[0]->from_post, "B");
  assert_string_equal(hist->changes[0]->to_post, "A");
  assert_int_equal(hist->changes[0]->to_level, 3);
  free_msg(hist);
  /* a "promotion" to a lower post is not one */
  change_level_fill(&cl, w_promo, worker_version(f->c, w_promo),
                    SHEGONG__V1__LEVEL_CHANGE_KIND__PROMOTION, "D", 3);
  call_fails(f->c, "Workers/ChangeLevel", &cl.base, C_PRECOND, &st);

  r = compliance(f->c, TOWN_A, 0);
  print_compliance(r);
  assert_int_equal(r->promotions, 1);
  row = compliance_row(r, w_promo, SHEGONG__V1__TRAINING_RULE__PROMOTION_RULE);
  assert_non_null(row);
  assert_string_equal(row->due, due_promo);
  assert_int_equal(r->n_rows, 3);
  free_msg(r);
  /* without include_upcoming: the promotion's course is not yet due (30 days' grace) */
  r = compliance_as(f->c, TOWN_A, 0, 0);
  assert_null(compliance_row(r, w_promo, SHEGONG__V1__TRAINING_RULE__PROMOTION_RULE));
  assert_int_equal(r->promotions, 1);
  free_msg(r);

  /* each attends a course of the kind: each drops off the report */
  ids[0] = w_new;
  attend_ok(f->c, c_pre, ids, 1);
  r = compliance(f->c, TOWN_A, 0);
  assert_null(compliance_row(r, w_new, SHEGONG__V1__TRAINING_RULE__PRE_SERVICE_RULE));
  assert_int_equal(r->new_hires, 1);
  assert_int_equal(r->n_rows, 2);
  free_msg(r);
  ids[0] = f->w_sec;
  attend_ok(f->c, c_annual, ids, 1);
  ids[0] = w_promo;
  attend_ok(f->c, c_promo, ids, 1);
  r = compliance(f->c, TOWN_A, 0);
  print_compliance(r);
  assert_int_equal(r->n_rows, 0);
  assert_int_equal(r->secretaries, 1);
  assert_int_equal(r->promotions, 1);
  free_msg(r);

  /* all or nothing: a list with one bad id records nobody */
  uint64_t seen[8];
  ids[0] = f->w_a;
  ids[1] = 999999;
  attend_fill(&ar, c_promo, ids, 2);
  call_fails(f->c, "Training/Attend", &ar.base, C_INVALID, &st);
  assert_true(has_violation(&st, "worker_ids[1]"));
  assert_false(has_violation(&st, "worker_ids[0]"));
  ids[0] = f->w_b;
  ids[1] = w_promo; /* attended already */
  attend_fill(&ar, c_promo, ids, 2);
  ProtobufCMessage *resp = NULL;
  assert_int_not_equal(sg_call(f->c, "Training/Attend", &ar.base, &resp, CALL_MS, &st), 0);
  free_msg(resp);
  assert_int_equal(course_attendees(f->c, c_promo, seen, 8), 1);
  assert_int_equal(seen[0], w_promo);
  /* one id listed twice */
  ids[0] = f->w_c;
  ids[1] = f->w_c;
  attend_fill(&ar, c_promo, ids, 2);
  call_violates(f->c, "Training/Attend", &ar.base, "worker_ids[1]");
  assert_int_equal(course_attendees(f->c, c_promo, seen, 8), 1);
  /* several at once, with the hours given */
  ids[0] = f->w_a;
  ids[1] = f->w_b;
  ids[2] = f->w_c;
  attend_fill(&ar, c_annual, ids, 3);
  ar.hours = 6;
  Shegong__V1__AttendResponse *at = call_ok(f->c, "Training/Attend", &ar.base);
  assert_int_equal(at->n_attendance, 3);
  assert_int_equal(at->attendance[0]->hours, 6);
  assert_int_equal(at->attendance[0]->kind, SHEGONG__V1__COURSE_KIND__ANNUAL);
  assert_string_equal(at->attendance[0]->end_date, TODAY);
  free_msg(at);
  assert_int_equal(course_attendees(f->c, c_annual, seen, 8), 4);

  /* a policy that asks 16 hours of secretaries: 8 are not enough */
  policy_fill(&b, 1);
  b.t.secretary_annual_hours = 16;
  free_msg(policy_set(f->c, 1, &b));
  r = compliance(f->c, TOWN_A, 0);
  print_compliance(r);
  assert_non_null(compliance_row(r, f->w_sec, SHEGONG__V1__TRAINING_RULE__SECRETARY_ANNUAL));
  assert_int_equal(r->n_rows, 1);
  free_msg(r);
  uint64_t c_annual2 = course_make(f->c, "书记专题研修", SHEGONG__V1__COURSE_KIND__PROFESSIONAL, 8,
                                   TODAY, TODAY);
  ids[0] = f->w_sec;
  attend_ok(f->c, c_annual2, ids, 1);
  r = compliance(f->c, TOWN_A, 0);
  print_compliance(r);
  assert_int_equal(r->n_rows, 0);
  free_msg(r);

  /* ListCourses: this year's */
  Shegong__V1__ListCoursesRequest lc = SHEGONG__V1__LIST_COURSES_REQUEST__INIT;
  lc.kind = SHEGONG__V1__COURSE_KIND__PRE_SERVICE;
  Shegong__V1__ListCoursesResponse *courses = call_ok(f->c, "Training/ListCourses", &lc.base);
  assert_int_equal(courses->n_courses, 2);
  free_msg(courses);
  /* a compliance year not yet begun */
  Shegong__V1__ComplianceRequest cq = SHEGONG__V1__COMPLIANCE_REQUEST__INIT;
  cq.year = (uint32_t)Y + 1;
  call_violates(f->c, "Training/Compliance", &cq.base, "year");

  /*
   * The same worker attending the same course again: PROTOCOL.md §8.25
   * answers INVALID_ARGUMENT naming worker_ids[i] ("already recorded for
   * the course"), and nothing more is recorded.
   */
  ids[0] = f->w_sec;
  attend_fill(&ar, c_annual, ids, 1);
  call_violates(f->c, "Training/Attend", &ar.base, "worker_ids[0]");
  ids[0] = f->w_sec;
  ids[1] = w_new; /* not yet on this course */
  attend_fill(&ar, c_annual, ids, 2);
  call_violates(f->c, "Training/Attend", &ar.base, "worker_ids[0]");
  assert_int_equal(course_attendees(f->c, c_annual, seen, 8), 4);
  f->done = 1;
}

/* ======================================================================== */
/* 8. Town scope. */

static void test_town_scope(void **state) {
  fx *f = FX(state);
  sg_status st;
  uint32_t last = (uint32_t)Y - 1;
  sg_client *town = town_client(f, TOWN_A);

  /* another town's worker: PERMISSION_DENIED, nothing recorded */
  assess_t a;
  assess_fill(&a, f->w_tb, K_YEAR_END, last, 85, 92);
  record_fails(town, &a, C_PERM, &st);
  assert_int_equal(count_assess(f->c, f->w_tb, NULL, 0, 0), 0);
  /* its own town's worker: fine */
  assess_fill(&a, f->w_a, K_YEAR_END, last, 85, 92);
  assess_t *r = record(town, &a);
  assert_score(r->combined_score, 87.10);
  free_msg(r);

  /* the other town's records: not to read, amend or add to */
  assess_fill(&a, f->w_tb, K_YEAR_END, last, 85, 92);
  r = record(f->c, &a);
  uint64_t tb_assessment = r->id;
  free_msg(r);
  Shegong__V1__AmendAssessmentRequest am = SHEGONG__V1__AMEND_ASSESSMENT_REQUEST__INIT;
  assess_t change;
  shegong__v1__assessment__init(&change);
  change.note = (char *)"改";
  char *mask[1] = {(char *)"note"};
  am.id = tb_assessment;
  am.expected_version = 1;
  am.assessment = &change;
  am.update_mask = mask;
  am.n_update_mask = 1;
  call_fails(town, "Assessments/Amend", &am.base, C_PERM, &st);
  Shegong__V1__ListAssessmentsRequest lq = SHEGONG__V1__LIST_ASSESSMENTS_REQUEST__INIT;
  lq.worker_id = f->w_tb;
  call_fails(town, "Assessments/List", &lq.base, C_PERM, &st);
  lq.worker_id = 0;
  lq.town_code = (char *)TOWN_B;
  call_fails(town, "Assessments/List", &lq.base, C_PERM, &st);
  Shegong__V1__SetVisitsRequest sv = SHEGONG__V1__SET_VISITS_REQUEST__INIT;
  sv.worker_id = f->w_tb;
  sv.year = last;
  sv.count = 10;
  call_fails(town, "Assessments/SetVisits", &sv.base, C_PERM, &st);
  bulk_buf b;
  bulk_init(&b, COMM_B1);
  bulk_add(&b, f->w_tb, K_SPECIAL, last, 80, 80);
  call_fails(town, "Assessments/Bulk", &b.req.base, C_PERM, &st);
  /* its own unit, with another town's worker among the rows: the whole call is refused */
  bulk_init(&b, COMM_A1);
  bulk_add(&b, f->w_b, K_SPECIAL, last, 80, 80);
  bulk_add(&b, f->w_tb, K_SPECIAL, last, 80, 80);
  call_fails(town, "Assessments/Bulk", &b.req.base, C_PERM, &st);
  assert_int_equal(count_assess(f->c, f->w_b, NULL, 0, 0), 0);
  assert_int_equal(count_assess(f->c, f->w_tb, NULL, 0, 0), 1);
  /* a district course: its own workers may attend it, another town's not */
  uint64_t course = course_make(f->c, "年度业务培训", SHEGONG__V1__COURSE_KIND__ANNUAL, 8, TODAY, TODAY);
  uint64_t ids[2] = {f->w_b, f->w_tb};
  Shegong__V1__AttendRequest ar;
  attend_fill(&ar, course, ids, 2);
  call_fails(town, "Training/Attend", &ar.base, C_PERM, &st);
  uint64_t seen[4];
  assert_int_equal(course_attendees(f->c, course, seen, 4), 0);
  attend_ok(town, course, ids, 1);
  /* the district's policy is the district's */
  policy_buf pb;
  policy_fill(&pb, 0);
  Shegong__V1__SetPolicyRequest ps = SHEGONG__V1__SET_POLICY_REQUEST__INIT;
  ps.policy = &pb.p;
  call_fails(town, "Policies/Set", &ps.base, C_PERM, &st);
  policy_t *p = policy_get(town, 0);
  assert_int_equal(p->version, 0);
  free_msg(p);

  /* its VisitsReport without a town is its town's */
  Shegong__V1__VisitsReportResponse *vr = visits_report(town, NULL, NULL, last, 0);
  assert_int_equal(vr->workers, 4);
  assert_int_equal(vr->n_rows, 4);
  for (size_t i = 0; i < vr->n_rows; i++) {
    assert_int_equal(strncmp(vr->rows[i]->unit_code, TOWN_A, strlen(TOWN_A)), 0);
    assert_int_not_equal(vr->rows[i]->worker_id, f->w_tb);
  }
  free_msg(vr);
  vr = visits_report(f->c, NULL, NULL, last, 0);
  assert_int_equal(vr->workers, 5);
  assert_non_null(visits_row(vr, f->w_tb));
  free_msg(vr);
  Shegong__V1__VisitsReportRequest vq = SHEGONG__V1__VISITS_REPORT_REQUEST__INIT;
  vq.town_code = (char *)TOWN_B;
  call_fails(town, "Assessments/VisitsReport", &vq.base, C_PERM, &st);
  vq.town_code = (char *)"";
  vq.unit_code = (char *)COMM_B1;
  call_fails(town, "Assessments/VisitsReport", &vq.base, C_PERM, &st);
  /* and so are its List, Compliance and SetVisits */
  Shegong__V1__ListAssessmentsRequest all = SHEGONG__V1__LIST_ASSESSMENTS_REQUEST__INIT;
  all.town_code = (char *)TOWN_A;
  Shegong__V1__ListAssessmentsResponse *l = call_ok(town, "Assessments/List", &all.base);
  assert_int_equal(l->n_assessments, 1);
  assert_int_equal(l->assessments[0]->worker_id, f->w_a);
  free_msg(l);
  Shegong__V1__ComplianceReport *cr = compliance(town, NULL, 0);
  assert_int_equal(cr->workers, 4);
  free_msg(cr);
  sv.worker_id = f->w_b;
  free_msg(call_ok(town, "Assessments/SetVisits", &sv.base));
  sg_client_close(town);
  f->done = 1;
}

/* ======================================================================== */
/* 9. The changelog. */

static void test_changelog(void **state) {
  fx *f = FX(state);
  uint32_t last = (uint32_t)Y - 1;
  pulled before;
  pull(f->c, TOWN_A, 0, &before);
  uint64_t head0 = before.head;
  assert_true(head0 > 0);
  pulled_free(&before);

  Shegong__V1__RecordAssessmentRequest req = SHEGONG__V1__RECORD_ASSESSMENT_REQUEST__INIT;
  assess_t a;
  assess_fill(&a, f->w_a, K_YEAR_END, last, 85, 92);
  req.assessment = &a;
  req.set_visits = 1;
  req.household_visits = 180;
  assess_t *r = call_ok(f->c, "Assessments/Record", &req.base);
  uint64_t id = r->id, rev = r->revision;
  assert_true(rev > head0);
  free_msg(r);

  pulled p;
  pull(f->c, TOWN_A, 0, &p);
  const Shegong__V1__Change *ch = find_change(&p, SHEGONG__V1__CHANGE__RECORD_ASSESSMENT, id);
  if (!ch) print_message("no assessment %llu in town A's pull\n", (unsigned long long)id);
  assert_non_null(ch);
  assert_int_equal(ch->entity, SHEGONG__V1__ENTITY__ENTITY_ASSESSMENT);
  assert_int_equal(ch->op, SHEGONG__V1__CHANGE_OP__CHANGE_CREATE);
  assert_int_equal(ch->revision, rev);
  assert_int_equal(ch->version, 1);
  assert_true(concerns(ch, TOWN_A));
  assert_false(concerns(ch, TOWN_B));
  assert_string_equal(ch->method, "/shegong.v1.Assessments/Record");
  assert_non_null(ch->assessment);
  assert_int_equal(ch->assessment->id, id);
  assert_int_equal(ch->assessment->worker_id, f->w_a);
  assert_int_equal(ch->assessment->year, last);
  assert_score(ch->assessment->combined_score, 87.10);
  assert_int_equal(ch->assessment->grade, G_QUALIFIED);
  /* the visits went with it, as their own change */
  int visits = 0;
  for (size_t i = 0; i < p.n; i++)
    if (p.changes[i]->record_case == SHEGONG__V1__CHANGE__RECORD_VISITS) {
      visits++;
      assert_int_equal(p.changes[i]->entity, SHEGONG__V1__ENTITY__ENTITY_VISITS);
      assert_int_equal(p.changes[i]->visits->worker_id, f->w_a);
      assert_int_equal(p.changes[i]->visits->count, 180);
    }
  assert_int_equal(visits, 1);
  uint64_t head1 = p.head;
  pulled_free(&p);

  /* town B's pull does not carry it */
  pull(f->c, TOWN_B, 0, &p);
  assert_null(find_change(&p, SHEGONG__V1__CHANGE__RECORD_ASSESSMENT, id));
  pulled_free(&p);

  /* an Amend is an update, with the new version and score */
  Shegong__V1__AmendAssessmentRequest am = SHEGONG__V1__AMEND_ASSESSMENT_REQUEST__INIT;
  assess_t change;
  shegong__v1__assessment__init(&change);
  change.superior_score = 98;
  char *mask[1] = {(char *)"superior_score"};
  am.id = id;
  am.expected_version = 1;
  am.assessment = &change;
  am.update_mask = mask;
  am.n_update_mask = 1;
  free_msg(call_ok(f->c, "Assessments/Amend", &am.base));
  pull(f->c, TOWN_A, head1, &p);
  ch = find_change(&p, SHEGONG__V1__CHANGE__RECORD_ASSESSMENT, id);
  assert_non_null(ch);
  assert_int_equal(ch->op, SHEGONG__V1__CHANGE_OP__CHANGE_UPDATE);
  assert_int_equal(ch->version, 2);
  assert_score(ch->assessment->combined_score, 96.20);
  pulled_free(&p);

  /* a refused Bulk leaves nothing in the changelog */
  bulk_buf bb;
  bulk_init(&bb, COMM_A1);
  bulk_add(&bb, f->w_b, K_SPECIAL, last, 80, 80);
  bulk_add(&bb, f->w_b, K_SPECIAL, last, 80, 100.5);
  sg_status st;
  call_fails(f->c, "Assessments/Bulk", &bb.req.base, C_INVALID, &st);
  pull(f->c, "", 0, &p);
  for (size_t i = 0; i < p.n; i++)
    if (p.changes[i]->record_case == SHEGONG__V1__CHANGE__RECORD_ASSESSMENT)
      assert_int_equal(p.changes[i]->assessment->worker_id, f->w_a);
  /* and no gap: the refused call's revisions went with it */
  assert_int_equal(p.n, p.head);
  for (size_t i = 0; i < p.n; i++) assert_int_equal(p.changes[i]->revision, i + 1);
  uint64_t head2 = p.head;
  pulled_free(&p);
  /* a good one: one change per row, in the rows' order */
  bulk_init(&bb, COMM_A1);
  bulk_add(&bb, f->w_b, K_SPECIAL, last, 80, 80);
  bulk_add(&bb, f->w_a, K_SPECIAL, last, 70, 70);
  Shegong__V1__BulkAssessmentResponse *br = call_ok(f->c, "Assessments/Bulk", &bb.req.base);
  uint64_t row0 = br->assessments[0]->id, row1 = br->assessments[1]->id;
  free_msg(br);
  pull(f->c, TOWN_A, head2, &p);
  assert_int_equal(p.n, 2);
  assert_int_equal(p.changes[0]->id, row0);
  assert_int_equal(p.changes[1]->id, row1);
  assert_int_equal(p.changes[0]->record_case, SHEGONG__V1__CHANGE__RECORD_ASSESSMENT);
  assert_int_equal(p.changes[1]->revision, p.changes[0]->revision + 1);
  pulled_free(&p);

  /* a policy concerns every town */
  policy_buf b;
  policy_fill(&b, 0);
  free_msg(policy_set(f->c, 0, &b));
  pull(f->c, TOWN_B, head1, &p);
  int policies = 0;
  for (size_t i = 0; i < p.n; i++)
    if (p.changes[i]->record_case == SHEGONG__V1__CHANGE__RECORD_POLICY) {
      policies++;
      assert_int_equal(p.changes[i]->n_towns, 0);
      assert_int_equal(p.changes[i]->policy->version, 1);
    }
  assert_int_equal(policies, 1);
  pulled_free(&p);
  f->done = 1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_policy_versions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_record, setup, teardown),
      cmocka_unit_test_setup_teardown(test_amend, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bulk, setup, teardown),
      cmocka_unit_test_setup_teardown(test_visits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_eligibility, setup, teardown),
      cmocka_unit_test_setup_teardown(test_training, setup, teardown),
      cmocka_unit_test_setup_teardown(test_town_scope, setup, teardown),
      cmocka_unit_test_setup_teardown(test_changelog, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
