/* The town replica: see replica.h. */
#include "replica.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "dispatch.h"
#include "log.h"
#include "net/server.h"
#include "store/units.h"
#include "shegong/v1/auth.pb-c.h"
#include "store/records.h"
#include "store/workers.h"
#include "timeutil.h"
#include "validate.h"

#define PUSH_BATCH 500
#define PULL_LIMIT 1000
#define SYNC_CALL_MS 120000
#define REPLICA_MAP_SIZE ((size_t)1 << 30)

struct sg_replica {
  sg_store *store;
  MDB_dbi outbox, conflicts;
  sg_limits limits;
  char town[16];
  char server[128];
  char client_id[64];
  char peer[96];
};

/* The methods that change records: applied to the copy and queued. */
static int queued_method(const char *path) {
  return strcmp(path, "/shegong.v1.Units/Create") == 0 ||
         strcmp(path, "/shegong.v1.Workers/Create") == 0 ||
         strcmp(path, "/shegong.v1.Workers/Update") == 0 ||
         strcmp(path, "/shegong.v1.Workers/Leave") == 0;
}

static int load_str(sg_replica *r, MDB_txn *txn, const char *key, char *buf, size_t n) {
  const char *v;
  size_t len;
  buf[0] = '\0';
  int rc = sg_meta_get_str(r->store, txn, key, &v, &len);
  if (rc == SG_ENOTFOUND) return 0;
  if (rc) return rc;
  if (len >= n) return SG_EDATALOSS;
  memcpy(buf, v, len);
  buf[len] = '\0';
  return 0;
}

int sg_replica_open(sg_replica **out, const char *dir, sg_status *st) {
  sg_replica *r = calloc(1, sizeof *r);
  if (!r) return sg_status_set(st, SG_ENOMEM, "out of memory");
  sg_limits_default(&r->limits);
  int rc = sg_dispatch_init();
  if (!rc) rc = sg_store_open(&r->store, dir, REPLICA_MAP_SIZE);
  if (rc) {
    free(r);
    return sg_status_set(st, rc, "cannot open the replica in %s: %s", dir, sg_strerror(rc));
  }
  MDB_txn *txn = NULL;
  int mrc = mdb_txn_begin(r->store->env, NULL, 0, &txn);
  if (mrc || (mrc = mdb_dbi_open(txn, "outbox", MDB_CREATE, &r->outbox)) ||
      (mrc = mdb_dbi_open(txn, "conflicts", MDB_CREATE, &r->conflicts))) {
    rc = sg_store_err(mrc, "open replica tables");
    goto done;
  }
  /* records made offline take ids far above any the server hands out */
  static const char *const seqs[] = {"seq:unit", "seq:worker"};
  for (int i = 0; i < 2; i++) {
    uint64_t v;
    if ((rc = sg_meta_get_u64(r->store, txn, seqs[i], &v))) goto done;
    if (v < SG_REPLICA_LOCAL_ID_BASE &&
        (rc = sg_meta_put_u64(r->store, txn, seqs[i], SG_REPLICA_LOCAL_ID_BASE)))
      goto done;
  }
  if ((rc = load_str(r, txn, "replica:client_id", r->client_id, sizeof r->client_id))) goto done;
  if (!r->client_id[0]) {
    uint8_t rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    char hex[17];
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    snprintf(r->client_id, sizeof r->client_id, "replica-%s", hex);
    if ((rc = sg_meta_put_str(r->store, txn, "replica:client_id", r->client_id))) goto done;
  }
  if ((rc = load_str(r, txn, "replica:town", r->town, sizeof r->town)) ||
      (rc = load_str(r, txn, "replica:server", r->server, sizeof r->server)))
    goto done;
  mrc = mdb_txn_commit(txn);
  txn = NULL;
  if (mrc) rc = sg_store_err(mrc, "commit replica setup");
done:
  if (txn) mdb_txn_abort(txn);
  if (rc) {
    sg_store_close(r->store);
    free(r);
    return sg_status_set(st, rc, "cannot set up the replica in %s: %s", dir, sg_strerror(rc));
  }
  snprintf(r->peer, sizeof r->peer, "%s", r->client_id);
  *out = r;
  return 0;
}

void sg_replica_close(sg_replica *r) {
  if (!r) return;
  sg_store_close(r->store);
  free(r);
}

const char *sg_replica_server(sg_replica *r) { return r->server; }

/* A malloc'd copy of an arena message, which the caller frees as usual. */
static ProtobufCMessage *copy_out(const ProtobufCMessage *m) {
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) return NULL;
  protobuf_c_message_pack(m, buf);
  ProtobufCMessage *c = protobuf_c_message_unpack(m->descriptor, NULL, n, buf);
  free(buf);
  return c;
}

/* The record a queued update or leave targets; 0 for creates. */
static uint64_t target_id(const char *path, const ProtobufCMessage *req) {
  if (strcmp(path, "/shegong.v1.Workers/Update") == 0)
    return ((const Shegong__V1__UpdateWorkerRequest *)req)->id;
  if (strcmp(path, "/shegong.v1.Workers/Leave") == 0)
    return ((const Shegong__V1__LeaveWorkerRequest *)req)->id;
  return 0;
}

/* The request inside a queued mutation. */
static const ProtobufCMessage *mutation_request(const Shegong__V1__Mutation *m) {
  switch (m->op_case) {
  case SHEGONG__V1__MUTATION__OP_CREATE_UNIT: return &m->create_unit->base;
  case SHEGONG__V1__MUTATION__OP_CREATE_WORKER: return &m->create_worker->base;
  case SHEGONG__V1__MUTATION__OP_UPDATE_WORKER: return &m->update_worker->base;
  case SHEGONG__V1__MUTATION__OP_LEAVE_WORKER: return &m->leave_worker->base;
  default: return NULL;
  }
}

