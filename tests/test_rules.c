/* The district's rules on hand-made histories: server/rules.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "rules.h"

#define EX SHEGONG__V1__GRADE__EXCELLENT
#define OK SHEGONG__V1__GRADE__QUALIFIED
#define BASIC SHEGONG__V1__GRADE__BASICALLY_QUALIFIED
#define FAIL SHEGONG__V1__GRADE__UNQUALIFIED

static Shegong__V1__AssessmentPolicy pol(uint32_t ws, double e, double q, double b) {
  Shegong__V1__AssessmentPolicy p = SHEGONG__V1__ASSESSMENT_POLICY__INIT;
  p.superior_weight = ws;
  p.resident_weight = 100 - ws;
  p.excellent_min = e;
  p.qualified_min = q;
  p.basic_min = b;
  p.visit_minimum = 200;
  return p;
}

static void test_combine(void **state) {
  (void)state;
  Shegong__V1__AssessmentPolicy p = pol(70, 90, 75, 60);
  assert_float_equal(sg_rule_combine(&p, 85, 92), 87.10, 1e-9);
  assert_float_equal(sg_rule_combine(&p, 100, 100), 100.0, 1e-9);
  assert_float_equal(sg_rule_combine(&p, 0, 0), 0.0, 1e-9);
  /* 85.55 × 0.7 + 90.05 × 0.3 = 59.885 + 27.015 = 86.90 exactly, in hundredths */
  assert_float_equal(sg_rule_combine(&p, 85.55, 90.05), 86.90, 1e-9);
  /* half a hundredth rounds up: 80.01 × 0.5 + 80.00 × 0.5 = 80.005 → 80.01 */
  Shegong__V1__AssessmentPolicy half = pol(50, 90, 75, 60);
  assert_float_equal(sg_rule_combine(&half, 80.01, 80.00), 80.01, 1e-9);
  /* the weights are policy: all on the superior */
  Shegong__V1__AssessmentPolicy sup = pol(100, 90, 75, 60);
  assert_float_equal(sg_rule_combine(&sup, 77.5, 10), 77.5, 1e-9);
}

static void test_grade_bands(void **state) {
  (void)state;
  Shegong__V1__AssessmentPolicy p = pol(70, 90, 75, 60);
  assert_int_equal(sg_rule_grade(&p, 100), EX);
  assert_int_equal(sg_rule_grade(&p, 90), EX);        /* the band's edge is in */
  assert_int_equal(sg_rule_grade(&p, 89.99), OK);
  assert_int_equal(sg_rule_grade(&p, 75), OK);
  assert_int_equal(sg_rule_grade(&p, 74.99), BASIC);
  assert_int_equal(sg_rule_grade(&p, 60), BASIC);
  assert_int_equal(sg_rule_grade(&p, 59.99), FAIL);
  assert_int_equal(sg_rule_grade(&p, 0), FAIL);
  assert_true(sg_grade_better(EX, OK));
  assert_false(sg_grade_better(BASIC, OK));
}

/* 崇川-like ladder: A..D, 1..12, a step every 4 years, early step after 2 优秀 */
static Shegong__V1__PayPost posts[4];
static Shegong__V1__PayPost *post_ptrs[4];
static Shegong__V1__PayLadder ladder;

static int setup_ladder(void **state) {
  (void)state;
  static char names[4][2] = {"A", "B", "C", "D"};
  for (int i = 0; i < 4; i++) {
    shegong__v1__pay_post__init(&posts[i]);
    posts[i].name = names[i];
    posts[i].min_level = 1;
    posts[i].max_level = 12;
    post_ptrs[i] = &posts[i];
  }
  shegong__v1__pay_ladder__init(&ladder);
  ladder.name = "四岗十二档";
  ladder.posts = post_ptrs;
  ladder.n_posts = 4;
  ladder.periodic_step_years = 4;
  ladder.early_step_excellent_years = 2;
  return 0;
}

static sg_step_facts facts(const char *post, uint32_t level, const sg_year_result *y, size_t n) {
  sg_step_facts f = {post, level, "2015-03-01", 0, y, n, NULL, 0};
  return f;
}

