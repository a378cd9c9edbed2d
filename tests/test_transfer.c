/*
 * Transfers end to end (居村交流, 跨街镇交流, 轮岗, 转任, 首年下沉, 职务任命):
 * a real shegongd (a fresh data directory per test) with a small district
 * built through the API in setup, driven through libshegong: proposals and
 * their refusals, approvals by each party in order and by the right token,
 * taking effect at once or on a later day (the scheduler, across a restart
 * with --days-ahead), rotations and placements that end, conversions in a
 * batch, the placement report, reject and cancel with the events kept, and
 * two town replicas that see a worker move between them.
 *
 * Every status is checked by its exact code and every field violation by
 * its path. Dates are computed at run time from today in China time
 * (UTC+8), as the server computes them: no year is written into the tests.
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
#include "replica.h"
#include "shegong.h"
#include "shegong/v1/assessments.pb-c.h"
#include "shegong/v1/auth.pb-c.h"
#include "shegong/v1/sync.pb-c.h"
#include "shegong/v1/transfers.pb-c.h"
#include "shegong/v1/units.pb-c.h"
#include "shegong/v1/workers.pb-c.h"
#include "store/env.h"
#include "timeutil.h"
#include "validate.h"

#define C_OK SHEGONG__V1__CODE__OK
#define C_INVALID SHEGONG__V1__CODE__INVALID_ARGUMENT
#define C_NOT_FOUND SHEGONG__V1__CODE__NOT_FOUND
#define C_PERM SHEGONG__V1__CODE__PERMISSION_DENIED
#define C_PRECOND SHEGONG__V1__CODE__FAILED_PRECONDITION
#define C_ABORTED SHEGONG__V1__CODE__ABORTED

#define K_EXCHANGE SHEGONG__V1__TRANSFER_KIND__EXCHANGE
#define K_ROTATION SHEGONG__V1__TRANSFER_KIND__ROTATION
#define K_CROSS SHEGONG__V1__TRANSFER_KIND__CROSS_TOWN
#define K_CONVERSION SHEGONG__V1__TRANSFER_KIND__CONVERSION
#define K_PLACEMENT SHEGONG__V1__TRANSFER_KIND__FIRST_YEAR_PLACEMENT
#define K_ROLE SHEGONG__V1__TRANSFER_KIND__ROLE_CHANGE

#define S_PROPOSED SHEGONG__V1__TRANSFER_STATE__PROPOSED
#define S_APPROVED SHEGONG__V1__TRANSFER_STATE__APPROVED
#define S_EFFECTIVE SHEGONG__V1__TRANSFER_STATE__EFFECTIVE
#define S_REJECTED SHEGONG__V1__TRANSFER_STATE__REJECTED
#define S_CANCELLED SHEGONG__V1__TRANSFER_STATE__TRANSFER_CANCELLED
#define S_FAILED SHEGONG__V1__TRANSFER_STATE__FAILED
#define S_ENDED SHEGONG__V1__TRANSFER_STATE__ENDED

#define P_NEXT SHEGONG__V1__PARTY__PARTY_UNSPECIFIED
#define P_ORIGIN SHEGONG__V1__PARTY__ORIGIN_TOWN
#define P_DEST SHEGONG__V1__PARTY__DESTINATION_TOWN
#define P_DISTRICT SHEGONG__V1__PARTY__DISTRICT_PARTY

#define R_SECRETARY SHEGONG__V1__ROLE__SECRETARY
#define R_GENERALIST SHEGONG__V1__ROLE__GENERALIST
#define R_GRID_WORKER SHEGONG__V1__ROLE__GRID_WORKER
#define R_FULL_TIME_GRID SHEGONG__V1__ROLE__FULL_TIME_GRID

#define CAT_COMMUNITY SHEGONG__V1__CATEGORY__COMMUNITY_BASED
#define CAT_TOWN_CENTRE SHEGONG__V1__CATEGORY__TOWN_CENTRE
#define CAT_TOWN_MANAGED SHEGONG__V1__CATEGORY__TOWN_MANAGED

#define ST_ACTIVE SHEGONG__V1__WORKER_STATUS__ACTIVE
#define ST_PLACEMENT SHEGONG__V1__WORKER_STATUS__PLACEMENT
#define ST_ROTATING SHEGONG__V1__WORKER_STATUS__ROTATING

#define DISTRICT "320602"
#define TOWN_A "320602001"
#define COMM_A1 "320602001001"
#define COMM_A2 "320602001002"
#define VILL_A1 "320602001201"
#define VILL_A2 "320602001202"
#define TOWN_B "320602002"
#define COMM_B1 "320602002001"
#define VILL_B1 "320602002201"
#define TOWN_C "320602003"
#define COMM_C1 "320602003001"

typedef Shegong__V1__Transfer transfer_t;
typedef Shegong__V1__Worker worker_t;

/* ------------------------------------------------------------------------ */
/* Dates: TODAY, Y, M, D, ymd and today_plus are calls.h's (dates_init). */

static char OLD_HIRE[11]; /* 1 June, eight years ago */

/* ------------------------------------------------------------------------ */
/* Fixture: one fresh server per test, with a small district built by API. */

#define TOWN_CLIENTS 4

typedef struct fx {
  hs_server srv;
  hs_server srv2;   /* the same data, restarted (test_scheduler) */
  sg_client *c;     /* the district admin */
  sg_client *town_c[TOWN_CLIENTS];
  size_t n_town_c;
  sg_replica *ra, *rb;
  unsigned seq;     /* ID-number sequence */
  int done;
} fx;

static fx *FX(void **state) { return *state; }

/* ---- units, workers, tokens ------------------------------------------------ */

