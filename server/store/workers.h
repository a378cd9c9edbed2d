/*
 * The workers table and its indexes:
 *   workers          id -> Worker
 *   workers_by_idno  keyed digest of the ID number -> id (unique)
 *   workers_by_unit  (unit id, id) -> empty
 *   workers_by_town  (town unit id, id) -> empty
 * Callers validate; these functions keep record and indexes in step.
 */
#ifndef SG_STORE_WORKERS_H
#define SG_STORE_WORKERS_H

#include "shegong/v1/workers.pb-c.h"
#include "store/env.h"

typedef Shegong__V1__Worker sg_worker;

int sg_workers_get(sg_store *s, MDB_txn *txn, uint64_t id, ProtobufCAllocator *alloc,
                   sg_worker **out);
/* id_number must be normalized (upper-case X). */
int sg_workers_find_idno(sg_store *s, MDB_txn *txn, const char *id_number, uint64_t *id);
/*
 * Writes w (id, version, revision set). `old` is the stored record being
 * replaced, or NULL for a new worker; indexes that changed are moved.
 * town_id is w's town (the unit itself for a town-centre worker),
 * old_town_id old's. SG_EEXISTS if another worker holds w's ID number.
 */
int sg_workers_put(sg_store *s, MDB_txn *txn, const sg_worker *w, uint64_t town_id,
                   const sg_worker *old, uint64_t old_town_id);

/* Removes w (as stored, in town town_id) and its index entries. */
int sg_workers_delete(sg_store *s, MDB_txn *txn, const sg_worker *w, uint64_t town_id);

#endif
