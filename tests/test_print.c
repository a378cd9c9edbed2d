/*
 * Tests of the generic printer, the enum labels and the field parser. Output
 * is compared byte for byte: alignment and escaping are what is under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"
#include "error.h"
#include "labels.h"
#include "msgparse.h"
#include "print.h"
#include "shegong/v1/units.pb-c.h"
#include "shegong/v1/workers.pb-c.h"

/* Prints m into a string the caller frees; *rc gets sg_print_message's result. */
static char *render(const ProtobufCMessage *m, sg_format format, const char *columns,
                    const char *hide, int *rc) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  sg_print_opts o = {format, columns, hide};
  *rc = sg_print_message(f, m, &o);
  fclose(f);
  return buf;
}

static void check_output(const ProtobufCMessage *m, sg_format format, const char *columns,
                         const char *hide, const char *want) {
  int rc;
  char *got = render(m, format, columns, hide, &rc);
  assert_int_equal(rc, 0);
  assert_string_equal(got, want);
  free(got);
}

/* ---- display width ------------------------------------------------------ */

static void test_display_width(void **state) {
  (void)state;
  assert_int_equal(sg_display_width(""), 0);
  assert_int_equal(sg_display_width("abc"), 3);
  assert_int_equal(sg_display_width("张三"), 4);
  assert_int_equal(sg_display_width("a张b三c"), 7);
  assert_int_equal(sg_display_width("ＡＢ"), 4);       /* fullwidth forms */
  assert_int_equal(sg_display_width("e\xcc\x81"), 1); /* e + combining acute */
  assert_int_equal(sg_display_width("a\xe2\x80\x8b" "b"), 2); /* zero-width space */
  assert_int_equal(sg_display_width("\xff" "a"), 2);
  assert_int_equal(sg_display_width("\xe5\xbc"), 2); /* truncated 张: two bad bytes */
  assert_int_equal(sg_display_width("\xc0\xaf"), 2); /* overlong '/' */
  assert_int_equal(sg_display_width(NULL), 0);
}

static void test_format_from_name(void **state) {
  (void)state;
  assert_int_equal(sg_format_from_name("table"), SG_FORMAT_TABLE);
  assert_int_equal(sg_format_from_name("json"), SG_FORMAT_JSON);
  assert_int_equal(sg_format_from_name("csv"), SG_FORMAT_CSV);
  assert_int_equal(sg_format_from_name("xml"), -1);
  assert_int_equal(sg_format_from_name(NULL), -1);
}

/* ---- labels -------------------------------------------------------------- */

static void test_label_for(void **state) {
  (void)state;
  assert_string_equal(sg_label_for(&shegong__v1__education__descriptor, 3), "本科");
  assert_string_equal(sg_label_for(&shegong__v1__unit_kind__descriptor, 3), "居委会");
  assert_string_equal(sg_label_for(&shegong__v1__worker_status__descriptor, 2), "首年下沉");
  assert_string_equal(sg_label_for(&shegong__v1__source__descriptor, 10), "网格员转任");
  assert_null(sg_label_for(&shegong__v1__education__descriptor, 0));
  assert_null(sg_label_for(&shegong__v1__education__descriptor, 99));
  assert_null(sg_label_for(NULL, 1));
}

/* Every non-zero value of every enum we show has a label. */
static void test_label_coverage(void **state) {
  (void)state;
  const ProtobufCEnumDescriptor *enums[] = {
      &shegong__v1__unit_kind__descriptor, &shegong__v1__gender__descriptor,
      &shegong__v1__education__descriptor, &shegong__v1__category__descriptor,
      &shegong__v1__role__descriptor,      &shegong__v1__source__descriptor,
      &shegong__v1__certification__descriptor, &shegong__v1__worker_status__descriptor,
  };
  for (size_t i = 0; i < sizeof enums / sizeof enums[0]; i++) {
    for (unsigned k = 0; k < enums[i]->n_values; k++) {
      int v = enums[i]->values[k].value;
      const char *label = sg_label_for(enums[i], v);
      if (v == 0) continue;
      assert_non_null(label);
      int back = -1;
      assert_int_equal(sg_label_parse(enums[i], label, &back), 0);
      assert_int_equal(back, v);
    }
  }
}

