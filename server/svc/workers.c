/* Workers service: the register of community workers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "store/units.h"
#include "rules.h"
#include "store/records.h"
#include "store/workers.h"
#include "svc/svc.h"
#include "wire.h"

#define SG_PERSON_NAME_MAX 32   /* code points; minority names with · run long */
#define SG_POST_MAX_BYTES 64
#define SG_LEVEL_MAX 99
#define SG_REASON_MAX_BYTES 512
#define SG_MIN_WORKING_AGE 16   /* Labour Law art. 15 */

/* Fields an Update may name; the rest are set by the server or by Leave. */
static const char *const updatable[] = {
    "name", "gender", "birth_date", "id_number", "phone", "education", "party_member",
    "category", "role", "source", "certification", "post", "level", "unit_code", "grid_code",
    "hire_date", NULL};

typedef struct placement {
  uint64_t town_id;
} placement;

static int check_enum(sg_call_ctx *ctx, const char *field, const ProtobufCEnumDescriptor *d,
                      int v, int required) {
  if (!sg_enum_valid(d, v)) {
    sg_status_violation(ctx->st, field, "unknown value %d", v);
    return -1;
  }
  if (required && v == 0) {
    sg_status_violation(ctx->st, field, "required");
    return -1;
  }
  return 0;
}

/*
 * Validates w in place (normalizing the ID number and filling gender, birth
 * date, unit_id and town_code), checking every field so that one answer
 * names every bad one. Returns 0, SG_EINVAL with violations, or a storage
 * error or FAILED_PRECONDITION about the unit.
 */
static int validate_worker(sg_call_ctx *ctx, MDB_txn *txn, sg_worker *w, placement *pl) {
  char why[SG_WHY_MAX];
  sg_date today, birth, d;
  sg_validate_date(ctx->today, &today, NULL, 0);

  if (sg_validate_name(w->name, SG_PERSON_NAME_MAX, why, sizeof why))
    sg_status_violation(ctx->st, "worker.name", "%s", why);

  char idno[19];
  int female = 0, have_birth = 0;
  if (!w->id_number[0]) {
    sg_status_violation(ctx->st, "worker.id_number", "required");
  } else if (sg_validate_idno(w->id_number, &today, idno, &birth, &female, why, sizeof why)) {
    sg_status_violation(ctx->st, "worker.id_number", "%s", why);
  } else {
    have_birth = 1;
    w->id_number = sg_dup(ctx, idno);
    int want = female ? SHEGONG__V1__GENDER__FEMALE : SHEGONG__V1__GENDER__MALE;
    if (w->gender == SHEGONG__V1__GENDER__GENDER_UNSPECIFIED)
      w->gender = want;
    else if ((int)w->gender != want)
      sg_status_violation(ctx->st, "worker.gender",
                          "does not match the ID number, whose 17th digit says %s",
                          female ? "FEMALE" : "MALE");
    char bd[16];
    snprintf(bd, sizeof bd, "%04d-%02d-%02d", birth.year, birth.month, birth.day);
    if (!w->birth_date[0])
      w->birth_date = sg_dup(ctx, bd);
    else if (strcmp(w->birth_date, bd) != 0)
      sg_status_violation(ctx->st, "worker.birth_date", "%s does not match the ID number's %s",
                          sg_validate_date(w->birth_date, &d, NULL, 0) ? "this" : w->birth_date,
                          bd);
  }
  check_enum(ctx, "worker.gender", &shegong__v1__gender__descriptor, w->gender, 0);
  if (w->phone[0] && sg_validate_phone(w->phone, why, sizeof why))
    sg_status_violation(ctx->st, "worker.phone", "%s", why);
  check_enum(ctx, "worker.education", &shegong__v1__education__descriptor, w->education, 0);
  check_enum(ctx, "worker.category", &shegong__v1__category__descriptor, w->category, 1);
  check_enum(ctx, "worker.role", &shegong__v1__role__descriptor, w->role, 1);
  check_enum(ctx, "worker.source", &shegong__v1__source__descriptor, w->source, 0);
  check_enum(ctx, "worker.certification", &shegong__v1__certification__descriptor,
             w->certification, 0);
  check_enum(ctx, "worker.status", &shegong__v1__worker_status__descriptor, w->status, 0);
  if (w->post[0] && sg_validate_text(w->post, SG_POST_MAX_BYTES, why, sizeof why))
    sg_status_violation(ctx->st, "worker.post", "%s", why);
  if (w->level > SG_LEVEL_MAX)
    sg_status_violation(ctx->st, "worker.level", "at most %d", SG_LEVEL_MAX);
  if (!w->hire_date[0]) {
    sg_status_violation(ctx->st, "worker.hire_date", "required");
  } else if (sg_validate_date(w->hire_date, &d, why, sizeof why)) {
    sg_status_violation(ctx->st, "worker.hire_date", "%s", why);
  } else if (have_birth && sg_date_years_between(&birth, &d) < SG_MIN_WORKING_AGE) {
    sg_status_violation(ctx->st, "worker.hire_date", "the worker would be under %d on that day",
                        SG_MIN_WORKING_AGE);
  } else if (sg_date_years_between(&today, &d) >= 1) {
    /* a hire may be entered ahead of its start, but not by years */
    sg_status_violation(ctx->st, "worker.hire_date", "%s is a year or more ahead",
                        w->hire_date);
  }

  /* the unit: it must exist and fit the category */
  if (!w->unit_code[0]) {
    sg_status_violation(ctx->st, "worker.unit_code", "required");
    return SG_EINVAL;
  }
  if (strlen(w->unit_code) != 9 && strlen(w->unit_code) != 12) {
    sg_status_violation(ctx->st, "worker.unit_code",
                        "a town (9 digits), community or village (12 digits) code");
    return SG_EINVAL;
  }
  sg_unit *unit;
  int rc = sg_units_get_by_code(ctx->store, txn, w->unit_code, &ctx->arena->allocator, &unit);
  if (rc == SG_ENOTFOUND) {
    sg_status_violation(ctx->st, "worker.unit_code", "no unit %s", w->unit_code);
    return SG_EINVAL;
  }
  if (rc) return rc;
  int town_centre = w->category == SHEGONG__V1__CATEGORY__TOWN_CENTRE;
  if (unit->kind == SHEGONG__V1__UNIT_KIND__TOWN) {
    if (!town_centre && w->category)
      sg_status_violation(ctx->st, "worker.unit_code",
                          "%s is a town: only town-centre (街镇中心) workers belong to a town",
                          unit->code);
    pl->town_id = unit->id;
    w->town_code = unit->code;
  } else if (unit->kind == SHEGONG__V1__UNIT_KIND__COMMUNITY ||
             unit->kind == SHEGONG__V1__UNIT_KIND__VILLAGE) {
    /* on first-year placement (首年下沉) a town-centre hire serves in a community */
    if (town_centre && w->status != SHEGONG__V1__WORKER_STATUS__PLACEMENT)
      sg_status_violation(ctx->st, "worker.category",
                          "a town-centre worker belongs to a town, not to %s", unit->code);
    pl->town_id = unit->parent_id;
    w->town_code = unit->parent_code;
  } else {
    sg_status_violation(ctx->st, "worker.unit_code", "%s is not a town, community or village",
                        unit->code);
    return SG_EINVAL;
  }
  w->unit_id = unit->id;
  if (w->grid_code[0]) {
    sg_unit *grid;
    rc = strlen(w->grid_code) == 15 ? sg_units_get_by_code(ctx->store, txn, w->grid_code,
                                                           &ctx->arena->allocator, &grid)
                                    : SG_ENOTFOUND;
    if (rc == SG_ENOTFOUND)
      sg_status_violation(ctx->st, "worker.grid_code", "no grid %s", w->grid_code);
    else if (rc)
      return rc;
    else if (grid->kind != SHEGONG__V1__UNIT_KIND__GRID || grid->parent_id != unit->id)
      sg_status_violation(ctx->st, "worker.grid_code", "%s is not a grid of %s", grid->code,
                          unit->code);
  }
  return ctx->st->n_violations ? SG_EINVAL : 0;
}