static int enqueue(sg_replica *r, sg_call_ctx *ctx, MDB_txn *txn, const char *path,
                   const ProtobufCMessage *req, const ProtobufCMessage *resp) {
  uint64_t seq;
  int rc = sg_store_next_id(r->store, txn, "replica:seq:mutation", &seq);
  if (rc) return rc;
  Shegong__V1__Mutation m = SHEGONG__V1__MUTATION__INIT;
  m.mutation_id = sg_arena_printf(ctx->arena, "%s-%llu", r->client_id, (unsigned long long)seq);
  if (!m.mutation_id) return SG_ENOMEM;
  Shegong__V1__OutboxEntry e = SHEGONG__V1__OUTBOX_ENTRY__INIT;
  e.seq = seq;
  e.method = (char *)path;
  e.mutation = &m;
  e.queued_at = ctx->now;
  if (strcmp(path, "/shegong.v1.Units/Create") == 0) {
    m.op_case = SHEGONG__V1__MUTATION__OP_CREATE_UNIT;
    m.create_unit = (Shegong__V1__CreateUnitRequest *)req;
    e.local_id = ((const Shegong__V1__Unit *)resp)->id;
  } else if (strcmp(path, "/shegong.v1.Workers/Create") == 0) {
    m.op_case = SHEGONG__V1__MUTATION__OP_CREATE_WORKER;
    m.create_worker = (Shegong__V1__CreateWorkerRequest *)req;
    e.local_id = ((const Shegong__V1__Worker *)resp)->id;
  } else if (strcmp(path, "/shegong.v1.Workers/Update") == 0) {
    m.op_case = SHEGONG__V1__MUTATION__OP_UPDATE_WORKER;
    m.update_worker = (Shegong__V1__UpdateWorkerRequest *)req;
  } else {
    m.op_case = SHEGONG__V1__MUTATION__OP_LEAVE_WORKER;
    m.leave_worker = (Shegong__V1__LeaveWorkerRequest *)req;
  }
  return sg_record_put(txn, r->outbox, seq, &e.base, MDB_NOOVERWRITE | MDB_APPEND);
}

/*
 * Runs method on the copy: reads in a read transaction, queued mutations in
 * a write transaction that also appends the outbox entry (and, when
 * drop_conflict is set, removes that conflict), all or nothing.
 */
static int local_call(sg_replica *r, const sg_method_info *mi, const ProtobufCMessage *req,
                      ProtobufCMessage **resp, sg_status *st, const char *drop_conflict) {
  const sg_dispatch_entry *e = sg_dispatch_lookup(mi->path);
  if (!e || !e->impl || mi->server_streaming ||
      (e->impl->kind == SG_METHOD_WRITE && !queued_method(mi->path)))
    return sg_status_set(st, SG_EUNIMPL, "%s is not available on a replica; use the server",
                         mi->path);
  int write = e->impl->kind == SG_METHOD_WRITE;
  uint64_t target = target_id(mi->path, req);
  if (target >= SG_REPLICA_LOCAL_ID_BASE)
    return sg_status_set(st, SG_EPRECOND,
                         "record %llu was created offline: run `shegong sync` before changing it",
                         (unsigned long long)target);
  sg_arena arena;
  sg_arena_init(&arena, r->limits.max_call_memory);
  sg_call_ctx ctx = {.store = r->store, .limits = &r->limits, .arena = &arena, .st = st,
                     .peer = r->peer, .method = mi->path, .replica = 1};
  sg_call_ctx_stamp(&ctx);
  MDB_txn *txn = NULL;
  ProtobufCMessage *out = NULL;
  int rc = mdb_txn_begin(r->store->env, NULL, write ? 0 : MDB_RDONLY, &txn);
  if (rc) {
    rc = sg_status_set(st, sg_store_err(rc, "begin"), "the replica's database failed");
    goto done;
  }
  rc = e->impl->handler(&ctx, txn, req, &out);
  if (rc == 0 && write) rc = enqueue(r, &ctx, txn, mi->path, req, out);
  if (rc == 0 && drop_conflict) {
    MDB_val k = {strlen(drop_conflict), (void *)drop_conflict};
    int mrc = mdb_del(txn, r->conflicts, &k, NULL);
    if (mrc) rc = sg_store_err(mrc, "drop conflict");
  }
  if (rc == 0 && write) {
    int mrc = mdb_txn_commit(txn);
    txn = NULL;
    if (mrc) rc = sg_store_err(mrc, "commit");
  }
  if (rc == 0 && !(*resp = copy_out(out))) rc = SG_ENOMEM;
done:
  if (txn) mdb_txn_abort(txn);
  if (rc && st->code == 0) sg_status_set(st, rc, NULL);
  sg_status_finish_violations(st);
  sg_arena_destroy(&arena);
  return rc;
}

int sg_replica_call(sg_replica *r, const char *method, const ProtobufCMessage *req,
                    ProtobufCMessage **resp, sg_status *st) {
  sg_status local;
  if (!st) st = &local;
  sg_status_clear(st);
  *resp = NULL;
  const sg_method_info *mi = sg_methods_find(method);
  if (!mi) return sg_status_set(st, SG_EUNIMPL, "unknown method %.100s", method);
  if (req->descriptor != mi->method->input)
    return sg_status_set(st, SG_EINVAL, "%s takes a %s", mi->path, mi->method->input->name);
  if (!r->town[0])
    return sg_status_set(st, SG_EPRECOND,
                         "this replica has no town yet: run `shegong --replica DIR replica init "
                         "--town CODE` with a server");
  return local_call(r, mi, req, resp, st, NULL);
}

/* ---- applying the server's records ------------------------------------- */

static int town_id_by_code(sg_replica *r, MDB_txn *txn, const char *code, uint64_t *id) {
  return sg_index_get_id(txn, r->store->units_by_code, code, strlen(code), id);
}

static int delete_local_unit(sg_replica *r, MDB_txn *txn, uint64_t id) {
  sg_unit *u;
  int rc = sg_units_get(r->store, txn, id, NULL, &u);
  if (rc == SG_ENOTFOUND) return 0;
  if (rc) return rc;
  uint8_t kb[8];
  sg_key_u64(kb, id);
  if (!(rc = sg_index_del(txn, r->store->units_by_code, u->code, strlen(u->code))) &&
      !(rc = sg_index_pair_del(txn, r->store->units_by_parent, u->parent_id, id)))
    rc = sg_index_del(txn, r->store->units, kb, 8);
  protobuf_c_message_free_unpacked(&u->base, NULL);
  return rc;
}

