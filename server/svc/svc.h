/* Helpers shared by the service handlers. */
#ifndef SG_SVC_H
#define SG_SVC_H

#include "dispatch.h"
#include "shegong/v1/policy.pb-c.h"
#include "shegong/v1/sync.pb-c.h"
#include "rules.h"
#include "validate.h"

/* True if v is a value of enum d (proto3 enums are open: any int decodes). */
int sg_enum_valid(const ProtobufCEnumDescriptor *d, int v);

/*
 * Page tokens: opaque to clients, "<kind><16 hex digits>" here, naming the
 * last id of the previous page. Parse returns SG_EINVAL (with a violation
 * on field) for a token that was not made by make with the same kind.
 * An empty token is the first page (after = 0).
 */
int sg_page_token_parse(sg_call_ctx *ctx, const char *field, const char *tok, char kind,
                        uint64_t *after);
char *sg_page_token_make(sg_call_ctx *ctx, char kind, uint64_t last);

/* The page size to use: default for 0, capped at the server's maximum. */
uint32_t sg_page_size(const sg_call_ctx *ctx, uint32_t asked);

/*
 * Collects one page of records while an index or table is scanned:
 * sg_pager_visit is the scan's callback; load reads record id and sets *out
 * (NULL to skip it, e.g. filtered out). After the scan, items[0..n) is the
 * page and sg_pager_token() the next page's token ("" on the last page).
 */
typedef struct sg_pager sg_pager;
typedef int (*sg_pager_load_fn)(sg_pager *p, uint64_t id, void **out);
struct sg_pager {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  sg_pager_load_fn load;
  void *arg;
  uint32_t limit;
  void **items;
  size_t n;
  uint64_t last;
  int more;
  int err;
};
int sg_pager_init(sg_pager *p, sg_call_ctx *ctx, MDB_txn *txn, uint32_t asked_page_size,
                  sg_pager_load_fn load, void *arg);
int sg_pager_visit(void *pager, uint64_t id);
char *sg_pager_token(sg_pager *p, char kind);

/*
 * Appends the changelog entry of a mutation: every write handler calls it
 * once, after writing the record under `revision`, in the same
 * transaction. entity is SHEGONG__V1__ENTITY__*, op SHEGONG__V1__CHANGE_OP__*,
 * record the Unit or Worker as written. The towns concerned are given by
 * unit id and code (n = 0: district-wide).
 */
typedef struct sg_towns {
  size_t n;
  uint64_t ids[2];
  const char *codes[2];
} sg_towns;
void sg_towns_add(sg_towns *t, uint64_t id, const char *code);
int sg_log_change(sg_call_ctx *ctx, MDB_txn *txn, int entity, int op, uint64_t revision,
                  ProtobufCMessage *record, const sg_towns *towns);

/* The wire Status for st, in the call's arena; NULL when out of memory. */
Shegong__V1__Status *sg_status_to_pb(sg_call_ctx *ctx, const sg_status *st);

/*
 * Emits the changes of town_id (all: every change) after `since`, at most
 * `limit`, as PullResponse messages through ctx->emit; the last message
 * carries head, more, and through_revision (also returned in *through).
 * quiet_if_none: when there is no change to send, send nothing at all.
 * Memory: records live in a scratch arena, reset after each message.
 */
int sg_sync_emit_changes(sg_call_ctx *ctx, MDB_txn *txn, uint64_t town_id, int all,
                         uint64_t since, uint32_t limit, uint64_t head, uint64_t *through,
                         int *more, int quiet_if_none);

/*
 * The workers a report or list covers: a unit's (unit_code), a town's
 * (town_code), or the whole district (neither) — which for a town token is
 * its own town. Resolve checks the codes and the caller's scope (NOT_FOUND,
 * INVALID_ARGUMENT naming the field, PERMISSION_DENIED); scan walks the
 * worker ids after `after`, in id order.
 */
typedef struct sg_scope {
  MDB_dbi index;   /* workers_by_unit or workers_by_town, when key is set */
  uint64_t key;    /* 0: every worker */
} sg_scope;
int sg_scope_resolve(sg_call_ctx *ctx, MDB_txn *txn, const char *town_code,
                     const char *unit_code, sg_scope *out);