/*
 * With a pay ladder in the policy, a post given must be one of its posts and
 * the level one of that post's: Create and Update may not set what
 * ChangeLevel would refuse.
 */
/*
 * The policy's hiring limits (凡进必考: at most 40, at least 大专), for a new
 * worker: age on the hire date, and the education recorded.
 */
static int check_hiring(sg_call_ctx *ctx, MDB_txn *txn, const sg_worker *w) {
  const Shegong__V1__Policy *pol;
  int rc = sg_policy_view(ctx->store, txn, &ctx->arena->allocator, &pol);
  if (rc || !pol->hiring) return rc;
  const Shegong__V1__HiringPolicy *h = pol->hiring;
  sg_date birth, hire;
  if (h->max_age && sg_validate_date(w->birth_date, &birth, NULL, 0) == 0 &&
      sg_validate_date(w->hire_date, &hire, NULL, 0) == 0 &&
      sg_date_years_between(&birth, &hire) > (int)h->max_age)
    sg_status_violation(ctx->st, "worker.hire_date",
                        "the worker would be %d on that day: the district hires at %u at most",
                        sg_date_years_between(&birth, &hire), h->max_age);
  if (h->min_education && (!w->education || w->education < h->min_education)) {
    const ProtobufCEnumValue *e =
        protobuf_c_enum_descriptor_get_value(&shegong__v1__education__descriptor, h->min_education);
    sg_status_violation(ctx->st, "worker.education", "the district hires with %s or more%s",
                        e ? e->name : "?", w->education ? "" : ": give the education");
  }
  return ctx->st->n_violations ? SG_EINVAL : 0;
}

static int check_ladder(sg_call_ctx *ctx, MDB_txn *txn, const sg_worker *w) {
  if (!w->post[0]) return 0;
  const Shegong__V1__Policy *pol;
  int rc = sg_policy_view(ctx->store, txn, &ctx->arena->allocator, &pol);
  if (rc || !pol->ladder) return rc;
  const Shegong__V1__PayPost *p = sg_ladder_post(pol->ladder, w->post, NULL);
  if (!p)
    sg_status_violation(ctx->st, "worker.post", "%s is not a post of the ladder %s", w->post,
                        pol->ladder->name);
  else if (w->level < p->min_level || w->level > p->max_level)
    sg_status_violation(ctx->st, "worker.level", "post %s has levels %u to %u", p->name,
                        p->min_level, p->max_level);
  return ctx->st->n_violations ? SG_EINVAL : 0;
}

static sg_worker *copy_worker(sg_call_ctx *ctx, const sg_worker *src) {
  sg_worker *w = sg_arena_alloc(ctx->arena, sizeof *w);
  if (w) *w = *src; /* shallow: strings stay in arena memory of this call */
  return w;
}

static int put_conflict(sg_call_ctx *ctx, MDB_txn *txn, const sg_worker *w) {
  uint64_t other = 0;
  sg_workers_find_idno(ctx->store, txn, w->id_number, &other);
  return sg_status_set(ctx->st, SG_EEXISTS, "worker %llu already has this ID number",
                       (unsigned long long)other);
}

typedef struct latest_date {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  const sg_rec_kind *kind;
  char date[11];
  int err;
} latest_date;

static int note_latest(void *arg, uint64_t id) {
  latest_date *l = arg;
  sg_arena_mark m = sg_arena_get_mark(l->ctx->arena);
  ProtobufCMessage *r;
  int rc = sg_rec_get(l->ctx->store, l->txn, l->kind, id, &l->ctx->arena->allocator, &r);
  if (rc) return l->err = rc;
  const ProtobufCFieldDescriptor *fd =
      protobuf_c_message_descriptor_get_field_by_name(r->descriptor, "effective_date");
  if (!fd || fd->type != PROTOBUF_C_TYPE_STRING) return l->err = SG_EINTERNAL;
  const char *d = *(const char *const *)((const char *)r + fd->offset);
  if (strcmp(d, l->date) > 0) snprintf(l->date, sizeof l->date, "%s", d);
  sg_arena_rewind(l->ctx->arena, m);
  return 0;
}

/*
 * The latest effective_date among a worker's records of kind (history
 * entries, level changes), "" if none: dated records are kept in order.
 */
static int latest_effective_date(sg_call_ctx *ctx, MDB_txn *txn, const sg_rec_kind *kind,
                                 uint64_t worker_id, char out[11]) {
  latest_date l = {ctx, txn, kind, "", 0};
  int rc = sg_rec_scan_worker(ctx->store, txn, kind, worker_id, note_latest, &l);
  if (l.err || rc) return l.err ? l.err : rc;
  memcpy(out, l.date, sizeof l.date);
  return 0;
}

