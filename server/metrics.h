/*
 * Prometheus metrics: counters and histograms kept on the loop thread (the
 * writer's batch figures are atomics), served as text by a small HTTP
 * listener (`--metrics-listen HOST:PORT`, GET /metrics).
 */
#ifndef SG_METRICS_H
#define SG_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct sg_server;

/* A call ended: its method (dispatch index), wire status code, and duration. */
void sg_metrics_call(size_t method, int code, uint64_t usec);
/* A town pulled up to position while the head was head (replica lag). */
void sg_metrics_pull(const char *town_code, uint64_t position, uint64_t head);
/* The writer committed a batch of n jobs (any thread). */
void sg_metrics_batch(size_t n);

/* Starts the HTTP listener for srv's metrics. */
int sg_metrics_listen(struct sg_server *srv, const char *host, int port);
/* Closes the listener (at stop). */
void sg_metrics_close(void);

#endif
