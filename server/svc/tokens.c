/* Tokens service: create, list, revoke, and who am I. */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "store/env.h"
#include "store/units.h"
#include "svc/svc.h"

#define SG_TOKEN_NAME_MAX 128
#define SG_TOKEN_METHODS_MAX 64

/* "YYYY-MM-DDTHH:MM:SSZ", a real time. */
static int valid_rfc3339(const char *s) {
  if (strlen(s) != 20 || s[10] != 'T' || s[19] != 'Z' || s[13] != ':' || s[16] != ':') return 0;
  char date[11];
  memcpy(date, s, 10);
  date[10] = '\0';
  sg_date d;
  if (sg_validate_date(date, &d, NULL, 0)) return 0;
  int h = (s[11] - '0') * 10 + (s[12] - '0'), m = (s[14] - '0') * 10 + (s[15] - '0'),
      sec = (s[17] - '0') * 10 + (s[18] - '0');
  for (int i = 11; i < 19; i++)
    if (i != 13 && i != 16 && (s[i] < '0' || s[i] > '9')) return 0;
  return h < 24 && m < 60 && sec < 60;
}

static int tokens_create(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                         ProtobufCMessage **resp) {
  const Shegong__V1__CreateTokenRequest *req = (const void *)req_msg;
  sg_store *s = ctx->store;
  char why[SG_WHY_MAX];
  if (!req->token) {
    sg_status_violation(ctx->st, "token", "required");
    return SG_EINVAL;
  }
  Shegong__V1__Token *t = sg_arena_alloc(ctx->arena, sizeof *t);
  if (!t) return SG_ENOMEM;
  *t = *req->token;
  int role = t->role;
  if (role < SHEGONG__V1__PRINCIPAL_ROLE__DISTRICT_ADMIN || role > SHEGONG__V1__PRINCIPAL_ROLE__SERVICE)
    sg_status_violation(ctx->st, "token.role",
                        "required: DISTRICT_ADMIN, TOWN_OPERATOR, AUDITOR or SERVICE");
  if (role == SHEGONG__V1__PRINCIPAL_ROLE__TOWN_OPERATOR && !t->town_code[0])
    sg_status_violation(ctx->st, "token.town_code", "a town operator needs its town");
  if (t->town_code[0] && role != SHEGONG__V1__PRINCIPAL_ROLE__TOWN_OPERATOR &&
      role != SHEGONG__V1__PRINCIPAL_ROLE__SERVICE)
    sg_status_violation(ctx->st, "token.town_code", "only town operators and services have a town");
  if (role == SHEGONG__V1__PRINCIPAL_ROLE__SERVICE && t->n_methods == 0)
    sg_status_violation(ctx->st, "token.methods", "a service token lists the methods it may call");
  if (role != SHEGONG__V1__PRINCIPAL_ROLE__SERVICE && t->n_methods)
    sg_status_violation(ctx->st, "token.methods", "only service tokens list methods");
  if (t->n_methods > SG_TOKEN_METHODS_MAX)
    sg_status_violation(ctx->st, "token.methods", "at most %d", SG_TOKEN_METHODS_MAX);
  char **paths = sg_arena_alloc(ctx->arena, (t->n_methods + 1) * sizeof *paths);
  if (!paths) return SG_ENOMEM;
  for (size_t i = 0; i < t->n_methods && i < SG_TOKEN_METHODS_MAX; i++) {
    const sg_method_info *mi = strlen(t->methods[i]) < 96 ? sg_methods_find(t->methods[i]) : NULL;
    if (!mi) sg_status_violation(ctx->st, "token.methods", "no method %.60s", t->methods[i]);
    else if (!sg_auth_service_grantable(mi->path))
      sg_status_violation(ctx->st, "token.methods", "%s is not for service tokens", mi->path);
    else paths[i] = sg_dup(ctx, mi->path); /* stored as full paths */
  }
  t->methods = paths;
  if (t->name[0] && sg_validate_text(t->name, SG_TOKEN_NAME_MAX, why, sizeof why))
    sg_status_violation(ctx->st, "token.name", "%s", why);
  if (t->expires_at[0] && !valid_rfc3339(t->expires_at))
    sg_status_violation(ctx->st, "token.expires_at", "a UTC time as 2027-01-01T00:00:00Z");
  else if (t->expires_at[0] && strcmp(t->expires_at, ctx->now) <= 0)
    sg_status_violation(ctx->st, "token.expires_at", "already past");
  if (ctx->st->n_violations) return SG_EINVAL;
  if (t->town_code[0]) {
    sg_unit *town;
    int rc = strlen(t->town_code) == 9
                 ? sg_units_get_by_code(s, txn, t->town_code, &ctx->arena->allocator, &town)
                 : SG_ENOTFOUND;
    if (rc == SG_ENOTFOUND || (!rc && town->kind != SHEGONG__V1__UNIT_KIND__TOWN)) {
      sg_status_violation(ctx->st, "token.town_code", "no town %.20s", t->town_code);
      return SG_EINVAL;
    }
    if (rc) return rc;
  }
  int rc = sg_store_next_id(s, txn, "seq:token", &t->id);
  if (rc) return rc;
  t->revoked = 0;
  t->revoked_at = sg_dup(ctx, "");
  t->created_at = sg_dup(ctx, ctx->now);
  t->created_by = ctx->principal ? ctx->principal->token_id : 0;
  if (!t->name[0]) t->name = sg_dup(ctx, "");

  uint8_t d[32];
  char *secret = sg_arena_alloc(ctx->arena, 64);
  if (!secret) return SG_ENOMEM;
  sg_auth_new_secret(secret);
  sg_auth_digest(s, secret, d);
  if ((rc = sg_record_put(txn, s->tokens, t->id, &t->base, MDB_NOOVERWRITE)) ||
      (rc = sg_index_put_id(txn, s->tokens_by_digest, d, sizeof d, t->id, MDB_NOOVERWRITE)))
    return rc;
  sg_info("token %llu created: %s%s%s", (unsigned long long)t->id, sg_role_name(t->role),
          t->town_code[0] ? " of town " : "", t->town_code);
  Shegong__V1__CreateTokenResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__create_token_response__init(r);
  r->token = t;
  r->secret = secret;
  *resp = &r->base;
  return 0;
}

