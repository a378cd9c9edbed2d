/*
 * Security end to end, against a real shegongd with a demo district:
 *
 *  - the access matrix: every method of the method table (sg_methods_at) x
 *    every kind of principal x own town / other town / the district, each
 *    call's outcome checked against a table written from the rules in
 *    auth.proto (not from the server's acl[]), and every refused write
 *    checked to have changed nothing;
 *  - town scope inside lists and streams, and inside Sync/Push;
 *  - masking of ID numbers and phone numbers for tokens without pii, in
 *    every response shape and through the CLI's three output formats;
 *  - the audit log: refused calls, writes and personal-data reads;
 *  - the token lifecycle: secrets shown once, revocation, expiry, bad
 *    requests, the bootstrap admin token across a restart;
 *  - the pre-authentication limits (frame size, idle time);
 *  - and at the end, no ID number and no token secret in the server's log.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "harness.h"
#include "rawsock.h"
#include "shegong.h"
#include "shegong/v1/admin.pb-c.h"
#include "shegong/v1/reports.pb-c.h"
#include "shegong/v1/assessments.pb-c.h"
#include "shegong/v1/audit.pb-c.h"
#include "shegong/v1/auth.pb-c.h"
#include "shegong/v1/policy.pb-c.h"
#include "shegong/v1/sync.pb-c.h"
#include "shegong/v1/training.pb-c.h"
#include "shegong/v1/transfers.pb-c.h"
#include "shegong/v1/units.pb-c.h"
#include "shegong/v1/workers.pb-c.h"
#include "timeutil.h"
#include "validate.h"

#define CALL_MS 15000
#define DISTRICT "320602"
#define TOWN1 "320602001"
#define TOWN2 "320602002"

/* wire status codes */
#define C_OK 0
#define C_CANCELLED 1
#define C_INVALID 3
#define C_DENIED 7
#define C_EXHAUSTED 8
#define C_UNAUTH 16

#define ROLE_ADMIN SHEGONG__V1__PRINCIPAL_ROLE__DISTRICT_ADMIN
#define ROLE_TOWN SHEGONG__V1__PRINCIPAL_ROLE__TOWN_OPERATOR
#define ROLE_AUDITOR SHEGONG__V1__PRINCIPAL_ROLE__AUDITOR
#define ROLE_SERVICE SHEGONG__V1__PRINCIPAL_ROLE__SERVICE

/* ------------------------------------------------------------------------ */
/* Principals */

enum {
  P_ADMIN_PII,
  P_ADMIN,
  P_TOWN,
  P_AUDITOR,
  P_SVC_GET,
  P_SVC_TOWN_LIST,
  P_NONE,
  P_REVOKED,
  P_EXPIRED,
  N_PRINCIPALS
};

typedef struct principal {
  const char *name;
  int role;           /* 0: no token at all */
  int pii;
  const char *town;   /* scope, or NULL */
  const char *method; /* SERVICE: the one method it lists */
  int valid;          /* the token authenticates */
  char secret[160];
  uint64_t id;
} principal;

static principal P[N_PRINCIPALS] = {
    [P_ADMIN_PII] = {"district_admin+pii", ROLE_ADMIN, 1, NULL, NULL, 1, "", 0},
    [P_ADMIN] = {"district_admin", ROLE_ADMIN, 0, NULL, NULL, 1, "", 0},
    [P_TOWN] = {"town_operator(" TOWN1 ")", ROLE_TOWN, 0, TOWN1, NULL, 1, "", 0},
    [P_AUDITOR] = {"auditor", ROLE_AUDITOR, 0, NULL, NULL, 1, "", 0},
    [P_SVC_GET] = {"service{Workers/Get}", ROLE_SERVICE, 0, NULL, "Workers/Get", 1, "", 0},
    [P_SVC_TOWN_LIST] = {"service(" TOWN1 "){Workers/List}", ROLE_SERVICE, 0, TOWN1,
                         "Workers/List", 1, "", 0},
    [P_NONE] = {"no token", 0, 0, NULL, NULL, 0, "", 0},
    [P_REVOKED] = {"revoked token", ROLE_ADMIN, 1, NULL, NULL, 0, "", 0},
    [P_EXPIRED] = {"expired token", ROLE_ADMIN, 1, NULL, NULL, 0, "", 0},
};

typedef struct fx {
  hs_server srv;
  sg_client *c;      /* the bootstrap admin token (pii) */
  time_t expires;    /* when P_EXPIRED's token expires */
  unsigned serial;   /* makes codes, ID numbers and mutation ids unique */
  uint64_t consumed[512]; /* workers that left or moved: not picked again */
  size_t n_consumed;
  uint64_t last_head; /* the last head revision seen */
} fx;

static fx *G;

/* Every token secret this suite saw: none may appear in the server's log. */
static char secrets[1024][160];
static size_t n_secrets;

static void remember_secret(const char *s) {
  if (n_secrets < sizeof secrets / sizeof secrets[0] && s && s[0])
    snprintf(secrets[n_secrets++], sizeof secrets[0], "%s", s);
}

static void free_msg(void *m) {
  if (m) protobuf_c_message_free_unpacked((ProtobufCMessage *)m, NULL);
}

/* ------------------------------------------------------------------------ */
/* Small helpers */

/* The first [0-9]{17}[0-9X] in s[0..n), or NULL. */
static const char *find_idno(const char *s, size_t n) {
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] >= '0' && s[i] <= '9') {
      if (++run >= 18) return s + i - 17;
    } else {
      if (s[i] == 'X' && run >= 17) return s + i - 17;
      run = 0;
    }
  }
  return NULL;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* "320602********123X": 6 + 8 stars + 4 */
static int is_masked_idno(const char *s) {
  if (!s || strlen(s) != 18) return 0;
  for (int i = 0; i < 6; i++)
    if (!is_digit(s[i])) return 0;
  for (int i = 6; i < 14; i++)
    if (s[i] != '*') return 0;
  for (int i = 14; i < 18; i++)
    if (!is_digit(s[i]) && s[i] != 'X') return 0;
  return 1;
}

static int is_clear_idno(const char *s) { return s && strlen(s) == 18 && find_idno(s, 18) == s; }

/* "138****5678": 3 + 4 stars + 4 */
static int is_masked_phone(const char *s) {
  if (!s || strlen(s) != 11) return 0;
  for (int i = 0; i < 11; i++)
    if ((s[i] == '*') != (i >= 3 && i < 7)) return 0;
  return 1;
}

static int is_clear_phone(const char *s) {
  if (!s || strlen(s) < 7) return 0;
  for (const char *p = s; *p; p++)
    if (!is_digit(*p) && *p != '-') return 0;
  return 1;
}

/* A worker as a token without pii must see it. */
static void check_masked(const Shegong__V1__Worker *w, const char *where) {
  if (!is_masked_idno(w->id_number))
    fail_msg("%s: worker %llu: id_number \"%s\" is not masked as XXXXXX********XXXX", where,
             (unsigned long long)w->id, w->id_number);
  if (w->phone[0] && !is_masked_phone(w->phone))
    fail_msg("%s: worker %llu: phone \"%s\" is not masked as XXX****XXXX", where,
             (unsigned long long)w->id, w->phone);
}

/* A worker as a token with pii must see it. */
static void check_clear(const Shegong__V1__Worker *w, const char *where) {
  if (!is_clear_idno(w->id_number))
    fail_msg("%s: worker %llu: id_number \"%s\" is not in clear", where, (unsigned long long)w->id,
             w->id_number);
  if (w->phone[0] && !is_clear_phone(w->phone))
    fail_msg("%s: worker %llu: phone \"%s\" is not in clear", where, (unsigned long long)w->id,
             w->phone);
}

/* The masked form agrees with the clear one: same area code, same last four. */
static void check_mask_matches(const Shegong__V1__Worker *masked, const Shegong__V1__Worker *clear) {
  char want[32];
  snprintf(want, sizeof want, "%.6s********%s", clear->id_number, clear->id_number + 14);
  assert_string_equal(masked->id_number, want);
  if (strlen(clear->phone) >= 8) {
    size_t n = strlen(clear->phone);
    snprintf(want, sizeof want, "%.3s****%s", clear->phone, clear->phone + n - 4);
    assert_string_equal(masked->phone, want);
  }
}

static void rfc3339_at(time_t t, char *out, size_t n) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A new connection to the shared server carrying secret (NULL or "": no token at all). */
static sg_client *connect_with(const char *secret) {
  sg_client *c = NULL;
  sg_status st;
  /* the library takes $SHEGONG_TOKEN_FILE at connect: leave it out for "no token" */
  hs_use_token_file(NULL);
  int rc = sg_client_connect(&c, G->srv.addr, 5000, &st);
  hs_use_token_file(G->srv.token_file);
  if (rc) fail_msg("connect: %s: %s", sg_code_name(st.code), st.message);
  if (secret && secret[0]) assert_int_equal(sg_client_set_token(c, secret), 0);
  return c;
}

static sg_client *connect_as(int p) { return connect_with(P[p].role ? P[p].secret : NULL); }

/* A call that must succeed; the caller frees the answer. */
static ProtobufCMessage *must_call(sg_client *c, const char *method, const ProtobufCMessage *req) {
  ProtobufCMessage *resp = NULL;
  sg_status st;
  int rc = sg_call(c, method, req, &resp, CALL_MS, &st);
  if (rc) fail_msg("%s: %s: %s", method, sg_code_name(st.code), st.message);
  return resp;
}

/* The wire code of a unary call (the answer is dropped). */
static int call_code(sg_client *c, const char *method, const ProtobufCMessage *req, sg_status *st) {
  ProtobufCMessage *resp = NULL;
  sg_status local;
  if (!st) st = &local;
  sg_call(c, method, req, &resp, CALL_MS, st);
  free_msg(resp);
  return st->code;
}

/* Creates a token with the bootstrap admin; 0 and the secret, or an SG_E* code. */
static int create_token(sg_client *c, int role, const char *town, int pii, const char *method,
                        const char *expires, const char *name, char *secret, size_t n,
                        uint64_t *id, sg_status *st) {
  Shegong__V1__Token t = SHEGONG__V1__TOKEN__INIT;
  Shegong__V1__CreateTokenRequest req = SHEGONG__V1__CREATE_TOKEN_REQUEST__INIT;
  char *methods[1] = {(char *)method};
  t.role = (Shegong__V1__PrincipalRole)role;
  t.town_code = (char *)(town ? town : "");
  t.pii = pii;
  if (method) {
    t.n_methods = 1;
    t.methods = methods;
  }
  t.expires_at = (char *)(expires ? expires : "");
  t.name = (char *)name;
  req.token = &t;
  ProtobufCMessage *resp = NULL;
  int rc = sg_call(c, "Tokens/Create", &req.base, &resp, CALL_MS, st);
  if (rc) return rc;
  Shegong__V1__CreateTokenResponse *r = (Shegong__V1__CreateTokenResponse *)resp;
  remember_secret(r->secret);
  snprintf(secret, n, "%s", r->secret);
  if (id) *id = r->token->id;
  free_msg(resp);
  return 0;
}

static uint64_t make_token(int role, const char *town, int pii, const char *method,
                           const char *expires, const char *name, char *secret, size_t n) {
  uint64_t id = 0;
  sg_status st;
  if (create_token(G->c, role, town, pii, method, expires, name, secret, n, &id, &st))
    fail_msg("Tokens/Create: %s: %s", sg_code_name(st.code), st.message);
  return id;
}

static int revoke_token(sg_client *c, uint64_t id, sg_status *st) {
  Shegong__V1__RevokeTokenRequest r = SHEGONG__V1__REVOKE_TOKEN_REQUEST__INIT;
  r.id = id;
  ProtobufCMessage *resp = NULL;
  int rc = sg_call(c, "Tokens/Revoke", &r.base, &resp, CALL_MS, st);
  free_msg(resp);
  return rc;
}

/* What WhoAmI answers to a fresh connection with secret. */
static int whoami_code(const char *secret) {
  sg_client *c = connect_with(secret);
  Shegong__V1__WhoAmIRequest w = SHEGONG__V1__WHO_AM_IREQUEST__INIT;
  int code = call_code(c, "Tokens/WhoAmI", &w.base, NULL);
  sg_client_close(c);
  return code;
}

static size_t count_tokens(void) {
  Shegong__V1__ListTokensRequest l = SHEGONG__V1__LIST_TOKENS_REQUEST__INIT;
  l.include_revoked = 1;
  Shegong__V1__ListTokensResponse *r =
      (Shegong__V1__ListTokensResponse *)must_call(G->c, "Tokens/List", &l.base);
  size_t n = r->n_tokens;
  free_msg(r);
  return n;
}

/* ---- streams ------------------------------------------------------------ */

typedef struct stream {
  ProtobufCMessage **msgs;
  size_t n;
} stream;

static void stream_free(stream *s) {
  for (size_t i = 0; i < s->n; i++) free_msg(s->msgs[i]);
  free(s->msgs);
  memset(s, 0, sizeof *s);
}

/* A whole server stream; returns the final wire code (0: ended OK). */
static int stream_all(sg_client *c, const char *method, const ProtobufCMessage *req, stream *out,
                      sg_status *st) {
  memset(out, 0, sizeof *out);
  uint32_t id;
  if (sg_call_send(c, method, req, CALL_MS, &id, st)) return st->code;
  for (;;) {
    ProtobufCMessage *m = NULL;
    int rc = sg_stream_next(c, id, &m, CALL_MS, st);
    if (rc == 1) return C_OK;
    if (rc < 0) return st->code;
    out->msgs = realloc(out->msgs, (out->n + 1) * sizeof *out->msgs);
    assert_non_null(out->msgs);
    out->msgs[out->n++] = m;
  }
}

/* Pull of the whole district (admin): the head revision and the changes after since. */
static size_t changes_since(uint64_t since, uint64_t *head) {
  Shegong__V1__PullRequest r = SHEGONG__V1__PULL_REQUEST__INIT;
  r.town_code = "";
  r.since = since;
  r.limit = 1000;
  stream s;
  sg_status st;
  int code = stream_all(G->c, "Sync/Pull", &r.base, &s, &st);
  if (code) fail_msg("Sync/Pull since %llu: %s: %s", (unsigned long long)since,
                     sg_code_name(code), st.message);
  size_t n = 0;
  for (size_t i = 0; i < s.n; i++) {
    Shegong__V1__PullResponse *p = (Shegong__V1__PullResponse *)s.msgs[i];
    n += p->n_changes;
    if (p->head_revision && head) *head = p->head_revision;
  }
  stream_free(&s);
  return n;
}

/* The head revision (from the last one seen: a pull from 0 would break on compaction). */
static uint64_t head_revision(void) {
  Shegong__V1__PullRequest r = SHEGONG__V1__PULL_REQUEST__INIT;
  r.town_code = "";
  r.since = G->last_head;
  r.limit = 1;
  stream s;
  sg_status st;
  int code = stream_all(G->c, "Sync/Pull", &r.base, &s, &st);
  if (code) fail_msg("Sync/Pull: %s: %s", sg_code_name(code), st.message);
  uint64_t head = 0;
  for (size_t i = 0; i < s.n; i++)
    if (((Shegong__V1__PullResponse *)s.msgs[i])->head_revision)
      head = ((Shegong__V1__PullResponse *)s.msgs[i])->head_revision;
  stream_free(&s);
  assert_true(head > 0);
  G->last_head = head;
  return head;
}

