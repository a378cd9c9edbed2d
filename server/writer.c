#include "writer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "timeutil.h"

struct sg_writer {
  uv_loop_t *loop;
  sg_store *store;
  const sg_limits *limits;
  sg_writer_done_fn done;
  void *data;
  void (*on_stopped)(void *data);
  void (*after_batch)(void *arg);
  void *after_batch_arg;

  pthread_t thread;
  int thread_started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  sg_job *in_head, *in_tail;     /* submitted, not yet taken; under mu */
  sg_job *out_head, *out_tail;   /* finished, not yet handed back; under mu */
  int stopping;                  /* under mu */
  int exited;                    /* under mu: the thread has returned */
  uv_async_t async;
  atomic_uint_fast64_t batches;
  unsigned nested_left; /* writer thread: batches still to apply nested after a refusal */
};

sg_job *sg_job_new(size_t arena_cap) {
  sg_job *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  sg_arena_init(&j->arena, arena_cap);
  atomic_init(&j->canceled, 0);
  return j;
}

void sg_job_free(sg_job *job) {
  if (!job) return;
  sg_arena_destroy(&job->arena);
  free(job);
}

/* The audit entry of a write, in txn: who, what, and how it ended. */
static int audit_write(sg_writer *w, MDB_txn *txn, sg_job *j, const char *now) {
  char target[160];
  sg_audit_target(j->rc == 0 && j->resp ? j->resp : j->req, target, sizeof target);
  Shegong__V1__AuditEntry e;
  sg_audit_fill(&e, j->has_principal ? &j->principal : NULL, j->peer, j->entry->info->path, target,
                &j->st, j->rc == SG_EPERM ? "denied" : "write", now);
  return sg_audit_append(w->store, txn, &e);
}

/*
 * Applies one job: in a nested transaction of parent, or, flat, straight in
 * parent. Flat saves LMDB's copy of every page the job touches that the
 * batch had already dirtied, but a failing job cannot then be rolled back
 * alone: it says so by returning 1 (its handler refused), and the caller
 * discards the whole attempt.
 */
static int apply(sg_writer *w, MDB_txn *parent, sg_job *j, int flat) {
  sg_status_clear(&j->st);
  if (!j->entry) {
    /* a refused call or a read of personal data: only its audit entry */
    j->rc = sg_audit_append(w->store, parent, &j->audit);
    return flat && j->rc;
  }
  if (atomic_load(&j->canceled)) {
    j->rc = sg_status_set(&j->st, SG_ECANCELED, "call cancelled before it was applied");
    return 0;
  }
  if (j->deadline_ms && sg_now_ms() > j->deadline_ms) {
    j->rc = sg_status_set(&j->st, SG_ETIMEDOUT, "deadline passed before the write was applied");
    return 0;
  }
  MDB_txn *child = NULL;
  int rc = flat ? 0 : mdb_txn_begin(mdb_txn_env(parent), parent, 0, &child);
  if (rc) {
    j->rc = sg_store_err(rc, "begin nested transaction");
    sg_status_set(&j->st, j->rc, NULL);
    return 0;
  }
  sg_call_ctx ctx = {.store = w->store, .limits = w->limits, .arena = &j->arena, .st = &j->st,
                     .peer = j->peer, .method = j->entry->info->path,
                     .principal = j->has_principal ? &j->principal : NULL};
  sg_call_ctx_stamp(&ctx);
  j->resp = NULL;
  MDB_txn *txn = flat ? parent : child;
  j->rc = j->entry->impl->handler(&ctx, txn, j->req, &j->resp);
  if (j->rc == 0 && j->arena.failed) j->rc = SG_ENOMEM;
  /* the audit entry of a change is written with it, in the same transaction */
  if (j->rc == 0) j->rc = audit_write(w, txn, j, ctx.now);
  if (flat) {
    if (j->rc == 0) return 0;
    /* its status, should this attempt be the last (a map that cannot grow) */
    if (j->st.code == 0) sg_status_set(&j->st, j->rc, NULL);
    return 1;
  }
  if (j->rc == 0) {
    rc = mdb_txn_commit(child);
    child = NULL;
    if (rc) j->rc = sg_store_err(rc, "commit nested transaction");
  }
  if (child) mdb_txn_abort(child);
  if (j->rc) {
    j->resp = NULL;
    if (j->st.code == 0) sg_status_set(&j->st, j->rc, NULL);
    sg_status_finish_violations(&j->st);
    /* a refused change leaves its trace all the same, outside its rolled-back part */
    if (audit_write(w, parent, j, ctx.now) != 0) sg_warn("could not audit a failed %s", j->entry->info->path);
  }
  return 0;
}

