/*
 * Workers (and units) from spreadsheets, workers to them. Columns are matched by their Chinese
 * headers (姓名, 身份证号, 所在社区, ...) or the field names; values go
 * through the same descriptor-driven parser as the CLI's flags, so enums
 * take their Chinese labels. Rows are created with pipelined
 * Workers/Create calls; a row whose ID number is already registered is
 * counted as such, so importing the same file again creates nothing twice.
 */
#include "import.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "csvio.h"
#include "labels.h"
#include "msgparse.h"
#include "shegong/v1/units.pb-c.h"
#include "shegong/v1/workers.pb-c.h"
#include "timeutil.h"
#include "validate.h"

#define IMPORT_MAX_BYTES (256u << 20)
#define IN_FLIGHT 64

typedef struct column {
  const char *header, *field;
} column;

/* Header -> Worker field. The first header of a field is the one export writes. */
static const column columns[] = {
    {"姓名", "name"},           {"性别", "gender"},         {"身份证号", "id_number"},
    {"出生日期", "birth_date"}, {"联系电话", "phone"},      {"学历", "education"},
    {"党员", "party_member"},   {"类别", "category"},       {"岗位", "role"},
    {"来源", "source"},         {"职业资格", "certification"}, {"岗位序列", "post"},
    {"等级", "level"},          {"所在单位", "unit_code"},  {"网格", "grid_code"},
    {"入职日期", "hire_date"},
    /* more spellings seen in the field, read but never written */
    {"身份证号码", "id_number"}, {"公民身份号码", "id_number"}, {"手机", "phone"},
    {"手机号", "phone"},        {"电话", "phone"},          {"是否党员", "party_member"},
    {"政治面貌", "party_member"}, {"社工类别", "category"},  {"角色", "role"},
    {"来源渠道", "source"},     {"证书", "certification"},  {"岗级", "post"},
    {"档次", "level"},          {"所在社区", "unit_code"},  {"所在村居", "unit_code"},
    {"单位代码", "unit_code"},  {"所在网格", "grid_code"},  {"参加工作时间", "hire_date"},
};
#define N_EXPORT 16

/* Header -> Unit field. */
static const column unit_columns[] = {
    {"代码", "code"},          {"名称", "name"},          {"类型", "kind"},
    {"户数", "households"},    {"常住人口", "residents"}, {"60岁以上占比", "aged_60_percent"},
    {"区划代码", "code"},      {"单位代码", "code"},      {"单位名称", "name"},
    {"级别", "kind"},          {"人口", "residents"},     {"老龄人口占比", "aged_60_percent"},
};

/* What an import makes: its record, its method, its columns. */
typedef struct kind {
  const char *noun;
  const ProtobufCMessageDescriptor *record;
  const char *method;
  const column *columns;
  size_t n_columns;
  int in_flight;          /* units: one at a time, so that parents come before children */
  const char *required[3];
} kind;

static const kind kinds[] = {
    {"workers", &shegong__v1__worker__descriptor, "Workers/Create", columns,
     sizeof columns / sizeof columns[0], 64, {"name", "id_number", NULL}},
    {"units", &shegong__v1__unit__descriptor, "Units/Create", unit_columns,
     sizeof unit_columns / sizeof unit_columns[0], 1, {"code", "name", "kind"}},
};

const char *sg_import_kinds(void) { return "workers, units"; }

static const kind *kind_named(const char *noun) {
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp(kinds[i].noun, noun) == 0) return &kinds[i];
  return NULL;
}

static const char *field_for(const kind *k, const char *header) {
  while (*header == ' ') header++;
  for (size_t i = 0; i < k->n_columns; i++)
    if (strcmp(k->columns[i].header, header) == 0) return k->columns[i].field;
  const ProtobufCFieldDescriptor *f = sg_msg_find_field(k->record, header);
  return f ? f->name : NULL;
}

/* ---- unit names -> codes, fetched once when a sheet names units ------------------- */

