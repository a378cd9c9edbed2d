#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "wire.h"
#include "store/units.h"
#include "timeutil.h"

#define R_ADMIN (1u << SHEGONG__V1__PRINCIPAL_ROLE__DISTRICT_ADMIN)
#define R_TOWN (1u << SHEGONG__V1__PRINCIPAL_ROLE__TOWN_OPERATOR)
#define R_AUDITOR (1u << SHEGONG__V1__PRINCIPAL_ROLE__AUDITOR)
#define R_SERVICE (1u << SHEGONG__V1__PRINCIPAL_ROLE__SERVICE)
#define R_READERS (R_ADMIN | R_TOWN | R_AUDITOR)
#define R_ANY (R_ADMIN | R_TOWN | R_AUDITOR | R_SERVICE)

/*
 * Who may call what. A method missing here is refused to everyone (and a
 * test fails). SERVICE principals may call only the methods their token
 * lists, and WhoAmI.
 */
static const struct {
  const char *path;
  unsigned roles;
} acl[] = {
    {"/shegong.v1.Admin/Backup", R_ADMIN},
    {"/shegong.v1.Admin/Compact", R_ADMIN},
    {"/shegong.v1.Admin/Hello", R_ANY},
    {"/shegong.v1.Assessments/Amend", R_ADMIN | R_TOWN},
    {"/shegong.v1.Assessments/Bulk", R_ADMIN | R_TOWN},
    {"/shegong.v1.Assessments/Eligibility", R_READERS},
    {"/shegong.v1.Assessments/List", R_READERS},
    {"/shegong.v1.Assessments/Record", R_ADMIN | R_TOWN},
    {"/shegong.v1.Assessments/SetVisits", R_ADMIN | R_TOWN},
    {"/shegong.v1.Assessments/VisitsReport", R_READERS},
    {"/shegong.v1.Audit/List", R_ADMIN | R_AUDITOR},
    {"/shegong.v1.Policies/Get", R_READERS},
    {"/shegong.v1.Policies/Set", R_ADMIN},
    {"/shegong.v1.Reports/Certification", R_READERS},
    {"/shegong.v1.Reports/Hiring", R_READERS},
    {"/shegong.v1.Reports/Staffing", R_READERS},
    {"/shegong.v1.Reports/Structure", R_READERS},
    {"/shegong.v1.Reports/Turnover", R_READERS},
    {"/shegong.v1.Sync/Pull", R_READERS},
    {"/shegong.v1.Sync/Push", R_ADMIN | R_TOWN},
    {"/shegong.v1.Sync/Snapshot", R_READERS},
    {"/shegong.v1.Sync/Watch", R_READERS},
    {"/shegong.v1.Sync/WorkerRecords", R_READERS},
    {"/shegong.v1.Tokens/Create", R_ADMIN},
    {"/shegong.v1.Tokens/List", R_ADMIN | R_AUDITOR},
    {"/shegong.v1.Tokens/Revoke", R_ADMIN},
    {"/shegong.v1.Tokens/WhoAmI", R_ANY},
    {"/shegong.v1.Training/Attend", R_ADMIN | R_TOWN},
    {"/shegong.v1.Training/Compliance", R_READERS},
    {"/shegong.v1.Training/CreateCourse", R_ADMIN | R_TOWN},
    {"/shegong.v1.Training/ListAttendance", R_READERS},
    {"/shegong.v1.Training/ListCourses", R_READERS},
    {"/shegong.v1.Transfers/Apply", R_ADMIN | R_TOWN},
    {"/shegong.v1.Transfers/Approve", R_ADMIN | R_TOWN},
    {"/shegong.v1.Transfers/Cancel", R_ADMIN | R_TOWN},
    {"/shegong.v1.Transfers/End", R_ADMIN | R_TOWN},
    {"/shegong.v1.Transfers/Get", R_READERS},
    {"/shegong.v1.Transfers/List", R_READERS},
    {"/shegong.v1.Transfers/PlacementReport", R_READERS},
    {"/shegong.v1.Transfers/Propose", R_ADMIN | R_TOWN},
    {"/shegong.v1.Transfers/ProposeConversions", R_ADMIN | R_TOWN},
    {"/shegong.v1.Transfers/Reject", R_ADMIN | R_TOWN},
    {"/shegong.v1.Units/Create", R_ADMIN | R_TOWN},
    {"/shegong.v1.Units/Get", R_READERS},
    {"/shegong.v1.Units/List", R_READERS},
    {"/shegong.v1.Workers/ChangeLevel", R_ADMIN | R_TOWN},
    {"/shegong.v1.Workers/Create", R_ADMIN | R_TOWN},
    {"/shegong.v1.Workers/Get", R_READERS},
    {"/shegong.v1.Workers/History", R_READERS},
    {"/shegong.v1.Workers/Leave", R_ADMIN | R_TOWN},
    {"/shegong.v1.Workers/LevelHistory", R_READERS},
    {"/shegong.v1.Workers/List", R_READERS},
    {"/shegong.v1.Workers/Update", R_ADMIN | R_TOWN},
};

