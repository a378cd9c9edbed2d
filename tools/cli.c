/*
 * shegong: the admin command-line client.
 *
 *   shegong [--server HOST:PORT] [-o table|json|csv] [--columns LIST]
 *           [--timeout MS] [--token-file F] NOUN VERB [ARGS]
 *
 * Flags of add/update map onto message fields by name through the
 * descriptors (--phone sets worker.phone), so a new .proto field is a new
 * flag without new code here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "labels.h"
#include "log.h"
#include "msgparse.h"
#include "print.h"
#include "validate.h"
#include <time.h>
#include "import.h"
#include "replica.h"
#include "shegong.h"
#include "csvio.h"
#include "policyfile.h"
#include "shegong/v1/admin.pb-c.h"
#include "shegong/v1/assessments.pb-c.h"
#include "shegong/v1/policy.pb-c.h"
#include "shegong/v1/reports.pb-c.h"
#include "shegong/v1/training.pb-c.h"
#include "shegong/v1/transfers.pb-c.h"
#include "shegong/v1/audit.pb-c.h"
#include "shegong/v1/auth.pb-c.h"
#include "shegong/v1/units.pb-c.h"
#include "shegong/v1/workers.pb-c.h"

#define EXIT_USAGE 2
#define EXIT_CALL 1
#define LIST_PAGE 500

typedef struct cli {
  const char *server;
  const char *replica_dir;
  sg_replica *replica;
  const char *columns;
  sg_print_opts print;
  int timeout_ms;
  sg_client *client;
  sg_arena arena;
} cli;

static void usage(FILE *f) {
  fputs("usage: shegong [options] NOUN VERB [ARGS]\n"
        "options:\n"
        "  --server HOST:PORT  server (default $SHEGONG_SERVER or 127.0.0.1:7420)\n"
        "  -o, --output FMT    table (default), json or csv\n"
        "  --columns LIST      comma-separated fields to show (table, csv)\n"
        "  --timeout MS        per-call deadline (default 30000)\n"
        "  --token-file F      bearer token file (or $SHEGONG_TOKEN_FILE, $SHEGONG_TOKEN)\n"
        "  --tls-ca F          connect with TLS, trusting the CA certificates in F\n"
        "                      (or $SHEGONG_TLS_CA)\n"
        "  --replica DIR       work on a town's local copy (or $SHEGONG_REPLICA): reads and\n"
        "                      changes work offline; `sync` exchanges them with the server\n"
        "commands:\n"
        "  hello                                 server version and limits\n"
        "  unit add --kind K --code C --name N [--households N --residents N\n"
        "           --aged-60-percent P]\n"
        "  unit show CODE\n"
        "  unit list [PARENT_CODE] [--kind K] [--page-size N --page-token T]\n"
        "  worker add --name N --id-number ID --unit CODE --category C --role R\n"
        "             --hire-date YYYY-MM-DD [--FIELD VALUE ...]\n"
        "  worker show ID | worker show --id-number ID\n"
        "  worker list [--unit CODE | --town CODE] [--include-left]\n"
        "              [--page-size N --page-token T]\n"
        "  worker update ID [--expected-version V] --FIELD VALUE ...\n"
        "  worker leave ID --date YYYY-MM-DD --reason TEXT [--expected-version V]\n"
        "  worker level ID --kind early_step|periodic_step|promotion|demotion|adjustment\n"
        "               --level N [--post P] [--effective-date D] --reason TEXT\n"
        "  worker levels ID                      the worker's post and level history\n"
        "  worker history ID [--on YYYY-MM-DD]   units, roles, posts over time (or on a day)\n"
        "  transfer propose --kind exchange|rotation|cross_town|conversion|\n"
        "                   first_year_placement|role_change --worker-id ID [--to-unit CODE]\n"
        "                   [--to-grid CODE] [--to-role R] --effective-date D [--end-date D]\n"
        "                   [--mentor-id ID] --reason TEXT\n"
        "  transfer join --unit CODE --effective-date D --score S --reason TEXT\n"
        "                --name N --id-number ID [--FIELD VALUE ...]   村两委 member joins\n"
        "  transfer approve|reject ID [--party P] [--note TEXT]   (reject needs --note)\n"
        "  transfer cancel ID --note TEXT\n"
        "  transfer list [--town CODE|--worker-id ID] [--state S] [--kind K] [--batch-id N]\n"
        "  transfer show ID                      the transfer and every step of its life\n"
        "  transfer apply [ID]                   take effect now what is due today\n"
        "  transfer end ID [--convert] [--end-date D] [--note TEXT]   a rotation or placement\n"
        "  transfer batch-convert FILE --town CODE --effective-date D [--to-role R]\n"
        "  transfer batch-convert --town CODE --year Y --min-score S [--limit N]\n"
        "                         --effective-date D   (转任 of 专职网格员, best scores first)\n"
        "  report placements [--town CODE] [--due-within-days N]   首年下沉\n"
        "  report staffing [--town CODE|--unit CODE] [--sort gap|code|quota|actual]\n"
        "  report turnover --hired-from Y --hired-to Y [--gone-by D] [--town CODE]\n"
        "  report certification|structure|hiring [--town CODE|--unit CODE]\n"
        "         (structure: [--as-of D]; hiring: [--from-year Y --to-year Y])\n"
        "  policy show [--version N] | policy load FILE [--dry-run]   (docs/POLICY.md)\n"
        "  assess add --worker-id ID --kind 年终|平时|专项|综合 --year Y [--quarter Q|--month M]\n"
        "             --superior-score S --resident-score S --assessor A --assessed-on D\n"
        "             [--grade G] [--note T] [--visits N]\n"
        "  assess list --worker-id ID | --unit CODE | --town CODE [--year Y] [--kind K]\n"
        "  assess amend ID --FIELD VALUE ... [--expected-version V]\n"
        "  assess bulk FILE.csv --unit CODE      one transaction: all rows or none\n"
        "  visits set --worker-id ID --year Y --count N\n"
        "  training course add --name N --kind 岗前|年度|升岗|专业|脱产 --hours H\n"
        "                      --start-date D --end-date D [--provider P] [--town CODE]\n"
        "  training course list [--year Y] [--town CODE] [--kind K]\n"
        "  training attend COURSE_ID WORKER_ID... [--hours H]\n"
        "  training list --worker-id ID | --course-id ID\n"
        "  report eligibility [--town CODE|--unit CODE] [--year Y] [--as-of D]\n"
        "  report training-compliance [--town CODE|--unit CODE] [--year Y]\n"
        "  report visits [--town CODE|--unit CODE] [--year Y] [--below N]\n"
        "  changes [--town CODE] [--since REV] [--limit N]   the changelog\n"
        "  import workers|units FILE.csv [--encoding utf-8|gbk] [--dry-run] [--errors F]\n"
        "  export workers [--town CODE] [--include-left] [--encoding utf-8|gbk] [--file F]\n"
        "  token create --role district_admin|town_operator|auditor|service [--town CODE]\n"
        "               [--pii] [--name TEXT] [--expires YYYY-MM-DD|RFC3339] [--methods M,M]\n"
        "  token list [--include-revoked] | token revoke ID | whoami\n"
        "  audit list [--since SEQ] [--token-id ID] [--target PREFIX] [--event E]\n"
        "  admin compact --keep N                drop all but the newest N changes\n"
        "  admin backup DIR                      hot copy into an empty directory on the server\n"
        "with --replica DIR:\n"
        "  replica init --town CODE              make DIR a copy of a town (needs the server)\n"
        "  sync                                  push the outbox, then pull until current\n"
        "  status | outbox | conflicts           what the copy holds and waits for\n"
        "  conflicts resolve MUTATION_ID --mine|--server\n"
        "Fields take the names of docs/PROTOCOL.md (--id-number or --id_number);\n"
        "enums take names or Chinese labels (--education 本科, --role secretary).\n",
        f);
}

/* Flag aliases for the fields people type most. */
static const char *alias(const char *flag) {
  static const char *const pairs[][2] = {
      {"idno", "id_number"}, {"unit", "unit_code"}, {"grid", "grid_code"},
      {"town", "town_code"}, {"parent", "parent_code"}, {"date", "leave_date"},
      {"expires", "expires_at"}, {"method", "methods"}, {"worker", "worker_id"},
      {"course", "course_id"},         {"to_unit", "to_unit_code"},
      {"to_grid", "to_grid_code"},     {"mentor", "mentor_id"},
      {NULL, NULL}};
  for (size_t i = 0; pairs[i][0]; i++)
    if (strcmp(flag, pairs[i][0]) == 0) return pairs[i][1];
  return flag;
}

static void print_status(const char *what, const sg_status *st) {
  fprintf(stderr, "shegong: %s: %s: %s\n", what, sg_code_name(st->code), st->message);
  for (size_t i = 0; i < st->n_violations && i < SG_STATUS_VIOLATIONS_MAX; i++)
    fprintf(stderr, "  %s: %s\n", st->violations[i].field, st->violations[i].description);
}

static int connect_cli(cli *c) {
  sg_status st;
  if (sg_client_connect(&c->client, c->server, c->timeout_ms, &st) != 0) {
    print_status("connect", &st);
    return -1;
  }
  /* the token comes from $SHEGONG_TOKEN or $SHEGONG_TOKEN_FILE (--token-file) */
  sg_client_set_metadata(c->client, "client-id", "shegong-cli/" SHEGONG_VERSION);
  return 0;
}

/* Opens the replica named by --replica, once. */
static int open_replica(cli *c) {
  if (c->replica) return 0;
  sg_status st;
  if (sg_replica_open(&c->replica, c->replica_dir, &st) != 0) {
    print_status("replica", &st);
    return -1;
  }
  /* a replica remembers its server: --server and $SHEGONG_SERVER still win */
  if (!c->server && sg_replica_server(c->replica)[0]) c->server = sg_replica_server(c->replica);
  return 0;
}

