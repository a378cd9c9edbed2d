/*
 * Transfers service: requests that move workers between units (居村交流,
 * 轮岗, 跨街镇交流, 转任, 首年下沉, promotion into 书记/主任), with their life
 * cycle: proposed -> approved by each party in order -> effective on a date
 * (or rejected, cancelled, failed); rotations and placements later end.
 *
 * Taking effect is one nested transaction: the worker's record (through
 * sg_worker_rewrite, so the same checks as Workers/Update), its history
 * entry, the transfer's state and every change. A transfer whose worker
 * changed meanwhile fails whole and is marked FAILED.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "store/records.h"
#include "store/units.h"
#include "store/workers.h"
#include "svc/svc.h"

#define SG_REASON_MAX 512
#define SG_NOTE_MAX 512
#define SG_LIST_MAX 20000
#define SG_BATCH_MAX 2000
#define SG_AHEAD_DAYS 366        /* an effective date at most a year ahead */
#define SG_ROTATION_MAX_DAYS (3 * 366)
#define SG_PLACEMENT_MONTHS 6    /* 首年下沉: at least six months [001] */

typedef Shegong__V1__Transfer transfer;

static const char *kind_word(int kind) {
  switch (kind) {
  case SHEGONG__V1__TRANSFER_KIND__EXCHANGE: return "居村交流";
  case SHEGONG__V1__TRANSFER_KIND__ROTATION: return "轮岗";
  case SHEGONG__V1__TRANSFER_KIND__CROSS_TOWN: return "跨街镇交流";
  case SHEGONG__V1__TRANSFER_KIND__CONVERSION: return "转任";
  case SHEGONG__V1__TRANSFER_KIND__FIRST_YEAR_PLACEMENT: return "首年下沉";
  case SHEGONG__V1__TRANSFER_KIND__ROLE_CHANGE: return "职务任命";
  case SHEGONG__V1__TRANSFER_KIND__COMMITTEE_JOIN: return "村两委转入";
  default: return "?";
  }
}

static const char *enum_name(const ProtobufCEnumDescriptor *d, int v) {
  const ProtobufCEnumValue *e = protobuf_c_enum_descriptor_get_value(d, v);
  return e ? e->name : "?";
}

static const char *state_name(int s) { return enum_name(&shegong__v1__transfer_state__descriptor, s); }
static const char *party_name(int p) { return enum_name(&shegong__v1__party__descriptor, p); }

static int is_open(const transfer *t) {
  return t->state == SHEGONG__V1__TRANSFER_STATE__PROPOSED ||
         t->state == SHEGONG__V1__TRANSFER_STATE__APPROVED;
}

static char *actor(sg_call_ctx *ctx) {
  const sg_principal *p = ctx->principal;
  return p ? sg_arena_printf(ctx->arena, "token %llu (%s)", (unsigned long long)p->token_id,
                             sg_role_name(p->role))
           : sg_arena_printf(ctx->arena, "%s", ctx->peer);
}

/* May the caller act for `party` of t? The district admin acts for any. */
static int may_act_for(const sg_call_ctx *ctx, const transfer *t, int party) {
  const sg_principal *p = ctx->principal;
  if (!p || p->role == SHEGONG__V1__PRINCIPAL_ROLE__DISTRICT_ADMIN) return 1;
  if (p->role != SHEGONG__V1__PRINCIPAL_ROLE__TOWN_OPERATOR || !p->town_id) return 0;
  if (party == SHEGONG__V1__PARTY__ORIGIN_TOWN) return p->town_id == t->from_town_id;
  if (party == SHEGONG__V1__PARTY__DESTINATION_TOWN) return p->town_id == t->to_town_id;
  return 0;
}

/* A town token sees the transfers from or to its town. */
static int may_see(const sg_call_ctx *ctx, const transfer *t) {
  const sg_principal *p = ctx->principal;
  return !p || !p->town_id || p->town_id == t->from_town_id || p->town_id == t->to_town_id;
}

static int refuse_scope(sg_call_ctx *ctx, const transfer *t) {
  /* which towns it concerns is not the stranger's business either */
  return sg_status_set(ctx->st, SG_EPERM, "token %llu may touch only town %s; transfer %llu does "
                       "not concern it",
                       (unsigned long long)ctx->principal->token_id, ctx->principal->town_code,
                       (unsigned long long)t->id);
}

/* Appends an event to t (arena memory). */
static int add_event(sg_call_ctx *ctx, transfer *t, int state, int party, const char *note) {
  Shegong__V1__TransferEvent *e = sg_arena_alloc(ctx->arena, sizeof *e);
  Shegong__V1__TransferEvent **ev = sg_arena_alloc(ctx->arena, (t->n_events + 1) * sizeof *ev);
  if (!e || !ev) return SG_ENOMEM;
  shegong__v1__transfer_event__init(e);
  e->state = state;
  e->party = party;
  e->by = actor(ctx);
  e->at = sg_dup(ctx, ctx->now);
  e->note = sg_dup(ctx, note);
  if (!e->by) return SG_ENOMEM;
  if (t->n_events) memcpy(ev, t->events, t->n_events * sizeof *ev);
  ev[t->n_events++] = e;
  t->events = ev;
  return 0;
}

/* transfers_due: (effective day, id) while APPROVED, for the scheduler. */
static int due_key(const transfer *t, uint64_t *day) {
  sg_date d;
  if (sg_validate_date(t->effective_date, &d, NULL, 0)) return SG_EDATALOSS;
  *day = (uint64_t)sg_date_days(&d);
  return 0;
}

static int due_put(sg_call_ctx *ctx, MDB_txn *txn, const transfer *t) {
  uint64_t day;
  int rc = due_key(t, &day);
  return rc ? rc : sg_index_pair_put(txn, ctx->store->transfers_due, day, t->id);
}

static int due_del(sg_call_ctx *ctx, MDB_txn *txn, const transfer *t) {
  uint64_t day;
  int rc = due_key(t, &day);
  if (rc) return rc;
  rc = sg_index_pair_del(txn, ctx->store->transfers_due, day, t->id);
  return rc == SG_ENOTFOUND ? 0 : rc;
}

/* Writes t (a new version unless new) with its change, concerning both towns. */
static int save(sg_call_ctx *ctx, MDB_txn *txn, transfer *t, int created) {
  int rc;
  if (created && (rc = sg_store_next_id(ctx->store, txn, SG_REC_TRANSFER->seq, &t->id))) return rc;
  if ((rc = sg_store_next_revision(ctx->store, txn, &t->revision))) return rc;
  t->version++;
  t->updated_at = sg_dup(ctx, ctx->now);
  if (created) t->created_at = t->updated_at;
  if ((rc = sg_rec_put(ctx->store, txn, SG_REC_TRANSFER, &t->base))) return rc;
  sg_towns towns = {0};
  sg_towns_add(&towns, t->from_town_id, t->from_town_code);
  sg_towns_add(&towns, t->to_town_id, t->to_town_code);
  return sg_log_change(ctx, txn, SHEGONG__V1__ENTITY__ENTITY_TRANSFER,
                       created ? SHEGONG__V1__CHANGE_OP__CHANGE_CREATE
                               : SHEGONG__V1__CHANGE_OP__CHANGE_UPDATE,
                       t->revision, &t->base, &towns);
}

static int load_transfer(sg_call_ctx *ctx, MDB_txn *txn, uint64_t id, transfer **out) {
  if (!id) {
    sg_status_violation(ctx->st, "id", "required");
    return SG_EINVAL;
  }
  transfer *t = NULL;
  int rc = sg_rec_get(ctx->store, txn, SG_REC_TRANSFER, id, &ctx->arena->allocator,
                      (ProtobufCMessage **)&t);
  if (rc == SG_ENOTFOUND)
    return sg_status_set(ctx->st, rc, "transfer %llu not found", (unsigned long long)id);
  if (rc) return rc;
  if (!may_see(ctx, t)) return refuse_scope(ctx, t);
  /* a copy whose arrays may grow in the arena */
  *out = t;
  return 0;
}

static int check_version(sg_call_ctx *ctx, const transfer *t, uint64_t expected) {
  if (!expected) {
    sg_status_violation(ctx->st, "expected_version", "required: the version you read");
    return SG_EINVAL;
  }
  if (t->version != expected)
    return sg_status_set(ctx->st, SG_ECONFLICT,
                         "transfer %llu is at version %llu, not %llu: read it again",
                         (unsigned long long)t->id, (unsigned long long)t->version,
                         (unsigned long long)expected);
  return 0;
}

/* ---- the worker's open transfers ------------------------------------------------ */

typedef struct open_find {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  uint64_t found;       /* an open transfer */
  uint64_t on_leave_of; /* an EFFECTIVE rotation or placement not yet ended */
  int err;
} open_find;

static int find_open(void *arg, uint64_t id) {
  open_find *o = arg;
  transfer *t = NULL;
  sg_arena_mark m = sg_arena_get_mark(o->ctx->arena);
  int rc = sg_rec_get(o->ctx->store, o->txn, SG_REC_TRANSFER, id, &o->ctx->arena->allocator,
                      (ProtobufCMessage **)&t);
  if (rc) return o->err = rc;
  if (is_open(t)) o->found = id;
  if (t->state == SHEGONG__V1__TRANSFER_STATE__EFFECTIVE &&
      (t->kind == SHEGONG__V1__TRANSFER_KIND__ROTATION ||
       t->kind == SHEGONG__V1__TRANSFER_KIND__FIRST_YEAR_PLACEMENT))
    o->on_leave_of = id;
  sg_arena_rewind(o->ctx->arena, m);
  return 0;
}

