/*
 * Sync service: Pull (the changelog of a town), Snapshot (every current
 * record of a town at one revision) and Push (a replica's queued mutations,
 * idempotent by mutation id).
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "metrics.h"
#include "store/changes.h"
#include "store/records.h"
#include "store/units.h"
#include "store/workers.h"
#include "svc/svc.h"

#define SG_PULL_DEFAULT 1000
#define SG_PULL_MAX 10000
#define SG_STREAM_BATCH 200     /* records per stream message */
#define SG_PUSH_MAX 1000        /* mutations per Push */
#define SG_ID_MAX_BYTES 128     /* client_id, mutation_id */

/*
 * Resolves a town code to its unit id; empty means the whole district
 * (*all = 1). Fails with NOT_FOUND or INVALID_ARGUMENT on field.
 */
static int resolve_town(sg_call_ctx *ctx, MDB_txn *txn, const char *field, const char *code,
                        uint64_t *town_id, int *all) {
  *all = !code[0];
  *town_id = 0;
  if (*all) {
    if (ctx->principal && ctx->principal->town_id)
      return sg_status_set(ctx->st, SG_EPERM, "a town token syncs its own town: give town_code %s",
                           ctx->principal->town_code);
    return 0;
  }
  if (strlen(code) != 9) {
    sg_status_violation(ctx->st, field, "a town code has 9 digits");
    return SG_EINVAL;
  }
  sg_unit *u;
  int rc = sg_units_get_by_code(ctx->store, txn, code, &ctx->arena->allocator, &u);
  if (rc == SG_ENOTFOUND) return sg_status_set(ctx->st, rc, "town %s not found", code);
  if (rc) return rc;
  if (u->kind != SHEGONG__V1__UNIT_KIND__TOWN) {
    sg_status_violation(ctx->st, field, "%s is not a town", code);
    return SG_EINVAL;
  }
  *town_id = u->id;
  return sg_authz_town(ctx, u->id, code);
}

typedef struct pull_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  sg_arena *batch_arena; /* reset after each message is sent: memory stays bounded */
  uint32_t limit;
  uint32_t sent;
  Shegong__V1__PullResponse *batch;
  /*
   * For a caller who sees personal data (nothing to mask) the stored changes
   * go out as stored, pointing into the map while the transaction lasts:
   * PullResponse's wire bytes without decoding and encoding each change.
   */
  Shegong__V1__PullResponseRaw *raw;
  uint64_t last;
  int more;
  int err;
} pull_ctx;

static Shegong__V1__PullResponseRaw *new_raw_batch(sg_arena *a) {
  Shegong__V1__PullResponseRaw *r = sg_arena_alloc(a, sizeof *r);
  if (!r) return NULL;
  shegong__v1__pull_response_raw__init(r);
  r->changes = sg_arena_alloc(a, SG_STREAM_BATCH * sizeof *r->changes);
  return r->changes ? r : NULL;
}

static int pull_one_raw(pull_ctx *p, uint64_t revision) {
  if (p->raw->n_changes == SG_STREAM_BATCH) {
    if ((p->err = p->ctx->emit(p->ctx, &p->raw->base))) return 1;
    sg_arena_reset(p->batch_arena);
    if (!(p->raw = new_raw_batch(p->batch_arena))) return p->err = SG_ENOMEM;
  }
  uint8_t kb[8];
  sg_key_u64(kb, revision);
  MDB_val k = {8, kb}, v;
  int rc = mdb_get(p->txn, p->ctx->store->changes, &k, &v);
  if (rc) return p->err = (rc == MDB_NOTFOUND ? SG_EDATALOSS : sg_store_err(rc, "read change"));
  p->raw->changes[p->raw->n_changes++] = (ProtobufCBinaryData){v.mv_size, v.mv_data};
  p->sent++;
  p->last = revision;
  return 0;
}

static Shegong__V1__PullResponse *new_pull_batch(sg_arena *a) {
  Shegong__V1__PullResponse *r = sg_arena_alloc(a, sizeof *r);
  if (!r) return NULL;
  shegong__v1__pull_response__init(r);
  r->changes = sg_arena_alloc(a, SG_STREAM_BATCH * sizeof *r->changes);
  return r->changes ? r : NULL;
}