static void test_early_step(void **state) {
  (void)state;
  uint32_t first = 0;
  sg_year_result two_ex[] = {{2023, OK, 80}, {2024, EX, 92}, {2025, EX, 93.5}};
  sg_step_facts f = facts("C", 5, two_ex, 3);
  assert_int_equal(sg_rule_early_step(&ladder, &f, 2025, &first), 1);
  assert_int_equal(first, 2024);
  /* a 合格 year breaks the streak */
  assert_int_equal(sg_rule_early_step(&ladder, &f, 2024, &first), 0);
  sg_year_result broken[] = {{2024, EX, 92}, {2025, OK, 88}};
  f = facts("C", 5, broken, 2);
  assert_int_equal(sg_rule_early_step(&ladder, &f, 2025, &first), 0);
  /* a year with no result is no 优秀 */
  sg_year_result gap[] = {{2023, EX, 92}, {2025, EX, 93}};
  f = facts("C", 5, gap, 2);
  assert_int_equal(sg_rule_early_step(&ladder, &f, 2025, &first), 0);
  /* the top of the post: no step within it */
  f = facts("C", 12, two_ex, 3);
  assert_int_equal(sg_rule_early_step(&ladder, &f, 2025, &first), 0);
  f = facts("C", 11, two_ex, 3);
  assert_int_equal(sg_rule_early_step(&ladder, &f, 2025, &first), 1);
  /* a leaver */
  f = facts("C", 5, two_ex, 3);
  f.left = 1;
  assert_int_equal(sg_rule_early_step(&ladder, &f, 2025, &first), 0);
  /* a post the ladder does not know */
  f = facts("主管", 5, two_ex, 3);
  assert_int_equal(sg_rule_early_step(&ladder, &f, 2025, &first), 0);
  /* no early steps in this district */
  Shegong__V1__PayLadder none = ladder;
  none.early_step_excellent_years = 0;
  f = facts("C", 5, two_ex, 3);
  assert_int_equal(sg_rule_early_step(&none, &f, 2025, &first), 0);
  /* three years wanted */
  Shegong__V1__PayLadder three = ladder;
  three.early_step_excellent_years = 3;
  assert_int_equal(sg_rule_early_step(&three, &f, 2025, &first), 0);
  sg_year_result three_ex[] = {{2023, EX, 91}, {2024, EX, 92}, {2025, EX, 93.5}};
  f = facts("C", 5, three_ex, 3);
  assert_int_equal(sg_rule_early_step(&three, &f, 2025, &first), 1);
  assert_int_equal(first, 2023);
}

static void test_early_step_spent_years(void **state) {
  (void)state;
  uint32_t first = 0;
  sg_year_result ex[] = {{2023, EX, 91}, {2024, EX, 92}, {2025, EX, 93}, {2026, EX, 94}};
  Shegong__V1__LevelChange step = SHEGONG__V1__LEVEL_CHANGE__INIT;
  step.kind = SHEGONG__V1__LEVEL_CHANGE_KIND__EARLY_STEP;
  step.effective_date = "2025-03-01"; /* used 2023 and 2024 */
  Shegong__V1__LevelChange *changes[] = {&step};
  sg_step_facts f = facts("C", 6, ex, 4);
  f.changes = changes;
  f.n_changes = 1;
  /* 2024 + 2025: 2024 was spent */
  assert_int_equal(sg_rule_early_step(&ladder, &f, 2025, &first), 0);
  /* 2025 + 2026: fresh */
  assert_int_equal(sg_rule_early_step(&ladder, &f, 2026, &first), 1);
  assert_int_equal(first, 2025);
  /* a periodic step does not spend 优秀 years */
  step.kind = SHEGONG__V1__LEVEL_CHANGE_KIND__PERIODIC_STEP;
  assert_int_equal(sg_rule_early_step(&ladder, &f, 2025, &first), 1);
}