static int delete_local_worker(sg_replica *r, MDB_txn *txn, uint64_t id) {
  sg_worker *w;
  int rc = sg_workers_get(r->store, txn, id, NULL, &w);
  if (rc == SG_ENOTFOUND) return 0;
  if (rc) return rc;
  uint64_t town;
  rc = town_id_by_code(r, txn, w->town_code, &town);
  if (!rc) rc = sg_workers_delete(r->store, txn, w, town);
  protobuf_c_message_free_unpacked(&w->base, NULL);
  return rc;
}

static int apply_unit(sg_replica *r, MDB_txn *txn, const sg_unit *u) {
  sg_unit *old = NULL;
  int rc = sg_units_get(r->store, txn, u->id, NULL, &old);
  if (rc && rc != SG_ENOTFOUND) return rc;
  rc = sg_units_replace(r->store, txn, u, old);
  if (old) protobuf_c_message_free_unpacked(&old->base, NULL);
  return rc;
}

typedef struct id_list {
  uint64_t *v;
  size_t n, cap;
} id_list;

static int collect_id(void *arg, uint64_t id) {
  id_list *x = arg;
  if (x->n == x->cap) {
    size_t cap = x->cap ? x->cap * 2 : 32;
    uint64_t *g = realloc(x->v, cap * sizeof *g);
    if (!g) return SG_ENOMEM;
    x->v = g;
    x->cap = cap;
  }
  x->v[x->n++] = id;
  return 0;
}

/*
 * A worker who moved away takes its records along: its assessments, visits,
 * attendance, level changes and history leave the copy with it. Transfers
 * stay: the town was a party to them.
 */
static int forget_worker_records(sg_replica *r, MDB_txn *txn, uint64_t worker) {
  int rc = 0;
  for (const sg_rec_kind *k = sg_rec_kinds; k->desc && !rc; k++) {
    if (!k->index[0].field || strcmp(k->index[0].field, "worker_id") != 0 ||
        k == SG_REC_TRANSFER)
      continue;
    id_list x = {0};
    rc = sg_rec_scan_worker(r->store, txn, k, worker, collect_id, &x);
    for (size_t i = 0; i < x.n && !rc; i++) rc = sg_rec_delete(r->store, txn, k, x.v[i]);
    free(x.v);
  }
  return rc;
}

/*
 * Takes the server's worker record: written over the copy's when the worker
 * is (still) in this town, removed from the copy when it has moved away.
 */
static int apply_worker(sg_replica *r, MDB_txn *txn, const sg_worker *w) {
  sg_worker *old = NULL;
  int rc = sg_workers_get(r->store, txn, w->id, NULL, &old);
  if (rc && rc != SG_ENOTFOUND) return rc;
  uint64_t town = 0, old_town = 0;
  if (old && (rc = town_id_by_code(r, txn, old->town_code, &old_town))) goto done;
  if (strcmp(w->town_code, r->town) != 0) {
    rc = old ? sg_workers_delete(r->store, txn, old, old_town) : 0;
    if (!rc && old) rc = forget_worker_records(r, txn, w->id);
    goto done;
  }
  if ((rc = town_id_by_code(r, txn, w->town_code, &town))) goto done;
  /* a worker who comes from another town: its earlier records were in that
   * town's pulls, not ours; noted in this transaction, fetched after the pull */
  if (!old && w->version > 1 && w->id < SG_REPLICA_LOCAL_ID_BASE) {
    char key[40];
    snprintf(key, sizeof key, "replica:arrived:%016llx", (unsigned long long)w->id);
    if ((rc = sg_meta_put_str(r->store, txn, key, ""))) goto done;
  }
  rc = sg_workers_put(r->store, txn, w, town, old, old_town);
  if (rc == SG_EEXISTS) {
    /* an offline record with the same ID number gives way to the server's */
    uint64_t holder;
    if (sg_workers_find_idno(r->store, txn, w->id_number, &holder) == 0 &&
        holder >= SG_REPLICA_LOCAL_ID_BASE && (rc = delete_local_worker(r, txn, holder)) == 0)
      rc = sg_workers_put(r->store, txn, w, town, old, old_town);
  }
done:
  if (old) protobuf_c_message_free_unpacked(&old->base, NULL);
  return rc;
}

/* The record a change carries, by its oneof case; NULL if none. */
static const ProtobufCMessage *change_record(const Shegong__V1__Change *c) {
  const ProtobufCFieldDescriptor *f =
      protobuf_c_message_descriptor_get_field(&shegong__v1__change__descriptor, c->record_case);
  if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE) return NULL;
  return *(ProtobufCMessage *const *)((const char *)c + f->offset);
}

static int apply_change(sg_replica *r, MDB_txn *txn, const Shegong__V1__Change *c) {
  if (c->record_case == SHEGONG__V1__CHANGE__RECORD_UNIT) return apply_unit(r, txn, c->unit);
  if (c->record_case == SHEGONG__V1__CHANGE__RECORD_WORKER) return apply_worker(r, txn, c->worker);
  /* assessments, visits, courses, attendance, level changes, the policy:
   * kept as the server made them */
  const ProtobufCMessage *rec = change_record(c);
  const sg_rec_kind *k = rec ? sg_rec_kind_of(rec->descriptor) : NULL;
  if (k) return sg_rec_put(r->store, txn, k, rec);
  sg_warn("replica: change %llu carries no record; skipped", (unsigned long long)c->revision);
  return 0;
}

static int commit(MDB_txn **txn, const char *what) {
  int rc = mdb_txn_commit(*txn);
  *txn = NULL;
  return rc ? sg_store_err(rc, what) : 0;
}

/* ---- sync ----------------------------------------------------------------- */

