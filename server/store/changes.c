#include "store/changes.h"

#include <errno.h>
#include <string.h>

#include "error.h"
#include "log.h"

int sg_changes_append(sg_store *s, MDB_txn *txn, const sg_change *c, const uint64_t *town_ids,
                      size_t n) {
  int rc = sg_record_put(txn, s->changes, c->revision, &c->base, MDB_NOOVERWRITE | MDB_APPEND);
  if (rc == SG_EEXISTS) {
    sg_error("changelog: revision %llu written twice", (unsigned long long)c->revision);
    return SG_EINTERNAL;
  }
  if (rc) return rc;
  if (n == 0) return sg_index_pair_put(txn, s->changes_by_town, 0, c->revision);
  for (size_t i = 0; i < n; i++) {
    if (i && town_ids[i] == town_ids[0]) continue;
    if ((rc = sg_index_pair_put(txn, s->changes_by_town, town_ids[i], c->revision))) return rc;
  }
  return 0;
}

int sg_changes_get(sg_store *s, MDB_txn *txn, uint64_t revision, ProtobufCAllocator *alloc,
                   sg_change **out) {
  return sg_record_get(txn, s->changes, revision, &shegong__v1__change__descriptor, alloc,
                       (ProtobufCMessage **)out);
}

int sg_changes_compacted(sg_store *s, MDB_txn *txn, uint64_t *out) {
  return sg_meta_get_u64(s, txn, "compacted_revision", out);
}

/* A cursor over (town, revision > since) pairs. */
typedef struct town_cursor {
  MDB_cursor *cur;
  uint8_t prefix[8];
  uint64_t rev; /* current revision, 0 when exhausted */
} town_cursor;

static int tc_check(town_cursor *tc, int rc, MDB_val *k) {
  if (rc == MDB_NOTFOUND || (rc == 0 && (k->mv_size != 16 || memcmp(k->mv_data, tc->prefix, 8)))) {
    tc->rev = 0;
    return 0;
  }
  if (rc) return sg_store_err(rc, "scan changes by town");
  tc->rev = sg_key_get_u64((const uint8_t *)k->mv_data + 8);
  return 0;
}

static int tc_open(sg_store *s, MDB_txn *txn, town_cursor *tc, uint64_t town, uint64_t since) {
  int rc = mdb_cursor_open(txn, s->changes_by_town, &tc->cur);
  if (rc) return sg_store_err(rc, "open cursor");
  uint8_t kb[16];
  sg_key_u64(kb, town);
  sg_key_u64(kb + 8, since + 1);
  memcpy(tc->prefix, kb, 8);
  MDB_val k = {16, kb}, v;
  return tc_check(tc, mdb_cursor_get(tc->cur, &k, &v, MDB_SET_RANGE), &k);
}

static int tc_next(town_cursor *tc) {
  MDB_val k, v;
  return tc_check(tc, mdb_cursor_get(tc->cur, &k, &v, MDB_NEXT), &k);
}

int sg_changes_scan(sg_store *s, MDB_txn *txn, uint64_t town_id, int all, uint64_t since,
                    sg_pair_fn fn, void *ctx) {
  if (since == UINT64_MAX) return 0;
  if (all) return sg_record_scan(txn, s->changes, since, fn, ctx);
  town_cursor a = {0}, b = {0};
  int err = tc_open(s, txn, &a, town_id, since);
  if (!err) err = tc_open(s, txn, &b, 0, since);
  while (!err && (a.rev || b.rev)) {
    /* merge the town's changes with the district-wide ones, in revision order */
    town_cursor *next = !b.rev || (a.rev && a.rev < b.rev) ? &a : &b;
    int r = fn(ctx, next->rev);
    if (r) {
      err = r < 0 ? r : 0;
      break;
    }
    err = tc_next(next);
  }
  if (a.cur) mdb_cursor_close(a.cur);
  if (b.cur) mdb_cursor_close(b.cur);
  return err;
}

int sg_changes_compact(sg_store *s, MDB_txn *txn, uint64_t through, uint64_t *dropped) {
  *dropped = 0;
  uint64_t old;
  int rc = sg_changes_compacted(s, txn, &old);
  if (rc) return rc;
  if (through <= old) return 0;
  MDB_cursor *cur = NULL;
  int err = 0;
  /* records, in revision order up to `through`; each knows its towns */
  rc = mdb_cursor_open(txn, s->changes, &cur);
  if (rc) return sg_store_err(rc, "open cursor");
  MDB_val k, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  while (rc == 0 && k.mv_size == 8 && sg_key_get_u64(k.mv_data) <= through) {
    rc = mdb_cursor_del(cur, 0);
    if (rc) break;
    (*dropped)++;
    rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
  }
  if (rc && rc != MDB_NOTFOUND && rc != EINVAL) err = sg_store_err(rc, "compact changes");
  mdb_cursor_close(cur);
  if (err) return err;
  /* the town index: every (town, revision <= through) pair */
  rc = mdb_cursor_open(txn, s->changes_by_town, &cur);
  if (rc) return sg_store_err(rc, "open cursor");
  rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  while (rc == 0) {
    if (k.mv_size == 16 && sg_key_get_u64((const uint8_t *)k.mv_data + 8) <= through) {
      if ((rc = mdb_cursor_del(cur, 0))) break;
      rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
      if (rc == EINVAL) rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
      continue;
    }
    /* skip to the next town: its pairs start at (town + 1, 0) */
    uint64_t town = sg_key_get_u64(k.mv_data);
    if (town == UINT64_MAX) break;
    uint8_t kb[16];
    sg_key_u64(kb, town + 1);
    sg_key_u64(kb + 8, 0);
    k.mv_size = 16;
    k.mv_data = kb;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  }
  if (rc && rc != MDB_NOTFOUND) err = sg_store_err(rc, "compact change index");
  mdb_cursor_close(cur);
  if (err) return err;
  return sg_meta_put_u64(s, txn, "compacted_revision", through);
}
