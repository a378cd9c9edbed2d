#include "store/env.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "error.h"
#include "log.h"

int sg_store_err(int mdb_rc, const char *what) {
  if (mdb_rc == 0) return 0;
  if (mdb_rc == MDB_NOTFOUND) return SG_ENOTFOUND;
  if (mdb_rc == MDB_MAP_FULL) {
    /* the writer grows the map and tries again; only the last refusal is news */
    sg_debug("storage: %s: %s", what, mdb_strerror(mdb_rc));
    return SG_EFULL;
  }
  if (mdb_rc == ENOSPC || mdb_rc == EDQUOT) {
    sg_error("storage: %s: %s", what, mdb_strerror(mdb_rc));
    return SG_ENOSPACE;
  }
  sg_error("storage: %s: %s", what, mdb_strerror(mdb_rc));
  return SG_ESTORAGE;
}

int sg_store_commit_err(sg_store *s, int mdb_rc, const char *what) {
  /*
   * A full disk can come back from a commit as EIO: LMDB reports a short
   * write (pwrite wrote part of the pages, without an errno) that way. If
   * the data directory's file system has no room left, say so: the client
   * should hear RESOURCE_EXHAUSTED, not INTERNAL.
   */
  const char *path = NULL;
  struct statvfs fs;
  if (mdb_rc == EIO && mdb_env_get_path(s->env, &path) == 0 && path && statvfs(path, &fs) == 0 &&
      (uint64_t)fs.f_bavail * fs.f_frsize < ((uint64_t)1 << 20)) {
    sg_error("storage: %s: a short write with %llu bytes free: the data disk is full", what,
             (unsigned long long)fs.f_bavail * fs.f_frsize);
    return SG_ENOSPACE;
  }
  return sg_store_err(mdb_rc, what);
}

void sg_key_u64(uint8_t out[8], uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    out[i] = (uint8_t)v;
    v >>= 8;
  }
}

uint64_t sg_key_get_u64(const uint8_t in[8]) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | in[i];
  return v;
}

int sg_meta_get_u64(sg_store *s, MDB_txn *txn, const char *key, uint64_t *out) {
  MDB_val k = {strlen(key), (void *)key}, v;
  int rc = mdb_get(txn, s->meta, &k, &v);
  if (rc == MDB_NOTFOUND) {
    *out = 0;
    return 0;
  }
  if (rc) return sg_store_err(rc, "read meta");
  if (v.mv_size != 8) {
    sg_error("storage: meta %s has %zu bytes, expected 8", key, v.mv_size);
    return SG_EDATALOSS;
  }
  *out = sg_key_get_u64(v.mv_data);
  return 0;
}

int sg_meta_put_u64(sg_store *s, MDB_txn *txn, const char *key, uint64_t val) {
  uint8_t buf[8];
  sg_key_u64(buf, val);
  MDB_val k = {strlen(key), (void *)key}, v = {8, buf};
  int rc = mdb_put(txn, s->meta, &k, &v, 0);
  return rc ? sg_store_err(rc, "write meta") : 0;
}

int sg_meta_get_str(sg_store *s, MDB_txn *txn, const char *key, const char **out, size_t *len) {
  MDB_val k = {strlen(key), (void *)key}, v;
  int rc = mdb_get(txn, s->meta, &k, &v);
  if (rc) return sg_store_err(rc, "read meta");
  *out = v.mv_data;
  *len = v.mv_size;
  return 0;
}

int sg_meta_put_str(sg_store *s, MDB_txn *txn, const char *key, const char *val) {
  MDB_val k = {strlen(key), (void *)key}, v = {strlen(val), (void *)val};
  int rc = mdb_put(txn, s->meta, &k, &v, 0);
  return rc ? sg_store_err(rc, "write meta") : 0;
}

int sg_store_next_id(sg_store *s, MDB_txn *txn, const char *name, uint64_t *out) {
  uint64_t v;
  int rc = sg_meta_get_u64(s, txn, name, &v);
  if (rc) return rc;
  v++;
  if ((rc = sg_meta_put_u64(s, txn, name, v))) return rc;
  *out = v;
  return 0;
}