/*
 * A copy made with masked ID numbers could not check or change anything:
 * the token must be allowed to see personal data.
 */
static int check_token(sg_client *c, sg_status *st) {
  Shegong__V1__WhoAmIRequest req = SHEGONG__V1__WHO_AM_IREQUEST__INIT;
  ProtobufCMessage *resp;
  int rc = sg_call(c, "Tokens/WhoAmI", &req.base, &resp, SYNC_CALL_MS, st);
  if (rc) return rc;
  int pii = ((Shegong__V1__Token *)resp)->pii;
  protobuf_c_message_free_unpacked(resp, NULL);
  if (!pii)
    return sg_status_set(st, SG_EPRECOND,
                         "a replica keeps ID numbers and phones: its token needs the pii permission");
  return 0;
}

/* Rebuilds the copy from a snapshot, in one transaction: all or nothing. */
static int take_snapshot(sg_replica *r, sg_client *c, Shegong__V1__SyncReport *rep,
                         sg_status *st) {
  Shegong__V1__SnapshotRequest req = SHEGONG__V1__SNAPSHOT_REQUEST__INIT;
  req.town_code = r->town;
  uint32_t id;
  int rc = sg_call_send(c, "Sync/Snapshot", &req.base, SYNC_CALL_MS, &id, st);
  if (rc) return rc;
  MDB_txn *txn = NULL;
  if ((rc = mdb_txn_begin(r->store->env, NULL, 0, &txn)))
    return sg_status_set(st, sg_store_err(rc, "begin snapshot"), "the replica's database failed");
  sg_store *rs = r->store;
  MDB_dbi tables[] = {rs->units,          rs->units_by_code,       rs->units_by_parent,
                      rs->workers,        rs->workers_by_idno,     rs->workers_by_unit,
                      rs->workers_by_town, rs->assessments,        rs->assessments_by_worker,
                      rs->visits,         rs->visits_by_worker,    rs->courses,
                      rs->attendance,     rs->attendance_by_worker, rs->attendance_by_course,
                      rs->level_changes,  rs->level_changes_by_worker, rs->policies,
                      rs->transfers,      rs->transfers_by_worker, rs->transfers_by_to_town,
                      rs->transfers_due,  rs->worker_history,  rs->history_by_worker};
  for (size_t i = 0; i < sizeof tables / sizeof tables[0] && !rc; i++)
    if ((rc = mdb_drop(txn, tables[i], 0))) rc = sg_store_err(rc, "empty table");
  uint64_t revision = 0;
  int last = 0;
  while (!rc) {
    ProtobufCMessage *m;
    int n = sg_stream_next(c, id, &m, SYNC_CALL_MS, st);
    if (n == 1) break;
    if (n < 0) {
      rc = n;
      break;
    }
    Shegong__V1__SnapshotResponse *s = (Shegong__V1__SnapshotResponse *)m;
    for (size_t i = 0; i < s->n_units && !rc; i++) {
      rc = sg_units_insert(r->store, txn, s->units[i]);
      /* the handlers find the district through meta, as on the server */
      if (!rc && s->units[i]->kind == SHEGONG__V1__UNIT_KIND__DISTRICT)
        rc = sg_meta_put_str(r->store, txn, "district_code", s->units[i]->code);
      rep->snapshot_units++;
    }
    for (size_t i = 0; i < s->n_workers && !rc; i++) {
      uint64_t town;
      rc = town_id_by_code(r, txn, s->workers[i]->town_code, &town);
      if (!rc) rc = sg_workers_put(r->store, txn, s->workers[i], town, NULL, 0);
      rep->snapshot_workers++;
    }
    /* every other kind of record, by the repeated field's type */
    const ProtobufCMessageDescriptor *sd = s->base.descriptor;
    for (unsigned f = 0; f < sd->n_fields && !rc; f++) {
      const ProtobufCFieldDescriptor *fd = &sd->fields[f];
      const sg_rec_kind *k =
          fd->type == PROTOBUF_C_TYPE_MESSAGE ? sg_rec_kind_of(fd->descriptor) : NULL;
      if (!k) continue;
      if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t count = *(const size_t *)((const char *)s + fd->quantifier_offset);
        ProtobufCMessage **arr = *(ProtobufCMessage ***)((char *)s + fd->offset);
        for (size_t i = 0; i < count && !rc; i++) rc = sg_rec_put(rs, txn, k, arr[i]);
      } else {
        ProtobufCMessage *one = *(ProtobufCMessage **)((char *)s + fd->offset);
        if (one) rc = sg_rec_put(rs, txn, k, one);
      }
    }
    if (s->last) {
      last = 1;
      revision = s->revision;
    }
    protobuf_c_message_free_unpacked(m, NULL);
  }
  if (!rc && !last) rc = sg_status_set(st, SG_EUNAVAIL, "the snapshot ended early");
  if (!rc) rc = sg_meta_put_u64(r->store, txn, "replica:last_revision", revision);
  if (!rc) rc = commit(&txn, "commit snapshot");
  if (txn) mdb_txn_abort(txn);
  if (rc && st->code == 0) sg_status_set(st, rc, "cannot store the snapshot");
  if (!rc) rep->snapshot = 1;
  return rc;
}