static int worker_transfers(sg_call_ctx *ctx, MDB_txn *txn, uint64_t worker, open_find *o) {
  *o = (open_find){ctx, txn, 0, 0, 0};
  int rc = sg_rec_scan_worker(ctx->store, txn, SG_REC_TRANSFER, worker, find_open, o);
  return rc ? rc : o->err;
}

/* ---- propose --------------------------------------------------------------------- */

static int unit_of(sg_call_ctx *ctx, MDB_txn *txn, const char *field, const char *code,
                   sg_unit **out) {
  int rc = sg_units_get_by_code(ctx->store, txn, code, &ctx->arena->allocator, out);
  if (rc == SG_ENOTFOUND) {
    sg_status_violation(ctx->st, field, "no unit %s", code);
    return SG_EINVAL;
  }
  return rc;
}

/* The town (id, code) of a town, community or village. */
static void town_of_unit(const sg_unit *u, uint64_t *id, const char **code) {
  if (u->kind == SHEGONG__V1__UNIT_KIND__TOWN) {
    *id = u->id;
    *code = u->code;
  } else {
    *id = u->parent_id;
    *code = u->parent_code;
  }
}

static int is_local(const sg_unit *u) {
  return u->kind == SHEGONG__V1__UNIT_KIND__COMMUNITY || u->kind == SHEGONG__V1__UNIT_KIND__VILLAGE;
}

