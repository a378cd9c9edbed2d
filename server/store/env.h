/*
 * The LMDB environment: one per data directory, one named database per
 * table (see docs/ARCHITECTURE.md), plus helpers shared by the tables.
 *
 * Threads: the environment is opened with MDB_NOTLS so that the loop
 * thread's read transaction and the writer thread's write transaction do
 * not tie reader slots to threads. Only the writer thread writes.
 */
#ifndef SG_STORE_ENV_H
#define SG_STORE_ENV_H

#include <lmdb.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define SG_SCHEMA_VERSION 5
#define SG_MAP_SIZE_DEFAULT ((size_t)4 << 30) /* address space, not disk */
#define SG_IDNO_DIGEST_BYTES 16

typedef struct sg_store {
  MDB_env *env;
  MDB_dbi meta;
  MDB_dbi units, units_by_code, units_by_parent;
  MDB_dbi workers, workers_by_idno, workers_by_unit, workers_by_town;
  MDB_dbi changes, changes_by_town;
  MDB_dbi idempotency;
  MDB_dbi tokens, tokens_by_digest, audit;
  /* schema 4: records about workers, and the district's policy (store/records.h) */
  MDB_dbi assessments, assessments_by_worker, visits, visits_by_worker;
  MDB_dbi courses, attendance, attendance_by_worker, attendance_by_course;
  MDB_dbi level_changes, level_changes_by_worker, policies;
  /* schema 5: transfers and the workers' dated history */
  MDB_dbi transfers, transfers_by_worker, transfers_by_to_town, transfers_due;
  MDB_dbi worker_history, history_by_worker;
  /* Key of the ID-number digest index, so that the index alone does not
   * reveal ID numbers. Created with the database, read at open. */
  uint8_t idno_key[32];
  /* Key of the token digests: a stolen database does not yield usable secrets. */
  uint8_t token_key[32];
  /*
   * The map may be resized only while no transaction of this process is
   * active: read transactions hold this lock shared, a resize exclusive.
   */
  pthread_rwlock_t map_lock;
  size_t map_size, map_max;
} sg_store;

/*
 * Opens (creating if needed) the environment in directory dir, creates the
 * tables and runs migrations to SG_SCHEMA_VERSION in one transaction, and
 * clears stale reader slots. *out is owned by the caller: sg_store_close().
 */
int sg_store_open(sg_store **out, const char *dir, size_t map_size);
/* The most the map may grow to (default 64 GiB); set before use. */
void sg_store_set_map_max(sg_store *s, size_t max);
void sg_store_close(sg_store *s);

/*
 * A short read transaction on a reset txn (the loop thread's): renews it
 * under the map lock; read_end resets it and lets a resize in.
 */
int sg_store_read_begin(sg_store *s, MDB_txn *txn);
void sg_store_read_end(sg_store *s, MDB_txn *txn);

/*
 * A read transaction of its own for a thread other than the loop's (a
 * report on a pool thread), under the map lock like the loop's; close it
 * with sg_store_read_close.
 */
int sg_store_read_open(sg_store *s, MDB_txn **txn);
void sg_store_read_close(sg_store *s, MDB_txn *txn);

/*
 * Doubles the map (up to map_max) after MDB_MAP_FULL; the caller holds no
 * transaction. SG_EFULL when it is already at the maximum.
 */
int sg_store_grow(sg_store *s);

/*
 * Logs an LMDB error with its text and what was being done, and returns
 * the SG_E* code the client may see: SG_ENOTFOUND for MDB_NOTFOUND,
 * SG_EFULL for MDB_MAP_FULL, SG_ESTORAGE otherwise. Never leaks MDB_*
 * codes or paths to clients.
 */
int sg_store_err(int mdb_rc, const char *what);

/* sg_store_err for a commit: a short write on a full disk is SG_ENOSPACE. */
int sg_store_commit_err(sg_store *s, int mdb_rc, const char *what);

/* Big-endian keys so that LMDB's byte order is numeric order. */
void sg_key_u64(uint8_t out[8], uint64_t v);
uint64_t sg_key_get_u64(const uint8_t in[8]);

/* meta: unsigned counters stored as 8 big-endian bytes; absent = 0. */
int sg_meta_get_u64(sg_store *s, MDB_txn *txn, const char *key, uint64_t *out);
int sg_meta_put_u64(sg_store *s, MDB_txn *txn, const char *key, uint64_t v);
/* meta: text values; *out points into the map (valid until the txn ends). */
int sg_meta_get_str(sg_store *s, MDB_txn *txn, const char *key, const char **out, size_t *len);
int sg_meta_put_str(sg_store *s, MDB_txn *txn, const char *key, const char *v);

/* Next value of the id sequence `name` ("seq:worker"); ids start at 1. */
int sg_store_next_id(sg_store *s, MDB_txn *txn, const char *name, uint64_t *out);
/* Bumps and returns the global revision; one per mutation. */
int sg_store_next_revision(sg_store *s, MDB_txn *txn, uint64_t *out);
int sg_store_head_revision(sg_store *s, MDB_txn *txn, uint64_t *out);

/* Keyed digest of a normalized ID number, for the uniqueness index. */
void sg_store_idno_digest(const sg_store *s, const char *idno,
                          uint8_t out[SG_IDNO_DIGEST_BYTES]);


#include <protobuf-c/protobuf-c.h>

/*
 * Records: protobuf messages keyed by their 8-byte big-endian id. Put packs
 * straight into the map (MDB_RESERVE), after dropping msg's unknown fields
 * from it (they were never validated, so they are never stored). Get unpacks with alloc (arena or
 * NULL for malloc), so the result outlives the transaction; a record that
 * does not unpack is logged and reported as SG_EDATALOSS.
 */
int sg_record_put(MDB_txn *txn, MDB_dbi dbi, uint64_t id, const ProtobufCMessage *msg,
                  unsigned flags);
int sg_record_get(MDB_txn *txn, MDB_dbi dbi, uint64_t id, const ProtobufCMessageDescriptor *desc,
                  ProtobufCAllocator *alloc, ProtobufCMessage **out);
/* Index entries: key -> 8-byte id, or (a, b) -> empty for range scans. */
int sg_index_put_id(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, uint64_t id,
                    unsigned flags);
int sg_index_get_id(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, uint64_t *id);
int sg_index_pair_put(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t b);
int sg_index_pair_del(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t b);
int sg_index_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen);

/*
 * Scans (a, b) pairs with a fixed, b > after, in order; calls fn for each b
 * until fn returns nonzero (1 = stop, negative = error) or the pairs end.
 */
typedef int (*sg_pair_fn)(void *ctx, uint64_t b);
int sg_index_pair_scan(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t after, sg_pair_fn fn,
                       void *ctx);
/* Scans record ids > after in a record table, as above. */
int sg_record_scan(MDB_txn *txn, MDB_dbi dbi, uint64_t after, sg_pair_fn fn, void *ctx);

#endif