typedef struct unit_names {
  char **name, **code;
  size_t n, cap;
  int loaded; /* 1: listed; -1: the listing failed, and the import stops */
} unit_names;

static int names_add(unit_names *u, const char *name, const char *code) {
  if (u->n == u->cap) {
    size_t cap = u->cap ? u->cap * 2 : 256;
    char **nn = realloc(u->name, cap * sizeof *nn);
    if (!nn) return -1;
    u->name = nn;
    char **nc = realloc(u->code, cap * sizeof *nc);
    if (!nc) return -1;
    u->code = nc;
    u->cap = cap;
  }
  char *a = strdup(name), *b = strdup(code);
  if (!a || !b) {
    free(a);
    free(b);
    return -1;
  }
  u->name[u->n] = a;
  u->code[u->n++] = b;
  return 0;
}

static int list_children(sg_client *c, const char *parent, unit_names *u, int recurse, int ms) {
  Shegong__V1__ListUnitsRequest req = SHEGONG__V1__LIST_UNITS_REQUEST__INIT;
  req.parent_code = (char *)parent;
  req.page_size = 1000;
  char token[64] = "";
  for (;;) {
    req.page_token = token;
    ProtobufCMessage *resp;
    sg_status st;
    if (sg_call(c, "Units/List", &req.base, &resp, ms, &st) != 0) {
      fprintf(stderr, "shegong: cannot list units: %s\n", st.message);
      return -1;
    }
    Shegong__V1__ListUnitsResponse *r = (Shegong__V1__ListUnitsResponse *)resp;
    for (size_t i = 0; i < r->n_units; i++) {
      if (names_add(u, r->units[i]->name, r->units[i]->code) ||
          (recurse && list_children(c, r->units[i]->code, u, 0, ms))) {
        protobuf_c_message_free_unpacked(resp, NULL);
        return -1;
      }
    }
    snprintf(token, sizeof token, "%s", r->next_page_token);
    protobuf_c_message_free_unpacked(resp, NULL);
    if (!token[0]) return 0;
  }
}

/* The code of the unit named name: NULL if none, "" if two share the name. */
static const char *code_of(sg_client *c, unit_names *u, const char *name, int ms) {
  if (!u->loaded) /* the towns, and their communities and villages */
    u->loaded = list_children(c, "", u, 1, ms) == 0 ? 1 : -1;
  if (u->loaded < 0) return NULL;
  const char *found = NULL;
  for (size_t i = 0; i < u->n; i++)
    if (strcmp(u->name[i], name) == 0) {
      if (found) return "";
      found = u->code[i];
    }
  return found;
}

static int all_digits(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s)) return 0;
  return 1;
}

/* ---- import ------------------------------------------------------------------------ */

typedef struct pending_row {
  uint32_t call;
  size_t line;
  char **fields;
  size_t n;
} pending_row;

typedef struct importer {
  sg_client *c;
  const sg_import_opts *o;
  const kind *k;
  char **header;
  size_t n_header;
  const char **field;  /* per column: the Worker field, or NULL (ignored) */
  FILE *errors;
  const char *errors_path;
  size_t rows, created, existing, rejected;
  unit_names units;
  pending_row fl[IN_FLIGHT];
  size_t bytes, done_bytes; /* of the file: for the ETA */
  int n_fl;
  uint64_t t0;
} importer;

static const char *header_of(importer *im, const char *field) {
  for (size_t i = 0; i < im->n_header; i++)
    if (im->field[i] && strcmp(im->field[i], field) == 0) return im->header[i];
  return field;
}

