#include <string.h>

#include "log.h"
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
  sg_conn_accept(srv);
}

static void on_flush(uv_check_t *h) { sg_server_flush(h->data); }

int sg_server_listen(sg_server *srv, const char *host, int port) {
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
  if ((rc = uv_tcp_init(srv->loop, &srv->listener))) return SG_EINTERNAL;
  uv_check_init(srv->loop, &srv->flush);
  srv->flush.data = srv;
  uv_check_start(&srv->flush, on_flush);
  srv->flush_started = 1;
  srv->listener.data = srv;
  srv->listening = 1;
  if ((rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&addr, 0)) ||
      (rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection))) {
    sg_error("cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
    return SG_EIO;
  }
  struct sockaddr_storage bound;
  int len = sizeof bound;
  uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &len);
  srv->bound_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                      : ((struct sockaddr_in *)&bound)->sin_port);
  snprintf(srv->bound, sizeof srv->bound, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host,
           srv->bound_port);
  return 0;
}
