/*
 * Sync end to end: the changelog behind every mutation, Pull (paged,
 * per town, merged with district-wide changes), Snapshot, compaction and
 * OUT_OF_RANGE, and Push with idempotent replays and conflicts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>

#include <cmocka.h>

#include "harness.h"
#include "shegong.h"
#include "shegong/v1/admin.pb-c.h"
#include "shegong/v1/sync.pb-c.h"
#include "shegong/v1/units.pb-c.h"
#include "shegong/v1/workers.pb-c.h"

#define CALL_MS 15000
#define TOWN1 "320602001"
#define TOWN2 "320602002"

typedef struct fx {
  hs_server srv;
  sg_client *c;
  int done;
} fx;

/* One server with a small demo district (2 towns, 120 workers), shared by the tests. */
static int group_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  static const char *const args[] = {"--watch-heartbeat-ms", "300", NULL};
  if (!f || hs_server_start(&f->srv, NULL, args) != 0) return -1;
  const char *argv[] = {SHEGONG_DEMO_PATH, "--seed", "7", "--towns", "2", "--workers", "120",
                        "--quiet", NULL};
  char *err = NULL;
  int rc = hs_run(argv, f->srv.addr, NULL, &err, 0);
  if (rc != 0) {
    fprintf(stderr, "shegong-demo failed (%d): %s\n", rc, err ? err : "");
    free(err);
    return -1;
  }
  free(err);
  sg_status st;
  if (sg_client_connect(&f->c, f->srv.addr, 5000, &st) != 0) return -1;
  *state = f;
  return 0;
}

static int group_teardown(void **state) {
  fx *f = *state;
  sg_client_close(f->c);
  if (hs_server_stop(&f->srv) != 0) hs_server_print_log(&f->srv, 40);
  hs_server_cleanup(&f->srv);
  free(f);
  return 0;
}

/* A whole pull: every message's changes, in order, into one growing array. */
typedef struct pulled {
  Shegong__V1__PullResponse **msgs;
  size_t n_msgs;
  Shegong__V1__Change **changes; /* borrowed from msgs */
  size_t n;
  uint64_t head, through;
  int more;
} pulled;

static void pulled_free(pulled *p) {
  for (size_t i = 0; i < p->n_msgs; i++) protobuf_c_message_free_unpacked(&p->msgs[i]->base, NULL);
  free(p->msgs);
  free(p->changes);
  memset(p, 0, sizeof *p);
}

/* Returns 0, or the SG_E* code the stream ended with (st filled). */
static int pull(sg_client *c, const char *town, uint64_t since, uint32_t limit, pulled *out,
                sg_status *st) {
  memset(out, 0, sizeof *out);
  Shegong__V1__PullRequest req = SHEGONG__V1__PULL_REQUEST__INIT;
  req.town_code = (char *)town;
  req.since = since;
  req.limit = limit;
  uint32_t id;
  int rc = sg_call_send(c, "Sync/Pull", &req.base, CALL_MS, &id, st);
  if (rc) return rc;
  for (;;) {
    ProtobufCMessage *m;
    rc = sg_stream_next(c, id, &m, CALL_MS, st);
    if (rc == 1) return 0;
    if (rc < 0) return rc;
    Shegong__V1__PullResponse *r = (Shegong__V1__PullResponse *)m;
    out->msgs = realloc(out->msgs, (out->n_msgs + 1) * sizeof *out->msgs);
    out->msgs[out->n_msgs++] = r;
    out->changes = realloc(out->changes, (out->n + r->n_changes + 1) * sizeof *out->changes);
    for (size_t i = 0; i < r->n_changes; i++) out->changes[out->n++] = r->changes[i];
    if (r->head_revision) {
      out->head = r->head_revision;
      out->through = r->through_revision;
      out->more = r->more;
    }
  }
}

static int concerns(const Shegong__V1__Change *ch, const char *town) {
  if (ch->n_towns == 0) return 1; /* district-wide */
  for (size_t i = 0; i < ch->n_towns; i++)
    if (strcmp(ch->towns[i], town) == 0) return 1;
  return 0;
}