/* ---- data --------------------------------------------------------------- */

static int consumed(uint64_t id) {
  for (size_t i = 0; i < G->n_consumed; i++)
    if (G->consumed[i] == id) return 1;
  return 0;
}

static void consume(uint64_t id) {
  if (G->n_consumed < sizeof G->consumed / sizeof G->consumed[0]) G->consumed[G->n_consumed++] = id;
}

/* The workers of town (admin, pii), active ones only; the caller frees. */
static Shegong__V1__ListWorkersResponse *town_workers(sg_client *c, const char *town) {
  Shegong__V1__ListWorkersRequest l = SHEGONG__V1__LIST_WORKERS_REQUEST__INIT;
  l.town_code = (char *)town;
  l.page_size = 1000;
  Shegong__V1__ListWorkersResponse *r =
      (Shegong__V1__ListWorkersResponse *)must_call(c, "Workers/List", &l.base);
  assert_string_equal(r->next_page_token, "");
  return r;
}

typedef struct picked {
  uint64_t id, version;
  uint32_t level;
  char unit_code[24];
} picked;

/* An active community or village worker of town that no test has used up, and
 * for which ok (when given) holds. */
static picked pick_worker_if(const char *town, int use_up, int (*ok)(const Shegong__V1__Worker *)) {
  Shegong__V1__ListWorkersResponse *r = town_workers(G->c, town);
  picked p = {0, 0, 0, ""};
  for (size_t i = 0; i < r->n_workers && !p.id; i++) {
    Shegong__V1__Worker *w = r->workers[i];
    if (w->status == SHEGONG__V1__WORKER_STATUS__LEFT ||
        w->category == SHEGONG__V1__CATEGORY__TOWN_CENTRE || strcmp(w->town_code, town) != 0 ||
        consumed(w->id) || (ok && !ok(w)))
      continue;
    p.id = w->id;
    p.version = w->version;
    p.level = w->level;
    snprintf(p.unit_code, sizeof p.unit_code, "%s", w->unit_code);
  }
  free_msg(r);
  if (!p.id) fail_msg("no worker of town %s left to use", town);
  if (use_up) consume(p.id);
  return p;
}

static picked pick_worker(const char *town, int use_up) { return pick_worker_if(town, use_up, NULL); }

static Shegong__V1__Worker *get_worker(sg_client *c, uint64_t id) {
  Shegong__V1__GetWorkerRequest g = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
  g.id = id;
  return (Shegong__V1__Worker *)must_call(c, "Workers/Get", &g.base);
}

