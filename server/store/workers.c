#include "store/workers.h"

#include <string.h>

#include "error.h"

int sg_workers_get(sg_store *s, MDB_txn *txn, uint64_t id, ProtobufCAllocator *alloc,
                   sg_worker **out) {
  return sg_record_get(txn, s->workers, id, &shegong__v1__worker__descriptor, alloc,
                       (ProtobufCMessage **)out);
}

int sg_workers_find_idno(sg_store *s, MDB_txn *txn, const char *id_number, uint64_t *id) {
  uint8_t d[SG_IDNO_DIGEST_BYTES];
  sg_store_idno_digest(s, id_number, d);
  return sg_index_get_id(txn, s->workers_by_idno, d, sizeof d, id);
}

int sg_workers_put(sg_store *s, MDB_txn *txn, const sg_worker *w, uint64_t town_id,
                   const sg_worker *old, uint64_t old_town_id) {
  int rc;
  if (!old || strcmp(old->id_number, w->id_number) != 0) {
    uint8_t d[SG_IDNO_DIGEST_BYTES];
    sg_store_idno_digest(s, w->id_number, d);
    if ((rc = sg_index_put_id(txn, s->workers_by_idno, d, sizeof d, w->id, MDB_NOOVERWRITE)))
      return rc;
    if (old) {
      sg_store_idno_digest(s, old->id_number, d);
      if ((rc = sg_index_del(txn, s->workers_by_idno, d, sizeof d))) return rc;
    }
  }
  if (!old || old->unit_id != w->unit_id) {
    if (old && (rc = sg_index_pair_del(txn, s->workers_by_unit, old->unit_id, old->id))) return rc;
    if ((rc = sg_index_pair_put(txn, s->workers_by_unit, w->unit_id, w->id))) return rc;
  }
  if (!old || old_town_id != town_id) {
    if (old && (rc = sg_index_pair_del(txn, s->workers_by_town, old_town_id, old->id))) return rc;
    if ((rc = sg_index_pair_put(txn, s->workers_by_town, town_id, w->id))) return rc;
  }
  return sg_record_put(txn, s->workers, w->id, &w->base, old ? 0 : MDB_NOOVERWRITE);
}

int sg_workers_delete(sg_store *s, MDB_txn *txn, const sg_worker *w, uint64_t town_id) {
  uint8_t d[SG_IDNO_DIGEST_BYTES], kb[8];
  sg_store_idno_digest(s, w->id_number, d);
  int rc;
  if ((rc = sg_index_del(txn, s->workers_by_idno, d, sizeof d)) ||
      (rc = sg_index_pair_del(txn, s->workers_by_unit, w->unit_id, w->id)) ||
      (rc = sg_index_pair_del(txn, s->workers_by_town, town_id, w->id)))
    return rc;
  sg_key_u64(kb, w->id);
  return sg_index_del(txn, s->workers, kb, 8);
}
