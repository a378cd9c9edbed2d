#include "store/records.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "shegong/v1/sync.pb-c.h"

#define OFF(f) offsetof(sg_store, f)

const sg_rec_kind sg_rec_kinds[] = {
    {&shegong__v1__assessment__descriptor, SHEGONG__V1__ENTITY__ENTITY_ASSESSMENT, "seq:assessment",
     OFF(assessments), {{"worker_id", OFF(assessments_by_worker)}, {NULL, 0}}},
    {&shegong__v1__household_visits__descriptor, SHEGONG__V1__ENTITY__ENTITY_VISITS, "seq:visits",
     OFF(visits), {{"worker_id", OFF(visits_by_worker)}, {NULL, 0}}},
    {&shegong__v1__course__descriptor, SHEGONG__V1__ENTITY__ENTITY_COURSE, "seq:course",
     OFF(courses), {{NULL, 0}, {NULL, 0}}},
    {&shegong__v1__attendance__descriptor, SHEGONG__V1__ENTITY__ENTITY_ATTENDANCE, "seq:attendance",
     OFF(attendance),
     {{"worker_id", OFF(attendance_by_worker)}, {"course_id", OFF(attendance_by_course)}}},
    {&shegong__v1__level_change__descriptor, SHEGONG__V1__ENTITY__ENTITY_LEVEL_CHANGE,
     "seq:level_change", OFF(level_changes), {{"worker_id", OFF(level_changes_by_worker)}, {NULL, 0}}},
    {&shegong__v1__policy__descriptor, SHEGONG__V1__ENTITY__ENTITY_POLICY, NULL, OFF(policies),
     {{NULL, 0}, {NULL, 0}}},
    {&shegong__v1__transfer__descriptor, SHEGONG__V1__ENTITY__ENTITY_TRANSFER, "seq:transfer",
     OFF(transfers),
     {{"worker_id", OFF(transfers_by_worker)}, {"to_town_id", OFF(transfers_by_to_town)}}},
    {&shegong__v1__worker_history_entry__descriptor, SHEGONG__V1__ENTITY__ENTITY_WORKER_HISTORY,
     "seq:history", OFF(worker_history), {{"worker_id", OFF(history_by_worker)}, {NULL, 0}}},
    {NULL, 0, NULL, 0, {{NULL, 0}, {NULL, 0}}},
};

const sg_rec_kind *const SG_REC_ASSESSMENT = &sg_rec_kinds[0];
const sg_rec_kind *const SG_REC_VISITS = &sg_rec_kinds[1];
const sg_rec_kind *const SG_REC_COURSE = &sg_rec_kinds[2];
const sg_rec_kind *const SG_REC_ATTENDANCE = &sg_rec_kinds[3];
const sg_rec_kind *const SG_REC_LEVEL_CHANGE = &sg_rec_kinds[4];
const sg_rec_kind *const SG_REC_POLICY = &sg_rec_kinds[5];
const sg_rec_kind *const SG_REC_TRANSFER = &sg_rec_kinds[6];
const sg_rec_kind *const SG_REC_HISTORY = &sg_rec_kinds[7];

const sg_rec_kind *sg_rec_kind_of(const ProtobufCMessageDescriptor *d) {
  for (const sg_rec_kind *k = sg_rec_kinds; k->desc; k++)
    if (k->desc == d) return k;
  return NULL;
}

const sg_rec_kind *sg_rec_kind_by_entity(int entity) {
  for (const sg_rec_kind *k = sg_rec_kinds; k->desc; k++)
    if (k->entity == entity) return k;
  return NULL;
}

uint64_t sg_msg_u64(const ProtobufCMessage *msg, const char *field) {
  const ProtobufCFieldDescriptor *f =
      protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, field);
  if (!f || f->type != PROTOBUF_C_TYPE_UINT64 || f->label == PROTOBUF_C_LABEL_REPEATED) return 0;
  return *(const uint64_t *)((const char *)msg + f->offset);
}

uint64_t sg_rec_key(const sg_rec_kind *k, const ProtobufCMessage *msg) {
  return sg_msg_u64(msg, k->seq ? "id" : "version");
}

MDB_dbi sg_rec_dbi(const sg_store *s, size_t off) {
  return *(const MDB_dbi *)((const char *)s + off);
}