static int pull_one(void *arg, uint64_t revision) {
  pull_ctx *p = arg;
  if (p->sent == p->limit) {
    p->more = 1;
    return 1;
  }
  if (p->raw) return pull_one_raw(p, revision);
  if (p->batch->n_changes == SG_STREAM_BATCH) {
    if ((p->err = p->ctx->emit(p->ctx, &p->batch->base))) return 1;
    sg_arena_reset(p->batch_arena);
    if (!(p->batch = new_pull_batch(p->batch_arena))) return p->err = SG_ENOMEM;
  }
  sg_change *c;
  int rc = sg_changes_get(p->ctx->store, p->txn, revision, &p->batch_arena->allocator, &c);
  if (rc) return p->err = (rc == SG_ENOTFOUND ? SG_EDATALOSS : rc);
  p->batch->changes[p->batch->n_changes++] = c;
  p->sent++;
  p->last = revision;
  return 0;
}

int sg_sync_emit_changes(sg_call_ctx *ctx, MDB_txn *txn, uint64_t town_id, int all,
                         uint64_t since, uint32_t limit, uint64_t head, uint64_t *through,
                         int *more, int quiet_if_none) {
  sg_arena batch_arena;
  sg_arena_init(&batch_arena, ctx->limits->max_call_memory);
  pull_ctx p = {.ctx = ctx, .txn = txn, .batch_arena = &batch_arena, .limit = limit};
  int rc;
  int raw = ctx->raw_ok;
  if (raw ? !(p.raw = new_raw_batch(&batch_arena)) : !(p.batch = new_pull_batch(&batch_arena))) {
    rc = SG_ENOMEM;
    goto done;
  }
  rc = sg_changes_scan(ctx->store, txn, town_id, all, since, pull_one, &p);
  if (rc || (rc = p.err)) goto done;
  /* the last message says where the pull got to */
  uint64_t through_rev = p.more ? p.last : head;
  *through = through_rev;
  *more = p.more;
  if (raw) {
    p.raw->head_revision = head;
    p.raw->more = p.more;
    p.raw->through_revision = through_rev;
    if (!(quiet_if_none && p.sent == 0)) rc = ctx->emit(ctx, &p.raw->base);
  } else {
    p.batch->head_revision = head;
    p.batch->more = p.more;
    p.batch->through_revision = through_rev;
    if (!(quiet_if_none && p.sent == 0)) rc = ctx->emit(ctx, &p.batch->base);
  }
done:
  sg_arena_destroy(&batch_arena);
  return rc;
}

/* Checks a pull or watch position against the log; fills head. */
static int check_since(sg_call_ctx *ctx, MDB_txn *txn, uint64_t since, uint64_t *head) {
  uint64_t compacted;
  int rc;
  if ((rc = sg_changes_compacted(ctx->store, txn, &compacted)) ||
      (rc = sg_store_head_revision(ctx->store, txn, head)))
    return rc;
  if (since < compacted)
    return sg_status_set(ctx->st, SG_ERANGE,
                         "changes through revision %llu have been compacted; take a snapshot",
                         (unsigned long long)compacted);
  if (since > *head)
    return sg_status_set(ctx->st, SG_ERANGE, "since %llu is past the head revision %llu",
                         (unsigned long long)since, (unsigned long long)*head);
  return 0;
}

static int sync_pull(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                     ProtobufCMessage **resp) {
  const Shegong__V1__PullRequest *req = (const void *)req_msg;
  (void)resp; /* a stream: everything goes out through emit */
  uint64_t town_id, head, through;
  int all, more;
  int rc = resolve_town(ctx, txn, "town_code", req->town_code, &town_id, &all);
  if (rc) return rc;
  if (req->limit > SG_PULL_MAX) {
    sg_status_violation(ctx->st, "limit", "at most %d", SG_PULL_MAX);
    return SG_EINVAL;
  }
  if ((rc = check_since(ctx, txn, req->since, &head))) return rc;
  rc = sg_sync_emit_changes(ctx, txn, town_id, all, req->since,
                            req->limit ? req->limit : SG_PULL_DEFAULT, head, &through, &more, 0);
  /* how far behind each town's copy is, as of its last pull */
  if (rc == 0) sg_metrics_pull(req->town_code, through, head);
  return rc;
}