static void test_every_mutation_is_in_the_changelog(void **state) {
  fx *f = *state;
  pulled all;
  sg_status st;
  assert_int_equal(pull(f->c, "", 0, 10000, &all, &st), 0);
  /* 1 district + 2 towns + units + 120 workers (+ leaves): one change each, no gaps */
  assert_true(all.n > 120);
  assert_int_equal(all.n, all.head);
  for (size_t i = 0; i < all.n; i++) {
    assert_int_equal(all.changes[i]->revision, i + 1);
    assert_true(all.changes[i]->record_case != SHEGONG__V1__CHANGE__RECORD__NOT_SET);
    assert_true(all.changes[i]->time[0] && all.changes[i]->method[0]);
  }
  assert_int_equal(all.changes[0]->entity, SHEGONG__V1__ENTITY__ENTITY_UNIT);
  assert_int_equal(all.changes[0]->n_towns, 0); /* the district concerns every town */
  assert_false(all.more);
  assert_int_equal(all.through, all.head);
  pulled_free(&all);
}

static void test_town_pull_is_scoped_and_complete(void **state) {
  fx *f = *state;
  pulled all, t1, t2;
  sg_status st;
  assert_int_equal(pull(f->c, "", 0, 10000, &all, &st), 0);
  assert_int_equal(pull(f->c, TOWN1, 0, 10000, &t1, &st), 0);
  assert_int_equal(pull(f->c, TOWN2, 0, 10000, &t2, &st), 0);
  size_t want1 = 0, want2 = 0;
  for (size_t i = 0; i < all.n; i++) {
    want1 += (size_t)concerns(all.changes[i], TOWN1);
    want2 += (size_t)concerns(all.changes[i], TOWN2);
  }
  assert_int_equal(t1.n, want1);
  assert_int_equal(t2.n, want2);
  for (size_t i = 0; i < t1.n; i++) {
    assert_true(concerns(t1.changes[i], TOWN1));
    if (i) assert_true(t1.changes[i]->revision > t1.changes[i - 1]->revision);
  }
  assert_true(t1.n > 20 && t2.n > 20);
  pulled_free(&all);
  pulled_free(&t1);
  pulled_free(&t2);
}

static void test_pull_pages_with_limit(void **state) {
  fx *f = *state;
  pulled whole, page;
  sg_status st;
  assert_int_equal(pull(f->c, TOWN1, 0, 10000, &whole, &st), 0);
  uint64_t since = 0;
  size_t seen = 0, pages = 0;
  for (;;) {
    assert_int_equal(pull(f->c, TOWN1, since, 7, &page, &st), 0);
    assert_true(page.n <= 7);
    for (size_t i = 0; i < page.n; i++)
      assert_int_equal(page.changes[i]->revision, whole.changes[seen + i]->revision);
    seen += page.n;
    pages++;
    int more = page.more;
    since = page.through;
    pulled_free(&page);
    if (!more) break;
  }
  assert_int_equal(seen, whole.n);
  assert_true(pages >= whole.n / 7);
  pulled_free(&whole);
}

static void test_bad_pulls(void **state) {
  fx *f = *state;
  pulled p;
  sg_status st;
  assert_int_equal(pull(f->c, "320602999", 0, 10, &p, &st), SG_ENOTFOUND);
  assert_int_equal(pull(f->c, "3206", 0, 10, &p, &st), SG_EINVAL);
  assert_string_equal(st.violations[0].field, "town_code");
  assert_int_equal(pull(f->c, "320602001001", 0, 10, &p, &st), SG_EINVAL);
  assert_int_equal(pull(f->c, TOWN1, 0, 10001, &p, &st), SG_EINVAL);
  assert_int_equal(pull(f->c, TOWN1, 1u << 30, 10, &p, &st), SG_ERANGE);
  /* the connection is still good */
  assert_int_equal(pull(f->c, TOWN1, 0, 1, &p, &st), 0);
  pulled_free(&p);
}

static Shegong__V1__Worker *get_worker(sg_client *c, uint64_t id) {
  Shegong__V1__GetWorkerRequest g = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
  g.id = id;
  ProtobufCMessage *resp;
  sg_status st;
  assert_int_equal(sg_call(c, "Workers/Get", &g.base, &resp, CALL_MS, &st), 0);
  return (Shegong__V1__Worker *)resp;
}