const char *sg_role_name(int role) {
  switch (role) {
  case SHEGONG__V1__PRINCIPAL_ROLE__DISTRICT_ADMIN: return "district_admin";
  case SHEGONG__V1__PRINCIPAL_ROLE__TOWN_OPERATOR: return "town_operator";
  case SHEGONG__V1__PRINCIPAL_ROLE__AUDITOR: return "auditor";
  case SHEGONG__V1__PRINCIPAL_ROLE__SERVICE: return "service";
  default: return "none";
  }
}

int sg_token_live(const Shegong__V1__Token *t, const char *now) {
  /* RFC 3339 UTC strings of one format order as their times do */
  return !t->revoked && (!t->expires_at[0] || strcmp(t->expires_at, now) > 0);
}

int sg_auth_still_valid(sg_store *s, MDB_txn *txn, uint64_t token_id, const char *now) {
  Shegong__V1__Token *t;
  if (sg_record_get(txn, s->tokens, token_id, &shegong__v1__token__descriptor, NULL,
                    (ProtobufCMessage **)&t) != 0)
    return SG_EUNAUTH;
  int ok = sg_token_live(t, now);
  protobuf_c_message_free_unpacked(&t->base, NULL);
  return ok ? 0 : SG_EUNAUTH;
}

/* The roles acl[] allows for path; NULL when it has no rule. */
static const unsigned *acl_roles(const char *path) {
  for (size_t i = 0; i < sizeof acl / sizeof acl[0]; i++)
    if (strcmp(acl[i].path, path) == 0) return &acl[i].roles;
  return NULL;
}

int sg_auth_service_grantable(const char *path) {
  if (strncmp(path, "/shegong.v1.Tokens/", 19) == 0 || strncmp(path, "/shegong.v1.Audit/", 18) == 0 ||
      strncmp(path, "/shegong.v1.Admin/", 18) == 0)
    return 0;
  const unsigned *roles = acl_roles(path);
  return roles && (*roles & (R_TOWN | R_AUDITOR)) != 0;
}

int sg_auth_has_rule(const char *path) { return acl_roles(path) != NULL; }

static atomic_uint_fast64_t token_generation;

uint64_t sg_auth_generation(void) { return atomic_load(&token_generation); }

void sg_auth_tokens_changed(void) { atomic_fetch_add(&token_generation, 1); }

/* Each dispatch entry's rule, found once: every call asks, and a scan of the
 * table by path was 4 % of the server's time on pipelined reads. */
static const unsigned **acl_index;
static size_t acl_index_n;
static pthread_once_t acl_index_once = PTHREAD_ONCE_INIT;

static void build_acl_index(void) {
  size_t n = sg_dispatch_count();
  acl_index = calloc(n ? n : 1, sizeof *acl_index);
  if (!acl_index) return; /* acl_for_entry falls back to the scan */
  for (size_t i = 0; i < n; i++) acl_index[i] = acl_roles(sg_dispatch_at(i)->info->path);
  acl_index_n = n;
}

static const unsigned *acl_for_entry(const sg_dispatch_entry *e) {
  pthread_once(&acl_index_once, build_acl_index);
  size_t i = sg_dispatch_index(e);
  return i < acl_index_n ? acl_index[i] : acl_roles(e->info->path);
}

int sg_auth_allowed(const sg_principal *p, const sg_dispatch_entry *e) {
  if (p->role == SHEGONG__V1__PRINCIPAL_ROLE__SERVICE &&
      strcmp(e->info->path, "/shegong.v1.Tokens/WhoAmI") != 0) {
    size_t i = sg_dispatch_index(e);
    return i < 128 && (p->methods[i / 64] >> (i % 64) & 1);
  }
  const unsigned *roles = acl_for_entry(e);
  return roles && p->role > 0 && p->role < 32 && (*roles >> p->role & 1);
}