static int sync_watch(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                      ProtobufCMessage **resp) {
  const Shegong__V1__WatchRequest *req = (const void *)req_msg;
  (void)resp;
  if (!ctx->keep_open)
    return sg_status_set(ctx->st, SG_EUNIMPL, "Watch needs a connection to the server");
  uint64_t town_id, head, through;
  int all, more;
  int rc = resolve_town(ctx, txn, "town_code", req->town_code, &town_id, &all);
  if (rc || (rc = check_since(ctx, txn, req->since, &head))) return rc;
  /* the backlog first; a watcher that far behind should pull instead */
  rc = sg_sync_emit_changes(ctx, txn, town_id, all, req->since, SG_PULL_MAX, head, &through, &more,
                            0);
  if (rc) return rc;
  if (more)
    return sg_status_set(ctx->st, SG_ERANGE, "more than %d changes behind: pull first, then watch",
                         SG_PULL_MAX);
  if ((rc = ctx->keep_open(ctx, town_id, all, head))) return rc;
  return SG_CALL_OPEN;
}

/* Snapshot: batches of units and workers, emitted as they fill. */
typedef struct snap_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  sg_arena *batch_arena; /* reset after each message is sent */
  /* written as SnapshotResponse's wire bytes; stored records go as they are
   * stored, pointing into the map, valid while the transaction is */
  Shegong__V1__SnapshotResponseRaw *batch;
  int err;
} snap_ctx;

static Shegong__V1__SnapshotResponseRaw *new_snap_batch(sg_arena *a) {
  Shegong__V1__SnapshotResponseRaw *r = sg_arena_alloc(a, sizeof *r);
  if (!r) return NULL;
  shegong__v1__snapshot_response_raw__init(r);
  return r;
}

/* Records in the batch, of every kind. */
static size_t snap_count(const Shegong__V1__SnapshotResponseRaw *b) {
  const ProtobufCMessageDescriptor *d = b->base.descriptor;
  size_t n = 0;
  for (unsigned i = 0; i < d->n_fields; i++)
    if (d->fields[i].label == PROTOBUF_C_LABEL_REPEATED)
      n += *(const size_t *)((const char *)b + d->fields[i].quantifier_offset);
  return n;
}

static int snap_flush_if_full(snap_ctx *s) {
  if (snap_count(s->batch) < SG_STREAM_BATCH) return 0;
  if ((s->err = s->ctx->emit(s->ctx, &s->batch->base))) return s->err;
  sg_arena_reset(s->batch_arena);
  if (!(s->batch = new_snap_batch(s->batch_arena))) return s->err = SG_ENOMEM;
  return 0;
}

/* Appends m to the batch's repeated field of m's type (the batch has room). */
static int snap_append(snap_ctx *s, ProtobufCMessage *m) {
  const ProtobufCMessageDescriptor *d = s->batch->base.descriptor;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->label != PROTOBUF_C_LABEL_REPEATED || f->descriptor != m->descriptor) continue;
    size_t *n = (size_t *)((char *)s->batch + f->quantifier_offset);
    void ***arr = (void ***)((char *)s->batch + f->offset);
    if (!*arr && !(*arr = sg_arena_alloc(s->batch_arena, SG_STREAM_BATCH * sizeof **arr)))
      return s->err = SG_ENOMEM;
    (*arr)[(*n)++] = m;
    return 0;
  }
  return s->err = SG_EINTERNAL;
}

/* The batch's field for records of kind k: a repeated bytes field or a message one. */
static const ProtobufCFieldDescriptor *snap_field(const sg_rec_kind *k) {
  /* the same number as SnapshotResponse's field of that message type */
  const ProtobufCMessageDescriptor *sd = &shegong__v1__snapshot_response__descriptor;
  for (unsigned i = 0; i < sd->n_fields; i++)
    if (sd->fields[i].label == PROTOBUF_C_LABEL_REPEATED && sd->fields[i].descriptor == k->desc)
      return protobuf_c_message_descriptor_get_field(&shegong__v1__snapshot_response_raw__descriptor,
                                                     sd->fields[i].id);
  return NULL;
}

