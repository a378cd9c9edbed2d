#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "validate.h"

/*
 * The helpers take the caller's line so that a failure points at the table
 * entry that broke, not at the helper.
 */
static void reason_has(int line, const char *input, const char *why, const char *needle) {
  if (!strstr(why, needle))
    fail_msg("line %d: \"%s\": reason \"%s\" lacks \"%s\"", line, input, why, needle);
}

static void idno_ok_at(int line, const char *s) {
  char why[SG_WHY_MAX] = "stale";
  int rc = sg_validate_idno(s, NULL, NULL, NULL, NULL, why, sizeof why);
  if (rc != 0) fail_msg("line %d: \"%s\" rejected: %s", line, s, why);
  if (why[0] != '\0') fail_msg("line %d: reason not cleared on success: %s", line, why);
}

static void idno_bad_at(int line, const char *s, const sg_date *today, const char *needle) {
  char why[SG_WHY_MAX] = "";
  int rc = sg_validate_idno(s, today, NULL, NULL, NULL, why, sizeof why);
  if (rc != SG_EINVAL)
    fail_msg("line %d: \"%s\" gave %d, want SG_EINVAL", line, s ? s : "(null)", rc);
  reason_has(line, s ? s : "(null)", why, needle);
}

#define IDNO_OK(s) idno_ok_at(__LINE__, (s))
#define IDNO_BAD(s, today, needle) idno_bad_at(__LINE__, (s), (today), (needle))

/* Builds an 18-character ID around the given 17 digits with the right check character. */
static void make_idno(char out[19], const char *first17) {
  memcpy(out, first17, 17);
  out[17] = sg_idno_check_char(first17);
  out[18] = '\0';
  assert_int_not_equal(out[17], '?');
}

/* ---- resident ID ------------------------------------------------------- */

static void test_idno_check_char_known(void **state) {
  (void)state;
  /* Checked by hand: sum 226 mod 11 = 6 -> '6'; the standard's own example gives X. */
  assert_int_equal(sg_idno_check_char("32060219900307123"), '6');
  assert_int_equal(sg_idno_check_char("11010519491231002"), 'X');
  assert_int_equal(sg_idno_check_char("44030419850101001"), '3');
  assert_int_equal(sg_idno_check_char("00000000000000000"), '1');
  /* Non-digits and short input have no check character. */
  assert_int_equal(sg_idno_check_char("3206021990030712"), '?');
  assert_int_equal(sg_idno_check_char("3206021990030712X"), '?');
  assert_int_equal(sg_idno_check_char(""), '?');
  assert_int_equal(sg_idno_check_char(NULL), '?');
}

static void test_idno_valid_hardcoded(void **state) {
  (void)state;
  /* Check characters computed with a separate script and the first by hand. */
  static const char *const good[] = {
      "11010519491231002X", "320602199003071236", "440304198501010013",
      "510107200002290029", "650102197811203313", "810000199506150041",
      "441900198808085560", "23010619610301045X", "620200200101010113",
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) IDNO_OK(good[i]);

  char norm[19] = "";
  sg_date birth = {0, 0, 0};
  int female = -1;
  assert_int_equal(sg_validate_idno("320602199003071236", NULL, norm, &birth, &female, NULL, 0), 0);
  assert_string_equal(norm, "320602199003071236");
  assert_int_equal(birth.year, 1990);
  assert_int_equal(birth.month, 3);
  assert_int_equal(birth.day, 7);
  assert_int_equal(female, 0);
}

static void test_idno_generated(void **state) {
  (void)state;
  static const char *const first17[] = {
      "11010119000101001", "15010220991231002", "21010319800615003", "37020219761010004",
      "46010519880808005", "54010220050505006", "71000019700101007", "82000020101010008",
  };
  for (size_t i = 0; i < sizeof first17 / sizeof first17[0]; i++) {
    char id[19];
    make_idno(id, first17[i]);
    IDNO_OK(id);
  }
}

