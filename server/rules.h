/*
 * The district's rules as functions of stored facts: score combination and
 * grading under the policy, and the two pay-step rules. Pure: no storage,
 * no clock, so that each rule is tested on hand-made histories
 * (tests/test_rules.c) and the handlers only gather the facts.
 */
#ifndef SG_RULES_H
#define SG_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "shegong/v1/assessments.pb-c.h"
#include "shegong/v1/policy.pb-c.h"
#include "shegong/v1/workers.pb-c.h"
#include "validate.h"

/* superior × w_s% + resident × w_r%, rounded half away from zero to 2 decimals. */
double sg_rule_combine(const Shegong__V1__AssessmentPolicy *p, double superior, double resident);

/* The best grade a combined score allows under the policy's bands. */
int sg_rule_grade(const Shegong__V1__AssessmentPolicy *p, double combined);

/* Grades rank 优秀 < 合格 < 基本合格 < 不合格 by enum value: "lower is better". */
static inline int sg_grade_better(int a, int b) { return a < b; }

/* The ladder's post called name, or NULL; *rank is its place (0: highest). */
const Shegong__V1__PayPost *sg_ladder_post(const Shegong__V1__PayLadder *l, const char *name,
                                            size_t *rank);

/* A year-end result, as the step rules read it. */
typedef struct sg_year_result {
  uint32_t year;
  int grade;
  double score;
} sg_year_result;

/* What the step rules need to know of one worker. */
typedef struct sg_step_facts {
  const char *post;
  uint32_t level;
  const char *hire_date;
  int left;
  const sg_year_result *year_end; /* any order */
  size_t n_year_end;
  Shegong__V1__LevelChange *const *changes; /* the level history, any order */
  size_t n_changes;
} sg_step_facts;

/*
 * 连续两年优秀 提前升一级: eligible (1) when the ladder gives early steps,
 * the worker is in a post of the ladder below its top level, has not left,
 * and the year-end results of the N years ending with last_year are all
 * 优秀 (N = early_step_excellent_years); those years must all come after
 * the previous early step (a step effective in year Y used the years
 * before Y). *first_year is the streak's first year. 0 otherwise.
 */
int sg_rule_early_step(const Shegong__V1__PayLadder *l, const sg_step_facts *f,
                       uint32_t last_year, uint32_t *first_year);

/*
 * One step every P years (崇川: 4): eligible when the ladder has periodic
 * steps, the worker is below the post's top level, has not left, and has
 * been at the current level for P full years on as_of. The level dates
 * from the latest change that took effect on or before as_of, or from the
 * hire date. *since and *years say so.
 */
int sg_rule_periodic_step(const Shegong__V1__PayLadder *l, const sg_step_facts *f,
                          const sg_date *as_of, sg_date *since, int *years);

#endif