static void test_periodic_step(void **state) {
  (void)state;
  sg_date as_of = {2026, 11, 25}, since;
  int years = 0;
  sg_step_facts f = facts("D", 3, NULL, 0);
  f.hire_date = "2022-11-25"; /* four years to the day */
  assert_int_equal(sg_rule_periodic_step(&ladder, &f, &as_of, &since, &years), 1);
  assert_int_equal(years, 4);
  assert_int_equal(since.year, 2022);
  f.hire_date = "2022-11-26"; /* one day short */
  assert_int_equal(sg_rule_periodic_step(&ladder, &f, &as_of, &since, &years), 0);
  assert_int_equal(years, 3);
  /* the latest change restarts the count; one after as_of does not count */
  Shegong__V1__LevelChange a = SHEGONG__V1__LEVEL_CHANGE__INIT, b = SHEGONG__V1__LEVEL_CHANGE__INIT,
                           later = SHEGONG__V1__LEVEL_CHANGE__INIT;
  a.effective_date = "2019-01-01";
  b.effective_date = "2023-06-01";
  later.effective_date = "2027-01-01";
  Shegong__V1__LevelChange *changes[] = {&b, &later, &a};
  f.hire_date = "2010-01-01";
  f.changes = changes;
  f.n_changes = 3;
  assert_int_equal(sg_rule_periodic_step(&ladder, &f, &as_of, &since, &years), 0);
  assert_int_equal(since.year, 2023);
  assert_int_equal(since.month, 6);
  sg_date later_day = {2027, 6, 1};
  /* on 2027-06-01 the 2027-01-01 change restarted it */
  assert_int_equal(sg_rule_periodic_step(&ladder, &f, &later_day, &since, &years), 0);
  assert_int_equal(since.year, 2027);
  sg_date far = {2031, 1, 1};
  assert_int_equal(sg_rule_periodic_step(&ladder, &f, &far, &since, &years), 1);
  assert_int_equal(years, 4);
  /* top of the post, leaver, a ladder without periodic steps */
  f.level = 12;
  assert_int_equal(sg_rule_periodic_step(&ladder, &f, &far, &since, &years), 0);
  f.level = 3;
  f.left = 1;
  assert_int_equal(sg_rule_periodic_step(&ladder, &f, &far, &since, &years), 0);
  f.left = 0;
  Shegong__V1__PayLadder none = ladder;
  none.periodic_step_years = 0;
  assert_int_equal(sg_rule_periodic_step(&none, &f, &far, &since, &years), 0);
  /* no ladder at all */
  assert_int_equal(sg_rule_periodic_step(NULL, &f, &far, &since, &years), 0);
}

static void test_ladder_post(void **state) {
  (void)state;
  size_t rank = 99;
  assert_non_null(sg_ladder_post(&ladder, "A", &rank));
  assert_int_equal(rank, 0);
  assert_non_null(sg_ladder_post(&ladder, "D", &rank));
  assert_int_equal(rank, 3);
  assert_null(sg_ladder_post(&ladder, "E", &rank));
  assert_null(sg_ladder_post(NULL, "A", &rank));
}

static void test_date_days(void **state) {
  (void)state;
  sg_date d = {1970, 1, 1}, back;
  assert_int_equal(sg_date_days(&d), 0);
  d = (sg_date){2000, 3, 1};
  assert_int_equal(sg_date_days(&d), 11017);
  for (long z = -800000; z < 200000; z += 97) {
    sg_date_from_days(z, &back);
    assert_int_equal(sg_date_days(&back), z);
  }
  d = (sg_date){2024, 2, 28};
  sg_date_from_days(sg_date_days(&d) + 1, &back);
  assert_int_equal(back.month, 2);
  assert_int_equal(back.day, 29);
  char s[11];
  sg_date_format(&back, s, sizeof s);
  assert_string_equal(s, "2024-02-29");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_combine),
      cmocka_unit_test(test_grade_bands),
      cmocka_unit_test_setup(test_early_step, setup_ladder),
      cmocka_unit_test_setup(test_early_step_spent_years, setup_ladder),
      cmocka_unit_test_setup(test_periodic_step, setup_ladder),
      cmocka_unit_test_setup(test_ladder_post, setup_ladder),
      cmocka_unit_test(test_date_days),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
