/*
 * The writer's group commit on its own: a batch is applied flat first, and
 * a refusal in it sends the whole batch through nested transactions again,
 * so that a refused write that had already written leaves nothing while
 * the others in its batch commit. Batches are made deterministic by a first
 * job that holds the writer while the next ones queue behind it.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"
#include "error.h"
#include "log.h"
#include "net/server.h"
#include "shegong/v1/units.pb-c.h"
#include "store/env.h"
#include "writer.h"

#define MAX_JOBS 64

typedef struct fixture {
  char dir[64];
  sg_store *s;
  sg_limits limits;
  uv_loop_t loop;
  sg_writer *w;
  int stopped;
  int done;
  char name[MAX_JOBS][32]; /* by call_id */
  int rc[MAX_JOBS];
  char message[MAX_JOBS][SG_STATUS_MSG_MAX];
} fixture;

/*
 * The request's code says what the handler does: "ok:K" writes meta key K,
 * "fail:K" writes K and then refuses (as a handler that finds a problem
 * half-way would), "hold:K" writes K after holding the writer 150 ms.
 */
static int fake_write(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                      ProtobufCMessage **resp) {
  const Shegong__V1__GetUnitRequest *req = (const void *)req_msg;
  const char *colon = strchr(req->code, ':');
  assert_non_null(colon);
  if (strncmp(req->code, "hold:", 5) == 0) {
    struct timespec ts = {0, 150 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  int rc = sg_meta_put_u64(ctx->store, txn, colon + 1, 1);
  if (rc) return rc;
  if (strncmp(req->code, "big:", 4) == 0) {
    /* half a MiB more: more than a small map has room for */
    char key[40];
    snprintf(key, sizeof key, "%s.blob", colon + 1);
    MDB_val k = {strlen(key), key}, v = {512u << 10, NULL};
    int mrc = mdb_put(txn, ctx->store->meta, &k, &v, MDB_RESERVE);
    if (mrc == MDB_MAP_FULL) return SG_EFULL;
    if (mrc) return sg_store_err(mrc, "put blob");
    memset(v.mv_data, 'x', v.mv_size);
  }
  if (strncmp(req->code, "fail:", 5) == 0)
    return sg_status_set(ctx->st, SG_EINVAL, "refused %s after writing it", colon + 1);
  *resp = (ProtobufCMessage *)req_msg;
  return 0;
}

static const sg_method_impl fake_impl = {"/shegong.v1.Units/Get", SG_METHOD_WRITE, fake_write};
static sg_dispatch_entry fake_entry;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb; (void)flag; (void)ftw;
  return remove(p);
}

static void on_done(sg_job *job, void *data) {
  fixture *f = data;
  assert_true(job->call_id < MAX_JOBS);
  f->rc[job->call_id] = job->rc;
  memcpy(f->message[job->call_id], job->st.message, sizeof f->message[0]);
  f->message[job->call_id][sizeof f->message[0] - 1] = 0;
  f->done++;
  sg_job_free(job);
}

static void on_stopped(void *data) { ((fixture *)data)->stopped = 1; }

static size_t map_size = 64u << 20;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/sg-writer-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  sg_log_set_level(SG_LOG_WARN);
  if (sg_dispatch_init() != 0) return -1;
  const sg_dispatch_entry *real = sg_dispatch_lookup("/shegong.v1.Units/Get");
  if (!real) return -1;
  fake_entry.info = real->info;
  fake_entry.impl = &fake_impl;
  sg_limits_default(&f->limits);
  if (sg_store_open(&f->s, f->dir, map_size) != 0) return -1;
  uv_loop_init(&f->loop);
  if (sg_writer_start(&f->w, &f->loop, f->s, &f->limits, on_done, f) != 0) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  sg_writer_stop(f->w, on_stopped);
  while (!f->stopped) uv_run(&f->loop, UV_RUN_ONCE);
  sg_writer_free(f->w);
  uv_loop_close(&f->loop);
  sg_store_close(f->s);
  nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
  free(f);
  return 0;
}

static void submit(fixture *f, uint32_t call_id, const char *code) {
  sg_job *j = sg_job_new(1 << 16);
  assert_non_null(j);
  j->entry = &fake_entry;
  Shegong__V1__GetUnitRequest *req = sg_arena_alloc(&j->arena, sizeof *req);
  assert_non_null(req);
  shegong__v1__get_unit_request__init(req);
  req->code = sg_arena_strdup(&j->arena, code);
  j->req = &req->base;
  j->after_request = sg_arena_get_mark(&j->arena);
  j->call_id = call_id;
  snprintf(j->peer, sizeof j->peer, "test");
  snprintf(f->name[call_id], sizeof f->name[0], "%s", code);
  sg_writer_submit(f->w, j);
}