/* A new, valid, unique ID number (Dongcheng, Beijing, born 1985). */
static void new_idno(char out[19]) {
  unsigned n = ++G->serial;
  snprintf(out, 19, "110101%04u%02u%02u%03u", 1985u, 1u + (n / 900) % 12, 1u + (n / 900 / 12) % 28,
           n % 900 + 100);
  out[17] = sg_idno_check_char(out);
  out[18] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Request builders, one per method */

enum { T_NA, T_OWN, T_OTHER, T_DISTRICT };
static const char *const target_names[] = {"-", "own town", "other town", "district"};

typedef struct reqbuf {
  Shegong__V1__HelloRequest hello;
  Shegong__V1__CompactRequest compact;
  Shegong__V1__BackupRequest backup;
  char backup_dir[64];
  Shegong__V1__ListAuditRequest audit;
  Shegong__V1__PullRequest pull;
  Shegong__V1__SnapshotRequest snap;
  Shegong__V1__WatchRequest watch;
  Shegong__V1__PushRequest push;
  Shegong__V1__Mutation mut, *muts[1];
  Shegong__V1__CreateTokenRequest ctok;
  Shegong__V1__Token tok;
  Shegong__V1__ListTokensRequest ltok;
  Shegong__V1__RevokeTokenRequest rtok;
  Shegong__V1__WhoAmIRequest who;
  Shegong__V1__CreateUnitRequest cunit;
  Shegong__V1__Unit unit;
  Shegong__V1__GetUnitRequest gunit;
  Shegong__V1__ListUnitsRequest lunit;
  Shegong__V1__CreateWorkerRequest cwork;
  Shegong__V1__GetWorkerRequest gwork;
  Shegong__V1__UpdateWorkerRequest uwork;
  Shegong__V1__LeaveWorkerRequest lwork;
  Shegong__V1__ListWorkersRequest lworks;
  Shegong__V1__ChangeLevelRequest clevel;
  Shegong__V1__LevelHistoryRequest hist;
  Shegong__V1__Worker w;
  Shegong__V1__GetPolicyRequest gpol;
  Shegong__V1__SetPolicyRequest spol;
  Shegong__V1__Policy pol;
  Shegong__V1__AssessmentPolicy apol;
  Shegong__V1__TrainingPolicy tpol;
  Shegong__V1__PayLadder ladder;
  Shegong__V1__PayPost post[4], *posts[4];
  Shegong__V1__RecordAssessmentRequest rec, *recs[1];
  Shegong__V1__Assessment as;
  Shegong__V1__AmendAssessmentRequest amend;
  Shegong__V1__ListAssessmentsRequest lass;
  Shegong__V1__BulkAssessmentRequest bulk;
  Shegong__V1__SetVisitsRequest visits;
  Shegong__V1__VisitsReportRequest vreport;
  Shegong__V1__StaffingRequest staffing;
  Shegong__V1__WorkerRecordsRequest wrec;
  uint64_t wrec_ids[1];
  Shegong__V1__TurnoverRequest turnover;
  Shegong__V1__CertificationRequest cert;
  Shegong__V1__StructureRequest structure;
  Shegong__V1__HiringRequest hiring;
  Shegong__V1__EligibilityRequest elig;
  Shegong__V1__CreateCourseRequest ccourse;
  Shegong__V1__Course course;
  Shegong__V1__ListCoursesRequest lcourse;
  Shegong__V1__AttendRequest attend;
  uint64_t attend_ids[1];
  Shegong__V1__ListAttendanceRequest latt;
  Shegong__V1__ComplianceRequest compliance;
  Shegong__V1__ProposeTransferRequest ptr;
  Shegong__V1__Transfer tr;
  Shegong__V1__DecideTransferRequest decide;
  Shegong__V1__CancelTransferRequest ctr;
  Shegong__V1__GetTransferRequest gtr;
  Shegong__V1__ListTransfersRequest ltr;
  Shegong__V1__ApplyTransfersRequest atr;
  Shegong__V1__EndTransferRequest etr;
  Shegong__V1__ProposeConversionsRequest pconv;
  Shegong__V1__PlacementReportRequest preport;
  Shegong__V1__WorkerHistoryRequest whist;
  char *mask[2];
  char s[6][160];
  uint64_t token_id; /* Tokens/Revoke: the throwaway token */
  char token_secret[160];
  uint64_t worker_id;
  uint64_t transfer_id;
} reqbuf;

typedef const ProtobufCMessage *(*build_fn)(reqbuf *b, int target, int allowed);

static const char *town_of(int target) { return target == T_OTHER ? TOWN2 : TOWN1; }

static const ProtobufCMessage *b_hello(reqbuf *b, int t, int allowed) {
  (void)t, (void)allowed;
  shegong__v1__hello_request__init(&b->hello);
  b->hello.client = "test_security";
  b->hello.protocol_version = 1;
  return &b->hello.base;
}

/* A backup into a fresh empty directory (left in /tmp's shegong-sec-backup-*: small). */
static const ProtobufCMessage *b_backup(reqbuf *b, int t, int allowed) {
  (void)t;
  (void)allowed;
  shegong__v1__backup_request__init(&b->backup);
  snprintf(b->backup_dir, sizeof b->backup_dir, "/tmp/shegong-sec-backup-XXXXXX");
  assert_non_null(mkdtemp(b->backup_dir));
  b->backup.directory = b->backup_dir;
  return &b->backup.base;
}

static const ProtobufCMessage *b_compact(reqbuf *b, int t, int allowed) {
  (void)t;
  shegong__v1__compact_request__init(&b->compact);
  /* allowed: keep everything (a no-op); refused: keep 1, which would show */
  b->compact.keep = allowed ? 1000000 : 1;
  return &b->compact.base;
}

static const ProtobufCMessage *b_audit_list(reqbuf *b, int t, int allowed) {
  (void)t, (void)allowed;
  shegong__v1__list_audit_request__init(&b->audit);
  b->audit.page_size = 5;
  return &b->audit.base;
}

static const char *town_or_district(int t) { return t == T_DISTRICT ? "" : town_of(t); }

static const ProtobufCMessage *b_pull(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__pull_request__init(&b->pull);
  b->pull.town_code = (char *)town_or_district(t);
  b->pull.since = head_revision() - 1;
  b->pull.limit = 10;
  return &b->pull.base;
}

static const ProtobufCMessage *b_snapshot(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__snapshot_request__init(&b->snap);
  b->snap.town_code = (char *)town_or_district(t);
  return &b->snap.base;
}

static const ProtobufCMessage *b_watch(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__watch_request__init(&b->watch);
  b->watch.town_code = (char *)town_or_district(t);
  b->watch.since = head_revision();
  return &b->watch.base;
}

/* A unit to create: a community of the town, or (district) a new town. */
static void fill_new_unit(reqbuf *b, int t) {
  shegong__v1__unit__init(&b->unit);
  unsigned n = ++G->serial;
  if (t == T_DISTRICT) {
    b->unit.kind = SHEGONG__V1__UNIT_KIND__TOWN;
    snprintf(b->s[0], sizeof b->s[0], "%s%03u", DISTRICT, 100 + n % 100);
    snprintf(b->s[1], sizeof b->s[1], "安全测试镇%u", n);
  } else {
    b->unit.kind = SHEGONG__V1__UNIT_KIND__COMMUNITY;
    snprintf(b->s[0], sizeof b->s[0], "%s%03u", town_of(t), 100 + n % 100);
    snprintf(b->s[1], sizeof b->s[1], "安全测试社区%u", n);
  }
  b->unit.code = b->s[0];
  b->unit.name = b->s[1];
  b->unit.households = 100;
  b->unit.residents = 250;
}

static const ProtobufCMessage *b_unit_create(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__create_unit_request__init(&b->cunit);
  fill_new_unit(b, t);
  b->cunit.unit = &b->unit;
  return &b->cunit.base;
}

static const ProtobufCMessage *b_unit_get(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__get_unit_request__init(&b->gunit);
  if (t == T_DISTRICT) snprintf(b->s[0], sizeof b->s[0], "%s", DISTRICT);
  else snprintf(b->s[0], sizeof b->s[0], "%s001", town_of(t)); /* its first community */
  b->gunit.code = b->s[0];
  return &b->gunit.base;
}

static const ProtobufCMessage *b_unit_list(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__list_units_request__init(&b->lunit);
  b->lunit.parent_code = (char *)town_or_district(t);
  b->lunit.page_size = 5;
  return &b->lunit.base;
}

/* A new worker of the town's first community. */
static void fill_new_worker(reqbuf *b, int t) {
  shegong__v1__worker__init(&b->w);
  new_idno(b->s[0]);
  snprintf(b->s[1], sizeof b->s[1], "%s001", town_of(t));
  snprintf(b->s[2], sizeof b->s[2], "139%08u", 10000000u + G->serial);
  b->w.name = "安全测试";
  b->w.id_number = b->s[0];
  b->w.phone = b->s[2];
  b->w.category = SHEGONG__V1__CATEGORY__COMMUNITY_BASED;
  b->w.role = SHEGONG__V1__ROLE__GENERALIST;
  b->w.unit_code = b->s[1];
  b->w.hire_date = "2020-03-01";
}

static const ProtobufCMessage *b_worker_create(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__create_worker_request__init(&b->cwork);
  fill_new_worker(b, t);
  b->cwork.worker = &b->w;
  return &b->cwork.base;
}

static const ProtobufCMessage *b_worker_get(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__get_worker_request__init(&b->gwork);
  b->gwork.id = b->worker_id = pick_worker(town_of(t), 0).id;
  return &b->gwork.base;
}

/* own/other town: a level change; district: moving an own-town worker to the other town */
static void fill_update(reqbuf *b, int t, int allowed) {
  shegong__v1__update_worker_request__init(&b->uwork);
  shegong__v1__worker__init(&b->w);
  if (t == T_DISTRICT) {
    picked p = pick_worker(TOWN1, allowed);
    b->uwork.id = b->worker_id = p.id;
    b->uwork.expected_version = p.version;
    snprintf(b->s[0], sizeof b->s[0], "%s001", TOWN2);
    b->w.unit_code = b->s[0];
    b->w.grid_code = "";
    b->mask[0] = "unit_code";
    b->mask[1] = "grid_code";
    b->uwork.n_update_mask = 2;
  } else {
    picked p = pick_worker(town_of(t), 0);
    b->uwork.id = b->worker_id = p.id;
    b->uwork.expected_version = p.version;
    b->w.level = p.level % 12 + 1;
    b->mask[0] = "level";
    b->uwork.n_update_mask = 1;
  }
  b->uwork.update_mask = b->mask;
  b->uwork.worker = &b->w;
}

static const ProtobufCMessage *b_worker_update(reqbuf *b, int t, int allowed) {
  fill_update(b, t, allowed);
  return &b->uwork.base;
}

static const ProtobufCMessage *b_worker_leave(reqbuf *b, int t, int allowed) {
  shegong__v1__leave_worker_request__init(&b->lwork);
  picked p = pick_worker(town_of(t), allowed);
  b->lwork.id = b->worker_id = p.id;
  b->lwork.expected_version = p.version;
  sg_today(b->s[0], sizeof b->s[0]);
  b->lwork.leave_date = b->s[0];
  b->lwork.reason = "安全测试：离职";
  return &b->lwork.base;
}

static const ProtobufCMessage *b_worker_list(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__list_workers_request__init(&b->lworks);
  b->lworks.town_code = (char *)town_or_district(t);
  b->lworks.page_size = 5;
  return &b->lworks.base;
}

/* own/other town: a worker's level change; district: a new town */
static const ProtobufCMessage *b_push(reqbuf *b, int t, int allowed) {
  shegong__v1__push_request__init(&b->push);
  shegong__v1__mutation__init(&b->mut);
  snprintf(b->s[5], sizeof b->s[5], "security-matrix-%u", ++G->serial);
  b->mut.mutation_id = b->s[5];
  if (t == T_DISTRICT) {
    shegong__v1__create_unit_request__init(&b->cunit);
    fill_new_unit(b, t);
    b->cunit.unit = &b->unit;
    b->mut.op_case = SHEGONG__V1__MUTATION__OP_CREATE_UNIT;
    b->mut.create_unit = &b->cunit;
  } else {
    fill_update(b, t, allowed);
    b->mut.op_case = SHEGONG__V1__MUTATION__OP_UPDATE_WORKER;
    b->mut.update_worker = &b->uwork;
  }
  b->push.client_id = "test_security";
  b->muts[0] = &b->mut;
  b->push.n_mutations = 1;
  b->push.mutations = b->muts;
  return &b->push.base;
}

static const ProtobufCMessage *b_token_create(reqbuf *b, int t, int allowed) {
  (void)t, (void)allowed;
  shegong__v1__create_token_request__init(&b->ctok);
  shegong__v1__token__init(&b->tok);
  /* the most powerful kind: a refused caller must not get one */
  b->tok.role = ROLE_ADMIN;
  b->tok.pii = 1;
  b->tok.name = "made by the matrix";
  b->ctok.token = &b->tok;
  return &b->ctok.base;
}

static const ProtobufCMessage *b_token_list(reqbuf *b, int t, int allowed) {
  (void)t, (void)allowed;
  shegong__v1__list_tokens_request__init(&b->ltok);
  b->ltok.include_revoked = 1;
  return &b->ltok.base;
}

static const ProtobufCMessage *b_token_revoke(reqbuf *b, int t, int allowed) {
  (void)t, (void)allowed;
  shegong__v1__revoke_token_request__init(&b->rtok);
  b->token_id = make_token(ROLE_AUDITOR, NULL, 0, NULL, NULL, "throwaway", b->token_secret,
                           sizeof b->token_secret);
  b->rtok.id = b->token_id;
  return &b->rtok.base;
}

static const ProtobufCMessage *b_whoami(reqbuf *b, int t, int allowed) {
  (void)t, (void)allowed;
  shegong__v1__who_am_irequest__init(&b->who);
  return &b->who.base;
}

/* ---- policy, assessments, training, level steps -------------------------- */

/* This year, by the clock the server reads too. */
static int this_year(void) {
  char today[16];
  sg_today(today, sizeof today);
  return atoi(today);
}

/* Hired before this year, on a post of the ladder (A-D): last year is in its
 * service (Record, Bulk, SetVisits), and a level change stays on the ladder. */
static int steady(const Shegong__V1__Worker *w) {
  char jan1[16];
  snprintf(jan1, sizeof jan1, "%04d-01-01", this_year());
  return w->hire_date[0] && strcmp(w->hire_date, jan1) < 0 && strlen(w->post) == 1 &&
         w->post[0] >= 'A' && w->post[0] <= 'D';
}

static const ProtobufCMessage *b_policy_get(reqbuf *b, int t, int allowed) {
  (void)t, (void)allowed;
  shegong__v1__get_policy_request__init(&b->gpol);
  return &b->gpol.base;
}

/* A whole valid policy with 崇川's ladder (Eligibility needs one, ChangeLevel
 * checks against it), over the current version as the admin reads it. */
static const ProtobufCMessage *b_policy_set(reqbuf *b, int t, int allowed) {
  (void)t, (void)allowed;
  static const char *const post_names[4] = {"A", "B", "C", "D"};
  shegong__v1__get_policy_request__init(&b->gpol);
  Shegong__V1__Policy *cur = (Shegong__V1__Policy *)must_call(G->c, "Policies/Get", &b->gpol.base);
  shegong__v1__set_policy_request__init(&b->spol);
  b->spol.expected_version = cur->version;
  free_msg(cur);
  shegong__v1__assessment_policy__init(&b->apol);
  b->apol.superior_weight = 70;
  b->apol.resident_weight = 30;
  b->apol.excellent_min = 90;
  b->apol.qualified_min = 75;
  b->apol.basic_min = 60;
  b->apol.visit_minimum = 200;
  shegong__v1__training_policy__init(&b->tpol);
  b->tpol.pre_service_grace_days = 30;
  shegong__v1__pay_ladder__init(&b->ladder);
  for (int i = 0; i < 4; i++) {
    shegong__v1__pay_post__init(&b->post[i]);
    b->post[i].name = (char *)post_names[i];
    b->post[i].min_level = 1;
    b->post[i].max_level = 12;
    b->posts[i] = &b->post[i];
  }
  b->ladder.name = "四岗十二档";
  b->ladder.n_posts = 4;
  b->ladder.posts = b->posts;
  b->ladder.periodic_step_years = 4;
  b->ladder.early_step_excellent_years = 2;
  shegong__v1__policy__init(&b->pol);
  snprintf(b->s[0], sizeof b->s[0], "安全测试 %u", ++G->serial);
  b->pol.name = b->s[0];
  b->pol.assessment = &b->apol;
  b->pol.training = &b->tpol;
  b->pol.ladder = &b->ladder;
  b->spol.policy = &b->pol;
  return &b->spol.base;
}

/* A 专项 result of last year for worker (专项 may repeat: reruns do not collide). */
static void fill_assessment(reqbuf *b, uint64_t worker) {
  shegong__v1__assessment__init(&b->as);
  sg_today(b->s[0], sizeof b->s[0]);
  b->as.worker_id = worker;
  b->as.kind = SHEGONG__V1__ASSESSMENT_KIND__SPECIAL;
  b->as.year = (uint32_t)this_year() - 1;
  b->as.superior_score = 88;
  b->as.resident_score = 90;
  b->as.assessor = "安全测试";
  b->as.assessed_on = b->s[0];
  shegong__v1__record_assessment_request__init(&b->rec);
  b->rec.assessment = &b->as;
}

static const ProtobufCMessage *b_assess_record(reqbuf *b, int t, int allowed) {
  (void)allowed;
  fill_assessment(b, b->worker_id = pick_worker_if(town_of(t), 0, steady).id);
  return &b->rec.base;
}

/* A new score for a result the admin records first. */
static const ProtobufCMessage *b_assess_amend(reqbuf *b, int t, int allowed) {
  (void)allowed;
  fill_assessment(b, b->worker_id = pick_worker_if(town_of(t), 0, steady).id);
  Shegong__V1__Assessment *a =
      (Shegong__V1__Assessment *)must_call(G->c, "Assessments/Record", &b->rec.base);
  shegong__v1__amend_assessment_request__init(&b->amend);
  b->amend.id = a->id;
  b->amend.expected_version = a->version;
  free_msg(a);
  shegong__v1__assessment__init(&b->as);
  b->as.superior_score = 86;
  b->mask[0] = "superior_score";
  b->amend.n_update_mask = 1;
  b->amend.update_mask = b->mask;
  b->amend.assessment = &b->as;
  return &b->amend.base;
}

/* One row, for a worker of the unit named. */
static const ProtobufCMessage *b_assess_bulk(reqbuf *b, int t, int allowed) {
  (void)allowed;
  picked p = pick_worker_if(town_of(t), 0, steady);
  fill_assessment(b, b->worker_id = p.id);
  shegong__v1__bulk_assessment_request__init(&b->bulk);
  snprintf(b->s[1], sizeof b->s[1], "%s", p.unit_code);
  b->bulk.unit_code = b->s[1];
  b->recs[0] = &b->rec;
  b->bulk.n_rows = 1;
  b->bulk.rows = b->recs;
  return &b->bulk.base;
}

static const ProtobufCMessage *b_assess_list(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__list_assessments_request__init(&b->lass);
  b->lass.worker_id = b->worker_id = pick_worker(town_of(t), 0).id;
  return &b->lass.base;
}

static const ProtobufCMessage *b_set_visits(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__set_visits_request__init(&b->visits);
  b->visits.worker_id = b->worker_id = pick_worker_if(town_of(t), 0, steady).id;
  b->visits.year = (uint32_t)this_year() - 1;
  b->visits.count = 210;
  return &b->visits.base;
}

static const ProtobufCMessage *b_visits_report(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__visits_report_request__init(&b->vreport);
  b->vreport.town_code = (char *)town_or_district(t);
  return &b->vreport.base;
}

/* Reports: the town's figures, or the district's (a town token gets its own). */
static const ProtobufCMessage *b_staffing(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__staffing_request__init(&b->staffing);
  b->staffing.town_code = (char *)town_or_district(t);
  return &b->staffing.base;
}

static const ProtobufCMessage *b_turnover(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__turnover_request__init(&b->turnover);
  b->turnover.town_code = (char *)town_or_district(t);
  b->turnover.hired_from = 2015;
  b->turnover.hired_to = 2017;
  return &b->turnover.base;
}

static const ProtobufCMessage *b_certification(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__certification_request__init(&b->cert);
  b->cert.town_code = (char *)town_or_district(t);
  return &b->cert.base;
}

static const ProtobufCMessage *b_structure(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__structure_request__init(&b->structure);
  b->structure.town_code = (char *)town_or_district(t);
  return &b->structure.base;
}

static const ProtobufCMessage *b_hiring(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__hiring_request__init(&b->hiring);
  b->hiring.town_code = (char *)town_or_district(t);
  return &b->hiring.base;
}

static const ProtobufCMessage *b_eligibility(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__eligibility_request__init(&b->elig);
  b->elig.town_code = (char *)town_or_district(t);
  return &b->elig.base;
}

/* A course of town that ended last year. */
static void fill_course(reqbuf *b, const char *town) {
  int y = this_year() - 1;
  shegong__v1__course__init(&b->course);
  snprintf(b->s[0], sizeof b->s[0], "%04d-03-01", y);
  snprintf(b->s[1], sizeof b->s[1], "%04d-03-02", y);
  snprintf(b->s[2], sizeof b->s[2], "安全测试课程%u", ++G->serial);
  b->course.name = b->s[2];
  b->course.kind = SHEGONG__V1__COURSE_KIND__ANNUAL;
  b->course.hours = 8;
  b->course.start_date = b->s[0];
  b->course.end_date = b->s[1];
  b->course.town_code = (char *)town;
  shegong__v1__create_course_request__init(&b->ccourse);
  b->ccourse.course = &b->course;
}

static const ProtobufCMessage *b_course_create(reqbuf *b, int t, int allowed) {
  (void)allowed;
  fill_course(b, town_of(t));
  return &b->ccourse.base;
}

/* A worker of the town at a course of the town that the admin creates first
 * (a new course each time: attending twice answers ALREADY_EXISTS). */
static const ProtobufCMessage *b_attend(reqbuf *b, int t, int allowed) {
  (void)allowed;
  fill_course(b, town_of(t));
  Shegong__V1__Course *c =
      (Shegong__V1__Course *)must_call(G->c, "Training/CreateCourse", &b->ccourse.base);
  shegong__v1__attend_request__init(&b->attend);
  b->attend.course_id = c->id;
  free_msg(c);
  b->attend_ids[0] = b->worker_id = pick_worker(town_of(t), 0).id;
  b->attend.n_worker_ids = 1;
  b->attend.worker_ids = b->attend_ids;
  return &b->attend.base;
}

static const ProtobufCMessage *b_list_courses(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__list_courses_request__init(&b->lcourse);
  b->lcourse.town_code = (char *)town_or_district(t);
  return &b->lcourse.base;
}

static const ProtobufCMessage *b_list_attendance(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__list_attendance_request__init(&b->latt);
  b->latt.worker_id = b->worker_id = pick_worker(town_of(t), 0).id;
  return &b->latt.base;
}

static const ProtobufCMessage *b_compliance(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__compliance_request__init(&b->compliance);
  b->compliance.town_code = (char *)town_or_district(t);
  return &b->compliance.base;
}

/* An adjustment to another level of the same post (levels 1-12 on the ladder). */
static const ProtobufCMessage *b_change_level(reqbuf *b, int t, int allowed) {
  (void)allowed;
  picked p = pick_worker_if(town_of(t), 0, steady);
  shegong__v1__change_level_request__init(&b->clevel);
  b->clevel.id = b->worker_id = p.id;
  b->clevel.expected_version = p.version;
  b->clevel.kind = SHEGONG__V1__LEVEL_CHANGE_KIND__ADJUSTMENT;
  b->clevel.level = p.level % 12 + 1;
  b->clevel.reason = "安全测试";
  return &b->clevel.base;
}

static const ProtobufCMessage *b_level_history(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__level_history_request__init(&b->hist);
  b->hist.id = b->worker_id = pick_worker(town_of(t), 0).id;
  return &b->hist.base;
}

static const ProtobufCMessage *b_worker_records(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__worker_records_request__init(&b->wrec);
  b->wrec_ids[0] = b->worker_id = pick_worker(town_of(t), 0).id;
  b->wrec.worker_ids = b->wrec_ids;
  b->wrec.n_worker_ids = 1;
  return &b->wrec.base;
}

static const ProtobufCMessage *b_worker_history(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__worker_history_request__init(&b->whist);
  b->whist.id = b->worker_id = pick_worker(town_of(t), 0).id;
  return &b->whist.base;
}

/* ---- transfers ----------------------------------------------------------- */

/* The day `days` after today, by the calendar the server reads too (UTC+8). */
static void day_after(int days, char *out, size_t n) {
  char today[16];
  sg_date d;
  sg_today(today, sizeof today);
  assert_int_equal(sg_validate_date(today, &d, NULL, 0), 0);
  sg_date_from_days(sg_date_days(&d) + days, &d);
  sg_date_format(&d, out, n);
}

/* A new 全科社工 of the town's first community (no grid), made with the admin
 * token and kept from every other builder: a transfer leaves its worker busy
 * (one open transfer at a time) or away on rotation. */
static uint64_t fresh_worker(const char *town) {
  char idno[19], unit[16], phone[16];
  new_idno(idno);
  snprintf(unit, sizeof unit, "%s001", town);
  snprintf(phone, sizeof phone, "139%08u", 10000000u + G->serial);
  Shegong__V1__Worker w = SHEGONG__V1__WORKER__INIT;
  w.name = "安全测试";
  w.id_number = idno;
  w.phone = phone;
  w.category = SHEGONG__V1__CATEGORY__COMMUNITY_BASED;
  w.role = SHEGONG__V1__ROLE__GENERALIST;
  w.unit_code = unit;
  w.hire_date = "2020-03-01";
  Shegong__V1__CreateWorkerRequest r = SHEGONG__V1__CREATE_WORKER_REQUEST__INIT;
  r.worker = &w;
  Shegong__V1__Worker *got = (Shegong__V1__Worker *)must_call(G->c, "Workers/Create", &r.base);
  uint64_t id = got->id;
  free_msg(got);
  consume(id);
  return id;
}

/* A village of town (the demo keeps at least one in every town). */
static void village_of(const char *town, char *out, size_t n) {
  Shegong__V1__ListUnitsRequest l = SHEGONG__V1__LIST_UNITS_REQUEST__INIT;
  l.parent_code = (char *)town;
  l.kind = SHEGONG__V1__UNIT_KIND__VILLAGE;
  l.page_size = 1;
  Shegong__V1__ListUnitsResponse *r =
      (Shegong__V1__ListUnitsResponse *)must_call(G->c, "Units/List", &l.base);
  if (r->n_units == 0) fail_msg("town %s has no village", town);
  assert_int_equal(r->units[0]->kind, SHEGONG__V1__UNIT_KIND__VILLAGE);
  snprintf(out, n, "%s", r->units[0]->code);
  free_msg(r);
}

/* Proposes t with the admin token; the answer, PROPOSED (the caller frees). */
static Shegong__V1__Transfer *admin_propose(Shegong__V1__Transfer *t) {
  Shegong__V1__ProposeTransferRequest r = SHEGONG__V1__PROPOSE_TRANSFER_REQUEST__INIT;
  r.transfer = t;
  Shegong__V1__Transfer *got =
      (Shegong__V1__Transfer *)must_call(G->c, "Transfers/Propose", &r.base);
  assert_int_equal(got->state, SHEGONG__V1__TRANSFER_STATE__PROPOSED);
  return got;
}

/* A 职务任命 of a fresh worker of town (one party: ORIGIN_TOWN), proposed by the
 * admin for tomorrow, so that an approval leaves it APPROVED and waiting, not
 * applied; its id, and its version in *version. */
static uint64_t open_role_change(const char *town, uint64_t *version) {
  char tomorrow[16];
  day_after(1, tomorrow, sizeof tomorrow);
  Shegong__V1__Transfer t = SHEGONG__V1__TRANSFER__INIT;
  t.kind = SHEGONG__V1__TRANSFER_KIND__ROLE_CHANGE;
  t.worker_id = fresh_worker(town);
  t.to_role = SHEGONG__V1__ROLE__DIRECTOR;
  t.effective_date = tomorrow;
  t.reason = "安全测试：任命主任";
  Shegong__V1__Transfer *got = admin_propose(&t);
  assert_int_equal(got->n_required, 1);
  uint64_t id = got->id;
  *version = got->version;
  free_msg(got);
  return id;
}

static int at_work(const Shegong__V1__Worker *w) {
  return w->status == SHEGONG__V1__WORKER_STATUS__ACTIVE;
}

/* A 职务任命 of a worker at work in its unit, into whichever of 主任 and 书记 it
 * is not, from today. An allowed call leaves the worker with an open transfer:
 * used up then. */
static const ProtobufCMessage *b_transfer_propose(reqbuf *b, int t, int allowed) {
  picked p = pick_worker_if(town_of(t), allowed, at_work);
  Shegong__V1__Worker *w = get_worker(G->c, p.id);
  int director = w->role == SHEGONG__V1__ROLE__DIRECTOR;
  free_msg(w);
  shegong__v1__transfer__init(&b->tr);
  b->tr.kind = SHEGONG__V1__TRANSFER_KIND__ROLE_CHANGE;
  b->tr.worker_id = b->worker_id = p.id;
  b->tr.to_role = director ? SHEGONG__V1__ROLE__SECRETARY : SHEGONG__V1__ROLE__DIRECTOR;
  sg_today(b->s[0], sizeof b->s[0]);
  b->tr.effective_date = b->s[0];
  b->tr.reason = "安全测试：任命";
  shegong__v1__propose_transfer_request__init(&b->ptr);
  b->ptr.transfer = &b->tr;
  return &b->ptr.base;
}

/* The approval of ORIGIN_TOWN (the worker's town) for a proposal the admin makes first. */
static const ProtobufCMessage *b_transfer_approve(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__decide_transfer_request__init(&b->decide);
  b->decide.id = b->transfer_id = open_role_change(town_of(t), &b->decide.expected_version);
  b->decide.note = "安全测试：同意";
  return &b->decide.base;
}

static const ProtobufCMessage *b_transfer_reject(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__decide_transfer_request__init(&b->decide);
  b->decide.id = b->transfer_id = open_role_change(town_of(t), &b->decide.expected_version);
  b->decide.note = "安全测试：不同意";
  return &b->decide.base;
}

static const ProtobufCMessage *b_transfer_cancel(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__cancel_transfer_request__init(&b->ctr);
  b->ctr.id = b->transfer_id = open_role_change(town_of(t), &b->ctr.expected_version);
  b->ctr.note = "安全测试：撤回";
  return &b->ctr.base;
}

/* One transfer of each town for the reads, proposed once. */
static uint64_t town_transfer(const char *town) {
  static uint64_t made[2];
  int k = strcmp(town, TOWN2) == 0;
  uint64_t version;
  if (!made[k]) made[k] = open_role_change(town, &version);
  return made[k];
}

static const ProtobufCMessage *b_transfer_get(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__get_transfer_request__init(&b->gtr);
  b->gtr.id = b->transfer_id = town_transfer(town_of(t));
  return &b->gtr.base;
}

/* The district's transfers or a town's (a town token's district: its own). */
static const ProtobufCMessage *b_transfer_list(reqbuf *b, int t, int allowed) {
  (void)allowed;
  town_transfer(town_of(t)); /* something to list */
  shegong__v1__list_transfers_request__init(&b->ltr);
  b->ltr.town_code = (char *)town_or_district(t);
  return &b->ltr.base;
}

/*
 * Every due transfer the caller may touch (id 0): the matrix never leaves an
 * approved transfer due (Approve applies a due one at once), so an allowed
 * call answers OK with no results and changes nothing. Apply{id} of a
 * transfer that is approved but not yet due would be FAILED_PRECONDITION.
 */
static const ProtobufCMessage *b_transfer_apply(reqbuf *b, int t, int allowed) {
  (void)t, (void)allowed;
  shegong__v1__apply_transfers_request__init(&b->atr);
  return &b->atr.base;
}

/* The end of a 轮岗 that the admin proposes and approves first: a fresh worker of
 * the town's first community to a village of the town, from today for 91 days;
 * the approval applies it at once (EFFECTIVE, the worker ROTATING). */
static const ProtobufCMessage *b_transfer_end(reqbuf *b, int t, int allowed) {
  (void)allowed;
  const char *town = town_of(t);
  village_of(town, b->s[0], sizeof b->s[0]);
  sg_today(b->s[1], sizeof b->s[1]);
  day_after(91, b->s[2], sizeof b->s[2]);
  shegong__v1__transfer__init(&b->tr);
  b->tr.kind = SHEGONG__V1__TRANSFER_KIND__ROTATION;
  b->tr.worker_id = b->worker_id = fresh_worker(town);
  b->tr.to_unit_code = b->s[0];
  b->tr.effective_date = b->s[1];
  b->tr.end_date = b->s[2];
  b->tr.reason = "安全测试：轮岗";
  Shegong__V1__Transfer *p = admin_propose(&b->tr);
  shegong__v1__decide_transfer_request__init(&b->decide);
  b->decide.id = p->id;
  b->decide.expected_version = p->version;
  free_msg(p);
  Shegong__V1__Transfer *a =
      (Shegong__V1__Transfer *)must_call(G->c, "Transfers/Approve", &b->decide.base);
  if (a->state != SHEGONG__V1__TRANSFER_STATE__EFFECTIVE)
    fail_msg("rotation %llu approved: %d, not EFFECTIVE", (unsigned long long)a->id, a->state);
  shegong__v1__end_transfer_request__init(&b->etr);
  b->etr.id = b->transfer_id = a->id;
  b->etr.expected_version = a->version;
  b->etr.convert = 0;
  b->etr.note = "安全测试：轮岗结束";
  free_msg(a);
  return &b->etr.base;
}

/* 转任 by the selection rule, set so that nobody qualifies: last year's
 * year-end score of at least 100. An allowed call answers OK with no
 * transfers and changes nothing. */
static const ProtobufCMessage *b_propose_conversions(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__propose_conversions_request__init(&b->pconv);
  b->pconv.town_code = (char *)town_of(t);
  b->pconv.year = (uint32_t)this_year() - 1;
  b->pconv.min_score = 100;
  sg_today(b->s[0], sizeof b->s[0]);
  b->pconv.effective_date = b->s[0];
  b->pconv.reason = "安全测试：转任";
  return &b->pconv.base;
}

static const ProtobufCMessage *b_placement_report(reqbuf *b, int t, int allowed) {
  (void)allowed;
  shegong__v1__placement_report_request__init(&b->preport);
  b->preport.town_code = (char *)town_or_district(t);
  return &b->preport.base;
}

/* ------------------------------------------------------------------------ */
/* The expected outcome, from the rules in auth.proto */

#define R_ADMIN (1u << ROLE_ADMIN)
#define R_TOWN (1u << ROLE_TOWN)
#define R_AUDITOR (1u << ROLE_AUDITOR)
#define R_READERS (R_ADMIN | R_TOWN | R_AUDITOR)

#define TG_NONE 0 /* no town in the request */
#define TG_TOWNS 1 /* own town, other town */
#define TG_ALL 2   /* own town, other town, district */

typedef struct method_spec {
  const char *path;
  unsigned roles;  /* roles that may call it (SERVICE: only its listed methods, and WhoAmI) */
  int targets;
  int write;
  /* a town-scoped token may use the district target (the answer is cut to its town) */
  int district_ok_scoped;
  build_fn build;
} method_spec;

/*
 * DISTRICT_ADMIN: everything. TOWN_OPERATOR: reads and writes only its
 * town's units and workers (their assessments, visits, courses, attendance,
 * level steps and history with them, and the transfers from or to its town,
 * approving for its own town's party), and reads the district policy. AUDITOR: reads
 * everything and the audit log, changes nothing. SERVICE: the methods its
 * token lists. Admin/Hello needs no token; WhoAmI is every token's. Nobody
 * changes or deletes the audit log.
 */
static const method_spec specs[] = {
    {"/shegong.v1.Admin/Backup", R_ADMIN, TG_NONE, 0, 0, b_backup},
    {"/shegong.v1.Admin/Compact", R_ADMIN, TG_NONE, 1, 0, b_compact},
    {"/shegong.v1.Admin/Hello", R_READERS, TG_NONE, 0, 0, b_hello},
    {"/shegong.v1.Assessments/Amend", R_ADMIN | R_TOWN, TG_TOWNS, 1, 0, b_assess_amend},
    {"/shegong.v1.Assessments/Bulk", R_ADMIN | R_TOWN, TG_TOWNS, 1, 0, b_assess_bulk},
    {"/shegong.v1.Assessments/Eligibility", R_READERS, TG_ALL, 0, 1, b_eligibility},
    {"/shegong.v1.Assessments/List", R_READERS, TG_TOWNS, 0, 0, b_assess_list},
    {"/shegong.v1.Assessments/Record", R_ADMIN | R_TOWN, TG_TOWNS, 1, 0, b_assess_record},
    {"/shegong.v1.Assessments/SetVisits", R_ADMIN | R_TOWN, TG_TOWNS, 1, 0, b_set_visits},
    {"/shegong.v1.Assessments/VisitsReport", R_READERS, TG_ALL, 0, 1, b_visits_report},
    {"/shegong.v1.Reports/Certification", R_READERS, TG_ALL, 0, 1, b_certification},
    {"/shegong.v1.Reports/Hiring", R_READERS, TG_ALL, 0, 1, b_hiring},
    {"/shegong.v1.Reports/Staffing", R_READERS, TG_ALL, 0, 1, b_staffing},
    {"/shegong.v1.Reports/Structure", R_READERS, TG_ALL, 0, 1, b_structure},
    {"/shegong.v1.Reports/Turnover", R_READERS, TG_ALL, 0, 1, b_turnover},
    {"/shegong.v1.Audit/List", R_ADMIN | R_AUDITOR, TG_NONE, 0, 0, b_audit_list},
    {"/shegong.v1.Policies/Get", R_READERS, TG_NONE, 0, 0, b_policy_get},
    /* the district's rules are the district's */
    {"/shegong.v1.Policies/Set", R_ADMIN, TG_NONE, 1, 0, b_policy_set},
    {"/shegong.v1.Sync/Pull", R_READERS, TG_ALL, 0, 0, b_pull},
    {"/shegong.v1.Sync/Push", R_ADMIN | R_TOWN, TG_ALL, 1, 0, b_push},
    {"/shegong.v1.Sync/Snapshot", R_READERS, TG_ALL, 0, 0, b_snapshot},
    {"/shegong.v1.Sync/Watch", R_READERS, TG_ALL, 0, 0, b_watch},
    {"/shegong.v1.Sync/WorkerRecords", R_READERS, TG_TOWNS, 0, 0, b_worker_records},
    {"/shegong.v1.Tokens/Create", R_ADMIN, TG_NONE, 1, 0, b_token_create},
    {"/shegong.v1.Tokens/List", R_ADMIN | R_AUDITOR, TG_NONE, 0, 0, b_token_list},
    {"/shegong.v1.Tokens/Revoke", R_ADMIN, TG_NONE, 1, 0, b_token_revoke},
    {"/shegong.v1.Tokens/WhoAmI", R_READERS, TG_NONE, 0, 0, b_whoami},
    {"/shegong.v1.Training/Attend", R_ADMIN | R_TOWN, TG_TOWNS, 1, 0, b_attend},
    {"/shegong.v1.Training/Compliance", R_READERS, TG_ALL, 0, 1, b_compliance},
    /* a town token's course without a town is its own town's: no district target */
    {"/shegong.v1.Training/CreateCourse", R_ADMIN | R_TOWN, TG_TOWNS, 1, 0, b_course_create},
    {"/shegong.v1.Training/ListAttendance", R_READERS, TG_TOWNS, 0, 0, b_list_attendance},
    {"/shegong.v1.Training/ListCourses", R_READERS, TG_ALL, 0, 1, b_list_courses},
    /* TG_NONE: Apply{} applies what is due of the caller's towns (the scheduler's call) */
    {"/shegong.v1.Transfers/Apply", R_ADMIN | R_TOWN, TG_NONE, 1, 0, b_transfer_apply},
    /* the town: the worker's; a town operator acts for its own town's party */
    {"/shegong.v1.Transfers/Approve", R_ADMIN | R_TOWN, TG_TOWNS, 1, 0, b_transfer_approve},
    {"/shegong.v1.Transfers/Cancel", R_ADMIN | R_TOWN, TG_TOWNS, 1, 0, b_transfer_cancel},
    {"/shegong.v1.Transfers/End", R_ADMIN | R_TOWN, TG_TOWNS, 1, 0, b_transfer_end},
    {"/shegong.v1.Transfers/Get", R_READERS, TG_TOWNS, 0, 0, b_transfer_get},
    {"/shegong.v1.Transfers/List", R_READERS, TG_ALL, 0, 1, b_transfer_list},
    {"/shegong.v1.Transfers/PlacementReport", R_READERS, TG_ALL, 0, 1, b_placement_report},
    {"/shegong.v1.Transfers/Propose", R_ADMIN | R_TOWN, TG_TOWNS, 1, 0, b_transfer_propose},
    /* the town whose 专职网格员 are converted; none: INVALID_ARGUMENT, no district target */
    {"/shegong.v1.Transfers/ProposeConversions", R_ADMIN | R_TOWN, TG_TOWNS, 1, 0,
     b_propose_conversions},
    {"/shegong.v1.Transfers/Reject", R_ADMIN | R_TOWN, TG_TOWNS, 1, 0, b_transfer_reject},
    {"/shegong.v1.Units/Create", R_ADMIN | R_TOWN, TG_ALL, 1, 0, b_unit_create},
    /* the district unit is everyone's: a town's snapshot carries it too */
    {"/shegong.v1.Units/Get", R_READERS, TG_ALL, 0, 1, b_unit_get},
    {"/shegong.v1.Units/List", R_READERS, TG_ALL, 0, 1, b_unit_list},
    {"/shegong.v1.Workers/ChangeLevel", R_ADMIN | R_TOWN, TG_TOWNS, 1, 0, b_change_level},
    {"/shegong.v1.Workers/Create", R_ADMIN | R_TOWN, TG_TOWNS, 1, 0, b_worker_create},
    {"/shegong.v1.Workers/Get", R_READERS, TG_TOWNS, 0, 0, b_worker_get},
    {"/shegong.v1.Workers/History", R_READERS, TG_TOWNS, 0, 0, b_worker_history},
    {"/shegong.v1.Workers/Leave", R_ADMIN | R_TOWN, TG_TOWNS, 1, 0, b_worker_leave},
    {"/shegong.v1.Workers/LevelHistory", R_READERS, TG_TOWNS, 0, 0, b_level_history},
    {"/shegong.v1.Workers/List", R_READERS, TG_ALL, 0, 1, b_worker_list},
    /* district target: moving an own-town worker to another town (a transfer) */
    {"/shegong.v1.Workers/Update", R_ADMIN | R_TOWN, TG_ALL, 1, 0, b_worker_update},
};
#define N_SPECS (sizeof specs / sizeof specs[0])

static const method_spec *find_spec(const char *path) {
  for (size_t i = 0; i < N_SPECS; i++)
    if (strcmp(specs[i].path, path) == 0) return &specs[i];
  return NULL;
}

static size_t targets_of(const method_spec *m, int out[3]) {
  if (m->targets == TG_NONE) {
    out[0] = T_NA;
    return 1;
  }
  out[0] = T_OWN;
  out[1] = T_OTHER;
  out[2] = T_DISTRICT;
  return m->targets == TG_ALL ? 3 : 2;
}

static int expected(const method_spec *m, int p, int target) {
  const principal *pr = &P[p];
  if (strcmp(m->path, "/shegong.v1.Admin/Hello") == 0) return C_OK; /* needs no token */
  if (!pr->valid) return C_UNAUTH;
  int allowed;
  if (pr->role == ROLE_SERVICE) {
    const sg_method_info *mi = sg_methods_find(pr->method);
    allowed = (mi && strcmp(mi->path, m->path) == 0) ||
              strcmp(m->path, "/shegong.v1.Tokens/WhoAmI") == 0;
  } else {
    allowed = (m->roles >> pr->role) & 1;
  }
  if (!allowed) return C_DENIED;
  if (pr->town) {
    if (target == T_OTHER) return C_DENIED;
    if (target == T_DISTRICT && !m->district_ok_scoped) return C_DENIED;
  }
  return C_OK;
}

/*
 * Makes one call of the matrix; returns its outcome: the status, or for
 * Sync/Push the status of its one mutation. A watch that sent its first
 * message is cancelled and counts as OK. *acted: for a write whose answer
 * says how many records it acted on (Transfers/Apply, ProposeConversions),
 * that number; otherwise -1.
 */
static int run_call(sg_client *c, const sg_method_info *mi, const ProtobufCMessage *req,
                    sg_status *st, long *acted) {
  *acted = -1;
  if (!mi->server_streaming) {
    ProtobufCMessage *resp = NULL;
    int rc = sg_call(c, mi->path, req, &resp, CALL_MS, st);
    int code = st->code;
    if (rc == 0 && strcmp(mi->path, "/shegong.v1.Transfers/Apply") == 0)
      *acted = (long)((Shegong__V1__ApplyTransfersResponse *)resp)->n_results;
    if (rc == 0 && strcmp(mi->path, "/shegong.v1.Transfers/ProposeConversions") == 0)
      *acted = (long)((Shegong__V1__ProposeConversionsResponse *)resp)->n_transfers;
    if (rc == 0 && strcmp(mi->path, "/shegong.v1.Sync/Push") == 0) {
      Shegong__V1__PushResponse *r = (Shegong__V1__PushResponse *)resp;
      if (r->n_results != 1 || !r->results[0]->status) {
        snprintf(st->message, sizeof st->message, "Push answered %zu results", r->n_results);
        code = -1;
      } else {
        code = r->results[0]->status->code;
        snprintf(st->message, sizeof st->message, "mutation: %s",
                 r->results[0]->status->message ? r->results[0]->status->message : "");
      }
    }
    if (rc == 0 && strcmp(mi->path, "/shegong.v1.Tokens/Create") == 0)
      remember_secret(((Shegong__V1__CreateTokenResponse *)resp)->secret);
    free_msg(resp);
    return code;
  }
  uint32_t id;
  if (sg_call_send(c, mi->path, req, CALL_MS, &id, st)) return st->code;
  int watch = strcmp(mi->path, "/shegong.v1.Sync/Watch") == 0;
  size_t got = 0;
  for (;;) {
    ProtobufCMessage *m = NULL;
    int rc = sg_stream_next(c, id, &m, CALL_MS, st);
    if (rc == 0) {
      free_msg(m);
      if (watch && ++got == 1) sg_call_cancel(c, id, NULL);
      continue;
    }
    if (rc == 1) return C_OK;
    if (watch && got && st->code == C_CANCELLED) return C_OK;
    return st->code;
  }
}

/* True while the changelog still starts at revision 0 (nothing compacted). */
static int pull_from_zero_works(void) {
  Shegong__V1__PullRequest r = SHEGONG__V1__PULL_REQUEST__INIT;
  r.since = 0;
  r.limit = 1;
  stream s;
  sg_status st;
  int code = stream_all(G->c, "Sync/Pull", &r.base, &s, &st);
  stream_free(&s);
  return code == C_OK;
}

static void test_access_matrix(void **state) {
  fx *f = *state;
  /* P_EXPIRED's token must be past its time */
  while (time(NULL) <= f->expires) hs_sleep_ms(100);
  /* Eligibility needs a pay ladder, and ChangeLevel keeps to it: load one first */
  reqbuf *pb = calloc(1, sizeof *pb);
  assert_non_null(pb);
  free_msg(must_call(f->c, "Policies/Set", b_policy_set(pb, T_NA, 1)));
  free(pb);

  size_t n_methods = sg_methods_count(), cases = 0, bad = 0;
  const char *missing = NULL;
  size_t per_targets[4] = {0};
  for (size_t i = 0; i < n_methods; i++) {
    const sg_method_info *mi = sg_methods_at(i);
    const method_spec *m = find_spec(mi->path);
    if (!m) {
      print_message("no request builder for %s\n", mi->path);
      if (!missing) missing = mi->path;
      continue;
    }
    int targets[3];
    size_t nt = targets_of(m, targets);
    per_targets[nt]++;
    for (int p = 0; p < N_PRINCIPALS; p++) {
      for (size_t k = 0; k < nt; k++) {
        int t = targets[k];
        int want = expected(m, p, t);
        reqbuf *b = calloc(1, sizeof *b);
        assert_non_null(b);
        const ProtobufCMessage *req = m->build(b, t, want == C_OK);
        uint64_t head = m->write ? head_revision() : 0;
        size_t tokens = strcmp(m->path, "/shegong.v1.Tokens/Create") == 0 ? count_tokens() : 0;
        int compact = strcmp(m->path, "/shegong.v1.Admin/Compact") == 0;
        int whole_log = compact && pull_from_zero_works();

        sg_client *c = connect_as(p);
        sg_status st;
        sg_status_clear(&st);
        long acted;
        int got = run_call(c, mi, req, &st, &acted);
        sg_client_close(c);
        cases++;

        if (got != want) {
          print_message("MISMATCH %s as %s, %s: got %s (%s), want %s\n", mi->path, P[p].name,
                        target_names[t], got < 0 ? "?" : sg_code_name(got), st.message,
                        sg_code_name(want));
          bad++;
        }
        if (m->write && want != C_OK) {
          /* a refused write changed nothing */
          uint64_t now_head = 0;
          size_t n = changes_since(head, &now_head);
          if (n || now_head != head) {
            print_message("CHANGED %s as %s, %s: refused, yet %zu new changes (head %llu -> %llu)\n",
                          mi->path, P[p].name, target_names[t], n, (unsigned long long)head,
                          (unsigned long long)now_head);
            bad++;
          }
          if (tokens && count_tokens() != tokens) {
            print_message("CHANGED %s as %s: refused, yet a token was made\n", mi->path, P[p].name);
            bad++;
          }
          if (b->token_id && whoami_code(b->token_secret) != C_OK) {
            print_message("CHANGED %s as %s: refused, yet token %llu no longer works\n", mi->path,
                          P[p].name, (unsigned long long)b->token_id);
            bad++;
          }
          if (whole_log && !pull_from_zero_works()) {
            print_message("CHANGED %s as %s: refused, yet the changelog was compacted\n", mi->path,
                          P[p].name);
            bad++;
          }
        } else if (m->write && got == C_OK) {
          /* an allowed write did what it says */
          if (b->token_id && whoami_code(b->token_secret) != C_UNAUTH) {
            print_message("%s as %s: OK, yet token %llu still works\n", mi->path, P[p].name,
                          (unsigned long long)b->token_id);
            bad++;
          }
          int data = strncmp(m->path, "/shegong.v1.Units/", 18) == 0 ||
                     strncmp(m->path, "/shegong.v1.Workers/", 20) == 0 ||
                     strncmp(m->path, "/shegong.v1.Assessments/", 24) == 0 ||
                     strncmp(m->path, "/shegong.v1.Training/", 21) == 0 ||
                     strncmp(m->path, "/shegong.v1.Policies/", 21) == 0 ||
                     strncmp(m->path, "/shegong.v1.Transfers/", 22) == 0 ||
                     strcmp(m->path, "/shegong.v1.Sync/Push") == 0;
          size_t n = data ? changes_since(head, NULL) : 0;
          if (data && acted == 0 && n != 0) {
            /* it answered that it did nothing (nothing due, nobody selected) */
            print_message("%s as %s, %s: OK and nothing done, yet %zu changes were logged\n",
                          mi->path, P[p].name, target_names[t], n);
            bad++;
          } else if (data && acted != 0 && n == 0) {
            print_message("%s as %s, %s: OK, yet no change was logged\n", mi->path, P[p].name,
                          target_names[t]);
            bad++;
          }
        }
        free(b);
      }
    }
  }
  /* a builder for a method that no longer exists is a stale table */
  for (size_t i = 0; i < N_SPECS; i++)
    if (!sg_methods_find(specs[i].path)) {
      print_message("request builder for %s, which is not in the method table\n", specs[i].path);
      bad++;
    }
  print_message("access matrix: %zu methods x %d principals x targets (%zu methods with 1, %zu with "
                "2, %zu with 3) = %zu calls\n",
                n_methods, N_PRINCIPALS, per_targets[1], per_targets[2], per_targets[3], cases);
  if (missing) fail_msg("no request builder for %s", missing);
  if (bad) fail_msg("%zu cases of the access matrix went wrong (see above)", bad);
}

/* ------------------------------------------------------------------------ */
/* 2. Scope inside lists and streams */

static int concerns(const Shegong__V1__Change *ch, const char *town) {
  if (ch->n_towns == 0) return 1; /* district-wide */
  for (size_t i = 0; i < ch->n_towns; i++)
    if (strcmp(ch->towns[i], town) == 0) return 1;
  return 0;
}

static void test_scope_in_lists_and_streams(void **state) {
  fx *f = *state;
  sg_client *town = connect_as(P_TOWN);
  sg_status st;

  /* Workers/List with no filter: every page holds only its town's workers, and all of them */
  size_t seen = 0;
  char token[128] = "";
  for (;;) {
    Shegong__V1__ListWorkersRequest l = SHEGONG__V1__LIST_WORKERS_REQUEST__INIT;
    l.include_left = 1;
    l.page_size = 7;
    l.page_token = token;
    Shegong__V1__ListWorkersResponse *r =
        (Shegong__V1__ListWorkersResponse *)must_call(town, "Workers/List", &l.base);
    for (size_t i = 0; i < r->n_workers; i++) {
      if (strcmp(r->workers[i]->town_code, TOWN1) != 0)
        fail_msg("a town operator of %s listed worker %llu of town %s", TOWN1,
                 (unsigned long long)r->workers[i]->id, r->workers[i]->town_code);
      seen++;
    }
    int more = r->next_page_token[0] != 0;
    snprintf(token, sizeof token, "%s", r->next_page_token);
    free_msg(r);
    if (!more) break;
  }
  Shegong__V1__ListWorkersRequest all = SHEGONG__V1__LIST_WORKERS_REQUEST__INIT;
  all.town_code = TOWN1;
  all.include_left = 1;
  all.page_size = 1000;
  Shegong__V1__ListWorkersResponse *want =
      (Shegong__V1__ListWorkersResponse *)must_call(f->c, "Workers/List", &all.base);
  assert_true(seen > 0);
  assert_int_equal(seen, want->n_workers);
  free_msg(want);

  /* Units/List of the district: only its own town */
  Shegong__V1__ListUnitsRequest lu = SHEGONG__V1__LIST_UNITS_REQUEST__INIT;
  lu.page_size = 1000;
  Shegong__V1__ListUnitsResponse *units =
      (Shegong__V1__ListUnitsResponse *)must_call(town, "Units/List", &lu.base);
  assert_int_equal(units->n_units, 1);
  assert_string_equal(units->units[0]->code, TOWN1);
  free_msg(units);
  lu.parent_code = TOWN2;
  assert_int_equal(call_code(town, "Units/List", &lu.base, &st), C_DENIED);

  /* Sync/Pull: its town works and concerns it; the other town or the district does not */
  Shegong__V1__PullRequest pr = SHEGONG__V1__PULL_REQUEST__INIT;
  pr.town_code = TOWN1;
  pr.limit = 10000;
  stream s;
  assert_int_equal(stream_all(town, "Sync/Pull", &pr.base, &s, &st), C_OK);
  size_t n = 0;
  for (size_t i = 0; i < s.n; i++) {
    Shegong__V1__PullResponse *p = (Shegong__V1__PullResponse *)s.msgs[i];
    for (size_t k = 0; k < p->n_changes; k++, n++)
      if (!concerns(p->changes[k], TOWN1))
        fail_msg("a town operator of %s pulled change %llu, which concerns only other towns",
                 TOWN1, (unsigned long long)p->changes[k]->revision);
  }
  stream_free(&s);
  assert_true(n > 10);
  pr.town_code = TOWN2;
  assert_int_equal(stream_all(town, "Sync/Pull", &pr.base, &s, &st), C_DENIED);
  assert_int_equal(s.n, 0);
  stream_free(&s);
  pr.town_code = "";
  assert_int_equal(stream_all(town, "Sync/Pull", &pr.base, &s, &st), C_DENIED);
  assert_int_equal(s.n, 0);
  stream_free(&s);

  /* Sync/Snapshot of its town: its workers, the district and its own units */
  Shegong__V1__SnapshotRequest sr = SHEGONG__V1__SNAPSHOT_REQUEST__INIT;
  sr.town_code = TOWN1;
  assert_int_equal(stream_all(town, "Sync/Snapshot", &sr.base, &s, &st), C_OK);
  size_t nw = 0;
  for (size_t i = 0; i < s.n; i++) {
    Shegong__V1__SnapshotResponse *r = (Shegong__V1__SnapshotResponse *)s.msgs[i];
    for (size_t k = 0; k < r->n_workers; k++, nw++)
      assert_string_equal(r->workers[k]->town_code, TOWN1);
    for (size_t k = 0; k < r->n_units; k++)
      if (strcmp(r->units[k]->code, DISTRICT) != 0 &&
          strncmp(r->units[k]->code, TOWN1, strlen(TOWN1)) != 0)
        fail_msg("a snapshot of %s holds unit %s", TOWN1, r->units[k]->code);
  }
  stream_free(&s);
  assert_true(nw > 0);
  sr.town_code = "";
  assert_int_equal(stream_all(town, "Sync/Snapshot", &sr.base, &s, &st), C_DENIED);
  stream_free(&s);

  /* Sync/Push of a change to another town's worker: refused inside, nothing changed */
  picked other = pick_worker(TOWN2, 0);
  Shegong__V1__Worker *before = get_worker(f->c, other.id);
  Shegong__V1__Worker w = SHEGONG__V1__WORKER__INIT;
  w.level = (before->level + 6) % 12 + 1;
  w.phone = "13912345678";
  char *mask[] = {"level", "phone"};
  Shegong__V1__UpdateWorkerRequest u = SHEGONG__V1__UPDATE_WORKER_REQUEST__INIT;
  u.id = other.id;
  u.expected_version = before->version;
  u.worker = &w;
  u.n_update_mask = 2;
  u.update_mask = mask;
  Shegong__V1__Mutation m = SHEGONG__V1__MUTATION__INIT, *mp = &m;
  char mid[64];
  snprintf(mid, sizeof mid, "scope-push-%u", ++f->serial);
  m.mutation_id = mid;
  m.op_case = SHEGONG__V1__MUTATION__OP_UPDATE_WORKER;
  m.update_worker = &u;
  Shegong__V1__PushRequest push = SHEGONG__V1__PUSH_REQUEST__INIT;
  push.client_id = "test_security-scope";
  push.n_mutations = 1;
  push.mutations = &mp;
  uint64_t head = head_revision();
  Shegong__V1__PushResponse *pushed =
      (Shegong__V1__PushResponse *)must_call(town, "Sync/Push", &push.base);
  assert_int_equal(pushed->n_results, 1);
  assert_non_null(pushed->results[0]->status);
  assert_int_equal(pushed->results[0]->status->code, C_DENIED);
  assert_int_equal(pushed->results[0]->record_case, SHEGONG__V1__MUTATION_RESULT__RECORD__NOT_SET);
  free_msg(pushed);
  Shegong__V1__Worker *after = get_worker(f->c, other.id);
  assert_int_equal(after->version, before->version);
  assert_int_equal(after->level, before->level);
  assert_string_equal(after->phone, before->phone);
  uint64_t now_head = 0;
  assert_int_equal(changes_since(head, &now_head), 0);
  assert_int_equal(now_head, head);
  free_msg(before);
  free_msg(after);
  sg_client_close(town);
}

/* ------------------------------------------------------------------------ */
/* 3. Masking */

/* Every worker of a Pull or Snapshot stream, checked with fn; returns how many. */
static size_t check_stream_workers(stream *s, int pull, void (*fn)(const Shegong__V1__Worker *,
                                                                   const char *),
                                   const char *where) {
  size_t n = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (pull) {
      Shegong__V1__PullResponse *p = (Shegong__V1__PullResponse *)s->msgs[i];
      for (size_t k = 0; k < p->n_changes; k++)
        if (p->changes[k]->record_case == SHEGONG__V1__CHANGE__RECORD_WORKER) {
          fn(p->changes[k]->worker, where);
          n++;
        }
    } else {
      Shegong__V1__SnapshotResponse *r = (Shegong__V1__SnapshotResponse *)s->msgs[i];
      for (size_t k = 0; k < r->n_workers; k++, n++) fn(r->workers[k], where);
    }
  }
  return n;
}

