#include "svc/svc.h"

#include <stdio.h>
#include <string.h>

int sg_enum_valid(const ProtobufCEnumDescriptor *d, int v) {
  return protobuf_c_enum_descriptor_get_value(d, v) != NULL;
}

int sg_page_token_parse(sg_call_ctx *ctx, const char *field, const char *tok, char kind,
                        uint64_t *after) {
  *after = 0;
  if (!tok || !tok[0]) return 0;
  uint64_t v = 0;
  if (strlen(tok) != 17 || tok[0] != kind) goto bad;
  for (int i = 1; i < 17; i++) {
    char c = tok[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) goto bad;
    v = v << 4 | (uint64_t)d;
  }
  *after = v;
  return 0;
bad:
  sg_status_violation(ctx->st, field, "not a page token from this list; start again without one");
  return SG_EINVAL;
}

char *sg_page_token_make(sg_call_ctx *ctx, char kind, uint64_t last) {
  return sg_arena_printf(ctx->arena, "%c%016llx", kind, (unsigned long long)last);
}

uint32_t sg_page_size(const sg_call_ctx *ctx, uint32_t asked) {
  if (asked == 0) return ctx->limits->default_page_size;
  return asked > ctx->limits->max_page_size ? ctx->limits->max_page_size : asked;
}

char *sg_dup(sg_call_ctx *ctx, const char *s) { return sg_arena_strdup(ctx->arena, s ? s : ""); }

int sg_pager_init(sg_pager *p, sg_call_ctx *ctx, MDB_txn *txn, uint32_t asked_page_size,
                  sg_pager_load_fn load, void *arg) {
  memset(p, 0, sizeof *p);
  p->ctx = ctx;
  p->txn = txn;
  p->load = load;
  p->arg = arg;
  p->limit = sg_page_size(ctx, asked_page_size);
  p->items = sg_arena_alloc(ctx->arena, p->limit * sizeof *p->items);
  return p->items ? 0 : SG_ENOMEM;
}

int sg_pager_visit(void *pager, uint64_t id) {
  sg_pager *p = pager;
  if (p->n == p->limit) {
    p->more = 1;
    return 1;
  }
  void *item = NULL;
  int rc = p->load(p, id, &item);
  /* an index entry without its record means the two disagree */
  if (rc) return p->err = (rc == SG_ENOTFOUND ? SG_EDATALOSS : rc);
  p->last = id;
  if (item) p->items[p->n++] = item;
  return 0;
}

char *sg_pager_token(sg_pager *p, char kind) {
  return p->more ? sg_page_token_make(p->ctx, kind, p->last) : sg_dup(p->ctx, "");
}