/* Pulls until current; falls back to a snapshot when the log was compacted. */
static int pull_all(sg_replica *r, sg_client *c, Shegong__V1__SyncReport *rep, sg_status *st) {
  for (int round = 0;; round++) {
    MDB_txn *txn = NULL;
    uint64_t since = 0;
    int rc = mdb_txn_begin(r->store->env, NULL, MDB_RDONLY, &txn);
    if (!rc) rc = sg_meta_get_u64(r->store, txn, "replica:last_revision", &since);
    if (txn) mdb_txn_abort(txn);
    if (rc) return sg_status_set(st, rc, "the replica's database failed");
    if (round == 0) rep->from_revision = since;
    Shegong__V1__PullRequest req = SHEGONG__V1__PULL_REQUEST__INIT;
    req.town_code = r->town;
    req.since = since;
    req.limit = PULL_LIMIT;
    uint32_t id;
    if ((rc = sg_call_send(c, "Sync/Pull", &req.base, SYNC_CALL_MS, &id, st))) return rc;
    int more = 0;
    for (;;) {
      ProtobufCMessage *m;
      int n = sg_stream_next(c, id, &m, SYNC_CALL_MS, st);
      if (n == 1) break;
      if (n == SG_ERANGE && !rep->snapshot) {
        /* this copy is older than the changelog: start again from a snapshot */
        if ((rc = take_snapshot(r, c, rep, st))) return rc;
        more = 1;
        break;
      }
      if (n < 0) return n;
      Shegong__V1__PullResponse *p = (Shegong__V1__PullResponse *)m;
      /* each message in one transaction, with the position it reached */
      rc = mdb_txn_begin(r->store->env, NULL, 0, &txn);
      if (rc) rc = sg_store_err(rc, "begin pull");
      uint64_t pos = since;
      for (size_t i = 0; i < p->n_changes && !rc; i++) {
        rc = apply_change(r, txn, p->changes[i]);
        pos = p->changes[i]->revision;
        rep->pulled++;
      }
      if (p->head_revision) {
        pos = p->through_revision;
        more = p->more;
      }
      if (!rc && pos > since) rc = sg_meta_put_u64(r->store, txn, "replica:last_revision", pos);
      if (!rc) rc = commit(&txn, "commit pull");
      if (txn) mdb_txn_abort(txn);
      protobuf_c_message_free_unpacked(m, NULL);
      if (rc) return sg_status_set(st, rc, "cannot store pulled changes");
      rep->to_revision = since = pos;
    }
    if (!more) return 0;
  }
}

/*
 * Fetches the records of the workers who arrived from another town (noted
 * by apply_worker) with Sync/WorkerRecords, and stores them; each batch's
 * notes are cleared in the same transaction, so an interrupted sync fetches
 * again next time and nothing is stored twice (records are keyed by id).
 */
static int fetch_arrivals(sg_replica *r, sg_client *c, sg_status *st) {
  static const char prefix[] = "replica:arrived:";
  for (;;) {
    /* one worker a call: a refusal (it moved on again) concerns that one alone */
    uint64_t ids[1];
    size_t n = 0;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    int rc = mdb_txn_begin(r->store->env, NULL, MDB_RDONLY, &txn);
    if (!rc) rc = mdb_cursor_open(txn, r->store->meta, &cur);
    MDB_val k = {sizeof prefix - 1, (void *)prefix}, v;
    for (int mrc = rc ? rc : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0 && n < 1;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      if (k.mv_size != sizeof prefix - 1 + 16 || memcmp(k.mv_data, prefix, sizeof prefix - 1) != 0)
        break;
      char hex[17];
      memcpy(hex, (const char *)k.mv_data + sizeof prefix - 1, 16);
      hex[16] = '\0';
      ids[n++] = strtoull(hex, NULL, 16);
    }
    if (cur) mdb_cursor_close(cur);
    if (txn) mdb_txn_abort(txn);
    if (rc) return sg_status_set(st, sg_store_err(rc, "read arrivals"), "the replica's database failed");
    if (!n) return 0;
    Shegong__V1__WorkerRecordsRequest req = SHEGONG__V1__WORKER_RECORDS_REQUEST__INIT;
    req.worker_ids = ids;
    req.n_worker_ids = n;
    ProtobufCMessage *resp;
    rc = sg_call(c, "Sync/WorkerRecords", &req.base, &resp, SYNC_CALL_MS, st);
    if (rc == SG_EPERM || rc == SG_ENOTFOUND) {
      /* moved on again since: the next pull says where; nothing to fetch */
      resp = NULL;
      rc = 0;
    }
    if (rc) return rc;
    if ((rc = mdb_txn_begin(r->store->env, NULL, 0, &txn)))
      return sg_status_set(st, sg_store_err(rc, "begin arrivals"), "the replica's database failed");
    const ProtobufCMessageDescriptor *sd = &shegong__v1__snapshot_response__descriptor;
    for (unsigned f = 0; resp && f < sd->n_fields && !rc; f++) {
      const ProtobufCFieldDescriptor *fd = &sd->fields[f];
      const sg_rec_kind *kind =
          fd->type == PROTOBUF_C_TYPE_MESSAGE && fd->label == PROTOBUF_C_LABEL_REPEATED
              ? sg_rec_kind_of(fd->descriptor)
              : NULL;
      if (!kind) continue;
      size_t count = *(const size_t *)((const char *)resp + fd->quantifier_offset);
      ProtobufCMessage **arr = *(ProtobufCMessage ***)((char *)resp + fd->offset);
      for (size_t i = 0; i < count && !rc; i++) rc = sg_rec_put(r->store, txn, kind, arr[i]);
    }
    for (size_t i = 0; i < n && !rc; i++) {
      char key[40];
      snprintf(key, sizeof key, "%s%016llx", prefix, (unsigned long long)ids[i]);
      MDB_val dk = {strlen(key), key};
      int mrc = mdb_del(txn, r->store->meta, &dk, NULL);
      if (mrc && mrc != MDB_NOTFOUND) rc = sg_store_err(mrc, "clear arrival");
    }
    if (!rc) rc = commit(&txn, "commit arrivals");
    if (txn) mdb_txn_abort(txn);
    if (resp) protobuf_c_message_free_unpacked(resp, NULL);
    if (rc) return sg_status_set(st, rc, "cannot store the records of arrived workers");
  }
}

static int count_entries(MDB_txn *txn, MDB_dbi dbi, uint32_t *out) {
  MDB_stat s;
  int rc = mdb_stat(txn, dbi, &s);
  *out = rc ? 0 : (uint32_t)s.ms_entries;
  return rc ? sg_store_err(rc, "stat") : 0;
}

static int is_transient(int code) {
  return code == SHEGONG__V1__CODE__INTERNAL || code == SHEGONG__V1__CODE__RESOURCE_EXHAUSTED ||
         code == SHEGONG__V1__CODE__UNAVAILABLE || code == SHEGONG__V1__CODE__DATA_LOSS ||
         code == SHEGONG__V1__CODE__DEADLINE_EXCEEDED;
}