/* The first active community-based worker of town; caller frees. */
static Shegong__V1__Worker *first_worker_of(sg_client *c, const char *town) {
  Shegong__V1__ListWorkersRequest l = SHEGONG__V1__LIST_WORKERS_REQUEST__INIT;
  l.town_code = (char *)town;
  l.page_size = 1000;
  ProtobufCMessage *resp;
  sg_status st;
  assert_int_equal(sg_call(c, "Workers/List", &l.base, &resp, CALL_MS, &st), 0);
  Shegong__V1__ListWorkersResponse *r = (Shegong__V1__ListWorkersResponse *)resp;
  uint64_t id = 0;
  for (size_t i = 0; i < r->n_workers && !id; i++)
    if (r->workers[i]->category == SHEGONG__V1__CATEGORY__COMMUNITY_BASED &&
        !r->workers[i]->grid_code[0])
      id = r->workers[i]->id;
  protobuf_c_message_free_unpacked(resp, NULL);
  assert_true(id != 0);
  return get_worker(c, id);
}

static void test_move_between_towns_concerns_both(void **state) {
  fx *f = *state;
  Shegong__V1__Worker *w = first_worker_of(f->c, TOWN1);
  Shegong__V1__Worker *dest = first_worker_of(f->c, TOWN2);
  Shegong__V1__UpdateWorkerRequest u = SHEGONG__V1__UPDATE_WORKER_REQUEST__INIT;
  Shegong__V1__Worker nw = SHEGONG__V1__WORKER__INIT;
  nw.unit_code = dest->unit_code;
  char *mask[] = {"unit_code"};
  u.id = w->id;
  u.expected_version = w->version;
  u.worker = &nw;
  u.n_update_mask = 1;
  u.update_mask = mask;
  ProtobufCMessage *resp;
  sg_status st;
  pulled before;
  assert_int_equal(pull(f->c, TOWN2, 0, 10000, &before, &st), 0);
  assert_int_equal(sg_call(f->c, "Workers/Update", &u.base, &resp, CALL_MS, &st), 0);
  Shegong__V1__Worker *moved = (Shegong__V1__Worker *)resp;
  assert_string_equal(moved->town_code, TOWN2);
  pulled p1, p2;
  assert_int_equal(pull(f->c, TOWN1, before.head, 100, &p1, &st), 0);
  assert_int_equal(pull(f->c, TOWN2, before.head, 100, &p2, &st), 0);
  assert_int_equal(p1.n, 1);
  /* the new town also gets the worker's history entry of the move (after the
   * hire's, when this is the worker's first change) */
  assert_true(p2.n == 2 || p2.n == 3);
  for (size_t i = 1; i < p2.n; i++)
    assert_int_equal(p2.changes[i]->record_case, SHEGONG__V1__CHANGE__RECORD_HISTORY);
  if (p2.n == 3) assert_string_equal(p2.changes[1]->history->cause, "hired");
  assert_string_equal(p2.changes[p2.n - 1]->history->unit_code, dest->unit_code);
  assert_int_equal(p1.changes[0]->revision, moved->revision);
  assert_int_equal(p1.changes[0]->n_towns, 2);
  assert_int_equal(p1.changes[0]->op, SHEGONG__V1__CHANGE_OP__CHANGE_UPDATE);
  assert_int_equal(p1.changes[0]->record_case, SHEGONG__V1__CHANGE__RECORD_WORKER);
  assert_string_equal(p1.changes[0]->worker->unit_code, dest->unit_code);
  assert_int_equal(p1.changes[0]->version, w->version + 1);
  pulled_free(&before);
  pulled_free(&p1);
  pulled_free(&p2);
  protobuf_c_message_free_unpacked(resp, NULL);
  protobuf_c_message_free_unpacked(&w->base, NULL);
  protobuf_c_message_free_unpacked(&dest->base, NULL);
}

/* Every message of a snapshot: unit and worker ids with their versions. */
typedef struct snap {
  uint64_t revision;
  size_t n_units, n_workers;
  uint64_t unit_ver[4096], worker_ver[4096]; /* by id; ids are small here */
  /* the other records (assessments, visits, courses, attendance, level
   * changes): how many, and (entity, id) seen, for the replay's count */
  size_t n_other;
  uint8_t other_seen[16][65536 / 8];
} snap;