/* Writes a rejected row, with its line and reasons, to the errors file. */
static void reject(importer *im, size_t line, char **fields, size_t n, const char *why) {
  im->rejected++;
  if (!im->errors) {
    im->errors = fopen(im->errors_path, "w");
    if (!im->errors) {
      fprintf(stderr, "shegong: cannot write %s\n", im->errors_path);
      return;
    }
    fputs("\xEF\xBB\xBF", im->errors); /* so that Excel reads it as UTF-8 */
    sg_csv_put(im->errors, "行号", 0);
    sg_csv_put(im->errors, "错误", 0);
    for (size_t i = 0; i < im->n_header; i++) sg_csv_put(im->errors, im->header[i], i + 1 == im->n_header);
  }
  char num[32];
  snprintf(num, sizeof num, "%zu", line);
  sg_csv_put(im->errors, num, 0);
  sg_csv_put(im->errors, why, 0);
  for (size_t i = 0; i < im->n_header; i++)
    sg_csv_put(im->errors, i < n ? fields[i] : "", i + 1 == im->n_header);
}

static void progress(importer *im, int done) {
  double secs = (double)(sg_now_ms() - im->t0) / 1000.0;
  double rate = secs > 0 ? (double)im->rows / secs : 0;
  /* the rest of the file at the pace so far */
  double eta = im->done_bytes ? secs * (double)(im->bytes - im->done_bytes) / (double)im->done_bytes : 0;
  if (isatty(2))
    fprintf(stderr, "\r%zu rows, %.0f rows/s, %.0f s to go: %zu created, %zu already there, %zu rejected%s",
            im->rows, rate, done ? 0.0 : eta, im->created, im->existing, im->rejected, done ? "\n" : "");
  else if (done || im->rows % 1000 == 0)
    fprintf(stderr, "%zu rows, %.0f rows/s\n", im->rows, rate);
}

/* Settles the answer of one in-flight row. */
static int settle_one(importer *im) {
  uint32_t got = 0;
  ProtobufCMessage *resp;
  sg_status st;
  int rc = sg_call_recv_any(im->c, &got, &resp, im->o->timeout_ms, &st);
  int i = 0;
  while (i < im->n_fl && im->fl[i].call != got) i++;
  if (i == im->n_fl) return -1;
  pending_row *p = &im->fl[i];
  if (rc == 0) {
    im->created++;
    protobuf_c_message_free_unpacked(resp, NULL);
  } else if (rc == SG_EEXISTS) {
    im->existing++; /* imported before: a re-run creates nothing twice */
  } else if (rc == SG_EUNAVAIL || rc == SG_ETIMEDOUT || rc == SG_EUNAUTH || rc == SG_EPERM) {
    fprintf(stderr, "\nshegong: line %zu: %s: %s\n", p->line, sg_code_name(st.code), st.message);
    return -1;
  } else {
    char why[1024];
    size_t off = 0;
    for (size_t v = 0; v < st.n_violations && v < SG_STATUS_VIOLATIONS_MAX; v++) {
      const char *f = st.violations[v].field;
      const char *dot = strchr(f, '.'); /* "worker.id_number" names the column id_number */
      if (dot) f = dot + 1;
      off += (size_t)snprintf(why + off, sizeof why - off, "%s%s: %s", v ? "; " : "",
                              header_of(im, f), st.violations[v].description);
      if (off >= sizeof why) break;
    }
    if (!st.n_violations) snprintf(why, sizeof why, "%s", st.message);
    reject(im, p->line, p->fields, p->n, why);
  }
  sg_csv_free_row(p->fields, p->n);
  im->fl[i] = im->fl[--im->n_fl];
  return 0;
}