static void test_label_parse(void **state) {
  (void)state;
  const ProtobufCEnumDescriptor *edu = &shegong__v1__education__descriptor;
  const ProtobufCEnumDescriptor *kind = &shegong__v1__unit_kind__descriptor;
  int v = -1;
  assert_int_equal(sg_label_parse(edu, "本科", &v), 0);
  assert_int_equal(v, 3);
  v = -1;
  assert_int_equal(sg_label_parse(edu, "bachelor", &v), 0);
  assert_int_equal(v, 3);
  v = -1;
  assert_int_equal(sg_label_parse(edu, "BACHELOR", &v), 0);
  assert_int_equal(v, 3);
  v = -1;
  assert_int_equal(sg_label_parse(edu, "3", &v), 0);
  assert_int_equal(v, 3);
  assert_int_equal(sg_label_parse(edu, "high-school-or-below", &v), 0);
  assert_int_equal(v, 1);
  assert_int_equal(sg_label_parse(edu, "硕士", &v), 0);
  assert_int_equal(v, 4);
  assert_int_equal(sg_label_parse(edu, "专科", &v), 0);
  assert_int_equal(v, 2);
  assert_int_equal(sg_label_parse(edu, "unspecified", &v), 0);
  assert_int_equal(v, 0);

  assert_int_equal(sg_label_parse(kind, "community", &v), 0);
  assert_int_equal(v, 3);
  assert_int_equal(sg_label_parse(kind, "居委会", &v), 0);
  assert_int_equal(v, 3);
  assert_int_equal(sg_label_parse(kind, "社区", &v), 0);
  assert_int_equal(v, 3);
  assert_int_equal(sg_label_parse(kind, "街道", &v), 0);
  assert_int_equal(v, 2);
  assert_int_equal(sg_label_parse(kind, "unit_kind_district", &v), 0);
  assert_int_equal(v, 1);
  assert_int_equal(sg_label_parse(&shegong__v1__gender__descriptor, "女性", &v), 0);
  assert_int_equal(v, 2);
  assert_int_equal(sg_label_parse(&shegong__v1__certification__descriptor, "none", &v), 0);
  assert_int_equal(v, 0);
  assert_int_equal(sg_label_parse(&shegong__v1__worker_status__descriptor, "left", &v), 0);
  assert_int_equal(v, 4);

  v = 42;
  assert_int_equal(sg_label_parse(edu, "bogus", &v), SG_EINVAL);
  assert_int_equal(v, 42);
  assert_int_equal(sg_label_parse(edu, "99", &v), SG_EINVAL);
  assert_int_equal(sg_label_parse(edu, "3x", &v), SG_EINVAL);
  assert_int_equal(sg_label_parse(edu, "", &v), SG_EINVAL);
  assert_int_equal(sg_label_parse(edu, "居委会", &v), SG_EINVAL); /* another enum's label */
  assert_int_equal(sg_label_parse(edu, NULL, &v), SG_EINVAL);
}

/* ---- table ---------------------------------------------------------------- */

/* Two workers, one with a Chinese name, as a ListWorkersResponse. */
typedef struct fixture {
  Shegong__V1__Worker w[2];
  Shegong__V1__Worker *ptr[2];
  Shegong__V1__ListWorkersResponse list;
} fixture;

static void fixture_init(fixture *fx) {
  Shegong__V1__Worker w0 = SHEGONG__V1__WORKER__INIT;
  Shegong__V1__ListWorkersResponse l = SHEGONG__V1__LIST_WORKERS_RESPONSE__INIT;
  fx->w[0] = w0;
  fx->w[1] = w0;
  fx->w[0].id = 1;
  fx->w[0].name = "张三";
  fx->w[0].gender = SHEGONG__V1__GENDER__MALE;
  fx->w[0].phone = "13800000001";
  fx->w[0].education = SHEGONG__V1__EDUCATION__BACHELOR;
  fx->w[0].status = SHEGONG__V1__WORKER_STATUS__ACTIVE;
  fx->w[1].id = 12;
  fx->w[1].name = "Alice";
  fx->w[1].gender = SHEGONG__V1__GENDER__FEMALE;
  fx->w[1].education = SHEGONG__V1__EDUCATION__COLLEGE;
  fx->w[1].party_member = 1;
  fx->ptr[0] = &fx->w[0];
  fx->ptr[1] = &fx->w[1];
  fx->list = l;
  fx->list.n_workers = 2;
  fx->list.workers = fx->ptr;
}

