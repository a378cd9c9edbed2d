#include "policyfile.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "msgparse.h"

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

int sg_policy_parse(const char *text, size_t len, sg_arena *arena, Shegong__V1__Policy **out,
                    sg_policy_src *src) {
  memset(src, 0, sizeof *src);
  Shegong__V1__Policy *p = sg_arena_alloc(arena, sizeof *p);
  if (!p) return SG_ENOMEM;
  shegong__v1__policy__init(p);
  ProtobufCMessage *section = &p->base;
  const char *section_name = "";
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
      if (seen(src, path)) {
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
      } else {
        add_error(src, line, "no section [%s]: the sections are [assessment], [training], [ladder]",
                  name);
        section = NULL;
        continue;
      }
      if (!*slot) return SG_ENOMEM;
      section = *slot;
      section_name = slot == (ProtobufCMessage **)&p->assessment ? "assessment"
                     : slot == (ProtobufCMessage **)&p->training ? "training"
                                                                 : "ladder";
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
    char path[64];
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
    const ProtobufCFieldDescriptor *fd = sg_msg_find_field(section->descriptor, key);
    if (!fd || fd->type == PROTOBUF_C_TYPE_MESSAGE || fd->label == PROTOBUF_C_LABEL_REPEATED ||
        strcmp(fd->name, "version") == 0 || strcmp(fd->name, "revision") == 0 ||
        strcmp(fd->name, "updated_at") == 0 || strcmp(fd->name, "updated_by") == 0) {
      add_error(src, line, "no key `%s` %s%s%s", key, section_name[0] ? "in [" : "before any section",
                section_name, section_name[0] ? "]" : "");
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

static void write_fields(FILE *f, const ProtobufCMessage *m) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *fd = &d->fields[i];
    const char *v = (const char *)m + fd->offset;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_UINT32: fprintf(f, "%s = %u\n", fd->name, *(const uint32_t *)v); break;
    case PROTOBUF_C_TYPE_DOUBLE: fprintf(f, "%s = %g\n", fd->name, *(const double *)v); break;
    case PROTOBUF_C_TYPE_STRING:
      if (fd->label != PROTOBUF_C_LABEL_REPEATED)
        fprintf(f, "%s = %s\n", fd->name, *(char *const *)v ? *(char *const *)v : "");
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
    write_fields(f, &p->assessment->base);
  }
  if (p->training) {
    fprintf(f, "\n[training]\n");
    write_fields(f, &p->training->base);
  }
  if (p->ladder) {
    fprintf(f, "\n[ladder]\n");
    write_fields(f, &p->ladder->base);
    for (size_t i = 0; i < p->ladder->n_posts; i++)
      fprintf(f, "post = %s %u-%u\n", p->ladder->posts[i]->name, p->ladder->posts[i]->min_level,
              p->ladder->posts[i]->max_level);
  }
}
