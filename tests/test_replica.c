/*
 * Town replicas end to end: a real shegongd with a demo district and two
 * replicas of different towns, edited offline and synced; conflicts
 * resolved both ways; a worker moving between the towns; a pull after
 * compaction falling back to a snapshot; syncs killed mid-way. After every
 * sync the replica must hold exactly the server's records of its town.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "replica.h"
#include "shegong.h"
#include "shegong/v1/admin.pb-c.h"
#include "shegong/v1/assessments.pb-c.h"
#include "shegong/v1/policy.pb-c.h"
#include "shegong/v1/reports.pb-c.h"
#include "shegong/v1/training.pb-c.h"
#include "shegong/v1/units.pb-c.h"
#include "shegong/v1/workers.pb-c.h"
#include "validate.h"

#define CALL_MS 30000
#define TOWN1 "320602001"
#define TOWN2 "320602002"

typedef struct fx {
  hs_server srv;
  sg_client *c;
  char dir_a[PATH_MAX + 16], dir_b[PATH_MAX + 16];
  sg_replica *a, *b;
  int done;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (!f || hs_server_start(&f->srv, NULL, NULL) != 0) return -1;
  const char *argv[] = {SHEGONG_DEMO_PATH, "--seed", "3", "--towns", "2", "--workers", "80",
                        "--quiet", NULL};
  if (hs_run(argv, f->srv.addr, NULL, NULL, 0) != 0) return -1;
  sg_status st;
  if (sg_client_connect(&f->c, f->srv.addr, 5000, &st) != 0) return -1;
  snprintf(f->dir_a, sizeof f->dir_a, "%s/replica-a", f->srv.tmp);
  snprintf(f->dir_b, sizeof f->dir_b, "%s/replica-b", f->srv.tmp);
  if (sg_replica_open(&f->a, f->dir_a, &st) || sg_replica_init(f->a, f->c, f->srv.addr, TOWN1, &st) ||
      sg_replica_open(&f->b, f->dir_b, &st) || sg_replica_init(f->b, f->c, f->srv.addr, TOWN2, &st)) {
    fprintf(stderr, "replica setup: %s: %s\n", sg_code_name(st.code), st.message);
    return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  sg_replica_close(f->a);
  sg_replica_close(f->b);
  sg_client_close(f->c);
  if (!f->done) hs_server_print_log(&f->srv, 40);
  hs_server_stop(&f->srv);
  hs_server_cleanup(&f->srv);
  free(f);
  return 0;
}

/* Calls the server (r NULL) or a replica. */
static int call(fx *f, sg_replica *r, const char *method, const ProtobufCMessage *req,
                ProtobufCMessage **resp, sg_status *st) {
  return r ? sg_replica_call(r, method, req, resp, st)
           : sg_call(f->c, method, req, resp, CALL_MS, st);
}

/* Every worker of the town (leavers too), packed, one string per worker in id order. */
typedef struct recs {
  char **bytes;
  size_t *len;
  uint64_t *ids;
  size_t n;
} recs;

static void recs_free(recs *r) {
  for (size_t i = 0; i < r->n; i++) free(r->bytes[i]);
  free(r->bytes);
  free(r->len);
  free(r->ids);
  memset(r, 0, sizeof *r);
}

static void recs_add(recs *r, const ProtobufCMessage *m, uint64_t id) {
  r->bytes = realloc(r->bytes, (r->n + 1) * sizeof *r->bytes);
  r->len = realloc(r->len, (r->n + 1) * sizeof *r->len);
  r->ids = realloc(r->ids, (r->n + 1) * sizeof *r->ids);
  size_t n = protobuf_c_message_get_packed_size(m);
  r->bytes[r->n] = malloc(n ? n : 1);
  protobuf_c_message_pack(m, (uint8_t *)r->bytes[r->n]);
  r->len[r->n] = n;
  r->ids[r->n++] = id;
}

static void town_workers(fx *f, sg_replica *r, const char *town, recs *out) {
  memset(out, 0, sizeof *out);
  Shegong__V1__ListWorkersRequest req = SHEGONG__V1__LIST_WORKERS_REQUEST__INIT;
  req.town_code = (char *)town;
  req.include_left = 1;
  req.page_size = 1000;
  ProtobufCMessage *resp;
  sg_status st;
  assert_int_equal(call(f, r, "Workers/List", &req.base, &resp, &st), 0);
  Shegong__V1__ListWorkersResponse *l = (Shegong__V1__ListWorkersResponse *)resp;
  assert_string_equal(l->next_page_token, "");
  for (size_t i = 0; i < l->n_workers; i++) recs_add(out, &l->workers[i]->base, l->workers[i]->id);
  protobuf_c_message_free_unpacked(resp, NULL);
}

