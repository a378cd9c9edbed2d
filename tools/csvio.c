#include "csvio.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "validate.h"

#define FIELDS_MAX 1024
#define FIELD_BYTES_MAX 65536

/* iconv into a growing buffer. */
static int convert(const char *from, const char *to, const char *in, size_t len, char **out,
                   size_t *outlen) {
  iconv_t cd = iconv_open(to, from);
  if (cd == (iconv_t)-1) return -1;
  size_t cap = len * 2 + 16, used = 0;
  char *buf = malloc(cap + 1);
  char *src = (char *)in;
  size_t left = len;
  int rc = 0;
  while (buf && left > 0) {
    char *dst = buf + used;
    size_t room = cap - used;
    size_t r = iconv(cd, &src, &left, &dst, &room);
    used = (size_t)(dst - buf);
    if (r != (size_t)-1) break;
    if (errno == E2BIG) {
      cap *= 2;
      char *g = realloc(buf, cap + 1);
      if (!g) free(buf);
      buf = g;
      continue;
    }
    rc = -1; /* bytes that are not of the encoding */
    break;
  }
  iconv_close(cd);
  if (!buf || rc) {
    free(buf);
    return -1;
  }
  buf[used] = '\0';
  *out = buf;
  *outlen = used;
  return 0;
}

int sg_text_to_utf8(const char *data, size_t len, const char *encoding, char **out, size_t *outlen,
                    const char **used, char *why, size_t whylen) {
  int bom = len >= 3 && (unsigned char)data[0] == 0xEF && (unsigned char)data[1] == 0xBB &&
            (unsigned char)data[2] == 0xBF;
  int gbk = encoding && (strcasecmp(encoding, "gbk") == 0 || strcasecmp(encoding, "gb18030") == 0 ||
                         strcasecmp(encoding, "gb2312") == 0);
  if (encoding && !gbk && strcasecmp(encoding, "utf-8") != 0 && strcasecmp(encoding, "utf8") != 0) {
    snprintf(why, whylen, "unknown encoding %s: utf-8 or gbk", encoding);
    return -1;
  }
  if (!gbk && bom) {
    data += 3;
    len -= 3;
  }
  if (!gbk) {
    /* valid UTF-8 (with a NUL at its end) is UTF-8, whatever was asked */
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, data, len);
    copy[len] = '\0';
    if (memchr(copy, '\0', len) == NULL && sg_utf8_length(copy) >= 0) {
      *out = copy;
      *outlen = len;
      *used = "utf-8";
      return 0;
    }
    free(copy);
    if (encoding) {
      snprintf(why, whylen, "the file is not valid UTF-8 (try --encoding gbk)");
      return -1;
    }
  }
  if (convert("GB18030", "UTF-8", data, len, out, outlen) != 0) {
    snprintf(why, whylen, "the file is neither UTF-8 nor GBK/GB18030");
    return -1;
  }
  *used = "gbk";
  return 0;
}

int sg_utf8_to_gbk(const char *in, size_t len, char **out, size_t *outlen) {
  return convert("UTF-8", "GB18030", in, len, out, outlen);
}

void sg_csv_init(sg_csv *c, const char *text, size_t len) {
  c->p = text;
  c->end = text + len;
  c->line = 1;
}

void sg_csv_free_row(char **fields, size_t n) {
  for (size_t i = 0; i < n; i++) free(fields[i]);
  free(fields);
}

int sg_csv_next(sg_csv *c, char ***fields, size_t *n, size_t *line, char *why, size_t whylen) {
  *fields = NULL;
  *n = 0;
  /* blank lines between rows are nothing */
  while (c->p < c->end && (*c->p == '\n' || *c->p == '\r')) {
    if (*c->p == '\n') c->line++;
    c->p++;
  }
  if (c->p >= c->end) return 0;
  *line = c->line;
  size_t nf = 0;
  char **row = calloc(FIELDS_MAX, sizeof *row);
  char *buf = malloc(FIELD_BYTES_MAX + 1);
  if (!row || !buf) goto oom;
  for (;;) {
    size_t len = 0;
    int quoted = c->p < c->end && *c->p == '"';
    if (quoted) c->p++;
    for (;;) {
      if (c->p >= c->end) {
        if (quoted) {
          snprintf(why, whylen, "a quote opened on line %zu is never closed", *line);
          goto fail;
        }
        break;
      }
      char ch = *c->p;
      if (quoted && ch == '"') {
        if (c->p + 1 < c->end && c->p[1] == '"') { /* "" is a quote */
          c->p += 2;
          if (len == FIELD_BYTES_MAX) {
            snprintf(why, whylen, "a field on line %zu is longer than %d bytes", *line, FIELD_BYTES_MAX);
            goto fail;
          }
          buf[len++] = '"';
          continue;
        }
        c->p++;
        quoted = 0;
        continue;
      }
      if (!quoted && (ch == ',' || ch == '\n' || ch == '\r')) break;
      if (ch == '\n') c->line++;
      if (len == FIELD_BYTES_MAX) {
        snprintf(why, whylen, "a field on line %zu is longer than %d bytes", *line, FIELD_BYTES_MAX);
        goto fail;
      }
      buf[len++] = ch;
      c->p++;
    }
    buf[len] = '\0';
    if (nf == FIELDS_MAX) {
      snprintf(why, whylen, "line %zu has more than %d fields", *line, FIELDS_MAX);
      goto fail;
    }
    if (!(row[nf] = strdup(buf))) goto oom;
    nf++;
    if (c->p < c->end && *c->p == ',') {
      c->p++;
      continue;
    }
    /* end of row: \r\n, \n, \r or the end */
    if (c->p < c->end && *c->p == '\r') c->p++;
    if (c->p < c->end && *c->p == '\n') c->p++;
    c->line++;
    break;
  }
  free(buf);
  *fields = row;
  *n = nf;
  return 1;
oom:
  snprintf(why, whylen, "out of memory");
fail:
  free(buf);
  if (row) sg_csv_free_row(row, nf);
  return -1;
}

void sg_csv_put(FILE *f, const char *field, int last) {
  if (strpbrk(field, ",\"\r\n")) {
    fputc('"', f);
    for (const char *p = field; *p; p++) {
      if (*p == '"') fputc('"', f);
      fputc(*p, f);
    }
    fputc('"', f);
  } else {
    fputs(field, f);
  }
  fputs(last ? "\r\n" : ",", f);
}