void sg_auth_digest(const sg_store *s, const char *secret, uint8_t out[32]) {
  crypto_generichash(out, 32, (const unsigned char *)secret, strlen(secret), s->token_key,
                     sizeof s->token_key);
}

void sg_auth_new_secret(char out[64]) {
  uint8_t raw[32];
  randombytes_buf(raw, sizeof raw);
  memcpy(out, "sg_", 3);
  sodium_bin2base64(out + 3, 61, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof raw);
}

int sg_auth_authenticate(sg_store *s, MDB_txn *txn, const char *authorization, const char *now,
                         sg_principal *out, sg_status *st) {
  memset(out, 0, sizeof *out);
  if (!authorization || !authorization[0])
    return sg_status_set(st, SG_EUNAUTH, "this call needs `authorization: Bearer <token>`");
  if (strncasecmp(authorization, "Bearer ", 7) != 0)
    return sg_status_set(st, SG_EUNAUTH, "authorization must be `Bearer <token>`");
  const char *secret = authorization + 7;
  while (*secret == ' ') secret++;
  size_t len = strlen(secret);
  if (len == 0 || len > SG_TOKEN_SECRET_MAX)
    return sg_status_set(st, SG_EUNAUTH, "the bearer token is empty or too long");
  uint8_t d[32];
  sg_auth_digest(s, secret, d);
  uint64_t id;
  int rc = sg_index_get_id(txn, s->tokens_by_digest, d, sizeof d, &id);
  if (rc == SG_ENOTFOUND) return sg_status_set(st, SG_EUNAUTH, "unknown token");
  if (rc) return sg_status_set(st, rc, "cannot check the token");
  Shegong__V1__Token *t;
  rc = sg_record_get(txn, s->tokens, id, &shegong__v1__token__descriptor, NULL,
                     (ProtobufCMessage **)&t);
  if (rc) return sg_status_set(st, rc == SG_ENOTFOUND ? SG_EUNAUTH : rc, "cannot check the token");
  if (t->revoked) {
    rc = sg_status_set(st, SG_EUNAUTH, "token %llu was revoked on %s", (unsigned long long)id,
                       t->revoked_at);
  } else if (t->expires_at[0] && strcmp(t->expires_at, now) <= 0) {
    /* RFC 3339 UTC strings of one format order as their times do */
    rc = sg_status_set(st, SG_EUNAUTH, "token %llu expired at %s", (unsigned long long)id,
                       t->expires_at);
  } else {
    out->token_id = t->id;
    out->role = t->role;
    out->pii = t->pii;
    snprintf(out->town_code, sizeof out->town_code, "%s", t->town_code);
    snprintf(out->expires_at, sizeof out->expires_at, "%s", t->expires_at);
    if (t->town_code[0]) {
      rc = sg_index_get_id(txn, s->units_by_code, t->town_code, strlen(t->town_code),
                           &out->town_id);
      if (rc) rc = sg_status_set(st, SG_EUNAUTH, "token %llu names an unknown town",
                                 (unsigned long long)id);
    }
    for (size_t i = 0; !rc && i < t->n_methods; i++) {
      const sg_dispatch_entry *e = sg_dispatch_lookup(t->methods[i]);
      size_t k = e ? sg_dispatch_index(e) : 128;
      if (k < 128) out->methods[k / 64] |= (uint64_t)1 << (k % 64);
    }
  }
  protobuf_c_message_free_unpacked(&t->base, NULL);
  return rc;
}

int sg_authz_town(sg_call_ctx *ctx, uint64_t town_id, const char *what) {
  const sg_principal *p = ctx->principal;
  if (!p || !p->town_id || p->town_id == town_id) return 0;
  return sg_status_set(ctx->st, SG_EPERM, "token %llu may touch only town %s, not %s",
                       (unsigned long long)p->token_id, p->town_code, what);
}