/* Units under a parent, depth first. */
static void units_under(fx *f, sg_replica *r, const char *parent, recs *out) {
  Shegong__V1__ListUnitsRequest req = SHEGONG__V1__LIST_UNITS_REQUEST__INIT;
  req.parent_code = (char *)parent;
  req.page_size = 1000;
  ProtobufCMessage *resp;
  sg_status st;
  assert_int_equal(call(f, r, "Units/List", &req.base, &resp, &st), 0);
  Shegong__V1__ListUnitsResponse *l = (Shegong__V1__ListUnitsResponse *)resp;
  for (size_t i = 0; i < l->n_units; i++) {
    recs_add(out, &l->units[i]->base, l->units[i]->id);
    if (strlen(l->units[i]->code) < 15) units_under(f, r, l->units[i]->code, out);
  }
  protobuf_c_message_free_unpacked(resp, NULL);
}

/* The replica holds exactly the server's records of its town, byte for byte. */
static void assert_same_as_server(fx *f, sg_replica *r, const char *town) {
  recs s = {0}, l = {0};
  town_workers(f, NULL, town, &s);
  town_workers(f, r, town, &l);
  if (s.n != l.n) fail_msg("server has %zu workers in %s, the replica %zu", s.n, town, l.n);
  for (size_t i = 0; i < s.n; i++) {
    assert_int_equal(s.ids[i], l.ids[i]);
    if (s.len[i] != l.len[i] || memcmp(s.bytes[i], l.bytes[i], s.len[i]))
      fail_msg("worker %llu differs between server and replica", (unsigned long long)s.ids[i]);
  }
  recs_free(&s);
  recs_free(&l);
  units_under(f, NULL, town, &s);
  units_under(f, r, town, &l);
  assert_int_equal(s.n, l.n);
  for (size_t i = 0; i < s.n; i++)
    assert_true(s.len[i] == l.len[i] && memcmp(s.bytes[i], l.bytes[i], s.len[i]) == 0);
  assert_true(s.n > 5);
  recs_free(&s);
  recs_free(&l);
}

static Shegong__V1__SyncReport *sync_ok(fx *f, sg_replica *r) {
  Shegong__V1__SyncReport *rep;
  sg_status st;
  int rc = sg_replica_sync(r, f->c, &rep, &st);
  if (rc) fail_msg("sync: %s: %s", sg_code_name(st.code), st.message);
  return rep;
}

static Shegong__V1__Worker *get_worker(fx *f, sg_replica *r, uint64_t id) {
  Shegong__V1__GetWorkerRequest g = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
  g.id = id;
  ProtobufCMessage *resp;
  sg_status st;
  assert_int_equal(call(f, r, "Workers/Get", &g.base, &resp, &st), 0);
  return (Shegong__V1__Worker *)resp;
}

/* The n-th (0-based) active community worker without a grid in town. */
static uint64_t nth_worker(fx *f, const char *town, size_t nth) {
  Shegong__V1__ListWorkersRequest req = SHEGONG__V1__LIST_WORKERS_REQUEST__INIT;
  req.town_code = (char *)town;
  req.page_size = 1000;
  ProtobufCMessage *resp;
  sg_status st;
  assert_int_equal(sg_call(f->c, "Workers/List", &req.base, &resp, CALL_MS, &st), 0);
  Shegong__V1__ListWorkersResponse *l = (Shegong__V1__ListWorkersResponse *)resp;
  uint64_t id = 0;
  for (size_t i = 0; i < l->n_workers; i++)
    if (l->workers[i]->category == SHEGONG__V1__CATEGORY__COMMUNITY_BASED &&
        !l->workers[i]->grid_code[0] && nth-- == 0) {
      id = l->workers[i]->id;
      break;
    }
  protobuf_c_message_free_unpacked(resp, NULL);
  assert_true(id != 0);
  return id;
}

static int set_phone(fx *f, sg_replica *r, uint64_t id, uint64_t version, const char *phone,
                     sg_status *st) {
  Shegong__V1__Worker w = SHEGONG__V1__WORKER__INIT;
  w.phone = (char *)phone;
  char *mask[] = {"phone"};
  Shegong__V1__UpdateWorkerRequest u = SHEGONG__V1__UPDATE_WORKER_REQUEST__INIT;
  u.id = id;
  u.expected_version = version;
  u.worker = &w;
  u.n_update_mask = 1;
  u.update_mask = mask;
  ProtobufCMessage *resp = NULL;
  int rc = call(f, r, "Workers/Update", &u.base, &resp, st);
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  return rc;
}