/* Whole months later, the day kept (the 31st becomes the month's last day). */
static void add_months(const sg_date *d, int months, sg_date *out) {
  int m = d->month - 1 + months;
  out->year = d->year + m / 12;
  out->month = m % 12 + 1;
  out->day = d->day;
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y = out->year, last = mdays[out->month - 1] +
                            (out->month == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
  if (out->day > last) out->day = last;
}

/*
 * Checks a proposal of t (kind, worker, destination, dates, mentor, roles)
 * against the worker w, filling the server's fields. Violations name
 * prefix + field; other refusals set ctx->st and return their code.
 */
static int check_proposal(sg_call_ctx *ctx, MDB_txn *txn, const char *prefix, transfer *t,
                          const sg_worker *w, uint64_t w_town) {
  char f[96], why[SG_WHY_MAX];
#define FLD(name) (snprintf(f, sizeof f, "%s%s", prefix, name), f)
  sg_date today, eff, hire, end;
  sg_validate_date(ctx->today, &today, NULL, 0);
  int kind = t->kind;
  if (w->status == SHEGONG__V1__WORKER_STATUS__LEFT)
    return sg_status_set(ctx->st, SG_EPRECOND, "worker %llu left on %s; the record is closed",
                         (unsigned long long)w->id, w->leave_date);
  /* the worker as it is: where the transfer starts */
  t->worker_name = w->name;
  t->from_unit_code = w->unit_code;
  t->from_grid_code = w->grid_code;
  t->from_town_code = w->town_code;
  t->from_role = w->role;
  t->from_town_id = w_town;
  t->state = SHEGONG__V1__TRANSFER_STATE__PROPOSED;

  int dates_ok = 1;
  int hired = sg_validate_date(w->hire_date, &hire, NULL, 0) == 0;
  /* a refusal about the worker's state waits until the fields have been checked */
  char pre[SG_STATUS_MSG_MAX] = "";
#define PRECOND(...) (pre[0] ? 0 : snprintf(pre, sizeof pre, __VA_ARGS__))
  if (!t->effective_date[0]) {
    sg_status_violation(ctx->st, FLD("effective_date"), "required");
    dates_ok = 0;
  } else if (sg_validate_date(t->effective_date, &eff, why, sizeof why)) {
    sg_status_violation(ctx->st, FLD("effective_date"), "%s", why);
    dates_ok = 0;
  } else if (hired && sg_date_cmp(&eff, &hire) < 0) {
    sg_status_violation(ctx->st, FLD("effective_date"), "before the hire date %s", w->hire_date);
    dates_ok = 0;
  } else if (sg_date_days(&eff) - sg_date_days(&today) > SG_AHEAD_DAYS) {
    sg_status_violation(ctx->st, FLD("effective_date"), "more than a year ahead");
    dates_ok = 0;
  }
  if (!t->reason[0]) sg_status_violation(ctx->st, FLD("reason"), "required");
  else if (sg_validate_text(t->reason, SG_REASON_MAX, why, sizeof why))
    sg_status_violation(ctx->st, FLD("reason"), "%s", why);
  if (!sg_enum_valid(&shegong__v1__role__descriptor, t->to_role))
    sg_status_violation(ctx->st, FLD("to_role"), "unknown role %d", (int)t->to_role);

  int timed = kind == SHEGONG__V1__TRANSFER_KIND__ROTATION ||
              kind == SHEGONG__V1__TRANSFER_KIND__FIRST_YEAR_PLACEMENT;
  if (timed) {
    if (!t->end_date[0]) {
      sg_status_violation(ctx->st, FLD("end_date"), "required: when the %s ends", kind_word(kind));
    } else if (sg_validate_date(t->end_date, &end, why, sizeof why)) {
      sg_status_violation(ctx->st, FLD("end_date"), "%s", why);
    } else if (dates_ok && sg_date_cmp(&end, &eff) <= 0) {
      sg_status_violation(ctx->st, FLD("end_date"), "not after the effective date");
    } else if (dates_ok && kind == SHEGONG__V1__TRANSFER_KIND__ROTATION &&
               sg_date_days(&end) - sg_date_days(&eff) > SG_ROTATION_MAX_DAYS) {
      sg_status_violation(ctx->st, FLD("end_date"), "a rotation lasts at most three years");
    } else if (dates_ok && kind == SHEGONG__V1__TRANSFER_KIND__FIRST_YEAR_PLACEMENT) {
      sg_date min;
      add_months(&eff, SG_PLACEMENT_MONTHS, &min);
      if (sg_date_cmp(&end, &min) < 0) {
        char m[11];
        sg_date_format(&min, m, sizeof m);
        sg_status_violation(ctx->st, FLD("end_date"),
                            "a first-year placement lasts at least six months: %s or later", m);
      }
    }
  } else if (t->end_date[0]) {
    sg_status_violation(ctx->st, FLD("end_date"), "only a rotation or placement has an end date");
  }
  if (t->mentor_id && kind != SHEGONG__V1__TRANSFER_KIND__FIRST_YEAR_PLACEMENT)
    sg_status_violation(ctx->st, FLD("mentor_id"), "only a first-year placement has a mentor");

  /* the destination: a unit, or the same one */
  int same_unit = kind == SHEGONG__V1__TRANSFER_KIND__CONVERSION ||
                  kind == SHEGONG__V1__TRANSFER_KIND__ROLE_CHANGE;
  sg_unit *from, *to;
  int rc;
  if ((rc = unit_of(ctx, txn, FLD("worker_id"), w->unit_code, &from))) return rc;
  if (same_unit) {
    if (t->to_unit_code[0] && strcmp(t->to_unit_code, w->unit_code) != 0)
      sg_status_violation(ctx->st, FLD("to_unit_code"), "a %s keeps the worker's unit %s",
                          kind_word(kind), w->unit_code);
    if (t->to_grid_code[0] && strcmp(t->to_grid_code, w->grid_code) != 0)
      sg_status_violation(ctx->st, FLD("to_grid_code"), "a %s keeps the worker's grid",
                          kind_word(kind));
    t->to_unit_code = w->unit_code;
    t->to_grid_code = w->grid_code;
    to = from;
  } else if (!t->to_unit_code[0]) {
    sg_status_violation(ctx->st, FLD("to_unit_code"), "required");
    return SG_EINVAL;
  } else {
    if (strlen(t->to_unit_code) > 15) {
      sg_status_violation(ctx->st, FLD("to_unit_code"), "a division code has at most 15 digits");
      return SG_EINVAL;
    }
    if ((rc = unit_of(ctx, txn, FLD("to_unit_code"), t->to_unit_code, &to))) return rc;
    if (!is_local(to) && to->kind != SHEGONG__V1__UNIT_KIND__TOWN) {
      sg_status_violation(ctx->st, FLD("to_unit_code"), "%s is not a town, community or village",
                          to->code);
      return SG_EINVAL;
    }
    if (to->id == from->id)
      sg_status_violation(ctx->st, FLD("to_unit_code"), "the worker is already in %s", to->code);
    if (t->to_grid_code[0]) {
      sg_unit *grid;
      rc = strlen(t->to_grid_code) == 15
               ? sg_units_get_by_code(ctx->store, txn, t->to_grid_code, &ctx->arena->allocator, &grid)
               : SG_ENOTFOUND;
      if (rc == SG_ENOTFOUND || (rc == 0 && (grid->kind != SHEGONG__V1__UNIT_KIND__GRID ||
                                             grid->parent_id != to->id)))
        sg_status_violation(ctx->st, FLD("to_grid_code"), "not a grid of %s", to->code);
      else if (rc)
        return rc;
    }
  }
  const char *to_town_code;
  town_of_unit(to, &t->to_town_id, &to_town_code);
  t->to_town_code = (char *)to_town_code;
  int crosses = t->to_town_id != t->from_town_id;

  switch (kind) {
  case SHEGONG__V1__TRANSFER_KIND__EXCHANGE:
    /* 居村交流: a community's worker to a village, or a village's to a community */
    if (!is_local(from) || !is_local(to) || from->kind == to->kind)
      sg_status_violation(ctx->st, FLD("to_unit_code"),
                          "居村交流 is between a community and a village (from %s to %s)",
                          from->code, to->code);
    break;
  case SHEGONG__V1__TRANSFER_KIND__ROTATION:
    if (to->kind != SHEGONG__V1__UNIT_KIND__VILLAGE)
      sg_status_violation(ctx->st, FLD("to_unit_code"), "a rotation (轮岗) is to a village");
    if (w->status != SHEGONG__V1__WORKER_STATUS__ACTIVE)
      PRECOND("worker %llu is not at work in its own unit now", (unsigned long long)w->id);
    else if (w->category == SHEGONG__V1__CATEGORY__TOWN_CENTRE)
      PRECOND("worker %llu is town-centre staff: a first-year placement sends them down, not a "
              "rotation", (unsigned long long)w->id);
    break;
  case SHEGONG__V1__TRANSFER_KIND__CROSS_TOWN:
    if (!crosses)
      sg_status_violation(ctx->st, FLD("to_unit_code"),
                          "%s is in the worker's own town: that is not 跨街镇交流", to->code);
    break;
  case SHEGONG__V1__TRANSFER_KIND__CONVERSION:
    if (w->role != SHEGONG__V1__ROLE__FULL_TIME_GRID)
      PRECOND("worker %llu is not a 专职网格员 (full-time grid worker)", (unsigned long long)w->id);
    if (!t->to_role) t->to_role = SHEGONG__V1__ROLE__GRID_WORKER;
    if (t->to_role != SHEGONG__V1__ROLE__GRID_WORKER && t->to_role != SHEGONG__V1__ROLE__GENERALIST &&
        t->to_role != SHEGONG__V1__ROLE__NEIGHBOURHOOD)
      sg_status_violation(ctx->st, FLD("to_role"),
                          "a converted grid worker becomes a 网格社工, 全科社工 or 邻里社工");
    break;
  case SHEGONG__V1__TRANSFER_KIND__FIRST_YEAR_PLACEMENT: {
    if (w->category != SHEGONG__V1__CATEGORY__TOWN_CENTRE || w->status != SHEGONG__V1__WORKER_STATUS__ACTIVE)
      PRECOND("worker %llu is not a town-centre worker at work in the town centre",
              (unsigned long long)w->id);
    else if (!hired || sg_date_days(&today) - sg_date_days(&hire) > 366)
      PRECOND("worker %llu was hired on %s: the first year is over", (unsigned long long)w->id,
              w->hire_date);
    if (!is_local(to) || crosses)
      sg_status_violation(ctx->st, FLD("to_unit_code"),
                          "a placement is in a community or village of the worker's town");
    if (!t->mentor_id) {
      sg_status_violation(ctx->st, FLD("mentor_id"), "required: the worker who mentors");
    } else {
      sg_worker *m;
      rc = sg_workers_get(ctx->store, txn, t->mentor_id, &ctx->arena->allocator, &m);
      if (rc == SG_ENOTFOUND || (rc == 0 && (m->unit_id != to->id || m->id == w->id ||
                                             m->status == SHEGONG__V1__WORKER_STATUS__LEFT)))
        sg_status_violation(ctx->st, FLD("mentor_id"), "not a worker at work in %s", to->code);
      else if (rc)
        return rc;
    }
    break;
  }
  case SHEGONG__V1__TRANSFER_KIND__ROLE_CHANGE:
    if (t->to_role != SHEGONG__V1__ROLE__SECRETARY && t->to_role != SHEGONG__V1__ROLE__DIRECTOR)
      sg_status_violation(ctx->st, FLD("to_role"), "a role change is into 书记 or 主任");
    else if (t->to_role == w->role)
      sg_status_violation(ctx->st, FLD("to_role"), "the worker already has this role");
    break;
  default:
    sg_status_violation(ctx->st, FLD("kind"), t->kind ? "unknown kind %d" : "required",
                        (int)t->kind);
  }
  if (ctx->st->n_violations) return SG_EINVAL;
  if (pre[0]) return sg_status_set(ctx->st, SG_EPRECOND, "%s", pre);
#undef PRECOND
  /* one request at a time, and none while away on rotation or placement */
  open_find o;
  if ((rc = worker_transfers(ctx, txn, w->id, &o))) return rc;
  if (o.found)
    return sg_status_set(ctx->st, SG_EPRECOND,
                         "worker %llu already has transfer %llu under way: decide it first",
                         (unsigned long long)w->id, (unsigned long long)o.found);
  if (o.on_leave_of || w->status == SHEGONG__V1__WORKER_STATUS__ROTATING ||
      w->status == SHEGONG__V1__WORKER_STATUS__PLACEMENT)
    return sg_status_set(ctx->st, SG_EPRECOND,
                         "worker %llu is away on transfer %llu (a rotation or placement): end it "
                         "first",
                         (unsigned long long)w->id, (unsigned long long)o.on_leave_of);
  /* who approves, in order */
  static Shegong__V1__Party one[] = {SHEGONG__V1__PARTY__ORIGIN_TOWN};
  static Shegong__V1__Party three[] = {SHEGONG__V1__PARTY__ORIGIN_TOWN,
                                       SHEGONG__V1__PARTY__DESTINATION_TOWN,
                                       SHEGONG__V1__PARTY__DISTRICT_PARTY};
  t->required = crosses ? three : one;
  t->n_required = crosses ? 3 : 1;
  t->n_approved = 0;
  t->approved = NULL;
  t->n_events = 0;
  t->events = NULL;
  t->version = 0;
  t->applied_on = t->ended_on = sg_dup(ctx, "");
  t->converted = 0;
  return 0;
#undef FLD
}

/* The caller proposes for its town: the worker's or the destination's. */
static int may_propose(sg_call_ctx *ctx, const transfer *t) {
  const sg_principal *p = ctx->principal;
  if (!p || !p->town_id || p->town_id == t->from_town_id || p->town_id == t->to_town_id) return 0;
  return refuse_scope(ctx, t);
}

/*
 * 村两委 joining: the person is not in the register yet. The candidate is
 * checked now as Workers/Create would check it (in the destination unit,
 * hired on the effective date), and registered when the transfer takes
 * effect. The town of the unit approves alone.
 */
static int propose_committee(sg_call_ctx *ctx, MDB_txn *txn, transfer *t) {
  char why[SG_WHY_MAX];
  sg_date today, eff;
  sg_validate_date(ctx->today, &today, NULL, 0);
  if (t->worker_id)
    sg_status_violation(ctx->st, "transfer.worker_id",
                        "a committee member is not a worker yet: give the candidate instead");
  if (!t->candidate) sg_status_violation(ctx->st, "transfer.candidate", "required: who joins");
  if (!(t->score >= 0 && t->score <= 100) || t->score * 100 != (double)(long)(t->score * 100))
    sg_status_violation(ctx->st, "transfer.score",
                        "the town's assessment of the member: 0 to 100, two decimals at most");
  if (!t->effective_date[0]) sg_status_violation(ctx->st, "transfer.effective_date", "required");
  else if (sg_validate_date(t->effective_date, &eff, why, sizeof why))
    sg_status_violation(ctx->st, "transfer.effective_date", "%s", why);
  else if (sg_date_days(&eff) - sg_date_days(&today) > SG_AHEAD_DAYS)
    sg_status_violation(ctx->st, "transfer.effective_date", "more than a year ahead");
  if (!t->reason[0]) sg_status_violation(ctx->st, "transfer.reason", "required");
  else if (sg_validate_text(t->reason, SG_REASON_MAX, why, sizeof why))
    sg_status_violation(ctx->st, "transfer.reason", "%s", why);
  if (t->end_date[0]) sg_status_violation(ctx->st, "transfer.end_date", "not for this kind");
  if (t->mentor_id) sg_status_violation(ctx->st, "transfer.mentor_id", "not for this kind");
  if (!t->to_unit_code[0] || strlen(t->to_unit_code) != 12)
    sg_status_violation(ctx->st, "transfer.to_unit_code", "required: the community or village");
  if (ctx->st->n_violations) return SG_EINVAL;
  sg_unit *to;
  int rc = unit_of(ctx, txn, "transfer.to_unit_code", t->to_unit_code, &to);
  if (rc) return rc;
  if (!is_local(to)) {
    sg_status_violation(ctx->st, "transfer.to_unit_code", "%s is not a community or village",
                        to->code);
    return SG_EINVAL;
  }
  const char *town_code;
  town_of_unit(to, &t->to_town_id, &town_code);
  t->to_town_code = (char *)town_code;
  t->from_town_id = t->to_town_id;
  t->from_town_code = t->to_town_code;
  t->from_unit_code = t->from_grid_code = sg_dup(ctx, "");
  if ((rc = sg_authz_town(ctx, t->to_town_id, town_code))) return rc;
  /* the person, as the register would take them on that day */
  sg_worker *w = sg_worker_copy(ctx, t->candidate);
  if (!w) return SG_ENOMEM;
  w->id = 0;
  w->unit_code = t->to_unit_code;
  if (!w->grid_code[0]) w->grid_code = t->to_grid_code;
  w->hire_date = t->effective_date;
  w->source = SHEGONG__V1__SOURCE__VILLAGE_COMMITTEE;
  if (!w->category) w->category = SHEGONG__V1__CATEGORY__COMMUNITY_BASED;
  if (!w->role) w->role = t->to_role ? t->to_role : SHEGONG__V1__ROLE__GENERALIST;
  w->status = SHEGONG__V1__WORKER_STATUS__ACTIVE;
  sg_status row;
  sg_status_clear(&row);
  sg_call_ctx sub = *ctx;
  sub.st = &row;
  rc = sg_worker_create(&sub, txn, w, 0, NULL, 0);
  if (rc == SG_EINVAL) {
    for (size_t i = 0; i < row.n_violations && i < SG_STATUS_VIOLATIONS_MAX; i++) {
      const char *f = row.violations[i].field;
      char field[SG_STATUS_FIELD_MAX + 32];
      snprintf(field, sizeof field, "transfer.candidate.%s", strncmp(f, "worker.", 7) == 0 ? f + 7 : f);
      sg_status_violation(ctx->st, field, "%s", row.violations[i].description);
    }
    return SG_EINVAL;
  }
  if (rc) {
    *ctx->st = row;
    return rc;
  }
  t->candidate = w;
  t->worker_name = w->name;
  t->to_role = w->role;
  t->worker_id = 0;
  t->state = SHEGONG__V1__TRANSFER_STATE__PROPOSED;
  static Shegong__V1__Party one[] = {SHEGONG__V1__PARTY__ORIGIN_TOWN};
  t->required = one;
  t->n_required = 1;
  t->n_approved = 0;
  t->approved = NULL;
  t->n_events = 0;
  t->events = NULL;
  t->version = 0;
  t->applied_on = t->ended_on = sg_dup(ctx, "");
  t->created_worker_id = 0;
  t->from_role = SHEGONG__V1__ROLE__ROLE_UNSPECIFIED;
  t->converted = 0;
  t->batch_id = 0;
  return 0;
}

static int transfers_propose(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                             ProtobufCMessage **resp) {
  const Shegong__V1__ProposeTransferRequest *req = (const void *)req_msg;
  if (!req->transfer) {
    sg_status_violation(ctx->st, "transfer", "required");
    return SG_EINVAL;
  }
  transfer *t = sg_arena_alloc(ctx->arena, sizeof *t);
  if (!t) return SG_ENOMEM;
  *t = *req->transfer;
  t->batch_id = 0;
  int rc;
  if (t->kind == SHEGONG__V1__TRANSFER_KIND__COMMITTEE_JOIN) {
    if ((rc = propose_committee(ctx, txn, t)) ||
        (rc = add_event(ctx, t, SHEGONG__V1__TRANSFER_STATE__PROPOSED, 0, t->reason)) ||
        (rc = save(ctx, txn, t, 1)))
      return rc;
    *resp = &t->base;
    return 0;
  }
  t->score = 0;
  t->candidate = NULL;
  t->created_worker_id = 0;
  if (!t->worker_id) {
    sg_status_violation(ctx->st, "transfer.worker_id", "required");
    return SG_EINVAL;
  }
  sg_worker *w;
  rc = sg_workers_get(ctx->store, txn, t->worker_id, &ctx->arena->allocator, &w);
  if (rc == SG_ENOTFOUND)
    return sg_status_set(ctx->st, rc, "worker %llu not found", (unsigned long long)t->worker_id);
  uint64_t w_town;
  if (rc || (rc = sg_index_get_id(txn, ctx->store->units_by_code, w->town_code,
                                  strlen(w->town_code), &w_town)))
    return rc == SG_ENOTFOUND ? SG_EDATALOSS : rc;
  /* scope before anything about the worker: a town proposes for its own
   * workers, or asks for another town's worker to come to it */
  const sg_principal *p = ctx->principal;
  if (p && p->town_id && p->town_id != w_town) {
    sg_unit *to = NULL;
    uint64_t to_town = 0;
    const char *code;
    if (req->transfer->to_unit_code[0] && strlen(req->transfer->to_unit_code) <= 15 &&
        sg_units_get_by_code(ctx->store, txn, req->transfer->to_unit_code, &ctx->arena->allocator,
                             &to) == 0)
      town_of_unit(to, &to_town, &code);
    if (to_town != p->town_id)
      return sg_status_set(ctx->st, SG_EPERM, "token %llu may touch only town %s, not %s",
                           (unsigned long long)p->token_id, p->town_code, w->town_code);
  }
  if ((rc = check_proposal(ctx, txn, "transfer.", t, w, w_town))) return rc;
  if ((rc = may_propose(ctx, t))) return rc;
  if ((rc = add_event(ctx, t, SHEGONG__V1__TRANSFER_STATE__PROPOSED, 0, t->reason)) ||
      (rc = save(ctx, txn, t, 1)))
    return rc;
  *resp = &t->base;
  return 0;
}

/* ---- taking effect ---------------------------------------------------------------- */

/*
 * With contain set (the scheduler), a record that cannot be read or written
 * fails its transfer, with the reason, rather than the whole run: one damaged
 * record must not hold up every due transfer after it.
 */
static int contained(const transfer *t, int rc, sg_status *why, int contain) {
  if (!contain || (rc != SG_EDATALOSS && rc != SG_EINTERNAL)) return rc;
  sg_error("transfer %llu cannot take effect: %s", (unsigned long long)t->id, sg_strerror(rc));
  sg_status_clear(why);
  return sg_status_set(why, SG_EPRECOND, "cannot take effect: %s (see the server log)",
                       sg_strerror(rc));
}

/*
 * Applies t to its worker in a nested transaction: the worker's record and
 * history, then t as EFFECTIVE. When the worker no longer is where the
 * transfer starts (it left, or another change moved it), or with contain a
 * record is damaged, nothing of the worker changes and t becomes FAILED;
 * *failed says so (with why in st).
 */
static int apply_one(sg_call_ctx *ctx, MDB_txn *txn, transfer *t, sg_status *why, int *failed,
                     int contain) {
  *failed = 0;
  sg_status_clear(why);
  sg_call_ctx sub = *ctx;
  sub.st = why;
  MDB_txn *child;
  int rc = mdb_txn_begin(mdb_txn_env(txn), txn, 0, &child);
  if (rc) return sg_store_err(rc, "begin transfer");
  if (t->kind == SHEGONG__V1__TRANSFER_KIND__COMMITTEE_JOIN) {
    /* the member joins: registered now, as Workers/Create would */
    sg_worker *w = t->candidate ? sg_worker_copy(ctx, t->candidate) : NULL;
    char *cause = sg_arena_printf(ctx->arena, "joined from the 村两委: transfer %llu",
                                  (unsigned long long)t->id);
    if (!w || !cause) rc = SG_ENOMEM;
    else rc = sg_worker_create(&sub, child, w, 1, cause, t->id);
    if (rc == SG_EINVAL || rc == SG_EEXISTS) {
      char msg[SG_STATUS_FIELD_MAX + SG_STATUS_DESC_MAX + SG_STATUS_MSG_MAX + 64];
      snprintf(msg, sizeof msg, "the candidate cannot be registered: %s%s%s",
               why->n_violations ? why->violations[0].field : "",
               why->n_violations ? ": " : "",
               why->n_violations ? why->violations[0].description : why->message);
      sg_status_clear(why);
      rc = sg_status_set(why, SG_EPRECOND, "%.240s", msg);
    }
    if (rc == 0) {
      t->created_worker_id = w->id;
      rc = mdb_txn_commit(child);
      child = NULL;
      if (rc) rc = sg_store_err(rc, "commit transfer");
    }
    if (child) mdb_txn_abort(child);
    rc = contained(t, rc, why, contain);
    if (rc && rc != SG_EPRECOND) return rc;
    goto record;
  }
  sg_worker *old;
  rc = sg_workers_get(ctx->store, child, t->worker_id, &ctx->arena->allocator, &old);
  if (rc == SG_ENOTFOUND) rc = SG_EDATALOSS;
  int timed = t->kind == SHEGONG__V1__TRANSFER_KIND__ROTATION ||
              t->kind == SHEGONG__V1__TRANSFER_KIND__FIRST_YEAR_PLACEMENT;
  if (rc == 0) {
    if (old->status == SHEGONG__V1__WORKER_STATUS__LEFT)
      rc = sg_status_set(why, SG_EPRECOND, "worker %llu left on %s", (unsigned long long)old->id,
                         old->leave_date);
    else if (strcmp(old->unit_code, t->from_unit_code) != 0 || old->role != t->from_role)
      rc = sg_status_set(why, SG_EPRECOND,
                         "worker %llu is now %s in %s, not as proposed (%s in %s): another change "
                         "came first",
                         (unsigned long long)old->id, enum_name(&shegong__v1__role__descriptor, old->role),
                         old->unit_code, enum_name(&shegong__v1__role__descriptor, t->from_role),
                         t->from_unit_code);
    else if (timed ? old->status != SHEGONG__V1__WORKER_STATUS__ACTIVE
                   : old->status == SHEGONG__V1__WORKER_STATUS__ROTATING ||
                         old->status == SHEGONG__V1__WORKER_STATUS__PLACEMENT)
      rc = sg_status_set(why, SG_EPRECOND, "worker %llu is away on a rotation or placement",
                         (unsigned long long)old->id);
  }
  if (rc == 0) {
    sg_worker *w = sg_worker_copy(ctx, old);
    if (!w) rc = SG_ENOMEM;
    else {
      switch (t->kind) {
      case SHEGONG__V1__TRANSFER_KIND__EXCHANGE:
      case SHEGONG__V1__TRANSFER_KIND__CROSS_TOWN:
        w->unit_code = t->to_unit_code;
        w->grid_code = t->to_grid_code;
        /* a town's staff are the town centre's; a community's are community-based */
        if (strlen(t->to_unit_code) == 9) w->category = SHEGONG__V1__CATEGORY__TOWN_CENTRE;
        else if (w->category == SHEGONG__V1__CATEGORY__TOWN_CENTRE)
          w->category = SHEGONG__V1__CATEGORY__COMMUNITY_BASED;
        break;
      case SHEGONG__V1__TRANSFER_KIND__ROTATION:
        w->unit_code = t->to_unit_code;
        w->grid_code = t->to_grid_code;
        w->status = SHEGONG__V1__WORKER_STATUS__ROTATING;
        break;
      case SHEGONG__V1__TRANSFER_KIND__FIRST_YEAR_PLACEMENT:
        w->unit_code = t->to_unit_code;
        w->grid_code = t->to_grid_code;
        w->status = SHEGONG__V1__WORKER_STATUS__PLACEMENT;
        break;
      case SHEGONG__V1__TRANSFER_KIND__CONVERSION:
        w->category = SHEGONG__V1__CATEGORY__COMMUNITY_BASED;
        break;
      default:
        break;
      }
      if (t->to_role) w->role = t->to_role;
      char *cause = sg_arena_printf(ctx->arena, "transfer %llu (%s)", (unsigned long long)t->id,
                                    kind_word(t->kind));
      const char *date = strcmp(t->effective_date, ctx->today) <= 0 ? t->effective_date : ctx->today;
      rc = cause ? sg_worker_rewrite(&sub, child, old, w, date, cause, t->id, NULL) : SG_ENOMEM;
      /* the destination no longer fits (a grid gone, a unit's kind): the same as changed */
      if (rc == SG_EINVAL) {
        char msg[SG_STATUS_FIELD_MAX + SG_STATUS_DESC_MAX + SG_STATUS_MSG_MAX + 64];
        snprintf(msg, sizeof msg, "the worker's record would not be valid: %s: %s",
                 why->n_violations ? why->violations[0].field : "?",
                 why->n_violations ? why->violations[0].description : why->message);
        sg_status_clear(why);
        rc = sg_status_set(why, SG_EPRECOND, "%.240s", msg);
      }
    }
  }
  if (rc == 0) {
    rc = mdb_txn_commit(child);
    child = NULL;
    if (rc) rc = sg_store_err(rc, "commit transfer");
  }
  if (child) mdb_txn_abort(child);
  rc = contained(t, rc, why, contain);
  if (rc && rc != SG_EPRECOND) return rc;
record:;
  /* the transfer's own record, whichever way it went */
  int err;
  if ((err = due_del(ctx, txn, t))) return err;
  if (rc == SG_EPRECOND) {
    *failed = 1;
    t->state = SHEGONG__V1__TRANSFER_STATE__FAILED;
    err = add_event(ctx, t, t->state, 0, why->message);
  } else {
    t->state = SHEGONG__V1__TRANSFER_STATE__EFFECTIVE;
    t->applied_on = sg_dup(ctx, ctx->today);
    err = add_event(ctx, t, t->state, 0, "took effect");
  }
  return err ? err : save(ctx, txn, t, 0);
}

/* ---- approve, reject, cancel ----------------------------------------------------- */

static int has_party(const Shegong__V1__Party *list, size_t n, int party) {
  for (size_t i = 0; i < n; i++)
    if ((int)list[i] == party) return 1;
  return 0;
}

static int transfers_approve(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                             ProtobufCMessage **resp) {
  const Shegong__V1__DecideTransferRequest *req = (const void *)req_msg;
  char why[SG_WHY_MAX];
  if (req->note[0] && sg_validate_text(req->note, SG_NOTE_MAX, why, sizeof why)) {
    sg_status_violation(ctx->st, "note", "%s", why);
    return SG_EINVAL;
  }
  transfer *t = NULL;
  int rc = load_transfer(ctx, txn, req->id, &t);
  if (rc || (rc = check_version(ctx, t, req->expected_version))) return rc;
  if (t->state != SHEGONG__V1__TRANSFER_STATE__PROPOSED)
    return sg_status_set(ctx->st, SG_EPRECOND, "transfer %llu is %s: nothing to approve",
                         (unsigned long long)t->id, state_name(t->state));
  int next = t->n_approved < t->n_required ? (int)t->required[t->n_approved] : 0;
  int party = req->party ? (int)req->party : next;
  if (!sg_enum_valid(&shegong__v1__party__descriptor, party) ||
      !has_party(t->required, t->n_required, party)) {
    sg_status_violation(ctx->st, "party", "%s does not approve this transfer", party_name(party));
    return SG_EINVAL;
  }
  /* who may speak for the party first: a town has no say over another's turn */
  if (!may_act_for(ctx, t, party))
    return sg_status_set(ctx->st, SG_EPERM, "token %llu cannot approve for %s (%s)",
                         (unsigned long long)ctx->principal->token_id, party_name(party),
                         party == SHEGONG__V1__PARTY__ORIGIN_TOWN       ? t->from_town_code
                         : party == SHEGONG__V1__PARTY__DESTINATION_TOWN ? t->to_town_code
                                                                         : "the district");
  if (has_party(t->approved, t->n_approved, party))
    return sg_status_set(ctx->st, SG_EPRECOND, "transfer %llu was approved by %s already",
                         (unsigned long long)t->id, party_name(party));
  if (party != next)
    return sg_status_set(ctx->st, SG_EPRECOND,
                         "approving out of order: transfer %llu waits for %s first",
                         (unsigned long long)t->id, party_name(next));
  Shegong__V1__Party *ap = sg_arena_alloc(ctx->arena, (t->n_approved + 1) * sizeof *ap);
  if (!ap) return SG_ENOMEM;
  if (t->n_approved) memcpy(ap, t->approved, t->n_approved * sizeof *ap);
  ap[t->n_approved++] = (Shegong__V1__Party)party;
  t->approved = ap;
  int all = t->n_approved == t->n_required;
  if (all) t->state = SHEGONG__V1__TRANSFER_STATE__APPROVED;
  if ((rc = add_event(ctx, t, SHEGONG__V1__TRANSFER_STATE__APPROVED, party, req->note))) return rc;
  if (all && strcmp(t->effective_date, ctx->today) <= 0) {
    /* due already: it takes effect in this same transaction */
    sg_status why_st;
    int failed;
    if ((rc = apply_one(ctx, txn, t, &why_st, &failed, 0))) return rc;
  } else {
    if (all && (rc = due_put(ctx, txn, t))) return rc;
    if ((rc = save(ctx, txn, t, 0))) return rc;
  }
  *resp = &t->base;
  return 0;
}

static int transfers_reject(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                            ProtobufCMessage **resp) {
  const Shegong__V1__DecideTransferRequest *req = (const void *)req_msg;
  char why[SG_WHY_MAX];
  if (!req->note[0]) sg_status_violation(ctx->st, "note", "required: why it is rejected");
  else if (sg_validate_text(req->note, SG_NOTE_MAX, why, sizeof why))
    sg_status_violation(ctx->st, "note", "%s", why);
  if (ctx->st->n_violations) return SG_EINVAL;
  transfer *t = NULL;
  int rc = load_transfer(ctx, txn, req->id, &t);
  if (rc || (rc = check_version(ctx, t, req->expected_version))) return rc;
  if (!is_open(t))
    return sg_status_set(ctx->st, SG_EPRECOND, "transfer %llu is %s: it can no longer be rejected",
                         (unsigned long long)t->id, state_name(t->state));
  /* any party that approves it may refuse it: the one named, or the first the caller acts for */
  int party = req->party;
  if (!party)
    for (size_t i = 0; i < t->n_required && !party; i++)
      if (may_act_for(ctx, t, t->required[i])) party = t->required[i];
  if (party && !has_party(t->required, t->n_required, party)) {
    sg_status_violation(ctx->st, "party", "%s does not decide this transfer", party_name(party));
    return SG_EINVAL;
  }
  if (!party || !may_act_for(ctx, t, party))
    return sg_status_set(ctx->st, SG_EPERM, "token %llu decides for none of the parties of "
                         "transfer %llu", (unsigned long long)ctx->principal->token_id,
                         (unsigned long long)t->id);
  if (t->state == SHEGONG__V1__TRANSFER_STATE__APPROVED && (rc = due_del(ctx, txn, t))) return rc;
  t->state = SHEGONG__V1__TRANSFER_STATE__REJECTED;
  if ((rc = add_event(ctx, t, t->state, party, req->note)) || (rc = save(ctx, txn, t, 0)))
    return rc;
  *resp = &t->base;
  return 0;
}

static int transfers_cancel(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                            ProtobufCMessage **resp) {
  const Shegong__V1__CancelTransferRequest *req = (const void *)req_msg;
  char why[SG_WHY_MAX];
  if (!req->note[0]) sg_status_violation(ctx->st, "note", "required: why it is cancelled");
  else if (sg_validate_text(req->note, SG_NOTE_MAX, why, sizeof why))
    sg_status_violation(ctx->st, "note", "%s", why);
  if (ctx->st->n_violations) return SG_EINVAL;
  transfer *t = NULL;
  int rc = load_transfer(ctx, txn, req->id, &t);
  if (rc || (rc = check_version(ctx, t, req->expected_version))) return rc;
  if (!is_open(t))
    return sg_status_set(ctx->st, SG_EPRECOND, "transfer %llu is %s: it can no longer be cancelled",
                         (unsigned long long)t->id, state_name(t->state));
  if (t->state == SHEGONG__V1__TRANSFER_STATE__APPROVED && (rc = due_del(ctx, txn, t))) return rc;
  t->state = SHEGONG__V1__TRANSFER_STATE__TRANSFER_CANCELLED;
  if ((rc = add_event(ctx, t, t->state, 0, req->note)) || (rc = save(ctx, txn, t, 0))) return rc;
  *resp = &t->base;
  return 0;
}

static int transfers_get(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                         ProtobufCMessage **resp) {
  const Shegong__V1__GetTransferRequest *req = (const void *)req_msg;
  transfer *t = NULL;
  int rc = load_transfer(ctx, txn, req->id, &t);
  if (rc) return rc;
  *resp = &t->base;
  return 0;
}

/* ---- list ------------------------------------------------------------------------- */

typedef struct list_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  const Shegong__V1__ListTransfersRequest *req;
  uint64_t town; /* 0: any */
  Shegong__V1__ListTransfersResponse *r;
  size_t cap;
  int err;
} list_ctx;