/* A Sync/Push of a level change to worker id; the caller frees. */
static Shegong__V1__PushResponse *push_level(sg_client *c, uint64_t id) {
  Shegong__V1__Worker *cur = get_worker(G->c, id);
  Shegong__V1__Worker w = SHEGONG__V1__WORKER__INIT;
  w.level = cur->level % 12 + 1;
  char *mask[] = {"level"};
  Shegong__V1__UpdateWorkerRequest u = SHEGONG__V1__UPDATE_WORKER_REQUEST__INIT;
  u.id = id;
  u.expected_version = cur->version;
  u.worker = &w;
  u.n_update_mask = 1;
  u.update_mask = mask;
  Shegong__V1__Mutation m = SHEGONG__V1__MUTATION__INIT, *mp = &m;
  char mid[64];
  snprintf(mid, sizeof mid, "mask-push-%u", ++G->serial);
  m.mutation_id = mid;
  m.op_case = SHEGONG__V1__MUTATION__OP_UPDATE_WORKER;
  m.update_worker = &u;
  Shegong__V1__PushRequest push = SHEGONG__V1__PUSH_REQUEST__INIT;
  push.client_id = "test_security-mask";
  push.n_mutations = 1;
  push.mutations = &mp;
  free_msg(cur);
  Shegong__V1__PushResponse *r = (Shegong__V1__PushResponse *)must_call(c, "Sync/Push", &push.base);
  assert_int_equal(r->n_results, 1);
  assert_int_equal(r->results[0]->status->code, C_OK);
  assert_int_equal(r->results[0]->record_case, SHEGONG__V1__MUTATION_RESULT__RECORD_WORKER);
  return r;
}