/* A valid, unused ID number for test worker k. */
static void idno_for(unsigned k, char out[19]) {
  char first[18];
  snprintf(first, sizeof first, "3206111995%02u%02u%03u", 1 + k % 12, 1 + k % 28, 100 + k);
  memcpy(out, first, 17);
  out[17] = sg_idno_check_char(first);
  out[18] = '\0';
}

static int create_worker(fx *f, sg_replica *r, const char *name, const char *idno,
                         const char *unit, uint64_t *id, sg_status *st) {
  Shegong__V1__Worker w = SHEGONG__V1__WORKER__INIT;
  w.name = (char *)name;
  w.id_number = (char *)idno;
  w.unit_code = (char *)unit;
  w.category = SHEGONG__V1__CATEGORY__COMMUNITY_BASED;
  w.role = SHEGONG__V1__ROLE__GENERALIST;
  w.hire_date = "2023-05-01";
  Shegong__V1__CreateWorkerRequest req = SHEGONG__V1__CREATE_WORKER_REQUEST__INIT;
  req.worker = &w;
  ProtobufCMessage *resp = NULL;
  int rc = call(f, r, "Workers/Create", &req.base, &resp, st);
  if (resp) {
    if (id) *id = ((Shegong__V1__Worker *)resp)->id;
    protobuf_c_message_free_unpacked(resp, NULL);
  }
  return rc;
}

static void test_offline_edits_on_both_sides_then_sync(void **state) {
  fx *f = *state;
  sg_status st;
  uint64_t a1 = nth_worker(f, TOWN1, 0), a2 = nth_worker(f, TOWN1, 1), s1 = nth_worker(f, TOWN1, 2);
  uint64_t b1 = nth_worker(f, TOWN2, 0);
  Shegong__V1__Worker *w;
  /* town 1 office, offline: a phone, a new worker, a leaver */
  w = get_worker(f, f->a, a1);
  assert_int_equal(set_phone(f, f->a, a1, w->version, "13800000001", &st), 0);
  protobuf_c_message_free_unpacked(&w->base, NULL);
  char idno[19];
  idno_for(1, idno);
  uint64_t local_id;
  assert_int_equal(create_worker(f, f->a, "新同事", idno, "320602001001", &local_id, &st), 0);
  assert_true(local_id >= SG_REPLICA_LOCAL_ID_BASE);
  /* a record made offline cannot be changed before it is synced */
  assert_int_equal(set_phone(f, f->a, local_id, 1, "13800000009", &st), SG_EPRECOND);
  Shegong__V1__LeaveWorkerRequest lv = SHEGONG__V1__LEAVE_WORKER_REQUEST__INIT;
  lv.id = a2;
  lv.leave_date = "2025-01-31";
  lv.reason = "家庭原因";
  ProtobufCMessage *resp;
  assert_int_equal(sg_replica_call(f->a, "Workers/Leave", &lv.base, &resp, &st), 0);
  protobuf_c_message_free_unpacked(resp, NULL);
  /* offline checks are the server's: a bad ID number never reaches the outbox */
  assert_int_equal(create_worker(f, f->a, "错号", "320602199003071230", "320602001001", NULL, &st),
                   SG_EINVAL);
  assert_string_equal(st.violations[0].field, "worker.id_number");
  /* town 2 office, offline */
  w = get_worker(f, f->b, b1);
  assert_int_equal(set_phone(f, f->b, b1, w->version, "13900000002", &st), 0);
  protobuf_c_message_free_unpacked(&w->base, NULL);
  /* meanwhile at the district, another worker of town 1 */
  w = get_worker(f, NULL, s1);
  assert_int_equal(set_phone(f, NULL, s1, w->version, "13700000003", &st), 0);
  protobuf_c_message_free_unpacked(&w->base, NULL);

  Shegong__V1__ReplicaStatus *rs;
  assert_int_equal(sg_replica_status(f->a, &rs, &st), 0);
  assert_int_equal(rs->outbox, 3);
  protobuf_c_message_free_unpacked(&rs->base, NULL);

  Shegong__V1__SyncReport *ra = sync_ok(f, f->a), *rb = sync_ok(f, f->b);
  assert_int_equal(ra->pushed, 3);
  assert_int_equal(ra->applied, 3);
  assert_int_equal(ra->conflicts, 0);
  assert_int_equal(ra->outbox_left, 0);
  assert_true(ra->pulled >= 4); /* its own three and the district's one */
  assert_int_equal(rb->applied, 1);
  protobuf_c_message_free_unpacked(&ra->base, NULL);
  protobuf_c_message_free_unpacked(&rb->base, NULL);

  w = get_worker(f, NULL, a1);
  assert_string_equal(w->phone, "13800000001");
  protobuf_c_message_free_unpacked(&w->base, NULL);
  w = get_worker(f, NULL, a2);
  assert_int_equal(w->status, SHEGONG__V1__WORKER_STATUS__LEFT);
  protobuf_c_message_free_unpacked(&w->base, NULL);
  w = get_worker(f, f->a, s1);
  assert_string_equal(w->phone, "13700000003"); /* the district's change reached town 1 */
  protobuf_c_message_free_unpacked(&w->base, NULL);
  Shegong__V1__GetWorkerRequest g = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
  g.id_number = idno;
  assert_int_equal(sg_call(f->c, "Workers/Get", &g.base, &resp, CALL_MS, &st), 0);
  uint64_t real = ((Shegong__V1__Worker *)resp)->id;
  protobuf_c_message_free_unpacked(resp, NULL);
  assert_true(real < SG_REPLICA_LOCAL_ID_BASE);
  /* the provisional record gave way to the server's */
  g.id = 0;
  assert_int_equal(sg_replica_call(f->a, "Workers/Get", &g.base, &resp, &st), 0);
  assert_int_equal(((Shegong__V1__Worker *)resp)->id, real);
  protobuf_c_message_free_unpacked(resp, NULL);

  assert_same_as_server(f, f->a, TOWN1);
  assert_same_as_server(f, f->b, TOWN2);
  /* a second sync has nothing to do */
  ra = sync_ok(f, f->a);
  assert_int_equal(ra->pushed, 0);
  assert_int_equal(ra->pulled, 0);
  protobuf_c_message_free_unpacked(&ra->base, NULL);
  f->done = 1;
}