/* Adds record key of kind k to the batch: its stored bytes when the field takes bytes. */
static int snap_record(snap_ctx *s, const sg_rec_kind *k, uint64_t key) {
  if (snap_flush_if_full(s)) return 1;
  const ProtobufCFieldDescriptor *f = snap_field(k);
  if (f && f->type == PROTOBUF_C_TYPE_BYTES) {
    uint8_t kb[8];
    sg_key_u64(kb, key);
    MDB_val kv = {8, kb}, vv;
    int rc = mdb_get(s->txn, sg_rec_dbi(s->ctx->store, k->table), &kv, &vv);
    if (rc) return s->err = (rc == MDB_NOTFOUND ? SG_EDATALOSS : sg_store_err(rc, "read record"));
    size_t *n = (size_t *)((char *)s->batch + f->quantifier_offset);
    ProtobufCBinaryData **arr = (ProtobufCBinaryData **)((char *)s->batch + f->offset);
    if (!*arr && !(*arr = sg_arena_alloc(s->batch_arena, SG_STREAM_BATCH * sizeof **arr)))
      return s->err = SG_ENOMEM;
    (*arr)[(*n)++] = (ProtobufCBinaryData){vv.mv_size, vv.mv_data};
    return 0;
  }
  ProtobufCMessage *m;
  int rc = sg_rec_get(s->ctx->store, s->txn, k, key, &s->batch_arena->allocator, &m);
  if (rc) return s->err = (rc == SG_ENOTFOUND ? SG_EDATALOSS : rc);
  return snap_append(s, m) ? 1 : 0;
}

typedef struct snap_kind_ctx {
  snap_ctx *s;
  const sg_rec_kind *k;
  const char *town_code; /* courses: the town's and the district's; NULL: all */
} snap_kind_ctx;

static int snap_kind_visit(void *arg, uint64_t key) {
  snap_kind_ctx *kc = arg;
  return snap_record(kc->s, kc->k, key);
}

/* Every record about worker id: assessments, visits, attendance, level changes. */
static int snap_worker_records(snap_ctx *s, uint64_t id) {
  for (const sg_rec_kind *k = sg_rec_kinds; k->desc && !s->err; k++) {
    if (!k->index[0].field || strcmp(k->index[0].field, "worker_id") != 0) continue;
    snap_kind_ctx kc = {s, k, NULL};
    int rc = sg_rec_scan_worker(s->ctx->store, s->txn, k, id, snap_kind_visit, &kc);
    if (rc) return s->err = rc;
  }
  return s->err ? 1 : 0;
}

static int snap_course_visit(void *arg, uint64_t key) {
  snap_kind_ctx *kc = arg;
  snap_ctx *s = kc->s;
  if (kc->town_code) {
    Shegong__V1__Course *c;
    sg_arena_mark m = sg_arena_get_mark(s->batch_arena);
    int rc = sg_rec_get(s->ctx->store, s->txn, SG_REC_COURSE, key, &s->batch_arena->allocator,
                        (ProtobufCMessage **)&c);
    if (rc) return s->err = rc;
    int mine = !c->town_code[0] || strcmp(c->town_code, kc->town_code) == 0;
    sg_arena_rewind(s->batch_arena, m);
    if (!mine) return 0;
  }
  return snap_record(s, SG_REC_COURSE, key);
}

/* The current policy (when one was loaded) and the courses the town sees. */
static int snap_district_records(snap_ctx *s, const char *town_code) {
  sg_store *st = s->ctx->store;
  MDB_cursor *cur;
  MDB_val k, v;
  int rc = mdb_cursor_open(s->txn, st->policies, &cur);
  if (rc) return s->err = sg_store_err(rc, "open cursor");
  rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
  uint64_t version = rc == 0 && k.mv_size == 8 ? sg_key_get_u64(k.mv_data) : 0;
  mdb_cursor_close(cur);
  if (rc && rc != MDB_NOTFOUND) return s->err = sg_store_err(rc, "read policy");
  if (version) {
    Shegong__V1__Policy *p;
    if ((rc = sg_rec_get(st, s->txn, SG_REC_POLICY, version, &s->batch_arena->allocator,
                         (ProtobufCMessage **)&p)))
      return s->err = rc;
    s->batch->policy = p;
  }
  snap_kind_ctx kc = {s, SG_REC_COURSE, town_code};
  if ((rc = sg_record_scan(s->txn, st->courses, 0, snap_course_visit, &kc))) return s->err = rc;
  return s->err ? 1 : 0;
}

