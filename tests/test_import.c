/*
 * Spreadsheets: a GBK file with Chinese headers imported through the CLI,
 * bad rows reported per row and column in a file that imports again, a
 * re-run creating nothing twice, and export -> import -> the same workers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <iconv.h>

#include "harness.h"
#include "validate.h"

static void write_gbk(const char *path, const char *utf8) {
  iconv_t cd = iconv_open("GB18030", "UTF-8");
  assert_true(cd != (iconv_t)-1);
  size_t in_left = strlen(utf8), cap = in_left * 2 + 16, out_left = cap;
  char *out = malloc(cap), *dst = out, *src = (char *)utf8;
  assert_true(iconv(cd, &src, &in_left, &dst, &out_left) != (size_t)-1);
  iconv_close(cd);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fwrite(out, 1, cap - out_left, f);
  fclose(f);
  free(out);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = calloc(1, 1 << 20);
  size_t n = fread(buf, 1, (1 << 20) - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static int cli(hs_server *s, char **out, char **err, const char *a1, const char *a2, const char *a3,
               const char *a4, const char *a5, const char *a6) {
  const char *argv[] = {SHEGONG_CLI_PATH, "--server", s->addr, a1, a2, a3, a4, a5, a6, NULL};
  return hs_run(argv, s->addr, out, err, 0);
}

static void test_gbk_import_errors_and_round_trip(void **state) {
  (void)state;
  hs_server a, b;
  assert_int_equal(hs_server_start(&a, NULL, NULL), 0);
  /* the demo's units only */
  const char *demo[] = {SHEGONG_DEMO_PATH, "--towns", "1", "--workers", "0", "--quiet", NULL};
  assert_int_equal(hs_run(demo, a.addr, NULL, NULL, 0), 0);
  /* 40 good rows, the unit by code and by name, and three bad ones */
  size_t cap = 1 << 16, len = 0;
  char *sheet = malloc(cap);
  len += (size_t)snprintf(sheet + len, cap - len,
                          "序号,姓名,性别,身份证号,所在社区,类别,岗位,学历,入职日期,联系电话\r\n");
  for (int i = 0; i < 40; i++) {
    char first[18], idno[19];
    snprintf(first, sizeof first, "32060219%02d0%03d%03d", 70 + i % 25, 101 + i % 28, 100 + i);
    memcpy(idno, first, 17);
    idno[17] = sg_idno_check_char(first);
    idno[18] = '\0';
    len += (size_t)snprintf(sheet + len, cap - len, "%d,\"测试,%d\",,%s,%s,居民区社工,全科社工,本科,2020-01-%02d,\r\n",
                            i + 1, i, idno, i % 2 ? "320602001001" : "景瑞社区", 1 + i % 28);
  }
  len += (size_t)snprintf(sheet + len, cap - len,
                          "41,错号,,110105194912310021,320602001001,居民区社工,全科社工,本科,2020-01-01,\r\n"
                          "42,无单位,,11010519491231002X,没有这个社区,居民区社工,全科社工,本科,2020-01-01,\r\n"
                          "43,错学历,,440304198501010013,320602001001,居民区社工,全科社工,大学,2020-01-01,\r\n");
  char path[PATH_MAX + 32], errors[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/sheet.csv", a.tmp);
  snprintf(errors, sizeof errors, "%s.errors.csv", path);
  write_gbk(path, sheet);
  free(sheet);

  char *out = NULL, *err = NULL;
  /* a dry run writes nothing */
  assert_int_equal(cli(&a, &out, &err, "import", "workers", path, "--dry-run", NULL, NULL), 1);
  assert_non_null(strstr(err, "gbk"));
  free(out);
  free(err);
  assert_int_equal(cli(&a, &out, &err, "-o", "csv", "--columns", "id", "worker", "list"), 0);
  assert_int_equal(hs_count_lines(out), 1); /* the header alone */
  free(out);
  free(err);
  /* the import: 40 created, 3 rejected, each with its row and column */
  assert_int_equal(cli(&a, &out, &err, "import", "workers", path, NULL, NULL, NULL), 1);
  assert_non_null(strstr(out, "40 created"));
  assert_non_null(strstr(out, "3 rejected"));
  free(out);
  free(err);
  char *rej = slurp(errors);
  assert_non_null(rej);
  assert_non_null(strstr(rej, "身份证号: check digit"));
  assert_non_null(strstr(rej, "所在社区: 没有这个单位"));
  assert_non_null(strstr(rej, "学历:"));
  assert_non_null(strstr(rej, "\n42,")); /* the line of the bad ID number, counting the header */
  free(rej);
  /* the same file again: nothing twice */
  assert_int_equal(cli(&a, &out, &err, "import", "workers", path, NULL, NULL, NULL), 1);
  assert_non_null(strstr(out, "0 created, 40 already registered"));
  free(out);
  free(err);

  /* export in GBK, import into another server with the same units, compare */
  char exported[PATH_MAX + 32];
  snprintf(exported, sizeof exported, "%s/export.csv", a.tmp);
  assert_int_equal(cli(&a, &out, &err, "export", "workers", "--encoding", "gbk", "--file", exported), 0);
  free(out);
  free(err);
  assert_int_equal(hs_server_start(&b, NULL, NULL), 0);
  assert_int_equal(hs_run(demo, b.addr, NULL, NULL, 0), 0);
  assert_int_equal(cli(&b, &out, &err, "import", "workers", exported, NULL, NULL, NULL), 0);
  assert_non_null(strstr(out, "40 created, 0 already registered, 0 rejected"));
  free(out);
  free(err);
  char *la = NULL, *lb = NULL;
  const char *cols = "name,id_number,gender,unit_code,category,role,education,hire_date";
  assert_int_equal(cli(&a, &la, &err, "-o", "csv", "--columns", cols, "worker", "list"), 0);
  free(err);
  assert_int_equal(cli(&b, &lb, &err, "-o", "csv", "--columns", cols, "worker", "list"), 0);
  free(err);
  assert_string_equal(la, lb);
  free(la);
  free(lb);
  assert_int_equal(hs_server_stop(&b), 0);
  hs_server_cleanup(&b);
  assert_int_equal(hs_server_stop(&a), 0);
  hs_server_cleanup(&a);
}