static int snapshot(sg_client *c, const char *town, snap *s, sg_status *st) {
  memset(s, 0, sizeof *s);
  Shegong__V1__SnapshotRequest req = SHEGONG__V1__SNAPSHOT_REQUEST__INIT;
  req.town_code = (char *)town;
  uint32_t id;
  int rc = sg_call_send(c, "Sync/Snapshot", &req.base, CALL_MS, &id, st);
  if (rc) return rc;
  int last = 0;
  for (;;) {
    ProtobufCMessage *m;
    rc = sg_stream_next(c, id, &m, CALL_MS, st);
    if (rc == 1) break;
    if (rc < 0) return rc;
    Shegong__V1__SnapshotResponse *r = (Shegong__V1__SnapshotResponse *)m;
    for (size_t i = 0; i < r->n_units; i++) {
      assert_true(r->units[i]->id < 4096);
      assert_int_equal(s->unit_ver[r->units[i]->id], 0); /* each once */
      s->unit_ver[r->units[i]->id] = r->units[i]->version;
      s->n_units++;
    }
    for (size_t i = 0; i < r->n_workers; i++) {
      assert_true(r->workers[i]->id < 4096);
      assert_int_equal(s->worker_ver[r->workers[i]->id], 0);
      s->worker_ver[r->workers[i]->id] = r->workers[i]->version;
      s->n_workers++;
    }
    s->n_other += r->n_assessments + r->n_visits + r->n_courses + r->n_attendance +
                  r->n_level_changes + r->n_transfers + r->n_history;
    if (r->last) {
      last = 1;
      s->revision = r->revision;
    }
    protobuf_c_message_free_unpacked(m, NULL);
  }
  assert_true(last);
  return 0;
}

/* The worker a record is about (0 for a course or the policy). */
static uint64_t record_worker(const Shegong__V1__Change *c) {
  switch (c->record_case) {
  case SHEGONG__V1__CHANGE__RECORD_ASSESSMENT: return c->assessment->worker_id;
  case SHEGONG__V1__CHANGE__RECORD_VISITS: return c->visits->worker_id;
  case SHEGONG__V1__CHANGE__RECORD_ATTENDANCE: return c->attendance->worker_id;
  case SHEGONG__V1__CHANGE__RECORD_LEVEL_CHANGE: return c->level_change->worker_id;
  case SHEGONG__V1__CHANGE__RECORD_HISTORY: return c->history->worker_id;
  case SHEGONG__V1__CHANGE__RECORD_TRANSFER: return c->transfer->worker_id;
  default: return 0;
  }
}

/* True if the town's log last shows worker id in another town. */
static int moved_out_of(const pulled *p, uint64_t id, const char *town) {
  int out = 0;
  for (size_t i = 0; i < p->n; i++)
    if (p->changes[i]->entity == SHEGONG__V1__ENTITY__ENTITY_WORKER && p->changes[i]->id == id)
      out = strcmp(p->changes[i]->worker->town_code, town) != 0;
  return out;
}

/* Replays a town's pull into id -> version maps, as a replica would. */
static void replay(const pulled *p, snap *s) {
  for (size_t i = 0; i < p->n; i++) {
    const Shegong__V1__Change *c = p->changes[i];
    if (c->entity != SHEGONG__V1__ENTITY__ENTITY_UNIT &&
        c->entity != SHEGONG__V1__ENTITY__ENTITY_WORKER) {
      if (c->entity == SHEGONG__V1__ENTITY__ENTITY_POLICY) continue; /* not a town's record */
      /* a worker who moved away takes its records along */
      if (record_worker(c) && moved_out_of(p, record_worker(c), TOWN1)) continue;
      assert_true(c->entity < 16 && c->id < 65536);
      uint8_t *bit = &s->other_seen[c->entity][c->id / 8];
      if (!(*bit & (1u << (c->id % 8)))) s->n_other++;
      *bit |= (uint8_t)(1u << (c->id % 8));
      continue;
    }
    uint64_t *vers = c->entity == SHEGONG__V1__ENTITY__ENTITY_UNIT ? s->unit_ver : s->worker_ver;
    assert_true(c->id < 4096);
    vers[c->id] = c->version;
  }
}

