#include "rules.h"

#include <math.h>
#include <string.h>

double sg_rule_combine(const Shegong__V1__AssessmentPolicy *p, double superior, double resident) {
  /* in integers: scores in hundredths times percent weights, so that
   * 85.55 × 70% does not round the wrong way through binary fractions */
  long v = lround(superior * 100) * (long)p->superior_weight +
           lround(resident * 100) * (long)p->resident_weight;
  return (double)((v + 50) / 100) / 100.0;
}

int sg_rule_grade(const Shegong__V1__AssessmentPolicy *p, double combined) {
  /* the bands are compared in hundredths, as scores are stored */
  long c = lround(combined * 100), e = lround(p->excellent_min * 100),
       q = lround(p->qualified_min * 100), b = lround(p->basic_min * 100);
  if (c >= e) return SHEGONG__V1__GRADE__EXCELLENT;
  if (c >= q) return SHEGONG__V1__GRADE__QUALIFIED;
  if (c >= b) return SHEGONG__V1__GRADE__BASICALLY_QUALIFIED;
  return SHEGONG__V1__GRADE__UNQUALIFIED;
}

const Shegong__V1__PayPost *sg_ladder_post(const Shegong__V1__PayLadder *l, const char *name,
                                            size_t *rank) {
  if (!l || !name) return NULL;
  for (size_t i = 0; i < l->n_posts; i++)
    if (strcmp(l->posts[i]->name, name) == 0) {
      if (rank) *rank = i;
      return l->posts[i];
    }
  return NULL;
}

/* Below the top of a post of the ladder, and still working. */
static int can_step(const Shegong__V1__PayLadder *l, const sg_step_facts *f) {
  if (f->left) return 0;
  const Shegong__V1__PayPost *p = sg_ladder_post(l, f->post, NULL);
  return p && f->level >= p->min_level && f->level < p->max_level;
}

static const sg_year_result *year_end_of(const sg_step_facts *f, uint32_t year) {
  for (size_t i = 0; i < f->n_year_end; i++)
    if (f->year_end[i].year == year) return &f->year_end[i];
  return NULL;
}

int sg_rule_early_step(const Shegong__V1__PayLadder *l, const sg_step_facts *f,
                       uint32_t last_year, uint32_t *first_year) {
  if (!l || l->early_step_excellent_years == 0 || !can_step(l, f)) return 0;
  uint32_t n = l->early_step_excellent_years;
  if (last_year < n) return 0;
  uint32_t first = last_year - n + 1;
  /* the years an earlier early step used are spent */
  for (size_t i = 0; i < f->n_changes; i++) {
    const Shegong__V1__LevelChange *c = f->changes[i];
    sg_date d;
    if (c->kind == SHEGONG__V1__LEVEL_CHANGE_KIND__EARLY_STEP &&
        sg_validate_date(c->effective_date, &d, NULL, 0) == 0 && (uint32_t)d.year > first)
      return 0;
  }
  for (uint32_t y = first; y <= last_year; y++) {
    const sg_year_result *r = year_end_of(f, y);
    if (!r || r->grade != SHEGONG__V1__GRADE__EXCELLENT) return 0;
  }
  *first_year = first;
  return 1;
}

int sg_rule_periodic_step(const Shegong__V1__PayLadder *l, const sg_step_facts *f,
                          const sg_date *as_of, sg_date *since, int *years) {
  if (!l || l->periodic_step_years == 0 || !can_step(l, f)) return 0;
  if (sg_validate_date(f->hire_date, since, NULL, 0)) return 0;
  for (size_t i = 0; i < f->n_changes; i++) {
    const Shegong__V1__LevelChange *c = f->changes[i];
    sg_date d;
    if (sg_validate_date(c->effective_date, &d, NULL, 0) == 0 && sg_date_cmp(&d, as_of) <= 0 &&
        sg_date_cmp(&d, since) > 0)
      *since = d;
  }
  *years = sg_date_years_between(since, as_of);
  return *years >= (int)l->periodic_step_years;
}