static int list_one(void *arg, uint64_t id) {
  list_ctx *l = arg;
  sg_arena_mark m = sg_arena_get_mark(l->ctx->arena);
  transfer *t = NULL;
  int rc = sg_rec_get(l->ctx->store, l->txn, SG_REC_TRANSFER, id, &l->ctx->arena->allocator,
                      (ProtobufCMessage **)&t);
  if (rc) return l->err = (rc == SG_ENOTFOUND ? SG_EDATALOSS : rc);
  const Shegong__V1__ListTransfersRequest *q = l->req;
  int keep = may_see(l->ctx, t) && (!l->town || t->from_town_id == l->town || t->to_town_id == l->town) &&
             (!q->worker_id || t->worker_id == q->worker_id) && (!q->state || t->state == q->state) &&
             (!q->kind || t->kind == q->kind) && (!q->batch_id || t->batch_id == q->batch_id);
  if (!keep) {
    sg_arena_rewind(l->ctx->arena, m);
    return 0;
  }
  if (l->r->n_transfers == SG_LIST_MAX) {
    l->err = sg_status_set(l->ctx->st, SG_ENOMEM,
                           "more than %d transfers: narrow the list by state, kind or worker",
                           SG_LIST_MAX);
    return l->err;
  }
  if (sg_rows_grow(l->ctx->arena, (void ***)&l->r->transfers, l->r->n_transfers, &l->cap)) return l->err = SG_ENOMEM;
  l->r->transfers[l->r->n_transfers++] = t;
  return 0;
}

