/*
 * Policies service: the district's rules as data. Every Set stores a new
 * version (old ones stay readable), is audited like any write, and goes to
 * every town through the changelog as a district-wide change.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "store/records.h"
#include "svc/svc.h"

#define SG_POLICY_NAME_MAX 64
#define SG_LADDER_POSTS_MAX 16
#define SG_LEVEL_TOP 99

/* At most two decimals, as scores are kept. */
static int two_decimals(double v) {
  return isfinite(v) && fabs(v * 100 - round(v * 100)) < 1e-6;
}

static void check_band(sg_call_ctx *ctx, const char *field, double v) {
  if (!two_decimals(v) || v <= 0 || v > 100)
    sg_status_violation(ctx->st, field, "a score above 0 and at most 100, with two decimals at most");
}

#define SG_QUOTA_RULES_MAX 64
#define SG_QUOTA_PARTS_MAX 32
#define SG_QUOTA_WORKERS_MAX 10000

/* One quota rule: a target, and parts that make sense. */
static void validate_quota(sg_call_ctx *ctx, const Shegong__V1__Policy *p, size_t i) {
  const Shegong__V1__QuotaRule *q = p->quotas[i];
  char f[96], why[SG_WHY_MAX];
#define QF(name) (snprintf(f, sizeof f, "policy.quotas[%zu].%s", i, name), f)
  if (!q->name[0]) sg_status_violation(ctx->st, QF("name"), "required");
  else if (sg_validate_text(q->name, SG_POLICY_NAME_MAX, why, sizeof why))
    sg_status_violation(ctx->st, QF("name"), "%s", why);
  if ((q->unit_kind != 0) == (q->unit_code[0] != 0))
    sg_status_violation(ctx->st, QF("unit_kind"), "give unit_kind or unit_code: one");
  if (!sg_enum_valid(&shegong__v1__unit_kind__descriptor, q->unit_kind) ||
      q->unit_kind == SHEGONG__V1__UNIT_KIND__GRID)
    sg_status_violation(ctx->st, QF("unit_kind"), "a district, town, community or village");
  if (q->unit_code[0] && sg_validate_division_code(q->unit_code, strlen(q->unit_code), why, sizeof why))
    sg_status_violation(ctx->st, QF("unit_code"), "%s", why);
  if (!sg_enum_valid(&shegong__v1__quota_scope__descriptor, q->scope))
    sg_status_violation(ctx->st, QF("scope"), "unknown scope");
  int parts = q->n_household_steps || q->n_roles || q->per_10k_residents || q->n_centre_tiers;
  if (!parts)
    sg_status_violation(ctx->st, QF("name"),
                        "the rule has no part: a households band, roles, a per-population "
                        "quota or centre tiers");
  if (q->n_household_steps > SG_QUOTA_PARTS_MAX || q->n_roles > SG_QUOTA_PARTS_MAX ||
      q->n_centre_tiers > SG_QUOTA_PARTS_MAX)
    sg_status_violation(ctx->st, QF("name"), "at most %d steps, roles or tiers", SG_QUOTA_PARTS_MAX);
  for (size_t k = 0; k < q->n_household_steps && k < SG_QUOTA_PARTS_MAX; k++) {
    const Shegong__V1__HouseholdStep *st = q->household_steps[k];
    if (k && st->min_households <= q->household_steps[k - 1]->min_households) {
      snprintf(f, sizeof f, "policy.quotas[%zu].household_steps[%zu]", i, k);
      sg_status_violation(ctx->st, f, "steps go up: %u households after %u", st->min_households,
                          q->household_steps[k - 1]->min_households);
    }
    if (st->workers > SG_QUOTA_WORKERS_MAX) {
      snprintf(f, sizeof f, "policy.quotas[%zu].household_steps[%zu]", i, k);
      sg_status_violation(ctx->st, f, "at most %d workers", SG_QUOTA_WORKERS_MAX);
    }
  }
  if (q->households_per_extra && !q->n_household_steps)
    sg_status_violation(ctx->st, QF("households_per_extra"), "goes with a households band");
  if (!isfinite(q->ageing_threshold_percent) || q->ageing_threshold_percent < 0 ||
      q->ageing_threshold_percent > 100)
    sg_status_violation(ctx->st, QF("ageing_threshold_percent"), "a percentage");
  if (q->ageing_extra && q->ageing_threshold_percent <= 0)
    sg_status_violation(ctx->st, QF("ageing_threshold_percent"), "required with ageing_extra");
  if (q->ageing_extra > SG_QUOTA_WORKERS_MAX)
    sg_status_violation(ctx->st, QF("ageing_extra"), "at most %d", SG_QUOTA_WORKERS_MAX);
  for (size_t k = 0; k < q->n_roles && k < SG_QUOTA_PARTS_MAX; k++) {
    const Shegong__V1__RoleQuota *r = q->roles[k];
    snprintf(f, sizeof f, "policy.quotas[%zu].roles[%zu]", i, k);
    if (!r->group || !sg_enum_valid(&shegong__v1__role_group__descriptor, r->group))
      sg_status_violation(ctx->st, f, "a role group: lead, general, neighbourhood or grid");
    else if (r->fixed > SG_QUOTA_WORKERS_MAX || r->per_grid > 100 || (!r->fixed && !r->per_grid))
      sg_status_violation(ctx->st, f, "a fixed count (at most %d) or a count per grid (at most 100)",
                          SG_QUOTA_WORKERS_MAX);
    for (size_t j = 0; j < k; j++)
      if (q->roles[j]->group == r->group) sg_status_violation(ctx->st, f, "this group again");
  }
  if (q->per_10k_residents > 10000)
    sg_status_violation(ctx->st, QF("per_10k_residents"), "at most 10000");
  for (size_t k = 0; k < q->n_centre_tiers && k < SG_QUOTA_PARTS_MAX; k++) {
    const Shegong__V1__CentreTier *t = q->centre_tiers[k];
    snprintf(f, sizeof f, "policy.quotas[%zu].centre_tiers[%zu]", i, k);
    if (!isfinite(t->min_area_km2) || t->min_area_km2 < 0 || t->workers > SG_QUOTA_WORKERS_MAX)
      sg_status_violation(ctx->st, f, "area at least 0, workers at most %d", SG_QUOTA_WORKERS_MAX);
  }
  if (sg_quota_scope(q) == SHEGONG__V1__QUOTA_SCOPE__WHOLE &&
      (q->unit_kind == SHEGONG__V1__UNIT_KIND__COMMUNITY ||
       q->unit_kind == SHEGONG__V1__UNIT_KIND__VILLAGE || strlen(q->unit_code) == 12))
    sg_status_violation(ctx->st, QF("scope"), "`whole` is for a town or the district");
  if (q->n_centre_tiers && q->unit_kind && q->unit_kind != SHEGONG__V1__UNIT_KIND__TOWN)
    sg_status_violation(ctx->st, QF("unit_kind"), "centre tiers are for towns");
  /* a rule per target: two for the same kind or unit would leave the answer to order */
  for (size_t j = 0; j < i; j++) {
    const Shegong__V1__QuotaRule *o = p->quotas[j];
    int same_scope = sg_quota_scope(o) == sg_quota_scope(q);
    if ((q->unit_kind && o->unit_kind == q->unit_kind && same_scope) ||
        (q->unit_code[0] && strcmp(o->unit_code, q->unit_code) == 0 && same_scope))
      sg_status_violation(ctx->st, QF("name"), "rule %s is for the same units already", o->name);
  }
#undef QF
}