int sg_unit_town_id(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *msg,
                    uint64_t *town_id) {
  const sg_unit *u = (const sg_unit *)msg;
  *town_id = 0;
  switch (u->kind) {
  case SHEGONG__V1__UNIT_KIND__TOWN: *town_id = u->id; return 0;
  case SHEGONG__V1__UNIT_KIND__COMMUNITY:
  case SHEGONG__V1__UNIT_KIND__VILLAGE: *town_id = u->parent_id; return 0;
  case SHEGONG__V1__UNIT_KIND__GRID: {
    sg_unit *parent;
    int rc = sg_units_get(ctx->store, txn, u->parent_id, &ctx->arena->allocator, &parent);
    if (rc) return rc == SG_ENOTFOUND ? SG_EDATALOSS : rc;
    *town_id = parent->parent_id;
    return 0;
  }
  default: return 0; /* the district is everyone's */
  }
}

/* ---- masking ---------------------------------------------------------------- */

/* out = the first `head` bytes of in, `stars`, the last four of in; cut to n.
 * Written by hand: with snprintf, masking was the read path's largest libc cost. */
static void mask_join(const char *in, size_t len, size_t head, const char *stars, char *out,
                      size_t n) {
  if (n == 0) return;
  size_t o = 0, sl = strlen(stars);
  const char *parts[3] = {in, stars, in + len - 4};
  size_t lens[3] = {head, sl, 4};
  for (int i = 0; i < 3; i++) {
    size_t k = lens[i] < n - 1 - o ? lens[i] : n - 1 - o;
    memcpy(out + o, parts[i], k);
    o += k;
  }
  out[o] = 0;
}

void sg_mask_idno(const char *in, char *out, size_t n) {
  size_t len = strlen(in);
  if (len < 10) {
    snprintf(out, n, "%s", len ? "********" : "");
    return;
  }
  /* area code and the last four stay: enough to tell people apart on a list */
  mask_join(in, len, 6, "********", out, n);
}

void sg_mask_phone(const char *in, char *out, size_t n) {
  size_t len = strlen(in);
  if (len < 8) {
    snprintf(out, n, "%s", len ? "****" : "");
    return;
  }
  mask_join(in, len, 3, "****", out, n);
}

static int is_pii_field(const ProtobufCFieldDescriptor *f) {
  /* every field of every answer comes through here: the first letter first */
  return f->type == PROTOBUF_C_TYPE_STRING &&
         ((f->name[0] == 'i' && strcmp(f->name, "id_number") == 0) ||
          (f->name[0] == 'p' && strcmp(f->name, "phone") == 0));
}

int sg_message_has_pii(const ProtobufCMessageDescriptor *d) {
  /* our messages nest a few levels at most; the bound stops a cycle */
  static __thread int depth;
  if (depth > 8) return 0;
  int found = 0;
  depth++;
  for (unsigned i = 0; i < d->n_fields && !found; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (is_pii_field(f)) found = 1;
    else if (f->type == PROTOBUF_C_TYPE_MESSAGE) found = sg_message_has_pii(f->descriptor);
  }
  depth--;
  return found;
}

int sg_mask_pii(ProtobufCMessage *msg, sg_arena *arena) {
  const ProtobufCMessageDescriptor *d = msg->descriptor;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    char *base = (char *)msg + f->offset;
    if (is_pii_field(f) && f->label != PROTOBUF_C_LABEL_REPEATED) {
      char **s = (char **)base;
      if (!*s || !**s) continue;
      char masked[64];
      if (f->name[0] == 'i') sg_mask_idno(*s, masked, sizeof masked);
      else sg_mask_phone(*s, masked, sizeof masked);
      if (!(*s = sg_arena_strdup(arena, masked))) return SG_ENOMEM;
    } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
      if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *(size_t *)((char *)msg + f->quantifier_offset);
        ProtobufCMessage **arr = *(ProtobufCMessage ***)base;
        for (size_t k = 0; k < n; k++)
          if (arr[k] && sg_mask_pii(arr[k], arena)) return SG_ENOMEM;
      } else {
        ProtobufCMessage *sub = *(ProtobufCMessage **)base;
        /* a oneof member is set only when it is the chosen case */
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF &&
            *(uint32_t *)((char *)msg + f->quantifier_offset) != f->id)
          continue;
        if (sub && sg_mask_pii(sub, arena)) return SG_ENOMEM;
      }
    }
  }
  return 0;
}