/* Writes one history entry: w as it stands from `date`, with its change. */
static int put_history_entry(sg_call_ctx *ctx, MDB_txn *txn, const sg_worker *w, uint64_t town,
                             const char *date, const char *cause, uint64_t transfer_id) {
  Shegong__V1__WorkerHistoryEntry *h = sg_arena_alloc(ctx->arena, sizeof *h);
  if (!h) return SG_ENOMEM;
  shegong__v1__worker_history_entry__init(h);
  int rc;
  if ((rc = sg_store_next_id(ctx->store, txn, SG_REC_HISTORY->seq, &h->id)) ||
      (rc = sg_store_next_revision(ctx->store, txn, &h->revision)))
    return rc;
  h->worker_id = w->id;
  h->effective_date = sg_dup(ctx, date);
  h->unit_code = w->unit_code;
  h->grid_code = w->grid_code;
  h->town_code = w->town_code;
  h->role = w->role;
  h->category = w->category;
  h->post = w->post;
  h->level = w->level;
  h->status = w->status;
  h->cause = sg_dup(ctx, cause);
  h->transfer_id = transfer_id;
  h->recorded_at = sg_dup(ctx, ctx->now);
  if ((rc = sg_rec_put(ctx->store, txn, SG_REC_HISTORY, &h->base))) return rc;
  sg_towns towns = {0};
  sg_towns_add(&towns, town, w->town_code);
  return sg_log_change(ctx, txn, SHEGONG__V1__ENTITY__ENTITY_WORKER_HISTORY,
                       SHEGONG__V1__CHANGE_OP__CHANGE_CREATE, h->revision, &h->base, &towns);
}

/*
 * A plain hire writes no entry: until the worker first changes, the record
 * itself is the history (Workers/History answers from it), which spares
 * every registration two records. The first change writes the "hired"
 * entry from the record as it was, then its own.
 */
int sg_worker_history_append(sg_call_ctx *ctx, MDB_txn *txn, const sg_worker *before,
                             const sg_worker *w, uint64_t town, const char *date,
                             const char *cause, uint64_t transfer_id) {
  if (ctx->replica) return 0; /* the server's entry comes with the next pull */
  /*
   * An entry is the record as it stands once written: dated before a later
   * entry (a back-dated transfer applied after another change), it would
   * claim an older state over a newer one. The history stays in order: it
   * takes the date of the latest entry instead.
   */
  if (!before) {
    /* registered: only a registration that is a transfer (a 村两委 join) needs saying */
    return transfer_id ? put_history_entry(ctx, txn, w, town, date, cause, transfer_id) : 0;
  }
  char latest[11];
  int rc = latest_effective_date(ctx, txn, SG_REC_HISTORY, w->id, latest);
  if (rc) return rc;
  if (!latest[0]) {
    if ((rc = put_history_entry(ctx, txn, before, town, before->hire_date, "hired", 0))) return rc;
    snprintf(latest, sizeof latest, "%s", before->hire_date);
  }
  if (strcmp(date, latest) < 0) date = sg_dup(ctx, latest);
  return put_history_entry(ctx, txn, w, town, date, cause, transfer_id);
}

/* Does the change from a to b show in the history (where, what, which pay, which status)? */
static int history_differs(const sg_worker *a, const sg_worker *b) {
  return strcmp(a->unit_code, b->unit_code) || strcmp(a->grid_code, b->grid_code) ||
         a->role != b->role || a->category != b->category || strcmp(a->post, b->post) ||
         a->level != b->level || a->status != b->status;
}

int sg_worker_create(sg_call_ctx *ctx, MDB_txn *txn, sg_worker *w, int write, const char *cause,
                     uint64_t transfer_id) {
  if (w->status == SHEGONG__V1__WORKER_STATUS__LEFT || w->leave_date[0] || w->leave_reason[0])
    sg_status_violation(ctx->st, "worker.status", "a new worker has not left; use Leave later");
  if (w->status == SHEGONG__V1__WORKER_STATUS__WORKER_STATUS_UNSPECIFIED)
    w->status = SHEGONG__V1__WORKER_STATUS__ACTIVE;
  placement pl;
  int rc = validate_worker(ctx, txn, w, &pl);
  if (rc) return rc;
  if (ctx->st->n_violations) return SG_EINVAL;
  if ((rc = sg_authz_town(ctx, pl.town_id, w->town_code))) return rc;
  if ((rc = check_ladder(ctx, txn, w)) || (rc = check_hiring(ctx, txn, w))) return rc;
  uint64_t existing;
  rc = sg_workers_find_idno(ctx->store, txn, w->id_number, &existing);
  if (rc == 0)
    return sg_status_set(ctx->st, SG_EEXISTS, "worker %llu already has this ID number",
                         (unsigned long long)existing);
  if (rc != SG_ENOTFOUND) return rc;
  if (!write) return 0;
  if ((rc = sg_store_next_id(ctx->store, txn, "seq:worker", &w->id)) ||
      (rc = sg_store_next_revision(ctx->store, txn, &w->revision)))
    return rc;
  w->version = 1;
  w->created_at = w->updated_at = sg_dup(ctx, ctx->now);
  w->leave_date = w->leave_reason = sg_dup(ctx, "");
  rc = sg_workers_put(ctx->store, txn, w, pl.town_id, NULL, 0);
  if (rc == SG_EEXISTS) return put_conflict(ctx, txn, w);
  if (rc) return rc;
  sg_towns towns = {0};
  sg_towns_add(&towns, pl.town_id, w->town_code);
  if ((rc = sg_log_change(ctx, txn, SHEGONG__V1__ENTITY__ENTITY_WORKER,
                          SHEGONG__V1__CHANGE_OP__CHANGE_CREATE, w->revision, &w->base, &towns)))
    return rc;
  if ((rc = sg_worker_history_append(ctx, txn, NULL, w, pl.town_id, w->hire_date, cause,
                                     transfer_id)))
    return rc;
  sg_debug("worker %llu created in unit %s", (unsigned long long)w->id, w->unit_code);
  return 0;
}

static int workers_create(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                          ProtobufCMessage **resp) {
  const Shegong__V1__CreateWorkerRequest *req = (const void *)req_msg;
  if (!req->worker) {
    sg_status_violation(ctx->st, "worker", "required");
    return SG_EINVAL;
  }
  sg_worker *w = copy_worker(ctx, req->worker);
  if (!w) return SG_ENOMEM;
  int rc = sg_worker_create(ctx, txn, w, 1, "hired", 0);
  if (rc) return rc;
  *resp = &w->base;
  return 0;
}

