#include "policyfile.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "msgparse.h"
#include "shegong/v1/units.pb-c.h"

static void add_error(sg_policy_src *src, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_error(sg_policy_src *src, int line, const char *fmt, ...) {
  if (src->n_errors < SG_POLICY_ERRORS_MAX) {
    char *e = src->errors[src->n_errors];
    int k = snprintf(e, sizeof src->errors[0], "line %d: ", line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e + k, sizeof src->errors[0] - (size_t)k, fmt, ap);
    va_end(ap);
  }
  src->n_errors++;
}

static void note_key(sg_policy_src *src, const char *path, int line) {
  if (src->n == sizeof src->keys / sizeof src->keys[0]) return;
  snprintf(src->keys[src->n].path, sizeof src->keys[0].path, "%s", path);
  src->keys[src->n++].line = line;
}

static int seen(const sg_policy_src *src, const char *path) {
  for (size_t i = 0; i < src->n; i++)
    if (strcmp(src->keys[i].path, path) == 0) return src->keys[i].line;
  return 0;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
  return s;
}

/* "A 1-12": a post of the ladder. */
static int parse_post(char *v, sg_arena *a, Shegong__V1__PayPost **out, char *why, size_t n) {
  char *dash = strrchr(v, '-'), *space = dash ? dash : NULL;
  while (space && space > v && space[-1] != ' ' && space[-1] != '\t') space--;
  if (!dash || !space || space == v) {
    snprintf(why, n, "a post is `NAME MIN-MAX`, e.g. `post = 主管 7-12`");
    return -1;
  }
  char *name_end = space;
  while (name_end > v && (name_end[-1] == ' ' || name_end[-1] == '\t')) name_end--;
  char *end1, *end2;
  long lo = strtol(space, &end1, 10), hi = strtol(dash + 1, &end2, 10);
  if (end1 != dash || *trim(end2) || lo < 1 || hi < lo || hi > 99) {
    snprintf(why, n, "levels are MIN-MAX with 1 <= MIN <= MAX <= 99, not \"%s\"", space);
    return -1;
  }
  Shegong__V1__PayPost *p = sg_arena_alloc(a, sizeof *p);
  if (!p) return -1;
  shegong__v1__pay_post__init(p);
  p->name = sg_arena_strndup(a, v, (size_t)(name_end - v));
  p->min_level = (uint32_t)lo;
  p->max_level = (uint32_t)hi;
  *out = p;
  return p->name ? 0 : -1;
}

/* "NUMBER NUMBER [NUMBER]": up to max unsigned numbers (and doubles where asked). */
static int parse_numbers(const char *v, double *out, int min, int max, char *why, size_t n,
                         const char *shape) {
  int k = 0;
  const char *p = v;
  while (*p) {
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) break;
    char *end;
    double d = strtod(p, &end);
    if (end == p || (*end && *end != ' ' && *end != '\t') || k == max || !(d >= 0) || d > 1e9) {
      snprintf(why, n, "`%s`, numbers of 0 or more", shape);
      return -1;
    }
    out[k++] = d;
    p = end;
  }
  if (k < min) {
    snprintf(why, n, "`%s`", shape);
    return -1;
  }
  for (int i = k; i < max; i++) out[i] = 0;
  return k;
}

/* Appends m to a repeated message field of parent (at most cap). */
static int append_msg(sg_arena *a, void ***arr, size_t *n, size_t cap, void *m) {
  if (*n == cap) return -1;
  void **g = sg_arena_alloc(a, (*n + 1) * sizeof *g);
  if (!g) return -1;
  if (*n) memcpy(g, *arr, *n * sizeof *g);
  g[(*n)++] = m;
  *arr = g;
  return 0;
}

#define SG_POLICY_QUOTAS_MAX 64
#define SG_POLICY_PARTS_MAX 32

/*
 * The repeated keys of a [quota] section: `band = MIN_HOUSEHOLDS WORKERS`,
 * `role = GROUP FIXED [PER_GRID]`, `tier = MIN_RESIDENTS MIN_AREA_KM2 WORKERS`.
 * 1 when key is one of them (handled, or reported), 0 otherwise.
 */
