/*
 * The registry of every service in proto/shegong/v1/, built from protoc-c's
 * service descriptors. Both sides use it: the server builds its dispatch
 * table from it, the client finds a method's output type by name.
 *
 * protoc-c drops the `stream` keyword, so whether a method streams is kept
 * here, in sg_streaming_methods, and a test checks it against the .proto.
 */
#ifndef SG_METHODS_H
#define SG_METHODS_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

typedef struct sg_method_info {
  char path[96];          /* "/shegong.v1.Workers/Get" */
  const ProtobufCServiceDescriptor *service;
  const ProtobufCMethodDescriptor *method;
  int server_streaming;
} sg_method_info;

/* All services, NULL-terminated; static storage. */
extern const ProtobufCServiceDescriptor *const sg_services[];

/* Number of methods across all services. */
size_t sg_methods_count(void);
/* The i-th method, ordered by path; static storage, built on first use
 * (thread-safe). */
const sg_method_info *sg_methods_at(size_t i);
/*
 * Finds a method by its full path ("/shegong.v1.Workers/Get") or by the
 * short form "Workers/Get". NULL if there is none.
 */
const sg_method_info *sg_methods_find(const char *name);

/* The proto package prefix of every path. */
#define SG_PACKAGE "shegong.v1"
#define SG_PROTOCOL_VERSION 1

#endif
