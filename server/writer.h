/*
 * The writer thread: every mutation in the server goes through it.
 *
 * The loop thread submits jobs; the writer takes all that are waiting,
 * applies them (flat in the batch's transaction; if one is refused, the
 * batch again with a nested transaction each, so that it rolls back alone),
 * commits the batch once (a durable, synced commit), and hands the jobs
 * back to the loop thread through a uv_async_t. A job's reply is sent only
 * after that commit: an acknowledged write is on disk.
 */
#ifndef SG_WRITER_H
#define SG_WRITER_H

#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "auth.h"
#include "dispatch.h"

typedef struct sg_job sg_job;
struct sg_job {
  sg_job *next;
  const sg_dispatch_entry *entry; /* NULL: an audit entry only (audit below) */
  sg_arena arena;              /* request and response live here */
  sg_arena_mark after_request; /* the arena with only the request: a retry starts here */
  sg_principal principal;      /* who asked, when has_principal */
  int has_principal;
  Shegong__V1__AuditEntry audit; /* entry NULL: written as is */
  uv_work_t work;              /* SG_METHOD_BLOCKING jobs run on the libuv pool */
  uint64_t t0_us;              /* when its frame was read, for the latency metric */
  ProtobufCMessage *req;
  ProtobufCMessage *resp;      /* set when applied */
  sg_status st;
  int rc;
  uint64_t deadline_ms;        /* sg_now_ms() clock; 0 = none */
  atomic_int canceled;
  uint64_t revision;           /* head revision after the batch, for logs */
  /* owner's fields, untouched by the writer */
  void *owner;
  uint32_t call_id;
  char peer[64];
};

typedef struct sg_writer sg_writer;
typedef void (*sg_writer_done_fn)(sg_job *job, void *data);

/*
 * Starts the writer thread. done is called on the loop thread for each
 * finished job, in submission order within a batch; it owns the job.
 */
int sg_writer_start(sg_writer **out, uv_loop_t *loop, sg_store *store, const sg_limits *limits,
                    sg_writer_done_fn done, void *data);
/* Calls fn(arg) on the loop thread after each batch's jobs have been handed back. */
void sg_writer_on_batch(sg_writer *w, void (*fn)(void *arg), void *arg);

/* Queues a job (loop thread). */
void sg_writer_submit(sg_writer *w, sg_job *job);
/*
 * Asks the writer to finish what is queued and stop; on_stopped runs on the
 * loop thread once the last job has been handed back and the thread joined.
 * The writer's async handle is closed then.
 */
void sg_writer_stop(sg_writer *w, void (*on_stopped)(void *data));
void sg_writer_free(sg_writer *w);

/* Jobs applied and batches committed so far (approximate, for logs). */
uint64_t sg_writer_batches(const sg_writer *w);

sg_job *sg_job_new(size_t arena_cap);
void sg_job_free(sg_job *job);

#endif
