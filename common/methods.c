#include "methods.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shegong/v1/admin.pb-c.h"
#include "shegong/v1/assessments.pb-c.h"
#include "shegong/v1/policy.pb-c.h"
#include "shegong/v1/training.pb-c.h"
#include "shegong/v1/reports.pb-c.h"
#include "shegong/v1/transfers.pb-c.h"
#include "shegong/v1/audit.pb-c.h"
#include "shegong/v1/auth.pb-c.h"
#include "shegong/v1/sync.pb-c.h"
#include "shegong/v1/units.pb-c.h"
#include "shegong/v1/workers.pb-c.h"

const ProtobufCServiceDescriptor *const sg_services[] = {
    &shegong__v1__admin__descriptor,
    &shegong__v1__units__descriptor,
    &shegong__v1__workers__descriptor,
    &shegong__v1__sync__descriptor,
    &shegong__v1__tokens__descriptor,
    &shegong__v1__audit__descriptor,
    &shegong__v1__policies__descriptor,
    &shegong__v1__assessments__descriptor,
    &shegong__v1__training__descriptor,
    &shegong__v1__transfers__descriptor,
    &shegong__v1__reports__descriptor,
    NULL,
};

/* Methods declared `returns (stream …)` in the .proto files. */
static const char *const sg_streaming_methods[] = {
    "/shegong.v1.Sync/Pull",
    "/shegong.v1.Sync/Snapshot",
    "/shegong.v1.Sync/Watch",
    NULL,
};

#define SG_METHODS_MAX 128
static sg_method_info table[SG_METHODS_MAX];
static size_t n_table;

static int cmp_info(const void *a, const void *b) {
  return strcmp(((const sg_method_info *)a)->path, ((const sg_method_info *)b)->path);
}

static pthread_once_t built = PTHREAD_ONCE_INIT;

static void build_table(void) {
  for (size_t s = 0; sg_services[s]; s++) {
    const ProtobufCServiceDescriptor *sd = sg_services[s];
    for (unsigned m = 0; m < sd->n_methods && n_table < SG_METHODS_MAX; m++) {
      sg_method_info *mi = &table[n_table++];
      snprintf(mi->path, sizeof mi->path, "/%s/%s", sd->name, sd->methods[m].name);
      mi->service = sd;
      mi->method = &sd->methods[m];
      mi->server_streaming = 0;
      for (size_t k = 0; sg_streaming_methods[k]; k++)
        if (strcmp(sg_streaming_methods[k], mi->path) == 0) mi->server_streaming = 1;
    }
  }
  qsort(table, n_table, sizeof table[0], cmp_info);
}

/* clients may make their first call from several threads at once */
static void build(void) { pthread_once(&built, build_table); }

size_t sg_methods_count(void) {
  build();
  return n_table;
}

const sg_method_info *sg_methods_at(size_t i) {
  build();
  return i < n_table ? &table[i] : NULL;
}

const sg_method_info *sg_methods_find(const char *name) {
  build();
  char buf[128];
  if (name[0] != '/') {
    /* short form: "Workers/Get" */
    if (snprintf(buf, sizeof buf, "/" SG_PACKAGE ".%s", name) >= (int)sizeof buf) return NULL;
    name = buf;
  }
  sg_method_info key;
  if (strlen(name) >= sizeof key.path) return NULL;
  strcpy(key.path, name);
  return bsearch(&key, table, n_table, sizeof table[0], cmp_info);
}