/* Reads the worker named by id, answering NOT_FOUND with its id. */
static int load_worker(sg_call_ctx *ctx, MDB_txn *txn, uint64_t id, sg_worker **out) {
  if (id == 0) {
    sg_status_violation(ctx->st, "id", "required");
    return SG_EINVAL;
  }
  int rc = sg_workers_get(ctx->store, txn, id, &ctx->arena->allocator, out);
  if (rc == SG_ENOTFOUND)
    return sg_status_set(ctx->st, rc, "worker %llu not found", (unsigned long long)id);
  return rc;
}

/* The town id recorded for a stored worker (its town_code's unit). */
static int town_id_of(sg_call_ctx *ctx, MDB_txn *txn, const sg_worker *w, uint64_t *out) {
  sg_unit *t;
  int rc = sg_units_get_by_code(ctx->store, txn, w->town_code, &ctx->arena->allocator, &t);
  if (rc == 0) *out = t->id;
  return rc == SG_ENOTFOUND ? SG_EDATALOSS : rc;
}

int sg_worker_load_scoped(sg_call_ctx *ctx, MDB_txn *txn, uint64_t id, const char *field,
                          sg_worker **out, uint64_t *town_id) {
  if (id == 0) {
    sg_status_violation(ctx->st, field, "required");
    return SG_EINVAL;
  }
  int rc = load_worker(ctx, txn, id, out);
  uint64_t town;
  if (rc || (rc = town_id_of(ctx, txn, *out, &town)) ||
      (rc = sg_authz_town(ctx, town, (*out)->town_code)))
    return rc;
  if (town_id) *town_id = town;
  return 0;
}

/*
 * The stored record as the answer, its bytes as they lie in the map (the
 * server frames them, masked if need be): the Worker a decode and an encode
 * would give (the server packed it, unknown fields stripped), at a third of
 * the cost. Only where nothing is to be refused or explained:
 * any principal but a town's may read every worker, and a town's token its
 * own town's (town_code, field 24, is read from the bytes). Otherwise, and
 * when the worker is missing, returns nonzero and the caller decodes.
 */
static int raw_worker(sg_call_ctx *ctx, MDB_txn *txn, uint64_t id) {
  uint8_t kb[8];
  sg_key_u64(kb, id);
  MDB_val k = {8, kb}, v;
  if (id == 0 || mdb_get(txn, ctx->store->workers, &k, &v) != 0) return 1;
  const sg_principal *p = ctx->principal;
  if (p && p->town_id) {
    /* the last town_code counts, as in a decoder */
    const uint8_t *q = v.mv_data, *end = q + v.mv_size, *town = NULL;
    size_t town_len = 0;
    sg_wire_field f;
    int r;
    while ((r = sg_wire_next(&q, end, &f)) == 1)
      if (f.number == 24 && f.type == 2) town = f.value, town_len = f.len;
    if (r != 0 || !town || town_len != strlen(p->town_code) ||
        memcmp(town, p->town_code, town_len) != 0)
      return 1;
  }
  ctx->raw_reply = v.mv_data;
  ctx->raw_len = v.mv_size;
  return 0;
}

static int workers_get(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                       ProtobufCMessage **resp) {
  const Shegong__V1__GetWorkerRequest *req = (const void *)req_msg;
  uint64_t id = req->id;
  if (req->id && req->id_number[0]) {
    sg_status_violation(ctx->st, "id_number", "give id or id_number, not both");
    return SG_EINVAL;
  }
  if (!id && req->id_number[0]) {
    char why[SG_WHY_MAX], idno[19];
    if (sg_validate_idno(req->id_number, NULL, idno, NULL, NULL, why, sizeof why)) {
      sg_status_violation(ctx->st, "id_number", "%s", why);
      return SG_EINVAL;
    }
    int rc = sg_workers_find_idno(ctx->store, txn, idno, &id);
    if (rc == SG_ENOTFOUND)
      return sg_status_set(ctx->st, rc, "no worker has this ID number");
    if (rc) return rc;
  }
  if (ctx->raw_reply_ok && raw_worker(ctx, txn, id) == 0) return 0;
  sg_worker *w;
  int rc = load_worker(ctx, txn, id, &w);
  if (rc) return rc;
  uint64_t town;
  if ((rc = town_id_of(ctx, txn, w, &town)) || (rc = sg_authz_town(ctx, town, w->town_code)))
    return rc;
  *resp = &w->base;
  return 0;
}

static int check_version(sg_call_ctx *ctx, const sg_worker *w, uint64_t expected, int required) {
  if (expected == 0 && !required) return 0;
  if (expected == 0) {
    sg_status_violation(ctx->st, "expected_version", "required: the version you read");
    return SG_EINVAL;
  }
  if (w->version != expected)
    return sg_status_set(ctx->st, SG_ECONFLICT,
                         "worker %llu is at version %llu, not %llu: read it again",
                         (unsigned long long)w->id, (unsigned long long)w->version,
                         (unsigned long long)expected);
  return 0;
}


/* Appends a LevelChange of worker w (as it was) to the history, with its change. */
static int record_level_change(sg_call_ctx *ctx, MDB_txn *txn, const sg_worker *w,
                               const char *post, uint32_t level, int kind, const char *date,
                               const char *reason, uint64_t town, const char *town_code) {
  if (ctx->replica) return 0; /* the server's record comes with the next pull */
  Shegong__V1__LevelChange *c = sg_arena_alloc(ctx->arena, sizeof *c);
  if (!c) return SG_ENOMEM;
  shegong__v1__level_change__init(c);
  int rc;
  if ((rc = sg_store_next_id(ctx->store, txn, SG_REC_LEVEL_CHANGE->seq, &c->id)) ||
      (rc = sg_store_next_revision(ctx->store, txn, &c->revision)))
    return rc;
  c->worker_id = w->id;
  c->effective_date = sg_dup(ctx, date);
  c->kind = kind;
  c->from_post = w->post;
  c->from_level = w->level;
  c->to_post = sg_dup(ctx, post);
  c->to_level = level;
  c->reason = sg_dup(ctx, reason);
  c->recorded_by = ctx->principal ? sg_arena_printf(ctx->arena, "token %llu",
                                                    (unsigned long long)ctx->principal->token_id)
                                  : sg_dup(ctx, ctx->peer);
  c->recorded_at = sg_dup(ctx, ctx->now);
  if (!c->recorded_by) return SG_ENOMEM;
  if ((rc = sg_rec_put(ctx->store, txn, SG_REC_LEVEL_CHANGE, &c->base))) return rc;
  sg_towns towns = {0};
  sg_towns_add(&towns, town, town_code);
  return sg_log_change(ctx, txn, SHEGONG__V1__ENTITY__ENTITY_LEVEL_CHANGE,
                       SHEGONG__V1__CHANGE_OP__CHANGE_CREATE, c->revision, &c->base, &towns);
}