/* One call, to the replica when there is one, else to the server. */
static int do_call(cli *c, const char *method, const ProtobufCMessage *req,
                   ProtobufCMessage **resp, sg_status *st) {
  if (c->replica_dir) {
    if (open_replica(c)) {
      sg_status_set(st, SG_EUNAVAIL, "the replica cannot be opened");
      return SG_EUNAVAIL;
    }
    return sg_replica_call(c->replica, method, req, resp, st);
  }
  if (!c->client && connect_cli(c)) {
    sg_status_set(st, SG_EUNAVAIL, "no connection");
    return SG_EUNAVAIL;
  }
  return sg_call(c->client, method, req, resp, c->timeout_ms, st);
}

/* One call; prints the answer or the error. Returns an exit code. */
static int call_print(cli *c, const char *method, const ProtobufCMessage *req) {
  if (!c->replica_dir && !c->client && connect_cli(c)) return EXIT_CALL;
  ProtobufCMessage *resp;
  sg_status st;
  if (do_call(c, method, req, &resp, &st) != 0) {
    print_status(method, &st);
    return EXIT_CALL;
  }
  int rc = sg_print_message(stdout, resp, &c->print);
  protobuf_c_message_free_unpacked(resp, NULL);
  if (rc == SG_EINVAL) {
    fprintf(stderr, "shegong: --columns names a field the answer does not have\n");
    return EXIT_USAGE;
  }
  return rc ? EXIT_CALL : 0;
}

/*
 * Prints the rows of several answers of one type (pages of a list, messages
 * of a stream) as one answer: the rows are put, for the printing, into the
 * last one, whose other fields (the final token, the head revision) stand.
 */
static int print_pages(cli *c, ProtobufCMessage **pages, size_t n_pages) {
  int code = 0;
  size_t total = 0;
  ProtobufCMessage *last = pages[n_pages - 1];
  const ProtobufCMessageDescriptor *d = last->descriptor;
  const ProtobufCFieldDescriptor *rows = NULL;
  for (unsigned i = 0; i < d->n_fields; i++)
    if (d->fields[i].label == PROTOBUF_C_LABEL_REPEATED &&
        d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
      rows = &d->fields[i];
  if (!rows) return sg_print_message(stdout, last, &c->print) ? EXIT_CALL : 0;
  for (size_t p = 0; p < n_pages; p++) total += *(size_t *)((char *)pages[p] + rows->quantifier_offset);
  void **all = total ? malloc(total * sizeof *all) : NULL;
  size_t *n_last = (size_t *)((char *)last + rows->quantifier_offset);
  void ***arr_last = (void ***)((char *)last + rows->offset);
  size_t k = 0;
  if (total && !all) code = EXIT_CALL;
  for (size_t p = 0; all && p < n_pages; p++) {
    size_t n = *(size_t *)((char *)pages[p] + rows->quantifier_offset);
    void **arr = *(void ***)((char *)pages[p] + rows->offset);
    for (size_t i = 0; i < n; i++) all[k++] = arr[i];
  }
  if (code == 0) {
    size_t saved_n = *n_last;
    void **saved_arr = *arr_last;
    *n_last = total;
    *arr_last = all;
    int rc = sg_print_message(stdout, last, &c->print);
    *n_last = saved_n;
    *arr_last = saved_arr;
    if (rc == SG_EINVAL) {
      fprintf(stderr, "shegong: --columns names a field the answer does not have\n");
      code = EXIT_USAGE;
    } else if (rc) {
      code = EXIT_CALL;
    }
  }
  free(all);
  return code;
}

/*
 * Lists every page: sends the request again with each next_page_token and
 * prints the rows of all pages as one answer. The list response has one
 * repeated message field and a next_page_token: found by descriptor.
 */
static int call_list_all(cli *c, const char *method, ProtobufCMessage *req) {
  if (!c->replica_dir && !c->client && connect_cli(c)) return EXIT_CALL;
  const ProtobufCFieldDescriptor *tok_req =
      protobuf_c_message_descriptor_get_field_by_name(req->descriptor, "page_token");
  ProtobufCMessage **pages = NULL;
  size_t n_pages = 0;
  int code = 0;
  for (;;) {
    ProtobufCMessage *resp;
    sg_status st;
    if (do_call(c, method, req, &resp, &st) != 0) {
      print_status(method, &st);
      code = EXIT_CALL;
      break;
    }
    ProtobufCMessage **np = realloc(pages, (n_pages + 1) * sizeof *np);
    if (!np) {
      protobuf_c_message_free_unpacked(resp, NULL);
      code = EXIT_CALL;
      break;
    }
    pages = np;
    pages[n_pages++] = resp;
    const ProtobufCFieldDescriptor *next =
        protobuf_c_message_descriptor_get_field_by_name(resp->descriptor, "next_page_token");
    const char *tok = *(const char **)((const char *)resp + next->offset);
    if (!tok || !tok[0]) break;
    *(const char **)((char *)req + tok_req->offset) = tok;
  }
  if (code == 0 && n_pages) code = print_pages(c, pages, n_pages);
  for (size_t p = 0; p < n_pages; p++) protobuf_c_message_free_unpacked(pages[p], NULL);
  free(pages);
  return code;
}

/*
 * Sets fields of msg from "--name value" pairs in argv[*i..]. Positional
 * arguments are handed back in pos (up to max_pos). Every field set is
 * appended to mask when mask is given. Returns 0 or prints and returns
 * EXIT_USAGE.
 */
static int parse_fields(cli *c, int argc, char **argv, ProtobufCMessage *msg, const char **pos,
                        int max_pos, int *n_pos, ProtobufCMessage *mask_msg, const char *mask_field,
                        const char *const *extra, const char **extra_val) {
  *n_pos = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
      if (*n_pos >= max_pos) {
        fprintf(stderr, "shegong: unexpected argument \"%s\"\n", a);
        return EXIT_USAGE;
      }
      pos[(*n_pos)++] = a;
      continue;
    }
    char name[64];
    const char *eq = strchr(a + 2, '=');
    size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
    if (nlen >= sizeof name) {
      fprintf(stderr, "shegong: unknown flag %s\n", a);
      return EXIT_USAGE;
    }
    memcpy(name, a + 2, nlen);
    name[nlen] = '\0';
    for (char *p = name; *p; p++)
      if (*p == '-') *p = '_';
    const char *field = alias(name);
    int is_bool_flag = 0;
    const ProtobufCFieldDescriptor *fd = sg_msg_find_field(msg->descriptor, field);
    int extra_idx = -1;
    for (int k = 0; extra && extra[k]; k++)
      if (strcmp(extra[k], field) == 0) extra_idx = k;
    if (!fd && extra_idx < 0) {
      fprintf(stderr, "shegong: unknown flag %s (no field %s in %s)\n", a, field,
              msg->descriptor->short_name);
      return EXIT_USAGE;
    }
    if (fd && fd->type == PROTOBUF_C_TYPE_BOOL && !eq) is_bool_flag = 1;
    const char *value;
    if (eq) value = eq + 1;
    else if (is_bool_flag) value = "true";
    else if (i + 1 < argc) value = argv[++i];
    else {
      fprintf(stderr, "shegong: %s needs a value\n", a);
      return EXIT_USAGE;
    }
    if (extra_idx >= 0) {
      extra_val[extra_idx] = value;
      continue;
    }
    char why[160] = "";
    int rc = sg_msg_set_field(msg, &c->arena.allocator, field, value, why, sizeof why);
    if (rc) {
      fprintf(stderr, "shegong: %s: %s\n", a, why[0] ? why : sg_strerror(rc));
      return EXIT_USAGE;
    }
    if (mask_msg) sg_msg_set_field(mask_msg, &c->arena.allocator, mask_field, fd->name, NULL, 0);
  }
  return 0;
}

static int parse_id(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  if (!s || !*s || *s == '-') return -1;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v == 0) return -1;
  *out = v;
  return 0;
}

static int cmd_unit(cli *c, const char *verb, int argc, char **argv) {
  const char *pos[2];
  int n_pos, rc;
  if (strcmp(verb, "add") == 0) {
    Shegong__V1__Unit u = SHEGONG__V1__UNIT__INIT;
    Shegong__V1__CreateUnitRequest req = SHEGONG__V1__CREATE_UNIT_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &u.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    req.unit = &u;
    return call_print(c, "Units/Create", &req.base);
  }
  if (strcmp(verb, "show") == 0) {
    Shegong__V1__GetUnitRequest req = SHEGONG__V1__GET_UNIT_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 1, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (n_pos == 1) req.code = (char *)pos[0];
    if (!req.code[0] && !req.id) {
      fprintf(stderr, "shegong: unit show CODE\n");
      return EXIT_USAGE;
    }
    return call_print(c, "Units/Get", &req.base);
  }
  if (strcmp(verb, "list") == 0) {
    Shegong__V1__ListUnitsRequest req = SHEGONG__V1__LIST_UNITS_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 1, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (n_pos == 1) req.parent_code = (char *)pos[0];
    if (req.page_size || req.page_token[0]) return call_print(c, "Units/List", &req.base);
    req.page_size = LIST_PAGE;
    return call_list_all(c, "Units/List", &req.base);
  }
  fprintf(stderr, "shegong: unit add|show|list, not \"%s\"\n", verb);
  return EXIT_USAGE;
}

/* Reads worker id's current version, for an update without --expected-version. */
static int current_version(cli *c, uint64_t id, uint64_t *version) {
  Shegong__V1__GetWorkerRequest req = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
  req.id = id;
  ProtobufCMessage *resp;
  sg_status st;
  if (do_call(c, "Workers/Get", &req.base, &resp, &st) != 0) {
    print_status("Workers/Get", &st);
    return EXIT_CALL;
  }
  *version = ((Shegong__V1__Worker *)resp)->version;
  protobuf_c_message_free_unpacked(resp, NULL);
  return 0;
}