/* Builds the record of a row; on a bad cell, rejects the row and returns -1. */
static int build(importer *im, size_t line, char **fields, size_t n, sg_arena *a,
                 ProtobufCMessage *rec) {
  char why[256];
  for (size_t i = 0; i < n && i < im->n_header; i++) {
    const char *f = im->field[i];
    char *v = fields[i];
    while (*v == ' ') v++;
    size_t len = strlen(v);
    while (len && v[len - 1] == ' ') v[--len] = '\0';
    if (!f || !*v) continue;
    if (im->k->record == &shegong__v1__worker__descriptor && strcmp(f, "unit_code") == 0 &&
        !all_digits(v)) {
      const char *code = code_of(im->c, &im->units, v, im->o->timeout_ms);
      if (im->units.loaded < 0) return -2; /* the server could not list its units: stop */
      if (!code || !*code) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s: %s", im->header[i],
                 code ? "两个单位同名，请填单位代码" : "没有这个单位");
        reject(im, line, fields, n, msg);
        return -1;
      }
      v = (char *)code;
    }
    why[0] = '\0';
    if (sg_msg_set_field(rec, &a->allocator, f, v, why, sizeof why) != 0) {
      char msg[400];
      snprintf(msg, sizeof msg, "%s: %s", im->header[i], why[0] ? why : "bad value");
      reject(im, line, fields, n, msg);
      return -1;
    }
  }
  if (im->o->dry_run && im->k->record == &shegong__v1__worker__descriptor) {
    /* what can be known without the server */
    Shegong__V1__Worker *w = (Shegong__V1__Worker *)rec;
    char idno[19], reason[SG_WHY_MAX];
    if (!w->name[0]) snprintf(why, sizeof why, "%s: 必填", header_of(im, "name"));
    else if (sg_validate_idno(w->id_number, NULL, idno, NULL, NULL, reason, sizeof reason))
      snprintf(why, sizeof why, "%.60s: %.150s", header_of(im, "id_number"), reason);
    else if (!w->hire_date[0]) snprintf(why, sizeof why, "%s: 必填", header_of(im, "hire_date"));
    else why[0] = '\0';
    if (why[0]) {
      reject(im, line, fields, n, why);
      return -1;
    }
  }
  return 0;
}