static int transfers_list(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                          ProtobufCMessage **resp) {
  const Shegong__V1__ListTransfersRequest *req = (const void *)req_msg;
  if (!sg_enum_valid(&shegong__v1__transfer_state__descriptor, req->state))
    sg_status_violation(ctx->st, "state", "unknown state %d", (int)req->state);
  if (!sg_enum_valid(&shegong__v1__transfer_kind__descriptor, req->kind))
    sg_status_violation(ctx->st, "kind", "unknown kind %d", (int)req->kind);
  if (ctx->st->n_violations) return SG_EINVAL;
  list_ctx l = {.ctx = ctx, .txn = txn, .req = req};
  int rc;
  if (req->town_code[0]) {
    sg_unit *u;
    rc = sg_units_get_by_code(ctx->store, txn, req->town_code, &ctx->arena->allocator, &u);
    if (rc == SG_ENOTFOUND || (rc == 0 && u->kind != SHEGONG__V1__UNIT_KIND__TOWN))
      return sg_status_set(ctx->st, SG_ENOTFOUND, "town %s not found", req->town_code);
    if (rc || (rc = sg_authz_town(ctx, u->id, req->town_code))) return rc;
    l.town = u->id;
  }
  if (!(l.r = sg_arena_alloc(ctx->arena, sizeof *l.r))) return SG_ENOMEM;
  shegong__v1__list_transfers_response__init(l.r);
  if (req->worker_id) {
    sg_worker *w;
    if ((rc = sg_worker_load_scoped(ctx, txn, req->worker_id, "worker_id", &w, NULL))) return rc;
    rc = sg_rec_scan_worker(ctx->store, txn, SG_REC_TRANSFER, w->id, list_one, &l);
  } else {
    rc = sg_record_scan(txn, ctx->store->transfers, 0, list_one, &l);
  }
  if (rc || (rc = l.err)) return rc;
  *resp = &l.r->base;
  return 0;
}

