/*
 * Error codes shared by every shegong module.
 *
 * Functions return int: 0 on success, or one of the negative SG_E* codes
 * below. sg_strerror() gives the text. The wire Status code (gRPC numbering)
 * is derived from an SG_E* code in exactly one place, sg_error_to_code(), and
 * back again with sg_error_from_code(), so that a status the client library
 * receives becomes the same SG_E* code the server started from.
 */
#ifndef SG_ERROR_H
#define SG_ERROR_H

#include <stddef.h>
#include <stdint.h>

/* X(name, value, text, wire code) */
#define SG_ERRNO_MAP(X)                                                        \
  X(CANCELED,  -1,  "call cancelled",                 1)                       \
  X(UNKNOWN,   -2,  "unknown error",                  2)                       \
  X(INVAL,     -3,  "invalid argument",               3)                       \
  X(TIMEDOUT,  -4,  "deadline exceeded",              4)                       \
  X(NOTFOUND,  -5,  "not found",                      5)                       \
  X(EXISTS,    -6,  "already exists",                 6)                       \
  X(PERM,      -7,  "permission denied",              7)                       \
  X(NOMEM,     -8,  "resource exhausted",             8)                       \
  X(PRECOND,   -9,  "failed precondition",            9)                       \
  X(CONFLICT,  -10, "version conflict",               10)                      \
  X(RANGE,     -11, "out of range",                   11)                      \
  X(UNIMPL,    -12, "not implemented",                12)                      \
  X(INTERNAL,  -13, "internal error",                 13)                      \
  X(UNAVAIL,   -14, "unavailable",                    14)                      \
  X(DATALOSS,  -15, "data loss",                      15)                      \
  X(UNAUTH,    -16, "unauthenticated",                16)                      \
  /* codes below never cross the wire as themselves */                         \
  X(TOOBIG,    -100, "message too large",             8)                       \
  X(PROTO,     -101, "protocol error",                3)                       \
  X(STORAGE,   -102, "storage error",                 13)                      \
  X(FULL,      -103, "storage full",                  8)                       \
  X(IO,        -104, "i/o error",                     14)                      \
  X(AGAIN,     -105, "need more data",                2)                       \
  X(EOF,       -106, "connection closed",             14)                      \
  X(NOSPACE,   -107, "no space left on the data disk", 8)

enum {
#define SG_ERR_ENUM(name, val, text, code) SG_E##name = (val),
  SG_ERRNO_MAP(SG_ERR_ENUM)
#undef SG_ERR_ENUM
};

/* Static text for an SG_E* code; "unknown error" for anything else. */
const char *sg_strerror(int err);

/* "SG_ENOTFOUND" for SG_ENOTFOUND; the code's short name. */
const char *sg_err_name(int err);

/* The wire status code (0 OK ... 16 UNAUTHENTICATED) for err; 0 for 0. */
int sg_error_to_code(int err);

/* The SG_E* code a wire status code stands for; 0 for OK. */
int sg_error_from_code(int code);

/* "NOT_FOUND" for 5; "UNKNOWN" for out-of-range values. */
const char *sg_code_name(int code);

/* The code whose name is s ("NOT_FOUND"), or -1. */
int sg_code_from_name(const char *s);

/*
 * A call's outcome: the wire Status as plain C, with a bounded number of
 * field violations so that it never needs to allocate.
 */
#define SG_STATUS_MSG_MAX 256
#define SG_STATUS_FIELD_MAX 64
#define SG_STATUS_DESC_MAX 192
#define SG_STATUS_VIOLATIONS_MAX 16

typedef struct sg_violation {
  char field[SG_STATUS_FIELD_MAX];
  char description[SG_STATUS_DESC_MAX];
} sg_violation;

typedef struct sg_status {
  int code; /* wire code, 0 = OK */
  char message[SG_STATUS_MSG_MAX];
  size_t n_violations;
  sg_violation violations[SG_STATUS_VIOLATIONS_MAX];
} sg_status;

void sg_status_clear(sg_status *st);

/*
 * Sets st from err and a printf-style message; returns err so that callers
 * can write `return sg_status_set(st, SG_ENOTFOUND, "worker %llu", id);`.
 */
int sg_status_set(sg_status *st, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Adds a field violation (kept if there is room, counted either way) and
 * makes the status INVALID_ARGUMENT if it was OK.
 */
void sg_status_violation(sg_status *st, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* When st holds violations but no message, writes one that names them. */
void sg_status_finish_violations(sg_status *st);

#endif