int sg_import(sg_client *c, const char *noun, const char *path, const sg_import_opts *o) {
  const kind *k = kind_named(noun);
  if (!k) {
    fprintf(stderr, "shegong: import %s: not one of %s\n", noun, sg_import_kinds());
    return 2;
  }
  struct stat sb;
  if (stat(path, &sb) != 0 || sb.st_size > IMPORT_MAX_BYTES) {
    fprintf(stderr, "shegong: %s: %s\n", path, stat(path, &sb) ? "cannot read it" : "larger than 256 MiB");
    return 2;
  }
  FILE *f = fopen(path, "rb");
  char *raw = malloc((size_t)sb.st_size + 1);
  size_t len = f && raw ? fread(raw, 1, (size_t)sb.st_size, f) : 0;
  if (f) fclose(f);
  char *text = NULL, why[256];
  size_t tlen;
  const char *used;
  if (!raw || sg_text_to_utf8(raw, len, o->encoding, &text, &tlen, &used, why, sizeof why)) {
    fprintf(stderr, "shegong: %s: %s\n", path, raw ? why : "out of memory");
    free(raw);
    return 2;
  }
  free(raw);
  importer im = {.c = c, .o = o, .k = k, .bytes = tlen};
  char errors_path[4096];
  snprintf(errors_path, sizeof errors_path, "%s.errors.csv", path);
  im.errors_path = o->errors ? o->errors : errors_path;
  sg_csv csv;
  sg_csv_init(&csv, text, tlen);
  size_t line;
  int code = 0;
  if (sg_csv_next(&csv, &im.header, &im.n_header, &line, why, sizeof why) != 1) {
    fprintf(stderr, "shegong: %s: no header row\n", path);
    free(text);
    return 2;
  }
  im.field = calloc(im.n_header, sizeof *im.field);
  for (size_t i = 0; i < im.n_header; i++) {
    im.field[i] = field_for(k, im.header[i]);
    if (!im.field[i] && im.header[i][0] && strcmp(im.header[i], "错误") != 0 &&
        strcmp(im.header[i], "行号") != 0)
      fprintf(stderr, "shegong: column \"%s\" is not a field of %s: ignored\n", im.header[i],
              k->record->short_name);
  }
  for (size_t r = 0; r < 3 && k->required[r]; r++) {
    size_t i = 0;
    while (i < im.n_header && !(im.field[i] && strcmp(im.field[i], k->required[r]) == 0)) i++;
    if (i == im.n_header) {
      size_t h = 0;
      while (h < k->n_columns && strcmp(k->columns[h].field, k->required[r]) != 0) h++;
      fprintf(stderr, "shegong: %s: the header needs a %s column (%s)\n", path,
              h < k->n_columns ? k->columns[h].header : k->required[r], k->required[r]);
      code = 2;
      goto out;
    }
  }
  fprintf(stderr, "%s: %s, %zu columns\n", path, used, im.n_header);
  im.t0 = sg_now_ms();
  for (;;) {
    char **fields;
    size_t n;
    int r = sg_csv_next(&csv, &fields, &n, &line, why, sizeof why);
    if (r == 0) break;
    if (r < 0) {
      fprintf(stderr, "\nshegong: %s: %s\n", path, why);
      code = 1;
      break;
    }
    im.rows++;
    im.done_bytes = (size_t)(csv.p - text);
    sg_arena a;
    sg_arena_init(&a, 1u << 20);
    ProtobufCMessage *rec = sg_arena_alloc(&a, k->record->sizeof_message);
    if (rec) protobuf_c_message_init(k->record, rec);
    int built = rec ? build(&im, line, fields, n, &a, rec) : -1;
    if (built == -2) {
      code = 1;
      sg_arena_destroy(&a);
      sg_csv_free_row(fields, n);
      goto out;
    }
    int ok = built == 0;
    if (ok && !o->dry_run) {
      while (im.n_fl >= k->in_flight)
        if (settle_one(&im)) {
          code = 1;
          sg_arena_destroy(&a);
          sg_csv_free_row(fields, n);
          goto out;
        }
      /* the Create request wraps the record in its one message field */
      const sg_method_info *mi = sg_methods_find(k->method);
      ProtobufCMessage *req = sg_arena_alloc(&a, mi->method->input->sizeof_message);
      protobuf_c_message_init(mi->method->input, req);
      *(ProtobufCMessage **)((char *)req + mi->method->input->fields[0].offset) = rec;
      sg_status st;
      uint32_t call;
      if (sg_call_send(c, k->method, req, o->timeout_ms, &call, &st) != 0) {
        fprintf(stderr, "\nshegong: %s\n", st.message);
        code = 1;
        sg_arena_destroy(&a);
        sg_csv_free_row(fields, n);
        goto out;
      }
      im.fl[im.n_fl++] = (pending_row){call, line, fields, n};
    } else {
      if (ok) im.created++; /* a dry run: it would be sent */
      sg_csv_free_row(fields, n);
    }
    sg_arena_destroy(&a);
    if (im.rows % 100 == 0) progress(&im, 0);
  }
  /* rows already sent are settled even after a line that could not be read,
   * so that the counts say what went in */
  while (im.n_fl > 0)
    if (settle_one(&im)) {
      code = 1;
      break;
    }
out:
  progress(&im, 1);
  printf("%zu rows: %zu %s, %zu already registered, %zu rejected%s%s\n", im.rows, im.created,
         o->dry_run ? "would be created (dry run)" : "created", im.existing, im.rejected,
         im.rejected ? ", listed in " : "", im.rejected ? im.errors_path : "");
  if (im.errors) fclose(im.errors);
  for (int i = 0; i < im.n_fl; i++) sg_csv_free_row(im.fl[i].fields, im.fl[i].n);
  sg_csv_free_row(im.header, im.n_header);
  free(im.field);
  for (size_t i = 0; i < im.units.n; i++) {
    free(im.units.name[i]);
    free(im.units.code[i]);
  }
  free(im.units.name);
  free(im.units.code);
  free(text);
  if (code == 0 && im.rejected) code = 1;
  return code;
}

/* ---- export ------------------------------------------------------------------------ */