static void test_idno_wrong_check_digit(void **state) {
  (void)state;
  static const char alphabet[] = "0123456789X";
  char id[19] = "320602199003071236";
  for (const char *c = alphabet; *c; c++) {
    id[17] = *c;
    if (*c == '6')
      IDNO_OK(id);
    else
      IDNO_BAD(id, NULL, "check digit should be 6");
  }
  IDNO_BAD("110105194912310021", NULL, "check digit should be X");
  IDNO_BAD("11010519491231002Y", NULL, "last character must be a digit or X");
}

static void test_idno_length(void **state) {
  (void)state;
  IDNO_BAD("32060219900307123", NULL, "must be 18 characters");
  IDNO_BAD("3206021990030712360", NULL, "must be 18 characters");
  IDNO_BAD("320602900307123", NULL, "must be 18 characters"); /* the old 15-digit form */
  IDNO_BAD("", NULL, "must be 18 characters");
  IDNO_BAD(NULL, NULL, "must be 18 characters");
  /* 18 bytes, but not 18 ASCII characters. */
  IDNO_BAD("３２０６０２", NULL, "character 1 must be a digit");
}

static void test_idno_bad_characters(void **state) {
  (void)state;
  IDNO_BAD("320602A99003071236", NULL, "character 7 must be a digit");
  IDNO_BAD("3206021990-3071236", NULL, "character 11 must be a digit");
  IDNO_BAD("32060219900307 236", NULL, "character 15 must be a digit");
  IDNO_BAD("3206021990030712X6", NULL, "X may only be the last character, found at position 17");
  IDNO_BAD("32060x199003071236", NULL, "X may only be the last character, found at position 6");
}

static void test_idno_birth_dates(void **state) {
  (void)state;
  char id[19];
  make_idno(id, "51010720000229002"); /* 2000 is a leap year */
  IDNO_OK(id);
  make_idno(id, "51010720240229002");
  IDNO_OK(id);
  make_idno(id, "51010720230229002");
  IDNO_BAD(id, NULL, "birth date 20230229 is not a real date");
  make_idno(id, "51010719000229002"); /* 1900 is not */
  IDNO_BAD(id, NULL, "birth date 19000229 is not a real date");
  make_idno(id, "32060219900230123");
  IDNO_BAD(id, NULL, "birth date 19900230 is not a real date");
  make_idno(id, "32060219901301123");
  IDNO_BAD(id, NULL, "birth date 19901301 is not a real date");
  make_idno(id, "32060219900100123");
  IDNO_BAD(id, NULL, "birth date 19900100 is not a real date");
  make_idno(id, "32060219900431123");
  IDNO_BAD(id, NULL, "birth date 19900431 is not a real date");
  make_idno(id, "32060218991231123");
  IDNO_BAD(id, NULL, "birth year 1899 is before 1900");
}

static void test_idno_future_birth(void **state) {
  (void)state;
  const sg_date today = {2026, 11, 25};
  char id[19];
  make_idno(id, "32060220261125123"); /* born today */
  assert_int_equal(sg_validate_idno(id, &today, NULL, NULL, NULL, NULL, 0), 0);
  make_idno(id, "32060220261126123");
  IDNO_BAD(id, &today, "birth date 20261126 is in the future");
  IDNO_OK(id); /* no today, no future check */
  make_idno(id, "32060220270101123");
  IDNO_BAD(id, &today, "birth date 20270101 is in the future");
}

static void test_idno_province(void **state) {
  (void)state;
  static const char *const bad[] = {"99", "00", "10", "16", "20", "24", "30", "38",
                                    "40", "47", "49", "55", "60", "66", "70", "72",
                                    "80", "83", "90"};
  static const char *const good[] = {"11", "15", "21", "23", "31", "37", "41", "46",
                                     "50", "54", "61", "65", "71", "81", "82"};
  char first17[18] = "xx060219900307123";
  char id[19];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char want[64];
    memcpy(first17, bad[i], 2);
    make_idno(id, first17);
    snprintf(want, sizeof want, "unknown province code %s", bad[i]);
    IDNO_BAD(id, NULL, want);
  }
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    memcpy(first17, good[i], 2);
    make_idno(id, first17);
    IDNO_OK(id);
  }
}

