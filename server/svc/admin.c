/* Admin service: Hello. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "timeutil.h"

#include "log.h"
#include "shegong/v1/admin.pb-c.h"
#include "store/changes.h"
#include "store/units.h"
#include "svc/svc.h"

static int admin_hello(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                       ProtobufCMessage **resp) {
  const Shegong__V1__HelloRequest *req = (const void *)req_msg;
  sg_debug("hello from %s: %.64s, protocol %u", ctx->peer, req->client, req->protocol_version);
  Shegong__V1__HelloResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__hello_response__init(r);
  r->server_version = SHEGONG_VERSION;
  r->protocol_version = SG_PROTOCOL_VERSION;
  r->max_frame_bytes = ctx->limits->max_frame;
  r->max_page_size = ctx->limits->max_page_size;
  const char *code;
  size_t len;
  int rc = sg_meta_get_str(ctx->store, txn, "district_code", &code, &len);
  if (rc == 0) {
    r->district_code = sg_arena_strndup(ctx->arena, code, len);
    sg_unit *d;
    if (r->district_code && sg_units_get_by_code(ctx->store, txn, r->district_code,
                                                 &ctx->arena->allocator, &d) == 0)
      r->district_name = d->name;
  } else if (rc != SG_ENOTFOUND) {
    return sg_status_set(ctx->st, rc, "cannot read the district");
  }
  *resp = &r->base;
  return 0;
}

static int admin_compact(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                         ProtobufCMessage **resp) {
  const Shegong__V1__CompactRequest *req = (const void *)req_msg;
  if (req->keep == 0) {
    sg_status_violation(ctx->st, "keep", "how many of the newest revisions to keep (at least 1)");
    return SG_EINVAL;
  }
  Shegong__V1__CompactResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__compact_response__init(r);
  int rc = sg_store_head_revision(ctx->store, txn, &r->head_revision);
  if (rc) return rc;
  uint64_t through = r->head_revision > req->keep ? r->head_revision - req->keep : 0;
  if ((rc = sg_changes_compact(ctx->store, txn, through, &r->dropped)) ||
      (rc = sg_changes_compacted(ctx->store, txn, &r->compacted_revision)))
    return rc;
  sg_info("changelog compacted through revision %llu: %llu changes dropped",
          (unsigned long long)r->compacted_revision, (unsigned long long)r->dropped);
  *resp = &r->base;
  return 0;
}

/*
 * Copies the environment with compaction into an empty directory. Runs on
 * a pool thread: mdb_env_copy2 takes its own read transaction, so writes go
 * on meanwhile and the copy is one consistent revision.
 */
static int admin_backup(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                        ProtobufCMessage **resp) {
  (void)txn;
  const Shegong__V1__BackupRequest *req = (const void *)req_msg;
  const char *dir = req->directory;
  if (dir[0] != '/' || strlen(dir) > 1024) {
    sg_status_violation(ctx->st, "directory", "an absolute path on the server, at most 1024 bytes");
    return SG_EINVAL;
  }
  DIR *d = opendir(dir);
  if (!d) {
    sg_status_violation(ctx->st, "directory", "cannot open it: %s", strerror(errno));
    return SG_EINVAL;
  }
  int empty = 1;
  for (struct dirent *e; (e = readdir(d));)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) empty = 0;
  closedir(d);
  if (!empty) {
    sg_status_violation(ctx->st, "directory", "must be empty: a backup never overwrites");
    return SG_EINVAL;
  }
  uint64_t t0 = sg_now_ms();
  /* the copy's read transaction is active throughout: no map resize meanwhile */
  pthread_rwlock_rdlock(&ctx->store->map_lock);
  int rc = mdb_env_copy2(ctx->store->env, dir, MDB_CP_COMPACT);
  pthread_rwlock_unlock(&ctx->store->map_lock);
  if (rc) {
    sg_error("backup to %s failed: %s", dir, mdb_strerror(rc));
    return sg_status_set(ctx->st, rc == ENOSPC ? SG_EFULL : SG_EIO, "the copy failed: %s",
                         rc == ENOSPC ? "no space left" : "see the server log");
  }
  Shegong__V1__BackupResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__backup_response__init(r);
  r->directory = sg_dup(ctx, dir);
  r->seconds = (double)(sg_now_ms() - t0) / 1000.0;
  char path[1100];
  snprintf(path, sizeof path, "%s/data.mdb", dir);
  struct stat sb;
  if (stat(path, &sb) == 0) r->bytes = (uint64_t)sb.st_size;
  /* the copy holds every ID number: only the server's user may read it */
  if (chmod(path, 0600) != 0) sg_warn("backup: cannot make %s private: %s", path, strerror(errno));
  /* the revision the copy holds, read from the copy itself */
  MDB_env *env = NULL;
  MDB_txn *t = NULL;
  MDB_dbi meta;
  int step = 0;
  if ((rc = mdb_env_create(&env)) == 0 && ++step && (rc = mdb_env_set_maxdbs(env, 32)) == 0 &&
      ++step && (rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK, 0600)) == 0 && ++step &&
      (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &t)) == 0 && ++step &&
      (rc = mdb_dbi_open(t, "meta", 0, &meta)) == 0 && ++step) {
    MDB_val k = {13, "head_revision"}, v;
    if ((rc = mdb_get(t, meta, &k, &v)) == 0 && v.mv_size == 8) r->head_revision = sg_key_get_u64(v.mv_data);
  }
  if (rc) sg_warn("backup: cannot read the copy's revision (step %d): %s", step, mdb_strerror(rc));
  if (t) mdb_txn_abort(t);
  if (env) mdb_env_close(env);
  sg_info("backup: %llu bytes at revision %llu to %s in %.2f s", (unsigned long long)r->bytes,
          (unsigned long long)r->head_revision, dir, r->seconds);
  *resp = &r->base;
  return 0;
}

const sg_method_impl sg_svc_admin[] = {
    {"/shegong.v1.Admin/Backup", SG_METHOD_BLOCKING, admin_backup},
    {"/shegong.v1.Admin/Hello", SG_METHOD_READ, admin_hello},
    {"/shegong.v1.Admin/Compact", SG_METHOD_WRITE, admin_compact},
    {NULL, 0, NULL},
};