/* A transfer into the town of a worker who is not (yet) the town's: those
 * of its own workers come with them. */
static int snap_incoming_visit(void *arg, uint64_t key) {
  snap_kind_ctx *kc = arg;
  snap_ctx *s = kc->s;
  sg_arena_mark m = sg_arena_get_mark(s->batch_arena);
  Shegong__V1__Transfer *t;
  sg_worker *w;
  int rc = sg_rec_get(s->ctx->store, s->txn, SG_REC_TRANSFER, key, &s->batch_arena->allocator,
                      (ProtobufCMessage **)&t);
  /* a 村两委 member's join has no worker (yet): it is the town's own */
  if (!rc && t->worker_id)
    rc = sg_workers_get(s->ctx->store, s->txn, t->worker_id, &s->batch_arena->allocator, &w);
  if (rc) return s->err = (rc == SG_ENOTFOUND ? SG_EDATALOSS : rc);
  int theirs = !t->worker_id || strcmp(w->town_code, kc->town_code) != 0;
  sg_arena_rewind(s->batch_arena, m);
  return theirs ? snap_record(s, SG_REC_TRANSFER, key) : 0;
}

/* Adds unit id to the batch (flushing a full batch first, so the unit
 * lands in the batch's fresh arena). */
static int snap_unit_flat(void *arg, uint64_t id) {
  snap_ctx *s = arg;
  if (snap_flush_if_full(s)) return 1;
  sg_unit *u;
  int rc = sg_units_get(s->ctx->store, s->txn, id, &s->batch_arena->allocator, &u);
  if (rc) return s->err = (rc == SG_ENOTFOUND ? SG_EDATALOSS : rc);
  return snap_append(s, &u->base) ? 1 : 0;
}

/* A unit and everything below it, depth first. */
static int snap_unit(void *arg, uint64_t id) {
  snap_ctx *s = arg;
  if (snap_unit_flat(s, id)) return 1;
  int rc = sg_index_pair_scan(s->txn, s->ctx->store->units_by_parent, id, 0, snap_unit, s);
  if (rc) return s->err = rc;
  return s->err ? 1 : 0;
}

static int snap_worker(void *arg, uint64_t id) {
  snap_ctx *s = arg;
  if (snap_flush_if_full(s)) return 1;
  sg_worker *w;
  int rc = sg_workers_get(s->ctx->store, s->txn, id, &s->batch_arena->allocator, &w);
  if (rc) return s->err = (rc == SG_ENOTFOUND ? SG_EDATALOSS : rc);
  if (snap_append(s, &w->base)) return 1;
  return snap_worker_records(s, id);
}

static int sync_snapshot(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                         ProtobufCMessage **resp) {
  const Shegong__V1__SnapshotRequest *req = (const void *)req_msg;
  (void)resp;
  sg_store *st = ctx->store;
  uint64_t town_id, head;
  int all;
  int rc = resolve_town(ctx, txn, "town_code", req->town_code, &town_id, &all);
  if (rc || (rc = sg_store_head_revision(st, txn, &head))) return rc;
  sg_arena batch_arena;
  sg_arena_init(&batch_arena, ctx->limits->max_call_memory);
  snap_ctx s = {.ctx = ctx, .txn = txn, .batch_arena = &batch_arena};
  if (!(s.batch = new_snap_batch(&batch_arena))) {
    rc = SG_ENOMEM;
    goto done;
  }
  /* one read transaction: every record as of `head`; the policy first */
  if (snap_district_records(&s, all ? NULL : req->town_code)) {
    rc = s.err;
    goto done;
  }
  if (all) {
    rc = sg_record_scan(txn, st->units, 0, snap_unit_flat, &s);
    if (!rc && !s.err) rc = sg_record_scan(txn, st->workers, 0, snap_worker, &s);
  } else {
    /* the district above the town, so that a replica can show it */
    const char *dcode;
    size_t dlen;
    uint64_t district_id;
    if ((rc = sg_meta_get_str(st, txn, "district_code", &dcode, &dlen)) ||
        (rc = sg_index_get_id(txn, st->units_by_code, dcode, dlen, &district_id)))
      goto done;
    snap_unit_flat(&s, district_id);
    if (!s.err) snap_unit(&s, town_id);
    if (!s.err) rc = sg_index_pair_scan(txn, st->workers_by_town, town_id, 0, snap_worker, &s);
    /* transfers coming in, so that the destination sees what it must approve */
    snap_kind_ctx in = {&s, SG_REC_TRANSFER, req->town_code};
    if (!rc && !s.err)
      rc = sg_index_pair_scan(txn, st->transfers_by_to_town, town_id, 0, snap_incoming_visit, &in);
  }
  if (rc || (rc = s.err)) goto done;
  s.batch->revision = head;
  s.batch->last = 1;
  rc = ctx->emit(ctx, &s.batch->base);
done:
  sg_arena_destroy(&batch_arena);
  return rc;
}

