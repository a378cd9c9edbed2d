/*
 * The network side of shegongd: the listener (listener.c) and connections
 * (conn.c) on one libuv loop.
 *
 * A connection decodes frames as they arrive, answers reads at once on the
 * loop thread, queues writes to the writer thread, and sends each answer as
 * one frame. Connections are freed in their close callback, and only when
 * no job of theirs is still with the writer (refs == 0): nothing frees
 * itself in the middle of its own callback.
 */
#ifndef SG_NET_SERVER_H
#define SG_NET_SERVER_H

#include <uv.h>

#include "dispatch.h"
#include "frame.h"
#include "writer.h"

typedef struct sg_conn sg_conn;

typedef struct sg_server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  int listening;
  sg_store *store;
  sg_writer *writer;
  sg_limits limits;
  struct sg_tls_ctx *tls; /* NULL: plain TCP */
  uv_tcp_t grpc_listener;  /* --grpc-listen: the same calls as gRPC over HTTP/2 (net/h2.h) */
  int grpc_listening;
  struct sg_tls_ctx *grpc_tls; /* the same certificate, with ALPN h2 */
  char grpc_bound[64];
  int grpc_bound_port;
  /*
   * The loop thread's read transaction: renewed by the first read of a loop
   * turn (sg_server_read) and reset when the turn's answers are flushed
   * (sg_server_read_done), so that a turn's reads share one snapshot and
   * renew once. A turn is short: the map lock it holds shared is free again
   * before the next poll, for the writer to grow the map.
   */
  MDB_txn *read_txn;
  int read_open;
  uint64_t read_gen; /* sg_auth_generation() read just before it was renewed */
  sg_arena read_arena; /* memory of the read call being answered */
  /* the frame being handled (native connections): one at a time on the loop
   * thread, so one arena, reset after each, saves a malloc per field */
  sg_arena frame_arena;
  char read_buf[65536];/* one buffer for every read callback: the decoder copies partial frames */
  sg_conn *conns;      /* doubly linked */
  size_t n_conns;
  int stopping;
  uint64_t calls;      /* answered so far */
  char bound[64];      /* "127.0.0.1:7420" once listening */
  int bound_port;
  void (*on_drained)(struct sg_server *); /* all connections closed after stop */
  uv_check_t flush;      /* after each loop turn's I/O: the answers go out together */
  int flush_started;
  uv_timer_t heartbeat;  /* progress messages to idle watches */
  int heartbeat_started;
  uint32_t heartbeat_ms;
  size_t n_watches;
  uv_timer_t stop_timer; /* bounds how long stop waits for peers that do not read */
  int stop_timer_started;
  uint32_t stop_grace_ms;
  uv_timer_t schedule;   /* approved transfers take effect on their day (schedule.c) */
  int schedule_started;
  uint32_t schedule_ms;
} sg_server;

/* Initialises limits to their defaults. */
void sg_limits_default(sg_limits *l);

/*
 * Starts listening on host:port (port 0 picks a free one: see bound_port).
 * The server must have loop, store, writer and limits set.
 */
int sg_server_listen(sg_server *srv, const char *host, int port);

/*
 * Stops accepting and reading; closes each connection once its answers are
 * sent. Connections still open after stop_grace_ms (a peer that does not
 * read its answers) are closed at once.
 */
void sg_server_stop(sg_server *srv);

/* Writes every connection's pending answers: once per loop turn (a uv_check). */
void sg_server_flush(sg_server *srv);
/* Opens the loop turn's read transaction if it is not open (0 or an SG_E* code). */
int sg_server_read(sg_server *srv);
/* Resets it, if open: before a read that must see the latest commit, and at the end of a turn. */
void sg_server_read_done(sg_server *srv);

/* Called by the writer's done callback (server's data = srv). */
void sg_server_job_done(sg_job *job, void *data);

/* After each committed batch (the writer's on_batch hook, arg = srv): sends
 * every open watch the changes it has not seen. */
void sg_server_after_batch(void *srv);

/* The transfer scheduler (schedule.c): started with the server, stopped by sg_server_stop. */
void sg_schedule_start(sg_server *srv);
/* A scheduler job is back from the writer (called by sg_server_job_done). */
void sg_schedule_job_done(sg_job *job);

/*
 * Starts the gRPC listener on host:port (after sg_server_listen): HTTP/2,
 * TLS with ALPN h2 when grpc_tls is set. See grpc_bound_port.
 */
int sg_server_listen_grpc(sg_server *srv, const char *host, int port);

/* Accepts one connection from the native listener, or (grpc) the gRPC one. */
void sg_conn_accept(sg_server *srv, int grpc);
/* Begins closing a connection: pending output is flushed first. */
void sg_conn_close(sg_conn *c);
void sg_conn_stop_reading(sg_conn *c);

#endif
