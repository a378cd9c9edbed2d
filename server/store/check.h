/*
 * The integrity check: every index agrees with its records, every record
 * decodes, and the changelog has no gap between the compacted revision and
 * the head. Read-only, in one read transaction.
 */
#ifndef SG_STORE_CHECK_H
#define SG_STORE_CHECK_H

#include <stdio.h>

#include "store/env.h"

typedef struct sg_check_stats {
  uint64_t units, workers, changes, tokens, audit;
  uint64_t records; /* assessments, visits, courses, attendance, level changes, policies */
  uint64_t head_revision, compacted_revision;
  uint64_t problems;
} sg_check_stats;

/*
 * Checks s; writes one line per problem to report (may be NULL). Returns 0
 * when it could read everything (problems are counted in stats), or a
 * storage error.
 */
int sg_store_check(sg_store *s, FILE *report, sg_check_stats *stats);

#endif