/* Records a refused mutation as a conflict for the operator. */
static int add_conflict(sg_replica *r, MDB_txn *txn, const Shegong__V1__OutboxEntry *e,
                        Shegong__V1__MutationResult *res, const char *now) {
  Shegong__V1__Conflict c = SHEGONG__V1__CONFLICT__INIT;
  c.mutation_id = e->mutation->mutation_id;
  c.method = e->method;
  const ProtobufCMessage *req = mutation_request(e->mutation);
  c.record_id = e->local_id ? e->local_id : req ? target_id(e->method, req) : 0;
  c.code = res->status ? res->status->code : SHEGONG__V1__CODE__UNKNOWN;
  c.message = res->status ? res->status->message : "";
  if (res->record_case == SHEGONG__V1__MUTATION_RESULT__RECORD_WORKER)
    c.server_version = res->worker->version;
  c.detected_at = (char *)now;
  c.mutation = e->mutation;
  c.result = res;
  size_t n = protobuf_c_message_get_packed_size(&c.base);
  MDB_val k = {strlen(c.mutation_id), c.mutation_id}, v = {n, NULL};
  int rc = mdb_put(txn, r->conflicts, &k, &v, MDB_RESERVE);
  if (rc) return sg_store_err(rc, "record conflict");
  protobuf_c_message_pack(&c.base, v.mv_data);
  return 0;
}

/* Fetches worker id from the server and writes it over the copy's. */
static int refetch_worker(sg_replica *r, sg_client *c, uint64_t id, sg_status *st) {
  Shegong__V1__GetWorkerRequest g = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
  g.id = id;
  ProtobufCMessage *resp;
  int rc = sg_call(c, "Workers/Get", &g.base, &resp, SYNC_CALL_MS, st);
  if (rc == SG_ENOTFOUND) return 0;
  if (rc) return rc;
  MDB_txn *txn = NULL;
  rc = mdb_txn_begin(r->store->env, NULL, 0, &txn);
  if (rc) rc = sg_store_err(rc, "begin");
  if (!rc) rc = apply_worker(r, txn, (sg_worker *)resp);
  if (!rc) rc = commit(&txn, "commit refetch");
  if (txn) mdb_txn_abort(txn);
  protobuf_c_message_free_unpacked(resp, NULL);
  return rc ? sg_status_set(st, rc, "cannot store worker %llu", (unsigned long long)id) : 0;
}

/*
 * Pushes the outbox in batches. Each answer is settled in one local
 * transaction: applied and refused mutations leave the outbox (refused ones
 * become conflicts); a mutation the server could not take now stays, and
 * the push stops there. A crash before that transaction commits leaves the
 * outbox as it was: the next push replays the same mutation ids and the
 * server answers with the outcomes it recorded.
 */
static int push_all(sg_replica *r, sg_client *c, Shegong__V1__SyncReport *rep, sg_status *st) {
  for (;;) {
    sg_arena a;
    sg_arena_init(&a, 0);
    Shegong__V1__OutboxEntry **entries = sg_arena_alloc(&a, PUSH_BATCH * sizeof *entries);
    Shegong__V1__Mutation **muts = sg_arena_alloc(&a, PUSH_BATCH * sizeof *muts);
    size_t n = 0;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    int rc = entries && muts ? mdb_txn_begin(r->store->env, NULL, MDB_RDONLY, &txn) : SG_ENOMEM;
    if (rc == 0 && (rc = mdb_cursor_open(txn, r->outbox, &cur)) == 0) {
      MDB_val k, v;
      int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
      while (mrc == 0 && n < PUSH_BATCH) {
        Shegong__V1__OutboxEntry *e = (Shegong__V1__OutboxEntry *)protobuf_c_message_unpack(
            &shegong__v1__outbox_entry__descriptor, &a.allocator, v.mv_size, v.mv_data);
        if (!e || !e->mutation) {
          rc = SG_EDATALOSS;
          break;
        }
        entries[n] = e;
        muts[n++] = e->mutation;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
      }
      mdb_cursor_close(cur);
    }
    if (txn) mdb_txn_abort(txn);
    txn = NULL;
    if (rc || n == 0) {
      sg_arena_destroy(&a);
      return rc ? sg_status_set(st, rc, "cannot read the outbox") : 0;
    }
    Shegong__V1__PushRequest req = SHEGONG__V1__PUSH_REQUEST__INIT;
    req.client_id = r->client_id;
    req.mutations = muts;
    req.n_mutations = n;
    ProtobufCMessage *resp;
    rc = sg_call(c, "Sync/Push", &req.base, &resp, SYNC_CALL_MS, st);
    if (rc) {
      sg_arena_destroy(&a);
      return rc;
    }
    rep->pushed += (uint32_t)n;
    Shegong__V1__PushResponse *pr = (Shegong__V1__PushResponse *)resp;
    uint64_t *refetch = sg_arena_alloc(&a, n * sizeof *refetch);
    size_t n_refetch = 0, settled = 0;
    int stop = 0;
    char now[32];
    sg_now_rfc3339(now, sizeof now);
    rc = refetch ? mdb_txn_begin(r->store->env, NULL, 0, &txn) : SG_ENOMEM;
    if (rc > 0) rc = sg_store_err(rc, "begin push settlement");
    for (size_t i = 0; i < n && i < pr->n_results && !rc && !stop; i++) {
      Shegong__V1__OutboxEntry *e = entries[i];
      Shegong__V1__MutationResult *res = pr->results[i];
      if (strcmp(res->mutation_id, e->mutation->mutation_id) != 0) {
        rc = sg_status_set(st, SG_EINTERNAL, "the server answered mutations out of order");
        break;
      }
      int code = res->status ? (int)res->status->code : 0;
      if (is_transient(code)) {
        stop = 1; /* keep it and everything after it for the next sync */
        break;
      }
      if (res->replayed) rep->replayed++;
      if (code == 0) {
        rep->applied++;
      } else {
        rep->conflicts++;
        rc = add_conflict(r, txn, e, res, now);
        const ProtobufCMessage *mreq = mutation_request(e->mutation);
        uint64_t t = mreq ? target_id(e->method, mreq) : 0;
        /* the copy holds the refused edit: take the server's record back */
        if (t) refetch[n_refetch++] = t;
      }
      /* a record made offline gives way to the server's (or to nothing) */
      if (!rc && e->local_id >= SG_REPLICA_LOCAL_ID_BASE)
        rc = strcmp(e->method, "/shegong.v1.Units/Create") == 0
                 ? delete_local_unit(r, txn, e->local_id)
                 : delete_local_worker(r, txn, e->local_id);
      if (!rc) {
        uint8_t kb[8];
        sg_key_u64(kb, e->seq);
        rc = sg_index_del(txn, r->outbox, kb, 8);
      }
      settled++;
    }
    if (!rc) rc = commit(&txn, "commit push settlement");
    if (txn) mdb_txn_abort(txn);
    protobuf_c_message_free_unpacked(resp, NULL);
    for (size_t i = 0; i < n_refetch && !rc; i++) rc = refetch_worker(r, c, refetch[i], st);
    sg_arena_destroy(&a);
    if (rc) return st->code ? rc : sg_status_set(st, rc, "cannot settle the push");
    if (stop || settled < n) {
      rep->outbox_left = (uint32_t)(n - settled);
      return 0;
    }
  }
}

