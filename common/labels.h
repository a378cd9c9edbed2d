/*
 * Chinese display labels for enum values, so that district staff read 本科
 * rather than BACHELOR. One table of (enum full name, value name, label);
 * the printer shows labels and the parser accepts either form. Data, not
 * code per message: a new enum value without a label prints its name.
 */
#ifndef SG_LABELS_H
#define SG_LABELS_H

#include <protobuf-c/protobuf-c.h>

/* The label for value v of enum e, or NULL. Static storage. */
const char *sg_label_for(const ProtobufCEnumDescriptor *e, int v);

/*
 * The value of enum e named s: the value name ("BACHELOR"), case-insensitive,
 * with or without the enum's common prefix ("UNIT_KIND_" is not needed), or
 * the label ("本科"), or a decimal number that is a value of e.
 * Returns 0 and sets *out, or SG_EINVAL.
 */
int sg_label_parse(const ProtobufCEnumDescriptor *e, const char *s, int *out);

#endif
