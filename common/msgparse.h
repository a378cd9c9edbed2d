/*
 * Sets message fields from text, by descriptor: the CLI's `--phone 138...`
 * becomes worker.phone without per-field code.
 */
#ifndef SG_MSGPARSE_H
#define SG_MSGPARSE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/*
 * Sets the field `name` of msg from `value`. Names may use '-' for '_'
 * ("id-number"). Strings are copied with the allocator (NULL = malloc);
 * numbers are parsed in full (trailing junk, overflow and a sign on an
 * unsigned field are errors); bools accept true/false/yes/no/1/0/是/否;
 * enums take anything sg_label_parse takes. Only singular scalar, string,
 * enum and bool fields are supported; repeated string fields append.
 * Returns 0, SG_ENOTFOUND (no such field) or SG_EINVAL (bad value; why gets
 * the reason).
 */
int sg_msg_set_field(ProtobufCMessage *msg, ProtobufCAllocator *alloc, const char *name,
                     const char *value, char *why, size_t whylen);

/* The field descriptor for name (with '-' taken as '_'), or NULL. */
const ProtobufCFieldDescriptor *sg_msg_find_field(const ProtobufCMessageDescriptor *d,
                                                  const char *name);

#endif
