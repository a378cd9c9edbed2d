/*
 * Spreadsheet files: the CSV that Excel writes from a Chinese sheet (UTF-8
 * with or without BOM, or GBK/GB18030), RFC 4180 quoting with commas,
 * quotes and newlines inside fields.
 */
#ifndef SG_CSVIO_H
#define SG_CSVIO_H

#include <stddef.h>

/*
 * Text in UTF-8 from a file's bytes. encoding: "utf-8", "gbk" (read as
 * GB18030, its superset) or NULL to detect: a UTF-8 BOM or valid UTF-8 is
 * UTF-8, anything else GB18030. *out is malloc'd and NUL-terminated, the
 * BOM removed; *used names the encoding. 0 or -1 with why.
 */
int sg_text_to_utf8(const char *data, size_t len, const char *encoding, char **out, size_t *outlen,
                    const char **used, char *why, size_t whylen);
/* UTF-8 into GB18030 for a spreadsheet that wants GBK; *out malloc'd. 0 or -1. */
int sg_utf8_to_gbk(const char *in, size_t len, char **out, size_t *outlen);

typedef struct sg_csv {
  const char *p, *end;
  size_t line; /* the line the next row starts on, from 1 */
} sg_csv;

void sg_csv_init(sg_csv *c, const char *text, size_t len);
/*
 * The next row: *fields (malloc'd array of malloc'd strings; free with
 * sg_csv_free_row) and *n. Returns 1, 0 at the end, -1 for a quote left
 * open (why says where). *line gets the row's first line. Rows are bounded
 * to 1024 fields and 64 KiB per field.
 */
int sg_csv_next(sg_csv *c, char ***fields, size_t *n, size_t *line, char *why, size_t whylen);
void sg_csv_free_row(char **fields, size_t n);

/* Appends one CSV field to a stream, quoted when it must be. */
#include <stdio.h>
void sg_csv_put(FILE *f, const char *field, int last);

#endif