/* The method a queued mutation stands for, and its request. */
static const char *mutation_target(const Shegong__V1__Mutation *m, const ProtobufCMessage **req) {
  switch (m->op_case) {
  case SHEGONG__V1__MUTATION__OP_CREATE_UNIT:
    *req = &m->create_unit->base;
    return "/shegong.v1.Units/Create";
  case SHEGONG__V1__MUTATION__OP_CREATE_WORKER:
    *req = &m->create_worker->base;
    return "/shegong.v1.Workers/Create";
  case SHEGONG__V1__MUTATION__OP_UPDATE_WORKER:
    *req = &m->update_worker->base;
    return "/shegong.v1.Workers/Update";
  case SHEGONG__V1__MUTATION__OP_LEAVE_WORKER:
    *req = &m->leave_worker->base;
    return "/shegong.v1.Workers/Leave";
  default:
    *req = NULL;
    return NULL;
  }
}

/* The worker a mutation targets, for the current record on a conflict. */
static uint64_t mutation_worker_id(const Shegong__V1__Mutation *m) {
  if (m->op_case == SHEGONG__V1__MUTATION__OP_UPDATE_WORKER) return m->update_worker->id;
  if (m->op_case == SHEGONG__V1__MUTATION__OP_LEAVE_WORKER) return m->leave_worker->id;
  return 0;
}

static void result_set_record(Shegong__V1__MutationResult *r, ProtobufCMessage *rec) {
  if (!rec) return;
  if (rec->descriptor == &shegong__v1__unit__descriptor) {
    r->record_case = SHEGONG__V1__MUTATION_RESULT__RECORD_UNIT;
    r->unit = (Shegong__V1__Unit *)rec;
    r->revision = r->unit->revision;
  } else if (rec->descriptor == &shegong__v1__worker__descriptor) {
    r->record_case = SHEGONG__V1__MUTATION_RESULT__RECORD_WORKER;
    r->worker = (Shegong__V1__Worker *)rec;
    r->revision = r->worker->revision;
  }
}

/*
 * Applies one mutation in its own nested transaction, as the method it
 * names would, and returns its outcome (arena memory).
 */
static Shegong__V1__MutationResult *apply_mutation(sg_call_ctx *ctx, MDB_txn *txn,
                                                   const Shegong__V1__Mutation *m) {
  Shegong__V1__MutationResult *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return NULL;
  shegong__v1__mutation_result__init(r);
  r->mutation_id = m->mutation_id;
  sg_status st;
  sg_status_clear(&st);
  const ProtobufCMessage *req;
  const char *path = mutation_target(m, &req);
  const sg_dispatch_entry *e = path ? sg_dispatch_lookup(path) : NULL;
  if (!e || !e->impl || !req) {
    sg_status_set(&st, SG_EINVAL, "mutation %s names no operation", m->mutation_id);
  } else {
    sg_call_ctx sub = *ctx;
    sub.st = &st;
    sub.method = e->info->path;
    sub.emit = NULL;
    MDB_txn *child = NULL;
    int rc = mdb_txn_begin(mdb_txn_env(txn), txn, 0, &child);
    if (rc) {
      sg_status_set(&st, sg_store_err(rc, "begin mutation"), NULL);
    } else {
      ProtobufCMessage *rec = NULL;
      rc = e->impl->handler(&sub, child, req, &rec);
      if (rc == 0) {
        rc = mdb_txn_commit(child);
        child = NULL;
        if (rc) rc = sg_store_err(rc, "commit mutation");
        else result_set_record(r, rec);
      }
      if (child) mdb_txn_abort(child);
      if (rc && st.code == 0) sg_status_set(&st, rc, NULL);
      if (rc == SG_ECONFLICT && mutation_worker_id(m)) {
        /* the operator resolves a conflict against the record as it is now */
        sg_worker *cur;
        if (sg_workers_get(ctx->store, txn, mutation_worker_id(m), &ctx->arena->allocator, &cur) == 0)
          result_set_record(r, &cur->base);
        r->revision = 0;
      }
    }
  }
  sg_status_finish_violations(&st);
  r->status = sg_status_to_pb(ctx, &st);
  return r->status ? r : NULL;
}