static void test_snapshot_equals_replayed_pull(void **state) {
  fx *f = *state;
  snap *s = calloc(1, sizeof *s), *r = calloc(1, sizeof *r);
  pulled p;
  sg_status st;
  assert_int_equal(snapshot(f->c, TOWN1, s, &st), 0);
  assert_int_equal(pull(f->c, TOWN1, 0, 10000, &p, &st), 0);
  assert_int_equal(p.head, s->revision);
  replay(&p, r);
  /* a worker who moved away still has changes in the town's log: drop it */
  for (uint64_t id = 0; id < 4096; id++)
    if (r->worker_ver[id] && !s->worker_ver[id]) {
      int moved_out = 0;
      for (size_t i = 0; i < p.n; i++)
        if (p.changes[i]->entity == SHEGONG__V1__ENTITY__ENTITY_WORKER && p.changes[i]->id == id &&
            strcmp(p.changes[i]->worker->town_code, TOWN1) != 0)
          moved_out = 1;
      assert_true(moved_out);
      r->worker_ver[id] = 0;
    }
  assert_memory_equal(s->unit_ver, r->unit_ver, sizeof s->unit_ver);
  assert_memory_equal(s->worker_ver, r->worker_ver, sizeof s->worker_ver);
  /* the demo's history: the same records either way (no one moved towns) */
  assert_true(s->n_other > 100);
  assert_int_equal(s->n_other, r->n_other);
  assert_true(s->n_units > 10 && s->n_workers > 30);
  pulled_free(&p);
  free(s);
  free(r);
}

static Shegong__V1__PushResponse *push(sg_client *c, const char *client_id,
                                       Shegong__V1__Mutation **muts, size_t n) {
  Shegong__V1__PushRequest req = SHEGONG__V1__PUSH_REQUEST__INIT;
  req.client_id = (char *)client_id;
  req.mutations = muts;
  req.n_mutations = n;
  ProtobufCMessage *resp;
  sg_status st;
  int rc = sg_call(c, "Sync/Push", &req.base, &resp, CALL_MS, &st);
  if (rc) fail_msg("push: %s: %s", sg_code_name(st.code), st.message);
  return (Shegong__V1__PushResponse *)resp;
}

static void test_push_applies_replays_and_reports_conflicts(void **state) {
  fx *f = *state;
  Shegong__V1__Worker *w = first_worker_of(f->c, TOWN2);
  /* 1: a good update; 2: the same worker at a stale version; 3: an invalid phone */
  Shegong__V1__Worker p1 = SHEGONG__V1__WORKER__INIT, p3 = SHEGONG__V1__WORKER__INIT;
  p1.phone = "13912345678";
  p3.phone = "12";
  char *mask[] = {"phone"};
  Shegong__V1__UpdateWorkerRequest u1 = SHEGONG__V1__UPDATE_WORKER_REQUEST__INIT, u2, u3;
  u1.id = w->id;
  u1.expected_version = w->version;
  u1.worker = &p1;
  u1.n_update_mask = 1;
  u1.update_mask = mask;
  u2 = u1; /* same base version: a conflict once u1 is applied */
  u3 = u1;
  u3.worker = &p3;
  u3.expected_version = w->version + 1;
  Shegong__V1__Mutation m1 = SHEGONG__V1__MUTATION__INIT, m2, m3;
  m1.mutation_id = "m-1";
  m1.op_case = SHEGONG__V1__MUTATION__OP_UPDATE_WORKER;
  m1.update_worker = &u1;
  m2 = m1;
  m2.mutation_id = "m-2";
  m2.update_worker = &u2;
  m3 = m1;
  m3.mutation_id = "m-3";
  m3.update_worker = &u3;
  Shegong__V1__Mutation *muts[] = {&m1, &m2, &m3};

  Shegong__V1__PushResponse *r = push(f->c, "office-test", muts, 3);
  assert_int_equal(r->n_results, 3);
  assert_string_equal(r->results[0]->mutation_id, "m-1");
  assert_int_equal(r->results[0]->status->code, SHEGONG__V1__CODE__OK);
  assert_int_equal(r->results[0]->record_case, SHEGONG__V1__MUTATION_RESULT__RECORD_WORKER);
  assert_int_equal(r->results[0]->worker->version, w->version + 1);
  assert_string_equal(r->results[0]->worker->phone, "13912345678");
  assert_true(r->results[0]->revision > 0);
  assert_false(r->results[0]->replayed);
  /* the conflict carries the record as it is now */
  assert_int_equal(r->results[1]->status->code, SHEGONG__V1__CODE__ABORTED);
  assert_int_equal(r->results[1]->record_case, SHEGONG__V1__MUTATION_RESULT__RECORD_WORKER);
  assert_int_equal(r->results[1]->worker->version, w->version + 1);
  assert_int_equal(r->results[2]->status->code, SHEGONG__V1__CODE__INVALID_ARGUMENT);
  assert_int_equal(r->results[2]->status->n_violations, 1);
  assert_string_equal(r->results[2]->status->violations[0]->field, "worker.phone");
  uint64_t head = r->head_revision;

  /* a replay (say the answer was lost) changes nothing and says the same */
  Shegong__V1__PushResponse *again = push(f->c, "office-test", muts, 3);
  assert_int_equal(again->n_results, 3);
  assert_int_equal(again->head_revision, head);
  for (size_t i = 0; i < 3; i++) {
    assert_true(again->results[i]->replayed);
    assert_int_equal(again->results[i]->status->code, r->results[i]->status->code);
    assert_int_equal(again->results[i]->revision, r->results[i]->revision);
  }
  Shegong__V1__Worker *now = get_worker(f->c, w->id);
  assert_int_equal(now->version, w->version + 1);

  /* the same mutation id from another client is another mutation */
  Shegong__V1__PushResponse *other = push(f->c, "office-other", muts, 1);
  assert_int_equal(other->results[0]->status->code, SHEGONG__V1__CODE__ABORTED);
  assert_false(other->results[0]->replayed);

  protobuf_c_message_free_unpacked(&r->base, NULL);
  protobuf_c_message_free_unpacked(&again->base, NULL);
  protobuf_c_message_free_unpacked(&other->base, NULL);
  protobuf_c_message_free_unpacked(&now->base, NULL);
  protobuf_c_message_free_unpacked(&w->base, NULL);
}