/* ---- apply ------------------------------------------------------------------------ */

typedef struct due_ctx {
  uint64_t today;
  uint64_t *ids;
  size_t n, cap;
  int err;
} due_ctx;

/* Every (day, id) in transfers_due with day <= today. */
static int due_ids(sg_call_ctx *ctx, MDB_txn *txn, uint64_t today, due_ctx *d) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, ctx->store->transfers_due, &cur);
  if (rc) return sg_store_err(rc, "open cursor");
  MDB_val k, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != 16) continue;
    if (sg_key_get_u64(k.mv_data) > today) break;
    if (d->n == d->cap) {
      size_t cap = d->cap ? d->cap * 2 : 64;
      uint64_t *g = sg_arena_alloc(ctx->arena, cap * sizeof *g);
      if (!g) {
        mdb_cursor_close(cur);
        return SG_ENOMEM;
      }
      if (d->n) memcpy(g, d->ids, d->n * sizeof *g);
      d->ids = g;
      d->cap = cap;
    }
    d->ids[d->n++] = sg_key_get_u64((const uint8_t *)k.mv_data + 8);
  }
  mdb_cursor_close(cur);
  return rc == MDB_NOTFOUND || rc == 0 ? 0 : sg_store_err(rc, "scan due transfers");
}

int sg_transfers_due(sg_store *s, MDB_txn *txn, uint64_t today_days) {
  MDB_cursor *cur;
  if (mdb_cursor_open(txn, s->transfers_due, &cur)) return 0;
  MDB_val k, v;
  int due = mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && k.mv_size == 16 &&
            sg_key_get_u64(k.mv_data) <= today_days;
  mdb_cursor_close(cur);
  return due;
}

static int transfers_apply(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                           ProtobufCMessage **resp) {
  const Shegong__V1__ApplyTransfersRequest *req = (const void *)req_msg;
  sg_date today;
  sg_validate_date(ctx->today, &today, NULL, 0);
  due_ctx d = {.today = (uint64_t)sg_date_days(&today)};
  int rc;
  if (req->id) {
    transfer *t = NULL;
    if ((rc = load_transfer(ctx, txn, req->id, &t))) return rc;
    if (!may_act_for(ctx, t, SHEGONG__V1__PARTY__ORIGIN_TOWN) &&
        !may_act_for(ctx, t, SHEGONG__V1__PARTY__DESTINATION_TOWN))
      return refuse_scope(ctx, t);
    if (t->state != SHEGONG__V1__TRANSFER_STATE__APPROVED)
      return sg_status_set(ctx->st, SG_EPRECOND, "transfer %llu is %s, not APPROVED",
                           (unsigned long long)t->id, state_name(t->state));
    if (strcmp(t->effective_date, ctx->today) > 0)
      return sg_status_set(ctx->st, SG_EPRECOND, "transfer %llu takes effect on %s, not yet",
                           (unsigned long long)t->id, t->effective_date);
    d.ids = &t->id;
    d.n = 1;
  } else if ((rc = due_ids(ctx, txn, d.today, &d))) {
    return rc;
  }
  Shegong__V1__ApplyTransfersResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__apply_transfers_response__init(r);
  r->results = sg_arena_alloc(ctx->arena, (d.n + 1) * sizeof *r->results);
  if (!r->results) return SG_ENOMEM;
  for (size_t i = 0; i < d.n; i++) {
    transfer *t = NULL;
    rc = sg_rec_get(ctx->store, txn, SG_REC_TRANSFER, d.ids[i], &ctx->arena->allocator,
                    (ProtobufCMessage **)&t);
    if (rc) return rc == SG_ENOTFOUND ? SG_EDATALOSS : rc;
    /* a town token applies its own towns' transfers; the scheduler (no token) all */
    if (!may_act_for(ctx, t, SHEGONG__V1__PARTY__ORIGIN_TOWN) &&
        !may_act_for(ctx, t, SHEGONG__V1__PARTY__DESTINATION_TOWN))
      continue;
    sg_status why;
    int failed;
    if ((rc = apply_one(ctx, txn, t, &why, &failed, 1))) return rc;
    Shegong__V1__ApplyResult *res = sg_arena_alloc(ctx->arena, sizeof *res);
    if (!res) return SG_ENOMEM;
    shegong__v1__apply_result__init(res);
    res->id = t->id;
    res->transfer = t;
    if (!(res->status = sg_status_to_pb(ctx, &why))) return SG_ENOMEM;
    if (failed)
      sg_info("transfer %llu could not take effect: %s", (unsigned long long)t->id, why.message);
    r->results[r->n_results++] = res;
  }
  *resp = &r->base;
  return 0;
}

/* ---- end a rotation or placement ------------------------------------------------- */

