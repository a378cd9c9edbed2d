/*
 * The district policy as a text file people edit (docs/POLICY.md):
 *
 *   name = 崇川区 2026
 *   [assessment]
 *   superior_weight = 70
 *   ...
 *   [ladder]
 *   name = 四岗十二档
 *   post = A 1-12
 *
 * Keys are the field names of the section's message in policy.proto, so a
 * new field is a new key without code here. The parser keeps the line of
 * every key, so that the server's answer about "policy.ladder.posts[2].name"
 * can be reported against the line that set it.
 */
#ifndef SG_POLICYFILE_H
#define SG_POLICYFILE_H

#include <stdio.h>

#include "arena.h"
#include "shegong/v1/policy.pb-c.h"

#define SG_POLICY_FILE_MAX (256 * 1024)
#define SG_POLICY_ERRORS_MAX 32

typedef struct sg_policy_src {
  size_t n;
  struct {
    char path[96];   /* "policy.assessment.superior_weight", "policy.quotas[3].roles[1]" */
    int line;
  } keys[1024];
  size_t n_errors;   /* counted even past the ones kept */
  char errors[SG_POLICY_ERRORS_MAX][192]; /* "line 7: ..." */
} sg_policy_src;

/*
 * Parses text (len bytes) into *out (arena memory). Every bad line is
 * reported in src->errors; returns 0 when there are none, SG_EINVAL
 * otherwise (and *out must not be used).
 */
int sg_policy_parse(const char *text, size_t len, sg_arena *arena, Shegong__V1__Policy **out,
                    sg_policy_src *src);

/*
 * The line that set field path (a violation's field: the longest key that
 * is a prefix of it), or 0 when no line did (a section left out).
 */
int sg_policy_line_of(const sg_policy_src *src, const char *path);

/* Writes p in the file format: what `policy show` prints and `policy load` reads. */
void sg_policy_write(FILE *f, const Shegong__V1__Policy *p);

#endif