int sg_rec_put(sg_store *s, MDB_txn *txn, const sg_rec_kind *k, const ProtobufCMessage *msg) {
  uint64_t key = sg_rec_key(k, msg);
  if (!key) return SG_EINTERNAL;
  MDB_dbi table = sg_rec_dbi(s, k->table);
  uint8_t kb[8];
  sg_key_u64(kb, key);
  MDB_val kv = {8, kb}, vv;
  int rc = mdb_get(txn, table, &kv, &vv);
  if (rc == MDB_NOTFOUND) {
    for (int i = 0; i < 2 && k->index[i].field; i++) {
      uint64_t a = sg_msg_u64(msg, k->index[i].field);
      if ((rc = sg_index_pair_put(txn, sg_rec_dbi(s, k->index[i].dbi), a, key))) return rc;
    }
  } else if (rc) {
    return sg_store_err(rc, "read record");
  } else if (k->index[0].field) {
    /* indexed fields never change: an overwrite that changes one is two
     * records under one id (a clash of sequences), never an update */
    ProtobufCMessage *old = protobuf_c_message_unpack(k->desc, NULL, vv.mv_size, vv.mv_data);
    if (!old) return SG_EDATALOSS;
    int same = 1;
    for (int i = 0; i < 2 && k->index[i].field; i++)
      same &= sg_msg_u64(old, k->index[i].field) == sg_msg_u64(msg, k->index[i].field);
    protobuf_c_message_free_unpacked(old, NULL);
    if (!same) {
      sg_error("storage: %s %llu would be overwritten by another record with the same id",
               k->desc->short_name, (unsigned long long)key);
      return SG_EINTERNAL;
    }
  }
  return sg_record_put(txn, table, key, msg, 0);
}

int sg_rec_delete(sg_store *s, MDB_txn *txn, const sg_rec_kind *k, uint64_t key) {
  ProtobufCMessage *old;
  int rc = sg_rec_get(s, txn, k, key, NULL, &old);
  if (rc == SG_ENOTFOUND) return 0;
  if (rc) return rc;
  for (int i = 0; i < 2 && k->index[i].field && !rc; i++) {
    rc = sg_index_pair_del(txn, sg_rec_dbi(s, k->index[i].dbi), sg_msg_u64(old, k->index[i].field),
                           key);
    if (rc == SG_ENOTFOUND) rc = 0;
  }
  protobuf_c_message_free_unpacked(old, NULL);
  uint8_t kb[8];
  sg_key_u64(kb, key);
  return rc ? rc : sg_index_del(txn, sg_rec_dbi(s, k->table), kb, 8);
}

int sg_rec_get(sg_store *s, MDB_txn *txn, const sg_rec_kind *k, uint64_t key,
               ProtobufCAllocator *alloc, ProtobufCMessage **out) {
  return sg_record_get(txn, sg_rec_dbi(s, k->table), key, k->desc, alloc, out);
}

int sg_rec_scan_worker(sg_store *s, MDB_txn *txn, const sg_rec_kind *k, uint64_t worker_id,
                       sg_pair_fn fn, void *arg) {
  for (int i = 0; i < 2 && k->index[i].field; i++)
    if (strcmp(k->index[i].field, "worker_id") == 0)
      return sg_index_pair_scan(txn, sg_rec_dbi(s, k->index[i].dbi), worker_id, 0, fn, arg);
  return SG_EINTERNAL;
}

/* ---- policy ------------------------------------------------------------------ */

/*
 * Defaults until the district loads its own (docs/POLICY.md): weights and
 * bands common in district 考核办法, the 200-visit minimum [000], 崇川's
 * thirty days' grace for pre-service courses, and no ladder.
 */
static Shegong__V1__AssessmentPolicy default_assessment = {
    PROTOBUF_C_MESSAGE_INIT(&shegong__v1__assessment_policy__descriptor), 70, 30, 90.0, 75.0,
    60.0, 200};
static Shegong__V1__TrainingPolicy default_training = {
    PROTOBUF_C_MESSAGE_INIT(&shegong__v1__training_policy__descriptor), 30, 0, 0};
static Shegong__V1__Policy default_policy = {
    PROTOBUF_C_MESSAGE_INIT(&shegong__v1__policy__descriptor), 0, 0, (char *)"默认 (default)",
    &default_assessment, &default_training, NULL, (char *)"", (char *)""};

const Shegong__V1__Policy *sg_policy_defaults(void) { return &default_policy; }