static int workers_update(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                          ProtobufCMessage **resp) {
  const Shegong__V1__UpdateWorkerRequest *req = (const void *)req_msg;
  if (!req->worker) sg_status_violation(ctx->st, "worker", "required");
  if (req->n_update_mask == 0)
    sg_status_violation(ctx->st, "update_mask", "name the fields to change");
  const ProtobufCMessageDescriptor *d = &shegong__v1__worker__descriptor;
  for (size_t i = 0; i < req->n_update_mask; i++) {
    const char *f = req->update_mask[i];
    int ok = 0;
    for (size_t k = 0; updatable[k]; k++)
      if (strcmp(f, updatable[k]) == 0) ok = 1;
    if (!ok)
      sg_status_violation(ctx->st, "update_mask",
                          protobuf_c_message_descriptor_get_field_by_name(d, f)
                              ? "%.40s is set by the server or by Leave, not by Update"
                              : "Worker has no field %.40s",
                          f);
  }
  if (ctx->st->n_violations) return SG_EINVAL;
  sg_worker *old;
  int rc = load_worker(ctx, txn, req->id, &old);
  if (rc) return rc;
  /* scope first: a version or state answer would tell another town's secrets */
  uint64_t old_town;
  if ((rc = town_id_of(ctx, txn, old, &old_town)) ||
      (rc = sg_authz_town(ctx, old_town, old->town_code)))
    return rc;
  if ((rc = check_version(ctx, old, req->expected_version, 1))) return rc;
  if (old->status == SHEGONG__V1__WORKER_STATUS__LEFT)
    return sg_status_set(ctx->st, SG_EPRECOND, "worker %llu has left; the record is closed",
                         (unsigned long long)old->id);

  /* merge: copy each named field's value from the request, by descriptor */
  sg_worker *w = copy_worker(ctx, old);
  if (!w) return SG_ENOMEM;
  int id_changed = 0;
  for (size_t i = 0; i < req->n_update_mask; i++) {
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field_by_name(d, req->update_mask[i]);
    size_t size = fd->type == PROTOBUF_C_TYPE_STRING ? sizeof(char *)
                  : fd->type == PROTOBUF_C_TYPE_BOOL ? sizeof(protobuf_c_boolean)
                                                     : sizeof(uint32_t);
    memcpy((char *)w + fd->offset, (const char *)req->worker + fd->offset, size);
    if (strcmp(fd->name, "id_number") == 0) id_changed = 1;
  }
  /* a new ID number brings its own gender and birth date unless both are given */
  if (id_changed) {
    int g = 0, b = 0;
    for (size_t i = 0; i < req->n_update_mask; i++) {
      g |= strcmp(req->update_mask[i], "gender") == 0;
      b |= strcmp(req->update_mask[i], "birth_date") == 0;
    }
    if (!g) w->gender = SHEGONG__V1__GENDER__GENDER_UNSPECIFIED;
    if (!b) w->birth_date = sg_dup(ctx, "");
  }
  placement pl;
  if ((rc = validate_worker(ctx, txn, w, &pl))) return rc;
  /* moving a worker to another town is the district's (a transfer) */
  if ((rc = sg_authz_town(ctx, pl.town_id, w->town_code))) return rc;
  int pay_changed = strcmp(old->post, w->post) != 0 || old->level != w->level;
  if (pay_changed && (rc = check_ladder(ctx, txn, w))) return rc;
  /* a post or level changed here is still a step of the history */
  if (pay_changed &&
      (rc = record_level_change(ctx, txn, old, w->post, w->level,
                                SHEGONG__V1__LEVEL_CHANGE_KIND__ADJUSTMENT, ctx->today,
                                "changed through Workers/Update", pl.town_id, w->town_code)))
    return rc;
  if ((rc = sg_store_next_revision(ctx->store, txn, &w->revision))) return rc;
  w->version = old->version + 1;
  w->updated_at = sg_dup(ctx, ctx->now);
  rc = sg_workers_put(ctx->store, txn, w, pl.town_id, old, old_town);
  if (rc == SG_EEXISTS) return put_conflict(ctx, txn, w);
  if (rc) return rc;
  /* a worker moving between towns concerns both */
  sg_towns towns = {0};
  sg_towns_add(&towns, pl.town_id, w->town_code);
  sg_towns_add(&towns, old_town, old->town_code);
  if ((rc = sg_log_change(ctx, txn, SHEGONG__V1__ENTITY__ENTITY_WORKER,
                          SHEGONG__V1__CHANGE_OP__CHANGE_UPDATE, w->revision, &w->base, &towns)))
    return rc;
  if (history_differs(old, w) &&
      (rc = sg_worker_history_append(ctx, txn, old, w, pl.town_id, ctx->today, ctx->method, 0)))
    return rc;
  *resp = &w->base;
  return 0;
}

static int load_worker_for_list(sg_pager *p, uint64_t id, void **out) {
  sg_worker *w;
  int rc = sg_workers_get(p->ctx->store, p->txn, id, &p->ctx->arena->allocator, &w);
  if (rc) return rc;
  int include_left = *(const int *)p->arg;
  *out = !include_left && w->status == SHEGONG__V1__WORKER_STATUS__LEFT ? NULL : w;
  return 0;
}