int sg_store_next_revision(sg_store *s, MDB_txn *txn, uint64_t *out) {
  return sg_store_next_id(s, txn, "head_revision", out);
}

int sg_store_head_revision(sg_store *s, MDB_txn *txn, uint64_t *out) {
  return sg_meta_get_u64(s, txn, "head_revision", out);
}

void sg_store_idno_digest(const sg_store *s, const char *idno, uint8_t out[SG_IDNO_DIGEST_BYTES]) {
  crypto_generichash(out, SG_IDNO_DIGEST_BYTES, (const unsigned char *)idno, strlen(idno),
                     s->idno_key, sizeof s->idno_key);
}

/* Stores a new random 32-byte key under meta name (never replacing one). */
static int new_key(sg_store *s, MDB_txn *txn, const char *name) {
  uint8_t key[32];
  randombytes_buf(key, sizeof key);
  MDB_val k = {strlen(name), (void *)name}, v = {sizeof key, key};
  int rc = mdb_put(txn, s->meta, &k, &v, MDB_NOOVERWRITE);
  sodium_memzero(key, sizeof key);
  return rc ? sg_store_err(rc, name) : 0;
}

/* Reads the 32-byte key under meta name into out; SG_EDATALOSS if it is not there. */
static int load_key(sg_store *s, MDB_txn *txn, const char *name, uint8_t out[32]) {
  MDB_val k = {strlen(name), (void *)name}, v;
  if (mdb_get(txn, s->meta, &k, &v) != 0 || v.mv_size != 32) {
    sg_error("database has no valid %s", name);
    return SG_EDATALOSS;
  }
  memcpy(out, v.mv_data, 32);
  return 0;
}

/* Schema version 0 -> 1: a new database gets its digest key. */
static int migrate_v1(sg_store *s, MDB_txn *txn) { return new_key(s, txn, "idno_key"); }

/*
 * Schema version 1 -> 2: the changelog. Records written before it have no
 * changes, so everything up to the head counts as compacted: a replica
 * starts from a snapshot rather than miss them.
 */
static int migrate_v2(sg_store *s, MDB_txn *txn) {
  uint64_t head;
  int rc = sg_store_head_revision(s, txn, &head);
  if (rc) return rc;
  return sg_meta_put_u64(s, txn, "compacted_revision", head);
}

/* Schema version 2 -> 3: tokens and the audit log; the token digest key. */
static int migrate_v3(sg_store *s, MDB_txn *txn) { return new_key(s, txn, "token_key"); }

/*
 * Schema version 3 -> 4: assessments, visits, training, level history and
 * policy. Their tables are created empty by open_tables(); nothing to move.
 */
static int migrate_v4(sg_store *s, MDB_txn *txn) {
  (void)s;
  (void)txn;
  return 0;
}

/*
 * Schema version 4 -> 5: transfers and the workers' history, in new empty
 * tables. A worker registered before has no history entries; Workers/History
 * answers for it from the record itself (docs/PROTOCOL.md, Workers/History).
 */
static int migrate_v5(sg_store *s, MDB_txn *txn) {
  (void)s;
  (void)txn;
  return 0;
}

typedef int (*migration_fn)(sg_store *, MDB_txn *);
/* migrations[i] takes the schema from version i to i + 1 */
static const migration_fn migrations[SG_SCHEMA_VERSION] = {migrate_v1, migrate_v2, migrate_v3,
                                                                    migrate_v4, migrate_v5};

