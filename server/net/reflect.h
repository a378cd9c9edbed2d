/*
 * gRPC server reflection (grpc.reflection.v1alpha and v1) for the gRPC
 * listener: tools such as grpcurl discover the services and their message
 * types without the .proto files. The answers come from the descriptor set
 * that the build embeds in shegongd (protoc --include_imports over proto/),
 * so they always match the method table the server was built with.
 */
#ifndef SG_NET_REFLECT_H
#define SG_NET_REFLECT_H

#include <stddef.h>
#include <stdint.h>

/* Reads the embedded descriptor set once; SG_EINTERNAL if it does not decode. */
int sg_reflect_init(void);
void sg_reflect_free(void);

/* True for the reflection method's path, in either package. */
int sg_reflect_is_path(const char *path);

/*
 * Answers one ServerReflectionRequest (req, n bytes) with a packed
 * ServerReflectionResponse in *out (malloc'd). A request for something
 * unknown is answered, with an error_response, not refused. Returns
 * SG_EPROTO when req is not a ServerReflectionRequest, SG_ENOMEM.
 */
int sg_reflect_answer(const uint8_t *req, size_t n, uint8_t **out, size_t *outlen);

#endif
