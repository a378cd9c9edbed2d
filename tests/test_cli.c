/*
 * End-to-end tests of the command-line tools: the real `shegong` and
 * `shegong-demo` binaries against a real shegongd, run without a shell and
 * with their output captured. Exit codes are exact (0 ok, 1 call failed,
 * 2 usage), and so are the status names on stderr.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "timeutil.h"

#ifndef SHEGONG_CLI_PATH
#error "SHEGONG_CLI_PATH must be defined by the build"
#endif
#ifndef SHEGONG_DEMO_PATH
#error "SHEGONG_DEMO_PATH must be defined by the build"
#endif

#define STABLE_COLUMNS "id,name,id_number,unit_code,role,hire_date,status"
#define MAX_ARGS 40
#define MAX_KEEP 8

typedef struct fx {
  hs_server srv, srv2;
  char *out, *err; /* of the last run */
  int code;
  char *keep[MAX_KEEP]; /* outputs kept past the next run */
  size_t n_keep;
  int done;
} fx;

static int start(hs_server *s) {
  if (hs_server_start(s, NULL, NULL) == 0) return 0;
  hs_server_cleanup(s);
  return -1;
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (!f) return -1;
  if (start(&f->srv)) {
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int run_demo(hs_server *s, const char *seed, char **out, char **err) {
  const char *argv[] = {SHEGONG_DEMO_PATH, "--server", s->addr, "--seed", seed, "--towns", "2",
                        "--workers", "200", "--quiet", NULL};
  return hs_run(argv, s->addr, out, err, 0);
}

/* A server with the demo district loaded: seed 1, two towns, 200 workers. */
static int setup_demo(void **state) {
  if (setup(state)) return -1;
  fx *f = *state;
  char *out = NULL, *err = NULL;
  int code = run_demo(&f->srv, "1", &out, &err);
  if (code != 0) {
    fprintf(stderr, "shegong-demo exited with %d\nstdout: %s\nstderr: %s\n", code, out, err);
    hs_server_print_log(&f->srv, 40);
    hs_server_cleanup(&f->srv);
    free(f);
    *state = NULL;
  }
  free(out);
  free(err);
  return code == 0 ? 0 : -1;
}

static int stop_checked(hs_server *s, int print_log) {
  if (s->pid <= 0) return 0;
  if (!hs_server_alive(s)) {
    fprintf(stderr, "[cli] the server died during the test\n");
    hs_server_print_log(s, 60);
    return -1;
  }
  int code = hs_server_stop(s);
  if (code != 0) fprintf(stderr, "[cli] the server exited with %d on SIGTERM, not 0\n", code);
  if (code != 0 || print_log) hs_server_print_log(s, 60);
  return code == 0 ? 0 : -1;
}

static int teardown(void **state) {
  fx *f = *state;
  if (!f) return 0;
  int rc = 0;
  if (!f->done && (f->out || f->err))
    fprintf(stderr, "[cli] last command exited %d\n--- stdout ---\n%s--- stderr ---\n%s---\n",
            f->code, f->out ? f->out : "", f->err ? f->err : "");
  if (stop_checked(&f->srv2, !f->done)) rc = -1;
  if (stop_checked(&f->srv, !f->done)) rc = -1;
  hs_server_cleanup(&f->srv2);
  hs_server_cleanup(&f->srv);
  free(f->out);
  free(f->err);
  for (size_t i = 0; i < f->n_keep; i++) free(f->keep[i]);
  free(f);
  return rc;
}

static fx *FX(void **state) { return *state; }

/* ------------------------------------------------------------------------ */
/* Running the CLI. */

/* Runs `shegong ARGS...` (NULL-terminated) with SHEGONG_SERVER=server. */
static int vrun(fx *f, const char *server, va_list ap) {
  const char *argv[MAX_ARGS + 2];
  size_t n = 0;
  argv[n++] = SHEGONG_CLI_PATH;
  const char *a;
  while ((a = va_arg(ap, const char *)) != NULL) {
    assert_true(n < MAX_ARGS);
    argv[n++] = a;
  }
  argv[n] = NULL;
  free(f->out);
  free(f->err);
  f->out = f->err = NULL;
  f->code = hs_run(argv, server, &f->out, &f->err, 0);
  assert_non_null(f->out);
  assert_non_null(f->err);
  return f->code;
}

static int run(fx *f, ...) {
  va_list ap;
  va_start(ap, f);
  int code = vrun(f, f->srv.addr, ap);
  va_end(ap);
  return code;
}

static int run_at(fx *f, const char *server, ...) {
  va_list ap;
  va_start(ap, server);
  int code = vrun(f, server, ap);
  va_end(ap);
  return code;
}

static void expect_code(fx *f, int want) {
  if (f->code != want)
    print_message("exit %d, want %d\n--- stdout ---\n%s--- stderr ---\n%s---\n", f->code, want,
                  f->out, f->err);
  assert_int_equal(f->code, want);
}

static void expect_out(fx *f, const char *needle) {
  if (!strstr(f->out, needle)) print_message("stdout lacks \"%s\":\n%s", needle, f->out);
  assert_non_null(strstr(f->out, needle));
}

static void expect_err(fx *f, const char *needle) {
  if (!strstr(f->err, needle)) print_message("stderr lacks \"%s\":\n%s", needle, f->err);
  assert_non_null(strstr(f->err, needle));
}

static char *keep(fx *f, const char *s) {
  assert_true(f->n_keep < MAX_KEEP);
  char *c = strdup(s);
  assert_non_null(c);
  f->keep[f->n_keep++] = c;
  return c;
}

/*
 * The value of `key` in "key  value" output (the table form of one
 * message), copied into buf; NULL when there is no such line.
 */
static const char *kv_get(const char *text, const char *key, char *buf, size_t len) {
  size_t kl = strlen(key);
  for (const char *line = text; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t ll = end ? (size_t)(end - line) : strlen(line);
    if (ll > kl && strncmp(line, key, kl) == 0 && line[kl] == ' ') {
      const char *v = line + kl;
      while (*v == ' ') v++;
      size_t vl = (size_t)(line + ll - v);
      if (vl >= len) vl = len - 1;
      memcpy(buf, v, vl);
      buf[vl] = '\0';
      return buf;
    }
    line = end ? end + 1 : NULL;
  }
  return NULL;
}

static void expect_kv(fx *f, const char *key, const char *want) {
  char buf[256];
  const char *got = kv_get(f->out, key, buf, sizeof buf);
  if (!got || strcmp(got, want) != 0)
    print_message("%s is \"%s\", want \"%s\" in:\n%s", key, got ? got : "(absent)", want, f->out);
  assert_non_null(got);
  assert_string_equal(got, want);
}

/* ------------------------------------------------------------------------ */
/* ID numbers and display width. */

static void make_idno(char out[19], const char *first17) {
  static const int weight[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  assert_int_equal(strlen(first17), 17);
  for (int i = 0; i < 17; i++) sum += (first17[i] - '0') * weight[i];
  snprintf(out, 19, "%s%c", first17, "10X98765432"[sum % 11]);
}

/* Decodes one UTF-8 code point at p (assumed valid); returns its length. */
static size_t utf8_cp(const unsigned char *p, uint32_t *cp) {
  if (p[0] < 0x80) {
    *cp = p[0];
    return 1;
  }
  if ((p[0] & 0xE0) == 0xC0 && p[1]) {
    *cp = (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
    return 2;
  }
  if ((p[0] & 0xF0) == 0xE0 && p[1] && p[2]) {
    *cp = (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
    return 3;
  }
  if ((p[0] & 0xF8) == 0xF0 && p[1] && p[2] && p[3]) {
    *cp = (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 |
          (uint32_t)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
    return 4;
  }
  *cp = 0xFFFD;
  return 1;
}

/* Wide in a terminal: the CJK blocks the register's text uses. */
static int is_wide(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3000 && cp <= 0x303F) ||
         (cp >= 0xFF01 && cp <= 0xFF60);
}

static int is_cjk(uint32_t cp) { return cp >= 0x4E00 && cp <= 0x9FFF; }

/*
 * The byte offset in line (up to its '\n') where display column col
 * begins; -1 when col falls inside a wide character or past the end.
 */
static long offset_of_column(const char *line, size_t col) {
  size_t w = 0, off = 0;
  while (line[off] && line[off] != '\n') {
    if (w == col) return (long)off;
    if (w > col) return -1;
    uint32_t cp;
    size_t n = utf8_cp((const unsigned char *)line + off, &cp);
    w += is_wide(cp) ? 2 : 1;
    off += n;
  }
  return w == col ? (long)off : -1;
}

/* The byte offset of header column `name` (headers are ASCII); -1 if absent. */
static long header_column(const char *header, const char *name) {
  size_t nl = strlen(name);
  for (const char *p = header; *p && *p != '\n'; p++) {
    if ((p == header || p[-1] == ' ') && strncmp(p, name, nl) == 0 &&
        (p[nl] == ' ' || p[nl] == '\n' || p[nl] == '\0'))
      return (long)(p - header);
  }
  return -1;
}

/* ------------------------------------------------------------------------ */

static void test_cli_hello(void **state) {
  fx *f = FX(state);
  run(f, "hello", NULL);
  expect_code(f, 0);
  expect_kv(f, "server_version", SHEGONG_VERSION);
  expect_kv(f, "protocol_version", "1");
  expect_kv(f, "max_frame_bytes", "4194304");
  assert_string_equal(f->err, "");
  /* no district yet: no district line */
  char buf[64];
  assert_null(kv_get(f->out, "district_code", buf, sizeof buf));

  run(f, "-o", "json", "hello", NULL);
  expect_code(f, 0);
  expect_out(f, "\"protocol_version\": 1");
  expect_out(f, "\"max_frame_bytes\": 4194304");
  expect_out(f, "\"server_version\": \"" SHEGONG_VERSION "\"");
  assert_int_equal(f->out[0], '{');

  /* --server instead of the environment */
  run_at(f, NULL, "--server", f->srv.addr, "-o", "json", "hello", NULL);
  expect_code(f, 0);
  expect_out(f, "\"protocol_version\": 1");

  run(f, "-o", "csv", "hello", NULL);
  expect_code(f, 0);
  assert_int_equal(strncmp(f->out, "server_version,protocol_version,", 32), 0);
  assert_int_equal(hs_count_lines(f->out), 2);

  run(f, "--version", NULL);
  expect_code(f, 0);
  expect_out(f, "shegong " SHEGONG_VERSION);
  f->done = 1;
}

static void test_cli_demo_deterministic(void **state) {
  fx *f = FX(state);
  assert_int_equal(start(&f->srv2), 0);
  char *out = NULL, *err = NULL;
  int code = run_demo(&f->srv, "1", &out, &err);
  if (code) print_message("demo: %d\n%s%s", code, out, err);
  assert_int_equal(code, 0);
  assert_string_equal(out, ""); /* --quiet */
  free(out);
  free(err);
  code = run_demo(&f->srv2, "1", &out, &err);
  assert_int_equal(code, 0);
  free(out);
  free(err);
  /* a second load finds the district there and exits 0 */
  code = run_demo(&f->srv, "1", &out, &err);
  if (code) print_message("demo again: %d\n%s%s", code, out, err);
  assert_int_equal(code, 0);
  free(out);
  free(err);
  /* without --quiet it says so */
  const char *argv[] = {SHEGONG_DEMO_PATH, "--seed", "1", "--towns", "2", "--workers", "200", NULL};
  code = hs_run(argv, f->srv.addr, &out, &err, 0);
  assert_int_equal(code, 0);
  if (!strstr(out, "already loaded")) print_message("demo said: %s", out);
  assert_non_null(strstr(out, "already loaded"));
  free(out);
  free(err);

  run(f, "-o", "csv", "--columns", STABLE_COLUMNS, "worker", "list", "--include-left", NULL);
  expect_code(f, 0);
  char *a = keep(f, f->out);
  run_at(f, f->srv2.addr, "-o", "csv", "--columns", STABLE_COLUMNS, "worker", "list",
         "--include-left", NULL);
  expect_code(f, 0);
  char *b = keep(f, f->out);
  assert_int_equal(strncmp(a, STABLE_COLUMNS "\n", strlen(STABLE_COLUMNS) + 1), 0);
  assert_int_equal(hs_count_lines(a), 201); /* header + 200 workers, leavers included */
  assert_string_equal(a, b);

  /* the reload added nobody */
  run(f, "-o", "csv", "--columns", "id", "worker", "list", "--include-left", NULL);
  expect_code(f, 0);
  assert_int_equal(hs_count_lines(f->out), 201);

  /* the units too */
  run(f, "-o", "csv", "--columns", "id,kind,code,name,parent_code,households,residents", "unit",
      "list", "320602001", NULL);
  expect_code(f, 0);
  a = keep(f, f->out);
  run_at(f, f->srv2.addr, "-o", "csv", "--columns",
         "id,kind,code,name,parent_code,households,residents", "unit", "list", "320602001", NULL);
  expect_code(f, 0);
  assert_true(hs_count_lines(a) > 2);
  assert_string_equal(a, f->out);

  /* and the history: the same seed gives the same reports */
  run(f, "-o", "csv", "report", "eligibility", "--as-of", "2025-12-31", NULL);
  expect_code(f, 0);
  a = keep(f, f->out);
  run_at(f, f->srv2.addr, "-o", "csv", "report", "eligibility", "--as-of", "2025-12-31", NULL);
  expect_code(f, 0);
  assert_true(hs_count_lines(a) > 2);
  assert_string_equal(a, f->out);
  run(f, "-o", "csv", "report", "training-compliance", "--year", "2025", NULL);
  expect_code(f, 0);
  a = keep(f, f->out);
  run_at(f, f->srv2.addr, "-o", "csv", "report", "training-compliance", "--year", "2025", NULL);
  expect_code(f, 0);
  assert_string_equal(a, f->out);
  f->done = 1;
}

static void test_cli_lists(void **state) {
  fx *f = FX(state);
  run(f, "unit", "list", NULL);
  expect_code(f, 0);
  expect_out(f, "和平桥街道");
  expect_out(f, "任港街道");
  expect_out(f, "320602001");
  expect_out(f, "320602002");
  assert_int_equal(hs_count_lines(f->out), 3); /* header and two towns */
  assert_true(header_column(f->out, "code") >= 0);
  assert_true(header_column(f->out, "name") >= 0);

  run(f, "worker", "list", "--town", "320602001", NULL);
  expect_code(f, 0);
  const char *table = keep(f, f->out);
  size_t rows = hs_count_lines(table) - 1;
  assert_true(rows >= 10);
  long c_name = header_column(table, "name");
  long c_gender = header_column(table, "gender");
  long c_idno = header_column(table, "id_number");
  long c_town = header_column(table, "town_code");
  assert_true(c_name >= 0);
  assert_true(c_gender > c_name);
  assert_true(c_idno > c_gender);
  assert_true(c_town > c_idno);

  /* every row: the columns after Chinese text start at the header's display column */
  const char *line = strchr(table, '\n') + 1;
  size_t checked = 0;
  int widths_differ = 0;
  long first_name_width = -1;
  while (*line) {
    long on = offset_of_column(line, (size_t)c_name);
    long og = offset_of_column(line, (size_t)c_gender);
    long oi = offset_of_column(line, (size_t)c_idno);
    long ot = offset_of_column(line, (size_t)c_town);
    if (on < 0 || og < 0 || oi < 0 || ot < 0)
      print_message("misaligned row: %.*s\n", (int)strcspn(line, "\n"), line);
    assert_true(on >= 0 && og >= 0 && oi >= 0 && ot >= 0);
    uint32_t cp;
    /* the name is Chinese */
    utf8_cp((const unsigned char *)line + on, &cp);
    assert_true(is_cjk(cp));
    /* gender follows it: 男 or 女, after at least two spaces */
    assert_true(strncmp(line + og, "男", 3) == 0 || strncmp(line + og, "女", 3) == 0);
    assert_int_equal(line[og - 1], ' ');
    assert_int_equal(line[og - 2], ' ');
    /* the ID number starts exactly at its column */
    assert_int_equal(line[oi - 1], ' ');
    for (int k = 0; k < 17; k++) assert_true(line[oi + k] >= '0' && line[oi + k] <= '9');
    assert_true((line[oi + 17] >= '0' && line[oi + 17] <= '9') || line[oi + 17] == 'X');
    assert_true(strncmp(line + ot, "320602001", 9) == 0);
    /* names of different widths must occur for the check to mean anything */
    long nw = 0;
    for (long k = on; line[k] != ' '; k += (long)utf8_cp((const unsigned char *)line + k, &cp))
      nw += 1;
    if (first_name_width < 0) first_name_width = nw;
    else if (nw != first_name_width) widths_differ = 1;
    checked++;
    const char *nl = strchr(line, '\n');
    if (!nl) break;
    line = nl + 1;
  }
  assert_int_equal(checked, rows);
  assert_true(widths_differ);

  /* CSV: a header and one row per worker, as many as the JSON has */
  run(f, "-o", "csv", "worker", "list", "--town", "320602001", NULL);
  expect_code(f, 0);
  assert_int_equal(strncmp(f->out, "id,", 3), 0);
  size_t csv_rows = hs_count_lines(f->out) - 1;
  run(f, "-o", "json", "worker", "list", "--town", "320602001", NULL);
  expect_code(f, 0);
  size_t json_workers = hs_count_substr(f->out, "\"id\": ");
  assert_int_equal(csv_rows, json_workers);
  assert_int_equal(csv_rows, rows);
  assert_null(strstr(f->out, "next_page_token"));
  run(f, "-o", "csv", "--columns", "id", "worker", "list", "--town", "320602001", NULL);
  expect_code(f, 0);
  assert_int_equal(hs_count_lines(f->out) - 1, rows);
  assert_int_equal(strncmp(f->out, "id\n", 3), 0);

  /* the other town and the whole district add up (a page is 500, so this crosses none) */
  run(f, "-o", "csv", "--columns", "id", "worker", "list", "--town", "320602002", NULL);
  expect_code(f, 0);
  size_t town2 = hs_count_lines(f->out) - 1;
  run(f, "-o", "csv", "--columns", "id", "worker", "list", NULL);
  expect_code(f, 0);
  size_t all = hs_count_lines(f->out) - 1;
  assert_int_equal(rows + town2, all);
  assert_true(all < 200); /* leavers are left out */
  /* pages of 7 through the CLI's own paging give the same rows */
  run(f, "-o", "csv", "--columns", "id", "worker", "list", "--page-size", "7", NULL);
  expect_code(f, 0);
  assert_int_equal(hs_count_lines(f->out), 8);
  f->done = 1;
}

static void test_cli_worker_lifecycle(void **state) {
  fx *f = FX(state);
  char idno[19];
  make_idno(idno, "11010119880808135");
  run(f, "worker", "add", "--name", "李四", "--id-number", idno, "--unit", "320602001001",
      "--category", "居民区社工", "--role", "全科社工", "--hire-date", "2020-01-01", "--education",
      "本科", NULL);
  expect_code(f, 0);
  expect_kv(f, "name", "李四");
  expect_kv(f, "id_number", idno);
  expect_kv(f, "version", "1");
  expect_kv(f, "gender", "男");
  expect_kv(f, "birth_date", "1988-08-08");
  expect_kv(f, "education", "本科");
  expect_kv(f, "category", "居民区社工");
  expect_kv(f, "role", "全科社工");
  expect_kv(f, "unit_code", "320602001001");
  expect_kv(f, "town_code", "320602001");
  expect_kv(f, "status", "在岗");
  char idbuf[32];
  assert_non_null(kv_get(f->out, "id", idbuf, sizeof idbuf));
  char *id = keep(f, idbuf);
  assert_true(strtoull(id, NULL, 10) > 0);

  run(f, "worker", "show", id, NULL);
  expect_code(f, 0);
  expect_kv(f, "id", id);
  expect_kv(f, "name", "李四");
  run(f, "worker", "show", "--id-number", idno, NULL);
  expect_code(f, 0);
  expect_kv(f, "id", id);

  /* update without --expected-version: the CLI reads it */
  run(f, "worker", "update", id, "--phone", "13812345678", NULL);
  expect_code(f, 0);
  expect_kv(f, "version", "2");
  expect_kv(f, "phone", "13812345678");
  expect_kv(f, "name", "李四");

  /* a stale version */
  run(f, "worker", "update", id, "--expected-version", "1", "--phone", "13900000000", NULL);
  expect_code(f, 1);
  expect_err(f, "ABORTED");
  assert_string_equal(f->out, "");
  run(f, "-o", "json", "worker", "show", id, NULL);
  expect_code(f, 0);
  expect_out(f, "\"version\": \"2\"");
  expect_out(f, "\"phone\": \"13812345678\"");

  /* the right version given explicitly */
  run(f, "worker", "update", id, "--expected-version", "2", "--party-member", NULL);
  expect_code(f, 0);
  expect_kv(f, "version", "3");
  expect_kv(f, "party_member", "是");

  run(f, "worker", "leave", id, "--date", "2024-01-01", "--reason", "个人原因", NULL);
  expect_code(f, 0);
  expect_kv(f, "status", "离职");
  expect_kv(f, "leave_date", "2024-01-01");
  expect_kv(f, "leave_reason", "个人原因");
  expect_kv(f, "version", "4");

  /* gone from the list, there with --include-left */
  run(f, "-o", "csv", "--columns", "id,name", "worker", "list", "--unit", "320602001001", NULL);
  expect_code(f, 0);
  assert_null(strstr(f->out, "李四"));
  run(f, "-o", "csv", "--columns", "id,name", "worker", "list", "--unit", "320602001001",
      "--include-left", NULL);
  expect_code(f, 0);
  expect_out(f, "李四");

  /* a leaver cannot leave again, nor be updated */
  run(f, "worker", "leave", id, "--date", "2024-02-01", "--reason", "再次", NULL);
  expect_code(f, 1);
  expect_err(f, "FAILED_PRECONDITION");
  run(f, "worker", "update", id, "--phone", "13900000000", NULL);
  expect_code(f, 1);
  expect_err(f, "FAILED_PRECONDITION");
  f->done = 1;
}

static void test_cli_units_and_errors(void **state) {
  fx *f = FX(state);
  /* a small district through the CLI */
  run(f, "unit", "add", "--kind", "DISTRICT", "--code", "320602", "--name", "崇川区", NULL);
  expect_code(f, 0);
  expect_kv(f, "code", "320602");
  run(f, "unit", "add", "--kind", "街道", "--code", "320602001", "--name", "和平桥街道", NULL);
  expect_code(f, 0);
  expect_kv(f, "kind", "街镇");
  run(f, "unit", "add", "--kind", "community", "--code", "320602001001", "--name", "桃园社区",
      "--households", "1200", NULL);
  expect_code(f, 0);
  expect_kv(f, "parent_code", "320602001");
  expect_kv(f, "households", "1200");
  run(f, "unit", "show", "320602001001", NULL);
  expect_code(f, 0);
  expect_kv(f, "name", "桃园社区");
  run(f, "unit", "add", "--kind", "TOWN", "--code", "320602001", "--name", "重复", NULL);
  expect_code(f, 1);
  expect_err(f, "ALREADY_EXISTS");
  run(f, "unit", "add", "--kind", "TOWN", "--code", "32060200", "--name", "短码", NULL);
  expect_code(f, 1);
  expect_err(f, "INVALID_ARGUMENT");
  expect_err(f, "unit.code");
  run(f, "unit", "show", "320602009", NULL);
  expect_code(f, 1);
  expect_err(f, "NOT_FOUND");

  /* a bad ID number (the right one with its check character changed): the call fails */
  char bad[19];
  make_idno(bad, "11010119880808135");
  bad[17] = bad[17] == '0' ? '1' : '0';
  run(f, "worker", "add", "--name", "李四", "--id-number", bad, "--unit", "320602001001",
      "--category", "居民区社工", "--role", "全科社工", "--hire-date", "2020-01-01", NULL);
  expect_code(f, 1);
  expect_err(f, "INVALID_ARGUMENT");
  expect_err(f, "worker.id_number");
  assert_string_equal(f->out, "");

  /* several bad fields: each is reported */
  run(f, "worker", "add", "--name", "李四", "--id-number", bad, "--unit", "320602001001",
      "--category", "居民区社工", "--role", "全科社工", "--hire-date", "2020-02-30", "--phone",
      "12345", NULL);
  expect_code(f, 1);
  expect_err(f, "worker.id_number");
  expect_err(f, "worker.hire_date");
  expect_err(f, "worker.phone");

  /* usage errors exit 2, before any call */
  run(f, "worker", "add", "--no-such-flag", "x", NULL);
  expect_code(f, 2);
  run(f, "worker", "add", "--education", "博士后", NULL);
  expect_code(f, 2);
  run(f, "worker", "add", "--level", "abc", NULL);
  expect_code(f, 2);
  run(f, "frobnicate", "list", NULL);
  expect_code(f, 2);
  run(f, "worker", "frobnicate", NULL);
  expect_code(f, 2);
  run(f, "unit", "remove", "320602", NULL);
  expect_code(f, 2);
  run(f, "--no-such-option", "x", "hello", NULL);
  expect_code(f, 2);
  run(f, "-o", "xml", "hello", NULL);
  expect_code(f, 2);
  run(f, "--timeout", "0", "hello", NULL);
  expect_code(f, 2);
  run(f, "worker", NULL);
  expect_code(f, 2);
  run(f, NULL);
  expect_code(f, 2);
  run(f, "worker", "show", "abc", NULL);
  expect_code(f, 2);
  run(f, "worker", "show", NULL);
  expect_code(f, 2);
  run(f, "worker", "update", "5", NULL); /* no field to change */
  expect_code(f, 2);
  run(f, "worker", "update", "5", "--expected-version", "x", "--phone", "13812345678", NULL);
  expect_code(f, 2);
  run(f, "worker", "leave", NULL);
  expect_code(f, 2);
  run(f, "--columns", "shoe_size", "unit", "list", NULL);
  expect_code(f, 2);

  /* calls that fail exit 1 */
  run(f, "worker", "show", "999999", NULL);
  expect_code(f, 1);
  expect_err(f, "NOT_FOUND");
  run(f, "worker", "update", "999999", "--phone", "13812345678", NULL);
  expect_code(f, 1);
  expect_err(f, "NOT_FOUND");
  run(f, "worker", "leave", "999999", "--date", "2024-01-01", "--reason", "个人原因", NULL);
  expect_code(f, 1);
  expect_err(f, "NOT_FOUND");
  run(f, "worker", "list", "--unit", "320602001999", NULL);
  expect_code(f, 1);
  expect_err(f, "NOT_FOUND");

  /* nobody listening */
  int port = hs_free_port();
  assert_true(port > 0);
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
  run_at(f, addr, "hello", NULL);
  expect_code(f, 1);
  expect_err(f, "UNAVAILABLE");
  run_at(f, NULL, "--server", addr, "worker", "show", "1", NULL);
  expect_code(f, 1);
  expect_err(f, "UNAVAILABLE");
  f->done = 1;
}


/* ------------------------------------------------------------------------ */
/* Policy file, assessments and reports. */

static void write_text(const char *path, const char *text) {
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  assert_int_equal(fputs(text, fp) >= 0, 1);
  assert_int_equal(fclose(fp), 0);
}

static void test_cli_policy_file(void **state) {
  fx *f = FX(state);
  char path[PATH_MAX + 32], want[PATH_MAX + 160];
  snprintf(path, sizeof path, "%s/bad.policy", f->srv.tmp);
  /* the parser's complaints: one per bad line, nothing sent */
  write_text(path, "name = x\n"
                   "[assessment]\n"
                   "superior_weight = 70\n"
                   "resident_weight = 30\n"
                   "excellent_min = 90\n"
                   "qualified_min = 75\n"
                   "basic_min = 60\n"
                   "bogus = 1\n"
                   "visit_minimum = lots\n"
                   "[training]\n"
                   "[ladder]\n"
                   "name = L\n"
                   "post = B 5\n"
                   "[zzz]\n"
                   "superior_weight = 1\n"
                   "no equals sign\n");
  run(f, "policy", "load", path, NULL);
  expect_code(f, 2);
  snprintf(want, sizeof want, "%s:8: no key `bogus` in [assessment]", path);
  expect_err(f, want);
  snprintf(want, sizeof want, "%s:9: visit_minimum:", path);
  expect_err(f, want);
  snprintf(want, sizeof want, "%s:13: a post is `NAME MIN-MAX`", path);
  expect_err(f, want);
  snprintf(want, sizeof want, "%s:14: no section [zzz]", path);
  expect_err(f, want);
  snprintf(want, sizeof want, "%s:16: expected `key = value`", path);
  expect_err(f, want);
  expect_err(f, "nothing was loaded");

  /* the server's complaints, against the lines that set the fields */
  write_text(path, "name = x\n"
                   "[assessment]\n"
                   "superior_weight = 70\n"
                   "resident_weight = 20\n"
                   "excellent_min = 90\n"
                   "qualified_min = 95\n"
                   "basic_min = 60\n"
                   "[training]\n"
                   "[ladder]\n"
                   "name = L\n"
                   "post = A 1-12\n"
                   "post = A 3-4\n");
  run(f, "policy", "load", path, NULL);
  expect_code(f, 1);
  snprintf(want, sizeof want, "%s:4: policy.assessment.resident_weight: the two weights sum to 100",
           path);
  expect_err(f, want);
  snprintf(want, sizeof want, "%s:6: policy.assessment.qualified_min", path);
  expect_err(f, want);
  snprintf(want, sizeof want, "%s:12: policy.ladder.posts[1].name: post A is listed twice", path);
  expect_err(f, want);
  /* nothing changed */
  run(f, "policy", "show", NULL);
  expect_code(f, 0);
  expect_out(f, "# district policy version 0");

  /* a good file; then what `show` prints loads back as the next version, unchanged */
  write_text(path, "# 崇川区\nname = 崇川区 2026\n[assessment]\nsuperior_weight = 60\n"
                   "resident_weight = 40\nexcellent_min = 92.5\nqualified_min = 80\nbasic_min = 60\n"
                   "visit_minimum = 240\n[training]\npre_service_grace_days = 15\n"
                   "[ladder]\nname = 三岗十八级\nearly_step_excellent_years = 2\n"
                   "post = 负责人 13-18\npost = 主管 7-12\npost = 工作人员 1-6\n");
  run(f, "policy", "load", path, NULL);
  expect_code(f, 0);
  expect_out(f, "policy version 1 loaded");
  run(f, "policy", "show", NULL);
  expect_code(f, 0);
  expect_out(f, "excellent_min = 92.5");
  expect_out(f, "post = 主管 7-12");
  char *shown = keep(f, f->out);
  write_text(path, shown);
  run(f, "policy", "load", path, NULL);
  expect_code(f, 0);
  expect_out(f, "policy version 2 loaded");
  run(f, "policy", "show", NULL);
  /* the same but for the header comment, which names the version */
  assert_string_equal(strchr(shown, '\n'), strchr(f->out, '\n'));
  run(f, "policy", "show", "--version", "1", NULL);
  expect_code(f, 0);
  expect_out(f, "# district policy version 1");
  run(f, "policy", "show", "--version", "9", NULL);
  expect_code(f, 1);
  expect_err(f, "NOT_FOUND");
  f->done = 1;
}

static void test_cli_quota_file_and_staffing(void **state) {
  fx *f = FX(state);
  char path[PATH_MAX + 32], want[PATH_MAX + 160];
  snprintf(path, sizeof path, "%s/quota.policy", f->srv.tmp);
  /* the demo's policy as it stands, with bad quota lines added */
  run(f, "policy", "show", NULL);
  expect_code(f, 0);
  expect_out(f, "[quota]");
  expect_out(f, "role = lead 4");
  char *base = keep(f, f->out);
  size_t n = strlen(base) + 1024;
  char *text = malloc(n);
  assert_non_null(text);
  snprintf(text, n, "%s\n[quota]\nname = 坏规则\nunit_kind = village\nband = 500\nrole = boss 1\n"
                    "tier = 1 2\n", base);
  write_text(path, text);
  int lines = hs_count_lines(base);
  run(f, "policy", "load", path, NULL);
  expect_code(f, 2);
  snprintf(want, sizeof want, "%s:%d: `band = MIN_HOUSEHOLDS WORKERS`", path, lines + 5);
  expect_err(f, want);
  snprintf(want, sizeof want, "%s:%d: no role group `boss`", path, lines + 6);
  expect_err(f, want);
  snprintf(want, sizeof want, "%s:%d: `tier = MIN_RESIDENTS MIN_AREA_KM2 WORKERS`", path, lines + 7);
  expect_err(f, want);
  /* well formed, but a second rule for villages: the server names the line */
  snprintf(text, n, "%s\n[quota]\nname = 第二个村规则\nunit_kind = village\nrole = lead 1\n", base);
  write_text(path, text);
  run(f, "policy", "load", path, NULL);
  expect_code(f, 1);
  snprintf(want, sizeof want, "%s:%d: policy.quotas[", path, lines + 3);
  expect_err(f, want);
  expect_err(f, "is for the same units already");
  free(text);

  /* the staffing report of the demo, as the briefing table and as CSV */
  run(f, "report", "staffing", "--town", "320602001", NULL);
  expect_code(f, 0);
  expect_out(f, "编制与缺口");
  expect_out(f, "崇川 7+N");
  expect_out(f, "街镇中心档");
  expect_out(f, "the town centre and");
  run(f, "-o", "csv", "report", "staffing", NULL);
  expect_code(f, 0);
  expect_out(f, "unit_code,name,kind,level,quota,actual,gap");
  expect_out(f, "district (whole)");
  run(f, "report", "staffing", "--sort", "nonsense", NULL);
  expect_code(f, 1);
  expect_err(f, "sort");
  run(f, "report", "structure", NULL);
  expect_code(f, 0);
  expect_out(f, "队伍结构");
  expect_out(f, "30岁以下");
  run(f, "report", "turnover", "--hired-from", "2015", "--hired-to", "2017", "--gone-by",
      "2017-12-31", NULL);
  expect_code(f, 0);
  expect_kv(f, "hired_from", "2015");
  run(f, "report", "turnover", NULL);
  expect_code(f, 2);
  run(f, "report", "certification", "--town", "320602002", NULL);
  expect_code(f, 0);
  expect_out(f, "rate_percent");
  run(f, "report", "hiring", "--from-year", "2023", "--to-year", "2025", NULL);
  expect_code(f, 0);
  expect_out(f, "公开招考");
  f->done = 1;
}

/* The id of the first worker of unit (from the CLI). */
static uint64_t first_worker(fx *f, const char *unit) {
  run(f, "-o", "csv", "--columns", "id", "worker", "list", "--unit", unit, NULL);
  expect_code(f, 0);
  const char *nl = strchr(f->out, '\n');
  assert_non_null(nl);
  return strtoull(nl + 1, NULL, 10);
}

static void test_cli_assess_and_reports(void **state) {
  fx *f = FX(state);
  /* the demo's history is there: three years of results for an early hire */
  run(f, "assess", "list", "--worker-id", "2", "--kind", "年终", NULL);
  expect_code(f, 0);
  expect_out(f, "年终");
  expect_out(f, "2025");
  run(f, "worker", "levels", "2", NULL);
  expect_code(f, 0);

  uint64_t id = first_worker(f, "320602001001");
  char ids[24], path[PATH_MAX + 32], csv[512], want[PATH_MAX + 160];
  snprintf(ids, sizeof ids, "%llu", (unsigned long long)id);
  run(f, "assess", "add", "--worker-id", ids, "--kind", "专项", "--year", "2025",
      "--superior-score", "85", "--resident-score", "92", "--assessor", "测试组",
      "--assessed-on", "2025-12-01", NULL);
  expect_code(f, 0);
  expect_kv(f, "combined_score", "87.1");
  expect_kv(f, "grade", "合格");
  /* a score out of range names the field */
  run(f, "assess", "add", "--worker-id", ids, "--kind", "专项", "--year", "2025",
      "--superior-score", "100.5", "--resident-score", "92", "--assessor", "测试组",
      "--assessed-on", "2025-12-01", NULL);
  expect_code(f, 1);
  expect_err(f, "assessment.superior_score");

  /* bulk: one bad row, nothing recorded, the error on the file's line */
  snprintf(path, sizeof path, "%s/bulk.csv", f->srv.tmp);
  snprintf(csv, sizeof csv,
           "worker_id,kind,year,superior_score,resident_score,assessor,assessed_on\n"
           "%s,专项,2024,88,90,测试组,2024-12-20\n"
           "%s,专项,2024,188,90,测试组,2024-12-20\n",
           ids, ids);
  write_text(path, csv);
  run(f, "assess", "bulk", path, "--unit", "320602001001", NULL);
  expect_code(f, 1);
  snprintf(want, sizeof want, "%s:3: rows[1].assessment.superior_score", path);
  expect_err(f, want);
  expect_err(f, "nothing was recorded");
  run(f, "-o", "csv", "--columns", "year,kind", "assess", "list", "--worker-id", ids, "--year",
      "2024", "--kind", "专项", NULL);
  expect_code(f, 0);
  assert_int_equal(hs_count_lines(f->out), 1); /* the header only */
  snprintf(csv, sizeof csv,
           "worker_id,kind,year,superior_score,resident_score,assessor,assessed_on,household_visits\n"
           "%s,专项,2024,88,90,测试组,2024-12-20,230\n"
           "%s,专项,2024,78,90,测试组,2024-12-21,\n",
           ids, ids);
  write_text(path, csv);
  run(f, "assess", "bulk", path, "--unit", "320602001001", NULL);
  expect_code(f, 0);
  expect_out(f, "2 assessments recorded");

  /* the reports run on the demo's history */
  run(f, "report", "eligibility", "--as-of", "2025-12-31", NULL);
  expect_code(f, 0);
  expect_out(f, "四岗十二档");
  run(f, "-o", "csv", "report", "eligibility", "--as-of", "2025-12-31", NULL);
  expect_code(f, 0);
  expect_out(f, "worker_id,name,unit_code,rule");
  run(f, "report", "training-compliance", "--year", "2025", NULL);
  expect_code(f, 0);
  expect_out(f, "2025 年三必训");
  run(f, "report", "visits", "--year", "2025", "--town", "320602001", NULL);
  expect_code(f, 0);
  expect_out(f, "2025 年走访: 最低 200 户");
  run(f, "report", "visits", "--year", "2031", NULL);
  expect_code(f, 1);
  expect_err(f, "year");
  run(f, "report", "nonsense", NULL);
  expect_code(f, 2);

  /* training from the command line */
  run(f, "training", "course", "add", "--name", "测试课程", "--kind", "年度", "--hours", "8",
      "--start-date", "2025-03-01", "--end-date", "2025-03-02", NULL);
  expect_code(f, 0);
  char course[24];
  assert_non_null(kv_get(f->out, "id", course, sizeof course));
  run(f, "training", "attend", course, ids, NULL);
  expect_code(f, 0);
  run(f, "training", "attend", course, ids, NULL);
  expect_code(f, 1);
  expect_err(f, "already attended");
  run(f, "training", "list", "--worker-id", ids, NULL);
  expect_code(f, 0);
  expect_out(f, "测试课程");
  f->done = 1;
}


/* A transfer's full life from the command line. */
static void test_cli_transfer_life(void **state) {
  fx *f = FX(state);
  uint64_t id = first_worker(f, "320602001002");
  char ids[24], today[11], tid[24];
  snprintf(ids, sizeof ids, "%llu", (unsigned long long)id);
  sg_today(today, sizeof today);
  /* a community's worker to a village of the same town */
  run(f, "-o", "csv", "--columns", "code", "unit", "list", "320602001", "--kind", "village", NULL);
  expect_code(f, 0);
  char village[16] = "";
  const char *nl = strchr(f->out, '\n');
  assert_non_null(nl);
  snprintf(village, sizeof village, "%.12s", nl + 1);
  run(f, "transfer", "propose", "--kind", "居村交流", "--worker-id", ids, "--to-unit", village,
      "--effective-date", today, "--reason", "居村交流两年", NULL);
  expect_code(f, 0);
  expect_out(f, "居村交流 of worker");
  expect_out(f, "待审批");
  assert_int_equal(sscanf(f->out, "transfer %23s", tid), 1);
  run(f, "transfer", "propose", "--kind", "居村交流", "--worker-id", ids, "--to-unit", village,
      "--effective-date", today, "--reason", "again", NULL);
  expect_code(f, 1);
  expect_err(f, "FAILED_PRECONDITION");
  run(f, "transfer", "approve", tid, "--note", "同意", NULL);
  expect_code(f, 0);
  expect_out(f, "已生效");
  expect_out(f, "已批准 原街镇");
  run(f, "transfer", "show", tid, NULL);
  expect_code(f, 0);
  expect_out(f, "history:");
  expect_out(f, "took effect");
  run(f, "-o", "csv", "--columns", "id,state", "transfer", "list", "--worker-id", ids, NULL);
  expect_code(f, 0);
  expect_out(f, ",已生效");
  run(f, "worker", "history", ids, NULL);
  expect_code(f, 0);
  expect_out(f, "居村交流");
  run(f, "worker", "history", ids, "--on", today, NULL);
  expect_code(f, 0);
  expect_out(f, village);
  run(f, "transfer", "apply", NULL);
  expect_code(f, 0);
  expect_out(f, "nothing is due");
  run(f, "transfer", "cancel", tid, "--note", "late", NULL);
  expect_code(f, 1);
  expect_err(f, "can no longer be cancelled");
  run(f, "report", "placements", NULL);
  expect_code(f, 0);
  run(f, "transfer", "nonsense", NULL);
  expect_code(f, 2);
  f->done = 1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_cli_hello, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cli_demo_deterministic, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cli_lists, setup_demo, teardown),
      cmocka_unit_test_setup_teardown(test_cli_worker_lifecycle, setup_demo, teardown),
      cmocka_unit_test_setup_teardown(test_cli_units_and_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cli_policy_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cli_assess_and_reports, setup_demo, teardown),
      cmocka_unit_test_setup_teardown(test_cli_quota_file_and_staffing, setup_demo, teardown),
      cmocka_unit_test_setup_teardown(test_cli_transfer_life, setup_demo, teardown),
  };
  /* SG_TEST_FILTER=test_restart (a pattern with * and ?) runs some tests only */
  const char *filter = getenv("SG_TEST_FILTER");
  if (filter && *filter) cmocka_set_test_filter(filter);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