/* The stored current policy's bytes (pointing into the map): 0, SG_ENOTFOUND, or an error. */
static int policy_bytes(sg_store *s, MDB_txn *txn, MDB_val *v) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, s->policies, &cur);
  if (rc) return sg_store_err(rc, "open cursor");
  MDB_val k;
  rc = mdb_cursor_get(cur, &k, v, MDB_LAST);
  mdb_cursor_close(cur);
  if (rc == MDB_NOTFOUND) return SG_ENOTFOUND;
  return rc ? sg_store_err(rc, "read policy") : 0;
}

static int decode_policy(ProtobufCAllocator *alloc, const MDB_val *v, Shegong__V1__Policy **out) {
  *out = (Shegong__V1__Policy *)protobuf_c_message_unpack(&shegong__v1__policy__descriptor, alloc,
                                                          v->mv_size, v->mv_data);
  if (*out) return 0;
  sg_error("storage: the current policy does not decode");
  return SG_EDATALOSS;
}

int sg_policy_current(sg_store *s, MDB_txn *txn, ProtobufCAllocator *alloc,
                      Shegong__V1__Policy **out) {
  MDB_val v;
  int rc = policy_bytes(s, txn, &v);
  if (rc == SG_ENOTFOUND) {
    /* the defaults, copied so that the caller may own and free them alike */
    size_t n = protobuf_c_message_get_packed_size(&default_policy.base);
    uint8_t buf[512];
    if (n > sizeof buf) return SG_EINTERNAL;
    protobuf_c_message_pack(&default_policy.base, buf);
    *out = (Shegong__V1__Policy *)protobuf_c_message_unpack(&shegong__v1__policy__descriptor,
                                                            alloc, n, buf);
    return *out ? 0 : SG_ENOMEM;
  }
  return rc ? rc : decode_policy(alloc, &v, out);
}

/*
 * Each thread's decoded copy of the current policy, with the bytes it was
 * decoded from. Every Workers/Create and Update checks the ladder and the
 * hiring limits, and decoding the policy each time was a tenth of a
 * create's CPU. The stored bytes are compared on every call (a few hundred
 * bytes), so a new policy, or another database, is never missed.
 */
typedef struct {
  uint8_t *bytes;
  size_t n;
  Shegong__V1__Policy *pol;
} policy_cache;

static pthread_key_t cache_key;
static int cache_key_ok;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_clear(policy_cache *c) {
  if (c->pol) protobuf_c_message_free_unpacked(&c->pol->base, NULL);
  free(c->bytes);
  c->pol = NULL;
  c->bytes = NULL;
  c->n = 0;
}

static void cache_free(void *p) {
  cache_clear(p);
  free(p);
}

static void cache_key_init(void) {
  cache_key_ok = pthread_key_create(&cache_key, cache_free) == 0;
  if (!cache_key_ok) sg_warn("no per-thread policy cache: the policy is decoded on every call");
}

int sg_policy_view(sg_store *s, MDB_txn *txn, ProtobufCAllocator *alloc,
                   const Shegong__V1__Policy **out) {
  MDB_val v;
  int rc = policy_bytes(s, txn, &v);
  if (rc == SG_ENOTFOUND) {
    *out = &default_policy;
    return 0;
  }
  if (rc) return rc;
  pthread_once(&cache_once, cache_key_init);
  if (!cache_key_ok) {
    Shegong__V1__Policy *p;
    rc = decode_policy(alloc, &v, &p);
    *out = p;
    return rc;
  }
  policy_cache *c = pthread_getspecific(cache_key);
  if (c && c->pol && c->n == v.mv_size && memcmp(c->bytes, v.mv_data, v.mv_size) == 0) {
    *out = c->pol;
    return 0;
  }
  if (!c) {
    if (!(c = calloc(1, sizeof *c))) return SG_ENOMEM;
    if (pthread_setspecific(cache_key, c) != 0) {
      free(c);
      return SG_ENOMEM;
    }
  }
  cache_clear(c);
  if ((rc = decode_policy(NULL, &v, &c->pol))) return rc;
  if (!(c->bytes = malloc(v.mv_size ? v.mv_size : 1))) {
    cache_clear(c);
    return SG_ENOMEM;
  }
  memcpy(c->bytes, v.mv_data, v.mv_size);
  c->n = v.mv_size;
  *out = c->pol;
  return 0;
}
