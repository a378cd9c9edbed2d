/* Storage: record and index round trips, index moves, reopen. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "error.h"
#include "log.h"
#include "store/check.h"
#include "store/env.h"
#include "store/units.h"
#include "store/records.h"
#include "store/workers.h"

typedef struct fixture {
  char dir[64];
  sg_store *s;
  sg_arena arena;
} fixture;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb; (void)flag; (void)ftw;
  return remove(p);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/sg-store-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  sg_log_set_level(SG_LOG_WARN);
  if (sg_store_open(&f->s, f->dir, 64u << 20) != 0) return -1;
  sg_arena_init(&f->arena, 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  sg_store_close(f->s);
  sg_arena_destroy(&f->arena);
  nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
  free(f);
  return 0;
}

static MDB_txn *begin(fixture *f, unsigned flags) {
  MDB_txn *txn;
  assert_int_equal(mdb_txn_begin(f->s->env, NULL, flags, &txn), 0);
  return txn;
}

static void put_unit(fixture *f, MDB_txn *txn, uint64_t id, int kind, const char *code,
                     const char *name, uint64_t parent) {
  sg_unit u = SHEGONG__V1__UNIT__INIT;
  u.id = id;
  u.version = 1;
  u.kind = kind;
  u.code = (char *)code;
  u.name = (char *)name;
  u.parent_id = parent;
  assert_int_equal(sg_units_insert(f->s, txn, &u), 0);
}

static int count_pairs(void *ctx, uint64_t b) {
  (void)b;
  (*(int *)ctx)++;
  return 0;
}

static int pairs(fixture *f, MDB_txn *txn, MDB_dbi dbi, uint64_t a) {
  (void)f;
  int n = 0;
  assert_int_equal(sg_index_pair_scan(txn, dbi, a, 0, count_pairs, &n), 0);
  return n;
}

static void test_keys_sort_numerically(void **state) {
  (void)state;
  uint8_t a[8], b[8];
  sg_key_u64(a, 255);
  sg_key_u64(b, 256);
  assert_true(memcmp(a, b, 8) < 0);
  assert_int_equal(sg_key_get_u64(b), 256);
  sg_key_u64(a, UINT64_MAX);
  assert_int_equal(sg_key_get_u64(a), UINT64_MAX);
}

static void test_sequences_and_revision(void **state) {
  fixture *f = *state;
  MDB_txn *txn = begin(f, 0);
  uint64_t a, b, r;
  assert_int_equal(sg_store_next_id(f->s, txn, "seq:worker", &a), 0);
  assert_int_equal(sg_store_next_id(f->s, txn, "seq:worker", &b), 0);
  assert_int_equal(a, 1);
  assert_int_equal(b, 2);
  assert_int_equal(sg_store_next_revision(f->s, txn, &r), 0);
  assert_int_equal(r, 1);
  /* a nested transaction that aborts takes its revision with it */
  MDB_txn *child;
  assert_int_equal(mdb_txn_begin(f->s->env, txn, 0, &child), 0);
  assert_int_equal(sg_store_next_revision(f->s, child, &r), 0);
  assert_int_equal(r, 2);
  mdb_txn_abort(child);
  assert_int_equal(sg_store_head_revision(f->s, txn, &r), 0);
  assert_int_equal(r, 1);
  assert_int_equal(mdb_txn_commit(txn), 0);
}

static void test_units_round_trip(void **state) {
  fixture *f = *state;
  MDB_txn *txn = begin(f, 0);
  put_unit(f, txn, 1, SHEGONG__V1__UNIT_KIND__DISTRICT, "320602", "崇川区", 0);
  put_unit(f, txn, 2, SHEGONG__V1__UNIT_KIND__TOWN, "320602001", "和平桥街道", 1);
  put_unit(f, txn, 3, SHEGONG__V1__UNIT_KIND__TOWN, "320602002", "任港街道", 1);
  /* the code index is unique */
  sg_unit dup = SHEGONG__V1__UNIT__INIT;
  dup.id = 4;
  dup.code = "320602002";
  dup.name = "x";
  assert_int_equal(sg_units_insert(f->s, txn, &dup), SG_EEXISTS);
  assert_int_equal(mdb_txn_commit(txn), 0);

  txn = begin(f, MDB_RDONLY);
  sg_unit *u;
  assert_int_equal(sg_units_get_by_code(f->s, txn, "320602001", &f->arena.allocator, &u), 0);
  assert_int_equal(u->id, 2);
  assert_string_equal(u->name, "和平桥街道");
  assert_int_equal(u->parent_id, 1);
  assert_int_equal(sg_units_get(f->s, txn, 3, &f->arena.allocator, &u), 0);
  assert_string_equal(u->code, "320602002");
  assert_int_equal(sg_units_get(f->s, txn, 99, &f->arena.allocator, &u), SG_ENOTFOUND);
  assert_int_equal(sg_units_get_by_code(f->s, txn, "320602003", &f->arena.allocator, &u),
                   SG_ENOTFOUND);
  assert_int_equal(pairs(f, txn, f->s->units_by_parent, 1), 2);
  assert_int_equal(pairs(f, txn, f->s->units_by_parent, 2), 0);
  mdb_txn_abort(txn);
}