static int open_tables(sg_store *s, MDB_txn *txn) {
  struct {
    const char *name;
    MDB_dbi *dbi;
  } tables[] = {
      {"meta", &s->meta},
      {"units", &s->units},
      {"units_by_code", &s->units_by_code},
      {"units_by_parent", &s->units_by_parent},
      {"workers", &s->workers},
      {"workers_by_idno", &s->workers_by_idno},
      {"workers_by_unit", &s->workers_by_unit},
      {"workers_by_town", &s->workers_by_town},
      {"changes", &s->changes},
      {"changes_by_town", &s->changes_by_town},
      {"idempotency", &s->idempotency},
      {"tokens", &s->tokens},
      {"tokens_by_digest", &s->tokens_by_digest},
      {"audit", &s->audit},
      {"assessments", &s->assessments},
      {"assessments_by_worker", &s->assessments_by_worker},
      {"visits", &s->visits},
      {"visits_by_worker", &s->visits_by_worker},
      {"courses", &s->courses},
      {"attendance", &s->attendance},
      {"attendance_by_worker", &s->attendance_by_worker},
      {"attendance_by_course", &s->attendance_by_course},
      {"level_changes", &s->level_changes},
      {"level_changes_by_worker", &s->level_changes_by_worker},
      {"policies", &s->policies},
      {"transfers", &s->transfers},
      {"transfers_by_worker", &s->transfers_by_worker},
      {"transfers_by_to_town", &s->transfers_by_to_town},
      {"transfers_due", &s->transfers_due},
      {"worker_history", &s->worker_history},
      {"history_by_worker", &s->history_by_worker},
  };
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    int rc = mdb_dbi_open(txn, tables[i].name, MDB_CREATE, tables[i].dbi);
    if (rc) return sg_store_err(rc, tables[i].name);
  }
  return 0;
}

int sg_store_read_begin(sg_store *s, MDB_txn *txn) {
  pthread_rwlock_rdlock(&s->map_lock);
  int rc = mdb_txn_renew(txn);
  if (rc) {
    pthread_rwlock_unlock(&s->map_lock);
    return sg_store_err(rc, "renew read transaction");
  }
  return 0;
}

void sg_store_read_end(sg_store *s, MDB_txn *txn) {
  mdb_txn_reset(txn);
  pthread_rwlock_unlock(&s->map_lock);
}

int sg_store_read_open(sg_store *s, MDB_txn **txn) {
  pthread_rwlock_rdlock(&s->map_lock);
  int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
  if (rc) {
    pthread_rwlock_unlock(&s->map_lock);
    return sg_store_err(rc, "begin read transaction");
  }
  return 0;
}

void sg_store_read_close(sg_store *s, MDB_txn *txn) {
  mdb_txn_abort(txn);
  pthread_rwlock_unlock(&s->map_lock);
}

void sg_store_set_map_max(sg_store *s, size_t max) { s->map_max = max; }

int sg_store_grow(sg_store *s) {
  if (s->map_size >= s->map_max) {
    sg_error("storage: the map is at its maximum of %zu MiB (raise --map-max)", s->map_max >> 20);
    return SG_EFULL;
  }
  size_t want = s->map_size * 2 > s->map_max ? s->map_max : s->map_size * 2;
  pthread_rwlock_wrlock(&s->map_lock);
  int rc = mdb_env_set_mapsize(s->env, want);
  pthread_rwlock_unlock(&s->map_lock);
  if (rc) return sg_store_err(rc, "grow the map");
  sg_info("storage: the map grew from %zu to %zu MiB", s->map_size >> 20, want >> 20);
  s->map_size = want;
  return 0;
}

