#include "dispatch.h"

#include <string.h>
#include <time.h>

#include "log.h"
#include "timeutil.h"

static const sg_method_impl *const impl_lists[] = {sg_svc_admin, sg_svc_units, sg_svc_workers,
                                                   sg_svc_sync, sg_svc_tokens, sg_svc_audit,
                                                   sg_svc_policies, sg_svc_assessments,
                                                   sg_svc_training, sg_svc_transfers, sg_svc_reports,
                                                   NULL};

#define SG_DISPATCH_MAX 128
static sg_dispatch_entry table[SG_DISPATCH_MAX];
static size_t n_table;

int sg_dispatch_init(void) {
  if (n_table) return 0;
  size_t n = sg_methods_count();
  if (n > SG_DISPATCH_MAX) {
    sg_error("dispatch: %zu methods exceed the table's %d", n, SG_DISPATCH_MAX);
    return SG_EINTERNAL;
  }
  /* entries keep sg_methods' order (sorted by path), so lookup can bisect */
  for (size_t i = 0; i < n; i++) {
    table[i].info = sg_methods_at(i);
    table[i].impl = NULL;
  }
  int err = 0;
  for (size_t l = 0; impl_lists[l]; l++) {
    for (const sg_method_impl *m = impl_lists[l]; m->path; m++) {
      const sg_method_info *info = sg_methods_find(m->path);
      if (!info || !m->handler ||
          (m->kind != SG_METHOD_READ && m->kind != SG_METHOD_WRITE && m->kind != SG_METHOD_BLOCKING &&
           m->kind != SG_METHOD_REPORT)) {
        sg_error("dispatch: handler %s has no method in the .proto services or is malformed",
                 m->path);
        err = SG_EINTERNAL;
        continue;
      }
      table[info - sg_methods_at(0)].impl = m;
    }
  }
  n_table = n;
  for (size_t i = 0; i < n; i++)
    if (!table[i].impl) sg_warn("dispatch: %s has no handler (UNIMPLEMENTED)", table[i].info->path);
  return err;
}

const sg_dispatch_entry *sg_dispatch_lookup(const char *path) {
  size_t lo = 0, hi = n_table;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(path, table[mid].info->path);
    if (c == 0) return &table[mid];
    if (c < 0) hi = mid;
    else lo = mid + 1;
  }
  return NULL;
}

size_t sg_dispatch_count(void) { return n_table; }

const sg_dispatch_entry *sg_dispatch_at(size_t i) { return i < n_table ? &table[i] : NULL; }

size_t sg_dispatch_index(const sg_dispatch_entry *e) { return (size_t)(e - table); }

void sg_call_ctx_stamp(sg_call_ctx *ctx) {
  /* the strings change once a second: formatting them per call showed in profiles */
  static __thread time_t cached;
  static __thread char now[32], today[11];
  time_t t = time(NULL);
  if (t != cached) {
    sg_now_rfc3339(now, sizeof now);
    sg_today(today, sizeof today);
    cached = t;
  }
  memcpy(ctx->now, now, sizeof ctx->now);
  memcpy(ctx->today, today, sizeof ctx->today);
}