static void test_push_rejects_bad_requests(void **state) {
  fx *f = *state;
  Shegong__V1__Mutation m = SHEGONG__V1__MUTATION__INIT, *muts[] = {&m};
  Shegong__V1__PushRequest req = SHEGONG__V1__PUSH_REQUEST__INIT;
  req.mutations = muts;
  req.n_mutations = 1;
  ProtobufCMessage *resp;
  sg_status st;
  /* no client id, no mutation id */
  assert_int_equal(sg_call(f->c, "Sync/Push", &req.base, &resp, CALL_MS, &st), SG_EINVAL);
  assert_int_equal(st.n_violations, 2);
  assert_string_equal(st.violations[0].field, "client_id");
  assert_string_equal(st.violations[1].field, "mutations[0].mutation_id");
  /* a mutation with no operation is its own INVALID_ARGUMENT outcome */
  req.client_id = "office-x";
  m.mutation_id = "empty";
  assert_int_equal(sg_call(f->c, "Sync/Push", &req.base, &resp, CALL_MS, &st), 0);
  Shegong__V1__PushResponse *r = (Shegong__V1__PushResponse *)resp;
  assert_int_equal(r->results[0]->status->code, SHEGONG__V1__CODE__INVALID_ARGUMENT);
  protobuf_c_message_free_unpacked(resp, NULL);
}

static uint32_t open_watch(sg_client *c, const char *town, uint64_t since) {
  Shegong__V1__WatchRequest req = SHEGONG__V1__WATCH_REQUEST__INIT;
  req.town_code = (char *)town;
  req.since = since;
  uint32_t id;
  sg_status st;
  assert_int_equal(sg_call_send(c, "Sync/Watch", &req.base, 0, &id, &st), 0);
  return id;
}

/* The next watch message; fails the test on an error or the end. */
static Shegong__V1__PullResponse *next_msg(sg_client *c, uint32_t id) {
  ProtobufCMessage *m = NULL;
  sg_status st;
  int rc = sg_stream_next(c, id, &m, 10000, &st);
  if (rc != 0) fail_msg("watch: %d %s: %s", rc, sg_code_name(st.code), st.message);
  return (Shegong__V1__PullResponse *)m;
}