static sg_worker make_worker(uint64_t id, const char *idno, uint64_t unit) {
  sg_worker w = SHEGONG__V1__WORKER__INIT;
  w.id = id;
  w.version = 1;
  w.name = "张三";
  w.id_number = (char *)idno;
  w.unit_id = unit;
  return w;
}

static void test_workers_indexes_follow_changes(void **state) {
  fixture *f = *state;
  MDB_txn *txn = begin(f, 0);
  sg_worker a = make_worker(1, "11010519491231002X", 10);
  sg_worker b = make_worker(2, "320602199003071236", 10);
  assert_int_equal(sg_workers_put(f->s, txn, &a, 100, NULL, 0), 0);
  assert_int_equal(sg_workers_put(f->s, txn, &b, 100, NULL, 0), 0);
  /* a third worker with a's ID number is refused */
  sg_worker c = make_worker(3, "11010519491231002X", 11);
  assert_int_equal(sg_workers_put(f->s, txn, &c, 100, NULL, 0), SG_EEXISTS);
  uint64_t id;
  assert_int_equal(sg_workers_find_idno(f->s, txn, "320602199003071236", &id), 0);
  assert_int_equal(id, 2);
  assert_int_equal(pairs(f, txn, f->s->workers_by_unit, 10), 2);

  /* b moves to unit 11 in town 101 and gets a corrected ID number */
  sg_worker b2 = b;
  b2.version = 2;
  b2.unit_id = 11;
  b2.id_number = "440304198501010013";
  assert_int_equal(sg_workers_put(f->s, txn, &b2, 101, &b, 100), 0);
  assert_int_equal(pairs(f, txn, f->s->workers_by_unit, 10), 1);
  assert_int_equal(pairs(f, txn, f->s->workers_by_unit, 11), 1);
  assert_int_equal(pairs(f, txn, f->s->workers_by_town, 100), 1);
  assert_int_equal(pairs(f, txn, f->s->workers_by_town, 101), 1);
  assert_int_equal(sg_workers_find_idno(f->s, txn, "320602199003071236", &id), SG_ENOTFOUND);
  assert_int_equal(sg_workers_find_idno(f->s, txn, "440304198501010013", &id), 0);
  assert_int_equal(id, 2);
  assert_int_equal(mdb_txn_commit(txn), 0);

  txn = begin(f, MDB_RDONLY);
  sg_worker *got;
  assert_int_equal(sg_workers_get(f->s, txn, 2, &f->arena.allocator, &got), 0);
  assert_int_equal(got->version, 2);
  assert_int_equal(got->unit_id, 11);
  assert_string_equal(got->name, "张三");
  mdb_txn_abort(txn);
}

static void test_reopen_keeps_everything(void **state) {
  fixture *f = *state;
  MDB_txn *txn = begin(f, 0);
  sg_worker a = make_worker(7, "11010519491231002X", 10);
  assert_int_equal(sg_workers_put(f->s, txn, &a, 100, NULL, 0), 0);
  uint64_t r;
  assert_int_equal(sg_store_next_revision(f->s, txn, &r), 0);
  assert_int_equal(mdb_txn_commit(txn), 0);
  uint8_t key_before[32];
  memcpy(key_before, f->s->idno_key, 32);
  sg_store_close(f->s);

  assert_int_equal(sg_store_open(&f->s, f->dir, 64u << 20), 0);
  /* the digest key is the database's, so lookups still find the worker */
  assert_memory_equal(key_before, f->s->idno_key, 32);
  txn = begin(f, MDB_RDONLY);
  uint64_t id, head, schema;
  assert_int_equal(sg_workers_find_idno(f->s, txn, "11010519491231002X", &id), 0);
  assert_int_equal(id, 7);
  assert_int_equal(sg_store_head_revision(f->s, txn, &head), 0);
  assert_int_equal(head, r);
  assert_int_equal(sg_meta_get_u64(f->s, txn, "schema_version", &schema), 0);
  assert_int_equal(schema, SG_SCHEMA_VERSION);
  mdb_txn_abort(txn);
}