static int transfers_end(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                         ProtobufCMessage **resp) {
  const Shegong__V1__EndTransferRequest *req = (const void *)req_msg;
  char why[SG_WHY_MAX];
  sg_date today, end, eff;
  sg_validate_date(ctx->today, &today, NULL, 0);
  const char *end_s = req->end_date[0] ? req->end_date : ctx->today;
  if (sg_validate_date(end_s, &end, why, sizeof why))
    sg_status_violation(ctx->st, "end_date", "%s", why);
  else if (sg_date_cmp(&end, &today) > 0)
    sg_status_violation(ctx->st, "end_date", "%s is in the future", end_s);
  if (req->note[0] && sg_validate_text(req->note, SG_NOTE_MAX, why, sizeof why))
    sg_status_violation(ctx->st, "note", "%s", why);
  if (ctx->st->n_violations) return SG_EINVAL;
  transfer *t = NULL;
  int rc = load_transfer(ctx, txn, req->id, &t);
  if (rc || (rc = check_version(ctx, t, req->expected_version))) return rc;
  if (!may_act_for(ctx, t, SHEGONG__V1__PARTY__ORIGIN_TOWN) &&
      !may_act_for(ctx, t, SHEGONG__V1__PARTY__DESTINATION_TOWN))
    return refuse_scope(ctx, t);
  int placement = t->kind == SHEGONG__V1__TRANSFER_KIND__FIRST_YEAR_PLACEMENT;
  if (t->kind != SHEGONG__V1__TRANSFER_KIND__ROTATION && !placement)
    return sg_status_set(ctx->st, SG_EPRECOND, "a %s does not end: only rotations and placements do",
                         kind_word(t->kind));
  if (t->state != SHEGONG__V1__TRANSFER_STATE__EFFECTIVE)
    return sg_status_set(ctx->st, SG_EPRECOND, "transfer %llu is %s, not EFFECTIVE",
                         (unsigned long long)t->id, state_name(t->state));
  if (req->convert && placement) {
    sg_status_violation(ctx->st, "convert", "a placement ends with the return to the town centre");
    return SG_EINVAL;
  }
  if (sg_validate_date(t->applied_on[0] ? t->applied_on : t->effective_date, &eff, NULL, 0) == 0 &&
      sg_date_cmp(&end, &eff) < 0) {
    sg_status_violation(ctx->st, "end_date", "before the transfer took effect");
    return SG_EINVAL;
  }
  if (placement) {
    sg_date min, start;
    sg_validate_date(t->effective_date, &start, NULL, 0);
    add_months(&start, SG_PLACEMENT_MONTHS, &min);
    if (sg_date_cmp(&end, &min) < 0) {
      char m[11];
      sg_date_format(&min, m, sizeof m);
      return sg_status_set(ctx->st, SG_EPRECOND,
                           "a first-year placement lasts at least six months: it may end on %s", m);
    }
  }
  sg_worker *old;
  if ((rc = sg_workers_get(ctx->store, txn, t->worker_id, &ctx->arena->allocator, &old)))
    return rc == SG_ENOTFOUND ? SG_EDATALOSS : rc;
  int away = placement ? SHEGONG__V1__WORKER_STATUS__PLACEMENT : SHEGONG__V1__WORKER_STATUS__ROTATING;
  if (old->status != (Shegong__V1__WorkerStatus)away || strcmp(old->unit_code, t->to_unit_code) != 0)
    return sg_status_set(ctx->st, SG_EPRECOND,
                         "worker %llu is no longer away on this transfer (now in %s)",
                         (unsigned long long)old->id, old->unit_code);
  sg_worker *w = sg_worker_copy(ctx, old);
  if (!w) return SG_ENOMEM;
  w->status = SHEGONG__V1__WORKER_STATUS__ACTIVE;
  if (!req->convert) {
    w->unit_code = t->from_unit_code;
    w->grid_code = t->from_grid_code;
  }
  char *cause = sg_arena_printf(ctx->arena, "transfer %llu (%s) ended: %s", (unsigned long long)t->id,
                                kind_word(t->kind), req->convert ? "stays for good" : "returned");
  if (!cause) return SG_ENOMEM;
  rc = sg_worker_rewrite(ctx, txn, old, w, end_s, cause, t->id, NULL);
  if (rc == SG_EINVAL && !req->convert && w->grid_code[0]) {
    /* the old grid is gone: back to the unit without one */
    sg_status_clear(ctx->st);
    w = sg_worker_copy(ctx, old);
    if (!w) return SG_ENOMEM;
    w->status = SHEGONG__V1__WORKER_STATUS__ACTIVE;
    w->unit_code = t->from_unit_code;
    w->grid_code = "";
    rc = sg_worker_rewrite(ctx, txn, old, w, end_s, cause, t->id, NULL);
  }
  if (rc) return rc;
  t->state = SHEGONG__V1__TRANSFER_STATE__ENDED;
  t->ended_on = sg_dup(ctx, end_s);
  t->converted = req->convert;
  if ((rc = add_event(ctx, t, t->state, 0,
                      req->note[0] ? req->note : req->convert ? "stays for good" : "returned")) ||
      (rc = save(ctx, txn, t, 0)))
    return rc;
  *resp = &t->base;
  return 0;
}

/* ---- 转任 in batches ---------------------------------------------------------------- */

typedef struct cand {
  uint64_t id;
  double score;
} cand;

typedef struct conv_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  uint32_t year;
  double min_score;
  cand *c;
  size_t n, cap;
  uint32_t considered;
  int err;
} conv_ctx;

typedef struct score_find {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  sg_arena *arena;
  uint32_t year;
  double score;
  int found;
  int err;
} score_find;

static int find_score(void *arg, uint64_t id) {
  score_find *s = arg;
  sg_arena_mark m = sg_arena_get_mark(s->arena);
  Shegong__V1__Assessment *a;
  int rc = sg_rec_get(s->ctx->store, s->txn, SG_REC_ASSESSMENT, id, &s->arena->allocator,
                      (ProtobufCMessage **)&a);
  if (rc) return s->err = rc;
  if (a->kind == SHEGONG__V1__ASSESSMENT_KIND__YEAR_END && a->year == s->year) {
    s->score = a->combined_score;
    s->found = 1;
    return 1;
  }
  sg_arena_rewind(s->arena, m);
  return 0;
}

static int conv_worker(void *arg, sg_worker *w, sg_arena *scratch) {
  conv_ctx *c = arg;
  if (w->role != SHEGONG__V1__ROLE__FULL_TIME_GRID || w->status != SHEGONG__V1__WORKER_STATUS__ACTIVE)
    return 0;
  c->considered++;
  score_find s = {c->ctx, c->txn, scratch, c->year, 0, 0, 0};
  int rc = sg_rec_scan_worker(c->ctx->store, c->txn, SG_REC_ASSESSMENT, w->id, find_score, &s);
  if (rc || (rc = s.err)) return rc;
  if (!s.found || s.score < c->min_score) return 0;
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 64;
    cand *g = sg_arena_alloc(c->ctx->arena, cap * sizeof *g);
    if (!g) return SG_ENOMEM;
    if (c->n) memcpy(g, c->c, c->n * sizeof *g);
    c->c = g;
    c->cap = cap;
  }
  c->c[c->n++] = (cand){w->id, s.score};
  return 0;
}

static int cmp_cand(const void *a, const void *b) {
  const cand *x = a, *y = b;
  if (x->score != y->score) return x->score < y->score ? 1 : -1;
  return x->id < y->id ? -1 : x->id > y->id;
}