static void test_watch_sends_changes_as_they_commit(void **state) {
  fx *f = *state;
  sg_status st;
  pulled now;
  assert_int_equal(pull(f->c, TOWN1, 0, 10000, &now, &st), 0);
  uint64_t head = now.head;
  pulled_free(&now);
  /* the watcher has its own connection; the changes come from another */
  sg_client *wc;
  assert_int_equal(sg_client_connect(&wc, f->srv.addr, 5000, &st), 0);
  uint32_t id = open_watch(wc, TOWN1, head - 2);
  /* the backlog first: the last two revisions, as far as they concern town 1 */
  Shegong__V1__PullResponse *m = next_msg(wc, id);
  assert_int_equal(m->head_revision, head);
  assert_int_equal(m->through_revision, head);
  protobuf_c_message_free_unpacked(&m->base, NULL);

  /* a change in town 2 is not for this watch; one in town 1 is */
  Shegong__V1__Worker *w2 = first_worker_of(f->c, TOWN2), *w1 = first_worker_of(f->c, TOWN1);
  Shegong__V1__Worker p = SHEGONG__V1__WORKER__INIT;
  p.phone = "13566666666";
  char *mask[] = {"phone"};
  Shegong__V1__UpdateWorkerRequest u = SHEGONG__V1__UPDATE_WORKER_REQUEST__INIT;
  u.worker = &p;
  u.n_update_mask = 1;
  u.update_mask = mask;
  ProtobufCMessage *resp;
  u.id = w2->id;
  u.expected_version = w2->version;
  assert_int_equal(sg_call(f->c, "Workers/Update", &u.base, &resp, CALL_MS, &st), 0);
  protobuf_c_message_free_unpacked(resp, NULL);
  u.id = w1->id;
  u.expected_version = w1->version;
  assert_int_equal(sg_call(f->c, "Workers/Update", &u.base, &resp, CALL_MS, &st), 0);
  uint64_t rev = ((Shegong__V1__Worker *)resp)->revision;
  protobuf_c_message_free_unpacked(resp, NULL);
  /* skip heartbeats until the change comes */
  int got = 0;
  for (int i = 0; i < 20 && !got; i++) {
    m = next_msg(wc, id);
    for (size_t k = 0; k < m->n_changes; k++) {
      assert_true(concerns(m->changes[k], TOWN1));
      if (m->changes[k]->revision == rev) {
        got = 1;
        assert_int_equal(m->changes[k]->id, w1->id);
        assert_string_equal(m->changes[k]->worker->phone, "13566666666");
      }
    }
    protobuf_c_message_free_unpacked(&m->base, NULL);
  }
  assert_true(got);
  /* idle: progress messages keep coming, with the head */
  m = next_msg(wc, id);
  assert_int_equal(m->n_changes, 0);
  assert_true(m->head_revision >= rev);
  protobuf_c_message_free_unpacked(&m->base, NULL);
  /* cancel ends it cleanly, and the connection stays good */
  assert_int_equal(sg_call_cancel(wc, id, &st), 0);
  int rc;
  do {
    ProtobufCMessage *mm = NULL;
    rc = sg_stream_next(wc, id, &mm, 10000, &st);
    if (mm) protobuf_c_message_free_unpacked(mm, NULL);
  } while (rc == 0);
  assert_int_equal(rc, SG_ECANCELED);
  Shegong__V1__HelloRequest h = SHEGONG__V1__HELLO_REQUEST__INIT;
  assert_int_equal(sg_call(wc, "Admin/Hello", &h.base, &resp, CALL_MS, &st), 0);
  protobuf_c_message_free_unpacked(resp, NULL);
  sg_client_close(wc);
  protobuf_c_message_free_unpacked(&w1->base, NULL);
  protobuf_c_message_free_unpacked(&w2->base, NULL);
}

static void test_watch_ends_when_the_server_stops(void **state) {
  (void)state;
  hs_server srv;
  assert_int_equal(hs_server_start(&srv, NULL, NULL), 0);
  sg_client *c;
  sg_status st;
  assert_int_equal(sg_client_connect(&c, srv.addr, 5000, &st), 0);
  uint32_t id = open_watch(c, "", 0);
  Shegong__V1__PullResponse *m = next_msg(c, id); /* the (empty) backlog */
  protobuf_c_message_free_unpacked(&m->base, NULL);
  assert_int_equal(hs_server_signal(&srv, SIGTERM), 0);
  ProtobufCMessage *mm = NULL;
  assert_int_equal(sg_stream_next(c, id, &mm, 10000, &st), SG_EUNAVAIL);
  assert_non_null(strstr(st.message, "stopping"));
  assert_int_equal(hs_server_wait(&srv, HS_STOP_TIMEOUT_MS), 0);
  sg_client_close(c);
  hs_server_cleanup(&srv);
}

/*
 * Regression: answers written from a timer waited for the next poll, so
 * every heartbeat came one period late.
 */