int sg_store_open(sg_store **out, const char *dir, size_t map_size) {
  int rc = 0, err = 0;
  MDB_txn *txn = NULL;
  sg_store *s = calloc(1, sizeof *s);
  if (!s) return SG_ENOMEM;
  pthread_rwlock_init(&s->map_lock, NULL);
  s->map_size = map_size ? map_size : SG_MAP_SIZE_DEFAULT;
  s->map_max = (size_t)64 << 30;
  if (sodium_init() < 0) {
    sg_error("libsodium failed to initialise");
    err = SG_EINTERNAL;
    goto done;
  }
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    sg_error("cannot create data directory %s: %s", dir, strerror(errno));
    err = SG_EIO;
    goto done;
  }
  if ((rc = mdb_env_create(&s->env)) || (rc = mdb_env_set_maxdbs(s->env, 64)) ||
      (rc = mdb_env_set_maxreaders(s->env, 126)) ||
      (rc = mdb_env_set_mapsize(s->env, s->map_size))) {
    err = sg_store_err(rc, "create environment");
    goto done;
  }
  /* MDB_NOTLS: read txns are reset/renewed on the loop thread, not tied to it. */
  if ((rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600))) {
    sg_error("cannot open database in %s: %s", dir, mdb_strerror(rc));
    err = SG_ESTORAGE;
    goto done;
  }
  /* a database grown larger than asked keeps its size */
  MDB_envinfo info;
  if (mdb_env_info(s->env, &info) == 0 && info.me_mapsize > s->map_size)
    s->map_size = info.me_mapsize;
  int dead = 0;
  mdb_reader_check(s->env, &dead);
  if (dead) sg_warn("cleared %d stale reader slots", dead);

  if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn))) {
    err = sg_store_err(rc, "begin migration");
    goto done;
  }
  if ((err = open_tables(s, txn))) goto done;
  uint64_t version;
  if ((err = sg_meta_get_u64(s, txn, "schema_version", &version))) goto done;
  if (version > SG_SCHEMA_VERSION) {
    sg_error("database schema version %llu is newer than this server's (%d)",
             (unsigned long long)version, SG_SCHEMA_VERSION);
    err = SG_EPRECOND;
    goto done;
  }
  for (uint64_t v = version; v < SG_SCHEMA_VERSION; v++) {
    if ((err = migrations[v](s, txn))) goto done;
    sg_info("migrated database schema to version %llu", (unsigned long long)v + 1);
  }
  if ((err = sg_meta_put_u64(s, txn, "schema_version", SG_SCHEMA_VERSION))) goto done;
  if ((err = load_key(s, txn, "idno_key", s->idno_key)) ||
      (err = load_key(s, txn, "token_key", s->token_key)))
    goto done;
  rc = mdb_txn_commit(txn);
  txn = NULL;
  if (rc) err = sg_store_err(rc, "commit migration");

done:
  if (txn) mdb_txn_abort(txn);
  if (err) {
    if (s->env) mdb_env_close(s->env);
    pthread_rwlock_destroy(&s->map_lock);
    free(s);
    return err;
  }
  *out = s;
  return 0;
}

void sg_store_close(sg_store *s) {
  if (!s) return;
  sodium_memzero(s->idno_key, sizeof s->idno_key);
  sodium_memzero(s->token_key, sizeof s->token_key);
  mdb_env_close(s->env);
  pthread_rwlock_destroy(&s->map_lock);
  free(s);
}

/* Drops the unknown fields of m and of every message inside it. */
static void strip_unknown(ProtobufCMessage *m, int depth) {
  if (!m || depth > 16) return;
  m->n_unknown_fields = 0;
  m->unknown_fields = NULL;
  const ProtobufCMessageDescriptor *d = m->descriptor;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
    char *member = (char *)m + f->offset;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(size_t *)((char *)m + f->quantifier_offset);
      for (size_t k = 0; k < n; k++) strip_unknown((*(ProtobufCMessage ***)member)[k], depth + 1);
    } else if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
               *(uint32_t *)((char *)m + f->quantifier_offset) == f->id) {
      strip_unknown(*(ProtobufCMessage **)member, depth + 1);
    }
  }
}

int sg_record_put(MDB_txn *txn, MDB_dbi dbi, uint64_t id, const ProtobufCMessage *msg,
                  unsigned flags) {
  /* fields this server does not know were never validated: not stored, at any depth */
  strip_unknown((ProtobufCMessage *)msg, 0);
  uint8_t kb[8];
  sg_key_u64(kb, id);
  size_t n = protobuf_c_message_get_packed_size(msg);
  MDB_val k = {8, kb}, v = {n, NULL};
  int rc = mdb_put(txn, dbi, &k, &v, flags | MDB_RESERVE);
  if (rc == MDB_KEYEXIST) return SG_EEXISTS;
  if (rc) return sg_store_err(rc, "write record");
  protobuf_c_message_pack(msg, v.mv_data);
  return 0;
}