static void test_conflicts_resolve_both_ways(void **state) {
  fx *f = *state;
  sg_status st;
  uint64_t x = nth_worker(f, TOWN1, 0), y = nth_worker(f, TOWN1, 1);
  Shegong__V1__Worker *w;
  /* both sides change x and y; the server's changes land first */
  for (int k = 0; k < 2; k++) {
    uint64_t id = k ? y : x;
    w = get_worker(f, f->a, id);
    assert_int_equal(set_phone(f, f->a, id, w->version, k ? "13811111112" : "13811111111", &st), 0);
    assert_int_equal(set_phone(f, NULL, id, w->version, "13722222222", &st), 0);
    protobuf_c_message_free_unpacked(&w->base, NULL);
  }
  Shegong__V1__SyncReport *rep = sync_ok(f, f->a);
  assert_int_equal(rep->conflicts, 2);
  assert_int_equal(rep->applied, 0);
  protobuf_c_message_free_unpacked(&rep->base, NULL);
  /* nothing resolved silently: the copy shows the server's records, the conflicts wait */
  assert_same_as_server(f, f->a, TOWN1);
  Shegong__V1__ConflictList *cl;
  assert_int_equal(sg_replica_conflicts(f->a, &cl, &st), 0);
  assert_int_equal(cl->n_conflicts, 2);
  char keep_server[128], keep_mine[128];
  for (size_t i = 0; i < 2; i++) {
    Shegong__V1__Conflict *c = cl->conflicts[i];
    assert_int_equal(c->code, SHEGONG__V1__CODE__ABORTED);
    assert_true(c->server_version > 0);
    snprintf(c->record_id == x ? keep_server : keep_mine, 128, "%s", c->mutation_id);
  }
  protobuf_c_message_free_unpacked(&cl->base, NULL);

  assert_int_equal(sg_replica_resolve(f->a, keep_server, 0, &st), 0);
  assert_int_equal(sg_replica_resolve(f->a, keep_mine, 1, &st), 0);
  assert_int_equal(sg_replica_resolve(f->a, keep_mine, 1, &st), SG_ENOTFOUND);
  /* mine is back on the copy and in the outbox */
  w = get_worker(f, f->a, y);
  assert_string_equal(w->phone, "13811111112");
  protobuf_c_message_free_unpacked(&w->base, NULL);
  rep = sync_ok(f, f->a);
  assert_int_equal(rep->applied, 1);
  assert_int_equal(rep->conflicts, 0);
  protobuf_c_message_free_unpacked(&rep->base, NULL);
  w = get_worker(f, NULL, x);
  assert_string_equal(w->phone, "13722222222");
  protobuf_c_message_free_unpacked(&w->base, NULL);
  w = get_worker(f, NULL, y);
  assert_string_equal(w->phone, "13811111112");
  protobuf_c_message_free_unpacked(&w->base, NULL);
  assert_int_equal(sg_replica_conflicts(f->a, &cl, &st), 0);
  assert_int_equal(cl->n_conflicts, 0);
  protobuf_c_message_free_unpacked(&cl->base, NULL);
  assert_same_as_server(f, f->a, TOWN1);

  /* an invalid change cannot be kept as it is */
  char idno[19];
  idno_for(2, idno);
  assert_int_equal(create_worker(f, NULL, "先到", idno, "320602002001", NULL, &st), 0);
  assert_int_equal(create_worker(f, f->a, "后到", idno, "320602001001", NULL, &st), 0);
  rep = sync_ok(f, f->a);
  assert_int_equal(rep->conflicts, 1); /* the ID number is taken in town 2 */
  protobuf_c_message_free_unpacked(&rep->base, NULL);
  assert_int_equal(sg_replica_conflicts(f->a, &cl, &st), 0);
  assert_int_equal(cl->conflicts[0]->code, SHEGONG__V1__CODE__ALREADY_EXISTS);
  char mid[128];
  snprintf(mid, sizeof mid, "%s", cl->conflicts[0]->mutation_id);
  protobuf_c_message_free_unpacked(&cl->base, NULL);
  assert_int_equal(sg_replica_resolve(f->a, mid, 1, &st), SG_EPRECOND);
  assert_int_equal(sg_replica_resolve(f->a, mid, 0, &st), 0);
  assert_same_as_server(f, f->a, TOWN1);
  f->done = 1;
}