static int cmd_worker(cli *c, const char *verb, int argc, char **argv) {
  const char *pos[2];
  int n_pos, rc;
  if (strcmp(verb, "add") == 0) {
    Shegong__V1__Worker w = SHEGONG__V1__WORKER__INIT;
    Shegong__V1__CreateWorkerRequest req = SHEGONG__V1__CREATE_WORKER_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &w.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    req.worker = &w;
    return call_print(c, "Workers/Create", &req.base);
  }
  if (strcmp(verb, "show") == 0) {
    Shegong__V1__GetWorkerRequest req = SHEGONG__V1__GET_WORKER_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 1, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (n_pos == 1 && parse_id(pos[0], &req.id)) {
      fprintf(stderr, "shegong: worker show ID: \"%s\" is not a worker id\n", pos[0]);
      return EXIT_USAGE;
    }
    if (!req.id && !req.id_number[0]) {
      fprintf(stderr, "shegong: worker show ID | worker show --id-number ID_NUMBER\n");
      return EXIT_USAGE;
    }
    return call_print(c, "Workers/Get", &req.base);
  }
  if (strcmp(verb, "list") == 0) {
    Shegong__V1__ListWorkersRequest req = SHEGONG__V1__LIST_WORKERS_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (req.page_size || req.page_token[0]) return call_print(c, "Workers/List", &req.base);
    req.page_size = LIST_PAGE;
    return call_list_all(c, "Workers/List", &req.base);
  }
  if (strcmp(verb, "update") == 0) {
    Shegong__V1__Worker w = SHEGONG__V1__WORKER__INIT;
    Shegong__V1__UpdateWorkerRequest req = SHEGONG__V1__UPDATE_WORKER_REQUEST__INIT;
    static const char *const extra[] = {"expected_version", NULL};
    const char *extra_val[1] = {NULL};
    if ((rc = parse_fields(c, argc, argv, &w.base, pos, 1, &n_pos, &req.base, "update_mask", extra,
                           extra_val)))
      return rc;
    if (n_pos != 1 || parse_id(pos[0], &req.id)) {
      fprintf(stderr, "shegong: worker update ID --FIELD VALUE ...\n");
      return EXIT_USAGE;
    }
    if (req.n_update_mask == 0) {
      fprintf(stderr, "shegong: worker update: name at least one field to change\n");
      return EXIT_USAGE;
    }
    if (extra_val[0]) {
      if (parse_id(extra_val[0], &req.expected_version)) {
        fprintf(stderr, "shegong: --expected-version wants a positive number\n");
        return EXIT_USAGE;
      }
    } else if ((rc = current_version(c, req.id, &req.expected_version))) {
      return rc;
    }
    req.worker = &w;
    return call_print(c, "Workers/Update", &req.base);
  }
  if (strcmp(verb, "leave") == 0) {
    Shegong__V1__LeaveWorkerRequest req = SHEGONG__V1__LEAVE_WORKER_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 1, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (n_pos != 1 || parse_id(pos[0], &req.id)) {
      fprintf(stderr, "shegong: worker leave ID --date YYYY-MM-DD --reason TEXT\n");
      return EXIT_USAGE;
    }
    return call_print(c, "Workers/Leave", &req.base);
  }
  if (strcmp(verb, "level") == 0) {
    Shegong__V1__ChangeLevelRequest req = SHEGONG__V1__CHANGE_LEVEL_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 1, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (n_pos != 1 || parse_id(pos[0], &req.id) || !req.kind || !req.level) {
      fprintf(stderr, "shegong: worker level ID --kind K --level N [--post P] --reason TEXT\n");
      return EXIT_USAGE;
    }
    if (!req.expected_version && (rc = current_version(c, req.id, &req.expected_version)))
      return rc;
    return call_print(c, "Workers/ChangeLevel", &req.base);
  }
  if (strcmp(verb, "levels") == 0) {
    Shegong__V1__LevelHistoryRequest req = SHEGONG__V1__LEVEL_HISTORY_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 1, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (n_pos != 1 || parse_id(pos[0], &req.id)) {
      fprintf(stderr, "shegong: worker levels ID\n");
      return EXIT_USAGE;
    }
    return call_print(c, "Workers/LevelHistory", &req.base);
  }
  if (strcmp(verb, "history") == 0) {
    Shegong__V1__WorkerHistoryRequest req = SHEGONG__V1__WORKER_HISTORY_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 1, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (n_pos != 1 || parse_id(pos[0], &req.id)) {
      fprintf(stderr, "shegong: worker history ID [--on YYYY-MM-DD]\n");
      return EXIT_USAGE;
    }
    return call_print(c, "Workers/History", &req.base);
  }
  fprintf(stderr, "shegong: worker add|show|list|update|leave|level|levels|history, not \"%s\"\n",
          verb);
  return EXIT_USAGE;
}

/*
 * "2027-01-01" (midnight in China, UTC+8) or an RFC 3339 UTC time, into the
 * RFC 3339 UTC form tokens keep. 0 or -1.
 */
static int expiry_to_utc(const char *in, char *out, size_t n) {
  sg_date d;
  if (strlen(in) == 20 && in[10] == 'T' && in[19] == 'Z') {
    snprintf(out, n, "%s", in);
    return 0;
  }
  if (sg_validate_date(in, &d, NULL, 0)) return -1;
  struct tm tm = {.tm_year = d.year - 1900, .tm_mon = d.month - 1, .tm_mday = d.day};
  time_t t = timegm(&tm) - 8 * 3600;
  struct tm utc;
  gmtime_r(&t, &utc);
  strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return 0;
}