static int quota_part(sg_policy_src *src, sg_arena *a, Shegong__V1__QuotaRule *q, size_t qi,
                      const char *key, const char *value, int line) {
  char why[160] = "", path[64];
  double v[3];
  if (strcmp(key, "band") == 0) {
    if (parse_numbers(value, v, 2, 2, why, sizeof why, "band = MIN_HOUSEHOLDS WORKERS") < 0 ||
        v[0] != (uint32_t)v[0] || v[1] != (uint32_t)v[1]) {
      add_error(src, line, "%s", why[0] ? why : "whole numbers");
      return 1;
    }
    Shegong__V1__HouseholdStep *st = sg_arena_alloc(a, sizeof *st);
    if (!st) return 1;
    shegong__v1__household_step__init(st);
    st->min_households = (uint32_t)v[0];
    st->workers = (uint32_t)v[1];
    snprintf(path, sizeof path, "policy.quotas[%zu].household_steps[%zu]", qi, q->n_household_steps);
    if (append_msg(a, (void ***)&q->household_steps, &q->n_household_steps, SG_POLICY_PARTS_MAX, st))
      add_error(src, line, "at most %d bands", SG_POLICY_PARTS_MAX);
    else
      note_key(src, path, line);
    return 1;
  }
  if (strcmp(key, "role") == 0) {
    char group[32];
    const char *rest = value;
    size_t gl = strcspn(value, " \t");
    if (gl == 0 || gl >= sizeof group) {
      add_error(src, line, "`role = GROUP FIXED [PER_GRID]`: lead, general, neighbourhood or grid");
      return 1;
    }
    memcpy(group, value, gl);
    group[gl] = '\0';
    rest = value + gl;
    static const struct {
      const char *word;
      Shegong__V1__RoleGroup g;
    } groups[] = {{"lead", SHEGONG__V1__ROLE_GROUP__LEAD},       {"主责", SHEGONG__V1__ROLE_GROUP__LEAD},
                  {"general", SHEGONG__V1__ROLE_GROUP__GENERAL}, {"全科", SHEGONG__V1__ROLE_GROUP__GENERAL},
                  {"neighbourhood", SHEGONG__V1__ROLE_GROUP__NEIGHBOURHOOD_GROUP},
                  {"邻里", SHEGONG__V1__ROLE_GROUP__NEIGHBOURHOOD_GROUP},
                  {"grid", SHEGONG__V1__ROLE_GROUP__GRID_GROUP}, {"网格", SHEGONG__V1__ROLE_GROUP__GRID_GROUP}};
    Shegong__V1__RoleGroup g = SHEGONG__V1__ROLE_GROUP__ROLE_GROUP_UNSPECIFIED;
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
      if (strcmp(group, groups[i].word) == 0) g = groups[i].g;
    if (!g) {
      add_error(src, line, "no role group `%s`: lead (主责), general (全科), neighbourhood (邻里) or "
                           "grid (网格)", group);
      return 1;
    }
    if (parse_numbers(rest, v, 1, 2, why, sizeof why, "role = GROUP FIXED [PER_GRID]") < 0 ||
        v[0] != (uint32_t)v[0] || v[1] != (uint32_t)v[1]) {
      add_error(src, line, "%s", why[0] ? why : "whole numbers");
      return 1;
    }
    Shegong__V1__RoleQuota *r = sg_arena_alloc(a, sizeof *r);
    if (!r) return 1;
    shegong__v1__role_quota__init(r);
    r->group = g;
    r->fixed = (uint32_t)v[0];
    r->per_grid = (uint32_t)v[1];
    snprintf(path, sizeof path, "policy.quotas[%zu].roles[%zu]", qi, q->n_roles);
    if (append_msg(a, (void ***)&q->roles, &q->n_roles, SG_POLICY_PARTS_MAX, r))
      add_error(src, line, "at most %d roles", SG_POLICY_PARTS_MAX);
    else
      note_key(src, path, line);
    return 1;
  }
  if (strcmp(key, "tier") == 0) {
    if (parse_numbers(value, v, 3, 3, why, sizeof why, "tier = MIN_RESIDENTS MIN_AREA_KM2 WORKERS") <
            0 ||
        v[0] != (uint32_t)v[0] || v[2] != (uint32_t)v[2]) {
      add_error(src, line, "%s", why[0] ? why : "whole numbers of residents and workers");
      return 1;
    }
    Shegong__V1__CentreTier *t = sg_arena_alloc(a, sizeof *t);
    if (!t) return 1;
    shegong__v1__centre_tier__init(t);
    t->min_residents = (uint32_t)v[0];
    t->min_area_km2 = v[1];
    t->workers = (uint32_t)v[2];
    snprintf(path, sizeof path, "policy.quotas[%zu].centre_tiers[%zu]", qi, q->n_centre_tiers);
    if (append_msg(a, (void ***)&q->centre_tiers, &q->n_centre_tiers, SG_POLICY_PARTS_MAX, t))
      add_error(src, line, "at most %d tiers", SG_POLICY_PARTS_MAX);
    else
      note_key(src, path, line);
    return 1;
  }
  return 0;
}

