/* shegong import / export of workers as spreadsheets (CSV). */
#ifndef SG_IMPORT_H
#define SG_IMPORT_H

#include "shegong.h"

typedef struct sg_import_opts {
  const char *encoding; /* NULL: detect */
  const char *errors;   /* the file for rejected rows (default FILE.errors.csv) */
  int dry_run;
  int timeout_ms;
} sg_import_opts;

/* Imports noun ("workers", "units") from path through c; prints a summary. Returns an exit code. */
int sg_import(sg_client *c, const char *noun, const char *path, const sg_import_opts *o);
const char *sg_import_kinds(void);

typedef struct sg_export_opts {
  const char *town_code; /* NULL: the whole district */
  const char *encoding;  /* "utf-8" (with BOM, for Excel) or "gbk" */
  const char *output;    /* NULL: stdout */
  int include_left;
  int timeout_ms;
} sg_export_opts;

/* Exports workers page by page, in constant memory. Returns an exit code. */
int sg_export_workers(sg_client *c, const sg_export_opts *o);

#endif