static void test_idno_lowercase_x(void **state) {
  (void)state;
  char norm[19] = "";
  assert_int_equal(sg_validate_idno("11010519491231002x", NULL, norm, NULL, NULL, NULL, 0), 0);
  assert_string_equal(norm, "11010519491231002X");
  assert_int_equal(sg_validate_idno("23010619610301045x", NULL, norm, NULL, NULL, NULL, 0), 0);
  assert_string_equal(norm, "23010619610301045X");
  /* Lower case is no excuse for a wrong check character. */
  IDNO_BAD("32060219900307123x", NULL, "check digit should be 6");
}

static void test_idno_gender(void **state) {
  (void)state;
  int female = -1;
  assert_int_equal(sg_validate_idno("11010519491231002X", NULL, NULL, NULL, &female, NULL, 0), 0);
  assert_int_equal(female, 1); /* sequence 002 */
  assert_int_equal(sg_validate_idno("320602199003071236", NULL, NULL, NULL, &female, NULL, 0), 0);
  assert_int_equal(female, 0); /* sequence 123 */
  char first17[18] = "32060219900307120";
  char id[19];
  for (int d = 0; d <= 9; d++) {
    first17[16] = (char)('0' + d);
    make_idno(id, first17);
    female = -1;
    assert_int_equal(sg_validate_idno(id, NULL, NULL, NULL, &female, NULL, 0), 0);
    assert_int_equal(female, d % 2 == 0);
  }
}

static void test_idno_outputs_and_why_buffer(void **state) {
  (void)state;
  sg_date birth = {1, 2, 3};
  char why[8];
  memset(why, 'z', sizeof why);
  assert_int_equal(sg_validate_idno("32060219900307123", NULL, NULL, &birth, NULL, why, sizeof why),
                   SG_EINVAL);
  assert_string_equal(why, "must be"); /* truncated, still terminated */
  assert_int_equal(birth.year, 1);     /* untouched on failure */
  why[0] = 'q';
  assert_int_equal(sg_validate_idno("bad", NULL, NULL, NULL, NULL, why, 0), SG_EINVAL);
  assert_int_equal(why[0], 'q');
}

/* ---- dates ------------------------------------------------------------- */

static void test_date_valid(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int y, m, d;
  } good[] = {
      {"1900-01-01", 1900, 1, 1}, {"2199-12-31", 2199, 12, 31}, {"2000-02-29", 2000, 2, 29},
      {"2024-02-29", 2024, 2, 29}, {"2023-02-28", 2023, 2, 28}, {"2023-04-30", 2023, 4, 30},
      {"1999-12-31", 1999, 12, 31}, {"2196-02-29", 2196, 2, 29},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    sg_date d = {0, 0, 0};
    char why[SG_WHY_MAX] = "stale";
    if (sg_validate_date(good[i].s, &d, why, sizeof why) != 0)
      fail_msg("%s rejected: %s", good[i].s, why);
    assert_string_equal(why, "");
    assert_int_equal(d.year, good[i].y);
    assert_int_equal(d.month, good[i].m);
    assert_int_equal(d.day, good[i].d);
  }
  assert_int_equal(sg_validate_date("2024-02-29", NULL, NULL, 0), 0);
}

