#include "net/reflect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "grpc/reflection/v1alpha/reflection.pb-c.h"
#include "log.h"

/* tools/embed.cmake: protoc's FileDescriptorSet of every served .proto */
extern const unsigned char sg_descriptor_set[];
extern const size_t sg_descriptor_set_len;

typedef struct refl_file {
  const char *name;
  ProtobufCBinaryData bytes; /* this file's FileDescriptorProto, packed */
  size_t n_deps;
  size_t *deps;              /* indexes of the files it imports */
} refl_file;

typedef struct refl_symbol {
  char *name;                /* fully qualified, no leading dot */
  size_t file;
} refl_symbol;

static struct {
  Google__Protobuf__FileDescriptorSet *set;
  refl_file *files;
  size_t n_files;
  refl_symbol *symbols;
  size_t n_symbols, cap_symbols;
  char **services;           /* fully qualified service names, in file order */
  size_t n_services;
} R;

int sg_reflect_is_path(const char *path) {
  return strcmp(path, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo") == 0 ||
         strcmp(path, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo") == 0;
}

static char *qualify(const char *scope, const char *name) {
  size_t a = scope && scope[0] ? strlen(scope) + 1 : 0, b = strlen(name);
  char *s = malloc(a + b + 1);
  if (!s) return NULL;
  if (a) {
    memcpy(s, scope, a - 1);
    s[a - 1] = '.';
  }
  memcpy(s + a, name, b + 1);
  return s;
}

static int add_symbol(const char *scope, const char *name, size_t file, char **made) {
  if (R.n_symbols == R.cap_symbols) {
    size_t cap = R.cap_symbols ? R.cap_symbols * 2 : 256;
    refl_symbol *n = realloc(R.symbols, cap * sizeof *n);
    if (!n) return SG_ENOMEM;
    R.symbols = n;
    R.cap_symbols = cap;
  }
  char *q = qualify(scope, name);
  if (!q) return SG_ENOMEM;
  R.symbols[R.n_symbols++] = (refl_symbol){q, file};
  if (made) *made = q;
  return 0;
}

static int add_message(const char *scope, const Google__Protobuf__DescriptorProto *m, size_t file) {
  char *q;
  if (add_symbol(scope, m->name, file, &q)) return SG_ENOMEM;
  for (size_t i = 0; i < m->n_nested_type; i++)
    if (add_message(q, m->nested_type[i], file)) return SG_ENOMEM;
  for (size_t i = 0; i < m->n_enum_type; i++)
    if (add_symbol(q, m->enum_type[i]->name, file, NULL)) return SG_ENOMEM;
  return 0;
}

static int find_file(const char *name, size_t *at) {
  for (size_t i = 0; i < R.n_files; i++)
    if (strcmp(R.files[i].name, name) == 0) {
      *at = i;
      return 1;
    }
  return 0;
}

static int index_file(size_t f) {
  const Google__Protobuf__FileDescriptorProto *fd = R.set->file[f];
  const char *pkg = fd->package ? fd->package : "";
  for (size_t i = 0; i < fd->n_message_type; i++)
    if (add_message(pkg, fd->message_type[i], f)) return SG_ENOMEM;
  for (size_t i = 0; i < fd->n_enum_type; i++)
    if (add_symbol(pkg, fd->enum_type[i]->name, f, NULL)) return SG_ENOMEM;
  for (size_t i = 0; i < fd->n_service; i++) {
    const Google__Protobuf__ServiceDescriptorProto *sd = fd->service[i];
    char *q;
    if (add_symbol(pkg, sd->name, f, &q)) return SG_ENOMEM;
    char **n = realloc(R.services, (R.n_services + 1) * sizeof *n);
    if (!n) return SG_ENOMEM;
    R.services = n;
    R.services[R.n_services++] = q;
    for (size_t m = 0; m < sd->n_method; m++)
      if (add_symbol(q, sd->method[m]->name, f, NULL)) return SG_ENOMEM;
  }
  /* the bytes a client gets: this file alone, its imports named, not inlined */
  size_t len = google__protobuf__file_descriptor_proto__get_packed_size(fd);
  R.files[f].bytes.data = malloc(len ? len : 1);
  if (!R.files[f].bytes.data) return SG_ENOMEM;
  R.files[f].bytes.len = google__protobuf__file_descriptor_proto__pack(fd, R.files[f].bytes.data);
  R.files[f].deps = calloc(fd->n_dependency ? fd->n_dependency : 1, sizeof(size_t));
  if (!R.files[f].deps) return SG_ENOMEM;
  for (size_t i = 0; i < fd->n_dependency; i++) {
    size_t at;
    /* --include_imports puts every import in the set, before its importers */
    if (!find_file(fd->dependency[i], &at)) {
      sg_error("reflection: %s imports %s, which the descriptor set lacks", fd->name,
               fd->dependency[i]);
      return SG_EINTERNAL;
    }
    R.files[f].deps[R.files[f].n_deps++] = at;
  }
  return 0;
}

int sg_reflect_init(void) {
  if (R.set) return 0;
  R.set = google__protobuf__file_descriptor_set__unpack(NULL, sg_descriptor_set_len,
                                                        sg_descriptor_set);
  if (!R.set) {
    sg_error("reflection: the embedded descriptor set does not decode");
    return SG_EINTERNAL;
  }
  R.n_files = R.set->n_file;
  R.files = calloc(R.n_files ? R.n_files : 1, sizeof *R.files);
  if (!R.files) {
    sg_reflect_free();
    return SG_ENOMEM;
  }
  for (size_t f = 0; f < R.n_files; f++) R.files[f].name = R.set->file[f]->name;
  for (size_t f = 0; f < R.n_files; f++) {
    int rc = index_file(f);
    if (rc) {
      sg_reflect_free();
      return rc;
    }
  }
  return 0;
}

void sg_reflect_free(void) {
  for (size_t f = 0; f < R.n_files; f++) {
    free(R.files[f].bytes.data);
    free(R.files[f].deps);
  }
  for (size_t i = 0; i < R.n_symbols; i++) free(R.symbols[i].name);
  free(R.files);
  free(R.symbols);
  free(R.services);
  if (R.set) google__protobuf__file_descriptor_set__free_unpacked(R.set, NULL);
  memset(&R, 0, sizeof R);
}

/* The file and, after it, every file it imports, directly or not, once each. */
static void collect(size_t f, size_t *order, size_t *n, unsigned char *seen) {
  if (seen[f]) return;
  seen[f] = 1;
  order[(*n)++] = f;
  for (size_t i = 0; i < R.files[f].n_deps; i++) collect(R.files[f].deps[i], order, n, seen);
}

static int find_symbol(const char *sym, size_t *file) {
  if (sym[0] == '.') sym++;
  for (size_t i = 0; i < R.n_symbols; i++)
    if (strcmp(R.symbols[i].name, sym) == 0) {
      *file = R.symbols[i].file;
      return 1;
    }
  /* a field or enum value ("pkg.Msg.field") is found through its parent */
  const char *dot = strrchr(sym, '.');
  if (!dot) return 0;
  size_t plen = (size_t)(dot - sym);
  for (size_t i = 0; i < R.n_symbols; i++)
    if (strlen(R.symbols[i].name) == plen && memcmp(R.symbols[i].name, sym, plen) == 0) {
      *file = R.symbols[i].file;
      return 1;
    }
  return 0;
}

int sg_reflect_answer(const uint8_t *in, size_t n, uint8_t **out, size_t *outlen) {
  if (sg_reflect_init()) return SG_EINTERNAL;
  Grpc__Reflection__V1alpha__ServerReflectionRequest *req =
      grpc__reflection__v1alpha__server_reflection_request__unpack(NULL, n, in);
  if (!req) return SG_EPROTO;
  Grpc__Reflection__V1alpha__ServerReflectionResponse resp =
      GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__INIT;
  Grpc__Reflection__V1alpha__ListServiceResponse list =
      GRPC__REFLECTION__V1ALPHA__LIST_SERVICE_RESPONSE__INIT;
  Grpc__Reflection__V1alpha__FileDescriptorResponse files =
      GRPC__REFLECTION__V1ALPHA__FILE_DESCRIPTOR_RESPONSE__INIT;
  Grpc__Reflection__V1alpha__ExtensionNumberResponse exts =
      GRPC__REFLECTION__V1ALPHA__EXTENSION_NUMBER_RESPONSE__INIT;
  Grpc__Reflection__V1alpha__ErrorResponse err = GRPC__REFLECTION__V1ALPHA__ERROR_RESPONSE__INIT;
  resp.valid_host = req->host;
  resp.original_request = req;
  char why[300] = "";
  int rc = 0;
  size_t *order = calloc(R.n_files + 1, sizeof *order);
  unsigned char *seen = calloc(R.n_files + 1, 1);
  Grpc__Reflection__V1alpha__ServiceResponse *svc = calloc(R.n_services + 1, sizeof *svc);
  Grpc__Reflection__V1alpha__ServiceResponse **svcp = calloc(R.n_services + 1, sizeof *svcp);
  ProtobufCBinaryData *blobs = calloc(R.n_files + 1, sizeof *blobs);
  if (!order || !seen || !svc || !svcp || !blobs) {
    rc = SG_ENOMEM;
    goto out;
  }
  size_t file = 0, n_order = 0;
  switch (req->message_request_case) {
  case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
    for (size_t i = 0; i < R.n_services; i++) {
      grpc__reflection__v1alpha__service_response__init(&svc[i]);
      svc[i].name = R.services[i];
      svcp[i] = &svc[i];
    }
    list.n_service = R.n_services;
    list.service = svcp;
    resp.message_response_case =
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
    resp.list_services_response = &list;
    break;
  case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
    if (!find_file(req->file_by_filename, &file))
      snprintf(why, sizeof why, "no file %.200s", req->file_by_filename);
    break;
  case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
    if (!find_symbol(req->file_containing_symbol, &file))
      snprintf(why, sizeof why, "no symbol %.200s", req->file_containing_symbol);
    break;
  case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
    if (!find_symbol(req->all_extension_numbers_of_type, &file)) {
      snprintf(why, sizeof why, "no type %.200s", req->all_extension_numbers_of_type);
      break;
    }
    /* none of our messages is extended */
    exts.base_type_name = req->all_extension_numbers_of_type;
    resp.message_response_case =
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
    resp.all_extension_numbers_response = &exts;
    break;
  case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
    snprintf(why, sizeof why, "no extensions are defined");
    break;
  default:
    snprintf(why, sizeof why, "the request names nothing to look up");
    break;
  }
  if (why[0]) {
    err.error_code = 5; /* NOT_FOUND */
    err.error_message = why;
    resp.message_response_case =
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
    resp.error_response = &err;
  } else if (resp.message_response_case == 0) {
    collect(file, order, &n_order, seen);
    for (size_t i = 0; i < n_order; i++) blobs[i] = R.files[order[i]].bytes;
    files.n_file_descriptor_proto = n_order;
    files.file_descriptor_proto = blobs;
    resp.message_response_case =
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
    resp.file_descriptor_response = &files;
  }
  *outlen = grpc__reflection__v1alpha__server_reflection_response__get_packed_size(&resp);
  *out = malloc(*outlen ? *outlen : 1);
  if (!*out) {
    rc = SG_ENOMEM;
    goto out;
  }
  grpc__reflection__v1alpha__server_reflection_response__pack(&resp, *out);
out:
  free(order);
  free(seen);
  free(svc);
  free(svcp);
  free(blobs);
  grpc__reflection__v1alpha__server_reflection_request__free_unpacked(req, NULL);
  return rc;
}