/* Opens a watch of TOWN1 from the head; returns its call id after the first (backlog) message. */
static uint32_t open_watch(sg_client *c, uint64_t since) {
  Shegong__V1__WatchRequest wr = SHEGONG__V1__WATCH_REQUEST__INIT;
  wr.town_code = TOWN1;
  wr.since = since;
  uint32_t id;
  sg_status st;
  assert_int_equal(sg_call_send(c, "Sync/Watch", &wr.base, CALL_MS, &id, &st), 0);
  ProtobufCMessage *m = NULL;
  assert_int_equal(sg_stream_next(c, id, &m, CALL_MS, &st), 0);
  free_msg(m);
  return id;
}

/* The next watch message holding a worker change; checks it with fn. */
static void watch_expect_worker(sg_client *c, uint32_t id, uint64_t worker_id,
                                void (*fn)(const Shegong__V1__Worker *, const char *),
                                const char *where) {
  unsigned long long deadline = hs_now_ms() + CALL_MS;
  while (hs_now_ms() < deadline) {
    ProtobufCMessage *m = NULL;
    sg_status st;
    int rc = sg_stream_next(c, id, &m, CALL_MS, &st);
    if (rc != 0) fail_msg("%s: the watch ended: %s: %s", where, sg_code_name(st.code), st.message);
    Shegong__V1__PullResponse *p = (Shegong__V1__PullResponse *)m;
    int found = 0;
    for (size_t k = 0; k < p->n_changes; k++)
      if (p->changes[k]->record_case == SHEGONG__V1__CHANGE__RECORD_WORKER) {
        fn(p->changes[k]->worker, where);
        found |= p->changes[k]->worker->id == worker_id;
      }
    free_msg(m);
    if (found) return;
  }
  fail_msg("%s: no change of worker %llu came", where, (unsigned long long)worker_id);
}

