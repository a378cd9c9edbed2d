/*
 * The method table: data, not a switch. Each service file (server/svc/) lists
 * its handlers by method path; sg_dispatch_init() joins them to the methods
 * found in the protobuf-c service descriptors (common/methods.c). A method
 * without a handler answers UNIMPLEMENTED; a handler whose path is not in a
 * descriptor stops the server at start.
 */
#ifndef SG_DISPATCH_H
#define SG_DISPATCH_H

#include <lmdb.h>
#include <protobuf-c/protobuf-c.h>

#include "arena.h"
#include "error.h"
#include "methods.h"
#include "store/env.h"

/* Limits and settings that handlers need. */
typedef struct sg_limits {
  uint32_t max_frame;      /* frame length limit */
  uint32_t max_page_size;  /* List page size cap */
  uint32_t default_page_size;
  uint32_t default_timeout_ms;
  size_t max_call_memory;  /* arena cap per call */
  size_t max_output_bytes; /* per connection: reading pauses past it */
  uint32_t max_in_flight;  /* per connection: queued writes */
  uint32_t max_connections;
  uint32_t partial_frame_ms; /* a frame begun must be finished within this */
  uint32_t output_stall_ms;  /* a peer with max_output_bytes unread is cut off after this */
} sg_limits;

struct sg_principal;

/* What a handler sees of its call. */
typedef struct sg_call_ctx {
  sg_store *store;
  const sg_limits *limits;
  sg_arena *arena;     /* the call's memory: request, response, records */
  sg_status *st;       /* set by the handler on failure */
  const char *peer;    /* "127.0.0.1:50312", for logs */
  char now[32];        /* RFC 3339, UTC: the call's timestamp */
  char today[11];      /* YYYY-MM-DD, China Standard Time */
  const char *method;  /* the call's path, recorded in the changelog */
  /* who is calling; NULL for local calls (a replica), which are trusted */
  const struct sg_principal *principal;
  /*
   * Set on a town replica's copy: records the server derives from a write
   * (level changes, history entries) are left to the server, whose ids
   * arrive with the next pull; the copy's own sequences would clash.
   */
  int replica;
  /*
   * Streaming methods only: sends msg as the next message of the stream,
   * before the handler returns. 0 or an SG_E* code (the peer is gone).
   */
  int (*emit)(struct sg_call_ctx *ctx, const ProtobufCMessage *msg);
  void *emit_data;
  /*
   * Set where the stream's messages are sent unmasked (the caller may see
   * personal data): stored changes may then go out as their stored bytes.
   * Unset (the default), everything is decoded, so that masking sees it.
   */
  int raw_ok;
  /*
   * Unary reads on the network only: the handler may answer with the packed
   * bytes of its output message in raw_reply instead of *resp, leaving *resp
   * NULL. They may lie in the map: the answer is framed before the read
   * transaction ends. The server masks them as it would *resp, and where the
   * wire masker cannot, runs the handler again without raw_reply_ok. Stored
   * records go out so without a decode and an encode.
   */
  int raw_reply_ok;
  const uint8_t *raw_reply;
  size_t raw_len;
  /*
   * Streaming methods on the network only (NULL elsewhere): keeps the call
   * open after the handler returns, as a watch of the changes of town_id
   * (all: every change) after revision `position`. The handler then returns
   * SG_CALL_OPEN, and the call's final frame comes when the watch ends.
   */
  int (*keep_open)(struct sg_call_ctx *ctx, uint64_t town_id, int all, uint64_t position);
} sg_call_ctx;

/* A handler's answer for "the call stays open" (see keep_open). */
#define SG_CALL_OPEN 1

typedef enum sg_method_kind {
  SG_METHOD_READ = 1,  /* loop thread, read transaction */
  SG_METHOD_WRITE = 2, /* writer thread, nested write transaction */
  SG_METHOD_BLOCKING = 3, /* a libuv pool thread, no transaction given: long reads (backup) */
  /* a long read (a district-wide report): a libuv pool thread, in a read
   * transaction of its own, so that the loop keeps answering meanwhile */
  SG_METHOD_REPORT = 4,
} sg_method_kind;

/*
 * A handler: req is the decoded request (arena memory); on success it sets
 * *resp to a message of the method's output type (arena memory, never
 * pointing into the map) and returns 0. On failure it returns an SG_E* code
 * and fills ctx->st (sg_status_set / sg_status_violation). A WRITE handler's
 * failure rolls back only its own writes (the writer applies its batch again
 * with a nested transaction per job); a handler must therefore have no
 * effect outside txn, as it may run twice.
 */
typedef int (*sg_handler_fn)(sg_call_ctx *ctx, MDB_txn *txn, const ProtobufCMessage *req,
                             ProtobufCMessage **resp);

typedef struct sg_method_impl {
  const char *path; /* "/shegong.v1.Workers/Get"; NULL ends a list */
  sg_method_kind kind;
  sg_handler_fn handler;
} sg_method_impl;

typedef struct sg_dispatch_entry {
  const sg_method_info *info;
  const sg_method_impl *impl; /* NULL: UNIMPLEMENTED */
} sg_dispatch_entry;

/* Builds the table; on a handler with no matching method, logs, returns SG_EINTERNAL. */
int sg_dispatch_init(void);
/* The entry for a full method path, or NULL for an unknown method. */
const sg_dispatch_entry *sg_dispatch_lookup(const char *path);
size_t sg_dispatch_count(void);
const sg_dispatch_entry *sg_dispatch_at(size_t i);
/* The position of e in the table, the inverse of sg_dispatch_at. */
size_t sg_dispatch_index(const sg_dispatch_entry *e);

/* Handler lists, one per service file. */
extern const sg_method_impl sg_svc_admin[];
extern const sg_method_impl sg_svc_units[];
extern const sg_method_impl sg_svc_workers[];
extern const sg_method_impl sg_svc_sync[];
extern const sg_method_impl sg_svc_tokens[];
extern const sg_method_impl sg_svc_audit[];
extern const sg_method_impl sg_svc_policies[];
extern const sg_method_impl sg_svc_assessments[];
extern const sg_method_impl sg_svc_training[];
extern const sg_method_impl sg_svc_transfers[];
extern const sg_method_impl sg_svc_reports[];

/* Fills ctx->now and ctx->today. */
void sg_call_ctx_stamp(sg_call_ctx *ctx);

#endif
