/*
 * The units table and its indexes:
 *   units            id -> Unit
 *   units_by_code    division code -> id (unique)
 *   units_by_parent  (parent id, id) -> empty
 * Returned messages are unpacked with the caller's allocator and outlive
 * the transaction.
 */
#ifndef SG_STORE_UNITS_H
#define SG_STORE_UNITS_H

#include "shegong/v1/units.pb-c.h"
#include "store/env.h"

typedef Shegong__V1__Unit sg_unit;

int sg_units_get(sg_store *s, MDB_txn *txn, uint64_t id, ProtobufCAllocator *alloc,
                 sg_unit **out);
int sg_units_get_by_code(sg_store *s, MDB_txn *txn, const char *code, ProtobufCAllocator *alloc,
                         sg_unit **out);
/* Inserts a new unit whose id, version and revision are set: SG_EEXISTS if
 * its code is taken. */
int sg_units_insert(sg_store *s, MDB_txn *txn, const sg_unit *u);
/*
 * Writes u over old (the stored record with the same id, NULL if none),
 * moving the code and parent indexes if they changed. For replicas, which
 * take records as the server made them.
 */
int sg_units_replace(sg_store *s, MDB_txn *txn, const sg_unit *u, const sg_unit *old);

#endif
