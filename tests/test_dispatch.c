/* The method table: built from the descriptors, checked against the .proto text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "dispatch.h"
#include "methods.h"

static void test_every_method_has_a_handler(void **state) {
  (void)state;
  assert_int_equal(sg_dispatch_init(), 0);
  assert_true(sg_dispatch_count() >= 9);
  for (size_t i = 0; i < sg_dispatch_count(); i++) {
    const sg_dispatch_entry *e = sg_dispatch_at(i);
    if (!e->impl) fail_msg("%s has no handler", e->info->path);
    assert_string_equal(e->impl->path, e->info->path);
    /* sorted, so that lookup can bisect */
    if (i) assert_true(strcmp(sg_dispatch_at(i - 1)->info->path, e->info->path) < 0);
  }
}

/* Default deny: a method the access table forgets is refused to everyone; make it visible. */
static void test_every_method_has_an_access_rule(void **state) {
  (void)state;
  assert_int_equal(sg_dispatch_init(), 0);
  for (size_t i = 0; i < sg_dispatch_count(); i++)
    if (!sg_auth_has_rule(sg_dispatch_at(i)->info->path))
      fail_msg("%s has no rule in auth.c's acl[]", sg_dispatch_at(i)->info->path);
}

static void test_lookup(void **state) {
  (void)state;
  assert_int_equal(sg_dispatch_init(), 0);
  const sg_dispatch_entry *e = sg_dispatch_lookup("/shegong.v1.Workers/Get");
  assert_non_null(e);
  assert_int_equal(e->impl->kind, SG_METHOD_READ);
  assert_string_equal(e->info->method->input->name, "shegong.v1.GetWorkerRequest");
  assert_string_equal(e->info->method->output->name, "shegong.v1.Worker");
  e = sg_dispatch_lookup("/shegong.v1.Workers/Create");
  assert_non_null(e);
  assert_int_equal(e->impl->kind, SG_METHOD_WRITE);
  assert_null(sg_dispatch_lookup("/shegong.v1.Workers/Nope"));
  assert_null(sg_dispatch_lookup("Workers/Get")); /* the wire wants full paths */
  assert_null(sg_dispatch_lookup(""));
  assert_non_null(sg_methods_find("Workers/Get"));
  assert_ptr_equal(sg_methods_find("Workers/Get"), sg_methods_find("/shegong.v1.Workers/Get"));
  char longname[300];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  assert_null(sg_methods_find(longname));
}

/*
 * protoc-c drops `stream`: the table's streaming flags must agree with the
 * .proto text, read here with a deliberately simple scan of rpc lines.
 */
static void test_streaming_flags_match_proto(void **state) {
  (void)state;
  static const char *const files[] = {"admin", "units", "workers", "sync", "auth", "audit", "policy", "assessments", "training", "transfers", "reports", NULL};
  size_t rpcs = 0;
  for (size_t f = 0; files[f]; f++) {
    char path[512];
    snprintf(path, sizeof path, "%s/proto/shegong/v1/%s.proto", SHEGONG_SOURCE_DIR, files[f]);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char line[512], service[64] = "";
    while (fgets(line, sizeof line, fp)) {
      char name[64];
      if (sscanf(line, " service %63s", service) == 1) continue;
      if (sscanf(line, " rpc %63[A-Za-z0-9_](", name) != 1) continue;
      char full[160];
      snprintf(full, sizeof full, "/shegong.v1.%s/%s", service, name);
      const sg_method_info *mi = sg_methods_find(full);
      if (!mi) fail_msg("%s is in %s but not in the method table", full, files[f]);
      int streams = strstr(line, "returns (stream") != NULL;
      assert_int_equal(mi->server_streaming, streams);
      rpcs++;
    }
    fclose(fp);
  }
  assert_int_equal(rpcs, sg_methods_count());
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_method_has_a_handler),
      cmocka_unit_test(test_every_method_has_an_access_rule),
      cmocka_unit_test(test_lookup),
      cmocka_unit_test(test_streaming_flags_match_proto),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