static void test_table_list_aligns(void **state) {
  (void)state;
  fixture fx;
  fixture_init(&fx);
  fx.list.next_page_token = "p2";
  /* Columns: the fields set in some row, padded by display width, two spaces apart. */
  check_output(&fx.list.base, SG_FORMAT_TABLE, NULL, NULL,
               "id" "  " "name " "  " "gender" "  " "phone      " "  " "education" "  "
               "party_member" "  " "status\n"
               "1 " "  " "张三 " "  " "男    " "  " "13800000001" "  " "本科     " "  "
               "            " "  " "在岗\n"
               "12" "  " "Alice" "  " "女    " "  " "           " "  " "大专     " "  "
               "是\n"
               "\n"
               "next_page_token: p2\n");
}

static void test_table_columns_and_hide(void **state) {
  (void)state;
  fixture fx;
  fixture_init(&fx);
  check_output(&fx.list.base, SG_FORMAT_TABLE, "name, id", NULL,
               "name   id\n"
               "张三   1\n"
               "Alice  12\n");
  check_output(&fx.list.base, SG_FORMAT_TABLE, "name,party-member,phone", "phone",
               "name   party_member\n"
               "张三\n"
               "Alice  是\n");
  check_output(&fx.list.base, SG_FORMAT_TABLE, NULL, "gender,education,phone,status,party_member",
               "id  name\n"
               "1   张三\n"
               "12  Alice\n");
  int rc;
  char *got = render(&fx.list.base, SG_FORMAT_TABLE, "name,salary", NULL, &rc);
  assert_int_equal(rc, SG_EINVAL);
  free(got);
}

static void test_table_no_rows(void **state) {
  (void)state;
  Shegong__V1__ListWorkersResponse l = SHEGONG__V1__LIST_WORKERS_RESPONSE__INIT;
  check_output(&l.base, SG_FORMAT_TABLE, NULL, NULL, "(no rows)\n");
  l.next_page_token = "abc";
  check_output(&l.base, SG_FORMAT_TABLE, NULL, NULL, "(no rows)\n\nnext_page_token: abc\n");
}

static void test_table_plain_message(void **state) {
  (void)state;
  Shegong__V1__Worker w = SHEGONG__V1__WORKER__INIT;
  w.id = 5;
  w.name = "张三";
  w.phone = "138\n0000"; /* a newline must not break the layout */
  w.party_member = 1;
  w.certification = SHEGONG__V1__CERTIFICATION__SENIOR_SOCIAL_WORKER;
  check_output(&w.base, SG_FORMAT_TABLE, NULL, "phone-x",
               "id             5\n"
               "name           张三\n"
               "phone          138 0000\n"
               "party_member   是\n"
               "certification  高级社会工作师\n");

  Shegong__V1__Unit u = SHEGONG__V1__UNIT__INIT;
  u.kind = SHEGONG__V1__UNIT_KIND__COMMUNITY;
  u.households = 1200;
  u.aged_60_percent = 23.5;
  check_output(&u.base, SG_FORMAT_TABLE, NULL, "households",
               "kind             居委会\n"
               "aged_60_percent  23.5\n");

  Shegong__V1__CreateWorkerRequest req = SHEGONG__V1__CREATE_WORKER_REQUEST__INIT;
  Shegong__V1__Worker inner = SHEGONG__V1__WORKER__INIT;
  inner.name = "x";
  inner.level = 3;
  req.worker = &inner;
  check_output(&req.base, SG_FORMAT_TABLE, NULL, NULL,
               "worker.name   x\n"
               "worker.level  3\n");

  Shegong__V1__Worker empty = SHEGONG__V1__WORKER__INIT;
  check_output(&empty.base, SG_FORMAT_TABLE, NULL, NULL, "(empty)\n");
}

/* ---- csv ------------------------------------------------------------------ */

static void test_csv_quoting(void **state) {
  (void)state;
  fixture fx;
  fixture_init(&fx);
  fx.w[0].name = "Li, \"Xiao\" Ming";
  fx.w[1].post = "line1\nline2";
  fx.list.next_page_token = "p2"; /* not data: stays out of the CSV */
  check_output(&fx.list.base, SG_FORMAT_CSV, NULL, NULL,
               "id,name,gender,phone,education,party_member,post,status\n"
               "1,\"Li, \"\"Xiao\"\" Ming\",男,13800000001,本科,,,在岗\n"
               "12,Alice,女,,大专,true,\"line1\nline2\",\n");
  check_output(&fx.list.base, SG_FORMAT_CSV, "education,id", NULL,
               "education,id\n"
               "本科,1\n"
               "大专,12\n");

  Shegong__V1__Unit u = SHEGONG__V1__UNIT__INIT;
  u.code = "320602001001";
  u.name = "和平社区";
  check_output(&u.base, SG_FORMAT_CSV, NULL, NULL,
               "code,name\n"
               "320602001001,和平社区\n");
}