static void close_watch(sg_client *c, uint32_t id) {
  sg_status st;
  sg_call_cancel(c, id, &st);
  for (;;) {
    ProtobufCMessage *m = NULL;
    int rc = sg_stream_next(c, id, &m, CALL_MS, &st);
    free_msg(m);
    if (rc != 0) break;
  }
}

static void test_masking(void **state) {
  fx *f = *state;
  sg_client *masked = connect_as(P_ADMIN), *clear = connect_as(P_ADMIN_PII);
  sg_status st;

  /* Workers/List and Workers/Get */
  Shegong__V1__ListWorkersResponse *lm = town_workers(masked, TOWN1);
  Shegong__V1__ListWorkersResponse *lc = town_workers(clear, TOWN1);
  assert_int_equal(lm->n_workers, lc->n_workers);
  assert_true(lm->n_workers > 10);
  size_t phones = 0;
  for (size_t i = 0; i < lm->n_workers; i++) {
    check_masked(lm->workers[i], "Workers/List without pii");
    check_clear(lc->workers[i], "Workers/List with pii");
    assert_int_equal(lm->workers[i]->id, lc->workers[i]->id);
    check_mask_matches(lm->workers[i], lc->workers[i]);
    phones += lc->workers[i]->phone[0] != 0;
  }
  assert_true(phones > 0);
  uint64_t some = lc->workers[0]->id;
  for (size_t i = 0; i < lc->n_workers; i++)
    if (strlen(lc->workers[i]->phone) >= 8) some = lc->workers[i]->id;
  free_msg(lm);
  free_msg(lc);
  Shegong__V1__Worker *gm = get_worker(masked, some), *gc = get_worker(clear, some);
  check_masked(gm, "Workers/Get without pii");
  check_clear(gc, "Workers/Get with pii");
  assert_true(gc->phone[0] != 0);
  check_mask_matches(gm, gc);
  /* asking by ID number does not bring it back in clear */
  Shegong__V1__GetWorkerRequest byno = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
  byno.id_number = gc->id_number;
  Shegong__V1__Worker *gn = (Shegong__V1__Worker *)must_call(masked, "Workers/Get", &byno.base);
  check_masked(gn, "Workers/Get by id_number without pii");
  free_msg(gn);
  free_msg(gm);

  /* Sync/Pull changes and Sync/Snapshot workers */
  Shegong__V1__PullRequest pr = SHEGONG__V1__PULL_REQUEST__INIT;
  pr.town_code = TOWN1;
  pr.limit = 10000;
  stream s;
  assert_int_equal(stream_all(masked, "Sync/Pull", &pr.base, &s, &st), C_OK);
  assert_true(check_stream_workers(&s, 1, check_masked, "Sync/Pull without pii") > 10);
  stream_free(&s);
  assert_int_equal(stream_all(clear, "Sync/Pull", &pr.base, &s, &st), C_OK);
  assert_true(check_stream_workers(&s, 1, check_clear, "Sync/Pull with pii") > 10);
  stream_free(&s);
  Shegong__V1__SnapshotRequest sr = SHEGONG__V1__SNAPSHOT_REQUEST__INIT;
  sr.town_code = "";
  assert_int_equal(stream_all(masked, "Sync/Snapshot", &sr.base, &s, &st), C_OK);
  assert_true(check_stream_workers(&s, 0, check_masked, "Sync/Snapshot without pii") >= 80);
  stream_free(&s);
  assert_int_equal(stream_all(clear, "Sync/Snapshot", &sr.base, &s, &st), C_OK);
  assert_true(check_stream_workers(&s, 0, check_clear, "Sync/Snapshot with pii") >= 80);
  stream_free(&s);

  /* Sync/Watch: the live changes too (both watchers see the next push) */
  uint64_t head = head_revision();
  uint32_t wm = open_watch(masked, head), wc = open_watch(clear, head);

  /* Sync/Push results */
  Shegong__V1__PushResponse *pm = push_level(masked, some);
  check_masked(pm->results[0]->worker, "Sync/Push result without pii");
  free_msg(pm);
  watch_expect_worker(masked, wm, some, check_masked, "Sync/Watch without pii");
  watch_expect_worker(clear, wc, some, check_clear, "Sync/Watch with pii");
  Shegong__V1__PushResponse *pc = push_level(clear, some);
  check_clear(pc->results[0]->worker, "Sync/Push result with pii");
  free_msg(pc);
  close_watch(masked, wm);
  close_watch(clear, wc);

  /* unary writes answer masked too, and what is stored stays whole */
  Shegong__V1__Worker *cur = get_worker(f->c, some);
  Shegong__V1__Worker w = SHEGONG__V1__WORKER__INIT;
  w.level = cur->level % 12 + 1;
  char *mask[] = {"level"};
  Shegong__V1__UpdateWorkerRequest u = SHEGONG__V1__UPDATE_WORKER_REQUEST__INIT;
  u.id = some;
  u.expected_version = cur->version;
  u.worker = &w;
  u.n_update_mask = 1;
  u.update_mask = mask;
  Shegong__V1__Worker *um = (Shegong__V1__Worker *)must_call(masked, "Workers/Update", &u.base);
  check_masked(um, "Workers/Update answer without pii");
  free_msg(um);
  free_msg(cur);
  reqbuf *b = calloc(1, sizeof *b);
  assert_non_null(b);
  const ProtobufCMessage *creq = b_worker_create(b, T_OWN, 1);
  Shegong__V1__Worker *cm = (Shegong__V1__Worker *)must_call(masked, "Workers/Create", creq);
  check_masked(cm, "Workers/Create answer without pii");
  Shegong__V1__Worker *stored = get_worker(clear, cm->id);
  assert_string_equal(stored->id_number, b->w.id_number);
  assert_string_equal(stored->phone, b->w.phone);
  free_msg(stored);
  free_msg(cm);
  free(b);
  Shegong__V1__Worker *again = get_worker(clear, some);
  assert_string_equal(again->id_number, gc->id_number);
  assert_string_equal(again->phone, gc->phone);
  free_msg(again);
  free_msg(gc);
  sg_client_close(masked);
  sg_client_close(clear);
}

/* Runs `shegong --server ADDR -o FMT worker list --town TOWN1` with the token in token_file. */
static char *cli_worker_list(const char *token_file, const char *fmt) {
  /* hs_run gives a tool the started server's own token when it is named by
   * its address: naming it with --server makes it take hs_use_token_file's */
  hs_use_token_file(token_file);
  const char *argv[] = {SHEGONG_CLI_PATH, "--server", G->srv.addr, "-o", fmt, "worker", "list",
                        "--town", TOWN1, NULL};
  char *out = NULL, *err = NULL;
  int rc = hs_run(argv, NULL, &out, &err, 0);
  hs_use_token_file(G->srv.token_file);
  if (rc != 0) fail_msg("shegong -o %s worker list exited %d: %s", fmt, rc, err ? err : "");
  free(err);
  assert_non_null(out);
  return out;
}

static void test_masking_cli(void **state) {
  fx *f = *state;
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/nopii.token", f->srv.tmp);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  assert_true(fd >= 0);
  size_t len = strlen(P[P_ADMIN].secret);
  assert_int_equal(write(fd, P[P_ADMIN].secret, len), (ssize_t)len);
  assert_int_equal(write(fd, "\n", 1), 1);
  close(fd);
  static const char *const fmts[] = {"table", "json", "csv"};
  for (size_t i = 0; i < 3; i++) {
    char *out = cli_worker_list(path, fmts[i]);
    const char *hit = find_idno(out, strlen(out));
    if (hit) fail_msg("-o %s without pii shows an ID number: %.18s", fmts[i], hit);
    /* the masked ones are there instead */
    if (!strstr(out, "********")) fail_msg("-o %s without pii shows no masked ID number", fmts[i]);
    assert_true(hs_count_lines(out) > 10);
    free(out);
    out = cli_worker_list(f->srv.token_file, fmts[i]);
    if (!find_idno(out, strlen(out))) fail_msg("-o %s with the admin token shows no ID number",
                                               fmts[i]);
    free(out);
  }
}

/* ------------------------------------------------------------------------ */
/* 4. Audit */

/*
 * Waits up to 5 s for an audit entry of event by token_id for method (full
 * path) with code. 1 when there is one.
 */
