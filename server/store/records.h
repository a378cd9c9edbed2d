/*
 * Records about workers (assessments, household visits, attendance, level
 * changes), training courses, and the district policy: one table each,
 * keyed by id, with pair indexes (worker id, record id) so that a worker's
 * records are one range scan.
 *
 *   assessments      id -> Assessment        assessments_by_worker
 *   visits           id -> HouseholdVisits   visits_by_worker
 *   courses          id -> Course
 *   attendance       id -> Attendance        attendance_by_worker, attendance_by_course
 *   level_changes    id -> LevelChange       level_changes_by_worker
 *   policies         version -> Policy       (the newest is current)
 *   transfers        id -> Transfer          transfers_by_worker, transfers_by_to_town
 *   worker_history   id -> WorkerHistoryEntry  history_by_worker
 *
 * and one index kept by hand, because a transfer's state changes:
 *   transfers_due    (effective day number, id) of APPROVED transfers
 *
 * The kinds are data: sync (the changelog, snapshots, a replica's apply)
 * walks this table instead of a switch per record type.
 */
#ifndef SG_STORE_RECORDS_H
#define SG_STORE_RECORDS_H

#include "shegong/v1/assessments.pb-c.h"
#include "shegong/v1/policy.pb-c.h"
#include "shegong/v1/training.pb-c.h"
#include "shegong/v1/transfers.pb-c.h"
#include "shegong/v1/workers.pb-c.h"
#include "store/env.h"

typedef struct sg_rec_kind {
  const ProtobufCMessageDescriptor *desc;
  int entity;                 /* SHEGONG__V1__ENTITY__* */
  const char *seq;            /* id sequence in meta; NULL: the policy's version */
  size_t table;               /* offsetof(sg_store, the table) */
  /* pair indexes: (record's field, id); field NULL = unused */
  struct {
    const char *field;
    size_t dbi;
  } index[2];
} sg_rec_kind;

/* The kinds above; NULL-terminated by desc. */
extern const sg_rec_kind sg_rec_kinds[];

/* The kind of records of type d; NULL if d is not one of them. */
const sg_rec_kind *sg_rec_kind_of(const ProtobufCMessageDescriptor *d);
const sg_rec_kind *sg_rec_kind_by_entity(int entity);

/* A uint64 field of msg by name (0 if absent): "id", "worker_id". */
uint64_t sg_msg_u64(const ProtobufCMessage *msg, const char *field);

/* The record's key: its id, or a policy's version. */
uint64_t sg_rec_key(const sg_rec_kind *k, const ProtobufCMessage *msg);

/* The dbi at offset off of s (a kind's table or index). */
MDB_dbi sg_rec_dbi(const sg_store *s, size_t off);

/*
 * Writes msg, a record of kind k whose key is set. New (not stored before)
 * records are indexed; the indexed fields of a record never change, so an
 * overwrite leaves the indexes alone.
 */
int sg_rec_put(sg_store *s, MDB_txn *txn, const sg_rec_kind *k, const ProtobufCMessage *msg);
int sg_rec_get(sg_store *s, MDB_txn *txn, const sg_rec_kind *k, uint64_t key,
               ProtobufCAllocator *alloc, ProtobufCMessage **out);
/* Removes record key of kind k and its index entries (a replica letting a worker go). */
int sg_rec_delete(sg_store *s, MDB_txn *txn, const sg_rec_kind *k, uint64_t key);
/* Calls fn with the ids of worker_id's records of kind k, oldest first. */
int sg_rec_scan_worker(sg_store *s, MDB_txn *txn, const sg_rec_kind *k, uint64_t worker_id,
                       sg_pair_fn fn, void *arg);

/* Kinds, by name, for the handlers. */
extern const sg_rec_kind *const SG_REC_ASSESSMENT, *const SG_REC_VISITS, *const SG_REC_COURSE,
    *const SG_REC_ATTENDANCE, *const SG_REC_LEVEL_CHANGE, *const SG_REC_POLICY,
    *const SG_REC_TRANSFER, *const SG_REC_HISTORY;

/*
 * The current policy, unpacked with alloc. Until the district loads one,
 * the defaults (version 0, documented in docs/POLICY.md) stand in.
 */
int sg_policy_current(sg_store *s, MDB_txn *txn, ProtobufCAllocator *alloc,
                      Shegong__V1__Policy **out);
/*
 * The current policy, read-only, valid only until this thread's next call
 * (which may decode a newer policy over it, in the same transaction too):
 * decoded once per thread while the stored policy stays the same. alloc is
 * used only where the thread cannot keep a copy.
 */
int sg_policy_view(sg_store *s, MDB_txn *txn, ProtobufCAllocator *alloc,
                   const Shegong__V1__Policy **out);
/* The built-in defaults, in static memory: never freed. */
const Shegong__V1__Policy *sg_policy_defaults(void);

#endif
