#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *sg_strerror(int err) {
  switch (err) {
  case 0: return "success";
#define SG_ERR_TEXT(name, val, text, code) case SG_E##name: return text;
  SG_ERRNO_MAP(SG_ERR_TEXT)
#undef SG_ERR_TEXT
  default: return "unknown error";
  }
}

const char *sg_err_name(int err) {
  switch (err) {
  case 0: return "OK";
#define SG_ERR_NAME(name, val, text, code) case SG_E##name: return "SG_E" #name;
  SG_ERRNO_MAP(SG_ERR_NAME)
#undef SG_ERR_NAME
  default: return "SG_EUNKNOWN";
  }
}

int sg_error_to_code(int err) {
  switch (err) {
  case 0: return 0;
#define SG_ERR_CODE(name, val, text, code) case SG_E##name: return code;
  SG_ERRNO_MAP(SG_ERR_CODE)
#undef SG_ERR_CODE
  default: return 2;
  }
}

int sg_error_from_code(int code) {
  if (code == 0) return 0;
  if (code >= 1 && code <= 16) return -code; /* the first sixteen mirror the wire */
  return SG_EUNKNOWN;
}

static const char *const code_names[] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};

const char *sg_code_name(int code) {
  if (code < 0 || code > 16) return "UNKNOWN";
  return code_names[code];
}

int sg_code_from_name(const char *s) {
  for (int i = 0; i <= 16; i++)
    if (strcmp(code_names[i], s) == 0) return i;
  return -1;
}

void sg_status_clear(sg_status *st) {
  st->code = 0;
  st->message[0] = '\0';
  st->n_violations = 0;
}

int sg_status_set(sg_status *st, int err, const char *fmt, ...) {
  if (!st) return err;
  st->code = sg_error_to_code(err);
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->message, sizeof st->message, fmt, ap);
    va_end(ap);
  } else {
    snprintf(st->message, sizeof st->message, "%s", sg_strerror(err));
  }
  return err;
}

void sg_status_violation(sg_status *st, const char *field, const char *fmt, ...) {
  if (st->code == 0) st->code = sg_error_to_code(SG_EINVAL);
  if (st->n_violations < SG_STATUS_VIOLATIONS_MAX) {
    sg_violation *v = &st->violations[st->n_violations];
    snprintf(v->field, sizeof v->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->description, sizeof v->description, fmt, ap);
    va_end(ap);
  }
  st->n_violations++;
}

void sg_status_finish_violations(sg_status *st) {
  if (st->n_violations == 0 || st->message[0]) return;
  size_t kept = st->n_violations < SG_STATUS_VIOLATIONS_MAX ? st->n_violations
                                                            : SG_STATUS_VIOLATIONS_MAX;
  if (st->n_violations == 1) {
    snprintf(st->message, sizeof st->message, "%.63s: %.180s", st->violations[0].field,
             st->violations[0].description);
    return;
  }
  size_t off = (size_t)snprintf(st->message, sizeof st->message, "%zu invalid fields:",
                                st->n_violations);
  for (size_t i = 0; i < kept && off < sizeof st->message; i++)
    off += (size_t)snprintf(st->message + off, sizeof st->message - off, "%s %s",
                            i ? "," : "", st->violations[i].field);
  /* n_violations may exceed what is stored; callers read the kept count. */
  if (st->n_violations > SG_STATUS_VIOLATIONS_MAX) st->n_violations = SG_STATUS_VIOLATIONS_MAX;
}