static void wait_done(fixture *f, int n) {
  for (int i = 0; i < 2000 && f->done < n; i++) {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    usleep(1000);
  }
  assert_int_equal(f->done, n);
}

static int has_key(fixture *f, const char *key) {
  MDB_txn *txn;
  assert_int_equal(mdb_txn_begin(f->s->env, NULL, MDB_RDONLY, &txn), 0);
  uint64_t v = 0;
  int rc = sg_meta_get_u64(f->s, txn, key, &v);
  mdb_txn_abort(txn);
  assert_int_equal(rc, 0);
  return v == 1;
}

static size_t audit_entries(fixture *f) {
  MDB_txn *txn;
  MDB_stat st;
  assert_int_equal(mdb_txn_begin(f->s->env, NULL, MDB_RDONLY, &txn), 0);
  assert_int_equal(mdb_stat(txn, f->s->audit, &st), 0);
  mdb_txn_abort(txn);
  return st.ms_entries;
}

/* One refusal among accepted writes in one batch, twice over. */
static void test_refusal_rolls_back_alone(void **state) {
  fixture *f = *state;
  uint64_t batches0 = sg_writer_batches(f->w);
  submit(f, 1, "hold:a");
  usleep(30 * 1000); /* the writer has taken job 1 and holds */
  submit(f, 2, "ok:b");
  submit(f, 3, "fail:c");
  submit(f, 4, "ok:d");
  wait_done(f, 4);
  /* job 1 alone, then 2-4 together: the refusal came in a batch of three */
  assert_int_equal(sg_writer_batches(f->w) - batches0, 2);
  assert_int_equal(f->rc[1], 0);
  assert_int_equal(f->rc[2], 0);
  assert_int_equal(f->rc[3], SG_EINVAL);
  assert_string_equal(f->message[3], "refused c after writing it");
  assert_int_equal(f->rc[4], 0);
  assert_true(has_key(f, "a"));
  assert_true(has_key(f, "b"));
  assert_false(has_key(f, "c"));
  assert_true(has_key(f, "d"));
  /* every call audited, the refused one too (outside its rolled-back part) */
  assert_int_equal(audit_entries(f), 4);

  /* the batches after a refusal go nested from the start: the same outcome */
  submit(f, 5, "hold:e");
  usleep(30 * 1000);
  submit(f, 6, "fail:f");
  submit(f, 7, "ok:g");
  submit(f, 8, "fail:h");
  wait_done(f, 8);
  assert_int_equal(f->rc[5], 0);
  assert_int_equal(f->rc[6], SG_EINVAL);
  assert_int_equal(f->rc[7], 0);
  assert_int_equal(f->rc[8], SG_EINVAL);
  assert_true(has_key(f, "e"));
  assert_false(has_key(f, "f"));
  assert_true(has_key(f, "g"));
  assert_false(has_key(f, "h"));
  assert_int_equal(audit_entries(f), 8);
}

/* A batch all accepted goes flat and commits whole. */
static void test_batch_all_accepted(void **state) {
  fixture *f = *state;
  uint64_t batches0 = sg_writer_batches(f->w);
  submit(f, 1, "hold:k0");
  usleep(30 * 1000);
  char code[16];
  for (uint32_t i = 2; i <= 40; i++) {
    snprintf(code, sizeof code, "ok:k%u", i);
    submit(f, i, code);
  }
  wait_done(f, 40);
  assert_int_equal(sg_writer_batches(f->w) - batches0, 2);
  for (uint32_t i = 1; i <= 40; i++) {
    assert_int_equal(f->rc[i], 0);
    snprintf(code, sizeof code, "k%u", i == 1 ? 0 : i);
    assert_true(has_key(f, code));
  }
  assert_int_equal(audit_entries(f), 40);
}

static int setup_small_map(void **state) {
  map_size = 1u << 20;
  int rc = setup(state);
  map_size = 64u << 20;
  return rc;
}

/* A full map in a flat batch is no refusal: the map grows and the batch goes through whole. */
static void test_full_map_grows(void **state) {
  fixture *f = *state;
  size_t before = f->s->map_size;
  submit(f, 1, "hold:m0");
  usleep(30 * 1000);
  submit(f, 2, "ok:m1");
  submit(f, 3, "big:m2");
  submit(f, 4, "ok:m3");
  submit(f, 5, "big:m4");
  wait_done(f, 5);
  for (uint32_t i = 1; i <= 5; i++)
    if (f->rc[i] != 0) fail_msg("job %u (%s): %d %s", i, f->name[i], f->rc[i], f->message[i]);
  assert_true(f->s->map_size > before);
  assert_true(has_key(f, "m1") && has_key(f, "m2") && has_key(f, "m3") && has_key(f, "m4"));
  assert_int_equal(audit_entries(f), 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_refusal_rolls_back_alone, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_all_accepted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_full_map_grows, setup_small_map, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