int sg_replica_sync(sg_replica *r, sg_client *c, Shegong__V1__SyncReport **report,
                    sg_status *st) {
  sg_status local;
  if (!st) st = &local;
  sg_status_clear(st);
  *report = NULL;
  if (!r->town[0])
    return sg_status_set(st, SG_EPRECOND, "this replica has no town yet: run replica init");
  Shegong__V1__SyncReport *rep = malloc(sizeof *rep);
  if (!rep) return sg_status_set(st, SG_ENOMEM, "out of memory");
  shegong__v1__sync_report__init(rep);
  int rc = check_token(c, st);
  if (!rc) rc = push_all(r, c, rep, st);
  if (!rc) rc = pull_all(r, c, rep, st);
  if (!rc) rc = fetch_arrivals(r, c, st);
  if (!rc) {
    MDB_txn *txn = NULL;
    char now[32];
    sg_now_rfc3339(now, sizeof now);
    uint32_t left = 0;
    int mrc = mdb_txn_begin(r->store->env, NULL, 0, &txn);
    if (!mrc) {
      count_entries(txn, r->outbox, &left);
      rc = sg_meta_put_str(r->store, txn, "replica:last_sync", now);
      if (!rc) rc = commit(&txn, "commit sync time");
    } else {
      rc = sg_store_err(mrc, "begin");
    }
    if (txn) mdb_txn_abort(txn);
    rep->outbox_left = left;
  }
  *report = rep;
  return rc;
}

int sg_replica_init(sg_replica *r, sg_client *c, const char *server, const char *town,
                    sg_status *st) {
  sg_status local;
  if (!st) st = &local;
  sg_status_clear(st);
  if (r->town[0])
    return sg_status_set(st, SG_EPRECOND, "this replica already keeps town %s", r->town);
  char why[SG_WHY_MAX];
  if (sg_validate_division_code(town, 9, why, sizeof why)) {
    sg_status_violation(st, "town_code", "%s", why);
    sg_status_finish_violations(st);
    return SG_EINVAL;
  }
  int rc = check_token(c, st);
  if (rc) return rc;
  snprintf(r->town, sizeof r->town, "%s", town);
  Shegong__V1__SyncReport rep = SHEGONG__V1__SYNC_REPORT__INIT;
  rc = take_snapshot(r, c, &rep, st);
  MDB_txn *txn = NULL;
  if (!rc && !(rc = mdb_txn_begin(r->store->env, NULL, 0, &txn))) {
    if (!(rc = sg_meta_put_str(r->store, txn, "replica:town", town)) &&
        !(rc = sg_meta_put_str(r->store, txn, "replica:server", server ? server : "")))
      rc = commit(&txn, "commit replica init");
    if (txn) mdb_txn_abort(txn);
  } else if (rc > 0) {
    rc = sg_store_err(rc, "begin");
  }
  if (rc) {
    r->town[0] = '\0';
    return st->code ? rc : sg_status_set(st, rc, "cannot initialise the replica");
  }
  snprintf(r->server, sizeof r->server, "%s", server ? server : "");
  return 0;
}

/* Lists a table of messages into a malloc'd list message. */
static int list_table(sg_replica *r, MDB_dbi dbi, const ProtobufCMessageDescriptor *item,
                      void ***items, size_t *n, sg_status *st) {
  MDB_txn *txn = NULL;
  MDB_cursor *cur = NULL;
  *items = NULL;
  *n = 0;
  size_t cap = 0;
  int rc = mdb_txn_begin(r->store->env, NULL, MDB_RDONLY, &txn);
  if (!rc) rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc) {
    if (txn) mdb_txn_abort(txn);
    return sg_status_set(st, sg_store_err(rc, "list"), "the replica's database failed");
  }
  MDB_val k, v;
  int err = 0;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      void **grown = realloc(*items, cap * sizeof *grown);
      if (!grown) {
        err = SG_ENOMEM;
        break;
      }
      *items = grown;
    }
    ProtobufCMessage *m = protobuf_c_message_unpack(item, NULL, v.mv_size, v.mv_data);
    if (!m) {
      err = SG_EDATALOSS;
      break;
    }
    (*items)[(*n)++] = m;
  }
  mdb_cursor_close(cur);
  mdb_txn_abort(txn);
  if (err) {
    for (size_t i = 0; i < *n; i++) protobuf_c_message_free_unpacked((*items)[i], NULL);
    free(*items);
    *items = NULL;
    *n = 0;
    return sg_status_set(st, err, "cannot read the replica's %s", item->short_name);
  }
  return 0;
}