static int audit_has(sg_client *c, const char *event, uint64_t token_id, const char *method,
                     int code, const char *target_prefix) {
  unsigned long long deadline = hs_now_ms() + 5000;
  do {
    char token[128] = "";
    for (;;) {
      Shegong__V1__ListAuditRequest l = SHEGONG__V1__LIST_AUDIT_REQUEST__INIT;
      l.event = (char *)event;
      l.token_id = token_id;
      l.page_size = 1000;
      l.page_token = token;
      Shegong__V1__ListAuditResponse *r =
          (Shegong__V1__ListAuditResponse *)must_call(c, "Audit/List", &l.base);
      int found = 0;
      for (size_t i = 0; i < r->n_entries; i++) {
        Shegong__V1__AuditEntry *e = r->entries[i];
        assert_string_equal(e->event, event);
        if (token_id) assert_int_equal(e->token_id, token_id);
        if (strcmp(e->method, method) == 0 && (int)e->code == code && e->time[0] && e->peer[0] &&
            (!target_prefix || strncmp(e->target, target_prefix, strlen(target_prefix)) == 0))
          found = 1;
      }
      int more = r->next_page_token[0] != 0;
      snprintf(token, sizeof token, "%s", r->next_page_token);
      free_msg(r);
      if (found) return 1;
      if (!more) break;
    }
    hs_sleep_ms(50);
  } while (hs_now_ms() < deadline);
  return 0;
}

static void test_audit(void **state) {
  (void)state;
  sg_client *town = connect_as(P_TOWN), *auditor = connect_as(P_AUDITOR);
  sg_client *pii = connect_as(P_ADMIN_PII), *nopii = connect_as(P_ADMIN);
  sg_status st;

  /* a refused call: by the method table */
  Shegong__V1__ListTokensRequest lt = SHEGONG__V1__LIST_TOKENS_REQUEST__INIT;
  assert_int_equal(call_code(town, "Tokens/List", &lt.base, &st), C_DENIED);
  assert_true(audit_has(auditor, "denied", P[P_TOWN].id, "/shegong.v1.Tokens/List", C_DENIED, NULL));
  /* by the town scope, in a read */
  picked other = pick_worker(TOWN2, 0);
  Shegong__V1__GetWorkerRequest g = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
  g.id = other.id;
  assert_int_equal(call_code(town, "Workers/Get", &g.base, &st), C_DENIED);
  assert_true(audit_has(auditor, "denied", P[P_TOWN].id, "/shegong.v1.Workers/Get", C_DENIED, NULL));
  /* without a valid token: token_id 0 */
  sg_client *none = connect_as(P_REVOKED);
  Shegong__V1__ListWorkersRequest lw = SHEGONG__V1__LIST_WORKERS_REQUEST__INIT;
  lw.town_code = TOWN1;
  lw.page_size = 1;
  assert_int_equal(call_code(none, "Workers/List", &lw.base, &st), C_UNAUTH);
  sg_client_close(none);
  assert_true(audit_has(auditor, "denied", 0, "/shegong.v1.Workers/List", C_UNAUTH, NULL));

  /* a write: who, what, on which record */
  picked mine = pick_worker(TOWN1, 0);
  Shegong__V1__Worker w = SHEGONG__V1__WORKER__INIT;
  w.level = (mine.level + 2) % 12 + 1;
  char *mask[] = {"level"};
  Shegong__V1__UpdateWorkerRequest u = SHEGONG__V1__UPDATE_WORKER_REQUEST__INIT;
  u.id = mine.id;
  u.expected_version = mine.version;
  u.worker = &w;
  u.n_update_mask = 1;
  u.update_mask = mask;
  free_msg(must_call(town, "Workers/Update", &u.base));
  char target[64];
  snprintf(target, sizeof target, "Worker %llu", (unsigned long long)mine.id);
  assert_true(audit_has(auditor, "write", P[P_TOWN].id, "/shegong.v1.Workers/Update", C_OK, target));
  /* a write refused inside the handler is recorded with its outcome */
  u.id = other.id;
  u.expected_version = other.version;
  assert_int_equal(call_code(town, "Workers/Update", &u.base, &st), C_DENIED);
  assert_true(audit_has(auditor, "denied", P[P_TOWN].id, "/shegong.v1.Workers/Update", C_DENIED,
                        NULL));

  /* a read of personal data by a pii token; none for a token without pii */
  g.id = mine.id;
  free_msg(must_call(pii, "Workers/Get", &g.base));
  assert_true(audit_has(auditor, "pii-read", P[P_ADMIN_PII].id, "/shegong.v1.Workers/Get", C_OK,
                        NULL));
  free_msg(must_call(nopii, "Workers/Get", &g.base));
  Shegong__V1__ListAuditRequest la = SHEGONG__V1__LIST_AUDIT_REQUEST__INIT;
  la.event = "pii-read";
  la.token_id = P[P_ADMIN].id;
  la.page_size = 1000;
  Shegong__V1__ListAuditResponse *none_read =
      (Shegong__V1__ListAuditResponse *)must_call(auditor, "Audit/List", &la.base);
  assert_int_equal(none_read->n_entries, 0);
  free_msg(none_read);

  /* who may read the log */
  Shegong__V1__ListAuditRequest any = SHEGONG__V1__LIST_AUDIT_REQUEST__INIT;
  any.page_size = 10;
  assert_int_equal(call_code(town, "Audit/List", &any.base, &st), C_DENIED);
  assert_int_equal(call_code(auditor, "Audit/List", &any.base, &st), C_OK);

  /* and nobody may change it: no method of the table but List touches it */
  for (size_t i = 0; i < sg_methods_count(); i++) {
    const char *path = sg_methods_at(i)->path;
    if (strstr(path, "Audit/") && strcmp(path, "/shegong.v1.Audit/List") != 0)
      fail_msg("method %s could change or delete audit entries", path);
  }
  assert_non_null(sg_methods_find("Audit/List"));
  sg_client_close(town);
  sg_client_close(auditor);
  sg_client_close(pii);
  sg_client_close(nopii);
}

/* ------------------------------------------------------------------------ */
/* 5. Token lifecycle */

static int has_violation(const sg_status *st, const char *field) {
  for (size_t i = 0; i < st->n_violations; i++)
    if (strcmp(st->violations[i].field, field) == 0) return 1;
  return 0;
}

static void test_token_secret_shown_once(void **state) {
  fx *f = *state;
  char secret[160];
  sg_status st;
  uint64_t id = 0;
  assert_int_equal(create_token(f->c, ROLE_TOWN, TOWN2, 0, NULL, NULL, "和平桥街道办公室", secret,
                                sizeof secret, &id, &st),
                   0);
  assert_true(strncmp(secret, "sg_", 3) == 0);
  assert_true(strlen(secret) > 20);
  assert_true(id > 0);

  /* Tokens/List (by an admin and by an auditor) never carries a secret */
  sg_client *auditor = connect_as(P_AUDITOR);
  sg_client *who[] = {f->c, auditor};
  for (size_t k = 0; k < 2; k++) {
    Shegong__V1__ListTokensRequest l = SHEGONG__V1__LIST_TOKENS_REQUEST__INIT;
    l.include_revoked = 1;
    ProtobufCMessage *r = must_call(who[k], "Tokens/List", &l.base);
    size_t n = protobuf_c_message_get_packed_size(r);
    uint8_t *buf = malloc(n + 1);
    assert_non_null(buf);
    protobuf_c_message_pack(r, buf);
    for (size_t i = 0; i < n_secrets; i++)
      if (memmem(buf, n, secrets[i], strlen(secrets[i])))
        fail_msg("Tokens/List carries the secret of a token");
    if (!memmem(buf, n, "和平桥街道办公室", strlen("和平桥街道办公室")))
      fail_msg("Tokens/List does not list the new token");
    free(buf);
    free_msg(r);
  }
  sg_client_close(auditor);
  /* nor does WhoAmI */
  sg_client *c = connect_with(secret);
  Shegong__V1__WhoAmIRequest wr = SHEGONG__V1__WHO_AM_IREQUEST__INIT;
  ProtobufCMessage *me = must_call(c, "Tokens/WhoAmI", &wr.base);
  assert_int_equal(((Shegong__V1__Token *)me)->id, id);
  size_t n = protobuf_c_message_get_packed_size(me);
  uint8_t *buf = malloc(n + 1);
  protobuf_c_message_pack(me, buf);
  assert_null(memmem(buf, n, secret, strlen(secret)));
  free(buf);
  free_msg(me);
  sg_client_close(c);
}

static void test_token_revoked_and_expired(void **state) {
  fx *f = *state;
  sg_status st;
  char secret[160], late[160];
  uint64_t id = make_token(ROLE_AUDITOR, NULL, 0, NULL, NULL, "to be revoked", secret, sizeof secret);
  char at[32];
  time_t expires = time(NULL) + 3;
  rfc3339_at(expires, at, sizeof at);
  make_token(ROLE_AUDITOR, NULL, 0, NULL, at, "to expire", late, sizeof late);

  /* revoked: the next call fails, on the connection that is already open too */
  sg_client *open = connect_with(secret), *open_late = connect_with(late);
  Shegong__V1__WhoAmIRequest wr = SHEGONG__V1__WHO_AM_IREQUEST__INIT;
  Shegong__V1__ListWorkersRequest lw = SHEGONG__V1__LIST_WORKERS_REQUEST__INIT;
  lw.page_size = 1;
  assert_int_equal(call_code(open, "Tokens/WhoAmI", &wr.base, &st), C_OK);
  assert_int_equal(call_code(open, "Workers/List", &lw.base, &st), C_OK);
  assert_int_equal(call_code(open_late, "Workers/List", &lw.base, &st), C_OK);
  assert_int_equal(revoke_token(f->c, id, &st), 0);
  assert_int_equal(call_code(open, "Workers/List", &lw.base, &st), C_UNAUTH);
  assert_int_equal(call_code(open, "Tokens/WhoAmI", &wr.base, &st), C_UNAUTH);
  assert_int_equal(whoami_code(secret), C_UNAUTH);
  /* revoking twice is refused, and changes nothing */
  assert_int_equal(revoke_token(f->c, id, &st), SG_EPRECOND);

  /* expired: works until its time, then not (open connection and a new one) */
  while (time(NULL) <= expires) hs_sleep_ms(100);
  assert_int_equal(call_code(open_late, "Workers/List", &lw.base, &st), C_UNAUTH);
  assert_int_equal(whoami_code(late), C_UNAUTH);
  sg_client_close(open);
  sg_client_close(open_late);
}

/* A watch opened with a token keeps no access after the token is revoked. */
static void test_revoked_token_ends_open_watch(void **state) {
  fx *f = *state;
  char secret[160];
  uint64_t id = make_token(ROLE_AUDITOR, NULL, 0, NULL, NULL, "watcher", secret, sizeof secret);
  sg_client *c = connect_with(secret);
  uint32_t wid = open_watch(c, head_revision());
  sg_status st;
  assert_int_equal(revoke_token(f->c, id, &st), 0);
  /* a change after the revocation */
  picked p = pick_worker(TOWN1, 0);
  Shegong__V1__PushResponse *r = push_level(f->c, p.id);
  free_msg(r);
  /* it must end (UNAUTHENTICATED) rather than deliver the change; empty
   * progress messages (heartbeats) prove nothing either way */
  unsigned long long deadline = hs_now_ms() + 3000;
  int rc = 0;
  while (rc == 0 && hs_now_ms() < deadline) {
    ProtobufCMessage *m = NULL;
    rc = sg_stream_next(c, wid, &m, (int)(deadline - hs_now_ms()) + 1, &st);
    size_t n = rc == 0 ? ((Shegong__V1__PullResponse *)m)->n_changes : 0;
    free_msg(m);
    if (n) {
      sg_client_close(c);
      fail_msg("a watch opened with token %llu still streams changes after the token was revoked",
               (unsigned long long)id);
    }
  }
  sg_client_close(c);
  if (st.code != C_UNAUTH)
    fail_msg("the watch of a revoked token: %s (%s), want UNAUTHENTICATED", sg_code_name(st.code),
             st.message);
}