static void test_date_invalid(void **state) {
  (void)state;
  static const struct {
    const char *s, *why;
  } bad[] = {
      {"1900-02-29", "1900-02-29 is not a real date"},
      {"2100-02-29", "2100-02-29 is not a real date"},
      {"2023-02-29", "2023-02-29 is not a real date"},
      {"2023-04-31", "2023-04-31 is not a real date"},
      {"2023-01-32", "not a real date"},
      {"2023-01-00", "not a real date"},
      {"2023-13-01", "month 13 is not 01-12"},
      {"2023-00-10", "month 00 is not 01-12"},
      {"1899-12-31", "year 1899 is outside 1900-2199"},
      {"2200-01-01", "year 2200 is outside 1900-2199"},
      {"0000-01-01", "year 0 is outside"},
      {"2023-1-01", "must be a date YYYY-MM-DD"},
      {"2023-01-1", "must be a date YYYY-MM-DD"},
      {"2023/01/01", "must be a date YYYY-MM-DD"},
      {"20230101", "must be a date YYYY-MM-DD"},
      {"2023-01-011", "must be a date YYYY-MM-DD"},
      {" 2023-01-01", "must be a date YYYY-MM-DD"},
      {"2023-01-0a", "must be a date YYYY-MM-DD"},
      {"+023-01-01", "must be a date YYYY-MM-DD"},
      {"2023-01-01T00:00:00Z", "must be a date YYYY-MM-DD"},
      {"", "must be a date YYYY-MM-DD"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    sg_date d = {7, 7, 7};
    char why[SG_WHY_MAX] = "";
    assert_int_equal(sg_validate_date(bad[i].s, &d, why, sizeof why), SG_EINVAL);
    reason_has(__LINE__, bad[i].s, why, bad[i].why);
    assert_int_equal(d.year, 7);
  }
  assert_int_equal(sg_validate_date(NULL, NULL, NULL, 0), SG_EINVAL);
}

static void test_date_cmp(void **state) {
  (void)state;
  const sg_date a = {2000, 2, 29}, b = {2000, 3, 1}, c = {2001, 1, 1}, d = {2000, 2, 28};
  assert_int_equal(sg_date_cmp(&a, &a), 0);
  assert_true(sg_date_cmp(&a, &b) < 0);
  assert_true(sg_date_cmp(&b, &a) > 0);
  assert_true(sg_date_cmp(&b, &c) < 0);
  assert_true(sg_date_cmp(&c, &a) > 0);
  assert_true(sg_date_cmp(&d, &a) < 0);
}

static void test_years_between(void **state) {
  (void)state;
  const sg_date birth = {1990, 3, 7};
  const sg_date before = {2024, 3, 6}, on = {2024, 3, 7}, after = {2024, 12, 31};
  assert_int_equal(sg_date_years_between(&birth, &before), 33);
  assert_int_equal(sg_date_years_between(&birth, &on), 34);
  assert_int_equal(sg_date_years_between(&birth, &after), 34);
  assert_int_equal(sg_date_years_between(&birth, &birth), 0);

  /* Born on Feb 29: in common years the birthday is Mar 1. */
  const sg_date leapling = {2000, 2, 29};
  const sg_date feb28_23 = {2023, 2, 28}, mar1_23 = {2023, 3, 1};
  const sg_date feb28_24 = {2024, 2, 28}, feb29_24 = {2024, 2, 29};
  const sg_date feb28_01 = {2001, 2, 28}, mar1_01 = {2001, 3, 1};
  assert_int_equal(sg_date_years_between(&leapling, &feb28_23), 22);
  assert_int_equal(sg_date_years_between(&leapling, &mar1_23), 23);
  assert_int_equal(sg_date_years_between(&leapling, &feb28_24), 23);
  assert_int_equal(sg_date_years_between(&leapling, &feb29_24), 24);
  assert_int_equal(sg_date_years_between(&leapling, &feb28_01), 0);
  assert_int_equal(sg_date_years_between(&leapling, &mar1_01), 1);

  /* Turning 18 on the day, not the day after. */
  const sg_date teen = {2008, 11, 25}, today = {2026, 11, 25}, eve = {2026, 11, 24};
  assert_int_equal(sg_date_years_between(&teen, &today), 18);
  assert_int_equal(sg_date_years_between(&teen, &eve), 17);

  /* A date before birth never yields a positive age. */
  const sg_date earlier = {1989, 6, 1}, much_earlier = {1980, 3, 7};
  assert_int_equal(sg_date_years_between(&birth, &earlier), 0);
  assert_int_equal(sg_date_years_between(&birth, &much_earlier), -10);
}

/* ---- division codes ---------------------------------------------------- */

static void test_division_valid(void **state) {
  (void)state;
  static const struct {
    const char *s;
    size_t digits;
  } good[] = {
      {"320602", 6},          {"110105", 6},          {"650102", 6},
      {"820001", 6},          {"441900", 6},          {"320602001", 9},
      {"441900003", 9},       {"320602001002", 12},   {"320602001002003", 15},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    char why[SG_WHY_MAX] = "stale";
    if (sg_validate_division_code(good[i].s, good[i].digits, why, sizeof why) != 0)
      fail_msg("%s rejected: %s", good[i].s, why);
    assert_string_equal(why, "");
  }
}

static void test_division_invalid(void **state) {
  (void)state;
  static const struct {
    const char *s;
    size_t digits;
    const char *why;
  } bad[] = {
      {"320600", 6, "320600 is a province or prefecture, not a district"},
      {"320000", 6, "320000 is a province or prefecture"},
      {"990101", 6, "unknown province code 99"},
      {"000101", 6, "unknown province code 00"},
      {"320600001", 9, "320600 is a province or prefecture"},
      {"990101001", 9, "unknown province code 99"},
      {"320602", 9, "must be 9 digits"},
      {"320602001", 6, "must be 6 digits"},
      {"32060", 6, "must be 6 digits"},
      {"3206021", 6, "must be 6 digits"},
      {"32060a", 6, "must be 6 digits"},
      {"32060200a", 9, "must be 9 digits"},
      {"320-02", 6, "must be 6 digits"},
      {" 320602", 6, "must be 6 digits"},
      {"", 6, "must be 6 digits"},
      {"3206020", 7, "unsupported division code length 7"},
      {"", 0, "unsupported division code length 0"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char why[SG_WHY_MAX] = "";
    int rc = sg_validate_division_code(bad[i].s, bad[i].digits, why, sizeof why);
    assert_int_equal(rc, SG_EINVAL);
    reason_has(__LINE__, bad[i].s, why, bad[i].why);
  }
  assert_int_equal(sg_validate_division_code(NULL, 6, NULL, 0), SG_EINVAL);
}

/* ---- names ------------------------------------------------------------- */

static void test_name_valid(void **state) {
  (void)state;
  static const char *const good[] = {
      "张三", "买买提·艾力", "欧阳娜娜", "A", "John Smith", "阿依古丽·买买提",
      "\xf0\xa0\x80\x80" /* U+20000, a CJK Extension B character */,
      "王　芳" /* an inner U+3000 is the writer's choice */,
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    char why[SG_WHY_MAX] = "stale";
    if (sg_validate_name(good[i], 20, why, sizeof why) != 0)
      fail_msg("%s rejected: %s", good[i], why);
    assert_string_equal(why, "");
  }
  /* Limits count code points, not bytes. */
  assert_int_equal(sg_validate_name("买买提·艾力", 6, NULL, 0), 0);
  assert_int_equal(sg_validate_name("买买提·艾力", 5, NULL, 0), SG_EINVAL);
}

static void test_name_invalid(void **state) {
  (void)state;
  static const struct {
    const char *s, *why;
  } bad[] = {
      {"", "must not be empty"},
      {"一二三四五六", "must be at most 5 characters"},
      {"\xff", "invalid UTF-8 at byte 0"},
      {"张\xff", "invalid UTF-8 at byte 3"},
      {"\xc0\xaf", "invalid UTF-8"},         /* overlong '/' */
      {"\xe0\x80\xaf", "invalid UTF-8"},     /* overlong '/' in three bytes */
      {"\xf0\x82\x82\xac", "invalid UTF-8"}, /* overlong euro sign */
      {"\xed\xa0\x80", "invalid UTF-8"},     /* surrogate U+D800 */
      {"\xed\xbf\xbf", "invalid UTF-8"},     /* surrogate U+DFFF */
      {"\xf4\x90\x80\x80", "invalid UTF-8"}, /* U+110000 */
      {"\xf8\x88\x80\x80\x80", "invalid UTF-8"},
      {"\xe5\xbc", "invalid UTF-8"}, /* truncated 张 */
      {"\x80", "invalid UTF-8"},
      {"张\x01三", "control character U+0001 at byte 3"},
      {"张\t三", "control character U+0009"},
      {"张\n", "control character U+000A"},
      {"张\x7f", "control character U+007F"},
      {"张\xc2\x85", "control character U+0085"},
      {" 张三", "must not begin with a space"},
      {"张三 ", "must not end with a space"},
      {"\xe3\x80\x80张三", "must not begin with a space"},
      {"张三\xe3\x80\x80", "must not end with a space"},
      {" ", "must not begin with a space"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char why[SG_WHY_MAX] = "";
    assert_int_equal(sg_validate_name(bad[i].s, 5, why, sizeof why), SG_EINVAL);
    reason_has(__LINE__, bad[i].s, why, bad[i].why);
  }
  assert_int_equal(sg_validate_name(NULL, 5, NULL, 0), SG_EINVAL);
}

static void test_name_huge_input(void **state) {
  (void)state;
  size_t n = 1u << 20;
  char *big = malloc(n + 1);
  assert_non_null(big);
  memset(big, 'a', n);
  big[n] = '\0';
  char why[SG_WHY_MAX] = "";
  assert_int_equal(sg_validate_name(big, 64, why, sizeof why), SG_EINVAL);
  reason_has(__LINE__, "(1 MiB of a)", why, "must be at most 64 characters");
  assert_int_equal(sg_validate_text(big, 4096, why, sizeof why), SG_EINVAL);
  reason_has(__LINE__, "(1 MiB of a)", why, "must be at most 4096 bytes");
  assert_int_equal(sg_utf8_length(big), (long)n);
  free(big);
}

/* ---- free text --------------------------------------------------------- */

static void test_text(void **state) {
  (void)state;
  char why[SG_WHY_MAX] = "stale";
  assert_int_equal(sg_validate_text("", 0, why, sizeof why), 0);
  assert_string_equal(why, "");
  assert_int_equal(sg_validate_text("走访\t已完成", 100, NULL, 0), 0);
  assert_int_equal(sg_validate_text("张三", 6, NULL, 0), 0); /* exactly 6 bytes */
  assert_int_equal(sg_validate_text("张三", 5, why, sizeof why), SG_EINVAL);
  reason_has(__LINE__, "张三", why, "must be at most 5 bytes");
  assert_int_equal(sg_validate_text("abc", 2, why, sizeof why), SG_EINVAL);
  reason_has(__LINE__, "abc", why, "must be at most 2 bytes");

  static const struct {
    const char *s, *why;
  } bad[] = {
      {"第一行\n第二行", "control character U+000A at byte 9"},
      {"a\rb", "control character U+000D"},
      {"\x01", "control character U+0001"},
      {"del\x7f", "control character U+007F"},
      {"\xc2\x9f", "control character U+009F"},
      {"ok\xff", "invalid UTF-8 at byte 2"},
      {"\xc0\xaf", "invalid UTF-8"},
      {"\xed\xa0\x80", "invalid UTF-8"},
      {"\xe5\xbc", "invalid UTF-8"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why[0] = '\0';
    assert_int_equal(sg_validate_text(bad[i].s, 100, why, sizeof why), SG_EINVAL);
    reason_has(__LINE__, bad[i].s, why, bad[i].why);
  }
  assert_int_equal(sg_validate_text(NULL, 100, NULL, 0), SG_EINVAL);
}

/* ---- phones ------------------------------------------------------------ */

static void test_phone_valid(void **state) {
  (void)state;
  static const char *const good[] = {
      "13800138000", "19912345678", "15012345678", "17000000000", "0513-85012345",
      "010-12345678", "02112345678",  "0513850123",  "0123456",     "0513-12345678901234",
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    char why[SG_WHY_MAX] = "stale";
    if (sg_validate_phone(good[i], why, sizeof why) != 0) fail_msg("%s rejected: %s", good[i], why);
    assert_string_equal(why, "");
  }
}

static void test_phone_invalid(void **state) {
  (void)state;
  static const struct {
    const char *s, *why;
  } bad[] = {
      {"12800138000", "mobile number must start with 13-19"},
      {"10086000000", "mobile number must start with 13-19"},
      {"1380013800", "mobile number must be 11 digits"},
      {"138001380001", "mobile number must be 11 digits"},
      {"138-0013-8000", "mobile number must be 11 digits"},
      {"+8613800138000", "must be an 11-digit mobile number or a landline"},
      {"", "must be an 11-digit mobile number or a landline"},
      {"21234567", "must be an 11-digit mobile number or a landline"},
      {"１３８００１３８０００", "must be an 11-digit mobile number or a landline"},
      {"0513--85012345", "only digits and one '-'"},
      {"0513-8501-2345", "only digits and one '-'"},
      {"0513 85012345", "only digits and one '-'"},
      {"0-12345678", "'-' must follow a 3- or 4-digit area code"},
      {"05138-5012345", "'-' must follow a 3- or 4-digit area code"},
      {"0513850-", "'-' must follow a 3- or 4-digit area code"},
      {"012345", "landline must be 7 to 20 characters"},
      {"012345678901234567890", "landline must be 7 to 20 characters"},
      {"0123-12", "landline must have at least 7 digits"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char why[SG_WHY_MAX] = "";
    assert_int_equal(sg_validate_phone(bad[i].s, why, sizeof why), SG_EINVAL);
    reason_has(__LINE__, bad[i].s, why, bad[i].why);
  }
  assert_int_equal(sg_validate_phone(NULL, NULL, 0), SG_EINVAL);
}

/* ---- UTF-8 length ------------------------------------------------------ */

static void test_utf8_length(void **state) {
  (void)state;
  assert_int_equal(sg_utf8_length(""), 0);
  assert_int_equal(sg_utf8_length("abc"), 3);
  assert_int_equal(sg_utf8_length("张三"), 2);
  assert_int_equal(sg_utf8_length("买买提·艾力"), 6);
  assert_int_equal(sg_utf8_length("\xf0\xa0\x80\x80"), 1);
  assert_int_equal(sg_utf8_length("a\xc2\x80" "b"), 3); /* C1 is valid UTF-8, just not a name */
  assert_int_equal(sg_utf8_length("\xef\xbf\xbf"), 1);  /* U+FFFF */
  assert_int_equal(sg_utf8_length("\xf4\x8f\xbf\xbf"), 1); /* U+10FFFF */
  assert_int_equal(sg_utf8_length("\xff"), -1);
  assert_int_equal(sg_utf8_length("\xc0\xaf"), -1);
  assert_int_equal(sg_utf8_length("\xc1\xbf"), -1);
  assert_int_equal(sg_utf8_length("\xed\xa0\x80"), -1);
  assert_int_equal(sg_utf8_length("\xf4\x90\x80\x80"), -1);
  assert_int_equal(sg_utf8_length("abc\xe5\xbc"), -1);
  assert_int_equal(sg_utf8_length("\xe5\xbc" "a"), -1);
  assert_int_equal(sg_utf8_length("\x80"), -1);
  assert_int_equal(sg_utf8_length(NULL), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_idno_check_char_known),
      cmocka_unit_test(test_idno_valid_hardcoded),
      cmocka_unit_test(test_idno_generated),
      cmocka_unit_test(test_idno_wrong_check_digit),
      cmocka_unit_test(test_idno_length),
      cmocka_unit_test(test_idno_bad_characters),
      cmocka_unit_test(test_idno_birth_dates),
      cmocka_unit_test(test_idno_future_birth),
      cmocka_unit_test(test_idno_province),
      cmocka_unit_test(test_idno_lowercase_x),
      cmocka_unit_test(test_idno_gender),
      cmocka_unit_test(test_idno_outputs_and_why_buffer),
      cmocka_unit_test(test_date_valid),
      cmocka_unit_test(test_date_invalid),
      cmocka_unit_test(test_date_cmp),
      cmocka_unit_test(test_years_between),
      cmocka_unit_test(test_division_valid),
      cmocka_unit_test(test_division_invalid),
      cmocka_unit_test(test_name_valid),
      cmocka_unit_test(test_name_invalid),
      cmocka_unit_test(test_name_huge_input),
      cmocka_unit_test(test_text),
      cmocka_unit_test(test_phone_valid),
      cmocka_unit_test(test_phone_invalid),
      cmocka_unit_test(test_utf8_length),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
