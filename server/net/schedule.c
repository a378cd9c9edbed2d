/*
 * The transfer scheduler: approved transfers take effect on their date
 * without anyone calling. Once a minute (and a second after start, so that
 * a restart catches up at once) the loop thread looks, in a short read
 * transaction, for an approved transfer due today or earlier; if there is
 * one, it queues a Transfers/Apply of every due transfer with the writer,
 * as the server itself (no token: the audit log shows the peer
 * "scheduler"). One such job at a time.
 */
#include <string.h>

#include "log.h"
#include "net/server.h"
#include "svc/svc.h"
#include "timeutil.h"

#define SG_SCHEDULE_FIRST_MS 1000
#define SG_SCHEDULE_EVERY_MS 60000

static sg_server *sched_srv; /* one server per process */
static int busy;

static void on_tick(uv_timer_t *t) {
  sg_server *srv = t->data;
  if (busy || srv->stopping) return;
  const sg_dispatch_entry *e = sg_dispatch_lookup("/shegong.v1.Transfers/Apply");
  if (!e || !e->impl) return;
  char today_s[11];
  sg_date today;
  sg_today(today_s, sizeof today_s);
  if (sg_validate_date(today_s, &today, NULL, 0)) return;
  sg_server_read_done(srv); /* a fresh snapshot */
  if (sg_server_read(srv)) return;
  int due = sg_transfers_due(srv->store, srv->read_txn, (uint64_t)sg_date_days(&today));
  sg_server_read_done(srv);
  if (!due) return;
  sg_job *job = sg_job_new(srv->limits.max_call_memory);
  if (!job) return;
  Shegong__V1__ApplyTransfersRequest *req = sg_arena_alloc(&job->arena, sizeof *req);
  if (!req) {
    sg_job_free(job);
    return;
  }
  shegong__v1__apply_transfers_request__init(req);
  job->entry = e;
  job->req = &req->base;
  job->after_request = sg_arena_get_mark(&job->arena);
  job->owner = NULL;
  job->t0_us = sg_now_us();
  snprintf(job->peer, sizeof job->peer, "scheduler");
  busy = 1;
  sg_writer_submit(srv->writer, job);
}

void sg_schedule_start(sg_server *srv) {
  sched_srv = srv;
  uv_timer_init(srv->loop, &srv->schedule);
  srv->schedule.data = srv;
  srv->schedule_started = 1;
  uv_timer_start(&srv->schedule, on_tick, SG_SCHEDULE_FIRST_MS,
                 srv->schedule_ms ? srv->schedule_ms : SG_SCHEDULE_EVERY_MS);
}

void sg_schedule_job_done(sg_job *job) {
  busy = 0;
  if (job->rc) {
    sg_warn("scheduled transfers could not be applied: %s", job->st.message);
  } else if (job->resp) {
    const Shegong__V1__ApplyTransfersResponse *r = (const void *)job->resp;
    size_t failed = 0;
    for (size_t i = 0; i < r->n_results; i++) failed += r->results[i]->status->code != 0;
    sg_info("scheduler: %zu transfers took effect, %zu could not", r->n_results - failed, failed);
  }
  sg_job_free(job);
  (void)sched_srv;
}