/* ---- json ----------------------------------------------------------------- */

static void test_json_escaping_and_types(void **state) {
  (void)state;
  Shegong__V1__Worker w = SHEGONG__V1__WORKER__INIT;
  w.id = UINT64_MAX;
  w.name = "a\"b\\c\nd\x01张";
  w.education = SHEGONG__V1__EDUCATION__BACHELOR;
  w.party_member = 1;
  w.level = 7;
  check_output(&w.base, SG_FORMAT_JSON, NULL, NULL,
               "{\n"
               "  \"id\": \"18446744073709551615\",\n"
               "  \"name\": \"a\\\"b\\\\c\\nd\\u0001张\",\n"
               "  \"education\": \"BACHELOR\",\n"
               "  \"party_member\": true,\n"
               "  \"level\": 7\n"
               "}\n");

  Shegong__V1__Unit u = SHEGONG__V1__UNIT__INIT;
  u.aged_60_percent = 0.1;
  u.kind = SHEGONG__V1__UNIT_KIND__GRID;
  check_output(&u.base, SG_FORMAT_JSON, NULL, NULL,
               "{\n"
               "  \"kind\": \"GRID\",\n"
               "  \"aged_60_percent\": 0.1\n"
               "}\n");

  Shegong__V1__Worker empty = SHEGONG__V1__WORKER__INIT;
  check_output(&empty.base, SG_FORMAT_JSON, NULL, "id", "{}\n");
}

static void test_json_list(void **state) {
  (void)state;
  fixture fx;
  fixture_init(&fx);
  Shegong__V1__Worker a = SHEGONG__V1__WORKER__INIT, b = SHEGONG__V1__WORKER__INIT;
  a.id = 1;
  a.name = "张三";
  b.id = 2;
  fx.w[0] = a;
  fx.w[1] = b;
  fx.list.next_page_token = "p2";
  check_output(&fx.list.base, SG_FORMAT_JSON, NULL, NULL,
               "{\n"
               "  \"workers\": [\n"
               "    {\n"
               "      \"id\": \"1\",\n"
               "      \"name\": \"张三\"\n"
               "    },\n"
               "    {\n"
               "      \"id\": \"2\"\n"
               "    }\n"
               "  ],\n"
               "  \"next_page_token\": \"p2\"\n"
               "}\n");

  Shegong__V1__UpdateWorkerRequest r = SHEGONG__V1__UPDATE_WORKER_REQUEST__INIT;
  char *mask[] = {"phone", "education"};
  r.id = 9;
  r.n_update_mask = 2;
  r.update_mask = mask;
  check_output(&r.base, SG_FORMAT_JSON, NULL, NULL,
               "{\n"
               "  \"id\": \"9\",\n"
               "  \"update_mask\": [\n"
               "    \"phone\",\n"
               "    \"education\"\n"
               "  ]\n"
               "}\n");
}

static void test_print_errors(void **state) {
  (void)state;
  Shegong__V1__Worker w = SHEGONG__V1__WORKER__INIT;
  sg_print_opts bad = {(sg_format)7, NULL, NULL};
  FILE *f = tmpfile();
  assert_non_null(f);
  assert_int_equal(sg_print_message(f, &w.base, &bad), SG_EINVAL);
  assert_int_equal(sg_print_message(f, NULL, NULL), SG_EINVAL);
  fclose(f);

  /* A stream opened for reading cannot be written: the error is EIO. */
  f = fopen("/dev/null", "r");
  assert_non_null(f);
  w.id = 1;
  assert_int_equal(sg_print_message(f, &w.base, NULL), SG_EIO);
  fclose(f);
}

/* ---- msgparse ------------------------------------------------------------- */