static void test_heartbeat_comes_on_time(void **state) {
  fx *f = *state;
  hs_server srv;
  static const char *const args[] = {"--watch-heartbeat-ms", "1000", NULL};
  assert_int_equal(hs_server_start(&srv, NULL, args), 0);
  sg_client *c;
  sg_status st;
  assert_int_equal(sg_client_connect(&c, srv.addr, 5000, &st), 0);
  uint32_t id = open_watch(c, "", 0);
  Shegong__V1__PullResponse *m = next_msg(c, id); /* the (empty) backlog */
  protobuf_c_message_free_unpacked(&m->base, NULL);
  unsigned long long t0 = hs_now_ms();
  m = next_msg(c, id);
  unsigned long long dt = hs_now_ms() - t0;
  protobuf_c_message_free_unpacked(&m->base, NULL);
  print_message("heartbeat after %llu ms (period 1000)\n", dt);
  assert_true(dt < 1700);
  sg_client_close(c);
  assert_int_equal(hs_server_stop(&srv), 0);
  hs_server_cleanup(&srv);
  hs_use_token_file(f->srv.token_file); /* back to the shared server's token */
}

/* Last: it compacts the shared server's changelog. */
static void test_compaction_sends_replicas_to_a_snapshot(void **state) {
  fx *f = *state;
  pulled p;
  sg_status st;
  Shegong__V1__CompactRequest c = SHEGONG__V1__COMPACT_REQUEST__INIT;
  ProtobufCMessage *resp;
  assert_int_equal(sg_call(f->c, "Admin/Compact", &c.base, &resp, CALL_MS, &st), SG_EINVAL);
  c.keep = 5;
  assert_int_equal(sg_call(f->c, "Admin/Compact", &c.base, &resp, CALL_MS, &st), 0);
  Shegong__V1__CompactResponse *cr = (Shegong__V1__CompactResponse *)resp;
  assert_int_equal(cr->compacted_revision, cr->head_revision - 5);
  assert_int_equal(cr->dropped, cr->compacted_revision);
  uint64_t compacted = cr->compacted_revision;
  protobuf_c_message_free_unpacked(resp, NULL);

  /* a replica that last pulled before it cannot pull on */
  assert_int_equal(pull(f->c, TOWN1, 0, 100, &p, &st), SG_ERANGE);
  assert_non_null(strstr(st.message, "snapshot"));
  assert_int_equal(pull(f->c, TOWN1, compacted - 1, 100, &p, &st), SG_ERANGE);
  /* from the compacted revision on, it can */
  assert_int_equal(pull(f->c, "", compacted, 100, &p, &st), 0);
  assert_int_equal(p.n, 5);
  pulled_free(&p);
  /* and a snapshot gives it a revision to pull from */
  snap *s = calloc(1, sizeof *s);
  assert_int_equal(snapshot(f->c, TOWN1, s, &st), 0);
  assert_int_equal(pull(f->c, TOWN1, s->revision, 100, &p, &st), 0);
  assert_int_equal(p.n, 0);
  pulled_free(&p);
  free(s);
  /* compacting less than before changes nothing */
  c.keep = 1000000;
  assert_int_equal(sg_call(f->c, "Admin/Compact", &c.base, &resp, CALL_MS, &st), 0);
  cr = (Shegong__V1__CompactResponse *)resp;
  assert_int_equal(cr->compacted_revision, compacted);
  assert_int_equal(cr->dropped, 0);
  protobuf_c_message_free_unpacked(resp, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_mutation_is_in_the_changelog),
      cmocka_unit_test(test_town_pull_is_scoped_and_complete),
      cmocka_unit_test(test_pull_pages_with_limit),
      cmocka_unit_test(test_bad_pulls),
      cmocka_unit_test(test_move_between_towns_concerns_both),
      cmocka_unit_test(test_snapshot_equals_replayed_pull),
      cmocka_unit_test(test_push_applies_replays_and_reports_conflicts),
      cmocka_unit_test(test_push_rejects_bad_requests),
      cmocka_unit_test(test_watch_sends_changes_as_they_commit),
      cmocka_unit_test(test_watch_ends_when_the_server_stops),
      cmocka_unit_test(test_heartbeat_comes_on_time),
      cmocka_unit_test(test_compaction_sends_replicas_to_a_snapshot),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