int sg_policy_parse(const char *text, size_t len, sg_arena *arena, Shegong__V1__Policy **out,
                    sg_policy_src *src) {
  memset(src, 0, sizeof *src);
  Shegong__V1__Policy *p = sg_arena_alloc(arena, sizeof *p);
  if (!p) return SG_ENOMEM;
  shegong__v1__policy__init(p);
  ProtobufCMessage *section = &p->base;
  char section_name[32] = ""; /* "assessment", "quotas[2]": the path of its keys */
  Shegong__V1__QuotaRule *quota = NULL;
  Shegong__V1__PayPost *posts[16];
  size_t n_posts = 0;
  int line = 0;
  const char *s = text, *end = text + len;
  if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3; /* a BOM from Windows editors */
  while (s < end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
    line++;
    char buf[512];
    if (n >= sizeof buf) {
      add_error(src, line, "longer than %zu bytes", sizeof buf - 1);
      s += n + 1;
      continue;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    s += n + 1;
    if (memchr(buf, '\0', n)) {
      add_error(src, line, "contains a NUL byte");
      continue;
    }
    char *hash = strchr(buf, '#');
    if (hash) *hash = '\0';
    char *t = trim(buf);
    if (!*t) continue;
    if (*t == '[') {
      char *close = strchr(t, ']');
      if (!close || *trim(close + 1)) {
        add_error(src, line, "a section is `[name]`");
        continue;
      }
      *close = '\0';
      char *name = trim(t + 1);
      char path[64];
      snprintf(path, sizeof path, "policy.%s", name);
      quota = NULL;
      if (strcmp(name, "quota") != 0 && seen(src, path)) {
        add_error(src, line, "section [%s] again (first on line %d)", name, seen(src, path));
        section = NULL;
        continue;
      }
      ProtobufCMessage **slot = NULL;
      if (strcmp(name, "assessment") == 0) {
        p->assessment = sg_arena_alloc(arena, sizeof *p->assessment);
        if (p->assessment) shegong__v1__assessment_policy__init(p->assessment);
        slot = (ProtobufCMessage **)&p->assessment;
      } else if (strcmp(name, "training") == 0) {
        p->training = sg_arena_alloc(arena, sizeof *p->training);
        if (p->training) shegong__v1__training_policy__init(p->training);
        slot = (ProtobufCMessage **)&p->training;
      } else if (strcmp(name, "ladder") == 0) {
        p->ladder = sg_arena_alloc(arena, sizeof *p->ladder);
        if (p->ladder) shegong__v1__pay_ladder__init(p->ladder);
        slot = (ProtobufCMessage **)&p->ladder;
      } else if (strcmp(name, "hiring") == 0) {
        p->hiring = sg_arena_alloc(arena, sizeof *p->hiring);
        if (p->hiring) shegong__v1__hiring_policy__init(p->hiring);
        slot = (ProtobufCMessage **)&p->hiring;
      } else if (strcmp(name, "quota") == 0) {
        /* one rule per [quota] section, as many as the district has */
        quota = sg_arena_alloc(arena, sizeof *quota);
        if (!quota) return SG_ENOMEM;
        shegong__v1__quota_rule__init(quota);
        size_t qi = p->n_quotas;
        if (append_msg(arena, (void ***)&p->quotas, &p->n_quotas, SG_POLICY_QUOTAS_MAX, quota)) {
          add_error(src, line, "at most %d [quota] sections", SG_POLICY_QUOTAS_MAX);
          section = NULL;
          quota = NULL;
          continue;
        }
        snprintf(section_name, sizeof section_name, "quotas[%zu]", qi);
        snprintf(path, sizeof path, "policy.%s", section_name);
        note_key(src, path, line);
        section = &quota->base;
        continue;
      } else {
        add_error(src, line,
                  "no section [%s]: the sections are [assessment], [training], [ladder], [hiring] "
                  "and [quota]",
                  name);
        section = NULL;
        continue;
      }
      if (!*slot) return SG_ENOMEM;
      section = *slot;
      snprintf(section_name, sizeof section_name, "%s", name);
      note_key(src, path, line);
      continue;
    }
    char *eq = strchr(t, '=');
    if (!eq) {
      add_error(src, line, "expected `key = value` or `[section]`");
      continue;
    }
    *eq = '\0';
    char *key = trim(t), *value = trim(eq + 1);
    if (!section) continue; /* inside a bad section: reported once, at its header */
    char path[96];
    snprintf(path, sizeof path, "policy%s%s.%s", section_name[0] ? "." : "", section_name, key);
    if (p->ladder && section == &p->ladder->base && strcmp(key, "post") == 0) {
      char why[160];
      if (n_posts == 16) {
        add_error(src, line, "at most 16 posts");
      } else if (parse_post(value, arena, &posts[n_posts], why, sizeof why)) {
        add_error(src, line, "%s", why);
      } else {
        snprintf(path, sizeof path, "policy.ladder.posts[%zu]", n_posts);
        note_key(src, path, line);
        n_posts++;
      }
      continue;
    }
    if (quota && quota_part(src, arena, quota, p->n_quotas - 1, key, value, line)) continue;
    const ProtobufCFieldDescriptor *fd = sg_msg_find_field(section->descriptor, key);
    if (!fd || fd->type == PROTOBUF_C_TYPE_MESSAGE || fd->label == PROTOBUF_C_LABEL_REPEATED ||
        strcmp(fd->name, "version") == 0 || strcmp(fd->name, "revision") == 0 ||
        strcmp(fd->name, "updated_at") == 0 || strcmp(fd->name, "updated_by") == 0) {
      add_error(src, line, "no key `%s` %s%s%s", key, section_name[0] ? "in [" : "before any section",
                quota ? "quota" : section_name, section_name[0] ? "]" : "");
      continue;
    }
    if (seen(src, path)) {
      add_error(src, line, "`%s` again (first on line %d)", key, seen(src, path));
      continue;
    }
    char why[160] = "";
    if (sg_msg_set_field(section, &arena->allocator, fd->name, value, why, sizeof why)) {
      add_error(src, line, "%s: %s", key, why[0] ? why : "bad value");
      continue;
    }
    note_key(src, path, line);
  }
  if (p->ladder && n_posts) {
    p->ladder->posts = sg_arena_alloc(arena, n_posts * sizeof *p->ladder->posts);
    if (!p->ladder->posts) return SG_ENOMEM;
    memcpy(p->ladder->posts, posts, n_posts * sizeof *posts);
    p->ladder->n_posts = n_posts;
  }
  *out = p;
  return src->n_errors ? SG_EINVAL : 0;
}

int sg_policy_line_of(const sg_policy_src *src, const char *path) {
  size_t best = 0;
  int line = 0;
  for (size_t i = 0; i < src->n; i++) {
    size_t k = strlen(src->keys[i].path);
    if (k > best && strncmp(path, src->keys[i].path, k) == 0 &&
        (path[k] == '\0' || path[k] == '.' || path[k] == '[')) {
      best = k;
      line = src->keys[i].line;
    }
  }
  return line;
}

/* skip_zero: leave out numbers at 0 (a quota rule's unused parts). */
static void write_fields(FILE *f, const ProtobufCMessage *m, int skip_zero) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *fd = &d->fields[i];
    const char *v = (const char *)m + fd->offset;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_ENUM: {
      int e = *(const int *)v;
      const ProtobufCEnumValue *ev =
          protobuf_c_enum_descriptor_get_value((const ProtobufCEnumDescriptor *)fd->descriptor, e);
      if (e && ev) {
        /* the value's name, lower case: what the file takes back */
        fprintf(f, "%s = ", fd->name);
        for (const char *c = ev->name; *c; c++) fputc(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c, f);
        fputc('\n', f);
      }
      break;
    }
    case PROTOBUF_C_TYPE_UINT32:
      if (!skip_zero || *(const uint32_t *)v) fprintf(f, "%s = %u\n", fd->name, *(const uint32_t *)v);
      break;
    case PROTOBUF_C_TYPE_DOUBLE:
      if (!skip_zero || *(const double *)v) fprintf(f, "%s = %g\n", fd->name, *(const double *)v);
      break;
    case PROTOBUF_C_TYPE_STRING:
      if (fd->label != PROTOBUF_C_LABEL_REPEATED && *(char *const *)v && **(char *const *)v)
        fprintf(f, "%s = %s\n", fd->name, *(char *const *)v);
      break;
    default: break;
    }
  }
}