static void test_move_between_towns_reaches_both(void **state) {
  fx *f = *state;
  sg_status st;
  uint64_t id = nth_worker(f, TOWN1, 3);
  Shegong__V1__Worker *w = get_worker(f, NULL, id);
  Shegong__V1__Worker nw = SHEGONG__V1__WORKER__INIT;
  nw.unit_code = "320602002001";
  char *mask[] = {"unit_code"};
  Shegong__V1__UpdateWorkerRequest u = SHEGONG__V1__UPDATE_WORKER_REQUEST__INIT;
  u.id = id;
  u.expected_version = w->version;
  u.worker = &nw;
  u.n_update_mask = 1;
  u.update_mask = mask;
  ProtobufCMessage *resp;
  assert_int_equal(sg_call(f->c, "Workers/Update", &u.base, &resp, CALL_MS, &st), 0);
  protobuf_c_message_free_unpacked(resp, NULL);
  protobuf_c_message_free_unpacked(&w->base, NULL);
  Shegong__V1__SyncReport *ra = sync_ok(f, f->a), *rb = sync_ok(f, f->b);
  protobuf_c_message_free_unpacked(&ra->base, NULL);
  protobuf_c_message_free_unpacked(&rb->base, NULL);
  Shegong__V1__GetWorkerRequest g = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
  g.id = id;
  assert_int_equal(sg_replica_call(f->a, "Workers/Get", &g.base, &resp, &st), SG_ENOTFOUND);
  assert_int_equal(sg_replica_call(f->b, "Workers/Get", &g.base, &resp, &st), 0);
  assert_string_equal(((Shegong__V1__Worker *)resp)->unit_code, "320602002001");
  protobuf_c_message_free_unpacked(resp, NULL);
  assert_same_as_server(f, f->a, TOWN1);
  assert_same_as_server(f, f->b, TOWN2);
  f->done = 1;
}

static void test_compaction_falls_back_to_snapshot(void **state) {
  fx *f = *state;
  sg_status st;
  uint64_t id = nth_worker(f, TOWN1, 4);
  for (int k = 0; k < 3; k++) {
    Shegong__V1__Worker *w = get_worker(f, NULL, id);
    char phone[16];
    snprintf(phone, sizeof phone, "1360000000%d", k);
    assert_int_equal(set_phone(f, NULL, id, w->version, phone, &st), 0);
    protobuf_c_message_free_unpacked(&w->base, NULL);
  }
  Shegong__V1__CompactRequest c = SHEGONG__V1__COMPACT_REQUEST__INIT;
  c.keep = 1;
  ProtobufCMessage *resp;
  assert_int_equal(sg_call(f->c, "Admin/Compact", &c.base, &resp, CALL_MS, &st), 0);
  protobuf_c_message_free_unpacked(resp, NULL);
  /* an offline change waits in the outbox through the rebuild */
  uint64_t other = nth_worker(f, TOWN1, 5);
  Shegong__V1__Worker *w = get_worker(f, f->a, other);
  assert_int_equal(set_phone(f, f->a, other, w->version, "13655555555", &st), 0);
  protobuf_c_message_free_unpacked(&w->base, NULL);
  Shegong__V1__SyncReport *rep = sync_ok(f, f->a);
  assert_true(rep->snapshot);
  assert_int_equal(rep->applied, 1);
  assert_true(rep->snapshot_workers > 10);
  protobuf_c_message_free_unpacked(&rep->base, NULL);
  assert_same_as_server(f, f->a, TOWN1);
  w = get_worker(f, f->a, other);
  assert_string_equal(w->phone, "13655555555");
  protobuf_c_message_free_unpacked(&w->base, NULL);
  f->done = 1;
}