static int workers_list(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                        ProtobufCMessage **resp) {
  const Shegong__V1__ListWorkersRequest *req = (const void *)req_msg;
  uint64_t after;
  if (sg_page_token_parse(ctx, "page_token", req->page_token, 'w', &after) ||
      ctx->st->n_violations)
    return SG_EINVAL;
  sg_scope sc;
  int rc = sg_scope_resolve(ctx, txn, req->town_code, req->unit_code, &sc);
  if (rc) return rc;
  Shegong__V1__ListWorkersResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__list_workers_response__init(r);
  int include_left = req->include_left;
  sg_pager pg;
  if ((rc = sg_pager_init(&pg, ctx, txn, req->page_size, load_worker_for_list, &include_left)))
    return rc;
  rc = sg_scope_scan(ctx, txn, &sc, after, sg_pager_visit, &pg);
  if (rc || (rc = pg.err)) return rc;
  r->workers = (sg_worker **)pg.items;
  r->n_workers = pg.n;
  r->next_page_token = sg_pager_token(&pg, 'w');
  *resp = &r->base;
  return 0;
}

static int workers_leave(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                         ProtobufCMessage **resp) {
  const Shegong__V1__LeaveWorkerRequest *req = (const void *)req_msg;
  char why[SG_WHY_MAX];
  sg_date leave, today, hire;
  if (!req->leave_date[0]) sg_status_violation(ctx->st, "leave_date", "required");
  else if (sg_validate_date(req->leave_date, &leave, why, sizeof why))
    sg_status_violation(ctx->st, "leave_date", "%s", why);
  if (!req->reason[0]) sg_status_violation(ctx->st, "reason", "required");
  else if (sg_validate_text(req->reason, SG_REASON_MAX_BYTES, why, sizeof why))
    sg_status_violation(ctx->st, "reason", "%s", why);
  if (ctx->st->n_violations) return SG_EINVAL;
  sg_worker *old;
  int rc = load_worker(ctx, txn, req->id, &old);
  if (rc) return rc;
  /* scope first, as in Update */
  uint64_t town;
  if ((rc = town_id_of(ctx, txn, old, &town)) || (rc = sg_authz_town(ctx, town, old->town_code)))
    return rc;
  if ((rc = check_version(ctx, old, req->expected_version, 0))) return rc;
  if (old->status == SHEGONG__V1__WORKER_STATUS__LEFT)
    return sg_status_set(ctx->st, SG_EPRECOND, "worker %llu already left on %s",
                         (unsigned long long)old->id, old->leave_date);
  sg_validate_date(ctx->today, &today, NULL, 0);
  if (sg_date_cmp(&leave, &today) > 0) {
    sg_status_violation(ctx->st, "leave_date", "%s is in the future", req->leave_date);
    return SG_EINVAL;
  }
  if (sg_validate_date(old->hire_date, &hire, NULL, 0) == 0 && sg_date_cmp(&leave, &hire) < 0) {
    sg_status_violation(ctx->st, "leave_date", "before the hire date %s", old->hire_date);
    return SG_EINVAL;
  }
  sg_worker *w = copy_worker(ctx, old);
  if (!w) return SG_ENOMEM;
  w->status = SHEGONG__V1__WORKER_STATUS__LEFT;
  w->leave_date = req->leave_date;
  w->leave_reason = req->reason;
  w->version = old->version + 1;
  w->updated_at = sg_dup(ctx, ctx->now);
  if ((rc = sg_store_next_revision(ctx->store, txn, &w->revision))) return rc;
  if ((rc = sg_workers_put(ctx->store, txn, w, town, old, town))) return rc;
  sg_towns towns = {0};
  sg_towns_add(&towns, town, w->town_code);
  if ((rc = sg_log_change(ctx, txn, SHEGONG__V1__ENTITY__ENTITY_WORKER,
                          SHEGONG__V1__CHANGE_OP__CHANGE_UPDATE, w->revision, &w->base, &towns)))
    return rc;
  char *cause = sg_arena_printf(ctx->arena, "left: %s", w->leave_reason);
  if (!cause || (rc = sg_worker_history_append(ctx, txn, old, w, town, w->leave_date, cause, 0)))
    return rc ? rc : SG_ENOMEM;
  *resp = &w->base;
  return 0;
}

/* Checks that a step of `kind` from w's post and level to (post, level) fits the ladder. */
static int check_step(sg_call_ctx *ctx, MDB_txn *txn, const sg_worker *w,
                      const Shegong__V1__PayLadder *ladder, int kind, const char *post,
                      uint32_t level, const sg_date *effective) {
  size_t from_rank = 0, to_rank = 0;
  const Shegong__V1__PayPost *to = sg_ladder_post(ladder, post, &to_rank);
  const Shegong__V1__PayPost *from = sg_ladder_post(ladder, w->post, &from_rank);
  if (!ladder) {
    if (kind != SHEGONG__V1__LEVEL_CHANGE_KIND__ADJUSTMENT)
      return sg_status_set(ctx->st, SG_EPRECOND,
                           "the policy has no pay ladder: only an ADJUSTMENT can be recorded");
    return 0;
  }
  if (!to) {
    sg_status_violation(ctx->st, "post", "%s is not a post of the ladder %s", post, ladder->name);
    return SG_EINVAL;
  }
  if (level < to->min_level || level > to->max_level) {
    sg_status_violation(ctx->st, "level", "post %s has levels %u to %u", to->name, to->min_level,
                        to->max_level);
    return SG_EINVAL;
  }
  int same_post = from && from == to;
  switch (kind) {
  case SHEGONG__V1__LEVEL_CHANGE_KIND__EARLY_STEP:
  case SHEGONG__V1__LEVEL_CHANGE_KIND__PERIODIC_STEP: {
    if (!same_post || level != w->level + 1)
      return sg_status_set(ctx->st, SG_EPRECOND, "a step is one level up within the post: %s %u",
                           w->post, w->level + 1);
    sg_step_facts f;
    int rc = sg_step_facts_load(ctx, txn, w, ctx->arena, &f);
    if (rc) return rc;
    uint32_t first;
    sg_date since;
    int years;
    if (kind == SHEGONG__V1__LEVEL_CHANGE_KIND__EARLY_STEP &&
        !sg_rule_early_step(ladder, &f, (uint32_t)effective->year - 1, &first))
      return sg_status_set(ctx->st, SG_EPRECOND,
                           "worker %llu does not have %u consecutive year-end 优秀 results "
                           "ending %d that an earlier early step has not used",
                           (unsigned long long)w->id, ladder->early_step_excellent_years,
                           effective->year - 1);
    if (kind == SHEGONG__V1__LEVEL_CHANGE_KIND__PERIODIC_STEP &&
        !sg_rule_periodic_step(ladder, &f, effective, &since, &years))
      return sg_status_set(ctx->st, SG_EPRECOND,
                           "worker %llu has not been %u years at this level on that date",
                           (unsigned long long)w->id, ladder->periodic_step_years);
    return 0;
  }
  case SHEGONG__V1__LEVEL_CHANGE_KIND__PROMOTION:
    if (!from || to_rank >= from_rank)
      return sg_status_set(ctx->st, SG_EPRECOND, "a promotion is to a higher post than %s",
                           w->post[0] ? w->post : "(none)");
    return 0;
  case SHEGONG__V1__LEVEL_CHANGE_KIND__DEMOTION:
    if (from && (to_rank > from_rank || (same_post && level < w->level))) return 0;
    return sg_status_set(ctx->st, SG_EPRECOND, "a demotion is to a lower post or level");
  default:
    return 0;
  }
}

