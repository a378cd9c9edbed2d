/*
 * The changelog, the single source of sync:
 *   changes          revision -> Change (the record after the mutation)
 *   changes_by_town  (town unit id, revision) -> empty; town 0 holds the
 *                    district-wide changes, which every town's pull includes
 * meta "compacted_revision": changes at or below it have been dropped; a
 * pull from before it cannot be answered (OUT_OF_RANGE: take a snapshot).
 */
#ifndef SG_STORE_CHANGES_H
#define SG_STORE_CHANGES_H

#include "shegong/v1/sync.pb-c.h"
#include "store/env.h"

typedef Shegong__V1__Change sg_change;

#define SG_CHANGE_TOWNS_MAX 2

/*
 * Appends c (its revision set, the record attached) and indexes it under
 * each of the n town ids (0 ids = district-wide). Revisions only grow, so
 * an existing key means a bug: SG_EINTERNAL.
 */
int sg_changes_append(sg_store *s, MDB_txn *txn, const sg_change *c, const uint64_t *town_ids,
                      size_t n);

int sg_changes_get(sg_store *s, MDB_txn *txn, uint64_t revision, ProtobufCAllocator *alloc,
                   sg_change **out);

/*
 * Calls fn with each revision after `since` that concerns town_id (its own
 * and the district-wide ones, merged in order), or every revision when
 * town_id is 0 and all is set. fn returns nonzero to stop.
 */
int sg_changes_scan(sg_store *s, MDB_txn *txn, uint64_t town_id, int all, uint64_t since,
                    sg_pair_fn fn, void *ctx);

int sg_changes_compacted(sg_store *s, MDB_txn *txn, uint64_t *out);

/*
 * Drops every change at or below `through` (and its index entries) and
 * records it as the compacted revision. *dropped counts the changes removed.
 */
int sg_changes_compact(sg_store *s, MDB_txn *txn, uint64_t through, uint64_t *dropped);

#endif