/* The same call on the server and on a replica answers the same bytes. */
static void assert_same_answer(fx *f, sg_replica *r, const char *method,
                               const ProtobufCMessage *req) {
  ProtobufCMessage *a, *b;
  sg_status st;
  if (call(f, NULL, method, req, &a, &st)) fail_msg("%s on the server: %s", method, st.message);
  if (call(f, r, method, req, &b, &st)) fail_msg("%s on the replica: %s", method, st.message);
  size_t na = protobuf_c_message_get_packed_size(a), nb = protobuf_c_message_get_packed_size(b);
  uint8_t *pa = malloc(na + 1), *pb = malloc(nb + 1);
  protobuf_c_message_pack(a, pa);
  protobuf_c_message_pack(b, pb);
  if (na != nb || memcmp(pa, pb, na) != 0)
    fail_msg("%s answers %zu bytes on the server and %zu different ones on the replica", method,
             na, nb);
  if (na < 8) print_message("%s: only %zu bytes\n", method, na);
  free(pa);
  free(pb);
  protobuf_c_message_free_unpacked(a, NULL);
  protobuf_c_message_free_unpacked(b, NULL);
}

/* The town's reports, on the server and offline on its copy. */
static void assert_same_reports(fx *f, sg_replica *r, const char *town) {
  Shegong__V1__EligibilityRequest e = SHEGONG__V1__ELIGIBILITY_REQUEST__INIT;
  e.town_code = (char *)town;
  e.as_of = "2025-12-31";
  e.year = 2025;
  assert_same_answer(f, r, "Assessments/Eligibility", &e.base);
  Shegong__V1__ComplianceRequest c = SHEGONG__V1__COMPLIANCE_REQUEST__INIT;
  c.town_code = (char *)town;
  c.year = 2025;
  assert_same_answer(f, r, "Training/Compliance", &c.base);
  Shegong__V1__VisitsReportRequest v = SHEGONG__V1__VISITS_REPORT_REQUEST__INIT;
  v.town_code = (char *)town;
  v.year = 2025;
  assert_same_answer(f, r, "Assessments/VisitsReport", &v.base);
  Shegong__V1__ListAssessmentsRequest l = SHEGONG__V1__LIST_ASSESSMENTS_REQUEST__INIT;
  l.town_code = (char *)town;
  assert_same_answer(f, r, "Assessments/List", &l.base);
  Shegong__V1__GetPolicyRequest p = SHEGONG__V1__GET_POLICY_REQUEST__INIT;
  assert_same_answer(f, r, "Policies/Get", &p.base);
  /* the district's reports, as the town sees them */
  Shegong__V1__StaffingRequest sf = SHEGONG__V1__STAFFING_REQUEST__INIT;
  sf.town_code = (char *)town;
  assert_same_answer(f, r, "Reports/Staffing", &sf.base);
  Shegong__V1__StructureRequest sr = SHEGONG__V1__STRUCTURE_REQUEST__INIT;
  sr.town_code = (char *)town;
  sr.as_of = "2025-12-31";
  assert_same_answer(f, r, "Reports/Structure", &sr.base);
  Shegong__V1__TurnoverRequest tr = SHEGONG__V1__TURNOVER_REQUEST__INIT;
  tr.town_code = (char *)town;
  tr.hired_from = 2008;
  tr.hired_to = 2025;
  tr.gone_by = "2025-12-31";
  assert_same_answer(f, r, "Reports/Turnover", &tr.base);
  Shegong__V1__CertificationRequest cr = SHEGONG__V1__CERTIFICATION_REQUEST__INIT;
  cr.town_code = (char *)town;
  assert_same_answer(f, r, "Reports/Certification", &cr.base);
  Shegong__V1__HiringRequest hr = SHEGONG__V1__HIRING_REQUEST__INIT;
  hr.town_code = (char *)town;
  hr.from_year = 2016;
  hr.to_year = 2025;
  assert_same_answer(f, r, "Reports/Hiring", &hr.base);
}