static void test_find_field(void **state) {
  (void)state;
  const ProtobufCFieldDescriptor *f =
      sg_msg_find_field(&shegong__v1__worker__descriptor, "id-number");
  assert_non_null(f);
  assert_string_equal(f->name, "id_number");
  assert_non_null(sg_msg_find_field(&shegong__v1__worker__descriptor, "party_member"));
  assert_null(sg_msg_find_field(&shegong__v1__worker__descriptor, "salary"));
  assert_null(sg_msg_find_field(&shegong__v1__worker__descriptor, ""));
  char longname[300];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  assert_null(sg_msg_find_field(&shegong__v1__worker__descriptor, longname));
}

static void test_set_fields(void **state) {
  (void)state;
  sg_arena a;
  sg_arena_init(&a, 0);
  Shegong__V1__Worker w = SHEGONG__V1__WORKER__INIT;
  char why[128];
  ProtobufCMessage *m = &w.base;

  assert_int_equal(sg_msg_set_field(m, &a.allocator, "name", "张三", why, sizeof why), 0);
  assert_string_equal(w.name, "张三");
  assert_int_equal(sg_msg_set_field(m, &a.allocator, "id-number", "110101199003071234", why,
                                    sizeof why), 0);
  assert_string_equal(w.id_number, "110101199003071234");
  assert_int_equal(sg_msg_set_field(m, &a.allocator, "level", "4294967295", why, sizeof why), 0);
  assert_int_equal(w.level, 4294967295u);
  assert_int_equal(sg_msg_set_field(m, &a.allocator, "id", "18446744073709551615", why,
                                    sizeof why), 0);
  assert_true(w.id == UINT64_MAX);
  assert_int_equal(sg_msg_set_field(m, &a.allocator, "party-member", "是", why, sizeof why), 0);
  assert_true(w.party_member);
  assert_int_equal(sg_msg_set_field(m, &a.allocator, "party_member", "FALSE", why, sizeof why),
                   0);
  assert_false(w.party_member);
  assert_int_equal(sg_msg_set_field(m, &a.allocator, "education", "本科", why, sizeof why), 0);
  assert_int_equal(w.education, SHEGONG__V1__EDUCATION__BACHELOR);
  assert_int_equal(sg_msg_set_field(m, &a.allocator, "status", "left", why, sizeof why), 0);
  assert_int_equal(w.status, SHEGONG__V1__WORKER_STATUS__LEFT);
  assert_int_equal(sg_msg_set_field(m, NULL, "gender", "2", NULL, 0), 0);
  assert_int_equal(w.gender, SHEGONG__V1__GENDER__FEMALE);

  Shegong__V1__Unit u = SHEGONG__V1__UNIT__INIT;
  assert_int_equal(
      sg_msg_set_field(&u.base, &a.allocator, "aged-60-percent", "23.5", why, sizeof why), 0);
  assert_true(u.aged_60_percent == 23.5);
  assert_int_equal(sg_msg_set_field(&u.base, &a.allocator, "kind", "居委会", why, sizeof why), 0);
  assert_int_equal(u.kind, SHEGONG__V1__UNIT_KIND__COMMUNITY);
  sg_arena_destroy(&a);
}

static void test_set_field_errors(void **state) {
  (void)state;
  sg_arena a;
  sg_arena_init(&a, 0);
  Shegong__V1__Worker w = SHEGONG__V1__WORKER__INIT;
  ProtobufCMessage *m = &w.base;
  char why[128];
  w.level = 7;
  w.id = 5;

  why[0] = '\0';
  assert_int_equal(sg_msg_set_field(m, &a.allocator, "level", "12x", why, sizeof why), SG_EINVAL);
  assert_true(why[0] != '\0');
  assert_int_equal(sg_msg_set_field(m, &a.allocator, "level", "4294967296", why, sizeof why),
                   SG_EINVAL);
  why[0] = '\0';
  assert_int_equal(sg_msg_set_field(m, &a.allocator, "level", "-1", why, sizeof why), SG_EINVAL);
  assert_non_null(strstr(why, "negative"));
  assert_int_equal(sg_msg_set_field(m, &a.allocator, "level", "", why, sizeof why), SG_EINVAL);
  assert_int_equal(sg_msg_set_field(m, &a.allocator, "level", " 7", why, sizeof why), SG_EINVAL);
  assert_int_equal(sg_msg_set_field(m, &a.allocator, "id", "-1", why, sizeof why), SG_EINVAL);
  assert_int_equal(
      sg_msg_set_field(m, &a.allocator, "id", "18446744073709551616", why, sizeof why),
      SG_EINVAL);
  assert_int_equal(w.level, 7); /* a rejected value changes nothing */
  assert_true(w.id == 5);

  assert_int_equal(sg_msg_set_field(m, &a.allocator, "party_member", "maybe", why, sizeof why),
                   SG_EINVAL);
  assert_int_equal(sg_msg_set_field(m, &a.allocator, "education", "bogus", why, sizeof why),
                   SG_EINVAL);
  why[0] = '\0';
  assert_int_equal(sg_msg_set_field(m, &a.allocator, "salary", "1", why, sizeof why),
                   SG_ENOTFOUND);
  assert_non_null(strstr(why, "salary"));

  Shegong__V1__Unit u = SHEGONG__V1__UNIT__INIT;
  assert_int_equal(
      sg_msg_set_field(&u.base, &a.allocator, "aged_60_percent", "1e999", why, sizeof why),
      SG_EINVAL);
  assert_int_equal(
      sg_msg_set_field(&u.base, &a.allocator, "aged_60_percent", "nan", why, sizeof why),
      SG_EINVAL);
  assert_int_equal(
      sg_msg_set_field(&u.base, &a.allocator, "aged_60_percent", "2.5%", why, sizeof why),
      SG_EINVAL);

  Shegong__V1__CreateWorkerRequest req = SHEGONG__V1__CREATE_WORKER_REQUEST__INIT;
  assert_int_equal(sg_msg_set_field(&req.base, &a.allocator, "worker", "x", why, sizeof why),
                   SG_EINVAL);
  sg_arena_destroy(&a);
}