static int sync_push(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                     ProtobufCMessage **resp) {
  const Shegong__V1__PushRequest *req = (const void *)req_msg;
  sg_store *s = ctx->store;
  char why[SG_WHY_MAX];
  if (!req->client_id[0]) sg_status_violation(ctx->st, "client_id", "required");
  else if (strlen(req->client_id) > SG_ID_MAX_BYTES ||
           sg_validate_text(req->client_id, SG_ID_MAX_BYTES, why, sizeof why))
    sg_status_violation(ctx->st, "client_id", "printable text of at most %d bytes", SG_ID_MAX_BYTES);
  if (req->n_mutations > SG_PUSH_MAX)
    sg_status_violation(ctx->st, "mutations", "at most %d per push", SG_PUSH_MAX);
  for (size_t i = 0; i < req->n_mutations && i < SG_PUSH_MAX; i++) {
    const char *id = req->mutations[i]->mutation_id;
    if (!id[0] || strlen(id) > SG_ID_MAX_BYTES || sg_validate_text(id, SG_ID_MAX_BYTES, why, sizeof why)) {
      char field[48];
      snprintf(field, sizeof field, "mutations[%zu].mutation_id", i);
      sg_status_violation(ctx->st, field, "required: printable text of at most %d bytes",
                          SG_ID_MAX_BYTES);
    }
  }
  if (ctx->st->n_violations) return SG_EINVAL;

  Shegong__V1__PushResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__push_response__init(r);
  r->results = sg_arena_alloc(ctx->arena, (req->n_mutations + 1) * sizeof *r->results);
  if (!r->results) return SG_ENOMEM;
  size_t cid_len = strlen(req->client_id);
  for (size_t i = 0; i < req->n_mutations; i++) {
    const Shegong__V1__Mutation *m = req->mutations[i];
    /* idempotency key: the token, client id, NUL, mutation id; another
     * principal reusing the ids gets nothing of these outcomes */
    size_t mid_len = strlen(m->mutation_id);
    uint8_t key[8 + 2 * SG_ID_MAX_BYTES + 1];
    sg_key_u64(key, ctx->principal ? ctx->principal->token_id : 0);
    memcpy(key + 8, req->client_id, cid_len);
    key[8 + cid_len] = 0;
    memcpy(key + 8 + cid_len + 1, m->mutation_id, mid_len);
    MDB_val k = {8 + cid_len + 1 + mid_len, key}, v;
    int rc = mdb_get(txn, s->idempotency, &k, &v);
    Shegong__V1__MutationResult *res;
    if (rc == 0) {
      res = (Shegong__V1__MutationResult *)protobuf_c_message_unpack(
          &shegong__v1__mutation_result__descriptor, &ctx->arena->allocator, v.mv_size, v.mv_data);
      if (!res) return sg_status_set(ctx->st, SG_EDATALOSS, "stored outcome of %s is damaged",
                                     m->mutation_id);
      res->replayed = 1;
    } else if (rc != MDB_NOTFOUND) {
      return sg_store_err(rc, "read idempotency");
    } else {
      if (!(res = apply_mutation(ctx, txn, m))) return SG_ENOMEM;
      /* the first outcome is the answer to every replay, unless it was the
       * server's own trouble (full disk, internal error): that is retried */
      int code = res->status->code;
      if (code == SHEGONG__V1__CODE__INTERNAL || code == SHEGONG__V1__CODE__RESOURCE_EXHAUSTED ||
          code == SHEGONG__V1__CODE__UNAVAILABLE || code == SHEGONG__V1__CODE__DATA_LOSS ||
          code == SHEGONG__V1__CODE__DEADLINE_EXCEEDED) {
        r->results[r->n_results++] = res;
        continue;
      }
      size_t n = protobuf_c_message_get_packed_size(&res->base);
      v.mv_size = n;
      if ((rc = mdb_put(txn, s->idempotency, &k, &v, MDB_RESERVE)))
        return sg_store_err(rc, "record idempotency");
      protobuf_c_message_pack(&res->base, v.mv_data);
    }
    r->results[r->n_results++] = res;
  }
  int rc = sg_store_head_revision(s, txn, &r->head_revision);
  if (rc) return rc;
  *resp = &r->base;
  return 0;
}