static void test_records_and_reports_follow_to_the_replica(void **state) {
  fx *f = *state;
  sg_status st;
  /* from the snapshot of init */
  assert_same_reports(f, f->a, TOWN1);
  assert_same_reports(f, f->b, TOWN2);

  /* changes on the server: an assessment with visits, a new policy, a step */
  uint64_t id = nth_worker(f, TOWN1, 2);
  Shegong__V1__Assessment a = SHEGONG__V1__ASSESSMENT__INIT;
  a.worker_id = id;
  a.kind = SHEGONG__V1__ASSESSMENT_KIND__SPECIAL;
  a.year = 2025;
  a.superior_score = 91;
  a.resident_score = 95;
  a.assessor = "测试组";
  a.assessed_on = "2025-12-20";
  Shegong__V1__RecordAssessmentRequest rec = SHEGONG__V1__RECORD_ASSESSMENT_REQUEST__INIT;
  rec.assessment = &a;
  rec.set_visits = 1;
  rec.household_visits = 12;
  ProtobufCMessage *resp;
  assert_int_equal(call(f, NULL, "Assessments/Record", &rec.base, &resp, &st), 0);
  protobuf_c_message_free_unpacked(resp, NULL);
  Shegong__V1__GetPolicyRequest g = SHEGONG__V1__GET_POLICY_REQUEST__INIT;
  assert_int_equal(call(f, NULL, "Policies/Get", &g.base, &resp, &st), 0);
  Shegong__V1__Policy *pol = (Shegong__V1__Policy *)resp;
  pol->assessment->visit_minimum = 250;
  Shegong__V1__SetPolicyRequest set = SHEGONG__V1__SET_POLICY_REQUEST__INIT;
  set.expected_version = pol->version;
  set.policy = pol;
  ProtobufCMessage *resp2;
  assert_int_equal(call(f, NULL, "Policies/Set", &set.base, &resp2, &st), 0);
  protobuf_c_message_free_unpacked(resp2, NULL);
  protobuf_c_message_free_unpacked(resp, NULL);

  /* before the sync the copy still has the old minimum; after it, the same answers */
  Shegong__V1__SyncReport *rep = sync_ok(f, f->a);
  assert_true(rep->pulled >= 3); /* assessment, visits, policy */
  protobuf_c_message_free_unpacked(&rep->base, NULL);
  assert_same_reports(f, f->a, TOWN1);
  Shegong__V1__VisitsReportRequest v = SHEGONG__V1__VISITS_REPORT_REQUEST__INIT;
  v.year = 2025;
  assert_int_equal(call(f, f->a, "Assessments/VisitsReport", &v.base, &resp, &st), 0);
  assert_int_equal(((Shegong__V1__VisitsReportResponse *)resp)->minimum, 250);
  protobuf_c_message_free_unpacked(resp, NULL);
  /* the other town got the policy, not town 1's assessment */
  rep = sync_ok(f, f->b);
  protobuf_c_message_free_unpacked(&rep->base, NULL);
  assert_same_reports(f, f->b, TOWN2);
  Shegong__V1__ListAssessmentsRequest l = SHEGONG__V1__LIST_ASSESSMENTS_REQUEST__INIT;
  l.worker_id = id;
  assert_int_equal(call(f, f->b, "Assessments/List", &l.base, &resp, &st), SG_ENOTFOUND);

  /* a level changed offline through Update: the server records the step,
   * and the copy gets the server's record (its own ids would clash) */
  uint64_t lw = nth_worker(f, TOWN1, 1);
  Shegong__V1__Worker *cur = get_worker(f, f->a, lw);
  Shegong__V1__Worker lv = SHEGONG__V1__WORKER__INIT;
  lv.post = cur->post;
  lv.level = cur->level % 12 + 1;
  char *lmask[] = {"level"};
  Shegong__V1__UpdateWorkerRequest lu = SHEGONG__V1__UPDATE_WORKER_REQUEST__INIT;
  lu.id = lw;
  lu.expected_version = cur->version;
  lu.worker = &lv;
  lu.n_update_mask = 1;
  lu.update_mask = lmask;
  assert_int_equal(call(f, f->a, "Workers/Update", &lu.base, &resp, &st), 0);
  protobuf_c_message_free_unpacked(resp, NULL);
  protobuf_c_message_free_unpacked(&cur->base, NULL);
  rep = sync_ok(f, f->a);
  assert_int_equal(rep->applied, 1);
  protobuf_c_message_free_unpacked(&rep->base, NULL);
  Shegong__V1__LevelHistoryRequest lh = SHEGONG__V1__LEVEL_HISTORY_REQUEST__INIT;
  lh.id = lw;
  assert_same_answer(f, f->a, "Workers/LevelHistory", &lh.base);
  Shegong__V1__WorkerHistoryRequest wh = SHEGONG__V1__WORKER_HISTORY_REQUEST__INIT;
  wh.id = lw;
  assert_same_answer(f, f->a, "Workers/History", &wh.base);
  assert_same_reports(f, f->a, TOWN1);

  /* recording offline is the server's job for now: refused, with the reason */
  assert_int_equal(call(f, f->a, "Assessments/Record", &rec.base, &resp, &st), SG_EUNIMPL);
  assert_non_null(strstr(st.message, "not available on a replica"));

  /* a snapshot brings the records back whole: two changes, then all but one compacted */
  for (int k = 0; k < 2; k++) {
    Shegong__V1__Worker *w = get_worker(f, NULL, id);
    assert_int_equal(set_phone(f, NULL, id, w->version, k ? "13912340001" : "13912340000", &st), 0);
    protobuf_c_message_free_unpacked(&w->base, NULL);
  }
  Shegong__V1__CompactRequest c = SHEGONG__V1__COMPACT_REQUEST__INIT;
  c.keep = 1;
  assert_int_equal(sg_call(f->c, "Admin/Compact", &c.base, &resp, CALL_MS, &st), 0);
  protobuf_c_message_free_unpacked(resp, NULL);
  rep = sync_ok(f, f->a);
  assert_true(rep->snapshot);
  protobuf_c_message_free_unpacked(&rep->base, NULL);
  assert_same_as_server(f, f->a, TOWN1);
  assert_same_reports(f, f->a, TOWN1);
  f->done = 1;
}