int sg_replica_outbox(sg_replica *r, Shegong__V1__OutboxList **out, sg_status *st) {
  Shegong__V1__OutboxList *l = malloc(sizeof *l);
  if (!l) return sg_status_set(st, SG_ENOMEM, "out of memory");
  shegong__v1__outbox_list__init(l);
  int rc = list_table(r, r->outbox, &shegong__v1__outbox_entry__descriptor, (void ***)&l->entries,
                      &l->n_entries, st);
  if (rc) {
    free(l);
    return rc;
  }
  *out = l;
  return 0;
}

int sg_replica_conflicts(sg_replica *r, Shegong__V1__ConflictList **out, sg_status *st) {
  Shegong__V1__ConflictList *l = malloc(sizeof *l);
  if (!l) return sg_status_set(st, SG_ENOMEM, "out of memory");
  shegong__v1__conflict_list__init(l);
  int rc = list_table(r, r->conflicts, &shegong__v1__conflict__descriptor,
                      (void ***)&l->conflicts, &l->n_conflicts, st);
  if (rc) {
    free(l);
    return rc;
  }
  *out = l;
  return 0;
}

int sg_replica_status(sg_replica *r, Shegong__V1__ReplicaStatus **out, sg_status *st) {
  MDB_txn *txn = NULL;
  int rc = mdb_txn_begin(r->store->env, NULL, MDB_RDONLY, &txn);
  if (rc) return sg_status_set(st, sg_store_err(rc, "status"), "the replica's database failed");
  Shegong__V1__ReplicaStatus *s = malloc(sizeof *s);
  char last_sync[40];
  if (!s) {
    mdb_txn_abort(txn);
    return sg_status_set(st, SG_ENOMEM, "out of memory");
  }
  shegong__v1__replica_status__init(s);
  rc = sg_meta_get_u64(r->store, txn, "replica:last_revision", &s->last_revision);
  if (!rc) rc = load_str(r, txn, "replica:last_sync", last_sync, sizeof last_sync);
  count_entries(txn, r->outbox, &s->outbox);
  count_entries(txn, r->conflicts, &s->conflicts);
  count_entries(txn, r->store->units, &s->units);
  count_entries(txn, r->store->workers, &s->workers);
  mdb_txn_abort(txn);
  s->town_code = strdup(r->town);
  s->server = strdup(r->server);
  s->client_id = strdup(r->client_id);
  s->last_sync = strdup(rc ? "" : last_sync);
  if (!s->town_code || !s->server || !s->client_id || !s->last_sync) {
    protobuf_c_message_free_unpacked(&s->base, NULL);
    return sg_status_set(st, SG_ENOMEM, "out of memory");
  }
  *out = s;
  return 0;
}

int sg_replica_resolve(sg_replica *r, const char *mutation_id, int keep_mine, sg_status *st) {
  sg_status local;
  if (!st) st = &local;
  sg_status_clear(st);
  if (strlen(mutation_id) > 128) return sg_status_set(st, SG_EINVAL, "mutation id too long");
  MDB_txn *txn = NULL;
  MDB_val k = {strlen(mutation_id), (void *)mutation_id}, v;
  int rc = mdb_txn_begin(r->store->env, NULL, keep_mine ? MDB_RDONLY : 0, &txn);
  if (rc) return sg_status_set(st, sg_store_err(rc, "begin"), "the replica's database failed");
  rc = mdb_get(txn, r->conflicts, &k, &v);
  if (rc == MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    return sg_status_set(st, SG_ENOTFOUND, "no conflict %s", mutation_id);
  }
  if (rc) {
    mdb_txn_abort(txn);
    return sg_status_set(st, sg_store_err(rc, "read conflict"), "the replica's database failed");
  }
  if (!keep_mine) {
    /* the copy already holds the server's record: forget the mutation */
    rc = mdb_del(txn, r->conflicts, &k, NULL);
    if (!rc) rc = mdb_txn_commit(txn);
    else mdb_txn_abort(txn);
    return rc ? sg_status_set(st, sg_store_err(rc, "drop conflict"), "the replica's database failed")
              : 0;
  }
  Shegong__V1__Conflict *c = (Shegong__V1__Conflict *)protobuf_c_message_unpack(
      &shegong__v1__conflict__descriptor, NULL, v.mv_size, v.mv_data);
  mdb_txn_abort(txn);
  if (!c || !c->mutation) {
    if (c) protobuf_c_message_free_unpacked(&c->base, NULL);
    return sg_status_set(st, SG_EDATALOSS, "conflict %s is damaged", mutation_id);
  }
  Shegong__V1__Mutation *m = c->mutation;
  const ProtobufCMessage *req = NULL;
  if (c->code != SHEGONG__V1__CODE__ABORTED || !c->server_version) {
    rc = sg_status_set(st, SG_EPRECOND,
                       "conflict %s is %s, not a version conflict: enter the change again, "
                       "corrected, then resolve it with --server",
                       mutation_id, sg_code_name(c->code));
  } else if (m->op_case == SHEGONG__V1__MUTATION__OP_UPDATE_WORKER) {
    m->update_worker->expected_version = c->server_version;
    req = &m->update_worker->base;
  } else if (m->op_case == SHEGONG__V1__MUTATION__OP_LEAVE_WORKER) {
    m->leave_worker->expected_version = c->server_version;
    req = &m->leave_worker->base;
  } else {
    rc = sg_status_set(st, SG_EPRECOND, "conflict %s cannot be re-applied", mutation_id);
  }
  const sg_method_info *mi = req ? sg_methods_find(c->method) : NULL;
  if (req && !mi) {
    rc = sg_status_set(st, SG_EDATALOSS, "conflict %s names no known method", mutation_id);
  } else if (req) {
    /* apply mine over the server's record, queue it anew, drop the conflict: one transaction */
    ProtobufCMessage *resp = NULL;
    rc = local_call(r, mi, req, &resp, st, mutation_id);
    if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  }
  protobuf_c_message_free_unpacked(&c->base, NULL);
  return rc;
}
