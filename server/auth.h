/*
 * Authentication, authorization, personal-data masking and the audit log.
 *
 * A call's principal comes from its `authorization: Bearer <secret>`
 * metadata: the secret's keyed digest finds the token, which must be
 * neither expired nor revoked. What a principal may call is one table
 * (acl[] in auth.c, default deny); which records it may touch is its town
 * scope, checked inside the handlers (sg_authz_town) so that lists and
 * streams are scoped too. Responses to principals without `pii` have every
 * id_number and phone field masked, whatever the message.
 */
#ifndef SG_AUTH_H
#define SG_AUTH_H

#include "dispatch.h"
#include "shegong/v1/audit.pb-c.h"
#include "shegong/v1/auth.pb-c.h"

#define SG_TOKEN_SECRET_MAX 128

typedef struct sg_principal {
  uint64_t token_id;
  int role;             /* SHEGONG__V1__PRINCIPAL_ROLE__* */
  uint64_t town_id;     /* 0: not scoped to a town */
  char town_code[16];
  int pii;
  uint64_t methods[2];  /* SERVICE: bit i = sg_dispatch_at(i) allowed */
  char expires_at[32];  /* the token's, RFC 3339 UTC; empty: never */
} sg_principal;

/*
 * A new bearer secret ("sg_" and 43 base64url characters from 32 random
 * bytes) in out (at least 64 bytes), and its keyed digest, the tokens
 * table's key.
 */
void sg_auth_new_secret(char out[64]);

/*
 * A count of token changes. The writer bumps it as soon as a batch holding a
 * Tokens write has committed (before anyone is answered); a connection that
 * keeps a principal (conn.c, admit) trusts it only while the count is the one
 * it read before authenticating.
 */
uint64_t sg_auth_generation(void);
void sg_auth_tokens_changed(void);
void sg_auth_digest(const sg_store *s, const char *secret, uint8_t out[32]);

/*
 * On a store with no token, creates a district-admin token with pii and
 * writes its secret to path (mode 0600, replacing a stale file). Logs it.
 */
int sg_auth_bootstrap(sg_store *s, const char *path);

/*
 * Finds the principal of an `authorization` value at time now (RFC 3339).
 * SG_EUNAUTH with a message in st when it is missing, malformed, unknown,
 * expired or revoked.
 */
int sg_auth_authenticate(sg_store *s, MDB_txn *txn, const char *authorization, const char *now,
                         sg_principal *out, sg_status *st);

/*
 * Whether token id is still good at `now` (not revoked, not expired): for
 * calls that outlive their start, such as watches. 0 or SG_EUNAUTH.
 */
int sg_auth_still_valid(sg_store *s, MDB_txn *txn, uint64_t token_id, const char *now);
/* Whether token t is live at `now`: not revoked, and not past expires_at. */
int sg_token_live(const Shegong__V1__Token *t, const char *now);

/*
 * Whether a SERVICE token may be given method path: data methods only,
 * never the token, compaction or audit methods (a service must not be able
 * to mint itself a wider token).
 */
int sg_auth_service_grantable(const char *path);

/* True when p may call the method of e (the method table, default deny). */
int sg_auth_allowed(const sg_principal *p, const sg_dispatch_entry *e);

/* True when the method table has a rule for path (tests check every method). */
int sg_auth_has_rule(const char *path);

/*
 * Scope: 0 when the call's principal may touch records of town_id (a
 * principal without a town, or no principal at all: a local replica, may
 * touch any); else PERMISSION_DENIED in ctx->st, naming what.
 */
int sg_authz_town(sg_call_ctx *ctx, uint64_t town_id, const char *what);

/* The town id a unit belongs to (a town: itself; district: 0). */
int sg_unit_town_id(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *unit,
                    uint64_t *town_id);

/*
 * Masks every string field named id_number or phone in msg and the
 * messages below it ("320602********123X", "138****5678"), replacing the
 * strings with copies in arena. Returns SG_ENOMEM if the arena is full.
 */
int sg_mask_pii(ProtobufCMessage *msg, sg_arena *arena);
/*
 * sg_mask_pii on a packed message of type d: copies in to arena memory with
 * its top-level id_number and phone values masked (at most two of them, of
 * at most 63 bytes each); every other field is copied byte for byte.
 * SG_EINVAL when d nests messages that can carry personal data or a value
 * is outside those bounds (decode and sg_mask_pii instead), SG_EDATALOSS
 * for bytes that do not parse, SG_ENOMEM when the arena is full.
 */
int sg_mask_pii_wire(const ProtobufCMessageDescriptor *d, const uint8_t *in, size_t len,
                     sg_arena *arena, uint8_t **out, size_t *out_len);
/* True when messages of type d can carry id_number or phone fields. */
int sg_message_has_pii(const ProtobufCMessageDescriptor *d);
/* Writes the masked form of an ID number (out >= 19) or phone (out >= 32). */
void sg_mask_idno(const char *in, char *out, size_t n);
void sg_mask_phone(const char *in, char *out, size_t n);

/*
 * Appends an audit entry (its seq assigned here) in txn. A short target
 * for a request or response: "Worker 42", "Unit 320602001", from the first
 * of its id, code, unit_code, town_code, parent_code fields that is set.
 */
int sg_audit_append(sg_store *s, MDB_txn *txn, Shegong__V1__AuditEntry *e);
void sg_audit_target(const ProtobufCMessage *msg, char *out, size_t n);

/* Fills an audit entry for a call (strings point into the arguments). */
void sg_audit_fill(Shegong__V1__AuditEntry *e, const sg_principal *p, const char *peer,
                   const char *method, const char *target, const sg_status *st, const char *event,
                   const char *time);

/* "district_admin" for SHEGONG__V1__PRINCIPAL_ROLE__DISTRICT_ADMIN. */
const char *sg_role_name(int role);

#endif