/* `shegong --replica DIR sync`, killed after delay_ms (0: let it finish). */
static int cli_sync(fx *f, const char *dir, unsigned delay_ms) {
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    execl(SHEGONG_CLI_PATH, SHEGONG_CLI_PATH, "--server", f->srv.addr, "--replica", dir, "sync",
          (char *)NULL);
    _exit(127);
  }
  if (delay_ms) {
    hs_sleep_ms(delay_ms);
    kill(pid, SIGKILL);
  }
  int status;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_killed_syncs_lose_and_duplicate_nothing(void **state) {
  fx *f = *state;
  sg_status st;
  enum { N = 40 };
  char idnos[N][19];
  for (unsigned k = 0; k < N; k++) {
    idno_for(10 + k, idnos[k]);
    char name[32];
    snprintf(name, sizeof name, "离线%u", k);
    assert_int_equal(create_worker(f, f->a, name, idnos[k], "320602001001", NULL, &st), 0);
  }
  /* the replica is used by the child processes now: let them have the files */
  sg_replica_close(f->a);
  f->a = NULL;
  unsigned delays[] = {5, 15, 30, 60, 100, 150, 1, 40};
  int killed = 0;
  for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++)
    killed += cli_sync(f, f->dir_a, delays[i]) == 128 + SIGKILL;
  assert_int_equal(cli_sync(f, f->dir_a, 0), 0);
  print_message("%d of 8 syncs were killed mid-way\n", killed);
  assert_int_equal(sg_replica_open(&f->a, f->dir_a, &st), 0);
  Shegong__V1__ReplicaStatus *rs;
  assert_int_equal(sg_replica_status(f->a, &rs, &st), 0);
  assert_int_equal(rs->outbox, 0);
  assert_int_equal(rs->conflicts, 0);
  protobuf_c_message_free_unpacked(&rs->base, NULL);
  /* each worker exactly once on the server (the ID number is unique), and on the copy */
  for (unsigned k = 0; k < N; k++) {
    Shegong__V1__GetWorkerRequest g = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
    g.id_number = idnos[k];
    ProtobufCMessage *resp;
    assert_int_equal(sg_call(f->c, "Workers/Get", &g.base, &resp, CALL_MS, &st), 0);
    protobuf_c_message_free_unpacked(resp, NULL);
  }
  assert_same_as_server(f, f->a, TOWN1);
  f->done = 1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_offline_edits_on_both_sides_then_sync, setup, teardown),
      cmocka_unit_test_setup_teardown(test_conflicts_resolve_both_ways, setup, teardown),
      cmocka_unit_test_setup_teardown(test_move_between_towns_reaches_both, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compaction_falls_back_to_snapshot, setup, teardown),
      cmocka_unit_test_setup_teardown(test_killed_syncs_lose_and_duplicate_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_records_and_reports_follow_to_the_replica, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