static int collect_token(sg_pager *p, uint64_t id, void **out) {
  Shegong__V1__Token *t;
  int rc = sg_record_get(p->txn, p->ctx->store->tokens, id, &shegong__v1__token__descriptor,
                         &p->ctx->arena->allocator, (ProtobufCMessage **)&t);
  if (rc) return rc;
  *out = t->revoked && !*(const int *)p->arg ? NULL : t;
  return 0;
}

static int tokens_list(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                       ProtobufCMessage **resp) {
  const Shegong__V1__ListTokensRequest *req = (const void *)req_msg;
  Shegong__V1__ListTokensResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__list_tokens_response__init(r);
  int include_revoked = req->include_revoked;
  sg_pager pg;
  /* a district has tens of tokens, not thousands: one page holds them */
  int rc = sg_pager_init(&pg, ctx, txn, ctx->limits->max_page_size, collect_token, &include_revoked);
  if (rc || (rc = sg_record_scan(txn, ctx->store->tokens, 0, sg_pager_visit, &pg)) || (rc = pg.err))
    return rc;
  r->tokens = (Shegong__V1__Token **)pg.items;
  r->n_tokens = pg.n;
  *resp = &r->base;
  return 0;
}

/* Counts the district-admin tokens that still work at now. */
typedef struct admin_count {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  size_t n;
} admin_count;

static int count_admin(void *arg, uint64_t id) {
  admin_count *a = arg;
  Shegong__V1__Token *t;
  int rc = sg_record_get(a->txn, a->ctx->store->tokens, id, &shegong__v1__token__descriptor,
                         &a->ctx->arena->allocator, (ProtobufCMessage **)&t);
  if (rc) return rc;
  if (t->role == SHEGONG__V1__PRINCIPAL_ROLE__DISTRICT_ADMIN && sg_token_live(t, a->ctx->now)) a->n++;
  return 0;
}

static int tokens_revoke(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                         ProtobufCMessage **resp) {
  const Shegong__V1__RevokeTokenRequest *req = (const void *)req_msg;
  if (!req->id) {
    sg_status_violation(ctx->st, "id", "required");
    return SG_EINVAL;
  }
  Shegong__V1__Token *t;
  int rc = sg_record_get(txn, ctx->store->tokens, req->id, &shegong__v1__token__descriptor,
                         &ctx->arena->allocator, (ProtobufCMessage **)&t);
  if (rc == SG_ENOTFOUND)
    return sg_status_set(ctx->st, rc, "token %llu not found", (unsigned long long)req->id);
  if (rc) return rc;
  if (t->revoked)
    return sg_status_set(ctx->st, SG_EPRECOND, "token %llu was already revoked on %s",
                         (unsigned long long)t->id, t->revoked_at);
  if (t->role == SHEGONG__V1__PRINCIPAL_ROLE__DISTRICT_ADMIN) {
    /* the last working admin token locks the district out when it goes */
    admin_count ac = {ctx, txn, 0};
    if ((rc = sg_record_scan(txn, ctx->store->tokens, 0, count_admin, &ac))) return rc;
    if (ac.n <= 1)
      return sg_status_set(ctx->st, SG_EPRECOND,
                           "token %llu is the last district-admin token: create another first",
                           (unsigned long long)t->id);
  }
  t->revoked = 1;
  t->revoked_at = sg_dup(ctx, ctx->now);
  if ((rc = sg_record_put(txn, ctx->store->tokens, t->id, &t->base, 0))) return rc;
  sg_info("token %llu revoked", (unsigned long long)t->id);
  *resp = &t->base;
  return 0;
}

static int tokens_whoami(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                         ProtobufCMessage **resp) {
  (void)req_msg;
  if (!ctx->principal)
    return sg_status_set(ctx->st, SG_EPRECOND, "a local call has no token");
  return sg_record_get(txn, ctx->store->tokens, ctx->principal->token_id,
                       &shegong__v1__token__descriptor, &ctx->arena->allocator, resp);
}

const sg_method_impl sg_svc_tokens[] = {
    {"/shegong.v1.Tokens/Create", SG_METHOD_WRITE, tokens_create},
    {"/shegong.v1.Tokens/List", SG_METHOD_READ, tokens_list},
    {"/shegong.v1.Tokens/Revoke", SG_METHOD_WRITE, tokens_revoke},
    {"/shegong.v1.Tokens/WhoAmI", SG_METHOD_READ, tokens_whoami},
    {NULL, 0, NULL},
};