/* With the malloc allocator the message owns what is set, as free_unpacked expects. */
static void test_set_repeated_append(void **state) {
  (void)state;
  Shegong__V1__UpdateWorkerRequest *r = malloc(sizeof *r);
  assert_non_null(r);
  shegong__v1__update_worker_request__init(r);
  assert_int_equal(sg_msg_set_field(&r->base, NULL, "update-mask", "phone", NULL, 0), 0);
  assert_int_equal(sg_msg_set_field(&r->base, NULL, "update_mask", "education", NULL, 0), 0);
  assert_int_equal(sg_msg_set_field(&r->base, NULL, "update_mask", "name", NULL, 0), 0);
  assert_int_equal(r->n_update_mask, 3);
  assert_string_equal(r->update_mask[0], "phone");
  assert_string_equal(r->update_mask[1], "education");
  assert_string_equal(r->update_mask[2], "name");
  assert_int_equal(sg_msg_set_field(&r->base, NULL, "expected-version", "3", NULL, 0), 0);
  assert_int_equal(r->expected_version, 3);
  protobuf_c_message_free_unpacked(&r->base, NULL);

  Shegong__V1__Worker *w = malloc(sizeof *w);
  assert_non_null(w);
  shegong__v1__worker__init(w);
  assert_int_equal(sg_msg_set_field(&w->base, NULL, "name", "first", NULL, 0), 0);
  assert_int_equal(sg_msg_set_field(&w->base, NULL, "name", "second", NULL, 0), 0);
  assert_string_equal(w->name, "second");
  protobuf_c_message_free_unpacked(&w->base, NULL);

  sg_arena a;
  sg_arena_init(&a, 0);
  Shegong__V1__UpdateWorkerRequest r2 = SHEGONG__V1__UPDATE_WORKER_REQUEST__INIT;
  for (int i = 0; i < 20; i++)
    assert_int_equal(sg_msg_set_field(&r2.base, &a.allocator, "update_mask", "phone", NULL, 0),
                     0);
  assert_int_equal(r2.n_update_mask, 20);
  assert_string_equal(r2.update_mask[19], "phone");
  sg_arena_destroy(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_display_width),
      cmocka_unit_test(test_format_from_name),
      cmocka_unit_test(test_label_for),
      cmocka_unit_test(test_label_coverage),
      cmocka_unit_test(test_label_parse),
      cmocka_unit_test(test_table_list_aligns),
      cmocka_unit_test(test_table_columns_and_hide),
      cmocka_unit_test(test_table_no_rows),
      cmocka_unit_test(test_table_plain_message),
      cmocka_unit_test(test_csv_quoting),
      cmocka_unit_test(test_json_escaping_and_types),
      cmocka_unit_test(test_json_list),
      cmocka_unit_test(test_print_errors),
      cmocka_unit_test(test_find_field),
      cmocka_unit_test(test_set_fields),
      cmocka_unit_test(test_set_field_errors),
      cmocka_unit_test(test_set_repeated_append),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