/* Forgets an attempt: what it allocated goes, the request stays. */
static void rewind_batch(sg_job *batch) {
  for (sg_job *j = batch; j; j = j->next) {
    j->rc = 0;
    j->resp = NULL;
    if (j->entry) sg_arena_rewind(&j->arena, j->after_request);
  }
}

static void run_batch(sg_writer *w, sg_job *batch) {
  MDB_txn *txn = NULL;
  int rc, err = 0;
  /*
   * Flat first: most batches are all accepted, and a nested transaction per
   * job costs a copy of each page it touches (a quarter of a create's CPU).
   * One refusal and the attempt is discarded and the batch applied again
   * nested, as are the next 16 batches: refusals come in runs (an import of
   * bad rows, a town pushing stale versions).
   */
  int flat = w->nested_left == 0;
  if (!flat) w->nested_left--;
  /* a full map is grown and the whole batch applied again, a few times at most */
  for (int attempt = 0;; attempt++) {
    rc = mdb_txn_begin(w->store->env, NULL, 0, &txn);
    err = rc ? sg_store_err(rc, "begin write transaction") : 0;
    if (err) break;
    int refused = 0, full = 0;
    for (sg_job *j = batch; j && !refused; j = j->next) {
      refused = apply(w, txn, j, flat);
      full |= j->rc == SG_EFULL;
    }
    if (refused && !full) {
      /* a full map is no refusal: it is grown below and the batch tried flat again */
      mdb_txn_abort(txn);
      txn = NULL;
      rewind_batch(batch);
      flat = 0;
      w->nested_left = 16;
      attempt--; /* not a retry for room */
      continue;
    }
    if (!full) {
      rc = mdb_txn_commit(txn);
      txn = NULL;
      err = rc ? sg_store_commit_err(w->store, rc, "commit batch") : 0;
      /* a token made or revoked: cached principals go at once, not when answered */
      for (sg_job *j = batch; !err && j; j = j->next)
        if (j->entry && j->rc == 0 && strncmp(j->entry->info->path, "/shegong.v1.Tokens/", 19) == 0) {
          sg_auth_tokens_changed();
          break;
        }
    } else {
      mdb_txn_abort(txn);
      txn = NULL;
      err = SG_EFULL;
    }
    if (err != SG_EFULL || attempt == 3 || sg_store_grow(w->store) != 0) break;
    rewind_batch(batch);
  }
  if (txn) mdb_txn_abort(txn);
  if (err) {
    /* Nothing of the batch is on disk: every job that thought it was applied fails. */
    for (sg_job *j = batch; j; j = j->next) {
      if (j->rc == 0) {
        j->rc = err;
        j->resp = NULL;
        sg_status_clear(&j->st);
        sg_status_set(&j->st, err,
                      err == SG_EFULL || err == SG_ENOSPACE
                          ? "storage is full; nothing was written, try again when there is room"
                          : "storage error; nothing was written");
      }
    }
  }
  atomic_fetch_add(&w->batches, 1);
  size_t n = 0;
  for (sg_job *j = batch; j; j = j->next) n += j->entry != NULL;
  if (n) sg_metrics_batch(n);
}