/*
 * What sg_mask_pii_wire needs of a descriptor, as bits by field number
 * (fields 1-63): the personal-data strings, and the messages that can carry
 * some. `far` says a field of either kind is numbered 64 or more, so that
 * those are looked up one by one. Kept per thread for the last descriptor:
 * a run of answers is of one type.
 */
typedef struct pii_bits {
  const ProtobufCMessageDescriptor *d;
  uint64_t pii, nested, idno; /* idno: the pii fields masked as ID numbers */
  int far;
} pii_bits;

static const pii_bits *pii_bits_of(const ProtobufCMessageDescriptor *d) {
  static __thread pii_bits b;
  if (b.d == d) return &b;
  pii_bits n = {d, 0, 0, 0, 0};
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    int pii = is_pii_field(f) && f->label != PROTOBUF_C_LABEL_REPEATED;
    int nested = f->type == PROTOBUF_C_TYPE_MESSAGE && sg_message_has_pii(f->descriptor);
    if (!pii && !nested) continue;
    if (f->id >= 64) n.far = 1;
    else if (pii) n.pii |= 1ull << f->id, n.idno |= (uint64_t)(f->name[0] == 'i') << f->id;
    else n.nested |= 1ull << f->id;
  }
  b = n;
  return &b;
}

int sg_mask_pii_wire(const ProtobufCMessageDescriptor *d, const uint8_t *in, size_t len,
                     sg_arena *arena, uint8_t **out, size_t *out_len) {
  const pii_bits *bits = pii_bits_of(d);
  /* a masked value is at most 63 bytes, its tag and length no longer than the
   * original's: two of them grow the message by less than 2 * 80 */
  uint8_t *o = sg_arena_alloc(arena, len + 2 * 80);
  if (!o) return SG_ENOMEM;
  size_t on = 0, masked = 0;
  const uint8_t *p = in, *end = in + len, *run = in; /* run: unchanged bytes not yet copied */
  sg_wire_field f;
  int r;
  const uint64_t either = bits->pii | bits->nested;
  while ((r = sg_wire_next(&p, end, &f)) == 1) {
    if (f.type != 2) continue;
    int pii, nested, idno;
    if (f.number < 64) {
      if (!(either >> f.number & 1)) continue; /* most fields */
      pii = (int)(bits->pii >> f.number & 1);
      nested = (int)(bits->nested >> f.number & 1);
      idno = (int)(bits->idno >> f.number & 1);
    } else {
      const ProtobufCFieldDescriptor *fd;
      if (!bits->far || !(fd = protobuf_c_message_descriptor_get_field(d, f.number))) continue;
      pii = is_pii_field(fd) && fd->label != PROTOBUF_C_LABEL_REPEATED;
      nested = fd->type == PROTOBUF_C_TYPE_MESSAGE && sg_message_has_pii(fd->descriptor);
      idno = fd->name[0] == 'i';
    }
    if (nested) return SG_EINVAL; /* nested personal data: decode and sg_mask_pii instead */
    if (!pii || f.len == 0) continue;
    if (masked == 2 || f.len > 63) return SG_EINVAL;
    memcpy(o + on, run, (size_t)(f.start - run));
    on += (size_t)(f.start - run);
    run = f.end;
    char plain[64], m[64];
    memcpy(plain, f.value, f.len);
    plain[f.len] = 0;
    if (idno) sg_mask_idno(plain, m, sizeof m);
    else sg_mask_phone(plain, m, sizeof m);
    sodium_memzero(plain, f.len + 1); /* what was copied, not the whole buffer */
    size_t ml = strlen(m);
    on += sg_wire_put_varint(o + on, (uint64_t)f.number << 3 | 2);
    on += sg_wire_put_varint(o + on, ml);
    memcpy(o + on, m, ml);
    on += ml;
    masked++;
  }
  if (r < 0) return SG_EDATALOSS;
  memcpy(o + on, run, (size_t)(end - run));
  on += (size_t)(end - run);
  *out = o;
  *out_len = on;
  return 0;
}

/* ---- audit ------------------------------------------------------------------ */

int sg_audit_append(sg_store *s, MDB_txn *txn, Shegong__V1__AuditEntry *e) {
  int rc = sg_store_next_id(s, txn, "seq:audit", &e->seq);
  if (rc) return rc;
  return sg_record_put(txn, s->audit, e->seq, &e->base, MDB_NOOVERWRITE | MDB_APPEND);
}