#define SG_WORKER_RECORDS_MAX 100

typedef struct wr_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  Shegong__V1__SnapshotResponse *r;
  const sg_rec_kind *k;
  size_t cap[16];
  int err;
} wr_ctx;

static int wr_one(void *arg, uint64_t id) {
  wr_ctx *w = arg;
  ProtobufCMessage *m;
  int rc = sg_rec_get(w->ctx->store, w->txn, w->k, id, &w->ctx->arena->allocator, &m);
  if (rc) return w->err = (rc == SG_ENOTFOUND ? SG_EDATALOSS : rc);
  const ProtobufCMessageDescriptor *d = w->r->base.descriptor;
  for (unsigned i = 0; i < d->n_fields && i < 16; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->label != PROTOBUF_C_LABEL_REPEATED || f->descriptor != m->descriptor) continue;
    size_t *n = (size_t *)((char *)w->r + f->quantifier_offset);
    void ***arr = (void ***)((char *)w->r + f->offset);
    if (*n == w->cap[i]) {
      size_t cap = w->cap[i] ? w->cap[i] * 2 : 32;
      void **g = sg_arena_alloc(w->ctx->arena, cap * sizeof *g);
      if (!g) return w->err = SG_ENOMEM;
      if (*n) memcpy(g, *arr, *n * sizeof *g);
      *arr = g;
      w->cap[i] = cap;
    }
    (*arr)[(*n)++] = m;
    return 0;
  }
  return w->err = SG_EINTERNAL;
}

static int sync_worker_records(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                               ProtobufCMessage **resp) {
  const Shegong__V1__WorkerRecordsRequest *req = (const void *)req_msg;
  if (req->n_worker_ids == 0 || req->n_worker_ids > SG_WORKER_RECORDS_MAX) {
    sg_status_violation(ctx->st, "worker_ids", "1 to %d workers", SG_WORKER_RECORDS_MAX);
    return SG_EINVAL;
  }
  Shegong__V1__SnapshotResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__snapshot_response__init(r);
  wr_ctx w = {.ctx = ctx, .txn = txn, .r = r};
  for (size_t i = 0; i < req->n_worker_ids; i++) {
    char field[32];
    snprintf(field, sizeof field, "worker_ids[%zu]", i % 1000);
    sg_worker *wk;
    int rc = sg_worker_load_scoped(ctx, txn, req->worker_ids[i], field, &wk, NULL);
    if (rc) return rc;
    for (const sg_rec_kind *k = sg_rec_kinds; k->desc; k++) {
      if (!k->index[0].field || strcmp(k->index[0].field, "worker_id") != 0) continue;
      w.k = k;
      rc = sg_rec_scan_worker(ctx->store, txn, k, wk->id, wr_one, &w);
      if (w.err) return w.err;
      if (rc) return rc;
    }
  }
  r->last = 1;
  *resp = &r->base;
  return 0;
}

const sg_method_impl sg_svc_sync[] = {
    {"/shegong.v1.Sync/Pull", SG_METHOD_READ, sync_pull},
    {"/shegong.v1.Sync/Snapshot", SG_METHOD_READ, sync_snapshot},
    {"/shegong.v1.Sync/Push", SG_METHOD_WRITE, sync_push},
    {"/shegong.v1.Sync/Watch", SG_METHOD_READ, sync_watch},
    {"/shegong.v1.Sync/WorkerRecords", SG_METHOD_READ, sync_worker_records},
    {NULL, 0, NULL},
};
