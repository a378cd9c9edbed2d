#include "store/units.h"

#include <string.h>

#include "error.h"

int sg_units_get(sg_store *s, MDB_txn *txn, uint64_t id, ProtobufCAllocator *alloc,
                 sg_unit **out) {
  return sg_record_get(txn, s->units, id, &shegong__v1__unit__descriptor, alloc,
                       (ProtobufCMessage **)out);
}

int sg_units_get_by_code(sg_store *s, MDB_txn *txn, const char *code, ProtobufCAllocator *alloc,
                         sg_unit **out) {
  uint64_t id;
  int rc = sg_index_get_id(txn, s->units_by_code, code, strlen(code), &id);
  if (rc) return rc;
  return sg_units_get(s, txn, id, alloc, out);
}

int sg_units_replace(sg_store *s, MDB_txn *txn, const sg_unit *u, const sg_unit *old) {
  if (!old) return sg_units_insert(s, txn, u);
  int rc;
  if (strcmp(old->code, u->code) != 0) {
    if ((rc = sg_index_del(txn, s->units_by_code, old->code, strlen(old->code))) ||
        (rc = sg_index_put_id(txn, s->units_by_code, u->code, strlen(u->code), u->id,
                              MDB_NOOVERWRITE)))
      return rc;
  }
  if (old->parent_id != u->parent_id) {
    if ((rc = sg_index_pair_del(txn, s->units_by_parent, old->parent_id, old->id)) ||
        (rc = sg_index_pair_put(txn, s->units_by_parent, u->parent_id, u->id)))
      return rc;
  }
  return sg_record_put(txn, s->units, u->id, &u->base, 0);
}

int sg_units_insert(sg_store *s, MDB_txn *txn, const sg_unit *u) {
  int rc = sg_index_put_id(txn, s->units_by_code, u->code, strlen(u->code), u->id,
                           MDB_NOOVERWRITE);
  if (rc) return rc;
  if ((rc = sg_record_put(txn, s->units, u->id, &u->base, MDB_NOOVERWRITE))) return rc;
  return sg_index_pair_put(txn, s->units_by_parent, u->parent_id, u->id);
}