void sg_audit_target(const ProtobufCMessage *msg, char *out, size_t n) {
  static const char *const keys[] = {"id", "code", "unit_code", "town_code", "parent_code", NULL};
  out[0] = '\0';
  if (!msg) return;
  const ProtobufCMessageDescriptor *d = msg->descriptor;
  for (size_t k = 0; keys[k]; k++) {
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, keys[k]);
    if (!f || f->label == PROTOBUF_C_LABEL_REPEATED) continue;
    const char *p = (const char *)msg + f->offset;
    if (f->type == PROTOBUF_C_TYPE_UINT64 && *(const uint64_t *)p) {
      snprintf(out, n, "%s %llu", d->short_name, (unsigned long long)*(const uint64_t *)p);
      return;
    }
    if (f->type == PROTOBUF_C_TYPE_STRING && *(char *const *)p && **(char *const *)p) {
      snprintf(out, n, "%s %s=%.20s", d->short_name, keys[k], *(char *const *)p);
      return;
    }
  }
  /* a request wrapping a record (CreateWorkerRequest.worker): look inside */
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->type == PROTOBUF_C_TYPE_MESSAGE && f->label != PROTOBUF_C_LABEL_REPEATED &&
        !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) {
      const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)((const char *)msg + f->offset);
      if (sub) {
        sg_audit_target(sub, out, n);
        if (out[0]) return;
      }
    }
  }
  snprintf(out, n, "%s", d->short_name);
}

void sg_audit_fill(Shegong__V1__AuditEntry *e, const sg_principal *p, const char *peer,
                   const char *method, const char *target, const sg_status *st, const char *event,
                   const char *time) {
  shegong__v1__audit_entry__init(e);
  e->time = (char *)time;
  if (p) {
    e->token_id = p->token_id;
    e->role = p->role;
  }
  e->peer = (char *)(peer ? peer : "");
  e->method = (char *)(method ? method : "");
  e->target = (char *)(target ? target : "");
  e->code = st ? (Shegong__V1__Code)st->code : SHEGONG__V1__CODE__OK;
  e->message = (char *)(st ? st->message : "");
  e->event = (char *)event;
}

/* ---- bootstrap -------------------------------------------------------------- */

/* Writes secret to path, mode 0600, through a temporary file and rename. */
static int write_secret(const char *path, const char *secret) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return -1;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  size_t len = strlen(secret);
  int ok = write(fd, secret, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

int sg_auth_bootstrap(sg_store *s, const char *path) {
  char secret[64] = "";
  MDB_txn *txn = NULL;
  MDB_stat stat;
  int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
  if (rc) return sg_store_err(rc, "begin bootstrap");
  int err = 0;
  if ((rc = mdb_stat(txn, s->tokens, &stat))) {
    err = sg_store_err(rc, "count tokens");
    goto done;
  }
  if (stat.ms_entries > 0) goto done;
  sg_auth_new_secret(secret);
  Shegong__V1__Token t = SHEGONG__V1__TOKEN__INIT;
  char now[32];
  sg_now_rfc3339(now, sizeof now);
  if ((err = sg_store_next_id(s, txn, "seq:token", &t.id))) goto done;
  t.role = SHEGONG__V1__PRINCIPAL_ROLE__DISTRICT_ADMIN;
  t.pii = 1;
  t.name = "bootstrap admin";
  t.created_at = now;
  uint8_t d[32];
  sg_auth_digest(s, secret, d);
  if ((err = sg_record_put(txn, s->tokens, t.id, &t.base, MDB_NOOVERWRITE)) ||
      (err = sg_index_put_id(txn, s->tokens_by_digest, d, sizeof d, t.id, MDB_NOOVERWRITE)))
    goto done;
  /* the file first: a token nobody can read is worth nothing */
  if (write_secret(path, secret) != 0) {
    sg_error("cannot write the admin token to %s: %s", path, strerror(errno));
    err = SG_EIO;
    goto done;
  }
  rc = mdb_txn_commit(txn);
  txn = NULL;
  if (rc) err = sg_store_err(rc, "commit bootstrap");
  else sg_info("first start: admin token %llu written to %s (mode 0600)", (unsigned long long)t.id, path);
done:
  sodium_memzero(secret, sizeof secret);
  if (txn) mdb_txn_abort(txn);
  return err;
}