static int cmd_token(cli *c, const char *verb, int argc, char **argv) {
  const char *pos[1];
  int n_pos, rc;
  if (strcmp(verb, "create") == 0) {
    Shegong__V1__Token t = SHEGONG__V1__TOKEN__INIT;
    if ((rc = parse_fields(c, argc, argv, &t.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    /* --methods Workers/Get,Workers/List: one flag, several methods */
    size_t n = 0;
    char **methods = sg_arena_alloc(&c->arena, 64 * sizeof *methods);
    for (size_t i = 0; methods && i < t.n_methods; i++) {
      char *copy = sg_arena_strdup(&c->arena, t.methods[i]), *save = NULL;
      for (char *m = copy ? strtok_r(copy, ",", &save) : NULL; m && n < 64; m = strtok_r(NULL, ",", &save))
        methods[n++] = m;
    }
    t.methods = methods;
    t.n_methods = n;
    char when[32];
    if (t.expires_at[0]) {
      if (expiry_to_utc(t.expires_at, when, sizeof when)) {
        fprintf(stderr, "shegong: --expires takes YYYY-MM-DD or 2027-01-01T00:00:00Z\n");
        return EXIT_USAGE;
      }
      t.expires_at = when;
    }
    Shegong__V1__CreateTokenRequest req = SHEGONG__V1__CREATE_TOKEN_REQUEST__INIT;
    req.token = &t;
    return call_print(c, "Tokens/Create", &req.base);
  }
  if (strcmp(verb, "list") == 0) {
    Shegong__V1__ListTokensRequest req = SHEGONG__V1__LIST_TOKENS_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    return call_print(c, "Tokens/List", &req.base);
  }
  if (strcmp(verb, "revoke") == 0) {
    Shegong__V1__RevokeTokenRequest req = SHEGONG__V1__REVOKE_TOKEN_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 1, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (n_pos != 1 || parse_id(pos[0], &req.id)) {
      fprintf(stderr, "shegong: token revoke ID\n");
      return EXIT_USAGE;
    }
    return call_print(c, "Tokens/Revoke", &req.base);
  }
  fprintf(stderr, "shegong: token create|list|revoke, not \"%s\"\n", verb);
  return EXIT_USAGE;
}

static int cmd_audit(cli *c, const char *verb, int argc, char **argv) {
  const char *pos[1];
  int n_pos, rc;
  if (strcmp(verb, "list") != 0) {
    fprintf(stderr, "shegong: audit list, not \"%s\"\n", verb);
    return EXIT_USAGE;
  }
  Shegong__V1__ListAuditRequest req = SHEGONG__V1__LIST_AUDIT_REQUEST__INIT;
  if ((rc = parse_fields(c, argc, argv, &req.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
    return rc;
  if (req.page_size || req.page_token[0]) return call_print(c, "Audit/List", &req.base);
  req.page_size = LIST_PAGE;
  return call_list_all(c, "Audit/List", &req.base);
}

/* Spreadsheets in and out: tools/import.c. */
static int cmd_import_export(cli *c, int import, int argc, char **argv) {
  if (argc < 1 || (strcmp(argv[0], "workers") != 0 && !(import && strcmp(argv[0], "units") == 0))) {
    fprintf(stderr, "shegong: import workers|units FILE.csv, export workers\n");
    return EXIT_USAGE;
  }
  sg_import_opts io = {.timeout_ms = c->timeout_ms};
  sg_export_opts eo = {.timeout_ms = c->timeout_ms};
  const char *file = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--dry-run") == 0 && import) io.dry_run = 1;
    else if (strcmp(a, "--include-left") == 0 && !import) eo.include_left = 1;
    else if (strcmp(a, "--encoding") == 0 && v) io.encoding = eo.encoding = argv[++i];
    else if (strcmp(a, "--errors") == 0 && v && import) io.errors = argv[++i];
    else if (strcmp(a, "--town") == 0 && v && !import) eo.town_code = argv[++i];
    else if (strcmp(a, "--file") == 0 && v && !import) eo.output = argv[++i];
    else if (a[0] != '-' && import && !file) file = a;
    else {
      fprintf(stderr, "shegong: %s: unexpected \"%s\"\n", import ? "import" : "export", a);
      return EXIT_USAGE;
    }
  }
  if (import && !file) {
    fprintf(stderr, "shegong: import workers FILE.csv\n");
    return EXIT_USAGE;
  }
  if (c->replica_dir) {
    fprintf(stderr, "shegong: import and export talk to the server; drop --replica\n");
    return EXIT_USAGE;
  }
  if (!c->client && connect_cli(c)) return EXIT_CALL;
  return import ? sg_import(c->client, argv[0], file, &io) : sg_export_workers(c->client, &eo);
}

/* The changelog: a Sync/Pull stream, printed as one table. */
static int cmd_changes(cli *c, int argc, char **argv) {
  Shegong__V1__PullRequest req = SHEGONG__V1__PULL_REQUEST__INIT;
  const char *pos[1];
  int n_pos, rc;
  if ((rc = parse_fields(c, argc, argv, &req.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
    return rc;
  if (c->replica_dir) {
    fprintf(stderr, "shegong: changes reads the server's changelog; drop --replica\n");
    return EXIT_USAGE;
  }
  if (!c->client && connect_cli(c)) return EXIT_CALL;
  sg_status st;
  uint32_t id;
  if (sg_call_send(c->client, "Sync/Pull", &req.base, c->timeout_ms, &id, &st) != 0) {
    print_status("Sync/Pull", &st);
    return EXIT_CALL;
  }
  ProtobufCMessage **msgs = NULL;
  size_t n = 0;
  int code = 0;
  for (;;) {
    ProtobufCMessage *m;
    int r = sg_stream_next(c->client, id, &m, c->timeout_ms, &st);
    if (r == 1) break;
    if (r < 0) {
      print_status("Sync/Pull", &st);
      code = EXIT_CALL;
      break;
    }
    ProtobufCMessage **grown = realloc(msgs, (n + 1) * sizeof *grown);
    if (!grown) {
      protobuf_c_message_free_unpacked(m, NULL);
      code = EXIT_CALL;
      break;
    }
    msgs = grown;
    msgs[n++] = m;
  }
  if (code == 0 && n) code = print_pages(c, msgs, n);
  for (size_t i = 0; i < n; i++) protobuf_c_message_free_unpacked(msgs[i], NULL);
  free(msgs);
  return code;
}

static int cmd_admin(cli *c, const char *verb, int argc, char **argv) {
  const char *pos[1];
  int n_pos, rc;
  if (strcmp(verb, "compact") == 0) {
    Shegong__V1__CompactRequest req = SHEGONG__V1__COMPACT_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (!req.keep) {
      fprintf(stderr, "shegong: admin compact --keep N (the newest N changes stay)\n");
      return EXIT_USAGE;
    }
    return call_print(c, "Admin/Compact", &req.base);
  }
  if (strcmp(verb, "backup") == 0) {
    Shegong__V1__BackupRequest req = SHEGONG__V1__BACKUP_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 1, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (n_pos != 1) {
      fprintf(stderr, "shegong: admin backup DIR (an empty directory on the server's machine)\n");
      return EXIT_USAGE;
    }
    req.directory = (char *)pos[0];
    return call_print(c, "Admin/Backup", &req.base);
  }
  fprintf(stderr, "shegong: admin compact|backup, not \"%s\"\n", verb);
  return EXIT_USAGE;
}


/* ---- policy, assessments, training, reports ------------------------------------ */

static char *read_file_bounded(const char *path, size_t max, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "shegong: %s: %s\n", path, strerror(errno));
    return NULL;
  }
  char *buf = malloc(max + 1);
  size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
  int err = ferror(f);
  fclose(f);
  if (!buf || err) {
    fprintf(stderr, "shegong: %s: cannot read\n", path);
    free(buf);
    return NULL;
  }
  if (n > max) {
    fprintf(stderr, "shegong: %s: larger than %zu bytes\n", path, max);
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

static int cmd_policy(cli *c, const char *verb, int argc, char **argv) {
  const char *pos[1];
  int n_pos, rc;
  if (strcmp(verb, "show") == 0) {
    Shegong__V1__GetPolicyRequest req = SHEGONG__V1__GET_POLICY_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (c->print.format != SG_FORMAT_TABLE) return call_print(c, "Policies/Get", &req.base);
    ProtobufCMessage *resp;
    sg_status st;
    if (do_call(c, "Policies/Get", &req.base, &resp, &st) != 0) {
      print_status("Policies/Get", &st);
      return EXIT_CALL;
    }
    /* the file format: what `policy load` reads back */
    sg_policy_write(stdout, (Shegong__V1__Policy *)resp);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
  }
  if (strcmp(verb, "load") != 0) {
    fprintf(stderr, "shegong: policy show|load, not \"%s\"\n", verb);
    return EXIT_USAGE;
  }
  const char *file = NULL;
  int dry = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--dry-run") == 0) dry = 1;
    else if (argv[i][0] != '-' && !file) file = argv[i];
    else {
      fprintf(stderr, "shegong: policy load FILE [--dry-run]\n");
      return EXIT_USAGE;
    }
  }
  if (!file) {
    fprintf(stderr, "shegong: policy load FILE [--dry-run]\n");
    return EXIT_USAGE;
  }
  size_t len;
  char *text = read_file_bounded(file, SG_POLICY_FILE_MAX, &len);
  if (!text) return EXIT_USAGE;
  sg_policy_src *src = calloc(1, sizeof *src);
  Shegong__V1__Policy *p = NULL;
  rc = src ? sg_policy_parse(text, len, &c->arena, &p, src) : SG_ENOMEM;
  free(text);
  if (rc) {
    for (size_t i = 0; src && i < src->n_errors && i < SG_POLICY_ERRORS_MAX; i++)
      fprintf(stderr, "%s:%s\n", file, src->errors[i] + 5); /* "line 7: x" -> "FILE:7: x" */
    if (src && src->n_errors > SG_POLICY_ERRORS_MAX)
      fprintf(stderr, "%s: and %zu more\n", file, src->n_errors - SG_POLICY_ERRORS_MAX);
    fprintf(stderr, "shegong: %s: nothing was loaded\n", file);
    free(src);
    return EXIT_USAGE;
  }
  int code = 0;
  if (dry) {
    printf("%s: the file reads well; the server checks the rest at load\n", file);
    sg_policy_write(stdout, p);
    free(src);
    return 0;
  }
  ProtobufCMessage *cur;
  sg_status st;
  Shegong__V1__GetPolicyRequest gq = SHEGONG__V1__GET_POLICY_REQUEST__INIT;
  if (do_call(c, "Policies/Get", &gq.base, &cur, &st) != 0) {
    print_status("Policies/Get", &st);
    free(src);
    return EXIT_CALL;
  }
  Shegong__V1__SetPolicyRequest req = SHEGONG__V1__SET_POLICY_REQUEST__INIT;
  req.expected_version = ((Shegong__V1__Policy *)cur)->version;
  protobuf_c_message_free_unpacked(cur, NULL);
  req.policy = p;
  ProtobufCMessage *resp;
  if (do_call(c, "Policies/Set", &req.base, &resp, &st) != 0) {
    /* the server's words, against the lines that set each field */
    fprintf(stderr, "shegong: %s: %s: %s\n", file, sg_code_name(st.code), st.message);
    for (size_t i = 0; i < st.n_violations && i < SG_STATUS_VIOLATIONS_MAX; i++) {
      int line = sg_policy_line_of(src, st.violations[i].field);
      if (line) fprintf(stderr, "%s:%d: %s: %s\n", file, line, st.violations[i].field,
                        st.violations[i].description);
      else fprintf(stderr, "%s: %s: %s\n", file, st.violations[i].field, st.violations[i].description);
    }
    code = EXIT_CALL;
  } else {
    Shegong__V1__Policy *np = (Shegong__V1__Policy *)resp;
    printf("policy version %llu loaded from %s\n", (unsigned long long)np->version, file);
    protobuf_c_message_free_unpacked(resp, NULL);
  }
  free(src);
  return code;
}

/* Prints a report's caption (table output only) and then the report. */
static int report_print(cli *c, const char *method, const ProtobufCMessage *req,
                        void (*caption)(const ProtobufCMessage *)) {
  ProtobufCMessage *resp;
  sg_status st;
  if (!c->replica_dir && !c->client && connect_cli(c)) return EXIT_CALL;
  if (do_call(c, method, req, &resp, &st) != 0) {
    print_status(method, &st);
    return EXIT_CALL;
  }
  if (c->print.format == SG_FORMAT_TABLE && caption) caption(resp);
  int rc = sg_print_message(stdout, resp, &c->print);
  protobuf_c_message_free_unpacked(resp, NULL);
  if (rc == SG_EINVAL) {
    fprintf(stderr, "shegong: --columns names a field the answer does not have\n");
    return EXIT_USAGE;
  }
  return rc ? EXIT_CALL : 0;
}

static void caption_visits(const ProtobufCMessage *m) {
  const Shegong__V1__VisitsReportResponse *r = (const void *)m;
  printf("%u 年走访: 最低 %u 户 (年中入职按在岗天数折算); %u 名社工中 %zu 名不足\n", r->year,
         r->minimum, r->workers, r->n_rows);
}

static void caption_eligibility(const ProtobufCMessage *m) {
  const Shegong__V1__EligibilityReport *r = (const void *)m;
  size_t early = 0;
  for (size_t i = 0; i < r->n_rows; i++)
    early += r->rows[i]->rule == SHEGONG__V1__STEP_RULE__EARLY_STEP_RULE;
  printf("%s: 截至 %u 年考核、%s; %u 名在岗社工中 %zu 名可提前升级, %zu 名可定期晋档\n",
         r->ladder, r->year, r->as_of, r->workers, early, r->n_rows - early);
}

static void caption_staffing(const ProtobufCMessage *m) {
  const Shegong__V1__StaffingReport *r = (const void *)m;
  printf("编制与缺口 (policy %s)%s\n", r->policy,
         r->units_without_rule ? "; some units have no quota rule: see `problem`" : "");
}

static void caption_structure(const ProtobufCMessage *m) {
  const Shegong__V1__StructureReport *r = (const void *)m;
  printf("队伍结构: %u 名在岗社工, 平均年龄 %.1f 岁\n", r->workers, r->average_age);
}

static void caption_compliance(const ProtobufCMessage *m) {
  const Shegong__V1__ComplianceReport *r = (const void *)m;
  printf("%u 年三必训: %u 名在岗社工, 书记 %u 名, 新进 %u 名, 升岗 %u 人次; 缺训 %zu 项\n", r->year,
         r->workers, r->secretaries, r->new_hires, r->promotions, r->n_rows);
}


/* ---- transfers --------------------------------------------------------------------- */

static int print_and_free(cli *c, ProtobufCMessage *m);

/* Reads transfer id's version, for a decision without --expected-version. */
static int transfer_version(cli *c, uint64_t id, uint64_t *version) {
  Shegong__V1__GetTransferRequest req = SHEGONG__V1__GET_TRANSFER_REQUEST__INIT;
  req.id = id;
  ProtobufCMessage *resp;
  sg_status st;
  if (do_call(c, "Transfers/Get", &req.base, &resp, &st) != 0) {
    print_status("Transfers/Get", &st);
    return EXIT_CALL;
  }
  *version = ((Shegong__V1__Transfer *)resp)->version;
  protobuf_c_message_free_unpacked(resp, NULL);
  return 0;
}

static const char *enum_label(const ProtobufCEnumDescriptor *d, int v) {
  const char *l = sg_label_for(d, v);
  const ProtobufCEnumValue *e = protobuf_c_enum_descriptor_get_value(d, v);
  return l ? l : e ? e->name : "?";
}

/* A transfer in words, then every step of its life as a table. */
static int print_transfer(cli *c, ProtobufCMessage *m) {
  if (c->print.format != SG_FORMAT_TABLE) return print_and_free(c, m);
  Shegong__V1__Transfer *t = (Shegong__V1__Transfer *)m;
  if (t->kind == SHEGONG__V1__TRANSFER_KIND__COMMITTEE_JOIN)
    printf("transfer %llu (version %llu): %s of %s (town assessment %.2f)%s", (unsigned long long)t->id,
           (unsigned long long)t->version, enum_label(&shegong__v1__transfer_kind__descriptor, t->kind),
           t->worker_name, t->score, t->created_worker_id ? ", now worker " : "\n");
  else
    printf("transfer %llu (version %llu): %s of worker %llu %s\n", (unsigned long long)t->id,
           (unsigned long long)t->version, enum_label(&shegong__v1__transfer_kind__descriptor, t->kind),
           (unsigned long long)t->worker_id, t->worker_name);
  if (t->created_worker_id) printf("%llu\n", (unsigned long long)t->created_worker_id);
  if (t->kind == SHEGONG__V1__TRANSFER_KIND__COMMITTEE_JOIN)
    printf("  from the 村两委 to %s (town %s)", t->to_unit_code, t->to_town_code);
  else
    printf("  from %s%s%s (%s, town %s) to %s%s%s (town %s)", t->from_unit_code,
         t->from_grid_code[0] ? " grid " : "", t->from_grid_code,
         enum_label(&shegong__v1__role__descriptor, t->from_role), t->from_town_code, t->to_unit_code,
         t->to_grid_code[0] ? " grid " : "", t->to_grid_code, t->to_town_code);
  if (t->to_role) printf(" as %s", enum_label(&shegong__v1__role__descriptor, t->to_role));
  printf("\n  effective %s%s%s", t->effective_date, t->end_date[0] ? ", ends " : "", t->end_date);
  if (t->mentor_id) printf(", mentor worker %llu", (unsigned long long)t->mentor_id);
  if (t->batch_id) printf(", batch %llu (score %.2f)", (unsigned long long)t->batch_id, t->score);
  printf("\n  state %s", enum_label(&shegong__v1__transfer_state__descriptor, t->state));
  if (t->applied_on[0]) printf(", took effect %s", t->applied_on);
  if (t->ended_on[0]) printf(", ended %s%s", t->ended_on, t->converted ? " (stays for good)" : "");
  printf("\n  approvals:");
  for (size_t i = 0; i < t->n_required; i++) {
    int done = 0;
    for (size_t k = 0; k < t->n_approved; k++) done |= t->approved[k] == t->required[i];
    printf(" %s %s", enum_label(&shegong__v1__party__descriptor, t->required[i]),
           done ? "✓" : "…");
  }
  printf("\n  reason: %s\n  history:\n", t->reason);
  for (size_t i = 0; i < t->n_events; i++) {
    const Shegong__V1__TransferEvent *e = t->events[i];
    printf("    %s  %s%s%s  %s%s%s\n", e->at, enum_label(&shegong__v1__transfer_state__descriptor, e->state),
           e->party ? " " : "", e->party ? enum_label(&shegong__v1__party__descriptor, e->party) : "",
           e->by, e->note[0] ? ": " : "", e->note);
  }
  protobuf_c_message_free_unpacked(m, NULL);
  return fflush(stdout) ? EXIT_CALL : 0;
}

static int transfer_call(cli *c, const char *method, const ProtobufCMessage *req) {
  ProtobufCMessage *resp;
  sg_status st;
  if (do_call(c, method, req, &resp, &st) != 0) {
    print_status(method, &st);
    return EXIT_CALL;
  }
  return print_transfer(c, resp);
}

/* Worker ids from a file: one per line or a CSV whose first column is the id. */
static int read_worker_ids(cli *c, const char *file, uint64_t **ids, size_t *n) {
  size_t len;
  char *text = read_file_bounded(file, 4u << 20, &len);
  if (!text) return EXIT_USAGE;
  size_t cap = 0;
  *ids = NULL;
  *n = 0;
  int line = 0, code = 0;
  for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    line++;
    char *comma = strchr(l, ',');
    if (comma) *comma = '\0';
    char *cr = strchr(l, '\r');
    if (cr) *cr = '\0';
    while (*l == ' ' || *l == '\t') l++;
    if (!*l || *l == '#' || (line == 1 && (*l < '0' || *l > '9'))) continue; /* blank, comment, header */
    uint64_t id;
    if (parse_id(l, &id)) {
      fprintf(stderr, "%s:%d: \"%s\" is not a worker id\n", file, line, l);
      code = EXIT_USAGE;
      continue;
    }
    if (*n == cap) {
      cap = cap ? cap * 2 : 64;
      uint64_t *g = sg_arena_alloc(&c->arena, cap * sizeof *g);
      if (!g) {
        code = EXIT_CALL;
        break;
      }
      if (*n) memcpy(g, *ids, *n * sizeof *g);
      *ids = g;
    }
    (*ids)[(*n)++] = id;
  }
  free(text);
  if (!code && !*n) {
    fprintf(stderr, "shegong: %s: no worker ids\n", file);
    code = EXIT_USAGE;
  }
  return code;
}

static int cmd_transfer(cli *c, const char *verb, int argc, char **argv) {
  const char *pos[2];
  int n_pos, rc;
  if (!c->replica_dir && !c->client && connect_cli(c)) return EXIT_CALL;
  if (strcmp(verb, "propose") == 0) {
    Shegong__V1__Transfer t = SHEGONG__V1__TRANSFER__INIT;
    Shegong__V1__ProposeTransferRequest req = SHEGONG__V1__PROPOSE_TRANSFER_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &t.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    req.transfer = &t;
    return transfer_call(c, "Transfers/Propose", &req.base);
  }
  if (strcmp(verb, "join") == 0) {
    /* 村两委 joining: the transfer's flags, and the person's for the rest */
    static const char *const mine[] = {"--unit", "--to-unit", "--grid", "--to-grid",
                                       "--effective-date", "--score", "--reason", NULL};
    char **targv = sg_arena_alloc(&c->arena, (size_t)(argc + 1) * sizeof *targv);
    char **wargv = sg_arena_alloc(&c->arena, (size_t)(argc + 1) * sizeof *wargv);
    int tn = 0, wn = 0;
    if (!targv || !wargv) return EXIT_CALL;
    for (int i = 0; i < argc; i++) {
      int is_mine = 0;
      for (size_t k = 0; mine[k]; k++) is_mine |= strcmp(argv[i], mine[k]) == 0;
      char **dst = is_mine ? targv : wargv;
      int *n = is_mine ? &tn : &wn;
      dst[(*n)++] = strcmp(argv[i], "--unit") == 0 ? "--to-unit" : strcmp(argv[i], "--grid") == 0
                                                                     ? "--to-grid" : argv[i];
      if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) dst[(*n)++] = argv[++i];
    }
    Shegong__V1__Transfer t = SHEGONG__V1__TRANSFER__INIT;
    Shegong__V1__Worker cand = SHEGONG__V1__WORKER__INIT;
    if ((rc = parse_fields(c, tn, targv, &t.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)) ||
        (rc = parse_fields(c, wn, wargv, &cand.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    t.kind = SHEGONG__V1__TRANSFER_KIND__COMMITTEE_JOIN;
    t.candidate = &cand;
    Shegong__V1__ProposeTransferRequest req = SHEGONG__V1__PROPOSE_TRANSFER_REQUEST__INIT;
    req.transfer = &t;
    return transfer_call(c, "Transfers/Propose", &req.base);
  }
  if (strcmp(verb, "approve") == 0 || strcmp(verb, "reject") == 0) {
    Shegong__V1__DecideTransferRequest req = SHEGONG__V1__DECIDE_TRANSFER_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 1, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (n_pos != 1 || parse_id(pos[0], &req.id)) {
      fprintf(stderr, "shegong: transfer %s ID [--party P] [--note TEXT]\n", verb);
      return EXIT_USAGE;
    }
    if (!req.expected_version && (rc = transfer_version(c, req.id, &req.expected_version)))
      return rc;
    return transfer_call(c, verb[0] == 'a' ? "Transfers/Approve" : "Transfers/Reject", &req.base);
  }
  if (strcmp(verb, "cancel") == 0) {
    Shegong__V1__CancelTransferRequest req = SHEGONG__V1__CANCEL_TRANSFER_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 1, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (n_pos != 1 || parse_id(pos[0], &req.id)) {
      fprintf(stderr, "shegong: transfer cancel ID --note TEXT\n");
      return EXIT_USAGE;
    }
    if (!req.expected_version && (rc = transfer_version(c, req.id, &req.expected_version)))
      return rc;
    return transfer_call(c, "Transfers/Cancel", &req.base);
  }
  if (strcmp(verb, "show") == 0) {
    Shegong__V1__GetTransferRequest req = SHEGONG__V1__GET_TRANSFER_REQUEST__INIT;
    if (argc != 1 || parse_id(argv[0], &req.id)) {
      fprintf(stderr, "shegong: transfer show ID\n");
      return EXIT_USAGE;
    }
    return transfer_call(c, "Transfers/Get", &req.base);
  }
  if (strcmp(verb, "list") == 0) {
    Shegong__V1__ListTransfersRequest req = SHEGONG__V1__LIST_TRANSFERS_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (c->print.format == SG_FORMAT_TABLE && !c->print.columns)
      c->print.columns = "id,kind,state,worker_id,worker_name,from_unit_code,to_unit_code,to_role,"
                         "effective_date,end_date,batch_id,score";
    return call_print(c, "Transfers/List", &req.base);
  }
  if (strcmp(verb, "apply") == 0) {
    Shegong__V1__ApplyTransfersRequest req = SHEGONG__V1__APPLY_TRANSFERS_REQUEST__INIT;
    if (argc > 1 || (argc == 1 && parse_id(argv[0], &req.id))) {
      fprintf(stderr, "shegong: transfer apply [ID]\n");
      return EXIT_USAGE;
    }
    if (c->print.format != SG_FORMAT_TABLE) return call_print(c, "Transfers/Apply", &req.base);
    ProtobufCMessage *resp;
    sg_status st;
    if (do_call(c, "Transfers/Apply", &req.base, &resp, &st) != 0) {
      print_status("Transfers/Apply", &st);
      return EXIT_CALL;
    }
    Shegong__V1__ApplyTransfersResponse *r = (void *)resp;
    int failed = 0;
    if (!r->n_results) printf("nothing is due\n");
    for (size_t i = 0; i < r->n_results; i++) {
      const Shegong__V1__ApplyResult *x = r->results[i];
      failed |= x->status->code != 0;
      if (x->status->code)
        printf("transfer %llu could not take effect: %s\n", (unsigned long long)x->id,
               x->status->message);
      else
        printf("transfer %llu took effect: worker %llu is now in %s\n", (unsigned long long)x->id,
               (unsigned long long)x->transfer->worker_id, x->transfer->to_unit_code);
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return failed ? EXIT_CALL : 0;
  }
  if (strcmp(verb, "end") == 0) {
    Shegong__V1__EndTransferRequest req = SHEGONG__V1__END_TRANSFER_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 1, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (n_pos != 1 || parse_id(pos[0], &req.id)) {
      fprintf(stderr, "shegong: transfer end ID [--convert] [--end-date D] [--note TEXT]\n");
      return EXIT_USAGE;
    }
    if (!req.expected_version && (rc = transfer_version(c, req.id, &req.expected_version)))
      return rc;
    return transfer_call(c, "Transfers/End", &req.base);
  }
  if (strcmp(verb, "batch-convert") == 0) {
    Shegong__V1__ProposeConversionsRequest req = SHEGONG__V1__PROPOSE_CONVERSIONS_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 1, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (n_pos == 1) {
      uint64_t *ids;
      size_t n;
      if ((rc = read_worker_ids(c, pos[0], &ids, &n))) return rc;
      req.worker_ids = ids;
      req.n_worker_ids = n;
    }
    if (!req.town_code[0] || !req.effective_date[0]) {
      fprintf(stderr, "shegong: transfer batch-convert [FILE] --town CODE --effective-date D ...\n");
      return EXIT_USAGE;
    }
    ProtobufCMessage *resp;
    sg_status st;
    if (do_call(c, "Transfers/ProposeConversions", &req.base, &resp, &st) != 0) {
      /* worker_ids[i] is the i-th id of the file */
      print_status("Transfers/ProposeConversions", &st);
      return EXIT_CALL;
    }
    Shegong__V1__ProposeConversionsResponse *r = (void *)resp;
    if (c->print.format == SG_FORMAT_TABLE) {
      printf("batch %llu: %zu of %u 专职网格员 proposed for 转任\n", (unsigned long long)r->batch_id,
             r->n_transfers, r->considered);
      if (!c->print.columns)
        c->print.columns = "id,worker_id,worker_name,from_unit_code,to_role,score,effective_date,state";
    }
    return print_and_free(c, resp);
  }
  fprintf(stderr, "shegong: transfer propose|approve|reject|cancel|list|show|apply|end|"
                  "batch-convert, not \"%s\"\n", verb);
  return EXIT_USAGE;
}

static int cmd_report(cli *c, const char *verb, int argc, char **argv) {
  const char *pos[1];
  int n_pos, rc;
  if (strcmp(verb, "visits") == 0) {
    Shegong__V1__VisitsReportRequest req = SHEGONG__V1__VISITS_REPORT_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    return report_print(c, "Assessments/VisitsReport", &req.base, caption_visits);
  }
  if (strcmp(verb, "eligibility") == 0) {
    Shegong__V1__EligibilityRequest req = SHEGONG__V1__ELIGIBILITY_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (c->print.format == SG_FORMAT_TABLE && !c->print.columns)
      c->print.columns = "worker_id,name,unit_code,rule,post,level,to_level,evidence_summary";
    return report_print(c, "Assessments/Eligibility", &req.base, caption_eligibility);
  }
  if (strcmp(verb, "training-compliance") == 0) {
    Shegong__V1__ComplianceRequest req = SHEGONG__V1__COMPLIANCE_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    return report_print(c, "Training/Compliance", &req.base, caption_compliance);
  }
  if (strcmp(verb, "staffing") == 0) {
    Shegong__V1__StaffingRequest req = SHEGONG__V1__STAFFING_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (c->print.format == SG_FORMAT_TABLE && !c->print.columns)
      c->print.columns = "unit_code,name,level,quota,actual,gap,rule,roles,detail,problem";
    return report_print(c, "Reports/Staffing", &req.base, caption_staffing);
  }
  if (strcmp(verb, "turnover") == 0) {
    Shegong__V1__TurnoverRequest req = SHEGONG__V1__TURNOVER_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    if (!req.hired_from || !req.hired_to) {
      fprintf(stderr, "shegong: report turnover --hired-from YEAR --hired-to YEAR [--gone-by D]\n");
      return EXIT_USAGE;
    }
    return report_print(c, "Reports/Turnover", &req.base, NULL);
  }
  if (strcmp(verb, "certification") == 0) {
    Shegong__V1__CertificationRequest req = SHEGONG__V1__CERTIFICATION_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    return report_print(c, "Reports/Certification", &req.base, NULL);
  }
  if (strcmp(verb, "structure") == 0) {
    Shegong__V1__StructureRequest req = SHEGONG__V1__STRUCTURE_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    return report_print(c, "Reports/Structure", &req.base, caption_structure);
  }
  if (strcmp(verb, "hiring") == 0) {
    Shegong__V1__HiringRequest req = SHEGONG__V1__HIRING_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    return report_print(c, "Reports/Hiring", &req.base, NULL);
  }
  if (strcmp(verb, "placements") == 0) {
    Shegong__V1__PlacementReportRequest req = SHEGONG__V1__PLACEMENT_REPORT_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    return report_print(c, "Transfers/PlacementReport", &req.base, NULL);
  }
  fprintf(stderr, "shegong: report eligibility|training-compliance|visits|placements|staffing|"
                  "turnover|certification|structure|hiring, not \"%s\"\n",
          verb);
  return EXIT_USAGE;
}

/* Reads an assessment's current version, for an amend without --expected-version. */
static int assessment_version(cli *c, uint64_t id, uint64_t *version) {
  /* there is no Get: the worker's list has it, but the id alone does not
   * name the worker, so the caller must give --expected-version */
  (void)c, (void)id, (void)version;
  fprintf(stderr, "shegong: assess amend needs --expected-version (from assess list)\n");
  return EXIT_USAGE;
}

/* assess bulk: a CSV whose header names Assessment fields (and household_visits). */
static int assess_bulk(cli *c, const char *file, const char *unit) {
  size_t len;
  char *raw = read_file_bounded(file, 16u << 20, &len);
  if (!raw) return EXIT_USAGE;
  char *text = NULL, why[160];
  size_t tlen;
  const char *enc;
  if (sg_text_to_utf8(raw, len, NULL, &text, &tlen, &enc, why, sizeof why)) {
    fprintf(stderr, "shegong: %s: %s\n", file, why);
    free(raw);
    return EXIT_USAGE;
  }
  free(raw);
  sg_csv csv;
  sg_csv_init(&csv, text, tlen);
  char **hdr = NULL, **f = NULL;
  size_t nh = 0, nf = 0, line;
  int code = 0;
  if (sg_csv_next(&csv, &hdr, &nh, &line, why, sizeof why) != 1) {
    fprintf(stderr, "shegong: %s: no header row\n", file);
    free(text);
    return EXIT_USAGE;
  }
  Shegong__V1__BulkAssessmentRequest req = SHEGONG__V1__BULK_ASSESSMENT_REQUEST__INIT;
  req.unit_code = (char *)unit;
  size_t cap = 0;
  size_t *lines = NULL;
  int r;
  while ((r = sg_csv_next(&csv, &f, &nf, &line, why, sizeof why)) == 1) {
    int blank = 1;
    for (size_t i = 0; i < nf; i++) blank &= f[i][0] == '\0';
    if (blank) {
      sg_csv_free_row(f, nf);
      continue;
    }
    if (req.n_rows == 2000) {
      fprintf(stderr, "%s:%zu: more than 2000 rows: split the file\n", file, line);
      code = EXIT_USAGE;
      sg_csv_free_row(f, nf);
      break;
    }
    if (req.n_rows == cap) {
      cap = cap ? cap * 2 : 64;
      Shegong__V1__RecordAssessmentRequest **g = realloc(req.rows, cap * sizeof *g);
      size_t *gl = realloc(lines, cap * sizeof *gl);
      if (g) req.rows = g;
      if (gl) lines = gl;
      if (!g || !gl) {
        code = EXIT_CALL;
        sg_csv_free_row(f, nf);
        break;
      }
    }
    Shegong__V1__RecordAssessmentRequest *row = sg_arena_calloc(&c->arena, sizeof *row);
    Shegong__V1__Assessment *a = sg_arena_calloc(&c->arena, sizeof *a);
    if (!row || !a) {
      code = EXIT_CALL;
      sg_csv_free_row(f, nf);
      break;
    }
    shegong__v1__record_assessment_request__init(row);
    shegong__v1__assessment__init(a);
    row->assessment = a;
    for (size_t i = 0; i < nf && i < nh; i++) {
      if (!f[i][0]) continue;
      char fwhy[160] = "";
      if (strcmp(hdr[i], "household_visits") == 0 || strcmp(hdr[i], "visits") == 0) {
        row->set_visits = 1;
        if (sg_msg_set_field(&row->base, &c->arena.allocator, "household_visits", f[i], fwhy,
                             sizeof fwhy)) {
          fprintf(stderr, "%s:%zu: %s: %s\n", file, line, hdr[i], fwhy);
          code = EXIT_USAGE;
        }
      } else if (sg_msg_set_field(&a->base, &c->arena.allocator, hdr[i], f[i], fwhy, sizeof fwhy)) {
        fprintf(stderr, "%s:%zu: %s: %s\n", file, line, hdr[i], fwhy[0] ? fwhy : "no such column");
        code = EXIT_USAGE;
      }
    }
    lines[req.n_rows] = line;
    req.rows[req.n_rows++] = row;
    sg_csv_free_row(f, nf);
  }
  if (r < 0) {
    fprintf(stderr, "shegong: %s: %s\n", file, why);
    code = EXIT_USAGE;
  }
  sg_csv_free_row(hdr, nh);
  if (code == 0 && req.n_rows == 0) {
    fprintf(stderr, "shegong: %s: no rows\n", file);
    code = EXIT_USAGE;
  }
  if (code == 0) {
    ProtobufCMessage *resp;
    sg_status st;
    if (!c->client && connect_cli(c)) {
      code = EXIT_CALL;
    } else if (do_call(c, "Assessments/Bulk", &req.base, &resp, &st) != 0) {
      fprintf(stderr, "shegong: %s: %s: %s\n", file, sg_code_name(st.code), st.message);
      for (size_t i = 0; i < st.n_violations && i < SG_STATUS_VIOLATIONS_MAX; i++) {
        size_t k;
        /* rows[3].assessment.year -> the CSV line of row 3 */
        if (sscanf(st.violations[i].field, "rows[%zu]", &k) == 1 && k < req.n_rows)
          fprintf(stderr, "%s:%zu: %s: %s\n", file, lines[k], st.violations[i].field,
                  st.violations[i].description);
        else
          fprintf(stderr, "%s: %s: %s\n", file, st.violations[i].field, st.violations[i].description);
      }
      code = EXIT_CALL;
    } else {
      Shegong__V1__BulkAssessmentResponse *br = (void *)resp;
      if (c->print.format == SG_FORMAT_TABLE)
        printf("%zu assessments recorded for %s\n", br->n_assessments, unit);
      sg_print_message(stdout, resp, &c->print);
      protobuf_c_message_free_unpacked(resp, NULL);
    }
  }
  free(req.rows);
  free(lines);
  free(text);
  return code;
}

static int cmd_assess(cli *c, const char *verb, int argc, char **argv) {
  const char *pos[2];
  int n_pos, rc;
  if (strcmp(verb, "add") == 0) {
    Shegong__V1__Assessment a = SHEGONG__V1__ASSESSMENT__INIT;
    Shegong__V1__RecordAssessmentRequest req = SHEGONG__V1__RECORD_ASSESSMENT_REQUEST__INIT;
    static const char *const extra[] = {"visits", NULL};
    const char *extra_val[1] = {NULL};
    if ((rc = parse_fields(c, argc, argv, &a.base, pos, 0, &n_pos, NULL, NULL, extra, extra_val)))
      return rc;
    if (extra_val[0]) {
      char why[160] = "";
      req.set_visits = 1;
      if (sg_msg_set_field(&req.base, &c->arena.allocator, "household_visits", extra_val[0], why,
                           sizeof why)) {
        fprintf(stderr, "shegong: --visits: %s\n", why);
        return EXIT_USAGE;
      }
    }
    req.assessment = &a;
    return call_print(c, "Assessments/Record", &req.base);
  }
  if (strcmp(verb, "list") == 0) {
    Shegong__V1__ListAssessmentsRequest req = SHEGONG__V1__LIST_ASSESSMENTS_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    return call_print(c, "Assessments/List", &req.base);
  }
  if (strcmp(verb, "amend") == 0) {
    Shegong__V1__Assessment a = SHEGONG__V1__ASSESSMENT__INIT;
    Shegong__V1__AmendAssessmentRequest req = SHEGONG__V1__AMEND_ASSESSMENT_REQUEST__INIT;
    static const char *const extra[] = {"expected_version", NULL};
    const char *extra_val[1] = {NULL};
    if ((rc = parse_fields(c, argc, argv, &a.base, pos, 1, &n_pos, &req.base, "update_mask", extra,
                           extra_val)))
      return rc;
    if (n_pos != 1 || parse_id(pos[0], &req.id) || !req.n_update_mask) {
      fprintf(stderr, "shegong: assess amend ID --FIELD VALUE ... --expected-version V\n");
      return EXIT_USAGE;
    }
    if (!extra_val[0]) return assessment_version(c, req.id, &req.expected_version);
    if (parse_id(extra_val[0], &req.expected_version)) {
      fprintf(stderr, "shegong: --expected-version wants a positive number\n");
      return EXIT_USAGE;
    }
    req.assessment = &a;
    return call_print(c, "Assessments/Amend", &req.base);
  }
  if (strcmp(verb, "bulk") == 0) {
    const char *file = NULL, *unit = NULL;
    for (int i = 0; i < argc; i++) {
      if ((strcmp(argv[i], "--unit") == 0 || strcmp(argv[i], "--unit-code") == 0) && i + 1 < argc)
        unit = argv[++i];
      else if (argv[i][0] != '-' && !file) file = argv[i];
      else file = NULL, i = argc;
    }
    if (!file || !unit) {
      fprintf(stderr, "shegong: assess bulk FILE.csv --unit CODE\n");
      return EXIT_USAGE;
    }
    return assess_bulk(c, file, unit);
  }
  fprintf(stderr, "shegong: assess add|list|amend|bulk, not \"%s\"\n", verb);
  return EXIT_USAGE;
}

static int cmd_visits(cli *c, const char *verb, int argc, char **argv) {
  const char *pos[1];
  int n_pos, rc;
  if (strcmp(verb, "set") == 0) {
    Shegong__V1__SetVisitsRequest req = SHEGONG__V1__SET_VISITS_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    return call_print(c, "Assessments/SetVisits", &req.base);
  }
  if (strcmp(verb, "report") == 0) return cmd_report(c, "visits", argc, argv);
  fprintf(stderr, "shegong: visits set|report, not \"%s\"\n", verb);
  return EXIT_USAGE;
}

static int cmd_training(cli *c, const char *verb, int argc, char **argv) {
  const char *pos[1024];
  int n_pos, rc;
  if (strcmp(verb, "course") == 0 && argc >= 1 && strcmp(argv[0], "add") == 0) {
    Shegong__V1__Course course = SHEGONG__V1__COURSE__INIT;
    Shegong__V1__CreateCourseRequest req = SHEGONG__V1__CREATE_COURSE_REQUEST__INIT;
    if ((rc = parse_fields(c, argc - 1, argv + 1, &course.base, pos, 0, &n_pos, NULL, NULL, NULL,
                           NULL)))
      return rc;
    req.course = &course;
    return call_print(c, "Training/CreateCourse", &req.base);
  }
  if (strcmp(verb, "course") == 0 && argc >= 1 && strcmp(argv[0], "list") == 0) {
    Shegong__V1__ListCoursesRequest req = SHEGONG__V1__LIST_COURSES_REQUEST__INIT;
    if ((rc = parse_fields(c, argc - 1, argv + 1, &req.base, pos, 0, &n_pos, NULL, NULL, NULL,
                           NULL)))
      return rc;
    return call_print(c, "Training/ListCourses", &req.base);
  }
  if (strcmp(verb, "attend") == 0) {
    Shegong__V1__AttendRequest req = SHEGONG__V1__ATTEND_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 1024, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    uint64_t *ids = n_pos ? sg_arena_alloc(&c->arena, (size_t)n_pos * sizeof *ids) : NULL;
    if (n_pos < 2 || !ids || parse_id(pos[0], &req.course_id)) {
      fprintf(stderr, "shegong: training attend COURSE_ID WORKER_ID... [--hours H]\n");
      return EXIT_USAGE;
    }
    for (int i = 1; i < n_pos; i++)
      if (parse_id(pos[i], &ids[i - 1])) {
        fprintf(stderr, "shegong: \"%s\" is not a worker id\n", pos[i]);
        return EXIT_USAGE;
      }
    req.worker_ids = ids;
    req.n_worker_ids = (size_t)n_pos - 1;
    return call_print(c, "Training/Attend", &req.base);
  }
  if (strcmp(verb, "list") == 0) {
    Shegong__V1__ListAttendanceRequest req = SHEGONG__V1__LIST_ATTENDANCE_REQUEST__INIT;
    if ((rc = parse_fields(c, argc, argv, &req.base, pos, 0, &n_pos, NULL, NULL, NULL, NULL)))
      return rc;
    return call_print(c, "Training/ListAttendance", &req.base);
  }
  fprintf(stderr, "shegong: training course add|list, attend, list; not \"%s\"\n", verb);
  return EXIT_USAGE;
}

static int print_and_free(cli *c, ProtobufCMessage *m) {
  int rc = sg_print_message(stdout, m, &c->print);
  protobuf_c_message_free_unpacked(m, NULL);
  return rc ? EXIT_CALL : 0;
}

/* Commands about the local copy itself: init, sync, status, outbox, conflicts. */
static int cmd_replica(cli *c, const char *noun, int argc, char **argv) {
  if (!c->replica_dir) {
    fprintf(stderr, "shegong: %s works on a replica: give --replica DIR\n", noun);
    return EXIT_USAGE;
  }
  if (open_replica(c)) return EXIT_CALL;
  sg_status st;
  int rc;
  if (strcmp(noun, "replica") == 0) {
    const char *town = NULL;
    if (argc == 3 && strcmp(argv[0], "init") == 0 && strcmp(argv[1], "--town") == 0)
      town = argv[2];
    if (!town) {
      fprintf(stderr, "shegong: replica init --town CODE\n");
      return EXIT_USAGE;
    }
    if (!c->client && connect_cli(c)) return EXIT_CALL;
    if ((rc = sg_replica_init(c->replica, c->client, c->server ? c->server : SG_DEFAULT_SERVER,
                              town, &st))) {
      print_status("replica init", &st);
      return EXIT_CALL;
    }
    Shegong__V1__ReplicaStatus *s;
    if (sg_replica_status(c->replica, &s, &st)) {
      print_status("replica status", &st);
      return EXIT_CALL;
    }
    return print_and_free(c, &s->base);
  }
  if (strcmp(noun, "sync") == 0) {
    if (argc) {
      fprintf(stderr, "shegong: sync takes no arguments\n");
      return EXIT_USAGE;
    }
    if (!c->client && connect_cli(c)) return EXIT_CALL;
    Shegong__V1__SyncReport *rep;
    rc = sg_replica_sync(c->replica, c->client, &rep, &st);
    /* what was done before a failure is done: say so either way */
    if (rep) print_and_free(c, &rep->base);
    if (rc) {
      print_status("sync", &st);
      return EXIT_CALL;
    }
    return 0;
  }
  if (strcmp(noun, "status") == 0 || strcmp(noun, "outbox") == 0 ||
      (strcmp(noun, "conflicts") == 0 && argc == 0)) {
    ProtobufCMessage *m = NULL;
    if (noun[0] == 's') rc = sg_replica_status(c->replica, (Shegong__V1__ReplicaStatus **)&m, &st);
    else if (noun[0] == 'o') rc = sg_replica_outbox(c->replica, (Shegong__V1__OutboxList **)&m, &st);
    else rc = sg_replica_conflicts(c->replica, (Shegong__V1__ConflictList **)&m, &st);
    if (rc) {
      print_status(noun, &st);
      return EXIT_CALL;
    }
    return print_and_free(c, m);
  }
  if (strcmp(noun, "conflicts") == 0 && argc == 3 && strcmp(argv[0], "resolve") == 0 &&
      (strcmp(argv[2], "--mine") == 0 || strcmp(argv[2], "--server") == 0)) {
    if ((rc = sg_replica_resolve(c->replica, argv[1], strcmp(argv[2], "--mine") == 0, &st))) {
      print_status("conflicts resolve", &st);
      return EXIT_CALL;
    }
    printf("conflict %s resolved: %s\n", argv[1],
           strcmp(argv[2], "--mine") == 0 ? "your change is queued for the next sync"
                                          : "the server's record stands");
    return 0;
  }
  fprintf(stderr, "shegong: conflicts [resolve MUTATION_ID --mine|--server]\n");
  return EXIT_USAGE;
}

int main(int argc, char **argv) {
  cli c;
  memset(&c, 0, sizeof c);
  /* the replica's store logs like a server; a command line wants only trouble */
  sg_log_set_level(SG_LOG_WARN);
  sg_arena_init(&c.arena, 16u << 20);
  c.server = getenv("SHEGONG_SERVER");
  c.replica_dir = getenv("SHEGONG_REPLICA");
  if (c.replica_dir && !*c.replica_dir) c.replica_dir = NULL;
  c.timeout_ms = 30000;
  c.print.format = SG_FORMAT_TABLE;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--version") == 0) {
      printf("shegong %s\n", SHEGONG_VERSION);
      return 0;
    } else if (!next) {
      fprintf(stderr, "shegong: %s needs a value\n", a);
      return EXIT_USAGE;
    } else if (strcmp(a, "--server") == 0) {
      c.server = argv[++i];
    } else if (strcmp(a, "--replica") == 0) {
      c.replica_dir = argv[++i];
    } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
      int f = sg_format_from_name(argv[++i]);
      if (f < 0) {
        fprintf(stderr, "shegong: -o takes table, json or csv\n");
        return EXIT_USAGE;
      }
      c.print.format = (sg_format)f;
    } else if (strcmp(a, "--columns") == 0) {
      c.print.columns = argv[++i];
    } else if (strcmp(a, "--timeout") == 0) {
      char *end;
      long t = strtol(argv[++i], &end, 10);
      if (*end || t <= 0 || t > 3600000) {
        fprintf(stderr, "shegong: --timeout takes milliseconds, 1 to 3600000\n");
        return EXIT_USAGE;
      }
      c.timeout_ms = (int)t;
    } else if (strcmp(a, "--token-file") == 0) {
      /* the flag is the most explicit choice: it beats $SHEGONG_TOKEN */
      setenv("SHEGONG_TOKEN_FILE", argv[++i], 1);
      unsetenv("SHEGONG_TOKEN");
    } else if (strcmp(a, "--tls-ca") == 0) {
      setenv("SHEGONG_TLS_CA", argv[++i], 1);
    } else {
      fprintf(stderr, "shegong: unknown option %s\n", a);
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  if (i >= argc) {
    usage(stderr);
    return EXIT_USAGE;
  }
  /* bookkeeping fields crowd a terminal table; --columns or -o json/csv show them */
  if (c.print.format == SG_FORMAT_TABLE && !c.print.columns)
    c.print.hide = "revision,parent_id,unit_id,created_at,updated_at";
  const char *noun = argv[i++];
  int code;
  if (strcmp(noun, "hello") == 0) {
    Shegong__V1__HelloRequest req = SHEGONG__V1__HELLO_REQUEST__INIT;
    req.client = "shegong-cli/" SHEGONG_VERSION;
    req.protocol_version = SG_PROTOCOL_VERSION;
    code = call_print(&c, "Admin/Hello", &req.base);
  } else if (strcmp(noun, "whoami") == 0) {
    Shegong__V1__WhoAmIRequest req = SHEGONG__V1__WHO_AM_IREQUEST__INIT;
    code = call_print(&c, "Tokens/WhoAmI", &req.base);
  } else if (strcmp(noun, "import") == 0 || strcmp(noun, "export") == 0) {
    code = cmd_import_export(&c, noun[0] == 'i', argc - i, argv + i);
  } else if (strcmp(noun, "changes") == 0) {
    code = cmd_changes(&c, argc - i, argv + i);
  } else if (strcmp(noun, "replica") == 0 || strcmp(noun, "sync") == 0 ||
             strcmp(noun, "status") == 0 || strcmp(noun, "outbox") == 0 ||
             strcmp(noun, "conflicts") == 0) {
    code = cmd_replica(&c, noun, argc - i, argv + i);
  } else if (i >= argc) {
    fprintf(stderr, "shegong: %s needs a verb\n", noun);
    code = EXIT_USAGE;
  } else if (strcmp(noun, "unit") == 0) {
    const char *verb = argv[i++];
    code = cmd_unit(&c, verb, argc - i, argv + i);
  } else if (strcmp(noun, "worker") == 0) {
    const char *verb = argv[i++];
    code = cmd_worker(&c, verb, argc - i, argv + i);
  } else if (strcmp(noun, "admin") == 0) {
    const char *verb = argv[i++];
    code = cmd_admin(&c, verb, argc - i, argv + i);
  } else if (strcmp(noun, "token") == 0) {
    const char *verb = argv[i++];
    code = cmd_token(&c, verb, argc - i, argv + i);
  } else if (strcmp(noun, "audit") == 0) {
    const char *verb = argv[i++];
    code = cmd_audit(&c, verb, argc - i, argv + i);
  } else if (strcmp(noun, "policy") == 0) {
    const char *verb = argv[i++];
    code = cmd_policy(&c, verb, argc - i, argv + i);
  } else if (strcmp(noun, "assess") == 0) {
    const char *verb = argv[i++];
    code = cmd_assess(&c, verb, argc - i, argv + i);
  } else if (strcmp(noun, "visits") == 0) {
    const char *verb = argv[i++];
    code = cmd_visits(&c, verb, argc - i, argv + i);
  } else if (strcmp(noun, "training") == 0) {
    const char *verb = argv[i++];
    code = cmd_training(&c, verb, argc - i, argv + i);
  } else if (strcmp(noun, "transfer") == 0) {
    const char *verb = argv[i++];
    code = cmd_transfer(&c, verb, argc - i, argv + i);
  } else if (strcmp(noun, "report") == 0) {
    const char *verb = argv[i++];
    code = cmd_report(&c, verb, argc - i, argv + i);
  } else {
    fprintf(stderr, "shegong: unknown command \"%s\"\n", noun);
    usage(stderr);
    code = EXIT_USAGE;
  }
  sg_client_close(c.client);
  sg_replica_close(c.replica);
  sg_arena_destroy(&c.arena);
  return code;
}