void sg_policy_write(FILE *f, const Shegong__V1__Policy *p) {
  fprintf(f, "# district policy version %llu", (unsigned long long)p->version);
  if (p->updated_at[0]) fprintf(f, ", set %s by %s", p->updated_at, p->updated_by);
  fprintf(f, "\n# edit and load with: shegong policy load FILE (docs/POLICY.md)\n");
  fprintf(f, "name = %s\n", p->name);
  if (p->assessment) {
    fprintf(f, "\n[assessment]\n");
    write_fields(f, &p->assessment->base, 0);
  }
  if (p->training) {
    fprintf(f, "\n[training]\n");
    write_fields(f, &p->training->base, 0);
  }
  if (p->ladder) {
    fprintf(f, "\n[ladder]\n");
    write_fields(f, &p->ladder->base, 0);
    for (size_t i = 0; i < p->ladder->n_posts; i++)
      fprintf(f, "post = %s %u-%u\n", p->ladder->posts[i]->name, p->ladder->posts[i]->min_level,
              p->ladder->posts[i]->max_level);
  }
  if (p->hiring) {
    fprintf(f, "\n[hiring]\n");
    write_fields(f, &p->hiring->base, 1);
  }
  static const char *const group_word[] = {"?", "lead", "general", "neighbourhood", "grid"};
  for (size_t i = 0; i < p->n_quotas; i++) {
    const Shegong__V1__QuotaRule *q = p->quotas[i];
    fprintf(f, "\n[quota]\n");
    write_fields(f, &q->base, 1);
    for (size_t k = 0; k < q->n_household_steps; k++)
      fprintf(f, "band = %u %u\n", q->household_steps[k]->min_households,
              q->household_steps[k]->workers);
    for (size_t k = 0; k < q->n_roles; k++) {
      const Shegong__V1__RoleQuota *r = q->roles[k];
      const char *g = r->group < 5 ? group_word[r->group] : "?";
      if (r->per_grid) fprintf(f, "role = %s %u %u\n", g, r->fixed, r->per_grid);
      else fprintf(f, "role = %s %u\n", g, r->fixed);
    }
    for (size_t k = 0; k < q->n_centre_tiers; k++)
      fprintf(f, "tier = %u %g %u\n", q->centre_tiers[k]->min_residents,
              q->centre_tiers[k]->min_area_km2, q->centre_tiers[k]->workers);
  }
}