/* A cell as import reads it back: enum labels, 是/否, plain numbers. */
static void cell(const ProtobufCMessage *m, const char *field, char *out, size_t n) {
  const ProtobufCFieldDescriptor *f = sg_msg_find_field(m->descriptor, field);
  const char *p = (const char *)m + f->offset;
  out[0] = '\0';
  switch (f->type) {
  case PROTOBUF_C_TYPE_STRING: snprintf(out, n, "%s", *(char *const *)p ? *(char *const *)p : ""); break;
  case PROTOBUF_C_TYPE_BOOL: snprintf(out, n, "%s", *(const protobuf_c_boolean *)p ? "是" : "否"); break;
  case PROTOBUF_C_TYPE_UINT32: if (*(const uint32_t *)p) snprintf(out, n, "%u", *(const uint32_t *)p); break;
  case PROTOBUF_C_TYPE_ENUM: {
    int v = *(const int *)p;
    const char *label = v ? sg_label_for(f->descriptor, v) : NULL;
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
    if (v) snprintf(out, n, "%s", label ? label : ev ? ev->name : "");
    break;
  }
  default: break;
  }
}

int sg_export_workers(sg_client *c, const sg_export_opts *o) {
  int gbk = o->encoding && (strcasecmp(o->encoding, "gbk") == 0 || strcasecmp(o->encoding, "gb18030") == 0);
  if (o->encoding && !gbk && strcasecmp(o->encoding, "utf-8") != 0) {
    fprintf(stderr, "shegong: --encoding takes utf-8 or gbk\n");
    return 2;
  }
  FILE *out = o->output ? fopen(o->output, "wb") : stdout;
  if (!out) {
    fprintf(stderr, "shegong: cannot write %s\n", o->output);
    return 1;
  }
  /* each page is made in UTF-8, converted if asked, and written: constant memory */
  char *page = NULL;
  size_t plen = 0;
  FILE *buf = open_memstream(&page, &plen);
  if (!buf) {
    if (o->output) fclose(out);
    return 1;
  }
  if (!gbk) fputs("\xEF\xBB\xBF", out); /* Excel opens UTF-8 CSV right only with a BOM */
  for (int i = 0; i < N_EXPORT; i++) sg_csv_put(buf, columns[i].header, i + 1 == N_EXPORT);
  Shegong__V1__ListWorkersRequest req = SHEGONG__V1__LIST_WORKERS_REQUEST__INIT;
  req.town_code = (char *)(o->town_code ? o->town_code : "");
  req.include_left = o->include_left;
  req.page_size = 500;
  char token[64] = "";
  size_t rows = 0;
  int code = 0;
  for (;;) {
    req.page_token = token;
    ProtobufCMessage *resp;
    sg_status st;
    if (sg_call(c, "Workers/List", &req.base, &resp, o->timeout_ms, &st) != 0) {
      fprintf(stderr, "shegong: Workers/List: %s: %s\n", sg_code_name(st.code), st.message);
      code = 1;
      break;
    }
    Shegong__V1__ListWorkersResponse *r = (Shegong__V1__ListWorkersResponse *)resp;
    for (size_t k = 0; k < r->n_workers; k++) {
      char v[512];
      for (int i = 0; i < N_EXPORT; i++) {
        cell(&r->workers[k]->base, columns[i].field, v, sizeof v);
        sg_csv_put(buf, v, i + 1 == N_EXPORT);
      }
      rows++;
    }
    snprintf(token, sizeof token, "%s", r->next_page_token);
    protobuf_c_message_free_unpacked(resp, NULL);
    fclose(buf);
    buf = NULL;
    if (gbk) {
      char *conv;
      size_t clen;
      if (sg_utf8_to_gbk(page, plen, &conv, &clen) != 0) {
        fprintf(stderr, "shegong: a value has no GBK form: use --encoding utf-8\n");
        code = 1;
        break;
      }
      fwrite(conv, 1, clen, out);
      free(conv);
    } else {
      fwrite(page, 1, plen, out);
    }
    free(page);
    page = NULL;
    plen = 0;
    if (!token[0]) break;
    if (!(buf = open_memstream(&page, &plen))) {
      code = 1;
      break;
    }
  }
  if (buf) fclose(buf);
  free(page);
  if (o->output) fclose(out);
  else fflush(out);
  if (code == 0) fprintf(stderr, "%zu workers exported\n", rows);
  return code;
}
