/*
 * Calls for the end-to-end tests, as assertions: a call that must succeed,
 * one that must fail with a given code, one that must name a field among its
 * violations. Shared by test_e2e, test_assess, test_transfer and test_reports.
 * Failures are cmocka assertions, after printing the status that came back.
 */
#ifndef SG_TEST_CALLS_H
#define SG_TEST_CALLS_H

#include "harness.h"
#include "shegong.h"
#include "shegong/v1/sync.pb-c.h"

/* How long one call may take: generous, for ASan builds on a busy machine. */
#define CALL_MS 15000

void print_status(const char *what, const sg_status *st);
int has_violation(const sg_status *st, const char *field);
/* Frees a response (NULL is fine). */
void free_msg(void *m);
/* A call that must succeed; returns the response (the caller frees it). */
void *call_ok(sg_client *c, const char *method, const ProtobufCMessage *req);
/* A call that must fail with `code`; st receives the status. */
void call_fails(sg_client *c, const char *method, const ProtobufCMessage *req, int code,
                sg_status *st);
/* A call that must fail with INVALID_ARGUMENT naming `field` among its violations. */
void call_violates(sg_client *c, const char *method, const ProtobufCMessage *req,
                   const char *field);

/* A whole Sync/Pull: its messages, and every change in them in order. */
typedef struct pulled {
  Shegong__V1__PullResponse **msgs;
  size_t n_msgs;
  Shegong__V1__Change **changes; /* borrowed from msgs */
  size_t n;
  uint64_t head;
} pulled;

void pulled_free(pulled *p);
/* Pulls every change of town (empty: every change) after since, at most 10000. */
void pull(sg_client *c, const char *town, uint64_t since, pulled *out);

/* Dates: today in UTC+8, as the server sees it (dates_init fills these). */
extern char TODAY[11];
extern int Y, M, D;
void dates_init(void);
/* Writes YYYY-MM-DD into out (11 bytes). */
char *ymd(char *out, int y, int m, int d);
/* today plus days (negative: before), as YYYY-MM-DD into out (11 bytes). */
char *today_plus(char *out, long days);

/* A client of srv with a new town operator's token for town, made by admin. */
sg_client *operator_client(const hs_server *srv, sg_client *admin, const char *town,
                           const char *name);
/*
 * A fixture's start: a fresh server and a client of it. On failure says why
 * (with the server's log), cleans up and returns -1.
 */
int start_test_server(hs_server *s, sg_client **c);
/*
 * A fixture's end for one server: stops it (0 when it was not started) and
 * prints its log when it died, did not exit 0 on SIGTERM, or the test did
 * not finish (done 0). Returns 0, or -1 after saying what went wrong (tag
 * names the test file).
 */
int stop_test_server(hs_server *s, int done, const char *tag);

#endif
