#include <string.h>

#include "log.h"
#include "net/reflect.h"
#include "net/server.h"

void sg_limits_default(sg_limits *l) {
  l->max_frame = SG_FRAME_MAX_DEFAULT;
  l->max_page_size = 1000;
  l->default_page_size = 100;
  l->default_timeout_ms = 60000;
  l->max_call_memory = 64u << 20;
  l->max_output_bytes = 16u << 20;
  l->max_in_flight = 1024;
  l->max_connections = 1024;
  l->partial_frame_ms = 30000;
  l->output_stall_ms = 60000;
}

static void on_connection(uv_stream_t *server, int status) {
  sg_server *srv = server->data;
  if (status < 0) {
    sg_warn("accept: %s", uv_strerror(status));
    return;
  }
  sg_conn_accept(srv, server == (uv_stream_t *)&srv->grpc_listener);
}

static void on_flush(uv_check_t *h) { sg_server_flush(h->data); }

static int bind_listen(sg_server *srv, uv_tcp_t *t, int *listening, const char *host, int port,
                       char *bound, size_t boundlen, int *bound_port) {
  struct sockaddr_storage addr;
  int rc;
  if (strchr(host, ':'))
    rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
  else
    rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
  if (rc) {
    sg_error("bad listen address %s: %s", host, uv_strerror(rc));
    return SG_EINVAL;
  }
  if (uv_tcp_init(srv->loop, t)) return SG_EINTERNAL;
  t->data = srv;
  *listening = 1; /* the handle exists: sg_server_stop closes it */
  if ((rc = uv_tcp_bind(t, (struct sockaddr *)&addr, 0)) ||
      (rc = uv_listen((uv_stream_t *)t, 511, on_connection))) {
    sg_error("cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
    return SG_EIO;
  }
  struct sockaddr_storage b;
  int len = sizeof b;
  uv_tcp_getsockname(t, (struct sockaddr *)&b, &len);
  *bound_port = ntohs(b.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&b)->sin6_port
                                              : ((struct sockaddr_in *)&b)->sin_port);
  snprintf(bound, boundlen, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, *bound_port);
  return 0;
}

int sg_server_listen_grpc(sg_server *srv, const char *host, int port) {
  if (sg_reflect_init() != 0) return SG_EINTERNAL;
  return bind_listen(srv, &srv->grpc_listener, &srv->grpc_listening, host, port, srv->grpc_bound,
                     sizeof srv->grpc_bound, &srv->grpc_bound_port);
}

int sg_server_listen(sg_server *srv, const char *host, int port) {
  uv_check_init(srv->loop, &srv->flush);
  srv->flush.data = srv;
  uv_check_start(&srv->flush, on_flush);
  srv->flush_started = 1;
  return bind_listen(srv, &srv->listener, &srv->listening, host, port, srv->bound,
                     sizeof srv->bound, &srv->bound_port);
}