static void test_token_bad_requests(void **state) {
  fx *f = *state;
  size_t before = count_tokens();
  static const struct {
    int role;
    const char *town, *method, *expires, *field;
  } bad[] = {
      {0, NULL, NULL, NULL, "token.role"},
      {99, NULL, NULL, NULL, "token.role"},
      {ROLE_TOWN, NULL, NULL, NULL, "token.town_code"},
      {ROLE_AUDITOR, TOWN1, NULL, NULL, "token.town_code"},
      {ROLE_ADMIN, TOWN1, NULL, NULL, "token.town_code"},
      {ROLE_TOWN, "320602999", NULL, NULL, "token.town_code"},
      {ROLE_TOWN, "320602001001", NULL, NULL, "token.town_code"},
      {ROLE_SERVICE, NULL, NULL, NULL, "token.methods"},
      {ROLE_AUDITOR, NULL, "Workers/Get", NULL, "token.methods"},
      {ROLE_SERVICE, NULL, "Workers/Fire", NULL, "token.methods"},
      /* a service must not be able to mint itself a wider token, compact or read the audit log */
      {ROLE_SERVICE, TOWN1, "Tokens/Create", NULL, "token.methods"},
      {ROLE_SERVICE, NULL, "Tokens/Revoke", NULL, "token.methods"},
      {ROLE_SERVICE, NULL, "Admin/Compact", NULL, "token.methods"},
      {ROLE_AUDITOR, NULL, NULL, "tomorrow", "token.expires_at"},
      {ROLE_AUDITOR, NULL, NULL, "2020-01-01T00:00:00Z", "token.expires_at"},
      {ROLE_AUDITOR, NULL, NULL, "2099-01-01T00:00:00+08:00", "token.expires_at"},
      {ROLE_AUDITOR, NULL, NULL, "2099-02-30T00:00:00Z", "token.expires_at"},
      {ROLE_AUDITOR, NULL, NULL, "2099-01-01 00:00:00Z", "token.expires_at"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char secret[160] = "";
    sg_status st;
    int rc = create_token(f->c, bad[i].role, bad[i].town, 0, bad[i].method, bad[i].expires, "bad",
                          secret, sizeof secret, NULL, &st);
    if (rc != SG_EINVAL || !has_violation(&st, bad[i].field))
      fail_msg("bad token request %zu (%s): got %s (%s), want INVALID_ARGUMENT on %s", i,
               bad[i].field, sg_code_name(st.code), st.message, bad[i].field);
  }
  assert_int_equal(count_tokens(), before);
}

static void test_bootstrap_token_file_and_restart(void **state) {
  (void)state;
  hs_server a, b;
  assert_int_equal(hs_server_start(&a, NULL, NULL), 0);
  struct stat sb;
  assert_int_equal(stat(a.token_file, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  char secret[160];
  sg_status st;
  assert_int_equal(sg_read_token_file(a.token_file, secret, sizeof secret, &st), 0);
  remember_secret(secret);
  assert_true(strncmp(secret, "sg_", 3) == 0);

  sg_client *c;
  Shegong__V1__ListTokensRequest l = SHEGONG__V1__LIST_TOKENS_REQUEST__INIT;
  l.include_revoked = 1;
  assert_int_equal(sg_client_connect(&c, a.addr, 5000, &st), 0);
  Shegong__V1__ListTokensResponse *r =
      (Shegong__V1__ListTokensResponse *)must_call(c, "Tokens/List", &l.base);
  size_t n = r->n_tokens;
  assert_int_equal(n, 1);
  assert_int_equal(r->tokens[0]->role, ROLE_ADMIN);
  assert_true(r->tokens[0]->pii);
  free_msg(r);
  sg_client_close(c);
  assert_int_equal(hs_server_stop(&a), 0);

  /* a restart on the same data: no second admin token, the file is as it was */
  int started = hs_server_start(&b, a.data, NULL) == 0;
  if (started) {
    char again[160];
    int same = sg_read_token_file(b.token_file, again, sizeof again, &st) == 0 &&
               strcmp(again, secret) == 0;
    int ok = sg_client_connect(&c, b.addr, 5000, &st) == 0;
    size_t m = 0;
    if (ok) {
      ProtobufCMessage *resp = NULL;
      ok = sg_call(c, "Tokens/List", &l.base, &resp, CALL_MS, &st) == 0;
      if (ok) m = ((Shegong__V1__ListTokensResponse *)resp)->n_tokens;
      free_msg(resp);
      sg_client_close(c);
    }
    int mode_ok = stat(b.token_file, &sb) == 0 && (sb.st_mode & 0777) == 0600;
    hs_server_stop(&b);
    hs_server_cleanup(&b);
    hs_server_cleanup(&a);
    hs_use_token_file(G->srv.token_file);
    assert_true(same);
    assert_true(ok);
    assert_int_equal(m, n);
    assert_true(mode_ok);
  } else {
    hs_server_cleanup(&a);
    hs_use_token_file(G->srv.token_file);
    fail_msg("the server did not start again on its data");
  }
}

/* ------------------------------------------------------------------------ */
/* 6. Pre-authentication limits, on raw sockets */

/* One request frame: 4-byte big-endian length + shegong.v1.Frame (secret NULL: no token). */
static void raw_call(int fd, uint32_t call_id, const char *method, const ProtobufCMessage *req,
                     const char *secret) {
  size_t plen = protobuf_c_message_get_packed_size(req);
  uint8_t *payload = malloc(plen ? plen : 1);
  assert_non_null(payload);
  protobuf_c_message_pack(req, payload);
  sg_frame fr = SHEGONG__V1__FRAME__INIT;
  Shegong__V1__Metadata md = SHEGONG__V1__METADATA__INIT, *mdp = &md;
  char auth[200];
  if (secret) {
    snprintf(auth, sizeof auth, "Bearer %s", secret);
    md.key = "authorization";
    md.value = auth;
    fr.n_metadata = 1;
    fr.metadata = &mdp;
  }
  fr.call_id = call_id;
  fr.method = (char *)method;
  fr.flags = SG_FLAG_END_STREAM;
  fr.payload.data = payload;
  fr.payload.len = plen;
  size_t n = sg_frame_wire_size(&fr);
  uint8_t *buf = malloc(n);
  assert_non_null(buf);
  sg_frame_write(&fr, buf);
  raw_send(fd, buf, n);
  free(buf);
  free(payload);
}

static int frame_code(const sg_frame *fr) { return fr->status ? (int)fr->status->code : 0; }

/* The server answers with one call-0 frame of `code`, then closes. */
static void expect_conn_error(int fd, int code, const char *what) {
  raw_in in;
  raw_in_init(&in);
  raw_read(fd, &in, 1, 1, 10000);
  if (in.n != 1 || in.frames[0]->call_id != 0 || frame_code(in.frames[0]) != code || !in.eof)
    fail_msg("%s: got %zu frames (first: call %u, %s), %s; want one call-0 %s and the end",
             what, in.n, in.n ? in.frames[0]->call_id : 0,
             in.n ? sg_code_name(frame_code(in.frames[0])) : "-", in.eof ? "closed" : "still open",
             sg_code_name(code));
  raw_in_free(&in);
}

/* One answer to call_id with code, on a connection that stays open. */
static void expect_answer(int fd, uint32_t call_id, int code, const char *what) {
  raw_in in;
  raw_in_init(&in);
  raw_read(fd, &in, 1, 0, 10000);
  if (in.n != 1 || in.frames[0]->call_id != call_id || frame_code(in.frames[0]) != code)
    fail_msg("%s: got %zu frames (first: call %u, %s%s%s), want call %u %s", what, in.n,
             in.n ? in.frames[0]->call_id : 0, in.n ? sg_code_name(frame_code(in.frames[0])) : "-",
             in.n && in.frames[0]->status ? ": " : "",
             in.n && in.frames[0]->status && in.frames[0]->status->message
                 ? in.frames[0]->status->message
                 : "",
             call_id, sg_code_name(code));
  raw_in_free(&in);
}

/* Waits for the server to close fd; milliseconds since `since`, or 0 if it did not within limit. */
static unsigned long long wait_closed(int fd, unsigned long long since, unsigned limit_ms) {
  raw_in in;
  raw_in_init(&in);
  unsigned long long deadline = since + limit_ms;
  while (!in.eof && hs_now_ms() < deadline)
    raw_read(fd, &in, 1000, 1, (int)(deadline - hs_now_ms()));
  unsigned long long at = in.eof ? hs_now_ms() - since : 0;
  raw_in_free(&in);
  return at;
}

#define BIG (300u * 1024u)

static void test_preauth_limits(void **state) {
  fx *f = *state;
  const char *admin = P[P_ADMIN_PII].secret;

  /* the idle strangers, first, so that their 10 s run while the rest is checked */
  unsigned long long t0 = hs_now_ms();
  int silent = raw_socket(f->srv.port, 0);
  int stranger = raw_socket(f->srv.port, 0); /* Hello and a bad token: still a stranger */
  int member = raw_socket(f->srv.port, 0);   /* makes an authenticated call */
  Shegong__V1__HelloRequest hello = SHEGONG__V1__HELLO_REQUEST__INIT;
  hello.client = "test_security";
  raw_call(stranger, 1, "/shegong.v1.Admin/Hello", &hello.base, NULL);
  expect_answer(stranger, 1, C_OK, "Hello without a token");
  Shegong__V1__WhoAmIRequest who = SHEGONG__V1__WHO_AM_IREQUEST__INIT;
  raw_call(stranger, 2, "/shegong.v1.Tokens/WhoAmI", &who.base, "sg_not-a-token");
  expect_answer(stranger, 2, C_UNAUTH, "WhoAmI with a bad token");
  raw_call(member, 1, "/shegong.v1.Tokens/WhoAmI", &who.base, admin);
  expect_answer(member, 1, C_OK, "WhoAmI with the admin token");

  /* a 300 KiB first frame: RESOURCE_EXHAUSTED on call 0, and the end */
  int fd = raw_socket(f->srv.port, 0);
  uint8_t *junk = calloc(1, 64 * 1024 + 4);
  assert_non_null(junk);
  junk[0] = (uint8_t)(BIG >> 24);
  junk[1] = (uint8_t)(BIG >> 16);
  junk[2] = (uint8_t)(BIG >> 8);
  junk[3] = (uint8_t)BIG;
  raw_send(fd, junk, 64 * 1024 + 4);
  free(junk);
  expect_conn_error(fd, C_EXHAUSTED, "a 300 KiB first frame");
  close(fd);

  /* even with a valid token in it: the length is checked before anything else */
  char *big = malloc(BIG + 1);
  assert_non_null(big);
  memset(big, 'a', BIG);
  big[BIG] = '\0';
  Shegong__V1__HelloRequest bighello = SHEGONG__V1__HELLO_REQUEST__INIT;
  bighello.client = big;
  fd = raw_socket(f->srv.port, 0);
  raw_call(fd, 1, "/shegong.v1.Admin/Hello", &bighello.base, admin);
  expect_conn_error(fd, C_EXHAUSTED, "a 300 KiB first frame with a token");
  close(fd);

  /* after only a Hello, or a refused token, the limit still holds */
  fd = raw_socket(f->srv.port, 0);
  raw_call(fd, 1, "/shegong.v1.Admin/Hello", &hello.base, NULL);
  expect_answer(fd, 1, C_OK, "Hello");
  raw_call(fd, 2, "/shegong.v1.Tokens/WhoAmI", &who.base, P[P_REVOKED].secret);
  expect_answer(fd, 2, C_UNAUTH, "WhoAmI with a revoked token");
  raw_call(fd, 3, "/shegong.v1.Admin/Hello", &bighello.base, admin);
  expect_conn_error(fd, C_EXHAUSTED, "a 300 KiB frame after Hello and a revoked token");
  close(fd);

  /* after one small authenticated call, 300 KiB is an ordinary frame */
  fd = raw_socket(f->srv.port, 0);
  raw_call(fd, 7, "/shegong.v1.Tokens/WhoAmI", &who.base, admin);
  expect_answer(fd, 7, C_OK, "WhoAmI");
  raw_call(fd, 8, "/shegong.v1.Admin/Hello", &bighello.base, admin);
  expect_answer(fd, 8, C_OK, "a 300 KiB Hello after an authenticated call");
  close(fd);

  /* through the library, a big first call works: it authenticates with a small one first */
  sg_client *c = connect_as(P_ADMIN_PII);
  ProtobufCMessage *resp = NULL;
  sg_status st;
  if (sg_call(c, "Admin/Hello", &bighello.base, &resp, CALL_MS, &st) != 0)
    fail_msg("a 300 KiB first call through the library: %s: %s", sg_code_name(st.code), st.message);
  assert_int_equal(((Shegong__V1__HelloResponse *)resp)->protocol_version, 1);
  free_msg(resp);
  sg_client_close(c);
  free(big);

  /* the strangers are shown the door after about 10 s; the member stays */
  unsigned long long a = wait_closed(silent, t0, 20000);
  unsigned long long b = wait_closed(stranger, t0, 20000);
  print_message("unauthenticated connections closed after %llu ms and %llu ms\n", a, b);
  close(silent);
  close(stranger);
  if (!a || a < 8000) fail_msg("a silent connection was closed after %llu ms (0: not in 20 s)", a);
  if (!b || b < 8000)
    fail_msg("a connection with no authenticated call was closed after %llu ms (0: not in 20 s)", b);
  raw_call(member, 2, "/shegong.v1.Admin/Hello", &hello.base, NULL);
  expect_answer(member, 2, C_OK, "Hello on an authenticated connection after 10 s");
  close(member);
}

/*
 * The library's own account of the limit: a first call refused with
 * PERMISSION_DENIED must not make it send a big frame the server still
 * takes for a stranger's.
 */
static void test_library_big_call_after_refused_call(void **state) {
  (void)state;
  sg_client *c = connect_as(P_AUDITOR);
  sg_status st;
  char secret[160] = "";
  int rc = create_token(c, ROLE_AUDITOR, NULL, 0, NULL, NULL, "not allowed", secret, sizeof secret,
                        NULL, &st);
  assert_int_equal(rc, SG_EPERM);
  char *big = malloc(BIG + 1);
  assert_non_null(big);
  memset(big, 'b', BIG);
  big[BIG] = '\0';
  Shegong__V1__HelloRequest bighello = SHEGONG__V1__HELLO_REQUEST__INIT;
  bighello.client = big;
  ProtobufCMessage *resp = NULL;
  rc = sg_call(c, "Admin/Hello", &bighello.base, &resp, CALL_MS, &st);
  free(big);
  free_msg(resp);
  sg_client_close(c);
  if (rc)
    fail_msg("a 300 KiB call after a refused first call: %s: %s", sg_code_name(st.code),
             st.message);
}

/* ------------------------------------------------------------------------ */
/* 7. The log */

static void test_log_has_no_idno_or_secret(void **state) {
  fx *f = *state;
  char *log = hs_server_read_log(&f->srv);
  assert_non_null(log);
  size_t len = strlen(log);
  assert_true(len > 1000);
  const char *hit = find_idno(log, len);
  if (hit) {
    const char *line = hit;
    while (line > log && line[-1] != '\n') line--;
    const char *end = strchr(hit, '\n');
    int n = end ? (int)(end - line) : (int)strlen(line);
    fail_msg("the server log holds an ID number:\n%.*s", n > 300 ? 300 : n, line);
  }
  for (size_t i = 0; i < n_secrets; i++)
    if (strstr(log, secrets[i])) fail_msg("the server log holds a token secret");
  print_message("server log: %zu bytes, %zu lines; %zu secrets checked\n", len,
                hs_count_lines(log), n_secrets);
  free(log);
}

/* ------------------------------------------------------------------------ */

static int group_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (!f || hs_server_start(&f->srv, NULL, NULL) != 0) return -1;
  G = f;
  const char *argv[] = {SHEGONG_DEMO_PATH, "--towns", "2", "--workers", "80", "--quiet", NULL};
  char *err = NULL;
  int rc = hs_run(argv, f->srv.addr, NULL, &err, 0);
  if (rc != 0) {
    fprintf(stderr, "shegong-demo failed (%d): %s\n", rc, err ? err : "");
    free(err);
    return -1;
  }
  free(err);
  sg_status st;
  if (sg_client_connect(&f->c, f->srv.addr, 5000, &st) != 0) return -1;
  char boot[160];
  if (sg_read_token_file(f->srv.token_file, boot, sizeof boot, &st) == 0) remember_secret(boot);
  for (int p = 0; p < N_PRINCIPALS; p++) {
    principal *pr = &P[p];
    if (!pr->role) continue;
    char at[32] = "";
    if (p == P_EXPIRED) {
      f->expires = time(NULL) + 2;
      rfc3339_at(f->expires, at, sizeof at);
    }
    if (create_token(f->c, pr->role, pr->town, pr->pii, pr->method, at[0] ? at : NULL, pr->name,
                     pr->secret, sizeof pr->secret, &pr->id, &st)) {
      fprintf(stderr, "Tokens/Create for %s: %s: %s\n", pr->name, sg_code_name(st.code),
              st.message);
      return -1;
    }
    if (p == P_REVOKED && revoke_token(f->c, pr->id, &st)) {
      fprintf(stderr, "Tokens/Revoke: %s: %s\n", sg_code_name(st.code), st.message);
      return -1;
    }
  }
  *state = f;
  return 0;
}

static int group_teardown(void **state) {
  fx *f = *state;
  sg_client_close(f->c);
  if (hs_server_stop(&f->srv) != 0) hs_server_print_log(&f->srv, 40);
  hs_server_cleanup(&f->srv);
  free(f);
  G = NULL;
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_access_matrix),
      cmocka_unit_test(test_scope_in_lists_and_streams),
      cmocka_unit_test(test_masking),
      cmocka_unit_test(test_masking_cli),
      cmocka_unit_test(test_audit),
      cmocka_unit_test(test_token_secret_shown_once),
      cmocka_unit_test(test_token_revoked_and_expired),
      cmocka_unit_test(test_revoked_token_ends_open_watch),
      cmocka_unit_test(test_token_bad_requests),
      cmocka_unit_test(test_bootstrap_token_file_and_restart),
      cmocka_unit_test(test_preauth_limits),
      cmocka_unit_test(test_library_big_call_after_refused_call),
      /* last: everything above has gone through the server's log */
      cmocka_unit_test(test_log_has_no_idno_or_secret),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