static void unit_make(sg_client *c, int kind, const char *code, const char *name) {
  Shegong__V1__Unit u = SHEGONG__V1__UNIT__INIT;
  u.kind = (Shegong__V1__UnitKind)kind;
  u.code = (char *)code;
  u.name = (char *)name;
  Shegong__V1__CreateUnitRequest req = SHEGONG__V1__CREATE_UNIT_REQUEST__INIT;
  req.unit = &u;
  Shegong__V1__Unit *r = call_ok(c, "Units/Create", &req.base);
  assert_true(r->id > 0);
  assert_string_equal(r->code, code);
  assert_int_equal(r->kind, kind);
  free_msg(r);
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

/* A worker of unit (a town for a town-centre worker), born 1990, with a fresh ID number. */
static uint64_t worker_new(fx *f, const char *name, const char *unit, int role, int category,
                           const char *hire) {
  char idno[19];
  make_idno(idno, DISTRICT, "19900315", 100 + f->seq++);
  worker_t w = SHEGONG__V1__WORKER__INIT;
  w.name = (char *)name;
  w.id_number = idno;
  w.unit_code = (char *)unit;
  w.category = (Shegong__V1__Category)category;
  w.role = (Shegong__V1__Role)role;
  w.hire_date = (char *)hire;
  Shegong__V1__CreateWorkerRequest req = SHEGONG__V1__CREATE_WORKER_REQUEST__INIT;
  req.worker = &w;
  worker_t *r = call_ok(f->c, "Workers/Create", &req.base);
  uint64_t id = r->id;
  assert_true(id > 0);
  assert_string_equal(r->unit_code, unit);
  assert_int_equal(r->status, ST_ACTIVE);
  free_msg(r);
  return id;
}

/* A community-based generalist hired long ago. */
static uint64_t worker_plain(fx *f, const char *name, const char *unit) {
  return worker_new(f, name, unit, R_GENERALIST, CAT_COMMUNITY, OLD_HIRE);
}

static worker_t *worker_get(sg_client *c, uint64_t id) {
  Shegong__V1__GetWorkerRequest req = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
  req.id = id;
  return call_ok(c, "Workers/Get", &req.base);
}

/* The worker must be in unit (and town) with this status. */
static worker_t *expect_worker(sg_client *c, uint64_t id, const char *unit, const char *town,
                               int status) {
  worker_t *w = worker_get(c, id);
  if (strcmp(w->unit_code, unit) != 0 || strcmp(w->town_code, town) != 0 ||
      (int)w->status != status)
    print_message("worker %llu is in %s (%s), status %d; want %s (%s), status %d\n",
                  (unsigned long long)id, w->unit_code, w->town_code, (int)w->status, unit, town,
                  status);
  assert_string_equal(w->unit_code, unit);
  assert_string_equal(w->town_code, town);
  assert_int_equal(w->status, status);
  return w;
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

static Shegong__V1__WorkerHistoryResponse *history(sg_client *c, uint64_t id, const char *on) {
  Shegong__V1__WorkerHistoryRequest req = SHEGONG__V1__WORKER_HISTORY_REQUEST__INIT;
  req.id = id;
  req.on = (char *)(on ? on : "");
  return call_ok(c, "Workers/History", &req.base);
}

static void print_history(const Shegong__V1__WorkerHistoryResponse *h) {
  for (size_t i = 0; i < h->n_entries; i++)
    print_message("  history %zu: %s %s status %d role %d cause \"%s\" transfer %llu\n", i,
                  h->entries[i]->effective_date, h->entries[i]->unit_code,
                  (int)h->entries[i]->status, (int)h->entries[i]->role, h->entries[i]->cause,
                  (unsigned long long)h->entries[i]->transfer_id);
}

/* A town operator's client for town (closed by teardown). */
static sg_client *town_client(fx *f, const char *town) {
  assert_true(f->n_town_c < TOWN_CLIENTS);
  sg_client *c = operator_client(&f->srv, f->c, town, "街道办公室");
  f->town_c[f->n_town_c++] = c;
  return c;
}

/* ---- transfers ---------------------------------------------------------------- */

static void tr_fill(transfer_t *t, int kind, uint64_t worker, const char *to_unit, const char *eff,
                    const char *end) {
  shegong__v1__transfer__init(t);
  t->kind = (Shegong__V1__TransferKind)kind;
  t->worker_id = worker;
  t->to_unit_code = (char *)(to_unit ? to_unit : "");
  t->effective_date = (char *)(eff ? eff : "");
  t->end_date = (char *)(end ? end : "");
  t->reason = (char *)"工作需要";
}

static transfer_t *propose(sg_client *c, const transfer_t *t) {
  Shegong__V1__ProposeTransferRequest req = SHEGONG__V1__PROPOSE_TRANSFER_REQUEST__INIT;
  req.transfer = (transfer_t *)t;
  transfer_t *r = call_ok(c, "Transfers/Propose", &req.base);
  assert_true(r->id > 0);
  assert_int_equal(r->state, S_PROPOSED);
  assert_int_equal(r->kind, t->kind);
  assert_int_equal(r->worker_id, t->worker_id);
  assert_int_equal(r->version, 1);
  assert_int_equal(r->n_approved, 0);
  assert_int_equal(r->n_events, 1);
  assert_int_equal(r->events[0]->state, S_PROPOSED);
  assert_true(r->worker_name[0] != 0);
  return r;
}

static void propose_fails(sg_client *c, const transfer_t *t, int code, sg_status *st) {
  Shegong__V1__ProposeTransferRequest req = SHEGONG__V1__PROPOSE_TRANSFER_REQUEST__INIT;
  req.transfer = (transfer_t *)t;
  call_fails(c, "Transfers/Propose", &req.base, code, st);
}

static void propose_violates(sg_client *c, const transfer_t *t, const char *field) {
  Shegong__V1__ProposeTransferRequest req = SHEGONG__V1__PROPOSE_TRANSFER_REQUEST__INIT;
  req.transfer = (transfer_t *)t;
  call_violates(c, "Transfers/Propose", &req.base, field);
}

static void decide_fill(Shegong__V1__DecideTransferRequest *req, uint64_t id, uint64_t version,
                        int party, const char *note) {
  shegong__v1__decide_transfer_request__init(req);
  req->id = id;
  req->expected_version = version;
  req->party = (Shegong__V1__Party)party;
  req->note = (char *)(note ? note : "");
}

static transfer_t *approve(sg_client *c, uint64_t id, uint64_t version, int party) {
  Shegong__V1__DecideTransferRequest req;
  decide_fill(&req, id, version, party, "同意");
  transfer_t *r = call_ok(c, "Transfers/Approve", &req.base);
  assert_int_equal(r->id, id);
  assert_true(r->version > version);
  return r;
}

static void approve_fails(sg_client *c, uint64_t id, uint64_t version, int party, int code) {
  Shegong__V1__DecideTransferRequest req;
  decide_fill(&req, id, version, party, "同意");
  sg_status st;
  call_fails(c, "Transfers/Approve", &req.base, code, &st);
}

static transfer_t *tr_get(sg_client *c, uint64_t id) {
  Shegong__V1__GetTransferRequest req = SHEGONG__V1__GET_TRANSFER_REQUEST__INIT;
  req.id = id;
  transfer_t *t = call_ok(c, "Transfers/Get", &req.base);
  assert_int_equal(t->id, id);
  return t;
}

static uint64_t tr_version(sg_client *c, uint64_t id) {
  transfer_t *t = tr_get(c, id);
  uint64_t v = t->version;
  free_msg(t);
  return v;
}

static Shegong__V1__ListTransfersResponse *tr_list(sg_client *c, uint64_t worker, const char *town,
                                                   int state, int kind, uint64_t batch) {
  Shegong__V1__ListTransfersRequest req = SHEGONG__V1__LIST_TRANSFERS_REQUEST__INIT;
  req.worker_id = worker;
  req.town_code = (char *)(town ? town : "");
  req.state = (Shegong__V1__TransferState)state;
  req.kind = (Shegong__V1__TransferKind)kind;
  req.batch_id = batch;
  return call_ok(c, "Transfers/List", &req.base);
}

static size_t tr_count(sg_client *c, uint64_t worker, const char *town, int state, int kind,
                       uint64_t batch) {
  Shegong__V1__ListTransfersResponse *l = tr_list(c, worker, town, state, kind, batch);
  size_t n = l->n_transfers;
  free_msg(l);
  return n;
}

static transfer_t *tr_end(sg_client *c, uint64_t id, uint64_t version, int convert) {
  Shegong__V1__EndTransferRequest req = SHEGONG__V1__END_TRANSFER_REQUEST__INIT;
  req.id = id;
  req.expected_version = version;
  req.convert = convert;
  transfer_t *t = call_ok(c, "Transfers/End", &req.base);
  assert_int_equal(t->id, id);
  return t;
}

static void tr_end_fails(sg_client *c, uint64_t id, uint64_t version, int convert, int code,
                         sg_status *st) {
  Shegong__V1__EndTransferRequest req = SHEGONG__V1__END_TRANSFER_REQUEST__INIT;
  req.id = id;
  req.expected_version = version;
  req.convert = convert;
  call_fails(c, "Transfers/End", &req.base, code, st);
}

static void print_transfer(const transfer_t *t) {
  print_message("transfer %llu: kind %d state %d version %llu %s -> %s eff %s end %s applied %s\n",
                (unsigned long long)t->id, (int)t->kind, (int)t->state,
                (unsigned long long)t->version, t->from_unit_code, t->to_unit_code,
                t->effective_date, t->end_date, t->applied_on);
  for (size_t i = 0; i < t->n_events; i++)
    print_message("  event %zu: state %d party %d by \"%s\" at %s note \"%s\"\n", i,
                  (int)t->events[i]->state, (int)t->events[i]->party, t->events[i]->by,
                  t->events[i]->at, t->events[i]->note);
}

static void expect_state(const transfer_t *t, int state) {
  if ((int)t->state != state) {
    print_message("transfer %llu is in state %d, want %d\n", (unsigned long long)t->id,
                  (int)t->state, state);
    print_transfer(t);
  }
  assert_int_equal(t->state, state);
}

/* Event i of t has this state and party, an actor and a time. */
static void expect_event(const transfer_t *t, size_t i, int state, int party) {
  if (i >= t->n_events || (int)t->events[i]->state != state || (int)t->events[i]->party != party) {
    print_message("event %zu: want state %d party %d\n", i, state, party);
    print_transfer(t);
  }
  assert_true(i < t->n_events);
  assert_int_equal(t->events[i]->state, state);
  assert_int_equal(t->events[i]->party, party);
  assert_true(t->events[i]->by[0] != 0);
  assert_int_equal(strlen(t->events[i]->at), 20); /* "YYYY-MM-DDTHH:MM:SSZ" */
  assert_int_equal(t->events[i]->at[19], 'Z');
  if (i > 0) assert_true(strcmp(t->events[i - 1]->at, t->events[i]->at) <= 0);
}

static void expect_parties(const Shegong__V1__Party *list, size_t n, const int *want, size_t n_want) {
  assert_int_equal(n, n_want);
  for (size_t i = 0; i < n; i++) assert_int_equal(list[i], want[i]);
}

/* Proposes t (a transfer within one town) and approves it for the origin town. */
static transfer_t *propose_and_approve(sg_client *c, const transfer_t *t) {
  transfer_t *p = propose(c, t);
  uint64_t id = p->id, v = p->version;
  assert_int_equal(p->n_required, 1);
  free_msg(p);
  return approve(c, id, v, P_NEXT);
}

/* ---- sync ---------------------------------------------------------------------- */

/* The last change of the record (record_case, id) in p, or NULL. */
static const Shegong__V1__Change *last_change(const pulled *p, int record_case, uint64_t id) {
  const Shegong__V1__Change *found = NULL;
  for (size_t i = 0; i < p->n; i++)
    if ((int)p->changes[i]->record_case == record_case && p->changes[i]->id == id)
      found = p->changes[i];
  return found;
}

static int concerns(const Shegong__V1__Change *ch, const char *town) {
  for (size_t i = 0; i < ch->n_towns; i++)
    if (strcmp(ch->towns[i], town) == 0) return 1;
  return 0;
}

/* ---- setup ----------------------------------------------------------------------- */

static int connect_admin(fx *f, hs_server *s) {
  sg_status st;
  if (sg_client_connect(&f->c, s->addr, 5000, &st) != 0) {
    fprintf(stderr, "connect %s: %s: %s\n", s->addr, sg_code_name(st.code), st.message);
    return -1;
  }
  return 0;
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (!f) return -1;
  dates_init();
  ymd(OLD_HIRE, Y - 8, 6, 1);
  if (hs_server_start(&f->srv, NULL, NULL) != 0) {
    hs_server_cleanup(&f->srv);
    free(f);
    return -1;
  }
  if (connect_admin(f, &f->srv) != 0) {
    hs_server_print_log(&f->srv, 40);
    hs_server_cleanup(&f->srv);
    free(f);
    return -1;
  }
  *state = f;
  /* the district: three towns; town A with two communities and two villages */
  unit_make(f->c, SHEGONG__V1__UNIT_KIND__DISTRICT, DISTRICT, "崇川区");
  unit_make(f->c, SHEGONG__V1__UNIT_KIND__TOWN, TOWN_A, "和平桥街道");
  unit_make(f->c, SHEGONG__V1__UNIT_KIND__COMMUNITY, COMM_A1, "桃园社区");
  unit_make(f->c, SHEGONG__V1__UNIT_KIND__COMMUNITY, COMM_A2, "青年社区");
  unit_make(f->c, SHEGONG__V1__UNIT_KIND__VILLAGE, VILL_A1, "五一村");
  unit_make(f->c, SHEGONG__V1__UNIT_KIND__VILLAGE, VILL_A2, "长桥村");
  unit_make(f->c, SHEGONG__V1__UNIT_KIND__TOWN, TOWN_B, "任港街道");
  unit_make(f->c, SHEGONG__V1__UNIT_KIND__COMMUNITY, COMM_B1, "北濠社区");
  unit_make(f->c, SHEGONG__V1__UNIT_KIND__VILLAGE, VILL_B1, "新桥村");
  unit_make(f->c, SHEGONG__V1__UNIT_KIND__TOWN, TOWN_C, "观音山街道");
  unit_make(f->c, SHEGONG__V1__UNIT_KIND__COMMUNITY, COMM_C1, "钟秀社区");
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  int rc = 0;
  if (f->ra) sg_replica_close(f->ra);
  if (f->rb) sg_replica_close(f->rb);
  for (size_t i = 0; i < f->n_town_c; i++) sg_client_close(f->town_c[i]);
  if (f->c) sg_client_close(f->c);
  /* the restarted server first: it runs on the first one's data */
  if (stop_test_server(&f->srv2, f->done, "transfer")) rc = -1;
  if (stop_test_server(&f->srv, f->done, "transfer")) rc = -1;
  /* the restarted server's data is the first one's: remove that last */
  if (f->srv2.tmp[0]) hs_server_cleanup(&f->srv2);
  hs_server_cleanup(&f->srv);
  free(f);
  return rc;
}

/* ======================================================================== */
/* 1. 居村交流 within a town. */

static void test_exchange(void **state) {
  fx *f = FX(state);
  sg_status st;
  char yesterday[11];
  today_plus(yesterday, -1);
  uint64_t w = worker_plain(f, "张伟", COMM_A1);

  transfer_t t;
  tr_fill(&t, K_EXCHANGE, w, VILL_A1, TODAY, NULL);
  transfer_t *p = propose(f->c, &t);
  uint64_t id = p->id;
  assert_string_equal(p->from_unit_code, COMM_A1);
  assert_string_equal(p->from_town_code, TOWN_A);
  assert_int_equal(p->from_role, R_GENERALIST);
  assert_string_equal(p->to_unit_code, VILL_A1);
  assert_string_equal(p->to_town_code, TOWN_A);
  assert_true(p->from_town_id > 0);
  assert_int_equal(p->to_town_id, p->from_town_id);
  assert_string_equal(p->effective_date, TODAY);
  assert_string_equal(p->reason, "工作需要");
  assert_string_equal(p->applied_on, "");
  static const int one[] = {P_ORIGIN};
  expect_parties(p->required, p->n_required, one, 1);
  expect_event(p, 0, S_PROPOSED, 0);
  assert_true(p->created_at[0] != 0);
  uint64_t v = p->version;
  free_msg(p);

  /* a second proposal while this one is open */
  transfer_t t2;
  tr_fill(&t2, K_EXCHANGE, w, VILL_A2, TODAY, NULL);
  propose_fails(f->c, &t2, C_PRECOND, &st);

  /* one party: the origin town; the date is today, so it takes effect at once */
  transfer_t *a = approve(f->c, id, v, P_NEXT);
  expect_state(a, S_EFFECTIVE);
  assert_string_equal(a->applied_on, TODAY);
  expect_parties(a->approved, a->n_approved, one, 1);
  assert_int_equal(a->n_events, 3);
  expect_event(a, 0, S_PROPOSED, 0);
  expect_event(a, 1, S_APPROVED, P_ORIGIN);
  expect_event(a, 2, S_EFFECTIVE, 0);
  free_msg(a);

  worker_t *wr = expect_worker(f->c, w, VILL_A1, TOWN_A, ST_ACTIVE);
  assert_int_equal(wr->category, CAT_COMMUNITY);
  assert_int_equal(wr->role, R_GENERALIST);
  free_msg(wr);

  /* the history: hired, then the transfer */
  Shegong__V1__WorkerHistoryResponse *h = history(f->c, w, NULL);
  if (h->n_entries != 2) print_history(h);
  assert_int_equal(h->n_entries, 2);
  assert_string_equal(h->entries[0]->cause, "hired");
  assert_string_equal(h->entries[0]->effective_date, OLD_HIRE);
  assert_string_equal(h->entries[0]->unit_code, COMM_A1);
  assert_int_equal(h->entries[0]->transfer_id, 0);
  char cause[64];
  snprintf(cause, sizeof cause, "transfer %llu", (unsigned long long)id);
  if (!strstr(h->entries[1]->cause, cause)) print_history(h);
  assert_non_null(strstr(h->entries[1]->cause, cause));
  assert_int_equal(h->entries[1]->transfer_id, id);
  assert_string_equal(h->entries[1]->unit_code, VILL_A1);
  assert_string_equal(h->entries[1]->town_code, TOWN_A);
  assert_string_equal(h->entries[1]->effective_date, TODAY);
  assert_int_equal(h->entries[1]->worker_id, w);
  free_msg(h);
  /* where the worker was yesterday, and is today */
  h = history(f->c, w, yesterday);
  assert_int_equal(h->n_entries, 1);
  assert_string_equal(h->entries[0]->unit_code, COMM_A1);
  free_msg(h);
  h = history(f->c, w, TODAY);
  assert_int_equal(h->n_entries, 1);
  assert_string_equal(h->entries[0]->unit_code, VILL_A1);
  assert_int_equal(h->entries[0]->transfer_id, id);
  free_msg(h);
  {
    char before_hire_day[11];
    ymd(before_hire_day, Y - 9, 3, 1);
    Shegong__V1__WorkerHistoryRequest hr = SHEGONG__V1__WORKER_HISTORY_REQUEST__INIT;
    hr.id = w;
    hr.on = before_hire_day;
    call_fails(f->c, "Workers/History", &hr.base, C_NOT_FOUND, &st);
  }

  /* the transfer is no longer open: the worker may be proposed again (back) */
  tr_fill(&t2, K_EXCHANGE, w, COMM_A2, TODAY, NULL);
  transfer_t *back = propose(f->c, &t2);
  assert_string_equal(back->from_unit_code, VILL_A1);
  free_msg(back);

  /* refusals: community to community */
  uint64_t w2 = worker_plain(f, "李娜", COMM_A1);
  tr_fill(&t, K_EXCHANGE, w2, COMM_A2, TODAY, NULL);
  propose_violates(f->c, &t, "transfer.to_unit_code");
  /* ... a village to a village likewise */
  uint64_t wv = worker_plain(f, "周强", VILL_A2);
  tr_fill(&t, K_EXCHANGE, wv, VILL_A1, TODAY, NULL);
  propose_violates(f->c, &t, "transfer.to_unit_code");
  /* no reason; no effective date */
  tr_fill(&t, K_EXCHANGE, w2, VILL_A2, TODAY, NULL);
  t.reason = (char *)"";
  propose_violates(f->c, &t, "transfer.reason");
  tr_fill(&t, K_EXCHANGE, w2, VILL_A2, NULL, NULL);
  propose_violates(f->c, &t, "transfer.effective_date");
  /* an effective date before the hire */
  char before_hire[11];
  ymd(before_hire, Y - 9, 1, 10);
  tr_fill(&t, K_EXCHANGE, w2, VILL_A2, before_hire, NULL);
  propose_violates(f->c, &t, "transfer.effective_date");
  /* no such unit */
  tr_fill(&t, K_EXCHANGE, w2, "320602001299", TODAY, NULL);
  propose_violates(f->c, &t, "transfer.to_unit_code");
  /* an end date is for rotations and placements */
  char later[11];
  tr_fill(&t, K_EXCHANGE, w2, VILL_A2, TODAY, today_plus(later, 100));
  propose_violates(f->c, &t, "transfer.end_date");
  /* a leaver */
  uint64_t gone = worker_plain(f, "王芳", COMM_A1);
  worker_leave(f->c, gone, TODAY);
  tr_fill(&t, K_EXCHANGE, gone, VILL_A1, TODAY, NULL);
  propose_fails(f->c, &t, C_PRECOND, &st);
  /* approved when the worker has changed meanwhile: the Approve answer is FAILED */
  uint64_t w3 = worker_plain(f, "邓超", COMM_A1);
  tr_fill(&t, K_EXCHANGE, w3, VILL_A2, TODAY, NULL);
  p = propose(f->c, &t);
  uint64_t id3 = p->id, v3 = p->version;
  free_msg(p);
  worker_t *before3 = worker_get(f->c, w3);
  Shegong__V1__UpdateWorkerRequest up = SHEGONG__V1__UPDATE_WORKER_REQUEST__INIT;
  worker_t nw = SHEGONG__V1__WORKER__INIT;
  nw.unit_code = (char *)COMM_A2;
  char *mask[1] = {(char *)"unit_code"};
  up.id = w3;
  up.expected_version = before3->version;
  up.worker = &nw;
  up.update_mask = mask;
  up.n_update_mask = 1;
  free_msg(before3);
  worker_t *moved = call_ok(f->c, "Workers/Update", &up.base);
  uint64_t moved_version = moved->version;
  free_msg(moved);
  a = approve(f->c, id3, v3, P_NEXT);
  expect_state(a, S_FAILED);
  assert_string_equal(a->applied_on, "");
  expect_event(a, a->n_events - 1, S_FAILED, 0);
  assert_true(a->events[a->n_events - 1]->note[0] != 0);
  free_msg(a);
  wr = expect_worker(f->c, w3, COMM_A2, TOWN_A, ST_ACTIVE);
  assert_int_equal(wr->version, moved_version);
  free_msg(wr);
  /* ... or has left meanwhile */
  uint64_t w4 = worker_plain(f, "邹静", VILL_A2);
  tr_fill(&t, K_EXCHANGE, w4, COMM_A2, TODAY, NULL);
  p = propose(f->c, &t);
  uint64_t id4 = p->id, v4 = p->version;
  free_msg(p);
  worker_leave(f->c, w4, TODAY);
  a = approve(f->c, id4, v4, P_NEXT);
  expect_state(a, S_FAILED);
  if (!strstr(a->events[a->n_events - 1]->note, "left")) print_transfer(a);
  assert_non_null(strstr(a->events[a->n_events - 1]->note, "left"));
  free_msg(a);
  wr = expect_worker(f->c, w4, VILL_A2, TOWN_A, SHEGONG__V1__WORKER_STATUS__LEFT);
  free_msg(wr);

  /* none of the refusals left a transfer behind */
  assert_int_equal(tr_count(f->c, w2, NULL, 0, 0, 0), 0);
  assert_int_equal(tr_count(f->c, gone, NULL, 0, 0, 0), 0);
  assert_int_equal(tr_count(f->c, w, NULL, 0, 0, 0), 2);
  f->done = 1;
}

/* ======================================================================== */
/* 2. 跨街镇交流: three parties in order, each by its own token. */

static void test_cross_town(void **state) {
  fx *f = FX(state);
  sg_status st;
  sg_client *op_a = town_client(f, TOWN_A);
  sg_client *op_b = town_client(f, TOWN_B);
  sg_client *op_c = town_client(f, TOWN_C);
  uint64_t w = worker_plain(f, "陈静", COMM_A1);
  uint64_t w2 = worker_plain(f, "刘洋", COMM_A2);
  uint64_t w3 = worker_plain(f, "赵敏", COMM_A2);

  pulled before;
  pull(f->c, "", 0, &before);
  uint64_t head0 = before.head;
  pulled_free(&before);

  /* a cross-town kind needs another town */
  transfer_t t;
  tr_fill(&t, K_CROSS, w, VILL_A1, TODAY, NULL);
  propose_violates(f->c, &t, "transfer.to_unit_code");

  tr_fill(&t, K_CROSS, w, COMM_B1, TODAY, NULL);
  transfer_t *p = propose(op_a, &t);
  uint64_t id = p->id, v = p->version;
  static const int three[] = {P_ORIGIN, P_DEST, P_DISTRICT};
  expect_parties(p->required, p->n_required, three, 3);
  assert_string_equal(p->from_town_code, TOWN_A);
  assert_string_equal(p->to_town_code, TOWN_B);
  assert_true(p->from_town_id != p->to_town_id);
  assert_non_null(strstr(p->events[0]->by, "town_operator"));
  free_msg(p);

  /* the district first: out of order */
  approve_fails(f->c, id, v, P_DISTRICT, C_PRECOND);
  /* a third town's operator */
  approve_fails(op_c, id, v, P_NEXT, C_PERM);
  approve_fails(op_c, id, v, P_ORIGIN, C_PERM);
  /* a stale version */
  approve_fails(op_a, id, v + 1, P_NEXT, C_ABORTED);
  /* a party that does not approve this transfer: a request's own words */
  {
    Shegong__V1__DecideTransferRequest req;
    decide_fill(&req, id, v, 9, NULL);
    call_violates(f->c, "Transfers/Approve", &req.base, "party");
  }
  assert_int_equal(tr_version(f->c, id), v);

  /* the origin town */
  transfer_t *a = approve(op_a, id, v, P_NEXT);
  expect_state(a, S_PROPOSED);
  static const int first[] = {P_ORIGIN};
  expect_parties(a->approved, a->n_approved, first, 1);
  expect_event(a, 1, S_APPROVED, P_ORIGIN);
  assert_non_null(strstr(a->events[1]->by, "town_operator"));
  v = a->version;
  free_msg(a);
  /* ... again: already approved */
  approve_fails(op_a, id, v, P_ORIGIN, C_PRECOND);
  /* the origin town's operator cannot speak for the destination */
  approve_fails(op_a, id, v, P_DEST, C_PERM);
  approve_fails(op_a, id, v, P_NEXT, C_PERM);
  /* the destination town cannot approve for the district either */
  a = approve(op_b, id, v, P_DEST);
  expect_state(a, S_PROPOSED);
  static const int two[] = {P_ORIGIN, P_DEST};
  expect_parties(a->approved, a->n_approved, two, 2);
  expect_event(a, 2, S_APPROVED, P_DEST);
  v = a->version;
  free_msg(a);
  approve_fails(op_b, id, v, P_DISTRICT, C_PERM);
  approve_fails(op_a, id, v, P_DISTRICT, C_PERM);
  /* the worker has not moved yet */
  worker_t *wr = expect_worker(f->c, w, COMM_A1, TOWN_A, ST_ACTIVE);
  free_msg(wr);

  /* the district: the last party; due today, so effective */
  a = approve(f->c, id, v, P_NEXT);
  expect_state(a, S_EFFECTIVE);
  expect_parties(a->approved, a->n_approved, three, 3);
  assert_int_equal(a->n_events, 5);
  expect_event(a, 0, S_PROPOSED, 0);
  expect_event(a, 1, S_APPROVED, P_ORIGIN);
  expect_event(a, 2, S_APPROVED, P_DEST);
  expect_event(a, 3, S_APPROVED, P_DISTRICT);
  expect_event(a, 4, S_EFFECTIVE, 0);
  assert_string_equal(a->applied_on, TODAY);
  uint64_t final_version = a->version;
  free_msg(a);

  wr = expect_worker(f->c, w, COMM_B1, TOWN_B, ST_ACTIVE);
  assert_int_equal(wr->category, CAT_COMMUNITY);
  free_msg(wr);

  /* both towns' pulls carry the transfer (as it stands now) and the worker */
  const char *towns[2] = {TOWN_A, TOWN_B};
  sg_client *ops[2] = {op_a, op_b};
  for (int i = 0; i < 2; i++) {
    pulled pl;
    pull(ops[i], towns[i], head0, &pl);
    const Shegong__V1__Change *ch = last_change(&pl, SHEGONG__V1__CHANGE__RECORD_TRANSFER, id);
    if (!ch) print_message("no transfer %llu in town %s's pull\n", (unsigned long long)id, towns[i]);
    assert_non_null(ch);
    assert_int_equal(ch->entity, SHEGONG__V1__ENTITY__ENTITY_TRANSFER);
    assert_int_equal(ch->op, SHEGONG__V1__CHANGE_OP__CHANGE_UPDATE);
    assert_int_equal(ch->version, final_version);
    assert_true(concerns(ch, TOWN_A));
    assert_true(concerns(ch, TOWN_B));
    assert_false(concerns(ch, TOWN_C));
    assert_non_null(ch->transfer);
    assert_int_equal(ch->transfer->state, S_EFFECTIVE);
    const Shegong__V1__Change *wc = last_change(&pl, SHEGONG__V1__CHANGE__RECORD_WORKER, w);
    assert_non_null(wc);
    assert_string_equal(wc->worker->town_code, TOWN_B);
    assert_true(concerns(wc, TOWN_A) && concerns(wc, TOWN_B));
    pulled_free(&pl);
  }
  /* a third town's pull does not */
  {
    pulled pl;
    pull(op_c, TOWN_C, head0, &pl);
    assert_null(last_change(&pl, SHEGONG__V1__CHANGE__RECORD_TRANSFER, id));
    pulled_free(&pl);
  }

  /* the worker is the destination's now */
  Shegong__V1__GetWorkerRequest g = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
  g.id = w;
  free_msg(call_ok(op_b, "Workers/Get", &g.base));
  call_fails(op_a, "Workers/Get", &g.base, C_PERM, &st);
  call_fails(op_c, "Workers/Get", &g.base, C_PERM, &st);
  /* the transfer stays visible to both towns, not to a third */
  free_msg(tr_get(op_a, id));
  free_msg(tr_get(op_b, id));
  Shegong__V1__GetTransferRequest tg = SHEGONG__V1__GET_TRANSFER_REQUEST__INIT;
  tg.id = id;
  call_fails(op_c, "Transfers/Get", &tg.base, C_PERM, &st);
  assert_int_equal(tr_count(op_a, 0, TOWN_A, 0, 0, 0), 1);
  assert_int_equal(tr_count(op_b, 0, TOWN_B, 0, 0, 0), 1);
  assert_int_equal(tr_count(op_c, 0, NULL, 0, 0, 0), 0);

  /* the destination town asks for another town's worker */
  tr_fill(&t, K_CROSS, w2, VILL_B1, TODAY, NULL);
  p = propose(op_b, &t);
  assert_string_equal(p->from_town_code, TOWN_A);
  assert_string_equal(p->to_town_code, TOWN_B);
  expect_parties(p->required, p->n_required, three, 3);
  uint64_t id2 = p->id;
  free_msg(p);
  free_msg(tr_get(op_a, id2));
  /* a third town may not propose a move between two others */
  tr_fill(&t, K_CROSS, w3, COMM_B1, TODAY, NULL);
  propose_fails(op_c, &t, C_PERM, &st);
  /* nor move a town's worker without saying where to (its own town) */
  tr_fill(&t, K_CROSS, w3, NULL, TODAY, NULL);
  propose_fails(op_c, &t, C_PERM, &st);
  assert_int_equal(tr_count(f->c, w3, NULL, 0, 0, 0), 0);
  /* 居村交流 across towns needs the three parties too */
  uint64_t w5 = worker_plain(f, "欧阳明", COMM_A2);
  tr_fill(&t, K_EXCHANGE, w5, VILL_B1, TODAY, NULL);
  p = propose(f->c, &t);
  expect_parties(p->required, p->n_required, three, 3);
  free_msg(p);
  /* to another town's centre: the worker becomes town-centre staff */
  uint64_t w6 = worker_plain(f, "司马光", VILL_A1);
  tr_fill(&t, K_CROSS, w6, TOWN_C, TODAY, NULL);
  p = propose(f->c, &t);
  uint64_t id6 = p->id;
  v = p->version;
  free_msg(p);
  for (int i = 0; i < 3; i++) {
    a = approve(f->c, id6, v, P_NEXT);
    v = a->version;
    expect_state(a, i < 2 ? S_PROPOSED : S_EFFECTIVE);
    free_msg(a);
  }
  wr = expect_worker(f->c, w6, TOWN_C, TOWN_C, ST_ACTIVE);
  assert_int_equal(wr->category, CAT_TOWN_CENTRE);
  free_msg(wr);
  /* the worker's own town may propose it for any other town */
  tr_fill(&t, K_CROSS, w3, COMM_C1, TODAY, NULL);
  p = propose(op_a, &t);
  assert_string_equal(p->to_town_code, TOWN_C);
  free_msg(p);
  f->done = 1;
}

/* ======================================================================== */
/* 3. 轮岗: to a village for a period, then back or for good. */

static void test_rotation(void **state) {
  fx *f = FX(state);
  sg_status st;
  char end[11], far[11];
  today_plus(end, 365);
  uint64_t w = worker_plain(f, "孙丽", COMM_A1);

  transfer_t t;
  /* an end date is required, after the effective date, at most three years on */
  tr_fill(&t, K_ROTATION, w, VILL_A1, TODAY, NULL);
  propose_violates(f->c, &t, "transfer.end_date");
  tr_fill(&t, K_ROTATION, w, VILL_A1, TODAY, TODAY);
  propose_violates(f->c, &t, "transfer.end_date");
  tr_fill(&t, K_ROTATION, w, VILL_A1, TODAY, today_plus(far, -5));
  propose_violates(f->c, &t, "transfer.end_date");
  tr_fill(&t, K_ROTATION, w, VILL_A1, TODAY, today_plus(far, 4 * 366));
  propose_violates(f->c, &t, "transfer.end_date");
  /* to a village only */
  tr_fill(&t, K_ROTATION, w, COMM_A2, TODAY, end);
  propose_violates(f->c, &t, "transfer.to_unit_code");
  tr_fill(&t, K_ROTATION, w, TOWN_A, TODAY, end);
  propose_violates(f->c, &t, "transfer.to_unit_code");
  /* a mentor is a placement's */
  tr_fill(&t, K_ROTATION, w, VILL_A1, TODAY, end);
  t.mentor_id = w;
  propose_violates(f->c, &t, "transfer.mentor_id");
  assert_int_equal(tr_count(f->c, w, NULL, 0, 0, 0), 0);

  /* a rotation that returns */
  tr_fill(&t, K_ROTATION, w, VILL_A1, TODAY, end);
  transfer_t *a = propose_and_approve(f->c, &t);
  expect_state(a, S_EFFECTIVE);
  assert_string_equal(a->end_date, end);
  uint64_t id = a->id, v = a->version;
  free_msg(a);
  worker_t *wr = expect_worker(f->c, w, VILL_A1, TOWN_A, ST_ROTATING);
  free_msg(wr);

  /* away: no second rotation, nor another transfer */
  tr_fill(&t, K_ROTATION, w, VILL_A2, TODAY, end);
  propose_fails(f->c, &t, C_PRECOND, &st);
  tr_fill(&t, K_ROLE, w, NULL, TODAY, NULL);
  t.to_role = R_SECRETARY;
  propose_fails(f->c, &t, C_PRECOND, &st);

  /* End needs the version; an end in the future is refused */
  tr_end_fails(f->c, id, 0, 0, C_INVALID, &st);
  assert_true(has_violation(&st, "expected_version"));
  {
    Shegong__V1__EndTransferRequest req = SHEGONG__V1__END_TRANSFER_REQUEST__INIT;
    char tomorrow[11];
    req.id = id;
    req.expected_version = v;
    req.end_date = today_plus(tomorrow, 1);
    call_violates(f->c, "Transfers/End", &req.base, "end_date");
  }
  transfer_t *e = tr_end(f->c, id, v, 0);
  expect_state(e, S_ENDED);
  assert_false(e->converted);
  assert_string_equal(e->ended_on, TODAY);
  expect_event(e, e->n_events - 1, S_ENDED, 0);
  v = e->version;
  free_msg(e);
  wr = expect_worker(f->c, w, COMM_A1, TOWN_A, ST_ACTIVE);
  free_msg(wr);
  /* ended once: not again */
  tr_end_fails(f->c, id, v, 0, C_PRECOND, &st);

  /* the history: hired, away, back */
  Shegong__V1__WorkerHistoryResponse *h = history(f->c, w, NULL);
  if (h->n_entries != 3) print_history(h);
  assert_int_equal(h->n_entries, 3);
  assert_int_equal(h->entries[1]->status, ST_ROTATING);
  assert_string_equal(h->entries[1]->unit_code, VILL_A1);
  assert_int_equal(h->entries[1]->transfer_id, id);
  assert_int_equal(h->entries[2]->status, ST_ACTIVE);
  assert_string_equal(h->entries[2]->unit_code, COMM_A1);
  assert_int_equal(h->entries[2]->transfer_id, id);
  free_msg(h);

  /* a rotation that stays for good */
  tr_fill(&t, K_ROTATION, w, VILL_A2, TODAY, end);
  a = propose_and_approve(f->c, &t);
  expect_state(a, S_EFFECTIVE);
  uint64_t id2 = a->id;
  v = a->version;
  free_msg(a);
  wr = expect_worker(f->c, w, VILL_A2, TOWN_A, ST_ROTATING);
  free_msg(wr);
  e = tr_end(f->c, id2, v, 1);
  expect_state(e, S_ENDED);
  assert_true(e->converted);
  assert_string_equal(e->ended_on, TODAY);
  free_msg(e);
  wr = expect_worker(f->c, w, VILL_A2, TOWN_A, ST_ACTIVE);
  free_msg(wr);

  /* only rotations and placements end */
  uint64_t w2 = worker_plain(f, "钱进", COMM_A2);
  tr_fill(&t, K_EXCHANGE, w2, VILL_A1, TODAY, NULL);
  a = propose_and_approve(f->c, &t);
  expect_state(a, S_EFFECTIVE);
  tr_end_fails(f->c, a->id, a->version, 0, C_PRECOND, &st);
  free_msg(a);
  f->done = 1;
}

/* ======================================================================== */
/* 4. A date ahead: approved, then the scheduler applies it after a restart. */

static void test_scheduler(void **state) {
  fx *f = FX(state);
  sg_status st;
  char tomorrow[11];
  today_plus(tomorrow, 1);
  uint64_t w = worker_plain(f, "吴昊", COMM_A1);
  uint64_t w2 = worker_plain(f, "郑爽", COMM_A2);

  /* more than a year ahead is refused */
  char far[11];
  transfer_t t;
  tr_fill(&t, K_EXCHANGE, w, VILL_A1, today_plus(far, 400), NULL);
  propose_violates(f->c, &t, "transfer.effective_date");

  tr_fill(&t, K_EXCHANGE, w, VILL_A1, tomorrow, NULL);
  transfer_t *a = propose_and_approve(f->c, &t);
  expect_state(a, S_APPROVED);
  assert_string_equal(a->applied_on, "");
  assert_int_equal(a->n_events, 2);
  expect_event(a, 1, S_APPROVED, P_ORIGIN);
  uint64_t id = a->id, v1 = a->version;
  free_msg(a);
  worker_t *wr = expect_worker(f->c, w, COMM_A1, TOWN_A, ST_ACTIVE);
  uint64_t wv = wr->version;
  free_msg(wr);

  /* not yet */
  Shegong__V1__ApplyTransfersRequest ap = SHEGONG__V1__APPLY_TRANSFERS_REQUEST__INIT;
  ap.id = id;
  call_fails(f->c, "Transfers/Apply", &ap.base, C_PRECOND, &st);
  ap.id = 0;
  Shegong__V1__ApplyTransfersResponse *ar = call_ok(f->c, "Transfers/Apply", &ap.base);
  assert_int_equal(ar->n_results, 0);
  free_msg(ar);
  /* approved: no more approvals */
  approve_fails(f->c, id, v1, P_NEXT, C_PRECOND);

  /* the second: approved for tomorrow, then the worker moves another way */
  tr_fill(&t, K_EXCHANGE, w2, VILL_A2, tomorrow, NULL);
  a = propose_and_approve(f->c, &t);
  expect_state(a, S_APPROVED);
  uint64_t id2 = a->id;
  free_msg(a);
  wr = worker_get(f->c, w2);
  Shegong__V1__UpdateWorkerRequest up = SHEGONG__V1__UPDATE_WORKER_REQUEST__INIT;
  worker_t nw = SHEGONG__V1__WORKER__INIT;
  nw.unit_code = (char *)COMM_A1;
  char *mask[1] = {(char *)"unit_code"};
  up.id = w2;
  up.expected_version = wr->version;
  up.worker = &nw;
  up.update_mask = mask;
  up.n_update_mask = 1;
  free_msg(wr);
  wr = call_ok(f->c, "Workers/Update", &up.base);
  assert_string_equal(wr->unit_code, COMM_A1);
  uint64_t w2v = wr->version;
  free_msg(wr);
  Shegong__V1__WorkerHistoryResponse *h = history(f->c, w2, NULL);
  size_t w2_entries = h->n_entries;
  free_msg(h);

  /* the third: approved for tomorrow; its worker's record will be gone (damage) */
  uint64_t w3 = worker_plain(f, "冯涛", COMM_A2);
  tr_fill(&t, K_EXCHANGE, w3, VILL_A2, tomorrow, NULL);
  a = propose_and_approve(f->c, &t);
  uint64_t id3 = a->id;
  free_msg(a);

  /* restart a day later */
  sg_client_close(f->c);
  f->c = NULL;
  int code = hs_server_stop(&f->srv);
  if (code != 0) hs_server_print_log(&f->srv, 40);
  assert_int_equal(code, 0);
  {
    sg_store *store;
    assert_int_equal(sg_store_open(&store, f->srv.data, 0), 0);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(store->env, NULL, 0, &txn), 0);
    uint8_t kb[8];
    sg_key_u64(kb, w3);
    MDB_val k = {8, kb};
    assert_int_equal(mdb_del(txn, store->workers, &k, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    sg_store_close(store);
  }
  const char *args[] = {"--days-ahead", "1", NULL};
  assert_int_equal(hs_server_start(&f->srv2, f->srv.data, args), 0);
  assert_int_equal(connect_admin(f, &f->srv2), 0);

  /* within a few seconds both are decided, without anyone calling Apply */
  transfer_t *g = NULL, *g2 = NULL;
  unsigned long long deadline = hs_now_ms() + 10000;
  for (;;) {
    g = tr_get(f->c, id);
    g2 = tr_get(f->c, id2);
    if ((g->state != S_APPROVED && g2->state != S_APPROVED) || hs_now_ms() >= deadline) break;
    free_msg(g);
    free_msg(g2);
    hs_sleep_ms(200);
  }
  expect_state(g, S_EFFECTIVE);
  assert_string_equal(g->applied_on, tomorrow);
  assert_int_equal(g->n_events, 3);
  expect_event(g, 2, S_EFFECTIVE, 0);
  free_msg(g);
  wr = expect_worker(f->c, w, VILL_A1, TOWN_A, ST_ACTIVE);
  assert_int_equal(wr->version, wv + 1);
  free_msg(wr);
  h = history(f->c, w, NULL);
  assert_int_equal(h->n_entries, 2);
  assert_int_equal(h->entries[1]->transfer_id, id);
  assert_string_equal(h->entries[1]->effective_date, tomorrow);
  free_msg(h);

  /* the other failed whole: the worker is where Update put it */
  expect_state(g2, S_FAILED);
  assert_string_equal(g2->applied_on, "");
  assert_int_equal(g2->n_events, 3);
  expect_event(g2, 2, S_FAILED, 0);
  const char *why = g2->events[2]->note;
  if (!strstr(why, COMM_A1)) print_transfer(g2);
  assert_true(why[0] != 0);
  assert_non_null(strstr(why, COMM_A1)); /* where the worker is now */
  free_msg(g2);
  wr = expect_worker(f->c, w2, COMM_A1, TOWN_A, ST_ACTIVE);
  assert_int_equal(wr->version, w2v);
  free_msg(wr);
  h = history(f->c, w2, NULL);
  if (h->n_entries != w2_entries) print_history(h);
  assert_int_equal(h->n_entries, w2_entries);
  for (size_t i = 0; i < h->n_entries; i++) assert_int_equal(h->entries[i]->transfer_id, 0);
  free_msg(h);
  /* the damaged one failed alone, with the reason, and did not hold up the others */
  transfer_t *g3 = tr_get(f->c, id3);
  expect_state(g3, S_FAILED);
  assert_int_equal(g3->n_events, 3);
  expect_event(g3, 2, S_FAILED, 0);
  if (!strstr(g3->events[2]->note, "cannot take effect")) print_transfer(g3);
  assert_non_null(strstr(g3->events[2]->note, "cannot take effect"));
  free_msg(g3);
  /* decided: nothing left to apply, and the failed one cannot be approved */
  ap.id = 0;
  ar = call_ok(f->c, "Transfers/Apply", &ap.base);
  assert_int_equal(ar->n_results, 0);
  free_msg(ar);
  ap.id = id2;
  call_fails(f->c, "Transfers/Apply", &ap.base, C_PRECOND, &st);
  /* a failed transfer is closed: the worker may be proposed again */
  tr_fill(&t, K_EXCHANGE, w2, VILL_A2, tomorrow, NULL);
  free_msg(propose(f->c, &t));
  f->done = 1;
}

/* ======================================================================== */
/* 5. 转任: full-time grid workers become community workers, in a batch. */

static double year_end(sg_client *c, uint64_t worker, uint32_t year, double superior,
                       double resident) {
  Shegong__V1__Assessment a = SHEGONG__V1__ASSESSMENT__INIT;
  a.worker_id = worker;
  a.kind = SHEGONG__V1__ASSESSMENT_KIND__YEAR_END;
  a.year = year;
  a.superior_score = superior;
  a.resident_score = resident;
  a.assessor = (char *)"和平桥街道考核小组";
  a.assessed_on = TODAY;
  Shegong__V1__RecordAssessmentRequest req = SHEGONG__V1__RECORD_ASSESSMENT_REQUEST__INIT;
  req.assessment = &a;
  Shegong__V1__Assessment *r = call_ok(c, "Assessments/Record", &req.base);
  double s = r->combined_score;
  assert_true(s > 0);
  free_msg(r);
  return s;
}

static void test_conversion(void **state) {
  fx *f = FX(state);
  sg_status st;
  uint32_t last = (uint32_t)Y - 1;
  /* 专职网格员 of town A: four assessed, one not */
  uint64_t g1 = worker_new(f, "冯磊", COMM_A1, R_FULL_TIME_GRID, CAT_TOWN_MANAGED, OLD_HIRE);
  uint64_t g2 = worker_new(f, "褚红", COMM_A1, R_FULL_TIME_GRID, CAT_COMMUNITY, OLD_HIRE);
  uint64_t g3 = worker_new(f, "卫东", COMM_A2, R_FULL_TIME_GRID, CAT_TOWN_MANAGED, OLD_HIRE);
  uint64_t g4 = worker_new(f, "蒋涛", COMM_A2, R_FULL_TIME_GRID, CAT_COMMUNITY, OLD_HIRE);
  uint64_t g5 = worker_new(f, "沈洁", VILL_A1, R_FULL_TIME_GRID, CAT_COMMUNITY, OLD_HIRE);
  /* another town's, and a generalist */
  uint64_t gb = worker_new(f, "韩冰", COMM_B1, R_FULL_TIME_GRID, CAT_COMMUNITY, OLD_HIRE);
  uint64_t gen = worker_plain(f, "杨帆", COMM_A1);
  double s1 = year_end(f->c, g1, last, 95, 90);
  double s2 = year_end(f->c, g2, last, 80, 82);
  double s3 = year_end(f->c, g3, last, 70, 70);
  double s5 = year_end(f->c, g5, last, 78, 77);
  year_end(f->c, gb, last, 99, 99);
  year_end(f->c, gen, last, 99, 99);
  assert_true(s1 > s2 && s2 > s5 && s5 >= 75 && s3 < 75);

  /* a list with one bad row: nothing is proposed */
  Shegong__V1__ProposeConversionsRequest req = SHEGONG__V1__PROPOSE_CONVERSIONS_REQUEST__INIT;
  uint64_t ids[2] = {g3, gen};
  req.town_code = (char *)TOWN_A;
  req.worker_ids = ids;
  req.n_worker_ids = 2;
  req.effective_date = TODAY;
  req.reason = (char *)"两员融合";
  call_fails(f->c, "Transfers/ProposeConversions", &req.base, C_INVALID, &st);
  if (!has_violation(&st, "worker_ids[1]")) print_status("ProposeConversions", &st);
  assert_true(has_violation(&st, "worker_ids[1]"));
  assert_false(has_violation(&st, "worker_ids[0]"));
  assert_int_equal(tr_count(f->c, 0, NULL, S_PROPOSED, 0, 0), 0);
  assert_int_equal(tr_count(f->c, 0, NULL, 0, K_CONVERSION, 0), 0);
  assert_int_equal(tr_count(f->c, g3, NULL, 0, 0, 0), 0);
  /* another town's worker in town A's list */
  ids[1] = gb;
  call_fails(f->c, "Transfers/ProposeConversions", &req.base, C_INVALID, &st);
  assert_true(has_violation(&st, "worker_ids[1]"));
  assert_int_equal(tr_count(f->c, 0, NULL, 0, 0, 0), 0);
  /* the list and the selection together */
  req.n_worker_ids = 1;
  req.year = last;
  call_violates(f->c, "Transfers/ProposeConversions", &req.base, "worker_ids");

  /* another town's operator may not convert town A's workers */
  {
    sg_client *op_b = town_client(f, TOWN_B);
    Shegong__V1__ProposeConversionsRequest other = SHEGONG__V1__PROPOSE_CONVERSIONS_REQUEST__INIT;
    other.town_code = (char *)TOWN_A;
    other.year = last;
    other.min_score = 75;
    other.effective_date = TODAY;
    call_fails(op_b, "Transfers/ProposeConversions", &other.base, C_PERM, &st);
    assert_int_equal(tr_count(f->c, 0, NULL, 0, 0, 0), 0);
  }

  /* the selection: at least 75, at most two, best first */
  req.worker_ids = NULL;
  req.n_worker_ids = 0;
  req.year = last;
  req.min_score = 75;
  req.limit = 2;
  Shegong__V1__ProposeConversionsResponse *r =
      call_ok(f->c, "Transfers/ProposeConversions", &req.base);
  assert_true(r->batch_id > 0);
  if (r->considered != 5) print_message("considered %u, want 5\n", r->considered);
  assert_int_equal(r->considered, 5);
  assert_int_equal(r->n_transfers, 2);
  uint64_t want[2] = {g1, g2};
  double score[2] = {s1, s2};
  uint64_t tid[2];
  for (size_t i = 0; i < 2; i++) {
    transfer_t *x = r->transfers[i];
    assert_int_equal(x->worker_id, want[i]);
    assert_int_equal(x->kind, K_CONVERSION);
    assert_int_equal(x->state, S_PROPOSED);
    assert_int_equal(x->batch_id, r->batch_id);
    assert_true(x->score == score[i]);
    assert_int_equal(x->from_role, R_FULL_TIME_GRID);
    assert_int_equal(x->to_role, R_GRID_WORKER);
    assert_string_equal(x->to_unit_code, x->from_unit_code);
    assert_string_equal(x->effective_date, TODAY);
    tid[i] = x->id;
  }
  uint64_t batch = r->batch_id;
  free_msg(r);
  Shegong__V1__ListTransfersResponse *l = tr_list(f->c, 0, NULL, 0, 0, batch);
  assert_int_equal(l->n_transfers, 2);
  free_msg(l);
  (void)g4;

  /* a listed worker with an open transfer, or listed twice: nobody is proposed */
  Shegong__V1__ProposeConversionsRequest again = SHEGONG__V1__PROPOSE_CONVERSIONS_REQUEST__INIT;
  uint64_t ids2[2] = {g3, g1};
  again.town_code = (char *)TOWN_A;
  again.worker_ids = ids2;
  again.n_worker_ids = 2;
  again.effective_date = TODAY;
  call_fails(f->c, "Transfers/ProposeConversions", &again.base, C_INVALID, &st);
  if (!has_violation(&st, "worker_ids[1]")) print_status("ProposeConversions", &st);
  assert_true(has_violation(&st, "worker_ids[1]"));
  ids2[1] = g3;
  call_fails(f->c, "Transfers/ProposeConversions", &again.base, C_INVALID, &st);
  if (!has_violation(&st, "worker_ids[1]")) print_status("ProposeConversions", &st);
  assert_true(has_violation(&st, "worker_ids[1]"));
  assert_int_equal(tr_count(f->c, g3, NULL, 0, 0, 0), 0);
  assert_int_equal(tr_count(f->c, 0, NULL, 0, K_CONVERSION, 0), 2);

  /* approving each converts the worker */
  for (size_t i = 0; i < 2; i++) {
    transfer_t *a = approve(f->c, tid[i], 1, P_NEXT);
    expect_state(a, S_EFFECTIVE);
    free_msg(a);
    worker_t *w = worker_get(f->c, want[i]);
    assert_int_equal(w->role, R_GRID_WORKER);
    assert_int_equal(w->category, CAT_COMMUNITY);
    assert_int_equal(w->status, ST_ACTIVE);
    free_msg(w);
  }
  /* the converted are no longer 专职网格员: they are not considered again */
  req.limit = 0;
  req.min_score = 0;
  r = call_ok(f->c, "Transfers/ProposeConversions", &req.base);
  assert_int_equal(r->considered, 3);
  /* g5 and g3 (assessed), not g4 (no year-end result) */
  assert_int_equal(r->n_transfers, 2);
  assert_int_equal(r->transfers[0]->worker_id, g5);
  assert_int_equal(r->transfers[1]->worker_id, g3);
  assert_true(r->batch_id != batch);
  free_msg(r);
  f->done = 1;
}

/* ======================================================================== */
/* 6. 首年下沉 and the placement report. */

static void print_rows(const Shegong__V1__PlacementReportResponse *rep) {
  for (size_t i = 0; i < rep->n_rows; i++)
    print_message("  placement row: worker %llu %s issue \"%s\" transfer %llu end %s\n",
                  (unsigned long long)rep->rows[i]->worker_id, rep->rows[i]->name,
                  rep->rows[i]->issue, (unsigned long long)rep->rows[i]->transfer_id,
                  rep->rows[i]->end_date);
}

static void test_placement(void **state) {
  fx *f = FX(state);
  sg_status st;
  char hired60[11], hired220[11], eff190[11], end10[11], end90[11], end200[11];
  today_plus(hired60, -60);
  today_plus(hired220, -220);
  today_plus(eff190, -190);
  today_plus(end10, 10);
  today_plus(end90, 90);
  today_plus(end200, 200);
  uint64_t m1 = worker_plain(f, "何平", COMM_A1);
  uint64_t m2 = worker_plain(f, "吕方", COMM_A2);
  uint64_t other = worker_plain(f, "施琳", COMM_A2);
  uint64_t tc1 = worker_new(f, "张晓", TOWN_A, R_GENERALIST, CAT_TOWN_CENTRE, hired60);
  uint64_t tc2 = worker_new(f, "孔亮", TOWN_A, R_GENERALIST, CAT_TOWN_CENTRE, hired60);
  uint64_t tc3 = worker_new(f, "曹颖", TOWN_A, R_GENERALIST, CAT_TOWN_CENTRE, hired220);
  worker_t *wr = expect_worker(f->c, tc1, TOWN_A, TOWN_A, ST_ACTIVE);
  free_msg(wr);

  transfer_t t;
  /* less than six months */
  tr_fill(&t, K_PLACEMENT, tc1, COMM_A1, TODAY, end90);
  t.mentor_id = m1;
  propose_violates(f->c, &t, "transfer.end_date");
  /* no end date */
  tr_fill(&t, K_PLACEMENT, tc1, COMM_A1, TODAY, NULL);
  t.mentor_id = m1;
  propose_violates(f->c, &t, "transfer.end_date");
  /* no mentor; a mentor of another unit */
  tr_fill(&t, K_PLACEMENT, tc1, COMM_A1, TODAY, end200);
  propose_violates(f->c, &t, "transfer.mentor_id");
  t.mentor_id = other;
  propose_violates(f->c, &t, "transfer.mentor_id");
  /* another town's community */
  tr_fill(&t, K_PLACEMENT, tc1, COMM_B1, TODAY, end200);
  t.mentor_id = m1;
  propose_violates(f->c, &t, "transfer.to_unit_code");
  /* only a town-centre worker is placed */
  tr_fill(&t, K_PLACEMENT, m2, COMM_A1, TODAY, end200);
  t.mentor_id = m1;
  propose_fails(f->c, &t, C_PRECOND, &st);
  assert_int_equal(tr_count(f->c, 0, NULL, 0, 0, 0), 0);

  tr_fill(&t, K_PLACEMENT, tc1, COMM_A1, TODAY, end200);
  t.mentor_id = m1;
  transfer_t *a = propose_and_approve(f->c, &t);
  expect_state(a, S_EFFECTIVE);
  assert_int_equal(a->mentor_id, m1);
  assert_string_equal(a->from_unit_code, TOWN_A);
  uint64_t id = a->id, v = a->version;
  free_msg(a);
  wr = expect_worker(f->c, tc1, COMM_A1, TOWN_A, ST_PLACEMENT);
  assert_int_equal(wr->category, CAT_TOWN_CENTRE);
  free_msg(wr);
  /* not before six months; and a placement does not convert */
  tr_end_fails(f->c, id, v, 0, C_PRECOND, &st);
  tr_end_fails(f->c, id, v, 1, C_INVALID, &st);
  assert_true(has_violation(&st, "convert"));
  wr = expect_worker(f->c, tc1, COMM_A1, TOWN_A, ST_PLACEMENT);
  free_msg(wr);

  /* a placement that began about six months ago and ends in ten days */
  tr_fill(&t, K_PLACEMENT, tc3, COMM_A2, eff190, end10);
  t.mentor_id = m2;
  a = propose_and_approve(f->c, &t);
  expect_state(a, S_EFFECTIVE);
  uint64_t id3 = a->id;
  free_msg(a);
  Shegong__V1__WorkerHistoryResponse *h = history(f->c, tc3, NULL);
  assert_int_equal(h->n_entries, 2);
  assert_string_equal(h->entries[1]->effective_date, eff190);
  assert_int_equal(h->entries[1]->status, ST_PLACEMENT);
  free_msg(h);

  Shegong__V1__PlacementReportRequest pr = SHEGONG__V1__PLACEMENT_REPORT_REQUEST__INIT;
  pr.town_code = (char *)TOWN_A;
  pr.due_within_days = 30;
  Shegong__V1__PlacementReportResponse *rep = call_ok(f->c, "Transfers/PlacementReport", &pr.base);
  assert_string_equal(rep->as_of, TODAY);
  const Shegong__V1__PlacementRow *never = NULL, *soon = NULL;
  if (rep->n_rows != 2) print_rows(rep);
  for (size_t i = 0; i < rep->n_rows; i++) {
    const Shegong__V1__PlacementRow *row = rep->rows[i];
    assert_true(row->worker_id == tc2 || row->worker_id == tc3);
    if (row->worker_id == tc2) never = row;
    if (row->worker_id == tc3) soon = row;
  }
  assert_int_equal(rep->n_rows, 2);
  assert_non_null(never);
  assert_non_null(soon);
  assert_string_equal(never->issue, "never placed");
  assert_string_equal(never->hire_date, hired60);
  assert_string_equal(never->town_code, TOWN_A);
  assert_int_equal(never->transfer_id, 0);
  assert_string_equal(soon->issue, "ends soon");
  assert_int_equal(soon->transfer_id, id3);
  assert_string_equal(soon->unit_code, COMM_A2);
  assert_int_equal(soon->mentor_id, m2);
  assert_string_equal(soon->end_date, end10);
  assert_string_equal(soon->hire_date, hired220);
  free_msg(rep);
  /* with a window shorter than ten days, only the one never placed */
  pr.due_within_days = 5;
  rep = call_ok(f->c, "Transfers/PlacementReport", &pr.base);
  assert_int_equal(rep->n_rows, 1);
  assert_int_equal(rep->rows[0]->worker_id, tc2);
  free_msg(rep);
  /* a placement past its end date, not yet ended: overdue */
  char hired240[11], eff235[11], ended5[11];
  today_plus(hired240, -240);
  today_plus(eff235, -235);
  today_plus(ended5, -5);
  uint64_t tc4 = worker_new(f, "车辉", TOWN_A, R_GENERALIST, CAT_TOWN_CENTRE, hired240);
  tr_fill(&t, K_PLACEMENT, tc4, VILL_A1, eff235, ended5);
  t.mentor_id = worker_plain(f, "牛犇", VILL_A1);
  a = propose_and_approve(f->c, &t);
  expect_state(a, S_EFFECTIVE);
  uint64_t id4 = a->id;
  free_msg(a);
  pr.due_within_days = 30;
  rep = call_ok(f->c, "Transfers/PlacementReport", &pr.base);
  const Shegong__V1__PlacementRow *overdue = NULL;
  for (size_t i = 0; i < rep->n_rows; i++)
    if (rep->rows[i]->worker_id == tc4) overdue = rep->rows[i];
  if (!overdue || rep->n_rows != 3) print_rows(rep);
  assert_int_equal(rep->n_rows, 3);
  assert_non_null(overdue);
  /* transfers.proto names the issue "overdue" (the handler adds an explanation) */
  assert_int_equal(strncmp(overdue->issue, "overdue", 7), 0);
  assert_int_equal(overdue->transfer_id, id4);
  assert_string_equal(overdue->end_date, ended5);
  free_msg(rep);

  /* another town has none */
  pr.town_code = (char *)TOWN_B;
  rep = call_ok(f->c, "Transfers/PlacementReport", &pr.base);
  assert_int_equal(rep->n_rows, 0);
  free_msg(rep);
  /* the placement that began six months ago may end today: back to the town */
  transfer_t *g = tr_get(f->c, id3);
  transfer_t *e = tr_end(f->c, id3, g->version, 0);
  free_msg(g);
  expect_state(e, S_ENDED);
  free_msg(e);
  wr = expect_worker(f->c, tc3, TOWN_A, TOWN_A, ST_ACTIVE);
  assert_int_equal(wr->category, CAT_TOWN_CENTRE);
  free_msg(wr);
  f->done = 1;
}

/* ======================================================================== */
/* 7. 职务任命. */

static void test_role_change(void **state) {
  fx *f = FX(state);
  uint64_t w = worker_plain(f, "严峻", COMM_A1);
  uint64_t w2 = worker_plain(f, "华美", COMM_A2);
  transfer_t t;
  tr_fill(&t, K_ROLE, w2, NULL, TODAY, NULL);
  t.to_role = R_GENERALIST;
  propose_violates(f->c, &t, "transfer.to_role");
  t.to_role = 0;
  propose_violates(f->c, &t, "transfer.to_role");
  /* the same unit: another is refused */
  tr_fill(&t, K_ROLE, w2, COMM_A1, TODAY, NULL);
  t.to_role = R_SECRETARY;
  propose_violates(f->c, &t, "transfer.to_unit_code");
  assert_int_equal(tr_count(f->c, w2, NULL, 0, 0, 0), 0);

  tr_fill(&t, K_ROLE, w, NULL, TODAY, NULL);
  t.to_role = R_SECRETARY;
  transfer_t *a = propose_and_approve(f->c, &t);
  expect_state(a, S_EFFECTIVE);
  assert_int_equal(a->from_role, R_GENERALIST);
  assert_int_equal(a->to_role, R_SECRETARY);
  assert_string_equal(a->to_unit_code, COMM_A1);
  uint64_t id = a->id;
  free_msg(a);
  worker_t *wr = expect_worker(f->c, w, COMM_A1, TOWN_A, ST_ACTIVE);
  assert_int_equal(wr->role, R_SECRETARY);
  free_msg(wr);
  Shegong__V1__WorkerHistoryResponse *h = history(f->c, w, NULL);
  assert_int_equal(h->n_entries, 2);
  assert_int_equal(h->entries[1]->role, R_SECRETARY);
  assert_int_equal(h->entries[1]->transfer_id, id);
  free_msg(h);
  /* already 书记 */
  tr_fill(&t, K_ROLE, w, NULL, TODAY, NULL);
  t.to_role = R_SECRETARY;
  propose_violates(f->c, &t, "transfer.to_role");
  f->done = 1;
}

/* ======================================================================== */
/* 8. Reject and cancel: closed for good, and every step kept. */

static void test_reject_cancel(void **state) {
  fx *f = FX(state);
  sg_status st;
  sg_client *op_a = town_client(f, TOWN_A);
  sg_client *op_b = town_client(f, TOWN_B);
  uint64_t w = worker_plain(f, "白雪", COMM_A1);

  transfer_t t;
  tr_fill(&t, K_EXCHANGE, w, VILL_A1, TODAY, NULL);
  transfer_t *p = propose(f->c, &t);
  uint64_t t1 = p->id, v = p->version;
  free_msg(p);
  /* a rejection says why */
  Shegong__V1__DecideTransferRequest dr;
  decide_fill(&dr, t1, v, P_NEXT, NULL);
  call_violates(op_a, "Transfers/Reject", &dr.base, "note");
  /* a town that is no party cannot reject it */
  decide_fill(&dr, t1, v, P_NEXT, "不同意");
  call_fails(op_b, "Transfers/Reject", &dr.base, C_PERM, &st);
  transfer_t *r = call_ok(op_a, "Transfers/Reject", &dr.base);
  expect_state(r, S_REJECTED);
  v = r->version;
  free_msg(r);
  approve_fails(f->c, t1, v, P_NEXT, C_PRECOND);
  decide_fill(&dr, t1, v, P_NEXT, "再次不同意");
  call_fails(f->c, "Transfers/Reject", &dr.base, C_PRECOND, &st);
  Shegong__V1__CancelTransferRequest cr = SHEGONG__V1__CANCEL_TRANSFER_REQUEST__INIT;
  cr.id = t1;
  cr.expected_version = v;
  cr.note = (char *)"撤回";
  call_fails(f->c, "Transfers/Cancel", &cr.base, C_PRECOND, &st);

  /* the worker may be proposed again; cancel that one */
  p = propose(f->c, &t);
  uint64_t t2 = p->id;
  v = p->version;
  free_msg(p);
  cr.id = t2;
  cr.expected_version = v;
  cr.note = (char *)"";
  call_violates(f->c, "Transfers/Cancel", &cr.base, "note");
  cr.note = (char *)"撤回申请";
  cr.expected_version = v + 1;
  call_fails(f->c, "Transfers/Cancel", &cr.base, C_ABORTED, &st);
  cr.expected_version = v;
  r = call_ok(op_a, "Transfers/Cancel", &cr.base);
  expect_state(r, S_CANCELLED);
  v = r->version;
  free_msg(r);
  approve_fails(f->c, t2, v, P_NEXT, C_PRECOND);

  /* and again: this one is approved for a later day, then cancelled */
  char later[11];
  tr_fill(&t, K_EXCHANGE, w, VILL_A1, today_plus(later, 30), NULL);
  transfer_t *a = propose_and_approve(f->c, &t);
  expect_state(a, S_APPROVED);
  uint64_t t3 = a->id;
  cr.id = t3;
  cr.expected_version = a->version;
  free_msg(a);
  r = call_ok(f->c, "Transfers/Cancel", &cr.base);
  expect_state(r, S_CANCELLED);
  free_msg(r);
  Shegong__V1__ApplyTransfersRequest ap = SHEGONG__V1__APPLY_TRANSFERS_REQUEST__INIT;
  ap.id = t3;
  call_fails(f->c, "Transfers/Apply", &ap.base, C_PRECOND, &st);

  /* a cross-town transfer rejected by the destination after the origin approved */
  uint64_t w2 = worker_plain(f, "柳青", COMM_A2);
  tr_fill(&t, K_CROSS, w2, COMM_B1, TODAY, NULL);
  p = propose(op_a, &t);
  uint64_t t4 = p->id;
  free_msg(p);
  a = approve(op_a, t4, 1, P_NEXT);
  decide_fill(&dr, t4, a->version, P_NEXT, "编制已满");
  free_msg(a);
  r = call_ok(op_b, "Transfers/Reject", &dr.base);
  expect_state(r, S_REJECTED);
  free_msg(r);

  /* nothing is deleted: every step, in order */
  transfer_t *g = tr_get(f->c, t1);
  assert_int_equal(g->n_events, 2);
  expect_event(g, 0, S_PROPOSED, 0);
  expect_event(g, 1, S_REJECTED, P_ORIGIN);
  assert_string_equal(g->events[1]->note, "不同意");
  assert_non_null(strstr(g->events[1]->by, "town_operator"));
  assert_non_null(strstr(g->events[0]->by, "district_admin"));
  free_msg(g);
  g = tr_get(f->c, t2);
  assert_int_equal(g->n_events, 2);
  expect_event(g, 0, S_PROPOSED, 0);
  expect_event(g, 1, S_CANCELLED, 0);
  assert_string_equal(g->events[1]->note, "撤回申请");
  assert_non_null(strstr(g->events[1]->by, "town_operator"));
  free_msg(g);
  g = tr_get(f->c, t3);
  assert_int_equal(g->n_events, 3);
  expect_event(g, 0, S_PROPOSED, 0);
  expect_event(g, 1, S_APPROVED, P_ORIGIN);
  expect_event(g, 2, S_CANCELLED, 0);
  free_msg(g);
  g = tr_get(f->c, t4);
  assert_int_equal(g->n_events, 3);
  expect_event(g, 0, S_PROPOSED, 0);
  expect_event(g, 1, S_APPROVED, P_ORIGIN);
  expect_event(g, 2, S_REJECTED, P_DEST);
  assert_string_equal(g->events[2]->note, "编制已满");
  free_msg(g);
  assert_int_equal(tr_count(f->c, w, NULL, 0, 0, 0), 3);
  assert_int_equal(tr_count(f->c, w, NULL, S_CANCELLED, 0, 0), 2);
  assert_int_equal(tr_count(f->c, 0, NULL, S_REJECTED, 0, 0), 2);
  /* the worker never moved */
  worker_t *wr = expect_worker(f->c, w, COMM_A1, TOWN_A, ST_ACTIVE);
  free_msg(wr);
  wr = expect_worker(f->c, w2, COMM_A2, TOWN_A, ST_ACTIVE);
  free_msg(wr);
  /* and may get a new proposal still */
  tr_fill(&t, K_EXCHANGE, w, VILL_A2, TODAY, NULL);
  free_msg(propose(f->c, &t));
  f->done = 1;
}

/* ======================================================================== */
/* 9. Both towns' replicas see a cross-town transfer. */

static Shegong__V1__SyncReport *sync_ok(fx *f, sg_replica *r) {
  Shegong__V1__SyncReport *rep = NULL;
  sg_status st;
  int rc = sg_replica_sync(r, f->c, &rep, &st);
  if (rc) print_status("sync", &st);
  assert_int_equal(rc, 0);
  return rep;
}

/* Packs m into a malloc'd buffer. */
static uint8_t *packed(const ProtobufCMessage *m, size_t *len) {
  *len = protobuf_c_message_get_packed_size(m);
  uint8_t *b = malloc(*len ? *len : 1);
  assert_non_null(b);
  protobuf_c_message_pack(m, b);
  return b;
}

/* The replica answers Transfers/Get offline with the server's bytes. */
static void expect_replica_transfer(fx *f, sg_replica *r, uint64_t id, int state) {
  Shegong__V1__GetTransferRequest req = SHEGONG__V1__GET_TRANSFER_REQUEST__INIT;
  req.id = id;
  ProtobufCMessage *resp = NULL;
  sg_status st;
  int rc = sg_replica_call(r, "Transfers/Get", &req.base, &resp, &st);
  if (rc) print_status("replica Transfers/Get", &st);
  assert_int_equal(rc, 0);
  transfer_t *local = (transfer_t *)resp;
  expect_state(local, state);
  transfer_t *server = tr_get(f->c, id);
  size_t ln, sn;
  uint8_t *lb = packed(&local->base, &ln), *sb = packed(&server->base, &sn);
  if (ln != sn || memcmp(lb, sb, sn) != 0) {
    print_message("transfer %llu differs: replica %zu bytes, server %zu\n", (unsigned long long)id,
                  ln, sn);
    print_transfer(local);
    print_transfer(server);
  }
  assert_int_equal(ln, sn);
  assert_memory_equal(lb, sb, sn);
  free(lb);
  free(sb);
  free_msg(local);
  free_msg(server);
}

static int replica_get_worker(sg_replica *r, uint64_t id, worker_t **out, sg_status *st) {
  Shegong__V1__GetWorkerRequest g = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
  g.id = id;
  ProtobufCMessage *resp = NULL;
  int rc = sg_replica_call(r, "Workers/Get", &g.base, &resp, st);
  *out = (worker_t *)resp;
  return rc;
}

static void test_replicas(void **state) {
  fx *f = FX(state);
  sg_status st;
  uint64_t w = worker_plain(f, "潘越", COMM_A1);
  uint64_t stay = worker_plain(f, "田甜", COMM_A2);
  char dir_a[PATH_MAX + 16], dir_b[PATH_MAX + 16];
  snprintf(dir_a, sizeof dir_a, "%s/replica-a", f->srv.tmp);
  snprintf(dir_b, sizeof dir_b, "%s/replica-b", f->srv.tmp);
  if (sg_replica_open(&f->ra, dir_a, &st) || sg_replica_init(f->ra, f->c, f->srv.addr, TOWN_A, &st) ||
      sg_replica_open(&f->rb, dir_b, &st) || sg_replica_init(f->rb, f->c, f->srv.addr, TOWN_B, &st)) {
    print_status("replica init", &st);
    fail();
  }
  worker_t *wr = NULL;
  assert_int_equal(replica_get_worker(f->ra, w, &wr, &st), 0);
  assert_string_equal(wr->unit_code, COMM_A1);
  free_msg(wr);
  assert_int_equal(replica_get_worker(f->rb, w, &wr, &st), SG_ENOTFOUND);

  transfer_t t;
  tr_fill(&t, K_CROSS, w, COMM_B1, TODAY, NULL);
  transfer_t *p = propose(f->c, &t);
  uint64_t id = p->id, v = p->version;
  free_msg(p);
  /* proposed: both towns see it after a sync */
  free_msg(sync_ok(f, f->ra));
  free_msg(sync_ok(f, f->rb));
  expect_replica_transfer(f, f->ra, id, S_PROPOSED);
  expect_replica_transfer(f, f->rb, id, S_PROPOSED);

  static const int parties[] = {P_ORIGIN, P_DEST, P_DISTRICT};
  for (size_t i = 0; i < 3; i++) {
    transfer_t *a = approve(f->c, id, v, parties[i]);
    v = a->version;
    expect_state(a, i < 2 ? S_PROPOSED : S_EFFECTIVE);
    free_msg(a);
  }
  Shegong__V1__SyncReport *rep = sync_ok(f, f->ra);
  assert_true(rep->pulled > 0);
  free_msg(rep);
  rep = sync_ok(f, f->rb);
  assert_true(rep->pulled > 0);
  free_msg(rep);

  /* the origin's copy no longer has the worker; the destination's has it */
  wr = NULL;
  int rc = replica_get_worker(f->ra, w, &wr, &st);
  if (rc != SG_ENOTFOUND) print_status("replica A Workers/Get", &st);
  assert_int_equal(rc, SG_ENOTFOUND);
  assert_int_equal(st.code, C_NOT_FOUND);
  assert_null(wr);
  rc = replica_get_worker(f->rb, w, &wr, &st);
  if (rc) print_status("replica B Workers/Get", &st);
  assert_int_equal(rc, 0);
  worker_t *sw = worker_get(f->c, w);
  assert_string_equal(wr->unit_code, COMM_B1);
  assert_string_equal(wr->town_code, TOWN_B);
  assert_int_equal(wr->version, sw->version);
  assert_int_equal(wr->revision, sw->revision);
  assert_int_equal(wr->unit_id, sw->unit_id);
  free_msg(wr);
  free_msg(sw);
  /* the one who stayed is still in A's copy */
  assert_int_equal(replica_get_worker(f->ra, stay, &wr, &st), 0);
  free_msg(wr);
  /* and both have the transfer, as the server does */
  expect_replica_transfer(f, f->ra, id, S_EFFECTIVE);
  expect_replica_transfer(f, f->rb, id, S_EFFECTIVE);
  /* B's copy has the history entry of the move */
  Shegong__V1__WorkerHistoryRequest hr = SHEGONG__V1__WORKER_HISTORY_REQUEST__INIT;
  hr.id = w;
  ProtobufCMessage *resp = NULL;
  rc = sg_replica_call(f->rb, "Workers/History", &hr.base, &resp, &st);
  if (rc) print_status("replica B Workers/History", &st);
  assert_int_equal(rc, 0);
  Shegong__V1__WorkerHistoryResponse *h = (Shegong__V1__WorkerHistoryResponse *)resp;
  assert_true(h->n_entries >= 1);
  if (h->entries[h->n_entries - 1]->transfer_id != id) print_history(h);
  assert_int_equal(h->entries[h->n_entries - 1]->transfer_id, id);
  assert_string_equal(h->entries[h->n_entries - 1]->unit_code, COMM_B1);
  /* and the earlier entries too (fetched with Sync/WorkerRecords): the same as the server's */
  ProtobufCMessage *sresp = NULL;
  assert_int_equal(sg_call(f->c, "Workers/History", &hr.base, &sresp, 10000, &st), 0);
  size_t na = protobuf_c_message_get_packed_size(resp), nb = protobuf_c_message_get_packed_size(sresp);
  uint8_t *pa = malloc(na + 1), *pb = malloc(nb + 1);
  assert_non_null(pa);
  assert_non_null(pb);
  protobuf_c_message_pack(resp, pa);
  protobuf_c_message_pack(sresp, pb);
  if (na != nb || memcmp(pa, pb, na)) print_history(h);
  assert_int_equal(na, nb);
  assert_memory_equal(pa, pb, na);
  assert_true(h->n_entries >= 2); /* hired in A, moved to B */
  free(pa);
  free(pb);
  free_msg(sresp);
  free_msg(h);
  f->done = 1;
}

/* A 村两委 member joins: checked at proposal, registered when it takes effect. */
static void test_committee_join(void **state) {
  fx *f = FX(state);
  sg_status st;
  char idno[19];
  make_idno(idno, DISTRICT, "19880505", 700);
  worker_t cand = SHEGONG__V1__WORKER__INIT;
  cand.name = (char *)"王村官";
  cand.id_number = idno;
  cand.education = SHEGONG__V1__EDUCATION__COLLEGE;
  transfer_t t;
  tr_fill(&t, SHEGONG__V1__TRANSFER_KIND__COMMITTEE_JOIN, 0, VILL_A1, TODAY, NULL);
  t.candidate = &cand;
  t.score = 88.5;
  Shegong__V1__ProposeTransferRequest req = SHEGONG__V1__PROPOSE_TRANSFER_REQUEST__INIT;
  req.transfer = &t;
  /* a bad candidate is named as the candidate's field */
  cand.id_number = (char *)"320602198805050011";
  call_violates(f->c, "Transfers/Propose", &req.base, "transfer.candidate.id_number");
  cand.id_number = idno;
  t.score = 101;
  call_violates(f->c, "Transfers/Propose", &req.base, "transfer.score");
  t.score = 88.5;
  t.worker_id = 1;
  call_violates(f->c, "Transfers/Propose", &req.base, "transfer.worker_id");
  t.worker_id = 0;
  transfer_t *p = call_ok(f->c, "Transfers/Propose", &req.base);
  uint64_t id = p->id;
  assert_int_equal(p->created_worker_id, 0);
  assert_string_equal(p->to_town_code, TOWN_A);
  free_msg(p);
  /* the town's copy can still be made with the join under way (it has no worker yet) */
  char dir[PATH_MAX + 16];
  snprintf(dir, sizeof dir, "%s/replica-join", f->srv.tmp);
  if (sg_replica_open(&f->ra, dir, &st) || sg_replica_init(f->ra, f->c, f->srv.addr, TOWN_A, &st)) {
    print_status("replica init with a join under way", &st);
    fail();
  }
  transfer_t *a = approve(f->c, id, 1, SHEGONG__V1__PARTY__ORIGIN_TOWN);
  expect_state(a, S_EFFECTIVE);
  uint64_t wid = a->created_worker_id;
  assert_true(wid > 0);
  free_msg(a);
  worker_t *w = expect_worker(f->c, wid, VILL_A1, TOWN_A, ST_ACTIVE);
  assert_int_equal(w->role, R_GENERALIST);
  assert_int_equal(w->source, SHEGONG__V1__SOURCE__VILLAGE_COMMITTEE);
  assert_string_equal(w->hire_date, TODAY);
  free_msg(w);
  Shegong__V1__WorkerHistoryResponse *h = history(f->c, wid, NULL);
  assert_int_equal(h->n_entries, 1);
  assert_int_equal(h->entries[0]->transfer_id, id);
  free_msg(h);
  /* the same person again: the ID number is taken */
  propose_fails(f->c, &t, SHEGONG__V1__CODE__ALREADY_EXISTS, &st);
  f->done = 1;
}

/* A transfer dated in the past, applied after a later change, keeps the history in order. */
static void test_backdated_history(void **state) {
  fx *f = FX(state);
  uint64_t w = worker_plain(f, "许媛", COMM_A1);
  char ten_ago[11];
  today_plus(ten_ago, -10);
  transfer_t t;
  tr_fill(&t, K_EXCHANGE, w, VILL_A1, ten_ago, NULL);
  transfer_t *p = propose(f->c, &t);
  uint64_t id = p->id;
  free_msg(p);
  /* a change today, before the approval */
  worker_t *cur = worker_get(f->c, w);
  worker_t upd = SHEGONG__V1__WORKER__INIT;
  upd.phone = (char *)"13912345678";
  upd.role = SHEGONG__V1__ROLE__NEIGHBOURHOOD;
  char *mask[] = {"phone", "role"};
  Shegong__V1__UpdateWorkerRequest u = SHEGONG__V1__UPDATE_WORKER_REQUEST__INIT;
  u.id = w;
  u.expected_version = cur->version;
  u.worker = &upd;
  u.n_update_mask = 2;
  u.update_mask = mask;
  free_msg(call_ok(f->c, "Workers/Update", &u.base));
  free_msg(cur);
  /* the role changed: the transfer no longer starts where the worker is */
  transfer_t *a = approve(f->c, id, 1, SHEGONG__V1__PARTY__ORIGIN_TOWN);
  expect_state(a, S_FAILED);
  free_msg(a);
  /* again, with only the phone changed today: it applies, and today's entry is the last */
  uint64_t w2 = worker_plain(f, "陈彬", COMM_A1);
  tr_fill(&t, K_EXCHANGE, w2, VILL_A1, ten_ago, NULL);
  p = propose(f->c, &t);
  id = p->id;
  free_msg(p);
  cur = worker_get(f->c, w2);
  u.id = w2;
  u.expected_version = cur->version;
  upd.role = cur->role;
  free_msg(call_ok(f->c, "Workers/Update", &u.base));
  free_msg(cur);
  a = approve(f->c, id, 1, SHEGONG__V1__PARTY__ORIGIN_TOWN);
  expect_state(a, S_EFFECTIVE);
  free_msg(a);
  Shegong__V1__WorkerHistoryResponse *h = history(f->c, w2, TODAY);
  assert_int_equal(h->n_entries, 1);
  if (strcmp(h->entries[0]->unit_code, VILL_A1) != 0) print_history(h);
  assert_string_equal(h->entries[0]->unit_code, VILL_A1);
  free_msg(h);
  f->done = 1;
}

/* Town-centre staff go down on a placement, not a rotation. */
static void test_rotation_of_centre_staff(void **state) {
  fx *f = FX(state);
  sg_status st;
  uint64_t w = worker_new(f, "叶晓", TOWN_A, R_GENERALIST, CAT_TOWN_CENTRE, OLD_HIRE);
  char end[11];
  today_plus(end, 90);
  transfer_t t;
  tr_fill(&t, K_ROTATION, w, VILL_A1, TODAY, end);
  propose_fails(f->c, &t, C_PRECOND, &st);
  assert_non_null(strstr(st.message, "placement"));
  f->done = 1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_exchange, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cross_town, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scheduler, setup, teardown),
      cmocka_unit_test_setup_teardown(test_conversion, setup, teardown),
      cmocka_unit_test_setup_teardown(test_placement, setup, teardown),
      cmocka_unit_test_setup_teardown(test_role_change, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reject_cancel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_replicas, setup, teardown),
      cmocka_unit_test_setup_teardown(test_committee_join, setup, teardown),
      cmocka_unit_test_setup_teardown(test_backdated_history, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rotation_of_centre_staff, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