static int transfers_propose_conversions(sg_call_ctx *ctx, MDB_txn *txn,
                                         const ProtobufCMessage *req_msg, ProtobufCMessage **resp) {
  const Shegong__V1__ProposeConversionsRequest *req = (const void *)req_msg;
  sg_date today;
  sg_validate_date(ctx->today, &today, NULL, 0);
  if (!req->town_code[0]) sg_status_violation(ctx->st, "town_code", "required");
  if (req->n_worker_ids > SG_BATCH_MAX)
    sg_status_violation(ctx->st, "worker_ids", "at most %d", SG_BATCH_MAX);
  if (req->n_worker_ids && (req->year || req->min_score || req->limit))
    sg_status_violation(ctx->st, "worker_ids", "give the workers or the selection (year, "
                                               "min_score, limit), not both");
  if (!req->n_worker_ids && (req->min_score < 0 || req->min_score > 100))
    sg_status_violation(ctx->st, "min_score", "a score from 0 to 100");
  uint32_t year = req->year ? req->year : (uint32_t)today.year - 1;
  if (!req->n_worker_ids && (year < 1990 || year > (uint32_t)today.year))
    sg_status_violation(ctx->st, "year", "%u is not a year from 1990 to %d", year, today.year);
  if (ctx->st->n_violations) return SG_EINVAL;
  sg_scope sc;
  int rc = sg_scope_resolve(ctx, txn, req->town_code, "", &sc);
  if (rc) return rc;
  conv_ctx c = {.ctx = ctx, .txn = txn, .year = year, .min_score = req->min_score};
  if (req->n_worker_ids) {
    if (!(c.c = sg_arena_alloc(ctx->arena, req->n_worker_ids * sizeof *c.c))) return SG_ENOMEM;
    for (size_t i = 0; i < req->n_worker_ids; i++) c.c[c.n++] = (cand){req->worker_ids[i], 0};
    c.considered = (uint32_t)c.n;
  } else {
    if ((rc = sg_scope_workers(ctx, txn, &sc, conv_worker, &c))) return rc;
    if (c.n) qsort(c.c, c.n, sizeof *c.c, cmp_cand);
    if (req->limit && c.n > req->limit) c.n = req->limit;
    if (c.n > SG_BATCH_MAX) c.n = SG_BATCH_MAX;
  }
  uint64_t batch;
  if ((rc = sg_store_next_id(ctx->store, txn, "seq:batch", &batch))) return rc;
  Shegong__V1__ProposeConversionsResponse *r = sg_arena_alloc(ctx->arena, sizeof *r);
  if (!r) return SG_ENOMEM;
  shegong__v1__propose_conversions_response__init(r);
  r->batch_id = batch;
  r->considered = c.considered;
  r->transfers = sg_arena_alloc(ctx->arena, (c.n + 1) * sizeof *r->transfers);
  if (!r->transfers) return SG_ENOMEM;
  /* every row is checked, and one bad row sends nothing (the call rolls back) */
  size_t bad = 0;
  for (size_t i = 0; i < c.n; i++) {
    char field[48], prefix[48];
    snprintf(field, sizeof field, "worker_ids[%zu]", i);
    snprintf(prefix, sizeof prefix, "worker_ids[%zu].", i);
    for (size_t k = 0; k < i && req->n_worker_ids; k++)
      if (c.c[k].id == c.c[i].id) {
        sg_status_violation(ctx->st, field, "worker %llu is listed twice",
                            (unsigned long long)c.c[i].id);
        bad++;
        goto next;
      }
    {
      sg_status row_st;
      sg_status_clear(&row_st);
      sg_call_ctx sub = *ctx;
      sub.st = &row_st;
      transfer *t = sg_arena_alloc(ctx->arena, sizeof *t);
      if (!t) return SG_ENOMEM;
      shegong__v1__transfer__init(t);
      t->kind = SHEGONG__V1__TRANSFER_KIND__CONVERSION;
      t->worker_id = c.c[i].id;
      t->to_role = req->to_role;
      t->effective_date = req->effective_date;
      t->reason = req->reason[0] ? req->reason : (char *)"两员融合: 专职网格员转任社区工作者";
      t->batch_id = batch;
      t->score = c.c[i].score;
      sg_worker *w;
      uint64_t town;
      rc = sg_worker_load_scoped(&sub, txn, t->worker_id, field, &w, &town);
      if (rc == 0 && sc.key && town != sc.key)
        rc = sg_status_set(&row_st, SG_EPRECOND, "worker %llu is not of town %s",
                           (unsigned long long)w->id, req->town_code);
      if (rc == 0) rc = check_proposal(&sub, txn, prefix, t, w, town);
      if (rc == SG_EPERM) {
        *ctx->st = row_st;
        return rc;
      }
      if (rc == SG_EINVAL || rc == SG_EPRECOND || rc == SG_ENOTFOUND) {
        if (row_st.n_violations)
          for (size_t k = 0; k < row_st.n_violations && k < SG_STATUS_VIOLATIONS_MAX; k++)
            sg_status_violation(ctx->st, row_st.violations[k].field, "%s",
                                row_st.violations[k].description);
        else
          sg_status_violation(ctx->st, field, "%s", row_st.message);
        bad++;
        goto next;
      }
      if (rc) {
        *ctx->st = row_st;
        return rc;
      }
      if ((rc = add_event(ctx, t, SHEGONG__V1__TRANSFER_STATE__PROPOSED, 0, t->reason)) ||
          (rc = save(ctx, txn, t, 1)))
        return rc;
      r->transfers[r->n_transfers++] = t;
    }
  next:;
  }
  if (bad)
    return sg_status_set(ctx->st, SG_EINVAL, "%zu of %zu workers cannot be proposed: none was", bad,
                         c.n);
  *resp = &r->base;
  return 0;
}

/* ---- 首年下沉: placements due to end, and hires never placed ------------------------- */

typedef struct place_ctx {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  sg_date today;
  uint32_t within;
  Shegong__V1__PlacementReportResponse *r;
  size_t cap;
} place_ctx;

typedef struct place_find {
  sg_call_ctx *ctx;
  MDB_txn *txn;
  sg_arena *arena;
  transfer *effective; /* an EFFECTIVE placement */
  int any;             /* any placement that is not refused */
  int err;
} place_find;

static int find_placement(void *arg, uint64_t id) {
  place_find *p = arg;
  sg_arena_mark m = sg_arena_get_mark(p->arena);
  transfer *t = NULL;
  int rc = sg_rec_get(p->ctx->store, p->txn, SG_REC_TRANSFER, id, &p->arena->allocator,
                      (ProtobufCMessage **)&t);
  if (rc) return p->err = rc;
  if (t->kind != SHEGONG__V1__TRANSFER_KIND__FIRST_YEAR_PLACEMENT) {
    sg_arena_rewind(p->arena, m);
    return 0;
  }
  if (t->state == SHEGONG__V1__TRANSFER_STATE__EFFECTIVE) p->effective = t;
  if (t->state != SHEGONG__V1__TRANSFER_STATE__REJECTED &&
      t->state != SHEGONG__V1__TRANSFER_STATE__TRANSFER_CANCELLED &&
      t->state != SHEGONG__V1__TRANSFER_STATE__FAILED)
    p->any = 1;
  return 0;
}

static int place_worker(void *arg, sg_worker *w, sg_arena *scratch) {
  place_ctx *pc = arg;
  sg_date hire;
  if (w->category != SHEGONG__V1__CATEGORY__TOWN_CENTRE ||
      w->status == SHEGONG__V1__WORKER_STATUS__LEFT ||
      sg_validate_date(w->hire_date, &hire, NULL, 0))
    return 0;
  long served = sg_date_days(&pc->today) - sg_date_days(&hire);
  place_find p = {pc->ctx, pc->txn, scratch, NULL, 0, 0};
  int rc = sg_rec_scan_worker(pc->ctx->store, pc->txn, SG_REC_TRANSFER, w->id, find_placement, &p);
  if (rc || (rc = p.err)) return rc;
  const char *issue = NULL;
  sg_date end;
  if (p.effective && sg_validate_date(p.effective->end_date, &end, NULL, 0) == 0) {
    long left = sg_date_days(&end) - sg_date_days(&pc->today);
    if (left < 0) issue = "overdue";
    else if (left <= (long)pc->within) issue = "ends soon";
  } else if (!p.any && served > 30 && served <= 2 * 366) {
    /* hired in the last two years, a month's grace to arrange it */
    issue = "never placed";
  }
  if (!issue) return 0;
  Shegong__V1__PlacementRow *row = sg_arena_alloc(pc->ctx->arena, sizeof *row);
  if (!row) return SG_ENOMEM;
  shegong__v1__placement_row__init(row);
  row->worker_id = w->id;
  row->name = sg_dup(pc->ctx, w->name);
  row->town_code = sg_dup(pc->ctx, w->town_code);
  row->hire_date = sg_dup(pc->ctx, w->hire_date);
  row->issue = (char *)issue;
  if (p.effective) {
    row->transfer_id = p.effective->id;
    row->unit_code = sg_dup(pc->ctx, p.effective->to_unit_code);
    row->mentor_id = p.effective->mentor_id;
    row->end_date = sg_dup(pc->ctx, p.effective->end_date);
  }
  if (sg_rows_grow(pc->ctx->arena, (void ***)&pc->r->rows, pc->r->n_rows, &pc->cap))
    return SG_ENOMEM;
  pc->r->rows[pc->r->n_rows++] = row;
  return 0;
}

static int transfers_placement_report(sg_call_ctx *ctx, MDB_txn *txn,
                                      const ProtobufCMessage *req_msg, ProtobufCMessage **resp) {
  const Shegong__V1__PlacementReportRequest *req = (const void *)req_msg;
  if (req->due_within_days > 366) {
    sg_status_violation(ctx->st, "due_within_days", "at most 366");
    return SG_EINVAL;
  }
  sg_scope sc;
  int rc = sg_scope_resolve(ctx, txn, req->town_code, "", &sc);
  if (rc) return rc;
  place_ctx pc = {.ctx = ctx, .txn = txn, .within = req->due_within_days ? req->due_within_days : 30};
  sg_validate_date(ctx->today, &pc.today, NULL, 0);
  if (!(pc.r = sg_arena_alloc(ctx->arena, sizeof *pc.r))) return SG_ENOMEM;
  shegong__v1__placement_report_response__init(pc.r);
  pc.r->as_of = sg_dup(ctx, ctx->today);
  if ((rc = sg_scope_workers(ctx, txn, &sc, place_worker, &pc))) return rc;
  *resp = &pc.r->base;
  return 0;
}

const sg_method_impl sg_svc_transfers[] = {
    {"/shegong.v1.Transfers/Apply", SG_METHOD_WRITE, transfers_apply},
    {"/shegong.v1.Transfers/Approve", SG_METHOD_WRITE, transfers_approve},
    {"/shegong.v1.Transfers/Cancel", SG_METHOD_WRITE, transfers_cancel},
    {"/shegong.v1.Transfers/End", SG_METHOD_WRITE, transfers_end},
    {"/shegong.v1.Transfers/Get", SG_METHOD_READ, transfers_get},
    {"/shegong.v1.Transfers/List", SG_METHOD_READ, transfers_list},
    {"/shegong.v1.Transfers/PlacementReport", SG_METHOD_REPORT, transfers_placement_report},
    {"/shegong.v1.Transfers/Propose", SG_METHOD_WRITE, transfers_propose},
    {"/shegong.v1.Transfers/ProposeConversions", SG_METHOD_WRITE, transfers_propose_conversions},
    {"/shegong.v1.Transfers/Reject", SG_METHOD_WRITE, transfers_reject},
    {NULL, 0, NULL},
};