static void test_newer_schema_refused(void **state) {
  fixture *f = *state;
  MDB_txn *txn = begin(f, 0);
  assert_int_equal(sg_meta_put_u64(f->s, txn, "schema_version", SG_SCHEMA_VERSION + 1), 0);
  assert_int_equal(mdb_txn_commit(txn), 0);
  sg_store_close(f->s);
  f->s = NULL;
  assert_int_equal(sg_store_open(&f->s, f->dir, 64u << 20), SG_EPRECOND);
  assert_null(f->s);
  /* put it back so that teardown has something to close */
  sg_store *raw;
  MDB_env *env;
  assert_int_equal(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 32);
  assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
  MDB_dbi meta;
  assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
  assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
  uint8_t v[8];
  sg_key_u64(v, SG_SCHEMA_VERSION);
  MDB_val k = {14, "schema_version"}, val = {8, v};
  assert_int_equal(mdb_put(txn, meta, &k, &val, 0), 0);
  assert_int_equal(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
  assert_int_equal(sg_store_open(&raw, f->dir, 64u << 20), 0);
  f->s = raw;
}

static void test_corrupt_record_is_data_loss(void **state) {
  fixture *f = *state;
  MDB_txn *txn = begin(f, 0);
  uint8_t key[8];
  sg_key_u64(key, 42);
  uint8_t junk[] = {0x0a, 0x7f, 0x01};
  MDB_val k = {8, key}, v = {sizeof junk, junk};
  assert_int_equal(mdb_put(txn, f->s->workers, &k, &v, 0), 0);
  sg_worker *w;
  sg_log_set_level(SG_LOG_ERROR + 1);
  assert_int_equal(sg_workers_get(f->s, txn, 42, &f->arena.allocator, &w), SG_EDATALOSS);
  sg_log_set_level(SG_LOG_WARN);
  mdb_txn_abort(txn);
}

/* The integrity check finds each kind of damage it claims to. */
static void test_check_finds_damage(void **state) {
  fixture *f = *state;
  MDB_txn *txn = begin(f, 0);
  put_unit(f, txn, 1, SHEGONG__V1__UNIT_KIND__DISTRICT, "320602", "崇川区", 0);
  put_unit(f, txn, 2, SHEGONG__V1__UNIT_KIND__TOWN, "320602001", "和平桥街道", 1);
  sg_worker a = make_worker(1, "11010519491231002X", 2);
  a.town_code = "320602001";
  assert_int_equal(sg_workers_put(f->s, txn, &a, 2, NULL, 0), 0);
  assert_int_equal(mdb_txn_commit(txn), 0);
  sg_check_stats cs;
  assert_int_equal(sg_store_check(f->s, NULL, &cs), 0);
  assert_int_equal(cs.problems, 0);
  assert_int_equal(cs.units, 2);
  assert_int_equal(cs.workers, 1);

  /* an index entry lost */
  txn = begin(f, 0);
  assert_int_equal(sg_index_pair_del(txn, f->s->workers_by_unit, 2, 1), 0);
  assert_int_equal(mdb_txn_commit(txn), 0);
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  assert_int_equal(sg_store_check(f->s, out, &cs), 0);
  fclose(out);
  assert_int_equal(cs.problems, 1);
  assert_non_null(strstr(buf, "missing from workers_by_unit"));
  free(buf);

  /* a revision the changelog does not hold */
  txn = begin(f, 0);
  assert_int_equal(sg_index_pair_put(txn, f->s->workers_by_unit, 2, 1), 0);
  uint64_t r;
  assert_int_equal(sg_store_next_revision(f->s, txn, &r), 0);
  assert_int_equal(mdb_txn_commit(txn), 0);
  assert_int_equal(sg_store_check(f->s, NULL, &cs), 0);
  assert_int_equal(cs.problems, 1); /* the log ends before the head */

  /* a record that does not decode */
  txn = begin(f, 0);
  uint8_t key[8], junk[] = {0x0a, 0x7f};
  sg_key_u64(key, 2);
  MDB_val k = {8, key}, v = {sizeof junk, junk};
  assert_int_equal(mdb_put(txn, f->s->units, &k, &v, 0), 0);
  assert_int_equal(mdb_txn_commit(txn), 0);
  assert_int_equal(sg_store_check(f->s, NULL, &cs), 0);
  assert_true(cs.problems >= 3); /* the record, and the indexes and worker that name it */
}

/* Records of the other kinds: indexed by worker, found by the scan, checked. */
static int collect(void *arg, uint64_t id) {
  uint64_t *ids = arg;
  ids[++ids[0]] = id;
  return ids[0] == 7 ? 1 : 0;
}

static void test_records_and_their_check(void **state) {
  fixture *f = *state;
  MDB_txn *txn = begin(f, 0);
  put_unit(f, txn, 1, SHEGONG__V1__UNIT_KIND__DISTRICT, "320602", "崇川区", 0);
  put_unit(f, txn, 2, SHEGONG__V1__UNIT_KIND__TOWN, "320602001", "和平桥街道", 1);
  sg_worker w = make_worker(5, "11010519491231002X", 2);
  w.town_code = "320602001";
  assert_int_equal(sg_workers_put(f->s, txn, &w, 2, NULL, 0), 0);
  for (uint64_t id = 1; id <= 3; id++) {
    Shegong__V1__Assessment a = SHEGONG__V1__ASSESSMENT__INIT;
    a.id = id;
    a.version = 1;
    a.worker_id = 5;
    a.year = 2022 + (uint32_t)id;
    assert_int_equal(sg_rec_put(f->s, txn, SG_REC_ASSESSMENT, &a.base), 0);
  }
  Shegong__V1__Attendance at = SHEGONG__V1__ATTENDANCE__INIT;
  at.id = 1;
  at.worker_id = 5;
  at.course_id = 9;
  assert_int_equal(sg_rec_put(f->s, txn, SG_REC_ATTENDANCE, &at.base), 0);
  /* an overwrite (an amendment) leaves the indexes alone */
  Shegong__V1__Assessment a2 = SHEGONG__V1__ASSESSMENT__INIT;
  a2.id = 2;
  a2.version = 2;
  a2.worker_id = 5;
  a2.year = 2024;
  assert_int_equal(sg_rec_put(f->s, txn, SG_REC_ASSESSMENT, &a2.base), 0);
  uint64_t ids[8] = {0};
  assert_int_equal(sg_rec_scan_worker(f->s, txn, SG_REC_ASSESSMENT, 5, collect, ids), 0);
  assert_int_equal(ids[0], 3);
  assert_int_equal(ids[1], 1);
  assert_int_equal(ids[3], 3);
  memset(ids, 0, sizeof ids);
  assert_int_equal(sg_rec_scan_worker(f->s, txn, SG_REC_ASSESSMENT, 6, collect, ids), 0);
  assert_int_equal(ids[0], 0);
  assert_int_equal(sg_index_pair_scan(txn, f->s->attendance_by_course, 9, 0, collect, ids), 0);
  assert_int_equal(ids[0], 1);
  /* the policy: the defaults until one is stored, then the newest */
  Shegong__V1__Policy *p;
  assert_int_equal(sg_policy_current(f->s, txn, NULL, &p), 0);
  assert_int_equal(p->version, 0);
  assert_int_equal(p->assessment->visit_minimum, 200);
  protobuf_c_message_free_unpacked(&p->base, NULL);
  for (uint64_t v = 1; v <= 2; v++) {
    Shegong__V1__Policy np = SHEGONG__V1__POLICY__INIT;
    np.version = v;
    np.name = v == 1 ? "one" : "two";
    assert_int_equal(sg_rec_put(f->s, txn, SG_REC_POLICY, &np.base), 0);
  }
  assert_int_equal(sg_policy_current(f->s, txn, NULL, &p), 0);
  assert_int_equal(p->version, 2);
  assert_string_equal(p->name, "two");
  protobuf_c_message_free_unpacked(&p->base, NULL);
  assert_int_equal(mdb_txn_commit(txn), 0);

  sg_check_stats cs;
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  assert_int_equal(sg_store_check(f->s, out, &cs), 0);
  fclose(out);
  if (cs.problems) print_message("%s", buf);
  free(buf);
  assert_int_equal(cs.problems, 0);
  assert_int_equal(cs.records, 3 + 1 + 2);

  /* damage: an index entry lost, one pointing nowhere, a record of a worker who is not */
  txn = begin(f, 0);
  assert_int_equal(sg_index_pair_del(txn, f->s->assessments_by_worker, 5, 2), 0);
  assert_int_equal(sg_index_pair_put(txn, f->s->level_changes_by_worker, 5, 77), 0);
  Shegong__V1__HouseholdVisits h = SHEGONG__V1__HOUSEHOLD_VISITS__INIT;
  h.id = 1;
  h.worker_id = 99;
  assert_int_equal(sg_rec_put(f->s, txn, SG_REC_VISITS, &h.base), 0);
  assert_int_equal(mdb_txn_commit(txn), 0);
  buf = NULL;
  out = open_memstream(&buf, &len);
  assert_int_equal(sg_store_check(f->s, out, &cs), 0);
  fclose(out);
  assert_int_equal(cs.problems, 3);
  assert_non_null(strstr(buf, "Assessment 2: missing from its worker_id index"));
  assert_non_null(strstr(buf, "LevelChange index (5, 77): no such record"));
  assert_non_null(strstr(buf, "HouseholdVisits 1: worker 99 does not exist"));
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keys_sort_numerically),
      cmocka_unit_test_setup_teardown(test_sequences_and_revision, setup, teardown),
      cmocka_unit_test_setup_teardown(test_units_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_workers_indexes_follow_changes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reopen_keeps_everything, setup, teardown),
      cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_records_and_their_check, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_record_is_data_loss, setup, teardown),
      cmocka_unit_test_setup_teardown(test_check_finds_damage, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