static void *writer_main(void *arg) {
  sg_writer *w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->in_head && !w->stopping) pthread_cond_wait(&w->cv, &w->mu);
    if (!w->in_head && w->stopping) break;
    sg_job *batch = w->in_head;
    w->in_head = w->in_tail = NULL;
    pthread_mutex_unlock(&w->mu);

    run_batch(w, batch);

    pthread_mutex_lock(&w->mu);
    sg_job *tail = batch;
    while (tail->next) tail = tail->next;
    if (w->out_tail) w->out_tail->next = batch;
    else w->out_head = batch;
    w->out_tail = tail;
    pthread_mutex_unlock(&w->mu);
    uv_async_send(&w->async);
    pthread_mutex_lock(&w->mu);
  }
  w->exited = 1;
  pthread_mutex_unlock(&w->mu);
  uv_async_send(&w->async);
  return NULL;
}

static void on_async_closed(uv_handle_t *h) {
  sg_writer *w = h->data;
  if (w->on_stopped) w->on_stopped(w->data);
}

static void on_async(uv_async_t *a) {
  sg_writer *w = a->data;
  pthread_mutex_lock(&w->mu);
  sg_job *done = w->out_head;
  w->out_head = w->out_tail = NULL;
  int exited = w->exited;
  pthread_mutex_unlock(&w->mu);
  int any = done != NULL;
  while (done) {
    sg_job *next = done->next;
    done->next = NULL;
    w->done(done, w->data);
    done = next;
  }
  if (any && w->after_batch) w->after_batch(w->after_batch_arg);
  if (exited && w->thread_started) {
    pthread_join(w->thread, NULL);
    w->thread_started = 0;
    uv_close((uv_handle_t *)&w->async, on_async_closed);
  }
}

int sg_writer_start(sg_writer **out, uv_loop_t *loop, sg_store *store, const sg_limits *limits,
                    sg_writer_done_fn done, void *data) {
  sg_writer *w = calloc(1, sizeof *w);
  if (!w) return SG_ENOMEM;
  w->loop = loop;
  w->store = store;
  w->limits = limits;
  w->done = done;
  w->data = data;
  atomic_init(&w->batches, 0);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  if (uv_async_init(loop, &w->async, on_async) != 0) {
    free(w);
    return SG_EINTERNAL;
  }
  w->async.data = w;
  if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
    /* the handle closes on the next loop turn, so w stays until the caller's
     * sg_writer_free after that */
    uv_close((uv_handle_t *)&w->async, NULL);
    *out = w;
    return SG_EINTERNAL;
  }
  w->thread_started = 1;
  *out = w;
  return 0;
}

void sg_writer_on_batch(sg_writer *w, void (*fn)(void *arg), void *arg) {
  w->after_batch = fn;
  w->after_batch_arg = arg;
}

void sg_writer_submit(sg_writer *w, sg_job *job) {
  job->next = NULL;
  pthread_mutex_lock(&w->mu);
  if (w->exited) {
    /* too late: nothing will apply it (only audit entries can come this late) */
    pthread_mutex_unlock(&w->mu);
    sg_warn("a %s came after the writer stopped: dropped", job->entry ? "write" : "audit entry");
    if (job->entry) {
      job->rc = sg_status_set(&job->st, SG_EUNAVAIL, "the server is stopping");
      w->done(job, w->data);
    } else {
      sg_job_free(job);
    }
    return;
  }
  if (w->in_tail) w->in_tail->next = job;
  else w->in_head = job;
  w->in_tail = job;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

void sg_writer_stop(sg_writer *w, void (*on_stopped)(void *data)) {
  w->on_stopped = on_stopped;
  pthread_mutex_lock(&w->mu);
  w->stopping = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

void sg_writer_free(sg_writer *w) {
  if (!w) return;
  for (sg_job *j = w->in_head, *n; j; j = n) {
    n = j->next;
    sg_job_free(j);
  }
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  free(w);
}

uint64_t sg_writer_batches(const sg_writer *w) { return atomic_load(&w->batches); }