int sg_record_get(MDB_txn *txn, MDB_dbi dbi, uint64_t id, const ProtobufCMessageDescriptor *desc,
                  ProtobufCAllocator *alloc, ProtobufCMessage **out) {
  uint8_t kb[8];
  sg_key_u64(kb, id);
  MDB_val k = {8, kb}, v;
  int rc = mdb_get(txn, dbi, &k, &v);
  if (rc) return sg_store_err(rc, "read record");
  *out = protobuf_c_message_unpack(desc, alloc, v.mv_size, v.mv_data);
  if (!*out) {
    /* the caller's allocator may simply be full: only a record that does
     * not decode with plain malloc either is damaged */
    ProtobufCMessage *probe = protobuf_c_message_unpack(desc, NULL, v.mv_size, v.mv_data);
    if (probe) {
      protobuf_c_message_free_unpacked(probe, NULL);
      return SG_ENOMEM;
    }
    sg_error("storage: %s record %llu does not decode", desc->name, (unsigned long long)id);
    return SG_EDATALOSS;
  }
  return 0;
}

int sg_index_put_id(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, uint64_t id,
                    unsigned flags) {
  uint8_t vb[8];
  sg_key_u64(vb, id);
  MDB_val k = {klen, (void *)key}, v = {8, vb};
  int rc = mdb_put(txn, dbi, &k, &v, flags);
  if (rc == MDB_KEYEXIST) return SG_EEXISTS;
  return rc ? sg_store_err(rc, "write index") : 0;
}

int sg_index_get_id(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, uint64_t *id) {
  MDB_val k = {klen, (void *)key}, v;
  int rc = mdb_get(txn, dbi, &k, &v);
  if (rc) return sg_store_err(rc, "read index");
  if (v.mv_size != 8) {
    sg_error("storage: index entry of %zu bytes, expected 8", v.mv_size);
    return SG_EDATALOSS;
  }
  *id = sg_key_get_u64(v.mv_data);
  return 0;
}

int sg_index_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen) {
  MDB_val k = {klen, (void *)key};
  int rc = mdb_del(txn, dbi, &k, NULL);
  return rc ? sg_store_err(rc, "delete index entry") : 0;
}

int sg_index_pair_put(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t b) {
  uint8_t kb[16];
  sg_key_u64(kb, a);
  sg_key_u64(kb + 8, b);
  MDB_val k = {16, kb}, v = {0, NULL};
  int rc = mdb_put(txn, dbi, &k, &v, 0);
  return rc ? sg_store_err(rc, "write index") : 0;
}

int sg_index_pair_del(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t b) {
  uint8_t kb[16];
  sg_key_u64(kb, a);
  sg_key_u64(kb + 8, b);
  return sg_index_del(txn, dbi, kb, 16);
}

/* Shared cursor walk: keys of klen bytes whose first prefix_len bytes match. */
static int scan(MDB_txn *txn, MDB_dbi dbi, const uint8_t *start, size_t klen,
                size_t prefix_len, sg_pair_fn fn, void *ctx) {
  MDB_cursor *cur = NULL;
  int rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc) return sg_store_err(rc, "open cursor");
  MDB_val k = {klen, (void *)start}, v;
  int err = 0;
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  while (rc == 0) {
    if (k.mv_size != klen || memcmp(k.mv_data, start, prefix_len) != 0) break;
    int r = fn(ctx, sg_key_get_u64((const uint8_t *)k.mv_data + prefix_len));
    if (r) {
      err = r < 0 ? r : 0;
      break;
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  if (rc && rc != MDB_NOTFOUND) err = sg_store_err(rc, "scan");
  mdb_cursor_close(cur);
  return err;
}

int sg_index_pair_scan(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t after, sg_pair_fn fn,
                       void *ctx) {
  if (after == UINT64_MAX) return 0;
  uint8_t kb[16];
  sg_key_u64(kb, a);
  sg_key_u64(kb + 8, after + 1);
  return scan(txn, dbi, kb, 16, 8, fn, ctx);
}

int sg_record_scan(MDB_txn *txn, MDB_dbi dbi, uint64_t after, sg_pair_fn fn, void *ctx) {
  if (after == UINT64_MAX) return 0;
  uint8_t kb[8];
  sg_key_u64(kb, after + 1);
  return scan(txn, dbi, kb, 8, 0, fn, ctx);
}
