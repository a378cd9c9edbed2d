/*
 * One generic printer for every message, by walking protobuf-c descriptors:
 * adding a field to a .proto adds it to every output without new code.
 *
 * - TABLE: a message with a repeated message field (a List response) prints
 *   one row per element, one column per scalar field that is set in at least
 *   one row (or the columns asked for); any other message prints as
 *   "field  value" lines. Columns align by display width, so 张三 counts as
 *   four columns. Enum values print as their Chinese labels where known.
 * - JSON: proto3 JSON mapping with the original field names; 64-bit integers
 *   as strings, enums as value names, default values left out; one object
 *   per message. For a List response, the whole response object.
 * - CSV: RFC 4180, a header of field names, one row per element (or one row
 *   for a single message); enum values as labels; dates as given.
 *
 * Output goes to a FILE *. Returns 0 or SG_EIO.
 */
#ifndef SG_PRINT_H
#define SG_PRINT_H

#include <protobuf-c/protobuf-c.h>
#include <stdio.h>

typedef enum sg_format { SG_FORMAT_TABLE = 0, SG_FORMAT_JSON, SG_FORMAT_CSV } sg_format;

/* "table", "json", "csv" -> format; -1 if unknown. */
int sg_format_from_name(const char *name);

typedef struct sg_print_opts {
  sg_format format;
  /* Comma-separated field names to show, in that order; NULL = automatic. */
  const char *columns;
  /* Fields never shown in TABLE and CSV output (comma-separated); may be NULL. */
  const char *hide;
} sg_print_opts;

int sg_print_message(FILE *out, const ProtobufCMessage *msg, const sg_print_opts *opts);

/*
 * Display width of UTF-8 text in a terminal: East Asian wide and fullwidth
 * characters count 2, combining marks 0, others 1. Invalid bytes count 1.
 */
size_t sg_display_width(const char *s);

#endif