int sg_scope_scan(sg_call_ctx *ctx, MDB_txn *txn, const sg_scope *sc, uint64_t after,
                  sg_pair_fn fn, void *arg);
/*
 * Calls fn with each worker of the scope, read into `scratch`, which is
 * reset after each: a district-wide report holds one worker at a time, and
 * fn copies into ctx->arena only what it keeps. fn returns 0 or an SG_E*.
 */
typedef int (*sg_worker_fn)(void *arg, Shegong__V1__Worker *w, sg_arena *scratch);
int sg_scope_workers(sg_call_ctx *ctx, MDB_txn *txn, const sg_scope *sc, sg_worker_fn fn,
                     void *arg);

/*
 * Reads worker id (field names the request field, for "required") and
 * checks the caller may see its town: NOT_FOUND, PERMISSION_DENIED. *town_id
 * is the worker's town (may be NULL). Memory: ctx->arena.
 */
int sg_worker_load_scoped(sg_call_ctx *ctx, MDB_txn *txn, uint64_t id, const char *field,
                          Shegong__V1__Worker **out, uint64_t *town_id);

/*
 * The facts the pay-step rules read about worker w: its year-end results
 * and level history, read into arena (server/svc/assessments.c).
 */
int sg_step_facts_load(sg_call_ctx *ctx, MDB_txn *txn, const Shegong__V1__Worker *w,
                       sg_arena *arena, sg_step_facts *out);

/*
 * A worker's history entry (Workers/History) for w as it now stands, from
 * `date`, with its change; every change of unit, role, post, level or status
 * appends one. before is the record before the change (NULL when the worker
 * is registered). town is w's town id.
 */
int sg_worker_history_append(sg_call_ctx *ctx, MDB_txn *txn, const Shegong__V1__Worker *before,
                             const Shegong__V1__Worker *w, uint64_t town, const char *date,
                             const char *cause, uint64_t transfer_id);

/*
 * Writes w (a changed copy of the stored old) as Workers/Update would: the
 * same validation, indexes moved, the change (both towns when it moves),
 * and a history entry from `date`. *town gets w's town id (may be NULL).
 */
int sg_worker_rewrite(sg_call_ctx *ctx, MDB_txn *txn, const Shegong__V1__Worker *old,
                      Shegong__V1__Worker *w, const char *date, const char *cause,
                      uint64_t transfer_id, uint64_t *town);
/*
 * Checks w as a new worker as Workers/Create does (every field, the unit,
 * the scope, the ladder, a free ID number), and with write set registers it
 * (id, changes, its first history entry with cause and transfer_id).
 * Violations name "worker.*".
 */
int sg_worker_create(sg_call_ctx *ctx, MDB_txn *txn, Shegong__V1__Worker *w, int write,
                     const char *cause, uint64_t transfer_id);
/* A shallow copy in the call's arena, to change and rewrite. */
Shegong__V1__Worker *sg_worker_copy(sg_call_ctx *ctx, const Shegong__V1__Worker *w);

/* True when an approved transfer is due on or before day today_days (days since 1970). */
int sg_transfers_due(sg_store *s, MDB_txn *txn, uint64_t today_days);

/*
 * A quota rule's scope as it counts: the one given, else WHOLE for a rule
 * that is only a per-population quota, else OWN_STAFF.
 */
static inline int sg_quota_scope(const Shegong__V1__QuotaRule *q) {
  if (q->scope) return q->scope;
  return q->per_10k_residents && !q->n_household_steps && !q->n_roles && !q->n_centre_tiers
             ? SHEGONG__V1__QUOTA_SCOPE__WHOLE
             : SHEGONG__V1__QUOTA_SCOPE__OWN_STAFF;
}

/*
 * Makes room for one more pointer in *rows (n used of *cap), doubling into
 * arena a (from 64): the growing lists of reports and scans. 0 or SG_ENOMEM.
 */
int sg_rows_grow(sg_arena *a, void ***rows, size_t n, size_t *cap);

/* Copies a string into the call's arena; "" for NULL. */
char *sg_dup(sg_call_ctx *ctx, const char *s);

#endif