/* Units, parents first, by kind label; an orphan is rejected with the reason. */
static void test_units_import(void **state) {
  (void)state;
  hs_server s;
  assert_int_equal(hs_server_start(&s, NULL, NULL), 0);
  char path[PATH_MAX + 32], errors[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/units.csv", s.tmp);
  snprintf(errors, sizeof errors, "%s.errors.csv", path);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("\xEF\xBB\xBF代码,名称,类型,户数,常住人口,60岁以上占比\r\n"
        "320602,崇川区,区,,,\r\n320602001,和平桥街道,街镇,,,\r\n"
        "320602001001,桃坞社区,居委会,1200,2900,27.5\r\n320602001201,营船村,村,600,1500,33\r\n"
        "320602009001,孤儿社区,居委会,10,20,5\r\n",
        f);
  fclose(f);
  char *out = NULL, *err = NULL;
  assert_int_equal(cli(&s, &out, &err, "import", "units", path, NULL, NULL, NULL), 1);
  assert_non_null(strstr(out, "4 created, 0 already registered, 1 rejected"));
  free(out);
  free(err);
  char *rej = slurp(errors);
  assert_non_null(strstr(rej, "320602009 does not exist"));
  free(rej);
  const char *list[] = {SHEGONG_CLI_PATH, "-o", "csv", "--columns", "code,residents", "unit",
                        "list", "320602001", NULL};
  assert_int_equal(hs_run(list, s.addr, &out, &err, 0), 0);
  assert_non_null(strstr(out, "320602001001,2900"));
  free(out);
  free(err);
  assert_int_equal(hs_server_stop(&s), 0);
  hs_server_cleanup(&s);
}

/* A sheet the reader refuses: a clear error naming the line, and no record from it. */
static void test_oversized_sheets_are_refused(void **state) {
  (void)state;
  hs_server s;
  assert_int_equal(hs_server_start(&s, NULL, NULL), 0);
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/big.csv", s.tmp);
  static const struct {
    const char *name;
    size_t repeat; /* of `cell` on line 3 */
    const char *cell;
    const char *expect;
  } cases[] = {
      {"a 64 KiB + 1 byte field", 65537, "x", "a field on line 3 is longer than 65536 bytes"},
      {"a quoted field of quotes", 65537, "\"\"", "a field on line 3 is longer than 65536 bytes"},
      {"1025 fields", 1025, ",", "line 3 has more than 1024 fields"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("代码,名称,类型\n320602,崇川区,区\n320602001,", f);
    int quoted = cases[k].cell[0] == '"';
    if (quoted) fputc('"', f);
    for (size_t i = 0; i < cases[k].repeat; i++) fputs(cases[k].cell, f);
    if (quoted) fputc('"', f);
    fputs(",街镇\n", f);
    fclose(f);
    char *out = NULL, *err = NULL;
    int code = cli(&s, &out, &err, "import", "units", path, NULL, NULL, NULL);
    print_message("%s: exit %d, %s", cases[k].name, code, err ? err : "");
    assert_int_not_equal(code, 0);
    assert_non_null(strstr(err, cases[k].expect));
    /* the summary counts the good row sent before the bad line (created the first time) */
    assert_non_null(strstr(out, k == 0 ? "1 rows: 1 created, 0 already registered"
                                       : "1 rows: 0 created, 1 already registered"));
    free(out);
    free(err);
  }
  /* rows go in as they are read, so the good line before the bad one did, once;
   * the bad line made nothing */
  char *out = NULL, *err = NULL;
  const char *district[] = {SHEGONG_CLI_PATH, "unit", "show", "320602", NULL};
  assert_int_equal(hs_run(district, s.addr, &out, &err, 0), 0);
  free(out);
  free(err);
  const char *town[] = {SHEGONG_CLI_PATH, "unit", "show", "320602001", NULL};
  assert_int_not_equal(hs_run(town, s.addr, &out, &err, 0), 0);
  free(out);
  free(err);
  assert_int_equal(hs_server_stop(&s), 0);
  hs_server_cleanup(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_gbk_import_errors_and_round_trip),
                                     cmocka_unit_test(test_units_import),
                                     cmocka_unit_test(test_oversized_sheets_are_refused)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