/* Checks every section of p, naming each bad field as policy.section.field. */
static int validate_policy(sg_call_ctx *ctx, const Shegong__V1__Policy *p) {
  char why[SG_WHY_MAX];
  if (!p->name[0]) sg_status_violation(ctx->st, "policy.name", "required");
  else if (sg_validate_text(p->name, SG_POLICY_NAME_MAX, why, sizeof why))
    sg_status_violation(ctx->st, "policy.name", "%s", why);

  const Shegong__V1__AssessmentPolicy *a = p->assessment;
  if (!a) {
    sg_status_violation(ctx->st, "policy.assessment", "required");
  } else {
    if (a->superior_weight + (uint64_t)a->resident_weight != 100)
      sg_status_violation(ctx->st, "policy.assessment.resident_weight",
                          "the two weights sum to 100, not %llu",
                          (unsigned long long)a->superior_weight + a->resident_weight);
    check_band(ctx, "policy.assessment.excellent_min", a->excellent_min);
    check_band(ctx, "policy.assessment.qualified_min", a->qualified_min);
    check_band(ctx, "policy.assessment.basic_min", a->basic_min);
    if (!(a->excellent_min > a->qualified_min && a->qualified_min > a->basic_min))
      sg_status_violation(ctx->st, "policy.assessment.qualified_min",
                          "the bands go down: excellent_min > qualified_min > basic_min");
    if (a->visit_minimum > 5000)
      sg_status_violation(ctx->st, "policy.assessment.visit_minimum", "at most 5000 a year");
  }

  const Shegong__V1__TrainingPolicy *t = p->training;
  if (!t) {
    sg_status_violation(ctx->st, "policy.training", "required");
  } else {
    if (t->pre_service_grace_days > 366)
      sg_status_violation(ctx->st, "policy.training.pre_service_grace_days", "at most 366");
    if (t->promotion_grace_days > 366)
      sg_status_violation(ctx->st, "policy.training.promotion_grace_days", "at most 366");
    if (t->secretary_annual_hours > 2000)
      sg_status_violation(ctx->st, "policy.training.secretary_annual_hours", "at most 2000");
  }

  const Shegong__V1__PayLadder *l = p->ladder;
  if (l) {
    if (!l->name[0]) sg_status_violation(ctx->st, "policy.ladder.name", "required");
    else if (sg_validate_text(l->name, SG_POLICY_NAME_MAX, why, sizeof why))
      sg_status_violation(ctx->st, "policy.ladder.name", "%s", why);
    if (l->n_posts == 0 || l->n_posts > SG_LADDER_POSTS_MAX)
      sg_status_violation(ctx->st, "policy.ladder.posts", "1 to %d posts", SG_LADDER_POSTS_MAX);
    for (size_t i = 0; i < l->n_posts && i < SG_LADDER_POSTS_MAX; i++) {
      const Shegong__V1__PayPost *post = l->posts[i];
      char f[64];
      snprintf(f, sizeof f, "policy.ladder.posts[%zu].name", i);
      if (!post->name[0]) sg_status_violation(ctx->st, f, "required");
      else if (sg_validate_text(post->name, 64, why, sizeof why))
        sg_status_violation(ctx->st, f, "%s", why);
      for (size_t k = 0; k < i; k++)
        if (strcmp(l->posts[k]->name, post->name) == 0)
          sg_status_violation(ctx->st, f, "post %s is listed twice", post->name);
      snprintf(f, sizeof f, "policy.ladder.posts[%zu].max_level", i);
      if (post->min_level < 1 || post->max_level > SG_LEVEL_TOP || post->min_level > post->max_level)
        sg_status_violation(ctx->st, f, "levels run 1 <= min_level <= max_level <= %d",
                            SG_LEVEL_TOP);
    }
    if (l->periodic_step_years > 20)
      sg_status_violation(ctx->st, "policy.ladder.periodic_step_years", "at most 20");
    if (l->early_step_excellent_years > 10)
      sg_status_violation(ctx->st, "policy.ladder.early_step_excellent_years", "at most 10");
  }
  for (size_t i = 0; i < p->n_quotas && i < SG_QUOTA_RULES_MAX; i++) validate_quota(ctx, p, i);
  if (p->n_quotas > SG_QUOTA_RULES_MAX)
    sg_status_violation(ctx->st, "policy.quotas", "at most %d rules", SG_QUOTA_RULES_MAX);
  const Shegong__V1__HiringPolicy *h = p->hiring;
  if (h) {
    if (h->max_age && (h->max_age < 18 || h->max_age > 65))
      sg_status_violation(ctx->st, "policy.hiring.max_age", "18 to 65, or 0 for no limit");
    if (!sg_enum_valid(&shegong__v1__education__descriptor, h->min_education))
      sg_status_violation(ctx->st, "policy.hiring.min_education", "unknown education %d",
                          (int)h->min_education);
  }
  return ctx->st->n_violations ? SG_EINVAL : 0;
}