static int workers_change_level(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                                ProtobufCMessage **resp) {
  const Shegong__V1__ChangeLevelRequest *req = (const void *)req_msg;
  char why[SG_WHY_MAX];
  sg_date today, eff, hire;
  sg_validate_date(ctx->today, &today, NULL, 0);
  if (!req->kind || !sg_enum_valid(&shegong__v1__level_change_kind__descriptor, req->kind))
    sg_status_violation(ctx->st, "kind", req->kind ? "unknown kind" : "required");
  if (req->level < 1 || req->level > SG_LEVEL_MAX)
    sg_status_violation(ctx->st, "level", "1 to %d", SG_LEVEL_MAX);
  if (req->post[0] && sg_validate_text(req->post, SG_POST_MAX_BYTES, why, sizeof why))
    sg_status_violation(ctx->st, "post", "%s", why);
  const char *date = req->effective_date[0] ? req->effective_date : ctx->today;
  if (sg_validate_date(date, &eff, why, sizeof why))
    sg_status_violation(ctx->st, "effective_date", "%s", why);
  else if (sg_date_cmp(&eff, &today) > 0)
    sg_status_violation(ctx->st, "effective_date", "%s is in the future", date);
  if (!req->reason[0]) sg_status_violation(ctx->st, "reason", "required");
  else if (sg_validate_text(req->reason, SG_REASON_MAX_BYTES, why, sizeof why))
    sg_status_violation(ctx->st, "reason", "%s", why);
  if (ctx->st->n_violations) return SG_EINVAL;
  sg_worker *old;
  uint64_t town;
  int rc = sg_worker_load_scoped(ctx, txn, req->id, "id", &old, &town);
  if (rc || (rc = check_version(ctx, old, req->expected_version, 1))) return rc;
  if (old->status == SHEGONG__V1__WORKER_STATUS__LEFT)
    return sg_status_set(ctx->st, SG_EPRECOND, "worker %llu has left; the record is closed",
                         (unsigned long long)old->id);
  if (sg_validate_date(old->hire_date, &hire, NULL, 0) == 0 && sg_date_cmp(&eff, &hire) < 0) {
    sg_status_violation(ctx->st, "effective_date", "before the hire date %s", old->hire_date);
    return SG_EINVAL;
  }
  char last_step[11];
  if ((rc = latest_effective_date(ctx, txn, SG_REC_LEVEL_CHANGE, old->id, last_step))) return rc;
  if (strcmp(date, last_step) < 0) {
    sg_status_violation(ctx->st, "effective_date", "before the last recorded step, on %s", last_step);
    return SG_EINVAL;
  }
  const char *post = req->post[0] ? req->post : old->post;
  if (strcmp(post, old->post) == 0 && req->level == old->level) {
    sg_status_violation(ctx->st, "level", "the worker is already at %s %u", post, req->level);
    return SG_EINVAL;
  }
  Shegong__V1__Policy *pol;
  if ((rc = sg_policy_current(ctx->store, txn, &ctx->arena->allocator, &pol)) ||
      (rc = check_step(ctx, txn, old, pol->ladder, req->kind, post, req->level, &eff)) ||
      (rc = record_level_change(ctx, txn, old, post, req->level, req->kind, date, req->reason,
                                town, old->town_code)))
    return rc;
  sg_worker *w = copy_worker(ctx, old);
  if (!w) return SG_ENOMEM;
  w->post = sg_dup(ctx, post);
  w->level = req->level;
  w->version = old->version + 1;
  w->updated_at = sg_dup(ctx, ctx->now);
  if ((rc = sg_store_next_revision(ctx->store, txn, &w->revision)) ||
      (rc = sg_workers_put(ctx->store, txn, w, town, old, town)))
    return rc;
  sg_towns towns = {0};
  sg_towns_add(&towns, town, w->town_code);
  if ((rc = sg_log_change(ctx, txn, SHEGONG__V1__ENTITY__ENTITY_WORKER,
                          SHEGONG__V1__CHANGE_OP__CHANGE_UPDATE, w->revision, &w->base, &towns)))
    return rc;
  const ProtobufCEnumValue *kv =
      protobuf_c_enum_descriptor_get_value(&shegong__v1__level_change_kind__descriptor, req->kind);
  char *cause = sg_arena_printf(ctx->arena, "level change (%s): %s", kv ? kv->name : "?",
                                req->reason);
  if (!cause || (rc = sg_worker_history_append(ctx, txn, old, w, town, date, cause, 0)))
    return rc ? rc : SG_ENOMEM;
  *resp = &w->base;
  return 0;
}

int sg_worker_rewrite(sg_call_ctx *ctx, MDB_txn *txn, const sg_worker *old, sg_worker *w,
                      const char *date, const char *cause, uint64_t transfer_id, uint64_t *town) {
  uint64_t old_town;
  placement pl;
  int rc;
  if ((rc = town_id_of(ctx, txn, old, &old_town))) return rc;
  if ((rc = validate_worker(ctx, txn, w, &pl))) return rc;
  if (ctx->st->n_violations) return SG_EINVAL;
  if ((rc = sg_store_next_revision(ctx->store, txn, &w->revision))) return rc;
  w->version = old->version + 1;
  w->updated_at = sg_dup(ctx, ctx->now);
  if ((rc = sg_workers_put(ctx->store, txn, w, pl.town_id, old, old_town))) return rc;
  sg_towns towns = {0};
  sg_towns_add(&towns, pl.town_id, w->town_code);
  sg_towns_add(&towns, old_town, old->town_code);
  if ((rc = sg_log_change(ctx, txn, SHEGONG__V1__ENTITY__ENTITY_WORKER,
                          SHEGONG__V1__CHANGE_OP__CHANGE_UPDATE, w->revision, &w->base, &towns)) ||
      (rc = sg_worker_history_append(ctx, txn, old, w, pl.town_id, date, cause, transfer_id)))
    return rc;
  if (town) *town = pl.town_id;
  return 0;
}