static int policy_get(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                      ProtobufCMessage **resp) {
  const Shegong__V1__GetPolicyRequest *req = (const void *)req_msg;
  Shegong__V1__Policy *p;
  int rc;
  if (req->version) {
    rc = sg_rec_get(ctx->store, txn, SG_REC_POLICY, req->version, &ctx->arena->allocator,
                    (ProtobufCMessage **)&p);
    if (rc == SG_ENOTFOUND)
      return sg_status_set(ctx->st, rc, "no policy version %llu", (unsigned long long)req->version);
  } else {
    rc = sg_policy_current(ctx->store, txn, &ctx->arena->allocator, &p);
  }
  if (rc) return rc;
  *resp = &p->base;
  return 0;
}

static int policy_set(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req_msg,
                      ProtobufCMessage **resp) {
  const Shegong__V1__SetPolicyRequest *req = (const void *)req_msg;
  if (!req->policy) {
    sg_status_violation(ctx->st, "policy", "required");
    return SG_EINVAL;
  }
  int rc = validate_policy(ctx, req->policy);
  if (rc) return rc;
  Shegong__V1__Policy *cur;
  if ((rc = sg_policy_current(ctx->store, txn, &ctx->arena->allocator, &cur))) return rc;
  if (req->expected_version != cur->version)
    return sg_status_set(ctx->st, SG_ECONFLICT,
                         "the policy is at version %llu, not %llu: read it again",
                         (unsigned long long)cur->version,
                         (unsigned long long)req->expected_version);
  Shegong__V1__Policy *p = sg_arena_alloc(ctx->arena, sizeof *p);
  if (!p) return SG_ENOMEM;
  *p = *req->policy;
  p->version = cur->version + 1;
  if ((rc = sg_store_next_revision(ctx->store, txn, &p->revision))) return rc;
  p->updated_at = sg_dup(ctx, ctx->now);
  p->updated_by = ctx->principal ? sg_arena_printf(ctx->arena, "token %llu",
                                                   (unsigned long long)ctx->principal->token_id)
                                 : sg_dup(ctx, ctx->peer);
  if (!p->updated_by) return SG_ENOMEM;
  if ((rc = sg_rec_put(ctx->store, txn, SG_REC_POLICY, &p->base))) return rc;
  sg_towns district = {0};
  if ((rc = sg_log_change(ctx, txn, SHEGONG__V1__ENTITY__ENTITY_POLICY,
                          SHEGONG__V1__CHANGE_OP__CHANGE_CREATE, p->revision, &p->base, &district)))
    return rc;
  *resp = &p->base;
  return 0;
}

const sg_method_impl sg_svc_policies[] = {
    {"/shegong.v1.Policies/Get", SG_METHOD_READ, policy_get},
    {"/shegong.v1.Policies/Set", SG_METHOD_WRITE, policy_set},
    {NULL, 0, NULL},
};