sg_worker *sg_worker_copy(sg_call_ctx *ctx, const sg_worker *w) { return copy_worker(ctx, w); }

typedef struct whist_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  Shegong__V1__WorkerHistoryResponse *r;
  size_t cap;
  int err;
} whist_ctx;

static int whist_one(void *arg, uint64_t id) {
  whist_ctx *h = arg;
  Shegong__V1__WorkerHistoryEntry *e;
  int rc = sg_rec_get(h->ctx->store, h->txn, SG_REC_HISTORY, id, &h->ctx->arena->allocator,
                      (ProtobufCMessage **)&e);
  if (rc) return h->err = (rc == SG_ENOTFOUND ? SG_EDATALOSS : rc);
  if (sg_rows_grow(h->ctx->arena, (void ***)&h->r->entries, h->r->n_entries, &h->cap)) return h->err = SG_ENOMEM;
  h->r->entries[h->r->n_entries++] = e;
  return 0;
}

/* By effective date, then by id (the order they were recorded in). */
static int cmp_entry(const void *a, const void *b) {
  const Shegong__V1__WorkerHistoryEntry *x = *(Shegong__V1__WorkerHistoryEntry *const *)a,
                                        *y = *(Shegong__V1__WorkerHistoryEntry *const *)b;
  int c = strcmp(x->effective_date, y->effective_date);
  if (c) return c;
  return x->id < y->id ? -1 : x->id > y->id;
}

static int workers_history(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                           ProtobufCMessage **resp) {
  const Shegong__V1__WorkerHistoryRequest *req = (const void *)req_msg;
  char why[SG_WHY_MAX];
  sg_date on;
  if (req->on[0] && sg_validate_date(req->on, &on, why, sizeof why)) {
    sg_status_violation(ctx->st, "on", "%s", why);
    return SG_EINVAL;
  }
  sg_worker *w;
  int rc = sg_worker_load_scoped(ctx, txn, req->id, "id", &w, NULL);
  if (rc) return rc;
  Shegong__V1__WorkerHistoryResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__worker_history_response__init(r);
  whist_ctx h = {ctx, txn, r, 0, 0};
  if ((rc = sg_rec_scan_worker(ctx->store, txn, SG_REC_HISTORY, w->id, whist_one, &h)) ||
      (rc = h.err))
    return rc;
  if (r->n_entries == 0) {
    /* never changed since the hire (or registered before the history was
     * kept): the record is the whole history */
    Shegong__V1__WorkerHistoryEntry *e = sg_arena_alloc(ctx->arena, sizeof *e);
    r->entries = sg_arena_alloc(ctx->arena, sizeof *r->entries);
    if (!e || !r->entries) return SG_ENOMEM;
    shegong__v1__worker_history_entry__init(e);
    e->worker_id = w->id;
    e->effective_date = w->hire_date;
    e->unit_code = w->unit_code;
    e->grid_code = w->grid_code;
    e->town_code = w->town_code;
    e->role = w->role;
    e->category = w->category;
    e->post = w->post;
    e->level = w->level;
    e->status = w->status;
    e->cause = "hired";
    r->entries[0] = e;
    r->n_entries = 1;
  }
  qsort(r->entries, r->n_entries, sizeof *r->entries, cmp_entry);
  if (req->on[0]) {
    /* the last entry on or before that day */
    size_t k = r->n_entries;
    while (k > 0 && strcmp(r->entries[k - 1]->effective_date, req->on) > 0) k--;
    if (k == 0)
      return sg_status_set(ctx->st, SG_ENOTFOUND, "worker %llu was not yet hired on %s",
                           (unsigned long long)w->id, req->on);
    r->entries[0] = r->entries[k - 1];
    r->n_entries = 1;
  }
  *resp = &r->base;
  return 0;
}

typedef struct history_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  Shegong__V1__LevelHistoryResponse *r;
  size_t cap;
  int err;
} history_ctx;

static int history_one(void *arg, uint64_t id) {
  history_ctx *h = arg;
  Shegong__V1__LevelChange *c;
  int rc = sg_rec_get(h->ctx->store, h->txn, SG_REC_LEVEL_CHANGE, id, &h->ctx->arena->allocator,
                      (ProtobufCMessage **)&c);
  if (rc) return h->err = (rc == SG_ENOTFOUND ? SG_EDATALOSS : rc);
  if (sg_rows_grow(h->ctx->arena, (void ***)&h->r->changes, h->r->n_changes, &h->cap)) return h->err = SG_ENOMEM;
  h->r->changes[h->r->n_changes++] = c;
  return 0;
}

static int workers_level_history(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                                 ProtobufCMessage **resp) {
  const Shegong__V1__LevelHistoryRequest *req = (const void *)req_msg;
  sg_worker *w;
  int rc = sg_worker_load_scoped(ctx, txn, req->id, "id", &w, NULL);
  if (rc) return rc;
  Shegong__V1__LevelHistoryResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__level_history_response__init(r);
  history_ctx h = {ctx, txn, r, 0, 0};
  /* ids grow with recording, and recording keeps effective dates in order */
  if ((rc = sg_rec_scan_worker(ctx->store, txn, SG_REC_LEVEL_CHANGE, w->id, history_one, &h)) ||
      (rc = h.err))
    return rc;
  *resp = &r->base;
  return 0;
}

const sg_method_impl sg_svc_workers[] = {
    {"/shegong.v1.Workers/Create", SG_METHOD_WRITE, workers_create},
    {"/shegong.v1.Workers/Get", SG_METHOD_READ, workers_get},
    {"/shegong.v1.Workers/Update", SG_METHOD_WRITE, workers_update},
    {"/shegong.v1.Workers/List", SG_METHOD_READ, workers_list},
    {"/shegong.v1.Workers/Leave", SG_METHOD_WRITE, workers_leave},
    {"/shegong.v1.Workers/ChangeLevel", SG_METHOD_WRITE, workers_change_level},
    {"/shegong.v1.Workers/LevelHistory", SG_METHOD_READ, workers_level_history},
    {"/shegong.v1.Workers/History", SG_METHOD_READ, workers_history},
    {NULL, 0, NULL},
};
